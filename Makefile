# make install: build .venv (PyPI packages only); make run: the sample study; make test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint clean

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

lint: install
	$(BIN)/snakemake --lint --cores 1

clean:
	rm -rf results .snakemake
