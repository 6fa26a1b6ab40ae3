# make install: build .venv (PyPI packages only); make run: the sample study; make test.
# make test-calibration: the long calibrations over many simulated replications (CI runs it).
# make docs: the documentation site (docs/_build/html), warnings are errors.
# make test-packaging: the wheel in a fresh venv, the minimum declared versions, and `hyperscan
# verify`, the workflow as a Snakemake module and the job logs on re-run studies (CI runs it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every extra, so the SLURM run, the Picard ICA, the reference comparisons and the docs are
# all tested; a user installs only what they need (`pip install hyperscan-eeg[slurm]`).
EXTRAS := test,slurm,picard,reference,docs

.PHONY: install run test test-calibration test-packaging docs lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: install
	$(BIN)/hyperscan run --cores 2

# the packaging tests need the package index and several minutes: `make test-packaging`;
# the calibrations (marker `calibration`, each over many replications) are `make test-calibration`.
# --dist loadscope: each module runs on one worker, so a run that a module's tests share (a module
# fixture) is computed once; --no-loadscope-reorder keeps conftest.py's order (long modules first)
test: install
	$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -q -m "not packaging and not calibration"

test-calibration: install
	$(BIN)/python -m pytest -n 2 -q -m calibration

test-packaging: install
	$(BIN)/python -m pytest -q -s -m packaging tests/test_packaging.py tests/test_verify.py tests/test_logs.py

docs: install
	rm -rf docs/_build/html
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo docs/_build/html/index.html

# snakefmt imports black -> pathspec, which probes `import hyperscan` for Intel's regex library
# of that name and trips over this package: hide it from that one process (docs/name_clash.rst).
SNAKEFMT := $(BIN)/python -c "import sys; sys.modules['hyperscan'] = None; from snakefmt.snakefmt import main; sys.exit(main())"

# snakemake --lint exits 1 on its one finding (no conda env/container per rule; see README)
lint: install
	$(SNAKEFMT) --check Snakefile workflow/
	$(BIN)/snakemake --lint --cores 1

format: install
	$(SNAKEFMT) Snakefile workflow/

clean:
	rm -rf results .snakemake docs/_build docs/generated docs/auto_examples .test/results .test/.snakemake
