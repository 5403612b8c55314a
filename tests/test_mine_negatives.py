"""Fine-tuning the reader on its own false answers: the exported int8 reader's weights come back into torch, mining
keeps the sentences it wrongly believes (never one holding the answer), and a fine-tune from them trains only the
layers it is told to."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from test_scorer import _script, _tiny_squad

from rag.scorer import PACKAGED, AnswerScorer, pair_text


def test_the_two_most_believed_false_answers_become_negatives_beside_the_answer_and_replay_is_added() -> None:
    mine = _script("mine_negatives")
    rows = [{"q": "Who led it?", "pos": "A led it.", "span": [0, 1],
             "neg": [("B sold it.", 0.9), ("C saw it.", 0.5), ("D ran.", 0.99), ("E hid.", 0.3), ("F.", 0.05)]},
            {"q": "When?", "pos": "In 1901.", "span": [3, 7], "neg": [("Never.", 0.1)]}]
    replay = [["x?", f"r{i}.", 0.0] for i in range(20)]
    pairs, mined = mine.fine_tune_pairs(rows, replay, 2.0, 0.15, 0.97, random.Random(1))
    assert mined == 3  # 0.99 is over --high (it probably answers), the second question has none in range
    assert {p[:3] for p in pairs if not p[0].startswith("x")} == {
        ("Who led it?", "A led it.", 1.0), ("Who led it?", "B sold it.", 0.0), ("Who led it?", "C saw it.", 0.0)}
    assert len(pairs) == 3 + 6 and ("Who led it?", "A led it.", 1.0, 0, 1) in pairs


@pytest.mark.slow
def test_a_fine_tune_starts_from_the_exported_reader_and_trains_only_its_unfrozen_layers(tmp_path: Path) -> None:
    import torch

    train, mine = _script("train_scorer"), _script("mine_negatives")
    squad, built, tuned = _tiny_squad(tmp_path / "tiny.json"), tmp_path / "built", tmp_path / "tuned"
    common = ["--squad", str(squad), "--val-articles", "2"]
    assert train.main([*common, "--out", str(built), "--questions", "32", "--val-questions", "8", "--build-only"]) == 0
    assert mine.main([*common, "--reader", str(PACKAGED), "--replay", str(built / "pairs.json"), "--out", str(tuned),
                      "--questions", "24", "--k", "4", "--low", "0.0", "--high", "1.0"]) == 0
    data = json.loads((tuned / "pairs.json").read_text())
    answers = {(p[0], p[1]) for p in data["pairs"] if p[2] == 1.0}
    wrong = [p for p in data["pairs"] if p[2] == 0.0 and (p[0], p[1]) not in answers]
    assert answers and wrong and data["val"] == json.loads((built / "pairs.json").read_text())["val"]

    onnx = PACKAGED / "model.int8.onnx"
    model = train.build_model([0, 1, 2, 3])
    model.load_state_dict(mine.dequantised(onnx, [0, 1, 2, 3]))
    model.eval()
    sample = [("How many bridges did Arden build?",
               pair_text("Bridges of Arden", "", "The town of Arden built 100 bridges.", "It cost $3 million.")),
              ("Who led the works?", pair_text("Bridges of Arden", "The town of Arden built 100 bridges.",
                                               "The works were led by Mayor Quill.", ""))]
    torch_probs = train.predict(model, train.tokenizer(), sample, 128)
    onnx_probs = np.concatenate([AnswerScorer(PACKAGED).probs(q, [t]) for q, t in sample])
    assert np.abs(torch_probs - onnx_probs).max() < 0.08  # int8 activations aside, the same reader

    assert train.main([*common, "--out", str(tuned), "--init", str(onnx), "--freeze", "2", "--layers", "0,1,2,3",
                       "--max-tokens", "128", "--steps", "2", "--batch", "8", "--threads", "1", "--lr", "1e-3"]) == 0
    before, after = model.state_dict(), torch.load(tuned / "final.pt", weights_only=False)["model"]
    for name in before:
        same = torch.equal(before[name], after[name])
        frozen = name.startswith(("encoder.embeddings.", "encoder.encoder.layer.0.", "encoder.encoder.layer.1."))
        assert same == frozen, name
    assert not torch.equal(before["head.weight"], after["head.weight"])
    report = json.loads((tuned / "validation.json").read_text())
    assert report["init"] == str(onnx) and report["freeze"] == 2
