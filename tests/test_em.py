"""The EM loop: monotonicity, what a result holds, parallel restarts, the decrease alarm,
collapsing states, the jitter that redoes only the M-step."""

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
    options = hmmcore.EMOptions(covariance_type=covariance_type)
    for trial in range(15):
        n_states = 2 + trial % 3
        X = simulated(rng, n_states, n_features=1 + trial % 3, n_steps=150 + 20 * trial)
        start = hmmcore.initial_params(X, n_states, rng, covariance_type)
        with warnings.catch_warnings():
            warnings.simplefilter("error", hmmcore.LikelihoodDecreaseWarning)
            result = hmmcore.fit_em(X, start, options=options, n_iter=40, tol=0.0)
        gains = np.diff(result.log_likelihoods)
        assert np.all(gains >= -1e-9 * np.abs(result.log_likelihoods[1:])), gains.min()
        np.testing.assert_allclose(result.params.transmat.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(np.linalg.eigvalsh(result.params.covars) > 0)


def test_a_result_holds_the_fitted_parameters_and_the_scored_ones(rng):
    """``params`` is one M-step after ``scored_params``, whose log-likelihood is the last entry
    of the history (computed here by the forward pass alone)."""
    X = simulated(rng)
    result = hmmcore.fit_em(X, hmmcore.initial_params(X, 3, rng), n_iter=500, tol=1e-4)
    assert result.converged and result.collapse is None
    assert result.n_iter == len(result.log_likelihoods)
    assert 0 <= result.log_likelihoods[-1] - result.log_likelihoods[-2] < 1e-4
    assert hmmcore.score(X, result.scored_params) == pytest.approx(result.log_likelihoods[-1], rel=1e-12)
    step = hmmcore.em_step(X, result.scored_params)
    for fitted, expected in zip(result.params, step.params):
        np.testing.assert_array_equal(fitted, expected)
    capped = hmmcore.fit_em(X, hmmcore.initial_params(X, 3, rng), n_iter=3, tol=0.0)
    assert not capped.converged and capped.n_iter == 3


def test_zero_iterations_return_the_start(rng):
    X = simulated(rng)
    start = hmmcore.initial_params(X, 3, rng)
    result = hmmcore.fit_em(X, start, n_iter=0)
    assert result.log_likelihoods == [] and result.n_iter == 0 and not result.converged
    assert result.params is result.scored_params
    for value, given in zip(result.params, start):
        np.testing.assert_array_equal(value, given)


def test_each_history_entry_is_the_likelihood_of_the_parameters_it_scored(rng):
    """The history, against the forward pass alone (``score``) at the parameters of each
    iteration, reached by ``em_step`` one at a time."""
    X = simulated(rng)
    params = hmmcore.initial_params(X, 3, rng)
    result = hmmcore.fit_em(X, params, n_iter=4, tol=-np.inf)
    for expected in result.log_likelihoods:
        np.testing.assert_allclose(hmmcore.score(X, params), expected, rtol=1e-13)
        params = hmmcore.em_step(X, params).params


def test_em_step_is_the_e_step_then_the_m_step(rng):
    X = simulated(rng)
    params = hmmcore.initial_params(X, 3, rng)
    stats = hmmcore.posteriors(X, params, [100, 200])
    step = hmmcore.em_step(X, params, [100, 200])
    by_halves = hmmcore.m_step(X, stats, params, [100, 200])
    assert step.log_likelihood == stats.log_likelihood
    for ours, theirs in zip(step.params, by_halves.params):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(by_halves.cholesky @ np.swapaxes(by_halves.cholesky, 1, 2),
                               by_halves.params.covars, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("lengths", [None, [120, 80, 100]])
def test_posteriors_written_into_buffers_are_the_same_numbers(rng, lengths):
    """With buffers the E-step writes into them instead of new arrays: the same bits, one
    sequence or several, with missing values too; the result's per-step arrays are the
    buffers' (views), so nothing as long as the data is allocated."""
    X = simulated(rng)
    X[rng.random(X.shape) < 0.05] = np.nan
    params = hmmcore.initial_params(X[~np.isnan(X).any(axis=1)], 3, rng)
    expected = hmmcore.posteriors(X, params, lengths)
    buffers = hmmcore.EStepBuffers.empty(*X.shape[:1], 3, log_b=True)
    for _ in range(2):  # written twice: nothing left over from the first use matters
        ours = hmmcore.posteriors(X, params, lengths, buffers=buffers)
        for name in ("gamma", "alpha_hat", "beta_hat", "log_scale", "xi_sum"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(expected, name), err_msg=name)
        assert ours.log_likelihood == expected.log_likelihood
    for name in ("gamma", "alpha_hat", "beta_hat", "log_scale"):
        assert np.shares_memory(getattr(ours, name), getattr(buffers, name)), name


def test_fit_em_hands_every_iteration_the_same_buffers(rng, monkeypatch):
    """fit_em makes one set of buffers and passes it to every iteration's E-step."""
    X = simulated(rng)
    seen = []
    original = hmmcore.em.posteriors

    def recording(*args, buffers=None, **kwargs):
        seen.append(buffers)
        return original(*args, buffers=buffers, **kwargs)

    monkeypatch.setattr(hmmcore.em, "posteriors", recording)
    result = hmmcore.fit_em(X, hmmcore.initial_params(X, 3, rng), n_iter=5, tol=-np.inf)
    assert len(seen) == result.n_iter == 5
    assert seen[0] is not None and all(buffers is seen[0] for buffers in seen)
    assert seen[0].gamma.shape == (len(X), 3) and seen[0].log_b.shape == (len(X), 3)


@pytest.mark.parametrize("change, match", [
    (lambda b: b._replace(log_b=None), "needs an array for the log-densities"),
    (lambda b: b._replace(gamma=np.empty((10, 3))), r"`buffers.gamma` must be a float64 array of shape \(300, 3\)"),
    (lambda b: b._replace(scale=np.empty(300, dtype=np.float32)), r"`buffers.scale` must be a float64 array"),
])
def test_bad_buffers_are_named(rng, change, match):
    X = simulated(rng)
    params = hmmcore.initial_params(X, 3, rng)
    with pytest.raises(ValueError, match=match):
        hmmcore.posteriors(X, params, buffers=change(hmmcore.EStepBuffers.empty(300, 3, log_b=True)))


def test_parallel_restarts_equal_separate_runs_bit_for_bit(rng):
    X = simulated(rng, n_steps=400)
    starts = [hmmcore.initial_params(X, 3, rng) for _ in range(5)]
    alone = [hmmcore.fit_em(X, start, [150, 250], n_iter=60, tol=1e-3) for start in starts]
    assert len({result.n_iter for result in alone}) > 1  # the restarts stop at different iterations
    for n_threads in (1, 2, 5):
        together = hmmcore.fit_em_restarts(X, starts, [150, 250], n_iter=60, tol=1e-3, n_threads=n_threads)
        for result, other in zip(alone, together):
            assert (result.n_iter, result.converged) == (other.n_iter, other.converged)
            assert result.log_likelihoods == other.log_likelihoods
            for ours, theirs in zip(result.params, other.params):
                np.testing.assert_array_equal(ours, theirs)


def test_restarts_of_different_models_are_refused(rng):
    """Restarts share the options, whose priors are checked for one number of states."""
    X = simulated(rng, n_steps=200)
    starts = [hmmcore.initial_params(X, 3, rng), hmmcore.initial_params(X, 2, rng)]
    with pytest.raises(ValueError, match=r"`starts\[1\]` has 2 states and `starts\[0\]` 3"):
        hmmcore.fit_em_restarts(X, starts, n_iter=2)


def test_two_python_threads_fitting_at_once(rng):
    """Two user threads, each running parallel restarts, at the same time: no crash (numba's
    parallel threading layer is not used) and the results of running them one after the other."""
    X = simulated(rng, n_steps=500)
    starts = [hmmcore.initial_params(X, 3, rng) for _ in range(4)]
    expected = hmmcore.fit_em_restarts(X, starts, n_iter=30, tol=-np.inf)
    results, errors = [None, None], []

    def fit(slot):
        try:
            results[slot] = hmmcore.fit_em_restarts(X, starts, n_iter=30, tol=-np.inf, n_threads=2)
        except Exception as error:  # reported below, with its thread
            errors.append(error)

    threads = [threading.Thread(target=fit, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        for ours, theirs in zip(result, expected):
            assert ours.log_likelihoods == theirs.log_likelihoods
            for a, b in zip(ours.params, theirs.params):
                np.testing.assert_array_equal(a, b)


def collapsing_problem(rng):
    """A state started on three identical points collapses onto them (plain ML)."""
    X = np.concatenate([rng.normal(size=(200, 1)), rng.normal(10.0, size=(200, 1)), np.full((3, 1), 30.0)])
    collapsing = hmmcore.HMMParams(
        np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
        np.array([[5.0], [30.0]]), np.array([[[30.0]], [[0.5]]]),
    )
    healthy = collapsing._replace(means=np.array([[0.0], [10.0]]), covars=np.array([[[1.0]], [[1.0]]]))
    return X, collapsing, healthy


def test_a_collapsing_state_is_named_and_the_other_restarts_survive(rng):
    """That restart ends with a warning naming the state and the iteration, and a structured
    collapse; another restart is unaffected."""
    X, collapsing, healthy = collapsing_problem(rng)
    with pytest.warns(hmmcore.DegenerateStateWarning, match=r"restart 0: the covariance of state 1 collapsed at iteration \d+"):
        results = hmmcore.fit_em_restarts(X, [collapsing, healthy], n_iter=200, tol=1e-8)
    collapse = results[0].collapse
    assert isinstance(collapse, hmmcore.DegenerateStateError) and collapse.state == 1
    assert collapse.iteration == results[0].n_iter and results[1].collapse is None
    assert not results[0].converged and results[1].converged
    assert results[1].log_likelihoods == hmmcore.fit_em(X, healthy, n_iter=200, tol=1e-8).log_likelihoods
    # The collapsed run keeps its last valid parameters, whose likelihood its history records.
    last = results[0].params
    assert last is results[0].scored_params
    assert np.all(np.linalg.eigvalsh(last.covars) > 0)
    assert hmmcore.score(X, last) == results[0].log_likelihoods[-1]
    with pytest.raises(hmmcore.DegenerateStateError, match="state 1"):
        params = collapsing
        for _ in range(200):
            params = hmmcore.em_step(X, params).params


@pytest.mark.parametrize("value", [0.1, 0.3, 7.7, 5.0, -123.456])
def test_a_state_on_a_constant_is_a_collapse_whatever_the_rounding(value):
    """A state whose points all equal one value has variance zero; computed, it is the rounding
    error of its mean, which for most values is a tiny positive number that the Cholesky
    factorisation accepts (0.1, 0.3 and 7.7 passed as fits before the resolution check). The
    M-step names it as a collapse all the same."""
    X = np.full((59, 1), value)
    start = hmmcore.initial_params(np.r_[X, [[value + 1.0]]], 2, random_state=0)
    with pytest.warns(hmmcore.DegenerateStateWarning, match="collapsed"):
        result = hmmcore.fit_em(X, start, n_iter=50)
    assert isinstance(result.collapse, hmmcore.DegenerateStateError)


def test_a_small_real_spread_is_not_a_collapse(rng):
    """The resolution is that of rounding (T eps times the feature's size in the state), far
    below any real spread: values around 1000 that differ by 1e-6 fit without a collapse."""
    X = np.r_[1000.0 + 1e-6 * rng.normal(size=300), 2000.0 + 1e-6 * rng.normal(size=300)][:, None]
    start = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
                              np.array([[1000.0], [2000.0]]), np.array([[[1.0]], [[1.0]]]))
    result = hmmcore.fit_em(X, start, n_iter=50)
    assert result.collapse is None
    np.testing.assert_allclose(np.sqrt(result.params.covars.ravel()), 1e-6, rtol=0.2)


def test_the_jitter_redoes_only_the_m_step(rng):
    """With ``singular_jitter``, the M-step that collapsed is redone from the same E-step with
    ``reg_covar + jitter``: the run equals stepping by hand with those two halves."""
    X, collapsing, _ = collapsing_problem(rng)
    jitter = 1e-3
    with pytest.warns(hmmcore.DegenerateStateWarning, match=r"redone with reg_covar \+ 0.001"):
        warnings.simplefilter("ignore", hmmcore.LikelihoodDecreaseWarning)  # a penalised step
        result = hmmcore.fit_em(X, collapsing, n_iter=30, tol=-np.inf, singular_jitter=jitter)
    assert result.collapse is None and result.n_iter == 30
    params, jittered = collapsing, hmmcore.EMOptions(reg_covar=jitter)
    for expected in result.log_likelihoods:
        stats = hmmcore.posteriors(X, params)
        assert stats.log_likelihood == expected
        try:
            params = hmmcore.m_step(X, stats, params).params
        except hmmcore.DegenerateStateError:
            params = hmmcore.m_step(X, stats, params, options=jittered).params
    for ours, theirs in zip(result.params, params):
        np.testing.assert_array_equal(ours, theirs)


def test_a_fall_stops_em_with_a_warning_and_is_not_convergence(rng):
    """A ridge inside the M-step makes it a penalised update that can lower the likelihood:
    the monitor warns, EM stops there (hmmlearn's rule), and the run has not converged."""
    X = simulated(rng, n_states=2, n_features=1, n_steps=400)
    start = hmmcore.initial_params(X, 2, rng, "full")
    options = hmmcore.EMOptions(reg_covar=5.0)
    with pytest.warns(hmmcore.LikelihoodDecreaseWarning, match="decreased the log-likelihood"):
        result = hmmcore.fit_em(X, start, options=options, n_iter=200, tol=1e-12)
    assert result.log_likelihoods[-1] < result.log_likelihoods[-2] and not result.converged


def test_frozen_parameters_are_not_updated(rng):
    X = simulated(rng)
    start = hmmcore.initial_params(X, 3, rng)
    new = hmmcore.em_step(X, start, options=hmmcore.EMOptions(update="mc")).params
    np.testing.assert_array_equal(new.startprob, start.startprob)
    np.testing.assert_array_equal(new.transmat, start.transmat)
    assert not np.array_equal(new.means, start.means)
    with pytest.raises(ValueError, match="`update`"):
        hmmcore.em_step(X, start, options=hmmcore.EMOptions(update="x"))


def test_initial_params_are_reproducible_and_valid(rng):
    X = simulated(rng)
    first = hmmcore.initial_params(X, 3, np.random.default_rng(7))
    second = hmmcore.initial_params(X, 3, np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(first.transmat.sum(axis=1), 1.0)
    assert np.all(np.linalg.eigvalsh(first.covars) > 0)
