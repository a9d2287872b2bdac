"""Property-based tests: random small models against the brute-force sum over all K^T paths.

Hypothesis draws K <= 3 states, T <= 6 steps, D <= 2 features, observations, means and
covariances, and start and transition probabilities with zeros in them (every row keeps at
least one positive entry, so some path is always possible). For each model the E-step
(log-likelihood, gamma, summed xi) and Viterbi (path and log-probability) must equal
``enumerate_paths``, which uses nothing but the definition of the joint probability.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hmmcore
from problems import TIGHT, assert_e_step_equals_enumeration

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)


@st.composite
def probability_rows(draw, n_rows, n_states):
    """Rows of probabilities with some exact zeros and at least one positive entry each."""
    weights = draw(hnp.arrays(np.float64, (n_rows, n_states), elements=st.floats(0.05, 1.0)))
    zeros = draw(hnp.arrays(np.bool_, (n_rows, n_states)))
    zeros[np.arange(n_rows), draw(st.integers(0, n_states - 1))] = False
    weights[zeros] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


@st.composite
def small_models(draw):
    n_states = draw(st.integers(1, 3))
    n_steps = draw(st.integers(1, 6))
    n_features = draw(st.integers(1, 2))
    startprob = draw(probability_rows(1, n_states))[0]
    transmat = draw(probability_rows(n_states, n_states))
    coordinates = st.floats(-3.0, 3.0)
    X = draw(hnp.arrays(np.float64, (n_steps, n_features), elements=coordinates))
    means = draw(hnp.arrays(np.float64, (n_states, n_features), elements=coordinates))
    factors = draw(hnp.arrays(np.float64, (n_states, n_features, n_features), elements=st.floats(-1.0, 1.0)))
    covars = factors @ np.swapaxes(factors, 1, 2) + 0.2 * np.eye(n_features)
    log_b = hmmcore.gaussian_log_density(X, means, covars)
    return startprob, transmat, log_b


@SETTINGS
@given(small_models())
def test_e_step_equals_enumeration(model):
    startprob, transmat, log_b = model
    exact = assert_e_step_equals_enumeration(startprob, transmat, log_b)
    np.testing.assert_allclose(hmmcore.log_likelihood(startprob, transmat, log_b), exact.log_likelihood, **TIGHT)


@SETTINGS
@given(small_models())
def test_viterbi_equals_enumeration(model):
    startprob, transmat, log_b = model
    exact = hmmcore.enumerate_paths(startprob, transmat, log_b)
    ours = hmmcore.viterbi(startprob, transmat, log_b)
    np.testing.assert_allclose(ours.log_prob, exact.best_log_prob, **TIGHT)
    # The path is a maximiser: its own joint log-probability is the maximum ...
    own = hmmcore.joint_log_prob(ours.path, startprob, transmat, log_b)
    np.testing.assert_allclose(own, exact.best_log_prob, **TIGHT)
    # ... and it is the enumerated best path whenever that one is unique.
    runner_up = np.sort(exact.log_joint)[-2] if len(exact.log_joint) > 1 else -np.inf
    if exact.best_log_prob - runner_up > 1e-9:
        np.testing.assert_array_equal(ours.path, exact.best_path)
