"""The M-step: one function per update equation of the book.

Every function accepts the posteriors of one parameter set, or of R sets stacked along a
leading axis (restarts advanced together).

**Empty states.** A state whose expected occupancy ``N_k = sum_t gamma_t(k)`` is below
:data:`EMPTY_STATE_OCCUPANCY` does not appear in the Q-function's terms for its own
parameters, so every value of them maximises Q. We then keep its ``previous`` parameters
(its mean, covariance and row of A): the choice that leaves EM's monotonicity intact and never
divides by zero. Without ``previous`` such a state is an error, not a NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .emissions import quadratic_features
from .validation import check_lengths, check_nonnegative

#: Expected occupancy below which a state counts as empty (see the module docstring).
EMPTY_STATE_OCCUPANCY = 1e-10


def _keep_previous(updated, previous, empty, what: str):
    """Replace the rows of ``updated`` that belong to empty states by ``previous``."""
    if not np.any(empty):
        return updated
    if previous is None:
        states = np.argwhere(empty)[:, -1].tolist()
        raise ValueError(
            f"state(s) {states} have zero expected occupancy, so Eq. for the {what} is 0/0; "
            f"pass `previous` (the current {what}) to keep them."
        )
    previous = np.broadcast_to(np.asarray(previous, dtype=np.float64), updated.shape)
    return np.where(empty.reshape(empty.shape + (1,) * (updated.ndim - empty.ndim)), previous, updated)


def update_startprob(gamma, lengths=None) -> np.ndarray:
    r"""Eq. (28): :math:`\hat\pi_i = \gamma_1(i)`, averaged over the starts of the sequences.

    ``gamma`` is (T, K) (or (R, T, K)); ``lengths`` splits T into sequences as in ``fit``.
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    lengths = check_lengths(lengths, gamma.shape[-2])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    first = gamma[..., starts, :].mean(axis=-2)
    return first / first.sum(axis=-1, keepdims=True)


def update_transmat(xi_sum, previous=None) -> np.ndarray:
    r"""Eq. (27): :math:`\hat A_{ij} = \sum_t \xi_t(i,j) / \sum_t \gamma_t(i)`.

    The denominator is the row sum of ``xi_sum`` (Eq. 22: summing xi over j gives gamma), taken
    over the same time steps as the numerator, so every row of the result sums to 1.
    """
    xi_sum = np.asarray(xi_sum, dtype=np.float64)
    row_totals = xi_sum.sum(axis=-1)
    empty = row_totals < EMPTY_STATE_OCCUPANCY
    with np.errstate(divide="ignore", invalid="ignore"):
        updated = xi_sum / row_totals[..., None]
    return _keep_previous(updated, previous, empty, "transition row")


def occupancy(gamma) -> np.ndarray:
    r""":math:`N_k = \sum_t \gamma_t(k)`, the expected number of steps spent in each state."""
    gamma = np.asarray(gamma, dtype=np.float64)
    return np.ones(gamma.shape[-2]) @ gamma  # a vector-matrix product: faster than sum(axis=-2)


class WeightedMoments(NamedTuple):
    r"""The sums over t that Eqs. (35) and (41) need, for every state k, about a centre c."""

    occupancy: np.ndarray
    r"""(..., K) :math:`N_k = \sum_t \gamma_t(k)`."""
    first: np.ndarray
    r"""(..., K, D) :math:`\sum_t \gamma_t(k) (r_t - c)`."""
    second: np.ndarray
    r"""(..., K, D, D) :math:`\sum_t \gamma_t(k) (r_t - c)(r_t - c)^\top`."""
    centre: np.ndarray
    """(D,) the centre c."""


def weighted_moments(X, gamma) -> WeightedMoments:
    """The sums of :class:`WeightedMoments` about the data mean: one matrix product of gamma with
    the quadratic features of the data (:func:`hmmcore.emissions.quadratic_features`).

    Centring on the data mean keeps rounding small in Eq. (41)'s expanded form below.
    """
    X = np.asarray(X, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    centre = X.mean(axis=0)
    return moments_from_features(np.swapaxes(gamma, -1, -2) @ quadratic_features(X, centre).T, centre)


def moments_from_features(weighted_features: np.ndarray, centre: np.ndarray) -> WeightedMoments:
    """Unpack gamma's sums (..., K, F) against the quadratic features [1, y, y_i y_j (i <= j)]
    of y = r - ``centre``."""
    n_features = centre.shape[0]
    upper = np.triu_indices(n_features)
    second = np.empty(weighted_features.shape[:-1] + (n_features, n_features))
    second[..., upper[0], upper[1]] = weighted_features[..., 1 + n_features :]
    second[..., upper[1], upper[0]] = weighted_features[..., 1 + n_features :]
    return WeightedMoments(weighted_features[..., 0], weighted_features[..., 1 : 1 + n_features], second, centre)


def update_means(X, gamma, previous=None) -> np.ndarray:
    r"""Eq. (35): :math:`\hat\mu_k = \sum_t \gamma_t(k)\, r_t / \sum_t \gamma_t(k)`."""
    return means_from_moments(weighted_moments(X, gamma), previous)


def means_from_moments(moments: WeightedMoments, previous=None) -> np.ndarray:
    r"""Eq. (35) from the weighted sums: :math:`\hat\mu_k = c + \sum_t \gamma_t(k)(r_t - c) / N_k`."""
    empty = moments.occupancy < EMPTY_STATE_OCCUPANCY
    with np.errstate(divide="ignore", invalid="ignore"):
        updated = moments.centre + moments.first / moments.occupancy[..., None]
    return _keep_previous(updated, previous, empty, "mean")


def update_covars(X, gamma, means, previous=None, reg_covar: float = 0.0) -> np.ndarray:
    r"""Eq. (41): the gamma-weighted sample covariance of each state, full matrices.

    .. math:: \hat\Sigma_k = \frac{\sum_t \gamma_t(k)(r_t-\hat\mu_k)(r_t-\hat\mu_k)^\top}{\sum_t\gamma_t(k)}
              \; (+\ \texttt{reg\_covar}\cdot I)

    ``means`` must be the *updated* means of Eq. (35). ``reg_covar`` adds ``reg_covar * I`` inside
    the M-step (0 gives the plain maximum-likelihood update).
    """
    return covars_from_moments(weighted_moments(X, gamma), means, previous, reg_covar)


def covars_from_moments(moments: WeightedMoments, means, previous=None, reg_covar: float = 0.0) -> np.ndarray:
    r"""Eq. (41) from the weighted sums, for any ``means``: with :math:`d_k = \mu_k - c`,

    .. math:: \sum_t \gamma_t(k)(r_t-\mu_k)(r_t-\mu_k)^\top
              = \sum_t \gamma_t(k)(r_t-c)(r_t-c)^\top - s_k d_k^\top - d_k s_k^\top + N_k d_k d_k^\top,
              \qquad s_k = \sum_t \gamma_t(k)(r_t-c),

    exact for any :math:`\mu_k`; rounding grows only for a mean many of its state's standard
    deviations away from c.
    """
    means = np.asarray(means, dtype=np.float64)
    offset = means - moments.centre
    cross = moments.first[..., :, None] * offset[..., None, :]
    spread = moments.occupancy[..., None, None] * (offset[..., :, None] * offset[..., None, :])
    scatter = moments.second - cross - np.swapaxes(cross, -1, -2) + spread
    empty = moments.occupancy < EMPTY_STATE_OCCUPANCY
    with np.errstate(divide="ignore", invalid="ignore"):
        updated = scatter / moments.occupancy[..., None, None]
    updated = 0.5 * (updated + np.swapaxes(updated, -1, -2))
    updated = updated + reg_covar * np.eye(means.shape[-1])
    return _keep_previous(updated, previous, empty, "covariance")


def update_covars_diag(X, gamma, means, previous=None, reg_covar: float = 0.0) -> np.ndarray:
    r"""Eq. (41) restricted to diagonal covariances: per-feature weighted variances.

    Maximising Q over diagonal matrices gives the diagonal of the full update; the result is
    returned as (..., K, D, D) diagonal matrices so every other function sees one format.
    """
    return diagonal_part(update_covars(X, gamma, means, previous=previous, reg_covar=reg_covar))


def diagonal_part(covars: np.ndarray) -> np.ndarray:
    """The diagonal matrices of (..., D, D) ``covars``."""
    return np.diagonal(covars, axis1=-2, axis2=-1)[..., None] * np.eye(covars.shape[-1])


def regularize_covars(covars, reg_covar: float) -> np.ndarray:
    r"""Post-hoc regularisation of the source system: :math:`\Sigma_k \leftarrow \Sigma_k + \lambda I`."""
    covars = np.asarray(covars, dtype=np.float64)
    check_nonnegative(reg_covar, "reg_covar")
    return covars + reg_covar * np.eye(covars.shape[-1])
