"""hmmcore: Baum-Welch EM for Gaussian hidden Markov models, one function per derived equation.

=========================  =====================================  ==============
book equation              function                               module
=========================  =====================================  ==============
(2) marginal likelihood    ``enumerate_paths`` (exact oracle)     brute_force
(16) log P(O | lambda)     ``log_likelihood``, ``forward``        inference
(17) gamma, (21) xi        ``e_step``                             inference
(13)-(15) alpha, beta       ``forward``, ``backward``              inference
most probable path         ``viterbi``                            viterbi
MAP priors (chapter 11)    ``Priors``, ``HMMLEARN_PRIORS``        em
(27) transitions           ``update_transmat``                    mstep
(28) initial distribution  ``update_startprob``                   mstep
(29) Gaussian log-density  ``gaussian_log_density``               emissions
(35) means                 ``update_means``                       mstep
(41) covariances           ``update_covars``                      mstep
EM loop                    ``fit_em``, ``em_step``                em
estimator                  ``GaussianHMM``                        model
=========================  =====================================  ==============

Every recursion is written once, as the loop the book derives, and compiled with numba
(``cache=True``: the first call in a fresh checkout compiles, later processes load the cache).
"""

from .brute_force import BruteForce, enumerate_paths, joint_log_prob
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
    HMMLEARN_PRIORS,
    DegenerateStateError,
    DegenerateStateWarning,
    EMResult,
    HMMParams,
    LikelihoodDecreaseWarning,
    Priors,
    em_step,
    fit_em,
    initial_params,
)
from .emissions import NotPositiveDefiniteError, gaussian_log_density
from .inference import Forward, ImpossibleObservationError, Posteriors, backward, e_step, forward, log_likelihood
from .mstep import (
    COVARIANCE_TYPES,
    EMPTY_STATE_OCCUPANCY,
    occupancy,
    regularize_covars,
    update_covars,
    update_covars_diag,
    update_means,
    update_startprob,
    update_transmat,
)
from .viterbi import ViterbiPath, viterbi

__all__ = [
    "BruteForce", "COVARIANCE_TYPES", "DegenerateStateError", "DegenerateStateWarning",
    "EMPTY_STATE_OCCUPANCY", "EMResult", "FEATURES", "Forward", "GaussianHMM", "HMMLEARN_PRIORS",
    "HMMParams", "ImpossibleObservationError", "LESSON_REGIMES", "LikelihoodDecreaseWarning",
    "NotPositiveDefiniteError", "Posteriors", "Priors", "SIMULATED_REGIMES", "SIMULATED_TRANSMAT",
    "ViterbiPath", "backward", "e_step", "em_step", "enumerate_paths", "fit_em", "forward",
    "gaussian_log_density", "initial_params", "joint_log_prob", "load_sp500", "log_likelihood",
    "market_features", "occupancy", "regularize_covars", "simulate_regimes",
    "simulated_regime_params", "update_covars", "update_covars_diag", "update_means",
    "update_startprob", "update_transmat", "viterbi",
]
__version__ = "0.1.0"


def __getattr__(name):
    # The estimator imports scikit-learn (for BaseEstimator: get_params, clone, grid search),
    # which costs about half a second; users of the functions alone do not pay for it.
    if name == "GaussianHMM":
        from .model import GaussianHMM

        return GaussianHMM
    raise AttributeError(f"module 'hmmcore' has no attribute {name!r}")
