"""The most probable state path (Viterbi), in log space, compiled."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .inference import ImpossibleObservationError
from .validation import check_hmm_sequence


class ViterbiPath(NamedTuple):
    """The single most probable hidden path and its joint log-probability."""

    path: np.ndarray
    """(T,) state indices q*_1..q*_T maximising P(O, Q | lambda)."""
    log_prob: float
    """log P(O, Q* | lambda)."""


@njit(cache=True, nogil=True)
def _viterbi_loop(log_startprob, log_transmat, log_b, path):
    r"""Max-product recursion with back-pointers, then the back-trace; returns max log P(O, Q).

    .. math::
        \delta_1(j) = \log\pi_j + \log b_j(O_1), \qquad
        \delta_t(j) = \max_i\,[\delta_{t-1}(i) + \log A_{ij}] + \log b_j(O_t),
        \qquad \psi_t(j) = \arg\max_i\,[\delta_{t-1}(i) + \log A_{ij}],

    then :math:`q^*_T = \arg\max_j \delta_T(j)` and :math:`q^*_{t-1} = \psi_t(q^*_t)`.
    Ties go to the lowest state index.
    """
    n_steps, n_states = log_b.shape
    back_pointers = np.empty((n_steps, n_states), dtype=np.intp)
    delta = np.empty(n_states)
    previous = np.empty(n_states)
    for j in range(n_states):
        delta[j] = log_startprob[j] + log_b[0, j]
    for t in range(1, n_steps):
        for j in range(n_states):
            previous[j] = delta[j]
        for j in range(n_states):
            best = previous[0] + log_transmat[0, j]
            best_state = 0
            for i in range(1, n_states):
                score = previous[i] + log_transmat[i, j]
                if score > best:
                    best = score
                    best_state = i
            back_pointers[t, j] = best_state
            delta[j] = best + log_b[t, j]
    last = 0
    for j in range(1, n_states):
        if delta[j] > delta[last]:
            last = j
    path[n_steps - 1] = last
    for t in range(n_steps - 1, 0, -1):
        path[t - 1] = back_pointers[t, path[t]]
    return delta[last]


def viterbi(startprob, transmat, log_b, *, validate: bool = True) -> ViterbiPath:
    """The Viterbi path of one sequence, :eq:`viterbi-recursion`: ``argmax_Q P(O, Q | lambda)``
    and its log-probability.

    Parameters
    ----------
    startprob : array_like, shape (K,)
    transmat : array_like, shape (K, K)
    log_b : array_like, shape (T, K)

    Returns
    -------
    ViterbiPath

    Raises
    ------
    ImpossibleObservationError
        If every path has probability zero.

    Examples
    --------
    Each day's density points clearly at one state; with uniform pi and A the best path follows
    them, and its log-probability is 3 log(1/2) (pi, then two transitions; log b = 0 on it):

    >>> log_b = [[0.0, -10.0], [-10.0, 0.0], [-10.0, 0.0]]
    >>> path = viterbi([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], log_b)
    >>> path.path, bool(np.isclose(path.log_prob, 3 * np.log(0.5)))
    (array([0, 1, 1]), True)
    """
    if validate:
        startprob, transmat, log_b = check_hmm_sequence(startprob, transmat, log_b)
    with np.errstate(divide="ignore"):
        log_startprob, log_transmat = np.log(startprob), np.log(transmat)
    path = np.empty(log_b.shape[0], dtype=np.intp)
    log_prob = _viterbi_loop(log_startprob, log_transmat, log_b, path)
    if not np.isfinite(log_prob):
        raise ImpossibleObservationError(log_b.shape[0] - 1)
    return ViterbiPath(path, float(log_prob))
