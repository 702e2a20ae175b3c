"""Every rule the ticket decider enforces, by id: the answer a rejected command gets.

A rejection names its rule, so an operator, a unit's system or a test can tell
exactly why nothing happened. `status` is the HTTP status the API answers with
(problem+json `type` …/problems/<rule>).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the state machine: its id, HTTP status and the sentence users see."""

    id: str
    status: int
    zh: str
    en: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


RULES: dict[str, Rule] = _rules(
    Rule("ticket-unknown", 404, "工单不存在", "There is no such ticket."),
    Rule("ticket-exists", 409, "工单已存在", "A ticket with this id is already registered."),
    Rule("ticket-closed", 409, "工单已办结, 只读", "The ticket is closed; only a supervisor's "
         "audited reopen can change it."),
    Rule("ticket-merged", 409, "工单已并入其他工单", "The ticket was merged into another ticket."),
    Rule("wrong-state", 409, "当前状态不允许该操作",
         "The command is not allowed in the ticket's current status."),
    Rule("not-assigned", 403, "该工单未派给本单位", "The unit is neither lead nor assisting unit."),
    Rule("reassigned-away", 409, "工单已改派或退回, 本单位不再承办",
         "The ticket was reassigned or returned; this unit no longer handles it."),
    Rule("not-lead-unit", 409, "仅主办单位可执行该操作",
         "Only the lead unit (主办) may do this; the ticket may have been reassigned."),
    Rule("not-assisting-unit", 409, "仅协办单位可提交协办反馈",
         "Only an assisting unit (协办) posts an assisting reply."),
    Rule("already-acknowledged", 409, "工单已签收", "The ticket is already acknowledged."),
    Rule("acknowledge-first", 409, "请先签收工单", "The lead unit must acknowledge first."),
    Rule("assist-already-replied", 409, "本单位已提交协办反馈",
         "This assisting unit has already replied in this round."),
    Rule("same-unit", 422, "改派单位与当前主办单位相同",
         "Reassigning to the unit that already leads changes nothing."),
    Rule("contact-already-merged", 409, "该来电已并入本工单",
         "The contact is already part of this ticket."),
    Rule("merge-into-self", 422, "不能与自身并单", "A ticket cannot be merged into itself."),
    Rule("no-change", 422, "分类未变化", "The classification is unchanged."),
    Rule("extension-date-in-past", 422, "延期日期必须晚于当前时间",
         "The requested date lies in the past."),
    Rule("extension-not-later", 422, "延期日期必须晚于当前办结时限",
         "The requested date is not after the current reply deadline."),
    Rule("extension-pending", 409, "已有待审批的延期申请",
         "An extension request is already waiting for a decision."),
    Rule("no-such-extension", 404, "延期申请不存在或已处理",
         "No pending extension request has this id."),
    Rule("deadline-in-past", 422, "时限必须晚于当前时间", "A deadline lies in the past."),
    Rule("warning-exists", 409, "该预警已发出", "This warning id was already raised."),
    Rule("clock-stopped", 409, "该时限已停止或已变更",
         "The deadline the warning is about no longer runs: replied, returned, moved or "
         "handed to another unit."),
    Rule("no-such-warning", 409, "该预警不存在", "A card names a warning never raised."),
    Rule("card-exists", 409, "该预警已出牌", "A card was already issued for this warning."),
    Rule("order-exists", 409, "该督办单已存在", "This order id was already issued."),
    Rule("no-such-order", 404, "督办单不存在", "No supervision order has this id."),
    Rule("order-answered", 409, "督办单已回复", "The order was already answered."),
    Rule("order-not-for-unit", 409, "督办单不是发给本单位的", "The order names another unit."),
    Rule("survey-open", 409, "回访进行中", "A survey is already open for this ticket."),
    Rule("survey-not-open", 409, "没有进行中的该回访", "No open survey has this id."),
    Rule("survey-not-dissatisfied", 409, "仅对办理结果不满意可申请重办",
         "A redo needs a survey answered 'dissatisfied with the result'."),
    Rule("redo-used", 409, "每件工单仅可重办一次", "The ticket was already redone once."),
    Rule("redo-pending", 409, "重办申请待审核", "A redo request is waiting for review."),
    Rule("no-redo-pending", 409, "没有待审核的重办申请", "No redo request is waiting for review."),
    Rule("close-reason-mismatch", 422, "结案原因与工单状态不符",
         "The close reason does not fit the ticket's state."),
    Rule("not-closed", 409, "工单未办结, 无需重启", "Only a closed ticket can be reopened."),
)


class Rejected(Exception):
    """A command broke a rule; nothing was appended."""

    def __init__(self, rule_id: str, detail: str = "") -> None:
        self.rule = RULES[rule_id]
        self.detail = detail or self.rule.en
        super().__init__(f"{rule_id}: {self.detail}")
