"""Example questions shown on an empty chat, each answerable from one of the seed articles."""

from __future__ import annotations

from collections.abc import Iterable

# question -> the seed document that answers it
SEED_EXAMPLES: dict[str, str] = {
    "Which article of the Russia–North Korea agreement commits the two sides to military assistance?":
        "000_47bab1ff1479f7a2",
    "How many agreements did Putin and To Lam sign in Hanoi?": "004_0f3fec0a3f19dfb0",
    "What share of Vietnam's arms come from Russia?": "004_0f3fec0a3f19dfb0",
    "How much was Russia–China trade worth last year?": "000_47bab1ff1479f7a2",
}

GENERIC_EXAMPLES: list[str] = [
    "What are the main topics of these articles?",
]


def examples_for(doc_ids: Iterable[str]) -> list[str]:
    """The seed questions whose article is indexed; a generic question when none is."""
    present = set(doc_ids)
    chosen = [q for q, doc in SEED_EXAMPLES.items() if doc in present]
    return chosen or ([] if not present else GENERIC_EXAMPLES)
