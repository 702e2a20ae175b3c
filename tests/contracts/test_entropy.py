"""Random bytes from the pool are never handed out twice, across threads and after a fork."""

from __future__ import annotations

import os
import threading

from contracts.entropy import BLOCK, secure_bytes


def test_no_bytes_twice_across_threads_and_blocks() -> None:
    taken: list[bytes] = []

    def take() -> None:
        taken.extend(secure_bytes(12) for _ in range(2 * BLOCK // 12))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(taken)) == len(taken) == 4 * (2 * BLOCK // 12)
    assert len(secure_bytes(BLOCK + 1)) == BLOCK + 1  # larger than a block: its own read


def test_a_forked_child_does_not_reuse_the_parents_block() -> None:
    secure_bytes(1)  # the parent holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the next 32 bytes it would hand out
        os.write(write, secure_bytes(32))
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 32) != secure_bytes(32)
