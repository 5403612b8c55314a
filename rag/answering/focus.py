"""What a question is about (a role or title, a pair, its names) and whether a sentence is about it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

AUXILIARY = {"is", "was", "are", "were", "has", "have", "had", "did", "does", "do", "will", "would", "can", "could",
             "should", "may", "might", "must"}

_WORD = re.compile(r"(?<![\w’'.])[\w’'.]+(?![\w’'.$])")  # a word, not the 'US' of a sum in 'US$ 697 million'


class Focus(NamedTuple):
    """Whom the answer must name: a role's holder for the names the question gives it (``holds``), or someone with
    the title asked about (``titled``)."""

    names: tuple[str, ...] = ()
    role: str = ""  # 'Who is the Secretary-General of the United Nations': the title the names must hold
    title: str = ""  # 'Who is the Vietnamese prime minister…': the person named must be given that title


def focus(question: str) -> Focus:
    """'Who is the Secretary-General of the United Nations' -> role + (United, Nations); 'Who is the Vietnamese
    prime minister' -> title; empty when the question asks for neither."""
    m = re.search(r"\b(?i:who (?:is|was) (?:the )?(?:current |new |former )?([\w -]+?) of (?:the )?)((?:[A-Z][\w’'.-]*\s*)+)",
                  question)
    if m:
        return Focus(tuple(w for w in re.split(r"[\s-]+", m.group(2)) if w), role=m.group(1))
    m = _TITLE_ASKED.search(question)
    if m:
        return Focus(title=m.group(1).lower())
    return Focus()


_TITLES = (r"prime minister|foreign minister|minister|president|ambassador|secretary|chancellor|spokes(?:man|woman|person)|"
           r"envoy|governor|mayor")
_TITLE_ASKED = re.compile(rf"\b(?:who (?:is|was)|what (?:is|was) the name of|which) (?:the |a |an )?(?:[\w'’-]+ ){{0,3}}?"
                          rf"({_TITLES})\b", re.I)


def titled(sentence: str, title: str, question: str) -> bool:
    """Whether the sentence names someone the question does not, with that title: 'President Tô Lâm', 'Foreign
    Ministry spokeswoman Hua Chunying', 'Wang Yi, China's foreign minister' — not 'summoned the Russian ambassador'."""
    words = re.findall(r"[\w’'.-]+|,", sentence)
    lowered = [w.lower() for w in words]
    size = len(title.split())
    asked = question.lower()

    def new_name(w: str) -> bool:
        return w[:1].isupper() and _bare(w).lower() not in asked and w.lower() not in _TITLE_WORDS

    for i in range(len(words) - size + 1):
        if " ".join(lowered[i : i + size]).rstrip("s") != title.rstrip("s") and not (
                title.startswith("spokes") and lowered[i].startswith("spokes")):
            continue
        after = words[i + size : i + size + 4]
        before = words[max(0, i - 7) : i]
        if any(new_name(w) for w in after if w != ",") or ("," in before and any(new_name(w) for w in before)):
            return True
    return False


_TITLE_WORDS = {"of", "state", "the", "foreign", "ministry", "deputy", "vice", "general", "assistant", "senior"}


def names_in(text: str, names: Sequence[str], *, every: bool = True) -> bool:
    """Whether every name (or, with ``every=False``, any name) occurs in the text: acronyms exactly, other words with
    their derived forms ('Korea' ~ 'Korean', 'Ukraine' ~ 'Ukrainian', 'Russia' ~ 'Russian')."""
    words = {_bare(w) for w in _WORD.findall(text)}  # "NATO’s" counts as NATO; "US$ 697 million" is no US
    lowered = {w.lower() for w in words}

    def found(name: str) -> bool:
        name = _bare(name)
        if name.isupper() or name.isdigit():
            return name in words
        return name.lower() in lowered or any(_related(name.lower(), w) for w in lowered)

    return all(map(found, names)) if every else any(map(found, names))


def _bare(word: str) -> str:
    """A name without its possessive and surrounding punctuation ("Russia's" -> Russia)."""
    return re.sub(r"['’]s$", "", word).strip(".’'")


def holds(sentence: str, role: str, names: Sequence[str]) -> bool:
    """Whether the sentence gives the role as the named organisation's: 'Secretary-General of the United Nations',
    'UN Secretary-General', "the United Nations' Secretary-General" — not 'a Secretary General at Marerant & Co.'"""
    words = re.findall(r"[\w’'.&]+", sentence)
    lowered = [_bare(w).lower() for w in words]
    title = [w.lower() for w in re.split(r"[\s-]+", role) if w]
    acronym = "".join(n[:1] for n in names if n[:1].isupper())
    wanted = {n.lower() for n in names} | ({acronym.lower()} if len(acronym) > 1 else set())

    def mentions(span: list[str]) -> bool:
        return any(w == n or _related(w, n) for w in span for n in wanted)

    for i in range(len(lowered) - len(title) + 1):
        if lowered[i : i + len(title)] != title:
            continue
        before, after = lowered[max(0, i - 3) : i], lowered[i + len(title) : i + len(title) + 3]
        if after[:1] == ["of"] and mentions(after[1:] + lowered[i + len(title) + 3 : i + len(title) + 4]):
            return True
        if mentions(before):
            return True
    return False


_BETWEEN = re.compile(r"\bbetween (?:the )?((?:[A-Z][\w’'.-]*\s?)+?) and (?:the )?((?:[A-Z][\w’'.-]*(?:\s|$)?)+)")
_PAIR_END = {"and", "in", "on", "over", "since", "during", "last", "this", "for", "from", "to", "at", "of", "by", "was",
             "is", "were", "are", "has", "have", "had", "grew", "rose", "fell", "amounted", "reached", "stood", "totalled"}


def _pair(text: str) -> tuple[str, str] | None:
    """The two named parties of 'between A and B', unless B describes something ('the Vietnamese leader')."""
    m = _BETWEEN.search(text)
    if not m:
        return None
    rest = re.match(r"\s*([a-z]+)", text[m.end():])
    if rest and rest.group(1) not in _PAIR_END:
        return None
    return m.group(1).strip(), m.group(2).strip()


def same_pair(sentence: str, question: str) -> bool:
    """False when both speak of what is 'between' two named parties and the sentence never names one of the
    question's ('trade between Russia and Vietnam… $111 billion with the United States' may answer a question about
    US–Vietnam trade, not one about trade between Russia and North Korea)."""
    asked = _pair(question)
    if not asked or not _pair(sentence):
        return True
    return names_in(sentence, " ".join(asked).split())


def _related(a: str, b: str) -> bool:
    """Two words that share all but at most one letter of the shorter one as a prefix (at least four letters)."""
    shorter = min(len(a), len(b))
    if shorter < 4:
        return False
    common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), shorter)
    return common >= max(4, shorter - 1)


_ASKING = AUXILIARY | {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "from", "in", "on",
                        "according", "during", "and", "the", "i"}


_CAPITALISED = re.compile(r"(?<![\w’'])[A-Z][\w’'.-]*")


def _name_words(question: str, m: re.Match[str]) -> list[str]:
    """One capitalised word of the question as name words: none for its first word or a question word."""
    word = _bare(m.group(0)).strip(".’'-")
    if not question[: m.start()].strip() or not word or word.lower() in _ASKING:
        return []
    return [w for w in word.split("-") if w]


def names_asked(question: str) -> tuple[str, ...]:
    """Capitalised words of the question except its first ('…trade between Russia and China…' -> Russia, China)."""
    return tuple(dict.fromkeys(w for m in _CAPITALISED.finditer(question) for w in _name_words(question, m)))
