"""Read an article's title, author, outlet and date from its own lines; never guess what it does not say."""

from __future__ import annotations

import re
from datetime import date

from rag.text import split_sentences
from rag.types import DocMeta

TITLE_CHARS = 90  # a title made from a first sentence or a file name is cut to this many characters
_HASH = re.compile(r"(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}", re.I)  # '47bab1ff1479f7a2': an id, not a word

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_MDY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.I)
_DMY = re.compile(rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})(?!\d)", re.I)
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?!\d)")

_DATE_LABEL = re.compile(
    r"(?i)(?:^|[|•·]\s*)(first published|published|posted|date|dated|released|issued|last updated|updated|modified)"
    r"(?:\s+(?:on|at))?\s*[:：]?\s*"
)
_SECONDARY_LABELS = {"last updated", "updated", "modified"}
_DATE_NOISE = re.compile(
    r"(?i)\b(?:mon|tues?|wed|thu(?:rs)?|fri|sat|sun)(?:day|nesday|urday)?\b|\b\d{1,2}:\d{2}(?::\d{2})?\b|"
    r"\b(?:am|pm|a\.m\.|p\.m\.|utc|gmt|kst|jst|est|edt|cst|cdt|pst|pdt|bst|cet|cest|ist|msk)\b|[|,•·:()\-–—/]"
)

_BYLINE = re.compile(r"(?i)^(?:(?:written|reported|story|words|text)\s+)?by\b\s*[:：]?\s*(?P<rest>.+)$")
_AUTHOR_LABEL = re.compile(r"(?i)^(?:author|authors|byline|writer|reporter|correspondent)\s*[:：]\s*(?P<rest>.+)$")
_OUTLET_LABEL = re.compile(r"(?i)^(?:source|publisher|outlet|published by|courtesy of)\s*[:：]?\s+(?P<rest>.+)$")
_SEPARATORS = re.compile(r"\s*(?:[,|•·]|\s[-–—]\s|\s/\s)\s*")
_AND = re.compile(r"\s+(?:and|&)\s+")
_FOR = re.compile(r"\s+(?:for|of|at)\s+(?=[A-Z])")
_NAME_TOKEN = re.compile(r"^[^\W\d_][\w'’.\-]*$")
_PARTICLES = frozenset("de da das do dos van von der den del della di du la le bin ibn al el y e ter ten".split())
_ROLE_WORDS = frozenset(
    """writer writers staff correspondent correspondents reporter reporters editor editors contributor columnist
    analyst journalist bureau chief fellow professor director researcher associate senior special desk intern
    photographer producer host commentator expert head lecturer scholar student founder ceo member opinion guest
    freelance freelancer contributing news-desk team""".split()
)
_OUTLET_WORDS = (
    "News", "Times", "Post", "Journal", "Herald", "Daily", "Press", "Agency", "Tribune", "Gazette", "Review",
    "Magazine", "Media", "Network", "Wire", "Reuters", "Bloomberg", "Insider", "Today", "Observer", "Guardian",
    "Chronicle", "Monitor", "Report", "Weekly", "TV", "Radio", "Broadcasting", "Service", "Institute", "Center",
    "Centre", "Foundation", "Council", "Forum", "Express", "Standard", "Telegraph", "Mail", "Globe", "Economist",
    "Diplomat", "Online", "Hankyoreh", "Xinhua", "Yonhap", "Sputnik", "Mirror", "Independent", "Asia", ".com",
)
_ACRONYM_OUTLETS = frozenset("AP AFP BBC CNN NPR PBS RT TASS NHK KBS ABC NBC CBS DW UPI CNBC WSJ SCMP".split())
_NOT_NAMES = frozenset(
    """The A An This That In On At President Minister Secretary General January February March April May June July
    August September October November December Monday Tuesday Wednesday Thursday Friday Saturday Sunday""".split()
)


def _valid(y: int, m: int, d: int) -> str:
    if not 1800 <= y <= 2200:
        return ""
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return ""


def parse_date(s: str) -> str:
    """The first calendar date written in ``s`` as ISO ``YYYY-MM-DD``, or "" (ambiguous 01/02/2024 is skipped)."""
    found: list[tuple[int, str]] = []
    for m in _ISO.finditer(s):
        if iso := _valid(int(m[1]), int(m[2]), int(m[3])):
            found.append((m.start(), iso))
            break
    for rx, order in ((_MDY, "mdy"), (_DMY, "dmy")):
        for m in rx.finditer(s):
            mon, day = (m[1], m[2]) if order == "mdy" else (m[2], m[1])
            if iso := _valid(int(m[3]), _MONTHS[mon.lower()], int(day)):
                found.append((m.start(), iso))
                break
    for m in _NUMERIC.finditer(s):
        a, b = int(m[1]), int(m[2])
        if a == b or (a > 12) != (b > 12):
            day, mon = (a, b) if a > 12 else (b, a)
            if iso := _valid(int(m[3]), mon, day):
                found.append((m.start(), iso))
                break
    return min(found)[1] if found else ""


def _date_from_lines(lines: list[str]) -> str:
    primary = secondary = loose = ""
    for line in lines:
        if len(line) > 200:
            continue
        for m in _DATE_LABEL.finditer(line):
            found = parse_date(line[m.end() : m.end() + 60])
            if not found:
                continue
            if m[1].lower() in _SECONDARY_LABELS:
                secondary = secondary or found
            else:
                primary = primary or found
        if not loose and len(line) <= 90 and (_is_date_line(line) or _BYLINE.match(line)):
            loose = parse_date(line)
    return primary or secondary or loose


def _is_date_line(line: str) -> bool:
    """True when the line is a date and little else (weekday, time, zone, separators)."""
    if not parse_date(line):
        return False
    rest = _DATE_NOISE.sub(" ", _ISO.sub(" ", _MDY.sub(" ", _DMY.sub(" ", _NUMERIC.sub(" ", line)))))
    return len(rest.split()) <= 3


def _is_name(part: str) -> bool:
    tokens = part.split()
    if not 2 <= len(tokens) <= 5:
        return False
    for i, tok in enumerate(tokens):
        if tok.lower() in _PARTICLES and 0 < i < len(tokens) - 1:
            continue
        if not _NAME_TOKEN.match(tok) or not tok[0].isupper() or tok in _NOT_NAMES:
            return False
        if tok.lower().strip(".") in _ROLE_WORDS:
            return False
    return True


def _is_role(part: str) -> bool:
    words = [w.strip(".,").lower() for w in part.split()]
    return bool(words) and (part[0].islower() or any(w in _ROLE_WORDS for w in words))


def _is_outlet(part: str) -> bool:
    tokens = part.split()
    if not 1 <= len(tokens) <= 6 or not part[0].isupper() or _is_role(part):
        return False
    for tok in tokens:
        if tok in _ACRONYM_OUTLETS or any(tok.endswith(w) for w in _OUTLET_WORDS):
            return True
        if re.search(r"[a-z][A-Z]", tok):  # CamelCase brand, e.g. JadeTimes
            return True
    return False


def _is_proper_name(part: str) -> bool:
    """Two to six capitalised words and no figures ('Lakeside Courier', 'The Baltic Ledger'). After the author in a
    byline such a part names the outlet; a single word (a place, a desk) needs ``_is_outlet``'s signs."""
    tokens = part.split()
    return (2 <= len(tokens) <= 6 and tokens[0][:1].isupper() and not _AND.search(part)
            and not any(ch.isdigit() for ch in part)
            and all(t[:1].isupper() or t in ("of", "the", "on", "de", "du", "la", "le") for t in tokens))


def _parse_byline(rest: str) -> tuple[str, str]:
    """``(author, outlet)`` from the part of a byline after "By"; empty strings when it does not parse."""
    rest = rest.strip().rstrip(".")
    parts = [p for p in _SEPARATORS.split(rest) if p]
    if not parts:
        return "", ""
    first = parts[0]
    outlet = ""
    m_for = _FOR.search(first)
    if m_for:
        first, outlet_part = first[: m_for.start()], first[m_for.end() :]
        outlet = outlet_part if outlet_part[:1].isupper() else ""
    names = _AND.split(first)
    if not all(_is_name(n) for n in names):
        return "", ""
    author = first.strip()
    for part in parts[1:]:
        if parse_date(part) or _is_role(part):
            continue
        if not outlet and (_is_outlet(part) or _is_proper_name(part)):
            outlet = part.strip()
    return author, outlet


def _title_from_first_line(line: str) -> str:
    line = line.strip()
    words = line.split()
    if not 2 <= len(words) <= 30 or len(line) > 200 or not (line[0].isupper() or line[0] in "\"“‘«'" or line[0].isdigit()):
        return ""
    if line[-1] in ".,;:" or line.endswith("…"):
        return ""
    if _BYLINE.match(line) or _AUTHOR_LABEL.match(line) or _OUTLET_LABEL.match(line) or _DATE_LABEL.match(line):
        return ""
    if _is_date_line(line):
        return ""
    return line


def _is_header_line(line: str) -> bool:
    """A byline, label ('Author: …', 'Source: …', 'Posted on …') or date line: no title is made from it."""
    by = _BYLINE.match(line)
    return bool((by and (_parse_byline(by["rest"])[0] or len(line.split()) <= 8)) or _AUTHOR_LABEL.match(line)
                or _OUTLET_LABEL.match(line) or _DATE_LABEL.match(line) or _is_date_line(line))


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with '…' when cut; a final '.' dropped."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text[:-1] if text.endswith(".") and not text.endswith("..") else text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:–—-(\"“‘'") + "…"


def derived_title(text: str) -> str:
    """A title for an article that states none: its first sentence after the byline and date lines, shortened
    ('The recent defense agreement between Russia and North Korea unmistakably underscores…'); "" without one."""
    for line in text.splitlines():
        line = line.strip()
        if not line or len(line.split()) < 3 or _is_header_line(line):
            continue
        spans = split_sentences(line)
        return shorten(line[spans[0][0] : spans[0][1]]) if spans else ""
    return ""


def readable_name(name: str) -> str:
    """A file name as words: directories, extension, separators and hash-like parts dropped
    ('my_article-final (2).txt' -> 'My article final (2)', '002_fa3c26d2fc650530.txt' -> '002'); "" if nothing is
    left."""
    stem = re.split(r"[\\/]", name)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    words = [w for w in re.split(r"[\s_.+-]+", stem) if w and not _HASH.fullmatch(w)]
    text = " ".join(words)
    return shorten(text[:1].upper() + text[1:]) if text else ""


def display_title(title: str, *names: str) -> str:
    """What to call a document: its title, else the first of ``names`` (file path, id) made readable, never a bare
    id ('002_fa3c26d2fc650530' -> 'Article 002')."""
    if title.strip():
        return title.strip()
    for name in names:
        if readable := readable_name(name):
            return readable if any(ch.isalpha() for ch in readable) else f"Article {readable}"
    return "Article"


def extract_meta(text: str, existing: DocMeta | None = None) -> DocMeta:
    """Title, author, outlet and date as the text states them; fields of ``existing`` win unless empty.

    The title is the headline when the first line is one; otherwise the first sentence, shortened (``derived_title``).
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    found = DocMeta()
    if lines:
        found.title = _title_from_first_line(lines[0]) or derived_title(text)
    edge = lines[:15] + lines[-10:] if len(lines) > 25 else lines
    found.date = _date_from_lines(edge)
    for line in lines:
        if len(line) > 120:
            continue
        m = _AUTHOR_LABEL.match(line) or _BYLINE.match(line)
        if m and not found.author:
            author, outlet = _parse_byline(m["rest"])
            if author:
                found.author = author
                found.outlet = found.outlet or outlet
        m = _OUTLET_LABEL.match(line)
        if m and not found.outlet:
            value = _SEPARATORS.split(m["rest"].strip().rstrip("."))[0]
            if value[:1].isupper() and len(value.split()) <= 8 and not parse_date(value):
                found.outlet = value
        if found.author and found.outlet:
            break
    if existing is None:
        return found
    return DocMeta(**{k: getattr(existing, k) or getattr(found, k) for k in DocMeta.model_fields})
