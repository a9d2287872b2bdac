"""The EM loop (Baum-Welch): E-step, M-step, repeat; restarts advanced together.

One EM iteration evaluates log P(O | lambda_old) in its E-step, then applies Eqs. (27), (28),
(35) and (41). The loop stops when the gain in log-likelihood falls below ``tol``; a *decrease*
beyond rounding is a bug in the model or the data (EM cannot decrease the likelihood, see the
book's monotonicity theorem) and raises a :class:`LikelihoodDecreaseWarning` instead of being
taken for convergence.

**The data are prepared once.** The observations are laid out for the fast E-step once per
fit (:func:`block_observations`); :func:`em_step`, often called in a loop on the same data,
reuses the layout of its last call (in the same thread) when the observations are equal. A large batch of restarts
computes half of its E-step in a second process (:mod:`hmmcore.second_process`).
"""

from __future__ import annotations

import threading
import warnings
from typing import NamedTuple

import numpy as np
from scipy.cluster.vq import kmeans2

from .emissions import log_density_coefficients, quadratic_features
from .inference import _e_step_blocked
from .mstep import (
    covars_from_moments,
    diagonal_part,
    means_from_moments,
    moments_from_features,
    update_startprob,
    update_transmat,
)
from .scratch import scratch
from .second_process import in_two_processes
from .time_blocks import TimeBlocks, to_blocks
from .validation import (
    check_covars,
    check_lengths,
    check_means,
    check_n_components,
    check_nonnegative,
    check_observations,
    check_positive_int,
    check_startprob,
    check_transmat,
)

COVARIANCE_TYPES = ("full", "diag")

#: A drop in log-likelihood larger than this fraction of max(1, |log-likelihood|) is not rounding.
DECREASE_TOLERANCE = 1e-9


class LikelihoodDecreaseWarning(RuntimeWarning):
    """EM lowered the log-likelihood by more than rounding: something is wrong."""


class HMMParams(NamedTuple):
    """lambda = (pi, A, mu, Sigma); arrays may carry a leading axis of R parameter sets."""

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray


class EMResult(NamedTuple):
    """Outcome of :func:`fit_em` for one parameter set (or R of them along a leading axis)."""

    params: HMMParams
    """The fitted parameters."""
    log_likelihoods: list
    """log P(O | lambda) at each E-step, in order (a list of arrays for R sets)."""
    converged: bool | np.ndarray
    """True when the last gain was below ``tol``."""
    n_iter: int | np.ndarray
    """Number of E-steps performed."""


def check_covariance_type(covariance_type: str) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"`covariance_type` must be one of {COVARIANCE_TYPES}; got {covariance_type!r}.")
    return covariance_type


def check_params(params: HMMParams, n_features: int) -> HMMParams:
    """Validate a (possibly batched) parameter set against the data's dimension."""
    means = check_means(params.means, n_features=n_features)
    n_states = means.shape[-2]
    return HMMParams(
        check_startprob(params.startprob, n_states),
        check_transmat(params.transmat, n_states),
        means,
        check_covars(params.covars, n_states, n_features),
    )


def sequence_bounds(lengths: list[int]) -> list[tuple[int, int]]:
    ends = np.cumsum(lengths)
    return [(int(end - length), int(end)) for length, end in zip(lengths, ends)]


class BlockedObservations(NamedTuple):
    """The observations as the EM loop keeps them, prepared once per fit.

    Each sequence is stored in the block order of :mod:`hmmcore.time_blocks` (padding
    included), the order the fast E-step works in. The E-step needs the observations only through
    their quadratic features (:func:`hmmcore.emissions.quadratic_features`): the log-densities
    are linear in them, and so are the M-step's weighted sums, so gamma is never put back in
    time order, nor even kept.
    """

    centre: np.ndarray
    """(D,) the mean of the observations, the centre of the features."""
    blocks: list[TimeBlocks]
    """The blocks of each sequence."""
    features: list[np.ndarray]
    """Per sequence, (F, L B): the features in block order (padding: those of the centre)."""


def block_observations(X: np.ndarray, lengths: list[int]) -> BlockedObservations:
    """Lay out validated observations ``X`` (T, D), cut into sequences by ``lengths``, for the EM loop."""
    centre = X.mean(axis=0)
    all_blocks, features = [], []
    for start, end in sequence_bounds(lengths):
        blocks = TimeBlocks.for_steps(end - start)
        centred = to_blocks(X[start:end] - centre, blocks).reshape(X.shape[1], blocks.size).T  # padding: 0
        features.append(quadratic_features(centred, np.zeros_like(centre)))
        all_blocks.append(blocks)
    return BlockedObservations(centre, all_blocks, features)


def expected_statistics(data: BlockedObservations, params: HMMParams):
    """E-step over every sequence for R parameter sets: log-likelihood (R,), gamma at the start of
    each sequence (R, n_sequences, K), the summed xi (R, K, K) and gamma's weighted sums (R, K, F)."""
    n_steps = sum(blocks.n_steps for blocks in data.blocks)
    return in_two_processes(_expected_statistics, data, params, n_steps)


_last_prepared = threading.local()


def _prepared(X: np.ndarray, lengths: list[int]) -> BlockedObservations:
    """:func:`block_observations`, reused from this thread's last call when ``X`` and ``lengths`` are equal."""
    last = getattr(_last_prepared, "value", None)
    if last is not None and last[1] == lengths and last[0].shape == X.shape and np.array_equal(last[0], X):
        return last[2]
    data = block_observations(X, lengths)
    _last_prepared.value = (X.copy(), list(lengths), data)
    return data


def _expected_statistics(data: BlockedObservations, params: HMMParams):
    """:func:`expected_statistics`, all of it in this process."""
    coefficients = log_density_coefficients(params.means, params.covars, data.centre)
    n_sets, n_states, n_coefficients = coefficients.shape
    coefficients = coefficients.reshape(n_sets * n_states, n_coefficients)
    log_likelihood = np.zeros(n_sets)
    first_gammas = []
    xi_sum = np.zeros((n_sets, n_states, n_states))
    weighted_features = np.zeros((n_sets, n_states, n_coefficients))
    for blocks, features in zip(data.blocks, data.features):
        shape = (blocks.length, n_sets, n_states, blocks.n_blocks)

        def log_b_at(start, stop, features=features, n_blocks=blocks.n_blocks):
            out = scratch("log_b", (n_sets * n_states, (stop - start) * n_blocks))
            # A state whose mean is absurdly far away has log-density -inf everywhere (its
            # constant coefficient overflows); BLAS may then multiply -inf by the zeros that pad
            # its tiles and raise a spurious "invalid" flag. A NaN in the result would still stop
            # the E-step (it has no maximum over states).
            with np.errstate(invalid="ignore"):
                np.matmul(coefficients, features[:, start * n_blocks : stop * n_blocks], out=out)
            return out.reshape(n_sets, n_states, stop - start, n_blocks).transpose(2, 0, 1, 3)

        statistics = _e_step_blocked(params.startprob, params.transmat, log_b_at, shape, blocks, features)
        log_likelihood += statistics.log_likelihood
        first_gammas.append(statistics.first_gamma)
        xi_sum += statistics.xi_sum
        weighted_features += statistics.weighted_features
    return log_likelihood, np.stack(first_gammas, axis=1), xi_sum, weighted_features


def maximization(first_gammas, xi_sum, weighted_features, centre, previous: HMMParams, covariance_type="full",
                 reg_covar=0.0) -> HMMParams:
    """The M-step from the E-step's sums (:func:`expected_statistics`; ``centre`` that of the
    features): Eqs. (28), (27), (35) and (41), each in its own function."""
    moments = moments_from_features(weighted_features, centre)
    means = means_from_moments(moments, previous=previous.means)
    covars = covars_from_moments(moments, means, previous=previous.covars, reg_covar=reg_covar)
    return HMMParams(
        # Eq. (28) from gamma at each sequence's first step: sequences of one step each
        startprob=update_startprob(first_gammas, [1] * first_gammas.shape[-2]),
        transmat=update_transmat(xi_sum, previous=previous.transmat),
        means=means,
        covars=covars if covariance_type == "full" else diagonal_part(covars),
    )


def _batched(params: HMMParams) -> tuple[HMMParams, bool]:
    single = np.ndim(params.startprob) == 1
    if single:
        return HMMParams(*(np.asarray(value)[None] for value in params)), True
    return params, False


def em_step(X, params: HMMParams, lengths=None, covariance_type: str = "full", reg_covar: float = 0.0):
    """One EM iteration from ``params``: returns (new parameters, log P(O | params))."""
    X = check_observations(X)
    lengths = check_lengths(lengths, X.shape[0])
    check_covariance_type(covariance_type)
    params, single = _batched(check_params(HMMParams(*params), X.shape[1]))

    data = _prepared(X, lengths)
    log_likelihood, first_gammas, xi_sum, weighted_features = expected_statistics(data, params)
    new = maximization(first_gammas, xi_sum, weighted_features, data.centre, params, covariance_type, reg_covar)
    if single:
        return HMMParams(*(value[0] for value in new)), float(log_likelihood[0])
    return new, log_likelihood


def _subset(params: HMMParams, index) -> HMMParams:
    return HMMParams(*(_take(value, index) for value in params))


def _take(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``array[index]`` for sorted distinct indices (from ``np.flatnonzero``); no copy when all are taken."""
    return array if index.size == array.shape[0] else array[index]


def fit_em(
    X,
    params: HMMParams,
    lengths=None,
    n_iter: int = 100,
    tol: float = 1e-4,
    covariance_type: str = "full",
    reg_covar: float = 0.0,
) -> EMResult:
    """Run Baum-Welch from ``params`` until the log-likelihood gain is below ``tol``.

    ``params`` may hold R parameter sets along a leading axis (restarts). They advance through
    EM together, but each stops exactly when it would have stopped on its own: the results
    equal R separate runs.
    """
    X = check_observations(X)
    lengths = check_lengths(lengths, X.shape[0])
    check_covariance_type(covariance_type)
    check_positive_int(n_iter, "n_iter")
    check_nonnegative(tol, "tol")
    check_nonnegative(reg_covar, "reg_covar")
    params, single = _batched(check_params(HMMParams(*params), X.shape[1]))
    n_sets = params.startprob.shape[0]
    current = HMMParams(*(np.array(value, dtype=np.float64) for value in params))
    data = block_observations(X, lengths)
    histories = [[] for _ in range(n_sets)]
    converged = np.zeros(n_sets, dtype=bool)
    active = np.ones(n_sets, dtype=bool)

    for _ in range(n_iter):
        index = np.flatnonzero(active)
        if index.size == 0:
            break
        subset = _subset(current, index)
        log_likelihood, first_gammas, xi_sum, weighted_features = expected_statistics(data, subset)
        keep_going = np.ones(index.size, dtype=bool)
        for position, r in enumerate(index):
            history = histories[r]
            history.append(float(log_likelihood[position]))
            if len(history) < 2:
                continue
            gain = history[-1] - history[-2]
            if gain < -DECREASE_TOLERANCE * max(1.0, abs(history[-2])):
                cause = (
                    "reg_covar > 0 makes the M-step a regularised update, not a likelihood maximiser"
                    if reg_covar > 0
                    else "exact EM never does this, so the model or the data is at fault"
                )
                warnings.warn(
                    f"EM decreased the log-likelihood from {history[-2]!r} to {history[-1]!r} "
                    f"(iteration {len(history)}, parameter set {r}): {cause}.",
                    LikelihoodDecreaseWarning,
                    stacklevel=2,
                )
            elif gain < tol:
                converged[r] = True
                keep_going[position] = False
        active[index[~keep_going]] = False
        moving = np.flatnonzero(keep_going)
        if moving.size == 0:
            continue
        updated = maximization(
            _take(first_gammas, moving), _take(xi_sum, moving), _take(weighted_features, moving), data.centre,
            _subset(subset, moving), covariance_type, reg_covar,
        )
        for name, value in zip(HMMParams._fields, updated):
            getattr(current, name)[index[moving]] = value

    n_iters = np.array([len(history) for history in histories])
    if single:
        return EMResult(HMMParams(*(value[0] for value in current)), histories[0], bool(converged[0]), int(n_iters[0]))
    return EMResult(current, histories, converged, n_iters)


def initial_params(X, n_components: int, rng, covariance_type: str = "full") -> HMMParams:
    """A random starting point for EM.

    Means: k-means++ centres (SciPy) seeded from ``rng``; covariances: the covariance of all the
    data (its diagonal for ``"diag"``) for every state; start probabilities uniform; each row of
    A drawn from a Dirichlet distribution leaning towards staying in the same state.
    """
    X = check_observations(X)
    n_components = check_n_components(n_components)
    check_covariance_type(covariance_type)
    rng = np.random.default_rng(rng)
    n_samples, n_features = X.shape
    if n_samples < n_components:
        raise ValueError(f"`X` has {n_samples} samples, fewer than `n_components` = {n_components}.")
    centres, _ = kmeans2(X, n_components, minit="++", seed=rng)
    spread = np.atleast_2d(np.cov(X, rowvar=False)) if n_samples > 1 else np.eye(n_features)
    if covariance_type == "diag":
        spread = np.diag(np.diag(spread))
    floor = 1e-3 * max(float(np.trace(spread)) / n_features, np.finfo(float).tiny) * np.eye(n_features)
    covars = np.repeat((spread + floor)[None], n_components, axis=0)
    transmat = rng.dirichlet(np.ones(n_components), size=n_components) + n_components * np.eye(n_components)
    transmat /= transmat.sum(axis=1, keepdims=True)
    return HMMParams(np.full(n_components, 1.0 / n_components), transmat, centres, covars)
