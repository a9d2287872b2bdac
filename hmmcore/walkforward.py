"""Walk-forward forecasting: refits that only ever use the past, labels that stay the same
across refits, and the one-step forecasts of every day after the first refit (chapter 13).

**Schedule.** The refit days tau_0 < tau_1 < ... are indices into X. At tau_b the model is
refitted on ``X[:tau_b]`` (an expanding window) and then used, unchanged, for the days
tau_b .. tau_{b+1} - 1 (the last block runs to the end of X). The forecast of day s is made
on the evening of day s - 1: the predictive mixture of O_s given O_1..O_{s-1} under the
refit's parameters (:func:`hmmcore.forecast_mixture`, one step ahead).

**Refits.** EM from the previous refit's parameters (a warm start). Every ``check_every``-th
refit is also a restart check: ``n_fresh`` fresh starts (:func:`hmmcore.initial_params`,
drawn from ``numpy.random.default_rng([seed, b])``, so never from the data) run in parallel
threads, and the best of them replaces the warm run if its log-likelihood on ``X[:tau_b]``
is higher by more than ``beat_margin``. The first fit is the best of ``n_initial`` fresh starts.

**Labels.** EM keeps the labels of its start, but a fresh start may list the regimes in
another order; after every refit the states are matched to the previous refit's by
:func:`hmmcore.align_states` (the Bhattacharyya distance between the states' Gaussians,
an optimal assignment), so that label k follows the same regime from refit to refit.

**No look-ahead.** Refit b reads ``X[:tau_b]`` and nothing else (its starts depend on b and
``seed`` only); the forecasts of block b read ``X[:end - 1]``, the days before the last day
they forecast, through the causal forward pass. So nothing decided at or before day t
changes when the observations after day t change (``tests/test_walkforward.py`` checks it
bit for bit).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .em import DegenerateStateWarning, fit_em, fit_em_restarts
from .evaluation import score
from .forecast import forecast_mixture
from .initialization import initial_params
from .labels import align_states, bhattacharyya_distance, permute_states
from .monitor import is_decrease
from .params import EMOptions, HMMParams
from .validation import check_dates, check_walk_forward_inputs


class Refit(NamedTuple):
    """One refit of a walk-forward run: what was fitted, what was kept, and why."""

    start: int
    """tau_b: fitted on ``X[:start]``; its forecasts are of the days ``start .. end - 1``."""
    end: int
    """One past the last day of the block."""
    params: HMMParams
    """The kept fit, relabelled to follow the previous refit's labels."""
    log_likelihood: float
    """log P(X[:start] | params)."""
    order: np.ndarray
    """The relabelling: ``params`` is ``permute_states(fit, order)`` of the fit as EM returned
    it (not the identity: without alignment, the labels would have switched here)."""
    n_iter: int
    """EM iterations of the kept run."""
    converged: bool
    """Whether the kept run's last gain was below ``tol`` (and not a fall)."""
    decreased: bool
    """Whether the kept run stopped because its log-likelihood fell (possible with
    ``reg_covar`` or priors, whose M-step is a penalised update)."""
    warm_log_likelihood: float
    """log P(X[:start]) of the warm run (NaN at the first fit, or if it collapsed)."""
    fresh_log_likelihood: float
    """Of the best fresh start (NaN when none ran, or all collapsed)."""
    fresh_won: bool
    """A fresh start was kept (always at the first fit)."""
    fresh_order: np.ndarray | None
    """At a restart check after the first fit: the relabelling that matches the best fresh
    start to the previous refit; not the identity when a refit from scratch would have
    listed the regimes in another order. None otherwise."""
    matched_distance: np.ndarray
    """(K,) the Bhattacharyya distance of each state to the previous refit's state with the
    same label (0 at the first fit)."""
    n_collapsed: int
    """Runs of this refit that ended on a collapsing state."""


class WalkForward(NamedTuple):
    """The outcome of :func:`walk_forward`."""

    refits: list
    """One :class:`Refit` per block, in time order."""
    mixtures: list
    """One :class:`hmmcore.PredictiveMixture` per block: row i is the one-step forecast of
    day ``refits[b].start + i``, made from the days before it with ``refits[b].params``."""


def period_starts(dates, freq: str = "M", first=None) -> np.ndarray:
    """The first day of each calendar period of ``dates``, as indices: refit days on a
    calendar schedule (the first trading day of each month, quarter, ...).

    Parameters
    ----------
    dates : pandas.DatetimeIndex or array_like of dates
        The observations' dates, strictly increasing.
    freq : str
        A pandas period: "M" (month), "Q" (quarter), "Y" (year), "W" (week).
    first : date-like, optional
        Only periods whose first day is on or after it (None: every period but the first,
        which has no past to fit on).

    Returns
    -------
    ndarray of int

    Raises
    ------
    ValueError
        If the dates are not strictly increasing, or ``freq`` is not a pandas period.

    Examples
    --------
    Weekdays from Monday 29 January 2024: three in January, 21 in February.

    >>> import pandas as pd
    >>> days = pd.bdate_range("2024-01-29", "2024-03-05")
    >>> starts = period_starts(days, "M")
    >>> starts.tolist(), [str(days[i].date()) for i in starts]
    ([3, 24], ['2024-02-01', '2024-03-01'])
    """
    import pandas as pd

    dates = check_dates(dates)
    try:
        periods = dates.to_period(freq)
    except (ValueError, TypeError):
        raise ValueError(f"`freq` must be a pandas period such as 'M', 'Q', 'Y' or 'W'; got {freq!r}.") from None
    starts = np.flatnonzero(np.r_[True, periods[1:] != periods[:-1]])
    if first is None:
        return starts[1:]
    return starts[dates[starts] >= pd.Timestamp(first)]


def _candidates(results, X):
    """(log-likelihood on X, result) of each run; -inf for a collapsed run."""
    return [(-np.inf if result.collapse is not None else score(X, result.params, validate=False), result)
            for result in results]


def _fresh_starts(X, n_components, covariance_type, rng, n_starts):
    return [initial_params(X, n_components, rng, covariance_type, validate=False) for _ in range(n_starts)]


def walk_forward(X, refit_days, n_components: int, *, options: EMOptions = EMOptions(),
                 n_iter: int = 100, tol: float = 1e-4, n_initial: int = 10, n_iter_initial: int = 200,
                 check_every: int = 6, n_fresh: int = 2, n_iter_fresh: int = 50,
                 beat_margin: float = 1e-2, seed: int = 0, validate: bool = True) -> WalkForward:
    """Refit a K-state Gaussian HMM on an expanding window at each refit day, warm-started,
    with restart checks and aligned labels, and forecast every later day one step ahead from
    the days before it (the module's docstring has the rules).

    Parameters
    ----------
    X : array_like, shape (T, D)
        One sequence of observations, in time order.
    refit_days : array_like of int
        Increasing indices tau_0 < tau_1 < ... < T; the first at least ``n_components``.
    n_components : int
        The number of states K.
    options : EMOptions
        The M-step's covariance type, ``reg_covar`` (a floor that keeps refits on short
        windows from collapsing), priors.
    n_iter, tol : int, float
        The warm-started EM run of each refit: at most ``n_iter`` iterations, stopped when
        the gain falls below ``tol``.
    n_initial, n_iter_initial : int
        The first fit: the best of ``n_initial`` fresh starts of ``n_iter_initial`` iterations.
    check_every : int
        A restart check at refits ``check_every``, ``2 check_every``, ...; 0: never.
    n_fresh, n_iter_fresh : int
        The fresh starts of a restart check and their iterations.
    beat_margin : float
        How much higher (nats) a fresh start's log-likelihood must be to replace the warm run.
    seed : int
        Seeds the fresh starts: refit b draws them from ``default_rng([seed, b])``.

    Returns
    -------
    WalkForward
        The refits (:class:`Refit`) and each block's one-step predictive mixtures.

    Raises
    ------
    ValueError
        For bad input (named), or if every run of the first fit collapsed. A later refit whose
        runs all collapse keeps the previous parameters, with a ``DegenerateStateWarning``.

    Examples
    --------
    Refit every 100 days from day 200: three refits, and a forecast for each of the last
    300 days. The log density of day s's forecast at O_s is, for the refit in force, the
    forward pass's log c_s (the chain rule):

    >>> from hmmcore import filtered, mixture_log_density, simulate_regimes
    >>> X = simulate_regimes(500, rng=0).X
    >>> run = walk_forward(X, [200, 300, 400], 2, n_initial=2, check_every=0)
    >>> [(refit.start, refit.end) for refit in run.refits]
    [(200, 300), (300, 400), (400, 500)]
    >>> refit, mixture = run.refits[1], run.mixtures[1]
    >>> scores = mixture_log_density(mixture, X[300:400])
    >>> log_scale = filtered(X[:400], refit.params).log_scale
    >>> bool(np.allclose(scores, log_scale[300:], rtol=1e-12))
    True
    """
    if validate:
        X, refit_days, n_components, options, settings = check_walk_forward_inputs(
            X, refit_days, n_components, options, n_iter=n_iter, tol=tol, n_initial=n_initial,
            n_iter_initial=n_iter_initial, check_every=check_every, n_fresh=n_fresh,
            n_iter_fresh=n_iter_fresh, beat_margin=beat_margin, seed=seed)
        n_iter, tol, n_initial, n_iter_initial, check_every, n_fresh, n_iter_fresh, beat_margin, seed = settings
    ends = list(refit_days[1:]) + [X.shape[0]]
    refits, mixtures, previous = [], [], None
    for b, (start, end) in enumerate(zip(refit_days, ends)):
        past = X[:start]
        rng = np.random.default_rng([seed, b])
        warm, fresh = [], []
        if previous is not None:
            warm = _candidates([fit_em(past, previous, None, options, n_iter=n_iter, tol=tol, validate=False)],
                               past)
        check = previous is None or (check_every > 0 and b % check_every == 0) or warm[0][0] == -np.inf
        if check:
            n_starts, iterations = (n_initial, n_iter_initial) if previous is None else (n_fresh, n_iter_fresh)
            starts = _fresh_starts(past, n_components, options.covariance_type, rng, n_starts)
            fresh = _candidates(fit_em_restarts(past, starts, None, options, n_iter=iterations, tol=tol,
                                                validate=False), past)
        best_fresh = max(fresh, key=lambda candidate: candidate[0]) if fresh else (-np.inf, None)
        warm_ll = warm[0][0] if warm else -np.inf
        n_collapsed = sum(candidate[0] == -np.inf for candidate in warm + fresh)
        if max(warm_ll, best_fresh[0]) == -np.inf:
            if previous is None:
                raise ValueError(
                    f"every one of the {n_initial} runs of the first fit (on days 0..{start - 1}) "
                    "collapsed onto a state with a singular covariance: set `options.reg_covar` > 0.")
            warnings.warn(
                f"refit {b} (on days 0..{start - 1}): every run collapsed onto a state with a "
                "singular covariance; the previous refit's parameters stay in force. Set "
                "`options.reg_covar` > 0.", DegenerateStateWarning, stacklevel=2)
            kept_ll, kept, fresh_won = score(past, previous, validate=False), None, False
        else:
            fresh_won = previous is None or best_fresh[0] > warm_ll + beat_margin
            kept_ll, kept = best_fresh if fresh_won else warm[0]
        if kept is None:
            params, order, n_run, converged, decreased = previous, np.arange(n_components), 0, False, False
        else:
            n_run, converged = kept.n_iter, kept.converged
            history = kept.log_likelihoods
            decreased = len(history) >= 2 and is_decrease(history[-2], history[-1])
            order = np.arange(n_components) if previous is None else align_states(kept.params, previous)
            params = permute_states(kept.params, order)
        fresh_order = None
        if previous is not None and best_fresh[1] is not None and best_fresh[0] > -np.inf:
            fresh_order = align_states(best_fresh[1].params, previous)
        distance = np.zeros(n_components) if previous is None else np.array([
            bhattacharyya_distance(previous.means[k], previous.covars[k], params.means[k], params.covars[k])
            for k in range(n_components)])
        refits.append(Refit(
            int(start), int(end), params, float(kept_ll), order, int(n_run), bool(converged), bool(decreased),
            float(warm_ll) if warm and warm_ll > -np.inf else np.nan,
            float(best_fresh[0]) if best_fresh[0] > -np.inf else np.nan,
            bool(fresh_won), fresh_order, distance, int(n_collapsed)))
        # the forecasts of days start..end-1 are rows start-1..end-2 of the filter on X[:end-1]
        mixture = forecast_mixture(X[: end - 1], params, validate=False)
        mixtures.append(mixture._replace(weights=mixture.weights[start - 1:]))
        previous = params
    return WalkForward(refits, mixtures)
