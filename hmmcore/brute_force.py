"""The exact oracle: enumerate all K^T hidden paths (only for tiny problems).

Every identity of the E-step can be checked against these sums, which use nothing but the
definition of the joint probability (the derivation's (4)) and of the marginal likelihood (its (2)).
With missing values (chapter 14), :func:`integrate_missing` is the oracle for the emissions:
it integrates the full Gaussian density over the missing coordinates numerically.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from .validation import check_covars, check_hmm_sequence, check_means, check_observations

#: Refuse to enumerate more paths than this (K^T grows fast).
MAX_PATHS = 3**12


class BruteForce(NamedTuple):
    """Exact quantities obtained by summing over every hidden path."""

    paths: np.ndarray
    """(K^T, T) every state sequence Q = (q_1, ..., q_T)."""
    log_joint: np.ndarray
    """(K^T,) log P(O, Q | lambda) of each path, :eq:`seed-4`."""
    log_likelihood: float
    """log P(O | lambda) = log sum_Q P(O, Q | lambda), :eq:`seed-2`."""
    gamma: np.ndarray
    """(T, K) P(q_t = i | O), summed over paths."""
    xi: np.ndarray
    """(T-1, K, K) P(q_t = i, q_{t+1} = j | O), summed over paths."""
    xi_sum: np.ndarray
    """(K, K) xi summed over t."""
    best_path: np.ndarray
    """(T,) the path with the largest joint probability."""
    best_log_prob: float
    """Its log P(O, Q | lambda)."""


def joint_log_prob(path, startprob, transmat, log_b) -> float:
    """log P(O, Q | lambda) of one path, :eq:`seed-5`: log pi_{q_1} + sum_t log A_{q_{t-1} q_t}
    + sum_t log b_{q_t}(O_t).

    Parameters
    ----------
    path : sequence of int, length T
    startprob, transmat, log_b : array_like
        Shapes (K,), (K, K), (T, K); trusted (see :func:`enumerate_paths`).

    Returns
    -------
    float

    Examples
    --------
    >>> transmat = np.array([[0.75, 0.25], [0.5, 0.5]])
    >>> startprob, log_b = np.array([0.5, 0.5]), np.zeros((2, 2))
    >>> value = joint_log_prob([0, 1], startprob, transmat, log_b)
    >>> bool(np.isclose(value, np.log(0.5 * 0.25)))
    True
    """
    path = np.asarray(path)
    with np.errstate(divide="ignore"):
        value = np.log(startprob[path[0]])
        value += np.log(transmat[path[:-1], path[1:]]).sum()
    return float(value + log_b[np.arange(len(path)), path].sum())


def enumerate_paths(startprob, transmat, log_b) -> BruteForce:
    """The exact oracle: log-likelihood (:eq:`seed-2`), posteriors and best path by summing over
    all K^T paths.

    Parameters
    ----------
    startprob : array_like, shape (K,)
    transmat : array_like, shape (K, K)
    log_b : array_like, shape (T, K)

    Returns
    -------
    BruteForce

    Raises
    ------
    ValueError
        If K^T exceeds ``MAX_PATHS``.

    Examples
    --------
    >>> log_b = np.log([[0.5, 0.1], [0.2, 0.4]])
    >>> exact = enumerate_paths([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], log_b)
    >>> len(exact.paths), exact.gamma.sum(axis=1)
    (4, array([1., 1.]))
    """
    startprob, transmat, log_b = check_hmm_sequence(startprob, transmat, log_b)
    n_steps, n_states = log_b.shape
    if n_states**n_steps > MAX_PATHS:
        raise ValueError(f"enumerating K^T = {n_states}^{n_steps} paths is too many; keep K^T <= {MAX_PATHS}.")
    paths = np.array(list(itertools.product(range(n_states), repeat=n_steps)), dtype=np.intp)
    log_joint = np.array([joint_log_prob(path, startprob, transmat, log_b) for path in paths])
    log_likelihood = float(np.logaddexp.reduce(log_joint))
    posterior = np.exp(log_joint - log_likelihood)

    gamma = np.zeros((n_steps, n_states))
    xi = np.zeros((max(n_steps - 1, 0), n_states, n_states))
    for path, weight in zip(paths, posterior):
        gamma[np.arange(n_steps), path] += weight
        xi[np.arange(n_steps - 1), path[:-1], path[1:]] += weight
    best = int(np.argmax(log_joint))
    return BruteForce(paths, log_joint, log_likelihood, gamma, xi, xi.sum(axis=0), paths[best], float(log_joint[best]))


class IntegratedMoments(NamedTuple):
    """Emission quantities with the missing coordinates integrated out numerically."""

    log_density: np.ndarray
    """(T, K) log of the integral of N(x_t; mu_k, Sigma_k) over row t's missing coordinates."""
    first: np.ndarray
    """(T, K, D) E[x_t | observed coordinates, q_t = k]: the observed values, and the integrated
    conditional means of the missing ones."""
    second: np.ndarray
    """(T, K, D, D) E[x_t x_t^T | observed coordinates, q_t = k]."""


def _integrate_row(x, mean, covar, rtol):
    """(mass, E[y], E[y y^T]) over the missing coordinates y of x, of the full density
    ``exp(-r^T Sigma^-1 r / 2) / sqrt((2 pi)^D det Sigma)`` written out, on the box of the
    mean +- 40 standard deviations."""
    missing = np.flatnonzero(np.isnan(x))
    n = len(missing)
    precision = np.linalg.inv(covar)
    normaliser = 1.0 / np.sqrt((2 * np.pi) ** len(x) * np.linalg.det(covar))
    sd = np.sqrt(np.diag(covar))[missing]

    def density(y):  # (points, n) -> (points,)
        residual = np.tile(np.where(np.isnan(x), 0.0, x - mean), (len(y), 1))
        residual[:, missing] = y - mean[missing]
        return normaliser * np.exp(-0.5 * np.einsum("pi,ij,pj->p", residual, precision, residual))

    def with_moments(y):  # (points, n) -> (points, 1 + n + n^2)
        f = density(y)
        outer = (y[:, :, None] * y[:, None, :]).reshape(len(y), -1)
        return np.column_stack([f, y * f[:, None], outer * f[:, None]])

    low, high = mean[missing] - 40 * sd, mean[missing] + 40 * sd
    mass = _integral(density, low, high, rtol, 0.0, missing)
    # A moment may be 0, which no relative tolerance reaches: the moments are asked to an
    # absolute accuracy of rtol times the mass, and their pass must find the mass again.
    estimate = _integral(with_moments, low, high, rtol, rtol * mass, missing)
    if not abs(estimate[0] - mass) <= 10 * rtol * mass:
        raise RuntimeError(f"the integrals over the missing coordinates {missing.tolist()} disagree")
    return mass, estimate[1 : 1 + n] / mass, estimate[1 + n :].reshape(n, n) / mass


def _integral(function, low, high, rtol, atol, missing):
    # imported on use: scipy.integrate imports scipy.optimize, which would add 0.1 s to `import hmmcore`
    from scipy.integrate import cubature

    result = cubature(function, low, high, rtol=rtol, atol=atol)
    if result.status != "converged":
        raise RuntimeError(f"the integral over the missing coordinates {missing.tolist()} did not converge")
    return result.estimate


def integrate_missing(X, means, covars, *, rtol: float = 1e-11) -> IntegratedMoments:
    """The oracle for missing values (NaN): each row's density and conditional moments in each
    state, by numerical integration over its missing coordinates (SciPy's ``cubature``) of
    the full D-dimensional Gaussian density, written out with an explicit inverse and
    determinant. It uses none of the formulas it checks (the marginal and the conditional
    Gaussian, :eq:`missing-density` and :eq:`missing-conditional`). For tiny problems: each
    row and state is an integral in as many dimensions as the row misses values (one or two
    take milliseconds, three take minutes).

    Parameters
    ----------
    X : array_like, shape (T, D)
        Observations, NaN where a value is missing.
    means : array_like, shape (K, D)
    covars : array_like, shape (K, D, D)
    rtol : float
        The relative accuracy asked of each integral.

    Returns
    -------
    IntegratedMoments

    Examples
    --------
    Two standard normal coordinates with correlation 0.8, the second missing: the density is
    the first coordinate's, log N(0; 0, 1) = -0.9189; given the first at 0, the second has
    mean 0 and second moment 1 - 0.8^2 = 0.36.

    >>> covars = [[[1.0, 0.8], [0.8, 1.0]]]
    >>> exact = integrate_missing([[0.0, np.nan]], [[0.0, 0.0]], covars)
    >>> log_density, second = exact.log_density[0, 0], exact.second[0, 0, 1, 1]
    >>> round(float(log_density), 4), round(float(second), 6)
    (-0.9189, 0.36)
    """
    X = check_observations(X)
    means = check_means(means, n_features=X.shape[1])
    covars = check_covars(covars, means.shape[0], X.shape[1])
    (n_steps, n_features), n_states = X.shape, means.shape[0]
    log_density = np.empty((n_steps, n_states))
    first, second = np.empty((n_steps, n_states, n_features)), np.empty((n_steps, n_states, n_features, n_features))
    for t, k in itertools.product(range(n_steps), range(n_states)):
        missing = np.flatnonzero(np.isnan(X[t]))
        x = X[t].copy()
        if missing.size:
            mass, mean_y, moment_y = _integrate_row(X[t], means[k], covars[k], rtol)
            x[missing] = mean_y
        else:
            residual = x - means[k]
            mass = np.exp(-0.5 * residual @ np.linalg.inv(covars[k]) @ residual) / np.sqrt(
                (2 * np.pi) ** n_features * np.linalg.det(covars[k]))
        log_density[t, k] = np.log(mass)
        first[t, k] = x
        second[t, k] = np.outer(x, x)
        if missing.size:
            second[t, k][np.ix_(missing, missing)] = moment_y
    return IntegratedMoments(log_density, first, second)
