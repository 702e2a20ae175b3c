"""Controlled vocabulary of the hotline: every enumerated value events and commands carry.

Values are stable English snake_case strings (they are stored in the log for
ever, so a value is never renamed or removed: that would be a breaking change
of every schema that uses it). Each enum has a Chinese label for user-facing
reports and inboxes: `Channel.WECHAT.zh == "微信"`, or `label_zh(value)`.
`LABELS_ZH[Channel]` is the whole mapping of one enum.
"""

from __future__ import annotations

from enum import StrEnum


class Vocabulary(StrEnum):
    """Base of every enum here: a str value plus its Chinese label."""

    @property
    def zh(self) -> str:
        """The Chinese label of this value, as shown to citizens, units and supervisors."""
        return LABELS_ZH[type(self)][self.value]


class Channel(Vocabulary):
    """渠道: where a contact came in."""

    PHONE = "phone"
    WECHAT = "wechat"
    WEB = "web"
    APP = "app"
    SMS = "sms"
    WEIBO = "weibo"
    EMAIL = "email"
    KIOSK = "kiosk"


class TicketType(Vocabulary):
    """工单类型: what the citizen wants."""

    CONSULTATION = "consultation"
    REQUEST = "request"
    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    PRAISE = "praise"
    EMERGENCY_REPAIR = "emergency_repair"


class TicketStatus(Vocabulary):
    """工单状态: where a ticket is in its loop (DESIGN.md §4); derived, never sent in events."""

    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    RETURNED = "returned"
    REPLIED = "replied"
    CLOSED = "closed"
    MERGED = "merged"


class Urgency(Vocabulary):
    """紧急程度: drives the deadline policy."""

    NORMAL = "normal"
    URGENT = "urgent"
    VERY_URGENT = "very_urgent"


class WarningLevel(Vocabulary):
    """红橙蓝单: blue = deadline near, orange = passed, red = long passed or third contact."""

    BLUE = "blue"
    ORANGE = "orange"
    RED = "red"


class CardColour(Vocabulary):
    """黄牌/红牌: sanction on a late unit."""

    YELLOW = "yellow"
    RED = "red"


class DeadlineKind(Vocabulary):
    """时限种类: which clock a deadline is."""

    ACKNOWLEDGE = "acknowledge"
    REPLY = "reply"
    REDO = "redo"
    ORDER = "order"


class OrderKind(Vocabulary):
    """督办/催办: formal supervision order or a lighter reminder."""

    SUPERVISION = "supervision"
    REMINDER = "reminder"


class HotlineServiceRating(Vocabulary):
    """回访第一项: the citizen's rating of the hotline agent's service."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED_WITH_AGENT = "dissatisfied_with_agent"
    DISSATISFIED_WITH_POLICY = "dissatisfied_with_policy"


class HandlingRating(Vocabulary):
    """回访第二项: the citizen's rating of how the unit handled the ticket."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED_WITH_STAFF = "dissatisfied_with_staff"
    DISSATISFIED_WITH_RESULT = "dissatisfied_with_result"


class CloseReason(Vocabulary):
    """结案原因: why a ticket was closed."""

    ANSWERED = "answered"
    SOLVED = "solved"
    UNSATISFIED_AFTER_REDO = "unsatisfied_after_redo"
    REDO_REJECTED = "redo_rejected"
    CITIZEN_UNREACHABLE = "citizen_unreachable"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"
    SURVEY_UNANSWERED = "survey_unanswered"
    UNSATISFIED = "unsatisfied"


class SurveyChannel(Vocabulary):
    """回访方式: how the callback survey reaches the citizen."""

    SMS = "sms"
    WECHAT = "wechat"
    APP = "app"
    WEB = "web"
    PHONE = "phone"


class SurveySkipReason(Vocabulary):
    """免回访原因: why a ticket gets no callback survey."""

    NO_CONTACT = "no_contact"
    CITIZEN_DECLINED = "citizen_declined"
    CONFIDENTIAL = "confidential"
    NOT_SURVEYED_TYPE = "not_surveyed_type"


class DismissReason(Vocabulary):
    """无效来件: why a contact becomes no ticket and gets no answer."""

    SPAM = "spam"
    TEST = "test"
    DUPLICATE = "duplicate"
    NOT_FOR_HOTLINE = "not_for_hotline"


class ArticleKind(Vocabulary):
    """知识类型: what a knowledge-base article is."""

    POLICY = "policy"
    SERVICE_GUIDE = "service_guide"
    FAQ = "faq"
    NOTICE = "notice"
    CONTACT = "contact"


class Audience(Vocabulary):
    """知识范围: who may read an article (public self-service, or staff only)."""

    PUBLIC = "public"
    INTERNAL = "internal"


class CallOutcome(Vocabulary):
    """话务结果: what became of an offered call."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOW = "overflow"


LABELS_ZH: dict[type[Vocabulary], dict[str, str]] = {
    Channel: {
        "phone": "电话", "wechat": "微信", "web": "网站", "app": "手机应用",
        "sms": "短信", "weibo": "微博", "email": "电子邮件", "kiosk": "自助终端",
    },
    TicketType: {
        "consultation": "咨询", "request": "求助", "complaint": "投诉", "report": "举报",
        "suggestion": "建议", "praise": "表扬", "emergency_repair": "抢修",
    },
    TicketStatus: {
        "registered": "待派单", "dispatched": "待签收", "acknowledged": "办理中",
        "returned": "已退回待改派", "replied": "已反馈待回访", "closed": "已办结",
        "merged": "已并单",
    },
    Urgency: {"normal": "一般", "urgent": "紧急", "very_urgent": "特急"},
    WarningLevel: {"blue": "蓝单", "orange": "橙单", "red": "红单"},
    CardColour: {"yellow": "黄牌", "red": "红牌"},
    DeadlineKind: {"acknowledge": "签收时限", "reply": "办结时限", "redo": "重办时限",
                   "order": "督办时限"},
    OrderKind: {"supervision": "督办", "reminder": "催办"},
    HotlineServiceRating: {
        "satisfied": "满意", "basically_satisfied": "基本满意",
        "dissatisfied_with_agent": "对咨询员服务不满意",
        "dissatisfied_with_policy": "对相关政策不满意",
    },
    HandlingRating: {
        "satisfied": "满意", "basically_satisfied": "基本满意",
        "dissatisfied_with_staff": "对经办人员不满意",
        "dissatisfied_with_result": "对事项办理效果不满意",
    },
    CloseReason: {
        "answered": "已答复", "solved": "已解决", "unsatisfied_after_redo": "重办后仍不满意",
        "redo_rejected": "重办申请未通过", "citizen_unreachable": "无法联系市民",
        "duplicate": "重复工单", "withdrawn": "市民撤回", "survey_unanswered": "回访未应答",
        "unsatisfied": "市民不满意",
    },
    SurveyChannel: {"sms": "短信", "wechat": "微信", "app": "手机应用", "web": "网站",
                    "phone": "电话"},
    SurveySkipReason: {
        "no_contact": "匿名且无联系方式", "citizen_declined": "市民拒绝回访",
        "confidential": "保密事项不回访", "not_surveyed_type": "该类工单免回访",
    },
    CallOutcome: {"answered": "接通", "abandoned": "放弃", "overflow": "溢出"},
    ArticleKind: {"policy": "政策法规", "service_guide": "办事指南", "faq": "常见问答",
                  "notice": "通知公告", "contact": "联系名录"},
    Audience: {"public": "公开", "internal": "内部"},
    DismissReason: {"spam": "骚扰或广告", "test": "测试", "duplicate": "重复来件",
                    "not_for_hotline": "非热线受理范围"},
}

ENUMS: tuple[type[Vocabulary], ...] = tuple(LABELS_ZH)


def label_zh(value: Vocabulary) -> str:
    """The Chinese label of an enum value (`label_zh(TicketType.COMPLAINT) == "投诉"`)."""
    return value.zh


def _check_labels() -> None:
    for enum, labels in LABELS_ZH.items():
        values = {member.value for member in enum}
        if values != set(labels):
            raise RuntimeError(f"{enum.__name__}: Chinese labels do not match the values")


_check_labels()
