"""Tests for the synthetic news corpus generator (benchmarks/corpus.py)."""

from __future__ import annotations

import ast
import difflib
import itertools
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import _vocab as V  # noqa: E402
from benchmarks.corpus import (  # noqa: E402
    WORDS,
    article_text,
    articles_for_chunks,
    duplicate_pairs,
    generate,
    main,
)

BOILERPLATE = [
    "Related stories",
    "Most viewed articles",
    "Comments",
    "RECOMMEND:",
    "Please direct questions or comments to []",
    "Advertisement",
]


@pytest.fixture(scope="module")
def corpus300(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    paths = generate(300, tmp_path_factory.mktemp("syn300"), seed=0)
    return {p.stem: p.read_text(encoding="utf-8") for p in paths}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = generate(25, tmp_path / "a", seed=7)
    b = generate(25, tmp_path / "b", seed=7)
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))


def test_different_seeds_differ(tmp_path: Path) -> None:
    a = generate(25, tmp_path / "a", seed=1)
    b = generate(25, tmp_path / "b", seed=2)
    assert sum(x.read_bytes() != y.read_bytes() for x, y in zip(a, b, strict=True)) == 25


def test_writes_requested_count_with_doc_id_names(tmp_path: Path) -> None:
    paths = generate(17, tmp_path, seed=0)
    assert len(paths) == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"syn_{i:06d}.txt" for i in range(17)]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_article_does_not_depend_on_corpus_size(tmp_path: Path) -> None:
    small = generate(10, tmp_path / "small", seed=3)
    big = generate(40, tmp_path / "big", seed=3)
    assert [p.read_text(encoding="utf-8") for p in small] == [p.read_text(encoding="utf-8") for p in big[:10]]
    assert big[5].read_text(encoding="utf-8") == article_text(3, 5)


def test_boilerplate_present(corpus300: dict[str, str]) -> None:
    for marker in BOILERPLATE:
        hits = sum(marker in _lines(text) for text in corpus300.values())
        assert hits >= 10, marker
    doubled = sum(
        any(a == b and a.endswith(")") and len(a) > 40 for a, b in itertools.pairwise(_lines(text)))
        for text in corpus300.values()
    )
    assert doubled >= 20, "image captions repeated twice in a row"


def test_near_duplicates_present_and_detectable(corpus300: dict[str, str]) -> None:
    pairs = duplicate_pairs(300, seed=0)
    assert 5 <= len(pairs) <= 6  # 2%: one per block of 50
    for dup, src in pairs.items():
        a, b = corpus300[src], corpus300[dup]
        assert a != b
        ratio = difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()
        assert ratio > 0.85, (dup, src, ratio)

    # Without the ground truth, 8-word shingles find exactly those groups and nothing else.
    shingles = {
        d: {" ".join(w[i : i + 8]) for i in range(len(w) - 7)} for d, t in corpus300.items() for w in [t.split()]
    }
    index: dict[str, set[str]] = defaultdict(set)
    for d, sh in shingles.items():
        for s in sh:
            index[s].add(d)
    similar = set()
    for d, sh in shingles.items():
        shared: dict[str, int] = defaultdict(int)
        for s in sh:
            if len(index[s]) <= 5:  # phrases shared by many articles are template text, not copying
                for other in index[s] - {d}:
                    shared[other] += 1
        similar |= {frozenset((d, o)) for o, n in shared.items() if n / len(sh | shingles[o]) > 0.5}
    groups: dict[str, set[str]] = defaultdict(set)
    for dup, src in pairs.items():
        groups[src] |= {src, dup}
    expected = {frozenset(p) for g in groups.values() for p in itertools.combinations(sorted(g), 2)}
    assert similar == expected


def test_lengths_vary(corpus300: dict[str, str]) -> None:
    words = [len(t.split()) for t in corpus300.values()]
    assert min(words) >= WORDS[0]
    assert max(words) <= WORDS[1] * 1.5
    assert statistics.pstdev(words) > 100
    paragraphs = [len([p for p in re.split(r"\n\s*\n|\n", t) if len(p.split()) > 25]) for t in corpus300.values()]
    assert min(paragraphs) >= 3 and max(paragraphs) >= 12


def test_topics_vary(corpus300: dict[str, str]) -> None:
    for topic, vocab in V.TOPICS.items():
        on_topic = sum(sum(n in text for n in vocab["nouns"]) >= 4 for text in corpus300.values())
        assert on_topic >= 8, topic


def test_realistic_surface_features(corpus300: dict[str, str]) -> None:
    text = "\n".join(corpus300.values())
    patterns = {
        "korean dateline": r"Posted on : \d{4}-\d\d-\d\d \d\d:\d\d [A-Z]+ Modified on",
        "US date": r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December) "
        r"\d{1,2}, \d{4}\b",
        "UK date": r"\b\d{1,2} (?:January|June|September|December) \d{4}\b",
        "US$ money": r"US\$ ?\d[\d,.]* (?:million|billion)",
        "$ money": r"(?<!US)\$\d[\d,.]*",
        "percent": r"\d%|\d percent|\d per cent",
        "counts": r"\b\d{1,3},\d{3}\b",
        "byline": r"^(?:By [A-Z][^\n,]+, |Author: )",
        "curly quotes": r"“[^”]+”",
        "straight quotes": r'"[^"\n]+"',
        "guillemets": r"«[^»]+»",
    }
    for name, pattern in patterns.items():
        assert len(re.findall(pattern, text, flags=re.M)) >= 20, name


def test_sentences_are_not_trivially_repetitive(corpus300: dict[str, str]) -> None:
    sentences = [s for t in corpus300.values() for s in re.split(r"(?<=[.?!])\s+", t) if len(s.split()) >= 8]
    assert len(set(sentences)) / len(sentences) > 0.85
    vocabulary = {w.lower() for t in corpus300.values() for w in re.findall(r"[^\W\d_]+", t)}
    assert len(vocabulary) > 2500


def test_200_articles_run(tmp_path: Path) -> None:
    assert len(generate(200, tmp_path)) == 200


def test_articles_for_chunks_estimate() -> None:
    n = articles_for_chunks(10_000)
    assert 600 <= n <= 3000
    assert articles_for_chunks(20_000) >= 2 * n - 1
    assert articles_for_chunks(10_000, chunk_tokens=512) > n  # bigger chunks: fewer per article
    assert articles_for_chunks(10_000, overlap=32) < n
    assert articles_for_chunks(1) == 1


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["5", str(tmp_path / "cli"), "--seed", "4"]) == 0
    assert "wrote 5 articles" in capsys.readouterr().out
    assert len(list((tmp_path / "cli").glob("syn_*.txt"))) == 5


def test_runs_as_module_with_standard_library_only(tmp_path: Path) -> None:
    for name in ("corpus.py", "_vocab.py"):
        tree = ast.parse((ROOT / "benchmarks" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for mod in mods:
                    top = mod.split(".")[0]
                    assert top in sys.stdlib_module_names or top in ("benchmarks", "__future__"), mod
    out = subprocess.run(
        [sys.executable, "-S", "-m", "benchmarks.corpus", "3", str(tmp_path / "m")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "wrote 3 articles" in out
