"""Embedded-only behaviour: two processes (two connections) sharing one log file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import OutgoingRecord, TopicSpec, UnsafeSettings, VersionConflict


async def test_two_writers_on_one_file_keep_offsets_contiguous(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    a, b = EmbeddedEventLog(path), EmbeddedEventLog(path)
    await a.start()
    await b.start()
    await a.create_topics([TopicSpec("t", 1, -1, 1)])
    for i in range(10):  # alternate: each writer's cached offsets go stale every time
        writer = a if i % 2 == 0 else b
        await writer.append("t", [OutgoingRecord("k", f"{i}".encode())] * 3)
    assert [r.offset for r in await a.read("t", 0, 0)] == list(range(30))
    assert await b.end_offsets("t") == {0: 30}
    await a.append_stream("t", "s", [OutgoingRecord("s", b"1")], 0)
    with pytest.raises(VersionConflict):
        await b.append_stream("t", "s", [OutgoingRecord("s", b"2")], 0)
    await a.close()
    await b.close()


def test_unsafe_durability_is_refused_unless_asked_for(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettings):
        EmbeddedEventLog(str(tmp_path / "x.db"), synchronous="OFF")
    EmbeddedEventLog(str(tmp_path / "x.db"), synchronous="NORMAL", allow_unsafe=True)
