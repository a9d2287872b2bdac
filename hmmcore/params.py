"""The named types every layer of hmmcore shares: a parameter set, the priors, the options of
the M-step, the outcome of an EM run.

This module holds types only, so that the estimator and the chapters can import them without
importing the EM loop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class HMMParams(NamedTuple):
    r"""A parameter set :math:`\lambda = (\pi, A, \mu, \Sigma)` for K states and D features.

    Examples
    --------
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
    ...                    np.array([[0.0], [3.0]]), np.array([[[1.0]], [[2.0]]]))
    >>> params.transmat[1]
    array([0.2, 0.8])
    """

    startprob: np.ndarray
    """(K,) initial distribution pi."""
    transmat: np.ndarray
    """(K, K) transition matrix A (rows sum to 1)."""
    means: np.ndarray
    """(K, D) means mu_k."""
    covars: np.ndarray
    """(K, D, D) covariance matrices Sigma_k, full matrices of the covariance type's form
    (diagonal for "diag", c_k I for "spherical", all equal for "tied")."""


class Priors(NamedTuple):
    """The MAP priors of chapter 11, with hmmlearn's names. The defaults are flat: plain
    maximum likelihood, the updates the derivation chapters derive."""

    startprob_prior: float | np.ndarray = 1.0
    """Dirichlet concentration of pi (1: flat)."""
    transmat_prior: float | np.ndarray = 1.0
    """Dirichlet concentration of each row of A (1: flat)."""
    means_prior: float | np.ndarray = 0.0
    """Prior mean m_k of mu_k."""
    means_weight: float | np.ndarray = 0.0
    """Prior weight tau_k of mu_k (0: flat)."""
    covars_prior: float | np.ndarray = 0.0
    """Scale Psi of the covariance prior (0: flat)."""
    covars_weight: float | np.ndarray = 1.0
    """Degrees of freedom nu of the covariance prior (hmmlearn's max(nu - D, 0) in the update)."""


#: hmmlearn's GaussianHMM defaults: flat except a covariance prior of 1e-2.
HMMLEARN_PRIORS = Priors(covars_prior=1e-2)


class EMOptions(NamedTuple):
    """What the M-step does, besides the equations: the covariance type, a ridge inside the
    update, the priors, and which parameters it updates."""

    covariance_type: str = "full"
    """"full", "diag", "spherical" or "tied" (the module ``hmmcore.covariances``)."""
    reg_covar: float = 0.0
    """``reg_covar * I`` added to every new covariance (0: the plain update)."""
    priors: Priors = Priors()
    """The MAP priors (flat: maximum likelihood). A call with ``validate=False`` takes them as
    the checks return them (``hmmcore.validation.check_options``): float64 arrays of the
    shapes the M-step's compiled updates read."""
    update: str = "stmc"
    """The parameters updated, as hmmlearn's ``params`` letters: s(tart), t(ransitions),
    m(eans), c(ovariances); the others are kept as they are."""


class EMResult(NamedTuple):
    """The outcome of one EM run (:func:`hmmcore.fit_em`)."""

    params: HMMParams
    """The fitted parameters: those after the last M-step (what hmmlearn's ``fit`` returns).
    If the run ended on a collapsing state, the last valid ones (``scored_params``)."""
    log_likelihoods: list
    """log P(O | lambda) at each E-step, in order."""
    converged: bool
    """True when the last gain in log-likelihood was below ``tol`` and not a decrease."""
    n_iter: int
    """The number of E-steps performed."""
    collapse: Exception | None
    """None, or the :class:`hmmcore.DegenerateStateError` (with ``state`` and ``iteration``)
    that ended the run."""
    scored_params: HMMParams
    """The parameters whose log-likelihood is ``log_likelihoods[-1]``: one M-step before
    ``params``, or ``params`` itself when no M-step followed (a collapse, or ``n_iter = 0``)."""


class PredictiveMixture(NamedTuple):
    r"""A predictive distribution of a Gaussian HMM, one row per forecast: row r is the
    mixture :math:`\sum_k w_{rk}\, \mathcal N(\mu_k, \Sigma_k)` (:eq:`forecast-mixture`).

    Given the state, an observation is independent of the past, so the distribution of
    :math:`O_{t+h}` given :math:`O_1, \dots, O_t` mixes the states' Gaussians with the state
    forecasts as weights (:func:`hmmcore.forecast_mixture`).

    Examples
    --------
    >>> mixture = PredictiveMixture(np.array([[0.9, 0.1]]), np.zeros((2, 1)),
    ...                             np.array([[[1.0]], [[9.0]]]))
    >>> mixture.weights.shape, mixture.means.shape, mixture.covars.shape
    ((1, 2), (2, 1), (2, 1, 1))
    """

    weights: np.ndarray
    """(n, K) the weights w_rk of each row: the state forecasts P(q_{t+h} = k | O_1..O_t)."""
    means: np.ndarray
    """(K, D) the states' means mu_k, shared by the rows."""
    covars: np.ndarray
    """(K, D, D) the states' covariance matrices Sigma_k, shared by the rows."""
