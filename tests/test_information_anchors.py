"""Standard errors against a published result and a second implementation (chapter 12):
Stata's fed-funds standard errors as statsmodels' test suite publishes them, and statsmodels'
``MarkovRegression`` on S&P 500 returns (its complex-step Hessian and its robust covariance)."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression
from statsmodels.tsa.regime_switching.tests import test_markov_regression as statsmodels_tests

import hmmcore


def test_fed_funds_standard_errors_are_statas():
    """The fed-funds model (2 states, switching mean, common variance, the chain started from
    its stationary distribution) at Stata's estimates: the log-likelihood and the four
    standard errors Stata publishes (statsmodels' TestFedFundsConst), to their 7 decimals."""
    fed_funds = statsmodels_tests.TestFedFundsConst  # not imported by name: pytest would run it
    fed_funds.setup_class()
    published = fed_funds.true
    p00, p10, mean_0, mean_1, variance = published["params"]
    y = np.asarray(statsmodels_tests.fedfunds, dtype=float)[:, None]
    # statsmodels' p10 = P(s_t = 0 | s_{t-1} = 1); hmmcore's A[i, j] = P(q_{t+1} = j | q_t = i)
    params = hmmcore.HMMParams(
        np.array([0.5, 0.5]),  # not used: the chain starts from the stationary distribution of A
        np.array([[p00, 1 - p00], [p10, 1 - p10]]),
        np.array([[mean_0], [mean_1]]),
        np.full((2, 1, 1), variance),
    )
    result = hmmcore.standard_errors(y, params, covariance_type="tied", start="stationary")
    assert abs(result.information.log_likelihood - published["llf"]) < 5e-6
    se = dict(zip(result.names, result.standard_errors))
    names = ("transmat[0, 0]", "transmat[1, 0]", "means[0, 0]", "means[1, 0]")
    assert np.isnan(published["bse_oim"][4])  # the variance's is not published
    for name, value in zip(names, published["bse_oim"][:4]):
        assert round(se[name], 7) == value, name


def test_statsmodels_markov_regression_agrees():
    """S&P 500 daily returns in %, K = 2, switching mean and variance, the chain started from
    its stationary distribution (both libraries' convention here): hmmcore's EM then Newton
    reaches a log-likelihood at least statsmodels' own fit's; at that maximum the two
    log-likelihoods agree to 1e-12 relative, and the standard errors (model-based and robust)
    agree with statsmodels' complex-step Hessian and scores to 1e-6 relative."""
    X = 100 * hmmcore.market_features(hmmcore.load_sp500())[["return"]].to_numpy()
    model = MarkovRegression(X[:, 0], k_regimes=2, switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(search_reps=0)
    rng = np.random.default_rng(7)
    runs = hmmcore.fit_em_restarts(X, [hmmcore.initial_params(X, 2, rng) for _ in range(3)], n_iter=500, tol=1e-8)
    best = max(runs, key=lambda run: run.log_likelihoods[-1])
    newton = hmmcore.fit_newton(X, best.params, start="stationary")
    assert newton.converged
    assert fitted.llf - 1e-9 <= newton.information.log_likelihood < fitted.llf + 1e-6  # the same maximum

    calm_first = np.argsort(newton.params.covars[:, 0, 0])  # statsmodels' regime 0 is the calm one here
    params = hmmcore.permute_states(newton.params, calm_first)
    theirs = np.r_[params.transmat[0, 0], params.transmat[1, 0], params.means[:, 0], params.covars[:, 0, 0]]
    assert abs(model.loglike(theirs) - newton.information.log_likelihood) < 1e-12 * abs(fitted.llf)

    names = ("transmat[0, 0]", "transmat[1, 0]", "means[0, 0]", "means[1, 0]", "covars[0, 0, 0]",
             "covars[1, 0, 0]")
    hessian = model.hessian(theirs)
    ours = hmmcore.standard_errors(X, params, start="stationary")
    se = dict(zip(ours.names, ours.standard_errors))
    np.testing.assert_allclose([se[n] for n in names], np.sqrt(np.diag(np.linalg.inv(-hessian))), rtol=1e-6)

    # the sandwich: statsmodels' cov_type="robust" is H^-1 (sum_t g_t g_t^T) H^-1, g_t its
    # complex-step derivative of log c_t
    scores = model.score_obs(theirs)
    their_robust = np.linalg.inv(hessian) @ (scores.T @ scores) @ np.linalg.inv(hessian)
    robust = hmmcore.standard_errors(X, params, start="stationary", covariance="robust")
    se = dict(zip(robust.names, robust.standard_errors))
    np.testing.assert_allclose([se[n] for n in names], np.sqrt(np.diag(their_robust)), rtol=1e-6)
