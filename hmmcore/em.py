"""The EM loop (Baum-Welch): E-step, M-step, repeat; restarts advanced together.

One EM iteration evaluates log P(O | lambda_old) in its E-step, then applies Eqs. (27), (28),
(35) and (41). The loop stops when the gain in log-likelihood falls below ``tol``; a *decrease*
beyond rounding is a bug in the model or the data (EM cannot decrease the likelihood, see the
book's monotonicity theorem) and raises a :class:`LikelihoodDecreaseWarning` instead of being
taken for convergence.

**Two threads for a batch.** When R >= 2 parameter sets advance together (restarts) and the
machine has at least two cores, the first and the second half of the sets run in two threads:
the E-step (emission densities and forward-backward), and in :func:`em_step` the M-step too. The
work is numpy array operations, which release the GIL, so the halves proceed in parallel and a
batch takes about 1.5 times less wall time. Each thread applies to its own, disjoint, sets
exactly the operations the single-threaded path applies to them, so the results do not depend
on the threads, bit for bit (a test checks it).
"""

from __future__ import annotations

import contextvars
import functools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy.cluster.vq import kmeans2

from .emissions import _gaussian_log_density
from .inference import _e_step_batch
from .mstep import update_covars, update_covars_diag, update_means, update_startprob, update_transmat
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


def expected_statistics(X, params: HMMParams, lengths: list[int]):
    """E-step over every sequence for R parameter sets: (log-likelihood (R,), gamma (R,T,K), xi_sum (R,K,K))."""
    return _in_halves(lambda subset: _expected_statistics(X, subset, lengths), params)


#: Threads used for a batch of parameter sets (see the module docstring).
_THREADS = min(2, os.cpu_count() or 1)


@functools.cache
def _thread_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="hmmcore")


def _in_halves(function, params: HMMParams) -> tuple:
    """``function(params)``, which returns arrays with the parameter-set axis first; with R >= 2
    sets and two cores, computed for the two halves of the sets in two threads (module docstring)."""
    n_sets = params.startprob.shape[0]
    if n_sets < 2 or _THREADS < 2:
        return function(params)
    parts = (slice(None, n_sets // 2), slice(n_sets // 2, None))
    halves = [HMMParams(*(value[part] for value in params)) for part in parts]
    # each half runs in a copy of the caller's context, so numpy's error state (np.errstate) applies there too
    contexts = [contextvars.copy_context() for _ in halves]
    first, second = _thread_pool().map(lambda context, half: context.run(function, half), contexts, halves)
    return tuple(np.concatenate(pair) for pair in zip(first, second))


def _expected_statistics(X, params: HMMParams, lengths: list[int]):
    """:func:`expected_statistics` in the calling thread."""
    log_b = _gaussian_log_density(X, params.means, params.covars)
    n_sets, _, n_states = log_b.shape
    gammas = []
    xi_sum = np.zeros((n_sets, n_states, n_states))
    log_likelihood = np.zeros(n_sets)
    for start, end in sequence_bounds(lengths):
        posteriors = _e_step_batch(params.startprob, params.transmat, log_b[:, start:end])
        gammas.append(posteriors.gamma)
        xi_sum += posteriors.xi_sum
        log_likelihood += posteriors.log_likelihood
    gamma = gammas[0] if len(gammas) == 1 else np.concatenate(gammas, axis=1)
    return log_likelihood, gamma, xi_sum


def maximization(X, gamma, xi_sum, lengths, previous: HMMParams, covariance_type="full", reg_covar=0.0) -> HMMParams:
    """The M-step: Eqs. (28), (27), (35) and (41), each in its own function."""
    update_covariances = update_covars if covariance_type == "full" else update_covars_diag
    means = update_means(X, gamma, previous=previous.means)
    return HMMParams(
        startprob=update_startprob(gamma, lengths),
        transmat=update_transmat(xi_sum, previous=previous.transmat),
        means=means,
        covars=update_covariances(X, gamma, means, previous=previous.covars, reg_covar=reg_covar),
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

    def step(subset: HMMParams) -> tuple:
        log_likelihood, gamma, xi_sum = _expected_statistics(X, subset, lengths)
        return (*maximization(X, gamma, xi_sum, lengths, subset, covariance_type, reg_covar), log_likelihood)

    *new, log_likelihood = _in_halves(step, params)
    new = HMMParams(*new)
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
    histories = [[] for _ in range(n_sets)]
    converged = np.zeros(n_sets, dtype=bool)
    active = np.ones(n_sets, dtype=bool)

    for _ in range(n_iter):
        index = np.flatnonzero(active)
        if index.size == 0:
            break
        subset = _subset(current, index)
        log_likelihood, gamma, xi_sum = expected_statistics(X, subset, lengths)
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
            X, _take(gamma, moving), _take(xi_sum, moving), lengths, _subset(subset, moving), covariance_type, reg_covar
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
