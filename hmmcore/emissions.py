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

    With ``Sigma_k = L L^T`` the quadratic form is ``||L^{-1}(x_t - mu_k)||^2``, computed by a
    triangular solve (no inverse is formed) and ``log|Sigma_k| = 2 sum log diag L``.

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
    flat_means = means.reshape(-1, n_features)
    factors = cholesky_factors(covars).reshape(-1, n_features, n_features)
    out = np.empty((flat_means.shape[0], X.shape[0]))
    for index, (mean, factor) in enumerate(zip(flat_means, factors)):
        whitened = solve_triangular(factor, (X - mean).T, lower=True, check_finite=False)
        mahalanobis = np.einsum("dt,dt->t", whitened, whitened)
        log_det = 2.0 * np.log(np.diagonal(factor)).sum()
        out[index] = -0.5 * (n_features * np.log(2.0 * np.pi) + log_det + mahalanobis)
    out = out.reshape(*batch_shape, n_components, X.shape[0])
    return np.swapaxes(out, -1, -2)
