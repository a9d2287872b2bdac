"""The parametric bootstrap of a fitted Gaussian HMM (chapter 12): the second route to the
uncertainty of the estimates, next to the observed information.

Simulate B series of the data's length from the fitted parameters, refit each by EM from
several starts (the fitted parameters themselves and random draws), relabel each refit's
states to match the fit's (:func:`hmmcore.align_states`), and take the spread of the
refitted natural parameters.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .coordinates import coordinate_layout, natural_parameters
from .em import DegenerateStateWarning, fit_em_restarts
from .initialization import initial_params
from .labels import align_states, permute_states
from .params import EMOptions, HMMParams
from .sampling import sample
from .validation import (
    check_covariance_type,
    check_level,
    check_n_iter,
    check_options,
    check_params_of_type,
    check_positive_int,
    check_random_state,
    check_tol,
)


class BootstrapResult(NamedTuple):
    """The refitted natural parameters of every replication."""

    names: tuple
    """The natural parameters, in the order of :func:`hmmcore.standard_errors` with
    ``start="fixed"`` (every A_ij, the means, the covariance entries)."""
    replicates: np.ndarray
    """(B, N) the refitted values, states aligned with the fitted model."""
    log_likelihoods: np.ndarray
    """(B,) the log-likelihood of each refit."""
    n_collapsed: int
    """Replications whose every start collapsed (a singular covariance), left out."""

    @property
    def standard_errors(self) -> np.ndarray:
        """(N,) the standard deviation over the replications."""
        return self.replicates.std(axis=0, ddof=1)

    def percentile_interval(self, level: float = 0.95):
        """``(lower, upper)``: the (1 -+ level) / 2 quantiles of the replications."""
        tail = (1 - check_level(level)) / 2
        return np.quantile(self.replicates, tail, axis=0), np.quantile(self.replicates, 1 - tail, axis=0)


def parametric_bootstrap(params, n_samples: int, n_boot: int, random_state=None, *,
                         covariance_type: str = "full", n_random_starts: int = 1, n_iter: int = 500,
                         tol: float = 1e-6, n_threads: int | None = None) -> BootstrapResult:
    """Refit ``n_boot`` series of ``n_samples`` steps simulated from ``params``.

    Each series is refitted by maximum-likelihood EM (no priors) from ``params`` and from
    ``n_random_starts`` random starts (:func:`hmmcore.initial_params`), in parallel threads;
    the best final log-likelihood is kept, its states relabelled to match ``params``
    (:func:`hmmcore.align_states`), and its natural parameters recorded.

    Parameters
    ----------
    params : HMMParams
        The fitted model, from which the series are simulated (covariances of the type's form).
    n_samples : int
        Length T of each simulated series (the data's length).
    n_boot : int
        The number of replications B.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        The source of every draw (the series and the random starts).
    covariance_type : {"full", "diag", "spherical", "tied"}
        The type refitted (and whose parameters are recorded).
    n_random_starts : int
        Random starts per refit, besides ``params`` (0: refit from ``params`` only).
    n_iter, tol : int, float
        EM's limits for each start.
    n_threads : int, optional
        Threads for the starts of one refit (None: one per core).

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        For bad input, naming the argument.

    Examples
    --------
    Two well-separated states and 400 steps: the bootstrap standard error of a mean is
    close to sigma / sqrt(T_k), T_k = 200 days in each state (here 0.0707).

    >>> from hmmcore import HMMParams
    >>> transmat = np.array([[0.95, 0.05], [0.05, 0.95]])
    >>> params = HMMParams(np.array([0.5, 0.5]), transmat,
    ...                    np.array([[-3.0], [3.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> result = parametric_bootstrap(params, 400, 40, np.random.default_rng(0),
    ...                               n_random_starts=0)
    >>> index = result.names.index("means[0, 0]")
    >>> bool(0.05 < result.standard_errors[index] < 0.095)
    True
    """
    check_covariance_type(covariance_type)
    params = check_params_of_type(params, None, covariance_type)
    n_samples = check_positive_int(n_samples, "n_samples")
    n_boot = check_positive_int(n_boot, "n_boot")
    random_state = check_random_state(random_state)
    if isinstance(n_random_starts, bool) or not isinstance(n_random_starts, (int, np.integer)) or n_random_starts < 0:
        raise ValueError(f"`n_random_starts` must be an integer >= 0; got {n_random_starts!r}.")
    n_iter, tol = check_n_iter(n_iter), check_tol(tol)
    n_states = len(params.startprob)
    coordinates = coordinate_layout(n_states, params.means.shape[1], covariance_type, "fixed")
    names = natural_parameters(params, coordinates).names
    options = check_options(EMOptions(covariance_type=covariance_type), n_states, params.means.shape[1])
    replicates, log_likelihoods, n_collapsed = [], [], 0
    for _ in range(n_boot):
        X, _ = sample(params, n_samples, random_state, validate=False)
        starts = [params] + [initial_params(X, n_states, random_state, covariance_type, validate=False)
                             for _ in range(n_random_starts)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateStateWarning)
            runs = fit_em_restarts(X, starts, None, options, n_iter=n_iter, tol=tol, n_threads=n_threads,
                                   validate=False)
        finals = np.array([-np.inf if run.collapse is not None else run.log_likelihoods[-1] for run in runs])
        if not np.isfinite(finals.max()):
            n_collapsed += 1
            continue
        best = runs[int(np.argmax(finals))].scored_params
        best = permute_states(best, align_states(best, params))
        replicates.append(natural_parameters(best, coordinates).values)
        log_likelihoods.append(finals.max())
    return BootstrapResult(names, np.array(replicates).reshape(-1, len(names)), np.array(log_likelihoods),
                           n_collapsed)
