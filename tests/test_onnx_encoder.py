"""The ONNX export of all-MiniLM-L6-v2 against sentence-transformers (real model, no fakes), its sha256-checked cache,
and a `rag ask` that never imports torch, sentence-transformers or llama-index."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import onnx_encoder
from rag.errors import ConfigError
from rag.onnx_encoder import OnnxEncoder, cache_dir_for, verified_onnx
from rag.providers import packaged_minilm_path

ROOT = Path(__file__).resolve().parents[1]


def _texts(seeds_dir: Path) -> list[str]:
    """Every seed sentence (a few hundred), whole paragraphs, and texts far past the 256-token limit."""
    docs = [p.read_text(encoding="utf-8", errors="ignore") for p in sorted(seeds_dir.iterdir()) if p.is_file()]
    sentences = [s.strip() for d in docs for s in re.split(r"(?<=[.!?])\s+", d) if s.strip()]
    paragraphs = [p.strip() for d in docs for p in d.split("\n\n") if p.strip()]
    long = [" ".join(sentences[i : i + 40]) for i in range(0, len(sentences), 40)]
    return sentences + paragraphs[:60] + long + ["a", "  padded question?  ", "Ünïcödé — “quotes” 1,234.5%"]


def test_onnx_vectors_match_sentence_transformers(seeds_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    texts = _texts(seeds_dir)
    assert len(texts) >= 300
    path = packaged_minilm_path()
    onnx = OnnxEncoder(path, batch_size=64)
    assert max(len(onnx._tokenizer.encode(t).ids) for t in texts) == onnx.max_seq_length == 256  # truncation runs
    ours = onnx.encode(texts)
    ref = SentenceTransformer(str(path), device="cpu").encode(texts, batch_size=64, normalize_embeddings=True)
    cosine = (ours * ref).sum(axis=1)
    assert cosine.min() >= 0.9999
    assert np.abs(ours - ref).max() <= 1e-4
    one_by_one = np.stack([onnx.encode([t], threads=1)[0] for t in texts[:20]])  # no padding vs padded batches
    assert np.abs(one_by_one - ours[:20]).max() <= 1e-4


@pytest.fixture()
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of our own, seeded with a copy of the user's export (exporting again takes seconds)."""
    model = packaged_minilm_path()
    shared = verified_onnx(model).parent
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mine = cache_dir_for(model)
    shutil.copytree(shared, mine)
    return mine


def test_the_cache_records_the_sha256_of_the_file(private_cache: Path) -> None:
    digest = (private_cache / "model.onnx.sha256").read_text().split()[0]
    assert digest == onnx_encoder.file_sha256(private_cache / "model.onnx")
    assert verified_onnx(packaged_minilm_path()) == private_cache / "model.onnx"


def test_a_corrupt_cache_is_detected_and_exported_again(private_cache: Path, capsys) -> None:
    onnx = private_cache / "model.onnx"
    with onnx.open("r+b") as f:
        f.seek(onnx.stat().st_size // 2)
        f.write(b"\x00corrupt\x00")
    assert verified_onnx(packaged_minilm_path()) == onnx
    assert str(onnx) in capsys.readouterr().err
    assert onnx_encoder.file_sha256(onnx) == (private_cache / "model.onnx.sha256").read_text().split()[0]
    vec = OnnxEncoder(packaged_minilm_path()).encode(["Putin met To Lam in Hanoi."])
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5


def test_a_corrupt_cache_that_cannot_be_rebuilt_names_the_file_and_the_fix(private_cache: Path, monkeypatch) -> None:
    (private_cache / "model.onnx").write_bytes(b"not a model")

    def no_torch(model_dir: Path, dest: Path) -> None:
        raise ConfigError(f"Exporting {model_dir} to ONNX needs torch and transformers (installed by `make setup`).")

    monkeypatch.setattr(onnx_encoder, "export", no_torch)
    with pytest.raises(ConfigError) as err:
        verified_onnx(packaged_minilm_path())
    message = str(err.value)
    assert str(private_cache / "model.onnx") in message and "sha256" in message
    assert "python -m rag.onnx_encoder" in message and "make setup" in message


def test_rag_ask_imports_no_training_framework(seeds_dir: Path, isolated_data_dir: Path) -> None:
    import rag

    rag.ingest([seeds_dir])
    rag._engine = None
    probe = (
        "import sys\n"
        "from rag_cli import main\n"
        "code = main(['ask', 'Who did Putin meet in Hanoi?'])\n"
        "heavy = ['torch', 'sentence_transformers', 'transformers', 'llama_index.core', 'gradio', 'matplotlib']\n"
        "print('IMPORTED=' + ','.join(m for m in heavy if m in sys.modules), 'CODE=%d' % code)\n"
    )
    env = {**os.environ, "RAG_DATA_DIR": str(isolated_data_dir)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORTED= CODE=0" in out.stdout, out.stdout[-2000:]
    assert "[1]" in out.stdout  # an answer with a citation was printed


def test_only_bert_models_with_mean_pooling_take_the_onnx_path(tmp_path: Path) -> None:
    model = packaged_minilm_path()
    assert onnx_encoder.supported(model)
    cls = tmp_path / "cls-model"
    shutil.copytree(model, cls, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = json.loads((cls / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert not onnx_encoder.supported(cls)
