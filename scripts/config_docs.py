"""Write docs/configuration.md from the settings object (rag/settings.py), so the table cannot drift from the code.

    python -m scripts.config_docs            # print the page
    python -m scripts.config_docs --write    # rewrite docs/configuration.md
    python -m scripts.config_docs --check    # exit 1 when docs/configuration.md differs (what the test checks)

Each field gives one row: its environment variable(s), type and bounds, default and description. The sections are
the ``# --- name ---`` comments of the settings class, in source order.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "configuration.md"
COMMAND = "python -m scripts.config_docs --write"
_SECTION = re.compile(r"^\s*#\s*-+\s*(?P<name>[^-]+?)\s*-+\s*$")
_FIELD = re.compile(r"^    (?P<name>[a-z_][a-z0-9_]*)\s*:")

HEADER = f"""# Configuration

<!-- Generated from rag/settings.py by `{COMMAND}`; do not edit by hand.
     tests/test_config_docs.py fails when this page and the settings differ. -->

Every setting is one field of `rag.settings.Settings` (pydantic-settings). Set it as an environment variable, in a
`.env` file in the working directory, or in code (`Engine(Settings(llm="openai"))`). Environment variables win over
`.env`; names are case-insensitive. A value that fails validation stops start-up with a message naming the field.
"""


def env_names(name: str, field: FieldInfo, prefix: str) -> list[str]:
    """The environment variables that set a field: its aliases, else the prefixed field name."""
    alias = field.validation_alias or field.alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"{prefix}{name}".upper()]


def type_text(annotation: Any) -> str:
    """A short reader's name for a field's type: `a` | `b` for a choice, 'optional' for one that may be unset."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        inner = " or ".join(type_text(a) for a in kept)
        return f"{inner}, optional" if len(kept) < len(args) else inner
    if annotation is SecretStr:
        return "secret"
    if annotation is Path:
        return "path"
    return {str: "text", int: "integer", float: "number", bool: "true/false"}.get(annotation, str(annotation))


def bounds_text(field: FieldInfo) -> str:
    """The numeric bounds a field enforces, as '≥ 1', '> 0', '0–1'."""
    marks = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found = {key: getattr(meta, key) for meta in field.metadata for key in marks if hasattr(meta, key)}
    if "ge" in found and "le" in found:
        return f"{found['ge']}–{found['le']}"
    return ", ".join(f"{marks[key]} {value}" for key, value in found.items())


def default_text(field: FieldInfo) -> str:
    """The default as the reader would type it; 'unset' for None."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    return f"`{value}`"


def sections(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """Field name → the section comment above it in the class source ('' before the first one)."""
    current, found = "", {}
    for line in inspect.getsource(settings_cls).splitlines():
        if m := _SECTION.match(line):
            current = m.group("name").strip()
        elif m := _FIELD.match(line):
            found.setdefault(m.group("name"), current)
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(settings_cls: type[BaseSettings] | None = None) -> str:
    """The whole page for a settings class (default: rag.settings.Settings)."""
    if settings_cls is None:
        from rag.settings import Settings as settings_cls
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    where = sections(settings_cls)
    grouped: dict[str, list[str]] = {}
    for name, field in settings_cls.model_fields.items():
        kind = type_text(field.annotation)
        if bound := bounds_text(field):
            kind = f"{kind}, {bound}"
        names = " or ".join(f"`{n}`" for n in env_names(name, field, prefix))
        row = f"| {names} | {_cell(kind)} | {_cell(default_text(field))} | {_cell(field.description or '')} |"
        grouped.setdefault(where.get(name, ""), []).append(row)
    out = [HEADER]
    for section, rows in grouped.items():
        out.append(f"## {section[:1].upper() + section[1:] if section else 'General'}\n")
        out.append("| variable | type | default | meaning |\n|---|---|---|---|")
        out.extend(rows)
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"rewrite {PAGE.relative_to(ROOT)}")
    mode.add_argument("--check", action="store_true", help="exit 1 when the page differs from the settings")
    args = parser.parse_args(argv)
    page = render()
    if args.write:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(page, encoding="utf-8")
        print(f"wrote {PAGE.relative_to(ROOT)}")
    elif args.check:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != page:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{PAGE.relative_to(ROOT)} is up to date")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
