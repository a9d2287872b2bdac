"""Literal forward-backward recursions, one time step at a time, as the book writes them.

These loops are the readable definition of the E-step; :mod:`hmmcore.inference` computes the
same quantities fast, and the tests prove the two equal. Both work with *scaled* variables:

* ``alpha_hat[t, i] = P(q_t = i | O_1..O_t)``, the forward variable divided by
  ``P(O_1..O_t)`` (the filtered probability);
* ``log_scale[t] = log c_t = log P(O_t | O_1..O_{t-1})``, so ``sum_t log c_t = log P(O | lambda)``;
* ``beta_hat[t, i] = beta_t(i) / P(O_{t+1}..O_T | O_1..O_t)``,

so that ``gamma_t(i) = alpha_hat[t, i] * beta_hat[t, i]`` (Eq. 17) with no further division.
Before exponentiating, each row of ``log_b`` is shifted by its maximum ``m_t``; the shift is
added back to ``log c_t``. This keeps densities larger than one (daily returns) and far outliers
inside floating point.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp


class Forward(NamedTuple):
    """Result of the forward pass."""

    alpha_hat: np.ndarray
    """(T, K) filtered probabilities P(q_t = i | O_1..O_t): the scaled alpha."""
    log_scale: np.ndarray
    """(T,) log c_t = log P(O_t | O_1..O_{t-1})."""
    log_likelihood: float
    """log P(O | lambda) = sum_t log c_t."""


class Posteriors(NamedTuple):
    """Everything the E-step produces for one sequence."""

    log_likelihood: float
    """log P(O | lambda), Eq. (16) summed in log space."""
    gamma: np.ndarray
    """(T, K) gamma_t(i) = P(q_t = i | O), Eq. (17)."""
    xi_sum: np.ndarray
    """(K, K) sum over t of xi_t(i, j): expected number of i -> j transitions, Eq. (21) summed."""
    xi: np.ndarray | None
    """(T-1, K, K) xi_t(i, j) = P(q_t = i, q_{t+1} = j | O), Eq. (21); None unless requested."""
    alpha_hat: np.ndarray
    """(T, K) scaled forward variables (filtered probabilities)."""
    beta_hat: np.ndarray
    """(T, K) scaled backward variables."""
    log_scale: np.ndarray
    """(T,) log c_t."""


def impossible_observation(t: int) -> ValueError:
    return ValueError(
        f"the observations have probability zero under these parameters (first at time step {t}): "
        "no state that can be reached gives O_t a positive density."
    )


def forward_reference(startprob: np.ndarray, transmat: np.ndarray, log_b: np.ndarray) -> Forward:
    r"""The scaled forward recursion, one step per loop iteration.

    .. math::
        \tilde\alpha_1(i) = \pi_i\, b_i(O_1), \qquad
        \tilde\alpha_{t}(j) = \Big[\sum_i \hat\alpha_{t-1}(i) A_{ij}\Big] b_j(O_t), \qquad
        c_t = \sum_j \tilde\alpha_t(j), \qquad \hat\alpha_t = \tilde\alpha_t / c_t .
    """
    n_steps, n_states = log_b.shape
    shift = log_b.max(axis=1)
    alpha_hat = np.empty((n_steps, n_states))
    log_scale = np.empty(n_steps)
    for t in range(n_steps):
        predicted = startprob if t == 0 else alpha_hat[t - 1] @ transmat
        if not np.isfinite(shift[t]):
            raise impossible_observation(t)
        unnormalised = predicted * np.exp(log_b[t] - shift[t])
        scale = unnormalised.sum()
        if scale > 0:
            alpha_hat[t] = unnormalised / scale
            log_scale[t] = np.log(scale) + shift[t]
        else:
            # Every reachable state's density underflowed next to an unreachable one: redo the
            # step in log space.
            with np.errstate(divide="ignore"):
                log_unnormalised = np.log(predicted) + log_b[t]
            log_c = logsumexp(log_unnormalised)
            if not np.isfinite(log_c):
                raise impossible_observation(t)
            alpha_hat[t] = np.exp(log_unnormalised - log_c)
            log_scale[t] = log_c
    return Forward(alpha_hat, log_scale, float(log_scale.sum()))


def backward_reference(transmat: np.ndarray, log_b: np.ndarray, log_scale: np.ndarray) -> np.ndarray:
    r"""The scaled backward recursion, one step per loop iteration.

    .. math::
        \hat\beta_T(i) = 1, \qquad
        \hat\beta_t(i) = \sum_j A_{ij}\, \frac{b_j(O_{t+1})}{c_{t+1}}\, \hat\beta_{t+1}(j).
    """
    n_steps, n_states = log_b.shape
    beta_hat = np.empty((n_steps, n_states))
    beta_hat[-1] = 1.0
    for t in range(n_steps - 2, -1, -1):
        with np.errstate(invalid="ignore"):
            terms = transmat * (_emission_over_scale(log_b[t + 1], log_scale[t + 1]) * beta_hat[t + 1])[None, :]
        beta_hat[t] = _sum_of_possible(terms, transmat > 0, axis=1)
    return beta_hat


def _emission_over_scale(log_b_t: np.ndarray, log_scale_t: float) -> np.ndarray:
    """b_j(O_t) / c_t. It is infinite only for a state the past makes impossible (zero predicted
    probability); such terms are multiplied by zero probabilities and dropped by the caller."""
    with np.errstate(over="ignore"):
        return np.exp(log_b_t - log_scale_t)


def _sum_of_possible(terms: np.ndarray, possible: np.ndarray, axis=None):
    """Sum ``terms`` where ``possible`` (a zero probability times an infinite ratio counts as 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(possible, terms, 0.0).sum(axis=axis)


def e_step_reference(startprob, transmat, log_b, return_xi: bool = False) -> Posteriors:
    """Eqs. (17) and (21) evaluated literally from the scaled alpha and beta."""
    forward = forward_reference(startprob, transmat, log_b)
    beta_hat = backward_reference(transmat, log_b, forward.log_scale)
    n_steps, n_states = log_b.shape
    gamma = np.empty((n_steps, n_states))
    for t in range(n_steps):
        possible = forward.alpha_hat[t] > 0
        joint = np.where(possible, forward.alpha_hat[t] * np.where(possible, beta_hat[t], 0.0), 0.0)
        gamma[t] = joint / joint.sum()
    xi = np.empty((max(n_steps - 1, 0), n_states, n_states))
    for t in range(n_steps - 1):
        ratio = _emission_over_scale(log_b[t + 1], forward.log_scale[t + 1])
        possible = (forward.alpha_hat[t][:, None] * transmat) > 0
        with np.errstate(invalid="ignore"):
            numerator = forward.alpha_hat[t][:, None] * transmat * (ratio * beta_hat[t + 1])[None, :]
        numerator = np.where(possible, numerator, 0.0)
        xi[t] = numerator / numerator.sum()
    return Posteriors(
        log_likelihood=forward.log_likelihood,
        gamma=gamma,
        xi_sum=xi.sum(axis=0),
        xi=xi if return_xi else None,
        alpha_hat=forward.alpha_hat,
        beta_hat=beta_hat,
        log_scale=forward.log_scale,
    )
