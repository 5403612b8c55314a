"""Near misses and rewordings for the scorer's training pairs: years, names, values, synonyms, follow-ups."""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

from rag.text import split_sentences

_ENTITY = re.compile(r"\b\d[\d,.]*\b|\b(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)\b")


def _entities(text: str, skip_first: bool = True) -> list[str]:
    out = []
    for m in _ENTITY.finditer(text):
        if skip_first and m.start() == 0:
            continue
        out.append(m.group(0))
    return out


_WORDS = re.compile(r"[a-z0-9]+")


def asked_words(question: str) -> frozenset[str]:
    """The question's longer words, lower-cased: what ``overlap`` counts in a sentence."""
    return frozenset(w for w in _WORDS.findall(question.lower()) if len(w) > 3)


def overlap(asked: frozenset[str], sentence: str) -> int:
    """How many of the question's words (``asked_words``) the sentence shares: hard negatives overlap most."""
    return len(asked & set(_WORDS.findall(sentence.lower())))


_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")


def shift_year(question: str, sentence: str, rng: random.Random) -> str | None:
    """The question with a year it shares with the sentence moved by 1-5 years (a near miss: right topic, wrong
    year), or None when it names no year of the sentence."""
    years = [m for m in _YEAR.finditer(question) if m.group(0) in sentence]
    if not years:
        return None
    m = rng.choice(years)
    new = str(int(m.group(0)) + rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]))
    return None if new in sentence else question[: m.start()] + new + question[m.end() :]


@functools.cache
def _split(ctx: str) -> tuple[list[str], list[set[bool]], list[str]]:
    """A paragraph's sentences, for each the kinds of value it names (True: a figure, False: a name), and the
    paragraph's names and figures: worked out once per paragraph, however many questions it has."""
    sents = [ctx[s:e] for s, e in split_sentences(ctx)]
    return sents, [{e[0].isdigit() for e in _entities(x)} for x in sents], _entities(ctx)


def same_kind(rec: dict, paras: list[dict], rng: random.Random) -> tuple[list[str], int] | None:
    """A sentence of the same article (another paragraph) that gives the same kind of value as the answer (a
    figure for a figure, a name for a name) for another thing: the on-topic distractor a reader must pass over."""
    numeric = any(c.isdigit() for c in rec["answer"])
    asked = asked_words(rec["q"])
    best, best_key = None, -1.0
    for j, para in enumerate(paras[:60]):
        if j == rec["para"]:
            continue
        sents, kinds, _ = _split(para["context"])
        for i, sent in enumerate(sents):
            if numeric not in kinds[i] or rec["answer"] in sent:
                continue
            key = overlap(asked, sent) + rng.random()
            if key > best_key:
                best, best_key = (sents, i), key
    return best


def perturb(question: str, sentence: str, pool: list[str], rng: random.Random) -> str | None:
    """The question with one name or number it shares with the sentence swapped for another of the article."""
    shared = [e for e in _entities(question) if e in sentence]
    if not shared:
        return None
    target = rng.choice(shared)
    numeric = target[0].isdigit()
    options = sorted({e for e in pool if e[0].isdigit() == numeric and e not in sentence and e != target})
    if not options:
        return None
    return question.replace(target, rng.choice(options), 1)


class WordNet:
    """Single words -> WordNet synonyms of their two commonest senses (surface forms), for paraphrased questions."""

    _WORD = re.compile(r"\b[a-z]{4,}\b")

    def __init__(self, root: Path) -> None:
        from build_synonyms import POS, read_synsets  # scripts/build_synonyms.py: the same WordNet files

        from rag.lexical import STOPWORDS

        self.syn: dict[str, list[str]] = {}
        for pos in POS:  # nouns, adjectives, adverbs: verbs' senses stray
            lemmas = {off: [w.replace("_", " ") for w in words] for off, words in read_synsets(root, pos).items()}
            for line in (root / f"index.{pos}").open(encoding="latin-1"):
                if line.startswith(" "):
                    continue
                f = line.split()
                word, senses = f[0], int(f[2])
                if "_" in word or word in STOPWORDS:
                    continue
                options = [w for off in f[-senses:][:2] for w in lemmas.get(off, []) if w != word]
                if options:
                    self.syn.setdefault(word, [])
                    self.syn[word] += [w for w in options if w not in self.syn[word]]

    def paraphrase(self, question: str, rng: random.Random, swaps: int = 2) -> str | None:
        """The question with up to ``swaps`` lower-case words replaced by a synonym; None when none has one."""
        spots = [m for m in self._WORD.finditer(question) if m.group(0) in self.syn]
        if not spots:
            return None
        out = question
        for m in sorted(rng.sample(spots, k=min(swaps, len(spots))), key=lambda m: -m.start()):
            out = out[: m.start()] + rng.choice(self.syn[m.group(0)]) + out[m.end() :]
        return out


_PRONOUNS = ("it", "they", "he", "she", "this")


def follow_up(question: str, pool: list[str], rng: random.Random) -> str | None:
    """The question as the engine sees a follow-up: one of its names turned into a pronoun, and the names of the
    earlier turns in brackets after it (rag/answering/condense.py), the right one among others of the article."""
    from rag.answering.condense import entities
    from rag.lexical import STOPWORDS

    names = [e for e in entities(question) if not e[0].isdigit() and e in question
             and not question[question.index(e) + len(e) :].startswith(".")]  # 'John B' of 'John B. Kroc'
    pool = [e for e in pool if e.lower() not in STOPWORDS]
    if not names:
        return None
    name = rng.choice(names)
    at = question.index(name)
    head = question[:at]
    if head.lower().endswith("the "):
        head = head[:-4]
    bent = head + rng.choice(_PRONOUNS) + question[at + len(name) :]
    others = sorted({e for e in pool if not e[0].isdigit() and e != name and e not in question})
    carried = [name, *rng.sample(others, k=min(len(others), rng.randint(0, 2)))]
    rng.shuffle(carried)
    return f"{bent.rstrip()} ({', '.join(carried)})"


def without_answer(sentence: str, answer: str) -> str | None:
    """The answer sentence with its answer cut out: on topic, but no longer answering (a refusal to learn)."""
    if answer not in sentence:
        return None
    cut = re.sub(r"\s+([,.;:)])", r"\1", re.sub(r"\s{2,}", " ", sentence.replace(answer, "", 1))).strip()
    return cut if len(cut.split()) >= 5 else None
