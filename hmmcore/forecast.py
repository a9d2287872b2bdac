"""What a fitted model says about the observations to come (chapter 13): state forecasts,
the predictive mixture, its moments, log density, distribution function and quantiles.

Every forecast conditions on the past only. Row t of a forecast "from every origin" uses the
observations of its own sequence up to t (the filtered probabilities of :func:`hmmcore.filtered`),
never a later one; a forecast "of the next steps" starts from the last row.

* State forecasts, :eq:`forecast-states`: P(q_{t+h} = j | O_1..O_t) = (alpha_hat_t A^h)_j,
  by the recursion p_h = p_{h-1} A (:func:`propagate_states`, a compiled loop). As h grows they
  tend to the stationary distribution of A (:func:`hmmcore.stationary_distribution`), at the
  rate of A's second largest eigenvalue modulus, :eq:`forecast-limit`.
* The predictive density of O_{t+h}, :eq:`forecast-mixture`: the K Gaussians mixed with those
  weights (:class:`hmmcore.PredictiveMixture`); its log density at new points, its mean and
  covariance by the laws of total expectation and total variance (:eq:`forecast-moments`), the
  marginal of some features, and one feature's distribution function and quantiles (Value at
  Risk) by bracketed root-finding (:eq:`forecast-cdf`, :eq:`forecast-quantile-bracket`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import logsumexp, ndtr, ndtri

from .emissions import gaussian_log_density
from .evaluation import filtered
from .params import HMMParams, PredictiveMixture
from .validation import (
    check_data_and_params,
    check_feature,
    check_features,
    check_horizon,
    check_mixture,
    check_points,
    check_quantile_levels,
    check_state_distributions,
    check_transmat,
    check_values,
)


class MixtureMoments(NamedTuple):
    """The mean and covariance of each row of a :class:`hmmcore.PredictiveMixture`
    (:eq:`forecast-moments`)."""

    mean: np.ndarray
    """(n, D) sum_k w_k mu_k (total expectation)."""
    covariance: np.ndarray
    """(n, D, D) sum_k w_k Sigma_k + sum_k w_k (mu_k - mean)(mu_k - mean)^T (total variance:
    within the states plus between them)."""


# -- state forecasts ------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _propagate_loop(probabilities, transmat, out):
    """``out[h, r]`` = p_h of row r, for h = 0..H: p_0 = ``probabilities[r]`` and
    p_h(j) = sum_i p_{h-1}(i) A_ij."""
    n_rows, n_states = probabilities.shape
    for r in range(n_rows):
        for j in range(n_states):
            out[0, r, j] = probabilities[r, j]
        for h in range(1, out.shape[0]):
            for j in range(n_states):
                total = 0.0
                for i in range(n_states):
                    total += out[h - 1, r, i] * transmat[i, j]
                out[h, r, j] = total


def propagate_states(probabilities, transmat, n_steps: int, *, validate: bool = True) -> np.ndarray:
    r"""The state distributions 0, 1, ..., ``n_steps`` steps after ``probabilities``,
    :eq:`forecast-states`:

    .. math::
        \mathbf p_h = \mathbf p_{h-1} A \quad (h \ge 1), \qquad \text{so} \qquad
        \mathbf p_h = \mathbf p_0 A^h .

    Parameters
    ----------
    probabilities : array_like, shape (K,) or (n, K)
        The distribution(s) p_0 over the K states at the origin (rows sum to 1).
    transmat : array_like, shape (K, K)
        The transition matrix A.
    n_steps : int
        The largest horizon H >= 1.

    Returns
    -------
    ndarray, shape (H + 1, K) or (H + 1, n, K)
        Entry h is the distribution h steps ahead; entry 0 is ``probabilities``.

    Raises
    ------
    ValueError
        If ``n_steps`` < 1, or for bad probabilities or a bad transition matrix (named).

    Examples
    --------
    From state 1 of a chain that stays with probability 0.9: 0.9 after one step, and
    0.9 * 0.9 + 0.1 * 0.2 = 0.83 after two.

    >>> A = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> propagate_states([1.0, 0.0], A, 2)
    array([[1.  , 0.  ],
           [0.9 , 0.1 ],
           [0.83, 0.17]])
    """
    if validate:
        transmat = check_transmat(transmat)
        n_steps = check_horizon(n_steps, "n_steps")
        rows = check_state_distributions(probabilities, transmat.shape[0])
    else:
        rows = np.atleast_2d(probabilities)
    out = np.empty((n_steps + 1, rows.shape[0], transmat.shape[0]))
    _propagate_loop(np.ascontiguousarray(rows), np.ascontiguousarray(transmat), out)
    return out[:, 0] if np.ndim(probabilities) == 1 else out


def forecast_state_proba(X, params: HMMParams, lengths=None, *, horizon: int = 1,
                         patterns=None, validate: bool = True) -> np.ndarray:
    r"""State forecasts from every origin, :eq:`forecast-states`: row t is

    .. math::
        P(q_{t+h} = j \mid O_1, \dots, O_t) = (\hat{\boldsymbol\alpha}_t A^h)_j ,

    the filtered probabilities of step t (its own sequence's past only) moved h steps by
    the chain. The forecast from the end of the data is the last row.

    Parameters
    ----------
    X : array_like, shape (T, D)
    params : HMMParams
        Covariances as (K, D, D) matrices (every covariance type).
    lengths : list of int, optional
        The sequences' lengths (None: one sequence); each sequence is filtered on its own.
    horizon : int
        The number of steps ahead h >= 1.
    patterns : MissingPatterns, optional
        The missing values' patterns of ``X`` (NaN marks a missing value, chapter 14), if
        already found (with ``validate=False``; None there means no value is missing).
    validate : bool
        False skips the input checks, for callers that made them.

    Returns
    -------
    ndarray, shape (T, K)

    Raises
    ------
    ValueError
        If ``horizon`` < 1, or for bad input (named).

    Examples
    --------
    Two states ten standard deviations apart: the last observation names its state (2),
    so tomorrow's state is distributed as row 2 of A.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
    ...                    np.array([[-5.0], [5.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> forecast_state_proba([[-5.1], [4.9]], params)[-1].round(12)
    array([0.2, 0.8])
    """
    if validate:
        X, params, lengths, patterns = check_data_and_params(X, params, lengths)
        horizon = check_horizon(horizon)
    alpha_hat = filtered(X, params, lengths, patterns=patterns, validate=False).alpha_hat
    return propagate_states(alpha_hat, params.transmat, horizon, validate=False)[horizon]


def forecast_mixture(X, params: HMMParams, lengths=None, *, horizon: int = 1,
                     patterns=None, validate: bool = True) -> PredictiveMixture:
    r"""The predictive distribution of :math:`O_{t+h}` from every origin t,
    :eq:`forecast-mixture`:

    .. math::
        p(O_{t+h} = y \mid O_1, \dots, O_t)
          = \sum_{j=1}^{K} P(q_{t+h} = j \mid O_1, \dots, O_t)\,
            \mathcal N(y; \mu_j, \Sigma_j) .

    Parameters
    ----------
    X : array_like, shape (T, D)
    params : HMMParams
    lengths : list of int, optional
        The sequences' lengths (None: one sequence).
    horizon : int
        The number of steps ahead h >= 1.
    patterns : MissingPatterns, optional
        As for :func:`forecast_state_proba`.
    validate : bool
        False skips the input checks, for callers that made them.

    Returns
    -------
    PredictiveMixture
        Weights (T, K) (:func:`forecast_state_proba`), the states' means and covariances.
        Row t scored at ``X[t + h]`` is the log score of a forecast made at t.

    Raises
    ------
    ValueError
        If ``horizon`` < 1, or for bad input (named).

    Examples
    --------
    One step ahead, the log density of the next observation is the forward pass's
    log c_{t+1} (the chain rule), here at t = 1:

    >>> from hmmcore import HMMParams, filtered
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
    ...                    np.array([[0.0], [3.0]]), np.array([[[1.0]], [[2.0]]]))
    >>> X = np.array([[0.1], [2.9], [3.2]])
    >>> mixture = forecast_mixture(X, params)
    >>> first = mixture._replace(weights=mixture.weights[:1])
    >>> bool(np.isclose(mixture_log_density(first, X[1:2])[0],
    ...                 filtered(X, params).log_scale[1], rtol=1e-12))
    True
    """
    if validate:
        X, params, lengths, patterns = check_data_and_params(X, params, lengths)
        horizon = check_horizon(horizon)
    weights = forecast_state_proba(X, params, lengths, horizon=horizon, patterns=patterns,
                                   validate=False)
    return PredictiveMixture(weights, params.means, params.covars)


def predict_next_proba(X, params: HMMParams, lengths=None, *, n_steps: int = 1,
                       patterns=None, validate: bool = True) -> np.ndarray:
    """The probabilities of the next ``n_steps`` states after the end of ``X``: row h - 1 is
    P(q_{T+h} = j | X), T the last step of the last sequence (:eq:`forecast-states`).

    Parameters
    ----------
    X : array_like, shape (T, D)
    params : HMMParams
    lengths : list of int, optional
        The sequences' lengths (None: one sequence); the forecast continues the last one.
    n_steps : int
        How many steps ahead, >= 1.
    patterns : MissingPatterns, optional
        As for :func:`forecast_state_proba`.
    validate : bool
        False skips the input checks, for callers that made them.

    Returns
    -------
    ndarray, shape (n_steps, K)

    Raises
    ------
    ValueError
        If ``n_steps`` < 1, or for bad input (named).

    Examples
    --------
    The last observation names state 2; two steps on, row 2 of A times A:
    0.2 * 0.9 + 0.8 * 0.2 = 0.34.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
    ...                    np.array([[-5.0], [5.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> predict_next_proba([[-5.1], [4.9]], params, n_steps=2).round(12)
    array([[0.2 , 0.8 ],
           [0.34, 0.66]])
    """
    if validate:
        X, params, lengths, patterns = check_data_and_params(X, params, lengths)
        n_steps = check_horizon(n_steps, "n_steps")
    last = filtered(X, params, lengths, patterns=patterns, validate=False).alpha_hat[-1]
    return propagate_states(last, params.transmat, n_steps, validate=False)[1:]


def forecast_next(X, params: HMMParams, lengths=None, *, n_steps: int = 1,
                  patterns=None, validate: bool = True) -> PredictiveMixture:
    """The predictive distributions of the next ``n_steps`` observations after the end of
    ``X``: row h - 1 is the mixture of O_{T+h} given X (:eq:`forecast-mixture`).

    Its mean is the point forecast (:func:`mixture_moments`), its quantiles the forecast
    intervals or a Value at Risk (:func:`mixture_quantile`).

    Parameters
    ----------
    X : array_like, shape (T, D)
    params : HMMParams
    lengths : list of int, optional
        The sequences' lengths (None: one sequence); the forecast continues the last one.
    n_steps : int
        How many steps ahead, >= 1.
    patterns : MissingPatterns, optional
        As for :func:`forecast_state_proba`.
    validate : bool
        False skips the input checks, for callers that made them.

    Returns
    -------
    PredictiveMixture
        Weights (n_steps, K) (:func:`predict_next_proba`), the states' means and covariances.

    Raises
    ------
    ValueError
        If ``n_steps`` < 1, or for bad input (named).

    Examples
    --------
    The last observation names state 2 (mean 5); tomorrow's mean is 0.2 * (-5) + 0.8 * 5:

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
    ...                    np.array([[-5.0], [5.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> mixture_moments(forecast_next([[-5.1], [4.9]], params)).mean.round(12)
    array([[3.]])
    """
    if validate:
        X, params, lengths, patterns = check_data_and_params(X, params, lengths)
        n_steps = check_horizon(n_steps, "n_steps")
    weights = predict_next_proba(X, params, lengths, n_steps=n_steps, patterns=patterns,
                                 validate=False)
    return PredictiveMixture(weights, params.means, params.covars)


# -- the predictive mixture -----------------------------------------------------------------------
def mixture_marginal(mixture: PredictiveMixture, features) -> PredictiveMixture:
    """The mixture of some of the features: a Gaussian mixture's marginal mixes, with the
    same weights, the marginals of its components (their means and covariances restricted to
    those features).

    Parameters
    ----------
    mixture : PredictiveMixture
    features : int or list of int
        The columns to keep, in this order.

    Returns
    -------
    PredictiveMixture
        Means (K, len(features)), covariances (K, len(features), len(features)).

    Raises
    ------
    ValueError, TypeError
        If a feature is not a column of the mixture, or for a bad mixture (named).

    Examples
    --------
    >>> from hmmcore import PredictiveMixture
    >>> means = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> mixture = PredictiveMixture(np.array([[0.5, 0.5]]), means,
    ...                             np.array([np.eye(2), 2 * np.eye(2)]))
    >>> returns = mixture_marginal(mixture, 1)
    >>> returns.means.ravel(), returns.covars.ravel()
    (array([1., 3.]), array([1., 2.]))
    """
    mixture = check_mixture(mixture)
    columns = check_features(features, mixture.means.shape[1])
    return PredictiveMixture(mixture.weights, mixture.means[:, columns],
                             mixture.covars[:, columns][:, :, columns])


def mixture_moments(mixture: PredictiveMixture) -> MixtureMoments:
    r"""The mean and covariance of each row of the mixture, :eq:`forecast-moments`:

    .. math::
        \mathbf m = \sum_j w_j \boldsymbol\mu_j, \qquad
        C = \sum_j w_j \Sigma_j + \sum_j w_j (\boldsymbol\mu_j - \mathbf m)
            (\boldsymbol\mu_j - \mathbf m)^\top ,

    the laws of total expectation and total variance given the state: the variance within
    the states plus the variance of the states' means.

    Parameters
    ----------
    mixture : PredictiveMixture

    Returns
    -------
    MixtureMoments
        ``mean`` (n, D) and ``covariance`` (n, D, D).

    Raises
    ------
    ValueError, TypeError
        For a bad mixture (named).

    Examples
    --------
    Two unit-variance states at -1 and 1, equally likely: mean 0, variance 1 (within) plus
    1 (between).

    >>> from hmmcore import PredictiveMixture
    >>> means = np.array([[-1.0], [1.0]])
    >>> mixture = PredictiveMixture(np.array([[0.5, 0.5]]), means, np.ones((2, 1, 1)))
    >>> moments = mixture_moments(mixture)
    >>> moments.mean.ravel(), moments.covariance.ravel()
    (array([0.]), array([2.]))
    """
    weights, means, covars = check_mixture(mixture)
    mean = weights @ means
    within = np.einsum("rk,kde->rde", weights, covars)
    deviations = means[None, :, :] - mean[:, None, :]  # (n, K, D): mu_k - m of each row
    between = np.einsum("rk,rkd,rke->rde", weights, deviations, deviations)
    return MixtureMoments(mean, within + between)


def mixture_log_density(mixture: PredictiveMixture, points) -> np.ndarray:
    r"""The log density of row r of the mixture at ``points[r]``, :eq:`forecast-mixture`:

    .. math::
        \log \sum_{j=1}^{K} w_{rj}\, \mathcal N(\mathbf y_r; \boldsymbol\mu_j, \Sigma_j),

    summed in log space (``logsumexp`` of the log weights plus the states' log densities,
    :eq:`seed-29`): daily densities exceed 1 and an outlier's densities underflow, so no
    density is formed on its own.

    Parameters
    ----------
    mixture : PredictiveMixture
        n rows, or one row (evaluated at every point).
    points : array_like, shape (n, D)

    Returns
    -------
    ndarray, shape (n,)
        At the realised observations: the log scores of the forecasts.

    Raises
    ------
    ValueError
        If the points do not match the mixture's rows or features (named).

    Examples
    --------
    A mixture of two equal standard normals is a standard normal: log density
    -log(2 pi) / 2 = -0.918939 at 0.

    >>> from hmmcore import PredictiveMixture
    >>> mixture = PredictiveMixture(np.array([[0.3, 0.7]]), np.zeros((2, 1)),
    ...                             np.ones((2, 1, 1)))
    >>> mixture_log_density(mixture, [[0.0]]).round(6)
    array([-0.918939])
    """
    weights, means, covars = mixture = check_mixture(mixture)
    points = check_points(points, mixture)
    log_b = gaussian_log_density(points, means, covars, validate=False)
    with np.errstate(divide="ignore"):  # a weight of 0 is log 0 = -inf: that state drops out
        log_weights = np.log(weights)
    return logsumexp(log_weights + log_b, axis=1)


def _feature_scales(mixture: PredictiveMixture, feature: int):
    """(means (K,), standard deviations (K,)) of one feature in each state."""
    return mixture.means[:, feature], np.sqrt(mixture.covars[:, feature, feature])


def mixture_cdf(mixture: PredictiveMixture, values, feature: int = 0) -> np.ndarray:
    r"""The distribution function of one feature under row r of the mixture, at
    ``values[r]``, :eq:`forecast-cdf`:

    .. math::
        F_r(x) = \sum_{j=1}^{K} w_{rj}\, \Phi\!\left(\frac{x - \mu_{jd}}{\sigma_{jd}}\right),
        \qquad \sigma_{jd} = \sqrt{(\Sigma_j)_{dd}} .

    Parameters
    ----------
    mixture : PredictiveMixture
        n rows, or one row (evaluated at every value).
    values : array_like, shape (n,)
    feature : int
        The column d.

    Returns
    -------
    ndarray, shape (n,)
        At the realised observations: the probability integral transform (PIT).

    Raises
    ------
    ValueError, TypeError
        If ``feature`` is not a column of the mixture, or the values do not match its rows.

    Examples
    --------
    A mixture symmetric about 0 puts half its mass below 0:

    >>> from hmmcore import PredictiveMixture
    >>> mixture = PredictiveMixture(np.array([[0.5, 0.5]]), np.array([[-1.0], [1.0]]),
    ...                             np.array([[[1.0]], [[1.0]]]))
    >>> mixture_cdf(mixture, [0.0]).round(12)
    array([0.5])
    """
    mixture = check_mixture(mixture)
    feature = check_feature(feature, mixture.means.shape[1])
    values = check_values(values, mixture)
    centres, scales = _feature_scales(mixture, feature)
    return np.sum(mixture.weights * ndtr((values[:, None] - centres) / scales), axis=1)


def mixture_quantile(mixture: PredictiveMixture, level, feature: int = 0) -> np.ndarray:
    r"""Quantiles of one feature under each row of the mixture (a Value at Risk),
    :eq:`forecast-quantile-bracket`.

    The mixture's distribution function F has no closed-form inverse, so the quantile
    :math:`x_\alpha` solves :math:`F(x) = \alpha` by root-finding. It lies in the bracket

    .. math::
        \min_{j:\, w_j > 0} q_j \;\le\; x_\alpha \;\le\; \max_{j:\, w_j > 0} q_j,
        \qquad q_j = \mu_{jd} + \sigma_{jd}\, \Phi^{-1}(\alpha),

    because at the upper end every state's distribution function is at least
    :math:`\alpha`, and so is their weighted mean (likewise at the lower end). F is
    continuous and increasing, so SciPy's bracketing solver
    (``scipy.optimize.elementwise.find_root``, Chandrupatla's method) converges, to a few
    units in the last place. Where rounding puts F on the wrong side of :math:`\alpha` at an
    end of the bracket, that end is a root to rounding and is returned.

    Parameters
    ----------
    mixture : PredictiveMixture
    level : float or array_like, shape (L,)
        Probability levels strictly between 0 and 1. The 1 % Value at Risk of a return in
        column d is ``-mixture_quantile(mixture, 0.01, d)``.
    feature : int
        The column d.

    Returns
    -------
    ndarray, shape (n,) for a number ``level``, (n, L) for a sequence of levels

    Raises
    ------
    ValueError, TypeError
        For a level outside (0, 1), a feature that is not a column, or a bad mixture.

    Examples
    --------
    Two equal standard normal states make one standard normal: its 5 % quantile is
    Phi^{-1}(0.05) = -1.644854, and its median 0.

    >>> from hmmcore import PredictiveMixture
    >>> mixture = PredictiveMixture(np.array([[0.4, 0.6]]), np.zeros((2, 1)),
    ...                             np.ones((2, 1, 1)))
    >>> mixture_quantile(mixture, [0.05, 0.5]).round(6)
    array([[-1.644854,  0.      ]])
    """
    mixture = check_mixture(mixture)
    feature = check_feature(feature, mixture.means.shape[1])
    levels = check_quantile_levels(level)
    centres, scales = _feature_scales(mixture, feature)
    weights = mixture.weights
    state_quantiles = centres + scales * ndtri(levels)[:, None]  # (L, K): q_j of each level
    present = (weights > 0.0)[:, None, :]  # (n, 1, K)
    low = np.min(np.where(present, state_quantiles, np.inf), axis=2).ravel()  # (n * L,)
    high = np.max(np.where(present, state_quantiles, -np.inf), axis=2).ravel()
    rows, columns = np.indices((weights.shape[0], levels.size)).reshape(2, -1)

    def excess(x, target, *row_weights):  # F(x) - level, for the rows being solved
        return np.sum(np.stack(row_weights, axis=-1) * ndtr((x[..., None] - centres) / scales), axis=-1) - target

    arguments = (levels[columns], *weights[rows].T)
    at_low, at_high = excess(low, *arguments), excess(high, *arguments)
    quantiles = np.where(at_low >= 0.0, low, high)
    inside = (at_low < 0.0) & (at_high > 0.0)
    if np.any(inside):
        # imported on use: scipy.optimize would add 0.1 s to `import hmmcore`
        from scipy.optimize.elementwise import find_root

        root = find_root(excess, (low[inside], high[inside]),
                         args=tuple(argument[inside] for argument in arguments))
        if not np.all(root.success):  # pragma: no cover - a valid bracket always converges
            raise RuntimeError("root-finding on the mixture's distribution function failed.")
        quantiles[inside] = root.x
    quantiles = quantiles.reshape(weights.shape[0], levels.size)
    return quantiles[:, 0] if np.ndim(level) == 0 else quantiles
