"""Where EM starts: hmmlearn's random starting point, with SciPy's k-means++ for the means.

EM climbs to a local maximum (or a collapsing state) near where it starts, so the start
matters; restarts (``n_init``) draw several and keep the best fit.

**Missing values** (chapter 14). hmmlearn's rules need the data's covariance and k-means
centres of the rows. With gaps both come from the one-state model fitted *with gaps* (a
Gaussian HMM with one state is an i.i.d. Gaussian): its mean and covariance are the
maximum-likelihood estimates when values are missing at random, computed by EM with the
missing values (:func:`gaussian_moments`), and k-means++ runs on the rows completed by their
conditional means under it. Complete data take hmmlearn's rules unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.cluster.vq import kmeans2

from .covariances import initial_covars
from .em import em_step
from .emissions import conditional_moments
from .params import EMOptions, HMMParams
from .validation import (
    check_covariance_type,
    check_data,
    check_enough_samples,
    check_initial_covars,
    check_n_components,
    check_nonnegative,
    check_options,
    check_random_state,
    check_varying_features,
)

#: The one-state EM of :func:`gaussian_moments` stops when no mean or covariance entry moves
#: by more than this fraction of its feature's standard deviation (or variance) ...
MOMENTS_TOLERANCE = 1e-12
#: ... or after this many iterations (its rate is the fraction of missing information).
MOMENTS_MAX_ITER = 1000


def gaussian_moments(X, patterns):
    """The mean (D,) and covariance (D, D) of the rows of ``X``, and the rows completed.

    With missing values (``patterns`` not None), the maximum-likelihood estimates of a
    Gaussian when values are missing at random: EM with one state and the missing values
    (chapter 14), started from each feature's observed mean and variance; the rows are
    completed by their conditional means under it. Complete data (``patterns`` None): the
    mean, ``np.cov`` (hmmlearn's rule) and ``X`` itself. ``X`` is trusted; a feature that takes
    one value wherever it is observed is an error (no Gaussian fits it).
    """
    if patterns is None:
        spread = np.atleast_2d(np.cov(X, rowvar=False)) if len(X) > 1 else np.zeros((X.shape[1],) * 2)
        return X.mean(axis=0), spread, X
    variances = check_varying_features(X)
    params = HMMParams(np.ones(1), np.ones((1, 1)), np.nanmean(X, axis=0)[None], np.diag(variances)[None])
    scale = np.sqrt(variances)
    options = check_options(EMOptions(update="mc"), 1, X.shape[1])
    for _ in range(MOMENTS_MAX_ITER):
        new = em_step(X, params, None, options, patterns=patterns, validate=False).params
        moved = max(np.max(np.abs(new.means - params.means) / scale),
                    np.max(np.abs(new.covars - params.covars) / np.outer(scale, scale)))
        params = new
        if moved < MOMENTS_TOLERANCE:
            break
    completed = conditional_moments(X, params.means, params.covars, patterns=patterns, validate=False).completed[0]
    return params.means[0], params.covars[0], completed


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
    patterns=None,
    validate: bool = True,
) -> HMMParams:
    """A random starting point for EM, drawn by hmmlearn's rules.

    pi and each row of A are Dirichlet draws with concentration 1/K; the means are k-means++
    centres of the data (SciPy's ``kmeans2``, one run, seeded from ``random_state``); every
    state starts with the data's covariance plus ``min_covar * I``, in the covariance type's
    form (``covariances.initial_covars``). They are drawn in that order, as hmmlearn
    draws them, so an int seed gives hmmlearn's pi and A. With missing values, the data's
    covariance is its maximum-likelihood estimate and k-means++ runs on the rows (those with a
    value observed) completed by their conditional means (``gaussian_moments``, in
    ``hmmcore.initialization``).

    Parameters
    ----------
    X : array_like, shape (T, D)
        The observations, NaN where a value is missing.
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
    patterns : MissingPatterns, optional
        The missingness patterns of ``X``, if already found (with ``validate=False``, None
        means that no value is missing).

    Returns
    -------
    HMMParams

    Raises
    ------
    ValueError
        If T < K, or if the data's covariance plus ``min_covar * I`` is not positive definite;
        with missing values, if a feature is never observed or takes one value wherever it is.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> start = initial_params(X, 3, random_state=0)
    >>> start.transmat.shape, start.covars.shape
    ((3, 3), (3, 2, 2))
    """
    if validate:
        X, _, patterns = check_data(X, fitting=True)
        n_components = check_n_components(n_components)
        random_state = check_random_state(random_state)
        check_covariance_type(covariance_type)
        check_nonnegative(min_covar, "min_covar")
        check_enough_samples(X, n_components)
    given = given or {}
    K = n_components
    spread, rows = None, X
    if patterns is not None and not ("m" in given and "c" in given):
        _, spread, completed = gaussian_moments(X, patterns)
        rows = completed[patterns.n_observed[patterns.row_pattern] > 0]
        check_enough_samples(rows, K)
    startprob = given["s"] if "s" in given else random_state.dirichlet(np.full(K, 1.0 / K))
    transmat = given["t"] if "t" in given else random_state.dirichlet(np.full(K, 1.0 / K), size=K)
    means = given["m"] if "m" in given else kmeans_centres(rows, K, random_state)
    if "c" in given:
        covars = given["c"]
    else:
        covars = check_initial_covars(initial_covars(X, covariance_type, K, min_covar, spread=spread))
    return HMMParams(startprob, transmat, means, covars)
