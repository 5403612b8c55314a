"""LLM-mode citation check: a figure a sentence states must be stated where its support is, in any spelling."""

from __future__ import annotations

from rag.answering.cite import check, overstates
from rag.answering.evidence import Sentence
from rag.types import Chunk, DocMeta, Passage
from tests.test_cite_names import BagOfWords

LINES = ("Putin arrived in Hanoi on June 19 for a two-day state visit.",
         "He and To Lam signed 11 agreements on education, justice and nuclear research.",
         "Vietnam has bought Russian arms for decades, analysts said.",
         "Trade between Russia and Vietnam reached US$3.6 billion in 2023, up 26 per cent.")


def _context() -> tuple[list[Passage], list[Sentence]]:
    text = " ".join(LINES)
    chunk = Chunk(chunk_id="d:0", doc_id="d", position=0, start=0, end=len(text), text=text)
    emb, sentences = BagOfWords(), []
    for line in LINES:
        start = text.index(line)
        sentences.append(Sentence(key=("d", start, start + len(line)), text=line, chunk_id="d:0",
                                  vector=emb.embed([line])[0]))
    return [Passage(chunk=chunk, meta=DocMeta(title="Putin in Hanoi"))], sentences


def test_a_number_taken_from_another_line_of_the_passage_is_unsupported() -> None:
    passages, sentences = _context()
    swapped = "Putin and To Lam signed 26 agreements on education, justice and nuclear research [1]."
    out = check(swapped, passages, sentences, BagOfWords(), 0.5)
    assert out.unsupported and not out.citations
    faithful = "Putin and To Lam signed 11 agreements on education, justice and nuclear research [1]."
    out = check(faithful, passages, sentences, BagOfWords(), 0.5)
    assert not out.unsupported and out.citations[0].quote == LINES[1]


def test_a_date_stated_in_the_line_before_the_supporting_one_still_counts() -> None:
    passages, sentences = _context()
    out = check("On June 19 he and To Lam signed 11 agreements on education and justice [1].", passages, sentences,
                BagOfWords(), 0.5)
    assert not out.unsupported and out.citations[0].quote == LINES[1]


def test_a_figure_spelt_differently_from_its_passage_is_the_same_figure() -> None:
    stated = "Trade reached US$3.6 billion in 2023, up 26 per cent."
    assert not overstates("Trade reached $3.6 billion in 2023, up 26 percent.", stated)
    assert not overstates("Trade rose 26% to 3.6 billion dollars in 2023.", stated)
    assert overstates("Trade reached $4.6 billion in 2023.", stated)
    assert overstates("Trade reached $3.6 billion in 2023, Vladimir Putin said.", stated)
    assert overstates("Trade reached $3.6 billion in 2023.", stated, near="He signed 11 agreements.")
