"""A sentence-transformers model (Transformer → mean pooling → L2) on onnxruntime, so answering needs no torch.

The ONNX graph is exported once from the model folder (torch and transformers are needed for that step only:
``make setup`` runs it, ``python -m rag.onnx_encoder``, or else the first encode does) and cached under
``$XDG_CACHE_HOME/rag-news/onnx/`` (default ``~/.cache``), written atomically with its sha256 beside it. Every load
checks the sha256; a corrupt file is rebuilt, or named in an error that says how to fix it when torch is missing.
Tokenisation (tokenizers, truncation at the model's ``max_seq_length``), mean pooling and L2 normalisation reproduce
sentence-transformers: ``tests/test_onnx_encoder.py`` holds the two to cosine ≥ 0.9999 on a few hundred sentences.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.assets import file_sha256, packaged_minilm_path
from rag.errors import ConfigError

EXPORT_VERSION = 1  # bump when the exported graph changes, so old caches are not reused
_KEY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "tokenizer.json")


def cache_root() -> Path:
    """Where exported models live: ``$XDG_CACHE_HOME/rag-news/onnx`` or ``~/.cache/rag-news/onnx``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-news" / "onnx"


def supported(model_dir: Path) -> bool:
    """True when the folder is a BERT-style sentence-transformers model with mean pooling and nothing after it."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    )
    return kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"} and bool(mean_only) and (
        model_dir / "tokenizer.json"
    ).is_file()


def cache_dir_for(model_dir: Path) -> Path:
    """The cache folder of one model folder: keyed by its configs, its weights' size and mtime, and EXPORT_VERSION."""
    h = hashlib.sha256(f"{model_dir.resolve()}|{EXPORT_VERSION}".encode())
    for name in _KEY_FILES:
        p = model_dir / name
        h.update(p.read_bytes() if p.is_file() else b"-")
    for w in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("pytorch_model.bin")):
        st = w.stat()
        h.update(f"|{w.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_root() / f"{model_dir.resolve().name}-{h.hexdigest()[:16]}"


def export(model_dir: Path, dest: Path) -> None:
    """Export the model's token embeddings (input_ids, attention_mask, token_type_ids → last_hidden_state) to ONNX."""
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ConfigError(
            f"Exporting {model_dir} to ONNX needs torch and transformers (installed by `make setup`)."
        ) from exc
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes that are fixed per call anyway
        torch.onnx.export(
            TokenEmbeddings(), (ids, mask, torch.zeros_like(ids)), str(dest), dynamo=False, input_names=names,
            output_names=["token_embeddings"], dynamic_axes=dynamic, opset_version=17, do_constant_folding=True,
        )


def _build(model_dir: Path, final: Path) -> None:
    """Export into a temporary folder beside ``final`` and rename it into place (atomic; a concurrent winner stays)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        export(model_dir, tmp / "model.onnx")
        (tmp / "model.onnx.sha256").write_text(f"{file_sha256(tmp / 'model.onnx')}  model.onnx\n")
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first; its export is as good as ours
            if not (final / "model.onnx.sha256").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def verified_onnx(model_dir: Path) -> Path:
    """Path of the model's exported ONNX file, exporting it first if needed; its sha256 is checked on every call."""
    final = cache_dir_for(model_dir)
    onnx, digest = final / "model.onnx", final / "model.onnx.sha256"
    if not final.exists():
        try:
            _build(model_dir, final)
        except OSError as exc:
            raise ConfigError(f"Could not write the ONNX export of {model_dir} under {final.parent} ({exc}). "
                              "Make that folder writable or point XDG_CACHE_HOME elsewhere.") from None
    recorded = digest.read_text().split()[0] if digest.is_file() else ""
    if onnx.is_file() and recorded and file_sha256(onnx) == recorded:
        return onnx
    print(f"rag: {onnx} does not match its recorded sha256; exporting it again.", file=sys.stderr)
    shutil.rmtree(final, ignore_errors=True)
    try:
        _build(model_dir, final)
    except ConfigError as exc:
        raise ConfigError(f"{onnx} is corrupt (sha256 mismatch) and cannot be rebuilt here: {exc} "
                          f"Or delete {final} and run `python -m rag.onnx_encoder` where torch is installed.") from None
    if file_sha256(onnx) != digest.read_text().split()[0]:
        raise ConfigError(f"{onnx} still fails its sha256 check after a fresh export: delete {final} and retry.")
    return onnx


class OnnxEncoder:
    """Texts → L2-normalised mean-pooled vectors, as sentence-transformers computes them, on onnxruntime."""

    def __init__(self, model_dir: Path, batch_size: int = 64) -> None:
        from tokenizers import Tokenizer

        self.path = verified_onnx(model_dir)
        cfg = model_dir / "sentence_bert_config.json"
        self.max_seq_length = int(json.loads(cfg.read_text()).get("max_seq_length", 256)) if cfg.is_file() else 256
        self.dim = int(json.loads((model_dir / "1_Pooling" / "config.json").read_text())["word_embedding_dimension"])
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)
        pad = self._tokenizer.padding or {}
        self._tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def session(self, threads: int) -> Any:
        """One onnxruntime session per thread count (0: one thread per core), created on first use."""
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # polite on busy cores
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                self._sessions[threads] = ort.InferenceSession(
                    str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]

    def encode(self, texts: Sequence[str], threads: int = 0) -> np.ndarray:
        """Encode in batches of similar length (longest first, as sentence-transformers does)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        sess = self.session(threads)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encs = self._tokenizer.encode_batch([str(texts[i]).strip() for i in idx])
            ids = np.array([e.ids for e in encs], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
            tokens = sess.run(None, {"input_ids": ids, "attention_mask": mask,
                                     "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def main() -> None:
    """``python -m rag.onnx_encoder``: export (or check) the packaged model's ONNX file and print its path."""
    print(verified_onnx(packaged_minilm_path()))


if __name__ == "__main__":
    main()
