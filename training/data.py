"""train.jsonl/dev.jsonl → token ids and labels, through the shared chat format."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.chat_format import IGNORE_INDEX, encode_sample


@dataclass
class EncodeStats:
    samples: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    dropped_turns: int = 0
    empty: int = 0                      # samples with no trainable token left after truncation
    lengths: list[int] = field(default_factory=list)


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                row["messages"]  # noqa: B018 - fail here with the location, not deep inside training
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a sample line ({e}); rebuild it with `make dataset`") from None
            rows.append(row)
    return rows


def encode_file(tokenizer, path: Path, cutoff_len: int, prompt_budget: int | None = None
                ) -> tuple[list[dict], EncodeStats]:
    """Every sample's training sequences; ``prompt_budget``: serving's (core.conversation.prompt_budget)."""
    stats = EncodeStats()
    out = []
    for row in read_jsonl(path):
        # one sequence per sample, or several where the template renders history differently (encode_sample)
        for enc in encode_sample(tokenizer, row["messages"], cutoff_len, prompt_budget):
            trained = sum(1 for x in enc.labels if x != IGNORE_INDEX)
            stats.dropped_turns += enc.dropped_turns
            if not trained:
                stats.empty += 1
                continue
            stats.samples += 1
            stats.tokens += len(enc.input_ids)
            stats.trained_tokens += trained
            stats.lengths.append(len(enc.input_ids))
            out.append({"input_ids": enc.input_ids, "labels": enc.labels})
    return out, stats
