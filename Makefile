# make demo / make test each build .venv when it is missing and install everything themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_BUDGET ?= 180
DEMO_EFFECT ?= softclip

.PHONY: demo test lint fuzz study bench bench-quick cpp clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first, pinned: a bare "torch" requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/neuralfx init $(DEMO_DIR) --effect $(DEMO_EFFECT) --name $(DEMO_EFFECT) --force
	$(BIN)/neuralfx train $(DEMO_DIR) --budget $(DEMO_BUDGET)

test: $(STAMP)
	# the report's browser test needs Chromium, the benchmarks' smoke tests sox (a DSP we did
	# not write); install them once where we can (root, apt)
	if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/sox ]; } && \
	    [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    chromium chromium-driver sox; fi
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/python -m pytest tests

# the lab's study (about an hour on 2 cores); rerunning resumes it
study: $(STAMP)
	$(BIN)/neuralfx sweep studies/lab.toml
	$(BIN)/neuralfx report lab-study --markdown docs/study.md

# the C++ example; RTNEURAL_DIR defaults to the shared copy, empty fetches the pinned commit
RTNEURAL_DIR ?= $(firstword $(wildcard ../shared/third_party/RTNeural) $(wildcard /work/shared/third_party/RTNeural))
cpp:
	cmake -S cpp -B cpp/build -DCMAKE_BUILD_TYPE=Release $(if $(RTNEURAL_DIR),-DRTNEURAL_DIR=$(abspath $(RTNEURAL_DIR)))
	cmake --build cpp/build -j2
	@echo "built cpp/build/neuralfx-process"

# benchmarks -> bench/RESULTS.md (about 1.5 h: 5 datasets x 4 trainers x BENCH_BUDGET s, then
# throughput, inference, memory; then the knob capture, about 10 min). NAM's columns need
# bench/out/nam-venv: see bench/notes.md.
BENCH_BUDGET ?= 180
bench: $(STAMP)
	$(BIN)/python bench/accuracy.py --budget $(BENCH_BUDGET)
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/inference.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/knobs.py --budget $(BENCH_BUDGET)
	$(BIN)/python bench/report.py

# the same in about 20 minutes: short budgets, a quarter-hour file for the memory check
bench-quick: $(STAMP)
	$(BIN)/python bench/accuracy.py --budget 30
	$(BIN)/python bench/throughput.py --seconds 10 --rounds 2
	$(BIN)/python bench/inference.py --reps 1
	$(BIN)/python bench/memory.py --hours 0.25 --train-seconds 10
	$(BIN)/python bench/knobs.py --budget 30
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) cpp/build cpp/build-test

# lint alone (make test runs it first)
lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

# the fuzz tests with a long budget (CI runs 150 examples per loader)
FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	NEURALFX_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/test_fuzz.py -q
