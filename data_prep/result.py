"""What a dataset build produced: the record build.py fills and report.py writes out (a module of its own, so
neither imports the other)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .clean import CleanStats
from .samples import Sample, SampleStats
from .sessions import SessionStats
from .sources import ParseLog


@dataclass
class BuildResult:
    out_dir: Path
    train: list[Sample]
    dev: list[Sample]
    log: ParseLog
    clean: CleanStats
    sessions: SessionStats
    samples: SampleStats
    profile: dict
    file_messages: Counter = field(default_factory=Counter)  # file -> messages read
    owner_files: Counter = field(default_factory=Counter)  # file -> owner messages read (before cleaning)
