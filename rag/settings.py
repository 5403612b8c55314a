"""One settings object, read from ``RAG_*`` environment variables and ``.env``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

# Settings that were removed, and what replaces them: set, they are an error rather than silently ignored
REMOVED = {
    "RAG_SCORER_ROLE": "the scorer has one role now (the rules draft, a refusal model over the scorer decides); "
                       "unset it",
    "RAG_SCORER_CUTOFF": "it is now RAG_REFUSAL_CUTOFF (the refusal model's probability, 0-1)",
}


class Settings(BaseSettings):
    """Every knob of the system, each with an offline default.

    Set any field as ``RAG_<FIELD>`` in the environment or in a ``.env`` file,
    for example ``RAG_LLM=openai``. The API key is read from ``OPENAI_API_KEY``
    (or ``RAG_OPENAI_API_KEY``) and is never printed.
    """

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    def __init__(self, **values: Any) -> None:
        """Read the settings; a removed or invalid one is a ConfigError naming the variable and its fix."""
        removed = _removed_set(values.get("_env_file", self.model_config.get("env_file")))
        if removed:
            name, where = removed[0]
            raise ConfigError(f"{name} (set in {where}) is no longer a setting: {REMOVED[name]}.")
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError("; ".join(_problem(e) for e in exc.errors()) + ". Fix it in the environment or .env "
                              "(docs/configuration.md lists every setting).") from None

    # --- storage -------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".rag"),
        description="Directory holding the embedded Chroma database and the lexical (BM25) index.",
    )
    collection: str = Field(
        default="articles", description="Name of the Chroma collection that holds the chunks."
    )
    chroma_host: str | None = Field(
        default=None,
        description="Host of a Chroma server (`chroma run`). Unset: use the embedded PersistentClient under data_dir.",
    )
    chroma_port: int = Field(default=8000, description="Port of the Chroma server when chroma_host is set.")

    # --- embeddings ----------------------------------------------------------
    embed_backend: Literal["local", "openai"] = Field(
        default="local",
        description="`local`: sentence-transformers model shipped in a package (offline), run on onnxruntime (torch only for models ONNX cannot reproduce). `openai`: any OpenAI-compatible /embeddings endpoint.",
    )
    embed_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Embedding model: a local directory, the packaged `all-MiniLM-L6-v2`, or an OpenAI model name such as `text-embedding-3-small`.",
    )
    embed_base_url: str | None = Field(
        default=None, description="Base URL of the OpenAI-compatible embeddings endpoint (defaults to llm_base_url)."
    )
    embed_batch_size: int = Field(default=64, description="Chunks embedded per batch during ingestion.", ge=1)
    query_threads: int = Field(
        default=1, ge=0,
        description="CPU threads used to embed a question (a handful of texts). 1 keeps answers fast while an ingest "
        "or other requests use the other cores: on 2 busy cores, 1 thread embedded a question in ~20 ms where 2 "
        "threads took ~500 ms. 0: one per core. Ingestion always uses one per core.",
    )

    # --- ingestion -----------------------------------------------------------
    chunk_size: int = Field(
        default=128, description="Target chunk size in tokens (cl100k); chunks end on sentence boundaries.", ge=16
    )
    chunk_overlap: int = Field(
        default=32, description="Tokens of trailing sentences repeated at the start of the next chunk.", ge=0
    )
    max_file_mb: float = Field(default=20.0, description="Files larger than this are skipped with a message.", gt=0)
    near_duplicate_threshold: float = Field(
        default=0.9, description="Shingle Jaccard similarity above which two documents count as the same story."
    )

    # --- answering -----------------------------------------------------------
    context_tokens: int = Field(
        default=1200, description="Token budget of retrieved context passed to the synthesizer.", ge=100
    )
    candidates: int = Field(default=40, description="Candidates fetched from each retriever before fusion.", ge=1)
    rrf_k: int = Field(default=60, description="Reciprocal-rank-fusion constant.", ge=1)
    max_question_chars: int = Field(
        default=2000, description="Questions longer than this are rejected with a message.", ge=10
    )
    abstain_threshold: float = Field(
        default=0.25,
        description="Minimum evidence score (0-1) of the best sentence; below it the system says the articles don't cover the question.",
    )
    answer_sentences: int = Field(default=3, description="Most sentences in an extractive answer.", ge=1)
    scorer: str = Field(
        default="packaged",
        description="The answer scorer that picks the lead sentence and decides a refusal: `packaged` (the default: "
        "the cross-encoder shipped in rag/data/scorer, on onnxruntime; a lead model over its probabilities, retrieval "
        "and the answer-type model picks the lead, and a refusal model says whether to answer), `none` (no "
        "cross-encoder: the fit draft alone, which measures worse), or the "
        "path of an exported scorer folder (scripts/train_scorer.py --export) or a local sentence-transformers "
        "cross-encoder (bge-reranker, ms-marco…).",
    )
    refusal_cutoff: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Probability (0-1) the refusal model must give that the articles answer the question; below "
        "it the system says they don't. Higher refuses more. Unset: the refusal model's own cutoff, chosen on the "
        "tuning sets by scripts/fit_refusal.py (0.60 for the packaged reader, or the cutoff in a local scorer "
        "folder's refusal.json).",
    )

    # --- generation ----------------------------------------------------------
    llm: Literal["none", "openai", "local"] = Field(
        default="none",
        description="`none`: extractive answers (offline). `openai`: any OpenAI-compatible server. `local`: the packaged SmolLM2 GGUF through llama-cpp-python.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the OpenAI-compatible server.")
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 for Ollama. Unset: api.openai.com.",
    )
    llm_timeout_s: float = Field(default=60.0, description="Seconds to wait for the LLM before falling back.", gt=0)
    llm_max_tokens: int = Field(default=400, description="Most tokens the LLM may generate per answer.", ge=16)
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "RAG_OPENAI_API_KEY"),
        description="API key for the OpenAI-compatible server. Read from OPENAI_API_KEY; never logged or shown.",
    )
    support_threshold: float = Field(
        default=0.55, description="Minimum support score (0-1) for an LLM sentence to count as backed by its citation."
    )

    # --- UI ------------------------------------------------------------------
    ui_host: str = Field(default="127.0.0.1", description="Address the chat UI binds to.")
    ui_port: int = Field(default=7860, description="Port of the chat UI.")
    ui_auth: SecretStr | None = Field(
        default=None, description="`user:password` for the UI; required when ui_host is not a loopback address."
    )
    upload_max_mb: float = Field(default=10.0, description="Largest file the UI accepts for upload.", gt=0)

    @property
    def chroma_path(self) -> Path:
        """Directory of the embedded Chroma database."""
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        """Directory of the persisted BM25 index."""
        return self.data_dir / "lexical"


def _removed_set(env_file: Any) -> list[tuple[str, str]]:
    """The removed settings still set, each with where: the environment or a .env file."""
    files = [] if not env_file else [env_file] if isinstance(env_file, (str, Path)) else list(env_file)
    found = [(name, "the environment") for name in REMOVED if os.environ.get(name)]
    for f in map(Path, files):
        if f.is_file():
            keys = {k.upper() for k, v in dotenv_values(f).items() if v}
            found += [(name, str(f)) for name in REMOVED if name in keys]
    return found


def _problem(error: Any) -> str:
    """One invalid setting as its variable, its value (never a secret's) and what is wrong."""
    name = "_".join(str(p) for p in error["loc"]).upper()
    name = name if name.startswith(("RAG_", "OPENAI_")) else f"RAG_{name}"
    secret = any(w in name for w in ("KEY", "TOKEN", "SECRET", "PASSWORD"))
    return f"{name}{'' if secret else '=' + repr(error.get('input'))} is invalid: {error['msg']}"
