"""`hotline run` as a user runs it: a real process, real HTTP, a restart in the middle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hotline.devbroker import free_port, tansu_env
from hotline.runtime import service_specs
from tests.conftest import unique
from tests.intake.conftest import ADDRESS, CALLER, contact

_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _none_left_running() -> Iterator[None]:
    """A test that fails half-way leaves its `hotline run` behind: killed here, not left
    to load the machine for the rest of the suite (one was found at a third of a core)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)


def free_ports() -> dict[str, str]:
    """A free port for every installed service: a test never binds a default port (8100-8107)
    that another process on the machine, or a platform left running, may hold."""
    return {f"HOTLINE_{name.upper()}_PORT": str(free_port()) for name in service_specs()}


def start(data_dir: Path, port: int, extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {**os.environ, **free_ports(), "HOTLINE_DATA_DIR": str(data_dir),
           "HOTLINE_INTAKE_PORT": str(port), **extra}
    # the output goes to a file, not a pipe: nobody reads a pipe while the test runs, and a
    # full one (64 KiB of logs) would block the platform's event loop on its next log line
    output = data_dir / "run.out"
    with output.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hotline", "run"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.output = output  # type: ignore[attr-defined]
    _STARTED.append(proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, output.read_text(encoding="utf-8")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                assert "address already in use" not in output.read_text(encoding="utf-8"), (
                    "a port of this run was taken: what answered is another process")
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("hotline run did not become ready within 60 s")


def first_sse_event(url: str, data_dir: Path, who: str) -> str:
    """The `event:` of the first server-sent event a unit's inbox stream sends; the lines
    `hotline run` logged about the relay and its group when none came in time."""
    key = json.loads((data_dir / "dev-keys.json").read_text())[who]
    # the unit relay's first copy on Kafka: its group join and first fetch on tansu, which
    # took over 30 s once with the whole suite on two loaded cores (8 s more than alone),
    # and once over 60 s (CI of stop 36); the stream's keep-alives come every 15 s
    deadline = time.monotonic() + 120
    with contextlib.suppress(httpx.ReadTimeout), httpx.stream(
            "GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for line in reply.iter_lines():
            if line.startswith("event: "):
                return line.removeprefix("event: ")
            if time.monotonic() > deadline:
                break
    output = (data_dir / "run.out").read_text(encoding="utf-8").splitlines()
    relay = [line for line in output if "relay" in line or "ERROR" in line or "WARN" in line]
    raise AssertionError("no event within 120 s; hotline run said:\n" + "\n".join(relay[-40:]))


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop `hotline run`; what it printed."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    output: Path = proc.output  # type: ignore[attr-defined]
    return output.read_text(encoding="utf-8")


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def engine_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Nothing for the embedded defaults; for Kafka, the session's broker in a fresh namespace."""
    if request.param == "embedded":
        return {}
    return {**tansu_env(request.getfixturevalue("kafka_bootstrap")),
            "HOTLINE_TOPIC_PREFIX": unique("e2e") + "."}


def test_run_serves_intake_and_a_contact_survives_a_restart(
    tmp_path: Path, engine_env: dict[str, str]
) -> None:
    port, dispatch_port, supervision_port = free_port(), free_port(), free_port()
    callback_port = free_port()
    engine_env = {**engine_env, "HOTLINE_DISPATCH_PORT": str(dispatch_port),
                  "HOTLINE_SUPERVISION_PORT": str(supervision_port),
                  "HOTLINE_CALLBACK_PORT": str(callback_port),
                  "HOTLINE_CALLBACK_TICK_SECONDS": "0.5"}
    started = time.monotonic()
    proc = start(tmp_path, port, engine_env)
    # within seconds; 30 s leaves room for the whole suite running on two loaded cores
    assert time.monotonic() - started < 30, "make run must serve within seconds"
    key = json.loads((tmp_path / "dev-keys.json").read_text())["wechat"]
    auth = {"Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{port}/v1/contacts"
    first = httpx.post(url, json=contact("wx-restart"), headers=auth)
    assert first.status_code == 202
    operator = json.loads((tmp_path / "dev-keys.json").read_text())["operator"]
    desk = f"http://127.0.0.1:{dispatch_port}/v1"
    ticket = httpx.post(f"{desk}/tickets", headers={"Authorization": f"Bearer {operator}"}, json={
        "contact_ids": [first.json()["contact_id"]], "ticket_type": "emergency_repair",
        "category": {"level1": "urban-management", "level2": "street-lights"},
        "summary": "小区门口路灯不亮", "district_code": "990101"})
    assert ticket.status_code == 201, ticket.text
    sent = httpx.post(f"{desk}/tickets/{ticket.json()['ticket_id']}/dispatch",
                      headers={"Authorization": f"Bearer {operator}"},
                      json={"lead_unit": "d01-urban-squad", "urgent": True})
    assert sent.status_code == 200, sent.text
    assert first_sse_event(f"{desk}/inbox/stream", tmp_path, "unit:d01-urban-squad") == (
        "hotline.TicketRegistered.v1")
    supervisor = json.loads((tmp_path / "dev-keys.json").read_text())["supervisor"]
    board = f"http://127.0.0.1:{supervision_port}/v1/supervision/tickets"
    for _ in range(100):  # the board projection catches up within moments
        answer = httpx.get(board, headers={"Authorization": f"Bearer {supervisor}"})
        assert answer.status_code in (200, 503), answer.text  # 503: catching up after start
        rows = answer.json()
        if answer.status_code == 200 and rows["items"]:
            break
        time.sleep(0.1)
    assert [r["ticket_id"] for r in rows["items"]] == [ticket.json()["ticket_id"]]
    # the unit replies; the callback worker opens a WeChat survey, the sender writes it to
    # the outbox; the citizen answers through the link and the ticket closes
    tid = ticket.json()["ticket_id"]
    unit = {"Authorization": "Bearer " + json.loads(
        (tmp_path / "dev-keys.json").read_text())["unit:d01-urban-squad"]}
    for step, body in (("acknowledge", {}), ("reply", {"text": "已更换灯泡, 恢复照明。"})):
        r = httpx.post(f"{desk}/tickets/{tid}/{step}", headers=unit, json=body)
        assert r.status_code == 200, r.text
    outbox = tmp_path / "outbox.jsonl"
    for _ in range(300):
        if outbox.exists() and outbox.read_text(encoding="utf-8").strip():
            break
        time.sleep(0.1)
    [message] = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert message["channel"] == "wechat" and message["to"] == "wx-restart"
    assert message["link"].startswith(f"http://127.0.0.1:{callback_port}/s/")
    page = httpx.get(message["link"], headers={"Accept": "text/html"})
    assert page.status_code == 200 and "市民满意度回访" in page.text
    token = message["link"].rsplit("/", 1)[1]
    answered = httpx.post(f"http://127.0.0.1:{callback_port}/v1/surveys/{token}/answer", json={
        "hotline_service": "satisfied", "handling": "satisfied", "solved": True})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "closed"
    banner = stop(proc)
    assert f"http://127.0.0.1:{dispatch_port}" in banner
    assert f"http://127.0.0.1:{supervision_port}" in banner
    assert f"http://127.0.0.1:{callback_port}" in banner
    assert f"http://127.0.0.1:{port}" in banner and "curl" in banner
    for secret in (*CALLER.values(), ADDRESS):  # what was posted never reaches the output
        assert secret not in banner
    # restarted on ports of its own: another test's process may have taken one this run let
    # go (it happened: the restart's intake could not bind, another /readyz answered)
    port = free_port()
    proc = start(tmp_path, port, {**engine_env, **{
        name: str(free_port()) for name in ("HOTLINE_DISPATCH_PORT", "HOTLINE_SUPERVISION_PORT",
                                            "HOTLINE_CALLBACK_PORT")}})
    try:
        again = httpx.post(f"http://127.0.0.1:{port}/v1/contacts", json=contact("wx-restart"),
                           headers=auth)
        assert again.status_code == 200
        assert again.json()["contact_id"] == first.json()["contact_id"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'hotline_intake_contacts_total{channel="wechat",outcome="duplicate"} 1.0' in metrics
    finally:
        stop(proc)


async def test_every_accepted_contact_survives_a_kill(
    tmp_path: Path, engine_env: dict[str, str]
) -> None:
    """SIGKILL the platform in the middle of a burst: every 202 it gave is in the log."""
    port = free_port()
    proc = start(tmp_path, port, engine_env)
    key = json.loads((tmp_path / "dev-keys.json").read_text())["wechat"]
    auth = {"Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{port}/v1/contacts"
    accepted: dict[str, str] = {}

    async def post(client: httpx.AsyncClient, i: int) -> None:
        try:
            reply = await client.post(url, json=contact(f"wx-kill-{i}"), headers=auth)
        except httpx.TransportError:
            return  # the kill came first: nothing was promised
        if reply.status_code == 202:
            accepted[f"wx-kill-{i}"] = reply.json()["contact_id"]

    async with httpx.AsyncClient(timeout=10) as client:
        burst = [asyncio.create_task(post(client, i)) for i in range(200)]
        deadline = time.monotonic() + 30
        while len(accepted) < 20:
            assert time.monotonic() < deadline, proc.output.read_text(encoding="utf-8")  # type: ignore[attr-defined]
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        await asyncio.gather(*burst)
    proc.communicate(timeout=20)  # reap it and close its pipe
    assert accepted, "the burst must have been answered before the kill"
    proc = start(tmp_path, port, engine_env)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for message_id, contact_id in accepted.items():
                again = await client.post(url, json=contact(message_id), headers=auth)
                assert (again.status_code, again.json()["contact_id"]) == (200, contact_id)
    finally:
        stop(proc)


SERVICE_READS = {"intake": None, "dispatch": "/v1/tickets",
                 "supervision": "/v1/supervision/tickets", "callback": "/v1/callback/tasks",
                 "tickets": None, "people": None, "knowledge": "/v1/knowledge/articles"}


def watch_start(proc: subprocess.Popen[str], ports: dict[str, int],
                keys: Path) -> dict[str, float]:
    """Poll every service from the moment it listens: /readyz and a read answer 503 with
    Retry-After until ready, never a 5xx of another kind; when each became ready."""
    started, ready = time.monotonic(), {}
    while len(ready) < len(ports):
        assert time.monotonic() - started < 60, f"not ready within 60 s: {set(ports) - set(ready)}"
        assert proc.poll() is None, proc.output.read_text(encoding="utf-8")  # type: ignore[attr-defined]
        for name, port in ports.items():
            if name in ready:
                continue
            try:
                probe = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                path = SERVICE_READS[name]
                read = None if path is None or not keys.exists() else httpx.get(
                    f"http://127.0.0.1:{port}{path}", timeout=2, headers={
                        "Authorization": "Bearer " + json.loads(keys.read_text())["supervisor"]})
            except httpx.TransportError:
                continue  # not listening yet
            for answer in (probe, read):
                if answer is not None and answer.status_code >= 500:
                    assert answer.status_code == 503, answer.text
                    assert answer.headers["retry-after"] == "1"
            if probe.status_code == 200:
                assert read is None or read.status_code == 200, read.text
                ready[name] = time.monotonic() - started
        time.sleep(0.02)
    return ready


def test_every_service_is_ready_before_it_serves(
    tmp_path: Path, engine_env: dict[str, str]
) -> None:
    """With a log to catch up on, every service answers 503 + Retry-After (never a 500)
    until its claims are held and its projections caught up; the banner says ready only
    then, and nothing fails on the way (no timer tick before its board exists)."""
    ports = {name: free_port() for name in SERVICE_READS}
    env = {**engine_env, **{f"HOTLINE_{n.upper()}_PORT": str(p) for n, p in ports.items()},
           "HOTLINE_CALLBACK_TICK_SECONDS": "0.2", "HOTLINE_SUPERVISION_TICK_SECONDS": "0.2"}
    proc = start(tmp_path, ports["intake"], env)
    key = json.loads((tmp_path / "dev-keys.json").read_text())["wechat"]
    batch = {"contacts": [contact(f"wx-ready-{i}") for i in range(400)]}
    r = httpx.post(f"http://127.0.0.1:{ports['intake']}/v1/contacts/batch", json=batch,
                   headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert r.status_code in (200, 207), r.text
    stop(proc)
    output = tmp_path / "run.out"
    full_env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path), **env}
    with output.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hotline", "run"], env=full_env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.output = output  # type: ignore[attr-defined]
    try:
        ready = watch_start(proc, ports, tmp_path / "dev-keys.json")
        for _ in range(100):
            if "ready in" in output.read_text(encoding="utf-8"):
                break
            time.sleep(0.05)
        print(f"start to ready ({engine_env.get('HOTLINE_LOG', 'embedded')}): "
              + ", ".join(f"{n} {s:.1f} s" for n, s in ready.items()))
        time.sleep(1)  # a few timer ticks
    finally:
        printed = stop(proc)
    assert "ready in" in printed
    for failure in ("Traceback", "tick failed", "ERROR"):
        assert failure not in printed, printed


def test_forwarded_for_is_ignored_from_untrusted_clients(tmp_path: Path) -> None:
    """Over real HTTP through uvicorn: rotating X-Forwarded-For does not make one client
    many; after ten wrong answers it waits."""
    dispatch = free_port()
    proc = start(tmp_path, free_port(), {"HOTLINE_DISPATCH_PORT": str(dispatch)})
    try:
        url = f"http://127.0.0.1:{dispatch}/v1/public/progress"
        for _ in range(100):  # the intake answered ready; dispatch may be a moment behind
            if httpx.get(f"http://127.0.0.1:{dispatch}/readyz").status_code == 200:
                break
            time.sleep(0.05)
        codes = [httpx.post(url, headers={"X-Forwarded-For": f"203.0.113.{n}"}, json={
            "ticket_number": f"12345-20261123-99{n:04d}", "phone_last4": "1234"}).status_code
            for n in range(11)]
        assert codes == [404] * 10 + [429]
    finally:
        stop(proc)


def test_a_held_port_stops_the_start_with_one_line(tmp_path: Path) -> None:
    """A platform left running holds the ports: the second start says which setting to
    change and exits, instead of a traceback per server."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        env = {**os.environ, **free_ports(), "HOTLINE_DATA_DIR": str(tmp_path),
               "HOTLINE_KNOWLEDGE_PORT": str(held)}
        done = subprocess.run([sys.executable, "-m", "hotline", "run"], env=env, timeout=60,
                              capture_output=True, text=True)
    assert done.returncode == 1
    assert f"knowledge: cannot listen on 127.0.0.1:{held}" in done.stderr
    assert "HOTLINE_KNOWLEDGE_PORT" in done.stderr and "Traceback" not in done.stderr
