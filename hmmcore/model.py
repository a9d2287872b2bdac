"""``GaussianHMM``: a thin estimator over the book's functions, with hmmlearn's names.

A user of hmmlearn can switch by changing the import: the constructor stores
hyper-parameters, ``fit`` returns ``self``, and the learned parameters are ``startprob_``,
``transmat_``, ``means_`` and ``covars_`` (always full (K, D, D) matrices, as hmmlearn
returns them). They are settable, so a model can be evaluated at given parameters; a diagonal
model also accepts ``covars_`` as (K, D) variances, as hmmlearn's setter does.
"""

from __future__ import annotations

import numpy as np

from .em import HMMParams, check_params, fit_em, initial_params, sequence_bounds
from .emissions import gaussian_log_density
from .inference import e_step, forward
from .mstep import check_covariance_type, regularize_covars
from .validation import check_lengths, check_n_components, check_nonnegative, check_observations, check_positive_int
from .viterbi import viterbi


class GaussianHMM:
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch EM.

    Parameters
    ----------
    n_components : number of hidden states K.
    covariance_type : ``"full"`` or ``"diag"``.
    n_iter, tol : at most ``n_iter`` EM iterations; stop when the log-likelihood gains < ``tol``.
    n_init : number of random initialisations; the one with the best final score is kept.
        They run through EM together (batched), with results identical to separate runs.
    random_state : seed (or ``numpy.random.Generator``) for the initialisations and ``sample``.
    reg_covar : added to every covariance *inside* each M-step (``Sigma_k + reg_covar * I``).
    posthoc_reg_covar : added once to every covariance after EM, before scoring the restart, as
        the source system's ``_regularize_covariance`` does.
    """

    def __init__(
        self,
        n_components: int = 1,
        covariance_type: str = "full",
        n_iter: int = 100,
        tol: float = 1e-4,
        n_init: int = 1,
        random_state=None,
        reg_covar: float = 0.0,
        posthoc_reg_covar: float = 0.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.reg_covar = reg_covar
        self.posthoc_reg_covar = posthoc_reg_covar

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, lengths=None) -> "GaussianHMM":
        """Fit by EM from ``n_init`` random starts and keep the best; returns ``self``."""
        X = check_observations(X)
        lengths = check_lengths(lengths, X.shape[0])
        n_components = check_n_components(self.n_components)
        check_covariance_type(self.covariance_type)
        check_positive_int(self.n_init, "n_init")
        check_nonnegative(self.posthoc_reg_covar, "posthoc_reg_covar")
        rng = np.random.default_rng(self.random_state)
        starts = [initial_params(X, n_components, rng, self.covariance_type) for _ in range(self.n_init)]
        stacked = HMMParams(*(np.stack(values) for values in zip(*starts)))
        result = fit_em(X, stacked, lengths, self.n_iter, self.tol, self.covariance_type, self.reg_covar)
        fitted = result.params._replace(covars=regularize_covars(result.params.covars, self.posthoc_reg_covar))
        scores = np.array([self._log_likelihood(X, lengths, HMMParams(*(v[r] for v in fitted)))
                           for r in range(self.n_init)])
        best = int(np.argmax(scores))
        self.startprob_, self.transmat_, self.means_, self.covars_ = (value[best] for value in fitted)
        self.restart_scores_ = scores
        self.log_likelihood_history_ = list(result.log_likelihoods[best])
        self.converged_ = bool(result.converged[best])
        self.n_iter_ = int(result.n_iter[best])
        self.n_features_ = X.shape[1]
        return self

    # -- parameters --------------------------------------------------------------------------
    def _params(self, n_features: int) -> HMMParams:
        missing = [name for name in ("startprob_", "transmat_", "means_", "covars_") if not hasattr(self, name)]
        if missing:
            raise ValueError(f"this GaussianHMM has no {', '.join(missing)}: call `fit` or set them first.")
        covars = np.asarray(self.covars_, dtype=np.float64)
        if self.covariance_type == "diag" and covars.ndim == 2:
            covars = covars[..., None] * np.eye(covars.shape[-1])  # hmmlearn's (K, D) variances
        params = check_params(HMMParams(self.startprob_, self.transmat_, self.means_, covars), n_features)
        if params.means.ndim != 2:
            raise ValueError(f"`means_` must have shape (K, D); got shape {params.means.shape}.")
        if params.means.shape[0] != self.n_components:
            raise ValueError(f"the parameters have {params.means.shape[0]} states but `n_components` = {self.n_components}.")
        return params

    def _prepare(self, X, lengths):
        X = check_observations(X)
        return X, check_lengths(lengths, X.shape[0]), self._params(X.shape[1])

    @staticmethod
    def _log_likelihood(X, lengths, params: HMMParams) -> float:
        """log P(X | lambda), summed over sequences."""
        log_b = gaussian_log_density(X, params.means, params.covars, validate=False)
        return float(sum(
            forward(params.startprob, params.transmat, log_b[start:end], validate=False).log_likelihood
            for start, end in sequence_bounds(lengths)
        ))

    def _posteriors_by_sequence(self, X, lengths):
        X, lengths, params = self._prepare(X, lengths)
        log_b = gaussian_log_density(X, params.means, params.covars, validate=False)
        for start, end in sequence_bounds(lengths):
            yield e_step(params.startprob, params.transmat, log_b[start:end], validate=False)

    # -- evaluation --------------------------------------------------------------------------
    def score(self, X, lengths=None) -> float:
        """log P(X | lambda), summed over sequences."""
        X, lengths, params = self._prepare(X, lengths)
        return self._log_likelihood(X, lengths, params)

    def score_samples(self, X, lengths=None):
        """``(log P(X | lambda), gamma)``, as hmmlearn's ``score_samples``."""
        parts = list(self._posteriors_by_sequence(X, lengths))
        return float(sum(part.log_likelihood for part in parts)), np.concatenate([part.gamma for part in parts])

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Smoothed posteriors gamma_t(i) = P(q_t = i | all of X), Eq. (17). Uses the future."""
        return self.score_samples(X, lengths)[1]

    def filter_proba(self, X, lengths=None) -> np.ndarray:
        """Filtered probabilities P(q_t = i | X_1..X_t): what is known on day t, no look-ahead."""
        X, lengths, params = self._prepare(X, lengths)
        log_b = gaussian_log_density(X, params.means, params.covars, validate=False)
        return np.concatenate([
            forward(params.startprob, params.transmat, log_b[start:end], validate=False).alpha_hat
            for start, end in sequence_bounds(lengths)
        ])

    def decode(self, X, lengths=None):
        """``(log P(X, Q* | lambda), Q*)`` for the Viterbi path Q*, as hmmlearn's ``decode``."""
        X, lengths, params = self._prepare(X, lengths)
        log_b = gaussian_log_density(X, params.means, params.covars, validate=False)
        paths = [viterbi(params.startprob, params.transmat, log_b[start:end], validate=False)
                 for start, end in sequence_bounds(lengths)]
        return float(sum(path.log_prob for path in paths)), np.concatenate([path.path for path in paths])

    def predict(self, X, lengths=None) -> np.ndarray:
        """The Viterbi path: the single most probable state sequence."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples: int = 1, random_state=None):
        """Draw ``(X, states)`` from the model: a (n_samples, D) array and the hidden path."""
        check_positive_int(n_samples, "n_samples")
        params = self._params(np.shape(self.means_)[-1])
        rng = np.random.default_rng(self.random_state if random_state is None else random_state)
        states = np.empty(n_samples, dtype=np.intp)
        states[0] = rng.choice(self.n_components, p=params.startprob)
        for t in range(1, n_samples):
            states[t] = rng.choice(self.n_components, p=params.transmat[states[t - 1]])
        factors = np.linalg.cholesky(params.covars)
        noise = rng.standard_normal((n_samples, params.means.shape[1]))
        X = params.means[states] + np.einsum("tij,tj->ti", factors[states], noise)
        return X, states

    # -- model selection ---------------------------------------------------------------------
    def n_parameters(self) -> int:
        """Free parameters: (K-1) start + K(K-1) transition + KD means + covariance entries."""
        n_states, n_features = self.n_components, self._params(np.shape(self.means_)[-1]).means.shape[1]
        per_covariance = n_features * (n_features + 1) // 2 if self.covariance_type == "full" else n_features
        return (n_states - 1) + n_states * (n_states - 1) + n_states * n_features + n_states * per_covariance

    def bic(self, X, lengths=None) -> float:
        """Bayesian information criterion, -2 log L + p log T (lower is better)."""
        return -2.0 * self.score(X, lengths) + self.n_parameters() * np.log(len(X))

    def aic(self, X, lengths=None) -> float:
        """Akaike information criterion, -2 log L + 2 p (lower is better)."""
        return -2.0 * self.score(X, lengths) + 2.0 * self.n_parameters()
