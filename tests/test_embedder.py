"""The packaged embedding model: question encodes on one thread give the same vectors and leave torch as it was."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from rag.providers import LocalEmbedder


@pytest.fixture(scope="module")
def embedders() -> tuple[LocalEmbedder, LocalEmbedder]:
    return LocalEmbedder(query_threads=0), LocalEmbedder(query_threads=1)


def test_a_question_encoded_on_one_thread_matches_the_default_encoding(embedders) -> None:
    default, single = embedders
    q = ["Which article of the treaty commits both sides to military assistance?"]
    a, b = default.embed(q), single.embed(q)
    assert a.shape == b.shape == (1, default.dim)
    assert float(a[0] @ b[0]) > 0.9999


def test_query_threads_apply_to_the_encode_only_and_are_restored(embedders, monkeypatch) -> None:
    _, single = embedders
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
