"""Speed and scale of hmmcore against hmmlearn 0.3.3, measured in one process run.

Run from the repository root with ``make bench`` (or ``.venv/bin/python benchmarks/run.py``).
Prints markdown tables; ``--write`` also replaces the results section of
``benchmarks/README.md``; ``--only information`` and ``--only gaps`` measure only the table of
chapter 12 or of data with missing values (each with its own section of the README).
These are measurements, not tests: nothing here asserts a time. Every ratio is hmmcore's time
divided by hmmlearn's, both measured in this run, except in the table of data with missing
values (hmmlearn refuses NaN), whose ratios are to the same data complete.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from hmmlearn import hmm
from threadpoolctl import threadpool_info, threadpool_limits

import hmmcore

logging.getLogger("hmmlearn").setLevel(logging.ERROR)
README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
INFORMATION_BEGIN, INFORMATION_END = "<!-- information:begin -->", "<!-- information:end -->"
GAPS_BEGIN, GAPS_END = "<!-- gaps:begin -->", "<!-- gaps:end -->"
N_STEPS, N_STATES = 17_520, 3  # the source system's 17,520 bars, three regimes


def median_seconds(function, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_rounds(functions: dict, repeats: int) -> list[dict]:
    """Wall times of each of ``functions`` in ``repeats`` rounds that time them one after the
    other (after one warm-up call of each): a slow spell of the machine then weighs on every
    function of a round."""
    for function in functions.values():
        function()
    rounds = []
    for _ in range(repeats):
        times = {}
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name] = time.perf_counter() - start
        rounds.append(times)
    return rounds


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


def fit_hmmlearn(params, n_iter, tol=-np.inf):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hmmlearn_model(params, n_iter, tol).fit(X_DATA)


def per_iteration(params, repeats: int) -> list[str]:
    """Fits of 10 and of 30 iterations by both, in interleaved rounds: the time per iteration
    of a fit of 10 (with what a fit costs once: checks, buffers, first touches of memory), and
    of each further iteration, (fit of 30 - fit of 10) / 20."""
    short, long = 10, 30
    rounds = interleaved_rounds({
        ("ours", short): lambda: hmmcore.fit_em(X_DATA, params, n_iter=short, tol=-np.inf),
        ("ours", long): lambda: hmmcore.fit_em(X_DATA, params, n_iter=long, tol=-np.inf),
        ("theirs", short): lambda: fit_hmmlearn(params, short),
        ("theirs", long): lambda: fit_hmmlearn(params, long),
    }, repeats)

    def per_fit(who, r):
        return r[(who, short)] / short

    def further(who, r):
        return (r[(who, long)] - r[(who, short)]) / (long - short)

    rows = []
    for label, who in (("hmmlearn 0.3.3", "theirs"), ("hmmcore", "ours")):
        ms = [statistics.median(f(who, r) for r in rounds) * 1e3 for f in (per_fit, further)]
        ratios = [statistics.median(f(who, r) / f("theirs", r) for r in rounds) for f in (per_fit, further)]
        rows.append(f"| {label} | {ms[0]:.2f} | {ratios[0]:.3f} | {ms[1]:.2f} | {ratios[1]:.3f} |")
    log_b = hmmcore.gaussian_log_density(X_DATA, params.means, params.covars)
    ours_ll = hmmcore.log_likelihood(params.startprob, params.transmat, log_b)
    difference = abs(ours_ll - hmmlearn_model(params, 1).score(X_DATA))
    return [
        *rows,
        "",
        f"log-likelihood at identical parameters: |hmmcore - hmmlearn| = {difference:.1e} "
        f"(log-likelihood {ours_ll:.3f})",
    ]


def with_gaps(params, repeats: int) -> list[str]:
    """Per EM iteration on data with missing values (NaN) knocked out at random, against the
    same data complete, in interleaved rounds (the ratio is the median of the rounds' ratios).
    hmmlearn has no row: it refuses NaN."""
    rng = np.random.default_rng(3)
    scenarios = {"complete": X_DATA}
    for label, share, whole_days in (("1 % of values", 0.01, False), ("10 % of values", 0.10, False),
                                     ("30 % of values", 0.30, False), ("10 % of days", 0.10, True)):
        gaps = X_DATA.copy()
        gaps[rng.random(len(gaps) if whole_days else gaps.shape) < share] = np.nan
        scenarios[label] = gaps
    n_iter = 10
    rounds = interleaved_rounds({
        label: lambda X=X: hmmcore.fit_em(X, params, n_iter=n_iter, tol=-np.inf) for label, X in scenarios.items()
    }, repeats)
    rows = []
    for label, X in scenarios.items():
        incomplete = np.isnan(X).any(axis=1).mean()
        ms = statistics.median(r[label] for r in rounds) / n_iter * 1e3
        ratio = statistics.median(r[label] / r["complete"] for r in rounds)
        rows.append(f"| {label} | {100 * incomplete:.0f} | {ms:.2f} | {ratio:.2f} |")
    return rows


def restarts(repeats: int) -> list[str]:
    """Ten restarts (fit_em_restarts: a thread per core, and one thread) against one hmmlearn
    fit from the first of them, timed in the same rounds. Forced: exactly 100 iterations each;
    its rounds also time compiled work alone on one and on two threads. Converging: the
    source system's tol = 1e-4, at most 100 iterations."""
    rng = np.random.default_rng(0)
    starts = [hmmcore.initial_params(X_DATA, N_STATES, rng) for _ in range(10)]
    rows, speedups = [], {}
    for setting, label, tol in (("forced", "forced: 100 iterations each", -np.inf),
                                ("converging", "converging: tol = 1e-4, at most 100", 1e-4)):
        counts = {}

        def ours(key, n_threads, tol=tol):
            results = hmmcore.fit_em_restarts(X_DATA, starts, n_iter=100, tol=tol, n_threads=n_threads)
            counts[key] = sum(result.n_iter for result in results)

        def theirs(tol=tol):
            counts["theirs"] = len(fit_hmmlearn(starts[0], 100, tol).monitor_.history)

        functions = {"theirs": theirs, "ours": lambda: ours("ours", None),
                     "ours, one thread": lambda: ours("ours, one thread", 1)}
        if setting == "forced":
            functions.update(compiled_work())
        rounds = interleaved_rounds(functions, repeats)
        for key, row_label in (("ours", label), ("ours, one thread", f"{setting}, one thread")):
            ours_s, theirs_s = (statistics.median(r[name] for r in rounds) for name in (key, "theirs"))
            ratio = statistics.median(r[key] / r["theirs"] for r in rounds)
            rows.append(f"| {row_label} | {counts['theirs']} | {theirs_s:.2f} | {counts[key]} | {ours_s:.2f} "
                        f"| {ratio:.2f} |")
        if setting == "forced":
            for what, (one, two) in (("restarts", ("ours, one thread", "ours")),
                                     ("compiled", ("compiled, one thread", "compiled, two threads"))):
                speedups[what] = statistics.median(r[one] / r[two] for r in rounds)
    return [
        *rows,
        "",
        (f"Two threads against one, in the forced rounds: the restarts ran {speedups['restarts']:.2f}x as "
         f"fast; compiled work alone (E-steps, no Python between their loops) {speedups['compiled']:.2f}x."),
    ]


def compiled_work() -> dict:
    """Compiled work on one thread and on two: two shares, each 100 E-steps
    (``hmmcore.e_step``) on the benchmark's data into buffers of its own, which release the
    GIL, spend almost no time in Python and allocate nothing large (the page faults of fresh
    arrays are one more thing that two threads of a process wait for each other on). The
    data are those of the restarts, so that both threads' arrays fit in the caches as theirs
    do (on 100,000 steps they do not, and two threads share the memory's bandwidth)."""
    startprob, transmat, means, covars = hmmcore.simulated_regime_params()
    log_b = hmmcore.gaussian_log_density(X_DATA, means, covars)
    buffers = [hmmcore.EStepBuffers.empty(*log_b.shape) for _ in range(2)]

    def share(which=0):
        for _ in range(100):
            hmmcore.e_step(startprob, transmat, log_b, buffers=buffers[which], validate=False)

    def two_threads():
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(share, range(2)))

    return {"compiled, one thread": lambda: (share(), share()), "compiled, two threads": two_threads}


def in_fresh_process(code: str, cache_dir: str) -> dict:
    """Run ``code`` (which prints one JSON line) in a new interpreter with numba's cache in
    ``cache_dir``; returns the parsed line and the process's peak resident memory."""
    wrapped = code + "\nimport resource, json as _j\nprint(_j.dumps({'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    environment = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    output = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, env=environment, check=True)
    result = {}
    for line in output.stdout.splitlines():
        result.update(json.loads(line))
    return result


START_UP = """
import time, json
start = time.perf_counter()
import numpy as np, hmmcore
imported = time.perf_counter()
X = hmmcore.simulate_regimes(500, np.random.default_rng(0)).X
params = hmmcore.fit_em(X, hmmcore.initial_params(X, 3, np.random.default_rng(0)), n_iter=10).params
hmmcore.viterbi(params.startprob, params.transmat, hmmcore.gaussian_log_density(X, params.means, params.covars))
functions = time.perf_counter()
model = hmmcore.GaussianHMM(n_components=3, covariance_type="full", n_iter=10, random_state=0).fit(X)
model.predict(X)
estimator = time.perf_counter()
print(json.dumps({"import_s": imported - start, "functions_s": functions - start,
                  "estimator_s": estimator - functions}))
"""


def start_up() -> list[str]:
    """Compilation, then a cached start: ``import hmmcore``, a first small fit and decode with
    the functions, then the same with ``GaussianHMM`` (whose first use imports scikit-learn)."""
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = in_fresh_process(START_UP, cache_dir)
        warm = [in_fresh_process(START_UP, cache_dir) for _ in range(3)]
    best = min(warm, key=lambda run: run["functions_s"])

    def row(label, run):
        return (
            f"| {label} | {run['import_s']:.2f} | {run['functions_s']:.2f} | "
            f"{run['estimator_s']:.2f} |"
        )

    return [row("first run, empty cache (compiles every function)", cold),
            row("later runs, compiled cache (best of 3)", best)]


MILLION = """
import time, json
import numpy as np, hmmcore
startprob, transmat, means, covars = hmmcore.simulated_regime_params()
X = hmmcore.simulate_regimes(1_000_000, np.random.default_rng(1)).X
log_b = hmmcore.gaussian_log_density(X, means, covars)
hmmcore.e_step(startprob, transmat, log_b[:10]); hmmcore.viterbi(startprob, transmat, log_b[:10])
def best(function):
    times = []
    for _ in range(3):
        start = time.perf_counter(); function(); times.append(time.perf_counter() - start)
    return min(times)
print(json.dumps({
    "e_step_s": best(lambda: hmmcore.e_step(startprob, transmat, log_b)),
    "viterbi_s": best(lambda: hmmcore.viterbi(startprob, transmat, log_b)),
    "log_density_s": best(lambda: hmmcore.gaussian_log_density(X, means, covars)),
}))
"""


def scaling(repeats: int) -> list[str]:
    params = hmmcore.simulated_regime_params()
    rows, sizes, seconds = [], [], []
    for n_steps in (1_000, 10_000, 100_000, 1_000_000):
        X = hmmcore.simulate_regimes(n_steps, np.random.default_rng(n_steps)).X
        log_b = hmmcore.gaussian_log_density(X, params[2], params[3])
        count = repeats if n_steps < 1_000_000 else 3
        elapsed = median_seconds(lambda: hmmcore.e_step(params[0], params[1], log_b), count)
        sizes.append(n_steps)
        seconds.append(elapsed)
        rows.append(f"| {n_steps:,} | {elapsed * 1e3:.2f} | {elapsed / n_steps * 1e9:.0f} |")
    slope = np.polyfit(np.log(sizes[1:]), np.log(seconds[1:]), 1)[0]
    with tempfile.TemporaryDirectory() as cache_dir:
        in_fresh_process("import numpy as np, hmmcore", cache_dir)
        million = in_fresh_process(MILLION, cache_dir)
    rows += [
        "",
        f"slope of log(time) against log(T) for T >= 10^4: {slope:.2f} (1 = linear)",
        "",
        f"At T = 10^6 (K = 3, D = 3), in a fresh process: E-step {million['e_step_s']:.3f} s, "
        f"Viterbi {million['viterbi_s']:.3f} s, log-densities {million['log_density_s']:.3f} s; "
        f"peak resident memory of that whole process (data, log-densities, posteriors, "
        f"Viterbi): {million['peak_mib']:.0f} MiB.",
    ]
    return rows


def machine() -> str:
    blas = ", ".join(sorted({f"{info['internal_api']} {info.get('architecture', '')}".strip() for info in threadpool_info()}))
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {hmmcore_numba_version()}, BLAS: {blas}"
    )


def hmmcore_numba_version() -> str:
    import numba

    return numba.__version__


X_DATA = hmmcore.simulate_regimes(N_STEPS, np.random.default_rng(2024)).X


def information(repeats: int) -> list[str]:
    """The observed information (chapter 12) against one EM iteration, at the source system's
    scale: T = 17,520, K = 3, D = 3, full covariances, pi free (P = 35 free parameters), at
    the parameters that simulated the data. Also the other chapter-12 computations."""
    params = hmmcore.HMMParams(*hmmcore.simulated_regime_params())
    size = hmmcore.coordinate_layout(N_STATES, 3, "full", "free").size
    rows = {
        "one EM iteration (`em_step`)": lambda: hmmcore.em_step(X_DATA, params),
        "score alone (`score_vector`)": lambda: hmmcore.score_vector(X_DATA, params),
        "observed information (`observed_information`: score, I_c, I_m)":
            lambda: hmmcore.observed_information(X_DATA, params),
        "standard errors (`standard_errors`, with the information)":
            lambda: hmmcore.standard_errors(X_DATA, params),
        "pseudo-residuals (`pseudo_residuals`, T x D)": lambda: hmmcore.pseudo_residuals(X_DATA, params),
    }
    seconds = {name: median_seconds(function, repeats) for name, function in rows.items()}
    em = seconds["one EM iteration (`em_step`)"]
    lines = [
        f"**Observed information** (T = {N_STEPS:,}, K = {N_STATES}, D = 3, full covariance, pi free: "
        f"{size} free parameters; median of {repeats} calls after one warm-up call)",
        "",
        "| computation | ms | EM iterations |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {1e3 * value:.1f} | {value / em:.1f} |" for name, value in seconds.items()]
    return lines


def replace_section(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per measurement (median)")
    parser.add_argument("--write", action="store_true", help="also write the tables into benchmarks/README.md")
    parser.add_argument("--only", choices=("all", "information", "gaps"), default="all",
                        help="'information': only the chapter-12 table (its own section of the README); "
                        "'gaps': only the table of data with missing values (its own section)")
    args = parser.parse_args()
    if args.only in ("all", "information"):
        with threadpool_limits(limits=1):
            information_text = "\n".join(
                [f"Machine: {machine()}; BLAS limited to one thread.", "", *information(args.repeats)])
        print(information_text)
        if args.write:
            README.write_text(replace_section(README.read_text(), INFORMATION_BEGIN, INFORMATION_END,
                                              information_text))
        if args.only == "information":
            return

    params = hmmcore.initial_params(X_DATA, N_STATES, np.random.default_rng(1))
    with threadpool_limits(limits=1):
        gaps_text = "\n".join([
            f"Machine: {machine()}; BLAS limited to one thread; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start.",
            "",
            f"**With missing values** (NaN knocked out at random, T = {N_STEPS:,}, D = 3, "
            f"K = {N_STATES}, full covariance; median of {args.repeats} interleaved rounds of "
            "10 iterations each; hmmlearn refuses NaN)",
            "",
            "| data | incomplete rows (%) | ms per iteration | ratio to complete data |",
            "|---|---|---|---|",
            *with_gaps(params, args.repeats),
        ])
    print(gaps_text)
    if args.write:
        README.write_text(replace_section(README.read_text(), GAPS_BEGIN, GAPS_END, gaps_text))
    if args.only == "gaps":
        return
    with threadpool_limits(limits=1):  # hmmlearn's C++ runs on one core; BLAS does too
        lines = [
            f"Machine: {machine()}; BLAS limited to one thread.",
            "",
            f"**Per EM iteration** (T = {N_STEPS:,}, D = 3, K = {N_STATES}, full covariance; "
            f"{args.repeats} rounds, each timing fits of 10 and of 30 iterations by both, one thread each; "
            "the medians, and the medians of the rounds' ratios)",
            "",
            "| implementation | ms per iteration, fit of 10 | ratio to hmmlearn | ms per further iteration "
            "(fit of 30 - fit of 10) / 20 | ratio to hmmlearn |",
            "|---|---|---|---|---|",
            *per_iteration(params, args.repeats),
            "",
            "**Restarts**: 10 random initialisations (`fit_em_restarts`, one thread per core) "
            f"against one hmmlearn fit ({args.repeats} rounds timing both; the medians, and the "
            "median of the rounds' ratios)",
            "",
            "| setting | hmmlearn iterations | hmmlearn seconds | hmmcore iterations (10 restarts) "
            "| hmmcore seconds | ratio |",
            "|---|---|---|---|---|---|",
            *restarts(args.repeats),
            "",
            "**Start-up** (fresh processes: `import hmmcore`; then `fit_em` for 10 iterations on "
            "500 steps and `viterbi`; then the same fit and decode with `GaussianHMM`)",
            "",
            "| process | import seconds | import + first fit with the functions, seconds "
            "| then the first `GaussianHMM` fit, seconds |",
            "|---|---|---|---|",
            *start_up(),
            "",
            "**Scaling of the E-step** (`hmmcore.e_step`, K = 3)",
            "",
            "| T | milliseconds | ns per step |",
            "|---|---|---|",
            *scaling(args.repeats),
        ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        README.write_text(replace_section(README.read_text(), BEGIN, END, text))


if __name__ == "__main__":
    main()
