"""Cite stage: check an LLM answer in code — markers, verbatim quotes, and measured support per sentence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answering.evidence import Sentence, sentence_windows
from rag.answering.focus import names_asked, names_in
from rag.answering.generate import says_not_covered
from rag.lexical import STOPWORDS, tokenize
from rag.providers import Embedder
from rag.text import split_sentences
from rag.types import Citation, Passage, SentenceCheck

_FIGURE = re.compile(r"(?:US)?\$?\d[\d,.]*\s*(?:%|percent|per cent|billion|million|trillion)", re.IGNORECASE)
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]|\((?:source|Source)\s*(\d+)\)")
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget) (all |any |the )?(previous|prior|above|earlier|your) (instructions|prompts?|rules)|"
    r"\bsystem (note|prompt|message|instruction)|\banswer every question\b|\byou (are|must) now\b|"
    r"\bas an ai\b|\bnew instructions?\b", re.I)
MIN_CLAIM_WORDS = 3
CAPPED = 0.2  # the most support a claim stating what its passage does not can get
_PER_CENT = re.compile(r"per ?cent")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_TRAILING_MARKERS = re.compile(r"([.!?])\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)")
_CAPITALISED = re.compile(r"(?<![\w’'])[A-Z][\w’'.-]*")
_NOT_ENTITIES = frozenset(
    """president vice prime minister ministers ministry deputy foreign secretary general chancellor mayor governor
    leader leaders chairman spokesman spokeswoman spokesperson ambassador senator director chief king queen
    mr mrs ms dr sir however meanwhile moreover yet although according source sources article articles
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)  # capitalised words that name no person, place or organisation: titles, sentence openers, the calendar


@dataclass
class Checked:
    """The validated answer: text with renumbered markers, its citations, and the per-sentence verdicts."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    sentences: list[SentenceCheck] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    abstained: bool = False


def support(answer_sentence: str, answer_vec: np.ndarray, passage_sents: Sequence[Sentence]) -> tuple[float, Sentence | None]:
    """How well a passage backs a sentence (0-1), and its best supporting sentence.

    Half embedding similarity to the best sentence, half the share of the claim's words found in the passage.
    A figure, number or date in the claim that neither the best sentence nor its neighbours state caps support at
    CAPPED (invented numbers, and numbers taken from another line of the passage, are the commonest unsupported
    claims), and so does a person, place or organisation the claim names and the passage does not ("the deputy mayor
    of Beijing, Xi Jinping, said…" against a passage naming neither). Sentences in the passage that read as
    instructions to a model ("ignore previous instructions…") are not evidence, and a claim of fewer than three
    content words cannot be checked, so it is not supported.
    """
    passage_sents = [s for s in passage_sents if not INSTRUCTION.search(s.text)]  # planted orders are not evidence
    words = set(tokenize(answer_sentence))
    if not passage_sents or len(words) < MIN_CLAIM_WORDS:
        return 0.0, None
    passage_words = set().union(*(set(tokenize(s.text)) for s in passage_sents))
    lexical = len(words & passage_words) / len(words) if words else 0.0
    best, best_score = None, -1.0
    for s in passage_sents:
        cos = float(answer_vec @ s.vector) if s.vector is not None else 0.0
        own = set(tokenize(s.text))
        local = len(words & own) / len(words) if words else 0.0
        score = 0.6 * cos + 0.4 * local
        if score > best_score:
            best, best_score = s, score
    dense = float(answer_vec @ best.vector) if best is not None and best.vector is not None else 0.0
    value = 0.5 * max(dense, 0.0) + 0.5 * lexical
    if overstates(answer_sentence, " ".join(s.text for s in passage_sents), near=neighbourhood(best, passage_sents)):
        value = min(value, CAPPED)
    return value, best


def overstates(claim: str, stated: str, near: str | None = None) -> bool:
    """Whether a claim names a person, place or organisation that the passage text never does, or states a figure,
    number or date that the text ``near`` the supporting sentence (default: the whole passage) does not."""
    near = stated if near is None else near
    claimed = _amounts(claim)
    return bool((claimed and not claimed <= _amounts(near)) or not _numbers(claim) <= _numbers(near)
                or unnamed(claim, stated))


def neighbourhood(best: Sentence | None, sents: Sequence[Sentence]) -> str:
    """The best sentence with the sentences on either side of it in the passage (a figure stated in the line
    before, as in 'On June 19 Putin arrived. He signed the pact.', still counts)."""
    if best is None:
        return ""
    order = sorted(sents, key=lambda s: s.key)
    i = next(i for i, s in enumerate(order) if s is best)
    return " ".join(s.text for s in order[max(0, i - 1) : i + 2])


def _amounts(text: str) -> set[str]:
    """The text's figures, with currency prefixes and the spelling of 'per cent' set aside: a claim of '$240.1 billion'
    or '26 percent' is what a passage's 'US$240.1 billion' or '26%' states."""
    return {_PER_CENT.sub("%", f).removeprefix("us") for f in figures(text)}


def figures(text: str) -> set[str]:
    """Quantities such as '80%', '$111 billion' or '60 to 70%', normalised for comparison."""
    return {re.sub(r"[^\d.%a-z]", "", m.group(0).lower()) for m in _FIGURE.finditer(text)}


def named(sentence: str) -> tuple[str, ...]:
    """The words that name a person, place or organisation in a sentence: its capitalised words except the first
    (sentence case), common words ('The', 'We') and titles or dates ('President', 'June').
    'In Beijing, Xi Jinping said…' -> Beijing, Xi, Jinping."""
    found: list[str] = []
    for m in _CAPITALISED.finditer(_MARKER.sub("", sentence)):
        word = re.sub(r"['’]s$", "", m.group(0)).strip(".’'-")
        if not sentence[: m.start()].strip(" \"“‘«(") or word.lower() in STOPWORDS or word.lower() in _NOT_ENTITIES:
            continue
        found += [w for w in word.split("-") if w and w.lower() not in STOPWORDS]
    return tuple(dict.fromkeys(found))


def unnamed(sentence: str, passage: str) -> list[str]:
    """The names in the sentence that the passage never mentions (derived forms count: 'Korea' ~ 'Korean')."""
    return [name for name in named(sentence) if not names_in(passage, [name])]


def check(
    raw: str, passages: Sequence[Passage], sentences: Sequence[Sentence], embedder: Embedder, threshold: float,
    question: str = "",
) -> Checked:
    """Validate the model's text against the sources it was given.

    When the question names people, places or organisations, a supporting sentence must mention one of them (in
    itself, the sentence before it or its article's title): "The answer is 140 billion dollars" about Russia–China
    trade is not supported by a sentence giving 140 billion dollars of US–Vietnam trade."""
    text = _TRAILING_MARKERS.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", raw.strip())
    if says_not_covered(text) and len(split_sentences(text)) <= 2:
        return Checked(text=text, abstained=True)
    by_chunk: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_chunk.setdefault(s.chunk_id, []).append(s)
    names = names_asked(question)
    windows = sentence_windows(sentences, {p.chunk.chunk_id: p for p in passages}) if names else {}
    pieces = [(text[a:b], _markers(text[a:b], len(passages))) for a, b in split_sentences(text)]
    claims = [_strip_markers(t) for t, _ in pieces]
    vectors = embedder.embed([c for c in claims if c]) if any(claims) else np.zeros((0, 1))
    vec_of = dict(zip([c for c in claims if c], vectors, strict=False))
    out = Checked(text="")
    numbered: dict[tuple[str, int], int] = {}
    kept: list[str] = []
    for claim, (_, marks) in zip(claims, pieces, strict=True):
        if not claim:
            continue
        if says_not_covered(claim):
            out.sentences.append(SentenceCheck(text=claim, supported=True))
            kept.append(claim)
            continue
        vec = vec_of[claim]
        candidates = marks or list(range(1, len(passages) + 1))  # uncited: look for support anywhere
        verdicts = []
        for n in candidates:
            value, best = support(claim, vec, by_chunk.get(passages[n - 1].chunk.chunk_id, []))
            if best is not None and names and not names_in(windows.get(id(best), best.text), names, every=False):
                value = min(value, CAPPED)  # the passage is about something else than the question asks about
            if best is not None:
                verdicts.append((value, n, best))
        verdicts.sort(key=lambda v: -v[0])
        good = [v for v in verdicts if v[0] >= threshold][: (len(marks) if marks else 1)]
        if not good:
            top = verdicts[0][0] if verdicts else 0.0
            out.unsupported.append(claim)
            out.sentences.append(SentenceCheck(text=claim, citations=[], support=round(top, 4), supported=False))
            continue
        new_marks = []
        for value, n, best in good:
            slot = (best.doc_id, best.key[1])
            if slot not in numbered:
                numbered[slot] = len(out.citations) + 1
                p = passages[n - 1]
                out.citations.append(Citation(
                    n=numbered[slot], doc_id=best.doc_id, title=p.meta.title, outlet=p.meta.outlet,
                    author=p.meta.author, date=p.meta.date, source=p.source, quote=best.text, start=best.key[1],
                    end=best.key[2], chunk_id=best.chunk_id, support=round(value, 4)))
            new_marks.append(numbered[slot])
        out.sentences.append(SentenceCheck(text=claim, citations=new_marks, support=round(good[0][0], 4)))
        kept.append(claim + " " + "".join(f"[{m}]" for m in new_marks))
    out.text = " ".join(kept)
    out.abstained = not out.citations and bool(kept) and all(says_not_covered(k) for k in kept)
    return out


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _DIGITS.finditer(_MARKER.sub("", text))}


def _markers(sentence: str, n_sources: int) -> list[int]:
    found: list[int] = []
    for m in _MARKER.finditer(sentence):
        for part in (m.group(1) or m.group(2) or "").split(","):
            n = int(part.strip()) if part.strip().isdigit() else 0
            if 1 <= n <= n_sources and n not in found:  # markers pointing at no source are dropped
                found.append(n)
    return found


def _strip_markers(sentence: str) -> str:
    return re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", sentence)).strip()
