"""The EM loop (Baum-Welch): chapter 8's pseudo-code, and restarts run in parallel.

:func:`em_step` is one iteration exactly as chapter 8 writes it: the log-densities of Eq. (29),
the E-step of every sequence, then Eqs. (28), (27), (35) and (41), each its own function.
:func:`fit_em` repeats it until the gain in log-likelihood falls below ``tol``. A *decrease*
beyond rounding is a bug in the model or the data (EM cannot decrease the likelihood, see the
book's monotonicity theorem) and raises a :class:`LikelihoodDecreaseWarning` instead of being
taken for convergence. A covariance that stops being positive definite (a state collapsing
onto a few points: the likelihood is unbounded) ends that run with a
:class:`DegenerateStateWarning` naming the state and the iteration.

**Restarts in parallel.** ``fit_em`` takes R starting points along a leading axis and runs
them in a :class:`concurrent.futures.ThreadPoolExecutor`, one thread per core. The compiled
loops release the GIL (``nogil=True``), so the threads run at the same time; each restart is
computed exactly as it would be alone, so the results are bit-identical to running them one by
one, for any number of threads.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy.cluster.vq import kmeans2

from .emissions import NotPositiveDefiniteError, cholesky_factors, gaussian_log_density
from .inference import e_step
from .mstep import (
    check_covariance_type,
    update_covars,
    update_means,
    update_startprob,
    update_transmat,
)
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

#: A drop in log-likelihood larger than this fraction of max(1, |log-likelihood|) is not rounding.
DECREASE_TOLERANCE = 1e-9

#: The parameters ``update`` may name, as hmmlearn's ``params`` letters.
PARAMETER_LETTERS = "stmc"


class LikelihoodDecreaseWarning(RuntimeWarning):
    """EM lowered the log-likelihood by more than rounding: something is wrong."""


class DegenerateStateWarning(RuntimeWarning):
    """A state's covariance collapsed during EM; the run stopped at its last valid parameters."""


class DegenerateStateError(ValueError):
    """An M-step produced a covariance that is not positive definite."""

    def __init__(self, state: int, iteration: int | None = None, log_likelihood: float | None = None):
        when = f" at iteration {iteration}" if iteration is not None else ""
        super().__init__(
            f"the covariance of state {state} collapsed{when}: the M-step made it singular "
            "(the state sits on too few distinct points, and the likelihood grows without "
            "bound there). Use a covariance prior (`covars_prior` > 0) or `reg_covar` > 0, "
            "or more restarts."
        )
        self.state = state
        self.iteration = iteration
        self.log_likelihood = log_likelihood
        """log P(O | lambda) at the parameters the failed M-step started from."""


class HMMParams(NamedTuple):
    """lambda = (pi, A, mu, Sigma) for K states and D features."""

    startprob: np.ndarray
    """(K,) initial distribution pi."""
    transmat: np.ndarray
    """(K, K) transition matrix A."""
    means: np.ndarray
    """(K, D) means mu_k."""
    covars: np.ndarray
    """(K, D, D) covariance matrices Sigma_k (diagonal, scalar or equal for the other types)."""


class Priors(NamedTuple):
    """The MAP priors of chapter 11, with hmmlearn's names. The defaults are flat: plain
    maximum likelihood, the updates the derivation chapters derive."""

    startprob_prior: float | np.ndarray = 1.0
    transmat_prior: float | np.ndarray = 1.0
    means_prior: float | np.ndarray = 0.0
    means_weight: float | np.ndarray = 0.0
    covars_prior: float | np.ndarray = 0.0
    covars_weight: float | np.ndarray = 1.0


#: hmmlearn's GaussianHMM defaults: flat except a covariance prior of 1e-2.
HMMLEARN_PRIORS = Priors(covars_prior=1e-2)


class EMResult(NamedTuple):
    """Outcome of :func:`fit_em` for one starting point (or R of them, as lists/arrays)."""

    params: HMMParams
    """The parameters of the last E-step: ``log_likelihoods[-1]`` is their log-likelihood
    (stacked along a leading axis for R starting points)."""
    log_likelihoods: list
    """log P(O | lambda) at each E-step, in order (a list of lists for R starting points)."""
    converged: bool | np.ndarray
    """True when the last gain was below ``tol`` (and not a decrease)."""
    n_iter: int | np.ndarray
    """Number of E-steps performed."""
    degenerate: str | None | list
    """None, or the message of the :class:`DegenerateStateError` that ended the run."""
    next_params: HMMParams
    """The parameters one M-step after the last E-step (what hmmlearn's ``fit`` returns); equal
    to ``params`` when the run ended on a collapsing state."""


def sequence_bounds(lengths: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each sequence in the concatenated observations."""
    ends = np.cumsum(lengths)
    return [(int(end - length), int(end)) for length, end in zip(lengths, ends)]


def check_params(params, n_features: int) -> HMMParams:
    """Validate one parameter set against the data's dimension."""
    means = check_means(params[2], n_features=n_features)
    n_states = means.shape[0]
    startprob = check_startprob(params[0], n_states)
    transmat = check_transmat(params[1], n_states)
    if startprob.ndim != 1 or transmat.ndim != 2:
        raise ValueError("`params` must hold one parameter set: startprob (K,) and transmat (K, K).")
    return HMMParams(startprob, transmat, means, check_covars(params[3], n_states, n_features))


def check_update(update: str) -> str:
    if not isinstance(update, str) or set(update) - set(PARAMETER_LETTERS):
        raise ValueError(
            f"`update` must be a string of the letters {PARAMETER_LETTERS!r} (start, transitions, "
            f"means, covariances); got {update!r}."
        )
    return update


def check_tolerance(tol) -> float:
    """``tol`` >= 0, or -inf for "never stop early" (as hmmlearn allows)."""
    if tol == -np.inf:
        return -np.inf
    return check_nonnegative(tol, "tol")


def check_priors(priors) -> Priors:
    if not isinstance(priors, Priors):
        raise TypeError(f"`priors` must be an hmmcore.Priors; got {type(priors).__name__}.")
    return priors


def em_step(
    X,
    params: HMMParams,
    lengths=None,
    covariance_type: str = "full",
    reg_covar: float = 0.0,
    priors: Priors = Priors(),
    update: str = PARAMETER_LETTERS,
    *,
    validate: bool = True,
):
    """One Baum-Welch iteration from ``params``; returns ``(new params, log P(O | params))``.

    Chapter 8's pseudo-code: Eq. (29), the E-step (Eqs. 16, 17, 21) of each sequence, then the
    M-step, Eqs. (28), (27), (35), (41), with the priors of ``priors`` (flat by default).
    Parameters whose letter is not in ``update`` (hmmlearn's ``params``) are kept as they are.
    Raises :class:`DegenerateStateError` if a new covariance is not positive definite.
    """
    if validate:
        X = check_observations(X)
        lengths = check_lengths(lengths, X.shape[0])
        params = check_params(params, X.shape[1])
        check_covariance_type(covariance_type)
        check_nonnegative(reg_covar, "reg_covar")
        check_priors(priors)
        check_update(update)
    elif lengths is None:
        lengths = [X.shape[0]]
    startprob, transmat, means, covars = params

    # E-step
    log_b = gaussian_log_density(X, means, covars, validate=False)
    posteriors = [
        e_step(startprob, transmat, log_b[start:end], validate=False)
        for start, end in sequence_bounds(lengths)
    ]
    log_likelihood = sum(p.log_likelihood for p in posteriors)
    gamma = posteriors[0].gamma if len(posteriors) == 1 else np.concatenate([p.gamma for p in posteriors])
    xi_sum = sum(p.xi_sum for p in posteriors)

    # M-step
    if "s" in update:
        startprob = update_startprob(gamma, lengths, priors.startprob_prior, startprob, validate=False)
    if "t" in update:
        transmat = update_transmat(xi_sum, transmat, priors.transmat_prior, validate=False)
    if "m" in update:
        means = update_means(X, gamma, means, priors.means_prior, priors.means_weight, validate=False)
    if "c" in update:
        covars = update_covars(
            X, gamma, means, covars, reg_covar,
            covariance_type=covariance_type,
            covars_prior=priors.covars_prior,
            covars_weight=priors.covars_weight,
            means_prior=priors.means_prior,
            means_weight=priors.means_weight,
            validate=False,
        )
        try:
            cholesky_factors(covars)
        except NotPositiveDefiniteError as error:
            raise DegenerateStateError(error.state, log_likelihood=float(log_likelihood)) from None
    return HMMParams(startprob, transmat, means, covars), float(log_likelihood)


def _fit_one(X, params, lengths, n_iter, tol, covariance_type, reg_covar, priors, update, monitor, jitter,
             label=""):
    """EM from one validated starting point: the loop of chapter 8. ``label`` prefixes warnings."""
    history, converged, degenerate, jittered = [], False, None, []
    latest = params
    for iteration in range(1, n_iter + 1):
        params = latest
        try:
            try:
                latest, log_likelihood = em_step(
                    X, params, lengths, covariance_type, reg_covar, priors, update, validate=False
                )
            except DegenerateStateError as error:
                if not jitter > 0:
                    raise
                latest, log_likelihood = em_step(
                    X, params, lengths, covariance_type, reg_covar + jitter, priors, update, validate=False
                )
                jittered.append((error.state, iteration))
        except DegenerateStateError as error:
            history.append(error.log_likelihood)
            degenerate = str(DegenerateStateError(error.state, iteration))
            warnings.warn(label + degenerate, DegenerateStateWarning, stacklevel=3)
            latest = params
            break
        history.append(log_likelihood)
        gain = history[-1] - history[-2] if len(history) >= 2 else np.inf
        decreased = gain < -DECREASE_TOLERANCE * max(1.0, abs(history[-2])) if len(history) >= 2 else False
        if decreased:
            regularised = reg_covar > 0 or priors != Priors()
            cause = (
                "reg_covar or a prior makes the M-step a regularised update, which need not "
                "raise the likelihood"
                if regularised
                else "exact EM never does this, so the model or the data is at fault"
            )
            warnings.warn(
                f"{label}EM decreased the log-likelihood from {history[-2]!r} to {history[-1]!r} "
                f"(iteration {len(history)}): {cause}.",
                LikelihoodDecreaseWarning,
                stacklevel=3,
            )
        converged = gain < tol and not decreased
        if monitor is not None:
            monitor.report(log_likelihood)
            if monitor.converged:
                break
        elif converged:
            break
    if jittered:
        state, iteration = jittered[0]
        warnings.warn(
            f"{label}the covariance of state {state} was singular after the M-step of iteration "
            f"{iteration} ({len(jittered)} iteration(s) in all: a state on too few distinct "
            f"points); those M-steps were redone with reg_covar + {jitter:g}.",
            DegenerateStateWarning,
            stacklevel=3,
        )
    return EMResult(params, history, converged, len(history), degenerate, latest)


def fit_em(
    X,
    params: HMMParams,
    lengths=None,
    n_iter: int = 100,
    tol: float = 1e-4,
    covariance_type: str = "full",
    reg_covar: float = 0.0,
    priors: Priors = Priors(),
    update: str = PARAMETER_LETTERS,
    *,
    n_threads: int | None = None,
    monitors=None,
    singular_jitter: float = 0.0,
    validate: bool = True,
) -> EMResult:
    """Run Baum-Welch from ``params`` until the log-likelihood gain is below ``tol``.

    ``params`` may hold R starting points along a leading axis (restarts): they run in parallel
    in ``n_threads`` threads (default: one per core), with results identical to R separate runs.
    ``tol=-inf`` runs exactly ``n_iter`` iterations.

    ``monitors`` (one per starting point) replaces the stopping rule by hmmlearn's monitor
    protocol: each log-likelihood is passed to ``monitor.report`` and EM stops when
    ``monitor.converged``. With ``singular_jitter`` > 0, an M-step that leaves a covariance
    singular is redone with ``reg_covar + singular_jitter`` (with a warning) instead of ending
    the run.
    """
    if validate:
        X = check_observations(X)
        lengths = check_lengths(lengths, X.shape[0])
        check_covariance_type(covariance_type)
        check_positive_int(n_iter, "n_iter")
        check_tolerance(tol)
        check_nonnegative(reg_covar, "reg_covar")
        check_nonnegative(singular_jitter, "singular_jitter")
        check_priors(priors)
        check_update(update)
    batched = np.ndim(params[0]) == 2
    starts = [HMMParams(*values) for values in zip(*params)] if batched else [params]
    if validate:
        starts = [check_params(start, X.shape[1]) for start in starts]
    monitors = [None] * len(starts) if monitors is None else list(monitors)
    if len(monitors) != len(starts):
        raise ValueError(f"`monitors` must hold one monitor per starting point ({len(starts)}).")
    arguments = (lengths, n_iter, tol, covariance_type, reg_covar, priors, update)

    def run(restart):
        label = f"restart {restart}: " if len(starts) > 1 else ""
        return _fit_one(X, starts[restart], *arguments, monitors[restart], singular_jitter, label)

    if len(starts) == 1:
        results = [run(0)]
    else:
        workers = min(len(starts), n_threads or os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, range(len(starts))))
    if not batched:
        return results[0]

    def stacked(name):
        return HMMParams(*(np.stack(values) for values in zip(*(getattr(r, name) for r in results))))

    return EMResult(
        stacked("params"),
        [r.log_likelihoods for r in results],
        np.array([r.converged for r in results]),
        np.array([r.n_iter for r in results]),
        [r.degenerate for r in results],
        stacked("next_params"),
    )


def initial_params(X, n_components: int, rng, covariance_type: str = "full") -> HMMParams:
    """A random starting point for EM.

    Means: k-means++ centres (SciPy) seeded from ``rng``; covariances: the covariance of all the
    data for every state (its diagonal for ``"diag"``, its mean variance for ``"spherical"``),
    plus 1e-3 of the mean variance; start probabilities uniform; each row of A drawn from a
    Dirichlet distribution leaning towards staying in the same state.
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
    elif covariance_type == "spherical":
        spread = np.mean(np.diag(spread)) * np.eye(n_features)
    mean_variance = max(float(np.trace(spread)) / n_features, np.finfo(float).tiny)
    covars = np.repeat((spread + 1e-3 * mean_variance * np.eye(n_features))[None], n_components, axis=0)
    transmat = rng.dirichlet(np.ones(n_components), size=n_components) + n_components * np.eye(n_components)
    transmat /= transmat.sum(axis=1, keepdims=True)
    return HMMParams(np.full(n_components, 1.0 / n_components), transmat, centres, covars)
