"""LLM-mode citation check: a person, place or organisation a sentence names must be named in its cited passage."""

from __future__ import annotations

import numpy as np

from rag.answering.cite import check, named, unnamed
from rag.answering.evidence import Sentence
from rag.types import Chunk, DocMeta, Passage

PASSAGE = ("The deputy mayor said the new bridge would open in June. "
           "Vladimir Putin and Kim Jong-un signed the pact in Pyongyang.")


class BagOfWords:
    """Deterministic bag-of-words vectors, enough to exercise the checking logic."""

    name, dim = "bag-of-words", 64

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, hash(w.strip(".,")) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _context() -> tuple[list[Passage], list[Sentence]]:
    chunk = Chunk(chunk_id="d:0", doc_id="d", position=0, start=0, end=len(PASSAGE), text=PASSAGE)
    emb = BagOfWords()
    sentences, start = [], 0
    for s in ("The deputy mayor said the new bridge would open in June.",
              "Vladimir Putin and Kim Jong-un signed the pact in Pyongyang."):
        start = PASSAGE.index(s, start)
        sentences.append(Sentence(key=("d", start, start + len(s)), text=s, chunk_id="d:0", vector=emb.embed([s])[0]))
    return [Passage(chunk=chunk, meta=DocMeta(title="Bridge and pact"))], sentences


def test_the_names_of_a_sentence_are_its_capitalised_words_except_titles_dates_and_the_first_word() -> None:
    assert named("The deputy mayor of Beijing, Xi Jinping, said the bridge would open in June [1].") == (
        "Beijing", "Xi", "Jinping")
    assert named("President Vladimir Putin met Kim Jong-un on Monday.") == ("Vladimir", "Putin", "Kim", "Jong", "un")
    assert named("Both sides said “We will help” [2].") == ()


def test_a_name_the_passage_never_mentions_is_reported_and_derived_forms_count() -> None:
    assert unnamed("The deputy mayor of Beijing, Xi Jinping, said so.", PASSAGE) == ["Beijing", "Xi", "Jinping"]
    assert unnamed("The Russian leader met Kim Jong-un in Pyongyang.", PASSAGE) == ["Russian"]
    assert unnamed("The Russian leader met Kim in Pyongyang.", "Russia's leader met Kim in Pyongyang.") == []


def test_a_sentence_naming_someone_the_cited_passage_never_names_is_unsupported() -> None:
    passages, sentences = _context()
    invented = "The deputy mayor of Beijing, Xi Jinping, said the new bridge would open in June [1]."
    out = check(invented, passages, sentences, BagOfWords(), 0.5)
    assert out.unsupported == [invented[:-5] + "."] and not out.citations
    faithful = "The deputy mayor said the new bridge would open in June [1]."
    out = check(faithful, passages, sentences, BagOfWords(), 0.5)
    assert not out.unsupported and out.citations[0].quote == "The deputy mayor said the new bridge would open in June."


def test_a_sentence_naming_only_people_and_places_of_its_passage_stays_supported() -> None:
    passages, sentences = _context()
    out = check("In Pyongyang, Putin and Kim Jong-un signed the pact [1].", passages, sentences, BagOfWords(), 0.5)
    assert not out.unsupported and out.citations[0].quote.startswith("Vladimir Putin")
