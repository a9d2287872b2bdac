"""Missing values (chapter 14): EM with gaps, against oracles that do not use its formulas.

* The density of the observed coordinates and the conditional moments by **numerical
  integration** of the full Gaussian density over the missing coordinates
  (``hmmcore.integrate_missing``: the density written out with ``inv`` and ``det``,
  ``scipy.integrate.cubature``), fed to the
  **enumeration of all K^T paths** (``hmmcore.enumerate_paths``), with random masks drawn by
  hypothesis.
* The M-step against a **numerical maximisation** of the Q-function (``scipy.optimize``),
  Q built from the integrated moments.
* EM's fixed point against **finite differences** of a **second implementation** of the
  observed-data log-likelihood (``scipy.stats`` marginals and the forward pass).
* A **closed form**: the maximum-likelihood mean and covariance of a Gaussian under a monotone
  pattern of missing values (Anderson's factored likelihood).
* **Sampling theory**: a fit with gaps against the fit on the true values, with a negative
  control (filling the gaps with means must break the same tolerances).
* **Bit-identity** on complete data: the functions written for gaps, forced on complete data,
  against the complete-data path.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import hmmcore
from hmmcore.initialization import gaussian_moments
from hmmcore.validation import check_options
from problems import sample_hmm

COVARIANCE_TYPES = hmmcore.COVARIANCE_TYPES
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)
FLAT = hmmcore.Priors()
MAP = hmmcore.Priors(means_prior=0.3, means_weight=0.7, covars_prior=0.05, covars_weight=5.0)


# -------------------------------------------------------------------------------- oracles


def observed_log_density_scipy(X, means, covars):
    """A second implementation of the density of the observed coordinates: scipy.stats on
    each row's observed block (rows grouped by their set of observed features)."""
    out = np.zeros((len(X), len(means)))
    observed = ~np.isnan(X)
    for mask in np.unique(observed, axis=0):
        rows = np.flatnonzero((observed == mask).all(axis=1))
        o = np.flatnonzero(mask)
        if o.size:
            for k in range(len(means)):
                distribution = stats.multivariate_normal(means[k, o], covars[k][np.ix_(o, o)])
                out[rows, k] = distribution.logpdf(X[np.ix_(rows, o)]).reshape(-1)
    return out


def observed_log_likelihood(X, params):
    """log P(observed values | params) by the second implementation."""
    log_b = observed_log_density_scipy(X, params.means, params.covars)
    return hmmcore.log_likelihood(params.startprob, params.transmat, log_b)


def random_covariance(rng, D, covariance_type, K):
    if covariance_type == "full":
        A = rng.normal(size=(K, D, D))
        return A @ np.swapaxes(A, 1, 2) + 0.3 * np.eye(D)
    if covariance_type == "tied":
        A = rng.normal(size=(D, D))
        return np.repeat((A @ A.T + 0.3 * np.eye(D))[None], K, axis=0)
    if covariance_type == "diag":
        return rng.uniform(0.4, 2.0, size=(K, D))[:, :, None] * np.eye(D)
    return rng.uniform(0.4, 2.0, size=(K, 1, 1)) * np.eye(D)


def random_model(rng, K, D, covariance_type="full"):
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K) * 2, size=K) + np.eye(K)
    transmat /= transmat.sum(axis=1, keepdims=True)
    means = rng.normal(size=(K, D))
    return hmmcore.HMMParams(startprob, transmat, means, random_covariance(rng, D, covariance_type, K))


def sample(params, T, rng):
    return sample_hmm(rng, params, T)[0]


# ------------------------------------------------------------------ the patterns themselves


@pytest.mark.parametrize("n_features", [1, 3, 17])
def test_missing_patterns_against_a_plain_loop(n_features):
    """The patterns (a table of codes up to 16 features, sorted packed bytes beyond) against a
    dictionary built row by row: the same numbering by code, each row's pattern, and each
    pattern's observed features listed first."""
    rng = np.random.default_rng(15)
    X = rng.normal(size=(300, n_features))
    X[rng.random(X.shape) < (0.6 if n_features > 3 else 0.3)] = np.nan
    codes = {0}
    for row in np.isnan(X):
        codes.add(sum(1 << d for d in np.flatnonzero(row)))
    number = {code: p for p, code in enumerate(sorted(codes))}
    patterns = hmmcore.missing_patterns(X)
    for t, row in enumerate(np.isnan(X)):
        p = number[sum(1 << d for d in np.flatnonzero(row))]
        assert patterns.row_pattern[t] == p
        assert np.array_equal(patterns.observed[p], ~row)
        observed, missing = np.flatnonzero(~row), np.flatnonzero(row)
        assert np.array_equal(patterns.order[p], np.concatenate([observed, missing]))
        assert patterns.n_observed[p] == len(observed)
    assert len(patterns.order) == len(codes) and patterns.observed[0].all()
    assert np.array_equal(patterns.incomplete_rows, np.flatnonzero(np.isnan(X).any(axis=1)))


# ------------------------------------------ E-step: integration + enumeration of all paths


def check_against_brute_force(X, params):
    """log-likelihood, gamma, summed xi, log b, filtered probabilities and the Viterbi path
    with gaps, against integration + enumeration of all K^T paths."""
    log_b = hmmcore.integrate_missing(X, params.means, params.covars).log_density
    exact = hmmcore.enumerate_paths(params.startprob, params.transmat, log_b)
    np.testing.assert_allclose(hmmcore.gaussian_log_density(X, params.means, params.covars), log_b,
                               rtol=0, atol=1e-9)
    stats_ = hmmcore.posteriors(X, params)
    np.testing.assert_allclose(stats_.log_likelihood, exact.log_likelihood, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hmmcore.score(X, params), exact.log_likelihood, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats_.gamma, exact.gamma, rtol=0, atol=1e-9)
    np.testing.assert_allclose(stats_.xi_sum, exact.xi_sum, rtol=0, atol=1e-9)
    # filtered probabilities: the last smoothed gamma of each prefix O_1..O_t
    prefixes = [hmmcore.enumerate_paths(params.startprob, params.transmat, log_b[: t + 1]).gamma[-1]
                for t in range(len(X))]
    np.testing.assert_allclose(hmmcore.filtered(X, params).alpha_hat, prefixes, rtol=0, atol=1e-9)
    path = hmmcore.decode(X, params)
    np.testing.assert_allclose(path.log_prob, exact.best_log_prob, rtol=1e-9, atol=1e-9)
    index = np.ravel_multi_index(path.path, (len(params.startprob),) * len(X))
    np.testing.assert_allclose(exact.log_joint[index], exact.best_log_prob, rtol=1e-9, atol=1e-9)


def test_brute_force_three_features():
    """D = 3: rows missing one and two coordinates (integrals in one and two dimensions)."""
    rng = np.random.default_rng(1)
    params = random_model(rng, K=2, D=3)
    X = sample(params, 5, rng)
    X[1, 0] = X[2, [0, 2]] = X[4, 1] = np.nan
    check_against_brute_force(X, params)


@PROPERTY
@given(
    seed=st.integers(0, 2**31 - 1),
    n_steps=st.integers(2, 5),
    n_states=st.integers(1, 3),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    mask=st.lists(st.booleans(), min_size=10, max_size=10),
)
def test_brute_force_random_masks(seed, n_steps, n_states, covariance_type, mask):
    """D = 2, random models of every covariance type, observations and masks (rows with 0, 1
    or 2 missing values)."""
    rng = np.random.default_rng(seed)
    params = random_model(rng, n_states, 2, covariance_type)
    X = sample(params, n_steps, rng)
    missing = np.array(mask[: 2 * n_steps]).reshape(n_steps, 2)
    assume(not missing.all())  # a sequence with nothing observed is an error (tested below)
    X[missing] = np.nan
    check_against_brute_force(X, params)


@pytest.mark.parametrize("n_features", [2, 3])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_conditional_moments_against_integration(covariance_type, n_features):
    """The completed rows and the conditional covariances against integrated moments: with
    D = 3 rows missing one and two features, with D = 2 rows missing one and both."""
    rng = np.random.default_rng(2)
    params = random_model(rng, K=2, D=n_features, covariance_type=covariance_type)
    X = sample(params, 4, rng)
    X[0, 1] = X[2, 0] = np.nan
    X[1, [0, 2] if n_features == 3 else [0, 1]] = np.nan
    moments = hmmcore.conditional_moments(X, params.means, params.covars)
    C = moments.covariances[moments.patterns.row_pattern]  # (T, K, D, D)
    _, first, second = hmmcore.integrate_missing(X, params.means, params.covars)
    np.testing.assert_allclose(np.swapaxes(moments.completed, 0, 1), first, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(C, second - np.einsum("tkd,tke->tkde", first, first), rtol=1e-7, atol=1e-9)


# --------------------------------------------- M-step: the maximiser of Q (plus log prior)


def q_objective(means, covars, gamma, first, second, priors, covariance_type):
    """Q's emission term with the missing coordinates integrated out, from the integrated
    moments, plus chapter 11's log prior (hmmlearn's)."""
    K, D = means.shape
    value = 0.0
    full = covariance_type in ("full", "tied")
    prior_weight = max(priors.covars_weight - D, 0.0) if full else max(priors.covars_weight - 1.0, 0.0)
    psi = np.full((D, D), priors.covars_prior) if full else np.diag(np.full(D, priors.covars_prior))
    tied_scale = psi.copy()
    for k in range(K):
        precision = np.linalg.inv(covars[k])
        _, logdet = np.linalg.slogdet(covars[k])
        mu = means[k]
        expected = second[:, k] - mu[:, None] * first[:, k, None, :] - first[:, k, :, None] * mu[None, :]
        scatter = np.einsum("t,tde->de", gamma[:, k], expected + np.outer(mu, mu))
        value += -0.5 * gamma[:, k].sum() * logdet - 0.5 * np.trace(precision @ scatter)
        offset = mu - priors.means_prior
        if covariance_type == "tied":
            tied_scale = tied_scale + priors.means_weight * np.outer(offset, offset)
        elif covariance_type == "full":
            value += -0.5 * prior_weight * logdet - 0.5 * np.trace(
                precision @ (psi + priors.means_weight * np.outer(offset, offset)))
        else:  # per variance (spherical: the same variance D times)
            variances = np.diag(covars[k])
            value += np.sum(-0.5 * prior_weight * np.log(variances)
                            - (np.diag(psi) + priors.means_weight * offset**2) / (2 * variances))
    if covariance_type == "tied":
        precision = np.linalg.inv(covars[0])
        value += -0.5 * prior_weight * np.linalg.slogdet(covars[0])[1] - 0.5 * np.trace(precision @ tied_scale)
    return value


def unpack(theta, K, D, covariance_type):
    """Means and covariances from free parameters (Cholesky factors with log diagonals, or
    log variances)."""
    means = theta[: K * D].reshape(K, D)
    rest = theta[K * D :]
    if covariance_type in ("full", "tied"):
        n_matrices = K if covariance_type == "full" else 1
        rows, cols = np.tril_indices(D)
        covars = []
        for m in range(n_matrices):
            L = np.zeros((D, D))
            L[rows, cols] = rest[m * len(rows) : (m + 1) * len(rows)]
            L[np.diag_indices(D)] = np.exp(np.diag(L))
            covars.append(L @ L.T)
        covars = np.array(covars if covariance_type == "full" else covars * K)
    elif covariance_type == "diag":
        covars = np.exp(rest.reshape(K, D))[:, :, None] * np.eye(D)
    else:
        covars = np.exp(rest)[:, None, None] * np.eye(D)
    return means, covars


def pack(means, covars, covariance_type):
    D = means.shape[1]
    if covariance_type in ("full", "tied"):
        rows, cols = np.tril_indices(D)
        parts = []
        for c in covars if covariance_type == "full" else covars[:1]:
            L = np.linalg.cholesky(c)
            L[np.diag_indices(D)] = np.log(np.diag(L))
            parts.append(L[rows, cols])
        rest = np.concatenate(parts)
    elif covariance_type == "diag":
        rest = np.log(np.diagonal(covars, axis1=1, axis2=2)).ravel()
    else:
        rest = np.log(covars[:, 0, 0])
    return np.concatenate([means.ravel(), rest])


@pytest.mark.parametrize("priors", [FLAT, MAP], ids=["ML", "MAP"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_maximises_q(covariance_type, priors):
    """The M-step's means and covariances against BFGS on Q (gamma by enumeration, the
    moments by integration: nothing of hmmcore's E-step)."""
    rng = np.random.default_rng(3)
    K, D, T = 2, 2, 7
    old = random_model(rng, K, D, covariance_type)
    X = sample(old, T, rng)
    X[[0, 3], 1] = X[[2, 5], 0] = np.nan
    X[4] = np.nan
    log_b, first, second = hmmcore.integrate_missing(X, old.means, old.covars)
    exact = hmmcore.enumerate_paths(old.startprob, old.transmat, log_b)
    stats_ = hmmcore.Posteriors(exact.log_likelihood, exact.gamma, exact.xi_sum, None, None, None, None)
    options = hmmcore.EMOptions(covariance_type, priors=priors, update="mc")
    ours = hmmcore.m_step(X, stats_, old, options=options).params

    def negative(theta):
        return -q_objective(*unpack(theta, K, D, covariance_type), exact.gamma, first, second, priors,
                            covariance_type)

    best = optimize.minimize(negative, pack(old.means, old.covars, covariance_type), method="BFGS",
                             options={"gtol": 1e-10, "maxiter": 10_000})
    means, covars = unpack(best.x, K, D, covariance_type)
    # the closed form scores at least as high as the optimiser's point, and is that point
    assert -negative(pack(ours.means, ours.covars, covariance_type)) >= -best.fun - 1e-9
    np.testing.assert_allclose(ours.means, means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.covars, covars, rtol=1e-5, atol=1e-6)


# -------------------------------------------------------- whole EM: monotone, stationary


def simulated_with_gaps(T, seed, missing_share=0.3, missing_days=0.05):
    rng = np.random.default_rng(seed)
    sim = hmmcore.simulate_regimes(T, rng=seed)
    X = (sim.X - sim.X.mean(axis=0)) / sim.X.std(axis=0)
    X_gaps = X.copy()
    X_gaps[rng.random(X.shape) < missing_share] = np.nan
    X_gaps[rng.random(T) < missing_days] = np.nan
    return X, X_gaps


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_with_gaps_is_monotone(covariance_type):
    """T = 800, 30 % of the values and 5 % of the days missing, 60 iterations: the
    log-likelihood never falls (a fall would also stop EM with a warning, made an error)."""
    X, X_gaps = simulated_with_gaps(800, seed=4)
    start = hmmcore.initial_params(X_gaps, 3, 4, covariance_type)
    options = hmmcore.EMOptions(covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hmmcore.LikelihoodDecreaseWarning)
        result = hmmcore.fit_em(X_gaps, start, options=options, n_iter=60, tol=-np.inf)
    history = result.log_likelihoods
    assert len(history) == 60
    assert np.diff(history).min() >= -1e-9 * abs(history[-1]), np.diff(history).min()
    assert history[-1] - history[0] > 10.0  # EM moved
    np.testing.assert_allclose(history[-1], observed_log_likelihood(X_gaps, result.scored_params), rtol=1e-10)


@PROPERTY
@given(
    seed=st.integers(0, 2**31 - 1),
    n_states=st.integers(1, 3),
    n_features=st.integers(1, 3),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    share=st.floats(0.0, 0.6),
)
def test_em_step_never_lowers_the_likelihood(seed, n_states, n_features, covariance_type, share):
    """Random models, data and masks (with whole rows missing): each EM step with gaps raises
    log P(observed | lambda) computed by a second implementation (scipy.stats marginals), and
    reports that implementation's value at its starting point."""
    rng = np.random.default_rng(seed)
    X = sample(random_model(rng, n_states, n_features), 40, rng)
    X[rng.random(X.shape) < share] = np.nan
    X[rng.random(40) < share / 3] = np.nan
    assume(not np.isnan(X).all(axis=0).any())
    params = random_model(rng, n_states, n_features, covariance_type)
    options = hmmcore.EMOptions(covariance_type)
    before = observed_log_likelihood(X, params)
    for _ in range(4):
        try:
            params, reported = hmmcore.em_step(X, params, options=options)
        except (hmmcore.DegenerateStateError, hmmcore.UnobservedFeatureError):
            assume(False)  # a collapsing state (T = 40): the likelihood is unbounded there
        np.testing.assert_allclose(reported, before, rtol=1e-10, atol=1e-10)
        after = observed_log_likelihood(X, params)
        assert after >= before - 1e-9 * max(1.0, abs(before)), (before, after)
        before = after


def test_em_fixed_point_is_stationary():
    """At EM's fixed point the gradient of log P(observed | lambda) in the means and
    covariances is 0 (central differences of the second implementation)."""
    rng = np.random.default_rng(5)
    true = random_model(rng, K=2, D=2)
    true = true._replace(means=true.means * 3)
    X = sample(true, 80, rng)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[[10, 11, 40]] = np.nan
    result = hmmcore.fit_em(X, true, n_iter=20_000, tol=1e-14)
    assert result.converged
    fitted = result.params

    def log_likelihood(means, covars):
        return observed_log_likelihood(X, fitted._replace(means=means, covars=covars))

    h, gradient = 1e-5, []
    for k, d in itertools.product(range(2), range(2)):
        step = np.zeros_like(fitted.means)
        step[k, d] = h
        gradient.append((log_likelihood(fitted.means + step, fitted.covars)
                         - log_likelihood(fitted.means - step, fitted.covars)) / (2 * h))
    for k, (d, e) in itertools.product(range(2), [(0, 0), (0, 1), (1, 1)]):
        step = np.zeros_like(fitted.covars)
        step[k, d, e] = step[k, e, d] = h
        gradient.append((log_likelihood(fitted.means, fitted.covars + step)
                         - log_likelihood(fitted.means, fitted.covars - step)) / (2 * h))
    assert np.max(np.abs(gradient)) < 1e-5, np.round(gradient, 8)


# ------------------------------------------- complete data: the gap path gives the same bits


@pytest.mark.parametrize("priors", [FLAT, MAP, hmmcore.HMMLEARN_PRIORS], ids=["ML", "MAP", "hmmlearn"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_data_through_the_gap_m_step_bit_identical(covariance_type, priors):
    """The M-step's sums written for gaps (completed rows, conditional covariances), forced on
    complete data, give the complete-data M-step's numbers bit for bit."""
    rng = np.random.default_rng(7)
    params = random_model(rng, 3, 3, covariance_type)
    X = sample(params, 400, rng)
    lengths = [150, 250]
    options = hmmcore.EMOptions(covariance_type, 0.01, priors)
    stats_ = hmmcore.posteriors(X, params, lengths)
    complete = hmmcore.m_step(X, stats_, params, lengths, options)
    checked = check_options(options, 3, 3)  # what the checks skipped by validate=False return
    forced = hmmcore.m_step(X, stats_, params, lengths, checked, patterns=hmmcore.missing_patterns(X),
                            validate=False)
    for a, b in zip(complete.params, forced.params):
        assert np.array_equal(a, b)
    assert np.array_equal(complete.cholesky, forced.cholesky)


def test_complete_rows_of_data_with_gaps_keep_their_density():
    """A row's density does not depend on the other rows' gaps: complete rows of data with
    gaps get the complete data's values, bit for bit."""
    rng = np.random.default_rng(6)
    params = random_model(rng, 3, 3)
    X = sample(params, 500, rng)
    X_gaps = X.copy()
    X_gaps[rng.random(X.shape) < 0.2] = np.nan
    complete = ~np.isnan(X_gaps).any(axis=1)
    with_gaps = hmmcore.gaussian_log_density(X_gaps, params.means, params.covars)
    assert np.array_equal(with_gaps[complete], hmmcore.gaussian_log_density(X, params.means, params.covars)[complete])


# ------------------------------------------------- a fit with gaps against the true values


def test_fit_with_gaps_against_fit_on_true_values():
    """Two well separated states, T = 4000, 30 % of the values missing at random. The fit with
    gaps must stay within sampling error of the fit on the true values; filling the gaps with
    each feature's mean must not (negative control: the tolerances can fail).

    Tolerances: the fit with gaps uses a 70 % subset of the values the true-values fit uses.
    For a variance estimated from n1 of n values the two estimates differ by a standard
    deviation of sigma^2 sqrt(2 (n - n1) / (n n1)); with n ~ 2000 per state and n1 = 0.7 n,
    2.1 %: we allow 3 of these. For a mean, sigma sqrt((n - n1) / (n n1)) = 1.5 % of sigma,
    allowed 3 times. For a correlation from the n1 = 0.49 n pairs observed together,
    (1 - rho^2) sqrt(1 / n1 - 1 / n) (a bound: EM uses the other rows too), allowed 3 times.
    """
    rng = np.random.default_rng(9)
    true = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.97, 0.03], [0.03, 0.97]]),
                             np.array([[-2.0, 1.0], [2.0, -1.0]]),
                             np.array([[[1.0, 0.6], [0.6, 1.0]], [[1.5, -0.5], [-0.5, 0.8]]]))
    X = sample(true, 4000, rng)
    X_gaps = X.copy()
    X_gaps[rng.random(X.shape) < 0.3] = np.nan
    filled = np.where(np.isnan(X_gaps), np.nanmean(X_gaps, axis=0), X_gaps)
    on_true_values = hmmcore.fit_em(X, true, n_iter=500, tol=1e-8).params
    with_gaps = hmmcore.fit_em(X_gaps, true, n_iter=500, tol=1e-8).params
    mean_filled = hmmcore.fit_em(filled, true, n_iter=500, tol=1e-8).params

    def correlation(covars):
        return covars[:, 0, 1] / np.sqrt(covars[:, 0, 0] * covars[:, 1, 1])

    rho = correlation(on_true_values.covars)
    sd = np.sqrt(np.diagonal(on_true_values.covars, axis1=1, axis2=2))

    def deviations(fit):
        mean_dev = np.abs(fit.means - on_true_values.means) / sd
        var_dev = np.abs(np.diagonal(fit.covars, axis1=1, axis2=2) / sd**2 - 1)
        corr_dev = np.abs(correlation(fit.covars) - rho) / ((1 - rho**2) * np.sqrt(1 / 980 - 1 / 2000))
        return mean_dev.max(), var_dev.max(), corr_dev.max()

    mean_dev, var_dev, corr_dev = deviations(with_gaps)
    assert mean_dev < 3 * 0.015 and var_dev < 3 * 0.021 and corr_dev < 3, (mean_dev, var_dev, corr_dev)
    control = deviations(mean_filled)
    assert control[0] > 3 * 0.015 and control[1] > 3 * 0.021 and control[2] > 3, control


# ------------------------------------------------------------ the initialiser with gaps


def test_moments_monotone_pattern_closed_form():
    """Feature 0 always observed, feature 1 missing in 40 % of the rows: the maximum-likelihood
    mean and covariance have a closed form (Anderson 1957): mu_0, s_00 from all rows; the
    regression of x_1 on x_0 from the complete rows; then mu_1 = a + b mu_0, s_01 = b s_00,
    s_11 = s_res + b^2 s_00."""
    rng = np.random.default_rng(10)
    X = rng.multivariate_normal([1.0, -2.0], [[2.0, 1.2], [1.2, 1.5]], size=300)
    X[rng.random(300) < 0.4, 1] = np.nan
    complete = ~np.isnan(X[:, 1])
    mu0, s00 = X[:, 0].mean(), X[:, 0].var()
    x0c, x1c = X[complete, 0], X[complete, 1]
    b = np.cov(x0c, x1c, bias=True)[0, 1] / x0c.var()
    a = x1c.mean() - b * x0c.mean()
    s_res = np.mean((x1c - a - b * x0c) ** 2)
    mean, cov, _ = gaussian_moments(X, hmmcore.missing_patterns(X))
    np.testing.assert_allclose(mean, [mu0, a + b * mu0], rtol=1e-10)
    np.testing.assert_allclose(cov, [[s00, b * s00], [b * s00, s_res + b**2 * s00]], rtol=1e-10)


def test_moments_general_pattern_numerical_ml():
    """D = 3, a non-monotone pattern: the moments maximise the observed-data likelihood
    (scipy.stats marginals, maximised by BFGS)."""
    rng = np.random.default_rng(11)
    X = rng.multivariate_normal([0.5, -1.0, 2.0], [[1.0, 0.5, 0.2], [0.5, 2.0, -0.4], [0.2, -0.4, 0.7]], 200)
    X[rng.random(X.shape) < 0.25] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    mean, cov, _ = gaussian_moments(X, hmmcore.missing_patterns(X))

    def negative(theta):
        means, covars = unpack(theta, 1, 3, "full")
        return -observed_log_density_scipy(X, means, covars).sum()

    start = pack(np.nanmean(X, 0)[None], np.diag(np.nanvar(X, 0))[None], "full")
    best = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-9})
    means, covars = unpack(best.x, 1, 3, "full")
    assert -negative(pack(mean[None], cov[None], "full")) >= -best.fun - 1e-9
    np.testing.assert_allclose(mean, means[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cov, covars[0], rtol=1e-5, atol=1e-6)


def test_initial_params_with_gaps():
    """Reproducible and positive definite for every type; the spread is the data's covariance
    within sampling error (X is standardised and 70 % of its values are kept, so a variance's
    sd is about sqrt(2 * 0.3 / (0.7 * 3000)) = 1.7 %), while mean filling shrinks each variance
    to about 0.7 (negative control); no complete row at all (diag); complete data unchanged."""
    X, X_gaps = simulated_with_gaps(3000, seed=12, missing_share=0.3, missing_days=0.0)
    for covariance_type in COVARIANCE_TYPES:
        a = hmmcore.initial_params(X_gaps, 3, 1, covariance_type)
        b = hmmcore.initial_params(X_gaps, 3, 1, covariance_type)
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
        assert np.all(np.linalg.eigvalsh(a.covars) > 0)
        assert np.all(np.isfinite(a.means))
    spread = hmmcore.initial_params(X_gaps, 3, 1, "full").covars[0] - 1e-3 * np.eye(3)
    assert np.max(np.abs(np.diag(spread) - X.var(axis=0))) < 3 * 0.017
    filled = np.where(np.isnan(X_gaps), np.nanmean(X_gaps, axis=0), X_gaps)
    assert np.max(np.abs(filled.var(axis=0) - X.var(axis=0))) > 3 * 0.017
    # two features observed on alternate days: no row is complete; a diag model's spread is
    # each feature's variance over its observed values
    alternate = X[:200, :2].copy()
    alternate[::2, 0] = alternate[1::2, 1] = np.nan
    diag = hmmcore.initial_params(alternate, 2, 0, "diag")
    np.testing.assert_allclose(np.diagonal(diag.covars[0]) - 1e-3, np.nanvar(alternate, axis=0), rtol=1e-10)
    # complete data: hmmlearn's rule, np.cov of the data
    complete = hmmcore.initial_params(X, 3, 1, "full")
    assert np.array_equal(complete.covars[0], np.cov(X, rowvar=False) + 1e-3 * np.eye(3))


# --------------------------------------------------------------- the estimator with gaps


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estimator_with_gaps(covariance_type):
    """GaussianHMM fits data with gaps and evaluates them: every method gives the
    parameter-level functions' values at the fitted parameters (those are checked against
    brute force above), with several sequences and restarts."""
    _, X = simulated_with_gaps(600, seed=14)
    lengths = [250, 350]
    model = hmmcore.GaussianHMM(3, covariance_type=covariance_type, n_iter=30, random_state=0, n_init=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hmmcore.LikelihoodDecreaseWarning)
        model.fit(X, lengths)
    params = model.params_
    assert np.all(np.isfinite(model.means_)) and np.all(np.linalg.eigvalsh(model.covars_) > 0)
    assert np.all(np.diff(model.log_likelihood_history_) > -1e-9 * abs(model.log_likelihood_history_[-1]))
    assert model.score(X, lengths) == hmmcore.score(X, params, lengths)
    log_likelihood, gamma = model.score_samples(X, lengths)
    expected = hmmcore.posteriors(X, params, lengths)
    assert log_likelihood == expected.log_likelihood and np.array_equal(gamma, expected.gamma)
    assert np.array_equal(model.predict_proba(X, lengths), expected.gamma)
    assert np.array_equal(model.filter_proba(X, lengths), hmmcore.filtered(X, params, lengths).alpha_hat)
    assert np.array_equal(model.predict(X, lengths), hmmcore.decode(X, params, lengths).path)
    assert np.array_equal(model.decode(X, lengths, algorithm="map")[1], expected.gamma.argmax(axis=1))
    np.testing.assert_allclose(model.score(X, lengths), observed_log_likelihood(X[:250], params)
                               + observed_log_likelihood(X[250:], params), rtol=1e-10)


# ---------------------------------------------------------------------------- clear errors


def test_errors_name_what_to_do():
    rng = np.random.default_rng(13)
    params = random_model(rng, 2, 2)
    X = sample(params, 10, rng)
    infinite = np.where(np.arange(20).reshape(10, 2) == 7, np.inf, X)
    with pytest.raises(ValueError, match=r"`X\[3, 1\]` is inf: an infinite value is not a missing value.*NaN"):
        hmmcore.score(infinite, params)
    with pytest.raises(ValueError, match=r"`X\[3, 1\]` is -inf"):
        hmmcore.GaussianHMM(2).fit(-infinite)
    gappy = X.copy()
    gappy[4:7] = np.nan
    with pytest.raises(ValueError, match=r"sequence 1 of `X` \(rows 4 to 6\) is entirely missing.*Remove it"):
        hmmcore.score(gappy, params, lengths=[4, 3, 3])
    with pytest.raises(ValueError, match=r"`X` is entirely missing"):
        hmmcore.gaussian_log_density(np.full((3, 2), np.nan), params.means, params.covars)
    hmmcore.score(gappy, params, lengths=[5, 5])  # rows 4..6 inside longer sequences: fine
    never = X.copy()
    never[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\] of `X` are never observed.*Remove those columns"):
        hmmcore.fit_em(never, params)
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\] of `X` are never observed"):
        hmmcore.GaussianHMM(2).fit(never)
    hmmcore.score(never, params)  # evaluating with a feature absent is a marginal density: fine
    for name in ("means", "covars", "transmat", "startprob"):
        value = getattr(params, name).copy()
        value.flat[0] = np.nan
        with pytest.raises(ValueError, match=rf"`{name}` contains NaN.*missing value in the observations `X` only"):
            hmmcore.posteriors(X, params._replace(**{name: value}))
    with pytest.raises(ValueError, match=r"needs their conditional moments.*conditional_moments"):
        hmmcore.update_means(gappy, np.full((10, 2), 0.5))
    with pytest.raises(ValueError, match=r"`patterns` do not describe the missing values of `X`"):
        hmmcore.score(gappy, params, patterns=hmmcore.missing_patterns(X))
    constant = X.copy()
    constant[:, 0] = np.where(np.arange(10) % 2, 1.5, np.nan)
    with pytest.raises(ValueError, match=r"feature\(s\) \[0\] of `X` take a single value wherever"):
        hmmcore.initial_params(constant, 2, 0)


def test_a_state_that_never_sees_a_feature():
    """State 2 explains only rows whose feature 2 is missing (its gamma is exactly 0 on the
    others): its mean and variance of that feature are not identified. The M-step raises;
    a fit ends that run with a warning, keeping its last valid parameters."""
    X = np.array([[0.1, 0.2], [1000.0, np.nan], [1000.3, np.nan], [-0.2, 0.1], [0.0, -0.3]])
    params = hmmcore.HMMParams(np.array([0.5, 0.5]), np.full((2, 2), 0.5),
                               np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([np.eye(2), np.eye(2)]))
    with pytest.raises(hmmcore.UnobservedFeatureError, match=r"state 1 .* feature 1 is missing in every row") as error:
        hmmcore.em_step(X, params)
    assert (error.value.state, error.value.feature) == (1, 1)
    with pytest.warns(hmmcore.DegenerateStateWarning, match=r"feature 1 is missing .* at iteration 1"):
        result = hmmcore.fit_em(X, params)
    assert isinstance(result.collapse, hmmcore.UnobservedFeatureError) and result.collapse.iteration == 1
    assert result.params is params or all(np.array_equal(a, b) for a, b in zip(result.params, params))


def test_chapter_12_with_gaps():
    """Chapter 12's computations on data with gaps. The one-step-ahead state probabilities are
    the filter's, and the filter takes gaps: against a forward pass written here with
    ``scipy.stats`` marginals (a fully missing row: a transition alone). The score, the
    observed information, the standard errors, Newton's method and the pseudo-residuals are
    derived for complete data only: each raises, naming what to do, at the function and at
    the estimator."""
    rng = np.random.default_rng(21)
    params = random_model(rng, 3, 2)
    X = sample(params, 12, rng)
    X[2, 1] = X[5, 0] = np.nan
    X[8] = np.nan
    predicted = np.empty((12, 3))
    predicted[0] = params.startprob
    for t in range(12):
        seen = ~np.isnan(X[t])
        density = np.array([
            stats.multivariate_normal(params.means[k, seen], params.covars[k][np.ix_(seen, seen)]).pdf(X[t, seen])
            if seen.any() else 1.0 for k in range(3)])
        filtered = predicted[t] * density / (predicted[t] @ density)
        if t < 11:
            predicted[t + 1] = filtered @ params.transmat
    np.testing.assert_allclose(hmmcore.predicted_probabilities(X, params), predicted, rtol=1e-10, atol=1e-14)

    model = hmmcore.GaussianHMM(3, covariance_type="full")
    model.params_ = params
    refusing = {
        "score_vector": lambda: hmmcore.score_vector(X, params),
        "observed_information": lambda: hmmcore.observed_information(X, params),
        "standard_errors": lambda: hmmcore.standard_errors(X, params),
        "fit_newton": lambda: hmmcore.fit_newton(X, params),
        "pseudo_residuals": lambda: hmmcore.pseudo_residuals(X, params),
        "GaussianHMM.observed_information": lambda: model.observed_information(X),
        "GaussianHMM.standard_errors": lambda: model.standard_errors(X),
        "GaussianHMM.pseudo_residuals": lambda: model.pseudo_residuals(X),
    }
    for name, call in refusing.items():
        with pytest.raises(ValueError, match=r"`X` has 4 missing value\(s\) \(NaN; the first at `X\[2, 1\]`\).*"
                           r"derived for complete observations"):
            call()
    complete = np.isfinite(X).all(axis=1)
    hmmcore.pseudo_residuals(X[complete], params)  # the complete rows: accepted


def test_diagonal_fixed_point_is_each_features_moments_on_its_observed_days():
    """Diagonal covariances (chapter 14): at EM's fixed point each state's mean and variance of
    a feature are the gamma-weighted mean and variance over the days that feature was
    observed (gamma from all features); no value from the other features is borrowed."""
    X = hmmcore.simulate_regimes(600, rng=np.random.default_rng(5)).X
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X[np.random.default_rng(6).random(X.shape) < 0.3] = np.nan
    start = hmmcore.initial_params(X, 2, 0, "diag")
    result = hmmcore.fit_em(X, start, options=hmmcore.EMOptions("diag"), n_iter=5000, tol=1e-12)
    assert result.converged
    gamma = hmmcore.posteriors(X, result.params).gamma
    observed = ~np.isnan(X)
    for k in range(2):
        weights = gamma[:, k : k + 1] * observed
        mean = (weights * np.nan_to_num(X)).sum(axis=0) / weights.sum(axis=0)
        variance = (weights * np.nan_to_num(X - mean) ** 2).sum(axis=0) / weights.sum(axis=0)
        np.testing.assert_allclose(result.params.means[k], mean, rtol=0, atol=1e-6)
        np.testing.assert_allclose(np.diag(result.params.covars[k]), variance, rtol=0, atol=1e-6)
