"""The refusal model's fitting (scripts/fit_refusal.py): pure numerics on synthetic data, no engine."""

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
