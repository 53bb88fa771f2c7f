"""The surfaces over the library: the HTTP API (FastAPI) and the ``rag`` command line."""
