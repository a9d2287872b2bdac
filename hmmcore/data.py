"""Market data and regime simulators.

Real data: the S&P 500 daily OHLCV bars (1999-2018) that ship inside the ``arch`` package,
loaded from the installed package (no network). Features, as in the source lesson: the
close-to-close log return, the high-low range and the log change in volume.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .params import HMMParams
from .sampling import sample

#: The lesson's univariate return regimes: name -> (mean, standard deviation) of daily returns.
LESSON_REGIMES = {
    "Bull Run": (0.0005, 0.010),
    "Bear/Crash": (-0.0012, 0.022),
    "Chop": (0.0, 0.015),
}

FEATURES = ("return", "range", "volume_change")


def load_sp500():
    """Daily S&P 500 bars, 1999–2018, from the data that ship inside the ``arch`` package.

    Returns
    -------
    pandas.DataFrame
        Open, High, Low, Close, Adj Close, Volume, indexed by date.

    Raises
    ------
    ImportError
        If ``arch`` is not installed.

    Examples
    --------
    >>> bars = load_sp500()
    >>> list(bars.columns[:4]), str(bars.index[0].date())
    (['Open', 'High', 'Low', 'Close'], '1999-01-04')
    """
    try:
        from arch.data import sp500
    except ImportError as error:  # pragma: no cover - arch is a listed dependency
        raise ImportError("load_sp500 needs the `arch` package: pip install arch") from error
    return sp500.load()


def market_features(ohlcv):
    """The three features of the lesson, one row per bar after the first, as a DataFrame
    (``ohlcv`` is a DataFrame with High, Low, Close and Volume columns).

    * ``return``: log(Close_t / Close_{t-1});
    * ``range``: (High_t - Low_t) / Close_t, the bar's high-low range as a fraction of price;
    * ``volume_change``: log(Volume_t / Volume_{t-1}).

    Parameters
    ----------
    ohlcv : pandas.DataFrame
        With strictly positive High, Low, Close and Volume columns.

    Returns
    -------
    pandas.DataFrame
        The columns of ``FEATURES``, one row per bar after the first.

    Raises
    ------
    ValueError
        If a column is missing or not strictly positive.

    Examples
    --------
    >>> import pandas as pd
    >>> bars = pd.DataFrame({"High": [11.0, 12.0], "Low": [9.0, 10.0],
    ...                      "Close": [10.0, 11.0], "Volume": [100.0, 100.0]})
    >>> market_features(bars).round(4).values.tolist()   # log(11/10), 2/11, log(1)
    [[0.0953, 0.1818, 0.0]]
    """
    required = {"High", "Low", "Close", "Volume"}
    missing = required - set(ohlcv.columns)
    if missing:
        raise ValueError(f"`ohlcv` lacks the column(s) {sorted(missing)}; it needs {sorted(required)}.")
    prices = ohlcv[["High", "Low", "Close", "Volume"]].astype(float)
    if (prices <= 0).any().any():
        raise ValueError("`ohlcv` must have strictly positive High, Low, Close and Volume.")
    import pandas as pd  # imported here: the rest of hmmcore does not need pandas

    features = pd.DataFrame(
        {
            "return": np.log(prices["Close"]).diff(),
            "range": (prices["High"] - prices["Low"]) / prices["Close"],
            "volume_change": np.log(prices["Volume"]).diff(),
        },
        index=ohlcv.index,
    )
    return features.iloc[1:]


class RegimeSimulation(NamedTuple):
    X: np.ndarray
    """(n, 3) simulated features: return, range, volume change."""
    states: np.ndarray
    """(n,) hidden regime index into ``SIMULATED_REGIMES``."""


#: Three-feature regimes for simulation. Returns follow the lesson; the range and volume
#: figures are illustrative choices (wider ranges and bigger volume swings in a crash).
SIMULATED_REGIMES = {
    "Bull Run": {
        "mean": [0.0005, 0.010, 0.00],
        "std": [0.010, 0.003, 0.15],
        "corr": [[1.0, -0.2, 0.3], [-0.2, 1.0, 0.2], [0.3, 0.2, 1.0]],
    },
    "Bear/Crash": {
        "mean": [-0.0012, 0.025, 0.02],
        "std": [0.022, 0.008, 0.25],
        "corr": [[1.0, -0.5, -0.3], [-0.5, 1.0, 0.4], [-0.3, 0.4, 1.0]],
    },
    "Chop": {
        "mean": [0.0, 0.015, 0.00],
        "std": [0.015, 0.004, 0.20],
        "corr": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.2], [0.0, 0.2, 1.0]],
    },
}

#: Persistent regimes: expected durations 1 / (1 - A_ii) of 50, 20 and 33 days.
SIMULATED_TRANSMAT = np.array([
    [0.98, 0.005, 0.015],
    [0.02, 0.95, 0.03],
    [0.02, 0.01, 0.97],
])


def simulated_regime_params():
    """The parameters of the three simulated regimes (``SIMULATED_REGIMES``,
    ``SIMULATED_TRANSMAT``, a uniform start).

    Returns
    -------
    tuple
        ``(startprob, transmat, means, covars)`` with shapes (3,), (3, 3), (3, 3), (3, 3, 3).

    Examples
    --------
    >>> startprob, transmat, means, covars = simulated_regime_params()
    >>> (1 / (1 - np.diag(transmat))).round()   # expected durations in days
    array([50., 20., 33.])
    """
    means = np.array([regime["mean"] for regime in SIMULATED_REGIMES.values()], dtype=float)
    covars = np.array([
        np.outer(regime["std"], regime["std"]) * np.array(regime["corr"]) for regime in SIMULATED_REGIMES.values()
    ])
    startprob = np.full(len(SIMULATED_REGIMES), 1.0 / len(SIMULATED_REGIMES))
    return startprob, SIMULATED_TRANSMAT.copy(), means, covars


def simulate_regimes(n_samples: int, rng=None) -> RegimeSimulation:
    """Draw ``n_samples`` bars from the three-regime Gaussian HMM of ``SIMULATED_REGIMES``.

    Parameters
    ----------
    n_samples : int
    rng : None, int or numpy.random.Generator
        Seeds a numpy ``Generator`` (:func:`hmmcore.sample`).

    Returns
    -------
    RegimeSimulation
        ``X`` (n_samples, 3) and ``states`` (n_samples,).

    Examples
    --------
    >>> simulation = simulate_regimes(5, rng=0)
    >>> simulation.X.shape, bool(np.all(simulation.states < 3))
    ((5, 3), True)
    """
    params = HMMParams(*simulated_regime_params())
    X, states = sample(params, n_samples, np.random.default_rng(rng), validate=False)
    return RegimeSimulation(X, states)
