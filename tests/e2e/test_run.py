"""`hotline run` as a user runs it: a real process, real HTTP, a restart in the middle."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.intake.conftest import ADDRESS, CALLER, contact


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_INTAKE_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("hotline run did not become ready within 30 s")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out


def test_run_serves_intake_and_a_contact_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    proc = start(tmp_path, port)
    assert time.monotonic() - started < 20, "make run must serve within seconds"
    key = json.loads((tmp_path / "dev-keys.json").read_text())["wechat"]
    auth = {"Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{port}/v1/contacts"
    first = httpx.post(url, json=contact("wx-restart"), headers=auth)
    assert first.status_code == 202
    banner = stop(proc)
    assert f"http://127.0.0.1:{port}" in banner and "curl" in banner
    for secret in (*CALLER.values(), ADDRESS):  # what was posted never reaches the output
        assert secret not in banner
    proc = start(tmp_path, port)
    try:
        again = httpx.post(url, json=contact("wx-restart"), headers=auth)
        assert again.status_code == 200
        assert again.json()["contact_id"] == first.json()["contact_id"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'hotline_intake_contacts_total{channel="wechat",outcome="duplicate"} 1.0' in metrics
    finally:
        stop(proc)
