"""A question's parts: a yes/no question, and the sub-questions of a question that asks two things."""

from __future__ import annotations

import re

_SPLIT = re.compile(r",?\s+and\s+(?=(?:what|which|who|whom|when|where|how|why|in what|does|did|is|was|are|were)\b)",
                    re.I)
_POLAR = re.compile(r"^\s*(?:is|was|are|were|has|have|had|does|do|did|will|would|can|could|should)\b", re.I)
_CLAUSE = re.compile(r"^(?:is|was|are|were|has|have|had|does|do|did|will|would|can|could|should)\b", re.I)


def is_polar(question: str) -> bool:
    """A yes/no question ('Is the treaty a threat to South Korea?')."""
    return bool(_POLAR.match(question))


def split_parts(question: str) -> list[str]:
    """'What did X do, and when did Y happen?' -> two sub-questions; so does a yes/no question with two
    alternatives ('Was the trip a sign of desperation or of growing influence?'), one per side. Most questions
    have one part."""
    parts = [p.strip(" ,?") for p in _SPLIT.split(question) if p and p.strip(" ,?")]
    if len(parts) > 1:
        return [p + "?" for p in parts]
    sides = _alternatives(question) or _compared(question)
    return sides or [question]


_COMPARED = re.compile(r"^\s*how (?:does|do|did|is|are|was|were|has|have) (.+?) compare[sd]? (?:with|to|against) "
                       r"(?!(?:that|those|the ones?)\b)(.+?)\s*\?*\s*$", re.I)


def _compared(question: str) -> list[str]:
    """The two sides of 'How does A compare with B?' (each needs its own evidence), unless B only points back at A
    ('…compare with that of the BRICS bloc'). A follow-up's 'that' is the context it carries in parentheses."""
    carried = re.search(r"\s*\(([^()]*)\)\s*\??\s*$", question)
    m = _COMPARED.match(question[: carried.start()] if carried else question)
    if not m:
        return []
    first = m.group(1)
    if carried and first.lower() in {"that", "this", "it", "they", "these", "those"}:
        first = carried.group(1)
    return [first + "?", m.group(2) + "?"]


def _alternatives(question: str) -> list[str]:
    """The two sides of 'Is A … X, or Y?': Y replaces the first side's closing words from the word it starts with
    ('a sign of desperation or of growing influence'), or else as many closing words as it has."""
    if not _POLAR.match(question) or question.lower().count(" or ") != 1:
        return []
    first, second = (p.strip(" ,?") for p in re.split(r",?\s+or\s+", question.strip(), flags=re.I))
    if not first or not second:
        return []
    if _CLAUSE.match(second):  # '…, or does it still depend on Russian arms imports?'
        return [first + "?", second[:1].upper() + second[1:] + "?"]
    head, lead = first.split(), second.split()[0].lower()
    same = [i for i, w in enumerate(head) if w.lower() == lead and i > 0]  # '…a sign of desperation or of growth'
    cut = same[-1] if same else max(1, len(head) - len(second.split()))
    return [first + "?", " ".join(head[:cut] + [second]) + "?"]
