"""The packaged embedding model: question encodes on one thread give the same vectors, on onnxruntime (the default)
and on the torch fallback, and the torch fallback leaves torch's thread setting as it was."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from rag.providers import LocalEmbedder

Q = ["Which article of the treaty commits both sides to military assistance?"]


def test_the_packaged_model_runs_on_onnxruntime_under_its_usual_name() -> None:
    e = LocalEmbedder()
    assert (e.backend, e.name, e.dim) == ("onnx", "all-MiniLM-L6-v2", 384)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_a_question_encoded_on_one_thread_matches_the_default_encoding(backend: str) -> None:
    default, single = LocalEmbedder(query_threads=0, backend=backend), LocalEmbedder(query_threads=1, backend=backend)
    a, b = default.embed(Q), single.embed(Q)
    assert a.shape == b.shape == (1, default.dim)
    assert float(a[0] @ b[0]) > 0.9999
    assert abs(float(np.linalg.norm(a[0])) - 1.0) < 1e-5


def test_torch_query_threads_apply_to_the_encode_only_and_are_restored(monkeypatch) -> None:
    single = LocalEmbedder(query_threads=1, backend="torch")
    seen: list[int] = []
    raw = single.encode
    monkeypatch.setattr(single, "encode", lambda texts: (seen.append(torch.get_num_threads()), raw(texts))[1])
    before = torch.get_num_threads()
    single.embed([f"a question asked at {threading.get_ident()}"])
    assert torch.get_num_threads() == before
    assert seen == [1]
    many = [f"sentence number {i}" for i in range(20)]  # a batch (not a question) keeps torch's default
    single.embed(many)
    assert seen[-1] == before
    assert np.isfinite(single.embed(many)).all()


def test_onnx_questions_use_a_one_thread_session_and_batches_every_core() -> None:
    e = LocalEmbedder(query_threads=1)
    e.embed(Q)
    e.embed([f"sentence number {i}" for i in range(20)])
    assert sorted(e._onnx._sessions) == [0, 1]
