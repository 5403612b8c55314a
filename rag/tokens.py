"""Token counting with the cl100k tokenizer that llama-index ships (no download)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _encoder():
    # llama-index-core bundles the tiktoken BPE files and points TIKTOKEN_CACHE_DIR at them.
    from llama_index.core.utils import get_tokenizer

    return get_tokenizer()


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``: the unit of chunk sizes and context budgets."""
    if not text:
        return 0
    return len(_encoder()(text))
