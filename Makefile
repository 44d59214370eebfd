# make demo / make test each build .venv when it is missing and install everything themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_BUDGET ?= 180
DEMO_EFFECT ?= softclip

.PHONY: demo test study bench cpp clean

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
	# the report's browser test needs Chromium; install it once where we can (root, apt)
	if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && \
	    [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    chromium chromium-driver; fi
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

clean:
	rm -rf $(VENV) cpp/build cpp/build-test
