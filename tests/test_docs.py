"""README.md and docs/: short README that opens with the two commands, links that resolve, commands that still exist."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

import rag
from rag_cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
OURS = ("rag", "rag_cli", "ui", "eval", "benchmarks", "scripts")


def blocks(page: Path, language: str) -> list[str]:
    """The fenced code blocks of a page in one language."""
    return [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8")) if lang == language]


def commands(page: Path) -> list[list[str]]:
    """Each shell command of a page's bash blocks as words: comments, `VAR=value` prefixes and `&` dropped."""
    out = []
    for body in blocks(page, "bash"):
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words.pop(0)
            if words and words[-1] == "&":
                words.pop()
            if words:
                out.append(words)
    return out


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The `rag` command's subcommand parsers by name."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))


def test_readme_is_short_and_opens_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150, "README.md is for the first three minutes: keep it to 150 lines"
    first = FENCE.search(text)
    assert first and text[: first.start()].strip().count("\n") == 0, "the first thing after the title is the commands"
    assert [words[:2] for words in commands(README)[:2]] == [["make", "run"], ["make", "test"]]


def test_readme_shows_a_small_committed_picture_of_the_chat() -> None:
    images = [ROOT / target for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README.read_text(encoding="utf-8"))]
    assert images, "README.md links no image"
    for image in images:
        assert image.is_file(), f"{image} is linked from README.md but missing"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{image} is not a PNG"
        assert image.stat().st_size <= 300_000, f"{image} is {image.stat().st_size} bytes; keep it under 300 KB"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (page.parent / target.split("#")[0]).exists(), f"{page.name} links {target}, which does not exist"


def inline_commands(page: Path) -> list[list[str]]:
    """Commands quoted inline (`python -m …`, `make …`, `rag …`) as words, `VAR=value` prefixes dropped."""
    found = re.findall(r"`(?:[A-Z_]+=\S+ )*((?:python -m|make|rag) [^`]+)`", page.read_text(encoding="utf-8"))
    return [text.split() for text in found if "|" not in text]


def check_command(words: list[str], where: str, parse: bool) -> None:
    """Fail when a shown command names a missing make target, rag command or option, module or script."""
    program, args = words[0], words[1:]
    if program == "make":
        assert set(args) <= make_targets(), f"{where}: `make {' '.join(args)}` names no Makefile target"
    elif program == "rag":
        parser = build_parser()
        rag_commands = subcommands(parser)
        assert args and args[0] in rag_commands, f"{where}: `rag {' '.join(args[:1])}` is no rag command"
        options = rag_commands[args[0]]._option_string_actions
        for flag in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", " ".join(args[1:])):
            assert flag in options, f"{where}: `rag {args[0]}` has no option {flag}"
        if parse and not any(ch in " ".join(args) for ch in "[]") and not {"...", "ID"} & set(args):
            parser.parse_args(args)  # a concrete example parses as written (argparse exits on an error)
    elif program == "python" and args[:1] == ["-m"]:
        module = args[1]
        name = module if module.split(".")[0] in OURS else module.split(".")[0]
        assert importlib.util.find_spec(name), f"{where}: `python -m {module}`: no such module"
    elif program == "python" and args and args[0].endswith(".py"):
        assert (ROOT / args[0]).is_file(), f"{where}: `python {args[0]}`: no such script"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_still_exists(page: Path) -> None:
    for words in commands(page):
        check_command(words, page.name, parse=True)
    for words in inline_commands(page):
        check_command(words, f"{page.name} (inline)", parse=False)


def test_the_readme_code_example_uses_the_public_api() -> None:
    (example,) = blocks(README, "python")
    tree = ast.parse(example)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "rag":
            assert {alias.name for alias in node.names} <= set(rag.__all__)


def test_the_command_check_catches_a_stale_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```bash\nRAG_LLM=openai rag ask \"q\" --since 2024 &  # old flag\nmake \\\n  deploy\n```\n")
    assert commands(page) == [["rag", "ask", "q", "--since", "2024"], ["make", "deploy"]]
    for words in commands(page):
        with pytest.raises(AssertionError):
            check_command(words, "page.md", parse=True)
    check_command(["rag", "ask", "q", "--from", "2024-06-01"], "page.md", parse=True)
