"""The collector's write-ahead log: acknowledged events as fsync'd JSON-lines segments.

A line holds one request's events as a JSON array. A segment is deleted only once every event
in it is committed in DuckDB; on start-up the remaining segments are replayed (`read_segment`).
Erasure rewrites segments without a customer's events (`cartwise.service.log_erase`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

SEGMENT_GLOB = "segment-*.jsonl"


class EventLog:
    """Append-only JSON-lines segments in `directory`, fsync'd on every append."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        self.current = (existing[-1][0] + 1) if existing else 1
        self._file: Any = None
        self._size = 0
        # Appends and `seal` take turns: a deletion drops the segments between two appends.
        self.lock = threading.Lock()

    def segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(SEGMENT_GLOB):
            try:
                found.append((int(path.stem.split("-")[1]), path))
            except (IndexError, ValueError):
                continue
        return sorted(found)

    def _open(self) -> None:
        path = self.directory / f"segment-{self.current:010d}.jsonl"
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 (kept open across appends)
        self._size = path.stat().st_size
        # Make the new file's directory entry durable too, or a crash could lose the whole file.
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def append(self, data: bytes) -> int:
        """Write and fsync `data`; returns the segment number it went to."""
        with self.lock:
            if self._file is None:
                self._open()
            self._file.write(data)
            os.fsync(self._file.fileno())
            self._size += len(data)
            return self.current

    def rotate_if_full(self) -> None:
        with self.lock:
            if self._file is not None and self._size >= self.segment_bytes:
                self._file.close()
                self._file = None
                self.current += 1

    def seal(self) -> None:
        """Close the current segment (the next append starts a new one); call holding `lock`."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.current += 1

    def drop_below(self, segment: int) -> None:
        """Delete segments numbered below `segment`."""
        for number, path in self.segments():
            if number < segment:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_segment(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a segment; a torn last line (crash during write, never acknowledged) is skipped.

    A line holds one request's events as a JSON array (or, written by older versions, one
    event as an object)."""
    with open(path, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, list):
                yield from value
            else:
                yield value
