"""The event and command catalogue: committed schemas, compatibility, envelopes, personal data.

If a drift test fails, run `make schemas` and commit contracts/schemas/ and
contracts/asyncapi.yaml with the model change. If a compatibility test fails,
the change would make events already in the log unreadable: publish a new
major version of the event instead.
"""

from __future__ import annotations

import copy
import json
import re
import typing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from contracts import generate
from contracts.commands import COMMANDS, DispatchTicket, command_name
from contracts.envelope import Envelope, decode, encode
from contracts.events import (
    EVENTS,
    Attachment,
    CallRecorded,
    Category,
    ContactReceived,
    Coordinates,
    Deadline,
    EventData,
    TicketDispatched,
    event_dataschema,
    event_name,
    event_type,
    from_envelope,
    to_data,
)
from contracts.generate import breaking_changes, render_all
from contracts.personal import Sealed, new_key, seal, unseal
from contracts.topics import CATALOGUE, DISPATCH_PREFIX
from contracts.vocabulary import (
    ENUMS,
    LABELS_ZH,
    ArticleKind,
    Audience,
    CallOutcome,
    Channel,
    CloseReason,
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    TicketType,
    label_zh,
)

ROOT = Path(generate.__file__).resolve().parent.parent
REMAKE = "run `make schemas` and commit contracts/schemas/ and contracts/asyncapi.yaml"
CST = timezone(timedelta(hours=8), "Asia/Shanghai")
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=CST)
REF = "cit-" + "a1" * 20
KEY = new_key()
UNIT = "U0301"


# --- (a) drift, (b) compatibility ---------------------------------------------------------------


def test_committed_files_match_the_models() -> None:
    stale = [
        path for path, text in render_all().items()
        if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text
    ]
    assert not stale, f"generated contracts differ from the committed files {stale}: {REMAKE}"


def test_every_model_has_a_committed_schema() -> None:
    for name, model in generate.catalogue().items():
        path = ROOT / generate.schema_path(name, model.major)
        assert path.exists(), f"{path} missing: {REMAKE}"


def test_generated_schemas_read_every_committed_schema() -> None:
    rendered = render_all()
    committed = sorted((ROOT / generate.SCHEMA_DIR).glob("*.json"))
    assert committed, f"no committed schemas: {REMAKE}"
    for file in committed:
        path = f"{generate.SCHEMA_DIR}/{file.name}"
        if path not in rendered:
            name, major = re.fullmatch(r"(\w+)\.v(\d+)\.json", file.name).groups()  # type: ignore[union-attr]
            newer = [p for p in rendered if re.search(rf"/{name}\.v(\d+)\.json$", p)]
            assert newer, f"{file.name}: the model is gone, its events in the log would not decode"
            continue
        problems = breaking_changes(json.loads(file.read_text("utf-8")), json.loads(rendered[path]))
        assert problems == [], (
            f"{file.name} changed incompatibly {problems}; publish a new major version instead"
        )


def test_generator_refuses_to_overwrite_with_a_breaking_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    assert generate.main([]) == 0
    target = tmp_path / generate.schema_path("TicketReturned")
    published = json.loads(target.read_text("utf-8"))
    published["properties"]["legacy_code"] = {"type": "string"}  # a field the model dropped
    target.write_text(json.dumps(published), encoding="utf-8")

    assert generate.main([]) == 1
    assert "legacy_code" in capsys.readouterr().err
    assert "legacy_code" in target.read_text("utf-8"), "nothing is overwritten"
    assert generate.main(["--check"]) == 1
    assert generate.main(["--allow-breaking"]) == 0
    assert generate.main(["--check"]) == 0


# --- (c) breaking_changes -----------------------------------------------------------------------


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return json.loads(json.dumps(model.model_json_schema()))


def test_identical_schemas_are_compatible() -> None:
    for model in [*EVENTS.values(), *COMMANDS.values()]:
        assert breaking_changes(_schema(model), _schema(model)) == []


def test_a_removed_property_is_breaking() -> None:
    old = _schema(TicketDispatched)
    new = copy.deepcopy(old)
    del new["properties"]["note"]
    assert breaking_changes(old, new) == ["TicketDispatched: property 'note' removed"]


def test_a_retyped_property_is_breaking() -> None:
    old = _schema(TicketDispatched)
    new = copy.deepcopy(old)
    new["properties"]["urgent"] = {"type": "string"}
    new["properties"]["round"] = {"type": "number"}  # integer -> number widens: fine
    assert breaking_changes(old, new) == [
        "TicketDispatched.urgent: type changed from boolean to string"
    ]
    new["properties"]["lead_unit"] = {"$ref": "#/$defs/Category"}
    new["$defs"] = {"Category": _schema(Category)}
    assert "TicketDispatched.lead_unit: type changed from string to Category" in (
        breaking_changes(old, new)
    )


def test_a_nullable_property_made_non_null_is_breaking() -> None:
    old = _schema(TicketDispatched)
    new = copy.deepcopy(old)
    new["properties"]["note"] = {"type": "string"}
    assert breaking_changes(old, new) == [
        "TicketDispatched.note: type changed from anyOf[string, null] to string"
    ]


def test_a_newly_required_property_is_breaking() -> None:
    old = _schema(TicketDispatched)
    new = copy.deepcopy(old)
    new["required"] = [*old["required"], "urgent"]
    new["properties"]["dispatcher"] = {"type": "string"}
    new["required"].append("dispatcher")
    assert breaking_changes(old, new) == [
        "TicketDispatched: property 'urgent' newly required",
        "TicketDispatched: property 'dispatcher' newly required",
    ]


def test_an_enum_losing_a_value_is_breaking_and_gaining_one_is_not() -> None:
    old = _schema(ContactReceived)
    new = copy.deepcopy(old)
    new["$defs"]["Channel"]["enum"].remove("kiosk")
    assert breaking_changes(old, new) == ["ContactReceived.channel: enum lost the values ['kiosk']"]
    new["$defs"]["Channel"]["enum"] += ["kiosk", "douyin"]
    assert breaking_changes(old, new) == []


def test_changes_inside_nested_defs_are_found() -> None:
    old = _schema(ContactReceived)
    new = copy.deepcopy(old)
    del new["$defs"]["Coordinates"]["properties"]["lon"]
    new["$defs"]["Attachment"]["required"].append("size_bytes")
    new["$defs"]["Sealed"]["properties"]["kid"]["minLength"] = 16
    assert sorted(breaking_changes(old, new)) == [
        "ContactReceived.address.kid: minLength raised to 16",
        "ContactReceived.attachments[]: property 'size_bytes' newly required",
        "ContactReceived.caller.kid: minLength raised to 16",
        "ContactReceived.content_sealed.kid: minLength raised to 16",
        "ContactReceived.coordinates: property 'lon' removed",
    ]


def test_an_added_optional_property_is_compatible() -> None:
    old = _schema(TicketDispatched)
    new = copy.deepcopy(old)
    new["properties"]["channel_hint"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    new["$defs"] = {**old.get("$defs", {}), "Extra": {"type": "object", "properties": {}}}
    new["properties"]["note"]["description"] = "reworded"
    assert breaking_changes(old, new) == []


def test_a_renamed_definition_is_compared_by_content() -> None:
    old = _schema(ContactReceived)
    new = json.loads(json.dumps(old).replace("#/$defs/Coordinates", "#/$defs/GeoPoint"))
    new["$defs"]["GeoPoint"] = new["$defs"].pop("Coordinates")
    assert breaking_changes(old, new) == []


def test_recursive_definitions_terminate() -> None:
    node = {"type": "object", "properties": {"child": {
        "anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}}}
    old = {"title": "Tree", "$ref": "#/$defs/Node", "$defs": {"Node": node}}
    assert breaking_changes(old, copy.deepcopy(old)) == []


# --- (d) round trip through the envelope --------------------------------------------------------


def _sealed(fields: dict[str, str], context: str) -> Sealed:
    return seal(KEY, REF, fields, context)


ATTACHMENT = Attachment(uri="s3://hotline/a/1.jpg", media_type="image/jpeg",
                        filename="现场照片.jpg", size_bytes=20480)
CATEGORY = Category(level1="城市管理", level2="路灯照明")

SAMPLES: dict[str, dict[str, Any]] = {
    "ContactReceived": dict(
        contact_id="c-1", channel=Channel.WECHAT, channel_message_id="wx-778", received_at=T0,
        citizen_ref=REF, caller=_sealed({"name": "张三", "phone": "13800138000"}, "c-1/caller"),
        content="小区门口路灯不亮已经三天了, 晚上很危险", district_code="370202",
        address=_sealed({"address": "青岛市市南区香港中路1号"}, "c-1/address"),
        coordinates=Coordinates(lat=36.06, lon=120.38), attachments=(ATTACHMENT,),
        body_digest="ab" * 32),
    "CallRecorded": dict(call_id="call-1", seat_id="seat-12", queue="普通话", offered_at=T0,
                         answered_at=T0 + timedelta(seconds=8), outcome=CallOutcome.ANSWERED,
                         wait_seconds=8.0, talk_seconds=240.5),
    "TicketRegistered": dict(ticket_id="t-1", ticket_number="12345-20261122-000123",
                             contact_ids=("c-1",), ticket_type=TicketType.COMPLAINT,
                             category=CATEGORY, urgency="urgent", summary="市民反映路灯不亮",
                             district_code="370202", citizen_ref=REF, registered_by="op-017"),
    "TicketClassified": dict(ticket_type="request", category=CATEGORY, urgency="normal",
                             note="应为求助类"),
    "ContactMerged": dict(contact_id="c-2", repeat_count=2),
    "TicketMergedInto": dict(target_ticket_id="t-0", note="同一路灯, 重复诉求"),
    "TicketNumberReserved": dict(ticket_id="t-1", ticket_number="12345-20261122-000123"),
    "TicketAnsweredDirectly": dict(answer="社保卡补办请携带身份证到社保大厅办理",
                                   knowledge_article_id="kb-9"),
    "TicketDispatched": dict(lead_unit=UNIT, assisting_units=("U0410",), note="请核实处理",
                             urgent=True, round=1),
    "DeadlinesSet": dict(deadlines=(Deadline(kind=DeadlineKind.REPLY, due_at=T0 + timedelta(days=7),
                                             policy_id="complaint-urgent"),),
                         reason="dispatched"),
    "TicketAcknowledged": dict(unit_id=UNIT),
    "TicketReturned": dict(unit_id=UNIT, reason="不属于本单位职责, 建议转城管局"),
    "TicketReassigned": dict(from_unit=UNIT, lead_unit="U0502", note="改派城管局"),
    "ProgressNoted": dict(unit_id=UNIT, note="已安排维修人员现场查看", public=True),
    "AssistingUnitReplied": dict(unit_id="U0410", text="电力线路已检查", attachments=(ATTACHMENT,)),
    "ExtensionRequested": dict(request_id="x-1", unit_id=UNIT, reason="需采购灯具",
                               requested_due_at=T0 + timedelta(days=14)),
    "ExtensionApproved": dict(request_id="x-1", approved_by="sv-02",
                              new_due_at=T0 + timedelta(days=12)),
    "ExtensionRejected": dict(request_id="x-1", rejected_by="sv-02", reason="理由不充分"),
    "TicketReplied": dict(unit_id=UNIT, text="路灯已修复", solved=True),
    "WarningRaised": dict(warning_id="w-1", level="blue", deadline_kind="reply",
                          due_at=T0 + timedelta(days=7), unit_id=UNIT, rule="reply-near-20pct",
                          message_zh="处理期限将至, 请抓紧办理"),
    "CardIssued": dict(unit_id=UNIT, colour="yellow", rule="reply-overdue", warning_id="w-2"),
    "SupervisionOrderIssued": dict(order_id="o-1", kind="supervision", unit_id=UNIT,
                                   due_at=T0 + timedelta(days=2), text="请于两日内办结",
                                   issued_by="sv-02"),
    "SupervisionOrderAnswered": dict(order_id="o-1", unit_id=UNIT, text="已办结, 详见反馈"),
    "SupervisionOrderEscalated": dict(order_id="o-1", level=2, rule="order-overdue"),
    "SurveyOpened": dict(survey_id="s-1", channel="sms", expires_at=T0 + timedelta(days=3)),
    "SurveySkipped": dict(reason="no_contact", note="匿名来电无联系方式"),
    "SurveyAnswered": dict(survey_id="s-1", hotline_service=HotlineServiceRating.SATISFIED,
                           handling=HandlingRating.DISSATISFIED_WITH_RESULT,
                           comment="路灯还是不亮", solved=False, answered_via="sms"),
    "SurveyUnanswered": dict(survey_id="s-1"),
    "RedoRequested": dict(survey_id="s-1", reason="问题未解决"),
    "RedoAccepted": dict(reviewer="rv-01", unit_id=UNIT, reason="现场核实仍未修复"),
    "RedoRejected": dict(reviewer="rv-01", reason="诉求超出政策范围"),
    "TicketClosed": dict(reason=CloseReason.SOLVED, note="市民满意"),
    "TicketReopened": dict(reopened_by="sv-02", reason="市民再次来电, 问题复发"),
    "ArticlePublished": dict(article_id="kb-9", title="社保卡补办", body="携带身份证到社保大厅",
                             category=Category(level1="社会保障"), version=1),
    "ArticleRetired": dict(article_id="kb-9", version=3, reason="政策已调整"),
    "ArticleDrafted": dict(article_id="kb-9", version=2, title="社保卡补办",
                           body="携带身份证到社保服务大厅, 当场制卡",
                           kind=ArticleKind.SERVICE_GUIDE,
                           category=Category(level1="labour-social-security",
                                             level2="social-insurance"),
                           audience=Audience.PUBLIC, keywords=("社保卡", "补办"),
                           synonyms=("社会保障卡",), owning_unit=UNIT,
                           effective_from=date(2026, 1, 1), review_by=date(2027, 1, 1)),
    "ArticleSubmitted": dict(article_id="kb-9", version=2),
    "AnswerOffered": dict(offer_id="o-1", channel=Channel.WECHAT, channel_message_id="wx-1",
                          article_id="kb-9", version=2, confidence=0.8),
    "OfferAnswered": dict(offer_id="o-1", solved=False),
    "RecommendationRated": dict(article_id="kb-9", version=2, helpful=True, contact_id="c-1"),
    "ArticleReturned": dict(article_id="kb-9", version=2, reason="请补充办理时限"),
    "ArticleApproved": dict(article_id="kb-9", version=2, publish_at=T0 + timedelta(hours=2)),
    "ContactClaimed": dict(contact_id="c-1", operator="operator:wang.li",
                           until=T0 + timedelta(minutes=10)),
    "ContactReleased": dict(contact_id="c-1", operator="operator:wang.li"),
    "ContactDismissed": dict(contact_id="c-1", reason="spam", note="广告短信",
                             operator="operator:wang.li"),
    "AccountCreated": dict(login="wang.li", roles=("operator",), by="admin:li.na"),
    "AccountChanged": dict(login="zhang.min", roles=("unit",), unit_id=UNIT, by="admin:li.na"),
    "AccountDeactivated": dict(login="wang.li", by="admin:li.na", reason="调岗"),
    "AccountReactivated": dict(login="wang.li", by="admin:li.na"),
    "PasswordSet": dict(login="wang.li", how="reset", by="admin:li.na"),
    "KeyIssued": dict(holder="wechat-gateway", role="channel", channel="wechat",
                      by="admin:li.na"),
    "KeyRevoked": dict(holder="wechat-gateway", count=1, by="admin:li.na"),
    "HotspotDetected": dict(
        hotspot_id="3f2a", dimension="category2", key="category2:370202/城市管理/路灯照明",
        district_code="370202", category=CATEGORY, window_seconds=3600, window_start=T0,
        window_end=T0 + timedelta(hours=1), count=21, baseline=1.25, score=14.2, z=17.7,
        ticket_numbers=("12345-20261122-000123",)),
    "HotspotCleared": dict(hotspot_id="3f2a", key="category2:370202/城市管理/路灯照明",
                           window_seconds=3600, window_start=T0 + timedelta(hours=1),
                           window_end=T0 + timedelta(hours=2), count=2, baseline=1.25),
    "PeriodicDemandForeseen": dict(
        signal_id="9c1e", dimension="category1", key="category1:370202/城市管理",
        district_code="370202", category=Category(level1="城市管理"),
        expected_from=T0 + timedelta(days=7), expected_to=T0 + timedelta(days=14),
        last_year_from=T0 - timedelta(days=357), last_year_count=60, last_year_baseline=21.0,
        score=10.2),
}


def test_every_event_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENTS)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_round_trips_through_the_envelope(name: str) -> None:
    event = EVENTS[name](**SAMPLES[name])
    envelope = Envelope(
        source="/hotline/test", type=event_type(event), subject="ticket-t-1", time=T0,
        dataschema=event_dataschema(event), streamversion=1, prevhash="0" * 64,
        correlationid="corr-1", actor="operator:op-017", data=to_data(event),
    )
    stored = encode(envelope)
    for text in _chinese(to_data(event)):
        assert text.encode("utf-8") in stored, "Chinese is stored as UTF-8, not escaped"
    back = from_envelope(decode(stored))
    assert back == event and type(back) is type(event)
    assert back.topic in CATALOGUE and event_name(back) == name


def _chinese(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _chinese(v)]
    if isinstance(value, list):
        return [t for v in value for t in _chinese(v)]
    return [value] if isinstance(value, str) and re.search(r"[\u4e00-\u9fff]", value) else []


def test_sealed_caller_survives_the_round_trip() -> None:
    event = ContactReceived(**SAMPLES["ContactReceived"])
    envelope = Envelope(source="/hotline/intake", type=event_type(event), subject="contact-c-1",
                        time=T0, dataschema=event_dataschema(event), streamversion=1,
                        prevhash="0" * 64, correlationid="corr-1", actor="channel:wechat",
                        data=to_data(event))
    stored = encode(envelope)
    assert "张三".encode() not in stored and b"13800138000" not in stored
    back = from_envelope(decode(stored))
    assert isinstance(back, ContactReceived) and back.caller is not None
    assert unseal(KEY, back.caller, "c-1/caller") == {"name": "张三", "phone": "13800138000"}


def test_an_envelope_of_another_major_version_is_not_parsed_as_v1() -> None:
    event = TicketDispatched(**SAMPLES["TicketDispatched"])
    envelope = Envelope(source="/x", type="hotline.TicketDispatched.v2", subject="ticket-t-1",
                        time=T0, dataschema="urn:hotline:event:TicketDispatched:v2",
                        streamversion=1, prevhash="0" * 64, correlationid="c",
                        actor="system:test", data=to_data(event))
    with pytest.raises(KeyError):
        from_envelope(envelope)


# --- (e) personal data only sealed --------------------------------------------------------------

PERSONAL = re.compile(r"(^|_)(name|phone|mobile|tel|id_number|id_card|address|caller)($|_)")


def _flat(annotation: Any) -> list[Any]:
    """Every type inside an annotation: X | None, tuple[X, ...], Annotated[X, ...], list[X]."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _flat(args[0])
    if args:
        return [t for a in args for t in _flat(a)]
    return [annotation]


def _personal_in_clear(model: type[BaseModel], path: str, seen: set[type]) -> list[str]:
    if model in seen or model is Sealed:
        return []
    seen.add(model)
    found = []
    for name, field in model.model_fields.items():
        kinds = _flat(field.annotation)
        if PERSONAL.search(name) and Sealed not in kinds:
            found.append(f"{path}.{name}: {field.annotation}")
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += _personal_in_clear(kind, f"{path}.{name}", seen)
    return found


def test_personal_data_is_only_ever_sealed() -> None:
    for name, model in generate.catalogue().items():
        assert _personal_in_clear(model, name, set()) == [], "personal data must be Sealed"
    assert Sealed in _flat(ContactReceived.model_fields["caller"].annotation)
    assert Sealed in _flat(ContactReceived.model_fields["address"].annotation)


def test_the_scanner_catches_a_clear_text_phone() -> None:
    class Leaky(EventData):
        topic = "hotline.tickets"
        caller_phone: str | None = None
        attachment: Attachment | None = None

    assert _personal_in_clear(Leaky, "Leaky", set()) == ["Leaky.caller_phone: str | None"]


# --- (f) AsyncAPI -------------------------------------------------------------------------------


def _pointer(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_document_describes_every_topic() -> None:
    doc = yaml.safe_load((ROOT / generate.ASYNCAPI_PATH).read_text("utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "12345 hotline event contracts"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(CATALOGUE) <= set(addresses)
    dispatch = addresses[DISPATCH_PREFIX + "{unitId}"]
    assert "unitId" in dispatch["parameters"] and "TicketDispatched" in dispatch["messages"]
    carried = {m for c in doc["channels"].values() for m in c["messages"]}
    assert set(EVENTS) | set(COMMANDS) <= carried
    for name, model in generate.catalogue().items():
        assert name in addresses[model.topic]["messages"]
    for channel_id in doc["channels"]:
        actions = {op["action"] for op in doc["operations"].values()
                   if op["channel"]["$ref"] == f"#/channels/{channel_id}"}
        assert actions == {"send", "receive"}
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        _pointer(doc, ref)  # KeyError if dangling


# --- the catalogue itself -----------------------------------------------------------------------


def test_models_are_frozen_strict_documented_and_catalogued() -> None:
    assert not set(EVENTS) & set(COMMANDS)
    for name, model in generate.catalogue().items():
        assert model.model_config.get("extra") == "forbid" and model.model_config.get("frozen")
        assert model.__doc__ and model.__doc__.strip(), f"{name} has no docstring"
        assert model.topic in CATALOGUE and model.major >= 1
    assert command_name(DispatchTicket) == "DispatchTicket"

    class NotCatalogued(EventData):
        topic = "hotline.tickets"

    with pytest.raises(KeyError):
        event_name(NotCatalogued)
    assert "NotCatalogued" not in EVENTS


def test_models_reject_naive_times_unknown_fields_and_contradictions() -> None:
    with pytest.raises(ValidationError):
        TicketDispatched(**{**SAMPLES["TicketDispatched"], "assisting_units": (UNIT,)})
    with pytest.raises(ValidationError):
        TicketDispatched(**SAMPLES["TicketDispatched"], dispatcher="op-1")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        CallRecorded(**{**SAMPLES["CallRecorded"], "offered_at": datetime(2026, 11, 22, 9)})
    with pytest.raises(ValidationError):
        CallRecorded(**{**SAMPLES["CallRecorded"], "outcome": CallOutcome.ABANDONED})
    with pytest.raises(ValidationError):
        ContactReceived(**{**SAMPLES["ContactReceived"], "citizen_ref": "cit-someone-else"})
    with pytest.raises(ValidationError):
        TicketDispatched(**{**SAMPLES["TicketDispatched"], "lead_unit": "U 03/01"})
    event = TicketDispatched(**SAMPLES["TicketDispatched"])
    with pytest.raises(ValidationError):
        event.lead_unit = "U9"  # type: ignore[misc]
    assert TicketDispatched.model_validate(
        {**to_data(event), "assisting_units": ["U0410"]}
    ) == event


def test_every_enum_value_has_a_chinese_label() -> None:
    for enum in ENUMS:
        assert set(LABELS_ZH[enum]) == {m.value for m in enum}
        assert all(re.search(r"[\u4e00-\u9fff]", m.zh) for m in enum)
    assert label_zh(TicketType.EMERGENCY_REPAIR) == "抢修"
    assert HotlineServiceRating.DISSATISFIED_WITH_POLICY.zh == "对相关政策不满意"
    assert Channel("wechat") is Channel.WECHAT and Channel.WECHAT == "wechat"


def test_times_keep_their_offset_and_instant() -> None:
    event = EVENTS["SurveyOpened"](**SAMPLES["SurveyOpened"])
    assert event_type(event) == "hotline.SurveyOpened.v1"
    assert to_data(event)["expires_at"] == "2026-11-25T09:30:00+08:00"
    assert EVENTS["SurveyOpened"].model_validate(
        {**to_data(event), "expires_at": "2026-11-25T01:30:00Z"}
    ) == event
