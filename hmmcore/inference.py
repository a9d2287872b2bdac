"""The E-step, fast: forward-backward as a blocked scan over time, batched over parameter sets.

The forward recursion is a product of K x K matrices, ``alpha_t^T = pi^T diag(b_1) M_2 ... M_t``
with ``M_t = A diag(b_t)``; the backward recursion is the same product read from the right. We cut
time into blocks of about sqrt(T) steps, form the running products inside *all* blocks at once
(one vectorised step per position in a block), carry the state across block boundaries (one step
per block), and then read every alpha_t off its block's running product. Python loops therefore
run about 2 sqrt(T) times instead of T. Every running product is renormalised at each step with
its logarithm carried separately, so nothing under- or overflows.

The results equal the literal recursions of :mod:`hmmcore.reference` (same scaled quantities,
see there); when a block product loses all its mass (possible only when some transition
probabilities are exactly zero) the sequence is recomputed with those literal recursions.

Inference knows nothing about Gaussians: it takes the (T, K) matrix ``log_b[t, k] = log b_k(O_t)``.
Every function accepts one parameter set, or R of them stacked along a leading axis (restarts).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .reference import Forward, Posteriors, e_step_reference, forward_reference, impossible_observation
from .validation import check_log_likelihoods, check_startprob, check_transmat


def block_length(n_steps: int) -> int:
    """Steps per block: about sqrt(T), balancing in-block steps against block-boundary steps."""
    return max(1, math.isqrt(n_steps))


class ScanResult(NamedTuple):
    states: np.ndarray
    """(R, T, K) each v_t divided by its sum."""
    log_increments: np.ndarray
    """(R, T) log(sum v_t / sum v_{t-1})."""
    ok: np.ndarray
    """(R,) False where a running product lost all its mass."""


#: Running products are renormalised every this many steps (more often is slower; far less
#: often could underflow when transition probabilities are tiny).
RENORMALISE_EVERY = 8


def _blocked_scan(initial: np.ndarray, step: np.ndarray, weights: np.ndarray, scale_after: bool):
    """Normalised row-vector products ``v_t = v_{t-1} M_t`` for every t, all blocks at once.

    ``v_0 = initial * weights[0]``; for t >= 1, ``M_t = step @ diag(weights[t])`` when
    ``scale_after`` (forward) or ``diag(weights[t]) @ step`` otherwise (backward, reversed time).

    Returns ``(states, log_increments, ok)``: ``states[:, t]`` is ``v_t`` divided by its sum,
    ``log_increments[:, t] = log(sum v_t / sum v_{t-1})`` (with ``sum v_{-1} = sum initial = 1``),
    and ``ok[r]`` is False where a product lost all its mass (the caller then falls back).
    """
    n_sets, n_steps, n_states = weights.shape
    length = block_length(n_steps)
    n_blocks = -(-n_steps // length)
    padding = n_blocks * length - n_steps
    if padding:
        weights = np.concatenate([weights, np.ones((n_sets, padding, n_states))], axis=1)
    # Position-major layout: products[:, l] holds the running product of every block at position l.
    weights = np.ascontiguousarray(weights.reshape(n_sets, n_blocks, length, n_states).swapaxes(1, 2))
    products = np.empty((n_sets, length, n_blocks, n_states, n_states))
    log_norms = np.zeros((n_sets, length, n_blocks))

    first = products[:, 0]
    if scale_after:
        np.multiply(step[:, None], weights[:, 0, :, None, :], out=first)
    else:
        np.multiply(weights[:, 0, :, :, None], step[:, None], out=first)
    first[:, 0] = weights[:, 0, 0, :, None] * np.eye(n_states)
    rows = (n_sets, n_blocks * n_states, n_states)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        for position in range(1, length):
            previous = products[:, position - 1]
            current = products[:, position]
            scale = weights[:, position, :, None, :]
            if scale_after:
                np.matmul(previous.reshape(rows), step, out=current.reshape(rows))
                current *= scale
            else:
                np.matmul((previous * scale).reshape(rows), step, out=current.reshape(rows))
            log_norms[:, position] = log_norms[:, position - 1]
            if position % RENORMALISE_EVERY == 0:
                norm = current.sum(axis=(-2, -1))
                current /= norm[..., None, None]
                log_norms[:, position] += np.log(norm)

        entering = np.empty((n_sets, n_blocks, 1, n_states))
        vector = initial[:, None, :]
        last = products[:, -1]
        for block in range(n_blocks):
            entering[:, block] = vector
            vector = vector @ last[:, block]
            vector /= vector.sum(axis=-1, keepdims=True)

        # states[r, b, l] = entering[r, b] @ products[r, l, b]
        states = (entering[:, None] @ products)[..., 0, :]
        totals = states.sum(axis=-1)
        states /= totals[..., None]
        cumulative = np.log(totals) + log_norms
        log_increments = np.diff(cumulative, axis=1, prepend=0.0)
    states = states.swapaxes(1, 2).reshape(n_sets, -1, n_states)[:, :n_steps]
    log_increments = log_increments.swapaxes(1, 2).reshape(n_sets, -1)[:, :n_steps]
    ok = np.all(np.isfinite(log_increments), axis=1) & np.all(np.isfinite(states), axis=(1, 2))
    return ScanResult(states, log_increments, ok)


def _shifted_emissions(log_b: np.ndarray):
    """``b_t(k) / max_k b_t(k)`` and the shift ``m_t = max_k log b_t(k)``."""
    shift = log_b.max(axis=-1)
    bad = ~np.isfinite(shift)
    if np.any(bad):
        raise impossible_observation(int(np.argwhere(bad)[0][-1]))
    return np.exp(log_b - shift[..., None]), shift


def _forward_batch(startprob, transmat, log_b, emissions=None, shift=None) -> Forward:
    """Scaled forward pass for R parameter sets: inputs (R, K), (R, K, K), (R, T, K)."""
    if emissions is None:
        emissions, shift = _shifted_emissions(log_b)
    alpha_hat, log_scale, ok = _blocked_scan(startprob, transmat, emissions, scale_after=True)
    log_scale = log_scale + shift
    for r in np.flatnonzero(~ok):
        alpha_hat[r], log_scale[r], _ = forward_reference(startprob[r], transmat[r], log_b[r])
    return Forward(alpha_hat, log_scale, log_scale.sum(axis=1))


def _e_step_batch(startprob, transmat, log_b, return_xi: bool = False) -> Posteriors:
    """Eqs. (17) and (21) for R parameter sets at once: inputs (R, K), (R, K, K), (R, T, K)."""
    n_sets, n_steps, n_states = log_b.shape
    emissions, shift = _shifted_emissions(log_b)
    alpha_hat, log_scale, log_likelihood = _forward_batch(startprob, transmat, log_b, emissions, shift)

    # beta_t is proportional to u_{T-1-t}, with u_0 = 1 and u_s = u_{s-1} diag(b_{T-s}) A^T.
    reversed_weights = np.concatenate([np.ones((n_sets, 1, n_states)), emissions[:, :0:-1]], axis=1)
    uniform = np.full((n_sets, n_states), 1.0 / n_states)
    beta_tilde, _, ok_backward = _blocked_scan(uniform, np.swapaxes(transmat, 1, 2), reversed_weights, scale_after=False)
    beta_tilde = beta_tilde[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # Rabiner's scaling makes sum_i alpha_hat_t(i) beta_hat_t(i) = 1 exactly.
        beta_hat = beta_tilde / np.einsum("rtk,rtk->rt", alpha_hat, beta_tilde)[..., None]
        gamma = alpha_hat * beta_hat
        gamma /= gamma.sum(axis=-1, keepdims=True)
        future = emissions[:, 1:] * beta_hat[:, 1:]
        denominators = np.einsum("rti,rti->rt", alpha_hat[:, :-1] @ transmat, future)
        weighted_past = alpha_hat[:, :-1] / denominators[..., None]
        xi_sum = transmat * (np.swapaxes(weighted_past, 1, 2) @ future)
    xi = None
    if return_xi:
        xi = weighted_past[:, :, :, None] * transmat[:, None] * future[:, :, None, :]

    usable = ok_backward & np.all(np.isfinite(gamma), axis=(1, 2)) & np.all(np.isfinite(xi_sum), axis=(1, 2))
    for r in np.flatnonzero(~usable):
        exact = e_step_reference(startprob[r], transmat[r], log_b[r], return_xi=return_xi)
        gamma[r], xi_sum[r], beta_hat[r] = exact.gamma, exact.xi_sum, exact.beta_hat
        if return_xi:
            xi[r] = exact.xi
    return Posteriors(log_likelihood, gamma, xi_sum, xi, alpha_hat, beta_hat, log_scale)


def _as_batch(startprob, transmat, log_b):
    """Validate and add a leading parameter-set axis; returns the arrays and whether it was added."""
    log_b = check_log_likelihoods(log_b)
    n_states = log_b.shape[-1]
    startprob = check_startprob(startprob, n_states)
    transmat = check_transmat(transmat, n_states)
    single = startprob.ndim == 1 and transmat.ndim == 2 and log_b.ndim == 2
    if single:
        return startprob[None], transmat[None], log_b[None], True
    if not (startprob.ndim == 2 and transmat.ndim == 3 and log_b.ndim == 3):
        raise ValueError(
            "batched inference takes `startprob` (R, K), `transmat` (R, K, K) and `log_b` (R, T, K); "
            f"got shapes {startprob.shape}, {transmat.shape}, {log_b.shape}."
        )
    if not (startprob.shape[0] == transmat.shape[0] == log_b.shape[0]):
        raise ValueError(
            f"`startprob`, `transmat` and `log_b` must share the leading axis R; got {startprob.shape[0]}, "
            f"{transmat.shape[0]}, {log_b.shape[0]}."
        )
    return startprob, transmat, log_b, False


def forward(startprob, transmat, log_b) -> Forward:
    """Scaled forward pass: filtered probabilities, log c_t and log P(O | lambda).

    Same results as :func:`hmmcore.reference.forward_reference`, computed by a blocked scan.
    """
    startprob, transmat, log_b, single = _as_batch(startprob, transmat, log_b)
    result = _forward_batch(startprob, transmat, log_b)
    if single:
        return Forward(result.alpha_hat[0], result.log_scale[0], float(result.log_likelihood[0]))
    return result


def e_step(startprob, transmat, log_b, return_xi: bool = False) -> Posteriors:
    """The E-step: gamma (Eq. 17), the summed xi (Eq. 21) and log P(O | lambda).

    The per-step ``xi`` array, of size (T-1) K^2, is built only when ``return_xi`` is True.
    """
    startprob, transmat, log_b, single = _as_batch(startprob, transmat, log_b)
    result = _e_step_batch(startprob, transmat, log_b, return_xi)
    if single:
        return Posteriors(
            float(result.log_likelihood[0]),
            *(None if value is None else value[0] for value in result[1:]),
        )
    return result


def log_likelihood(startprob, transmat, log_b) -> float:
    """log P(O | lambda) by the forward algorithm, Eq. (16)."""
    return forward(startprob, transmat, log_b).log_likelihood
