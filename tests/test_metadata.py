"""Metadata read from an article's own lines: what the text says, and nothing it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingestion.metadata import TITLE_CHARS, extract_meta, parse_date, readable_name
from rag.types import DocMeta

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (
            "000",
            DocMeta(title="How sanctions are backfiring to fuel a new Eurasian alliance", author="Jung E-gil", date="2024-06-25"),
        ),
        (
            "001",
            DocMeta(title="The recent defense agreement between Russia and North Korea unmistakably underscores…",
                    author="T. Jayani", outlet="JadeTimes News"),
        ),
        (
            "002",
            DocMeta(title="The visits of Russian President Vladimir Putin to North Korea and Vietnam attracted…",
                    author="Irina KHALTURINA"),
        ),
        ("003", DocMeta(title="The economic and political backing of China, the military support of Iran and North…")),
        ("004", DocMeta(title="Strategic Defiance: Putin’s Recent Asia Tour Amid International Sanctions")),
    ],
)
def test_seed_metadata_is_what_the_text_states_and_a_title_from_the_first_sentence_otherwise(prefix: str, expected: DocMeta) -> None:
    assert extract_meta(_seed(prefix)) == expected


def test_dates_mentioned_in_the_body_are_not_taken_as_the_publication_date() -> None:
    # 000 mentions "June 19, 2024" in a caption; only the "Posted on" line counts.
    assert extract_meta(_seed("000")).date == "2024-06-25"
    body = "Putin Visits Pyongyang\n\nThe summit in Pyongyang on June 19, 2024, ended with a treaty signed by both leaders."
    assert extract_meta(body).date == ""


def test_existing_fields_win_and_empty_ones_are_filled() -> None:
    existing = DocMeta(title="From HTML", outlet="")
    meta = extract_meta(_seed("001"), existing)
    assert meta.title == "From HTML"
    assert meta.author == "T. Jayani" and meta.outlet == "JadeTimes News"


@pytest.mark.parametrize(
    ("text", "author", "outlet"),
    [
        ("By Jung E-gil, senior staff writer\nBody.", "Jung E-gil", ""),
        ("By T. Jayani, JadeTimes News\nBody.", "T. Jayani", "JadeTimes News"),
        ("By Marta Oyelaran, Lakeside Courier\nBody.", "Marta Oyelaran", "Lakeside Courier"),
        ("By Mara Kask, Baltic Ledger\n2025-03-04\nBody.", "Mara Kask", "Baltic Ledger"),
        ("By Marta Oyelaran, Lakeside\nBody.", "Marta Oyelaran", ""),  # one word: a place as likely as an outlet
        ("By Marta Oyelaran, staff reporter, Lakeside Courier\nBody.", "Marta Oyelaran", "Lakeside Courier"),
        ("Author: Irina KHALTURINA\nBody.", "Irina KHALTURINA", ""),
        ("By John Smith and Jane Doe | Reuters | June 25, 2024", "John Smith and Jane Doe", "Reuters"),
        ("By Jane Doe for The Diplomat\nBody.", "Jane Doe", "The Diplomat"),
        ("By contrast, the West lost ground in Asia.", "", ""),
        ("By June, Putin had a busy schedule.", "", ""),
        ("Source: Reuters\nBody.", "", "Reuters"),
    ],
)
def test_bylines(text: str, author: str, outlet: str) -> None:
    meta = extract_meta(text)
    assert (meta.author, meta.outlet) == (author, outlet)


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("Posted on : 2024-06-25 17:12 KST Modified on : 2024-06-26 17:12 KST", "2024-06-25"),
        ("Published: June 25, 2024", "2024-06-25"),
        ("Updated 25 June 2024, 10:00 GMT", "2024-06-25"),
        ("Tuesday, June 25, 2024 10:30 AM EDT", "2024-06-25"),
        ("2024/06/25", "2024-06-25"),
        ("Modified on: 2024-06-27 | Posted on: 2024-06-25", "2024-06-25"),
    ],
)
def test_date_lines_in_the_header(line: str, iso: str) -> None:
    assert extract_meta(f"Some Headline Here\n{line}\nBody text of the article.").date == iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-06-25", "2024-06-25"),
        ("June 25, 2024", "2024-06-25"),
        ("Jun. 5, 2024", "2024-06-05"),
        ("25 June 2024", "2024-06-25"),
        ("3rd of March 2021", "2021-03-03"),
        ("25/06/2024", "2024-06-25"),
        ("05/06/2024", ""),  # ambiguous day/month: not guessed
        ("Feb 30, 2024", ""),
        ("no date here", ""),
    ],
)
def test_parse_date(text: str, iso: str) -> None:
    assert parse_date(text) == iso


def test_the_title_is_the_headline_or_else_the_first_sentence_after_byline_and_date() -> None:
    assert extract_meta("Strategic Defiance: A Headline\n\nBody.").title == "Strategic Defiance: A Headline"
    assert extract_meta("This first line is a sentence. And a second one.\nMore.").title == "This first line is a sentence"
    assert extract_meta("By Jane Doe, Reuters\nJune 25, 2024\nPutin flew to Hanoi on Thursday. He met To Lam.").title == (
        "Putin flew to Hanoi on Thursday")
    assert extract_meta("By contrast, the West lost ground in Asia this year.\nMore.").title == (
        "By contrast, the West lost ground in Asia this year")  # a sentence, not a byline
    assert extract_meta("").title == ""


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    sentence = "Word " * 40 + "end."
    title = extract_meta(f"Author: Jane Doe\n{sentence}").title
    assert title.endswith("Word…") and len(title) <= TITLE_CHARS and not title.startswith("Author")


def test_a_stated_title_from_the_html_wins_over_a_derived_one() -> None:
    assert extract_meta("By Jane Doe\nPutin flew to Hanoi.", DocMeta(title="From HTML")).title == "From HTML"


@pytest.mark.parametrize(
    ("name", "readable"),
    [
        ("My Article (final).txt", "My Article (final)"),
        ("uploads/news_2024-06-25.md", "News 2024 06 25"),
        ("002_fa3c26d2fc650530.txt", "002"),
        ("Straße in Zürich.html", "Straße in Zürich"),
        (".hidden.txt", "Hidden"),
        ("fa3c26d2fc650530.pdf", ""),
    ],
)
def test_file_names_made_readable(name: str, readable: str) -> None:
    assert readable_name(name) == readable
