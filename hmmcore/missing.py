"""Missing values (chapter 14): which coordinates of each observation are observed.

A missing value is NaN, and nothing else. Rows that miss the same features share a
*pattern*; there are at most 2^D of them (8 for the book's three features), so what depends
on a row only through its set of observed features (the reordered Cholesky factors of the
covariances, the conditional covariances) is computed once per pattern and state, not once
per row. The patterns are found once, when a public function checks its observations
(:func:`hmmcore.validation.check_data`), and handed down with the data.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Up to this many features the patterns are found through a table of all 2^D codes.
TABLE_MAX_FEATURES = 16


class MissingPatterns(NamedTuple):
    """The distinct sets of observed features of the rows of ``X``.

    Pattern 0 is the complete pattern (every feature observed), whether or not a row has it,
    so the complete rows of data with gaps are computed exactly as complete data are.
    """

    observed: np.ndarray
    """(P, D) bool: pattern p observes feature d."""
    order: np.ndarray
    """(P, D) intp: the features of pattern p, the observed ones first, then the missing
    ones, each group in increasing order. Pattern 0's order is the identity."""
    n_observed: np.ndarray
    """(P,) intp: the number of features pattern p observes; its observed features are
    ``order[p, :n_observed[p]]``."""
    row_pattern: np.ndarray
    """(T,) intp: the pattern of each row."""
    incomplete_rows: np.ndarray
    """(R,) intp: the rows with at least one missing value, in increasing order."""


def missing_patterns(X) -> MissingPatterns:
    r"""The missingness patterns of ``X`` (NaN = missing), numbered in increasing order of
    their codes :math:`\sum_d 2^d\, [x_{td} \text{ missing}]`, so that pattern 0 is the
    complete one.

    Parameters
    ----------
    X : ndarray, shape (T, D)
        Observations, NaN where a value is missing (trusted: checked by the caller).

    Returns
    -------
    MissingPatterns
        With complete data, the complete pattern alone.

    Examples
    --------
    Two rows miss the second feature (code 2), one misses both (code 3).

    >>> X = np.array([[1.0, 2.0], [3.0, np.nan], [np.nan, np.nan], [4.0, np.nan]])
    >>> patterns = missing_patterns(X)
    >>> patterns.row_pattern, patterns.n_observed
    (array([0, 1, 2, 1]), array([2, 1, 0]))
    >>> patterns.incomplete_rows
    array([1, 2, 3])
    >>> missing_patterns(np.zeros((3, 2))).row_pattern
    array([0, 0, 0])
    """
    missing = np.isnan(X)
    n_features = missing.shape[1]
    # A pattern's code is sum_d 2^d [feature d missing]; the patterns are numbered in
    # increasing order of their codes, so the complete pattern (code 0) is pattern 0.
    if n_features <= TABLE_MAX_FEATURES:
        # a table of the 2^D possible codes: O(T), no sorting
        codes = missing @ (1 << np.arange(n_features, dtype=np.int64))
        present = np.zeros(1 << n_features, dtype=bool)
        present[0] = True
        present[codes] = True
        unique_codes = np.flatnonzero(present)
        row_pattern = (np.cumsum(present) - 1)[codes].astype(np.intp)
        unique_missing = ((unique_codes[:, None] >> np.arange(n_features)) & 1).astype(bool)
    else:
        # each row's bits packed into bytes, the most significant byte first, and compared
        # as one opaque value: np.unique sorts T short byte strings
        with_complete = np.vstack([np.zeros((1, n_features), dtype=bool), missing])
        packed = np.ascontiguousarray(np.packbits(with_complete, axis=1, bitorder="little")[:, ::-1])
        rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
        unique, inverse = np.unique(rows, return_inverse=True)
        unique_bytes = unique.view(np.uint8).reshape(len(unique), -1)[:, ::-1]
        unique_missing = np.unpackbits(unique_bytes, axis=1, count=n_features, bitorder="little").astype(bool)
        row_pattern = inverse.reshape(-1)[1:].astype(np.intp)
    return MissingPatterns(
        observed=~unique_missing,
        order=np.argsort(unique_missing, axis=1, kind="stable").astype(np.intp),
        n_observed=(~unique_missing).sum(axis=1).astype(np.intp),
        row_pattern=row_pattern,
        incomplete_rows=np.flatnonzero(row_pattern),
    )
