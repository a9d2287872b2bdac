"""Standard errors against a published result and a second implementation (chapter 12):
Stata's fed-funds standard errors as statsmodels' test suite publishes them, and statsmodels'
``MarkovRegression`` on S&P 500 returns (its complex-step Hessian and its robust covariance)."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression
from statsmodels.tsa.regime_switching.tests.test_markov_regression import fedfunds
from test_fedfunds import MEANS, P00, P10, PUBLISHED_LOG_LIKELIHOOD, SIGMA

import hmmcore

#: Stata's observed-information standard errors of TestFedFundsConst (statsmodels' test suite).
PUBLISHED_STANDARD_ERRORS = {"transmat[0, 0]": 0.0104002, "transmat[1, 0]": 0.0268434,
                             "means[0, 0]": 0.1767083, "means[1, 0]": 0.2999889}


def test_fed_funds_standard_errors_are_statas():
    """The fed-funds model (2 states, switching mean, common variance, the chain started from
    its stationary distribution) at Stata's estimates: the log-likelihood and the four
    published standard errors, to the published 7 decimals."""
    y = np.asarray(fedfunds, dtype=float)[:, None]
    # statsmodels' p10 = P(s_t = 0 | s_{t-1} = 1); hmmcore's A[i, j] = P(q_{t+1} = j | q_t = i)
    params = hmmcore.HMMParams(
        np.array([0.5, 0.5]),  # not used: the chain starts from the stationary distribution of A
        np.array([[P00, 1 - P00], [P10, 1 - P10]]),
        np.array(MEANS)[:, None],
        np.full((2, 1, 1), SIGMA**2),
    )
    result = hmmcore.standard_errors(y, params, covariance_type="tied", start="stationary")
    assert abs(result.information.log_likelihood - PUBLISHED_LOG_LIKELIHOOD) < 5e-6
    se = dict(zip(result.names, result.standard_errors))
    for name, value in PUBLISHED_STANDARD_ERRORS.items():
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
