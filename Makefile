# Composer Studio: `make run` starts the app, `make test` runs the whole suite.
# Each target first installs whatever is missing (a .venv, pip packages, Debian packages when
# run as root) and is quick when nothing is.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: run room test deps test-deps system-deps browser bench gallery clean help

help:
	@echo "make run    - install what is missing, then start the app on http://localhost:$(PORT) (this machine only)"
	@echo "make room   - the same for a room: every interface, phones as audience, a presenter link"
	@echo "make test   - install what is missing (incl. chromium), then run the test suite"
	@echo "make bench  - run the benchmark scripts in bench/ (JSON on stdout)"

# this machine only (127.0.0.1), every right: app_ui/serve.py
run: deps
	$(PY) -m app_ui.serve --server.port $(PORT)

# every interface; prints the LAN address for phones (audience) and the presenter link
room: deps
	$(PY) -m app_ui.serve --room --server.port $(PORT)

test: test-deps
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: deps
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# --- installation -----------------------------------------------------------------------
deps: system-deps $(VENV)/.installed-runtime

test-deps: deps browser $(VENV)/.installed-dev

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ -n "$(IS_ROOT)" ]; then apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "python venv is missing; run: sudo apt-get install -y python3-venv"; exit 1; fi; }
	$(PY) -m pip install -q --upgrade pip

# With an NVIDIA GPU (nvidia-smi lists one), TensorFlow's CUDA build instead of the CPU one.
$(VENV)/.installed-runtime: requirements.txt | $(VENV)/bin/python
	@if nvidia-smi -L >/dev/null 2>&1; then \
	  echo "an NVIDIA GPU is here (nvidia-smi): installing TensorFlow's CUDA build"; \
	  sed 's/^tensorflow-cpu==/tensorflow[and-cuda]==/' requirements.txt > $(VENV)/requirements-gpu.txt; \
	  $(PY) -m pip install -q -r $(VENV)/requirements-gpu.txt; \
	else \
	  $(PY) -m pip install -q -r requirements.txt; \
	fi
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

# libfluidsynth3 renders audio (pyfluidsynth loads it); chromium runs the browser tests.
system-deps:
	@ldconfig -p 2>/dev/null | grep -q 'libfluidsynth.so.3' || { \
	  if [ -n "$(IS_ROOT)" ]; then echo "installing libfluidsynth3"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfluidsynth3 >/dev/null; \
	  else echo "libfluidsynth3 is missing; run: sudo apt-get install -y libfluidsynth3"; exit 1; fi; }

browser:
	@[ -x /usr/bin/chromium ] || { \
	  if [ -n "$(IS_ROOT)" ]; then echo "installing chromium"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing; run: sudo apt-get install -y chromium"; exit 1; fi; }

gallery: deps
	$(PY) -m core gallery build

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
