"""hmmlearn 0.3.3 (C++ forward-backward) as a second implementation, at identical parameters."""

import logging
import warnings

import numpy as np
import pytest
from hmmlearn import hmm

import hmmcore
from problems import random_hmm

logging.getLogger("hmmlearn").setLevel(logging.ERROR)


def hmmlearn_model(parameters, covariance_type="full", **kwargs):
    startprob, transmat, means, covars = parameters
    model = hmm.GaussianHMM(len(startprob), covariance_type=covariance_type, init_params="", **kwargs)
    model.startprob_, model.transmat_, model.means_ = startprob, transmat, means
    model.covars_ = covars if covariance_type == "full" else np.diagonal(covars, axis1=1, axis2=2)
    return model


def our_model(params):
    model = hmmcore.GaussianHMM(len(params[0]))
    model.startprob_, model.transmat_, model.means_, model.covars_ = params
    return model


@pytest.mark.parametrize("n_states,n_features", [(2, 1), (3, 3), (4, 2)])
def test_inference_matches_hmmlearn(rng, n_states, n_features):
    params = random_hmm(rng, n_states, n_features)
    X, _ = our_model(params).sample(400, random_state=rng)
    theirs, ours = hmmlearn_model(params), our_model(params)
    lengths = [150, 250]
    np.testing.assert_allclose(ours.score(X, lengths), theirs.score(X, lengths), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), theirs.predict_proba(X, lengths), rtol=1e-10, atol=1e-10)
    their_log_prob, their_path = theirs.decode(X, lengths, algorithm="viterbi")
    our_log_prob, our_path = ours.decode(X, lengths)
    np.testing.assert_array_equal(our_path, their_path)
    np.testing.assert_allclose(our_log_prob, their_log_prob, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_one_em_step_matches_hmmlearn_without_priors(rng, covariance_type):
    params = random_hmm(rng, 3, 3)
    if covariance_type == "diag":
        params = params[:3] + (np.diagonal(params[3], axis1=1, axis2=2)[..., None] * np.eye(3),)
    X, _ = our_model(params).sample(500, random_state=rng)
    theirs = hmmlearn_model(
        params, covariance_type, n_iter=1, params="stmc", covars_prior=0.0, covars_weight=1.0,
        means_prior=0.0, means_weight=0.0, startprob_prior=1.0, transmat_prior=1.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X)
    ours, log_likelihood = hmmcore.em_step(X, hmmcore.HMMParams(*params), covariance_type=covariance_type)
    np.testing.assert_allclose(log_likelihood, theirs.monitor_.history[0], rtol=1e-10)
    np.testing.assert_allclose(ours.startprob, theirs.startprob_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.transmat, theirs.transmat_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.means, theirs.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.covars, theirs.covars_, rtol=1e-10, atol=1e-12)


def test_hmmlearn_scaled_mode_fails_where_ours_does_not(rng):
    """An outlier 10^4 sigma out: hmmlearn's scaling implementation underflows; ours agrees with its log mode."""
    params = (np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.0], [0.001]]), np.array([[[1e-4]], [[4e-4]]]))
    X = rng.normal(scale=0.01, size=(2000, 1))
    X[1000] = 100.0
    scaled = hmmlearn_model(params, implementation="scaling")
    with pytest.raises(ValueError, match="underflow"):
        scaled.score(X)
    log_mode = hmmlearn_model(params, implementation="log")
    np.testing.assert_allclose(our_model(params).score(X), log_mode.score(X), rtol=1e-12)
