"""A learned answer type: how likely a sentence's words are the kind of answer a question asks for.

A logistic model over hashed features, trained on SQuAD 1.1 train by scripts/train_answer_type.py: each word of the
answer sentence is labelled by whether it lies inside the answer span. A word's features are its shape ('Xx', 'dddd',
'$d.d'), itself and its neighbours, whether the question already uses it, each crossed with the question's wh-words
('how many', 'what year') and the noun they ask about. What it learns is the answer type ('how much … cost' wants a
sum, 'who' a name the question does not give) without a rule per type.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.assets import file_sha256
from rag.errors import ConfigError

MODEL = Path(__file__).resolve().parent.parent / "data" / "answer_type.npz"
MODEL_SHA256 = "1801f0ae84981845ce3d812168e254d0b1e1d2700774d9344eb6a626965aba8e"  # checked at every load
BITS = 20  # hashed feature space: 2**20 weights
CUTOFF = 0.05  # a sentence offers the asked-for kind of answer when one of its new words scores this much
_EDGE = ".,;:!?()[]{}\"'“”‘’«»—–…"
_WH = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_SKIP = {"is", "was", "are", "were", "the", "a", "an", "did", "does", "do", "has", "have", "had", "of", "in", "to",
         "kind", "type", "sort", "many", "much", "exact", "specific", "new", "other", "first"}


def words(text: str) -> list[tuple[str, int, int]]:
    """The text's words with their character spans, edge punctuation stripped ('(2024),' -> '2024')."""
    return [(core, start, end) for core, start, end, _ in _tokens(text)]


def _tokens(text: str) -> list[tuple[str, int, int, str]]:
    """``words`` with the punctuation stripped from each word's edges ('(2024),' -> '(,')."""
    out, i, n = [], 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        j = i
        while j < n and not text[j].isspace():
            j += 1
        word = text[i:j]
        core = word.strip(_EDGE)
        if core:
            start = i + word.index(core)
            out.append((core, start, start + len(core), word.replace(core, "", 1)))
        i = j
    return out


def shape(word: str) -> str:
    """The word's shape: letters as X or x and digits as d, runs of letters collapsed, digit runs up to four kept."""
    out: list[str] = []
    run = 0
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        run = run + 1 if out and out[-1] == c else 1
        if c in "Xx" and run > 1 or c == "d" and run > 4:
            continue
        out.append(c)
    return "".join(out)[:8]


def question_features(question: str) -> list[str]:
    """What the model reads of the question: its first wh-word, the two words after it, and the noun asked about."""
    ws = [w.lower() for w, _, _ in words(question)]
    at = next((i for i, w in enumerate(ws) if w in _WH), None)
    if at is None:
        return ["*", "wh=" + (ws[0] if ws else "")]
    rest = ws[at + 1 :]
    head = next((w for w in rest if w not in _SKIP), "")
    return ["*", "wh=" + ws[at], "wh2=" + " ".join(ws[at : at + 2]), "wh3=" + " ".join(ws[at : at + 3]),
            f"head={ws[at]} {head}"]


@lru_cache(maxsize=512)
def _read(question: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The question's features and the words it uses (lower-cased), read once per question, not per sentence."""
    return tuple(question_features(question)), frozenset(w.lower() for w, _, _ in words(question))


def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) & ((1 << BITS) - 1)


def word_features(question: str, sentence: str) -> tuple[list[list[int]], list[tuple[str, int, int]]]:
    """Each word's hashed feature indices (its features crossed with the question's), and the words."""
    qf, asked = _read(question)
    tokens = _tokens(sentence)
    lowered = [t[0].lower() for t in tokens]
    rows = []
    for i, (w, _, _, edge) in enumerate(tokens):
        own = ["s=" + shape(w), "w=" + w[:20], "p=" + (lowered[i - 1] if i else "^"),
               "n=" + (lowered[i + 1] if i + 1 < len(tokens) else "$"), "x=" + lowered[i][-3:],
               "pp=" + (lowered[i - 2] if i > 1 else "^"), "e=" + edge[:3]]
        if lowered[i] in asked:
            own.append("asked")
        if i == 0:
            own.append("first")
        rows.append([_bucket(f"{q}&{o}") for q in qf for o in own])
    return rows, [t[:3] for t in tokens]


class AnswerType:
    """The trained model: a weight per hashed feature and a bias."""

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)

    def word_probs(self, question: str, sentence: str) -> list[tuple[str, float]]:
        """Each word of the sentence with the probability that it is (part of) the answer the question asks for."""
        rows, ws = word_features(question, sentence)
        if not rows:
            return []
        flat = np.fromiter((i for r in rows for i in r), dtype=np.int64)
        starts = np.cumsum([0] + [len(r) for r in rows[:-1]])
        z = self.bias + np.add.reduceat(self.weights[flat].astype(np.float64), starts)
        return [(w, float(p)) for (w, _, _), p in zip(ws, 1.0 / (1.0 + np.exp(-z)), strict=True)]

    def offer(self, question: str, sentence: str) -> float:
        """The highest such probability among the words the question does not already use."""
        asked = _read(question)[1]
        return max((p for w, p in self.word_probs(question, sentence) if w.lower() not in asked), default=0.0)


@lru_cache(maxsize=1)
def packaged() -> AnswerType:
    """The packaged model (rag/data/answer_type.npz)."""
    fix = "Reinstall rag, or retrain it with `python scripts/train_answer_type.py` and update MODEL_SHA256."
    try:
        if file_sha256(MODEL) != MODEL_SHA256:
            raise ConfigError(f"The answer-type model {MODEL} does not match its sha256 (damaged or replaced). {fix}")
        with np.load(MODEL) as data:
            return AnswerType(data["weights"], float(data["bias"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"The answer-type model {MODEL} is unreadable ({type(exc).__name__}). {fix}") from None


@lru_cache(maxsize=4096)
def offer(question: str, sentence: str) -> float:
    """The packaged model's ``AnswerType.offer``."""
    return packaged().offer(question, sentence)
