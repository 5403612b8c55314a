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
HOLDS = ("either an exported scorer (manifest.json and the ONNX model and tokenizer.json it names, as "
         "scripts/train_scorer.py --export writes them) or a sentence-transformers cross-encoder (config.json, its "
         "weights and its tokenizer files)")


def folder_fix(folder: Path) -> str:
    """What fixes a broken scorer folder: reinstalling, for the packaged one; the folder itself, for the user's own."""
    if folder.resolve() == PACKAGED.resolve():
        return "Reinstall the package (`make setup`)."
    return (f"The folder {folder} must hold {HOLDS}: put a working model there, or point RAG_SCORER at another "
            "folder, or set RAG_SCORER=packaged.")


def pair_text(title: str, before: str, sentence: str, after: str = "") -> str:
    """What the scorer reads beside the question: the candidate first (never truncated away), then its context
    (title, the sentence before, and for a model trained with neighbours the sentence after)."""
    context = " | ".join(x.strip() for x in (title, before, after) if x and x.strip())
    return f"{sentence.strip()} | {context}" if context else sentence.strip()


def window_parts(window: str) -> tuple[str, str, str, str]:
    """Split an answer window 'title\\nbefore\\nsentence\\nafter' (evidence.sentence_windows) into its parts."""
    title, before, sentence, after = ([*window.split("\n", 3), "", "", ""])[:4]
    return title, before, sentence, after


class AnswerScorer:
    """The packaged (or any exported) ONNX reader: ``probs(question, texts)`` in [0, 1]."""

    def __init__(self, folder: Path = PACKAGED, threads: int = 1, cache_size: int = 8192) -> None:
        manifest_path = folder / MANIFEST
        fix = folder_fix(folder)
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"The answer scorer's manifest {manifest_path} is missing or unreadable ({exc}). {fix}") from None
        try:
            model, tokenizer = folder / manifest["model"], folder / manifest["tokenizer"]
            sums = (manifest["model_sha256"], manifest["tokenizer_sha256"])
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"The answer scorer's manifest {manifest_path} has no {exc} entry. {fix}") from None
        for path, expected in zip((model, tokenizer), sums, strict=True):
            if not path.is_file():
                raise ConfigError(f"The answer scorer's file {path} is missing. {fix}")
            if file_sha256(path) != expected:
                raise ConfigError(f"The answer scorer's file {path} is corrupt (its sha256 does not match "
                                  f"{manifest_path}). {fix}")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types (InvalidProtobuf, Fail…)
            raise ConfigError(f"The answer scorer's file {model} is not an ONNX model onnxruntime can load "
                              f"({type(exc).__name__}). {fix}") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        try:
            self._tok = Tokenizer.from_file(str(tokenizer))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on a bad file
            raise ConfigError(f"The answer scorer's file {tokenizer} is not a tokenizer.json tokenizers can load "
                              f"({type(exc).__name__}). {fix}") from None
        self._tok.no_padding()  # tokenizer.json pads to 128: batches are padded here, to their longest pair
        # the longer of question and candidate is cut first: the candidate's context, as in training, and a question
        # too long for the window too, instead of an error (only_second fails on a question over the window)
        self._tok.enable_truncation(int(manifest.get("max_tokens", MAX_TOKENS)), strategy="longest_first")
        self.name = str(manifest.get("name", folder.name))
        self.context = str(manifest.get("context", "before"))  # "neighbours": it reads the sentence after too
        self.spans = len(self._session.get_outputs()) > 1  # a reader trained with answer spans exports them
        self._cache: OrderedDict[tuple[str, str], tuple[float, tuple[int, int] | None]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def probs(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text (``pair_text``) answers the question; cached per (question, text)."""
        return np.asarray([p for p, _ in self._read(question, texts)], dtype=np.float32)

    def span(self, question: str, text: str) -> tuple[int, int] | None:
        """Where in the candidate sentence (the start of ``text``) the reader puts the short answer: character
        offsets, or None for a reader without an answer-span head."""
        return self._read(question, [text])[0][1]

    def _read(self, question: str, texts: Sequence[str]) -> list[tuple[float, tuple[int, int] | None]]:
        out: list[tuple[float, tuple[int, int] | None] | None] = [None] * len(texts)
        todo: list[int] = []
        with self._lock:
            for i, t in enumerate(texts):
                out[i] = self._cache.get((question, t))
                if out[i] is None:
                    todo.append(i)
        if todo:
            fresh = self._run(question, [texts[i] for i in todo])
            with self._lock:
                for i, got in zip(todo, fresh, strict=True):
                    out[i] = got
                    self._cache[(question, texts[i])] = got
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out  # type: ignore[return-value]

    def _run(self, question: str, texts: list[str]) -> list[tuple[float, tuple[int, int] | None]]:
        encs = self._tok.encode_batch([(question, t) for t in texts])
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out: list[tuple[float, tuple[int, int] | None]] = [(0.0, None)] * len(encs)
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
            res = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
            logits = np.asarray(res[0], dtype=np.float32).reshape(len(idx), -1)[:, 0]
            for r, i in enumerate(idx):
                prob = float(1.0 / (1.0 + np.exp(-logits[r])))
                out[i] = (prob, _best_span(encs[i], res[1][r], texts[i]) if self.spans else None)
        return out


def _best_span(enc, span_logits: np.ndarray, text: str, longest: int = 24) -> tuple[int, int] | None:  # noqa: ANN001
    """The highest-scoring (start, end) token pair inside the candidate sentence (the text before its first ' | '),
    as character offsets in it."""
    end_of_sentence = text.find(" | ")
    end_of_sentence = len(text) if end_of_sentence < 0 else end_of_sentence
    tokens = [t for t, (kind, (a, b)) in enumerate(zip(enc.type_ids, enc.offsets, strict=True))
              if kind == 1 and b > a and b <= end_of_sentence]
    if not tokens:
        return None
    start, end = span_logits[tokens, 0], span_logits[tokens, 1]
    best, pair = -np.inf, None
    for i in range(len(tokens)):
        for j in range(i, min(len(tokens), i + longest)):
            if start[i] + end[j] > best:
                best, pair = start[i] + end[j], (tokens[i], tokens[j])
    assert pair is not None
    return enc.offsets[pair[0]][0], enc.offsets[pair[1]][1]


class CrossEncoderScorer:
    """Any local sentence-transformers cross-encoder (bge-reranker, ms-marco…), through torch."""

    def __init__(self, path: Path) -> None:
        if not (path / "config.json").is_file():
            raise ConfigError(f"RAG_SCORER names {path}, which holds no model: it has neither manifest.json nor "
                              f"config.json. {folder_fix(path)}")
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - transformers and torch raise many types on a bad folder
            raise ConfigError(f"RAG_SCORER names {path}, which does not load as a cross-encoder "
                              f"({type(exc).__name__}: {str(exc)[:200]}). {folder_fix(path)}") from None
        self.name = path.name

    def probs(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        scores = np.asarray(self._model.predict([(question, t) for t in texts], show_progress_bar=False),
                            dtype=np.float32)
        if scores.ndim > 1:
            scores = scores[:, -1]
        return scores if (scores.min() >= 0 and scores.max() <= 1) else 1.0 / (1.0 + np.exp(-scores))
