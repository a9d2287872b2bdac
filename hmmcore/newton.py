"""Newton's method on the log-likelihood, with the exact score and observed information.

EM (chapter 8) has no closed-form M-step for A when every sequence starts from the stationary
distribution of A (chapter 12): the first observation couples the rows of A. Newton's method
in the unconstrained coordinates, with the score and the information of
:mod:`hmmcore.information`, maximises that likelihood too; from an EM fit it reaches the
maximum in a few steps, with a quadratic rate where EM's is linear.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg

from .coordinates import from_coordinates, to_coordinates
from .information import ObservedInformation, observed_information
from .params import HMMParams
from .validation import (
    BOUNDARY_TOLERANCE,
    check_information_inputs,
    check_n_iter,
    check_nonnegative,
)


class NewtonResult(NamedTuple):
    """The outcome of :func:`fit_newton`."""

    params: HMMParams
    """The maximiser (with ``startprob`` = pi(A) when ``start="stationary"``)."""
    information: ObservedInformation
    """The score and information there."""
    converged: bool
    """True when Newton's predicted gain fell below ``tol``."""
    n_iter: int
    """The number of Newton steps taken."""


def fit_newton(X, params, lengths=None, *, covariance_type: str = "full", start: str = "free",
               n_iter: int = 50, tol: float = 1e-10, boundary_tol: float = BOUNDARY_TOLERANCE,
               validate: bool = True) -> NewtonResult:
    r"""Maximise log P(X | lambda) by Newton's method in the unconstrained coordinates theta.

    Each step solves :math:`I(\theta)\,\delta = \nabla \log P(X \mid \theta)` with the exact
    observed information of Louis' identity (:eq:`info-louis`), halving the step until the
    log-likelihood does not fall. Where the observed information is not positive definite
    (far from a maximum) it uses the complete information instead, which is: the step of the
    EM gradient algorithm. It stops when Newton's predicted gain
    :math:`\tfrac12 g^\top I^{-1} g` is below ``tol`` nats.

    Parameters
    ----------
    X : array_like, shape (T, D)
    params : HMMParams
        The start, e.g. an EM fit (covariances of the type's form).
    lengths : list of int, optional
        Lengths of the sequences (None: one sequence).
    covariance_type : {"full", "diag", "spherical", "tied"}
    start : {"free", "fixed", "stationary"}
        The likelihood maximised: pi free, pi fixed at ``params.startprob``, or pi the
        stationary distribution of A (statsmodels' and Stata's convention).
    n_iter : int
        At most this many Newton steps.
    tol : float
        Stop when the predicted gain is below this (nats).
    boundary_tol : float
        A free probability of the start below this counts as 0 (on the boundary).

    Returns
    -------
    NewtonResult

    Raises
    ------
    BoundaryError
        If a free probability of ``params`` is below ``boundary_tol``.
    ValueError
        For bad input, naming the argument.
        Missing values (NaN) are refused: the information is derived for complete data.

    Examples
    --------
    One state: the maximum-likelihood mean and variance are the sample's, 0 and 2.5 here,
    reached from a poor start.

    >>> from hmmcore import HMMParams
    >>> X = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    >>> start = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.7]]),
    ...                   np.array([[[9.0]]]))
    >>> result = fit_newton(X, start, start="fixed")
    >>> mean, variance = result.params.means[0, 0], result.params.covars[0, 0, 0]
    >>> bool(abs(mean) < 1e-9), round(float(variance), 9)
    (True, 2.5)
    """
    if validate:
        X, lengths, params = check_information_inputs(X, params, lengths, covariance_type, start, boundary_tol)
        n_iter = check_n_iter(n_iter)
        tol = check_nonnegative(tol, "tol")
    information = observed_information(X, params, lengths, covariance_type=covariance_type, start=start,
                                       boundary_tol=0.0, validate=False)
    coordinates = information.coordinates
    theta = to_coordinates(params, coordinates)
    params = from_coordinates(theta, coordinates, params.startprob)
    converged, n_steps = False, 0
    while n_steps < n_iter:
        try:
            factor = linalg.cholesky(information.observed, lower=True)
        except linalg.LinAlgError:
            factor = linalg.cholesky(information.complete, lower=True)
        step = linalg.cho_solve((factor, True), information.score)
        predicted_gain = 0.5 * information.score @ step
        for _ in range(60):
            candidate = from_coordinates(theta + step, coordinates, params.startprob)
            trial = observed_information(X, candidate, lengths, covariance_type=covariance_type, start=start,
                                         boundary_tol=0.0, validate=False)
            if trial.log_likelihood >= information.log_likelihood:
                break
            step = step / 2
        else:  # no step along this direction raises the likelihood: a maximum, to rounding
            converged = True
            break
        theta, params, information = theta + step, candidate, trial
        n_steps += 1
        if predicted_gain < tol:  # the step just taken was the last one needed
            converged = True
            break
    return NewtonResult(params, information, converged, n_steps)
