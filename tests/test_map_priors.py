"""hmmlearn's MAP M-step (chapter 11), and no crash where hmmlearn fits.

Oracle: hmmlearn 0.3.3 itself, started from identical parameters (``init_params=""``), with its
default priors and with informative priors of every shape its suite uses.
"""

import logging
import warnings

import numpy as np
import pytest
from hmmlearn import hmm

import hmmcore
import hmmcore.model
from problems import model_at, typed_params

logging.getLogger("hmmlearn").setLevel(logging.ERROR)

TYPES = hmmcore.COVARIANCE_TYPES


def at(module, values, covariance_type, **options):
    return model_at(module, values, covariance_type, **options)


def hmmlearn_compact(model, covariance_type):
    """hmmlearn's ``_covars_`` after its M-step (spherical: (K, D) with equal columns)."""
    return model._covars_[:, 0] if covariance_type == "spherical" else model._covars_


def assert_same_step(ours, theirs, covariance_type, rtol=1e-10):
    np.testing.assert_allclose(ours.monitor_.history[0], theirs.monitor_.history[0], rtol=rtol)
    np.testing.assert_allclose(ours.startprob_, theirs.startprob_, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(ours.transmat_, theirs.transmat_, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(ours._covars_, hmmlearn_compact(theirs, covariance_type), rtol=rtol)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_em_step_with_hmmlearn_default_priors_equals_hmmlearn(rng, covariance_type):
    params = typed_params(rng, covariance_type)
    X, _ = at(hmmcore, params, "full").sample(600, random_state=1)
    lengths = [250, 350]
    theirs = at(hmm, params, covariance_type, n_iter=1).fit(X, lengths)
    ours = at(hmmcore, params, covariance_type, n_iter=1).fit(X, lengths)
    assert theirs.covars_prior == ours.covars_prior == 1e-2
    assert_same_step(ours, theirs, covariance_type)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_em_step_with_informative_priors_equals_hmmlearn(rng, covariance_type):
    """Priors of the shapes hmmlearn's own suite uses: arrays for pi, A, the means and the
    covariances (in the type's storage), weights above the flat values."""
    params = typed_params(rng, covariance_type)
    X, _ = at(hmmcore, params, "full").sample(400, random_state=2)
    covars_weight = 2.0 + (3 if covariance_type in ("full", "tied") else 0)
    priors = dict(
        startprob_prior=10 * params.startprob + 2.0,
        transmat_prior=10 * params.transmat + 2.0,
        means_prior=params.means + 1.0,
        means_weight=2.0,
        covars_prior=hmmcore.compact_from_full(0.5 * params.covars, covariance_type),
        covars_weight=covars_weight,
    )
    theirs = at(hmm, params, covariance_type, n_iter=1, **priors).fit(X)
    ours = at(hmmcore, params, covariance_type, n_iter=1, **priors).fit(X)
    assert_same_step(ours, theirs, covariance_type)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_ten_iterations_with_default_priors_follow_hmmlearn(rng, covariance_type):
    params = typed_params(rng, covariance_type)
    X, _ = at(hmmcore, params, "full").sample(500, random_state=3)
    theirs = at(hmm, params, covariance_type, n_iter=10, tol=-np.inf).fit(X)
    ours = at(hmmcore, params, covariance_type, n_iter=10, tol=-np.inf).fit(X)
    np.testing.assert_allclose(list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-9)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours._covars_, hmmlearn_compact(theirs, covariance_type), rtol=1e-8)


def test_frozen_parameters_and_forbidden_transitions_as_hmmlearn(rng):
    """``params`` without 's' and 'c': start and covariances stay; zeros of A stay zero."""
    params = typed_params(rng, "diag")
    transmat = np.array([[0.7, 0.3, 0.0], [0.0, 0.6, 0.4], [0.2, 0.0, 0.8]])
    params = params._replace(transmat=transmat)
    X, _ = at(hmmcore, params, "diag").sample(300, random_state=4)
    theirs = at(hmm, params, "diag", n_iter=3, params="tm", tol=-np.inf).fit(X)
    ours = at(hmmcore, params, "diag", n_iter=3, params="tm", tol=-np.inf).fit(X)
    np.testing.assert_array_equal(ours.startprob_, params.startprob)
    np.testing.assert_array_equal(ours.covars_, params.covars)
    assert np.all(ours.transmat_[transmat == 0] == 0)
    np.testing.assert_allclose(ours.transmat_, theirs.transmat_, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-10)


# -- item 4: no crash where hmmlearn fits ------------------------------------------------------


def cloud_with_repeated_point(rng, n_points=300, n_repeats=6):
    X = rng.normal(size=(n_points, 2))
    X[:n_repeats] = [8.0, -8.0]
    return X


def test_constant_feature_fits_with_the_defaults(rng):
    X = np.column_stack([rng.normal(size=400), np.full(400, 715.0), rng.normal(size=400)])
    for covariance_type in TYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("error", hmmcore.DegenerateStateWarning)
            model = hmmcore.GaussianHMM(n_components=2, covariance_type=covariance_type,
                                        random_state=0).fit(X)
        assert np.all(np.linalg.eigvalsh(model.covars_) > 0), covariance_type
        assert np.isfinite(model.score(X))


def test_state_on_repeated_points_fits_with_the_defaults_as_hmmlearn(rng):
    """Default (diag) priors: the state holding the six copies gets variance
    covars_prior / N_k instead of 0, exactly as in hmmlearn, iteration after iteration."""
    X = cloud_with_repeated_point(rng)
    start = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
                              np.array([[8.0, -8.0], [0.0, 0.0]]),
                              np.array([np.eye(2), np.eye(2)]))
    ours = at(hmmcore, start, "diag", n_iter=20, tol=-np.inf).fit(X)
    theirs = at(hmm, start, "diag", n_iter=20, tol=-np.inf).fit(X)
    occupancy = ours.predict_proba(X)[:, 0].sum()
    np.testing.assert_allclose(occupancy, 6.0, rtol=1e-6)
    np.testing.assert_allclose(ours._covars_[0], 1e-2 / 6.0, rtol=1e-6)
    np.testing.assert_allclose(ours._covars_, theirs._covars_, rtol=1e-8)
    np.testing.assert_allclose(list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-10)


def test_state_on_repeated_points_full_covariance_fits_with_the_defaults(rng):
    """Full covariances: the default prior adds 1e-2 to *every* entry, a rank-one matrix, so a
    state on one repeated point is singular; hmmcore redoes that M-step with hmmlearn's 1e-7
    jitter, says so, and ends with positive definite covariances."""
    X = cloud_with_repeated_point(rng)
    start = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
                              np.array([[8.0, -8.0], [0.0, 0.0]]),
                              np.array([np.eye(2), np.eye(2)]))
    with pytest.warns(hmmcore.DegenerateStateWarning, match=r"state 0 was singular after the M-step of iteration \d"):
        model = at(hmmcore, start, "full", n_iter=5).fit(X)
    assert np.all(np.linalg.eigvalsh(model.covars_) > 0)
    assert np.isfinite(model.score(X))


def cloud_with_repeated_centre(rng, n_points=400, n_repeats=6):
    X = rng.normal(size=(n_points, 2))
    X[:n_repeats] = 0.0
    return X


def collapsing_and_good_starts():
    """A start whose state 0 sits on the repeated centre with a tiny covariance (it takes
    exactly those points: its ML covariance is 0), and two ordinary starts."""
    collapsing = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
                                   np.array([[0.0, 0.0], [0.5, 0.0]]),
                                   np.array([1e-8 * np.eye(2), np.eye(2)]))
    good = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]),
                             np.array([[0.5, 0.0], [-0.5, 0.0]]),
                             np.array([np.eye(2), np.eye(2)]))
    other = good._replace(means=np.array([[0.0, 0.5], [0.0, -0.5]]))
    return collapsing, good, other


def fit_from(monkeypatch, starts, X):
    """A model fitted with restart r starting from ``starts[r]`` (the initialiser replaced
    during the fit)."""
    queue = list(starts)
    model = hmmcore.GaussianHMM(n_components=2, covariance_type="full", covars_prior=0.0,
                                n_init=len(starts), n_iter=30)
    with monkeypatch.context() as patch:
        patch.setattr(hmmcore.model, "initial_params", lambda *args, **kwargs: queue.pop(0))
        return model.fit(X)


def test_without_prior_a_collapse_ends_that_restart_and_fit_keeps_the_best_other(rng, monkeypatch):
    X = cloud_with_repeated_centre(rng)
    collapsing, good, other = collapsing_and_good_starts()
    with pytest.warns(hmmcore.DegenerateStateWarning,
                      match=r"restart 0: the covariance of state 0 collapsed at iteration 1"):
        model = fit_from(monkeypatch, [collapsing, good, other], X)
    assert model.restart_scores_[0] == -np.inf
    assert model.restart_degenerate_[0] is not None and model.restart_degenerate_[1:] == [None, None]
    best = 1 + int(np.argmax(model.restart_scores_[1:]))
    np.testing.assert_allclose(model.score(X), model.restart_scores_[best], rtol=1e-12)
    # the kept restart is the one a model started from it alone reaches
    alone = at(hmmcore, [good, other][best - 1], "full", n_iter=30, covars_prior=0.0).fit(X)
    np.testing.assert_array_equal(model.means_, alone.means_)


def test_without_prior_every_restart_collapsing_is_a_clear_error(rng, monkeypatch):
    X = cloud_with_repeated_centre(rng)
    collapsing = collapsing_and_good_starts()[0]
    with pytest.warns(hmmcore.DegenerateStateWarning, match="state 0 collapsed at iteration 1"):
        with pytest.raises(ValueError, match=r"every one of the 2 restart\(s\) collapsed"):
            fit_from(monkeypatch, [collapsing, collapsing], X)
    single = at(hmmcore, collapsing, "full", n_iter=30, covars_prior=0.0)
    with pytest.warns(hmmcore.DegenerateStateWarning, match="state 0 collapsed at iteration 1"):
        with pytest.raises(ValueError, match="collapsed"):
            single.fit(X)

