# The course's commands. Each target creates or refreshes .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export MPLBACKEND := Agg
# pytest workers: the machine's cores by default
JOBS ?= auto

.PHONY: venv bwrap demo demo-full test test-full test-fast test-gpu bench release lint data bundle lab clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[course]'
	$(BIN)/python -m dlcourse.autograde_guard
	touch $(STAMP)

# grading fails closed without bubblewrap: installed here when root has apt-get, else one line says how
bwrap:
	@sh .ci/bwrap

# the whole journey (reference, blank, mistakes, valid alternatives, late, copy) on the first
# notebook, the reference on each other one; demo-full: the whole class on every notebook
demo: bwrap $(STAMP)
	$(BIN)/dlcourse demo

demo-full: bwrap $(STAMP)
	$(BIN)/dlcourse demo --class full

# everything but full-size training (about 25 minutes on 2 cores: 1,493 s measured from a fresh clone on 2026-12-07)
test: bwrap $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q -ra --durations=25 -m "not full"

# full-size training: the GAN's sample quality; the accuracy and held-out tests of the reference
# solutions and valid alternatives
test-full: bwrap $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q -ra --durations=25 -m full

# the in-process unit tests only: no notebook execution, no fixture kernels, no end-to-end grading
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q -m "not slow and not full" --ignore=tests/test_fixtures.py \
		--ignore=tests/test_notebooks.py --ignore=tests/test_colab.py --durations=10

# the reference solutions and valid alternatives of every exercise that trains or checks against
# PyTorch or Keras (Keras on its torch backend), on a CUDA device; no device: one line, exit 0.
# Needs no .venv, TensorFlow, Jupyter or nbgrader (the device machine has none): see README, "GPU".
# GPU_ARGS: e.g. --misconceptions (each must fail there too), --full, --only 07_gan
GPU_PYTHON := $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
test-gpu:
	@$(GPU_PYTHON) tests/gpu/run_gpu.py $(GPU_ARGS)

bench: bwrap $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.exercises
	$(BIN)/python -m benchmarks.driver_size
	$(BIN)/python -m benchmarks.serve_load

release: $(STAMP)
	$(BIN)/dlcourse release

bundle: $(STAMP)
	$(BIN)/dlcourse bundle build/student-bundle

# JupyterLab on 127.0.0.1 with nbgrader's formgrader and assignment list (LAB_PORT=8888 by default)
LAB_PORT ?= 8888
lab: $(STAMP)
	$(BIN)/dlcourse lab --port $(LAB_PORT)

lint: $(STAMP)
	$(BIN)/ruff check dlcourse tests benchmarks source grader_config.py

data: $(STAMP)
	$(BIN)/python -m dlcourse.instructor.make_data

clean:
	rm -rf submitted feedback reports build gradebook.db autograded/*/
