"""The real data loader and the features of the lesson."""

import numpy as np

import hmmcore


def test_sp500_loads_offline_from_arch():
    ohlcv = hmmcore.load_sp500()
    assert {"Open", "High", "Low", "Close", "Volume"} <= set(ohlcv.columns)
    assert str(ohlcv.index[0].date()) == "1999-01-04" and str(ohlcv.index[-1].date()) == "2018-12-31"
    assert len(ohlcv) == 5031


def test_market_features_follow_their_definitions():
    ohlcv = hmmcore.load_sp500()
    features = hmmcore.market_features(ohlcv)
    assert list(features.columns) == list(hmmcore.FEATURES)
    assert len(features) == len(ohlcv) - 1 and np.all(np.isfinite(features.to_numpy()))
    day = features.index[10]
    position = ohlcv.index.get_loc(day)
    today, yesterday = ohlcv.iloc[position], ohlcv.iloc[position - 1]
    np.testing.assert_allclose(features.loc[day, "return"], np.log(today["Close"] / yesterday["Close"]), rtol=1e-12)
    np.testing.assert_allclose(features.loc[day, "range"], (today["High"] - today["Low"]) / today["Close"], rtol=1e-12)
    np.testing.assert_allclose(features.loc[day, "volume_change"], np.log(today["Volume"] / yesterday["Volume"]), rtol=1e-12)
    # Daily returns over 1999-2018: a standard deviation of about 1.2 %.
    assert 0.009 < features["return"].std() < 0.015


def test_simulator_is_reproducible_and_follows_the_lesson():
    first = hmmcore.simulate_regimes(5000, 11)
    second = hmmcore.simulate_regimes(5000, 11)
    np.testing.assert_array_equal(first.X, second.X)
    for k, (mean, std) in enumerate(hmmcore.LESSON_REGIMES.values()):
        returns = first.X[first.states == k, 0]
        assert abs(returns.std() - std) < 0.1 * std
        assert abs(returns.mean() - mean) < 4 * std / np.sqrt(len(returns))
