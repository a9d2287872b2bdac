"""The M-step: one function per update equation of the book.

Each function computes its equation literally from the E-step's gamma (and the summed xi):
the weighted sums over t, and the arithmetic after them, are compiled loops, which read every
prior at the shape of the term it enters (the checks broadcast each prior once; a call with
``validate=False`` passes them so). With their default arguments the functions are
the maximum-likelihood updates of chapters 5 and 6. Their prior arguments give the MAP
updates of chapter 11, with hmmlearn's names and hmmlearn's exact arithmetic:

* ``startprob_prior``, ``transmat_prior``: Dirichlet concentrations (1 = flat);
* ``means_prior``, ``means_weight``: a normal prior on each mean, ``N(means_prior,
  Sigma_k / means_weight)`` (weight 0 = flat);
* ``covars_prior``, ``covars_weight``: an inverse-Wishart-type prior on each covariance
  (``covars_prior = 0`` and ``covars_weight = 1`` = flat).

**Covariance types.** ``"full"`` (one matrix per state), ``"diag"`` (diagonal matrices),
``"spherical"`` (``c_k I``) and ``"tied"`` (one matrix shared by all states). Every type is
returned as K full (D, D) matrices, the one format the rest of ``hmmcore`` reads.

**Empty states.** A state whose update has a denominator below :data:`EMPTY_STATE_OCCUPANCY`
(with flat priors: expected occupancy ``N_k = sum_t gamma_t(k)``) does not appear in the
Q-function's terms for its own parameters, so every value of them maximises Q. We then keep its
``previous`` parameters (its row of A, its mean, its covariance): the choice that leaves EM's
monotonicity intact and never divides by zero. Without ``previous`` such a state is an error,
not a NaN.

**Missing values** (chapter 14). With NaN in ``X`` the means and covariances are updated from
the *expected* complete-data statistics (``moments``, :func:`hmmcore.conditional_moments` at
the E-step's parameters): each state's rows completed by their conditional means, and the
conditional covariances of the missing coordinates added to the scatter. Their weighted sums
are the same compiled loops, run on each state's completed rows; everything after the sums
(priors, empty states, covariance types) is the same arithmetic as for complete data.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .params import Priors
from .validation import (
    as_float_array,
    check_broadcast,
    check_covariance_type,
    check_lengths,
    check_means,
    check_means_prior,
    check_moments,
    check_nonnegative,
    check_observations,
    check_occupancies,
    check_posteriors,
    check_priors,
)

#: Denominator below which a state counts as empty (see the module docstring).
EMPTY_STATE_OCCUPANCY = 1e-10

#: hmmlearn's floor on a diagonal or spherical update's denominator.
DIAGONAL_DENOMINATOR_FLOOR = 1e-5


def _check_no_empty_state(empty, what: str) -> None:
    """Without ``previous``, an empty state's update is 0/0: an error naming the states."""
    if empty.any():
        states = np.flatnonzero(empty).tolist()
        count = "expected departures" if what == "transition row" else "expected occupancy"
        raise ValueError(
            f"state(s) {states} (0-based indices) have zero {count}, so the update of the "
            f"{what} is 0/0; pass `previous` (the current {what}) to keep them."
        )


@njit(cache=True, nogil=True)
def _dirichlet_count(prior, count, previous):
    """``max(prior - 1 + count, 0)``, and 0 where the previous probability is 0 (a forbidden
    start or transition stays forbidden, as in hmmlearn)."""
    if previous == 0.0:
        return 0.0
    return max(prior - 1.0 + count, 0.0)


@njit(cache=True, nogil=True)
def _startprob_loop(gamma, lengths, prior, previous, out):
    r""":eq:`seed-28` with the Dirichlet prior: each state's count is its gamma at the first step
    of every sequence; returns the counts' total (``out`` holds pi if it is > 0)."""
    total = 0.0
    for k in range(gamma.shape[1]):
        count, start = 0.0, 0
        for length in lengths:
            count += gamma[start, k]
            start += length
        out[k] = _dirichlet_count(prior[k], count, 1.0 if previous is None else previous[k])
        total += out[k]
    if total > 0.0:
        for k in range(gamma.shape[1]):
            out[k] /= total
    return total


def update_startprob(gamma, lengths=None, startprob_prior=1.0, previous=None, *, validate=True):
    r"""The update of pi, :eq:`seed-28`: :math:`\hat\pi_i = \gamma_1(i)`, averaged over the starts of the sequences.

    With a Dirichlet prior of concentration :math:`a_i` (chapter 11):
    :math:`\hat\pi_i \propto \max(a_i - 1 + \sum_s \gamma^{(s)}_1(i), 0)`.

    Parameters
    ----------
    gamma : array_like, shape (T, K)
        The E-step's posteriors.
    lengths : list of int, optional
        The sequences' lengths, as in ``fit`` (None: one sequence).
    startprob_prior : float or array_like
        Dirichlet concentration (1: flat).
    previous : array_like, shape (K,), optional
        The current pi: its zeros stay zeros (hmmlearn's rule).

    Returns
    -------
    ndarray, shape (K,)

    Examples
    --------
    >>> update_startprob([[0.2, 0.8], [0.6, 0.4], [1.0, 0.0]], lengths=[2, 1])
    array([0.6, 0.4])
    """
    if validate:
        gamma = as_float_array(gamma, "gamma")
        gamma = check_posteriors(gamma, len(gamma))
        lengths = check_lengths(lengths, gamma.shape[0])
        startprob_prior = check_broadcast(startprob_prior, "startprob_prior", gamma.shape[1:])
        previous = None if previous is None else check_broadcast(previous, "previous", gamma.shape[1:])
    elif lengths is None:
        lengths = [gamma.shape[0]]
    startprob = np.empty(gamma.shape[1])
    if not _startprob_loop(gamma, np.asarray(lengths), startprob_prior, previous, startprob) > 0:
        raise ValueError(
            "`startprob_prior` leaves every start probability at 0; use concentrations >= 1."
        )
    return startprob


@njit(cache=True, nogil=True)
def _transmat_loop(xi_sum, prior, previous):
    r""":eq:`seed-27` with the Dirichlet prior: each row's counts over their total; a row with
    no expected departures (``empty``) keeps ``previous``."""
    n_states = xi_sum.shape[0]
    transmat = np.empty((n_states, n_states))
    empty = np.zeros(n_states, dtype=np.bool_)
    for i in range(n_states):
        total = 0.0
        for j in range(n_states):
            transmat[i, j] = _dirichlet_count(prior[i, j], xi_sum[i, j], 1.0 if previous is None else previous[i, j])
            total += transmat[i, j]
        empty[i] = total < EMPTY_STATE_OCCUPANCY
        for j in range(n_states):
            if not empty[i]:
                transmat[i, j] /= total
            elif previous is not None:
                transmat[i, j] = previous[i, j]
    return transmat, empty


def update_transmat(xi_sum, previous=None, transmat_prior=1.0, *, validate=True):
    r"""The update of A, :eq:`seed-27`: :math:`\hat A_{ij} = \sum_t \xi_t(i,j) / \sum_t \gamma_t(i)`.

    The denominator is the row sum of ``xi_sum`` (Eq. 22: summing xi over j gives gamma), taken
    over the same time steps as the numerator, so every row of the result sums to 1. With a
    Dirichlet prior of concentration :math:`a_{ij}` (chapter 11), the counts are
    :math:`\max(a_{ij} - 1 + \sum_t \xi_t(i,j), 0)`.

    Parameters
    ----------
    xi_sum : array_like, shape (K, K)
        Expected transition counts :math:`\sum_t \xi_t(i, j)`.
    previous : array_like, shape (K, K), optional
        The current A: kept for a state never left (an error without it); its zeros stay zeros.
    transmat_prior : float or array_like
        Dirichlet concentration (1: flat).

    Returns
    -------
    ndarray, shape (K, K)

    Examples
    --------
    >>> update_transmat([[3.0, 1.0], [2.0, 2.0]])
    array([[0.75, 0.25],
           [0.5 , 0.5 ]])
    """
    if validate:
        xi_sum = as_float_array(xi_sum, "xi_sum")
        if xi_sum.ndim != 2 or xi_sum.shape[0] != xi_sum.shape[1]:
            raise ValueError(f"`xi_sum` must be a K x K matrix; got shape {xi_sum.shape}.")
        transmat_prior = check_broadcast(transmat_prior, "transmat_prior", xi_sum.shape)
        previous = None if previous is None else check_broadcast(previous, "previous", xi_sum.shape)
    transmat, empty = _transmat_loop(xi_sum, transmat_prior, previous)
    if previous is None:
        _check_no_empty_state(empty, "transition row")
    return transmat


@njit(cache=True, nogil=True)
def _occupancy_loop(gamma, out):
    r""":math:`N_k = \sum_t \gamma_t(k)` for every state k.

    Each sum over t is four partial sums, of the steps t = 4m, 4m + 1, 4m + 2 and 4m + 3,
    added at the end as :math:`(s_0 + s_1) + (s_2 + s_3)`, so that the processor adds four
    independent sums side by side instead of waiting for each addition in turn. It reads
    four adjacent steps when a state's column of gamma is contiguous (Fortran order, as the
    E-step's buffers hold it). The order of the additions is the code's, not the compiler's."""
    n_steps, n_states = gamma.shape
    end = n_steps - n_steps % 4
    for k in range(n_states):
        s0 = s1 = s2 = s3 = 0.0
        for t in range(0, end, 4):
            s0 += gamma[t, k]
            s1 += gamma[t + 1, k]
            s2 += gamma[t + 2, k]
            s3 += gamma[t + 3, k]
        for t in range(end, n_steps):
            s0 += gamma[t, k]
        out[k] = (s0 + s1) + (s2 + s3)


@njit(cache=True, nogil=True)
def _weighted_sums_loop(X, gamma, first):
    r""":math:`\sum_t \gamma_t(k)\, x_{td}` for every state k and feature d, as four partial
    sums like :func:`_occupancy_loop` (fastest with ``X`` and ``gamma`` in Fortran order)."""
    n_steps, n_features = X.shape
    n_states = gamma.shape[1]
    end = n_steps - n_steps % 4
    for k in range(n_states):
        for d in range(n_features):
            s0 = s1 = s2 = s3 = 0.0
            for t in range(0, end, 4):
                s0 += gamma[t, k] * X[t, d]
                s1 += gamma[t + 1, k] * X[t + 1, d]
                s2 += gamma[t + 2, k] * X[t + 2, d]
                s3 += gamma[t + 3, k] * X[t + 3, d]
            for t in range(end, n_steps):
                s0 += gamma[t, k] * X[t, d]
            first[k, d] = (s0 + s1) + (s2 + s3)


@njit(cache=True, nogil=True)
def _scatter_loop(X, gamma, means, scatter):
    r"""The numerator of the derivation's (41), the scatter about the given means, entry by entry:
    :math:`\sum_t \gamma_t(k)\,(x_{td} - \mu_{kd})(x_{te} - \mu_{ke})` for the D(D + 1)/2
    entries e <= d, numbered row by row (the others by symmetry). Two entries share a pass
    over t (with an odd count the last pass computes one twice), each sum in the order of t,
    so that the processor adds two independent sums side by side (partial sums as in
    :func:`_occupancy_loop` measured no faster here)."""
    n_steps, n_features = X.shape
    n_states = gamma.shape[1]
    n_entries = n_features * (n_features + 1) // 2
    rows, columns = np.empty(n_entries, np.int64), np.empty(n_entries, np.int64)
    entry = 0
    for d in range(n_features):
        for e in range(d + 1):
            rows[entry], columns[entry] = d, e
            entry += 1
    for k in range(n_states):
        for entry in range(0, n_entries, 2):
            other = min(entry + 1, n_entries - 1)
            d1, e1, d2, e2 = rows[entry], columns[entry], rows[other], columns[other]
            total, other_total = 0.0, 0.0
            for t in range(n_steps):
                total += gamma[t, k] * (X[t, d1] - means[k, d1]) * (X[t, e1] - means[k, e1])
                other_total += gamma[t, k] * (X[t, d2] - means[k, d2]) * (X[t, e2] - means[k, e2])
            scatter[k, d1, e1] = scatter[k, e1, d1] = total
            scatter[k, d2, e2] = scatter[k, e2, d2] = other_total


@njit(cache=True, nogil=True)
def _pattern_occupancy_loop(gamma, row_pattern, out):
    r""":math:`W_{pk} = \sum_{t:\, p_t = p} \gamma_t(k)` (``out`` zeroed by the caller)."""
    n_steps, n_states = gamma.shape
    for t in range(n_steps):
        p = row_pattern[t]
        for k in range(n_states):
            out[p, k] += gamma[t, k]


def pattern_occupancy(gamma, patterns) -> np.ndarray:
    r""":math:`W_{pk} = \sum_{t:\, p_t = p} \gamma_t(k)`: the expected number of rows of each
    missingness pattern p (:class:`hmmcore.MissingPatterns`) spent in each state k, (P, K).

    Examples
    --------
    Each row's gamma goes to its pattern: 0, complete (the middle row), 1, missing the first
    feature (the last row), 2, missing the second (the first row).

    >>> from hmmcore import missing_patterns
    >>> X = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 1.0]])
    >>> gamma = [[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]]
    >>> pattern_occupancy(gamma, missing_patterns(X))
    array([[1.  , 0.  ],
           [0.25, 0.75],
           [0.5 , 0.5 ]])
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    out = np.zeros((len(patterns.order), gamma.shape[1]))
    _pattern_occupancy_loop(gamma, patterns.row_pattern, out)
    return out


def _expected_sums(moments, gamma) -> np.ndarray:
    r""":math:`\sum_t \gamma_t(k)\, \hat x_{tk}` for each state, (K, D): the loop of the
    complete-data sums on each state's completed rows."""
    n_states, _, n_features = moments.completed.shape
    first = np.empty((n_states, n_features))
    for k in range(n_states):
        _weighted_sums_loop(moments.completed[k], gamma[:, k : k + 1], first[k : k + 1])
    return first


def _expected_scatter(moments, gamma, means) -> np.ndarray:
    r""":math:`\sum_t \gamma_t(k)\big[(\hat x_{tk} - \mu_k)(\hat x_{tk} - \mu_k)^\top
    + C_{tk}\big]`, (K, D, D): the loop of the complete-data scatter on each state's completed
    rows, plus the conditional covariances :math:`\sum_t \gamma_t(k) C_{tk} = \sum_p W_{pk}
    C_{pk}`."""
    n_states, _, n_features = moments.completed.shape
    scatter = np.empty((n_states, n_features, n_features))
    for k in range(n_states):
        _scatter_loop(moments.completed[k], gamma[:, k : k + 1], means[k : k + 1], scatter[k : k + 1])
    weights = pattern_occupancy(gamma, moments.patterns)
    correction = np.einsum("pk,pkde->kde", weights, moments.covariances)
    return scatter + correction


def occupancy(gamma) -> np.ndarray:
    r""":math:`N_k = \sum_t \gamma_t(k)`, the expected number of steps spent in each state.

    Parameters
    ----------
    gamma : array_like, shape (T, K)

    Returns
    -------
    ndarray, shape (K,)

    Examples
    --------
    >>> occupancy(np.array([[0.75, 0.25], [0.5, 0.5]]))
    array([1.25, 0.75])
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    out = np.empty(gamma.shape[1])
    _occupancy_loop(gamma, out)
    return out


def _checked_gamma(X, gamma):
    X = check_observations(X)
    return X, check_posteriors(gamma, X.shape[0])


@njit(cache=True, nogil=True)
def _means_loop(first, occupancies, means_prior, means_weight, previous):
    r""":eq:`map-means-update` from the weighted sums ``first``: :math:`(\tau_k m_k + \sum_t
    \gamma_t(k) x_t) / (\tau_k + N_k)`; a state with no occupancy (``empty``) keeps
    ``previous``."""
    n_states, n_features = first.shape
    means = np.empty((n_states, n_features))
    empty = np.zeros(n_states, dtype=np.bool_)
    for k in range(n_states):
        denominator = means_weight[k] + occupancies[k]
        empty[k] = denominator < EMPTY_STATE_OCCUPANCY
        for d in range(n_features):
            if not empty[k]:
                means[k, d] = (means_weight[k] * means_prior[k, d] + first[k, d]) / denominator
            elif previous is not None:
                means[k, d] = previous[k, d]
    return means, empty


def update_means(X, gamma, previous=None, means_prior=0.0, means_weight=0.0, *, moments=None, occupancies=None,
                 validate=True):
    r"""The update of the means, :eq:`seed-35`: :math:`\hat\mu_k = \sum_t \gamma_t(k)\, x_t / \sum_t \gamma_t(k)`.

    With a normal prior of mean :math:`m_k` and weight :math:`\tau_k` (:eq:`map-means-update`):
    :math:`\hat\mu_k = (\tau_k m_k + \sum_t \gamma_t(k) x_t) / (\tau_k + N_k)`. With missing
    values, :math:`x_t` is replaced by :math:`\hat x_{tk}`, row t completed by its conditional
    mean in state k (:eq:`missing-means-update`).

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing (then ``moments`` is needed).
    gamma : array_like, shape (T, K)
        The E-step's posteriors.
    previous : array_like, shape (K, D), optional
        The current means, kept for a state with zero occupancy (an error without them).
    means_prior, means_weight : float or array_like
        hmmlearn's normal prior (weight 0: flat, the maximum-likelihood update), broadcast to
        (K, D) and (K,): a weight per state weighs that state's mean.
    moments : ConditionalMoments, optional
        :func:`hmmcore.conditional_moments` of ``X`` at the E-step's parameters: required when
        ``X`` has missing values (None: every value is observed).
    occupancies : array_like, shape (K,), optional
        :func:`occupancy` of ``gamma``, if already computed.

    Returns
    -------
    ndarray, shape (K, D)

    Examples
    --------
    >>> update_means([[0.0], [2.0], [4.0]], [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    array([[0.66666667],
           [3.33333333]])

    One state, two uncorrelated features; the second is missing in the last row, so it is
    completed by the current mean of that feature, 0, and the new mean is (3 + 1 + 0) / 3.

    >>> from hmmcore import conditional_moments
    >>> X = np.array([[1.0, 3.0], [2.0, 1.0], [3.0, np.nan]])
    >>> moments = conditional_moments(X, [[0.0, 0.0]], [np.eye(2)])
    >>> update_means(X, np.ones((3, 1)), moments=moments).round(4)
    array([[2.    , 1.3333]])
    """
    if validate:
        X, gamma = _checked_gamma(X, gamma)
        n_states, n_features = gamma.shape[1], X.shape[1]
        means_prior, means_weight = check_means_prior(means_prior, means_weight, n_states, n_features)
        previous = None if previous is None else check_broadcast(previous, "previous", (n_states, n_features))
        check_moments(moments, X, gamma.shape[1])
        occupancies = check_occupancies(occupancies, gamma)
    if moments is None:
        first = np.empty((gamma.shape[1], X.shape[1]))
        _weighted_sums_loop(X, gamma, first)
    else:
        first = _expected_sums(moments, gamma)
    occupancies = occupancy(gamma) if occupancies is None else occupancies
    means, empty = _means_loop(first, occupancies, means_prior, means_weight, previous)
    if previous is None:
        _check_no_empty_state(empty, "mean")
    return means


@njit(cache=True, nogil=True)
def _covars_full(occupancies, numerator, covars_prior, covars_weight, covars, empty):
    """Each state's own matrix: (Psi_k + numerator_k) / (max(nu_k - D, 0) + N_k)."""
    n_states, n_features, _ = numerator.shape
    for k in range(n_states):
        denominator = max(covars_weight[k] - n_features, 0.0) + occupancies[k]
        empty[k] = denominator < EMPTY_STATE_OCCUPANCY
        if not empty[k]:
            for d in range(n_features):
                for e in range(n_features):
                    covars[k, d, e] = (covars_prior[k, d, e] + numerator[k, d, e]) / denominator


@njit(cache=True, nogil=True)
def _covars_tied(occupancies, numerator, covars_prior, covars_weight, covars, empty):
    """One matrix for all states: the numerators and the occupancies pooled."""
    n_states, n_features, _ = numerator.shape
    pooled_occupancy = 0.0
    for k in range(n_states):
        pooled_occupancy += occupancies[k]
    denominator = max(covars_weight[0] - n_features, 0.0) + pooled_occupancy
    for k in range(n_states):
        empty[k] = denominator < EMPTY_STATE_OCCUPANCY
    if not empty[0]:
        for d in range(n_features):
            for e in range(n_features):
                pooled = 0.0
                for k in range(n_states):
                    pooled += numerator[k, d, e]
                value = (covars_prior[d, e] + pooled) / denominator
                for k in range(n_states):
                    covars[k, d, e] = value


@njit(cache=True, nogil=True)
def _variances(occupancies, numerator, covars_prior, covars_weight, empty):
    """Each feature's variance: the diagonal of the numerator, with hmmlearn's prior and its
    floor of 1e-5 on the denominator."""
    n_states, n_features, _ = numerator.shape
    variances = np.empty((n_states, n_features))
    for k in range(n_states):
        denominator = max(covars_weight[k] - 1.0, 0.0) + occupancies[k]
        empty[k] = denominator < EMPTY_STATE_OCCUPANCY
        for d in range(n_features):
            variances[k, d] = (covars_prior[k, d] + numerator[k, d, d]) / max(denominator, DIAGONAL_DENOMINATOR_FLOOR)
    return variances


@njit(cache=True, nogil=True)
def _diagonal_matrices(variances, covars):
    """``covars[k]`` = the diagonal matrix of ``variances[k]``."""
    n_states, n_features = variances.shape
    for k in range(n_states):
        for d in range(n_features):
            for e in range(n_features):
                covars[k, d, e] = variances[k, d] if d == e else 0.0


@njit(cache=True, nogil=True)
def _covars_diag(occupancies, numerator, covars_prior, covars_weight, covars, empty):
    """Diagonal matrices of each feature's variance."""
    _diagonal_matrices(_variances(occupancies, numerator, covars_prior, covars_weight, empty), covars)


@njit(cache=True, nogil=True)
def _covars_spherical(occupancies, numerator, covars_prior, covars_weight, covars, empty):
    """c_k I, with c_k the mean of the state's variances over the features."""
    variances = _variances(occupancies, numerator, covars_prior, covars_weight, empty)
    n_states, n_features = variances.shape
    for k in range(n_states):
        total = 0.0
        for d in range(n_features):
            total += variances[k, d]
        level = total / n_features
        for d in range(n_features):
            variances[k, d] = level
    _diagonal_matrices(variances, covars)


@njit(cache=True, nogil=True)
def _add_means_prior_term(numerator, means, means_prior, means_weight):
    r"""The means prior's term of the covariance numerator, in place:
    :math:`\tau_k (\mu_k - m_k)(\mu_k - m_k)^\top` (a state of weight 0 gets none)."""
    n_states, n_features, _ = numerator.shape
    for k in range(n_states):
        if means_weight[k] != 0.0:
            for d in range(n_features):
                for e in range(n_features):
                    offset = (means[k, d] - means_prior[k, d]) * (means[k, e] - means_prior[k, e])
                    numerator[k, d, e] += means_weight[k] * offset


@njit(cache=True, nogil=True)
def _ridge_or_previous(covars, empty, reg_covar, previous):
    """``reg_covar`` added to the diagonal of every new matrix; an empty state's matrix is
    ``previous``'s."""
    n_states, n_features, _ = covars.shape
    for k in range(n_states):
        for d in range(n_features):
            if not empty[k]:
                covars[k, d, d] += reg_covar
            elif previous is not None:
                for e in range(n_features):
                    covars[k, d, e] = previous[k, d, e]


#: The covariance update of each type, from the occupancies and the numerator of the derivation's (41),
#: written into `covars` (K full matrices) and `empty` (the states it leaves empty).
COVARIANCE_UPDATES = {
    "full": _covars_full,
    "diag": _covars_diag,
    "spherical": _covars_spherical,
    "tied": _covars_tied,
}


def update_covars(
    X,
    gamma,
    means,
    previous=None,
    reg_covar: float = 0.0,
    *,
    covariance_type: str = "full",
    covars_prior=0.0,
    covars_weight=1.0,
    means_prior=0.0,
    means_weight=0.0,
    moments=None,
    occupancies=None,
    validate: bool = True,
) -> np.ndarray:
    r"""The update of the covariances, :eq:`seed-41`: the gamma-weighted scatter of each state about its *new* mean.

    .. math:: \hat\Sigma_k = \frac{\sum_t \gamma_t(k)(x_t-\hat\mu_k)(x_t-\hat\mu_k)^\top}
              {\sum_t\gamma_t(k)} \; (+\ \texttt{reg\_covar}\cdot I)

    With missing values the scatter is that of the completed rows :math:`\hat x_{tk}` plus the
    conditional covariances of the missing coordinates, :math:`\sum_t \gamma_t(k) C_{tk}`: the
    *expected* scatter (:eq:`missing-covars-update`).

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing (then ``moments`` is needed).
    gamma : array_like, shape (T, K)
        The E-step's posteriors.
    means : array_like, shape (K, D)
        The *updated* means of :eq:`seed-35`.
    previous : array_like, shape (K, D, D), optional
        The current covariances, kept for a state with zero occupancy (an error without them).
    reg_covar : float
        ``reg_covar * I`` added inside the M-step (0: the plain maximum-likelihood update).
    covariance_type : {"full", "diag", "spherical", "tied"}
        "diag" keeps the diagonal of the numerator (with hmmlearn's floor of 1e-5 on the
        denominator), "spherical" its mean over the features, "tied" pools the numerators and
        the occupancies of all states.
    covars_prior, covars_weight, means_prior, means_weight : float or array_like
        hmmlearn's priors (chapter 11): the numerator gains ``covars_prior + means_weight
        (mu_k - means_prior)(mu_k - means_prior)^T`` and the denominator ``max(covars_weight - D,
        0)`` (full, tied) or ``max(covars_weight - 1, 0)`` (diag, spherical). ``covars_prior``
        is broadcast to the shape of the numerator it is added to: (K, D, D) full, (D, D)
        tied, (K, D) diag and spherical; ``means_prior`` to (K, D), the weights to (K,) (for
        "tied", ``covars_weight`` is one number).
    moments : ConditionalMoments, optional
        :func:`hmmcore.conditional_moments` of ``X`` at the E-step's parameters: required when
        ``X`` has missing values (None: every value is observed).
    occupancies : array_like, shape (K,), optional
        :func:`occupancy` of ``gamma``, if already computed.

    Returns
    -------
    ndarray, shape (K, D, D)
        Full matrices of the type's form.

    Examples
    --------
    >>> X, gamma = [[0.0], [2.0], [4.0]], [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    >>> update_covars(X, gamma, update_means(X, gamma)).round(4)
    array([[[0.8889]],
    <BLANKLINE>
           [[0.8889]]])

    One state of variance 1, its mean kept at 0; of two values one is missing: the observed
    one contributes 2^2 = 4, the missing one its conditional variance, 1 (its conditional mean
    is 0). The expected scatter is 5, over 2 rows.

    >>> from hmmcore import conditional_moments
    >>> X = np.array([[2.0], [np.nan]])
    >>> moments = conditional_moments(X, [[0.0]], [[[1.0]]])
    >>> update_covars(X, np.ones((2, 1)), [[0.0]], moments=moments)
    array([[[2.5]]])
    """
    if validate:
        X, gamma = _checked_gamma(X, gamma)
        check_covariance_type(covariance_type)
        check_nonnegative(reg_covar, "reg_covar")
        means = check_means(means, gamma.shape[1], X.shape[1])
        priors = check_priors(Priors(means_prior=means_prior, means_weight=means_weight, covars_prior=covars_prior,
                                     covars_weight=covars_weight), *means.shape, covariance_type)
        means_prior, means_weight = priors.means_prior, priors.means_weight
        covars_prior, covars_weight = priors.covars_prior, priors.covars_weight
        previous = None if previous is None else check_broadcast(previous, "previous", means.shape + means.shape[1:])
        check_moments(moments, X, gamma.shape[1])
        occupancies = check_occupancies(occupancies, gamma)
    n_states, n_features = means.shape
    if moments is None:
        numerator = np.empty((n_states, n_features, n_features))
        _scatter_loop(X, gamma, means, numerator)
    else:
        numerator = _expected_scatter(moments, gamma, means)
    _add_means_prior_term(numerator, means, means_prior, means_weight)
    occupancies = occupancy(gamma) if occupancies is None else occupancies
    covars, empty = np.empty_like(numerator), np.empty(n_states, dtype=np.bool_)
    COVARIANCE_UPDATES[covariance_type](occupancies, numerator, covars_prior, covars_weight, covars, empty)
    _ridge_or_previous(covars, empty, float(reg_covar), previous)
    if previous is None:
        _check_no_empty_state(empty, "covariance")
    return covars


def regularize_covars(covars, reg_covar: float) -> np.ndarray:
    r"""Post-hoc regularisation of the source system: :math:`\Sigma_k \leftarrow \Sigma_k + \lambda I`.

    Parameters
    ----------
    covars : array_like, shape (K, D, D)
    reg_covar : float
        lambda >= 0.

    Returns
    -------
    ndarray, shape (K, D, D)

    Raises
    ------
    ValueError
        If ``reg_covar`` is negative or not finite.

    Examples
    --------
    >>> regularize_covars(np.array([[[1.0]]]), 0.5)
    array([[[1.5]]])
    """
    covars = np.asarray(covars, dtype=np.float64)
    check_nonnegative(reg_covar, "reg_covar")
    return covars + reg_covar * np.eye(covars.shape[-1])
