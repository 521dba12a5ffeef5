# ganvq: `make demo` and `make test` work on a fresh machine (Debian/Ubuntu with python3).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FMNIST := /usr/share/datasets/fashion-mnist
DEMO ?= demo
# as root apt-get runs directly; otherwise through sudo where it exists
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install data browser demo test bench lint clean

install: $(VENV)/.installed

# torch first, pinned: an unpinned torch resolves to a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(BIN)/pip install -q torch==2.13.0 2>&1 | grep -v "is ignored" || true
	$(BIN)/pip install -q -e '.[dev,inception,bench,db,privacy]' 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import ganvq, torch; assert torch.__version__.startswith('2.13.0')"
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist package (or already in $GANVQ_DATA).
data:
	@if [ -f $(FMNIST)/t10k-images-idx3-ubyte.gz ] || [ -f "$$GANVQ_DATA/fashion-mnist/t10k-images-idx3-ubyte.gz" ]; then \
	  echo "Fashion-MNIST: found"; \
	elif command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else \
	  echo "Fashion-MNIST is missing: put the four IDX .gz files in \$$GANVQ_DATA/fashion-mnist/"; exit 1; \
	fi

# Short VQ-VAE and GAN runs, then reconstructions, samples, scores and one page: demo/index.html.
demo: install data
	rm -rf $(DEMO)
	$(BIN)/ganvq train vqvae --data fashion-mnist --preset fmnist-7x7 --minutes 3 --out $(DEMO)/vqvae
	$(BIN)/ganvq reconstruct --ckpt $(DEMO)/vqvae --input fashion-mnist --limit 64 --out $(DEMO)/reconstructions
	$(BIN)/ganvq eval vqvae --ckpt $(DEMO)/vqvae
	$(BIN)/ganvq train gan --data fashion-mnist --preset fmnist-best --minutes 3 --out $(DEMO)/gan
	$(BIN)/ganvq sample --ckpt $(DEMO)/gan --n 100 --out $(DEMO)/samples.png
	$(BIN)/ganvq eval gan --ckpt $(DEMO)/gan --n 5000
	$(BIN)/ganvq report $(DEMO)/vqvae $(DEMO)/gan --out $(DEMO)/index.html
	@echo "Open $(DEMO)/index.html"

# Debian's chromium, for the report's browser test (the test installs it too, and fails without it).
browser:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then \
	  echo "chromium: found"; \
	else \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

test: install data browser
	$(BIN)/python -m pytest

# The layer contracts in pyproject.toml (import-linter); make test checks them too (tests/test_layers.py).
lint: install
	$(BIN)/lint-imports

# About 3.5 hours on 2 cores: each benchmark trains at its stated wall-clock budgets (the GAN one
# trains its 1,000-image runs on 3 seeds each).
bench: install data
	$(BIN)/python benchmarks/bench_vqvae.py
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_gan.py

clean:
	rm -rf $(VENV) $(DEMO) runs build src/*.egg-info .pytest_cache
