"""hmmlearn 0.3.3's own GaussianHMM test-suite, run against hmmcore.GaussianHMM.

The suite ships inside the installed hmmlearn package (``hmmlearn/tests/test_gaussian_hmm.py``,
with its helpers ``__init__.py`` and ``conftest.py``). Its module imports ``from .. import
hmm`` and uses ``hmm.GaussianHMM``. At test time we build, in pytest's temporary directory, a
package whose ``hmm`` module exposes hmmcore's class and whose ``tests/`` holds copies of those
three files, taken from the installed package (nothing is copied into this repository and
nothing is modified), and run pytest on it in a fresh process with a fixed ``HMMLEARN_SEED``
(its conftest seeds numpy's global generator from it). Our own pytest.ini (``--nbval``) is not
read: ``-c /dev/null`` and the temporary directory as root.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
SUITE_FILES = ("__init__.py", "conftest.py", "test_gaussian_hmm.py")
EXPECTED_PASSED = 98


def installed_hmmlearn_tests() -> Path:
    spec = importlib.util.find_spec("hmmlearn")
    if spec is None or spec.origin is None:
        pytest.fail("hmmlearn is not installed; the suite runs from the installed package.")
    folder = Path(spec.origin).parent / "tests"
    missing = [name for name in SUITE_FILES if not (folder / name).is_file()]
    assert not missing, f"the installed hmmlearn lacks tests/{missing}"
    return folder


def build_shim(root: Path) -> Path:
    """``root/hmmcore_as_hmmlearn/{__init__,hmm}.py`` and ``tests/`` with hmmlearn's files."""
    package = root / "hmmcore_as_hmmlearn"
    (package / "tests").mkdir(parents=True)
    (package / "__init__.py").write_text('"""hmmcore, seen through hmmlearn\'s test-suite."""\n')
    (package / "hmm.py").write_text("from hmmcore import GaussianHMM  # noqa: F401\n")
    source = installed_hmmlearn_tests()
    for name in SUITE_FILES:
        shutil.copyfile(source / name, package / "tests" / name)
    return package


def outcome_counts(summary: str) -> dict:
    """``{"passed": 98, ...}`` from pytest's last summary line."""
    lines = [line for line in summary.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", last)}


def test_hmmlearn_gaussian_suite_passes_against_hmmcore(tmp_path):
    package = build_shim(tmp_path)
    environment = dict(
        os.environ,
        HMMLEARN_SEED="0",
        # the caller's PYTHONPATH first: `make mutations` imports a changed copy of hmmcore by it
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH"), str(REPOSITORY)])),
        PYTHONDONTWRITEBYTECODE="1",
    )
    command = [
        sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
        "-c", os.devnull, "--rootdir", str(tmp_path), "-o", "addopts=",
        str(package / "tests" / "test_gaussian_hmm.py"),
    ]
    run = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900
    )
    counts = outcome_counts(run.stdout)
    failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", run.stdout, flags=re.MULTILINE)
    skipped = re.findall(r"^SKIPPED .*$", run.stdout, flags=re.MULTILINE)
    report = f"{counts}; failing: {failing}; skipped: {skipped}\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    assert counts.get("passed") == EXPECTED_PASSED, report
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) + counts.get("errors", 0) == 0, report
    assert counts.get("skipped", 0) == 0, report
    assert set(counts) == {"passed"} | ({"warnings", "warning"} & set(counts)) | (
        {"in"} & set(counts)
    ), report
