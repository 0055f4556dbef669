# The README's commands. Each target creates the environment first if it is missing.
#   make setup   .venv with everything, then the book on the embedded default (default preset)
#   make test    all tests: pytest, nbval on the golden smoke notebooks, a smoke book build
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Torch trap: pip here is configured (find-links) to prefer a local CPU-only torch wheel with which
# the registry's torchvision does not import. Install torch and torchvision together from the
# registry, with the machine's pip configuration bypassed; the check below proves the result.
# The [bench] extra (ART) is for the benchmarks and for the test that exact-mode UAPs equal ART's;
# the library itself never imports it.
PIP := env PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null $(VENV)/bin/pip
STAMP := $(VENV)/.medadv-installed
PAPERS = $$($(VENV)/bin/medadv list | grep -E '^[a-z0-9-]+:' | cut -d: -f1)

.PHONY: setup env browser book test test-lib test-notebooks test-book test-browser golden bench clean

setup: env browser book

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch>=2.4" "torchvision>=0.19"
	$(PIP) install --quiet -e ".[bench]"
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

# nbval replays the goldens on the CPU with an EMPTY model cache: every model is retrained, so a
# change of the model or training code cannot hide behind an old checkpoint.
test-notebooks: env
	cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	  MEDADV_CACHE=$$cache MEDADV_PROGRESS=/dev/null CUDA_VISIBLE_DEVICES= TQDM_DISABLE=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --nbval-lax tests/notebooks \
	  --nbval-sanitize-with tests/notebooks/sanitize.cfg

# The smoke book, from an empty model cache (the path a newcomer takes).
test-book: env
	cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	  MEDADV_CACHE=$$cache $(VENV)/bin/medadv book --preset smoke

# Every page of the built book in headless Chromium; screenshots in _build/screenshots/.
test-browser: env browser
	$(VENV)/bin/medadv check-book --html _build/html --screenshots _build/screenshots

# Refresh the golden smoke notebooks after an intended change of results (review the diff!).
golden: env
	for name in $(PAPERS); do $(VENV)/bin/medadv run $$name --preset smoke --out tests/notebooks --quiet || exit 1; done
	rm -f tests/notebooks/*.provenance.json

bench: env
	$(PY) benchmarks/attack_throughput.py
	$(PY) benchmarks/uap_vs_art.py
	$(PY) benchmarks/matrix_throughput.py

clean:
	rm -rf _build runs book/notebooks book/status.md
