"""hmmcore.walk_forward (chapter 13): no look-ahead, the chain rule, aligned labels, restart
checks, collapses, and its input checks.

The no-look-ahead test runs the walk forward on the S&P 500 data and on a copy whose
observations after day t are replaced by others, and requires every refit fitted on days up
to t and every forecast made at an origin up to t (so of a day up to t + 1) to be the same
bit for bit, while something after t changed (so that the test can fail).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from problems import random_hmm, sample_hmm

import hmmcore
from hmmcore import EMOptions, HMMParams


@pytest.fixture(scope="module")
def sp500():
    features = hmmcore.market_features(hmmcore.load_sp500())
    return features.to_numpy(), features.index


def test_period_starts():
    days = pd.bdate_range("2023-12-27", "2024-04-02")
    starts = hmmcore.period_starts(days, "M")
    assert [str(days[i].date()) for i in starts] == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    quarters = hmmcore.period_starts(days, "Q", first="2024-02-01")
    assert [str(days[i].date()) for i in quarters] == ["2024-04-01"]
    with pytest.raises(ValueError, match="strictly increasing dates"):
        hmmcore.period_starts(days[::-1], "M")
    with pytest.raises(ValueError, match="`freq` must be a pandas period"):
        hmmcore.period_starts(days, "fortnight")


# -- no look-ahead --------------------------------------------------------------------------------
RUNS = {  # (columns of X, K, keyword arguments): the return alone, and the three features
    "K=2, return": ((0,), 2, dict(n_initial=2, check_every=2, n_fresh=2, n_iter_fresh=15)),
    "K=3, 3 features": ((0, 1, 2), 3, dict(n_initial=2, check_every=3, n_fresh=2, n_iter_fresh=15,
                                            options=EMOptions(reg_covar=1e-8))),
}


def run_all(X, refit_days):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hmmcore.LikelihoodDecreaseWarning)
        return {name: hmmcore.walk_forward(X[:, list(columns)], refit_days, K, seed=5, **kwargs)
                for name, (columns, K, kwargs) in RUNS.items()}


def perturbed_after(X, t, rng):
    """X with every observation after day t replaced by another plausible one."""
    changed = X.copy()
    later = slice(t + 1, None)
    changed[later, 0] = 1.5 * rng.permutation(X[later, 0])
    changed[later, 1] = rng.permutation(X[later, 1])
    changed[later, 2] = -X[later, 2]
    return changed


@pytest.fixture(scope="module")
def lookahead(sp500):
    X, dates = sp500
    n = 1250  # January 1999 to the end of 2003: twelve monthly refits in 2003
    X = X[:n]
    refit_days = hmmcore.period_starts(dates[:n], "M", first="2003-01-01")
    assert len(refit_days) == 12
    cuts = {"inside a block": int(refit_days[5]) + 9, "the last day before a refit": int(refit_days[9]) - 1}
    rng = np.random.default_rng(99)
    return refit_days, run_all(X, refit_days), {
        name: (t, run_all(perturbed_after(X, t, rng), refit_days)) for name, t in cuts.items()}


def forecasts_by_day(run):
    """Weights of the forecasts of every day, in day order, and the refit index of each."""
    weights = np.concatenate([mixture.weights for mixture in run.mixtures])
    used = np.concatenate([np.full(r.end - r.start, b) for b, r in enumerate(run.refits)])
    return weights, used


@pytest.mark.parametrize("cut", ["inside a block", "the last day before a refit"])
def test_no_lookahead(lookahead, cut):
    refit_days, base, perturbed = lookahead
    t, changed = perturbed[cut]
    first = int(refit_days[0])
    known = t + 2 - first  # forecasts of the days first .. t + 1 (made at origins up to t)
    for name in base:
        a, b = base[name], changed[name]
        fitted_by_t = [k for k, refit in enumerate(a.refits) if refit.start <= t + 1]
        for k in fitted_by_t:
            for field in ("params", "log_likelihood", "order", "fresh_log_likelihood", "matched_distance"):
                x, y = getattr(a.refits[k], field), getattr(b.refits[k], field)
                for u, v in zip(x if field == "params" else [x], y if field == "params" else [y]):
                    np.testing.assert_array_equal(u, v, err_msg=f"{name}, refit {k}, {field}")
        weights_a, used_a = forecasts_by_day(a)
        weights_b, used_b = forecasts_by_day(b)
        np.testing.assert_array_equal(weights_a[:known], weights_b[:known], err_msg=name)
        np.testing.assert_array_equal(used_a, used_b)
        # the test can fail: the perturbation reached the later refits and forecasts
        later = [k for k in range(len(a.refits)) if k not in fitted_by_t]
        assert any(not np.array_equal(a.refits[k].params.means, b.refits[k].params.means) for k in later)
        assert not np.array_equal(weights_a[known:], weights_b[known:])


def test_one_step_scores_are_the_forward_scale_factors(sp500):
    """The log density of day s's forecast at O_s is log c_s of a forward pass over the
    days up to s under the refit in force (the chain rule), for every out-of-sample day."""
    X, dates = sp500
    X = X[:1100, :1]
    refit_days = hmmcore.period_starts(dates[:1100], "M", first="2003-01-01")
    run = hmmcore.walk_forward(X, refit_days, 2, n_initial=2, check_every=2, n_fresh=1, n_iter_fresh=10)
    assert [r.start for r in run.refits] == list(refit_days)
    assert [r.end for r in run.refits] == list(refit_days[1:]) + [1100]
    for refit, mixture in zip(run.refits, run.mixtures):
        scores = hmmcore.mixture_log_density(mixture, X[refit.start : refit.end])
        log_b = hmmcore.gaussian_log_density(X[: refit.end], refit.params.means, refit.params.covars)
        log_scale = hmmcore.forward(refit.params.startprob, refit.params.transmat, log_b).log_scale
        np.testing.assert_allclose(scores, log_scale[refit.start :], rtol=1e-10, atol=1e-10)


# -- labels, restart checks ------------------------------------------------------------------------
def test_labels_follow_the_regimes_when_every_refit_starts_afresh():
    """Four well-separated regimes; the warm run is given no iteration and no margin, so
    a fresh start (whose labels come out in a random order) wins at every refit. Aligned,
    label k stays on the same true regime at every refit; raw, the labels would switch."""
    rng = np.random.default_rng(3)
    truth = HMMParams(np.full(4, 0.25), np.full((4, 4), 0.02) + 0.92 * np.eye(4),
                      np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0], [0.0, -6.0]]), np.tile(np.eye(2), (4, 1, 1)))
    X, _ = sample_hmm(rng, truth, 900)
    run = hmmcore.walk_forward(X, [300, 400, 500, 600, 700, 800], 4, n_iter=0, n_initial=8, check_every=1,
                               n_fresh=4, n_iter_fresh=100, beat_margin=0.0, seed=1)
    assert all(refit.fresh_won for refit in run.refits)
    truth_of_label = [np.argmin(np.linalg.norm(refit.params.means[:, None] - truth.means[None], axis=2), axis=1)
                      for refit in run.refits]
    assert sorted(truth_of_label[0]) == [0, 1, 2, 3]  # one state per regime
    for labels in truth_of_label:
        np.testing.assert_array_equal(labels, truth_of_label[0])
    relabelled = [not np.array_equal(refit.order, np.arange(4)) for refit in run.refits[1:]]
    assert any(relabelled)  # the alignment had work to do
    for refit in run.refits[1:]:
        np.testing.assert_array_equal(refit.fresh_order, refit.order)  # the kept run is the fresh one
        assert np.all(refit.matched_distance < 0.1)


def test_restart_checks_happen_on_schedule(rng):
    params = HMMParams(*random_hmm(rng, 2, 1))
    X, _ = sample_hmm(rng, params, 700)
    run = hmmcore.walk_forward(X, np.arange(100, 700, 50), 2, n_initial=2, check_every=4, n_fresh=2,
                               n_iter_fresh=10)
    checked = [b for b, refit in enumerate(run.refits) if not np.isnan(refit.fresh_log_likelihood)]
    assert checked == [0, 4, 8]
    assert all(refit.fresh_order is not None for refit in run.refits[4::4])
    assert all(refit.fresh_order is None for b, refit in enumerate(run.refits) if b % 4)
    assert run.refits[0].fresh_won and np.isnan(run.refits[0].warm_log_likelihood)
    for refit in run.refits:  # the kept run's log-likelihood, its score on the window
        np.testing.assert_allclose(refit.log_likelihood, hmmcore.score(X[: refit.start], refit.params), rtol=1e-12)
        kept = refit.fresh_log_likelihood if refit.fresh_won else refit.warm_log_likelihood
        assert refit.log_likelihood == kept
        if refit.fresh_won and not np.isnan(refit.warm_log_likelihood):
            assert refit.fresh_log_likelihood > refit.warm_log_likelihood + 1e-2


def test_a_refit_whose_runs_all_collapse_keeps_the_previous_parameters():
    """Days 100-399 repeat one value far from the others: without a floor, every run of the
    second refit (the warm one and both fresh starts) puts a state on them and its variance
    collapses; the refit keeps the first refit's parameters, with a warning."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 1)), np.full((300, 1), 50.0), rng.normal(size=(50, 1))])
    with pytest.warns(hmmcore.DegenerateStateWarning) as caught:
        run = hmmcore.walk_forward(X, [100, 400], 2, n_initial=3, check_every=1, n_fresh=2)
    assert any("refit 1 (on days 0..399): every run collapsed" in str(w.message) for w in caught)
    first, second = run.refits
    for a, b in zip(first.params, second.params):
        np.testing.assert_array_equal(a, b)
    assert second.n_collapsed == 3 and second.n_iter == 0
    with pytest.raises(ValueError, match="every one of the 2 runs of the first fit .* collapsed"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", hmmcore.DegenerateStateWarning)
            hmmcore.walk_forward(np.full((60, 1), 5.0) + np.r_[np.zeros(59), 1.0][:, None], [59], 2,
                                 n_initial=2)


# -- input checks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("refit_days, match", [
    ([50, 40], "strictly increasing"),
    ([1, 50], r"must lie in 2\.\.99"),
    ([50, 100], r"must lie in 2\.\.99"),
    ([], "non-empty 1-D list"),
    ([50.5], "integer day indices"),
])
def test_bad_refit_days(refit_days, match):
    with pytest.raises(ValueError, match=match):
        hmmcore.walk_forward(np.zeros((100, 1)), refit_days, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(check_every=-1), "`check_every` must be an integer >= 0"),
    (dict(seed=-3), "`seed` must be an integer >= 0"),
    (dict(n_fresh=0), "`n_fresh` must be a positive integer"),
    (dict(beat_margin=-0.1), "`beat_margin` must be a finite number >= 0"),
    (dict(options="full"), "`options` must be an hmmcore.EMOptions"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        hmmcore.walk_forward(np.zeros((100, 1)), [50], 2, **kwargs)


def test_missing_values_are_refused_by_name():
    X = np.zeros((100, 2))
    X[70, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 missing value.*`X\[70, 1\]`.*the walk forward"):
        hmmcore.walk_forward(X, [50], 2)
