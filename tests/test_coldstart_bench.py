"""Smoke run of benchmarks.coldstart: `--quick` exits 0, prints its figures, and its `rag ask` loaded no heavy module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def test_coldstart_quick() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.coldstart", "--quick"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = proc.stdout
    assert "import sentence_transformers:" in out and "import onnxruntime + tokenizers:" in out
    assert "heavy modules imported: none" in out
    assert "ratio cold rag ask (best) / import sentence_transformers" in out
    assert "ratio warm answer p50 onnx / torch" in out and "raw encoder, chunks: onnx" in out
