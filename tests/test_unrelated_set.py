"""The standalone-after-unrelated-turns set is dev.jsonl's own questions, each after an exchange about other articles."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from eval.dataset import load_questions

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_set_is_rebuilt_from_dev_and_each_history_is_about_other_articles() -> None:
    spec = importlib.util.spec_from_file_location("build_unrelated", ROOT / "scripts" / "build_unrelated.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dev = [json.loads(line) for line in (ROOT / "eval/questions/dev.jsonl").read_text().splitlines() if line]
    committed = ROOT / "eval/questions/dev_unrelated.jsonl"
    rebuilt = module.build(dev)
    assert [json.loads(line) for line in committed.read_text().splitlines()] == rebuilt
    questions, bad = load_questions(committed)
    assert not bad and len(questions) == len(rebuilt) > 40
    by_question = {d["question"]: d for d in dev}
    for q in rebuilt:
        earlier = by_question[q["history"][0]["content"]]
        assert earlier["id"] != q["id"][:-1] and not set(earlier["sources"]) & set(q["sources"])
