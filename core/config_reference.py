"""The config reference table in README.md, generated from the schema so the two cannot drift.

    python -m core.config_reference          # print the table
    python -m core.config_reference --write  # update README.md between the markers
"""
from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from .config import Config

BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def _default(field) -> str:
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`".replace("PosixPath(", "").replace("')", "'")
    value = field.default
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value!r}`" if isinstance(value, str) else f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, f in model.model_fields.items():
        if f.exclude:
            continue
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel):  # a nested [section]
            rows += _rows(f.annotation, f"{prefix}{name}.")
        else:
            rows.append(f"| `{prefix}{name}` | {_default(f)} | {f.description or ''} |")
    return rows


def table() -> str:
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *_rows(Config, "")])


def readme_block(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()


if __name__ == "__main__":
    if "--write" in sys.argv:
        text = README.read_text(encoding="utf-8")
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        README.write_text(f"{text[:start]}\n{table()}\n{text[end:]}", encoding="utf-8")
    else:
        print(table())
