"""Deterministic synthetic news corpus (standard library only): ``python -m benchmarks.corpus N OUT_DIR [--seed S]``."""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from benchmarks import _vocab as V

DUP_EVERY = 50  # one article in 50 (2%) re-saves an earlier story with a word or two changed
TOKENS_PER_WORD = 1.4  # cl100k tokens per whitespace-separated word: 1.39 measured on 1,000 articles
WORDS = (250, 900)  # default body length range, in words
_TOPICS = sorted(V.TOPICS)
_AN = re.compile(r"\b([Aa]) (?=[aeio]|un)")
_DIGIT = re.compile(r"\d")
_SYN_RE = {k: re.compile(rf"\b{re.escape(k)}\b") for k in V.SYNONYMS}
_QUOTES = [("“", "”"), ("“", "”"), ('"', '"'), ("«", "»")]
_UNITS = ["million"] * 11 + ["billion"] * 8 + ["trillion"]
_NO_OPENER = ("{quote_said}", "In ", "At ", "Under ")
_SMALL_WORDS = {"a", "an", "and", "as", "at", "for", "in", "of", "on", "the", "to", "with"}


def doc_id(i: int) -> str:
    """File stem (= document id) of article ``i``."""
    return f"syn_{i:06d}"


def _dup_source(seed: int, i: int) -> int | None:
    """Index of the original story that article ``i`` saves again, or None when ``i`` is an original."""
    rng = random.Random(f"dup:{seed}:{i // DUP_EVERY}")  # one copy at a random slot in each block
    if i == 0 or i % DUP_EVERY != rng.randrange(DUP_EVERY):
        return None
    j = rng.randrange(i)
    k = _dup_source(seed, j)  # point at an original, never at another copy
    return j if k is None else k


def duplicate_pairs(n_articles: int, seed: int = 0) -> dict[str, str]:
    """Ground truth for dedup checks: near-duplicate doc id -> doc id of the article it copies."""
    return {doc_id(i): doc_id(j) for i in range(n_articles) if (j := _dup_source(seed, i)) is not None}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _title_case(s: str) -> str:
    return " ".join(w if i and w in _SMALL_WORDS else _cap(w) for i, w in enumerate(s.split(" ")))


def _coined(rng: random.Random) -> str:
    return rng.choice(V.NAME_HEADS) + rng.choice(V.NAME_MIDS) + rng.choice(V.NAME_TAILS)


def _person_name(rng: random.Random) -> tuple[str, str]:
    """(full name, family name) from one of several naming cultures."""
    given, family, family_first = rng.choice(V.CULTURES)
    g, f = rng.choice(given), rng.choice(family)
    if rng.random() < 0.08 and not family_first:
        g = f"{g} {chr(65 + rng.randrange(26))}."
    return (f"{f} {g}" if family_first else f"{g} {f}"), f


class _Slots(dict[str, str]):
    """``str.format_map`` mapping: fixed story values, else a fresh draw on every lookup."""

    def __init__(self, rng: random.Random, fixed: dict[str, str], gens: dict[str, list[str] | Callable[[], str]]):
        super().__init__(fixed)
        self.rng, self.gens = rng, gens

    def __missing__(self, key: str) -> str:
        gen = self.gens[key]
        return self.rng.choice(gen) if isinstance(gen, list) else gen()


class _Story:
    """One story: a fixed cast (people, places, companies, facts) and slot generators for the templates."""

    def __init__(self, rng: random.Random, words: tuple[int, int]) -> None:
        self.rng = r = rng
        self.topic = r.choice(_TOPICS)
        self.t, self.t2 = V.TOPICS[self.topic], V.TOPICS[r.choice(_TOPICS)]  # main and secondary vocabulary
        self.target = int(words[0] + (words[1] - words[0]) * r.random() ** 1.3)
        self.countries = r.sample(V.COUNTRIES, 3)
        home = self.countries[0]
        self.cities = r.sample(home[2], min(2, len(home[2]))) + [r.choice(self.countries[1][2])]
        self.year, self.month, self.day = r.randint(2019, 2025), r.randint(1, 12), r.randint(1, 28)
        self.date_style = r.choice(["us", "uk", "us", "uk", "iso"])
        self.pct_style = r.choice(["%", "%", " percent", " per cent"])
        self.quotes = r.choice(_QUOTES)
        self.outlet = r.choice(V.OUTLETS)
        suffixes = self.t["suffixes"] + V.COMPANY_SUFFIX
        self.companies = [f"{_coined(r)} {r.choice(suffixes)}" for _ in range(2)]
        self.orgs = [self._new_org(), self._new_org(), r.choice(V.GLOBAL_ORGS)]
        titles = [self.t["titles"]] * 2 + [self._pool("titles") for _ in range(r.randint(0, 2))]
        self.people = [(*_person_name(r), r.choice(t)) for t in titles]  # (full name, family name, title)
        self.noun1, self.deck = r.choice(self.t["nouns"]), []
        (p1, l1, t1), (p2, l2, t2) = self.people[:2]
        y, m, d, month = self.year, self.month, self.day, V.MONTHS[self.month - 1]
        # fmt: off
        pool: Callable[[str], Callable[[], str]] = lambda key: lambda: r.choice(self._pool(key))  # noqa: E731
        gens: dict[str, list[str] | Callable[[], str]] = {  # a list means "pick one"
            "noun": self._noun, "noun2": self._noun, "Noun": lambda: _cap(self._noun()), "adj": pool("adjs"),
            "verb": pool("verbs"), "things": pool("things"), "event": pool("events"), "person": self._person,
            "last": [p[1] for p in self.people], "org": self._org, "org_cap": lambda: _cap(self._org()),
            "company": self.companies, "country": [c[0] for c in self.countries], "city": self.cities,
            "country2": [c[0] for c in V.COUNTRIES], "demonym": [c[1] for c in self.countries[:2]],
            "money": self._money, "count": lambda: f"{int(10 ** r.uniform(1, 6)):,}", "pct": self._pct,
            "pct2": self._pct, "small": ["two", "three", "four", "five", "10"], "weekday": V.WEEKDAYS,
            "agency": V.AGENCIES, "year": lambda: str(self.year - int(r.triangular(1, 30, 1))),
            "future": lambda: str(self.year + r.randint(1, 9)),
            "date": lambda: self._date(r.randint(1, 12)), "trailer": lambda: self.fill(r.choice(V.TRAILERS)),
            "said": lambda: self.fill(r.choice(V.SAID)), "quote_said": self._quote_said,
            "quote_short": lambda: self._q(r.choice(V.DISMISSALS)), "headline2": self.headline,
        }
        fixed = {
            "p1_name": p1, "p1_last": l1, "p1_title": t1, "p1_title_cap": _cap(t1),
            "p2_name": p2, "p2_last": l2, "p2_title": t2, "p2_age": str(r.randint(29, 78)),
            "org1": self.orgs[0], "city1": self.cities[0], "city2": self.cities[1], "country1": home[0],
            "company1": self.companies[0], "event1": r.choice(self.t["events"]), "noun1": self.noun1,
            "fact_year": str(self.year - r.randint(1, 12)), "fact_year2": str(self.year + r.randint(1, 6)),
            "fact_date": self._date(self.month), "fact_date2": self._date(r.randint(1, self.month)),
            "fact_money": self._money(), "fact_count": f"{int(10 ** r.uniform(1, 6)):,}", "fact_pct": self._pct(),
            "fact_things": r.choice(self.t["things"]), "project": _coined(r), "outlet": self.outlet,
            "pub_year": str(self.year), "topic": self.topic, "tz": home[3], "weekday1": r.choice(V.WEEKDAYS),
            "iso": f"{y}-{m:02d}-{d:02d}", "us": f"{month} {d}, {y}", "uk": f"{d} {month} {y}",
            "hm": f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
        }
        # fmt: on
        self.slots = _Slots(r, fixed, gens)

    def fill(self, template: str) -> str:
        return template.format_map(self.slots)

    def _pool(self, key: str) -> list[str]:
        return self.t[key] if self.rng.random() < 0.9 else self.t2[key]

    def _noun(self) -> str:
        return self.noun1 if self.rng.random() < 0.2 else self.rng.choice(self._pool("nouns"))

    def _new_org(self) -> str:
        _, demonym, cities, _ = self.countries[0] if self.rng.random() < 0.7 else self.rng.choice(V.COUNTRIES)
        field = self.rng.choice(self.t["fields"])
        return self.rng.choice(V.ORG_PATTERNS).format(demonym=demonym, field=field, city=self.rng.choice(cities))

    def _org(self) -> str:
        return self.rng.choice(self.orgs if self.rng.random() < 0.85 else V.GLOBAL_ORGS)

    def _person(self) -> str:
        name, last, title = self.rng.choice(self.people)
        r = self.rng.random()
        if r < 0.4:
            return last
        if r < 0.75:
            return f"{_title_case(title)} {name}"
        return f"{name}, {self.rng.choice(['the', 'a'])} {title} at {self.rng.choice(self.companies + self.orgs)},"

    def _date(self, month: int) -> str:
        day, year, name = self.rng.randint(1, 28), self.year, V.MONTHS[month - 1]
        style = self.date_style if self.rng.random() < 0.85 else self.rng.choice(["us", "uk"])
        if style == "iso":
            return f"{year}-{month:02d}-{day:02d}"
        return f"{name} {day}, {year}" if style == "us" else f"{day} {name} {year}"

    def _money(self) -> str:
        r, cur = self.rng, self.rng.choice(["$", "$", "US$", "US$", "US$ "])
        if r.random() < 0.25:
            return f"{cur}{r.randint(2, 950) * 1000:,}"
        return f"{cur}{r.randint(1, 999) / r.choice([1, 10]):g} {r.choice(_UNITS)}"

    def _pct(self) -> str:
        return f"{self.rng.randint(1, 990) / 10:g}{self.pct_style}"

    def _q(self, text: str) -> str:
        o, c = self.quotes if self.rng.random() < 0.9 else self.rng.choice(_QUOTES)  # the odd mixed style
        return f"{o}{text}{c}"

    def _quote_said(self) -> str:
        text = _cap(self.fill(self.rng.choice(self.t["quotes"] + V.QUOTE_GENERIC)))
        who, said = self._person(), self.fill(self.rng.choice(V.SAID))
        if self.rng.random() < 0.6:
            return f"{self._q(text + ',')} {who} {said}."
        return f"{who} {said}: {self._q(text + '.')}"

    def headline(self) -> str:
        h = _cap(self.fill(self.rng.choice(V.HEADLINES)))
        return _title_case(h) if self.rng.random() < 0.3 else h

    def header(self) -> list[str]:
        r, lines = self.rng, []
        if r.random() < 0.4:
            name, last = _person_name(r)
            shout = name.replace(last, last.upper())
            lines.append(r.choice(V.BYLINES).format(name=name, shout=shout, outlet=self.outlet))
        if r.random() < 0.85:
            lines.insert(r.randint(0, len(lines)), self.headline())
        if r.random() < 0.6:
            lines.append(self.fill(r.choice(V.DATELINES)))
        if r.random() < 0.25:
            lines.append(_cap(self.fill(r.choice(V.STANDFIRSTS))))
        if r.random() < 0.3:
            caption = self.fill(r.choice(V.CAPTIONS))
            lines += [caption, caption]  # scraped pages repeat image captions
        return lines

    def paragraph(self, facts: bool) -> str:
        r, out = self.rng, []
        if facts:  # one fact per sentence: who / what / when / how many
            return " ".join(_cap(self.fill(f)) for f in r.sample(V.FACTS, r.randint(3, 5))).replace("..", ".")
        for _ in range(r.randint(2, 4 if self.target < 450 else 6)):
            if not self.deck:  # draw templates without replacement so an article rarely repeats a frame
                self.deck = r.sample(V.SENTENCES, len(V.SENTENCES))
            template = self.deck.pop()
            s = self.fill(template)
            opener = "" if template.startswith(_NO_OPENER) or s.endswith("?") else self.fill(r.choice(V.OPENERS))
            if opener:
                s = opener + (s[0].lower() + s[1:] if template[0] != "{" or s.startswith("The ") else s)
            out.append(_AN.sub(r"\1n ", _cap(s)).replace("..", "."))
        return " ".join(out)

    def body(self) -> list[str]:
        r, paras, n_words = self.rng, [], 0
        fact_at = r.randint(1, 3) if r.random() < 0.75 else -1
        while len(paras) < 20 and (len(paras) < 4 or n_words < self.target):
            p = self.paragraph(len(paras) == fact_at)
            if not paras and r.random() < 0.3:
                p = f"{self.cities[0].upper()}, {V.MONTHS[self.month - 1]} {self.day} — {p}"
            if paras and r.random() < 0.08:
                paras.append(_cap(self.fill(r.choice(V.SUBHEADS))))
            paras.append(p)
            n_words += len(p.split())
        if r.random() < 0.3:  # ad slots between paragraphs
            for k in sorted(r.sample(range(1, len(paras)), 2), reverse=True):
                paras.insert(k, "Advertisement")
        return paras

    def tail(self) -> list[str]:
        r, lines = self.rng, []
        if r.random() < 0.2:
            lines.append(f"By {_person_name(r)[0]}, {r.choice(V.STAFF_ROLES)}")
        if r.random() < 0.8:
            for item in sorted(r.sample(V.TAIL_ITEMS, r.randint(1, 5)), key=V.TAIL_ITEMS.index):
                lines.append(self.fill(item))
                if item in ("Related stories", "Most viewed articles"):
                    lines += [self.headline() for _ in range(r.randint(0, 3))]
        return lines


def _near_dup(text: str, rng: random.Random) -> str:
    """The same story saved again: one or two words (or a digit) changed."""
    for _ in range(rng.randint(1, 2)):
        hits = [(m, V.SYNONYMS[k]) for k in V.SYNONYMS if k in text for m in _SYN_RE[k].finditer(text)]
        if not hits:
            hits = [(m, str((int(m.group()) + 1) % 10)) for m in _DIGIT.finditer(text)]
        if hits:
            m, new = rng.choice(hits)
            text = text[: m.start()] + new + text[m.end() :]
    return text


def article_text(seed: int, i: int, words: tuple[int, int] = WORDS) -> str:
    """Full text of article ``i``; depends only on (seed, i, words), not on how many articles are generated."""
    src = _dup_source(seed, i)
    story = _Story(random.Random(f"core:{seed}:{i if src is None else src}"), words)
    sep, curly = story.rng.choice(["\n\n", "\n", "\n\n"]), story.quotes[0] == "“" and story.rng.random() < 0.6
    head, body = "\n".join(story.header()), sep.join(story.body())
    if src is not None:
        story.rng.seed(f"copy:{seed}:{i}")  # fresh edits and a different boilerplate tail
        body = _near_dup(body, story.rng)
    text = "\n\n".join(p for p in (head, body, "\n".join(story.tail())) if p) + "\n"
    return text.replace("'", "’") if curly else text  # typographic apostrophes go with curly quotes


def generate(n_articles: int, out_dir: Path, seed: int = 0, *, words: tuple[int, int] = WORDS) -> list[Path]:
    """Write ``syn_000000.txt``... to ``out_dir``; every 50th article is a near-duplicate (see duplicate_pairs)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{doc_id(i)}.txt" for i in range(n_articles)]
    for i, path in enumerate(paths):
        path.write_text(article_text(seed, i, words), encoding="utf-8")
    return paths


@lru_cache(maxsize=16)
def _chunks_per_article(chunk_tokens: int, overlap: int, sample: int = 300) -> float:
    step = max(1, chunk_tokens - overlap)
    tokens = [len(article_text(424242, i).split()) * TOKENS_PER_WORD for i in range(sample)]
    return sum(max(1, math.ceil(max(0.0, t - overlap) / step)) for t in tokens) / sample


def articles_for_chunks(target_chunks: int, chunk_tokens: int = 128, *, overlap: int = 0) -> int:
    """How many articles give roughly ``target_chunks`` chunks of ``chunk_tokens`` tokens (default length range).

    Estimated from a 300-article sample: whole-file words x TOKENS_PER_WORD, each article cut into
    ceil((tokens - overlap) / (chunk_tokens - overlap)) chunks: ~7.1 chunks per article at 128 tokens, so 10,000
    chunks ~ 1,400 articles. Sentence-aware splitters leave chunks under-full: llama-index's SentenceSplitter(128)
    made 7.9 per article, i.e. expect ~10% more chunks than the target.
    """
    return max(1, math.ceil(target_chunks / _chunks_per_article(chunk_tokens, overlap)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__)
    ap.add_argument("n", type=int, help="number of articles")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--words", type=int, nargs=2, default=WORDS, metavar=("MIN", "MAX"), help="body length range")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = generate(a.n, a.out_dir, a.seed, words=(a.words[0], a.words[1]))
    dt = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in paths)
    dups = len(duplicate_pairs(a.n, a.seed))
    print(f"wrote {len(paths)} articles ({dups} near-duplicates, {size / 1e6:.1f} MB) to {a.out_dir} in {dt:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
