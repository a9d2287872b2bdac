"""The EM loop (Baum-Welch): chapter 8's pseudo-code, and restarts run in parallel.

One iteration is an E-step, :func:`hmmcore.posteriors` (the log-densities of Eq. 29, then the
forward-backward recursions of every sequence: the log-likelihood, gamma and the summed xi),
followed by an M-step, :func:`m_step` (the derivation's updates (28), (27), (35) and (41), each its
own function).
:func:`em_step` is their composition. :func:`fit_em` repeats them from one start until its
:class:`ConvergenceMonitor` says stop; :func:`fit_em_restarts` runs several starts in parallel
threads.

A covariance that stops being positive definite, or whose factor falls below what rounding can
resolve (a state collapsing onto a few points: the likelihood is unbounded), raises
:class:`DegenerateStateError` in the M-step, naming the state;
:func:`fit_em` ends that run with a :class:`DegenerateStateWarning` and returns its last valid
parameters.

**Missing values** (chapter 14). The same loop runs on observations with NaN: the E-step's
densities are those of the observed coordinates, and the M-step's means and covariances come
from the conditional moments of the missing coordinates at the E-step's parameters. The
patterns of missing values are found once, when the inputs are checked. With no value missing
every function computes exactly what it computed before (the same numbers, bit for bit). A
state that has weight but never sees a feature observed raises
:class:`~hmmcore.UnobservedFeatureError` in the M-step; :func:`fit_em` ends that run as it ends
a collapse.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from numba import njit

from .emissions import NotPositiveDefiniteError, cholesky_factors, conditional_moments
from .evaluation import posteriors
from .inference import EStepBuffers, Posteriors
from .monitor import ConvergenceMonitor, is_decrease
from .mstep import (
    EMPTY_STATE_OCCUPANCY,
    occupancy,
    pattern_occupancy,
    update_covars,
    update_means,
    update_startprob,
    update_transmat,
)
from .params import EMOptions, EMResult, HMMParams
from .validation import (
    UnobservedFeatureError,
    check_em_inputs,
    check_monitors,
    check_n_iter,
    check_nonnegative,
    check_observed_weight,
    check_params,
    check_positive_int,
    check_tol,
)


class DegenerateStateWarning(RuntimeWarning):
    """A state's covariance collapsed during EM."""


class DegenerateStateError(ValueError):
    """An M-step produced a covariance that is not positive definite.

    Attributes
    ----------
    state : int
        The collapsing state.
    iteration : int or None
        The EM iteration whose M-step failed (set by :func:`fit_em`).
    """

    def __init__(self, state: int, iteration: int | None = None):
        when = f" at iteration {iteration}" if iteration is not None else ""
        super().__init__(
            f"the covariance of state {state} collapsed{when}: the M-step made it singular "
            "(the state sits on too few distinct points, and the likelihood grows without "
            "bound there). Use a covariance prior (`covars_prior` > 0) or `reg_covar` > 0, "
            "or more restarts."
        )
        self.state = state
        self.iteration = iteration

    def at_iteration(self, iteration: int) -> "DegenerateStateError":
        """The same error, saying at which EM iteration it happened."""
        return DegenerateStateError(self.state, iteration)


class MStep(NamedTuple):
    """The outcome of an M-step."""

    params: HMMParams
    """The new parameters."""
    cholesky: np.ndarray
    """(K, D, D) lower Cholesky factors of ``params.covars``: computing them is the check
    that every covariance is positive definite, and the next E-step's densities reuse them."""


class EMStep(NamedTuple):
    """The outcome of one EM iteration."""

    params: HMMParams
    """The parameters after the M-step."""
    log_likelihood: float
    """log P(O | lambda) at the parameters the iteration started from."""


def m_step(X, stats: Posteriors, params: HMMParams, lengths=None, options: EMOptions = EMOptions(),
           *, patterns=None, validate: bool = True) -> MStep:
    """The M-step, :eq:`alg-mstep`: the updates :eq:`seed-28`, :eq:`seed-27`, :eq:`seed-35` and
    :eq:`seed-41` from the E-step's ``stats``, with the priors and
    options of ``options``; parameters not named in ``options.update`` are kept. With missing
    values, the means and covariances maximise the Q-function with the missing coordinates
    integrated out (:eq:`missing-means-update`, :eq:`missing-covars-update`).

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing.
    stats : Posteriors
        The E-step at ``params``: :func:`hmmcore.posteriors` (joined over the sequences).
    params : HMMParams
        The current parameters (kept for an empty state, and for those not updated; with
        missing values, the conditional moments are taken under them).
    lengths : list of int, optional
    options : EMOptions
    patterns : MissingPatterns, optional
        The missingness patterns of ``X``, if already found (with ``validate=False``, None
        means that no value is missing).

    Returns
    -------
    MStep
        The new parameters and the Cholesky factors of their covariances.

    Raises
    ------
    DegenerateStateError
        If a new covariance is not positive definite (naming the state).
    UnobservedFeatureError
        If a state with weight never sees some feature observed (naming both).

    Examples
    --------
    Two states ten standard deviations apart: gamma is 0 or 1 to many digits, so the new means
    are the averages of each state's days.

    >>> from hmmcore import HMMParams, posteriors
    >>> X = np.array([[-5.1], [-4.9], [5.0], [5.2]])
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
    ...                    np.array([[-5.0], [5.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> m_step(X, posteriors(X, params), params).params.means.round(6)
    array([[-5. ],
           [ 5.1]])
    """
    if validate:
        X, lengths, params, options, patterns = check_em_inputs(X, lengths, params, options, patterns=patterns)
    startprob, transmat, means, covars = params
    priors, gamma = options.priors, stats.gamma
    moments = occupancies = None
    if "m" in options.update or "c" in options.update:
        occupancies = occupancy(gamma)
    if patterns is not None and occupancies is not None:
        check_observed_weight(occupancies, pattern_occupancy(gamma, patterns), patterns.observed,
                              EMPTY_STATE_OCCUPANCY)
        moments = conditional_moments(X, means, covars, patterns=patterns, validate=False)
    if "s" in options.update:
        startprob = update_startprob(gamma, lengths, priors.startprob_prior, startprob, validate=False)
    if "t" in options.update:
        transmat = update_transmat(stats.xi_sum, transmat, priors.transmat_prior, validate=False)
    if "m" in options.update:
        means = update_means(X, gamma, means, priors.means_prior, priors.means_weight, moments=moments,
                             occupancies=occupancies, validate=False)
    if "c" in options.update:
        covars = update_covars(
            X, gamma, means, covars, options.reg_covar,
            covariance_type=options.covariance_type,
            covars_prior=priors.covars_prior,
            covars_weight=priors.covars_weight,
            means_prior=priors.means_prior,
            means_weight=priors.means_weight,
            moments=moments,
            occupancies=occupancies,
            validate=False,
        )
    try:
        cholesky = cholesky_factors(covars)
    except NotPositiveDefiniteError as error:
        raise DegenerateStateError(error.state) from None
    collapsed = _first_below_resolution(cholesky, means, covars, X.shape[0])
    if collapsed >= 0:
        raise DegenerateStateError(collapsed)
    return MStep(HMMParams(startprob, transmat, means, covars), cholesky)


@njit(cache=True)
def _first_below_resolution(cholesky, means, covars, n_steps: int) -> int:
    r"""The first state whose covariance is singular up to rounding, or -1.

    A state that collapses onto points with equal values of feature d has a conditional
    standard deviation :math:`L_{k,dd}` of zero; computed, it is the rounding error of its mean,
    :math:`\hat\mu_{kd}` summed over T steps, up to :math:`T\,\epsilon\,|\mu_{kd}|`. So
    :math:`L_{k,dd} \le T\,\epsilon\,\sqrt{\mu_{kd}^2 + \Sigma_{k,dd}}` (the feature's root mean
    square in the state) counts as zero: the Cholesky factorisation alone passes such a state
    whenever the rounding leaves its variance positive (a series constant at 0.1, say).
    Compiled, and holding the GIL (it takes a microsecond): a check of K D numbers is not worth
    the Python calls it would take on arrays."""
    n_states, n_features = means.shape
    rounding = n_steps * np.finfo(np.float64).eps
    for k in range(n_states):
        for d in range(n_features):
            if cholesky[k, d, d] <= rounding * np.sqrt(means[k, d] ** 2 + covars[k, d, d]):
                return k
    return -1


def em_step(X, params: HMMParams, lengths=None, options: EMOptions = EMOptions(),
            *, patterns=None, validate: bool = True) -> EMStep:
    """One Baum-Welch iteration from ``params``: the E-step :eq:`alg-estep`, then the M-step
    :eq:`alg-mstep`. ``X`` may have missing values (NaN; ``patterns`` as in :func:`m_step`).

    Returns
    -------
    EMStep
        ``(new parameters, log P(O | params))``.

    Examples
    --------
    The log-likelihood is that of the starting parameters (the forward pass alone gives it),
    and EM never lowers it.

    >>> from hmmcore import HMMParams, score
    >>> X = np.array([[-1.1], [-0.9], [1.0], [1.2]])
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
    ...                    np.array([[-1.0], [1.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> new, log_likelihood = em_step(X, params)
    >>> bool(np.isclose(log_likelihood, score(X, params)))
    True
    >>> score(X, new) >= log_likelihood
    True
    """
    if validate:
        X, lengths, params, options, patterns = check_em_inputs(X, lengths, params, options, patterns=patterns)
    stats = posteriors(X, params, lengths, patterns=patterns, validate=False)
    return EMStep(m_step(X, stats, params, lengths, options, patterns=patterns, validate=False).params,
                  stats.log_likelihood)


def _m_step_or_jitter(X, stats, params, lengths, options, jitter, patterns):
    """The M-step; if it leaves a covariance singular and ``jitter`` > 0, the M-step again with
    ``reg_covar + jitter``. Returns the M-step and the state that needed the jitter (or None)."""
    try:
        return m_step(X, stats, params, lengths, options, patterns=patterns, validate=False), None
    except DegenerateStateError as error:
        if not jitter > 0:
            raise
        state = error.state
    return m_step(X, stats, params, lengths, options._replace(reg_covar=options.reg_covar + jitter),
                  patterns=patterns, validate=False), state


def fit_em(X, params: HMMParams, lengths=None, options: EMOptions = EMOptions(), *,
           n_iter: int = 100, tol: float = 1e-4, monitor=None, singular_jitter: float = 0.0,
           patterns=None, validate: bool = True) -> EMResult:
    """Baum-Welch from one starting point, until ``monitor`` says stop.

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing (chapter 14).
    params : HMMParams
        The starting point.
    lengths : list of int, optional
    options : EMOptions
        The M-step's covariance type, ridge, priors and updated parameters.
    n_iter : int
        At most this many E-steps (0: none).
    tol : float
        Stop when the gain in log-likelihood falls below ``tol`` (a fall is such a gain, and is
        also warned about); ``-inf`` runs exactly ``n_iter`` iterations.
    monitor : ConvergenceMonitor, optional
        hmmlearn's protocol (``report``, ``converged``): replaces the default
        ``ConvergenceMonitor(tol, n_iter, verbose=False)``.
    singular_jitter : float
        If > 0, an M-step that leaves a covariance singular is redone with ``reg_covar +
        singular_jitter`` (with a warning) instead of ending the run.
    patterns : MissingPatterns, optional
        The missingness patterns of ``X``, if already found (with ``validate=False``, None
        means that no value is missing).

    Returns
    -------
    EMResult
        A run that ends on a collapsing state, or on a state that never sees a feature
        observed, holds that error in ``collapse``.

    Examples
    --------
    >>> from hmmcore import initial_params, simulate_regimes
    >>> X = simulate_regimes(500, rng=0).X
    >>> start = initial_params(X, 3, random_state=0)
    >>> result = fit_em(X, start, n_iter=500, tol=1e-4)
    >>> result.converged, len(result.log_likelihoods) == result.n_iter
    (True, True)
    """
    if validate:
        X, lengths, params, options, patterns = check_em_inputs(X, lengths, params, options, patterns=patterns)
        n_iter, tol = check_n_iter(n_iter), check_tol(tol)
        check_nonnegative(singular_jitter, "singular_jitter")
    if patterns is None:  # by column, as the M-step's sums over t read it (gaps: read by row)
        X = np.asfortranarray(X)
    monitor = ConvergenceMonitor(tol, n_iter, False) if monitor is None else monitor
    monitor._reset()
    history, collapse, jittered = [], None, []
    cholesky, scored = cholesky_factors(params.covars), params
    buffers = EStepBuffers.empty(X.shape[0], params.startprob.shape[0], log_b=True)
    for iteration in range(1, n_iter + 1):
        stats = posteriors(X, params, lengths, cholesky=cholesky, patterns=patterns, buffers=buffers, validate=False)
        history.append(stats.log_likelihood)
        monitor.report(stats.log_likelihood)
        scored = params
        try:
            (params, cholesky), jittered_state = _m_step_or_jitter(X, stats, params, lengths, options,
                                                                   singular_jitter, patterns)
        except (DegenerateStateError, UnobservedFeatureError) as error:
            collapse = error.at_iteration(iteration)
            warnings.warn(getattr(monitor, "name", "") + str(collapse), DegenerateStateWarning, stacklevel=2)
            break
        if jittered_state is not None:
            jittered.append((jittered_state, iteration))
        if monitor.converged:
            break
    if jittered:
        _warn_jittered(jittered, singular_jitter, getattr(monitor, "name", ""))
    converged = len(history) >= 2 and history[-1] - history[-2] < tol and not is_decrease(*history[-2:])
    return EMResult(params, history, bool(converged and collapse is None), len(history), collapse, scored)


def _warn_jittered(jittered, jitter, name):
    state, iteration = jittered[0]
    warnings.warn(
        f"{name}the covariance of state {state} was singular after the M-step of iteration "
        f"{iteration} ({len(jittered)} iteration(s) in all: a state on too few distinct "
        f"points); those M-steps were redone with reg_covar + {jitter:g}.",
        DegenerateStateWarning,
        stacklevel=3,
    )


def fit_em_restarts(X, starts, lengths=None, options: EMOptions = EMOptions(), *,
                    n_iter: int = 100, tol: float = 1e-4, monitors=None, singular_jitter: float = 0.0,
                    n_threads: int | None = None, patterns=None, validate: bool = True) -> list[EMResult]:
    """:func:`fit_em` from each of several starting points, in parallel threads.

    The compiled loops release the GIL, so the threads run at the same time; each run is
    computed exactly as it would be alone, so the results are bit-identical to separate
    :func:`fit_em` calls, for any number of threads.

    Parameters
    ----------
    starts : list of HMMParams
    monitors : list of ConvergenceMonitor, optional
        One per start (default: a new monitor each, named "restart r: " in warnings).
    n_threads : int, optional
        Default: one per core.
    Other parameters as :func:`fit_em` (``X`` may have missing values, NaN).

    Returns
    -------
    list of EMResult
        One per start, in order.

    Examples
    --------
    >>> from hmmcore import initial_params, simulate_regimes
    >>> X = simulate_regimes(500, rng=0).X
    >>> rng = np.random.RandomState(0)
    >>> results = fit_em_restarts(X, [initial_params(X, 3, rng) for _ in range(4)])
    >>> len(results)
    4
    """
    if validate:
        # the data (and their missing values) checked once, then each start against them
        X, lengths, _, options, patterns = check_em_inputs(X, lengths, starts[0], options, "starts[0]", patterns)
        starts = [check_params(start, X.shape[1], f"starts[{r}]") for r, start in enumerate(starts)]
        for r, start in enumerate(starts):
            if len(start.startprob) != len(starts[0].startprob):
                raise ValueError(f"`starts[{r}]` has {len(start.startprob)} states and `starts[0]` "
                                 f"{len(starts[0].startprob)}: restarts are starts of one model.")
        n_iter, tol = check_n_iter(n_iter), check_tol(tol)
        check_nonnegative(singular_jitter, "singular_jitter")
        if n_threads is not None:
            check_positive_int(n_threads, "n_threads")
    if monitors is None:
        monitors = [ConvergenceMonitor(tol, n_iter, False, name=f"restart {r}: ") for r in range(len(starts))]
    elif validate:
        monitors = check_monitors(monitors, len(starts))

    def run(restart):
        return fit_em(X, starts[restart], lengths, options, n_iter=n_iter, tol=tol, monitor=monitors[restart],
                      singular_jitter=singular_jitter, patterns=patterns, validate=False)

    workers = min(len(starts), n_threads or os.cpu_count() or 1)
    if workers == 1:
        return [run(restart) for restart in range(len(starts))]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(len(starts))))
