"""Extractive answers: an article's headline is not added as a second sentence when its body already says it."""

from __future__ import annotations

from rag.answering.evidence import Sentence
from rag.answering.synthesize import extract
from rag.types import Chunk, DocMeta, Passage

HEADLINE = "Iran provides vital military support to Russia with drones and missiles"
BODY = ("Iran provides vital military support to Russia, delivering hundreds of Shahed drones and ballistic missiles "
        "that Moscow has launched against Ukrainian cities and power plants since the autumn of 2022.")
OTHER = "Iran denies that it has delivered any military support to Russia for its war in Ukraine."
QUESTION = "What military support does Iran provide to Russia?"


def _article(sentences: list[tuple[str, float]], doc: str = "d") -> tuple[dict[str, Passage], list[Sentence]]:
    """One article of the given sentences (text, score), one per line, in one chunk."""
    text = "\n".join(t for t, _ in sentences)
    chunk = Chunk(chunk_id=f"{doc}:0", doc_id=doc, position=0, start=0, end=len(text), text=text)
    out, start = [], 0
    for t, score in sentences:
        start = text.index(t, start)
        out.append(Sentence(key=(doc, start, start + len(t)), text=t, chunk_id=chunk.chunk_id, score=score,
                            context_score=score, own_score=score))
    return {chunk.chunk_id: Passage(chunk=chunk, meta=DocMeta(title=doc))}, out


def _answer(sentences: list[tuple[str, float]], question: str = QUESTION) -> str:
    passages, scored = _article(sentences)
    return extract(scored, passages, question=question, max_sentences=3, threshold=0.25).text


def test_a_headline_is_not_an_extra_sentence_when_a_body_sentence_of_its_article_says_it() -> None:
    text = _answer([(HEADLINE, 0.70), (BODY, 0.66)])
    assert BODY in text and HEADLINE not in text
    assert text.endswith("[1]")


def test_the_body_sentence_stays_when_it_leads_and_the_headline_follows() -> None:
    text = _answer([(BODY, 0.70), (HEADLINE, 0.66)])
    assert text == f"{BODY} [1]"


def test_a_headline_the_body_does_not_restate_is_kept() -> None:
    text = _answer([(HEADLINE, 0.70), (OTHER, 0.66)])
    assert HEADLINE in text and OTHER in text


def test_a_headline_is_dropped_when_the_body_sentence_has_every_word_of_it_the_question_asks_about() -> None:
    headline = "Strategic Defiance: Putin’s Recent Asia Tour Amid International Sanctions"
    body = ("Russian President Vladimir Putin recently visited North Korea and Vietnam during his Asia tour, where he "
            "signed several significant agreements.")
    text = _answer([(body, 0.70), (headline, 0.66)], question="Which two countries did Putin visit on his Asia tour?")
    assert text == f"{body} [1]"
