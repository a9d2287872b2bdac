"""The EM loop: monotonicity, convergence bookkeeping, batched restarts, the decrease alarm."""

import warnings

import numpy as np
import pytest

import hmmcore
import hmmcore.em as em_module
from problems import random_hmm


def simulated(rng, n_states=3, n_features=2, n_steps=300):
    truth = random_hmm(rng, n_states, n_features)
    model = hmmcore.GaussianHMM(n_states)
    model.startprob_, model.transmat_, model.means_, model.covars_ = truth
    X, _ = model.sample(n_steps, random_state=rng)
    return X


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_log_likelihood_never_decreases(rng, covariance_type):
    for trial in range(15):
        n_states = 2 + trial % 3
        X = simulated(rng, n_states, n_features=1 + trial % 3, n_steps=150 + 20 * trial)
        start = hmmcore.initial_params(X, n_states, rng, covariance_type)
        with warnings.catch_warnings():
            warnings.simplefilter("error", hmmcore.LikelihoodDecreaseWarning)
            result = hmmcore.fit_em(X, start, n_iter=40, tol=0.0, covariance_type=covariance_type)
        gains = np.diff(result.log_likelihoods)
        assert np.all(gains >= -1e-9 * np.abs(result.log_likelihoods[1:])), gains.min()
        assert np.all(np.isfinite(result.params.covars))
        np.testing.assert_allclose(result.params.transmat.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(np.linalg.eigvalsh(result.params.covars) > 0)


def test_history_and_convergence_bookkeeping(rng):
    X = simulated(rng)
    start = hmmcore.initial_params(X, 3, rng)
    result = hmmcore.fit_em(X, start, n_iter=500, tol=1e-4)
    assert result.converged
    assert result.n_iter == len(result.log_likelihoods)
    assert 0 <= result.log_likelihoods[-1] - result.log_likelihoods[-2] < 1e-4
    # The returned parameters are the ones whose log-likelihood was recorded last.
    np.testing.assert_allclose(
        hmmcore.log_likelihood(result.params.startprob, result.params.transmat,
                               hmmcore.gaussian_log_density(X, result.params.means, result.params.covars)),
        result.log_likelihoods[-1], rtol=1e-12,
    )
    capped = hmmcore.fit_em(X, start, n_iter=3, tol=0.0)
    assert not capped.converged and capped.n_iter == 3


def test_each_history_entry_is_the_likelihood_before_that_m_step(rng):
    X = simulated(rng)
    params = hmmcore.initial_params(X, 3, rng)
    result = hmmcore.fit_em(X, params, n_iter=4, tol=0.0)
    for expected in result.log_likelihoods:
        params, log_likelihood = hmmcore.em_step(X, params)
        np.testing.assert_allclose(log_likelihood, expected, rtol=1e-13)


def test_batched_restarts_equal_separate_runs(rng):
    X = simulated(rng, n_steps=400)
    starts = [hmmcore.initial_params(X, 3, rng) for _ in range(5)]
    stacked = hmmcore.HMMParams(*(np.stack(values) for values in zip(*starts)))
    together = hmmcore.fit_em(X, stacked, lengths=[150, 250], n_iter=60, tol=1e-3)
    assert len(set(together.n_iter.tolist())) > 1  # the restarts stop at different iterations
    for r, start in enumerate(starts):
        alone = hmmcore.fit_em(X, start, lengths=[150, 250], n_iter=60, tol=1e-3)
        assert alone.n_iter == together.n_iter[r] and alone.converged == together.converged[r]
        np.testing.assert_allclose(together.log_likelihoods[r], alone.log_likelihoods, rtol=1e-12)
        for ours, theirs in zip(alone.params, hmmcore.HMMParams(*(value[r] for value in together.params))):
            np.testing.assert_allclose(theirs, ours, rtol=1e-10, atol=1e-13)


def test_a_decrease_is_reported_not_taken_for_convergence(rng, monkeypatch):
    X = simulated(rng)
    start = hmmcore.initial_params(X, 3, rng)
    honest = em_module.maximization

    def broken(*args, **kwargs):
        updated = honest(*args, **kwargs)
        return updated._replace(means=updated.means + 5.0)  # far from the maximiser of Q

    monkeypatch.setattr(em_module, "maximization", broken)
    with pytest.warns(hmmcore.LikelihoodDecreaseWarning, match="decreased"):
        result = hmmcore.fit_em(X, start, n_iter=5, tol=1e-4)
    assert not result.converged


def test_initial_params_are_reproducible_and_valid(rng):
    X = simulated(rng)
    first = hmmcore.initial_params(X, 3, np.random.default_rng(7))
    second = hmmcore.initial_params(X, 3, np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(first.transmat.sum(axis=1), 1.0)
    assert np.all(np.linalg.eigvalsh(first.covars) > 0)
