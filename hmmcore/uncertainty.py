"""Standard errors and confidence intervals of a fitted Gaussian HMM (chapter 12).

The inverse observed information (:mod:`hmmcore.information`) is the asymptotic covariance of
the unconstrained coordinates theta (:eq:`info-covariance`); the delta method carries it to
the natural parameters pi, A, mu and Sigma (:eq:`info-delta-method`). Intervals are Wald
intervals on a scale where the parameter is free (logit for a probability, log for a
variance), mapped back (:eq:`info-intervals`). The sandwich (:eq:`info-sandwich`) allows for
misspecified emissions.

Where the asymptotics do not apply, the functions say so instead of returning numbers: a
free probability at 0 raises :class:`hmmcore.BoundaryError` (from the input checks); an
information that is not positive definite raises :class:`SingularInformationError` naming
the parameters involved; parameters away from a maximum warn
(:class:`NotAtMaximumWarning`), and so does a transition expected less than once
(:class:`NearBoundaryWarning`).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.special import expit, logit, ndtri

from .chain import stationary_distribution
from .coordinates import NaturalParameters, natural_parameters
from .information import ObservedInformation, observed_information
from .validation import BOUNDARY_TOLERANCE, check_choice, check_information_inputs, check_level

#: The information is singular when its smallest eigenvalue, scaled to unit diagonal, is below this.
SINGULARITY_TOLERANCE = 1e-10

#: Newton's predicted gain (nats) above which the parameters are not at a maximum.
NOT_AT_MAXIMUM_GAIN = 1e-2


class SingularInformationError(ValueError):
    """The observed information is not positive definite: the likelihood is flat (or curves
    upwards) along some direction of the coordinates.

    Attributes
    ----------
    parameters : list of str
        The coordinates that dominate that direction.
    eigenvalue : float
        The smallest eigenvalue of the information scaled to unit diagonal.
    direction : ndarray
        That direction in theta (unit length).
    """

    def __init__(self, names: list, eigenvalue: float, direction: np.ndarray):
        listed = ", ".join(f"`{name}`" for name in names)
        super().__init__(
            f"the observed information is not positive definite (smallest eigenvalue, scaled to "
            f"unit diagonal, {eigenvalue:.3g}); the direction where it fails is mostly {listed}. "
            "Either the parameters are not at a maximum of the likelihood (run EM to "
            "convergence), or those parameters are not identified by the data (an unvisited or "
            "twin state): drop the state or fix the parameter."
        )
        self.parameters = names
        self.eigenvalue = eigenvalue
        self.direction = direction


class NotAtMaximumWarning(UserWarning):
    """The score is far from 0: the standard errors are those of a point that is not the MLE."""


class NearBoundaryWarning(UserWarning):
    """A transition is expected less than once in the data: its normal approximation is poor."""


class StandardErrors(NamedTuple):
    """Standard errors and intervals of the natural parameters (:eq:`info-delta-method`)."""

    names: tuple
    """Name of each natural parameter, e.g. ``"transmat[1, 0]"``, ``"covars[2, 1, 0]"``."""
    estimates: np.ndarray
    """(N,) their values."""
    standard_errors: np.ndarray
    """(N,) the square roots of the diagonal of ``covariance``."""
    covariance: np.ndarray
    """(N, N) J I^{-1} J^T (or the sandwich's), their asymptotic covariance."""
    lower: np.ndarray
    """(N,) lower ends of the ``level`` intervals: Wald intervals on the logit scale for a
    probability, the log scale for a variance, the natural scale otherwise."""
    upper: np.ndarray
    """(N,) upper ends."""
    level: float
    """The intervals' coverage."""
    information: ObservedInformation
    """The observed information they come from."""


def inverse_information(information: ObservedInformation) -> np.ndarray:
    """The inverse of the observed information, or :class:`SingularInformationError` naming
    the coordinates along which it is not positive definite. Judged after scaling to unit
    diagonal, so that the units of the parameters do not matter.

    Parameters
    ----------
    information : ObservedInformation

    Returns
    -------
    ndarray, shape (P, P)

    Raises
    ------
    SingularInformationError
        If the scaled information has an eigenvalue below 1e-10 (or a diagonal entry <= 0).

    Examples
    --------
    One state at the maximum-likelihood mean 0 and variance 2.5 of four observations: the
    variance of the mean is sigma^2 / T = 0.625, that of the log standard deviation
    1 / (2 T) = 0.125.

    >>> from hmmcore import HMMParams, observed_information
    >>> X = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    >>> params = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.0]]),
    ...                    np.array([[[2.5]]]))
    >>> information = observed_information(X, params, start="fixed")
    >>> np.diag(inverse_information(information)).round(12)
    array([0.625, 0.125])

    Away from the maximum (here the mean is 1) the information need not be positive
    definite, and the error says which coordinates are involved:

    >>> from hmmcore import SingularInformationError
    >>> moved = observed_information(X + 1.8, params, start="fixed")
    >>> try:
    ...     inverse_information(moved)
    ... except SingularInformationError as error:
    ...     print(str(error).split(" (")[0])
    the observed information is not positive definite
    """
    observed = information.observed
    names = information.coordinates.names
    diagonal = np.diag(observed)
    if np.any(diagonal <= 0):
        worst = int(np.argmin(diagonal))
        raise SingularInformationError([names[worst]], float(diagonal[worst]), np.eye(len(names))[worst])
    scale = np.sqrt(diagonal)
    eigenvalues, eigenvectors = np.linalg.eigh(observed / np.outer(scale, scale))
    if eigenvalues[0] <= SINGULARITY_TOLERANCE:
        weights = np.abs(eigenvectors[:, 0])
        order = np.argsort(weights)[::-1]
        chosen = [names[p] for p in order[:3] if weights[p] >= 0.3 * weights[order[0]]]
        direction = eigenvectors[:, 0] / scale
        raise SingularInformationError(chosen, float(eigenvalues[0]), direction / np.linalg.norm(direction))
    factor = linalg.cholesky(observed, lower=True)
    return linalg.cho_solve((factor, True), np.eye(len(names)))


def confidence_intervals(natural: NaturalParameters, standard_errors: np.ndarray, level: float = 0.95):
    r"""``(lower, upper)``: Wald intervals on a scale where each parameter is free, mapped
    back (:eq:`info-intervals`): logit for a probability (its standard error there is
    se / (p (1 - p))), log for a variance (se / sigma^2), the natural scale for a mean or a
    covariance. A probability's interval stays inside (0, 1) and is asymmetric near 0.

    Parameters
    ----------
    natural : NaturalParameters
        The parameters (their ``values`` and ``kinds``).
    standard_errors : ndarray, shape (N,)
    level : float

    Returns
    -------
    lower, upper : ndarray, shape (N,)

    Examples
    --------
    A probability of 0.5 with standard error 0.1 has logit 0 with standard error 0.4, so
    its 95 % interval is expit(-+1.96 * 0.4) = (0.3135, 0.6865).

    >>> from hmmcore.coordinates import NaturalParameters
    >>> natural = NaturalParameters(("p",), np.array([0.5]), ("probability",),
    ...                             np.zeros((1, 1)))
    >>> lower, upper = confidence_intervals(natural, np.array([0.1]))
    >>> round(float(lower[0]), 4), round(float(upper[0]), 4)
    (0.3135, 0.6865)
    """
    quantile = ndtri(0.5 + level / 2)
    values, errors = natural.values, np.asarray(standard_errors, dtype=np.float64)
    kinds = np.array(natural.kinds)
    lower, upper = values - quantile * errors, values + quantile * errors
    # logit for a probability, log for a variance; a parameter that does not move (se = 0,
    # e.g. A = [[1]] when K = 1) keeps the interval [value, value]
    for kind, forward, back, derivative in (
        ("probability", logit, expit, lambda v: v * (1 - v)),
        ("variance", np.log, np.exp, lambda v: v),
    ):
        chosen = (kinds == kind) & (errors > 0)
        centre = forward(values[chosen])
        width = quantile * errors[chosen] / derivative(values[chosen])
        lower[chosen], upper[chosen] = back(centre - width), back(centre + width)
    return lower, upper


def standard_errors(X, params, lengths=None, *, covariance_type: str = "full", start: str = "free",
                    covariance: str = "observed", level: float = 0.95,
                    boundary_tol: float = BOUNDARY_TOLERANCE, validate: bool = True) -> StandardErrors:
    r"""Standard errors and ``level`` intervals of the natural parameters, by the delta method
    from the inverse observed information (:eq:`info-covariance`, :eq:`info-delta-method`).

    The natural parameters are pi (unless ``start="fixed"``; a function of A when
    ``"stationary"``), every A_ij, every mean and the covariance entries the type estimates.

    Parameters
    ----------
    X : array_like, shape (T, D)
        Observations, the sequences of ``lengths`` one after another.
    params : HMMParams
        The fitted parameters (a maximum of the likelihood under ``start``); covariances as
        (K, D, D) matrices of the covariance type's form.
    lengths : list of int, optional
        Lengths of the sequences (None: one sequence).
    covariance_type : {"full", "diag", "spherical", "tied"}
    start : {"free", "fixed", "stationary"}
        pi is a parameter, is known, or is the stationary distribution of A. With one
        sequence EM's pi-hat sits at a vertex: use "fixed" (or "stationary", refitted by
        :func:`hmmcore.fit_newton`).
    covariance : {"observed", "robust"}
        "observed": I^{-1}, the model-based covariance (:eq:`info-covariance`). "robust": the
        sandwich I^{-1} (sum_t g_t g_t^T) I^{-1} with g_t = grad log c_t (:eq:`info-sandwich`),
        statsmodels' ``cov_type="robust"``: it allows for misspecified emissions, though not
        for scores correlated over time.
    level : float
        Coverage of the intervals (Wald intervals on the logit scale for a probability, on
        the log scale for a variance, :eq:`info-intervals`).
    boundary_tol : float
        A free probability below this counts as 0 (on the boundary).

    Returns
    -------
    StandardErrors
        ``names``, ``estimates``, ``standard_errors``, ``lower``, ``upper``, ``covariance``
        and the ``information`` they come from.

    Raises
    ------
    BoundaryError
        If a free probability is below ``boundary_tol`` (named in the message, with what to
        report instead).
    SingularInformationError
        If the observed information is not positive definite (the parameters are named).
    ValueError
        For bad input, naming the argument.
        Missing values (NaN) are refused: the information is derived for complete data.

    Warns
    -----
    NotAtMaximumWarning
        If Newton's step from ``params`` would gain more than 0.01 nats: not a maximum.
    NearBoundaryWarning
        If a transition is expected less than once in the data.

    Examples
    --------
    One state: the standard error of the mean of T = 4 observations is sqrt(sigma^2 / T) =
    sqrt(2.5 / 4) = 0.790569 at the maximum-likelihood variance 2.5 (the variance is
    estimated too, but at the maximum the two estimates are uncorrelated).

    >>> from hmmcore import HMMParams
    >>> X = np.array([[-1.0], [1.0], [-2.0], [2.0]])   # mean 0, variance 2.5
    >>> params = HMMParams(np.array([1.0]), np.array([[1.0]]), np.array([[0.0]]),
    ...                    np.array([[[2.5]]]))
    >>> result = standard_errors(X, params, start="fixed")
    >>> result.names[1], round(float(result.standard_errors[1]), 6)
    ('means[0, 0]', 0.790569)
    """
    if validate:
        X, lengths, params = check_information_inputs(X, params, lengths, covariance_type, start, boundary_tol)
        check_choice(covariance, "covariance", ("observed", "robust"))
        level = check_level(level)
    information = observed_information(X, params, lengths, covariance_type=covariance_type, start=start,
                                       boundary_tol=boundary_tol, validate=False)
    rare = np.argwhere(information.expected_transitions < 1.0)
    if len(rare):
        i, j = rare[0]
        warnings.warn(
            f"the transition {i} -> {j} is expected {information.expected_transitions[i, j]:.2g} "
            f"times in the data: `transmat[{i}, {j}]` is close to the boundary, where its normal "
            "approximation is poor. Prefer a likelihood-ratio or bootstrap interval.",
            NearBoundaryWarning, stacklevel=2,
        )
    inverse = inverse_information(information)
    gain = 0.5 * information.score @ inverse @ information.score
    if gain > NOT_AT_MAXIMUM_GAIN:
        warnings.warn(
            f"a Newton step from these parameters would raise the log-likelihood by about "
            f"{gain:.3g}: they are not at a maximum, and the standard errors are those of another "
            "point. Run EM to convergence (a smaller `tol`), or hmmcore.fit_newton, first.",
            NotAtMaximumWarning, stacklevel=2,
        )
    if start == "stationary":
        params = params._replace(startprob=stationary_distribution(params.transmat, validate=False))
    natural = natural_parameters(params, information.coordinates)
    if covariance == "robust":
        scores = information.score_contributions
        inverse = inverse @ (scores.T @ scores) @ inverse
    covariance_natural = natural.jacobian @ inverse @ natural.jacobian.T
    errors = np.sqrt(np.diag(covariance_natural))
    lower, upper = confidence_intervals(natural, errors, level)
    return StandardErrors(natural.names, natural.values, errors, covariance_natural, lower, upper, level,
                          information)
