"""The score and the observed information of a Gaussian HMM, from the E-step (chapter 12).

*Fisher's identity* (:eq:`info-fisher`): the score of log P(O | lambda) is the posterior mean
of the complete-data score. *Louis' identity* (:eq:`info-louis`): the observed information
is the complete information (the posterior mean of minus the complete-data Hessian) less the
missing information (the posterior covariance of the complete-data score). Both are computed
exactly, in the unconstrained coordinates of :mod:`hmmcore.coordinates`:

* the complete-data score is a sum over t of terms s_t(q_{t-1}, q_t) (:eq:`info-score-terms`);
  its posterior mean needs gamma and the summed xi (:eq:`info-fisher-gamma-xi`);
* the complete information is the curvature of the Q-function, in closed form per block,
  weighted by gamma and the summed xi (:eq:`info-complete`);
* the missing information needs the sums of every pair of terms. They are collected by one
  forward pass over the scores (:eq:`info-tau`): tau_t(j), the expected sum of the centred
  terms up to t given q_t = j and O_1..O_t, obeys
  ``tau_t(j) = sum_i B_t(j, i) [tau_{t-1}(i) + s_t(i, j)]`` with the backward kernel
  ``B_t(j, i) = alpha_hat_{t-1}(i) A_ij / sum_l alpha_hat_{t-1}(l) A_lj``. Cost O(T K^2 P^2).

The forward-backward pass is hmmcore's (:func:`hmmcore.posteriors`); this module adds the
per-observation Gaussian derivatives and the loop over the scores.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from scipy import linalg

from .coordinates import Coordinates, coordinate_layout, lower_pairs, stationary_derivatives
from .emissions import cholesky_factors
from .evaluation import posteriors
from .chain import stationary_distribution
from .params import HMMParams
from .validation import BOUNDARY_TOLERANCE, check_information_inputs, sequence_bounds


class ObservedInformation(NamedTuple):
    """Louis' identity, :eq:`info-louis`, in the unconstrained coordinates theta."""

    log_likelihood: float
    """log P(O | lambda) under the ``start`` convention."""
    score: np.ndarray
    """(P,) gradient of log P(O | lambda) in theta (Fisher's identity, :eq:`info-fisher-gamma-xi`)."""
    complete: np.ndarray
    """(P, P) E[-d^2 log P(O, Q) | O], the complete information (:eq:`info-complete`)."""
    missing: np.ndarray
    """(P, P) Cov[d log P(O, Q) | O], the missing information (:eq:`info-missing`)."""
    observed: np.ndarray
    """(P, P) complete - missing = -d^2 log P(O | lambda) (:eq:`info-louis`)."""
    coordinates: Coordinates
    """The layout of theta (the names of the coordinates)."""
    expected_transitions: np.ndarray
    """(K, K) sum_t xi_t(i, j): the expected number of i -> j transitions."""
    score_contributions: np.ndarray
    """(T, P) grad log c_t = grad log P(O_t | O_1..O_{t-1}) of each sequence (the first
    step's is grad log P(O_1)): the per-observation scores, whose sum is ``score``
    (:eq:`info-prefix-score`)."""


# -- the per-observation Gaussian derivatives ----------------------------------------------------


@njit(cache=True, nogil=True)
def _emission_derivatives_loop(X, means, factors, inverse_factors, precisions, gamma,
                               pair_a, pair_b, gradient, information):
    r"""Gradient of log b_k(x_t) in phi_k = (mu_k, log-diagonal Cholesky entries) for every t
    and k, and the gamma-weighted sum of minus its Hessian (:eq:`info-gaussian-gradient`,
    :eq:`info-gaussian-hessian`).

    With r = x - mu, z = L^{-1} r, w = L^{-T} z = Sigma^{-1} r and M = L^{-1}:

    .. math::
        \partial_{\mu_c} = w_c,\quad \partial_{L_{ab}} = w_a z_b - \delta_{ab}/L_{aa},

    .. math::
        \partial^2_{\mu_c\mu_d} = -\Sigma^{-1}_{cd},\quad
        \partial^2_{\mu_c L_{ab}} = -\Sigma^{-1}_{ca} z_b - w_a M_{bc},

    .. math::
        \partial^2_{L_{ab}L_{cd}} = -\Sigma^{-1}_{ac} z_b z_d - w_c M_{da} z_b - w_a M_{bc} z_d
        + \delta_{abcd}/L_{aa}^2,

    and a log-diagonal coordinate multiplies each derivative by L_aa and adds L_aa times
    the first derivative on its own diagonal entry of the Hessian.
    """
    n_steps, n_features = X.shape
    n_states = means.shape[0]
    n_pairs = pair_a.shape[0]
    size = n_features + n_pairs
    r = np.empty(n_features)
    z = np.empty(n_features)
    w = np.empty(n_features)
    g_chol = np.empty(n_pairs)  # first derivatives in L (not log) coordinates
    scale = np.empty(size)  # L_aa for a log-diagonal coordinate, 1 otherwise
    hessian = np.empty((size, size))
    for k in range(n_states):
        L = factors[k]
        M = inverse_factors[k]
        S = precisions[k]
        for e in range(size):
            scale[e] = 1.0
        for p in range(n_pairs):
            if pair_a[p] == pair_b[p]:
                scale[n_features + p] = L[pair_a[p], pair_a[p]]
        for t in range(n_steps):
            for d in range(n_features):
                r[d] = X[t, d] - means[k, d]
            for d in range(n_features):
                total = 0.0
                for e in range(d + 1):
                    total += M[d, e] * r[e]
                z[d] = total
            for d in range(n_features):
                total = 0.0
                for e in range(d, n_features):
                    total += M[e, d] * z[e]
                w[d] = total
            for d in range(n_features):
                gradient[t, k, d] = w[d]
            for p in range(n_pairs):
                a, b = pair_a[p], pair_b[p]
                g_chol[p] = w[a] * z[b] - (1.0 / L[a, a] if a == b else 0.0)
                gradient[t, k, n_features + p] = scale[n_features + p] * g_chol[p]
            weight = gamma[t, k]
            if weight == 0.0:
                continue
            for c in range(n_features):
                for d in range(n_features):
                    hessian[c, d] = -S[c, d]
                for p in range(n_pairs):
                    a, b = pair_a[p], pair_b[p]
                    hessian[c, n_features + p] = -S[c, a] * z[b] - w[a] * M[b, c]
            for p in range(n_pairs):
                a, b = pair_a[p], pair_b[p]
                for q in range(n_pairs):
                    c, d = pair_a[q], pair_b[q]
                    value = -S[a, c] * z[b] * z[d] - w[c] * M[d, a] * z[b] - w[a] * M[b, c] * z[d]
                    if a == b and c == d and a == c:
                        value += 1.0 / (L[a, a] * L[a, a])
                    hessian[n_features + p, n_features + q] = value
            for e in range(size):
                for f in range(size):
                    if f < n_features and e >= n_features:
                        value = hessian[f, e]  # the mu-L block is stored once
                    else:
                        value = hessian[e, f]
                    value *= scale[e] * scale[f]
                    if e == f and e >= n_features and pair_a[e - n_features] == pair_b[e - n_features]:
                        value += scale[e] * g_chol[e - n_features]
                    information[k, e, f] -= weight * value


def emission_derivatives(X: np.ndarray, params: HMMParams, gamma: np.ndarray | None = None):
    """``(gradient, information)``: d log b_k(x_t) / d phi_k as a (T, K, E) array, and
    ``sum_t gamma_t(k) (-d^2 log b_k(x_t) / d phi_k^2)`` as (K, E, E), E = D + D(D+1)/2
    (:eq:`info-gaussian-gradient`, :eq:`info-gaussian-hessian`); inputs trusted. Without
    ``gamma`` only the gradient is computed (``information`` is 0)."""
    n_steps, D = X.shape
    if gamma is None:
        gamma = np.zeros((n_steps, params.means.shape[0]))  # weight 0: no Hessian
    K = params.means.shape[0]
    pairs = lower_pairs(D)
    factors = cholesky_factors(params.covars, name="params.covars")
    inverse_factors = np.array([linalg.solve_triangular(L, np.eye(D), lower=True) for L in factors])
    precisions = np.swapaxes(inverse_factors, 1, 2) @ inverse_factors
    gradient = np.empty((n_steps, K, D + len(pairs)))
    information = np.zeros((K, D + len(pairs), D + len(pairs)))
    pair_a = np.array([a for a, _ in pairs], dtype=np.int64)
    pair_b = np.array([b for _, b in pairs], dtype=np.int64)
    _emission_derivatives_loop(np.ascontiguousarray(X), params.means, factors, inverse_factors, precisions,
                               np.ascontiguousarray(gamma), pair_a, pair_b, gradient, information)
    return gradient, information


# -- the forward pass over the scores ------------------------------------------------------------


@njit(cache=True, nogil=True)
def _missing_information_loop(alpha_hat, transmat, gamma, xi, start_gradient, transition_gradient,
                              emission_gradient, half_missing, prefix_scores):
    r"""The missing information of one sequence, added to ``half_missing`` (the missing
    information is ``half_missing + half_missing^T``), and the score of every prefix of the
    sequence in ``prefix_scores`` (:eq:`info-tau`, :eq:`info-missing`, :eq:`info-prefix-score`).

    The complete-data score is :math:`\sum_t s_t(q_{t-1}, q_t)` with
    :math:`s_1(j) = \nabla\log\pi_j + \nabla\log b_j(O_1)` and
    :math:`s_t(i, j) = \nabla\log A_{ij} + \nabla\log b_j(O_t)`. Each term is centred by its
    posterior mean :math:`m_t`; then

    .. math::
        \tau_t(j) = \sum_i \frac{\hat\alpha_{t-1}(i) A_{ij}}{\sum_l \hat\alpha_{t-1}(l) A_{lj}}
                    \big[\tau_{t-1}(i) + \tilde s_t(i, j)\big],

    .. math::
        \operatorname{Cov}[S \mid O] = \sum_j \gamma_1(j) \tilde s_1 \tilde s_1^\top
        + \sum_{t \ge 2} \sum_{ij} \xi_{t-1}(i, j)
        \big[\tilde s \tilde s^\top + \tau_{t-1}(i)\tilde s^\top + \tilde s\,\tau_{t-1}(i)^\top\big],

    accumulated as ``xi (tau + s/2) s^T`` and symmetrised by the caller. The score of the
    prefix up to t is :math:`\sum_j \hat\alpha_t(j) \tau_t(j) + \sum_{u \le t} m_u`.
    """
    n_steps, n_states = gamma.shape
    size = start_gradient.shape[1]
    tau_previous = np.zeros((n_states, size))
    tau = np.zeros((n_states, size))
    terms = np.empty((n_states, n_states, size))
    mean = np.empty(size)
    half = np.empty(size)
    cumulative = np.zeros(size)  # the sum of the centring constants m_u so far
    # t = 1: s_1(j) = grad log pi_j + grad log b_j(O_1), weighted by gamma_1
    for p in range(size):
        mean[p] = 0.0
    for j in range(n_states):
        for p in range(size):
            terms[0, j, p] = start_gradient[j, p] + emission_gradient[0, j, p]
            mean[p] += gamma[0, j] * terms[0, j, p]
    for p in range(size):
        cumulative[p] = mean[p]
    for j in range(n_states):
        for p in range(size):
            tau_previous[j, p] = terms[0, j, p] - mean[p]
        if gamma[0, j] > 0.0:
            for p in range(size):
                half[p] = 0.5 * gamma[0, j] * tau_previous[j, p]
            for p in range(size):
                for q in range(size):
                    half_missing[p, q] += half[p] * tau_previous[j, q]
    for p in range(size):
        total = cumulative[p]
        for j in range(n_states):
            total += alpha_hat[0, j] * tau_previous[j, p]
        prefix_scores[0, p] = total
    for t in range(1, n_steps):
        for p in range(size):
            mean[p] = 0.0
        for i in range(n_states):
            for j in range(n_states):
                for p in range(size):
                    terms[i, j, p] = transition_gradient[i, j, p] + emission_gradient[t, j, p]
                    mean[p] += xi[t - 1, i, j] * terms[i, j, p]
        for p in range(size):
            cumulative[p] += mean[p]
        for i in range(n_states):
            for j in range(n_states):
                for p in range(size):
                    terms[i, j, p] -= mean[p]
                weight = xi[t - 1, i, j]
                if weight == 0.0:
                    continue
                for p in range(size):
                    half[p] = weight * (tau_previous[i, p] + 0.5 * terms[i, j, p])
                for p in range(size):
                    for q in range(size):
                        half_missing[p, q] += half[p] * terms[i, j, q]
        for j in range(n_states):
            predicted = 0.0
            for i in range(n_states):
                predicted += alpha_hat[t - 1, i] * transmat[i, j]
            for p in range(size):
                tau[j, p] = 0.0
            if predicted > 0.0:
                for i in range(n_states):
                    kernel = alpha_hat[t - 1, i] * transmat[i, j] / predicted
                    if kernel > 0.0:
                        for p in range(size):
                            tau[j, p] += kernel * (tau_previous[i, p] + terms[i, j, p])
        for j in range(n_states):
            for p in range(size):
                tau_previous[j, p] = tau[j, p]
        for p in range(size):
            total = cumulative[p]
            for j in range(n_states):
                total += alpha_hat[t, j] * tau[j, p]
            prefix_scores[t, p] = total


# -- the pieces of the complete-data score --------------------------------------------------------


class _ScoreTerms(NamedTuple):
    """Derivatives of the complete-data log-likelihood's pieces in theta (:eq:`info-score-terms`)."""

    start_gradient: np.ndarray  # (K, P) grad log pi_j
    start_hessian: np.ndarray  # (K, P, P) grad^2 log pi_j
    transition_gradient: np.ndarray  # (K, K, P) grad log A_ij


def _score_terms(params: HMMParams, coordinates: Coordinates) -> _ScoreTerms:
    """grad log pi_j, grad^2 log pi_j and grad log A_ij in theta (:eq:`info-alr-derivatives`,
    and :eq:`info-stationary-derivatives` for the stationary start)."""
    K, P = coordinates.n_components, coordinates.size
    eye = np.eye(K)
    start_gradient = np.zeros((K, P))
    start_hessian = np.zeros((K, P, P))
    if coordinates.start == "free":
        pi = params.startprob
        start_gradient[:, coordinates.start_slice] = eye[:, : K - 1] - pi[None, : K - 1]
        curvature = np.diag(pi[: K - 1]) - np.outer(pi[: K - 1], pi[: K - 1])
        start_hessian[:, coordinates.start_slice, coordinates.start_slice] = -curvature
    elif coordinates.start == "stationary":
        pi, dpi, d2pi = stationary_derivatives(params.transmat)
        block = coordinates.transmat_slice
        start_gradient[:, block] = (dpi / pi).T
        for j in range(K):
            start_hessian[j, block, block] = d2pi[:, :, j] / pi[j] - np.outer(dpi[:, j], dpi[:, j]) / pi[j] ** 2
    transition_gradient = np.zeros((K, K, P))
    for i in range(K):
        columns = _row_columns(coordinates, i)
        transition_gradient[i, :, columns] = eye[:, : K - 1] - params.transmat[i, None, : K - 1]
    return _ScoreTerms(start_gradient, start_hessian, transition_gradient)


def _row_columns(coordinates: Coordinates, row: int) -> slice:
    """The K - 1 log-ratio coordinates of row ``row`` of A."""
    K = coordinates.n_components
    begin = coordinates.transmat_slice.start + row * (K - 1)
    return slice(begin, begin + K - 1)


def _prepared(X, params, lengths, covariance_type, start, boundary_tol, validate):
    """Checked inputs, the coordinates, and the parameters with pi = pi(A) when stationary."""
    if validate:
        X, lengths, params = check_information_inputs(X, params, lengths, covariance_type, start, boundary_tol)
    elif lengths is None:
        lengths = [X.shape[0]]
    coordinates = coordinate_layout(params.means.shape[0], X.shape[1], covariance_type, start)
    if start == "stationary":
        params = params._replace(startprob=stationary_distribution(params.transmat, validate=False))
    return X, lengths, params, coordinates


def _fisher_score(emission_gradient_sum, first_gamma, xi_sum, terms: _ScoreTerms, coordinates) -> np.ndarray:
    """Fisher's identity with gamma and the summed xi (:eq:`info-fisher-gamma-xi`):
    sum_j gamma_1(j) grad log pi_j + sum_ij xi_sum(i, j) grad log A_ij
    + sum_k C_k^T sum_t gamma_t(k) grad_phi log b_k(O_t)."""
    return (first_gamma @ terms.start_gradient
            + np.einsum("ij,ijp->p", xi_sum, terms.transition_gradient)
            + np.einsum("ke,kep->p", emission_gradient_sum, coordinates.emission_map))


def score_vector(X, params, lengths=None, *, covariance_type: str = "full", start: str = "free",
                 boundary_tol: float = BOUNDARY_TOLERANCE, validate: bool = True) -> np.ndarray:
    """The score: the gradient of log P(X | params) in the unconstrained coordinates, by
    Fisher's identity (:eq:`info-fisher-gamma-xi`), from one E-step.

    Parameters
    ----------
    X : array_like, shape (T, D)
        Observations, the sequences of ``lengths`` one after another.
    params : HMMParams
        The parameters; covariances as (K, D, D) matrices of the covariance type's form.
    lengths : list of int, optional
        Lengths of the sequences (None: one sequence).
    covariance_type : {"full", "diag", "spherical", "tied"}
        Which covariance parameters are free (their coordinates: :func:`hmmcore.coordinate_layout`).
    start : {"free", "fixed", "stationary"}
        pi is a parameter, is known, or is the stationary distribution of A (then
        ``params.startprob`` is not used).
    boundary_tol : float
        A free probability below this counts as 0 (on the boundary).

    Returns
    -------
    ndarray, shape (P,)
        In the order of ``coordinate_layout(K, D, covariance_type, start).names``.

    Raises
    ------
    BoundaryError
        If a free probability is below ``boundary_tol``; the message names it.
    ValueError
        For bad input, naming the argument (e.g. covariances not of the type's form).
        Missing values (NaN) are refused: the information is derived for complete data.

    Examples
    --------
    One state and one feature: the score of the mean is sum_t (x_t - mu) / sigma^2, that of
    the log standard deviation sum_t ((x_t - mu)^2 / sigma^2 - 1); here (1 + 2) / 4 = 0.75
    and (1 + 4) / 4 - 2 = -0.75 (A has no free coordinate when K = 1).

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.0]]),
    ...                    np.array([[[4.0]]]))
    >>> score_vector([[1.0], [2.0]], params)
    array([ 0.75, -0.75])
    """
    X, lengths, params, coordinates = _prepared(X, params, lengths, covariance_type, start, boundary_tol, validate)
    stats = posteriors(X, params, lengths, validate=False)
    gradient, _ = emission_derivatives(X, params)
    first_gamma = sum(stats.gamma[begin] for begin, _ in sequence_bounds(lengths))
    return _fisher_score(np.einsum("tk,tke->ke", stats.gamma, gradient), first_gamma, stats.xi_sum,
                         _score_terms(params, coordinates), coordinates)


def observed_information(X, params, lengths=None, *, covariance_type: str = "full", start: str = "free",
                         boundary_tol: float = BOUNDARY_TOLERANCE, validate: bool = True) -> ObservedInformation:
    r"""Score, complete, missing and observed information of log P(X | params), by Fisher's and
    Louis' identities (:eq:`info-louis`), in the unconstrained coordinates.

    The observed information is :math:`-\nabla^2 \log P(X \mid \theta)`, computed exactly (no
    differencing) from one E-step and one forward pass over the scores, in O(T K^2 P^2)
    operations for P free parameters.

    Parameters
    ----------
    X : array_like, shape (T, D)
        Observations, the sequences of ``lengths`` one after another.
    params : HMMParams
        The parameters; covariances as (K, D, D) matrices of the covariance type's form.
    lengths : list of int, optional
        Lengths of the sequences (None: one sequence).
    covariance_type : {"full", "diag", "spherical", "tied"}
        Which covariance parameters are free (their coordinates: :func:`hmmcore.coordinate_layout`).
    start : {"free", "fixed", "stationary"}
        pi is a parameter, is known, or is the stationary distribution of A (then
        ``params.startprob`` is not used).
    boundary_tol : float
        A free probability below this counts as 0 (on the boundary).

    Returns
    -------
    ObservedInformation
        ``score``, ``complete``, ``missing``, ``observed`` (P x P), ``coordinates`` (their
        names), the expected transition counts and the per-observation scores.

    Raises
    ------
    BoundaryError
        If a free probability is below ``boundary_tol``; the message names it.
    ValueError
        For bad input, naming the argument.
        Missing values (NaN) are refused: the information is derived for complete data.

    Examples
    --------
    With one state nothing is hidden: the missing information is 0, and the information of
    the mean is T / sigma^2 = 2 / 4.

    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.0]]),
    ...                    np.array([[[4.0]]]))
    >>> result = observed_information([[1.0], [2.0]], params)
    >>> float(result.observed[0, 0]), float(np.abs(result.missing).max())
    (0.5, 0.0)
    """
    X, lengths, params, coordinates = _prepared(X, params, lengths, covariance_type, start, boundary_tol, validate)
    K, P = coordinates.n_components, coordinates.size
    terms = _score_terms(params, coordinates)
    half_missing = np.zeros((P, P))
    emission_information = np.zeros((K,) + coordinates.emission_map.shape[1:2] * 2)
    emission_gradient_sum = np.zeros(coordinates.emission_map.shape[:2])
    first_gamma = np.zeros(K)
    expected_transitions = np.zeros((K, K))
    log_likelihood = 0.0
    contributions = np.empty((X.shape[0], P))
    sequences = posteriors(X, params, lengths, per_sequence=True, return_xi=True, validate=False)
    for (begin, end), sequence in zip(sequence_bounds(lengths), sequences):
        log_likelihood += sequence.log_likelihood
        gradient, information = emission_derivatives(X[begin:end], params, sequence.gamma)
        emission_information += information
        emission_gradient_sum += np.einsum("tk,tke->ke", sequence.gamma, gradient)
        emission_gradient = np.einsum("tke,kep->tkp", gradient, coordinates.emission_map)
        prefix_scores = np.empty((end - begin, P))
        _missing_information_loop(sequence.alpha_hat, params.transmat, sequence.gamma, sequence.xi,
                                  terms.start_gradient, terms.transition_gradient, emission_gradient,
                                  half_missing, prefix_scores)
        contributions[begin:end] = np.diff(prefix_scores, axis=0, prepend=0.0)
        first_gamma += sequence.gamma[0]
        expected_transitions += sequence.xi_sum
    missing = half_missing + half_missing.T
    score = _fisher_score(emission_gradient_sum, first_gamma, expected_transitions, terms, coordinates)

    # the complete information (info-complete): emissions, rows of A, and pi
    complete = np.einsum("kep,kef,kfq->pq", coordinates.emission_map, emission_information,
                         coordinates.emission_map)
    complete -= np.einsum("j,jpq->pq", first_gamma, terms.start_hessian)
    for i in range(K):
        row = params.transmat[i, : K - 1]
        columns = _row_columns(coordinates, i)
        complete[columns, columns] += expected_transitions[i].sum() * (np.diag(row) - np.outer(row, row))
    return ObservedInformation(float(log_likelihood), score, complete, missing, complete - missing,
                               coordinates, expected_transitions, contributions)
