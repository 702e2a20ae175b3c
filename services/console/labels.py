"""Chinese labels, times and menus for the pages: what a person reads, not what is stored.

Stored values stay the vocabulary's English codes; the pages show their Chinese labels
(`contracts.vocabulary`), times in Beijing time, durations in words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts import vocabulary
from contracts.events import EVENTS

BEIJING = ZoneInfo("Asia/Shanghai")
ROLE_ZH = {"operator": "话务员", "unit": "承办单位", "supervisor": "督办员",
           "callback": "回访员", "analyst": "分析员", "auditor": "审计员",
           "editor": "知识编辑", "admin": "管理员"}
# each role's pages, first its home: (path, label)
MENUS: dict[str, list[tuple[str, str]]] = {
    "operator": [("/desk", "话务员工作台"), ("/tickets", "工单"), ("/knowledge", "知识库")],
    "unit": [("/inbox", "承办单位收件箱"), ("/tickets", "工单")],
    "supervisor": [("/supervision", "督办"), ("/tickets", "工单"), ("/desk", "话务员工作台"),
                   ("/callback", "回访"), ("/knowledge", "知识库"), ("/analytics", "数据分析")],
    "callback": [("/callback", "回访"), ("/tickets", "工单")],
    "analyst": [("/analytics", "数据分析"), ("/tickets", "工单")],
    "auditor": [("/tickets", "工单"), ("/analytics", "数据分析")],
    "editor": [("/knowledge", "知识库"), ("/tickets", "工单")],
    "admin": [("/admin", "管理"), ("/tickets", "工单")],
}
ENUMS = {enum.__name__: enum for enum in vocabulary.ENUMS}
# each event's Chinese name: the catalogue's docstrings begin with it (`退单: …`)
EVENT_ZH = {name: (cls.__doc__ or name).split(":")[0].split("\n")[0].strip()
            for name, cls in EVENTS.items()}
EVENT_ZH["PasswordSet"] = "设置密码"  # the catalogue's word alone ("密码") is no action


def menu(role: str) -> list[tuple[str, str]]:
    return MENUS.get(role, [])


def home(role: str) -> str:
    """Where a person lands after signing in: their role's first page."""
    pages = menu(role)
    return pages[0][0] if pages else "/tickets"


# why a ticket's clocks were set (DeadlinesSet.reason): the decider's own words; a
# supervisor's SetDeadlines carries their typed reason, shown as it is
CLOCK_REASON_ZH = {"dispatched": "派单时按时限标准设定", "reassigned": "改派后重新计时",
                   "redo": "重办时限"}


def step_text(event: str, text: str | None) -> str:
    """What a timeline step says: a clock's reason in Chinese, any other text as written."""
    if event == "DeadlinesSet" and text in CLOCK_REASON_ZH:
        return CLOCK_REASON_ZH[text]
    return text or ""


def event_zh(type_or_name: str) -> str:
    """`退单` for `TicketReturned` or `hotline.TicketReturned.v1`."""
    name = type_or_name.split(".")[1] if type_or_name.startswith("hotline.") else type_or_name
    return EVENT_ZH.get(name, name)


def zh(enum: str, value: Any) -> str:
    """`zh("TicketStatus", "closed") == "已办结"`; the value itself when it has no label."""
    if value is None or value == "":
        return ""
    labels = vocabulary.LABELS_ZH.get(ENUMS[enum], {}) if enum in ENUMS else {}
    return labels.get(str(value), str(value))


def when(value: str | datetime | None, seconds: bool = False) -> str:
    """An instant as Beijing wall time: `2026-12-04 09:15`."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) \
        else value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else
                                                "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """`95` → `1分35秒`, `7200` → `2小时`: how long a contact has waited."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s}秒"
    if s < 3600:
        return f"{s // 60}分{s % 60}秒" if s % 60 else f"{s // 60}分钟"
    if s < 86400:
        return f"{s // 3600}小时{(s % 3600) // 60}分" if s % 3600 >= 60 else f"{s // 3600}小时"
    return f"{s // 86400}天{(s % 86400) // 3600}小时"
