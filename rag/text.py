"""Shared text helpers: a fast regex sentence splitter for news prose and match normalisation."""

from __future__ import annotations

import re
import unicodedata

# A candidate boundary is a newline, or terminal punctuation (plus closing quotes/brackets)
# followed by horizontal whitespace and then a non-space character.
_SPLIT = re.compile(r"\n|(?P<term>[.!?…]+)(?P<close>[\"'”’»)\]]*)[^\S\n]+(?=\S)")
_ALNUM = re.compile(r"[^\W_]")
_PREV_WORD = re.compile(r"(\S*)$")
_NEXT_WORD = re.compile(r"[A-Za-z]+")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")

# Abbreviations that (practically) never end a sentence: titles and ranks before a name.
_NEVER_FINAL = frozenset(
    "mr mrs ms mx dr prof gen lt col maj capt cpt sgt cpl adm cmdr gov sen rep rev hon pres supt "
    "insp det messrs mme mlle st mt ft vs v cf viz approx".split()
)
# Abbreviations that do not end a sentence when a number follows ("Jan. 5", "No. 10", "p. 12").
_BEFORE_NUMBER = frozenset(
    "jan feb mar apr jun jul aug sep sept oct nov dec no nos vol vols p pp art arts fig figs ch sec para op".split()
)
# Abbreviations that end a sentence only when a typical sentence opener follows.
_AMBIGUOUS = frozenset("inc ltd co corp jr sr etc bros llc plc dept est univ assn al".split())
_OPENERS = frozenset(
    """The A An In On At By He She It They We I You This That These Those But And Or So Yet However Meanwhile
    His Her Its Their Our My There Here Some Many Most Both Each After Before While When Where If As For Still
    Also Moreover Furthermore According Last Since Although Though Despite What Why How Who Such Now Then
    Instead Indeed Earlier Later Officials Analysts""".split()
)

_MATCH_TABLE = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"', "‹": "'", "›": "'",
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "⁃": "-", "﹘": "-",
        "\u200b": "", "\u200c": "", "\u200d": "", "\ufeff": "", "\u00ad": "",
    }
)
_WS = re.compile(r"\s+")


def normalize_for_match(s: str) -> str:
    """Canonical form for comparing text: NFKC, straight quotes, '-' dashes, single spaces, lowercase."""
    s = unicodedata.normalize("NFKC", s).translate(_MATCH_TABLE)
    return _WS.sub(" ", s).strip().lower()


def _is_boundary(text: str, m: re.Match[str], lo: int) -> bool:
    """Decide whether a candidate terminal-punctuation match really ends a sentence."""
    nxt_pos = m.end()
    nxt = text[nxt_pos]
    if nxt.islower() or nxt == "(":
        return False  # "e.g. this", "“Why?” he asked", "approx. five", a trailing "(EPA/Yonhap)"
    term = m.group("term")
    if term != "." or m.group("close"):
        return True
    head = text[max(lo, m.start() - 40) : m.start()]
    word_match = _PREV_WORD.search(head)
    word = (word_match.group(1) if word_match else "").lstrip("([{\"'“‘«")
    if not word:
        return True
    low = word.lower()
    if low in _NEVER_FINAL or (nxt.isdigit() and low in _BEFORE_NUMBER):
        return False
    if len(word) == 1 and word.isalpha():
        return not word.isupper()  # an initial: "T. Jayani"
    if nxt.isdigit():
        return True
    if low in _AMBIGUOUS or _DOTTED.fullmatch(word):
        # "the U.S. Secretary" vs "against the U.S. The talks..."
        nw = _NEXT_WORD.match(text, nxt_pos)
        return bool(nw) and nw.group() in _OPENERS
    return True


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text[start:end]``, trimmed of whitespace.

    Every line is at least one sentence (a headline without final punctuation stands alone);
    abbreviations, initials, decimals and closing quotes do not end a sentence by themselves.
    Pieces without any letter or digit (a stray "." or "* * *") are merged into a neighbour or dropped.
    """
    end = len(text) if end is None else min(end, len(text))
    spans: list[tuple[int, int]] = []
    line_start = start
    carry = -1  # start of an alphanumeric-free piece waiting to be glued to the next sentence

    def emit(s: int, e: int, line_end: bool) -> None:
        nonlocal carry
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s >= e:
            return
        if carry >= 0:
            s, carry = carry, -1
        if _ALNUM.search(text, s, e) is None:
            if line_end:
                if spans and spans[-1][0] >= line_start:
                    spans[-1] = (spans[-1][0], e)
            else:
                carry = s
            return
        spans.append((s, e))

    cur = start
    for m in _SPLIT.finditer(text, start, end):
        if m.group("term") is None:  # newline
            emit(cur, m.start(), True)
            cur = line_start = m.end()
            carry = -1
        elif _is_boundary(text, m, line_start):
            emit(cur, m.end("close"), False)
            cur = m.end()
    emit(cur, end, True)
    return spans


_QUOTE_MARKS = frozenset("\"'“”‘’«»„‚‹›「」")


def quoted(text: str) -> str:
    """A verbatim quote for display in “…”; one that begins or ends with a quotation mark of its own is shown as it
    is (“We expect…” he said), never with two marks."""
    text = text.strip()
    return text if text[:1] in _QUOTE_MARKS or text[-1:] in _QUOTE_MARKS else f"“{text}”"
