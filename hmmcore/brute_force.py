"""The exact oracle: enumerate all K^T hidden paths (only for tiny problems).

Every identity of the E-step can be checked against these sums, which use nothing but the
definition of the joint probability (the derivation's (4)) and of the marginal likelihood (its (2)).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from .validation import check_hmm_sequence

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
    >>> value = joint_log_prob([0, 1], np.array([0.5, 0.5]), np.array([[0.75, 0.25], [0.5, 0.5]]),
    ...                        np.zeros((2, 2)))
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
    >>> exact = enumerate_paths([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], np.log([[0.5, 0.1], [0.2, 0.4]]))
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
