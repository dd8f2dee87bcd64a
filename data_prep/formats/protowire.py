"""Reading protobuf wire format without a schema: just enough for WeChat's BytesExtra column."""
from __future__ import annotations

from collections.abc import Iterator


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            return result, i
        shift += 7


def fields(b: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Top-level (field number, wire type, value) of a message: varints as int, length-delimited as bytes.
    Fixed-width fields are skipped; iteration stops at an unknown wire type. Raises IndexError on a truncated
    varint."""
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i)
        fnum, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
            yield fnum, wt, v
        elif wt == 2:
            ln, i = _varint(b, i)
            yield fnum, wt, b[i:i + ln]
            i += ln
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            return
