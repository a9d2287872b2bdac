"""Validation happens once, at the public boundary: every internal call that skips the
callee's checks (``validate=False``) passes values that those checks accept.

The calls are found in hmmcore's source; each callee is replaced, in the caller's module, by
the same function with its checks switched on, and the estimator is driven through every path
that reaches them (every covariance type, restarts, several sequences, ``n_iter=0``, a negative
``tol``, a prior with the singular-covariance jitter, hmmlearn's "scaling" mode, decoding and
sampling), on complete data and on data with missing values (NaN). A check that rejects what
its caller passed fails the test, and so does a call on data with missing values that does not
hand down the patterns of missing values its caller found (the callee would otherwise read
NaN as numbers).
"""

import ast
import importlib
import inspect
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import hmmcore
import hmmcore.model

SOURCE = Path(hmmcore.__file__).parent


def unchecked_calls() -> set:
    """``(module, function)`` for every call with ``validate=False`` in hmmcore."""
    sites = set()
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(
                keyword.arg == "validate" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                for keyword in node.keywords
            ):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                sites.add((path.stem, name))
    return sites


def drive_every_path(rng):
    X = np.concatenate([rng.normal(size=(60, 2)), rng.normal(4.0, size=(60, 2))])
    X[:4] = [9.0, -9.0]  # four equal rows: a state there is singular without a prior
    gaps = X.copy()
    gaps[rng.random(X.shape) < 0.2] = np.nan
    gaps[[20, 21, 90]] = np.nan  # whole days missing
    for data in (X, gaps):
        for covariance_type in hmmcore.COVARIANCE_TYPES:
            for options in (dict(n_iter=3, tol=-1.0, n_init=2), dict(n_iter=0), dict(implementation="scaling")):
                model = hmmcore.GaussianHMM(3, covariance_type=covariance_type, random_state=0, **options)
                model.fit(data, lengths=[50, 70])
                model.score(data, [50, 70])
                model.score_samples(data)
                model.filter_proba(data)
                model.decode(data, algorithm="viterbi")
                model.decode(data, algorithm="map")
                model.sample(5, random_state=np.random.default_rng(0), currstate=1)
                model.sample(5, random_state=1)
    start = hmmcore.HMMParams(np.full(2, 0.5), np.full((2, 2), 0.5), np.array([[9.0, -9.0], [2.0, 0.0]]),
                              np.array([1e-6 * np.eye(2), np.eye(2)]))
    jittering = hmmcore.GaussianHMM(2, covariance_type="full", init_params="", n_iter=3)
    jittering.params_ = start
    jittering.fit(X)
    hmmcore.simulate_regimes(20, rng=0)
    drive_the_information(rng)
    drive_the_forecasts(rng)


def drive_the_information(rng):
    """The fitted model's standard errors, Newton, the bootstrap and the pseudo-residuals
    (chapter 12), for every covariance type, on two sequences from well-separated states."""
    truth = hmmcore.HMMParams(np.array([0.6, 0.4]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                              np.array([[-2.0, 0.0], [2.0, 1.0]]), np.array([np.eye(2), 0.5 * np.eye(2)]))
    X = np.concatenate([hmmcore.sample(truth, 150, rng)[0], hmmcore.sample(truth, 150, rng)[0]])
    lengths = [150, 150]
    for covariance_type in hmmcore.COVARIANCE_TYPES:
        model = hmmcore.GaussianHMM(2, covariance_type=covariance_type, covars_prior=0.0, n_iter=500, tol=1e-9,
                                    random_state=0).fit(X, lengths)
        model.observed_information(X, lengths, start="fixed")
        for start in ("free", "stationary"):
            model.standard_errors(X, lengths, start=start, covariance="robust")
        model.pseudo_residuals(X, lengths)
        newton = hmmcore.fit_newton(X, model.params_, lengths, covariance_type=covariance_type, start="stationary")
        hmmcore.standard_errors(X, newton.params, lengths, covariance_type=covariance_type, start="stationary")
        hmmcore.score_vector(X, newton.params, lengths, covariance_type=covariance_type, start="stationary")
        hmmcore.parametric_bootstrap(model.params_, 60, 2, rng, covariance_type=covariance_type)
        model.get_stationary_distribution()


def drive_the_forecasts(rng):
    """The forecasts (chapter 13): the estimator's methods for every covariance type, the
    parameter-level functions, and a walk forward with restart checks."""
    X = np.concatenate([rng.normal(size=(60, 2)), rng.normal(4.0, size=(60, 2))])
    for covariance_type in hmmcore.COVARIANCE_TYPES:
        model = hmmcore.GaussianHMM(2, covariance_type=covariance_type, random_state=0).fit(X)
        model.forecast_state_proba(X, [50, 70], horizon=2)
        model.forecast_mixture(X, horizon=3)
        model.predict_next_proba(X, [50, 70], n_steps=2)
        model.forecast_next(X, n_steps=2)
    hmmcore.forecast_mixture(X, model.params_, horizon=2)
    mixture = hmmcore.forecast_next(X, model.params_, n_steps=2)
    hmmcore.mixture_log_density(mixture, X[:2])
    hmmcore.walk_forward(X, [40, 80, 100], 2, n_initial=2, check_every=2, n_fresh=2, n_iter_fresh=5)


def test_every_unchecked_call_passes_what_the_callee_accepts(rng, monkeypatch):
    sites = unchecked_calls()
    assert len(sites) >= 15, sites
    reached = Counter()
    for module_name, name in sorted(sites):
        module = importlib.import_module(f"hmmcore.{module_name}")
        original = getattr(module, name)

        def checked(*args, _original=original, _site=(module_name, name), **kwargs):
            reached[_site] += 1
            arguments = inspect.signature(_original).bind(*args, **kwargs).arguments
            if "patterns" in inspect.signature(_original).parameters and np.isnan(arguments["X"]).any():
                assert arguments.get("patterns") is not None, f"{_site}: data with gaps, no patterns passed"
            return _original(*args, **dict(kwargs, validate=True))

        monkeypatch.setattr(module, name, checked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drive_every_path(rng)
    assert set(reached) == sites, f"never reached: {sorted(sites - set(reached))}"
