"""What the citizen reads and what callback staff say: the survey SMS and WeChat texts, the
phone script, and the SMS reply codes (pure).

The SMS answer is two digits, the first for the hotline's service, the second for the
handling, in the order of the seed's options (seed 000, Dongguan), optionally followed by
words: "14 路灯还是不亮" = hotline 满意, handling 对事项办理效果不满意, with that reason.
A citizen with several surveys open puts the survey's code first: "#A1B2 11".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.vocabulary import HandlingRating, HotlineServiceRating

HOTLINE_OPTIONS = tuple(HotlineServiceRating)  # 1..4 in the seed's order
HANDLING_OPTIONS = tuple(HandlingRating)
_REPLY = re.compile(
    r"^\s*(?:#(?P<code>[0-9A-Fa-f]{4})[\s,，:：]*)?(?P<h>[1-4])[\s,，、]*(?P<d>[1-4])"
    r"(?P<rest>.*)$", re.DOTALL)


def survey_code(survey_id: str) -> str:
    """The four characters that tell a citizen's open surveys apart in an SMS reply."""
    return survey_id.replace("-", "")[:4].upper()


def _options(options: tuple[HotlineServiceRating, ...] | tuple[HandlingRating, ...]) -> str:
    return " ".join(f"{i}{o.zh}" for i, o in enumerate(options, 1))


def sms_text(ticket_number: str, link: str, code: str) -> str:
    """The survey SMS (no personal data: the number and a link)."""
    return (f"【12345热线】您反映的问题(工单{ticket_number})承办单位已答复, 请评价: {link} ;"
            f"或回复两位数字, 第一位评价热线服务({_options(HOTLINE_OPTIONS)}), "
            f"第二位评价办理情况({_options(HANDLING_OPTIONS)}), 可附说明, 如: 11。"
            f"回访编号#{code}")


def wechat_text(ticket_number: str, link: str) -> str:
    return (f"您反映的问题(工单{ticket_number})承办单位已答复。"
            f"请点击链接查看答复并评价: {link}")


def phone_script(ticket_number: str, summary: str, unit_zh: str, reply: str) -> list[str]:
    """The callback call, line by line (回访话术)."""
    return [
        "您好, 这里是12345政务服务便民热线, 我是回访员。",
        f"您反映的「{summary}」(工单{ticket_number}), {unit_zh}已答复: {reply}",
        f"请问您对热线的受理服务是否满意? {_options(HOTLINE_OPTIONS)}",
        f"请问您对该事项的办理情况是否满意? {_options(HANDLING_OPTIONS)}",
        "请问您反映的问题是否已经解决?",
        "如对办理效果不满意, 请说明理由, 我们将审核后交承办单位重新办理。",
        "感谢您的支持, 再见。",
    ]


@dataclass(frozen=True, slots=True)
class SmsAnswer:
    code: str | None
    hotline_service: HotlineServiceRating
    handling: HandlingRating
    comment: str | None


def parse_sms_reply(text: str) -> SmsAnswer | None:
    """The answer an SMS reply gives, or None when it follows no code."""
    found = _REPLY.match(text)
    if found is None:
        return None
    comment = found["rest"].strip(" \t\r\n,，.。:：;；、") or None
    return SmsAnswer(code=found["code"].upper() if found["code"] else None,
                     hotline_service=HOTLINE_OPTIONS[int(found["h"]) - 1],
                     handling=HANDLING_OPTIONS[int(found["d"]) - 1], comment=comment)
