"""The decision models' fitting (scripts/fit_refusal.py): pure numerics on synthetic data, no engine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("fit_refusal", ROOT / "scripts" / "fit_refusal.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_the_logistic_fit_recovers_the_weights_that_generated_the_labels() -> None:
    fit = _module().fit_logistic
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, 3.0]
    true_w, true_b = np.array([1.5, -0.75, 2.0]), -4.0
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(x @ true_w + true_b)))).astype(float)
    coef, bias = fit(x, y, np.ones(len(x)), l2=0.0)
    assert np.allclose(coef, true_w, atol=0.1) and abs(bias - true_b) < 0.4, (coef, bias)


def test_a_row_weighted_twice_counts_as_two_rows() -> None:
    fit = _module().fit_logistic
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(float)
    weight = np.where(np.arange(300) < 100, 2.0, 1.0)
    doubled = np.vstack([x, x[:100]]), np.concatenate([y, y[:100]])
    a = fit(x, y, weight, l2=0.0)
    b = fit(*doubled, np.ones(400), l2=0.0)
    assert np.allclose(a[0], b[0], atol=1e-6) and abs(a[1] - b[1]) < 1e-6


def test_headroom_reports_the_ranking_the_hindsight_cutoff_and_the_oracle_ceiling() -> None:
    fr = _module()
    from rag.answering import decide

    model = decide.Refusal(decide.Signals(best=0.0, lead=0.0, rules_refused=0.0, retrieval=1.0), 0.0, 0.5)

    def row(retrieval: float | None, answerable: bool, recall: float | None = None,
            refused_anyway: bool = False) -> object:
        signals = None if retrieval is None else decide.Signals(0.0, 0.0, 0.0, retrieval)
        return fr.Row(signals, answerable, refused_anyway, recall)

    # answerable questions score high (one of them answered wrongly, one refused before the scorer); one
    # unanswerable question scores above an answerable one, so no cutoff separates them all
    rows = [row(3.0, True, 1.0), row(2.0, True, 0.0), row(-0.5, True, 1.0), row(None, True, 0.0),
            row(0.0, False), row(-3.0, False)]
    room = fr.headroom(rows, model)
    # 4 answerable x 2 unanswerable pairs; the answerable question refused early (0.0) loses to both; the one at
    # -0.5 beats only the unanswerable one at -3.0: 2 + 2 + 1 + 0 = 5 of 8
    assert room["auc"] == 5 / 8
    # the oracle answers the three answerable questions that have an answer: recall (1 + 0 + 1 + 0) / 4; it refuses
    # both unanswerable ones and the answerable one refused early: refusal F1 0.8 (precision 2/3, recall 1), answer
    # F1 6/7 (precision 1, recall 3/4)
    assert room["oracle_recall"] == 0.5 and abs(room["oracle_gr"] - (0.8 + 6 / 7) / 2) < 1e-9
    # no cutoff beats the oracle, and the hindsight cutoff is at least as good as answering everything
    everything = fr.figures(rows, [r.signals is not None for r in rows])
    assert sum(everything) <= room["own_recall"] + room["own_gr"] <= room["oracle_recall"] + room["oracle_gr"]
    assert 0.05 <= room["own_cutoff"] <= 0.95


def test_the_lead_fit_scores_each_model_by_the_recall_and_citation_precision_of_the_answers_its_choices_lead() -> None:
    module = _module()
    # two questions, three candidates each (reader log-odds, retrieval, fits, article); then the fact recall and the
    # citation precision of the answer each would lead
    row = module.LeadRow
    rows = [row(np.array([[2.0, 0.5, 0.0, 0.0], [-1.0, 0.9, 0.0, 1.0], [0.0, 0.6, 1.0, 0.0]]), np.array([1.0, 0.0, 0.0]),
                np.array([0.5, 1.0, 1.0])),
            row(np.array([[0.0, 0.8, 1.0, 1.0], [1.0, 0.7, 0.0, 0.0], [0.0, 0.1, 0.0, 0.0]]), np.array([1.0, 0.5, 0.0]),
                np.array([1.0, 1.0, 0.0]))]
    lead = module.decide.LeadModel
    assert module.lead_figures(rows, lead(1.0, 0.0, 0.0, 0.0)) == (0.75, 0.75)  # recall 1.0 and 0.5, precision 0.5 and 1.0
    assert module.lead_figures(rows, lead(0.0, 1.0, 0.0, 0.0))[0] == 0.5  # 0.0 and 1.0
    assert module.lead_figures(rows, lead(0.0, 0.0, 1.0, 0.0))[0] == 0.5  # 0.0 and 1.0
    assert module.lead_figures(rows, lead(0.0, 0.0, 0.0, 1.0))[0] == 0.5  # 0.0 and 1.0
    assert module.lead_score(rows, lead(1.0, 0.0, 0.0, 0.0)) == 1.5
    assert module.lead_score(rows, lead(0.0, 1.0, 0.0, 0.0)) == 1.5  # recall 0.0 and 1.0, precision 1.0 and 1.0
    best = max(module.LEAD_GRID, key=lambda m: module.lead_score(rows, m))
    assert module.lead_figures(rows, best)[0] == 1.0 and module.lead_score(rows, best) == 1.75  # both right: 1.0 + 0.75
