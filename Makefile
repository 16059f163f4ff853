# Two commands do all set-up: `make test` and `make demo`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
SAM2_VERSION := 1.1.0
SAMPLE := sample_data/sample.mp4

.PHONY: install test lint demo bench clean

install: $(STAMP)

# Order matters (docs/architecture.md, "SAM 2 facts"): torch first (CPU build where there is no NVIDIA GPU), then the
# packages sam2 needs, then sam2 itself without its declared deps (they would pull torchvision and a CUDA torch).
$(STAMP): pyproject.toml Makefile scripts/install_torch.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	sh scripts/install_torch.sh $(PY)
	$(PIP) install -q "hydra-core>=1.3.2" "iopath>=0.1.10" numpy pillow tqdm
	SAM2_BUILD_CUDA=$${SAM2_BUILD_CUDA:-0} $(PIP) install -q --no-deps --no-build-isolation sam2==$(SAM2_VERSION)
	$(PIP) install -q -e ".[dev,ray]"
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

$(SAMPLE): | $(STAMP)  # committed; rebuilt only when missing (another FFmpeg writes other bytes)
	$(PY) scripts/make_sample_clip.py $(SAMPLE)

demo: $(STAMP) $(SAMPLE)
	$(VENV)/bin/sam2tui $(SAMPLE)

bench: $(STAMP) $(SAMPLE)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
