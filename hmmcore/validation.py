"""Input checks shared by every public function.

Each check returns a clean float64 array or raises ``ValueError`` (``TypeError`` for a
non-numeric input) whose message names the argument and says what was expected, so that a
mistake is reported where it was made rather than as a NaN or a ``LinAlgError`` further on.
"""

from __future__ import annotations

import numpy as np

#: Largest allowed deviation of a probability vector's sum from 1.
PROBABILITY_SUM_TOLERANCE = 1e-8


def as_float_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array, or a ``TypeError`` naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be an array of numbers; {error}") from None
    return array


def check_finite(array: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` contains NaN or infinite values; every entry must be finite.")


def check_observations(X, name: str = "X") -> np.ndarray:
    """A (T, D) matrix of finite observations with T >= 1 and D >= 1."""
    X = as_float_array(X, name)
    if X.ndim != 2:
        hint = " Reshape a single feature with X.reshape(-1, 1)." if X.ndim == 1 else ""
        raise ValueError(f"`{name}` must be 2-D with shape (n_samples, n_features); got shape {X.shape}.{hint}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"`{name}` must have at least one sample and one feature; got shape {X.shape}.")
    check_finite(X, name)
    return X


def check_lengths(lengths, n_samples: int) -> list[int]:
    """Sequence lengths: positive integers summing to ``n_samples``; ``None`` means one sequence."""
    if lengths is None:
        return [n_samples]
    raw = np.asarray(lengths)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"`lengths` must be a non-empty 1-D list of sequence lengths; got shape {raw.shape}.")
    if not np.issubdtype(raw.dtype, np.integer):
        if not (np.issubdtype(raw.dtype, np.floating) and np.all(raw == np.round(raw))):
            raise ValueError(f"`lengths` must contain whole numbers; got {raw.tolist()}.")
    values = [int(v) for v in raw]
    if min(values) < 1:
        raise ValueError(f"`lengths` must be positive; got {values}.")
    if sum(values) != n_samples:
        raise ValueError(f"`lengths` must sum to len(X) = {n_samples}; they sum to {sum(values)}.")
    return values


def check_startprob(startprob, n_components: int | None = None, name: str = "startprob") -> np.ndarray:
    """A probability vector of length K (optionally batched along leading axes)."""
    startprob = as_float_array(startprob, name)
    if startprob.ndim < 1:
        raise ValueError(f"`{name}` must be a vector of K probabilities; got a scalar.")
    if n_components is not None and startprob.shape[-1] != n_components:
        raise ValueError(f"`{name}` must have {n_components} entries; got shape {startprob.shape}.")
    _check_probability_rows(startprob, name)
    return startprob


def check_transmat(transmat, n_components: int | None = None, name: str = "transmat") -> np.ndarray:
    """A K x K row-stochastic matrix (optionally batched along leading axes)."""
    transmat = as_float_array(transmat, name)
    if transmat.ndim < 2 or transmat.shape[-1] != transmat.shape[-2]:
        raise ValueError(f"`{name}` must be a square K x K matrix; got shape {transmat.shape}.")
    if n_components is not None and transmat.shape[-1] != n_components:
        raise ValueError(f"`{name}` must be {n_components} x {n_components}; got shape {transmat.shape}.")
    _check_probability_rows(transmat, name)
    return transmat


def _check_probability_rows(array: np.ndarray, name: str) -> None:
    check_finite(array, name)
    if np.any(array < 0):
        raise ValueError(f"`{name}` has negative entries; probabilities must be >= 0.")
    sums = array.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE):
        what = "each row of " if array.ndim > 1 else ""
        raise ValueError(f"{what}`{name}` must sum to 1; got sums {np.round(sums, 10).tolist()}.")


def check_log_likelihoods(log_b, n_components: int | None = None, name: str = "log_b") -> np.ndarray:
    """A (..., T, K) matrix of emission log-likelihoods; -inf is allowed, NaN and +inf are not."""
    log_b = as_float_array(log_b, name)
    if log_b.ndim < 2 or log_b.shape[-2] < 1:
        raise ValueError(f"`{name}` must have shape (T, K) with T >= 1; got shape {log_b.shape}.")
    if n_components is not None and log_b.shape[-1] != n_components:
        raise ValueError(f"`{name}` must have {n_components} columns (one per state); got shape {log_b.shape}.")
    if np.any(np.isnan(log_b)) or np.any(log_b == np.inf):
        raise ValueError(f"`{name}` contains NaN or +inf; log-likelihoods must be finite or -inf.")
    return log_b


def check_hmm_sequence(startprob, transmat, log_b):
    """One parameter set and one sequence: ``startprob`` (K,) (or None when not needed),
    ``transmat`` (K, K), ``log_b`` (T, K)."""
    log_b = check_log_likelihoods(log_b)
    if log_b.ndim != 2:
        raise ValueError(f"`log_b` must have shape (T, K); got shape {log_b.shape}.")
    transmat = check_transmat(transmat, log_b.shape[1])
    if transmat.ndim != 2:
        raise ValueError(f"`transmat` must be one K x K matrix; got shape {transmat.shape}.")
    if startprob is not None:
        startprob = check_startprob(startprob, log_b.shape[1])
        if startprob.ndim != 1:
            raise ValueError(f"`startprob` must be one vector of K probabilities; got shape {startprob.shape}.")
    return startprob, transmat, log_b


def check_posteriors(gamma, n_steps: int, name: str = "gamma") -> np.ndarray:
    """A (T, K) matrix of state probabilities, one row per observation."""
    gamma = as_float_array(gamma, name)
    if gamma.ndim != 2 or gamma.shape[0] != n_steps:
        raise ValueError(f"`{name}` must have shape ({n_steps}, K), one row per observation; got shape {gamma.shape}.")
    check_finite(gamma, name)
    if np.any(gamma < 0):
        raise ValueError(f"`{name}` has negative entries; posterior probabilities must be >= 0.")
    return gamma


def check_means(means, n_components: int | None = None, n_features: int | None = None, name: str = "means") -> np.ndarray:
    means = as_float_array(means, name)
    if means.ndim != 2:
        raise ValueError(f"`{name}` must have shape (K, D); got shape {means.shape}.")
    expected = (n_components, n_features)
    for axis, size in zip((-2, -1), expected):
        if size is not None and means.shape[axis] != size:
            raise ValueError(f"`{name}` must have shape ({n_components}, {n_features}); got shape {means.shape}.")
    check_finite(means, name)
    return means


def check_covars(covars, n_components: int | None = None, n_features: int | None = None, name: str = "covars") -> np.ndarray:
    """Full covariance matrices (..., K, D, D), each symmetric positive definite."""
    covars = as_float_array(covars, name)
    if covars.ndim != 3 or covars.shape[-1] != covars.shape[-2]:
        raise ValueError(f"`{name}` must have shape (K, D, D) (full covariance matrices); got shape {covars.shape}.")
    if n_components is not None and covars.shape[-3] != n_components:
        raise ValueError(f"`{name}` must hold {n_components} matrices; got shape {covars.shape}.")
    if n_features is not None and covars.shape[-1] != n_features:
        raise ValueError(f"`{name}` must hold {n_features} x {n_features} matrices; got shape {covars.shape}.")
    check_finite(covars, name)
    asymmetry = np.abs(covars - np.swapaxes(covars, -1, -2))
    scale = np.maximum(np.abs(covars), np.abs(np.swapaxes(covars, -1, -2)))
    if np.any(asymmetry > 1e-10 * scale + 1e-300):
        raise ValueError(f"`{name}` must be symmetric; some matrix differs from its transpose.")
    eigenvalues = np.linalg.eigvalsh(covars)
    if np.any(eigenvalues <= 0):
        state = int(np.argwhere(eigenvalues <= 0)[0, 0])
        raise ValueError(
            f"`{name}` must be positive definite; `{name}[{state}]` has eigenvalue "
            f"{eigenvalues[state].min():.3g}. Regularise with a positive `reg_covar`."
        )
    return covars


def check_positive_int(value, name: str) -> int:
    """A whole number >= 1 (``bool`` is not accepted as a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_nonnegative(value, name: str) -> float:
    """A finite number >= 0."""
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    return float(value)


def check_n_components(n_components) -> int:
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise TypeError(f"`n_components` must be an integer; got {n_components!r}.")
    if n_components < 1:
        raise ValueError(f"`n_components` must be at least 1; got {n_components}.")
    return int(n_components)
