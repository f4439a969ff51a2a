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

test: setup
	$(PY) -m pytest -q tests

demo: setup
	bash egs/demo/run_demo.sh

bench: setup
	for b in bench/*.py; do $(PY) $$b; done
