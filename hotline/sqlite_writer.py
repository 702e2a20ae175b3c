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

The writer is one thread of its own fed by a queue, and it answers a whole group with one
`call_soon_threadsafe`. `run_in_executor` plus a draining task cost two thread hand-offs and
several loop turns per group: on this 2-core VM an empty transaction took 295 µs to come
back, of which SQLite's part is a few µs; now 190-200 µs, near the price of one round trip
between threads here (a bare SimpleQueue put and call_soon_threadsafe: 150 µs). Commands
one at a time pay it in full, on top of the fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


class LoopReads:
    """A connection the event loop reads on itself, for queries of microseconds (a row by its
    key, a few rows of one stream).

    Why not a reader thread: handing a query to it and the answer back costs two thread
    hand-offs, and each waits for the GIL while the loop is busy. Measured on the embedded
    log, whose cold loads ask for their stream's head first: the callback benchmark (each
    answer a cold load) ran at 2,420-2,480 events/s through the thread and at 3,700-3,760
    here, alternated. A WAL reader is not blocked by the writer, and this connection never
    waits (busy_timeout 0): should SQLite still answer busy (a checkpoint holding the WAL
    index), the same work is handed to `off_loop` (its owner's reader thread, on that
    thread's connection), which may wait."""

    def __init__(self, path: str, synchronous: str,
                 off_loop: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
                 ) -> None:
        self.conn = connect(path, synchronous)
        self.conn.execute("PRAGMA busy_timeout=0")
        self.off_loop = off_loop

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self.conn)
        except sqlite3.OperationalError:
            result: T = await self.off_loop(work)
            return result

    def close(self) -> None:
        self.conn.close()


class TransactionHooks(Protocol):
    """What an owner of the writer learns about each group transaction (writer thread)."""

    def begun(self, conn: sqlite3.Connection) -> None: ...

    def committing(self, conn: sqlite3.Connection) -> None: ...

    def rolled_back(self) -> None: ...


@dataclass(slots=True)
class _Job:
    """One caller's work and the future that answers it."""

    fn: Callable[..., Any]
    fut: asyncio.Future[Any]
    alone: bool  # run by itself, outside a group transaction (connect, schema, checkpoint)


class GroupCommitWriter:
    """Owns the write connection of one SQLite file and batches work into transactions."""

    def __init__(
        self, path: str, synchronous: str = "FULL", name: str = "sqlite",
        hooks: TransactionHooks | None = None,
        rejections: tuple[type[Exception], ...] = (),
    ) -> None:
        self.path, self.synchronous, self.hooks = path, synchronous, hooks
        self.rejections = rejections
        self.name = f"{name}-writer"
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.committed = asyncio.Event()  # pulsed after every commit; readers may wait on it
        self.commits = 0  # group transactions committed so far (counted on the loop)

    async def start(self, schema: str) -> None:
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()
        self._conn = await self._call(connect, self.path, self.synchronous)
        await self._call(self._conn.executescript, schema)

    async def close(self) -> None:
        """After the work queued before it: the connection closed and the thread ended."""
        if self._thread is None:
            return
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        thread, self._thread = self._thread, None  # from here `run` refuses: nothing hangs
        self._jobs.put(None)
        await asyncio.to_thread(thread.join)

    async def checkpoint(self) -> tuple[int, int, int]:
        """`PRAGMA wal_checkpoint(TRUNCATE)` between two group transactions (the writer thread
        runs one thing at a time): (busy, frames in the log, frames checkpointed)."""

        def truncate() -> tuple[int, int, int]:
            assert self._conn is not None, "writer not started"
            busy, frames, done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return int(busy), int(frames), int(done)

        return await self._call(truncate)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._queued(lambda: fn(*args), alone=True)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in the next group transaction; returns once that transaction is committed."""
        return await self._queued(work, alone=False)

    async def _queued(self, fn: Callable[..., T], *, alone: bool) -> T:
        if self._thread is None:
            raise RuntimeError(f"{self.name} is not started")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(fn, fut, alone))
        return await fut

    # -- the writer thread ----------------------------------------------------------------

    def _serve(self) -> None:
        """Take the jobs in order: each `alone` job by itself, every run of group work queued
        meanwhile in one transaction; end at the None that `close` queues."""
        carried: _Job | None = None
        while True:
            job = carried or self._jobs.get()
            carried = None
            if job is None:
                return
            if job.alone:
                self._answer([job], [_attempt(job.fn)], grouped=False)
                continue
            group = [job]
            while True:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None or more.alone:
                    carried = more
                    break
                group.append(more)
            try:
                results = self._transaction([j.fn for j in group])
            except BaseException as exc:  # noqa: BLE001 - rolled back: no caller's work is durable
                results = [exc] * len(group)
            self._answer(group, results, grouped=True)

    def _answer(self, jobs: list[_Job], results: list[Any], *, grouped: bool) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            jobs[0].fut.get_loop().call_soon_threadsafe(self._settle, jobs, results, grouped)

    def _settle(self, jobs: list[_Job], results: list[Any], grouped: bool) -> None:
        """On the loop: every caller answered, then, after a group transaction, readers woken."""
        for job, result in zip(jobs, results, strict=True):
            if job.fut.done():  # its caller was cancelled; the work stands
                continue
            if isinstance(result, BaseException):
                job.fut.set_exception(result)
            else:
                job.fut.set_result(result)
        if grouped:
            self.commits += 1
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


def _attempt(fn: Callable[[], Any]) -> Any:
    """fn's result, or the exception it raised (handed to its caller)."""
    try:
        return fn()
    except BaseException as exc:  # noqa: BLE001 - its caller gets it
        return exc
