"""The most probable state path (Viterbi), in log space."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .reference import impossible_observation
from .validation import check_single_hmm


class ViterbiPath(NamedTuple):
    """The single most probable hidden path and its joint log-probability."""

    path: np.ndarray
    """(T,) state indices q*_1..q*_T maximising P(O, Q | lambda)."""
    log_prob: float
    """log P(O, Q* | lambda)."""


def viterbi(startprob, transmat, log_b) -> ViterbiPath:
    r"""Max-product recursion in log space with back-pointers.

    .. math::
        \delta_1(i) = \log\pi_i + \log b_i(O_1), \qquad
        \delta_t(j) = \max_i\,[\delta_{t-1}(i) + \log A_{ij}] + \log b_j(O_t),

    then ``q*_T = argmax delta_T`` and ``q*_{t-1} = psi_t(q*_t)`` backwards.
    """
    startprob, transmat, log_b = check_single_hmm(startprob, transmat, log_b)
    n_steps, n_states = log_b.shape
    with np.errstate(divide="ignore"):
        log_start = np.log(startprob)
        log_transmat = np.log(transmat)
    back_pointers = np.empty((n_steps, n_states), dtype=np.intp)
    delta = log_start + log_b[0]
    for t in range(1, n_steps):
        scores = delta[:, None] + log_transmat
        back_pointers[t] = scores.argmax(axis=0)
        delta = np.take_along_axis(scores, back_pointers[t][None, :], axis=0)[0] + log_b[t]
    if not np.isfinite(delta.max()):
        raise impossible_observation(n_steps - 1)
    path = np.empty(n_steps, dtype=np.intp)
    path[-1] = int(delta.argmax())
    for t in range(n_steps - 1, 0, -1):
        path[t - 1] = back_pointers[t, path[t]]
    return ViterbiPath(path, float(delta.max()))
