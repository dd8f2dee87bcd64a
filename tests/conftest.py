from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data_prep.records import Kind, Message  # noqa: E402


@pytest.fixture
def msg():
    """Factory for messages at minute offsets from a fixed start."""
    t0 = datetime(2024, 3, 1, 9, 0, 0)

    def make(sender: str, text: str, minute: float, *, me: bool = False, chat: str = "friend", group: bool = False,
             kind: Kind = Kind.TEXT) -> Message:
        return Message(chat_id=chat, chat_name=chat, is_group=group, sender=sender, is_me=me,
                       time=t0 + timedelta(minutes=minute), kind=kind, text=text, source=f"x.txt:{int(minute)}")

    return make
