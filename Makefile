# Two entry points (README): `make demo` and `make test`. Both set the machine up first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := espeak-ng sox libsox-fmt-all ffmpeg chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-packages venv demo test bench clean-demo

setup: system-packages venv

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "[setup] apt-get install$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "[setup] system packages present: $(APT_PACKAGES)"; fi

$(VENV)/.installed: setup.py
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

# Two workers, one file each at a time, one thread each: on 2 cores this beats one process with two
# threads, because much of the suite waits in single-threaded subprocesses (bash stages, espeak-ng,
# pocketsphinx). Module and session fixtures are built once per worker.
# TMPDIR: a folder of the run's own, removed after it, for what libraries write to the temp dir
# (phonemizer's copies of libespeak-ng from pool workers, torch's RPC stubs, jieba's cache).
test: setup
	$(VENV)/bin/ruff check .
	@tmp=$$(mktemp -d -t valle-tests.XXXXXX); \
	TMPDIR=$$tmp OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile tests; rc=$$?; rm -rf $$tmp; exit $$rc

demo: setup
	bash egs/demo/run_demo.sh

bench: setup
	for b in bench/*.py; do $(PY) $$b; done
