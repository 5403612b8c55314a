"""Sentence evidence: how well each sentence of the context answers the question (embedding + lexical)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.ingestion.clean import is_boilerplate
from rag.lexical import LexicalIndex, term_set, tokenize
from rag.providers import Embedder
from rag.sentences import SentenceKey, chunk_sentences
from rag.store import Store
from rag.types import Chunk, Passage

Article = Callable[[str], tuple[str, Sequence[tuple[int, int]]] | None]  # a document's text and sentence spans
DENSE_WEIGHT = 0.55  # share of the embedding similarity in a sentence's score; the rest is lexical coverage
CONTEXT_CREDIT = 0.8  # share of a predecessor-plus-sentence score a sentence may inherit
DISPLAY_SHARE = 0.9  # headlines and captions restate the body in fewer words: body sentences are better evidence
_CAPTION = re.compile(r"\((?:left|right|center|centre|top|bottom)\)|\([A-Z][\w.-]*(?:\s?/\s?[A-Z][\w.-]*)+\)\.?$|"
                      r"^(?:Photo|Image|Picture|Credit)s?\b")


@dataclass
class Sentence:
    """One context sentence with its scores."""

    key: SentenceKey
    text: str
    chunk_id: str
    dense: float = 0.0
    coverage: float = 0.0
    score: float = 0.0
    context_score: float = 0.0  # the score with credit from its predecessor (for pronoun-led sentences)
    own_score: float = 0.0  # the score before any bonus for the article it comes from
    backed: bool = False  # its article is one several candidates come from (or is short enough to be one chunk)
    vector: np.ndarray | None = None

    @property
    def doc_id(self) -> str:
        return self.key[0]


class Scorer:
    """Scores texts against a question: cosine of embeddings plus idf-weighted coverage of the question's terms."""

    def __init__(self, question: str, query_vec: np.ndarray, lexical: LexicalIndex | None) -> None:
        self.query_vec = query_vec
        terms = list(dict.fromkeys(tokenize(question)))
        self.weights = {t: lexical.idf(t) if lexical is not None else 1.0 for t in terms}  # no index: all equal
        self.total = sum(self.weights.values()) or 1.0
        self.numbers = [t for t in terms if t.isdigit()]

    def coverage(self, text: str) -> float:
        """Share of the question's (idf-weighted) terms that occur in the text."""
        present = term_set(text)
        return sum(w for t, w in self.weights.items() if t in present) / self.total

    def misses_number(self, text: str) -> bool:
        """Whether a number the question names (a year, a figure) is absent from the text."""
        present = term_set(text)
        return any(t not in present for t in self.numbers)

    def combine(self, dense: float, coverage: float) -> float:
        return DENSE_WEIGHT * max(dense, 0.0) + (1 - DENSE_WEIGHT) * coverage

    def similarity(self, vector: np.ndarray | None) -> float:
        """Cosine of a stored sentence vector with the question (0 when the vector is missing)."""
        return float(vector @ self.query_vec) if vector is not None else 0.0

    def score(self, sentence: Sentence) -> float:
        """The sentence's evidence score for this scorer's question."""
        return self.combine(self.similarity(sentence.vector), self.coverage(sentence.text))


def sentences_of(chunks: Sequence[Chunk], store: Store, scorer: Scorer, embedder: Embedder) -> list[Sentence]:
    """Every distinct sentence of the chunks, scored. Vectors come from the store (computed at ingest);
    sentences the store lacks (chunks cut differently, e.g. by a baseline) are embedded now."""
    seen: dict[SentenceKey, Sentence] = {}
    for chunk in chunks:
        for key, text in chunk_sentences(chunk):
            if key not in seen:
                seen[key] = Sentence(key=key, text=text, chunk_id=chunk.chunk_id)
    vectors = store.sentence_vectors(list(seen))
    missing = [k for k in seen if k not in vectors]
    if missing:
        vectors.update(zip(missing, embedder.embed([seen[k].text for k in missing]), strict=True))
    for key, sent in seen.items():
        vec = vectors.get(key)
        sent.vector = vec
        sent.dense = scorer.similarity(vec)
        sent.coverage = scorer.coverage(sent.text)
        sent.score = scorer.combine(sent.dense, sent.coverage) * _share(sent.text)
        sent.own_score = sent.score
    _credit_context(list(seen.values()), scorer)
    return list(seen.values())


def _share(text: str) -> float:
    """How much of its score a sentence keeps: site furniture ('Read more: …', kept by indexes cleaned before that
    rule) none, headlines and captions DISPLAY_SHARE, body sentences all."""
    if is_boilerplate(text):
        return 0.0
    return DISPLAY_SHARE if _is_display(text) else 1.0


def _is_display(text: str) -> bool:
    """A headline, standfirst or photo caption: no closing punctuation, '(left)', or a trailing '(EPA/Yonhap)'."""
    t = text.rstrip()
    return not re.search(r"[.!?…\"”»'’)\]]$", t) or bool(_CAPTION.search(t))


def _credit_context(sentences: list[Sentence], scorer: Scorer) -> None:
    """A sentence that continues its predecessor ("the country's arsenal…") inherits part of its relevance."""
    for sent in sentences:
        sent.context_score = sent.score
    ordered = sorted(sentences, key=lambda s: s.key)
    for prev, sent in zip(ordered, ordered[1:], strict=False):
        if prev.doc_id != sent.doc_id or sent.key[1] - prev.key[2] > 2:
            continue
        joint = scorer.combine(max(prev.dense, sent.dense), scorer.coverage(prev.text + " " + sent.text))
        sent.context_score = max(sent.score, CONTEXT_CREDIT * joint)


def sentence_windows(sentences: Sequence[Sentence], passages: dict[str, Passage], *,
                     after: bool = False, article: Article | None = None) -> dict[int, str]:
    """Each sentence with what a reader sees around it: its article's title and the sentence before it (and with
    ``after``, the sentence after it), as 'title\\nbefore\\nsentence[\\nafter]'. A neighbour outside the context is
    taken from the sentence's article when ``article`` gives its text and sentence spans (the reader was trained on
    sentences with their neighbours)."""
    out: dict[int, str] = {}
    ordered = sorted(sentences, key=lambda s: s.key)
    docs: dict[str, tuple[str, Sequence[tuple[int, int]]] | None] = {}  # each looked-up article, once a call

    def adjacent(a: Sentence | None, b: Sentence | None) -> bool:
        return a is not None and b is not None and a.doc_id == b.doc_id and b.key[1] - a.key[2] <= 2

    def from_article(s: Sentence) -> tuple[str, str]:
        if s.doc_id not in docs:
            docs[s.doc_id] = article(s.doc_id) if article is not None else None
        if (found := docs[s.doc_id]) is None:
            return "", ""
        text, spans = found
        i = bisect.bisect_left(spans, (s.key[1], s.key[2]))  # spans are in document order
        if i == len(spans) or tuple(spans[i]) != (s.key[1], s.key[2]):  # split otherwise: keep the context's window
            return "", ""
        return (text[slice(*spans[i - 1])] if i else "", text[slice(*spans[i + 1])] if i + 1 < len(spans) else "")

    for i, s in enumerate(ordered):
        prev = ordered[i - 1] if i else None
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        before = prev.text if adjacent(prev, s) else ""
        later = nxt.text if after and adjacent(s, nxt) else ""
        if article is not None and (not before or (after and not later)):
            near = from_article(s)
            before, later = before or near[0], later or (near[1] if after else "")
        out[id(s)] = f"{passages[s.chunk_id].meta.title}\n{before}\n{s.text}" + (f"\n{later}" if later else "")
    return out
