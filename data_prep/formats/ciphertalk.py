"""CipherTalk / 密语 (WeChat 4.x) 详细 JSON: ``{"exportInfo": {"generator": "CipherTalk", "format": "detailed-json"},
"session": {…, "ownerId"}, "messages": […]}``, read by the shared WeChat 4.x detailed-JSON parser (wechat_json.py).
Its ChatLab and ChatLab-JSONL outputs are read by the chatlab format."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..records import Message
from ..sources import ParseLog
from . import SimpleFormat, wechat_json

_EXPORT_INFO = re.compile(r'"exportInfo"\s*:\s*\{[^{}]*"(?:generator"\s*:\s*"CipherTalk|format"\s*:\s*"detailed-json)"')


def sniff(path: Path, head: str) -> bool:
    return head.lstrip().startswith("{") and bool(_EXPORT_INFO.search(head))


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    return wechat_json.parse(path, log, me, "ciphertalk")


FORMAT = SimpleFormat("ciphertalk", sniff, parse)
