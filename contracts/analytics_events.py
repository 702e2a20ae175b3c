"""Analytics events (数据分析), topic hotline.analytics: hotspots and foreseen demands.

A hotspot (热点) is a stream `hotspot-<id>`: `HotspotDetected` when a window's count of
tickets (per district and category) or of near-duplicate contacts was a burst over its
baseline, then `HotspotCleared` when a later window no longer was. A periodic demand
foreseen for 未诉先办 is a stream `foresight-<id>` of one `PeriodicDemandForeseen`.

The ids are derived from the key and the window (services/analytics/hotspots/detector.py), so a
replay of the same events appends nothing new. The evidence is counts, the baseline, the
score and ticket numbers or contact ids: never a text, a name or a phone.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from contracts import topics
from contracts.base import Category, DistrictCode, EventData, Id, Timestamp
from contracts.ticket_events import TICKET_NUMBER

HotspotKey = Annotated[str, Field(min_length=1, max_length=300,
                                  description="dimension:district/category1[/category2], "
                                  "or text:<first contact id of the cluster>")]
Dimension = Literal["category1", "category2", "text"]
TicketNumber = Annotated[str, Field(pattern=TICKET_NUMBER)]


class HotspotDetected(EventData):
    """热点发现: a window's count was a burst over its baseline (Poisson tail at or below the
    policy's alpha, and at least its minimum count and ratio)."""

    topic: ClassVar[str] = topics.ANALYTICS

    hotspot_id: Id
    dimension: Dimension
    key: HotspotKey
    district_code: DistrictCode | None = None
    category: Category | None = Field(default=None, description="None for a text cluster")
    window_seconds: int = Field(ge=60, description="The tumbling window's size")
    window_start: Timestamp
    window_end: Timestamp
    count: int = Field(ge=0, description="Tickets (or near-duplicate contacts) in the window")
    baseline: float = Field(ge=0, description="Expected count: mean of the same hour or day "
                            "in earlier weeks, or of the trailing windows")
    score: float = Field(description="-log10 of the Poisson tail probability")
    z: float = Field(description="(count - baseline) / sqrt(baseline)")
    ticket_numbers: tuple[TicketNumber, ...] = Field(default=(), max_length=50,
                                                     description="Evidence: a sample")
    contact_ids: tuple[Id, ...] = Field(default=(), max_length=50,
                                        description="Evidence of a text cluster: a sample")


class HotspotCleared(EventData):
    """热点消退: the first later window that was no longer a burst."""

    topic: ClassVar[str] = topics.ANALYTICS

    hotspot_id: Id
    key: HotspotKey
    window_seconds: int = Field(ge=60)
    window_start: Timestamp
    window_end: Timestamp
    count: int = Field(ge=0)
    baseline: float = Field(ge=0)


class PeriodicDemandForeseen(EventData):
    """周期性诉求预警 (未诉先办): the same category and district rose at this time last year."""

    topic: ClassVar[str] = topics.ANALYTICS

    signal_id: Id
    dimension: Literal["category1", "category2"]
    key: HotspotKey
    district_code: DistrictCode | None = None
    category: Category
    expected_from: Timestamp = Field(description="Start of the period expected to rise")
    expected_to: Timestamp
    last_year_from: Timestamp = Field(description="Start of last year's same period")
    last_year_count: int = Field(ge=0)
    last_year_baseline: float = Field(ge=0, description="Last year's count expected then, "
                                      "from the weeks before it")
    score: float
