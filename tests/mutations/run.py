"""``make mutations``: apply each deliberate slip of ``slips.py`` to a copy of ``hmmcore``, run
the test suite and execute the chapters against that copy, and report which tests fail and
which chapters raise. Every slip must make at least one chapter raise and one test fail: one
that does not points at an equation whose check cannot see it.

Run from the repository root::

    .venv/bin/python tests/mutations/run.py                    # every slip
    .venv/bin/python tests/mutations/run.py --write            # ... and rewrite README.md here
    .venv/bin/python tests/mutations/run.py --slips means-damped --chapters 06,08
    .venv/bin/python tests/mutations/run.py --exhaustive       # every test, every chapter

By default each slip stops at its first failing test (``pytest -x``) and at its first chapter
that raises, trying first the chapter its ``equation`` names: that answers "is it caught?" in
about half an hour on two cores. ``--exhaustive`` runs every test and every chapter for every
slip (hours) and reports all that fail. Either way a control follows: the unchanged library,
in the same kind of copy, must pass every test and run every chapter that caught a slip (a
catch by a test or chapter that fails anyway would prove nothing).

The copy is imported through ``PYTHONPATH``, which comes before the editable install; numba
compiles it into the copy's own cache. Chapters run with ``jupyter nbconvert --execute`` in
their folder; a chapter "raises" when a cell raises (the first such cell is reported).
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slips import SLIPS, Slip

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
#: The library's tests (not the book's: those check the notebooks' files and the rendered HTML).
TEST_IGNORES = [
    "test_book_browser.py",
    "test_book_demo.py",
    "test_book_pdf.py",
    "test_book_structure.py",
    "test_book_references.py",
    "test_notebooks_executed.py",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b:?")
THREADS_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def apply_slip(source: str, slip: Slip) -> str:
    """``source`` with ``slip.old`` replaced by ``slip.new`` inside ``slip.function``."""
    tree = ast.parse(source)
    nodes = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name == slip.function
    ]
    if len(nodes) != 1:
        raise SystemExit(
            f"slip {slip.name}: {slip.module}.{slip.function} not found (or not unique)"
        )
    lines = source.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: nodes[0].lineno - 1])
    end = sum(len(line) for line in lines[: nodes[0].end_lineno])
    body = source[start:end]
    if body.count(slip.old) != 1:
        raise SystemExit(
            f"slip {slip.name}: its text occurs {body.count(slip.old)} times in "
            f"{slip.module}.{slip.function}; update slips.py"
        )
    return source[:start] + body.replace(slip.old, slip.new) + source[end:]


def mutant(slip: Slip | None, folder: Path) -> dict:
    """A copy of hmmcore in ``folder`` with ``slip`` applied; the environment that imports it."""
    shutil.copytree(
        ROOT / "hmmcore",
        folder / "hmmcore",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    if slip is not None:
        path = folder / "hmmcore" / f"{slip.module}.py"
        path.write_text(apply_slip(path.read_text(), slip))
    environment = dict(
        os.environ, PYTHONPATH=str(folder), PYTHONDONTWRITEBYTECODE="1", **THREADS_ENV
    )
    found = subprocess.run(
        [sys.executable, "-c", "import hmmcore; print(hmmcore.__file__)"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).parent == folder / "hmmcore", (
        f"the copy is not the one imported: {found}"
    )
    return environment


def related_tests(slip: Slip) -> list[Path]:
    """The test files named after the slip's module or naming its function: run first, they
    are the likeliest to fail first."""
    function = slip.function.strip("_").removesuffix("_loop")
    own = f"test_{slip.module}"
    return sorted(
        (
            path
            for path in (ROOT / "tests").glob("test_*.py")
            if path.name not in TEST_IGNORES
            and (path.stem == own or function in path.read_text())
        ),
        key=lambda path: (path.stem != own, path.name),
    )


def failing_tests(
    environment: dict,
    folder: Path,
    *,
    first_only: bool,
    only: list[str] | None = None,
    first: list[Path] = (),
) -> list[str]:
    """The library tests that fail (or error) against the copy (the first one if ``first_only``;
    only the test ids ``only`` if given). With ``first_only``, the files ``first`` run on
    their own before the whole suite (pytest orders the files of one run by their folder)."""
    if only:
        return _pytest_failures(
            environment, folder, [ROOT / "tests" / test_id for test_id in only], False
        )
    if first_only and first:
        failed = _pytest_failures(environment, folder, list(first), True)
        if failed:
            return failed
    return _pytest_failures(environment, folder, [ROOT / "tests"], first_only)


def _pytest_failures(
    environment: dict, folder: Path, targets: list[Path], first_only: bool
) -> list[str]:
    report = folder / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        *map(str, targets),
        "-q",
        "-o",
        "addopts=",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:nbval",
        "--import-mode=append",
        f"--rootdir={ROOT}",
        f"--confcutdir={ROOT / 'tests'}",
        f"--junitxml={report}",
        *(["-x"] if first_only else []),
        *(f"--ignore={ROOT / 'tests' / name}" for name in TEST_IGNORES),
    ]
    # from the copy's folder, which comes first on sys.path (the repository's hmmcore must not)
    subprocess.run(
        command,
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    failed = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            parts = case.get("classname").split(".")
            module = next(
                index for index, part in enumerate(parts) if part.startswith("test_")
            )
            failed.append(
                "::".join(
                    [f"{parts[module]}.py", *parts[module + 1 :], case.get("name")]
                )
            )
    return failed


def chapter_error(environment: dict, notebook: Path, folder: Path) -> str | None:
    """None if the chapter runs to the end against the copy, else its first failing cell."""
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.timeout=600",
        f"--output-dir={folder}",
        str(notebook),
    ]
    run = subprocess.run(
        command,
        cwd=notebook.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode == 0:
        return None
    return failure_summary(run.stderr)


def failure_summary(stderr: str) -> str:
    """The failing cell's first line and the exception it raised, from nbconvert's report
    ("An error occurred while executing the following cell: ----- source ----- traceback")."""
    lines = [line.strip() for line in ANSI.sub("", stderr).splitlines() if line.strip()]
    cell = ""
    if "------------------" in lines:
        start = lines.index("------------------") + 1
        cell = next((line for line in lines[start:] if not line.startswith("#")), "")
    exceptions = [i for i, line in enumerate(lines) if EXCEPTION.match(line)]
    if not exceptions:
        return (lines[-1] if lines else "")[:160]
    i = exceptions[-1]
    error = (
        lines[i]
        if lines[i].rstrip(":").count(":") or i + 1 == len(lines)
        else f"{lines[i]} {lines[i + 1]}"
    )
    return (f'cell "{cell[:60]}": ' if cell else "") + error[:140]


def home_first(slip: Slip, chapters: list[Path]) -> list[Path]:
    """``chapters`` with those the slip's ``equation`` names ("chapter N") first."""
    homes = [
        f"{int(number):02d}" for number in re.findall(r"chapter (\d+)", slip.equation)
    ]
    return sorted(chapters, key=lambda path: (path.name[:2] not in homes, path.name))


def run_slip(
    slip: Slip | None,
    chapters: list[Path],
    with_tests: bool,
    exhaustive: bool,
    tests: list[str] | None = None,
) -> dict:
    """Tests and chapters against a copy with ``slip`` (None: the unchanged library)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hmmcore-mutant-") as name:
        folder = Path(name)
        environment = mutant(slip, folder)
        failed = (
            failing_tests(
                environment,
                folder,
                first_only=not exhaustive,
                only=tests,
                first=related_tests(slip) if slip is not None else (),
            )
            if with_tests
            else None
        )
        raised = {}
        for notebook in chapters:
            error = chapter_error(environment, notebook, folder / notebook.stem)
            if error is not None:
                raised[notebook.stem] = error
                if not exhaustive:
                    break
    return {
        "tests": failed,
        "chapters": raised,
        "seconds": time.perf_counter() - started,
    }


def table(results: dict, with_tests: bool, exhaustive: bool) -> list[str]:
    tests_heading, chapters_heading = (
        ("tests that fail", "chapters that raise")
        if exhaustive
        else ("first test that fails", "first chapter that raises")
    )
    lines = [
        f"| slip | equation | what is wrong | {tests_heading} | {chapters_heading} |",
        "|---|---|---|---|---|",
    ]
    for slip in SLIPS:
        if slip.name not in results:
            continue
        result = results[slip.name]
        tests = result["tests"]
        test_text = (
            "not run"
            if not with_tests
            else (
                ", ".join(f"`{name}`" for name in tests[:3])
                + (f" and {len(tests) - 3} more" if len(tests) > 3 else "")
                if tests
                else "**none**"
            )
        )
        chapter_text = ", ".join(
            f"{chapter} (`{error}`)" for chapter, error in result["chapters"].items()
        )
        cells = (slip.equation, slip.what, test_text, chapter_text or "**none**")
        lines.append(
            f"| `{slip.name}` | "
            + " | ".join(text.replace("|", "\\|") for text in cells)
            + " |"
        )
    return lines


def write_readme(lines: list[str], summary: str) -> None:
    """Put this run's rows into README.md's table; rows of slips not run this time (say,
    ``--slips a,b``) stay as the last run that covered them left them, each run's summary
    line stays below the table."""
    text = README.read_text()
    head, rest = text.split(BEGIN)
    old, tail = rest.split(END)
    rows = {row.split("`")[1]: row for row in old.splitlines() if row.startswith("| `")}
    rows.update({row.split("`")[1]: row for row in lines[2:]})
    runs = [line for line in old.splitlines() if line.startswith("- ")]
    table_rows = [rows[slip.name] for slip in SLIPS if slip.name in rows]
    body = lines[:2] + table_rows + ["", *runs, f"- {summary}"]
    README.write_text(f"{head}{BEGIN}\n" + "\n".join(body) + f"\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slips", help="comma-separated slip names (default: all)")
    parser.add_argument(
        "--chapters", help="comma-separated chapter prefixes, e.g. 04,08 (default: all)"
    )
    parser.add_argument(
        "--no-tests", action="store_true", help="execute the chapters only"
    )
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="every test and every chapter for every slip",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="slips at once"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the table into tests/mutations/README.md",
    )
    args = parser.parse_args()
    slips = [
        slip for slip in SLIPS if not args.slips or slip.name in args.slips.split(",")
    ]
    unknown = (
        set(args.slips.split(",")) - {slip.name for slip in SLIPS}
        if args.slips
        else set()
    )
    if unknown:
        parser.error(f"--slips: no slip named {sorted(unknown)}")
    chapters = sorted(
        path
        for path in (ROOT / "book").glob("*.ipynb")
        if not args.chapters or path.name.split("_")[0] in args.chapters.split(",")
    )
    with_tests = not args.no_tests
    started = time.perf_counter()
    results = {}

    def one(slip: Slip) -> None:
        results[slip.name] = result = run_slip(
            slip, home_first(slip, chapters), with_tests, args.exhaustive
        )
        caught = bool(result["chapters"]) and (
            result["tests"] is None or bool(result["tests"])
        )
        print(
            f"{slip.name}: {'caught' if caught else 'NOT CAUGHT'} ({result['seconds']:.0f} s): "
            f"tests {result['tests']}, chapters {sorted(result['chapters'])}",
            flush=True,
        )

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(one, slips))
    catching_chapters = sorted(
        {chapter for result in results.values() for chapter in result["chapters"]}
    )
    catching_tests = sorted(
        {test for result in results.values() for test in result["tests"] or []}
    )
    control = run_slip(
        None,
        [path for path in chapters if path.stem in catching_chapters],
        with_tests and bool(catching_tests),
        exhaustive=True,
        tests=catching_tests or None,
    )
    if control["tests"] or control["chapters"]:
        print(
            f"the unchanged library fails too, so these catches prove nothing: {control}",
            file=sys.stderr,
        )
        return 2
    minutes = (time.perf_counter() - started) / 60
    lines = table(results, with_tests, args.exhaustive)
    summary = (
        f"{len(results)} slips against {len(chapters)} chapters"
        f"{' and the library tests' if with_tests else ''}"
        f"{' (every test, every chapter)' if args.exhaustive else ''}, {args.jobs} slips at once; "
        f"control: the unchanged library passes the {len(catching_tests)} catching tests and runs the "
        f"{len(catching_chapters)} catching chapters; {minutes:.1f} minutes in all "
        f"(`run.py {' '.join(sys.argv[1:])}`)."
    )
    print("\n".join(lines + ["", summary]))
    if args.write:
        write_readme(lines, summary)
    uncaught = [
        name
        for name, result in results.items()
        if not result["chapters"] or (with_tests and not result["tests"])
    ]
    if uncaught:
        print(f"not caught by a chapter and a test: {uncaught}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
