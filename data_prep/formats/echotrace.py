"""EchoTrace (WeChat 4.x) JSON export: ``{"session": {…}, "messages": […], …, "exportTime": …}``, read by the
shared WeChat 4.x detailed-JSON parser (see wechat_json.py). ``isSend`` may be null there: ``me`` decides."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..records import Message
from ..sources import ParseLog
from . import SimpleFormat, wechat_json

_SESSION = re.compile(r'"session"\s*:\s*\{')
_MESSAGE_KEYS = re.compile(r'"senderDisplayName"\s*:|"messages"\s*:\s*\[')


def sniff(path: Path, head: str) -> bool:
    return head.lstrip().startswith("{") and bool(_SESSION.search(head)) and bool(_MESSAGE_KEYS.search(head))


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    return wechat_json.parse(path, log, me, "echotrace")


FORMAT = SimpleFormat("echotrace", sniff, parse)
