"""The group-commit writer on its own: who shares a transaction, who gets which error, and
what is durable when a caller is answered."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from hotline.sqlite_writer import GroupCommitWriter

SCHEMA = "CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY);"


class Refused(Exception):
    """A caller's own refusal, raised before it writes."""


class Groups:
    """Counts the group transactions (the writer's hooks, on its thread)."""

    def __init__(self) -> None:
        self.transactions = self.rollbacks = 0

    def begun(self, conn: sqlite3.Connection) -> None:
        self.transactions += 1

    def committing(self, conn: sqlite3.Connection) -> None:
        pass

    def rolled_back(self) -> None:
        self.rollbacks += 1


def insert(n: int) -> Callable[[sqlite3.Connection], int]:
    def work(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        return n
    return work


def stored(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [n for (n,) in conn.execute("SELECT n FROM t ORDER BY n")]


async def started(path: Path, groups: Groups) -> GroupCommitWriter:
    writer = GroupCommitWriter(str(path), hooks=groups, rejections=(Refused,))
    await writer.start(SCHEMA)
    return writer


async def test_concurrent_callers_share_transactions_and_are_answered_after_commit(
        tmp_path: Path) -> None:
    path, groups = tmp_path / "w.db", Groups()
    writer = await started(path, groups)
    answers = await asyncio.gather(*(writer.run(insert(n)) for n in range(200)))
    assert answers == list(range(200))
    assert stored(path) == list(range(200))  # another connection sees every answered write
    assert 1 <= groups.transactions < 200  # queued meanwhile: grouped
    await writer.close()


async def test_a_refusal_is_its_callers_alone(tmp_path: Path) -> None:
    path, groups = tmp_path / "w.db", Groups()
    writer = await started(path, groups)

    def refuse(conn: sqlite3.Connection) -> None:
        raise Refused("version conflict")

    results = await asyncio.gather(writer.run(insert(1)), writer.run(refuse),
                                   writer.run(insert(2)), return_exceptions=True)
    assert results[0] == 1 and isinstance(results[1], Refused) and results[2] == 2
    assert stored(path) == [1, 2]
    await writer.close()


async def test_any_other_error_rolls_the_whole_group_back(tmp_path: Path) -> None:
    path, groups = tmp_path / "w.db", Groups()
    writer = await started(path, groups)
    await writer.run(insert(0))  # the group below starts after this one is answered

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (n) VALUES (?)", (0,))  # a duplicate key

    results = await asyncio.gather(writer.run(insert(1)), writer.run(broken),
                                   writer.run(insert(2)), return_exceptions=True)
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results)
    assert stored(path) == [0] and groups.rollbacks == 1
    assert await writer.run(insert(3)) == 3  # the writer goes on
    await writer.close()


async def test_close_waits_for_queued_work_then_refuses_more(tmp_path: Path) -> None:
    path, groups = tmp_path / "w.db", Groups()
    writer = await started(path, groups)
    pending = [asyncio.ensure_future(writer.run(insert(n))) for n in range(20)]
    await asyncio.sleep(0)  # queued before close
    await writer.close()
    assert [p.result() for p in pending] == list(range(20))
    assert stored(path) == list(range(20))
    with pytest.raises(RuntimeError, match="not started"):
        await writer.run(insert(99))


async def test_a_checkpoint_runs_between_groups(tmp_path: Path) -> None:
    path, groups = tmp_path / "w.db", Groups()
    writer = await started(path, groups)
    await asyncio.gather(*(writer.run(insert(n)) for n in range(50)))
    busy, frames, done = await writer.checkpoint()
    assert busy == 0 and frames == done
    assert not (tmp_path / "w.db-wal").stat().st_size  # TRUNCATE emptied the WAL
    await writer.close()
