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
    """The missingness patterns of ``X`` (NaN = missing).

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
    Two rows miss the second feature, one misses both; pattern 0 is the complete one.

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
    with_complete = np.vstack([np.zeros((1, n_features), dtype=bool), missing])
    # Each row's bits packed into bytes and compared as one opaque value: np.unique then sorts
    # T short byte strings (ten times faster than np.unique(axis=0)). All bits zero, the
    # complete pattern, sorts first.
    packed = np.packbits(with_complete, axis=1)
    rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    unique, inverse = np.unique(rows, return_inverse=True)
    unique_missing = np.unpackbits(
        unique.view(np.uint8).reshape(len(unique), -1), axis=1, count=n_features
    ).astype(bool)
    row_pattern = inverse.reshape(-1)[1:].astype(np.intp)
    return MissingPatterns(
        observed=~unique_missing,
        order=np.argsort(unique_missing, axis=1, kind="stable").astype(np.intp),
        n_observed=(~unique_missing).sum(axis=1).astype(np.intp),
        row_pattern=row_pattern,
        incomplete_rows=np.flatnonzero(row_pattern),
    )
