"""The hidden chain by itself: its stationary distribution.

A chain with one closed class of states forgets where it started: ``P(q_t = j)`` tends to
the stationary distribution pi(A), the row vector with ``pi^T A = pi^T`` and ``sum(pi) = 1``.
Hamilton's regime-switching models (Stata's ``mswitch``, statsmodels' ``MarkovRegression``)
start every sequence from it (chapter 12), and ``GaussianHMM.get_stationary_distribution``
returns it.
"""

from __future__ import annotations

import numpy as np

from .validation import check_transmat, check_unique_stationary


def stationary_distribution(transmat, *, validate: bool = True) -> np.ndarray:
    r"""The stationary distribution of the chain with transition matrix ``transmat``.

    It is the one solution of the linear system (chapter 12,
    :eq:`info-stationary-system`)

    .. math::
        \pi^\top (I - A + \mathbf{1}\mathbf{1}^\top) = \mathbf{1}^\top,

    which is non-singular exactly when the chain has a unique stationary distribution
    (one closed class of states): a vector v with :math:`v^\top(I - A + \mathbf{1}\mathbf{1}^\top)
    = 0` has :math:`v^\top \mathbf{1} = 0` (multiply by :math:`\mathbf{1}`) and so
    :math:`v^\top (I - A) = 0`: it is the difference of two stationary distributions.

    Parameters
    ----------
    transmat : array_like, shape (K, K)
        The transition matrix A (rows sum to 1).

    Returns
    -------
    ndarray, shape (K,)
        pi(A): non-negative, sums to 1; 0 on transient states.

    Raises
    ------
    ValueError
        If the chain has several closed classes (no unique stationary distribution); the
        message lists them.

    Examples
    --------
    A two-state chain leaves state 1 with probability p = 0.1 and state 2 with q = 0.3, so
    it spends the share q / (p + q) = 0.75 of its time in state 1:

    >>> stationary_distribution([[0.9, 0.1], [0.3, 0.7]])
    array([0.75, 0.25])
    """
    if validate:
        transmat = check_transmat(transmat)
        check_unique_stationary(transmat)
    n_states = transmat.shape[0]
    system = np.eye(n_states) - transmat + np.ones((n_states, n_states))
    pi = np.linalg.solve(system.T, np.ones(n_states))
    pi = np.maximum(pi, 0.0)  # a transient state's 0 may come out as -1e-17
    return pi / pi.sum()
