"""hmmcore: Baum-Welch EM for Gaussian hidden Markov models, one function per derived equation.

=============================  =========================================  ================
book equation                  function                                   module
=============================  =========================================  ================
(2) marginal likelihood        ``enumerate_paths`` (exact oracle)         brute_force
missing coordinates, oracle    ``integrate_missing`` (numerical)          brute_force
(13)-(15) alpha, beta          ``forward``, ``backward``                  inference
(16) log P(O | lambda)         ``log_likelihood``, ``forward``            inference
(17) gamma, (21) xi            ``e_step``                                 inference
most probable path             ``viterbi``                                viterbi
(29) Gaussian log-density      ``gaussian_log_density``                   emissions
(28) initial distribution      ``update_startprob``                       mstep
(27) transitions               ``update_transmat``                        mstep
(35) means                     ``update_means``                           mstep
(41) covariances               ``update_covars``                          mstep
MAP priors (chapter 11)        ``Priors``, ``HMMLEARN_PRIORS``            params
the EM loop (chapter 8)        ``em_step``, ``m_step``, ``fit_em``        em
stationary distribution        ``stationary_distribution``                chain
Fisher's, Louis' identities    ``score_vector``, ``observed_information`` information
unconstrained coordinates      ``coordinate_layout``                      coordinates
standard errors (delta method) ``standard_errors``                        uncertainty
Newton on the likelihood       ``fit_newton``                             newton
parametric bootstrap           ``parametric_bootstrap``                   bootstrap
label alignment                ``align_states``                           labels
pseudo-residuals               ``pseudo_residuals``                       residuals
state forecasts (chapter 13)   ``forecast_state_proba``                   forecast
predictive mixture, moments    ``forecast_mixture``, ``mixture_moments``  forecast
quantiles, Value at Risk       ``mixture_quantile``                       forecast
walk-forward refits            ``walk_forward``                           walkforward
missing values (chapter 14)    ``missing_patterns``                       missing
density of observed values     ``gaussian_log_density`` (NaN = missing)   emissions
conditional Gaussian           ``conditional_moments``                    emissions
expected statistics            ``update_means``, ``update_covars``        mstep
                               (``moments=``), ``pattern_occupancy``
=============================  =========================================  ================

The layers, from the bottom: ``missing`` (the patterns of missing values), ``validation``
(every input check), ``params`` (the named types), ``covariances`` (storage and rules of the
four covariance types); the equations
(``emissions``, ``inference``, ``viterbi``, ``mstep``); the parameter level on
``(X, params, lengths)`` (``evaluation``: ``score``, ``filtered``, ``posteriors``, ``decode``;
``sampling``: ``sample``; ``labels``: ``permute_states``, ``align_states``); the loop
(``initialization``, ``monitor``, ``em``); the fitted model's uncertainty and fit (chapter 12:
``chain``, ``coordinates``, ``information``, ``uncertainty``, ``newton``, ``bootstrap``,
``residuals``); what it forecasts (chapter 13: ``forecast``, ``walkforward``); and ``model``,
hmmlearn's estimator ``GaussianHMM`` over all of them. ``brute_force`` is the oracle the tests
and the book check against; ``data`` loads the market data and simulates the book's regimes.

Missing values are marked NaN (and only NaN: ``inf`` is an error). The equations, the
parameter level, the fit, decoding and the forecasts (chapter 13) accept them; with no value
missing each computes exactly what it computed before missing values were supported. What is
derived for complete observations only refuses them by name: chapter 12's score, information,
standard errors, Newton steps and pseudo-residuals, and the walk forward.

Every recursion is written once, as the loop the book derives, and compiled with numba
(``cache=True``: the first call in a fresh checkout compiles, later processes load the cache).
"""

from .bootstrap import BootstrapResult, parametric_bootstrap
from .brute_force import BruteForce, IntegratedMoments, enumerate_paths, integrate_missing, joint_log_prob
from .chain import stationary_distribution
from .coordinates import Coordinates, coordinate_layout
from .covariances import COVARIANCE_TYPES, compact_from_full, full_from_compact
from .data import (
    FEATURES,
    LESSON_REGIMES,
    SIMULATED_REGIMES,
    SIMULATED_TRANSMAT,
    load_sp500,
    market_features,
    simulate_regimes,
    simulated_regime_params,
)
from .em import (
    DegenerateStateError,
    DegenerateStateWarning,
    EMStep,
    MStep,
    em_step,
    fit_em,
    fit_em_restarts,
    m_step,
)
from .emissions import (
    ConditionalMoments,
    NotPositiveDefiniteError,
    cholesky_factors,
    conditional_moments,
    gaussian_log_density,
)
from .evaluation import decode, filtered, posteriors, score
from .forecast import (
    MixtureMoments,
    forecast_mixture,
    forecast_next,
    forecast_state_proba,
    mixture_cdf,
    mixture_log_density,
    mixture_marginal,
    mixture_moments,
    mixture_quantile,
    predict_next_proba,
    propagate_states,
)
from .inference import (EStepBuffers, Forward, ImpossibleObservationError, Posteriors, backward, e_step, forward,
                        log_likelihood)
from .information import ObservedInformation, observed_information, score_vector
from .initialization import initial_params
from .labels import align_states, permute_states
from .missing import MissingPatterns, missing_patterns
from .monitor import ConvergenceMonitor, LikelihoodDecreaseWarning
from .mstep import (
    occupancy,
    pattern_occupancy,
    regularize_covars,
    update_covars,
    update_means,
    update_startprob,
    update_transmat,
)
from .newton import NewtonResult, fit_newton
from .params import HMMLEARN_PRIORS, EMOptions, EMResult, HMMParams, PredictiveMixture, Priors
from .residuals import PseudoResiduals, predicted_probabilities, pseudo_residuals
from .sampling import sample
from .uncertainty import (
    NearBoundaryWarning,
    NotAtMaximumWarning,
    SingularInformationError,
    StandardErrors,
    inverse_information,
    standard_errors,
)
from .validation import BoundaryError, UnobservedFeatureError
from .viterbi import ViterbiPath, viterbi
from .walkforward import Refit, WalkForward, period_starts, walk_forward

__all__ = [
    "MixtureMoments", "PredictiveMixture", "Refit", "WalkForward", "forecast_mixture",
    "forecast_next", "forecast_state_proba", "mixture_cdf", "mixture_log_density",
    "mixture_marginal", "mixture_moments", "mixture_quantile", "predict_next_proba",
    "period_starts", "propagate_states", "walk_forward",
    "BootstrapResult", "BoundaryError", "Coordinates", "NearBoundaryWarning",
    "NewtonResult", "NotAtMaximumWarning", "ObservedInformation", "PseudoResiduals",
    "SingularInformationError", "StandardErrors", "align_states",
    "coordinate_layout", "fit_newton", "inverse_information",
    "observed_information", "parametric_bootstrap", "predicted_probabilities", "pseudo_residuals",
    "score_vector", "standard_errors", "stationary_distribution",
    "BruteForce", "COVARIANCE_TYPES", "ConditionalMoments", "ConvergenceMonitor", "DegenerateStateError",
    "DegenerateStateWarning", "EMOptions", "EMResult", "EMStep", "EStepBuffers", "FEATURES", "Forward",
    "GaussianHMM", "HMMLEARN_PRIORS", "HMMParams", "ImpossibleObservationError", "IntegratedMoments",
    "LESSON_REGIMES",
    "LikelihoodDecreaseWarning", "MStep", "MissingPatterns", "NotPositiveDefiniteError", "Posteriors", "Priors",
    "SIMULATED_REGIMES", "SIMULATED_TRANSMAT", "UnobservedFeatureError", "ViterbiPath", "backward",
    "cholesky_factors", "compact_from_full", "conditional_moments", "decode", "e_step", "em_step", "enumerate_paths", "filtered", "fit_em",
    "fit_em_restarts", "forward", "full_from_compact", "gaussian_log_density", "initial_params",
    "integrate_missing",
    "joint_log_prob", "load_sp500", "log_likelihood", "m_step", "market_features", "missing_patterns",
    "occupancy", "pattern_occupancy", "permute_states", "posteriors", "regularize_covars", "sample", "score", "simulate_regimes",
    "simulated_regime_params", "update_covars", "update_means", "update_startprob",
    "update_transmat", "viterbi",
]


def __getattr__(name):
    # The estimator is imported on first use: users of the functions alone do not load it.
    if name == "GaussianHMM":
        from .model import GaussianHMM

        return GaussianHMM
    raise AttributeError(f"module 'hmmcore' has no attribute {name!r}")
