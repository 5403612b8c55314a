"""Clean a loaded article: drop site boilerplate and repeated text, normalise whitespace, keep every real sentence."""

from __future__ import annotations

import re
import unicodedata
from collections import deque

from rag.ingestion.metadata import extract_meta
from rag.text import normalize_for_match, split_sentences
from rag.types import Document

_SHARE = r"(?:facebook|twitter|linkedin|whatsapp|telegram|e-?mail|print|reddit|copy link|pinterest|kakaotalk|line)"
# Whole lines (compared case-insensitively, stripped) that carry no article content.
_BOILERPLATE = re.compile(
    "(?:"
    + "|".join(
        rf"(?:{p})"
        for p in (
            r"related (?:stories|articles|news|content|posts|coverage|topics|links|reading)",
            r"(?:most (?:viewed|read|popular|shared|commented|emailed)|trending(?: now)?|popular(?: now)?|editor'?s? picks?)"
            r"(?: (?:articles?|stories|news|posts|items|videos))?(?: (?:today|this week|now))?",
            r"(?:you (?:may|might) )(?:also )?(?:like|be interested in)",
            r"(?:read|see) (?:more|also)(?: on this topic)?",
            r"(?:read more|see also|also read|read also|more on this(?: story| topic)?|related(?: stories| articles)?)"
            r"\s*[:|»›]\s*\S.{0,200}",  # a link to another story: 'Read more: Why the defence budget matters'
            r"(?:tags|tagged|topics)\s*:\s*\S.{0,200}",
            r"comments?(?: \(\d+\))?|\d+ comments?|(?:leave|post|add|write) a (?:comment|reply)",
            r"(?:show|view|load|hide|read) (?:all )?(?:\d+ )?comments?",
            r"recommend|advertisement|advertising|sponsored(?: content)?|share(?: this(?: article| story| page)?)?",
            r"subscribe\b(?:\W+\w+){0,10}\W*",
            r"(?:sign up|register)(?: now)? (?:for|to) (?:\w+ ){0,6}newsletters?\W*",
            r"please direct questions or comments to\b.*",
            r".*\bbutton that moves? to (?:the )?original\b.*",
            r"(?:click|tap) here\b(?:\W+\w+){0,10}\W*",
            r"follow us(?: on .{0,60})?",
            r"back to top|skip to (?:main )?content|skip navigation|font size|text size|menu|home|log ?in|sign in",
            rf"(?:share (?:on|via) )?{_SHARE}(?:\s*[|/·•,]?\s*(?:share (?:on|via) )?{_SHARE})*",
            r"(?:©|\(c\)|copyright\s*(?:©|\(c\))?\s*\d{4}).{0,160}|all rights reserved\.?",
            r"loading\W*|(?:please )?(?:enable|turn on) javascript\b.{0,80}",
        )
    )
    + r")[:!]?",
    re.I,
)
# Sign-off lines removed only when they trail the article.
_TRAILING = re.compile(r"(?:the )?(?:editorial|editor'?s?|news|web|digital) (?:team|board|staff|desk)\.?", re.I)
# An all-caps widget label glued onto the end of the text, e.g. "...prevailed? RECOMMEND:".
_GLUED_TAIL = re.compile(r"(?<=[.!?\"”»’)])[ \t]*(?:RECOMMEND|SHARE|ADVERTISEMENT|SUBSCRIBE|COMMENTS?)[ \t]*[:!]?\s*\Z")
_STRAY_LEAD = re.compile(r"^[.,;:]+\s+(?=\S)")  # ". «Certain individuals…»" -> "«Certain individuals…»"
_HSPACE = re.compile(r"[ \t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u00ad]")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_BLANKS = re.compile(r"\n{3,}")
_WORDS = re.compile(r"\w+")
MIN_REPEAT_WORDS = 6  # repeated sentences and fragments shorter than this are kept (could be legitimate)


def is_boilerplate(line: str) -> bool:
    """True for a line (in full) that is a site widget or label rather than article text."""
    s = line.strip()
    return bool(s) and len(s) <= 300 and _BOILERPLATE.fullmatch(s) is not None


def _words(s: str) -> str:
    return " ".join(_WORDS.findall(normalize_for_match(s)))


def _drop_lines(lines: list[str]) -> list[str]:
    """Drop boilerplate lines, repeated lines and lines that only repeat part of a recent line."""
    kept: list[str] = []
    seen: set[str] = set()
    recent: deque[str] = deque(maxlen=3)
    last = ""
    for line in lines:
        if not line:
            kept.append(line)
            continue
        if is_boilerplate(line):
            continue
        line = _STRAY_LEAD.sub("", line)
        words = _words(line)
        n_words = words.count(" ") + 1 if words else 0
        if words == last and n_words:  # the same line twice in a row (e.g. a repeated caption)
            continue
        if n_words >= 4 and words in seen:
            continue
        if n_words >= MIN_REPEAT_WORDS and any(f" {words} " in f" {r} " for r in recent):
            continue  # a fragment of a line just above, e.g. a half-repeated quote
        kept.append(line)
        if n_words:
            seen.add(words)
            recent.append(words)
            last = words
    while kept and (not kept[-1] or _TRAILING.fullmatch(kept[-1]) or is_boilerplate(kept[-1])):
        kept.pop()
    return kept


def _drop_repeated_sentences(text: str) -> str:
    """Remove later exact repeats of sentences of at least MIN_REPEAT_WORDS words."""
    seen: set[str] = set()
    cuts: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        words = _words(text[s:e])
        if words.count(" ") + 1 < MIN_REPEAT_WORDS:
            continue
        if words not in seen:
            seen.add(words)
            continue
        # Take the space after the sentence with it (or before it, at the end of a line).
        if e < len(text) and text[e] == " ":
            e += 1
        elif s > 0 and text[s - 1] == " ":
            s -= 1
        cuts.append((s, e))
    if not cuts:
        return text
    parts, pos = [], 0
    for s, e in cuts:
        parts.append(text[pos:s])
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def normalize_whitespace(text: str) -> str:
    """Unify line endings, drop invisible characters, collapse spaces within lines and 3+ newlines."""
    text = _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", text)))
    lines = [_HSPACE.sub(" ", ln).strip() for ln in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip("\n")


def clean_document(doc: Document) -> Document:
    """The document with boilerplate and repeats removed, whitespace normalised and metadata filled in.

    Paragraph structure (newlines and single blank lines) is kept: chunk offsets refer to this text.
    """
    meta = extract_meta(doc.text, doc.meta)
    text = _GLUED_TAIL.sub("", normalize_whitespace(doc.text))
    text = "\n".join(_drop_lines(text.split("\n")))
    text = normalize_whitespace(_drop_repeated_sentences(text))
    return doc.model_copy(update={"text": text, "meta": meta})
