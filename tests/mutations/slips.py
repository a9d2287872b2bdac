"""The deliberate slips of ``make mutations``: one wrong version of each boxed equation's
implementation (issue: "a book that fails when an equation is wrong").

Each slip replaces one piece of text inside one function of ``hmmcore`` (the text must occur
exactly once in that function, or the slip no longer applies and the run stops).
"""

from typing import NamedTuple


class Slip(NamedTuple):
    name: str
    equation: str
    what: str
    module: str
    function: str
    old: str
    new: str


SLIPS = [
    Slip("forward-A-transposed", "alpha recursion (chapter 4)", "A transposed in the forward loop",
         "inference", "_forward_loop",
         "total += alpha_hat[t - 1, i] * transmat[i, j]", "total += alpha_hat[t - 1, i] * transmat[j, i]"),
    Slip("backward-A-transposed", "beta recursion (chapter 4)", "A transposed in the backward loop",
         "inference", "_backward_loop",
         "total += transmat[i, j] * weighted[j]", "total += transmat[j, i] * weighted[j]"),
    Slip("loglik-without-shift", "log-likelihood (derivation's 16)", "log c_t without the step's shift m_t",
         "inference", "_forward",
         "log_scale = np.log(scale) + shift", "log_scale = np.log(scale)"),
    Slip("gamma-is-filtered", "gamma (derivation's 17)", "gamma_t taken as alpha_hat_t (no beta)",
         "inference", "_posterior_loop",
         "gamma[t, i] = alpha_hat[t, i] * beta_hat[t, i]", "gamma[t, i] = alpha_hat[t, i]"),
    Slip("xi-emission-at-t", "xi (derivation's 21)", "xi's emission factor b_j(O_t) instead of b_j(O_{t+1})",
         "inference", "_posterior_loop",
         "weighted[j] = density[t + 1, j] * inverse_scale", "weighted[j] = density[t, j] * inverse_scale"),
    Slip("density-without-log-det", "Gaussian log-density (derivation's 29)", "log b_k without -1/2 log|Sigma_k|",
         "emissions", "_log_density_loop",
         "log_normaliser = -0.5 * n_features * math.log(2.0 * math.pi) - log_det_half",
         "log_normaliser = -0.5 * n_features * math.log(2.0 * math.pi)"),
    Slip("startprob-from-last-step", "pi update (derivation's 28)", "pi-hat from gamma_T instead of gamma_1",
         "mstep", "update_startprob",
         "starts = [start for start, _ in sequence_bounds(lengths)]",
         "starts = [end - 1 for _, end in sequence_bounds(lengths)]"),
    Slip("transmat-denominator-all-T", "A update (derivation's 27)",
         "the transition denominator summed over all T (the source's slip)",
         "em", "m_step",
         "transmat = update_transmat(stats.xi_sum, transmat, priors.transmat_prior, validate=False)",
         "transmat = stats.xi_sum / gamma.sum(axis=0)[:, None]"),
    Slip("means-damped", "mean update (derivation's 35)", "a mean update that damps (0.9 times the update)",
         "mstep", "update_means",
         "updated = (means_weight", "updated = 0.9 * (means_weight"),
    Slip("covariance-n-minus-1", "covariance update (derivation's 41)", "Sigma divided by N_k - 1",
         "mstep", "_covars_full",
         "0.0) + occupancies", "0.0) + occupancies - 1.0"),
    Slip("covariance-about-old-mean", "covariance update (derivation's 41)",
         "the scatter about the old mean mu, not the new mu-hat",
         "em", "m_step",
         "X, gamma, means, covars, options.reg_covar,", "X, gamma, params.means, covars, options.reg_covar,"),
    Slip("viterbi-without-back-pointers", "Viterbi (chapter 7)", "the path read without back-pointers",
         "viterbi", "_viterbi_loop",
         "path[t - 1] = back_pointers[t, path[t]]", "path[t - 1] = path[t]"),
    Slip("spherical-sum", "spherical covariances", "c_k the sum of the variances, not their mean",
         "mstep", "_covars_spherical",
         "variances.mean(axis=1)", "variances.sum(axis=1)"),
    Slip("tied-not-pooled", "tied covariances", "the tied matrix from the mean of the scatters (not pooled)",
         "mstep", "_covars_tied",
         "numerator.sum(axis=0)", "numerator.mean(axis=0)"),
    Slip("dirichlet-without-minus-one", "Dirichlet MAP (chapter 11)", "counts + alpha instead of counts + alpha - 1",
         "mstep", "_dirichlet_map",
         "prior - 1.0 + counts", "prior + counts"),
    Slip("covariance-prior-unclipped", "covariance MAP (chapter 11)", "nu - D instead of max(nu - D, 0)",
         "mstep", "_covars_full",
         "np.maximum(np.asarray(covars_weight, dtype=np.float64) - numerator.shape[-1], 0.0)",
         "(np.asarray(covars_weight, dtype=np.float64) - numerator.shape[-1])"),
    # chapter 12: the fitted model's information, standard errors and pseudo-residuals
    Slip("missing-without-cross-terms", "missing information (chapter 12)",
         "the missing information without the cross terms tau s^T",
         "information", "_missing_information_loop",
         "half[p] = weight * (tau_previous[i, p] + 0.5 * terms[i, j, p])", "half[p] = weight * (0.5 * terms[i, j, p])"),
    Slip("backward-kernel-without-A", "forward pass over the scores (chapter 12)",
         "the backward kernel without A_ij", "information", "_missing_information_loop",
         "kernel = alpha_hat[t - 1, i] * transmat[i, j] / predicted", "kernel = alpha_hat[t - 1, i]"),
    Slip("prefix-score-smoothed", "per-observation scores (chapter 12)",
         "prefix scores weighted by gamma (smoothed) instead of alpha-hat (filtered)",
         "information", "_missing_information_loop",
         "total += alpha_hat[t, j] * tau[j, p]", "total += gamma[t, j] * tau[j, p]"),
    Slip("fisher-score-xi-transposed", "Fisher's identity with gamma and xi (chapter 12)",
         "the transition counts transposed in the score", "information", "_fisher_score",
         'np.einsum("ij,ijp->p", xi_sum, terms.transition_gradient)',
         'np.einsum("ji,ijp->p", xi_sum, terms.transition_gradient)'),
    Slip("complete-A-without-outer", "complete information (chapter 12)",
         "the rows of A's complete information without -a a^T", "information", "observed_information",
         "(np.diag(row) - np.outer(row, row))", "np.diag(row)"),
    Slip("gaussian-gradient-transposed", "Gaussian gradient (chapter 12)",
         "d log b / d L_ab as w_b z_a instead of w_a z_b", "information", "_emission_derivatives_loop",
         "g_chol[p] = w[a] * z[b] -", "g_chol[p] = w[b] * z[a] -"),
    Slip("gaussian-hessian-sign", "Gaussian Hessian (chapter 12)",
         "the mu-L block of the Hessian with +w_a M_bc", "information", "_emission_derivatives_loop",
         "hessian[c, n_features + p] = -S[c, a] * z[b] - w[a] * M[b, c]",
         "hessian[c, n_features + p] = -S[c, a] * z[b] + w[a] * M[b, c]"),
    Slip("stationary-system-transposed", "stationary distribution (chapter 12)",
         "the right null vector of I - A + 1 1^T instead of the left", "chain", "stationary_distribution",
         "np.linalg.solve(system.T, np.ones(n_states))", "np.linalg.solve(system, np.ones(n_states))"),
    Slip("fundamental-matrix-transposed", "derivatives of the stationary distribution (chapter 12)",
         "the fundamental matrix with pi 1^T instead of 1 pi^T", "coordinates", "stationary_derivatives",
         "np.eye(K) - transmat + np.outer(np.ones(K), pi)", "np.eye(K) - transmat + np.outer(pi, np.ones(K))"),
    Slip("delta-method-without-log-factor", "delta method (chapter 12)",
         "d Sigma / d l without the factor L_cc of the log diagonal", "coordinates", "natural_parameters",
         "d_phi[D + e] = value * (L[c, c] if c == d else 1.0)", "d_phi[D + e] = value"),
    Slip("sandwich-is-opg", "sandwich covariance (chapter 12)",
         "the inverse outer product of the scores instead of the sandwich", "uncertainty", "standard_errors",
         "inverse = inverse @ (scores.T @ scores) @ inverse", "inverse = np.linalg.inv(scores.T @ scores)"),
    Slip("predictive-looks-ahead", "one-step-ahead state probabilities (chapter 12)",
         "p_t taken as alpha_hat_t (it has seen O_t)", "residuals", "predicted_probabilities",
         "predicted[begin + 1:end] = alpha_hat[begin:end - 1] @ params.transmat",
         "predicted[begin + 1:end] = alpha_hat[begin + 1:end]"),
    Slip("rosenblatt-ignores-earlier-features", "Rosenblatt's transform (chapter 12)",
         "the state weights of feature d ignore the features before it", "residuals", "pseudo_residuals",
         "earlier = np.cumsum(log_conditional, axis=2) - log_conditional", "earlier = 0.0 * log_conditional"),
    Slip("bhattacharyya-quarter", "Bhattacharyya distance (chapter 12)",
         "the Mahalanobis term divided by 4 instead of 8", "labels", "bhattacharyya_distance",
         "z @ z / 8.0", "z @ z / 4.0"),
    # chapter 14, missing values
    Slip("gaps-no-covariance-correction", "covariance update with missing values (chapter 14)",
         "the conditional covariances of the missing coordinates left out of the expected scatter",
         "mstep", "_expected_scatter",
         "return scatter + correction", "return scatter"),
    Slip("gaps-density-full-covariance", "density of the observed coordinates (chapter 14)",
         "the observed coordinates' density normalised with the full covariance (D and |Sigma_k|) "
         "instead of the observed block (n_o and |Sigma_k,oo|)",
         "emissions", "_observed_normalisers",
         "log_normaliser[p] = -0.5 * n_observed[p] * math.log(2.0 * math.pi) - log_det_half",
         "log_det_full = 0.0\n"
         "        for d in range(factors.shape[2]):\n"
         "            log_det_full += math.log(factors[p, k, d, d])\n"
         "        log_normaliser[p] = -0.5 * factors.shape[2] * math.log(2.0 * math.pi) - log_det_full"),
    Slip("gaps-conditional-mean-without-regression", "conditional mean (chapter 14)",
         "a missing coordinate completed by the state's mean, without the regression on the "
         "observed ones", "emissions", "_conditional_mean_loop",
         "value += factors[p, k, d, e] * z[e]", "value += 0.0 * z[e]"),
    Slip("gaps-conditional-covariance-unconditioned", "conditional covariance (chapter 14)",
         "Sigma_mm instead of Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om",
         "emissions", "_conditional_covariances",
         "block = factors[p, :, n_observed:, n_observed:]", "block = factors[p, :, n_observed:, :]"),
]
