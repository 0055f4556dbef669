# The README's commands. Each target creates the environment first if it is missing.
#   make setup   .venv with everything, then the book on the embedded default (default preset)
#   make test    all tests: pytest, nbval on the golden smoke notebooks, a smoke book build
#                (with ../shared/data beside the checkout: also every real-data run, DATA_DIR=...)
#   make test-fast  the library tests that train nothing and run no notebook (under 3 minutes)
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

.PHONY: setup env browser book test test-fast test-lib test-notebooks test-book test-browser golden bench bench-book \
  profile gpu-check clean

# Independent work runs side by side, one process per core at one torch thread each (on 2 cores two
# 1-thread processes do 1.4-1.9x the work of one 2-thread process on these models): pytest and
# nbval through pytest-xdist, the book's runs through its process pool (`medadv book --jobs`).
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# The book's runs side by side (BOOK_JOBS=1: one after another). The pool's hang of 2026-12-01 was
# two kernels sharing IPC socket files in the shared output folder (fixed in runner._Kernel;
# tests/test_runner_kernel.py).
BOOK_JOBS ?= $(JOBS)
XDIST = $$([ $(JOBS) -gt 1 ] && echo "-n $(JOBS)")

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
	$(VENV)/bin/medadv book --preset default --jobs $(BOOK_JOBS)
	$(VENV)/bin/medadv check-book --html _build/html --screenshots _build/screenshots

# One model cache for the whole run, empty at the start: nbval's replay of the goldens trains every
# smoke model once (from an empty cache, see test-notebooks), and the smoke book then finds them,
# so no model is trained twice. Each stage prints its wall time.
test: env browser
	@cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && start=$$SECONDS && \
	for stage in test-lib test-notebooks test-book test-browser; do s=$$SECONDS; \
	  $(MAKE) --no-print-directory $$stage MODEL_CACHE=$$cache || exit 1; \
	  echo "== $$stage: $$(( SECONDS - s )) s"; done && echo "== make test: $$(( SECONDS - start )) s"

# The everyday loop: every library test that trains no model and runs no notebook (marker `slow`).
test-fast: env
	$(ONE_THREAD) $(PY) -m pytest tests -q -p no:cacheprovider -m "not slow" $(XDIST)

# Headless Chromium from Debian's packages, for the browser test of the book (Playwright drives it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

# --dist loadscope: a module's tests stay on one worker, so its module-scoped models train once.
test-lib: env browser
	$(ONE_THREAD) $(PY) -m pytest tests -q -p no:cacheprovider $(XDIST) $$([ $(JOBS) -gt 1 ] && echo --dist loadscope)

# The goldens are made and replayed with the CPU's vector instructions held to a floor that every
# x86-64 machine has (ATen's default kernels, MKL's compatible path, oneDNN at SSE4.1): trained
# from the same seed, a model comes out differently with AVX2 than with AVX-512, so without the
# floor a golden made on one CI machine would not replay on another (measured: 4 of SMIA's 5
# checked cells differ between the two). About 1.6x slower; only the goldens use it.
# The torch thread count is part of the floor too: a reduction split over 1 thread rounds otherwise
# than over 2 (measured: at 1 thread SMIA's clean IoU reads 0.904 [0.878, 0.925] against the
# golden's 0.906 [0.882, 0.927], and 20 of 67 checked cells of smia x3 and backdoor differ), so a
# golden made on a 2-core machine would not replay on a 4-core one. The goldens are made and
# replayed at 1 thread, so nbval replays JOBS goldens side by side (1.4-1.9x the throughput on 2
# cores) and a machine with more cores replays them alike.
GOLDEN_THREADS ?= 1
CPU_FLOOR := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 \
  OMP_NUM_THREADS=$(GOLDEN_THREADS) MKL_NUM_THREADS=$(GOLDEN_THREADS)
NBVAL_JOBS = $$(( $(JOBS) / $(GOLDEN_THREADS) ))

# nbval replays the goldens on the CPU with an EMPTY model cache: every model is retrained, so a
# change of the model or training code cannot hide behind an old checkpoint. MODEL_CACHE (set by
# `make test`) names that cache, so that the smoke book reuses what it trained; it must be empty.
# The real-data goldens (NAME--DATASET.ipynb) read ../shared/data; without it they are left out.
# The goldens run JOBS / GOLDEN_THREADS at a time (--dist loadfile: a notebook's cells stay in one
# kernel), in the order tests/conftest.py sets (the matrix after the chapters it uses).
test-notebooks: env
	cache=$${MODEL_CACHE:-$$(mktemp -d)} && [ -n "$(MODEL_CACHE)" ] || trap 'rm -rf "$$cache"' EXIT; \
	  [ -z "$$(ls -A "$$cache")" ] || { echo "model cache $$cache is not empty: nbval needs an empty one"; exit 1; } && \
	  if $(HAVE_DATA); then real=; else echo "no $(DATA_DIR): real-data goldens left out"; \
	    [ "$${MEDADV_REQUIRE_SHARED:-0}" = 0 ] || exit 1; real="--ignore-glob=tests/notebooks/*--*.ipynb"; fi && \
	  $(CPU_FLOOR) MEDADV_CACHE=$$cache MEDADV_PROGRESS=/dev/null CUDA_VISIBLE_DEVICES= TQDM_DISABLE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --nbval-lax tests/notebooks $$real \
	  --nbval-sanitize-with tests/notebooks/sanitize.cfg \
	  $$(n=$(NBVAL_JOBS); [ $$n -gt 1 ] && echo "-n $$n --dist loadfile --no-loadscope-reorder")

# The smoke book. On its own: from an empty model cache (the path a newcomer takes). Under
# `make test`: from the cache nbval just filled (MODEL_CACHE), so it trains only the models no
# golden trains. Those checkpoints were trained at the CPU floor; the checkpoint key does not depend
# on the ISA (a model is keyed by its configuration, code and data), and the smoke book's numbers
# are checked by nothing but the build and the browser, so reusing them weakens no check.
# $(JOBS) runs side by side (the matrix pages after the chapters' runs on their dataset).
test-book: env
	cache=$${MODEL_CACHE:-$$(mktemp -d)} && [ -n "$(MODEL_CACHE)" ] || trap 'rm -rf "$$cache"' EXIT; \
	  MEDADV_CACHE=$$cache $(VENV)/bin/medadv book --preset smoke --jobs $(BOOK_JOBS) \
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

# Where the book's time goes, by stage (kernel start, data, training, attacks, UAPs, metrics,
# figures, book build): every run of the book at PROFILE_PRESET from an empty model cache, $(JOBS)
# side by side, then jupyter-book build; benchmarks/profile_book.py --from DIR profiles runs already
# executed (book/notebooks, tests/notebooks) without running anything.
PROFILE_PRESET ?= default
profile: env
	$(PY) benchmarks/profile_book.py --preset $(PROFILE_PRESET) --jobs $(JOBS) --build \
	  $$($(HAVE_DATA) && echo --data-dir "$(DATA_DIR)")

# One CUDA GPU (H100/H200 class), about 10 minutes: every chapter at the paper preset's image size
# and width on fewer images (wall time, peak GPU memory) and the paper-preset UAP extrapolated from a
# timed slice. Fails at once, saying so, without a CUDA device (--dry-run shows the plan anywhere).
gpu-check: env
	$(PY) benchmarks/gpu_check.py --device cuda

clean:
	rm -rf _build runs book/notebooks book/status.md
