"""Cleaning: boilerplate and repeats go, every real sentence and the paragraph structure stay."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.ingestion.clean import clean_document, is_boilerplate
from rag.ingestion.metadata import extract_meta
from rag.text import normalize_for_match, split_sentences
from rag.types import DocMeta, Document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Raw lines each seed loses; everything else must survive.
EXPECTED_REMOVED = {
    "000": [
        "Please direct questions or comments to []",
        "button that move to original korean article (클릭시 원문으로 이동하는 버튼)",
        "Related stories",
        "Most viewed articles",
    ],
    "001": ["Comments"],
    "002": ["RECOMMEND:"],
    "003": [
        "was «at a critical juncture,» but blamed Washington for not acting first to lift sanctions, "
        "an action to which Tehran would respond by reinstating its nuclear limits."
    ],
    "004": ["Editorial Team"],
}
CAPTIONS_000 = [
    "Russian President Vladimir Putin (left) and North Korean leader Kim Jong-un (right) speak at a joint press "
    "conference held after their summit in Pyongyang on June 19, 2024. (EPA/Yonhap)",
    "Russian President Vladimir Putin (left) and Vietnamese President Tô Lâm (right) speak at a joint press "
    "conference after their summit in Hanoi on June 20, 2024. (EPA/Yonhap)",
]


def _doc(text: str, doc_id: str = "d") -> Document:
    return Document(doc_id=doc_id, source=f"{doc_id}.txt", text=text)


def _seed(prefix: str) -> Document:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return _doc(path.read_text(encoding="utf-8"), path.stem)


def _norm_line(line: str) -> str:
    return normalize_for_match(re.sub(r"^[.,;:]+\s+", "", line.strip()))  # a stray leading "." may go


@pytest.fixture(scope="module", params=sorted(EXPECTED_REMOVED))
def seed(request: pytest.FixtureRequest) -> tuple[str, Document, Document]:
    raw = _seed(request.param)
    return request.param, raw, clean_document(raw)


def test_exactly_the_boilerplate_and_repeated_lines_are_removed(seed: tuple[str, Document, Document]) -> None:
    prefix, raw, cleaned = seed
    kept = {_norm_line(ln) for ln in cleaned.text.splitlines() if ln.strip()}
    removed = [ln.strip() for ln in raw.text.splitlines() if ln.strip() and _norm_line(ln) not in kept]
    assert removed == EXPECTED_REMOVED[prefix]


def test_no_real_sentence_is_lost(seed: tuple[str, Document, Document]) -> None:
    prefix, raw, cleaned = seed
    cleaned_norm = normalize_for_match(cleaned.text)
    dropped = {normalize_for_match(x) for x in EXPECTED_REMOVED[prefix]}
    for start, end in split_sentences(raw.text):
        sentence = raw.text[start:end]
        if normalize_for_match(sentence) in dropped:
            continue
        assert _norm_line(sentence) in cleaned_norm, sentence


def test_whitespace_is_normalised_but_paragraphs_kept(seed: tuple[str, Document, Document]) -> None:
    prefix, raw, cleaned = seed
    text = cleaned.text
    assert "\n\n\n" not in text and "\r" not in text and "\xa0" not in text
    assert all(ln == ln.strip() for ln in text.splitlines())
    assert text == text.strip()
    surviving = [
        p
        for p in re.split(r"\n\s*\n", raw.text)
        if any(ln.strip() and ln.strip() not in EXPECTED_REMOVED[prefix] for ln in p.splitlines())
    ]
    assert len(text.split("\n\n")) == len(surviving)  # only boilerplate-only paragraphs vanish


def test_cleaning_is_idempotent(seed: tuple[str, Document, Document]) -> None:
    _, _, cleaned = seed
    assert clean_document(cleaned).text == cleaned.text


def test_metadata_is_filled_from_the_raw_text(seed: tuple[str, Document, Document]) -> None:
    _, raw, cleaned = seed
    assert cleaned.meta == extract_meta(raw.text)
    assert cleaned.doc_id == raw.doc_id and cleaned.source == raw.source


def test_repeated_caption_is_kept_once() -> None:
    cleaned = clean_document(_seed("000")).text
    for caption in CAPTIONS_000:
        assert cleaned.count(caption) == 1


def test_half_repeated_quote_fragment_is_removed_but_full_sentence_kept() -> None:
    cleaned = clean_document(_seed("003")).text
    assert "was «at a critical juncture,» but blamed" not in cleaned
    assert "was «at a critical juncture» but blamed Washington for not acting first to lift sanctions" in cleaned
    assert "«Certain individuals colluding in politics" in cleaned
    assert "\n. «" not in cleaned


def test_trailing_widget_label_without_newline_is_removed() -> None:
    cleaned = clean_document(_seed("002")).text
    assert cleaned.endswith('has the principle of the "right of the strong" finally prevailed?')
    glued = clean_document(_doc("Putin went to Hanoi.\nHas the UN ceased to exist? RECOMMEND:")).text
    assert glued == "Putin went to Hanoi.\nHas the UN ceased to exist?"


def test_line_endings_and_blank_runs_are_normalised() -> None:
    raw = "Title Line\r\n\r\n\r\n\r\nFirst paragraph here.   \r\nSecond line.\rThird line.\n\n\n\nLast."
    assert clean_document(_doc(raw)).text == "Title Line\n\nFirst paragraph here.\nSecond line.\nThird line.\n\nLast."


def test_repeated_paragraph_and_sentence_keep_the_first_copy() -> None:
    para = "The summit ended with a treaty on mutual defence between both countries."
    raw = f"{para}\n\nSomething else happened in Hanoi on Thursday afternoon.\n\n{para}\n\nOk. Then more. Ok."
    cleaned = clean_document(_doc(raw)).text
    assert cleaned.count(para) == 1
    assert cleaned.endswith("Ok. Then more. Ok.")  # short repeats may be legitimate: kept
    inline = clean_document(_doc(f"Intro line here now.\n{para} Another sentence follows here. {para}")).text
    assert inline == f"Intro line here now.\n{para} Another sentence follows here."


@pytest.mark.parametrize(
    "line",
    [
        "Related stories", "Related Articles:", "Most viewed articles", "Most Read", "Comments", "Comments (12)",
        "RECOMMEND:", "Share", "Share this article", "Advertisement", "Subscribe to our newsletter!",
        "Please direct questions or comments to [english@hani.co.kr]", "Facebook Twitter Email", "Read more",
        "button that move to original korean article (클릭시 원문으로 이동하는 버튼)", "© 2024 The Hankyoreh. All rights reserved.",
        "Read more: Why the defence budget matters for Incheon", "READ MORE: Putin lands in Hanoi", "See also: Kim's visit",
        "Tags: drones, Iran, defence", "Related: Russia and the G7",
    ],
)
def test_boilerplate_patterns_match_widget_lines(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Most read the report as a threat to regional stability.",
        "Comments by the minister drew criticism.",
        "Subscribers to the agreement include Iran.",
        "Copyright laws were not discussed.",
        "Share prices in Moscow rose 3% after the summit.",
        "Related stories appeared in the Russian press.",
        "Read more into the statement than it says, the analyst warned.",
        "Tags on the crates showed they came from Tula.",
    ],
)
def test_boilerplate_patterns_leave_real_sentences(line: str) -> None:
    assert not is_boilerplate(line)
    assert clean_document(_doc(f"Intro sentence of the article.\n{line}\nClosing sentence.")).text.count(line) == 1


def test_existing_metadata_wins() -> None:
    doc = _seed("001").model_copy(update={"meta": DocMeta(title="Given title", author="Given Author")})
    meta = clean_document(doc).meta
    assert (meta.title, meta.author, meta.outlet) == ("Given title", "Given Author", "JadeTimes News")
