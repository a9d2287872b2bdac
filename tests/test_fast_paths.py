"""The vectorised code paths against literal loops, at the shapes where they branch: block
boundaries of the blocked scan, parameter sets of different kinds in one batch, data far from
the origin for the expanded sums of the emissions and the M-step, and a batch split between two
processes."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import hmmcore
from hmmcore.time_blocks import TimeBlocks
from problems import random_hmm


def block_edge_lengths():
    """T a multiple of the block length, one step short of it and one beyond."""
    lengths = set()
    for n_steps in (49, 400, 2500):
        length = TimeBlocks.for_steps(n_steps).length
        lengths |= {length * length - 1, length * length, length * length + 1}
    return sorted(lengths)


@pytest.mark.parametrize("n_steps", block_edge_lengths())
def test_blocked_e_step_equals_reference_at_block_edges(rng, n_steps):
    startprob, transmat, means, covars = random_hmm(rng, 3, 2)
    log_b = hmmcore.gaussian_log_density(rng.normal(scale=2.0, size=(n_steps, 2)), means, covars)
    fast = hmmcore.e_step(startprob, transmat, log_b)
    exact = hmmcore.e_step_reference(startprob, transmat, log_b)
    np.testing.assert_allclose(fast.log_likelihood, exact.log_likelihood, rtol=1e-12)
    for name in ("alpha_hat", "beta_hat", "gamma", "log_scale", "xi_sum"):
        np.testing.assert_allclose(getattr(fast, name), getattr(exact, name), rtol=1e-10, atol=1e-13, err_msg=name)


def test_batch_mixing_fast_and_fallback_sets(rng):
    """One set needs the literal fallback (zeros in A), the others do not; each equals its own run."""
    n_steps = 300
    log_b = rng.normal(size=(n_steps, 3))
    log_b[1] = [-800.0, -900.0, 0.0]
    left_to_right = (np.array([1.0, 0.0, 0.0]), np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]]))
    sets = [random_hmm(rng, 3)[:2], left_to_right, random_hmm(rng, 3)[:2]]
    batched = hmmcore.e_step(np.stack([s[0] for s in sets]), np.stack([s[1] for s in sets]), np.stack([log_b] * 3))
    for r, (startprob, transmat) in enumerate(sets):
        exact = hmmcore.e_step_reference(startprob, transmat, log_b)
        np.testing.assert_allclose(batched.log_likelihood[r], exact.log_likelihood, rtol=1e-12)
        np.testing.assert_allclose(batched.gamma[r], exact.gamma, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(batched.xi_sum[r], exact.xi_sum, rtol=1e-10, atol=1e-13)


def test_log_density_far_from_the_origin(rng):
    """Data and means near 1000 with unit spread: whitening x and mu separately stays accurate."""
    _, _, means, covars = random_hmm(rng, 3, 3)
    means += 1000.0
    X = 1000.0 + rng.normal(scale=2.0, size=(100, 3))
    ours = hmmcore.gaussian_log_density(X, means, covars)
    expected = np.column_stack([multivariate_normal(mean, cov).logpdf(X) for mean, cov in zip(means, covars)])
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_covariance_update_equals_literal_sum_for_any_means(rng, offset):
    """The scatter about arbitrary means (not only the updated ones), written as a loop over t."""
    X = offset + rng.normal(size=(200, 2))
    gamma = rng.dirichlet(np.ones(3), size=200)
    means = offset + rng.normal(size=(3, 2))
    expected = np.empty((3, 2, 2))
    for k in range(3):
        scatter = sum(gamma[t, k] * np.outer(X[t] - means[k], X[t] - means[k]) for t in range(200))
        expected[k] = scatter / gamma[:, k].sum()
    np.testing.assert_allclose(hmmcore.update_covars(X, gamma, means), expected, rtol=1e-10)


def test_second_process_gives_the_single_process_results_bit_for_bit(rng, monkeypatch):
    """Half of a batch computed in the worker process gives exactly the results of the whole batch
    in this process; an error in the worker's half, and the caller's numpy error state, reach it."""
    from hmmcore import em, second_process

    X = hmmcore.simulate_regimes(2_000, rng).X
    starts = [hmmcore.initial_params(X, 3, rng) for _ in range(5)]
    params = hmmcore.HMMParams(*(np.stack(values) for values in zip(*starts)))
    lengths = [1_200, 800]

    def results():
        fitted = hmmcore.fit_em(X, params, lengths, n_iter=4, tol=0.0)
        stepped = hmmcore.em_step(X, params, lengths)[0]
        return em.expected_statistics(em.block_observations(X, lengths), params), stepped, fitted.params, fitted.log_likelihoods

    monkeypatch.setattr(second_process, "MIN_WORK", 0)  # every batch splits
    split = results()
    worker = second_process._state["worker"]
    assert worker is not None and worker.poll() is None and not second_process._state["failed"]
    monkeypatch.setattr(second_process, "MIN_WORK", 10**18)  # no batch splits
    single = results()
    for got, expected in zip(split, single):
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))

    monkeypatch.setattr(second_process, "MIN_WORK", 0)
    means = params.means.copy()
    means[4] = 1e200  # in the worker's half: every state of that set gives every observation probability 0
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="probability zero"):
        hmmcore.em_step(X, params._replace(means=means))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):  # the caller's error state applies there
        hmmcore.em_step(X, params._replace(means=means))
    assert np.array_equal(hmmcore.em_step(X, params)[0].means, hmmcore.em_step(X, params)[0].means)  # still in step
    assert worker.poll() is None and second_process._state["worker"] is worker


def em_step_from_the_book(X, params, lengths, covariance_type="full"):
    """One EM step from the literal recursions and the book's update functions, in time order."""
    log_b = hmmcore.gaussian_log_density(X, params.means, params.covars)
    bounds = np.cumsum([0] + list(lengths))
    parts = [hmmcore.e_step_reference(params.startprob, params.transmat, log_b[a:b]) for a, b in zip(bounds, bounds[1:])]
    gamma = np.concatenate([part.gamma for part in parts])
    means = hmmcore.update_means(X, gamma, previous=params.means)
    update_covariances = hmmcore.update_covars if covariance_type == "full" else hmmcore.update_covars_diag
    new = hmmcore.HMMParams(
        hmmcore.update_startprob(gamma, lengths),
        hmmcore.update_transmat(sum(part.xi_sum for part in parts), previous=params.transmat),
        means,
        update_covariances(X, gamma, means, previous=params.covars),
    )
    return new, sum(part.log_likelihood for part in parts)


def assert_em_step_is_the_books(got, X, params, lengths, covariance_type="full"):
    """``got`` = (parameters, log-likelihood) from em_step equals :func:`em_step_from_the_book`."""
    expected, expected_log_likelihood = em_step_from_the_book(X, params, lengths, covariance_type)
    np.testing.assert_allclose(got[1], expected_log_likelihood, rtol=1e-12)
    for name, ours, want in zip(hmmcore.HMMParams._fields, got[0], expected):
        np.testing.assert_allclose(ours, want, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("lengths", [[48], [49], [50], [399, 400, 401], [1, 40], [2, 30, 7]])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_em_step_equals_the_books_functions_in_time_order(rng, lengths, covariance_type):
    """The EM loop's path (block order with padding, log-densities and M-step sums from quadratic
    features) against the literal E-step and the update functions of chapters 5 and 6; sequence
    lengths at, below and above block edges (7 x 7, 20 x 20), and sequences of one or two steps."""
    X = 50.0 + rng.normal(size=(sum(lengths), 2))  # away from the origin: the features are centred
    params = hmmcore.initial_params(X, 3, rng, covariance_type)
    got = hmmcore.em_step(X, params, lengths, covariance_type=covariance_type)
    assert_em_step_is_the_books(got, X, params, lengths, covariance_type)


def test_em_step_sees_observations_changed_in_place(rng):
    """em_step reuses the layout of the observations of its last call only while they are equal."""
    X = rng.normal(size=(300, 2))
    params = hmmcore.initial_params(X, 2, rng)
    hmmcore.em_step(X, params)
    X[17, 1] += 3.0
    np.testing.assert_allclose(hmmcore.em_step(X, params)[1], em_step_from_the_book(X, params, [300])[1], rtol=1e-12)


def test_expanded_log_density_equals_the_whitened_one(rng):
    """Eq. (29) as a linear function of quadratic features, about the data mean, for data and means
    near 1000 and an outlier 10^4 standard deviations out."""
    from hmmcore.emissions import log_density_coefficients, quadratic_features

    _, _, means, covars = random_hmm(rng, 3, 3)
    X = 1000.0 + rng.normal(size=(200, 3))
    X[5] += 1e4
    centre = X.mean(axis=0)
    expanded = log_density_coefficients(means + 1000.0, covars, centre) @ quadratic_features(X, centre)
    np.testing.assert_allclose(expanded.T, hmmcore.gaussian_log_density(X, means + 1000.0, covars), rtol=1e-12)


def test_returned_arrays_are_not_reused_by_the_next_call(rng):
    """The E-step keeps scratch arrays between calls; nothing it returns is one of them."""
    startprob, transmat, means, covars = random_hmm(rng, 3, 2)
    log_b = hmmcore.gaussian_log_density(rng.normal(size=(500, 2)), means, covars)
    first = hmmcore.e_step(startprob, transmat, log_b)
    kept = [np.copy(value) for value in first[1:] if value is not None]
    hmmcore.e_step(startprob[::-1], transmat.T / transmat.T.sum(axis=1, keepdims=True), log_b[::-1])
    hmmcore.forward(startprob, transmat, log_b[:300])
    for before, now in zip(kept, [value for value in first[1:] if value is not None]):
        assert np.array_equal(before, now)


def test_em_step_falls_back_to_the_literal_recursions_where_the_scan_loses_its_mass(rng):
    """A left-to-right set (zeros in A) and an observation that only an unreachable state explains:
    the blocked scan loses all mass there, and that set's E-step is redone literally, inside a
    batch whose other set stays on the fast path."""
    X = rng.normal(size=(60, 1))
    X[1] = 40.0
    left_to_right = hmmcore.HMMParams(
        np.array([1.0, 0.0, 0.0]),
        np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]]),
        np.array([[0.0], [0.5], [40.0]]),
        np.ones((3, 1, 1)),
    )
    ordinary = left_to_right._replace(startprob=np.full(3, 1 / 3), transmat=rng.dirichlet(np.ones(3), size=3),
                                      means=np.array([[-1.0], [0.0], [1.0]]))
    batch = hmmcore.HMMParams(*(np.stack(pair) for pair in zip(left_to_right, ordinary)))
    ours, log_likelihood = hmmcore.em_step(X, batch)
    for r, params in enumerate((left_to_right, ordinary)):
        got = hmmcore.HMMParams(*(value[r] for value in ours)), log_likelihood[r]
        assert_em_step_is_the_books(got, X, params, [60])


def test_warnings_in_the_second_process_reach_the_caller(rng, monkeypatch):
    from hmmcore import second_process

    monkeypatch.setattr(second_process, "MIN_WORK", 0)
    X = rng.normal(size=(200, 1))
    params = hmmcore.HMMParams(*(np.stack([value] * 2) for value in hmmcore.initial_params(X, 2, rng)))
    means = params.means.copy()
    means[1] = 1e200  # the worker's set overflows
    with np.errstate(over="warn"), pytest.warns(RuntimeWarning, match="overflow"), pytest.raises(ValueError):
        hmmcore.em_step(X, params._replace(means=means))
    assert second_process._state["worker"] is not None and not second_process._state["failed"]


def always_split(rng, monkeypatch):
    """Every batch splits between the processes; data and four restarts to split."""
    from hmmcore import second_process

    monkeypatch.setattr(second_process, "MIN_WORK", 0)
    X = rng.normal(size=(300, 2))
    params = hmmcore.HMMParams(*(np.stack(values) for values in zip(*[hmmcore.initial_params(X, 2, rng) for _ in range(4)])))
    return second_process, X, params


def test_a_dead_worker_is_dropped_and_the_work_done_here(rng, monkeypatch):
    second_process, X, params = always_split(rng, monkeypatch)
    expected = hmmcore.em_step(X, params)
    worker = second_process._state["worker"]
    assert worker is not None
    worker.kill()
    worker.wait()
    got = hmmcore.em_step(X, params)
    assert second_process._state["worker"] is None and second_process._state["failed"]
    second_process._state["failed"] = False  # later tests may start a new worker
    for a, b in zip(got[0], expected[0]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("n_steps", [1, 7, 48, 49, 50])
def test_block_order_puts_step_b_l_plus_l_at_position_l_of_block_b(n_steps):
    from hmmcore.time_blocks import TimeBlocks, from_blocks, to_blocks

    blocks = TimeBlocks.for_steps(n_steps)
    values = np.arange(2 * n_steps * 3, dtype=float).reshape(2, n_steps, 3)
    in_blocks = to_blocks(values, blocks, fill=-1.0)
    assert in_blocks.shape == (2, 3, blocks.length, blocks.n_blocks)
    for t in range(n_steps):
        block, position = divmod(t, blocks.length)
        assert np.array_equal(in_blocks[:, :, position, block], values[:, t])
    assert np.sum(in_blocks == -1.0) == 2 * 3 * (blocks.size - n_steps)  # the padding, and nothing else
    assert np.array_equal(from_blocks(in_blocks, blocks), values)


def test_scratch_arrays_are_reused_by_name_and_shape_within_a_budget(monkeypatch):
    from hmmcore import scratch as scratch_module

    monkeypatch.setattr(scratch_module._kept, "arrays", {}, raising=False)
    monkeypatch.setattr(scratch_module, "KEEP_AT_MOST_BYTES", 1000 * 8)
    first = scratch_module.scratch("a", (10, 10))
    assert scratch_module.scratch("a", (10, 10)) is first
    assert scratch_module.scratch("a", (10, 11)) is not first  # another shape: a new array
    big = scratch_module.scratch("b", (1000,))
    assert scratch_module.scratch("b", (1000,)) is not big  # over the budget: not kept


def test_a_forked_child_does_not_use_the_parents_worker(rng, monkeypatch):
    """After os.fork the child starts (or skips) a worker of its own: the parent's pipes stay in step."""
    import multiprocessing

    second_process, X, params = always_split(rng, monkeypatch)
    expected = hmmcore.em_step(X, params)
    parents_worker = second_process._state["worker"]
    assert parents_worker is not None
    with multiprocessing.get_context("fork").Pool(1) as pool:
        in_child = pool.apply(hmmcore.em_step, (X, params))
    assert second_process._state["worker"] is parents_worker and parents_worker.poll() is None
    again = hmmcore.em_step(X, params)
    for a, b, c in zip(expected[0], in_child[0], again[0]):
        assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize("chunk_elements", [1, 100, 10**9])
def test_results_do_not_depend_on_the_chunks(rng, monkeypatch, chunk_elements):
    """One position per chunk, a few, or all at once: pairs (t, t+1) across chunk edges, padding
    inside a chunk and the first step are each handled once."""
    from hmmcore import inference

    monkeypatch.setattr(inference, "CHUNK_ELEMENTS", chunk_elements)
    lengths = [50, 43]
    X = rng.normal(size=(sum(lengths), 2))
    params = hmmcore.initial_params(X, 3, rng)
    assert_em_step_is_the_books(hmmcore.em_step(X, params, lengths), X, params, lengths)
    log_b = hmmcore.gaussian_log_density(X[:50], params.means, params.covars)
    fast, exact = hmmcore.e_step(params.startprob, params.transmat, log_b), hmmcore.e_step_reference(params.startprob, params.transmat, log_b)
    for name in ("gamma", "xi_sum", "beta_hat"):
        np.testing.assert_allclose(getattr(fast, name), getattr(exact, name), rtol=1e-10, atol=1e-13, err_msg=name)
