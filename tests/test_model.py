"""GaussianHMM: the estimator conventions, restarts, and recovery of known parameters."""

import numpy as np
import pytest

import hmmcore


def test_fit_recovers_simulated_regimes():
    X, states = hmmcore.simulate_regimes(6000, np.random.default_rng(1))
    model = hmmcore.GaussianHMM(3, n_init=4, random_state=0).fit(X)
    assert model.fit(X) is model
    _, transmat, means, covars = hmmcore.simulated_regime_params()
    order = [int(np.argmin(np.abs(model.means_[:, 1] - m))) for m in means[:, 1]]  # match by mean range
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(model.means_[order], means, atol=0.01)
    np.testing.assert_allclose(np.sqrt(np.diagonal(model.covars_[order], axis1=1, axis2=2)),
                               np.sqrt(np.diagonal(covars, axis1=1, axis2=2)), rtol=0.1)
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], transmat, atol=0.02)
    accuracy = np.mean(np.array(order)[states] == model.predict(X))
    assert accuracy > 0.9


def test_restarts_keep_the_best_score_and_are_reproducible():
    X, _ = hmmcore.simulate_regimes(1500, np.random.default_rng(2))
    model = hmmcore.GaussianHMM(3, n_init=5, random_state=3).fit(X)
    assert model.restart_scores_.shape == (5,)
    np.testing.assert_allclose(model.score(X), model.restart_scores_.max(), rtol=1e-12)
    again = hmmcore.GaussianHMM(3, n_init=5, random_state=3).fit(X)
    np.testing.assert_array_equal(again.restart_scores_, model.restart_scores_)
    np.testing.assert_array_equal(again.means_, model.means_)
    assert model.log_likelihood_history_[-1] <= model.score(X) + 1e-9 or not model.converged_


def test_posthoc_regularisation_is_applied_before_scoring():
    X, _ = hmmcore.simulate_regimes(1000, np.random.default_rng(4))
    plain = hmmcore.GaussianHMM(3, random_state=5).fit(X)
    regularised = hmmcore.GaussianHMM(3, random_state=5, posthoc_reg_covar=1e-4).fit(X)
    np.testing.assert_allclose(regularised.covars_, plain.covars_ + 1e-4 * np.eye(3), rtol=1e-12)
    np.testing.assert_allclose(regularised.restart_scores_[0], regularised.score(X), rtol=1e-12)
    assert regularised.score(X) < plain.score(X)


def test_settable_parameters_and_methods_agree_with_functions(rng):
    startprob, transmat, means, covars = hmmcore.simulated_regime_params()
    model = hmmcore.GaussianHMM(3)
    model.startprob_, model.transmat_, model.means_, model.covars_ = startprob, transmat, means, covars
    X, states = model.sample(500, random_state=rng)
    assert X.shape == (500, 3) and states.shape == (500,)
    log_b = hmmcore.gaussian_log_density(X, means, covars)
    posteriors = hmmcore.e_step(startprob, transmat, log_b)
    np.testing.assert_allclose(model.score(X), posteriors.log_likelihood, rtol=1e-13)
    np.testing.assert_allclose(model.predict_proba(X), posteriors.gamma, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.filter_proba(X), posteriors.alpha_hat, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), hmmcore.viterbi(startprob, transmat, log_b).path)
    score, gamma = model.score_samples(X)
    np.testing.assert_allclose(score, model.score(X), rtol=1e-13)
    # Several sequences: the score is the sum of the per-sequence scores.
    np.testing.assert_allclose(model.score(X, [200, 300]), model.score(X[:200]) + model.score(X[200:]), rtol=1e-13)


def test_sample_statistics_match_the_parameters():
    startprob, transmat, means, covars = hmmcore.simulated_regime_params()
    model = hmmcore.GaussianHMM(3)
    model.startprob_, model.transmat_, model.means_, model.covars_ = startprob, transmat, means, covars
    X, states = model.sample(60_000, random_state=9)
    counts = np.zeros((3, 3))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True), transmat, atol=0.01)
    for k in range(3):
        standard_error = np.sqrt(np.diag(covars[k]) / np.sum(states == k))
        assert np.all(np.abs(X[states == k].mean(axis=0) - means[k]) < 4 * standard_error)
        sample = np.cov(X[states == k], rowvar=False)
        np.testing.assert_allclose(np.diag(sample), np.diag(covars[k]), rtol=0.05)
        scale = np.sqrt(np.outer(np.diag(covars[k]), np.diag(covars[k])))
        np.testing.assert_allclose(sample / scale, covars[k] / scale, atol=0.04)  # correlations, SE ~ 0.01


def test_parameter_count_and_information_criteria():
    X, _ = hmmcore.simulate_regimes(800, np.random.default_rng(6))
    full = hmmcore.GaussianHMM(3, random_state=0).fit(X)
    diag = hmmcore.GaussianHMM(3, covariance_type="diag", random_state=0).fit(X)
    # (K-1) + K(K-1) + K D + K D(D+1)/2 = 2 + 6 + 9 + 18, and 2 + 6 + 9 + 9 for diagonal.
    assert full.n_parameters() == 35 and diag.n_parameters() == 26
    np.testing.assert_allclose(full.bic(X), -2 * full.score(X) + 35 * np.log(800), rtol=1e-13)
    np.testing.assert_allclose(full.aic(X), -2 * full.score(X) + 70, rtol=1e-13)
    assert np.all(diag.covars_[:, ~np.eye(3, dtype=bool)] == 0)


def test_unfitted_model_says_what_is_missing():
    with pytest.raises(ValueError, match="call `fit`"):
        hmmcore.GaussianHMM(2).score(np.zeros((5, 1)))


def test_diagonal_model_accepts_variances_as_hmmlearn_does(rng):
    startprob, transmat, means, covars = hmmcore.simulated_regime_params()
    variances = np.diagonal(covars, axis1=1, axis2=2)
    as_matrices = hmmcore.GaussianHMM(3, covariance_type="diag")
    as_vectors = hmmcore.GaussianHMM(3, covariance_type="diag")
    for model, value in ((as_matrices, variances[..., None] * np.eye(3)), (as_vectors, variances)):
        model.startprob_, model.transmat_, model.means_, model.covars_ = startprob, transmat, means, value
    X, _ = as_matrices.sample(200, random_state=rng)
    np.testing.assert_array_equal(as_vectors.score(X), as_matrices.score(X))
