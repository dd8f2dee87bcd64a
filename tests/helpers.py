"""Small helpers tests share: reading a format, and watching the decoder's model calls."""
from __future__ import annotations

from pathlib import Path

from data_prep.sources import ParseLog


def run_format(fmt, path: Path, me: frozenset[str] = frozenset()):
    """All messages a format parses from ``path``, and its log."""
    log = ParseLog()
    return list(fmt.FORMAT.parse(path, log, me)), log


def lines(msgs) -> list[int]:
    return [int(m.source.rsplit(":", 1)[1]) for m in msgs]


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


def model_calls(model, during=None):
    """(running rows, tokens of each prompt slice) of every model call runtime.decoding makes, and the hook to
    remove; ``during(calls)`` runs inside each call, once it is recorded."""
    calls: list[tuple[int, tuple[int, ...]]] = []

    def record(module, args, kwargs):
        batch = kwargs["ragged_batch"]
        calls.append((batch.decoding, tuple(n for _, _, n in batch.slices)))
        if during is not None:
            during(calls)

    return calls, model.register_forward_pre_hook(record, with_kwargs=True)
