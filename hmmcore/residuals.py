"""One-step-ahead pseudo-residuals of a Gaussian HMM (chapter 12): does the model fit?

Given O_1..O_{t-1}, the state q_t has the predicted distribution
``p_t = alpha_hat_{t-1}^T A`` (``p_1 = pi`` at each sequence's start), so O_t is a mixture of
the K Gaussians with weights p_t (:eq:`info-predictive`). Its distribution function at O_t
is uniform on (0, 1) when the model is right (the probability integral transform), and
Phi^{-1} of it is standard normal (:eq:`info-pseudo-residual`).

For D > 1 the vector O_t is taken apart feature by feature (Rosenblatt's transform,
:eq:`info-rosenblatt`): ``u_{t,d} = P(O_{t,d} <= o_{t,d} | O_{t,1..d-1}, O_1..O_{t-1})``. Given
the first d - 1 features the state weights become ``p_t(k)`` times the density of those
features under state k, and within state k feature d is Gaussian with a conditional mean and
standard deviation read off the Cholesky factor L_k: with ``z = L_k^{-1}(o_t - mu_k)``, its
standardised value is ``z_d`` itself (:eq:`info-rosenblatt-cholesky`). The T x D uniforms,
in time order and feature order, are independent U(0, 1) under the model.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import log_ndtr, logsumexp, ndtri_exp

from .emissions import cholesky_factors
from .evaluation import filtered
from .params import HMMParams
from .validation import check_complete, check_data_and_params, sequence_bounds

LOG_HALF = np.log(0.5)


class PseudoResiduals(NamedTuple):
    """One-step-ahead pseudo-residuals (:eq:`info-pseudo-residual`, :eq:`info-rosenblatt`)."""

    uniform: np.ndarray
    """(T, D) u_{t,d}: the predictive distribution function of feature d at its value."""
    normal: np.ndarray
    """(T, D) Phi^{-1}(u_{t,d}): independent standard normal under the model."""
    log_predictive: np.ndarray
    """(T, D) log density of feature d given the earlier features and O_1..O_{t-1}; summed
    over d it is log P(O_t | O_1..O_{t-1}) = log c_t."""


def predicted_probabilities(X, params, lengths=None, *, validate: bool = True) -> np.ndarray:
    """The one-step-ahead state probabilities P(q_t = k | O_1..O_{t-1}) of every sequence:
    pi at its first step, then alpha_hat_{t-1}^T A (:eq:`info-predictive`).

    Parameters
    ----------
    X : array_like, shape (T, D)
        Observations; NaN marks a missing value (chapter 14): the filter then uses the density
        of the observed coordinates, and a fully missing row is a transition alone.
    params : HMMParams
    lengths : list of int, optional
        Lengths of the sequences (None: one sequence).

    Returns
    -------
    ndarray, shape (T, K)

    Raises
    ------
    ValueError
        For bad input, naming the argument.

    Examples
    --------
    Two states that alternate: whatever day 1 showed, day 2's state is the other one.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([0.5, 0.5]), np.array([[0.0, 1.0], [1.0, 0.0]]),
    ...                    np.array([[-3.0], [3.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> predicted_probabilities([[-3.0], [3.0]], params).round(6)
    array([[0.5, 0.5],
           [0. , 1. ]])
    """
    patterns = None  # with validate=False: complete data (as pseudo_residuals passes them)
    if validate:
        X, params, lengths, patterns = check_data_and_params(X, params, lengths)
    elif lengths is None:
        lengths = [X.shape[0]]
    alpha_hat = filtered(X, params, lengths, patterns=patterns, validate=False).alpha_hat
    predicted = np.empty(alpha_hat.shape)
    for begin, end in sequence_bounds(lengths):
        predicted[begin] = params.startprob
        predicted[begin + 1:end] = alpha_hat[begin:end - 1] @ params.transmat
    return predicted


def pseudo_residuals(X, params: HMMParams, lengths=None, *, validate: bool = True) -> PseudoResiduals:
    r"""Uniform and normal one-step-ahead pseudo-residuals, feature by feature (Rosenblatt).

    .. math::
        u_{t,d} = \sum_k w_{t,k,d}\, \Phi(z_{t,k,d}), \qquad
        w_{t,k,d} \propto p_t(k) \prod_{e<d} \phi(z_{t,k,e}) / (L_k)_{ee},

    with :math:`z_{t,k} = L_k^{-1}(O_t - \mu_k)` and :math:`p_t` the predicted state
    probabilities (:eq:`info-rosenblatt`); :math:`r_{t,d} = \Phi^{-1}(u_{t,d})`.

    Parameters
    ----------
    X : array_like, shape (T, D)
        Observations, the sequences of ``lengths`` one after another.
    params : HMMParams
        The fitted parameters (covariances as (K, D, D) matrices).
    lengths : list of int, optional
        Lengths of the sequences (None: one sequence).

    Returns
    -------
    PseudoResiduals
        ``uniform`` and ``normal`` (T, D), and the log conditional densities. The features
        are conditioned in the order of the columns of ``X``: the residuals of later
        features depend on that order.

    Raises
    ------
    ValueError
        For bad input, naming the argument, and for missing values (NaN): the transform is
        derived for complete observations.

    Notes
    -----
    Tails are computed in log space from both sides (log u and log(1 - u)), so a residual of
    12 or -12 standard deviations is returned as such, never as +-inf.

    Examples
    --------
    One standard normal state: the residuals are the observations.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.0]]),
    ...                    np.array([[[1.0]]]))
    >>> pseudo_residuals([[-1.5], [0.2], [9.0]], params).normal.ravel().round(12)
    array([-1.5,  0.2,  9. ])
    """
    if validate:
        X, params, lengths, _ = check_data_and_params(X, params, lengths)
        check_complete(X, "the pseudo-residuals (chapter 12)")
    predicted = predicted_probabilities(X, params, lengths, validate=False)
    factors = cholesky_factors(params.covars, name="params.covars")
    # z[t, k, :] = L_k^{-1} (o_t - mu_k): each feature standardised given the earlier ones
    inverse_factors = np.linalg.inv(factors)  # (K, D, D), lower triangular
    z = np.einsum("kde,tke->tkd", inverse_factors, X[:, None, :] - params.means[None])
    log_sd = np.log(np.diagonal(factors, axis1=1, axis2=2))  # (K, D): log (L_k)_dd
    log_conditional = -0.5 * z**2 - 0.5 * np.log(2 * np.pi) - log_sd[None]  # (T, K, D)
    earlier = np.cumsum(log_conditional, axis=2) - log_conditional  # the features before d
    with np.errstate(divide="ignore"):
        log_weights = np.log(predicted)[:, :, None] + earlier  # (T, K, D), not normalised
    log_weights -= logsumexp(log_weights, axis=1, keepdims=True)
    log_lower = logsumexp(log_weights + log_ndtr(z), axis=1)  # log u
    log_upper = logsumexp(log_weights + log_ndtr(-z), axis=1)  # log (1 - u)
    normal = np.where(log_lower < LOG_HALF, ndtri_exp(log_lower), -ndtri_exp(log_upper))
    log_predictive = logsumexp(log_weights + log_conditional, axis=1)
    return PseudoResiduals(np.exp(log_lower), normal, log_predictive)
