"""The format table (data_prep/formats/__init__.py): sniffing order, overlaps, missing modules, module boundaries."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import data_prep.formats as formats
from data_prep.formats import FormatTableError, all_formats, by_name
from data_prep.sources import head

FORMATS_DIR = Path(formats.__file__).parent
TESTS = Path(__file__).parent


def test_table_lists_every_format_in_order() -> None:
    names = [f.name for f in all_formats()]
    assert names == list(formats._MODULES)
    assert names[-1] == "neutral"  # the catch-all CSV/JSONL reader is asked last
    for winner, loser, why in formats.OVERLAPS:
        assert names.index(winner) < names.index(loser) and why


def test_missing_format_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "_MODULES", formats._MODULES + ("no_such_format",))
    with pytest.raises(FormatTableError, match="no_such_format.py is missing"):
        all_formats()
    with pytest.raises(FormatTableError):
        by_name("neutral")


def test_overlap_against_the_order_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "OVERLAPS", (("neutral", "qq", "wrong way round"),))
    with pytest.raises(FormatTableError, match="neutral must be sniffed before qq"):
        all_formats()


def test_no_format_imports_another_format() -> None:
    """Formats share code through helper modules (wechat, lz4block, …), never through a sibling format."""
    names = set(formats._MODULES)
    for mod in names:
        tree = ast.parse((FORMATS_DIR / f"{mod}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported = {node.module} if node.module else {a.name for a in node.names}
                assert not (imported & names), f"{mod} imports {imported & names}"


def test_every_overlap_seen_in_the_fixtures_is_in_the_table() -> None:
    """Where two sniffers accept one file, the table must say which wins and why."""
    files = [p for p in (TESTS / "fixtures").rglob("*") if p.is_file()]
    declared = {(w, loser) for w, loser, _ in formats.OVERLAPS}
    seen: set[tuple[str, str]] = set()
    for p in files:
        start = head(p)
        yes = [f.name for f in all_formats() if start.strip() and f.sniff(p, start)]
        seen |= {(a, b) for i, a in enumerate(yes) for b in yes[i + 1:]}
    assert seen <= declared, seen - declared
    assert seen == declared, f"declared overlaps no fixture shows (add one, or drop the entry): {declared - seen}"
