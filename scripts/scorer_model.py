"""The scorer's model: MiniLM layers with sentence and span heads, tokenised pairs, loss, prediction, validation."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scorer_data import window

from rag.text import split_sentences

BASE: Path | None = None  # --base: the encoder folder to start from (default: the packaged all-MiniLM-L6-v2)


def base_path() -> Path:
    from rag.assets import packaged_minilm_path

    return BASE if BASE is not None else packaged_minilm_path()


def build_model(layers: list[int]):
    """MiniLM's first encoder layers, mean-pooled (as the sentence model was trained) into one logit."""
    import torch
    from transformers import AutoModel

    class Scorer(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)
            self.span = torch.nn.Linear(encoder.config.hidden_size, 2)  # answer start / end logit per token

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled), self.span(hidden)

    encoder = AutoModel.from_pretrained(str(base_path()), add_pooling_layer=False)
    encoder.encoder.layer = torch.nn.ModuleList([encoder.encoder.layer[i] for i in layers])
    encoder.config.num_hidden_layers = len(layers)
    return Scorer(encoder)


def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_path()))


def batch_logits(model, tok, qs: list[str], ts: list[str], max_tokens: int, device: str = "cpu"):
    enc = tok(qs, ts, truncation="longest_first", max_length=max_tokens, padding=True, return_tensors="pt")
    return model(*(enc[k].to(device) for k in ("input_ids", "attention_mask", "token_type_ids")))[0][:, 0].float()


class Encoded:
    """Every training pair tokenised once: token and type ids (flat, with row offsets), the label, and the answer's
    first and last token (-100 when the pair has no answer or truncation cut it)."""

    def __init__(self, tok, pairs: list[tuple], max_tokens: int, chunk: int = 20000) -> None:  # noqa: ANN001
        ids, types, lengths, starts, ends = [], [], [], [], []
        for lo in range(0, len(pairs), chunk):
            part = pairs[lo : lo + chunk]
            enc = tok([p[0] for p in part], [p[1] for p in part], truncation="longest_first", max_length=max_tokens,
                      return_offsets_mapping=True)
            for r, p in enumerate(part):
                row = enc["input_ids"][r]
                ids.append(np.asarray(row, dtype=np.int32))
                types.append(np.asarray(enc["token_type_ids"][r], dtype=np.int8))
                lengths.append(len(row))
                first, last = answer_tokens(enc, r, p)
                starts.append(first)
                ends.append(last)
        self.ids, self.types = np.concatenate(ids), np.concatenate(types)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.labels = np.asarray([p[2] for p in pairs], dtype=np.float32)
        self.starts, self.ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The rows padded to their longest: input_ids, attention_mask, token_type_ids, labels, starts, ends."""
        width = int(self.lengths[rows].max())
        ids = np.zeros((len(rows), width), dtype=np.int64)
        types, mask = np.zeros_like(ids), np.zeros_like(ids)
        for k, r in enumerate(rows):
            a, b = self.offsets[r], self.offsets[r + 1]
            ids[k, : b - a], types[k, : b - a], mask[k, : b - a] = self.ids[a:b], self.types[a:b], 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": self.labels[rows],
                "starts": self.starts[rows], "ends": self.ends[rows]}


def answer_tokens(enc, r: int, pair: tuple) -> tuple[int, int]:  # noqa: ANN001
    """The first and last token of the pair's answer span inside the candidate (-100, -100 when none survives)."""
    lo, hi = (pair[3], pair[4]) if len(pair) > 3 else (-1, -1)
    if lo < 0:
        return -100, -100
    seq = np.asarray([-1 if s is None else s for s in enc.sequence_ids(r)])
    offs = np.asarray(enc["offset_mapping"][r]).reshape(-1, 2)
    ok = (seq == 1) & (offs[:, 1] > offs[:, 0])
    firsts = np.flatnonzero(ok & (offs[:, 1] > lo))  # the first token that ends after the answer starts
    lasts = np.flatnonzero(ok & (offs[:, 0] < hi))
    if not len(firsts) or not len(lasts) or lasts[-1] < firsts[0] or offs[lasts[-1], 1] < hi:
        return -100, -100  # truncated away
    return int(firsts[0]), int(lasts[-1])


def forward(model, batch: dict[str, np.ndarray], device: str = "cpu"):  # noqa: ANN201
    """The batch on the device, and the model's sentence and span logits for it (bf16 autocast on a GPU)."""
    import torch

    t = {k: torch.from_numpy(v).to(device, non_blocking=True) for k, v in batch.items()}
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        logits, span = model(t["input_ids"], t["attention_mask"], t["token_type_ids"])
    return t, logits.float(), span.float()


def batch_loss(model, batch: dict[str, np.ndarray], span_weight: float, device: str = "cpu"):
    """BCE on the sentence label, plus (for positives whose answer survives truncation) cross-entropy on the
    answer's first and last token: the span teaches what kind of value the question asks for."""
    import torch

    t, logits, span = forward(model, batch, device)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], t["labels"])
    if span_weight and bool((t["starts"] >= 0).any()):
        second = (t["token_type_ids"] == 1) & (t["attention_mask"] == 1)
        masked = span.masked_fill(~second.unsqueeze(-1), -1e4)
        ce = torch.nn.functional.cross_entropy
        loss = loss + span_weight * 0.5 * (ce(masked[:, :, 0], t["starts"], ignore_index=-100)
                                           + ce(masked[:, :, 1], t["ends"], ignore_index=-100))
    return loss


def predict(model, tok, pairs: list[tuple[str, str]], max_tokens: int, device: str = "cpu") -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(pairs), 64):
            part = pairs[i : i + 64]
            out.append(torch.sigmoid(batch_logits(model, tok, [p[0] for p in part], [p[1] for p in part],
                                                  max_tokens, device)).cpu().numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0)


def validate(model, tok, val: list[dict], articles: list[dict], max_tokens: int, device: str = "cpu") -> dict:
    """Pair AUC, top-1 within the gold paragraph, and the refusal threshold on gold-removed questions."""
    pairs, owners = [], []
    for r_i, rec in enumerate(val):
        for i in range(len(rec["sents"])):
            pairs.append((rec["q"], window(rec, i)))
            owners.append((r_i, i, "gold"))
        paras = articles[rec["article"]]["paragraphs"]
        for j in sorted({(rec["para"] + d) % len(paras) for d in (1, 2, 3)} - {rec["para"]}):
            ctx = paras[j]["context"]
            sents = [ctx[s:e] for s, e in split_sentences(ctx)]
            for i in range(len(sents)):
                pairs.append((rec["q"], window(rec, i, sents)))
                owners.append((r_i, i, "other"))
    probs = predict(model, tok, pairs, max_tokens, device)
    best_gold = {}
    best_other: dict[int, float] = {}
    labels, scores = [], []
    for (r_i, i, kind), p in zip(owners, probs, strict=True):
        if kind == "gold":
            labels.append(1 if i == val[r_i]["gold"] else 0)
            scores.append(p)
            if p > best_gold.get(r_i, (-1, -1))[0]:
                best_gold[r_i] = (p, i)
        else:
            best_other[r_i] = max(best_other.get(r_i, 0.0), float(p))
    top1 = float(np.mean([best_gold[r][1] == val[r]["gold"] for r in best_gold]))
    # answerable: gold paragraph present (right if top-1 correct); unanswerable: only the other paragraphs
    ans_p = np.asarray([max(best_gold[r][0], best_other.get(r, 0.0)) for r in best_gold])
    ans_ok = np.asarray([best_gold[r][1] == val[r]["gold"] and best_gold[r][0] >= best_other.get(r, 0.0)
                         for r in best_gold])
    una_p = np.asarray([best_other.get(r, 0.0) for r in best_gold])
    curve = []
    for t in np.arange(0.05, 0.96, 0.05):
        tp = float(np.sum((ans_p >= t) & ans_ok))  # answered and right
        answered = float(np.sum(ans_p >= t))
        refused_right = float(np.sum(una_p < t))
        # grounded-refusal F1 over the two halves: precision/recall of 'answer' decisions on answerable,
        # and of 'refuse' on unanswerable, averaged
        acc = (tp + refused_right) / (2 * len(ans_p))
        curve.append({"t": round(float(t), 2), "answered_right": tp / len(ans_p), "answered": answered / len(ans_p),
                      "refused_unanswerable": refused_right / len(ans_p), "balanced_acc": acc})
    best = max(curve, key=lambda c: c["balanced_acc"])
    return {"pair_auc": auc(np.asarray(labels), np.asarray(scores)), "top1": top1, "best_threshold": best, "curve": curve}


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance a positive outscores a negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def initial_weights(path: Path, layers: list[int]) -> dict:
    """The weights to fine-tune from: a run's final.pt, or an exported int8 ONNX reader's weights dequantised."""
    import torch

    if path.suffix != ".onnx":
        state = torch.load(path, weights_only=False, map_location="cpu")
        if state.get("layers", layers) != layers:
            raise SystemExit(f"{path} has layers {state.get('layers')}: rerun with --layers "
                             f"{','.join(map(str, state['layers']))}")
        return state["model"]
    from mine_negatives import dequantised

    return dequantised(path, layers)


def soft_labels(encoded: Encoded, args: argparse.Namespace, cache: Path, device: str) -> np.ndarray:
    """Distillation targets: each pair's label mixed with a teacher's probability (``--soft`` of it), the teacher
    being another run's final.pt (a deeper reader, say) read over the same tokenised pairs. Its probabilities are
    computed once and kept in ``cache``, so a resumed run reuses them."""
    import torch

    if cache.exists():
        probs = np.load(cache)
    else:
        state = torch.load(args.teacher, weights_only=False, map_location="cpu")
        if state["max_tokens"] != args.max_tokens or state["context"] != args.context:
            raise SystemExit(f"The teacher {args.teacher} read {state['max_tokens']} tokens ({state['context']}); "
                             f"train the student with --max-tokens {state['max_tokens']} --context {state['context']}.")
        teacher = build_model(state["layers"])
        teacher.load_state_dict(state["model"])
        teacher.to(device).eval()
        out = []
        with torch.no_grad():
            for lo in range(0, len(encoded), 256):
                _, logits, _ = forward(teacher, encoded.batch(np.arange(lo, min(lo + 256, len(encoded)))), device)
                out.append(torch.sigmoid(logits[:, 0]).cpu().numpy())
        probs = np.concatenate(out).astype(np.float32)
        np.save(cache, probs)
        del teacher
    if len(probs) != len(encoded):
        raise SystemExit(f"{cache} holds {len(probs)} teacher probabilities for {len(encoded)} pairs; delete it.")
    return ((1 - args.soft) * encoded.labels + args.soft * probs).astype(np.float32)
