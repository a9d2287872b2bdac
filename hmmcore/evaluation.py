"""A parameter set on data: the log-likelihood, the filtered and smoothed state probabilities
and the most probable path of observations ``X`` under ``params``, for one or several
sequences.

Each function computes the emission log-densities once (Eq. 29) and runs the E-step's
recursions (:mod:`hmmcore.inference`, :mod:`hmmcore.viterbi`) on each sequence of ``lengths``
(hmmlearn's convention: the sequences are independent, each starting from pi). The results
of the sequences are joined: per-step arrays concatenated, log-likelihoods and expected
transition counts summed.

``X`` may have missing values (NaN, chapter 14): the log-densities are then those of each
row's observed coordinates, and a row with nothing observed contributes a transition and
nothing else, so its state probabilities come from its neighbours.
"""

from __future__ import annotations

import numpy as np

from .emissions import gaussian_log_density
from .inference import EStepBuffers, Forward, Posteriors, e_step, forward
from .validation import check_buffers, check_data, check_params, check_patterns, sequence_bounds
from .viterbi import ViterbiPath, viterbi

#: Fields that add up over sequences; every other array field is concatenated along time.
_SUMMED = {"log_likelihood", "xi_sum", "log_prob"}


def _joined(parts, buffers: EStepBuffers | None = None):
    """One result of the parts' type for all sequences (a per-step field that ``buffers`` holds
    for all of them, the parts being views of it, is taken from there)."""
    if len(parts) == 1:
        return parts[0]
    fields = {}
    for name in parts[0]._fields:
        values = [getattr(part, name) for part in parts]
        if values[0] is None:
            fields[name] = None
        elif name in _SUMMED:
            fields[name] = sum(values[1:], start=values[0]) if name == "xi_sum" else float(sum(values))
        elif buffers is not None and name in buffers._fields:
            fields[name] = getattr(buffers, name)
        else:
            fields[name] = np.concatenate(values)
    return type(parts[0])(**fields)


def _prepared(X, params, lengths, validate, cholesky=None, patterns=None, buffers=None):
    """The checked parameters and each sequence's (start, end, log-densities); the log-densities
    are written into ``buffers.log_b`` if given."""
    if validate:
        X, lengths, found = check_data(X, lengths)
        params = check_params(params, X.shape[1])
        patterns = check_patterns(patterns, found)
        if buffers is not None:
            check_buffers(buffers, X, params)
    elif lengths is None:
        lengths = [X.shape[0]]
    log_b = gaussian_log_density(X, params.means, params.covars, cholesky=cholesky, patterns=patterns,
                                 out=None if buffers is None else buffers.log_b, validate=False)
    return params, [(start, end, log_b[start:end]) for start, end in sequence_bounds(lengths)]


def filtered(X, params, lengths=None, *, patterns=None, validate: bool = True) -> Forward:
    """The forward pass over every sequence: filtered probabilities, log c_t and the
    log-likelihood (Eqs. 16 and the scaled forward recursion of chapter 4).

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing.
    params : HMMParams
    lengths : list of int, optional
        The sequences' lengths (None: one sequence).
    patterns : MissingPatterns, optional
        The missingness patterns of ``X``, if already found (with ``validate=False``, None
        means that no value is missing); the same in every function here.

    Returns
    -------
    Forward
        ``alpha_hat`` (T, K) = P(q_t = i | the sequence's O_1..O_t): what is known on day t,
        no look-ahead; ``log_scale`` (T,); ``log_likelihood`` summed over the sequences.

    Examples
    --------
    At t = 1 the filtered probability is Bayes' rule: pi_1 b_1(O_1) / sum_j pi_j b_j(O_1),
    here 1 / (1 + e^-2) for two unit-variance states at -1 and 1 and O_1 = -1.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
    ...                    np.array([[-1.0], [1.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> alpha_hat = filtered([[-1.0], [1.2]], params).alpha_hat
    >>> round(float(alpha_hat[0, 0]), 6), round(float(1 / (1 + np.exp(-2))), 6)
    (0.880797, 0.880797)
    """
    params, sequences = _prepared(X, params, lengths, validate, patterns=patterns)
    return _joined([forward(params.startprob, params.transmat, log_b, validate=False) for _, _, log_b in sequences])


def score(X, params, lengths=None, *, patterns=None, validate: bool = True) -> float:
    """log P(X | params), summed over the sequences (Eq. 16); with missing values, the
    probability of the observed values (the missing ones integrated out).

    Examples
    --------
    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.0]]),
    ...                    np.array([[[1.0]]]))
    >>> round(score([[0.0], [1.0]], params), 4)  # two standard normal log-densities
    -2.3379
    >>> round(score([[0.0], [np.nan]], params), 4)  # a missing value integrates to 1
    -0.9189
    """
    return filtered(X, params, lengths, patterns=patterns, validate=validate).log_likelihood


def posteriors(X, params, lengths=None, *, per_sequence: bool = False, return_xi: bool = False,
               cholesky=None, patterns=None, buffers: EStepBuffers | None = None, validate: bool = True):
    """The E-step on every sequence: gamma (Eq. 17), xi summed over t (Eq. 21), the scaled
    forward and backward variables and the log-likelihood.

    Parameters
    ----------
    X : array_like, shape (T, D)
    params : HMMParams
    lengths : list of int, optional
    per_sequence : bool
        False: one :class:`Posteriors` for all sequences (arrays concatenated, ``xi_sum`` and
        ``log_likelihood`` summed); True: a list, one per sequence.
    return_xi : bool
        Also store every xi_t (T - 1 per sequence).
    cholesky : ndarray, shape (K, D, D), optional
        The Cholesky factors of ``params.covars``, if already computed.
    patterns : MissingPatterns, optional
        As in :func:`filtered`.
    buffers : EStepBuffers, optional
        Arrays of T rows, with one for the log-densities (``EStepBuffers.empty(T, K,
        log_b=True)``), to write into instead of new ones: :func:`hmmcore.fit_em` passes the
        same ones to every iteration. The result's arrays are then views of them, valid until
        they are written again.

    Returns
    -------
    Posteriors or list of Posteriors

    Examples
    --------
    At the last step nothing lies ahead, so smoothing equals filtering; the expected numbers of
    transitions add up to T - 1.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
    ...                    np.array([[-1.0], [1.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> X = [[-1.0], [1.2], [0.3]]
    >>> result = posteriors(X, params)
    >>> bool(np.allclose(result.gamma[-1], filtered(X, params).alpha_hat[-1]))
    True
    >>> round(float(result.xi_sum.sum()), 12)
    2.0
    """
    params, sequences = _prepared(X, params, lengths, validate, cholesky, patterns, buffers)
    parts = [e_step(params.startprob, params.transmat, log_b, return_xi,
                    buffers=None if buffers is None else buffers.rows(start, end), validate=False)
             for start, end, log_b in sequences]
    return parts if per_sequence else _joined(parts, buffers)


def decode(X, params, lengths=None, *, patterns=None, validate: bool = True) -> ViterbiPath:
    """The Viterbi path of every sequence (chapter 7) and the summed log P(X, Q* | params).

    Examples
    --------
    Two states ten standard deviations apart: each observation names its state.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
    ...                    np.array([[-5.0], [5.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> decode([[-5.0], [4.8], [5.3]], params).path
    array([0, 1, 1])
    """
    params, sequences = _prepared(X, params, lengths, validate, patterns=patterns)
    return _joined([viterbi(params.startprob, params.transmat, log_b, validate=False) for _, _, log_b in sequences])
