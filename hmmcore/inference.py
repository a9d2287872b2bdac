"""The E-step, fast: forward-backward as a blocked scan over time, batched over parameter sets.

The forward recursion is a product of K x K matrices, ``alpha_t^T = pi^T diag(b_1) M_2 ... M_t``
with ``M_t = A diag(b_t)``, and the backward recursion is the same product applied to a column
vector: ``beta_t = M_t+1 ... M_T 1``. We cut time into B blocks of L (about sqrt(T)) steps,
laid out as in :mod:`hmmcore.time_blocks`, and make three passes, each a Python loop of about
sqrt(T) vectorised steps instead of T:

1. the product F_b of each block's matrices, for all blocks at once;
2. the vectors at the block boundaries: alpha entering block b+1 is (alpha entering b) F_b,
   and beta at the end of block b-1 is F_b (beta at the end of b), so the forward and the
   backward pass share the products;
3. inside all blocks at once, the recursions ``alpha_t = (alpha_t-1 A) * b_t`` from the
   entering vectors and ``beta_t-1 = A (b_t * beta_t)`` from the block ends. The backward
   sets run through the positions in reverse, in the same loop: one batch of 2R parameter sets.

Vectors and products are renormalised every :data:`RENORMALISE_EVERY` steps (the emission
densities are divided by their maximum over states at each t, so nothing can overflow). The
factors used for alpha are recorded, which recovers Rabiner's scale ``c_t`` and the
log-likelihood; beta's scale is irrelevant, because gamma and xi are normalised per step.
When some block loses all its mass (possible only when transition probabilities are zero or
astronomically small) that parameter set is recomputed with the literal recursions of
:mod:`hmmcore.reference`, whose quantities the fast path reproduces.

From the passes, gamma and the summed xi are formed a chunk of positions at a time, while they
are in cache (:func:`_posterior_statistics`). The public functions return them in time order;
the EM loop (:func:`_e_step_blocked`) instead reduces gamma at once to its sums against per-step
features given by the caller, which is all its M-step needs, and keeps nothing of size T K.

Inference knows nothing about Gaussians: it takes ``log_b[t, k] = log b_k(O_t)`` (and, for the
EM loop, features of the observations to sum gamma against). Every public function accepts one
parameter set, or R of them stacked along a leading axis (restarts).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .reference import Forward, Posteriors, e_step_reference, forward_reference, impossible_observation
from .scratch import scratch
from .time_blocks import TimeBlocks, from_blocks, to_blocks
from .validation import check_log_likelihoods, check_startprob, check_transmat

#: Elements of a chunk's (R, K, positions, B) arrays (see :func:`positions_per_chunk`).
CHUNK_ELEMENTS = 65_536

#: Products and vectors are renormalised every this many steps: more often is slower, far less
#: often could underflow when transition probabilities are tiny.
RENORMALISE_EVERY = 8


class BlockedPasses(NamedTuple):
    """The scan's results for R parameter sets; the first R of the 2R sets are the forward pass."""

    current: np.ndarray
    """(S, K, L, B): alpha_t (up to the recorded factors) for the forward sets; b_t * beta_t,
    positions reversed, for the backward sets."""
    beta: np.ndarray | None
    """(L, R, K, B): beta_t (up to a factor per step), positions reversed; None without the backward pass."""
    log_renormalised: np.ndarray
    """(R, L, B): log of the factor alpha's prediction was divided by at each step (mostly 0)."""

    def in_time_order(self):
        """Views (R, K, L, B) with positions in time order: alpha, beta and b_t * beta_t."""
        n_sets = self.log_renormalised.shape[0]
        return self.current[:n_sets], self.beta[::-1].transpose(1, 2, 0, 3), self.current[n_sets:, :, ::-1]


def positions_per_chunk(n_sets: int, n_states: int, n_blocks: int) -> int:
    """Positions handled together by the loops over chunks: enough to keep numpy's calls few,
    few enough that a chunk's (R, K, positions, B) arrays stay in the processor's cache."""
    return max(1, CHUNK_ELEMENTS // (n_sets * n_states * n_blocks))


def _shifted_densities(log_b_at, shape: tuple[int, int, int, int], blocks: TimeBlocks):
    """``b_t(k) / max_k b_t(k)`` as an (L, R, K, B) array, and the shift ``m_t = max_k log b_t(k)``
    as (L, R, B); padding gets densities 1 and shift 0.

    ``log_b_at(start, stop)`` returns the (stop - start, R, K, B) log-densities at those positions
    (in block order); they are asked for a chunk at a time, each turned into densities while in cache.
    """
    length, n_sets, n_states, n_blocks = shape
    shift = scratch("shift", (length, n_sets, n_blocks))
    densities = scratch("densities", shape)
    chunk = positions_per_chunk(n_sets, n_states, n_blocks)
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        log_b, highest = log_b_at(start, stop), shift[start:stop]
        np.copyto(highest, log_b[:, :, 0])
        for k in range(1, n_states):
            np.maximum(highest, log_b[:, :, k], out=highest)
        highest[max(blocks.last_block_steps - start, 0) :, :, n_blocks - 1] = 0.0  # padding
        bad = ~np.isfinite(highest)
        if np.any(bad):
            raise impossible_observation(min(blocks.time_step(start + int(l), int(b)) for l, _, b in np.argwhere(bad)))
        np.subtract(log_b, highest[:, :, None], out=densities[start:stop])
    np.exp(densities, out=densities)
    densities[blocks.last_block_steps :, :, :, n_blocks - 1] = 1.0
    return densities, shift


def _block_products(transmat: np.ndarray, densities: np.ndarray) -> np.ndarray:
    """(R, K, K, B): the product over block b of ``A diag(b_t)``, up to a factor per block.

    Block 0 starts with ``diag(b_0)`` instead (the initial distribution carries no transition).
    Only the running product is kept.
    """
    n_states = transmat.shape[-1]
    product = transmat[..., None] * densities[0][:, None]
    product[..., 0] = 0.0
    diagonal = np.arange(n_states)
    product[:, diagonal, diagonal, 0] = densities[0, :, :, 0]
    # product[r, i] holds row i of the running product; times A from the right is A^T times it
    step = np.swapaxes(transmat, 1, 2)[:, None]
    spare = np.empty_like(product)
    for position in range(1, densities.shape[0]):
        np.matmul(step, product, out=spare)
        spare *= densities[position][:, None]
        product, spare = spare, product
        if position % RENORMALISE_EVERY == 0:
            product /= product.sum(axis=(1, 2))[:, None, None]
    return product


def _block_boundaries(startprob: np.ndarray, products: np.ndarray, backward: bool) -> np.ndarray:
    """(S, K, B): alpha entering each block (normalised), then for the backward sets beta at the
    end of each block (normalised; blocks in reversed order). One step per block."""
    n_sets, n_states, _, n_blocks = products.shape
    matrices = [products.transpose(3, 0, 2, 1)[: n_blocks - 1]]  # F_b^T: entering_b+1 = F_b^T entering_b
    if backward:
        matrices.append(products.transpose(3, 0, 1, 2)[:0:-1])  # F_b: end_b-1 = F_b end_b, b = B-1 .. 1
    matrices = np.concatenate(matrices, axis=1)
    vectors = np.empty((n_blocks, matrices.shape[1], n_states, 1))
    vectors[0] = 1.0
    vectors[0, :n_sets, :, 0] = startprob
    for block in range(n_blocks - 1):
        vector = np.matmul(matrices[block], vectors[block], out=vectors[block + 1])
        vector /= vector.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(vectors[..., 0].transpose(1, 2, 0))


def _scan(startprob: np.ndarray, transmat: np.ndarray, densities: np.ndarray, backward: bool) -> BlockedPasses:
    """The three passes (module docstring) over the (L, R, K, B) shifted densities."""
    length, n_sets, n_states, n_blocks = densities.shape
    n_total = 2 * n_sets if backward else n_sets
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        boundaries = _block_boundaries(startprob, _block_products(transmat, densities), backward)
        transposed = np.swapaxes(transmat, 1, 2)
        step = np.concatenate([transposed, transmat]) if backward else transposed
        # alpha_t-1 A (forward sets) and beta_t (backward sets) at the position at hand; beta is kept
        predicted = np.empty((n_total, n_states, n_blocks))
        predicted[:n_sets] = transposed @ boundaries[:n_sets]
        predicted[:n_sets, :, 0] = startprob
        predicted[n_sets:] = boundaries[n_sets:, :, ::-1]
        spare = np.empty_like(predicted)
        beta = scratch("beta", (length, n_sets, n_states, n_blocks)) if backward else None
        current = scratch("current", (n_total, n_states, length, n_blocks))
        log_renormalised = scratch("log_renormalised", (n_sets, length, n_blocks))
        log_renormalised.fill(0.0)
        for position in range(length):
            now = current[:, :, position]
            np.multiply(densities[position], predicted[:n_sets], out=now[:n_sets])
            if backward:  # the backward sets run through the positions in reverse
                np.copyto(beta[position], predicted[n_sets:])
                np.multiply(densities[length - 1 - position], predicted[n_sets:], out=now[n_sets:])
            if position + 1 < length:
                predicted, spare = np.matmul(step, now, out=spare), predicted
                if (position + 1) % RENORMALISE_EVERY == 0:
                    total = predicted.sum(axis=1)
                    predicted /= total[:, None]
                    np.log(total[:n_sets], out=log_renormalised[:, position + 1])
    return BlockedPasses(current, beta, log_renormalised)


class BlockedStatistics(NamedTuple):
    log_likelihood: np.ndarray
    """(R,) log P(O | lambda)."""
    xi_sum: np.ndarray
    """(R, K, K) sum over t of xi_t(i, j)."""
    first_gamma: np.ndarray
    """(R, K) gamma at the first step."""
    weighted_features: np.ndarray | None
    """(R, K, F) sum over t of gamma_t(k) phi_t, for features phi_t given per step (else None)."""
    gamma: np.ndarray | None
    """(R, K, L, B) gamma_t(i), zero at the padding, when asked for (else None)."""
    norm: np.ndarray | None
    """(R, L, B) sum_i alpha_t(i) beta_t(i) in the scan's units, with gamma."""
    usable: np.ndarray
    """(R,) False where the scan lost all mass somewhere; those sets must be recomputed."""


def _posterior_statistics(transmat, passes: BlockedPasses, shift, blocks: TimeBlocks, features=None, full=False):
    """log P(O | lambda), gamma (Eq. 17) and the summed xi (Eq. 21) from the two passes.

    ``gamma_t = alpha_t * beta_t / D_t`` with ``D_t = sum_i alpha_t(i) beta_t(i)``. For xi,
    ``xi_t(i, j) = alpha_t(i) A_ij b_j(O_t+1) beta_t+1(j) / Z_t``, where Z_t (the sum of the
    numerator) equals ``n_t+1 D_t+1`` inside a block (n the recorded renormalisation factor) and
    is computed directly across block boundaries.

    The work goes a chunk of positions at a time, so that gamma is used while it is in cache:
    the EM loop needs only its sums against the (F, L B) ``features`` (the M-step's moments),
    not gamma itself, which is kept (with D) only when ``full``.
    """
    n_sets, n_states = transmat.shape[:2]
    length, n_blocks, last_steps = blocks.length, blocks.n_blocks, blocks.last_block_steps
    alpha, beta, density_beta = passes.in_time_order()
    all_gamma = np.empty(alpha.shape) if full else None
    all_norm = np.empty(passes.log_renormalised.shape) if full else None
    weighted_features = None if features is None else np.zeros((n_sets, n_states, features.shape[0]))
    xi_sum = np.zeros((n_sets, n_states, n_states))
    smallest, largest = np.full(n_sets, np.inf), np.zeros(n_sets)
    chunk = positions_per_chunk(n_sets, n_states, n_blocks)
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        shape = (n_sets, n_states, stop - start, n_blocks)
        gamma = all_gamma[:, :, start:stop] if full else scratch("gamma", shape)
        np.multiply(alpha[:, :, start:stop], beta[:, :, start:stop], out=gamma)
        norm = all_norm[:, start:stop] if full else scratch("norm", shape[:1] + shape[2:])
        np.sum(gamma, axis=1, out=norm)
        np.minimum(smallest, norm.min(axis=(1, 2)), out=smallest)
        np.maximum(largest, norm.max(axis=(1, 2)), out=largest)
        gamma /= norm[:, None]
        next_sum = np.exp(passes.log_renormalised[:, start:stop], out=scratch("next_sum", norm.shape))
        next_sum *= norm
        future = np.divide(density_beta[:, :, start:stop], next_sum[:, None], out=scratch("future", shape))
        if stop > last_steps:
            gamma[:, :, max(last_steps - start, 0) :, n_blocks - 1] = 0.0
            future[:, :, max(last_steps - start, 0) :, n_blocks - 1] = 0.0
        # pairs (t, t+1) inside a block: position p - 1 with position p, B apart in block order
        later = max(start, 1)
        xi_sum += alpha[:, :, later - 1 : stop - 1].reshape(n_sets, n_states, -1) @ np.swapaxes(
            future[:, :, later - start :].reshape(n_sets, n_states, -1), 1, 2
        )
        if features is not None:
            weighted_features += gamma.reshape(n_sets, n_states, -1) @ features[:, start * n_blocks : stop * n_blocks].T
        if start == 0:
            first_gamma = gamma[:, :, 0, 0].copy()
    last, first = alpha[:, :, length - 1, :-1], density_beta[:, :, 0, 1:]
    across = (np.swapaxes(transmat, 1, 2) @ last * first).sum(axis=1)
    xi_sum += last @ np.swapaxes(first / across[:, None], 1, 2)
    xi_sum *= transmat
    log_likelihood = (
        np.log(alpha[:, :, length - 1].sum(axis=1)).sum(axis=1)
        + passes.log_renormalised.sum(axis=(1, 2))
        + shift.sum(axis=(0, 2))
    )
    # gamma is finite where every D_t is positive and finite (a NaN fails both comparisons)
    usable = (
        np.isfinite(log_likelihood) & (smallest > 0) & (largest < np.inf) & np.all(np.isfinite(xi_sum), axis=(1, 2))
    )
    return BlockedStatistics(log_likelihood, xi_sum, first_gamma, weighted_features, all_gamma, all_norm, usable)


def _e_step_blocked(startprob, transmat, log_b_at, shape, blocks: TimeBlocks, features) -> BlockedStatistics:
    """The E-step as the EM loop needs it, for R parameter sets: log-likelihood, summed xi, gamma
    at the first step and gamma's sums against ``features`` (F, L B); nothing of size T K is kept.

    ``log_b_at`` gives (L, R, K, B) log-densities a chunk of positions at a time (see
    :func:`_shifted_densities`); ``shape`` is (L, R, K, B).
    """
    densities, shift = _shifted_densities(log_b_at, shape, blocks)
    passes = _scan(startprob, transmat, densities, backward=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        statistics = _posterior_statistics(transmat, passes, shift, blocks, features)
    for r in np.flatnonzero(~statistics.usable):
        log_b = np.swapaxes(log_b_at(0, blocks.length)[:, r], 0, 1)
        exact = e_step_reference(startprob[r], transmat[r], from_blocks(log_b, blocks))
        statistics.log_likelihood[r] = exact.log_likelihood
        statistics.xi_sum[r] = exact.xi_sum
        statistics.first_gamma[r] = exact.gamma[0]
        statistics.weighted_features[r] = to_blocks(exact.gamma, blocks).reshape(exact.gamma.shape[1], -1) @ features.T
    return statistics


def _filtered(passes: BlockedPasses, shift: np.ndarray, n_sets: int):
    """Rabiner's alpha_hat (R, K, L, B) and log c_t (R, L, B) from the forward pass, and s_t (R, L, B).

    With s_t the sum of the stored alpha_t and n_t its recorded factor, ``c_t = n_t s_t / s_t-1``
    inside a block and ``c_t = s_t`` at a block's first step (it enters normalised).
    """
    alpha = passes.current[:n_sets]
    total = alpha.sum(axis=1)
    log_total = np.log(total)
    log_scale = log_total + passes.log_renormalised + np.swapaxes(shift, 0, 1)
    log_scale[:, 1:] -= log_total[:, :-1]
    return alpha / total[:, None], log_scale, total


def _in_block_order(log_b: np.ndarray, blocks: TimeBlocks):
    """(R, T, K) log-densities as ``log_b_at`` and shape for :func:`_shifted_densities`."""
    in_blocks = np.moveaxis(to_blocks(log_b, blocks), 2, 0)
    return (lambda start, stop: in_blocks[start:stop]), in_blocks.shape


def _forward_batch(startprob, transmat, log_b) -> Forward:
    """Scaled forward pass for R parameter sets: inputs (R, K), (R, K, K), (R, T, K)."""
    blocks = TimeBlocks.for_steps(log_b.shape[1])
    densities, shift = _shifted_densities(*_in_block_order(log_b, blocks), blocks)
    passes = _scan(startprob, transmat, densities, backward=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha_hat, log_scale, _ = _filtered(passes, shift, startprob.shape[0])
    alpha_hat = from_blocks(alpha_hat, blocks)
    log_scale = from_blocks(log_scale[:, None], blocks)[..., 0]
    ok = np.all(np.isfinite(log_scale), axis=1)
    for r in np.flatnonzero(~ok):
        alpha_hat[r], log_scale[r], _ = forward_reference(startprob[r], transmat[r], log_b[r])
    return Forward(alpha_hat, log_scale, log_scale.sum(axis=1))


def _e_step_batch(startprob, transmat, log_b, return_xi: bool = False) -> Posteriors:
    """Eqs. (17) and (21) for R parameter sets at once: inputs (R, K), (R, K, K), (R, T, K).

    Besides gamma and the summed xi this returns Rabiner's scaled variables: alpha_hat and c_t
    from the forward pass (:func:`_filtered`), and ``beta_hat_t = beta_t / sum_i alpha_hat_t(i)
    beta_t(i)``, the scaling that makes ``sum_i alpha_hat_t(i) beta_hat_t(i) = 1``.
    """
    n_sets = log_b.shape[0]
    blocks = TimeBlocks.for_steps(log_b.shape[1])
    densities, shift = _shifted_densities(*_in_block_order(log_b, blocks), blocks)
    passes = _scan(startprob, transmat, densities, backward=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        statistics = _posterior_statistics(transmat, passes, shift, blocks, full=True)
        alpha_hat, log_scale, alpha_sum = _filtered(passes, shift, n_sets)
        beta_hat = passes.in_time_order()[1] * (alpha_sum / statistics.norm)[:, None]
    alpha_hat, beta_hat, gamma = (from_blocks(value, blocks) for value in (alpha_hat, beta_hat, statistics.gamma))
    log_scale = from_blocks(log_scale[:, None], blocks)[..., 0]
    log_likelihood, xi_sum, usable = statistics.log_likelihood, statistics.xi_sum, statistics.usable
    xi = None
    if return_xi:
        with np.errstate(over="ignore", invalid="ignore"):
            future = np.exp(log_b[:, 1:] - log_scale[:, 1:, None]) * beta_hat[:, 1:]
            xi = alpha_hat[:, :-1, :, None] * transmat[:, None] * future[:, :, None, :]
    for r in np.flatnonzero(~usable):
        exact = e_step_reference(startprob[r], transmat[r], log_b[r], return_xi=return_xi)
        alpha_hat[r], log_scale[r], gamma[r], xi_sum[r], beta_hat[r] = (
            exact.alpha_hat, exact.log_scale, exact.gamma, exact.xi_sum, exact.beta_hat
        )
        log_likelihood[r] = exact.log_likelihood
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
