"""Gaussian emission log-densities, Eq. (29) of the book.

The E-step only ever sees the (T, K) matrix ``log_b[t, k] = log b_k(O_t)`` produced here.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from .validation import check_covars, check_means, check_observations


def cholesky_factors(covars: np.ndarray, name: str = "covars") -> np.ndarray:
    """Lower Cholesky factors ``L`` with ``L @ L.T == covars``; a clear error if one is not PD."""
    try:
        return np.linalg.cholesky(covars)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"`{name}` must be positive definite; a Cholesky factorisation failed. "
            "Regularise with a positive `reg_covar`."
        ) from None


def gaussian_log_density(X, means, covars) -> np.ndarray:
    r"""Eq. (29): ``log N(x_t; mu_k, Sigma_k)`` for every t and k.

    .. math::
        \log b_k(x_t) = -\tfrac{D}{2}\log 2\pi - \tfrac12\log|\Sigma_k|
                        - \tfrac12 (x_t-\mu_k)^\top \Sigma_k^{-1} (x_t-\mu_k)

    With ``Sigma_k = L L^T`` the quadratic form is ``||L^{-1} x_t - L^{-1} mu_k||^2`` and
    ``log|Sigma_k| = 2 sum log diag L``. The D x D matrices ``L^{-1}`` come from a triangular solve
    of the identity (no covariance matrix is inverted); then all K (or R K) whitenings of the
    data are one matrix product.

    Parameters
    ----------
    X : (T, D) observations.
    means : (K, D), or (R, K, D) for R parameter sets at once.
    covars : (K, D, D) full covariance matrices, or (R, K, D, D).

    Returns
    -------
    (T, K) array, or (R, T, K) when the parameters carry a leading axis.
    """
    X = check_observations(X)
    n_features = X.shape[1]
    means = check_means(means, n_features=n_features)
    covars = check_covars(covars, n_components=means.shape[-2], n_features=n_features)
    return _gaussian_log_density(X, means, covars)


def _gaussian_log_density(X: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """Eq. (29) on already-validated arrays; leading axes of ``means``/``covars`` are kept."""
    batch_shape = means.shape[:-2]
    n_components, n_features = means.shape[-2:]
    n_steps = X.shape[0]
    factors = cholesky_factors(covars).reshape(-1, n_features, n_features)
    identity = np.eye(n_features)
    whitening = np.stack([solve_triangular(factor, identity, lower=True, check_finite=False) for factor in factors])
    # whitened[c, d, t] = (L_c^{-1} x_t)_d - (L_c^{-1} mu_c)_d for every component c
    whitened = whitening.reshape(-1, n_features) @ X.T
    whitened -= (whitening @ means.reshape(-1, n_features, 1)).reshape(-1, 1)
    whitened *= whitened
    whitened = whitened.reshape(-1, n_features, n_steps)
    mahalanobis = whitened[:, 0]
    for feature in range(1, n_features):
        mahalanobis += whitened[:, feature]
    log_det = 2.0 * np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
    mahalanobis *= -0.5
    out = np.empty(batch_shape + (n_steps, n_components))
    np.add(
        mahalanobis.reshape(batch_shape + (n_components, n_steps)),
        (-0.5 * (n_features * np.log(2.0 * np.pi) + log_det)).reshape(batch_shape + (n_components, 1)),
        out=np.swapaxes(out, -1, -2),
    )
    return out
