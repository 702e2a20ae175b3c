"""Group commit for SQLite: many concurrent writers, one transaction, one fsync.

Each caller hands over a function of the connection; the single writer thread
runs every function queued meanwhile inside one transaction and commits once.
Every caller is answered only after that COMMIT: nothing is acknowledged
before it is durable, yet a burst of concurrent requests shares the fsync.

A function may refuse its work by raising one of the writer's `rejections`
*before it writes anything* (e.g. a version conflict): only its caller gets
the error.
Any other exception aborts the whole transaction and every caller of the
group gets it — the price of not paying a savepoint per caller.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
SAFE_SYNC = ("FULL", "EXTRA")


def connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode with WAL; transactions are explicit."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class TransactionHooks(Protocol):
    """What an owner of the writer learns about each group transaction (writer thread)."""

    def begun(self, conn: sqlite3.Connection) -> None: ...

    def committing(self, conn: sqlite3.Connection) -> None: ...

    def rolled_back(self) -> None: ...


class GroupCommitWriter:
    """Owns the write connection of one SQLite file and batches work into transactions."""

    def __init__(
        self, path: str, synchronous: str = "FULL", name: str = "sqlite",
        hooks: TransactionHooks | None = None,
        rejections: tuple[type[Exception], ...] = (),
    ) -> None:
        self.path, self.synchronous, self.hooks = path, synchronous, hooks
        self.rejections = rejections
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-writer")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.committed = asyncio.Event()  # pulsed after every commit; readers may wait on it

    async def start(self, schema: str) -> None:
        self._conn = await self._call(connect, self.path, self.synchronous)
        await self._call(self._conn.executescript, schema)

    async def close(self) -> None:
        if self._draining is not None:
            await self._draining
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=True)

    async def checkpoint(self) -> tuple[int, int, int]:
        """`PRAGMA wal_checkpoint(TRUNCATE)` between two group transactions (the writer thread
        runs one thing at a time): (busy, frames in the log, frames checkpointed)."""

        def truncate() -> tuple[int, int, int]:
            assert self._conn is not None, "writer not started"
            busy, frames, done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return int(busy), int(frames), int(done)

        return await self._call(truncate)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in the next group transaction; returns once that transaction is committed."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, fut))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._call(self._transaction, [w for w, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the COMMIT failed: no caller's work is durable
                results = [exc] * len(batch)
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
            self.committed.set()
            self.committed.clear()

    def _transaction(self, works: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        conn = self._conn
        assert conn is not None, "writer not started"
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self.hooks is not None:
                self.hooks.begun(conn)
            results: list[Any] = []
            for work in works:
                try:
                    results.append(work(conn))
                except self.rejections as exc:  # raised before writing: that caller's alone
                    results.append(exc)
            if self.hooks is not None:
                self.hooks.committing(conn)
            conn.execute("COMMIT")
            return results
        except BaseException:
            conn.execute("ROLLBACK")
            if self.hooks is not None:
                self.hooks.rolled_back()
            raise
