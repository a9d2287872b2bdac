"""``GaussianHMM``: hmmlearn's estimator over the book's functions.

A user of ``hmmlearn.hmm.GaussianHMM`` switches by changing the import: the constructor takes
hmmlearn 0.3.3's keywords in its order with its defaults, and hmmlearn's own test suite
(``hmmlearn/tests/test_gaussian_hmm.py``) runs against this class. Everything it computes is
a call to the layers below: :func:`hmmcore.initial_params`, :func:`hmmcore.fit_em_restarts`,
and the parameter-level functions of :mod:`hmmcore.evaluation`.

Unlike hmmlearn's, every method accepts observations with missing values, marked NaN
(chapter 14): ``fit`` runs EM with the missing values, the evaluations use the density of the
observed coordinates.
"""

from __future__ import annotations

import copy
import inspect
import logging

import numpy as np
from .chain import stationary_distribution
from .covariances import compact_from_full, full_from_compact, n_covariance_parameters
from .em import fit_em_restarts
from .evaluation import decode, filtered, posteriors, score
from .forecast import forecast_mixture, forecast_next, forecast_state_proba, predict_next_proba
from .information import ObservedInformation, observed_information
from .initialization import initial_params
from .monitor import ConvergenceMonitor
from .mstep import regularize_covars
from .params import EMOptions, HMMParams, PredictiveMixture
from .residuals import PseudoResiduals, pseudo_residuals
from .sampling import sample
from .uncertainty import StandardErrors, standard_errors
from .validation import (
    BOUNDARY_TOLERANCE,
    PARAMETER_LETTERS,
    check_choice,
    check_complete,
    check_compact_covars,
    check_covariance_type,
    check_covars,
    check_enough_samples,
    check_horizon,
    check_hyperparameters,
    check_data,
    check_information_inputs,
    check_level,
    check_means,
    check_n_features,
    check_params,
    check_positive_int,
    check_random_state,
    check_startprob,
    check_state,
    check_transmat,
)

_log = logging.getLogger(__name__)

#: hmmlearn's jitter for a singular covariance (its ``min_covar`` of the full log-density).
SINGULAR_JITTER = 1e-7

#: hmmlearn's attribute of each parameter letter.
ATTRIBUTES = {"s": "startprob_", "t": "transmat_", "m": "means_", "c": "covars_"}


def _not_fitted(message: str) -> Exception:
    """scikit-learn's ``NotFittedError`` (a ``ValueError``), imported only when raised."""
    from sklearn.exceptions import NotFittedError

    return NotFittedError(message)


class GaussianHMM:
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch EM (chapter 8), with
    hmmlearn's MAP priors (chapter 11).

    Parameters
    ----------
    n_components : int
        The number of hidden states K.
    covariance_type : {"spherical", "diag", "full", "tied"}
    min_covar : float
        Added to the diagonal of the data's covariance when initialising ``covars_``.
    startprob_prior, transmat_prior : float or array_like
        Dirichlet concentrations of pi and of the rows of A (1: flat).
    means_prior, means_weight : float or array_like
        Normal prior on the means, N(means_prior, Sigma_k / means_weight) (weight 0: flat).
    covars_prior, covars_weight : float or array_like
        hmmlearn's covariance prior (chapter 11); ``covars_prior=0`` and ``covars_weight=1``
        give the plain maximum-likelihood updates. The default 1e-2 is hmmlearn's.
    algorithm : {"viterbi", "map"}
        The decoder of ``decode`` and ``predict``.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Draws the starting points and, in ``sample``, the samples.
    n_iter : int
        At most this many EM iterations per start.
    tol : float
        Stop when the gain in log-likelihood falls below ``tol`` (a fall counts, as in hmmlearn).
    verbose : bool
        Print each iteration's log-likelihood and gain to stderr.
    params, init_params : str
        Letters of the parameters EM updates (``params``) and that are drawn before it
        (``init_params``): s(tart), t(ransitions), m(eans), c(ovars). A parameter set by hand
        and absent from ``init_params`` is the starting point; one absent from ``params`` stays.
    implementation : {"log", "scaling"}
        Accepted for hmmlearn's sake: both compute the stable scaled recursions; "scaling" only
        adds hmmlearn's error where its scaled pass would underflow.
    n_init : int, keyword-only
        The number of random starts, run in parallel threads; the best final score is kept.
    reg_covar : float, keyword-only
        ``reg_covar * I`` added to every covariance inside each M-step.
    posthoc_reg_covar : float, keyword-only
        ``posthoc_reg_covar * I`` added once after EM, before the restarts are scored.

    Attributes
    ----------
    startprob_, transmat_, means_ : ndarray
    covars_ : ndarray, shape (K, D, D)
        Full matrices for every covariance type (hmmlearn's storage is ``_covars_``).
    params_ : HMMParams
        The four parameters at once (read and write).
    n_features : int
    monitor_ : ConvergenceMonitor
        The best restart's.
    converged_ : bool
        Whether the best restart's last gain was below ``tol`` (a fall is not convergence).
    n_iter_ : int
    log_likelihood_history_ : list of float
    restart_scores_ : ndarray, shape (n_init,)
        Each restart's final log-likelihood, -inf for one whose state collapsed.
    restart_degenerate_ : list
        None, or the message of each restart's collapse.

    Examples
    --------
    >>> from hmmcore import GaussianHMM, simulate_regimes
    >>> X = simulate_regimes(2000, rng=0).X
    >>> model = GaussianHMM(3, covariance_type="full", n_iter=100, random_state=0)
    >>> model = model.fit(X)
    >>> model.predict(X).shape, model.transmat_.shape
    ((2000,), (3, 3))
    """

    def __init__(
        self,
        n_components=1,
        covariance_type="diag",
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        means_prior=0,
        means_weight=0,
        covars_prior=1e-2,
        covars_weight=1,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmc",
        init_params="stmc",
        implementation="log",
        *,
        n_init=1,
        reg_covar=0.0,
        posthoc_reg_covar=0.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.posthoc_reg_covar = posthoc_reg_covar
        self.monitor_ = ConvergenceMonitor(tol, n_iter, verbose)

    # -- scikit-learn's estimator protocol ---------------------------------------------------
    # ``get_params``, ``set_params`` and ``__repr__`` are written here rather than inherited from
    # scikit-learn's BaseEstimator: importing scikit-learn (it imports scipy.stats and pandas)
    # costs about 0.7 s, more than a first fit. scikit-learn's own ``clone`` and grid search
    # need nothing else; its tags come from BaseEstimator, imported when scikit-learn asks.
    @classmethod
    def _get_param_names(cls) -> list:
        return sorted(name for name in inspect.signature(cls.__init__).parameters if name != "self")

    def get_params(self, deep=True) -> dict:
        """The constructor's arguments, by name (scikit-learn's protocol)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params) -> "GaussianHMM":
        """Set constructor arguments by name (scikit-learn's protocol); returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {valid!r}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if repr(value) != repr(defaults[name])]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator

        return BaseEstimator.__sklearn_tags__(self)

    # -- the parameters ----------------------------------------------------------------------
    @property
    def covars_(self) -> np.ndarray:
        """The covariance matrices, (K, D, D) for every covariance type."""
        if not hasattr(self, "_covars_"):
            raise AttributeError("covars_")
        compact = np.asarray(self._covars_)
        if self.covariance_type != "spherical":
            n_features = compact.shape[-1]
        elif hasattr(self, "n_features"):
            n_features = self.n_features
        elif hasattr(self, "means_"):
            n_features = np.shape(self.means_)[-1]
        else:
            raise AttributeError("spherical `covars_` need `n_features` (or `means_`) to be known.")
        return full_from_compact(compact, self.covariance_type, self.n_components, n_features)

    @covars_.setter
    def covars_(self, covars):
        self._covars_ = check_compact_covars(covars, self.covariance_type, self.n_components)

    @property
    def params_(self) -> HMMParams:
        """The four parameters as an :class:`HMMParams` with (K, D, D) covariances; setting it
        sets ``startprob_``, ``transmat_``, ``means_`` and ``covars_``."""
        return self._check()

    @params_.setter
    def params_(self, params):
        params = check_params(params)
        check_compact_covars(params.covars, self.covariance_type, self.n_components, "params_.covars")
        self._set(params)

    def _set(self, params: HMMParams):
        """Set the four attributes from checked parameters (covariances of the type's form)."""
        self.startprob_, self.transmat_, self.means_ = params.startprob, params.transmat, params.means
        self._covars_ = compact_from_full(params.covars, self.covariance_type)
        self.n_features = params.means.shape[1]

    def _check(self) -> HMMParams:
        """The parameters, checked (hmmlearn's ``_check``); a ``NotFittedError`` (a ValueError)
        names the missing ones."""
        missing = [name for name in ("startprob_", "transmat_", "means_", "_covars_") if not hasattr(self, name)]
        if missing:
            raise _not_fitted(f"this GaussianHMM has no {', '.join(missing)}: call `fit` or set them first.")
        check_covariance_type(self.covariance_type)
        K = self.n_components
        means = check_means(self.means_, K, name="means_")
        self.n_features = means.shape[1]
        compact = check_compact_covars(self._covars_, self.covariance_type, K, "_covars_")
        return HMMParams(
            check_startprob(self.startprob_, K, "startprob_"),
            check_transmat(self.transmat_, K, "transmat_"),
            means,
            check_covars(full_from_compact(compact, self.covariance_type, K, self.n_features), K, self.n_features,
                         "covars_"),
        )

    # -- initialisation (hmmlearn's ``_init``) -----------------------------------------------
    def _given(self, n_features) -> dict:
        """The parameters set by hand that are the starting point (absent from ``init_params``),
        by letter, checked; hmmlearn's log message for those that ``init_params`` overwrites."""
        K, given = self.n_components, {}
        present = [letter for letter in PARAMETER_LETTERS
                   if hasattr(self, "_covars_" if letter == "c" else ATTRIBUTES[letter])]
        for letter in present:
            if letter in self.init_params:
                _log.warning("Even though the %r attribute is set, it will be overwritten during "
                             "initialization because 'init_params' contains %r", ATTRIBUTES[letter], letter)
        kept = [letter for letter in present if letter not in self.init_params]
        if "s" in kept:
            given["s"] = check_startprob(self.startprob_, K, "startprob_")
        if "t" in kept:
            given["t"] = check_transmat(self.transmat_, K, "transmat_")
        if "m" in kept:
            given["m"] = check_means(self.means_, K, n_features, "means_")
        if "c" in kept:
            compact = check_compact_covars(self._covars_, self.covariance_type, K, "_covars_")
            given["c"] = check_covars(full_from_compact(compact, self.covariance_type, K, n_features),
                                      K, n_features, "covars_")
        return given

    def _starts(self, X, n_starts, patterns):
        """``n_starts`` starting points drawn from ``random_state``, with hmmlearn's log
        messages; X (with its missingness ``patterns``) and the hyper-parameters are trusted."""
        self.n_features = check_n_features(X, getattr(self, "n_features", None))
        given = self._given(X.shape[1])
        n_scalars = sum(self._get_n_fit_scalars_per_param()[letter] for letter in self.params)
        n_values = X.size if patterns is None else int(np.count_nonzero(~np.isnan(X)))
        if n_values < n_scalars:
            _log.warning("Fitting a model with %d free scalar parameters with only %d data points "
                         "will result in a degenerate solution.", n_scalars, n_values)
        check_enough_samples(X, self.n_components)
        random_state = check_random_state(self.random_state)
        return [initial_params(X, self.n_components, random_state, self.covariance_type, min_covar=self.min_covar,
                               given=given, patterns=patterns, validate=False) for _ in range(n_starts)]

    def _init(self, X, lengths=None):
        """Draw one starting point into the attributes (hmmlearn's ``_init``; ``lengths`` unused)."""
        X, _, patterns = check_data(X, fitting=True)
        check_hyperparameters(self.get_params(), X.shape[1])
        self._set(self._starts(X, 1, patterns)[0])

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, lengths=None) -> "GaussianHMM":
        """Estimate the parameters by EM from ``n_init`` starts and keep the best.
        ``X`` may have missing values (NaN, chapter 14).

        Parameters
        ----------
        X : array_like, shape (T, D)
            The observations, NaN where a value is missing.
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        GaussianHMM
            self, fitted.

        Raises
        ------
        ValueError
            For bad data or hyper-parameters (naming them), or if every restart collapsed.
        """
        X, lengths, patterns = check_data(X, lengths, fitting=True)
        priors = check_hyperparameters(self.get_params(), X.shape[1])
        starts = self._starts(X, self.n_init, patterns)
        monitors = [copy.deepcopy(self.monitor_) for _ in starts]
        for restart, monitor in enumerate(monitors):
            monitor.tol, monitor.n_iter, monitor.verbose = self.tol, self.n_iter, self.verbose
            monitor.name = f"restart {restart}: " if len(starts) > 1 else ""
        if self.implementation == "scaling":
            for start in starts:
                self._scaling_checked(filtered(X, start, lengths, patterns=patterns, validate=False))
        # With a covariance prior, a singular M-step is redone with SINGULAR_JITTER (hmmlearn
        # adds 1e-7 to such a covariance's diagonal when it evaluates the density).
        jitter = SINGULAR_JITTER if np.any(np.asarray(self.covars_prior) != 0) else 0.0
        options = EMOptions(self.covariance_type, self.reg_covar, priors, self.params)
        results = fit_em_restarts(X, starts, lengths, options, n_iter=self.n_iter, tol=self.tol,
                                  monitors=monitors, singular_jitter=jitter, patterns=patterns, validate=False)
        if all(result.collapse is not None for result in results):
            raise ValueError(f"every one of the {len(results)} restart(s) collapsed (see the "
                             f"DegenerateStateWarnings); first: {results[0].collapse}")
        fitted = [r.params._replace(covars=regularize_covars(r.params.covars, self.posthoc_reg_covar)) for r in results]
        scores = np.array([-np.inf if r.collapse else score(X, p, lengths, patterns=patterns, validate=False)
                           for r, p in zip(results, fitted)])
        best = int(np.argmax(scores))
        self._set(fitted[best])
        self.monitor_ = monitors[best]
        self.restart_scores_ = scores
        self.restart_degenerate_ = [None if r.collapse is None else str(r.collapse) for r in results]
        self.log_likelihood_history_ = list(results[best].log_likelihoods)
        self.converged_ = results[best].converged
        self.n_iter_ = int(self.monitor_.iter)
        return self

    # -- evaluation --------------------------------------------------------------------------
    def _validated(self, X, lengths):
        """Checked ``(X, lengths, params, patterns)`` for the evaluation methods."""
        X, lengths, patterns = check_data(X, lengths)
        check_choice(self.implementation, "implementation", ("log", "scaling"))
        params = self._check()
        check_n_features(X, params.means.shape[1])
        return X, lengths, params, patterns

    def _scaling_checked(self, result):
        """``result``, or hmmlearn's underflow error of ``implementation="scaling"`` where its
        scaled forward pass would underflow (some c_t rounds to 0 outside log space)."""
        underflows = np.exp(np.minimum(result.log_scale, 0.0)) == 0.0
        if self.implementation == "scaling" and underflows.any():
            t = int(np.argmax(underflows))
            raise ValueError(f"implementation='scaling': the scaled forward pass underflows at time step {t} "
                             "(every reachable state's density rounds to 0), as hmmlearn's does; use "
                             "implementation='log'.")
        return result

    def score(self, X, lengths=None) -> float:
        """log P(X | lambda), summed over the sequences, :eq:`seed-16`.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        float
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        return self._scaling_checked(filtered(X, params, lengths, patterns=patterns, validate=False)).log_likelihood

    def score_samples(self, X, lengths=None):
        """The log-likelihood and the smoothed posteriors.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        log_likelihood : float
        gamma : ndarray, shape (T, K)
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        result = self._scaling_checked(posteriors(X, params, lengths, patterns=patterns, validate=False))
        return result.log_likelihood, result.gamma

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Smoothed posteriors gamma_t(i) = P(q_t = i | all of X), :eq:`seed-17`: they use the
        future. What was known on day t is :meth:`filter_proba`; the next states'
        probabilities are :meth:`predict_next_proba` and :meth:`forecast_state_proba`.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        ndarray, shape (T, K)
        """
        return self.score_samples(X, lengths)[1]

    def filter_proba(self, X, lengths=None) -> np.ndarray:
        """Filtered probabilities P(q_t = i | X_1..X_t): what is known on day t, no look-ahead
        (hmmcore's addition; :eq:`regimes-filtered`).

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        ndarray, shape (T, K)

        Examples
        --------
        Day t's row does not change when later days are added (unlike ``predict_proba``):

        >>> from hmmcore import GaussianHMM, simulate_regimes
        >>> X = simulate_regimes(300, rng=1).X
        >>> model = GaussianHMM(2, covariance_type="full", random_state=0).fit(X)
        >>> first_days, all_days = model.filter_proba(X[:100]), model.filter_proba(X)
        >>> bool(np.array_equal(first_days, all_days[:100]))
        True
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        return self._scaling_checked(filtered(X, params, lengths, patterns=patterns, validate=False)).alpha_hat

    def decode(self, X, lengths=None, algorithm=None):
        """The decoded states and a score, with ``algorithm`` (default ``self.algorithm``).

        "viterbi": the most probable path Q* and log P(X, Q* | lambda). "map": each step's most
        probable state argmax_i gamma_t(i) and, as hmmlearn returns it, the sum over t of
        max_i gamma_t(i) (not a log-probability).

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).
        algorithm : {"viterbi", "map"}, optional

        Returns
        -------
        log_prob : float
        state_sequence : ndarray of int, shape (T,)
        """
        algorithm = check_choice(algorithm or self.algorithm, "algorithm", ("viterbi", "map"))
        X, lengths, params, patterns = self._validated(X, lengths)
        if algorithm == "map":
            gamma = self._scaling_checked(posteriors(X, params, lengths, patterns=patterns, validate=False)).gamma
            return float(gamma.max(axis=1).sum()), gamma.argmax(axis=1)
        path = decode(X, params, lengths, patterns=patterns, validate=False)
        return path.log_prob, path.path

    def predict(self, X, lengths=None) -> np.ndarray:
        """The decoded states (``decode`` with ``self.algorithm``). Like hmmlearn's, they use
        the whole of X, later steps included: for the state that tomorrow will bring, given
        the days so far only, see :meth:`predict_next_proba` and :meth:`forecast_state_proba`.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        ndarray of int, shape (T,)
        """
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw observations and their hidden states (:func:`hmmcore.sample`).

        Parameters
        ----------
        n_samples : int
        random_state : None, int, numpy.random.RandomState or numpy.random.Generator
            None: the model's ``random_state``.
        currstate : int, optional
            The state of the first sample (e.g. the last state of an earlier call).

        Returns
        -------
        X : ndarray, shape (n_samples, D)
        states : ndarray of int, shape (n_samples,)
        """
        params = self._check()
        n_samples = check_positive_int(n_samples, "n_samples")
        if currstate is not None:
            currstate = check_state(currstate, self.n_components, "currstate")
        random_state = check_random_state(self.random_state if random_state is None else random_state)
        return sample(params, n_samples, random_state, currstate, validate=False)

    def get_stationary_distribution(self) -> np.ndarray:
        """The stationary distribution of A: pi^T A = pi^T, sum(pi) = 1
        (:func:`hmmcore.stationary_distribution`).

        Returns
        -------
        ndarray, shape (K,)

        Raises
        ------
        ValueError
            If the chain has no unique stationary distribution (several closed classes of
            states); hmmlearn returns one of them without saying so.
        """
        if not hasattr(self, "transmat_"):
            raise _not_fitted("this GaussianHMM has no transmat_: call `fit` or set it first.")
        return stationary_distribution(check_transmat(self.transmat_, self.n_components, "transmat_"))

    # -- forecasts (chapter 13) ----------------------------------------------------------------
    def predict_next_proba(self, X, lengths=None, *, n_steps=1) -> np.ndarray:
        """The probabilities of the next ``n_steps`` hidden states after the end of ``X``
        (:func:`hmmcore.predict_next_proba`, :eq:`forecast-states`): row h - 1 is
        P(q_{T+h} = j | X), the filtered probabilities of the last step times A^h.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence); the forecast continues the last.
        n_steps : int
            How many steps ahead, >= 1.

        Returns
        -------
        ndarray, shape (n_steps, K)

        Raises
        ------
        NotFittedError
            If the model has no parameters yet.
        ValueError
            If ``n_steps`` < 1, or for bad input (named).

        Examples
        --------
        Two states ten standard deviations apart: the last day names its state (2), so the
        next state is distributed as row 2 of A, and the one after as row 2 of A^2.

        >>> from hmmcore import GaussianHMM
        >>> model = GaussianHMM(2, covariance_type="diag")
        >>> model.startprob_ = np.array([0.5, 0.5])
        >>> model.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
        >>> model.means_, model.covars_ = np.array([[-5.0], [5.0]]), np.ones((2, 1))
        >>> model.predict_next_proba([[-5.1], [4.9]], n_steps=2).round(12)
        array([[0.2 , 0.8 ],
               [0.34, 0.66]])
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        n_steps = check_horizon(n_steps, "n_steps")
        return predict_next_proba(X, params, lengths, n_steps=n_steps, patterns=patterns, validate=False)

    def forecast_next(self, X, lengths=None, *, n_steps=1) -> PredictiveMixture:
        """The predictive distributions of the next ``n_steps`` observations after the end of
        ``X`` (:func:`hmmcore.forecast_next`, :eq:`forecast-mixture`): row h - 1 mixes the
        states' Gaussians with the weights P(q_{T+h} = j | X).

        Its mean is the point forecast (:func:`hmmcore.mixture_moments`); its quantiles give
        forecast intervals or a Value at Risk (:func:`hmmcore.mixture_quantile`).

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence); the forecast continues the last.
        n_steps : int
            How many steps ahead, >= 1.

        Returns
        -------
        PredictiveMixture
            Weights (n_steps, K), the means (K, D) and covariances (K, D, D) of the states.

        Raises
        ------
        NotFittedError
            If the model has no parameters yet.
        ValueError
            If ``n_steps`` < 1, or for bad input (named).

        Examples
        --------
        The last day names state 2 (mean 5); tomorrow's mean is 0.2 * (-5) + 0.8 * 5 = 3, and
        its variance 1 within the states plus 0.2 * 0.8 * 10^2 = 16 between them.

        >>> from hmmcore import GaussianHMM, mixture_moments
        >>> model = GaussianHMM(2, covariance_type="spherical")
        >>> model.startprob_ = np.array([0.5, 0.5])
        >>> model.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
        >>> model.means_, model.covars_ = np.array([[-5.0], [5.0]]), np.ones(2)
        >>> moments = mixture_moments(model.forecast_next([[-5.1], [4.9]]))
        >>> moments.mean.round(12), moments.covariance.round(12)
        (array([[3.]]), array([[[17.]]]))
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        n_steps = check_horizon(n_steps, "n_steps")
        return forecast_next(X, params, lengths, n_steps=n_steps, patterns=patterns, validate=False)

    def forecast_state_proba(self, X, lengths=None, *, horizon=1) -> np.ndarray:
        """State forecasts from every step (:func:`hmmcore.forecast_state_proba`,
        :eq:`forecast-states`): row t is P(q_{t+h} = j | X_1..X_t), known at the end of step
        t, so it can drive a decision for step t + h without look-ahead.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).
        horizon : int
            The number of steps ahead h >= 1.

        Returns
        -------
        ndarray, shape (T, K)

        Raises
        ------
        NotFittedError
            If the model has no parameters yet.
        ValueError
            If ``horizon`` < 1, or for bad input (named).

        Examples
        --------
        Row t does not change when later days are added, unlike ``predict_proba``'s:

        >>> from hmmcore import GaussianHMM, simulate_regimes
        >>> X = simulate_regimes(300, rng=1).X
        >>> model = GaussianHMM(2, covariance_type="full", random_state=0).fit(X)
        >>> early = model.forecast_state_proba(X[:100], horizon=5)
        >>> bool(np.array_equal(early, model.forecast_state_proba(X, horizon=5)[:100]))
        True
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        return forecast_state_proba(X, params, lengths, horizon=check_horizon(horizon), patterns=patterns,
                                    validate=False)

    def forecast_mixture(self, X, lengths=None, *, horizon=1) -> PredictiveMixture:
        """The predictive distribution of the observation ``horizon`` steps after each step
        (:func:`hmmcore.forecast_mixture`, :eq:`forecast-mixture`): row t is that of X_{t+h}
        given X_1..X_t. Scored at the realised observations it gives honest log scores.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).
        horizon : int
            The number of steps ahead h >= 1.

        Returns
        -------
        PredictiveMixture
            Weights (T, K), the means (K, D) and covariances (K, D, D) of the states.

        Raises
        ------
        NotFittedError
            If the model has no parameters yet.
        ValueError
            If ``horizon`` < 1, or for bad input (named).

        Examples
        --------
        The one-step log scores add up, with the first day's log density, to the
        log-likelihood (the chain rule):

        >>> from hmmcore import GaussianHMM, mixture_log_density, simulate_regimes
        >>> X = simulate_regimes(300, rng=1).X
        >>> model = GaussianHMM(2, covariance_type="tied", random_state=0).fit(X)
        >>> mixture = model.forecast_mixture(X)
        >>> forecasts = mixture._replace(weights=mixture.weights[:-1])  # of days 2..T
        >>> scores = mixture_log_density(forecasts, X[1:])
        >>> total = model.score(X[:1]) + scores.sum()
        >>> bool(np.isclose(total, model.score(X), rtol=1e-12))
        True
        """
        X, lengths, params, patterns = self._validated(X, lengths)
        return forecast_mixture(X, params, lengths, horizon=check_horizon(horizon), patterns=patterns,
                                validate=False)

    # -- uncertainty and fit of the estimates (chapter 12) -------------------------------------
    def _information_inputs(self, X, lengths, start):
        """Checked ``(X, lengths, params)`` for the information's methods."""
        X, lengths, params, _ = self._validated(X, lengths)
        return check_information_inputs(X, params, lengths, self.covariance_type, start, BOUNDARY_TOLERANCE)

    def observed_information(self, X, lengths=None, *, start="free") -> ObservedInformation:
        """The score and the observed information of the fitted parameters on ``X``, by
        Fisher's and Louis' identities (:func:`hmmcore.observed_information`), in the
        unconstrained coordinates of ``covariance_type``.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).
        start : {"free", "fixed", "stationary"}
            Whether ``startprob_`` is a parameter, is known, or is the stationary
            distribution of ``transmat_``.

        Returns
        -------
        ObservedInformation

        Raises
        ------
        BoundaryError
            If a free probability is 0 (e.g. ``startprob_`` at a vertex after a fit to one
            sequence, with ``start="free"``); the message says what to use instead.

        Examples
        --------
        One state: nothing is hidden, so the missing information is 0, and the information
        of the mean is T / sigma^2 = 4 / 2.

        >>> from hmmcore import GaussianHMM, HMMParams
        >>> model = GaussianHMM(1, covariance_type="full")
        >>> model.params_ = HMMParams(np.ones(1), np.ones((1, 1)), np.zeros((1, 1)),
        ...                           np.full((1, 1, 1), 2.0))
        >>> X = [[1.0], [-1.0], [2.0], [-2.0]]
        >>> result = model.observed_information(X, start="fixed")
        >>> result.coordinates.names[0], round(float(result.observed[0, 0]), 12)
        ('means[0, 0]', 2.0)
        >>> float(result.missing.max())
        0.0
        """
        X, lengths, params = self._information_inputs(X, lengths, start)
        return observed_information(X, params, lengths, covariance_type=self.covariance_type, start=start,
                                    validate=False)

    def standard_errors(self, X, lengths=None, *, start="free", covariance="observed",
                        level=0.95) -> StandardErrors:
        """Standard errors and ``level`` intervals of ``startprob_``, ``transmat_``,
        ``means_`` and the entries of ``covars_`` that ``covariance_type`` estimates, by the
        delta method from the observed information (:func:`hmmcore.standard_errors`).

        Parameters
        ----------
        X : array_like, shape (T, D)
            The data the model was fitted to.
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).
        start : {"free", "fixed", "stationary"}
            As in :meth:`observed_information`. After a fit to one sequence ``startprob_``
            sits at a vertex: "free" then raises a ``BoundaryError`` that says to use
            "fixed" (the other parameters, conditional on the first state).
        covariance : {"observed", "robust"}
            The inverse observed information, or the sandwich that allows for
            misspecified emissions.
        level : float
            The intervals' coverage.

        Returns
        -------
        StandardErrors
            ``names``, ``estimates``, ``standard_errors``, ``lower``, ``upper``,
            ``covariance``.

        Raises
        ------
        BoundaryError
            If a free probability is 0 (named).
        SingularInformationError
            If the information is not positive definite (the parameters are named).

        Examples
        --------
        Two states well apart: the standard error of a state's mean is close to
        sigma_k / sqrt(N_k), N_k the expected number of days in the state.

        >>> from hmmcore import GaussianHMM, HMMParams, sample
        >>> truth = HMMParams(np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.1, 0.9]]),
        ...                   np.array([[-1.0], [2.0]]), np.array([[[1.0]], [[0.5]]]))
        >>> X, _ = sample(truth, 2000, np.random.default_rng(0))
        >>> model = GaussianHMM(2, covariance_type="diag", covars_prior=0.0, n_iter=1000,
        ...                     tol=1e-9, random_state=0).fit(X)
        >>> result = model.standard_errors(X, start="fixed")
        >>> result.names[4:6]
        ('means[0, 0]', 'means[1, 0]')
        >>> days = model.predict_proba(X).sum(axis=0)
        >>> ratio = result.standard_errors[4:6] / np.sqrt(model.covars_[:, 0, 0] / days)
        >>> bool(np.all((0.95 < ratio) & (ratio < 1.2)))
        True
        """
        X, lengths, params = self._information_inputs(X, lengths, start)
        check_choice(covariance, "covariance", ("observed", "robust"))
        return standard_errors(X, params, lengths, covariance_type=self.covariance_type, start=start,
                               covariance=covariance, level=check_level(level), validate=False)

    def pseudo_residuals(self, X, lengths=None) -> PseudoResiduals:
        """One-step-ahead pseudo-residuals of ``X`` under the fitted model
        (:func:`hmmcore.pseudo_residuals`): uniform and normal, (T, D), the features
        conditioned in the order of the columns.

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        PseudoResiduals
            Independent standard normal ``normal`` residuals if the model is right.

        Raises
        ------
        ValueError
            For bad input, or a model whose parameters are not set, naming them.

        Examples
        --------
        One state N(1, 4): the residuals are the standardised observations (x - 1) / 2.

        >>> from hmmcore import GaussianHMM, HMMParams
        >>> model = GaussianHMM(1, covariance_type="full")
        >>> model.params_ = HMMParams(np.ones(1), np.ones((1, 1)), np.ones((1, 1)),
        ...                           np.full((1, 1, 1), 4.0))
        >>> model.pseudo_residuals([[3.0], [0.0]]).normal.ravel().round(12)
        array([ 1. , -0.5])
        """
        X, lengths, params, _ = self._validated(X, lengths)
        check_complete(X, "the pseudo-residuals (chapter 12)")
        return pseudo_residuals(X, params, lengths, validate=False)

    # -- model selection ---------------------------------------------------------------------
    def _get_n_fit_scalars_per_param(self) -> dict:
        """Free scalars per parameter letter (hmmlearn's counts, used by ``aic`` and ``bic``)."""
        K, D = self.n_components, self.n_features
        return {"s": K - 1, "t": K * (K - 1), "m": K * D, "c": n_covariance_parameters(self.covariance_type, K, D)}

    def n_parameters(self) -> int:
        """The number of free scalar parameters, as hmmlearn's ``aic`` and ``bic`` count them.

        Returns
        -------
        int
        """
        self._check()
        return int(sum(self._get_n_fit_scalars_per_param().values()))

    def aic(self, X, lengths=None) -> float:
        """Akaike information criterion, -2 log L + 2 p (lower is better).

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        float
        """
        return -2.0 * self.score(X, lengths) + 2.0 * self.n_parameters()

    def bic(self, X, lengths=None) -> float:
        """Bayesian information criterion, -2 log L + p log T (lower is better).

        Parameters
        ----------
        X : array_like, shape (T, D)
        lengths : list of int, optional
            The sequences' lengths (None: one sequence).

        Returns
        -------
        float
        """
        return -2.0 * self.score(X, lengths) + self.n_parameters() * np.log(len(X))
