# Every target works on a fresh clone: the venv is created (torch pinned to the CPU build) on first use.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
STAMP := $(VENV)/.installed

.PHONY: install demo dataset train eval export chat bot test test-fast lint sample bench bench-dataset clean help

# What the demo says to the clone (and to the base model, for comparison).
DEMO_SAY := --say "在干嘛呢" --say "周末一起去吃火锅吗" --say "你家年糕最近怎么样" --say "稿子今天能交吗"

help:
	@echo "make demo      everything on the bundled sample: dataset, tiny base, training, eval, a chat with the clone"
	@echo "make dataset   build data/dataset from the exports in $(CONFIG)"
	@echo "make train     fine-tune the clone on data/dataset (LoRA; the tiny base is built offline on first use)"
	@echo "make eval      base vs clone on the dev set: perplexity, ROUGE, BLEU, style (eval.md, eval.json)"
	@echo "make export    merge the adapter into a standalone model folder (runs/clone/merged)"
	@echo "make chat      talk to the clone in the terminal"
	@echo "make bot       run the clone in Telegram/WeChat (channels enabled in $(CONFIG))"
	@echo "make test      run the test suite"
	@echo "make test-fast the tests that need no model and run no whole command line: under a minute"
	@echo "make lint      ruff (style, imports, likely bugs) over the tree and mypy over the packages"
	@echo "make sample    regenerate the bundled fictional persona export"
	@echo "make bench     training and bot benchmarks (tiny model, CPU); make bench-dataset: 1M messages"

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

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not model and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench-dataset: $(STAMP)
	$(BIN)/python benchmarks/dataset_bench.py

train: $(STAMP)
	$(BIN)/python -m training train --config $(CONFIG)

export: $(STAMP)
	$(BIN)/python -m training export --config $(CONFIG)

eval: $(STAMP)
	$(BIN)/python -m training eval --config $(CONFIG)

chat: $(STAMP)
	$(BIN)/python -m training prepare --config $(CONFIG)
	$(BIN)/python -m bot chat --config $(CONFIG)

bot: $(STAMP)
	$(BIN)/python -m training prepare --config $(CONFIG)
	$(BIN)/python -m bot --config $(CONFIG)

# Idle OpenMP threads sleep instead of spinning: on a shared CPU, spinning threads slow whatever runs beside them
# (the other mode of a comparison, the engine's event loop) and make the ratios swing.
bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/train_bench.py
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/bot_bench.py --config $(CONFIG) --repeat 5

demo: $(STAMP)
	$(BIN)/python -m data_prep build --config $(CONFIG)
	$(BIN)/python -m training train --config $(CONFIG)
	$(BIN)/python -m training eval --config $(CONFIG)
	$(BIN)/python -m bot chat --config $(CONFIG) --compare-base $(DEMO_SAY)
	@echo
	@echo "dataset:  data/dataset/ (train.jsonl, dev.jsonl, report.md, profile.json, lengths.png)"
	@echo "clone:    runs/clone/adapter/ (PEFT), runs/clone/loss.png, runs/clone/metrics.json"
	@echo "eval:     runs/clone/eval.md, runs/clone/eval.json"
	@echo "next:     make chat (talk to it), README.md 'Your own data' and 'Running the bot'"

clean:
	rm -rf data runs
