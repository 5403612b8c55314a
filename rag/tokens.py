"""Token counting with the cl100k tokenizer that llama-index ships (no download)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import lru_cache, partial


@lru_cache(maxsize=1)
def _encoder() -> Callable[[str], list[int]]:
    # llama-index-core bundles the tiktoken BPE files (what its get_tokenizer points TIKTOKEN_CACHE_DIR at); find
    # them without importing llama_index.core, which costs seconds on the question path.
    import tiktoken

    spec = importlib.util.find_spec("llama_index.core")
    bundled = os.path.join(list(spec.submodule_search_locations or [])[0], "_static", "tiktoken_cache") if spec else ""
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    if before is None and bundled:
        os.environ["TIKTOKEN_CACHE_DIR"] = bundled
    try:
        enc = tiktoken.get_encoding("cl100k_base")
    finally:
        if before is None and bundled:
            del os.environ["TIKTOKEN_CACHE_DIR"]
    return partial(enc.encode, allowed_special="all")


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``: the unit of chunk sizes and context budgets."""
    if not text:
        return 0
    return len(_encoder()(text))
