"""Where EM starts: hmmlearn's random starting point, with SciPy's k-means++ for the means.

EM climbs to a local maximum (or a collapsing state) near where it starts, so the start
matters; restarts (``n_init``) draw several and keep the best fit.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.cluster.vq import kmeans2

from .covariances import initial_covars
from .params import HMMParams
from .validation import (
    check_covariance_type,
    check_enough_samples,
    check_initial_covars,
    check_n_components,
    check_nonnegative,
    check_observations,
    check_random_state,
)


def kmeans_centres(X, n_components: int, random_state) -> np.ndarray:
    """k-means++ centres of the rows of ``X`` (SciPy's ``kmeans2``), seeded from
    ``random_state``; data with fewer distinct rows than ``n_components`` get repeated rows."""
    distinct = np.unique(X, axis=0)
    if distinct.shape[0] < n_components:
        picks = random_state.choice(distinct.shape[0], n_components, replace=True)
        picks[: distinct.shape[0]] = np.arange(distinct.shape[0])
        return distinct[np.sort(picks)].astype(np.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One of the clusters is empty")
        centres, _ = kmeans2(X, n_components, minit="++", seed=random_state)
    return centres


def initial_params(
    X,
    n_components: int,
    random_state=None,
    covariance_type: str = "full",
    *,
    min_covar: float = 1e-3,
    given: dict | None = None,
    validate: bool = True,
) -> HMMParams:
    """A random starting point for EM, drawn by hmmlearn's rules.

    pi and each row of A are Dirichlet draws with concentration 1/K; the means are k-means++
    centres of the data (SciPy's ``kmeans2``, one run, seeded from ``random_state``); every
    state starts with the data's covariance plus ``min_covar * I``, in the covariance type's
    form (``covariances.initial_covars``). They are drawn in that order, as hmmlearn
    draws them, so an int seed gives hmmlearn's pi and A.

    Parameters
    ----------
    X : array_like, shape (T, D)
    n_components : int
        The number of states K (at most T).
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        None: numpy's global generator; an int: a new ``RandomState(int)``.
    covariance_type : {"full", "diag", "spherical", "tied"}
    min_covar : float
        Added to the diagonal of the data's covariance.
    given : dict, optional
        Parameters not to draw, by hmmlearn's letter: ``{"s": startprob, "t": transmat,
        "m": means, "c": (K, D, D) covars}`` (trusted: the caller checked them).

    Returns
    -------
    HMMParams

    Raises
    ------
    ValueError
        If T < K, or if the data's covariance plus ``min_covar * I`` is not positive definite.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> start = initial_params(X, 3, random_state=0)
    >>> start.transmat.shape, start.covars.shape
    ((3, 3), (3, 2, 2))
    """
    if validate:
        X = check_observations(X)
        n_components = check_n_components(n_components)
        random_state = check_random_state(random_state)
        check_covariance_type(covariance_type)
        check_nonnegative(min_covar, "min_covar")
        check_enough_samples(X, n_components)
    given = given or {}
    K = n_components
    startprob = given["s"] if "s" in given else random_state.dirichlet(np.full(K, 1.0 / K))
    transmat = given["t"] if "t" in given else random_state.dirichlet(np.full(K, 1.0 / K), size=K)
    means = given["m"] if "m" in given else kmeans_centres(X, K, random_state)
    if "c" in given:
        covars = given["c"]
    else:
        covars = check_initial_covars(initial_covars(X, covariance_type, K, min_covar))
    return HMMParams(startprob, transmat, means, covars)
