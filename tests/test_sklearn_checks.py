"""scikit-learn's conventions for complex, empty and sparse input, run by scikit-learn's own
estimator checks. (``check_estimator`` as a whole cannot pass for an hmmlearn-style HMM:
``fit(X, lengths)`` takes scikit-learn's ``y`` as ``lengths``.) hmmcore's own messages stay for
every other bad input (tests/test_validation.py)."""

import pytest
from sklearn.utils import estimator_checks

import hmmcore

CHECKS = [
    "check_complex_data",
    "check_estimators_empty_data_messages",
    "check_estimator_sparse_tag",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
]


@pytest.mark.parametrize("name", CHECKS)
def test_scikit_learn_input_check(name):
    getattr(estimator_checks, name)("GaussianHMM", hmmcore.GaussianHMM(n_components=2))


def test_hmmlearn_passes_the_same_checks():
    """The oracle for the five checks: hmmlearn's estimator passes them too."""
    from hmmlearn import hmm

    for name in CHECKS:
        getattr(estimator_checks, name)("GaussianHMM", hmm.GaussianHMM(n_components=2))
