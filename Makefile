# The README's commands. Each target creates the environment first if it is missing.
#   make setup   .venv with everything, then the book on the embedded default (default preset)
#   make test    all tests: pytest, nbval on the golden smoke notebooks, a smoke book build
#                (with ../shared/data beside the checkout: also every real-data run, DATA_DIR=...)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Torch trap: pip here is configured (find-links) to prefer a local CPU-only torch wheel with which
# the registry's torchvision does not import. Install torch and torchvision together from the
# registry, with the machine's pip configuration bypassed; the check below proves the result.
# The [bench] extra (ART) is for the benchmarks and for the test that exact-mode UAPs equal ART's;
# the library itself never imports it.
# Exact versions: the golden notebooks' numbers are those of this torch (a newer release trains
# to other numbers from the same seed); torchvision 0.29 is the release built against torch 2.14.
PIP := env PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null $(VENV)/bin/pip
TORCH := "torch==2.14.1" "torchvision==0.29.1"
STAMP := $(VENV)/.medadv-installed
# Test-only packages installed without their dependencies (pyproject.toml's [tool.medadv] test-no-deps):
# torchattacks, the peer PGD the registry is cross-checked against, pins an old requests.
TEST_NO_DEPS := "torchattacks==3.5.1"
PAPERS = $$($(VENV)/bin/medadv list | grep -E '^[a-z0-9-]+:' | cut -d: -f1)
# The real data (folders named as in ../shared/data/). When it is there, the smoke book also runs
# every chapter on each real dataset it finds, and nbval replays one golden per real dataset.
DATA_DIR ?= ../shared/data
HAVE_DATA = [ -d "$(DATA_DIR)" ]
REAL_GOLDENS := uap-covidnet:covidx ten-attacks:kermany smia:retinamnist smia:covid-ct-infection backdoor:nih-cxr14

.PHONY: setup env browser book test test-lib test-notebooks test-book test-browser golden bench bench-book clean

setup: env browser book

env: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[bench]" $(TORCH)
	$(PIP) install --quiet --no-deps $(TEST_NO_DEPS)
	$(PY) -c "import torch, torchvision, torchvision.ops, timm, foolbox; \
	  print('torch', torch.__version__, '| torchvision', torchvision.__version__, \
	  '| CUDA available:', torch.cuda.is_available())"
	touch $(STAMP)

book: env browser
	$(VENV)/bin/medadv book --preset default
	$(VENV)/bin/medadv check-book --html _build/html --screenshots _build/screenshots

test: test-lib test-notebooks test-book test-browser

# Headless Chromium from Debian's packages, for the browser test of the book (Playwright drives it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

test-lib: env browser
	$(PY) -m pytest tests -q -p no:cacheprovider

# The goldens are made and replayed with the CPU's vector instructions held to a floor that every
# x86-64 machine has (ATen's default kernels, MKL's compatible path, oneDNN at SSE4.1): trained
# from the same seed, a model comes out differently with AVX2 than with AVX-512, so without the
# floor a golden made on one CI machine would not replay on another (measured: 4 of SMIA's 5
# checked cells differ between the two). About 1.6x slower; only the goldens use it.
CPU_FLOOR := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41

# nbval replays the goldens on the CPU with an EMPTY model cache: every model is retrained, so a
# change of the model or training code cannot hide behind an old checkpoint.
# The real-data goldens (NAME--DATASET.ipynb) read ../shared/data; without it they are left out.
test-notebooks: env
	cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	  if $(HAVE_DATA); then real=; else echo "no $(DATA_DIR): real-data goldens left out"; \
	    [ "$${MEDADV_REQUIRE_SHARED:-0}" = 0 ] || exit 1; real="--ignore-glob=tests/notebooks/*--*.ipynb"; fi && \
	  $(CPU_FLOOR) MEDADV_CACHE=$$cache MEDADV_PROGRESS=/dev/null CUDA_VISIBLE_DEVICES= TQDM_DISABLE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --nbval-lax tests/notebooks $$real \
	  --nbval-sanitize-with tests/notebooks/sanitize.cfg

# The smoke book, from an empty model cache (the path a newcomer takes).
test-book: env
	cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	  MEDADV_CACHE=$$cache $(VENV)/bin/medadv book --preset smoke \
	  $$($(HAVE_DATA) && echo --data-dir "$(DATA_DIR)")

# Every page of the built book in headless Chromium; screenshots in _build/screenshots/.
test-browser: env browser
	$(VENV)/bin/medadv check-book --html _build/html --screenshots _build/screenshots

# Refresh the golden smoke notebooks after an intended change of results (review the diff!).
# From an empty model cache, on the CPU, at the CPU floor: as nbval replays them.
golden: env
	cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && export $(CPU_FLOOR) MEDADV_CACHE=$$cache CUDA_VISIBLE_DEVICES= && \
	for name in $(PAPERS); do $(VENV)/bin/medadv run $$name --preset smoke --out tests/notebooks --quiet || exit 1; done && \
	for pair in $(REAL_GOLDENS); do $(VENV)/bin/medadv run $${pair%%:*} --preset smoke -p dataset $${pair##*:} \
	  --data-dir "$(DATA_DIR)" --out tests/notebooks --quiet || exit 1; done
	rm -f tests/notebooks/*.provenance.json

bench: env
	$(PY) benchmarks/attack_throughput.py
	$(PY) benchmarks/uap_vs_art.py
	$(PY) benchmarks/matrix_throughput.py
	$(PY) benchmarks/training_step.py

# issue 11's budget: every run of the default book (with $(DATA_DIR)'s real runs when present)
# timed from an empty model cache; about an hour on 2 CPU cores, so not part of `make bench`
bench-book: env
	$(PY) benchmarks/book_time.py --preset default $$($(HAVE_DATA) && echo --data-dir "$(DATA_DIR)")

clean:
	rm -rf _build runs book/notebooks book/status.md
