"""Covariance types: hmmlearn's compact storage, the full matrices hmmcore computes with, and
the rules that differ from one type to another (free parameters, the starting spread).

Four types, as in hmmlearn:

========== ===================================== ================= ============================
type        Sigma_k                               compact storage   free scalars (K states, D)
========== ===================================== ================= ============================
full        any symmetric positive definite       (K, D, D)         K D (D + 1) / 2
diag        diagonal                              (K, D)            K D
spherical   c_k I                                 (K,)              K
tied        one matrix shared by every state      (D, D)            D (D + 1) / 2
========== ===================================== ================= ============================

Everywhere else in hmmcore a covariance is a (K, D, D) array of full matrices (of the type's
form); this module converts between the two. Its functions trust their inputs: the checks of a
user's values are in :mod:`hmmcore.validation`. The M-step of each type is in
:mod:`hmmcore.mstep`.
"""

from __future__ import annotations

import numpy as np

#: The covariance types, as hmmlearn names them.
COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


def compact_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
    """The shape of hmmlearn's storage ``_covars_`` for ``covariance_type``."""
    return {
        "spherical": (n_components,),
        "diag": (n_components, n_features),
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
    }[covariance_type]


def covars_prior_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
    """The shape of the numerator that ``covars_prior`` is added to in the M-step (hmmlearn's
    arithmetic): each state's matrix for "full", the pooled matrix for "tied", each state's
    variances for "diag" and "spherical" (before "spherical" averages them)."""
    return {
        "spherical": (n_components, n_features),
        "diag": (n_components, n_features),
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
    }[covariance_type]


def full_from_compact(compact, covariance_type: str, n_components: int, n_features: int) -> np.ndarray:
    """(K, D, D) matrices from hmmlearn's storage of ``covariance_type``.

    Examples
    --------
    >>> full_from_compact(np.array([1.0, 4.0]), "spherical", 2, 2)[1]
    array([[4., 0.],
           [0., 4.]])
    """
    compact = np.asarray(compact, dtype=np.float64)
    identity = np.eye(n_features)
    if covariance_type == "spherical":
        return compact[:, None, None] * identity
    if covariance_type == "diag":
        return compact[:, :, None] * identity
    if covariance_type == "tied":
        return np.repeat(compact[None], n_components, axis=0)
    return compact.copy()


def compact_from_full(covars, covariance_type: str) -> np.ndarray:
    """hmmlearn's storage from (K, D, D) matrices of the type's form (the inverse of
    :func:`full_from_compact`, exact).

    Examples
    --------
    >>> full = np.array([np.diag([1.0, 2.0]), np.diag([3.0, 4.0])])
    >>> compact_from_full(full, "diag")
    array([[1., 2.],
           [3., 4.]])
    """
    covars = np.asarray(covars, dtype=np.float64)
    if covariance_type == "spherical":
        return covars[:, 0, 0].copy()
    if covariance_type == "diag":
        return np.diagonal(covars, axis1=1, axis2=2).copy()
    if covariance_type == "tied":
        return covars[0].copy()
    return covars.copy()


def n_covariance_parameters(covariance_type: str, n_components: int, n_features: int) -> int:
    """The number of free scalars in the covariances (hmmlearn's count, used by AIC and BIC).

    Examples
    --------
    >>> [n_covariance_parameters(t, 3, 3) for t in COVARIANCE_TYPES]
    [18, 9, 3, 6]
    """
    return {
        "spherical": n_components,
        "diag": n_components * n_features,
        "full": n_components * n_features * (n_features + 1) // 2,
        "tied": n_features * (n_features + 1) // 2,
    }[covariance_type]


def initial_covars(X, covariance_type: str, n_components: int, min_covar: float, *, spread=None) -> np.ndarray:
    """hmmlearn's starting covariances: the data's covariance plus ``min_covar * I``, in the
    type's form (its diagonal for "diag"; the mean of all its entries times I for
    "spherical"), the same for every state; returned as (K, D, D) matrices. ``spread``: the
    data's covariance, if computed otherwise (with missing values, its maximum-likelihood
    estimate); by default ``np.cov`` of ``X``.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> initial_covars(X, "diag", 2, min_covar=0.5)[0]
    array([[1.83333333, 0.        ],
           [0.        , 1.83333333]])
    """
    n_samples, n_features = X.shape
    if spread is None:
        spread = np.atleast_2d(np.cov(X, rowvar=False)) if n_samples > 1 else np.zeros((n_features,) * 2)
    spread = spread + min_covar * np.eye(n_features)
    compact = {
        "spherical": lambda: np.full(n_components, spread.mean()),
        "diag": lambda: np.tile(np.diag(spread), (n_components, 1)),
        "full": lambda: np.tile(spread, (n_components, 1, 1)),
        "tied": lambda: spread,
    }[covariance_type]()
    return full_from_compact(compact, covariance_type, n_components, n_features)
