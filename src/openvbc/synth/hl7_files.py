"""HL7 v2 message files: one ``adt/YYYY-MM-DD.hl7`` per event day, written chunk by chunk.

Messages follow each other directly; every segment (the last one too) ends with a carriage
return, so a reader splits a file into messages at each ``MSH`` that starts a segment.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa


class Hl7DayFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        # Files are appended per chunk, so stale ones from an earlier run must go first.
        for old in folder.glob("*.hl7"):
            old.unlink()
        self.days: set[int] = set()
        self.messages = 0
        # One handle per day stays open for the whole run (at most 366): reopening every file
        # for every chunk cost seconds per million members.
        self._handles: dict[int, BinaryIO] = {}

    @property
    def files(self) -> int:
        return len(self.days)

    def append(self, epoch_day: np.ndarray, messages: pa.Array) -> None:
        if len(messages) == 0:
            return
        order = np.argsort(epoch_day, kind="stable")
        days = epoch_day[order]
        ordered = messages.take(pa.array(order))
        bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
        for start, stop in itertools.pairwise(bounds):
            day = int(days[start])
            name = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
            text = "".join(ordered.slice(start, stop - start).to_pylist())
            handle = self._handles.get(day)
            if handle is None:
                handle = self._handles[day] = (self.folder / f"{name}.hl7").open("wb")
            handle.write(text.encode("utf-8"))
            self.days.add(day)
        self.messages += len(messages)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
