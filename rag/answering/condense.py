"""Condense stage: turn a follow-up plus chat history into a standalone question."""

from __future__ import annotations

import re

from rag.errors import LLMError
from rag.lexical import STOPWORDS
from rag.providers import ChatLLM

# A question leans on earlier turns only through a pronoun with nothing before it to refer to ("how much did it
# cost?"), or through ellipsis ("and the second one?", "what about Vietnam?"). "why", "so", "and", "that" and
# "there" alone do not make a follow-up: "Why did the council raise fares?" is read as written.
_PERSONAL = {"he", "him", "his", "she", "her", "hers"}  # refer back to a person: a name must come first
_NEUTER = {"it", "its", "they", "them", "their", "theirs", "this", "these", "those"}  # a name or noun phrase
_TIME = re.compile(r"\s+(?:year|week|month|morning|afternoon|evening|spring|summer|autumn|fall|winter|season|time)\b",
                   re.IGNORECASE)
_ELLIPSIS = re.compile(r"^\s*(?:what about|how about)\b", re.IGNORECASE)
_OPENER = re.compile(r"^\s*(?:and|also|but|or|so)\b", re.IGNORECASE)
_TOKEN = re.compile(r"[\w’'-]+")
_DETERMINERS = {"the", "a", "an"}
# "that" is a pronoun after a preposition or an auxiliary ("how much of that…", "how does that compare…"), not
# where it joins a clause ("who said that…", "the deal that…")
_THAT_AFTER = {"of", "about", "for", "with", "on", "from", "to", "in", "after", "before", "than", "by", "does",
               "did", "do", "is", "was", "will", "would", "can", "could", "has", "had"}
_ENTITY = re.compile(r"\b(?:[A-Z][\w’'-]*(?:\s+(?:of|the|and|de|du)?\s*[A-Z][\w’'-]*)*|\d[\d,.%]*)\b")
_WORD = re.compile(r"[A-Za-z][\w’'-]+")
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Which", "Why", "How", "Did", "Does", "Do", "Is", "Are", "Was",
                   "Were", "Can", "Could", "Would", "Will", "Should", "In", "On", "At", "The", "A", "An", "And", "I",
                   "Tell", "According"}

CONDENSE_PROMPT = (
    "Rewrite the user's last question as one standalone question that can be understood without the conversation. "
    "Resolve pronouns and references using the conversation. Do not answer it. Do not add facts. "
    "Reply with the rewritten question only."
)


def needs_context(question: str) -> bool:
    """Whether the question leans on earlier turns: a pronoun with no name or noun phrase before it to refer to, or
    an elliptical question ("what about…", a very short one, or "and…" with at most five words)."""
    matches = list(_TOKEN.finditer(question))
    words = [m.group(0) for m in matches]
    if len(words) <= 3 or _ELLIPSIS.search(question) or (_OPENER.search(question) and len(words) <= 5):
        return True
    for i, match in enumerate(matches):
        low = words[i].lower()
        if low == "that" and i and words[i - 1].lower() in _THAT_AFTER:
            low = "this"
        if low not in _PERSONAL and low not in _NEUTER:
            continue
        if low in {"this", "these", "those"} and _TIME.match(question, match.end()):
            continue  # "this year's budget" is no reference
        before = words[:i]
        named = any(w[0].isupper() or w[0].isdigit() for w in before[1:]) or any(
            w[0].isupper() and w.lower() not in STOPWORDS for w in before[:1])
        phrase = low in _NEUTER and any(w.lower() in _DETERMINERS for w in before)
        if not (named or phrase):
            return True
    return False


def entities(text: str) -> list[str]:
    """Capitalised names and numbers in the text, in order, without question words."""
    out: list[str] = []
    for match in _ENTITY.finditer(text):
        words = [w for w in match.group(0).split() if w not in _QUESTION_WORDS]
        phrase = " ".join(words).strip()
        if phrase and phrase not in out:
            out.append(phrase)
    return out


def topic_words(text: str, known: set[str]) -> list[str]:
    """The words of a question that say what it is about (not stop words, question words or ``known`` ones)."""
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        if len(word) > 2 and low not in STOPWORDS and word not in _QUESTION_WORDS and low not in known:
            known.add(low)
            out.append(word)
    return out


def condense(question: str, history: list[dict[str, str]] | None, llm: ChatLLM | None = None) -> str:
    """A standalone version of the question. Without an LLM, carry the entities of the previous turns and the
    other topic words of the latest question ("which model can it turn out?" after one about a drone factory)."""
    turns = [m for m in (history or []) if m.get("role") in ("user", "assistant") and m.get("content")]
    if not turns or not needs_context(question):
        return question
    if llm is not None:
        try:
            return condense_with_llm(question, turns, llm)
        except LLMError:
            pass  # fall back to the deterministic method
    users = [m["content"] for m in turns if m["role"] == "user"]
    present = question.lower()
    carried: list[str] = []
    for text in reversed(users[-2:]):  # the latest user turns say what "they" refers to
        for ent in entities(text):
            if ent.lower() not in present and ent not in carried:
                carried.append(ent)
    if users:  # what "it" or "them" stands for is usually a common noun of the latest question
        known = {w.lower() for phrase in carried for w in phrase.split()} | set(_WORD.findall(present))
        carried += topic_words(users[-1], known)
    if not carried:
        return question
    return f"{question.rstrip()} ({', '.join(carried)})"


def condense_with_llm(question: str, turns: list[dict[str, str]], llm: ChatLLM) -> str:
    convo = "\n".join(f"{m['role']}: {m['content'][:600]}" for m in turns[-6:])
    messages = [
        {"role": "system", "content": CONDENSE_PROMPT},
        {"role": "user", "content": f"Conversation:\n{convo}\n\nLast question: {question}\n\nStandalone question:"},
    ]
    text = "".join(llm.stream(messages, max_tokens=80)).strip().strip('"').splitlines()
    rewritten = text[0].strip() if text else ""
    if not rewritten or len(rewritten) > 4 * len(question) + 200:
        return condense(question, turns, None)
    return rewritten
