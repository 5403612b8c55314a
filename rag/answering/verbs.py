"""The verb a question turns on ('Who won…', 'How did Seoul respond…') and whether a sentence uses it."""

from __future__ import annotations

import re

AUXILIARY = {"is", "was", "are", "were", "has", "have", "had", "did", "does", "do", "will", "would", "can", "could",
            "should", "may", "might", "must"}


_OUTCOME = re.compile(r"\bwhat (?:did|does|do|will|has|have|had) (?:the |a |an )?[\w’'. -]+? (conclude|decide|agree|announce|"
                      r"pledge|approve|reject|rule)\b", re.I)


def action(question: str) -> str | None:
    """The verb of a 'Who <verb>…' question ('Who won the 2022 World Cup?' -> 'won') or of a question about an outcome
    ('What did the summit conclude?' -> 'conclude'); None for 'Who is…' and others."""
    m = re.match(r"\s*who\s+(?:\w+ly\s+)?([a-z]+)\b", question, re.I)
    if m and m.group(1).lower() not in AUXILIARY:
        return m.group(1).lower()
    m = _OUTCOME.search(question)
    return m.group(1).lower() if m else None


def how_verb(question: str) -> str | None:
    """The verb of 'How did <Name> <verb>…' ('How did Seoul respond…' -> 'respond'); None for other questions."""
    m = re.match(r"\s*how (?:did|does|do|has|have|had|will|would|could|can) (?:the )?((?:(?-i:[A-Z])[\w’'.-]*\s+)+)((?-i:[a-z]+))\b",
                 question, re.I)
    if not m or not all(w[:1].isupper() for w in m.group(1).split()) or m.group(2).lower() in AUXILIARY:
        return None
    return m.group(2).lower()


def uses_verb(sentence: str, verb: str) -> bool:
    """Whether the sentence uses the verb in some form ('rejected' ~ 'rejects', 'reject'; 'won' only as 'won')."""
    base = re.sub(r"(?:ed|es|s|ing)$", "", verb) if len(verb) > 4 else verb
    prefix = base if len(base) < 6 else base[:-1]  # 'respond' ~ 'response'
    return any(w == verb or (len(base) >= 4 and w.startswith(prefix)) for w in re.findall(r"[a-z]+", sentence.lower()))
