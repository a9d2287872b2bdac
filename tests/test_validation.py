"""Every bad input gets a ValueError (or TypeError) that names the argument."""

import numpy as np
import pytest

import hmmcore


def fitted_model():
    startprob, transmat, means, covars = hmmcore.simulated_regime_params()
    model = hmmcore.GaussianHMM(n_components=3, covariance_type="full")
    model.startprob_, model.transmat_, model.means_, model.covars_ = startprob, transmat, means, covars
    return model


GOOD_X = np.random.default_rng(0).normal(size=(20, 3))


@pytest.mark.parametrize(
    "X,match",
    [
        (np.full((5, 3), np.nan), "`X` is entirely missing"),
        (np.array([[0.0, np.inf, 0.0]] * 5), r"`X\[0, 1\]` is inf: an infinite value is not a missing value"),
        (np.zeros(10), "`X` must be 2-D"),
        (np.zeros((2, 2, 2)), "`X` must be 2-D"),
        (np.zeros((0, 3)), "at least one sample"),
    ],
)
def test_bad_observations(X, match):
    with pytest.raises(ValueError, match=match):
        hmmcore.GaussianHMM(2).fit(X)
    with pytest.raises(ValueError, match=match):
        fitted_model().score(X)


def test_non_numeric_observations():
    with pytest.raises(TypeError, match="`X` must be an array of numbers"):
        hmmcore.GaussianHMM(2).fit([["a", "b"]])


def test_wrong_number_of_features():
    with pytest.raises(ValueError, match="`X` has 2 features but the model has n_features = 3"):
        fitted_model().score(np.zeros((5, 2)))


def test_fewer_observations_than_states():
    with pytest.raises(ValueError, match="fewer than `n_components`"):
        hmmcore.GaussianHMM(5).fit(GOOD_X[:3])


@pytest.mark.parametrize("n_components,error", [(0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_n_components(n_components, error):
    with pytest.raises(error, match="`n_components`"):
        hmmcore.GaussianHMM(n_components).fit(GOOD_X)


@pytest.mark.parametrize(
    "name,value,match",
    [
        ("startprob_", np.array([0.5, 0.6, -0.1]), "`startprob_` has negative entries"),
        ("startprob_", np.array([0.5, 0.2, 0.2]), "`startprob_` must sum to 1"),
        ("startprob_", np.array([0.5, 0.5]), r"`startprob_` must be a vector of K probabilities with K = 3; got shape \(2,\)"),
        ("transmat_", np.full((3, 3), 0.5), "each row of `transmat_` must sum to 1"),
        ("transmat_", np.array([[1.2, -0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "`transmat_` has negative"),
        ("transmat_", np.eye(3)[:2], "`transmat_` must be a square"),
        ("means_", np.array([[0.0, np.nan, 0.0]] * 3), "`means_` contains NaN"),
    ],
)
def test_bad_parameters(name, value, match):
    model = fitted_model()
    setattr(model, name, value)
    with pytest.raises(ValueError, match=match):
        model.score(GOOD_X)


@pytest.mark.parametrize(
    "value,match",
    [
        (np.array([np.eye(3), np.eye(3), np.diag([1.0, 1.0, -1.0])]), r"`covars_\[2\]` \(state 2\) has eigenvalue -1"),
        (np.array([np.eye(3), np.eye(3), np.triu(np.ones((3, 3)))]), "`covars_` must be symmetric"),
        (np.ones((3, 3)), r"`covars_` for 'full' must have shape \(3, 'D', 'D'\)"),
    ],
)
def test_bad_covariances_are_refused_when_set(value, match):
    """As in hmmlearn, covariances are checked when they are set."""
    with pytest.raises(ValueError, match=match):
        fitted_model().covars_ = value


@pytest.mark.parametrize(
    "lengths,match",
    [([10, 5], "sum to len"), ([10, 0, 10], "positive"), ([10.5, 9.5], "whole numbers"), ([[10, 10]], "1-D"), ([], "non-empty")],
)
def test_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        fitted_model().score(GOOD_X, lengths)
    with pytest.raises(ValueError, match=match):
        hmmcore.GaussianHMM(2).fit(GOOD_X, lengths)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"covariance_type": "banana"}, "`covariance_type`"),
        ({"n_iter": -1}, "`n_iter`"),
        ({"tol": np.nan}, "`tol`"),
        ({"algorithm": "greedy"}, "`algorithm`"),
        ({"init_params": "stmx"}, "`init_params`"),
        ({"n_init": 0}, "`n_init`"),
        ({"reg_covar": -1e-3}, "`reg_covar`"),
        ({"posthoc_reg_covar": np.nan}, "`posthoc_reg_covar`"),
    ],
)
def test_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hmmcore.GaussianHMM(2, **kwargs).fit(GOOD_X)


def test_inference_functions_check_their_inputs():
    startprob, transmat = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]])
    with pytest.raises(ValueError, match="`log_b` contains NaN"):
        hmmcore.e_step(startprob, transmat, np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="`transmat` must be a square K x K matrix with K = 3"):
        hmmcore.forward(startprob, transmat, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="`transmat`"):
        hmmcore.viterbi(startprob, np.array([[0.9, 0.2], [0.1, 0.9]]), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="too many"):
        hmmcore.enumerate_paths(startprob, transmat, np.zeros((40, 2)))


def test_sample_checks_its_size():
    with pytest.raises(ValueError, match="`n_samples`"):
        fitted_model().sample(0)


def test_market_features_checks_columns():
    with pytest.raises(ValueError, match="lacks the column"):
        hmmcore.market_features(hmmcore.load_sp500()[["Open", "Close"]])
