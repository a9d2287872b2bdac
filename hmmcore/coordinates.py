"""Unconstrained coordinates of a Gaussian HMM, and the way back to the natural parameters.

The observed information of chapter 12 is a matrix of second derivatives, so it needs
coordinates in which every parameter can move freely (:eq:`info-alr`, :eq:`info-cholesky`):

* each row of A (and pi, when it is a free parameter) by its **additive log-ratio** with the
  last state as reference, ``zeta_ij = log(A_ij / A_iK)`` for ``j < K``, whose inverse is the
  softmax with the last entry fixed at 0;
* each mean as it is;
* each covariance by its **Cholesky factor with a log diagonal**: ``Sigma = L L^T`` with
  ``L_aa = exp(l_a)`` and the entries below the diagonal free. The other covariance types
  are linear restrictions of these coordinates: "diag" has one log-variance per state and
  feature (``l_kd = s_kd / 2``, no entries below the diagonal), "spherical" one log-variance
  per state (``l_kd = s_k / 2`` for every d), "tied" one Cholesky factor shared by the states.

Because every covariance type is a *linear* map of the per-state Cholesky coordinates
(``Coordinates.emission_map``), its scores and information are those of the per-state
coordinates pushed through a constant matrix, with no second-order term.

How the chain starts (``start``): ``"free"``,
pi has K - 1 log-ratio coordinates; ``"fixed"``, pi is known and has none; ``"stationary"``,
pi is the stationary distribution of A, has no coordinates of its own, and its derivatives
flow into those of A (:eq:`info-stationary-derivatives`).

The functions here trust their inputs (the public functions of :mod:`hmmcore.information`
and :mod:`hmmcore.uncertainty` check them).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .chain import stationary_distribution
from .params import HMMParams
from .validation import check_covariance_type, check_positive_int, check_start


class Coordinates(NamedTuple):
    """The layout of the unconstrained coordinate vector theta for one model shape."""

    names: tuple
    """Name of each coordinate, e.g. ``"alr transmat[0, 1]"``, ``"log chol covars[2, 1, 1]"``."""
    n_components: int
    n_features: int
    covariance_type: str
    start: str
    start_slice: slice
    """The K - 1 log-ratio coordinates of pi (empty unless ``start="free"``)."""
    transmat_slice: slice
    """The K (K - 1) log-ratio coordinates of A, row by row."""
    means_slice: slice
    """The K D means, state by state."""
    covars_slice: slice
    """The covariance type's coordinates."""
    emission_map: np.ndarray
    """(K, E, P): d phi_k / d theta, where phi_k = (mu_k, the D(D+1)/2 entries of the
    Cholesky factor of Sigma_k row by row, the diagonal ones as logs) has E = D + D(D+1)/2
    entries. A constant: every covariance type is a linear map of these coordinates."""

    @property
    def size(self) -> int:
        """P, the number of free parameters."""
        return len(self.names)


def lower_pairs(n_features: int) -> list[tuple[int, int]]:
    """The (a, b) positions on and below the diagonal, row by row: (0,0), (1,0), (1,1), ..."""
    return [(a, b) for a in range(n_features) for b in range(a + 1)]


def coordinate_layout(n_components: int, n_features: int, covariance_type: str = "full",
                      start: str = "free") -> Coordinates:
    """The coordinates of a K-state, D-feature model of ``covariance_type`` under ``start``.

    Parameters
    ----------
    n_components, n_features : int
        K and D.
    covariance_type : {"full", "diag", "spherical", "tied"}
    start : {"free", "fixed", "stationary"}
        How the chain starts (see the module's docstring).

    Returns
    -------
    Coordinates

    Raises
    ------
    ValueError
        If ``n_components`` or ``n_features`` is not a positive integer, or
        ``covariance_type`` or ``start`` is not one of the choices (named in the message).

    Examples
    --------
    The number of coordinates is hmmlearn's count of free parameters (less pi's K - 1
    when pi is not free): 2 + 6 + 9 + 18 = 35 for K = 3, D = 3, full covariances.

    >>> coordinate_layout(3, 3).size, coordinate_layout(3, 3, start="fixed").size
    (35, 33)
    >>> for name in coordinate_layout(2, 1, "tied", "stationary").names:
    ...     print(name)
    alr transmat[0, 0]
    alr transmat[1, 0]
    means[0, 0]
    means[1, 0]
    log chol covars[:, 0, 0]
    """
    K = check_positive_int(n_components, "n_components")
    D = check_positive_int(n_features, "n_features")
    check_covariance_type(covariance_type)
    check_start(start)
    pairs = lower_pairs(D)
    names = []
    if start == "free":
        names += [f"alr startprob[{k}]" for k in range(K - 1)]
    start_slice = slice(0, len(names))
    names += [f"alr transmat[{i}, {j}]" for i in range(K) for j in range(K - 1)]
    transmat_slice = slice(start_slice.stop, len(names))
    names += [f"means[{k}, {d}]" for k in range(K) for d in range(D)]
    means_slice = slice(transmat_slice.stop, len(names))

    def cholesky_name(state, a, b):
        return f"log chol covars[{state}, {a}, {a}]" if a == b else f"chol covars[{state}, {a}, {b}]"

    if covariance_type == "full":
        names += [cholesky_name(k, a, b) for k in range(K) for a, b in pairs]
    elif covariance_type == "tied":
        names += [cholesky_name(":", a, b) for a, b in pairs]
    elif covariance_type == "diag":
        names += [f"log covars[{k}, {d}, {d}]" for k in range(K) for d in range(D)]
    else:
        names += [f"log covars[{k}] (every variance)" for k in range(K)]
    covars_slice = slice(means_slice.stop, len(names))

    emission_map = np.zeros((K, D + len(pairs), len(names)))
    for k in range(K):
        for d in range(D):
            emission_map[k, d, means_slice.start + k * D + d] = 1.0
        for e, (a, b) in enumerate(pairs):
            row = D + e
            if covariance_type == "full":
                emission_map[k, row, covars_slice.start + k * len(pairs) + e] = 1.0
            elif covariance_type == "tied":
                emission_map[k, row, covars_slice.start + e] = 1.0
            elif a == b and covariance_type == "diag":  # l_kd = s_kd / 2
                emission_map[k, row, covars_slice.start + k * D + a] = 0.5
            elif a == b:  # spherical: l_kd = s_k / 2 for every d
                emission_map[k, row, covars_slice.start + k] = 0.5
    return Coordinates(tuple(names), K, D, covariance_type, start, start_slice, transmat_slice,
                       means_slice, covars_slice, emission_map)


# -- the log-ratio map and its derivatives ------------------------------------------------------

def additive_log_ratio(probabilities: np.ndarray) -> np.ndarray:
    """log(p_j / p_K) for j < K, along the last axis (:eq:`info-alr`)."""
    return np.log(probabilities[..., :-1]) - np.log(probabilities[..., -1:])


def softmax_last_reference(ratios: np.ndarray) -> np.ndarray:
    """The inverse of :func:`additive_log_ratio`: p_j = e^{zeta_j} / (1 + sum_l e^{zeta_l})."""
    padded = np.concatenate([ratios, np.zeros(ratios.shape[:-1] + (1,))], axis=-1)
    padded = padded - padded.max(axis=-1, keepdims=True)
    weights = np.exp(padded)
    return weights / weights.sum(axis=-1, keepdims=True)


def transmat_derivatives(transmat: np.ndarray):
    r"""First and second derivatives of A in its log-ratio coordinates (:eq:`info-alr-derivatives`).

    Returns ``(dA, d2A)`` of shapes (P_A, K, K) and (P_A, P_A, K, K), P_A = K(K - 1),
    coordinate ``a = i (K - 1) + l`` being ``zeta_il``:

    .. math::
        \partial A_{ij} / \partial\zeta_{il} = A_{ij}(\delta_{jl} - A_{il}),\qquad
        \partial^2 A_{ij} / \partial\zeta_{il}\partial\zeta_{im}
        = A_{ij}\big[(\delta_{jm} - A_{im})(\delta_{jl} - A_{il}) - A_{il}(\delta_{lm} - A_{im})\big].
    """
    K = transmat.shape[0]
    n = K * (K - 1)
    dA = np.zeros((n, K, K))
    d2A = np.zeros((n, n, K, K))
    eye = np.eye(K)
    for i in range(K):
        row = transmat[i]
        for l in range(K - 1):
            a = i * (K - 1) + l
            dA[a, i] = row * (eye[l] - row[l])
            for m in range(K - 1):
                b = i * (K - 1) + m
                d2A[a, b, i] = row * ((eye[m] - row[m]) * (eye[l] - row[l]) - row[l] * (eye[l, m] - row[m]))
    return dA, d2A


def stationary_derivatives(transmat: np.ndarray):
    r"""pi(A) and its first and second derivatives in the log-ratio coordinates of A.

    With the fundamental matrix :math:`Z = (I - A + \mathbf{1}\pi^\top)^{-1}`, differentiating
    :math:`\pi^\top (I - A) = 0`, :math:`\pi^\top \mathbf{1} = 1` once and twice gives
    (:eq:`info-stationary-derivatives`)

    .. math::
        \pi_a^\top = \pi^\top A_a Z, \qquad
        \pi_{ab}^\top = (\pi_a^\top A_b + \pi_b^\top A_a + \pi^\top A_{ab}) Z .

    Returns ``(pi, dpi, d2pi)``: (K,), (P_A, K), (P_A, P_A, K).
    """
    pi = stationary_distribution(transmat, validate=False)
    K = transmat.shape[0]
    fundamental = np.linalg.inv(np.eye(K) - transmat + np.outer(np.ones(K), pi))
    dA, d2A = transmat_derivatives(transmat)
    dpi = np.einsum("j,ajk,kl->al", pi, dA, fundamental)
    first = np.einsum("aj,bjk->abk", dpi, dA)
    d2pi = (first + first.transpose(1, 0, 2) + np.einsum("j,abjk->abk", pi, d2A)) @ fundamental
    return pi, dpi, d2pi


# -- theta <-> lambda ---------------------------------------------------------------------------

def to_coordinates(params: HMMParams, coordinates: Coordinates) -> np.ndarray:
    """theta for ``params`` in ``coordinates`` (every free probability must be > 0)."""
    theta = np.empty(coordinates.size)
    if coordinates.start == "free":
        theta[coordinates.start_slice] = additive_log_ratio(params.startprob)
    theta[coordinates.transmat_slice] = additive_log_ratio(params.transmat).ravel()
    theta[coordinates.means_slice] = params.means.ravel()
    kind = coordinates.covariance_type
    if kind == "diag":
        covars = np.log(np.diagonal(params.covars, axis1=1, axis2=2)).ravel()
    elif kind == "spherical":
        covars = np.log(params.covars[:, 0, 0])
    else:
        factors = np.linalg.cholesky(params.covars)
        values = np.array([[np.log(L[a, a]) if a == b else L[a, b]
                            for a, b in lower_pairs(coordinates.n_features)] for L in factors])
        covars = values[0] if kind == "tied" else values.ravel()
    theta[coordinates.covars_slice] = covars
    return theta


def from_coordinates(theta: np.ndarray, coordinates: Coordinates, startprob=None) -> HMMParams:
    """lambda for the coordinate vector ``theta``; ``startprob`` is the known pi when
    ``coordinates.start == "fixed"`` (not used otherwise)."""
    K, D = coordinates.n_components, coordinates.n_features
    transmat = softmax_last_reference(theta[coordinates.transmat_slice].reshape(K, K - 1))
    if coordinates.start == "free":
        startprob = softmax_last_reference(theta[coordinates.start_slice])
    elif coordinates.start == "stationary":
        startprob = stationary_distribution(transmat, validate=False)
    means = theta[coordinates.means_slice].reshape(K, D)
    phi = coordinates.emission_map[:, D:, :] @ theta  # (K, D(D+1)/2) Cholesky coordinates
    factors = np.zeros((K, D, D))
    for e, (a, b) in enumerate(lower_pairs(D)):
        factors[:, a, b] = np.exp(phi[:, e]) if a == b else phi[:, e]
    covars = factors @ np.swapaxes(factors, 1, 2)
    return HMMParams(np.asarray(startprob, dtype=np.float64), transmat, means, covars)


# -- the delta method ---------------------------------------------------------------------------

class NaturalParameters(NamedTuple):
    """The natural parameters reported to a user, and their derivatives in theta."""

    names: tuple
    """e.g. ``"transmat[1, 0]"``, ``"means[0, 2]"``, ``"covars[2, 1, 0]"``."""
    values: np.ndarray
    """(N,) their values."""
    kinds: tuple
    """"probability", "mean", "variance" or "covariance": the scale of each (for intervals)."""
    jacobian: np.ndarray
    """(N, P) d value / d theta (:eq:`info-delta-method`)."""


def natural_parameters(params: HMMParams, coordinates: Coordinates) -> NaturalParameters:
    r"""Names, values and Jacobian in theta of the natural parameters: pi (unless fixed; a
    function of A when stationary), every A_ij, every mean, and the covariance entries the
    type estimates (lower triangle; one variance per state for spherical; one matrix for
    tied). The Jacobian (:eq:`info-delta-method`) has the entries

    .. math::
        \frac{\partial A_{ij}}{\partial \zeta_{il}} = A_{ij}(\delta_{jl} - A_{il}),\qquad
        \frac{\partial \Sigma_{ab}}{\partial L_{cd}} = \delta_{ac} L_{bd} + \delta_{bc} L_{ad},

    the latter times :math:`L_{cc}` for a log-diagonal coordinate (:math:`c = d`).
    """
    K, D, P = coordinates.n_components, coordinates.n_features, coordinates.size
    names, values, kinds, rows = [], [], [], []
    if coordinates.start != "fixed":
        derivative = np.zeros((K, P))
        if coordinates.start == "free":
            pi = params.startprob
            derivative[:, coordinates.start_slice] = pi[:, None] * (np.eye(K)[:, : K - 1] - pi[None, : K - 1])
        else:
            pi, dpi, _ = stationary_derivatives(params.transmat)
            derivative[:, coordinates.transmat_slice] = dpi.T
        for k in range(K):
            names.append(f"startprob[{k}]")
            values.append(pi[k])
            kinds.append("probability")
            rows.append(derivative[k])
    dA, _ = transmat_derivatives(params.transmat)
    for i in range(K):
        for j in range(K):
            row = np.zeros(P)
            row[coordinates.transmat_slice] = dA[:, i, j]
            names.append(f"transmat[{i}, {j}]")
            values.append(params.transmat[i, j])
            kinds.append("probability")
            rows.append(row)
    for k in range(K):
        for d in range(D):
            row = np.zeros(P)
            row[coordinates.means_slice.start + k * D + d] = 1.0
            names.append(f"means[{k}, {d}]")
            values.append(params.means[k, d])
            kinds.append("mean")
            rows.append(row)
    factors = np.linalg.cholesky(params.covars)
    pairs = lower_pairs(D)
    kind = coordinates.covariance_type
    if kind == "diag":
        entries = [(d, d) for d in range(D)]
    elif kind == "spherical":
        entries = [(0, 0)]
    else:
        entries = pairs
    for k in [0] if kind == "tied" else range(K):
        L = factors[k]
        for a, b in entries:
            # d Sigma_ab / d L_cd = delta_ac L_bd + delta_bc L_ad, times L_cc on the diagonal
            d_phi = np.zeros(D + len(pairs))
            for e, (c, d) in enumerate(pairs):
                value = (L[b, d] if a == c else 0.0) + (L[a, d] if b == c else 0.0)
                d_phi[D + e] = value * (L[c, c] if c == d else 1.0)
            label = ":" if kind == "tied" else k
            suffix = " (every variance)" if kind == "spherical" else ""
            names.append(f"covars[{label}, {a}, {b}]{suffix}")
            values.append(params.covars[k, a, b])
            kinds.append("variance" if a == b else "covariance")
            rows.append(d_phi @ coordinates.emission_map[k])
    return NaturalParameters(tuple(names), np.array(values), tuple(kinds), np.array(rows))
