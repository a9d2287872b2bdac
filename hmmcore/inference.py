"""The E-step, fast: forward-backward as a blocked scan over time, batched over parameter sets.

The forward recursion is a product of K x K matrices, ``alpha_t^T = pi^T diag(b_1) M_2 ... M_t``
with ``M_t = A diag(b_t)``; the backward recursion is the same product read from the right. We cut
time into blocks of about sqrt(T) steps and make three passes: the product of each block's
matrices, for all blocks at once (one vectorised step per position in a block); the vector
entering each block (one step per block); and the recursion alpha_hat_t = normalised
(alpha_hat_{t-1} A) * b_t inside all blocks at once, started from those vectors. Python loops
therefore run about 3 sqrt(T) times instead of T. The vectors are normalised at every step, the
block products every few steps, so nothing under- or overflows.

The states sit on the last, short axis of every array; numpy is slow when an operation's inner
loop is that short, hence the helpers below that keep inner loops long.

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


def _sums_repeated(array: np.ndarray) -> np.ndarray:
    """The sum over the last (short) axis, repeated along it: dividing by this is an elementwise
    operation with a long inner loop, much faster than broadcasting a (..., 1) array."""
    return array @ np.ones((array.shape[-1], array.shape[-1]))


def _max_last(array: np.ndarray) -> np.ndarray:
    """Maximum over the last (short) axis, as K - 1 elementwise maxima."""
    result = array[..., 0].copy()
    for k in range(1, array.shape[-1]):
        np.maximum(result, array[..., k], out=result)
    return result


def _rows(array: np.ndarray) -> np.ndarray:
    """View the last axis as one opaque item, so that a transposing copy moves K numbers at a time."""
    return array.view(np.dtype((np.void, array.shape[-1] * array.itemsize)))[..., 0]


def _reversed_in_time(array: np.ndarray) -> np.ndarray:
    """A contiguous copy of (R, T, K) ``array`` with t -> T-1-t (elementwise work on a reversed
    view is slow: its inner loops are only K long)."""
    result = np.empty(array.shape)
    _rows(result)[...] = _rows(array)[:, ::-1]
    return result


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


#: Block products are renormalised every this many steps (more often is slower; far less often
#: could underflow when transition probabilities are tiny).
RENORMALISE_EVERY = 8


def _by_position(weights: np.ndarray, length: int, n_blocks: int) -> np.ndarray:
    """(R, T, K) -> (length, R, n_blocks, K): ``result[l, r, b] = weights[r, b * length + l]``, padded with ones."""
    n_sets, n_steps, n_states = weights.shape
    weights = np.ascontiguousarray(weights)
    result = np.empty((length, n_sets, n_blocks, n_states))
    full = n_steps // length
    in_full_blocks = _rows(weights[:, : full * length]).reshape(n_sets, full, length)
    _rows(result[:, :, :full])[...] = in_full_blocks.transpose(2, 0, 1)
    if full < n_blocks:
        rest = n_steps - full * length
        _rows(result[:rest, :, full])[...] = _rows(weights[:, full * length :]).transpose(1, 0)
        result[rest:, :, full] = 1.0
    return result


def _block_products(step: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``product[r, i, b, j]``: (row i, column j) of prod_l step diag(weights_l) over block b, up to a factor.

    Block 0 starts with diag(weights_0) instead (the initial vector carries no transition). Only
    the running product is kept: the scan needs just the block totals from here.
    """
    n_states = step.shape[-1]
    step = step[:, None]
    product = step[:, 0, :, None, :] * weights[0][:, None]
    product[:, :, 0, :] = np.eye(n_states) * weights[0, :, 0, None, :]
    spare = np.empty_like(product)
    for position in range(1, weights.shape[0]):
        np.matmul(product, step, out=spare)
        spare *= weights[position][:, None]
        product, spare = spare, product
        if position % RENORMALISE_EVERY == 0:
            product /= sum(_sums_repeated(product[:, row]) for row in range(n_states))[:, None]
    return product


def _blocked_scan(initial: np.ndarray, step: np.ndarray, weights: np.ndarray) -> ScanResult:
    """Normalised row-vector products ``v_t = v_{t-1} step diag(weights_t)`` for every t, all blocks at once.

    ``v_0 = initial * weights_0``. Inputs are (R, K), (R, K, K) and (R, T, K). Three passes:
    the product of each block's matrices (one vectorised step per position in a block), the
    vector entering each block (one step per block), then the vector recursion inside all blocks
    at once, renormalised at every step like Rabiner's alpha_hat.
    """
    n_sets, n_steps, n_states = weights.shape
    length = block_length(n_steps)
    n_blocks = -(-n_steps // length)
    weights = _by_position(weights, length, n_blocks)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        product = _block_products(step, weights)
        entering = np.empty((n_sets, n_blocks, n_states))
        vector = initial[:, None, :]
        for block in range(n_blocks):
            entering[:, block] = vector[:, 0]
            vector = vector @ product[:, :, block, :]
            vector /= _sums_repeated(vector)

        # The weights are overwritten by the states: states[l, r, b] = v at position l of block b,
        # divided by its sum; totals[r, b, l] = that sum (time order).
        states = weights
        totals = np.empty((n_sets, n_blocks, length))
        predicted = entering @ step
        predicted[:, 0] = initial
        for position in range(length):
            current = states[position]
            current *= predicted
            total = _sums_repeated(current)
            totals[:, :, position] = total[..., 0]
            current /= total
            predicted = current @ step
        log_increments = np.log(totals, out=totals).reshape(n_sets, -1)[:, :n_steps]
    result = np.empty((n_sets, n_blocks * length, n_states))
    _rows(result).reshape(n_sets, n_blocks, length)[...] = _rows(states).transpose(1, 2, 0)
    # A finite log-increment implies a finite state (it is the logarithm of the state's sum).
    ok = np.all(np.isfinite(log_increments), axis=1)
    states = result[:, :n_steps]
    return ScanResult(states, log_increments, ok)


def _shifted_emissions(log_b: np.ndarray, out: np.ndarray | None = None):
    """``b_t(k) / max_k b_t(k)`` (written into ``out`` if given) and the shift ``m_t = max_k log b_t(k)``."""
    shift = _max_last(log_b)
    bad = ~np.isfinite(shift)
    if np.any(bad):
        raise impossible_observation(int(np.argwhere(bad)[0][-1]))
    return np.exp(np.subtract(log_b, shift[..., None], out=out), out=out), shift


def _forward_batch(startprob, transmat, log_b) -> Forward:
    """Scaled forward pass for R parameter sets: inputs (R, K), (R, K, K), (R, T, K)."""
    emissions, shift = _shifted_emissions(log_b)
    alpha_hat, log_scale, ok = _blocked_scan(startprob, transmat, emissions)
    log_scale = log_scale + shift
    for r in np.flatnonzero(~ok):
        alpha_hat[r], log_scale[r], _ = forward_reference(startprob[r], transmat[r], log_b[r])
    return Forward(alpha_hat, log_scale, log_scale.sum(axis=1))


def _e_step_batch(startprob, transmat, log_b, return_xi: bool = False) -> Posteriors:
    """Eqs. (17) and (21) for R parameter sets at once: inputs (R, K), (R, K, K), (R, T, K).

    The backward pass does not need the forward one: ``beta_t`` is needed only up to a factor
    per t, because Rabiner's scaling is recovered at the end from ``sum_i alpha_hat_t(i)
    beta_hat_t(i) = 1``. Written in reversed time s = T-1-t, ``beta_t^T = v_s A^T`` where
    ``v_0 = 1`` and ``v_s = v_{s-1} A^T diag(b_{T-s})``: the same scan as the forward pass
    with A^T in place of A. So both passes run as one scan over 2R parameter sets.
    """
    n_sets, n_steps, n_states = log_b.shape
    weights = np.empty((2 * n_sets, n_steps, n_states))
    emissions = weights[:n_sets]
    _, shift = _shifted_emissions(log_b, out=emissions)
    weights[n_sets:, 0] = 1.0
    _rows(weights[n_sets:, 1:])[...] = _rows(emissions)[:, :0:-1]
    transposed = np.swapaxes(transmat, 1, 2)
    both = _blocked_scan(
        np.concatenate([startprob, np.ones_like(startprob)]), np.concatenate([transmat, transposed]), weights
    )
    alpha_hat, beta_tilde = both.states[:n_sets], _reversed_in_time(both.states[n_sets:]) @ transposed
    log_scale = both.log_increments[:n_sets] + shift
    ok = both.ok[:n_sets] & both.ok[n_sets:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Rabiner's scaling makes sum_i alpha_hat_t(i) beta_hat_t(i) = 1 exactly.
        gamma = alpha_hat * beta_tilde
        norm = _sums_repeated(gamma)
        gamma /= norm
        beta_hat = np.divide(beta_tilde, norm, out=beta_tilde)
        # xi_t(i, j) = alpha_hat_t(i) A_ij future_t(j) with future_t(j) = b_j(O_t+1) beta_hat_t+1(j) / c_t+1
        # in shifted units (written over `norm`, no longer needed).
        future = np.multiply(emissions[:, 1:], beta_hat[:, 1:], out=norm[:, 1:])
        future *= np.exp(-both.log_increments[:n_sets, 1:])[..., None]
        xi_sum = transmat * (np.swapaxes(alpha_hat[:, :-1], 1, 2) @ future)
    xi = None
    if return_xi:
        xi = alpha_hat[:, :-1, :, None] * transmat[:, None] * future[:, :, None, :]

    # a NaN anywhere in gamma shows in its sum over time
    usable = ok & np.all(np.isfinite(np.ones(n_steps) @ gamma), axis=1) & np.all(np.isfinite(xi_sum), axis=(1, 2))
    for r in np.flatnonzero(~usable):
        exact = e_step_reference(startprob[r], transmat[r], log_b[r], return_xi=return_xi)
        alpha_hat[r], log_scale[r], gamma[r], xi_sum[r], beta_hat[r] = (
            exact.alpha_hat, exact.log_scale, exact.gamma, exact.xi_sum, exact.beta_hat
        )
        if return_xi:
            xi[r] = exact.xi
    return Posteriors(log_scale.sum(axis=1), gamma, xi_sum, xi, alpha_hat, beta_hat, log_scale)


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
