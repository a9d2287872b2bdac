"""Speed and scale of hmmcore against hmmlearn 0.3.3, measured in one process run.

Run from the repository root with ``make bench`` (or ``.venv/bin/python benchmarks/run.py``).
Prints three markdown tables; ``--write`` also replaces the results section of
``benchmarks/README.md``. These are measurements, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from hmmlearn import hmm
from threadpoolctl import threadpool_info, threadpool_limits

import hmmcore
from hmmcore import second_process

logging.getLogger("hmmlearn").setLevel(logging.ERROR)
README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
N_STEPS, N_STATES = 17_520, 3  # the source system: two years of hourly bars, three regimes


def median_seconds(function, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hmmlearn_model(params: hmmcore.HMMParams, n_iter: int, tol: float = -np.inf) -> hmm.GaussianHMM:
    """hmmlearn at the given parameters, priors neutral (plain maximum likelihood); by default it
    never stops early. (Its convergence monitor is built in the constructor: pass ``tol`` here.)"""
    model = hmm.GaussianHMM(
        N_STATES, "full", n_iter=n_iter, tol=tol, init_params="", params="stmc",
        covars_prior=0.0, covars_weight=1.0, means_prior=0.0, means_weight=0.0,
        startprob_prior=1.0, transmat_prior=1.0,
    )
    model.startprob_, model.transmat_, model.means_, model.covars_ = params
    return model


def per_iteration(X, params, repeats: int) -> list[str]:
    n_iter = 10

    def ours():
        hmmcore.fit_em(X, params, n_iter=n_iter, tol=0.0)

    def theirs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hmmlearn_model(params, n_iter).fit(X)

    ours_ms = median_seconds(ours, repeats) / n_iter * 1e3
    theirs_ms = median_seconds(theirs, repeats) / n_iter * 1e3
    log_b = hmmcore.gaussian_log_density(X, params.means, params.covars)
    difference = abs(hmmcore.log_likelihood(params.startprob, params.transmat, log_b) - hmmlearn_model(params, 1).score(X))
    return [
        f"| hmmlearn 0.3.3 | {theirs_ms:.2f} | 1.00 |",
        f"| hmmcore | {ours_ms:.2f} | {ours_ms / theirs_ms:.2f} |",
        "",
        f"log-likelihood at identical parameters: |hmmcore - hmmlearn| = {difference:.1e} "
        f"(log-likelihood {hmmcore.log_likelihood(params.startprob, params.transmat, log_b):.3f})",
    ]


def restarts(X, repeats: int) -> list[str]:
    """Ten restarts in one batch against one hmmlearn fit, in two settings.

    Forced: every restart runs exactly 100 EM iterations (``em_step`` on the stacked parameters,
    so none stops early) against hmmlearn's 100. Converging: the source system's settings,
    ``tol = 1e-4`` and at most 100 iterations, for our ten restarts and for hmmlearn's one fit.
    Each also with hmmcore's second process switched off.
    """
    rng = np.random.default_rng(0)
    starts = [hmmcore.initial_params(X, N_STATES, rng) for _ in range(10)]
    stacked = hmmcore.HMMParams(*(np.stack(values) for values in zip(*starts)))
    counts = {}

    def ours_forced():
        params = stacked
        for _ in range(100):
            params, _ = hmmcore.em_step(X, params)

    def ours_converging():
        counts["ours"] = int(hmmcore.fit_em(X, stacked, n_iter=100, tol=1e-4).n_iter.sum())

    def in_one_process(function):
        """``function`` with the second process switched off: the machine of a one-core user."""
        def run():
            threshold = second_process.MIN_WORK
            second_process.MIN_WORK = float("inf")
            try:
                function()
            finally:
                second_process.MIN_WORK = threshold
        return run

    def theirs(tol):
        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                counts[tol] = len(hmmlearn_model(starts[0], 100, tol).fit(X).monitor_.history)
        return fit

    rows = []
    for label, ours, tol, our_count in (
        ("forced: 100 iterations each", ours_forced, -np.inf, lambda: 1000),
        ("converging: tol = 1e-4, at most 100", ours_converging, 1e-4, lambda: counts["ours"]),
        ("forced, in one process", in_one_process(ours_forced), -np.inf, lambda: 1000),
        ("converging, in one process", in_one_process(ours_converging), 1e-4, lambda: counts["ours"]),
    ):
        ours_s = median_seconds(ours, repeats)
        theirs_s = median_seconds(theirs(tol), repeats)
        rows.append(
            f"| {label} | {counts[tol]} | {theirs_s:.2f} | {our_count()} | {ours_s:.2f} | {ours_s / theirs_s:.2f} |"
        )
    return rows


def scaling(repeats: int) -> list[str]:
    params = hmmcore.simulated_regime_params()
    rows, sizes, seconds = [], [], []
    for n_steps in (1_000, 10_000, 100_000, 1_000_000):
        X = hmmcore.simulate_regimes(n_steps, np.random.default_rng(n_steps)).X
        log_b = hmmcore.gaussian_log_density(X, params[2], params[3])
        elapsed = median_seconds(lambda: hmmcore.e_step(params[0], params[1], log_b), repeats if n_steps < 1_000_000 else 3)
        tracemalloc.start()
        hmmcore.e_step(params[0], params[1], log_b)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        sizes.append(n_steps)
        seconds.append(elapsed)
        rows.append(f"| {n_steps:,} | {elapsed * 1e3:.1f} | {elapsed / n_steps * 1e9:.0f} | {peak / 2**20:.0f} |")
    slope = np.polyfit(np.log(sizes[1:]), np.log(seconds[1:]), 1)[0]
    rows += ["", f"slope of log(time) against log(T) for T >= 10^4: {slope:.2f} (1 = linear)"]
    return rows


def machine() -> str:
    blas = ", ".join(sorted({f"{info['internal_api']} {info.get('architecture', '')}".strip() for info in threadpool_info()}))
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, BLAS: {blas}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per measurement (median)")
    parser.add_argument("--write", action="store_true", help="also write the tables into benchmarks/README.md")
    args = parser.parse_args()

    X = hmmcore.simulate_regimes(N_STEPS, np.random.default_rng(2024)).X
    params = hmmcore.initial_params(X, N_STATES, np.random.default_rng(1))
    with threadpool_limits(limits=1):  # hmmlearn's C++ runs on one core; so do we
        lines = [
            f"Machine: {machine()}; BLAS limited to one thread (hmmlearn's C++ uses one core). "
            "hmmcore computes half of a large batch of restarts in a second process (hmmcore/second_process.py).",
            "",
            f"**Per EM iteration** (T = {N_STEPS:,}, D = 3, K = {N_STATES}, full covariance; median of {args.repeats} fits of 10 iterations)",
            "",
            "| implementation | ms per iteration | ratio to hmmlearn |",
            "|---|---|---|",
            *per_iteration(X, params, args.repeats),
            "",
            "**Restarts**: 10 random initialisations advanced together by hmmcore against one hmmlearn fit",
            "",
            "| setting | hmmlearn iterations | hmmlearn seconds | hmmcore iterations (10 restarts) | hmmcore seconds | ratio |",
            "|---|---|---|---|---|---|",
            *restarts(X, max(1, args.repeats // 3)),
            "",
            "**Scaling of the E-step** (`hmmcore.e_step`, K = 3; peak memory traced by tracemalloc, inputs excluded)",
            "",
            "| T | milliseconds | ns per step | peak MiB |",
            "|---|---|---|---|",
            *scaling(args.repeats),
        ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        readme = README.read_text()
        head, rest = readme.split(BEGIN)
        _, tail = rest.split(END)
        README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
