"""The EM loop: monotonicity, convergence bookkeeping, parallel restarts, the decrease alarm,
degenerate states."""

import threading
import warnings

import numpy as np
import pytest

import hmmcore
from problems import random_hmm, sample_hmm


def simulated(rng, n_states=3, n_features=2, n_steps=300):
    return sample_hmm(rng, random_hmm(rng, n_states, n_features), n_steps)[0]


@pytest.mark.parametrize("covariance_type", hmmcore.COVARIANCE_TYPES)
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


def stacked_starts(X, rng, n_starts):
    starts = [hmmcore.initial_params(X, 3, rng) for _ in range(n_starts)]
    return starts, hmmcore.HMMParams(*(np.stack(values) for values in zip(*starts)))


def test_parallel_restarts_equal_separate_runs_bit_for_bit(rng):
    X = simulated(rng, n_steps=400)
    starts, stacked = stacked_starts(X, rng, 5)
    alone = [hmmcore.fit_em(X, start, lengths=[150, 250], n_iter=60, tol=1e-3) for start in starts]
    assert len({result.n_iter for result in alone}) > 1  # the restarts stop at different iterations
    for n_threads in (1, 2, 5):
        together = hmmcore.fit_em(X, stacked, lengths=[150, 250], n_iter=60, tol=1e-3, n_threads=n_threads)
        for r, result in enumerate(alone):
            assert result.n_iter == together.n_iter[r] and result.converged == together.converged[r]
            assert together.log_likelihoods[r] == result.log_likelihoods
            for ours, theirs in zip(result.params, together.params):
                np.testing.assert_array_equal(theirs[r], ours)


def test_two_python_threads_fitting_at_once(rng):
    """Two user threads, each running parallel restarts, at the same time: no crash (numba's
    parallel threading layer is not used) and the results of running them one after the other."""
    X = simulated(rng, n_steps=500)
    _, stacked = stacked_starts(X, rng, 4)
    expected = hmmcore.fit_em(X, stacked, n_iter=30, tol=0.0)
    results, errors = [None, None], []

    def fit(slot):
        try:
            results[slot] = hmmcore.fit_em(X, stacked, n_iter=30, tol=0.0, n_threads=2)
        except Exception as error:  # reported below, with its thread
            errors.append(error)

    threads = [threading.Thread(target=fit, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        assert result.log_likelihoods == expected.log_likelihoods
        for ours, theirs in zip(result.params, expected.params):
            np.testing.assert_array_equal(ours, theirs)


def test_a_collapsing_state_is_named_and_the_other_restarts_survive(rng):
    """A state started on three identical points collapses onto them (plain ML): that restart
    ends with a warning naming the state and the iteration; another restart is unaffected."""
    X = np.concatenate([rng.normal(size=(200, 1)), rng.normal(10.0, size=(200, 1)), np.full((3, 1), 30.0)])
    collapsing = hmmcore.HMMParams(
        np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
        np.array([[5.0], [30.0]]), np.array([[[30.0]], [[0.5]]]),
    )
    healthy = collapsing._replace(means=np.array([[0.0], [10.0]]), covars=np.array([[[1.0]], [[1.0]]]))
    stacked = hmmcore.HMMParams(*(np.stack(pair) for pair in zip(collapsing, healthy)))
    with pytest.warns(hmmcore.DegenerateStateWarning, match=r"state 1 collapsed at iteration \d+"):
        result = hmmcore.fit_em(X, stacked, n_iter=200, tol=1e-8)
    assert "state 1" in result.degenerate[0] and result.degenerate[1] is None
    assert not result.converged[0] and result.converged[1]
    alone = hmmcore.fit_em(X, healthy, n_iter=200, tol=1e-8)
    assert result.log_likelihoods[1] == alone.log_likelihoods
    # The collapsed restart keeps its last parameters with a positive-definite covariance,
    # and its history records the likelihood of exactly those parameters.
    last = hmmcore.HMMParams(*(value[0] for value in result.params))
    assert np.all(np.linalg.eigvalsh(last.covars) > 0)
    log_b = hmmcore.gaussian_log_density(X, last.means, last.covars)
    assert hmmcore.log_likelihood(last.startprob, last.transmat, log_b) == result.log_likelihoods[0][-1]
    with pytest.raises(hmmcore.DegenerateStateError, match="state 1"):
        params = collapsing
        for _ in range(200):
            params, _ = hmmcore.em_step(X, params)


def test_frozen_parameters_are_not_updated(rng):
    X = simulated(rng)
    start = hmmcore.initial_params(X, 3, rng)
    new, _ = hmmcore.em_step(X, start, update="mc")
    np.testing.assert_array_equal(new.startprob, start.startprob)
    np.testing.assert_array_equal(new.transmat, start.transmat)
    assert not np.array_equal(new.means, start.means)
    with pytest.raises(ValueError, match="`update`"):
        hmmcore.em_step(X, start, update="x")


def test_initial_params_are_reproducible_and_valid(rng):
    X = simulated(rng)
    first = hmmcore.initial_params(X, 3, np.random.default_rng(7))
    second = hmmcore.initial_params(X, 3, np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(first.transmat.sum(axis=1), 1.0)
    assert np.all(np.linalg.eigvalsh(first.covars) > 0)
