"""The ports the tests and benchmarks give their child processes: never the same twice."""

from __future__ import annotations

import pytest

from hotline import devbroker


def test_a_process_never_hands_out_a_port_twice() -> None:
    ports = [devbroker.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(devbroker._PORTS[0] <= port <= devbroker._PORTS[1] for port in ports)


def test_parallel_workers_draw_from_disjoint_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(range(devbroker._port_range()[0], devbroker._port_range()[1] + 1))
    assert not set(slices[0]) & set(slices[1]) and not set(slices[1]) & set(slices[2])
    assert all(len(s) > 3000 for s in slices)
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert devbroker._port_range() == devbroker._PORTS
