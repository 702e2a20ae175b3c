"""The embedded hotspot runner on both engines: a generated stream with a planted burst and a
planted cluster of near-duplicate contacts in the log → the same findings as the pure
detector, appended once (a restart appends nothing), shown by `an_hotspots` and the API
with their evidence; who may read them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from contracts.topics import ANALYTICS, CONTACTS, TICKETS
from hotline.apikeys import Principal
from hotline.eventstore import EventStore
from hotline.log.port import EventLog, Record
from hotline.runner import ProjectionRunner
from services.analytics.app import create_app
from services.analytics.bootstrap import projections
from services.analytics.hotspots.board import HotspotFilter, hotspot_list
from services.analytics.hotspots.burst import BurstPolicy, load_policy
from services.analytics.hotspots.checkpoint import Checkpoints
from services.analytics.hotspots.detector import Detector, Finding, Sighting
from services.analytics.hotspots.runner import HotspotRunner, settle
from tests.analytics.hotspot_stream import BURST_KEY, T0, Plan, append_all, number, stream
from tests.intake.conftest import make_platform, open_test_api_keys

PLAN = Plan(hours=72, burst_hour=50, cluster_hour=60)


def reference(sightings: list[Sighting]) -> set[Finding]:
    """The pure detector on the same events, read to their end."""
    detector = Detector(load_policy())
    found = [f for s in sightings for f in detector.observe(s)]
    detector.rest(0)
    return set(found + detector.close())


async def run_once(log: EventLog, checkpoints: Checkpoints | None = None,
                   policy: BurstPolicy | None = None) -> HotspotRunner:
    runner = HotspotRunner(log, Detector(policy or load_policy()),
                           lambda: datetime(2026, 3, 5, tzinfo=UTC), batch=200,
                           checkpoints=checkpoints)
    task = asyncio.create_task(runner.run())
    await settle(runner, 120)
    runner.stop()
    await task
    return runner


async def test_runner_appends_what_the_detector_finds_once(log: EventLog,
                                                           tmp_path: Path) -> None:
    platform = await make_platform(log, tmp_path)
    await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))  # joins at once
    sightings = stream(PLAN)
    await append_all(EventStore(log), sightings)

    runner = await run_once(log)
    expected = reference(sightings)
    assert set(runner.stats.found) == expected
    kinds = {(f.kind, f.dimension) for f in expected}
    assert {("detected", "category2"), ("detected", "text"), ("cleared", "text")} <= kinds
    assert runner.stats.appended == len(expected)
    heads = [r for p in range(3) for r in await log.read(ANALYTICS, p, 0)]
    assert len(heads) == len(expected)

    again = await run_once(log)  # a restart: the same windows, nothing appended twice
    assert set(again.stats.found) == expected and again.stats.appended == 0

    # the read model and the API
    runners = [ProjectionRunner(log, platform.db, p) for p in projections(platform)]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        await _caught_up(log, runners)
        await _api(platform, tmp_path, expected)
    finally:
        for r in runners:
            r.stop()
        await asyncio.gather(*tasks)
        await platform.keys.close()
        await platform.close_shared()  # its desk's snapshots written
        await platform.db.dispose()


class FailsOnce(HotspotRunner):
    """A runner whose work fails once half-way (a fault injected between two batches, as
    the projection tests' `before_commit` does): the rest is the real runner."""

    failed = False
    at = 0  # records read before it fails

    async def step(self, records: list[Record], ends: dict[tuple[str, int], int]) -> None:
        if not self.failed and self.stats.records >= self.at:
            self.failed = True
            raise RuntimeError("the disk is full")
        await super().step(records, ends)


async def test_a_runner_that_failed_starts_again_and_finds_the_same(
        log: EventLog, tmp_path: Path) -> None:
    """Started again (hotline/restarts.py) from zero, there being no checkpoint: the same
    findings as one run, and what the failed run had appended is not appended again."""
    await make_platform(log, tmp_path)  # the topics
    await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))
    sightings = stream(PLAN)
    await append_all(EventStore(log), sightings)
    runner = FailsOnce(log, Detector(load_policy()), lambda: datetime(2026, 3, 5, tzinfo=UTC),
                       batch=200)
    runner.at = len(sightings) // 2
    task = asyncio.create_task(runner.run())
    await settle(runner, 120)
    runner.stop()
    await task
    expected = reference(sightings)
    assert runner.failed and set(runner.stats.found) == expected
    assert runner.stats.appended == len(expected)


async def test_a_start_takes_up_the_checkpoint_and_reads_only_what_came_after(
        log: EventLog, tmp_path: Path) -> None:
    """Caught up, the runner checkpoints its windows; the next start reads only what was
    appended since, and the two runs find exactly what one run over everything finds, each
    appended once. A checkpoint taken under another burst policy is not used."""
    platform = await make_platform(log, tmp_path)
    await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))  # joins at once
    sightings = stream(PLAN)
    half = len(sightings) // 2  # in time order: the burst and the cluster come after it
    store = EventStore(log)
    await append_all(store, sightings[:half])
    checkpoints = Checkpoints(platform.db)  # as the analytics app has it
    try:
        first = await run_once(log, checkpoints)
        await append_all(store, sightings[half:])
        second = await run_once(log, checkpoints)
        other = await run_once(log, checkpoints, BurstPolicy(windows=(86400,)))
    finally:
        await platform.keys.close()
        await platform.close_shared()  # its desk's snapshots written
        await platform.db.dispose()
    assert first.stats.restored_at == 0 and first.stats.records == half
    assert second.stats.restored_at == half and second.stats.records == len(sightings) - half
    expected = reference(sightings)
    assert set(first.stats.found) | set(second.stats.found) == expected
    assert first.stats.appended + second.stats.appended == len(expected)
    assert other.stats.restored_at == 0 and other.stats.records == len(sightings)


async def _caught_up(log: EventLog, runners: list[ProjectionRunner]) -> None:
    for runner in runners:
        for topic in runner.projection.topics:
            for p, end in (await log.end_offsets(topic)).items():
                for _ in range(3000):
                    if runner.stats.positions.get((topic, p), 0) >= end:
                        break
                    await asyncio.sleep(0.02)


async def _api(platform: object, tmp_path: Path, expected: set[Finding]) -> None:
    api_keys = await open_test_api_keys(tmp_path)
    keys = {role: await api_keys.create(Principal(f"{role}-1", role))
            for role in ("analyst", "supervisor", "auditor", "operator")}
    app = create_app(platform, api_keys, manage_platform=False,  # type: ignore[arg-type]
                     run_reports=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://an") as client:
            def auth(role: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {keys[role]}"}

            r = await client.get("/v1/analytics/hotspots", headers=auth("analyst"))
            assert r.status_code == 200, r.text
            body = r.json()
            detected = {f.hotspot_id for f in expected if f.kind == "detected"}
            assert {i["hotspot_id"] for i in body["items"]} == detected
            assert all(not i["active"] for i in body["items"]) or body["total"] >= 1
            burst = next(f for f in expected
                         if f.kind == "detected" and f.dimension == "category2")
            assert (burst.district, burst.category1, burst.category2) == BURST_KEY
            r = await client.get(f"/v1/analytics/hotspots/{burst.hotspot_id}",
                                 headers=auth("auditor"))
            one = r.json()
            assert one["count"] == burst.count and one["kind_zh"] == "热点"
            assert (one["district_zh"], one["category_zh"]) == ("西山区", "住房公积金 / 公积金提取")
            assert one["evidence"]["ticket_numbers"] == list(burst.refs)
            assert one["linked_tickets"] == list(burst.refs)
            assert one["status_zh"] == "已消退" and one["cleared_at"] is not None
            r = await client.get("/v1/analytics/hotspots", headers=auth("supervisor"),
                                 params={"district": BURST_KEY[0], "category": BURST_KEY[2]})
            assert [i["hotspot_id"] for i in r.json()["items"]] == [burst.hotspot_id]
            text = next(f for f in expected if f.kind == "detected" and f.dimension == "text")
            r = await client.get(f"/v1/analytics/hotspots/{text.hotspot_id}",
                                 headers=auth("analyst"))
            assert r.json()["evidence"]["contact_ids"] == sorted(text.refs)
            assert "自来水" not in r.text  # the texts never leave the detector
            r = await client.get("/v1/analytics/hotspots/nope", headers=auth("analyst"))
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")
            r = await client.get("/v1/analytics/hotspots", headers=auth("analyst"), params={
                "from": "2026-03-05T00:00:00Z", "to": "2026-03-04T00:00:00Z"})
            assert r.status_code == 422
            # the districts shaded by their hotspots: the burst's district differs from none
            found = await client.get("/v1/analytics/hotspots/map.svg", headers=auth("analyst"))
            assert found.status_code == 200, found.text
            assert found.headers["content-type"].startswith("image/svg+xml")
            assert found.text.startswith("<svg")
            none = await client.get("/v1/analytics/hotspots/map.svg", headers=auth("analyst"),
                                    params={"from": "2030-01-01T00:00:00Z"})
            assert none.status_code == 200 and none.text != found.text
            r = await client.get("/v1/analytics/hotspots/map.svg", headers=auth("operator"))
            assert r.status_code == 403
            r = await client.get("/v1/analytics/hotspots", headers=auth("operator"))
            assert r.status_code == 403
            assert r.headers["content-type"].startswith("application/problem+json")
            r = await client.get("/v1/analytics/hotspots")
            assert r.status_code == 401
    finally:
        await api_keys.close()


async def test_a_rise_at_the_same_time_last_year_is_foreseen_through_the_log(
        log: EventLog, tmp_path: Path) -> None:
    """A year and a bit of daily tickets of one key, last year a week's rise: the runner
    appends one PeriodicDemandForeseen a week before the same weeks this year, and the read
    model lists it as a foresight."""
    platform = await make_platform(log, tmp_path)
    await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))  # joins at once
    rise, sightings, seq = T0 + timedelta(days=40), [], 0
    for day in range(400):
        start = T0 + timedelta(days=day)
        for i in range(2 + (10 if rise <= start < rise + timedelta(days=7) else 0)):
            seq += 1
            at = start + timedelta(hours=1 + i)
            sightings.append(Sighting(number(at, seq), at, "110102", "housing", "heating"))
    await append_all(EventStore(log), sightings)
    runner = HotspotRunner(log, Detector(BurstPolicy(windows=(86400,))),
                           lambda: datetime(2027, 4, 5, tzinfo=UTC), batch=500)
    task = asyncio.create_task(runner.run())
    await settle(runner, 120)
    runner.stop()
    await task
    foreseen = [f for f in runner.stats.found if f.kind == "foreseen"]
    assert {f.dimension for f in foreseen} == {"category1", "category2"}
    one = next(f for f in foreseen if f.dimension == "category2")
    assert one.last_year_from is not None
    assert one.last_year_from <= rise < one.last_year_from + timedelta(days=7)

    board = [p for p in projections(platform) if p.name == "analytics_hotspots"]
    runners = [ProjectionRunner(log, platform.db, p) for p in board]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        await _caught_up(log, runners)
        async with platform.db.connect() as conn:
            rows, total = await hotspot_list(conn, HotspotFilter(kind="foresight"), 10, 0)
        assert total == 2 and {r["hotspot_id"] for r in rows} == {
            f.hotspot_id for f in foreseen}
        assert all(r["last_year_from"] == one.last_year_from for r in rows)
    finally:
        for r in runners:
            r.stop()
        await asyncio.gather(*tasks)
        await platform.keys.close()
        await platform.close_shared()  # its desk's snapshots written
        await platform.db.dispose()
