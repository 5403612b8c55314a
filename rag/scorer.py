"""The answer scorer: a cross-encoder's probability that a sentence answers a question, run on onnxruntime."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.assets import file_sha256
from rag.errors import ConfigError

MAX_TOKENS = 64  # question + candidate + its context; the context after the candidate is cut first
PACKAGED = Path(__file__).resolve().parent / "data" / "scorer"
MANIFEST = "manifest.json"


def pair_text(title: str, before: str, sentence: str) -> str:
    """What the scorer reads beside the question: the candidate first (never truncated away), then its context."""
    context = " | ".join(x.strip() for x in (title, before) if x and x.strip())
    return f"{sentence.strip()} | {context}" if context else sentence.strip()


def window_parts(window: str) -> tuple[str, str, str]:
    """Split an answer window 'title\\nbefore\\nsentence' (evidence.sentence_windows) into its three parts."""
    title, _, rest = window.partition("\n")
    before, _, sentence = rest.partition("\n")
    return title, before, sentence


class AnswerScorer:
    """The packaged (or any exported) ONNX cross-encoder: ``probs(question, texts)`` in [0, 1]."""

    def __init__(self, folder: Path = PACKAGED, threads: int = 1, cache_size: int = 8192) -> None:
        manifest_path = folder / MANIFEST
        fix = "Reinstall the package (`make setup`), or set RAG_SCORER=none to answer without the scorer."
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"The answer scorer's manifest {manifest_path} is missing or unreadable ({exc}). {fix}") from None
        model = folder / manifest["model"]
        tokenizer = folder / manifest["tokenizer"]
        for path, key in ((model, "model_sha256"), (tokenizer, "tokenizer_sha256")):
            if not path.is_file():
                raise ConfigError(f"The answer scorer's file {path} is missing. {fix}")
            if file_sha256(path) != manifest[key]:
                raise ConfigError(f"The answer scorer's file {path} is corrupt (its sha256 does not match "
                                  f"{manifest_path}). {fix}")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tok = Tokenizer.from_file(str(tokenizer))
        self._tok.no_padding()  # tokenizer.json pads to 128: batches are padded here, to their longest pair
        self._tok.enable_truncation(int(manifest.get("max_tokens", MAX_TOKENS)), strategy="only_second")
        self.name = str(manifest.get("name", folder.name))
        self._cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def probs(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text (``pair_text``) answers the question; cached per (question, text)."""
        out = np.zeros(len(texts), dtype=np.float32)
        todo: list[int] = []
        with self._lock:
            for i, t in enumerate(texts):
                hit = self._cache.get((question, t))
                if hit is None:
                    todo.append(i)
                else:
                    out[i] = hit
        if todo:
            logits = self._logits(question, [texts[i] for i in todo])
            fresh = 1.0 / (1.0 + np.exp(-logits))
            with self._lock:
                for i, p in zip(todo, fresh, strict=True):
                    out[i] = p
                    self._cache[(question, texts[i])] = float(p)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def _logits(self, question: str, texts: list[str]) -> np.ndarray:
        encs = self._tok.encode_batch([(question, t) for t in texts])
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = np.zeros(len(encs), dtype=np.float32)
        for lo in range(0, len(order), 16):  # batches of similar length: little padding
            idx = order[lo : lo + 16]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for r, i in enumerate(idx):
                e = encs[i]
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1
                types[r, : len(e.ids)] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            res = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            out[idx] = np.asarray(res, dtype=np.float32).reshape(len(idx), -1)[:, 0]
        return out


class CrossEncoderScorer:
    """Any local sentence-transformers cross-encoder (bge-reranker, ms-marco…), through torch."""

    def __init__(self, path: Path) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(str(path), device="cpu")
        self.name = path.name

    def probs(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        scores = np.asarray(self._model.predict([(question, t) for t in texts], show_progress_bar=False),
                            dtype=np.float32)
        if scores.ndim > 1:
            scores = scores[:, -1]
        return scores if (scores.min() >= 0 and scores.max() <= 1) else 1.0 / (1.0 + np.exp(-scores))
