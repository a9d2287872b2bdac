"""Gaussian emission log-densities: the derivation's equation (29).

The E-step only ever sees the (T, K) matrix ``log_b[t, k] = log b_k(O_t)`` produced here.
Every covariance type is passed here as K full (D, D) matrices (a diagonal, spherical or tied
model's matrices are simply diagonal, scalar or equal).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .validation import check_covars, check_means, check_observations


class NotPositiveDefiniteError(ValueError):
    """A covariance matrix is not positive definite; ``state`` names the first such state."""

    def __init__(self, state: int, name: str = "covars"):
        super().__init__(
            f"`{name}[{state}]` (the covariance of state {state}) is not positive definite: its "
            "Cholesky factorisation failed. A state whose covariance collapses has been fitted "
            "to too few distinct points; regularise with a positive `reg_covar` or `covars_prior`."
        )
        self.state = state


def cholesky_factors(covars: np.ndarray, name: str = "covars") -> np.ndarray:
    """Lower Cholesky factors ``L_k`` with ``L_k L_k^T = Sigma_k`` for (K, D, D) ``covars``.

    Raises
    ------
    NotPositiveDefiniteError
        Naming the first state whose covariance is not positive definite.

    Examples
    --------
    >>> cholesky_factors(np.array([[[4.0, 2.0], [2.0, 2.0]]]))[0]
    array([[2., 0.],
           [1., 1.]])
    """
    factors = np.empty_like(covars)
    for state, covar in enumerate(covars):
        try:
            factors[state] = np.linalg.cholesky(covar)
        except np.linalg.LinAlgError:
            raise NotPositiveDefiniteError(state, name) from None
    return factors


@njit(cache=True, nogil=True)
def _log_density_loop(X, means, factors, out):
    r"""The derivation's (29) for every t and k, with :math:`\Sigma_k = L_k L_k^\top`:

    .. math::
        \log b_k(x_t) = -\tfrac{D}{2}\log 2\pi - \sum_d \log L_{k,dd} - \tfrac12 \|z\|^2,
        \qquad L_k z = x_t - \mu_k

    (z by forward substitution: no matrix is inverted).
    """
    n_steps, n_features = X.shape
    n_states = means.shape[0]
    z = np.empty(n_features)
    inverse_diagonal = np.empty(n_features)
    for k in range(n_states):
        log_det_half = 0.0
        for d in range(n_features):
            log_det_half += math.log(factors[k, d, d])
            inverse_diagonal[d] = 1.0 / factors[k, d, d]
        log_normaliser = -0.5 * n_features * math.log(2.0 * math.pi) - log_det_half
        for t in range(n_steps):
            squared = 0.0
            for d in range(n_features):
                value = X[t, d] - means[k, d]
                for e in range(d):
                    value -= factors[k, d, e] * z[e]
                z[d] = value * inverse_diagonal[d]
                squared += z[d] * z[d]
            out[t, k] = log_normaliser - 0.5 * squared


def gaussian_log_density(X, means, covars, *, cholesky=None, validate: bool = True) -> np.ndarray:
    r"""The Gaussian log-density, :eq:`seed-29`: ``log N(x_t; mu_k, Sigma_k)`` for every t and k.

    .. math::
        \log b_k(x_t) = -\tfrac{D}{2}\log 2\pi - \tfrac12\log|\Sigma_k|
                        - \tfrac12 (x_t-\mu_k)^\top \Sigma_k^{-1} (x_t-\mu_k)

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations.
    means : array_like, shape (K, D)
    covars : array_like, shape (K, D, D)
        Full covariance matrices (of any covariance type's form).
    cholesky : ndarray, shape (K, D, D), optional
        Their lower Cholesky factors, if already computed (the M-step computes them).
    validate : bool
        False skips the input checks, for callers that made them.

    Returns
    -------
    ndarray, shape (T, K)
        ``log_b[t, k] = log b_k(x_t)``.

    Raises
    ------
    NotPositiveDefiniteError
        If a covariance is not positive definite (naming the state).

    Examples
    --------
    >>> gaussian_log_density([[0.0], [1.0]], [[0.0]], [[[1.0]]]).round(4)
    array([[-0.9189],
           [-1.4189]])
    """
    if validate:
        X = check_observations(X)
        means = check_means(means, n_features=X.shape[1])
        covars = check_covars(covars, n_components=means.shape[0], n_features=X.shape[1])
    if cholesky is None:
        cholesky = cholesky_factors(covars)
    out = np.empty((X.shape[0], means.shape[0]))
    _log_density_loop(X, means, cholesky, out)
    return out
