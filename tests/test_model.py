"""GaussianHMM: hmmlearn's interface and behaviour, checked against hmmlearn itself, plus
hmmcore's additions (restarts, filtering, regularisation)."""

import inspect
import logging
import pickle

import numpy as np
import pytest
from hmmlearn import hmm
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import hmmcore
from problems import model_at, random_hmm, typed_params

logging.getLogger("hmmlearn").setLevel(logging.ERROR)

TYPES = hmmcore.COVARIANCE_TYPES


def regimes(n_steps, seed):
    """Data from the book's three simulated regimes (full covariances)."""
    truth = hmmcore.GaussianHMM(n_components=3, covariance_type="full")
    truth.startprob_, truth.transmat_, truth.means_, truth.covars_ = hmmcore.simulated_regime_params()
    return truth.sample(n_steps, random_state=np.random.default_rng(seed))


def set_params(model, values, covariance_type):
    model.startprob_, model.transmat_, model.means_ = (np.array(v) for v in values[:3])
    model.covars_ = hmmcore.compact_from_full(np.asarray(values[3]), covariance_type)
    return model


# -- the constructor and the estimator protocol -----------------------------------------------


def test_constructor_is_hmmlearns_then_hmmcores_keyword_only_additions():
    ours = list(inspect.signature(hmmcore.GaussianHMM.__init__).parameters.values())[1:]
    theirs = list(inspect.signature(hmm.GaussianHMM.__init__).parameters.values())[1:]
    assert [(p.name, p.default, p.kind) for p in ours[: len(theirs)]] == [
        (p.name, p.default, p.kind) for p in theirs
    ]
    additions = ours[len(theirs):]
    assert [(p.name, p.default) for p in additions] == [
        ("n_init", 1), ("reg_covar", 0.0), ("posthoc_reg_covar", 0.0)
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in additions)


def test_get_params_set_params_clone_and_grid_search():
    model = hmmcore.GaussianHMM(n_components=2, covariance_type="full", n_iter=7, n_init=2,
                                random_state=3, reg_covar=1e-6)
    params = model.get_params()
    assert params["n_iter"] == 7 and params["n_init"] == 2 and params["covars_prior"] == 1e-2
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    copy.set_params(n_iter=3, tol=-np.inf)
    X, _ = regimes(300, 1)
    copy.fit(X)
    assert copy.monitor_.iter == 3 and copy.monitor_.n_iter == 3 and copy.monitor_.tol == -np.inf
    search = GridSearchCV(hmmcore.GaussianHMM(covariance_type="full", n_iter=20, random_state=0),
                          {"n_components": [1, 2]}, cv=2).fit(X)
    assert search.best_params_["n_components"] in (1, 2)
    assert "GaussianHMM(" in repr(model) and "n_init=2" in repr(model)


def test_bad_arguments_are_named():
    X, _ = regimes(50, 2)
    cases = [
        ({"covariance_type": "badcovariance_type"}, "`covariance_type`"),
        ({"algorithm": "forward"}, "`algorithm`"),
        ({"implementation": "fast"}, "`implementation`"),
        ({"params": "stmx"}, "`params`"),
        ({"init_params": 3}, "`init_params`"),
        ({"n_iter": -1}, "`n_iter`"),
        ({"tol": np.nan}, "`tol`"),
        ({"n_init": 0}, "`n_init`"),
        ({"reg_covar": -1.0}, "`reg_covar`"),
        ({"min_covar": -1.0}, "`min_covar`"),
        ({"transmat_prior": np.ones((2, 3))}, "`transmat_prior`"),
        ({"means_weight": -1.0}, "`means_weight`"),
    ]
    for options, name in cases:
        with pytest.raises(ValueError, match=name):
            hmmcore.GaussianHMM(n_components=3, **options).fit(X)
    with pytest.raises(TypeError, match="`n_components`"):
        hmmcore.GaussianHMM(n_components=2.5).fit(X)
    with pytest.raises(ValueError, match="`algorithm`"):
        set_params(hmmcore.GaussianHMM(3, covariance_type="full"),
                   hmmcore.simulated_regime_params(), "full").decode(X, algorithm="forward")
    with pytest.raises(ValueError, match="fewer than `n_components`"):
        hmmcore.GaussianHMM(n_components=5).fit(X[:3])


def test_unfitted_model_says_what_is_missing():
    with pytest.raises(ValueError, match="call `fit`"):
        hmmcore.GaussianHMM(2).score(np.zeros((5, 1)))


# -- covariance storage ------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", TYPES)
def test_covars_storage_shapes_as_hmmlearn(rng, covariance_type):
    values = typed_params(rng, covariance_type, n_features=2)
    compact = hmmcore.compact_from_full(values.covars, covariance_type)
    assert compact.shape == {"spherical": (3,), "diag": (3, 2), "full": (3, 2, 2), "tied": (2, 2)}[
        covariance_type
    ]
    ours = set_params(hmmcore.GaussianHMM(3, covariance_type=covariance_type), values, covariance_type)
    theirs = set_params(hmm.GaussianHMM(3, covariance_type=covariance_type), values, covariance_type)
    theirs.n_features = 2
    np.testing.assert_array_equal(ours._covars_, theirs._covars_)
    np.testing.assert_array_equal(ours.covars_, theirs.covars_)   # (K, D, D) for every type
    # (K, D, D) matrices of the type's form are accepted too, and stored compactly
    again = hmmcore.GaussianHMM(3, covariance_type=covariance_type)
    again.covars_ = values.covars
    np.testing.assert_array_equal(again._covars_, compact)


def test_covars_of_the_wrong_form_are_refused():
    full = random_hmm(np.random.default_rng(0), 3, 2)[3]
    for covariance_type, match in (("diag", "diagonal"), ("spherical", "multiples"),
                                   ("tied", "shared")):
        with pytest.raises(ValueError, match=match):
            hmmcore.GaussianHMM(3, covariance_type=covariance_type).covars_ = full
    with pytest.raises(ValueError, match="positive definite"):
        hmmcore.GaussianHMM(3, covariance_type="full").covars_ = -full
    with pytest.raises(ValueError, match="positive"):
        hmmcore.GaussianHMM(3, covariance_type="diag").covars_ = -np.ones((3, 2))


# -- initialisation: init_params and params, random_state --------------------------------------


def test_start_and_transitions_are_drawn_as_hmmlearn_draws_them(rng):
    """Same int seed: the same Dirichlet(1/K) draws of pi and A as hmmlearn's ``_init``."""
    values = random_hmm(rng, 3, 2)
    X, _ = set_params(hmmcore.GaussianHMM(3, covariance_type="full"), values, "full").sample(
        200, random_state=1)
    ours = set_params(hmmcore.GaussianHMM(3, covariance_type="full", init_params="st",
                                          random_state=7), values, "full")
    theirs = set_params(hmm.GaussianHMM(3, covariance_type="full", init_params="st",
                                        random_state=7), values, "full")
    ours._init(X)
    theirs._init(X)
    np.testing.assert_array_equal(ours.startprob_, theirs.startprob_)
    np.testing.assert_array_equal(ours.transmat_, theirs.transmat_)
    np.testing.assert_array_equal(ours.means_, values[2])           # not in init_params: kept


@pytest.mark.parametrize("covariance_type", TYPES)
def test_initial_covariances_are_hmmlearns(rng, covariance_type):
    X = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 1.0, -0.4], [0.0, 0.0, 2.0]])
    ours = hmmcore.GaussianHMM(2, covariance_type=covariance_type, init_params="c")
    theirs = hmm.GaussianHMM(2, covariance_type=covariance_type, init_params="c")
    for model in (ours, theirs):
        model.startprob_, model.transmat_ = np.array([0.5, 0.5]), np.full((2, 2), 0.5)
        model.means_ = np.zeros((2, 3))
        model._init(X)
    expected = theirs._covars_[:, 0] if covariance_type == "spherical" else theirs._covars_
    np.testing.assert_allclose(ours._covars_, expected, rtol=1e-14)


def test_parameters_set_before_fit_are_the_start_and_frozen_ones_stay(rng):
    X, _ = regimes(400, 3)
    values = hmmcore.simulated_regime_params()
    # absent from init_params: the starting point; n_iter = 0 leaves it untouched
    start = set_params(hmmcore.GaussianHMM(3, covariance_type="full", init_params="", n_iter=0),
                       values, "full").fit(X)
    for fitted, given in zip((start.startprob_, start.transmat_, start.means_, start.covars_), values):
        np.testing.assert_array_equal(fitted, given)
    # absent from params: frozen through EM
    frozen = set_params(hmmcore.GaussianHMM(3, covariance_type="full", init_params="", params="tc",
                                            n_iter=5), values, "full").fit(X)
    np.testing.assert_array_equal(frozen.startprob_, values[0])
    np.testing.assert_array_equal(frozen.means_, values[2])
    assert not np.array_equal(frozen.transmat_, values[1])
    assert not np.array_equal(frozen.covars_, values[3])


def test_overwritten_parameters_are_logged_as_hmmlearn_does(rng, caplog):
    X, _ = regimes(100, 4)
    model = hmmcore.GaussianHMM(3, covariance_type="full", n_iter=2)
    model.startprob_ = np.full(3, 1 / 3)
    with caplog.at_level(logging.WARNING, logger="hmmcore.model"):
        model.fit(X)
    assert any("'startprob_' attribute is set, it will be overwritten" in r.getMessage()
               for r in caplog.records)


def test_random_state_none_draws_from_numpys_global_generator():
    X, _ = regimes(300, 5)

    def fitted():
        return hmmcore.GaussianHMM(3, covariance_type="full", n_iter=5).fit(X)

    np.random.seed(11)
    first = fitted()
    np.random.seed(11)
    second = fitted()
    np.random.seed(12)
    third = fitted()
    np.testing.assert_array_equal(first.transmat_, second.transmat_)
    np.testing.assert_array_equal(first.means_, second.means_)
    assert not np.array_equal(first.transmat_, third.transmat_)
    # an int seed is a fresh RandomState(seed), as in scikit-learn
    seeded = hmmcore.GaussianHMM(3, covariance_type="full", n_iter=5, random_state=11).fit(X)
    as_state = hmmcore.GaussianHMM(3, covariance_type="full", n_iter=5,
                                   random_state=np.random.RandomState(11)).fit(X)
    np.testing.assert_array_equal(seeded.means_, first.means_)
    np.testing.assert_array_equal(seeded.means_, as_state.means_)


# -- fitting: hmmlearn's loop and its monitor --------------------------------------------------


def test_monitor_follows_hmmlearns(rng, capsys):
    values = typed_params(rng, "diag", n_features=2)
    X, _ = set_params(hmmcore.GaussianHMM(3, covariance_type="full"), values, "full").sample(
        400, random_state=2)
    ours = set_params(hmmcore.GaussianHMM(3, init_params="", n_iter=50, tol=1e-3, verbose=True),
                      values, "diag").fit(X)
    theirs = set_params(hmm.GaussianHMM(3, init_params="", n_iter=50, tol=1e-3), values, "diag").fit(X)
    assert ours.monitor_.iter == theirs.monitor_.iter == len(ours.monitor_.history)
    np.testing.assert_allclose(list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-10)
    assert ours.monitor_.converged and theirs.monitor_.converged
    assert (ours.monitor_.tol, ours.monitor_.n_iter, ours.monitor_.verbose) == (1e-3, 50, True)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-9)   # after the last M-step
    assert ours.converged_ and ours.n_iter_ == ours.monitor_.iter
    assert ours.log_likelihood_history_ == list(ours.monitor_.history)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == ours.monitor_.iter
    assert lines[1].split()[0] == "2" and float(lines[1].split()[1]) == pytest.approx(
        ours.monitor_.history[1], abs=1e-7)
    assert "history=[" in repr(ours.monitor_)


def test_a_custom_monitor_is_honoured():
    class FiveIterations(hmmcore.ConvergenceMonitor):
        @property
        def converged(self):
            return self.iter == 5

    X, _ = regimes(300, 6)
    model = hmmcore.GaussianHMM(3, covariance_type="full", n_iter=100, random_state=0)
    model.monitor_ = FiveIterations(model.monitor_.tol, model.monitor_.n_iter, False)
    model.fit(X)
    assert model.monitor_.iter == 5 and isinstance(model.monitor_, FiveIterations)


def test_fit_recovers_simulated_regimes():
    X, states = regimes(6000, 1)
    model = hmmcore.GaussianHMM(3, covariance_type="full", covars_prior=0.0, n_iter=100, tol=1e-4,
                                n_init=4, random_state=0).fit(X)
    _, transmat, means, covars = hmmcore.simulated_regime_params()
    order = [int(np.argmin(np.abs(model.means_[:, 1] - m))) for m in means[:, 1]]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(model.means_[order], means, atol=0.01)
    np.testing.assert_allclose(np.sqrt(np.diagonal(model.covars_[order], axis1=1, axis2=2)),
                               np.sqrt(np.diagonal(covars, axis1=1, axis2=2)), rtol=0.1)
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], transmat, atol=0.02)
    assert np.mean(np.array(order)[states] == model.predict(X)) > 0.9


def test_restarts_keep_the_best_score_and_are_reproducible():
    X, _ = regimes(1500, 2)
    options = dict(covariance_type="full", covars_prior=0.0, n_iter=100, tol=1e-4, n_init=5,
                   random_state=3)
    model = hmmcore.GaussianHMM(3, **options).fit(X)
    assert model.restart_scores_.shape == (5,)
    np.testing.assert_allclose(model.score(X), model.restart_scores_.max(), rtol=1e-12)
    again = hmmcore.GaussianHMM(3, **options).fit(X)
    np.testing.assert_array_equal(again.restart_scores_, model.restart_scores_)
    np.testing.assert_array_equal(again.means_, model.means_)


def test_posthoc_regularisation_is_applied_before_scoring():
    X, _ = regimes(1000, 4)
    options = dict(covariance_type="full", covars_prior=0.0, n_iter=100, tol=1e-4, random_state=5)
    plain = hmmcore.GaussianHMM(3, **options).fit(X)
    regularised = hmmcore.GaussianHMM(3, posthoc_reg_covar=1e-4, **options).fit(X)
    np.testing.assert_allclose(regularised.covars_, plain.covars_ + 1e-4 * np.eye(3), rtol=1e-12)
    np.testing.assert_allclose(regularised.restart_scores_[0], regularised.score(X), rtol=1e-12)
    assert regularised.score(X) < plain.score(X)


# -- evaluation, decoding, sampling ------------------------------------------------------------


def test_methods_agree_with_the_books_functions(rng):
    values = hmmcore.simulated_regime_params()
    model = set_params(hmmcore.GaussianHMM(3, covariance_type="full"), values, "full")
    X, _ = model.sample(500, random_state=rng)
    log_b = hmmcore.gaussian_log_density(X, values[2], values[3])
    posteriors = hmmcore.e_step(values[0], values[1], log_b)
    np.testing.assert_allclose(model.score(X), posteriors.log_likelihood, rtol=1e-13)
    np.testing.assert_allclose(model.predict_proba(X), posteriors.gamma, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.filter_proba(X), posteriors.alpha_hat, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), hmmcore.viterbi(values[0], values[1], log_b).path)
    np.testing.assert_allclose(model.score(X, [200, 300]),
                               model.score(X[:200]) + model.score(X[200:]), rtol=1e-13)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_evaluation_and_decoding_equal_hmmlearns(rng, covariance_type):
    values = typed_params(rng, covariance_type, n_features=2)
    ours = set_params(hmmcore.GaussianHMM(3, covariance_type=covariance_type), values, covariance_type)
    theirs = set_params(hmm.GaussianHMM(3, covariance_type=covariance_type), values, covariance_type)
    X, _ = ours.sample(300, random_state=3)
    lengths = [120, 180]
    np.testing.assert_allclose(ours.score(X, lengths), theirs.score(X, lengths), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), theirs.predict_proba(X, lengths),
                               rtol=1e-9, atol=1e-12)
    for algorithm in ("viterbi", "map"):
        our_score, our_path = ours.decode(X, lengths, algorithm=algorithm)
        their_score, their_path = theirs.decode(X, lengths, algorithm=algorithm)
        np.testing.assert_array_equal(our_path, their_path)
        np.testing.assert_allclose(our_score, their_score, rtol=1e-10)
    for name in ("aic", "bic"):
        np.testing.assert_allclose(getattr(ours, name)(X), getattr(theirs, name)(X), rtol=1e-10)
    np.testing.assert_allclose(ours.get_stationary_distribution(),
                               theirs.get_stationary_distribution(), rtol=1e-10)


def test_decoders_against_brute_force(rng):
    """Viterbi: the best of all K^T paths; map: the argmax of the exact marginals."""
    values = random_hmm(rng, 2, 1)
    model = set_params(hmmcore.GaussianHMM(2, covariance_type="full"), values, "full")
    X, _ = model.sample(7, random_state=4)
    exact = hmmcore.enumerate_paths(values[0], values[1],
                                    hmmcore.gaussian_log_density(X, values[2], values[3]))
    log_prob, path = model.decode(X, algorithm="viterbi")
    best = int(np.argmax(exact.log_joint))
    np.testing.assert_array_equal(path, exact.paths[best])
    np.testing.assert_allclose(log_prob, exact.log_joint[best], rtol=1e-12)
    total, states = model.decode(X, algorithm="map")
    np.testing.assert_array_equal(states, exact.gamma.argmax(axis=1))
    np.testing.assert_allclose(total, exact.gamma.max(axis=1).sum(), rtol=1e-12)
    model.algorithm = "map"
    np.testing.assert_array_equal(model.predict(X), states)


def test_sample_is_hmmlearns_sample_and_currstate_continues(rng):
    values = random_hmm(rng, 3, 2)
    ours = set_params(hmmcore.GaussianHMM(3, covariance_type="full"), values, "full")
    theirs = set_params(hmm.GaussianHMM(3, covariance_type="full"), values, "full")
    X_ours, states_ours = ours.sample(50, random_state=42)
    X_theirs, states_theirs = theirs.sample(50, random_state=42)
    np.testing.assert_array_equal(X_ours, X_theirs)
    np.testing.assert_array_equal(states_ours, states_theirs)
    _, continued = ours.sample(20, random_state=1, currstate=2)
    assert continued[0] == 2
    _, theirs_continued = theirs.sample(20, random_state=1, currstate=2)
    np.testing.assert_array_equal(continued, theirs_continued)
    with pytest.raises(ValueError, match="`currstate`"):
        ours.sample(5, currstate=3)
    with pytest.raises(ValueError, match="`n_samples`"):
        ours.sample(0)


def test_sample_statistics_match_the_parameters():
    startprob, transmat, means, covars = hmmcore.simulated_regime_params()
    X, states = regimes(60_000, 9)
    counts = np.zeros((3, 3))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True), transmat, atol=0.01)
    for k in range(3):
        standard_error = np.sqrt(np.diag(covars[k]) / np.sum(states == k))
        assert np.all(np.abs(X[states == k].mean(axis=0) - means[k]) < 4 * standard_error)
        np.testing.assert_allclose(np.diag(np.cov(X[states == k], rowvar=False)), np.diag(covars[k]),
                                   rtol=0.05)


def test_scaling_implementation_gives_the_same_numbers_and_hmmlearns_underflow_error(rng):
    values = random_hmm(rng, 2, 1)
    log_model = set_params(hmmcore.GaussianHMM(2, covariance_type="full"), values, "full")
    scaling = set_params(hmmcore.GaussianHMM(2, covariance_type="full", implementation="scaling"),
                         values, "full")
    X, _ = log_model.sample(200, random_state=5)
    assert scaling.score(X) == log_model.score(X)
    np.testing.assert_array_equal(scaling.predict_proba(X), log_model.predict_proba(X))
    X[100] = 1e4
    assert np.isfinite(log_model.score(X))
    with pytest.raises(ValueError, match="underflows at time step 100"):
        scaling.score(X)
    their_scaling = set_params(hmm.GaussianHMM(2, covariance_type="full", implementation="scaling"),
                               values, "full")
    with pytest.raises(ValueError, match="underflow"):
        their_scaling.score(X)


def test_parameter_count_and_information_criteria():
    X, _ = regimes(800, 6)
    counts = {}
    for covariance_type in TYPES:
        model = hmmcore.GaussianHMM(3, covariance_type=covariance_type, random_state=0).fit(X)
        counts[covariance_type] = model.n_parameters()
        np.testing.assert_allclose(model.bic(X), -2 * model.score(X) + counts[covariance_type] * np.log(800),
                                   rtol=1e-13)
        np.testing.assert_allclose(model.aic(X), -2 * model.score(X) + 2 * counts[covariance_type],
                                   rtol=1e-13)
    # (K-1) + K(K-1) + K D = 2 + 6 + 9, plus K, K D, K D(D+1)/2 and D(D+1)/2 covariance scalars
    assert counts == {"spherical": 20, "diag": 26, "full": 35, "tied": 23}


def test_fitted_model_pickles():
    X, _ = regimes(300, 7)
    model = hmmcore.GaussianHMM(2, covariance_type="tied", random_state=0).fit(X)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    np.testing.assert_array_equal(copy._covars_, model._covars_)


def test_a_first_fit_does_not_import_scikit_learn_pandas_or_scipy_optimize():
    """Importing scikit-learn (which imports scipy.stats and pandas) costs more than a first fit
    (benchmarks/README.md, start-up); the estimator works without it until scikit-learn itself
    asks (clone, grid search, tags). scipy.optimize (about 0.1 s) is imported by the three
    functions that use it: relabelling, the predictive quantiles and the brute-force moments."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, hmmcore\n"
        "X = hmmcore.simulate_regimes(200, rng=0).X\n"
        "model = hmmcore.GaussianHMM(2, covariance_type='full', random_state=0).fit(X)\n"
        "model.predict(X); model.score(X); model.filter_proba(X)\n"
        "print(sorted(m for m in ('sklearn', 'pandas', 'scipy.stats', 'scipy.optimize') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout
