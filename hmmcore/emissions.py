r"""Gaussian emission log-densities: the derivation's equation (29); with missing values, the
density of the observed coordinates and the conditional moments of the missing ones
(chapter 14).

The E-step only ever sees the (T, K) matrix ``log_b[t, k] = log b_k(O_t)`` produced here.
Every covariance type is passed here as K full (D, D) matrices (a diagonal, spherical or tied
model's matrices are simply diagonal, scalar or equal).

**Missing values.** For a row whose observed features are ``o`` and missing ones ``m``,
reorder the features as ``(o, m)`` and factor the reordered covariance of state k once:

.. math::
    P\Sigma_k P^\top = L L^\top, \qquad
    L = \begin{pmatrix} L_{oo} & 0 \\ L_{mo} & L_{mm} \end{pmatrix} .

Then :math:`L_{oo} L_{oo}^\top = \Sigma_{k,oo}` gives the density of the observed
coordinates, :math:`L_{mo} L_{oo}^{-1} = \Sigma_{k,mo}\Sigma_{k,oo}^{-1}` the regression of the
missing coordinates on the observed ones, and :math:`L_{mm} L_{mm}^\top = \Sigma_{k,mm} -
\Sigma_{k,mo}\Sigma_{k,oo}^{-1}\Sigma_{k,om}` their conditional covariance: one factorisation
per pattern of missing values (:mod:`hmmcore.missing`) and state gives all three. Complete rows
are computed by the loop of Eq. (29), so complete data give the same numbers, bit for bit, as
without this extension, and the gaps cost only where values are missing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .missing import MissingPatterns, missing_patterns
from .validation import check_covars, check_data, check_means, check_output_array, check_patterns


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
    try:
        return np.linalg.cholesky(covars)
    except np.linalg.LinAlgError:
        for state, covar in enumerate(covars):
            try:
                np.linalg.cholesky(covar)
            except np.linalg.LinAlgError:
                raise NotPositiveDefiniteError(state, name) from None
        raise


#: Time steps per block of the log-density loop: its scratch (D columns of this length) stays small.
DENSITY_BLOCK = 256


@njit(cache=True, nogil=True)
def _log_density_loop(X, means, factors, out):
    r"""The derivation's (29) for every t and k, with :math:`\Sigma_k = L_k L_k^\top`:

    .. math::
        \log b_k(x_t) = -\tfrac{D}{2}\log 2\pi - \sum_d \log L_{k,dd} - \tfrac12 \|z\|^2,
        \qquad L_k z = x_t - \mu_k

    (z by forward substitution: no matrix is inverted). The substitution runs one feature d at
    a time over a block of time steps, so that each inner loop is the same arithmetic on a
    whole column, which the compiler vectorises; each z_t gets exactly the operations of the
    row-by-row substitution, in the same order.
    """
    n_steps, n_features = X.shape
    n_states = means.shape[0]
    columns = np.empty((n_features, DENSITY_BLOCK))
    z = np.empty((n_features, DENSITY_BLOCK))
    squared = np.empty(DENSITY_BLOCK)
    for start in range(0, n_steps, DENSITY_BLOCK):
        size = min(DENSITY_BLOCK, n_steps - start)
        for d in range(n_features):
            for s in range(size):
                columns[d, s] = X[start + s, d]
        for k in range(n_states):
            log_det_half = 0.0
            for d in range(n_features):
                log_det_half += math.log(factors[k, d, d])
            log_normaliser = -0.5 * n_features * math.log(2.0 * math.pi) - log_det_half
            squared[:] = 0.0
            for d in range(n_features):
                mean, inverse_diagonal = means[k, d], 1.0 / factors[k, d, d]
                for s in range(size):
                    z[d, s] = columns[d, s] - mean
                for e in range(d):
                    for s in range(size):
                        z[d, s] -= factors[k, d, e] * z[e, s]
                for s in range(size):
                    z[d, s] *= inverse_diagonal
                    squared[s] += z[d, s] * z[d, s]
            for s in range(size):
                out[start + s, k] = log_normaliser - 0.5 * squared[s]


def _pattern_factors(covars: np.ndarray, patterns: MissingPatterns, cholesky=None) -> np.ndarray:
    """(P, K, D, D) lower Cholesky factors of every state's covariance reordered for every
    pattern: ``out[p, k] @ out[p, k].T == covars[k][order[p]][:, order[p]]``; ``cholesky``, the
    factors of ``covars`` themselves, if known (pattern 0, the identity order)."""
    states = np.arange(covars.shape[0])[None, :, None, None]
    rows, columns = patterns.order[:, None, :, None], patterns.order[:, None, None, :]
    reordered = covars[states, rows, columns]
    if cholesky is None:
        cholesky = cholesky_factors(covars)  # names the state of a covariance that is not PD
    out = np.linalg.cholesky(reordered[1:]) if len(reordered) > 1 else reordered[1:]
    return np.concatenate([cholesky[None], out])


@njit(cache=True, nogil=True)
def _observed_normalisers(factors, n_observed, k, inverse_diagonal):
    r"""For state k and every pattern p: ``1 / L_dd`` over the observed block of its factor,
    and the log normaliser of the density of the observed coordinates,
    :math:`-\tfrac{n_o}{2}\log 2\pi - \tfrac12\log|\Sigma_{k,oo}|`."""
    n_patterns = factors.shape[0]
    log_normaliser = np.empty(n_patterns)
    for p in range(n_patterns):
        log_det_half = 0.0
        for d in range(n_observed[p]):
            log_det_half += math.log(factors[p, k, d, d])
            inverse_diagonal[p, d] = 1.0 / factors[p, k, d, d]
        log_normaliser[p] = -0.5 * n_observed[p] * math.log(2.0 * math.pi) - log_det_half
    return log_normaliser


@njit(cache=True, nogil=True)
def _whiten_observed(X, t, means, k, order, n_observed, factors, p, inverse_diagonal, z):
    r"""Forward substitution over row t's observed block in state k,
    :math:`L_{oo} z = x_{t,o} - \mu_{k,o}` (``L`` the factor of pattern p); returns
    :math:`\|z\|^2`."""
    squared = 0.0
    for d in range(n_observed[p]):
        feature = order[p, d]
        value = X[t, feature] - means[k, feature]
        for e in range(d):
            value -= factors[p, k, d, e] * z[e]
        z[d] = value * inverse_diagonal[p, d]
        squared += z[d] * z[d]
    return squared


@njit(cache=True, nogil=True)
def _marginal_log_density_loop(X, means, order, n_observed, row_pattern, rows, factors, out):
    r"""The density of the observed coordinates for every row t in ``rows`` and every k:

    .. math::
        \log b_k(O_t) = -\tfrac{n_o}{2}\log 2\pi - \sum_{d \le n_o} \log L_{dd}
                        - \tfrac12 \|z\|^2, \qquad L_{oo} z = x_{t,o} - \mu_{k,o},

    with ``L`` the factor of row t's pattern; a row with nothing observed gets 0 (density 1).
    """
    n_features = X.shape[1]
    n_patterns, n_states = factors.shape[0], factors.shape[1]
    z = np.empty(n_features)
    inverse_diagonal = np.empty((n_patterns, n_features))
    for k in range(n_states):
        log_normaliser = _observed_normalisers(factors, n_observed, k, inverse_diagonal)
        for t in rows:
            p = row_pattern[t]
            squared = _whiten_observed(X, t, means, k, order, n_observed, factors, p, inverse_diagonal, z)
            out[t, k] = log_normaliser[p] - 0.5 * squared


def _checked_density_inputs(X, means, covars, patterns):
    """``(X, means, covars, patterns)`` of the density and the conditional moments, checked
    against each other (``patterns``: None, or the missing values' patterns of ``X``)."""
    X, _, found = check_data(X)
    means = check_means(means, n_features=X.shape[1])
    covars = check_covars(covars, n_components=means.shape[0], n_features=X.shape[1])
    return X, means, covars, check_patterns(patterns, found)


def gaussian_log_density(X, means, covars, *, cholesky=None, patterns=None, out=None, validate: bool = True) -> np.ndarray:
    r"""The Gaussian log-density, :eq:`seed-29`: ``log N(x_t; mu_k, Sigma_k)`` for every t and k;
    with missing values (NaN), the log-density of each row's observed coordinates,
    :eq:`missing-density`.

    .. math::
        \log b_k(x_t) = -\tfrac{D}{2}\log 2\pi - \tfrac12\log|\Sigma_k|
                        - \tfrac12 (x_t-\mu_k)^\top \Sigma_k^{-1} (x_t-\mu_k)

    A row with missing values gets the marginal density of its observed coordinates
    :math:`x_{t,o}`, :math:`\mathcal N(x_{t,o}; \mu_{k,o}, \Sigma_{k,oo})` (the same formula
    with the observed sub-vector and sub-block); a row with nothing observed gets 0.

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing.
    means : array_like, shape (K, D)
    covars : array_like, shape (K, D, D)
        Full covariance matrices (of any covariance type's form).
    cholesky : ndarray, shape (K, D, D), optional
        Their lower Cholesky factors, if already computed (the M-step computes them).
    patterns : MissingPatterns, optional
        The missingness patterns of ``X`` (:func:`hmmcore.missing_patterns`), if already
        found; with ``validate=False``, None means that no value is missing.
    out : ndarray, shape (T, K), optional
        The array to write the result into (None: a new one).
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

    With the second coordinate missing, the first is a standard normal whatever the
    correlation: the same -0.9189 as above.

    >>> covars = [[[1.0, 0.8], [0.8, 1.0]]]
    >>> gaussian_log_density([[0.0, np.nan]], [[0.0, 0.0]], covars).round(4)
    array([[-0.9189]])
    """
    if validate:
        X, means, covars, patterns = _checked_density_inputs(X, means, covars, patterns)
    if cholesky is None:
        cholesky = cholesky_factors(covars)
    if out is None:
        out = np.empty((X.shape[0], means.shape[0]))
    elif validate:
        check_output_array(out, (X.shape[0], means.shape[0]), "out")
    _log_density_loop(X, means, cholesky, out)
    if patterns is not None:
        # rows with gaps: the loop above left NaN there; the marginal density replaces it
        factors = _pattern_factors(covars, patterns, cholesky)
        _marginal_log_density_loop(X, means, patterns.order, patterns.n_observed, patterns.row_pattern,
                                   patterns.incomplete_rows, factors, out)
    return out


class ConditionalMoments(NamedTuple):
    r"""The missing coordinates' conditional moments given the observed ones, in each state
    (:eq:`missing-conditional`): the expected sufficient statistics of the M-step with missing
    values."""

    completed: np.ndarray
    r"""(K, T, D) :math:`\hat x_{tk} = \mathbb E[x_t \mid x_{t,o}, q_t = k]`: row t as observed,
    each missing coordinate replaced by its conditional mean in state k."""
    covariances: np.ndarray
    r"""(P, K, D, D) :math:`C_{pk} = \operatorname{Cov}[x_t \mid x_{t,o}, q_t = k]` for a row
    of pattern p: the conditional covariance of the missing coordinates in their rows and
    columns, zeros elsewhere (pattern 0, complete, is all zeros)."""
    patterns: MissingPatterns
    """The patterns of missing values: row t's conditional covariances are
    ``covariances[p]`` with ``p = patterns.row_pattern[t]``."""


@njit(cache=True, nogil=True)
def _conditional_mean_loop(X, means, order, n_observed, row_pattern, rows, factors, completed):
    r"""The missing coordinates of every row t in ``rows`` by their conditional mean in each
    state k (``completed[k, t]`` holds row t's observed values already):

    .. math::
        \hat x_{tk,m} = \mu_{k,m} + \Sigma_{k,mo}\Sigma_{k,oo}^{-1}(x_{t,o} - \mu_{k,o})
                      = \mu_{k,m} + L_{mo} z, \qquad L_{oo} z = x_{t,o} - \mu_{k,o}.
    """
    n_features = X.shape[1]
    n_patterns, n_states = factors.shape[0], factors.shape[1]
    z = np.empty(n_features)
    inverse_diagonal = np.empty((n_patterns, n_features))
    for k in range(n_states):
        _observed_normalisers(factors, n_observed, k, inverse_diagonal)
        for t in rows:
            p = row_pattern[t]
            _whiten_observed(X, t, means, k, order, n_observed, factors, p, inverse_diagonal, z)
            for d in range(n_observed[p], n_features):
                value = means[k, order[p, d]]
                for e in range(n_observed[p]):
                    value += factors[p, k, d, e] * z[e]
                completed[k, t, order[p, d]] = value


def _conditional_covariances(factors: np.ndarray, patterns: MissingPatterns) -> np.ndarray:
    r""":math:`C_{pk} = L_{mm} L_{mm}^\top` (the conditional covariance
    :math:`\Sigma_{k,mm} - \Sigma_{k,mo}\Sigma_{k,oo}^{-1}\Sigma_{k,om}`) in the rows and
    columns of pattern p's missing features, zeros elsewhere; (P, K, D, D)."""
    out = np.zeros(factors.shape)
    for p in range(1, factors.shape[0]):
        n_observed = patterns.n_observed[p]
        missing = patterns.order[p, n_observed:]
        block = factors[p, :, n_observed:, n_observed:]
        out[p][:, missing[:, None], missing[None, :]] = block @ np.swapaxes(block, 1, 2)
    return out


def conditional_moments(X, means, covars, *, cholesky=None, patterns=None,
                        validate: bool = True) -> ConditionalMoments:
    r"""The conditional Gaussian, :eq:`missing-conditional`: in each state k, the missing
    coordinates of each row given its observed ones,

    .. math::
        \hat x_{tk,m} = \mu_{k,m} + \Sigma_{k,mo}\Sigma_{k,oo}^{-1}(x_{t,o} - \mu_{k,o}), \qquad
        C_{tk,mm} = \Sigma_{k,mm} - \Sigma_{k,mo}\Sigma_{k,oo}^{-1}\Sigma_{k,om} .

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing.
    means : array_like, shape (K, D)
    covars : array_like, shape (K, D, D)
        The parameters under which the expectations are taken (the E-step's).
    cholesky : ndarray, shape (K, D, D), optional
        The lower Cholesky factors of ``covars``, if already computed.
    patterns : MissingPatterns, optional
        The missingness patterns of ``X``, if already found (with ``validate=False``, None
        means that no value is missing).

    Returns
    -------
    ConditionalMoments
        ``completed`` (K, T, D), ``covariances`` (P, K, D, D) and the ``patterns``.

    Examples
    --------
    Two standard normal coordinates with correlation 0.8: given the first at 1, the second
    has mean 0.8 and variance 1 - 0.8^2 = 0.36.

    >>> covars = [[[1.0, 0.8], [0.8, 1.0]]]
    >>> moments = conditional_moments([[1.0, np.nan]], [[0.0, 0.0]], covars)
    >>> moments.completed[0].round(4), moments.covariances[1, 0].round(4)
    (array([[1. , 0.8]]), array([[0.  , 0.  ],
           [0.  , 0.36]]))
    """
    if validate:
        X, means, covars, patterns = _checked_density_inputs(X, means, covars, patterns)
    if patterns is None:
        patterns = missing_patterns(X)
    factors = _pattern_factors(covars, patterns, cholesky)
    completed = np.repeat(X[None], means.shape[0], axis=0)
    _conditional_mean_loop(X, means, patterns.order, patterns.n_observed, patterns.row_pattern,
                           patterns.incomplete_rows, factors, completed)
    return ConditionalMoments(completed, _conditional_covariances(factors, patterns), patterns)
