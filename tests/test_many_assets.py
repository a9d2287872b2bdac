"""One model per asset: a fitted model pickles, and joblib's parallel fit equals a serial one."""

import pickle

import numpy as np
from joblib import Parallel, delayed

import hmmcore


def assets(n_assets=3, n_steps=400):
    """Simulated daily features of a few 'assets': the three regimes, different seeds."""
    truth = hmmcore.GaussianHMM(n_components=3, covariance_type="full")
    truth.startprob_, truth.transmat_, truth.means_, truth.covars_ = (
        hmmcore.simulated_regime_params()
    )
    return {f"asset_{i}": truth.sample(n_steps, random_state=np.random.default_rng(100 + i))[0]
            for i in range(n_assets)}


def fit_one(X):
    return hmmcore.GaussianHMM(n_components=2, covariance_type="full", n_iter=30, tol=1e-4,
                               random_state=0).fit(X)


def test_fitted_model_pickles_with_identical_predictions():
    X = assets(1)["asset_0"]
    model = fit_one(X)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.get_params() == model.get_params()
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(copy.filter_proba(X), model.filter_proba(X))
    assert copy.score(X) == model.score(X)
    assert list(copy.monitor_.history) == list(model.monitor_.history)


def test_joblib_parallel_fit_equals_serial_fit():
    data = assets(3)
    serial = {name: fit_one(X) for name, X in data.items()}
    parallel = dict(zip(data, Parallel(n_jobs=2)(delayed(fit_one)(X) for X in data.values())))
    for name, X in data.items():
        for attribute in ("startprob_", "transmat_", "means_", "covars_"):
            np.testing.assert_array_equal(getattr(parallel[name], attribute),
                                          getattr(serial[name], attribute), err_msg=name)
        np.testing.assert_array_equal(parallel[name].predict(X), serial[name].predict(X))
