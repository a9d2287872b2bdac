"""hmmlearn 0.3.3 (C++ forward-backward) as a second implementation, at identical parameters."""

import logging
import warnings

import numpy as np
import pytest
from hmmlearn import hmm

import hmmcore
from problems import covars_of_type, model_at, random_hmm, sample_hmm

logging.getLogger("hmmlearn").setLevel(logging.ERROR)


def hmmlearn_model(parameters, covariance_type="full", **kwargs):
    return model_at(hmm, parameters, covariance_type, **kwargs)


@pytest.mark.parametrize("n_states,n_features", [(2, 1), (3, 3), (4, 2)])
def test_inference_matches_hmmlearn(rng, n_states, n_features):
    params = random_hmm(rng, n_states, n_features)
    X, _ = sample_hmm(rng, params, 400)
    theirs = hmmlearn_model(params)
    startprob, transmat, means, covars = params
    log_b = hmmcore.gaussian_log_density(X, means, covars)
    parts = [(0, 150), (150, 400)]
    posteriors = [hmmcore.e_step(startprob, transmat, log_b[a:b]) for a, b in parts]
    paths = [hmmcore.viterbi(startprob, transmat, log_b[a:b]) for a, b in parts]
    lengths = [150, 250]
    score = sum(p.log_likelihood for p in posteriors)
    np.testing.assert_allclose(score, theirs.score(X, lengths), rtol=1e-10)
    gamma = np.concatenate([p.gamma for p in posteriors])
    np.testing.assert_allclose(gamma, theirs.predict_proba(X, lengths), rtol=1e-10, atol=1e-10)
    their_log_prob, their_path = theirs.decode(X, lengths, algorithm="viterbi")
    np.testing.assert_array_equal(np.concatenate([p.path for p in paths]), their_path)
    np.testing.assert_allclose(sum(p.log_prob for p in paths), their_log_prob, rtol=1e-10)


def one_hmmlearn_step(params, X, covariance_type, lengths, **priors):
    """hmmlearn's first EM iteration from ``params``: its E-step, then its M-step."""
    theirs = hmmlearn_model(params, covariance_type, n_iter=1, params="stmc", **priors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, lengths)
    return theirs


@pytest.mark.parametrize("covariance_type", hmmcore.COVARIANCE_TYPES)
@pytest.mark.parametrize("with_priors", ["flat", "hmmlearn defaults", "all priors"])
def test_one_em_step_matches_hmmlearn(rng, covariance_type, with_priors):
    """One EM step from identical parameters, for every covariance type: with flat priors (plain
    maximum likelihood), with hmmlearn's default priors, and with every prior switched on."""
    params = random_hmm(rng, 3, 3)
    params = params[:3] + (covars_of_type(params[3], covariance_type),)
    X, _ = sample_hmm(rng, params, 500)
    lengths = [200, 300]
    priors = {
        "flat": hmmcore.Priors(),
        "hmmlearn defaults": hmmcore.HMMLEARN_PRIORS,
        "all priors": hmmcore.Priors(
            startprob_prior=2.0, transmat_prior=1.5, means_prior=0.5, means_weight=3.0,
            covars_prior=0.2, covars_weight=7.0 if covariance_type in ("full", "tied") else 2.5,
        ),
    }[with_priors]
    theirs = one_hmmlearn_step(params, X, covariance_type, lengths, **priors._asdict())
    options = hmmcore.EMOptions(covariance_type=covariance_type, priors=priors)
    ours, log_likelihood = hmmcore.em_step(X, hmmcore.HMMParams(*params), lengths, options)
    np.testing.assert_allclose(log_likelihood, theirs.monitor_.history[0], rtol=1e-10)
    np.testing.assert_allclose(ours.startprob, theirs.startprob_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.transmat, theirs.transmat_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.means, theirs.means_, rtol=1e-10, atol=1e-12)
    if covariance_type == "spherical":
        # hmmlearn 0.3.3 leaves its spherical storage as (K, D) copies of each variance after an
        # M-step (so its ``covars_`` then has K D matrices): compare with that storage.
        np.testing.assert_allclose(
            np.diagonal(ours.covars, axis1=1, axis2=2), theirs._covars_, rtol=1e-10, atol=1e-12
        )
    else:
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
    log_b = hmmcore.gaussian_log_density(X, params[2], params[3])
    np.testing.assert_allclose(hmmcore.log_likelihood(*params[:2], log_b), log_mode.score(X), rtol=1e-12)
