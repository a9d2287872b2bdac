"""hmmcore: Baum-Welch EM for Gaussian hidden Markov models, one function per derived equation.

=========================  =====================================  ==============
book equation              function                               module
=========================  =====================================  ==============
(2) marginal likelihood    ``enumerate_paths`` (exact oracle)     brute_force
(16) log P(O | lambda)     ``log_likelihood``, ``forward``        inference
(17) gamma, (21) xi        ``e_step``                             inference
literal recursions         ``forward_reference`` ...              reference
(27) transitions           ``update_transmat``                    mstep
(28) initial distribution  ``update_startprob``                   mstep
(29) Gaussian log-density  ``gaussian_log_density``               emissions
(35) means                 ``update_means``                       mstep
(41) covariances           ``update_covars``                      mstep
EM loop                    ``fit_em``, ``em_step``                em
estimator                  ``GaussianHMM``                        model
=========================  =====================================  ==============

Behind the fast paths: :mod:`hmmcore.time_blocks` (the blocked order of time the E-step works in),
:mod:`hmmcore.scratch` (work arrays reused between iterations) and :mod:`hmmcore.second_process`
(half of a large batch of restarts on a second core).
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
from .em import EMResult, HMMParams, LikelihoodDecreaseWarning, em_step, fit_em, initial_params
from .emissions import gaussian_log_density
from .inference import e_step, forward, log_likelihood
from .model import GaussianHMM
from .mstep import (
    EMPTY_STATE_OCCUPANCY,
    occupancy,
    regularize_covars,
    update_covars,
    update_covars_diag,
    update_means,
    update_startprob,
    update_transmat,
)
from .reference import Forward, Posteriors, backward_reference, e_step_reference, forward_reference
from .reference import backward_reference as backward
from .viterbi import ViterbiPath, viterbi

__all__ = [
    "BruteForce", "EMPTY_STATE_OCCUPANCY", "EMResult", "FEATURES", "Forward", "GaussianHMM", "HMMParams",
    "LESSON_REGIMES", "LikelihoodDecreaseWarning", "Posteriors", "SIMULATED_REGIMES", "SIMULATED_TRANSMAT",
    "ViterbiPath",
    "backward", "backward_reference", "e_step", "e_step_reference", "em_step", "enumerate_paths", "fit_em", "forward",
    "forward_reference", "gaussian_log_density", "initial_params", "joint_log_prob", "load_sp500",
    "log_likelihood", "market_features", "occupancy", "regularize_covars", "simulate_regimes",
    "simulated_regime_params", "update_covars", "update_covars_diag", "update_means", "update_startprob",
    "update_transmat", "viterbi",
]
__version__ = "0.1.0"
