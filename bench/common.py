"""What every benchmark shares: the Result row, timers, percentiles, ports, realistic payloads.

Every figure is measured beside the raw engine it sits on, in the same run, and
judged as a ratio: these machines are noisy (two cores, shared disks), so an
absolute number from one run says little, a ratio says how much our layer costs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import canonical_json, decode
from contracts.events import from_envelope
from hotline.eventstore import STRUCTURED
from hotline.keystore import KeyStore
from hotline.log.port import GENESIS_HASH, EventLog, OutgoingRecord, value_hash
from hotline.runtime import Platform
from hotline.settings import Settings

TMP_ENV = "HOTLINE_BENCH_TMP"  # where temporary data goes (default: the system temp dir)


@dataclass
class Result:
    """One line of the final table: our figure beside the raw engine's, and the verdict."""

    name: str
    ours: float
    raw: float | None
    unit: str
    target_ratio: float | None = None  # ours / raw must reach this (None: informative only)
    note: str = ""
    max_ours: float | None = None  # an absolute ceiling on ours instead (latencies)

    @property
    def ratio(self) -> float | None:
        if self.raw is None or self.raw == 0:
            return None
        return self.ours / self.raw

    @property
    def target(self) -> str:
        if self.max_ours is not None:
            return f"< {self.max_ours:g} {self.unit}"
        if self.target_ratio is not None:
            return f">= {self.target_ratio:.0%}"
        return "-"

    @property
    def verdict(self) -> str:
        if self.max_ours is not None:
            return "PASS" if self.ours < self.max_ours else "MISS"
        if self.target_ratio is None:
            return "info"
        ratio = self.ratio
        return "PASS" if ratio is not None and ratio >= self.target_ratio else "MISS"


def say(line: str) -> None:
    """Progress output, flushed at once (benchmarks take a while)."""
    print(line, flush=True)


# -- time ------------------------------------------------------------------------------------


class Timer:
    """`with Timer() as t: ...` then `t.seconds`."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def best_of(values: Sequence[float]) -> float:
    return max(values)


# -- places ----------------------------------------------------------------------------------


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory for one benchmark's data, removed afterwards."""
    root = os.environ.get(TMP_ENV) or None
    path = Path(tempfile.mkdtemp(prefix=f"hotline-bench-{prefix}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.asynccontextmanager
async def platform_database(prefix: str) -> AsyncIterator[AsyncEngine]:
    """A SQLite file as the platform's database, for the ticket snapshots a bench's setup
    desk writes and the desk under measurement reads, as replicas share it in production."""
    from hotline.database import open_database

    with temp_dir(prefix) as tmp:
        db = open_database(f"sqlite+aiosqlite:///{tmp / 'platform.db'}")
        try:
            yield db
        finally:
            await db.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- realistic payloads ----------------------------------------------------------------------

SENTENCES = [
    "小区门口的路灯坏了一个多月, 晚上很黑, 老人出行不便, 请尽快维修。",
    "楼下餐馆油烟直排, 每天中午和晚上熏得家里没法开窗, 已经反映过两次没有结果。",
    "幸福路与光明街交叉口的红绿灯时间太短, 行人过不完马路, 存在安全隐患。",
    "单位拖欠工资三个月, 共计一万八千元, 多次讨要未果, 希望劳动监察部门介入。",
    "小区垃圾清运不及时, 垃圾桶满了溢出来, 天气热了气味很大, 招来很多苍蝇。",
    "公交站台的遮雨棚破损, 下雨天候车的乘客都被淋湿, 希望有关部门尽快修复。",
    "夜间施工噪音扰民, 凌晨两点还在打桩, 严重影响周边居民休息, 请求查处。",
    "医保报销流程不清楚, 在窗口来回跑了三趟还没办成, 希望给出明确的办理指引。",
    "孩子入学需要的居住证明开不出来, 社区说要街道盖章, 街道又让回社区办理。",
    "共享单车乱停乱放, 把盲道和消防通道都堵住了, 希望加强管理和清理。",
    "自来水水质发黄, 有明显异味, 烧开后有白色沉淀, 担心影响家人健康。",
    "物业擅自提高停车费, 没有召开业主大会, 也没有公示, 业主意见很大。",
]
DISTRICTS = ["110101", "110102", "110105", "110106", "110108", "110112", "110114"]
CHANNELS = ["phone", "wechat", "web", "app", "sms"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚"
STREETS = ["幸福路", "光明街", "建设大道", "人民路", "和平里", "朝阳北路", "学院南路"]


def chinese_content(rng: random.Random, target_chars: int = 180) -> str:
    """Complaint-like Chinese text of roughly `target_chars` characters."""
    parts: list[str] = []
    while sum(map(len, parts)) < target_chars:
        parts.append(rng.choice(SENTENCES))
    return "".join(parts)


def _sealed(rng: random.Random, kid: str, plain_bytes: int) -> dict[str, str]:
    nonce = base64.b64encode(rng.randbytes(12)).decode()
    ct = base64.b64encode(rng.randbytes(plain_bytes + 16)).decode()  # ciphertext + GCM tag
    return {"kid": kid, "nonce": nonce, "ct": ct}


class Envelopes:
    """Realistic ~1 KB `ContactReceived` CloudEvents envelopes (canonical JSON, Chinese text).

    Built as plain dicts and encoded with the same `canonical_json` as the event
    store, so generating 50,000 costs well under a second and every one decodes
    as a valid `Envelope` (unique id, chained hash within its stream).
    """

    def __init__(self, seed: int = 12345) -> None:
        self.rng = random.Random(seed)
        self.t0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

    def data(self, contact_id: str) -> dict[str, object]:
        rng = self.rng
        channel = rng.choice(CHANNELS)
        ref = hashlib.sha256(contact_id.encode()).hexdigest()[:32]
        return {
            "contact_id": contact_id,
            "channel": channel,
            "channel_message_id": f"{channel}-{rng.getrandbits(48):012x}",
            "received_at": (self.t0 + timedelta(seconds=rng.randrange(86400))).isoformat()
            .replace("+00:00", "Z"),
            "citizen_ref": ref,
            "caller": _sealed(rng, ref, 40),
            "content": chinese_content(rng, rng.randint(50, 90)),
            "district_code": rng.choice(DISTRICTS),
            "address": _sealed(rng, ref, 30),
            "coordinates": {"lat": round(39.9 + rng.random() / 10, 5),
                            "lon": round(116.3 + rng.random() / 10, 5)},
            "body_digest": hashlib.sha256(rng.randbytes(16)).hexdigest(),
        }

    def envelope(self, stream: str, version: int, prevhash: str) -> bytes:
        contact_id = stream.removeprefix("contact-")
        env = {
            "specversion": "1.0",
            "id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "source": "/hotline/intake",
            "type": "hotline.ContactReceived.v1",
            "subject": stream,
            "time": (self.t0 + timedelta(milliseconds=self.rng.randrange(86_400_000)))
            .isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "dataschema": "urn:hotline:event:ContactReceived:v1",
            "streamversion": version,
            "prevhash": prevhash,
            "correlationid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "causationid": f"msg-{self.rng.getrandbits(40):010x}",
            "actor": "channel:wechat",
            "data": self.data(contact_id),
        }
        return canonical_json(env)

    def record(self, stream: str | None = None, version: int = 1,
               prevhash: str = GENESIS_HASH) -> OutgoingRecord:
        """One record as `EventStore.append` would hand it to the log (key, value, content-type)."""
        stream = stream or f"contact-{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        value = self.envelope(stream, version, prevhash)
        return OutgoingRecord(stream, value, STRUCTURED)

    def records(self, n: int) -> list[OutgoingRecord]:
        """n first events of n distinct streams."""
        return [self.record() for _ in range(n)]

    def stream(self, key: str, n: int) -> list[OutgoingRecord]:
        """n chained events of one stream."""
        out, prev = [], GENESIS_HASH
        for v in range(1, n + 1):
            rec = self.record(key, v, prev)
            prev = value_hash(rec.value)
            out.append(rec)
        return out


def check_payloads(records: Sequence[OutgoingRecord]) -> float:
    """Decode a sample (they must be valid envelopes); return the mean value size in bytes."""
    for rec in records[:: max(1, len(records) // 20)]:
        from_envelope(decode(rec.value))  # the typed payload too, as the projection runtime does
    return sum(len(r.value) for r in records) / max(1, len(records))


def contact_body(rng: random.Random, message_id: str) -> dict[str, object]:
    """A POST /v1/contacts body as a WeChat adapter sends it: caller, address, attachment."""
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    return {
        "channel": "wechat",
        "channel_message_id": message_id,
        "received_at": "2026-11-23T09:15:00+08:00",
        "caller": {"name": name, "phone": f"13{rng.randint(0, 999_999_999):09d}"},
        "content": chinese_content(rng, rng.randint(60, 160)),
        "location": {"address": f"东城区{rng.choice(STREETS)}{rng.randint(1, 300)}号"
                                f"{rng.randint(1, 20)}栋{rng.randint(101, 2802)}室",
                     "district_code": rng.choice(DISTRICTS),
                     "coordinates": {"lat": 39.93, "lon": 116.41}},
        "attachments": [{"uri": f"s3://attachments/2026/11/{message_id}.jpg",
                         "media_type": "image/jpeg", "filename": "现场照片.jpg"}],
    }


# desks keep ticket snapshots where the platform has a database, unless told not to
SNAPSHOTS = os.environ.get("BENCH_TICKET_SNAPSHOTS", "on") != "off"
# the performance issue's targets for supervision's escalations and callback's answers
SERVICE_TARGETS = {"embedded": 0.5, "kafka": 0.3}


def cold_loads(platform: Platform) -> str:
    """Where a cold desk of `platform` finds a ticket, as the benches' notes say it."""
    return "its snapshot" if platform.settings.ticket_snapshots else "the log"


def bench_platform(log: EventLog, db: Any = None, pepper: bytes = b"bench-pepper",
                   **settings: Any) -> Platform:
    """A Platform around a bench's own log (and database engine), its ticket commands run
    in this process: what a service or timer under measurement is built on. Its key store
    only gives the pepper (the benches seal nothing)."""
    async def get_pepper() -> bytes:
        return pepper

    keys = cast(KeyStore, SimpleNamespace(pepper=get_pepper))
    settings.setdefault("ticket_snapshots", db is not None and SNAPSHOTS)
    return Platform(Settings(ticket_commands="local", **settings), log, keys, db)
