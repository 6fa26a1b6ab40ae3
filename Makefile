# make install: build .venv (PyPI packages only); make run: the sample study; make test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: install
	$(BIN)/hyperscan run --cores 2

test: install
	$(BIN)/python -m pytest -n 2 -q

# snakefmt imports black -> pathspec, which probes `import hyperscan` for Intel's regex library
# of that name and trips over this package: hide it from that one process.
SNAKEFMT := $(BIN)/python -c "import sys; sys.modules['hyperscan'] = None; from snakefmt.snakefmt import main; sys.exit(main())"

# snakemake --lint exits 1 on its one finding (no conda env/container per rule; see README)
lint: install
	$(SNAKEFMT) --check Snakefile workflow/
	$(BIN)/snakemake --lint --cores 1

format: install
	$(SNAKEFMT) Snakefile workflow/

clean:
	rm -rf results .snakemake
