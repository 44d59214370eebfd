# make demo / make test each build .venv when it is missing and install everything themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_BUDGET ?= 180

.PHONY: demo test bench cpp clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first, pinned: a bare "torch" requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/neuralfx init $(DEMO_DIR) --effect softclip --force
	$(BIN)/neuralfx train $(DEMO_DIR) --budget $(DEMO_BUDGET)

test: $(STAMP)
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) cpp/build
