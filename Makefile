# mnc_tf: one-command set-up.  `make install` is idempotent; `make test` and `make demo` depend on it.
# Quiet unless something fails (pip --quiet; build_op.py prints the compiler log only on failure;
# `make install V=1` shows the commands and the compiler output).
PYTHON_SYS ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
PIP        := $(VENV)/bin/pip
OP_LIB     := mnc_tf/ops/_roi_warp_ops.so
OP_SRCS    := $(wildcard custom_ops/roi_warp/*.cc custom_ops/roi_warp/*.h custom_ops/roi_warp/*.cu.cc) custom_ops/build_op.py
STAMP      := $(VENV)/.deps-installed
PYTEST_ARGS ?=

.PHONY: install op test test-fast demo bench cuda-harness clean FORCE

install: $(STAMP) $(OP_LIB)

Q := $(if $(filter 1,$(V)),,@)
BUILD_OP_VERBOSE := $(if $(filter 1,$(V)),--verbose,)

$(VENV)/bin/python:
	@echo "make install: creating $(VENV) with $(PYTHON_SYS)"
	$(Q)$(PYTHON_SYS) -m venv $(VENV)
	$(Q)$(PIP) install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python requirements.txt requirements-dev.txt setup.py pyproject.toml
	@echo "make install: pinned dependencies (requirements-dev.txt) and this package (editable)"
	$(Q)$(PIP) install --quiet -r requirements-dev.txt
	$(Q)PYTHONWARNINGS=ignore $(PIP) install --quiet --no-build-isolation --no-deps -e .
	$(Q)touch $(STAMP)

# Compiles the RoI-warp op against the venv's TensorFlow (flags from tf.sysconfig).
# The GPU kernels are added only when MNC_TF_CUDA=1 AND nvcc is found (on PATH or
# in $CUDA_HOME/bin); otherwise CPU kernels only.  OP_CUDA_FLAG records the choice,
# so switching MNC_TF_CUDA rebuilds the library.
NVCC_FOUND   := $(shell (command -v nvcc || test -x "$$CUDA_HOME/bin/nvcc") >/dev/null 2>&1 && echo 1)
OP_CUDA      := $(if $(and $(filter 1,$(MNC_TF_CUDA)),$(NVCC_FOUND)),1,0)
OP_CUDA_FLAG := custom_ops/build/op_cuda_flag

$(OP_CUDA_FLAG): FORCE
	@mkdir -p $(dir $@)
	@echo $(OP_CUDA) | cmp -s - $@ || echo $(OP_CUDA) > $@

$(OP_LIB): $(STAMP) $(OP_SRCS) $(OP_CUDA_FLAG)
	@if [ "$(MNC_TF_CUDA)" = 1 ] && [ "$(OP_CUDA)" = 0 ]; then \
	  echo "MNC_TF_CUDA=1 but nvcc was not found: building the CPU kernels only."; fi
	@echo "make install: compiling the RoI-warp op -> $(OP_LIB)"
	$(Q)MNC_TF_CUDA=$(OP_CUDA) TF_CPP_MIN_LOG_LEVEL=3 $(PY) custom_ops/build_op.py --output=$(OP_LIB) $(BUILD_OP_VERBOSE)

op: $(OP_LIB)

# The whole suite (what CI runs).
test: install
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

# The suite without the tests marked `slow` (training, compiling, packaging,
# subprocesses): a few minutes, for while you work.
test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS) tests

demo: install
	$(PY) -m tools.demo

bench: install
	$(PY) -m mnc_tf.benchmarks.roi_warp

cuda-harness:
	$(MAKE) -C custom_ops/cuda_harness

clean:
	rm -f $(OP_LIB)
	rm -rf build dist custom_ops/build custom_ops/cuda_harness/build *.egg-info
