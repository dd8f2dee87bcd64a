# Every target works on a fresh clone: the venv is created (torch pinned to the CPU build) on first use.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
STAMP := $(VENV)/.installed

.PHONY: install dataset train eval export chat bot test sample bench-dataset clean help

help:
	@echo "make dataset   build data/dataset from the exports in $(CONFIG)"
	@echo "make train     fine-tune the clone on data/dataset (LoRA; the tiny base is built offline on first use)"
	@echo "make eval      base vs clone on the dev set: perplexity, ROUGE, BLEU, style (eval.md, eval.json)"
	@echo "make export    merge the adapter into a standalone model folder (runs/clone/merged)"
	@echo "make test      run the test suite"
	@echo "make sample    regenerate the bundled fictional persona export"
	@echo "make bench-dataset  1M-message dataset benchmark"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

dataset: $(STAMP)
	$(BIN)/python -m data_prep build --config $(CONFIG)

sample: $(STAMP)
	$(BIN)/python scripts/make_sample.py --out samples/persona

test: $(STAMP)
	$(BIN)/python -m pytest

bench-dataset: $(STAMP)
	$(BIN)/python benchmarks/dataset_bench.py

train: $(STAMP)
	$(BIN)/python -m training train --config $(CONFIG)

export: $(STAMP)
	$(BIN)/python -m training export --config $(CONFIG)

eval: $(STAMP)
	$(BIN)/python -m training eval --config $(CONFIG)

chat bot:
	@echo "make $@: not implemented yet (see the open issues)"; exit 2

clean:
	rm -rf data runs
