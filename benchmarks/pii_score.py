"""Score PII masking on the labelled chat lines in tests/fixtures/pii/: span recall per type, false positives.

Each set is JSONL: {"text": ..., "spans": [{"type": ..., "value": ...}, ...]}; a line with no spans is a hard
negative (order numbers, dates, versions, service numbers, ...). Values are located in the text in order. The
masker is scored on the ranges its `spans()` reports (the ones `mask()` replaces); a pii.py without `spans()` (an
older version) is scored from what `mask()` returns, its placeholders aligned back to the input.

- recall: a labelled span is found when the masked ranges of the right type cover all of it
  ("masked" ignores the type: the value is hidden, but under another placeholder);
- exact: a masked range equals the labelled span (boundaries right, nothing around it eaten);
- false positives: negative lines with anything masked, and masked ranges on positive lines that touch no label.

Labels: the value is the identifier as written (its +86, brackets and separators), without the words before it
("QQ号：", "微信"). phone = mobiles and numbers with a foreign country code (also UK/US/HK mobiles written locally);
landline = mainland fixed lines (+86 and an area code included) and local numbers after a phone word; digits after a
WeChat word that form a mobile are a phone. main.jsonl was written before the rules were tuned on it; heldout.jsonl
after, and fresh.jsonl after every rule change.

    python benchmarks/pii_score.py [SET.jsonl ...] [--pii path/to/pii.py] [--list] [--speed]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = ROOT / "tests" / "fixtures" / "pii"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Span = tuple[int, int, str]  # start, end, type


@dataclass
class Row:
    text: str
    gold: list[Span]


@dataclass
class Score:
    spans: Counter = field(default_factory=Counter)    # type -> labelled spans
    found: Counter = field(default_factory=Counter)    # type -> covered by ranges of that type
    masked: Counter = field(default_factory=Counter)   # type -> covered by ranges of any type
    exact: Counter = field(default_factory=Counter)    # type -> a range equals the span
    positives: int = 0
    negatives: int = 0
    fp_lines: int = 0                                  # negatives with anything masked
    extra_spans: int = 0                               # masked ranges on positive lines that touch no label
    misses: list[tuple[Row, Span, str]] = field(default_factory=list)
    false_positives: list[tuple[Row, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(1, sum(self.spans.values()))

    @property
    def fp_rate(self) -> float:
        return self.fp_lines / max(1, self.negatives)


def load(paths: Iterable[Path]) -> list[Row]:
    rows = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            doc = json.loads(line)
            text, gold, at = doc["text"], [], 0
            for s in doc["spans"]:
                start = text.find(s["value"], at)
                if start < 0:
                    raise ValueError(f"{path}:{n}: {s['value']!r} not found in order in {text!r}")
                at = start + len(s["value"])
                gold.append((start, at, s["type"]))
            rows.append(Row(text, gold))
    return rows


def masked_ranges(text: str, out: str, placeholders: dict[str, str]) -> list[Span]:
    """Where in ``text`` the masker put each placeholder of ``out``: the text between kept pieces."""
    kinds = {v: k for k, v in placeholders.items()}
    pieces = re.split("(" + "|".join(map(re.escape, kinds)) + ")", out)
    if len(pieces) == 1:
        return []
    # kept text must reappear in order; each placeholder stands for at least one character between
    pattern = "".join(re.escape(p) if i % 2 == 0 else "(.+?)" for i, p in enumerate(pieces))
    m = re.fullmatch(pattern, text, re.S)
    if m is None:
        raise ValueError(f"masked output does not align with its input: {text!r} -> {out!r}")
    return [(m.start(g), m.end(g), kinds[pieces[2 * g - 1]]) for g in range(1, len(pieces) // 2 + 1)]


def _covered(span: Span, ranges: list[Span]) -> bool:
    start, end, _ = span
    chars = set(range(start, end))
    for s, e, _ in ranges:
        chars -= set(range(s, e))
    return not chars


def score(rows: list[Row], find: Callable[[str], list[Span]]) -> Score:
    sc = Score()
    for row in rows:
        pred = find(row.text)
        out = _masked_text(row.text, pred)
        if not row.gold:
            sc.negatives += 1
            if pred:
                sc.fp_lines += 1
                sc.false_positives.append((row, out))
            continue
        sc.positives += 1
        for span in row.gold:
            kind = span[2]
            sc.spans[kind] += 1
            typed = _covered(span, [p for p in pred if p[2] == kind])
            sc.found[kind] += typed
            sc.masked[kind] += _covered(span, pred)
            sc.exact[kind] += span in pred
            if not typed:
                sc.misses.append((row, span, out))
        extra = [p for p in pred if not any(p[0] < g[1] and g[0] < p[1] for g in row.gold)]
        if extra:
            sc.extra_spans += len(extra)
            sc.false_positives.append((row, out))
    return sc


def report(name: str, sc: Score, listing: bool) -> str:
    total = sum(sc.spans.values())
    lines = [f"== {name}: {sc.positives} positive lines ({total} spans), {sc.negatives} negative lines",
             f"{'type':<10} {'spans':>6} {'recall':>8} {'masked':>8} {'exact':>8}"]
    for kind in sorted(sc.spans, key=lambda k: -sc.spans[k]):
        n = sc.spans[kind]
        lines.append(f"{kind:<10} {n:>6} {sc.found[kind] / n:>8.1%} {sc.masked[kind] / n:>8.1%} "
                     f"{sc.exact[kind] / n:>8.1%}")
    lines.append(f"{'all':<10} {total:>6} {sc.recall:>8.1%} {sum(sc.masked.values()) / max(1, total):>8.1%} "
                 f"{sum(sc.exact.values()) / max(1, total):>8.1%}")
    lines.append(f"false positives: {sc.fp_lines}/{sc.negatives} negative lines ({sc.fp_rate:.1%}), "
                 f"{sc.extra_spans} unlabelled masked ranges on positive lines")
    if listing:
        for row, (s, e, kind), out in sc.misses:
            lines.append(f"  MISS {kind:<9} {row.text[s:e]!r:<28} {row.text!r} -> {out!r}")
        for row, out in sc.false_positives:
            lines.append(f"  FP   {row.text!r} -> {out!r}")
    return "\n".join(lines)


def _masked_text(text: str, ranges: list[Span]) -> str:
    out, at = [], 0
    for start, end, kind in ranges:
        out += (text[at:start], f"<{kind}>")
        at = end
    return "".join(out) + text[at:]


def load_finder(path: Path | None) -> tuple[Callable[[str], list[Span]], Callable[[str], str]]:
    """(text -> masked ranges, text -> masked text) of data_prep.pii, or of another copy of it (an older version)."""
    if path is None:
        from data_prep import pii as module
    else:
        spec = importlib.util.spec_from_file_location("pii_under_test", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)

    def mask(text: str) -> str:
        return module.mask(text, Counter())

    if hasattr(module, "spans"):
        return module.spans, mask
    return (lambda text: masked_ranges(text, mask(text), module.PLACEHOLDER)), mask


def speed(mask: Callable[[str], str], rows: list[Row], seconds: float = 2.0) -> tuple[float, float]:
    """Lines/s on the labelled lines (nearly all carry PII or look like it) and on plain chat lines."""
    plain = ["今天好累啊", "晚上吃什么", "哈哈哈笑死我了", "好呀~", "我也是[旺柴]", "周末有空吗？一起去爬山",
             "明天几点开会", "在路上了", "ok see you at 7", "这个怎么弄啊"]
    rates = []
    for lines in ([r.text for r in rows], plain):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for line in lines:
                mask(line)
            n += len(lines)
        rates.append(n / (time.perf_counter() - t0))
    return rates[0], rates[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", type=Path, nargs="*", help="JSONL sets (default: every *.jsonl in tests/fixtures/pii)")
    ap.add_argument("--pii", type=Path, default=None, help="score this pii.py instead of data_prep/pii.py")
    ap.add_argument("--list", action="store_true", help="list every miss and false positive")
    ap.add_argument("--speed", action="store_true", help="also measure masking throughput")
    args = ap.parse_args()
    find, mask = load_finder(args.pii)
    for path in args.sets or sorted(SETS.glob("*.jsonl")):
        rows = load([path])
        print(report(path.name, score(rows, find), args.list))
        if args.speed:
            labelled, plain = speed(mask, rows)
            print(f"speed: {labelled:,.0f} labelled lines/s, {plain:,.0f} plain chat lines/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
