# One command runs the app, one command passes the tests; each sets itself up.
#   make run    -- create .venv, install the pinned set, start the app on http://localhost:8501
#   make test   -- create .venv, install the pinned set + test tools (and Chromium), run every test
#   make run-gpu -- the same .venv with CUDA-enabled TensorFlow instead of tensorflow-cpu, then start the app
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run run-gpu gpu-deps test test-fast lint bench clean-venv browser-deps screenshots web-deps

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	# The original backbone wheels, for the tests that check the Keras ports against them (never imported).
	$(BIN)/python -m pip download --quiet --no-deps -d $(VENV)/wheels aisfx==0.1.2 openwakeword==0.5.1
	# librosa's numba kernels compiled once, in one process (concurrent first compiles can corrupt numba's cache).
	$(BIN)/python scripts/warm_numba.py
	touch $(STAMP)

# The browser side (web/): onnxruntime-web from npm at the version web/package-lock.json pins, and the two files
# of it the Listen component loads (the single-threaded wasm runtime) copied into the component's folder, which
# the app serves itself: nothing is fetched from anywhere else at run time.
WEB_STAMP := web/component/vendor/.installed
ORT_DIST  := web/node_modules/onnxruntime-web/dist
$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian's nodejs and npm for the web side"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p web/component/vendor
	cp $(ORT_DIST)/ort.wasm.bundle.min.mjs web/component/vendor/ort.wasm.bundle.min.js
	cp $(ORT_DIST)/ort-wasm-simd-threaded.wasm web/component/vendor/
	touch $(WEB_STAMP)

web-deps: $(WEB_STAMP)

run: $(STAMP) $(WEB_STAMP)
	$(BIN)/python scripts/serve.py --server.port $(PORT)

# NVIDIA GPU: swap tensorflow-cpu for the CUDA build of the same version (requirements-gpu.txt) in the same .venv.
GPU_STAMP := $(VENV)/.installed-gpu
$(GPU_STAMP): $(STAMP) requirements-gpu.txt
	$(BIN)/python -m pip uninstall -y tensorflow-cpu tensorflow
	$(BIN)/python -m pip install --quiet -r requirements-gpu.txt
	touch $(GPU_STAMP)

gpu-deps: $(GPU_STAMP)
	$(BIN)/python -m audioclf device

run-gpu: gpu-deps $(WEB_STAMP)
	$(BIN)/python scripts/serve.py --server.port $(PORT)

# Debian's Chromium for the real-browser tests (no browser download: Playwright drives /usr/bin/chromium).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Two worker processes, one test file each at a time (a file's module fixtures, e.g. the browser tests' server,
# start once), the files in the order tests/conftest.py collects them (the long ones first: --no-loadscope-reorder
# keeps it); TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP) $(WEB_STAMP) browser-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

test-fast: $(STAMP) $(WEB_STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser and not realdata"

lint: $(STAMP)
	$(BIN)/ruff check audioclf tests bench scripts app.py pages

# The README's pictures (docs/img/*.png), from the browser walk of tests/app/test_browser.py.
screenshots: $(STAMP) browser-deps
	$(BIN)/python scripts/screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/features.py
	$(BIN)/python bench/models.py

clean-venv:
	rm -rf $(VENV)
