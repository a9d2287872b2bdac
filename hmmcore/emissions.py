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


def whitening_matrices(factors: np.ndarray) -> np.ndarray:
    """``L^{-1}`` for every lower Cholesky factor ``L`` (..., D, D): a triangular solve of the
    identity, so no covariance matrix is inverted."""
    identity = np.broadcast_to(np.eye(factors.shape[-1]), factors.shape)
    return solve_triangular(factors, identity, lower=True, check_finite=False)


def log_normalisers(factors: np.ndarray) -> np.ndarray:
    """``-D/2 log 2 pi - 1/2 log|Sigma|`` for every lower Cholesky factor (..., D, D) of Sigma,
    with ``log|Sigma| = 2 sum log diag L``."""
    log_det = 2.0 * np.log(np.diagonal(factors, axis1=-2, axis2=-1)).sum(axis=-1)
    return -0.5 * (factors.shape[-1] * np.log(2.0 * np.pi) + log_det)


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
    whitening = whitening_matrices(factors)
    # whitened[c, d, t] = (L_c^{-1} x_t)_d - (L_c^{-1} mu_c)_d for every component c
    whitened = whitening.reshape(-1, n_features) @ X.T
    whitened -= (whitening @ means.reshape(-1, n_features, 1)).reshape(-1, 1)
    whitened *= whitened
    whitened = whitened.reshape(-1, n_features, n_steps)
    mahalanobis = whitened[:, 0]
    for feature in range(1, n_features):
        mahalanobis += whitened[:, feature]
    mahalanobis *= -0.5
    out = np.empty(batch_shape + (n_steps, n_components))
    np.add(
        mahalanobis.reshape(batch_shape + (n_components, n_steps)),
        log_normalisers(factors).reshape(batch_shape + (n_components, 1)),
        out=np.swapaxes(out, -1, -2),
    )
    return out


def quadratic_features(X: np.ndarray, centre: np.ndarray) -> np.ndarray:
    r"""(F, T) features of ``y_t = x_t - centre``: 1, the D coordinates, and the D(D+1)/2 products
    :math:`y_{ti} y_{tj}` (i <= j). Eq. (29) is a quadratic polynomial in :math:`y_t`, so for
    every state it is a linear combination of these (:func:`log_density_coefficients`)."""
    centred = (X - centre).T
    upper = np.triu_indices(X.shape[1])
    return np.concatenate([np.ones((1, X.shape[0])), centred, centred[upper[0]] * centred[upper[1]]])


def log_density_coefficients(means: np.ndarray, covars: np.ndarray, centre: np.ndarray) -> np.ndarray:
    r"""(..., K, F) coefficients with ``coefficients @ quadratic_features(X, centre) = log b_k(x_t)``.

    Eq. (29) expanded with :math:`P = \Sigma_k^{-1}` and :math:`m = \mu_k - c`:

    .. math::
        \log b_k(x_t) = \underbrace{-\tfrac{D}{2}\log 2\pi - \tfrac12\log|\Sigma_k| - \tfrac12 m^\top P m}_{\text{constant}}
                        + (P m)^\top y_t - \tfrac12 \sum_i P_{ii} y_{ti}^2 - \sum_{i<j} P_{ij} y_{ti} y_{tj}.

    All K (or R K) densities at all T steps are then one matrix product. Expanding the square
    costs accuracy only when the data and means lie many standard deviations from ``centre``;
    the EM loop centres on the data mean.
    """
    n_features = means.shape[-1]
    factors = cholesky_factors(covars)
    whitening = whitening_matrices(factors)
    precision = np.swapaxes(whitening, -1, -2) @ whitening
    whitened_offset = whitening @ (means - centre)[..., None]  # m^T P m = ||L^{-1} m||^2
    linear = (np.swapaxes(whitening, -1, -2) @ whitened_offset)[..., 0]
    constant = log_normalisers(factors) - 0.5 * (whitened_offset[..., 0] ** 2).sum(axis=-1)
    upper = np.triu_indices(n_features)
    quadratic = np.where(upper[0] == upper[1], -0.5, -1.0) * precision[..., upper[0], upper[1]]
    return np.concatenate([constant[..., None], linear, quadratic], axis=-1)
