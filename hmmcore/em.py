"""The EM loop (Baum-Welch): chapter 8's pseudo-code, and restarts run in parallel.

One iteration is an E-step, :func:`hmmcore.posteriors` (the log-densities of Eq. 29, then the
forward-backward recursions of every sequence: the log-likelihood, gamma and the summed xi),
followed by an M-step, :func:`m_step` (the derivation's updates (28), (27), (35) and (41), each its
own function).
:func:`em_step` is their composition. :func:`fit_em` repeats them from one start until its
:class:`ConvergenceMonitor` says stop; :func:`fit_em_restarts` runs several starts in parallel
threads.

A covariance that stops being positive definite (a state collapsing onto a few points: the
likelihood is unbounded) raises :class:`DegenerateStateError` in the M-step, naming the state;
:func:`fit_em` ends that run with a :class:`DegenerateStateWarning` and returns its last valid
parameters.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from .emissions import NotPositiveDefiniteError, cholesky_factors
from .evaluation import posteriors
from .inference import Posteriors
from .monitor import ConvergenceMonitor, is_decrease
from .mstep import update_covars, update_means, update_startprob, update_transmat
from .params import EMOptions, EMResult, HMMParams
from .validation import (
    check_em_inputs,
    check_monitors,
    check_n_iter,
    check_nonnegative,
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
           *, validate: bool = True) -> MStep:
    """The M-step, :eq:`alg-mstep`: the updates :eq:`seed-28`, :eq:`seed-27`, :eq:`seed-35` and
    :eq:`seed-41` from the E-step's ``stats``, with the priors and
    options of ``options``; parameters not named in ``options.update`` are kept.

    Parameters
    ----------
    X : array_like, shape (T, D)
    stats : Posteriors
        The E-step at ``params``: :func:`hmmcore.posteriors` (joined over the sequences).
    params : HMMParams
        The current parameters (kept for an empty state, and for those not updated).
    lengths : list of int, optional
    options : EMOptions

    Returns
    -------
    MStep
        The new parameters and the Cholesky factors of their covariances.

    Raises
    ------
    DegenerateStateError
        If a new covariance is not positive definite (naming the state).

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
        X, lengths, params, options = check_em_inputs(X, lengths, params, options)
    startprob, transmat, means, covars = params
    priors, gamma = options.priors, stats.gamma
    if "s" in options.update:
        startprob = update_startprob(gamma, lengths, priors.startprob_prior, startprob, validate=False)
    if "t" in options.update:
        transmat = update_transmat(stats.xi_sum, transmat, priors.transmat_prior, validate=False)
    if "m" in options.update:
        means = update_means(X, gamma, means, priors.means_prior, priors.means_weight, validate=False)
    if "c" in options.update:
        covars = update_covars(
            X, gamma, means, covars, options.reg_covar,
            covariance_type=options.covariance_type,
            covars_prior=priors.covars_prior,
            covars_weight=priors.covars_weight,
            means_prior=priors.means_prior,
            means_weight=priors.means_weight,
            validate=False,
        )
    try:
        cholesky = cholesky_factors(covars)
    except NotPositiveDefiniteError as error:
        raise DegenerateStateError(error.state) from None
    return MStep(HMMParams(startprob, transmat, means, covars), cholesky)


def em_step(X, params: HMMParams, lengths=None, options: EMOptions = EMOptions(),
            *, validate: bool = True) -> EMStep:
    """One Baum-Welch iteration from ``params``: the E-step :eq:`alg-estep`, then the M-step
    :eq:`alg-mstep`.

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
        X, lengths, params, options = check_em_inputs(X, lengths, params, options)
    stats = posteriors(X, params, lengths, validate=False)
    return EMStep(m_step(X, stats, params, lengths, options, validate=False).params, stats.log_likelihood)


def _m_step_or_jitter(X, stats, params, lengths, options, jitter):
    """The M-step; if it leaves a covariance singular and ``jitter`` > 0, the M-step again with
    ``reg_covar + jitter``. Returns the M-step and the state that needed the jitter (or None)."""
    try:
        return m_step(X, stats, params, lengths, options, validate=False), None
    except DegenerateStateError as error:
        if not jitter > 0:
            raise
        state = error.state
    return m_step(X, stats, params, lengths, options._replace(reg_covar=options.reg_covar + jitter),
                  validate=False), state


def fit_em(X, params: HMMParams, lengths=None, options: EMOptions = EMOptions(), *,
           n_iter: int = 100, tol: float = 1e-4, monitor=None, singular_jitter: float = 0.0,
           validate: bool = True) -> EMResult:
    """Baum-Welch from one starting point, until ``monitor`` says stop.

    Parameters
    ----------
    X : array_like, shape (T, D)
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

    Returns
    -------
    EMResult

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
        X, lengths, params, options = check_em_inputs(X, lengths, params, options)
        n_iter, tol = check_n_iter(n_iter), check_tol(tol)
        check_nonnegative(singular_jitter, "singular_jitter")
    monitor = ConvergenceMonitor(tol, n_iter, False) if monitor is None else monitor
    monitor._reset()
    history, collapse, jittered = [], None, []
    cholesky, scored = cholesky_factors(params.covars), params
    for iteration in range(1, n_iter + 1):
        stats = posteriors(X, params, lengths, cholesky=cholesky, validate=False)
        history.append(stats.log_likelihood)
        monitor.report(stats.log_likelihood)
        scored = params
        try:
            (params, cholesky), jittered_state = _m_step_or_jitter(X, stats, params, lengths, options, singular_jitter)
        except DegenerateStateError as error:
            collapse = DegenerateStateError(error.state, iteration)
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
                    n_threads: int | None = None, validate: bool = True) -> list[EMResult]:
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
    Other parameters as :func:`fit_em`.

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
        checked = [check_em_inputs(X, lengths, start, options, f"starts[{r}]") for r, start in enumerate(starts)]
        X, lengths, options = checked[0][0], checked[0][1], checked[0][3]
        starts = [params for _, _, params, _ in checked]
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
                      singular_jitter=singular_jitter, validate=False)

    workers = min(len(starts), n_threads or os.cpu_count() or 1)
    if workers == 1:
        return [run(restart) for restart in range(len(starts))]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(len(starts))))
