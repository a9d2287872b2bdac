# Build the book, run the tests, run the benchmarks.
# Every target that needs Python sets up .venv itself (see `setup`).

PYTHON      ?= python3.11
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.requirements.stamp
CHROMIUM    := /usr/bin/chromium

# One BLAS/OpenMP thread: notebook outputs and test results are stable across machines.
THREADS_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# Quiet two harmless notices of the Jupyter stack (debugger / platformdirs migration).
JUPYTER_ENV := PYDEVD_DISABLE_FILE_VALIDATION=1 JUPYTER_PLATFORM_DIRS=1

# -W: every warning is an error; -n: nitpicky (missing references warn);
# --keep-going: report all warnings before failing; --all: re-read every page so
# warnings of unchanged pages are reported too (notebook execution stays cached).
BOOK_FLAGS  ?= -W -n --keep-going --all

.PHONY: setup python-deps browser book book-from-outputs test notebooks bench mutations pdf clean distclean

setup: python-deps browser

python-deps: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when requirements.txt or pyproject.toml changed.
$(STAMP): requirements.txt $(wildcard pyproject.toml) | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

# Debian's chromium for the browser test; best effort (the test skips without it).
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: apt-get not available; $(CHROMIUM) missing, the browser test will be skipped"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	{ $$SUDO apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; } \
	|| echo "note: could not install chromium; the browser test will be skipped"

# Executes every chapter (jupyter-cache: again only after its code changed): a cell that
# raises, for instance a check that sees a wrong equation in hmmcore, fails the build.
book: setup
	$(THREADS_ENV) $(JUPYTER_ENV) $(BIN)/jupyter-book build $(BOOK_FLAGS) .

# The same book rendered from the committed outputs, without executing: `test` runs
# every chapter once, under strict nbval, which requires each fresh output to equal the
# committed one (and fails on a cell that raises), so executing in the build too would
# only double the time. The same configuration with execution off, in a copy beside
# _config.yml (its paths are relative to the file).
book-from-outputs: setup
	sed -e 's/^  execute_notebooks: .*/  execute_notebooks: "off"/' _config.yml > _config.from-outputs.yml
	grep -q 'execute_notebooks: "off"' _config.from-outputs.yml
	$(JUPYTER_ENV) $(BIN)/jupyter-book build $(BOOK_FLAGS) --config _config.from-outputs.yml .

# The PDF is part of the test run: the intro links it, and tests/test_book_pdf.py reads it.
# Two pytest workers (pytest-xdist); --dist loadfile keeps each notebook in one kernel.
test: book-from-outputs
	$(PRINT_PDF)
	$(THREADS_ENV) $(JUPYTER_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile

# The book as one PDF, without TeX: headless Chromium prints every built page in the
# order of _toc.yml once MathJax has typeset it, pypdf joins them
# (book/_ext/print_pdf.py) -> _build/html/baum-welch.pdf, linked from the intro.
PRINT_PDF = @if [ ! -x $(CHROMIUM) ]; then echo "note: $(CHROMIUM) missing: no PDF (its test is skipped)"; \
	else $(BIN)/python book/_ext/print_pdf.py _build/html; fi

pdf: book
	$(PRINT_PDF)

# Saved ipywidgets state (random model ids, and myst-nb would load widget JavaScript from a
# CDN for it) is not kept in the committed notebooks.
export DROP_WIDGET_STATE := import sys, nbformat; p = sys.argv[1]; nb = nbformat.read(p, 4); nb.metadata.pop("widgets", None); nbformat.write(nb, p)

# Format the chapters' code (ruff, 88 columns: pyproject.toml), then re-execute every
# chapter in place (after a change to hmmcore or to a chapter), with the same
# single-threaded numerics as the tests; commit the notebooks with their new outputs.
# ruff cannot shorten long strings or comments: fix those by hand.
notebooks: setup
	$(BIN)/ruff format book/*.ipynb
	for notebook in book/*.ipynb; do \
	  $(THREADS_ENV) $(JUPYTER_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --inplace "$$notebook" || exit 1; \
	  $(BIN)/python -c "$$DROP_WIDGET_STATE" "$$notebook" || exit 1; \
	done

bench: setup
	$(BIN)/python benchmarks/run.py

# Each deliberate slip of tests/mutations/slips.py applied to a copy of hmmcore: which tests
# fail and which chapters raise (table in tests/mutations/README.md). Not part of `test`.
mutations: setup
	$(BIN)/python tests/mutations/run.py --write

clean:
	rm -rf _build .pytest_cache _config.from-outputs.yml
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
