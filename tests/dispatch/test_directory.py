"""Dispatch reference data: integrity of the packaged files, routing, and validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contracts.vocabulary import TicketType
from reference.directory import (
    NoRoute,
    ReferenceData,
    UnknownCategory,
    UnknownDistrict,
    UnknownUnit,
)
from reference.documents import load_documents, load_reference_data, parse_reference

DONGHU = "990101"
QINGSHI = "990109"


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference_data()


@pytest.fixture()
def docs() -> dict[str, Any]:
    return copy.deepcopy(load_documents())


def test_ten_districts_of_the_city(ref: ReferenceData) -> None:
    districts = ref.directory.districts()
    assert len(districts) == 10
    assert [d.code for d in districts] == [f"9901{i:02d}" for i in range(1, 11)]
    assert ref.directory.city.code == "990100"
    assert ref.directory.district(DONGHU).name_zh == "东湖区"


def test_unit_directory_has_two_levels(ref: ReferenceData) -> None:
    units = ref.directory.units()
    assert 100 <= len(units) <= 140
    assert {u.level for u in units} == {2, 3}
    for unit in units:
        if unit.level == 3:
            assert unit.parent is not None
            parent = ref.directory.get(unit.parent)
            assert parent.level == 2
            assert set(unit.districts) <= set(parent.districts)
            assert unit in ref.directory.children(parent.id)
        else:
            assert unit.parent is None
        assert unit.channel in ("kafka", "http")
        assert unit.phone.startswith("0999-8")


def test_taxonomy_shape(ref: ReferenceData) -> None:
    top = ref.taxonomy.level1()
    codes = {c.code for c in top}
    assert {
        "urban-management",
        "transport",
        "labour-social-security",
        "housing-provident-fund",
        "public-security-household-registration",
        "education",
        "health",
        "market-regulation",
        "environment",
        "utilities",
        "housing-construction",
        "civil-affairs",
        "government-services",
    } <= codes
    for node in top:
        assert 3 <= len(ref.taxonomy.children(node.code)) <= 8
    assert ref.taxonomy.label_zh("urban-management", "street-lights") == "城市管理 / 路灯照明"
    assert ref.taxonomy.label_zh("utilities") == "公用事业"


def test_every_category_type_and_district_routes_to_a_covering_unit(ref: ReferenceData) -> None:
    taxonomy, directory, catalogue = ref.taxonomy, ref.directory, ref.catalogue
    for top in taxonomy.level1():
        level2s: list[str | None] = [None, *(c.code for c in taxonomy.children(top.code))]
        for level2 in level2s:
            for ticket_type in TicketType:
                for district in directory.districts():
                    route = catalogue.route(top.code, level2, ticket_type.value, district.code)
                    unit = directory.get(route.unit_id)
                    assert unit.covers(district.code), route
                    assert unit.handles(top.code, level2), route
                    assert route.level == unit.level


def test_every_rule_is_reachable(ref: ReferenceData) -> None:
    used = set()
    for top in ref.taxonomy.level1():
        for level2 in [None, *(c.code for c in ref.taxonomy.children(top.code))]:
            for ticket_type in TicketType:
                for district in ref.directory.districts():
                    used.add(ref.catalogue.route(top.code, level2, ticket_type, district.code))
    assert {r.rule_id for r in used} == {r.id for r in ref.catalogue.rules()}


def test_qingdao_practice_street_lights(ref: ReferenceData) -> None:
    repair = ref.catalogue.route("urban-management", "street-lights", "emergency_repair", DONGHU)
    station = ref.directory.get(repair.unit_id)
    assert (station.level, station.kind, station.districts) == (
        3,
        "urban-management-squad",
        (DONGHU,),
    )
    assert repair.rule_id in repair.reason_zh
    assert "城市管理 / 路灯照明" in repair.reason_zh and station.name_zh in repair.reason_zh

    complaint = ref.catalogue.route("urban-management", "street-lights", "complaint", DONGHU)
    assert complaint.unit_id == "city-urban-mgmt" == station.parent
    assert complaint.level == 2


@pytest.mark.parametrize("ticket_type", ["request", "emergency_repair", "report"])
def test_station_types_go_to_level_3(ref: ReferenceData, ticket_type: str) -> None:
    route = ref.catalogue.route("utilities", "water-supply", ticket_type, QINGSHI)
    assert route.level == 3
    assert ref.directory.get(route.unit_id).kind == "water-branch"


@pytest.mark.parametrize("ticket_type", ["complaint", "suggestion", "praise", "consultation"])
def test_supervised_types_go_to_level_2(ref: ReferenceData, ticket_type: str) -> None:
    route = ref.catalogue.route("utilities", "water-supply", ticket_type, QINGSHI)
    assert (route.unit_id, route.level) == ("city-water", 2)


def test_wage_arrears(ref: ReferenceData) -> None:
    complaint = ref.catalogue.route("labour-social-security", "wage-arrears", "complaint", QINGSHI)
    assert ref.directory.get(complaint.unit_id).kind == "human-resources-social-security-bureau"
    report = ref.catalogue.route("labour-social-security", "wage-arrears", "report", QINGSHI)
    station = ref.directory.get(report.unit_id)
    assert station.kind == "labour-inspection-brigade" and station.covers(QINGSHI)
    assert station.parent == complaint.unit_id


def test_level2_kind_target_picks_the_district_government(ref: ReferenceData) -> None:
    route = ref.catalogue.route(
        "housing-construction", "old-community-renovation", "request", "990103"
    )
    assert (route.unit_id, route.level) == ("d03-gov", 2)


def test_directory_lookups(ref: ReferenceData) -> None:
    d = ref.directory
    squads = d.covering(DONGHU, kind="urban-management-squad", level=3)
    assert [u.id for u in squads] == ["d01-urban-squad"]
    assert all(u.covers(QINGSHI) for u in d.covering(QINGSHI))
    handling = {u.id for u in d.handling("utilities", DONGHU)}
    assert {"city-municipal-utilities", "city-water", "water-branch-1"} <= handling
    assert "city-water" not in {u.id for u in d.handling("education", DONGHU)}
    assert {u.kind for u in d.children("d01-gov")} == {"street-office"}
    with pytest.raises(UnknownUnit):
        d.get("no-such-unit")
    with pytest.raises(KeyError):
        d.children("no-such-unit")
    with pytest.raises(UnknownDistrict):
        d.covering("999999")


def test_unknown_categories(ref: ReferenceData) -> None:
    with pytest.raises(UnknownCategory, match="no-such"):
        ref.taxonomy.validate("no-such")
    with pytest.raises(UnknownCategory, match="not under 'transport'"):
        ref.taxonomy.validate("transport", "street-lights")
    with pytest.raises(UnknownCategory, match="level-2"):
        ref.taxonomy.validate("street-lights")
    with pytest.raises(UnknownCategory):
        ref.catalogue.route("transport", "wage-arrears", "complaint", DONGHU)
    with pytest.raises(ValueError, match="ticket type"):
        ref.catalogue.route("transport", None, "gossip", DONGHU)


def test_no_route_when_nothing_matches(docs: dict[str, Any]) -> None:
    docs["catalogue"] = [r for r in docs["catalogue"] if r["category"] != "education"]
    ref = parse_reference(**docs)
    with pytest.raises(NoRoute):
        ref.catalogue.route("education", "school-fees", "complaint", DONGHU)


def test_packaged_documents_build(docs: dict[str, Any]) -> None:
    ref = parse_reference(**docs)
    assert len(ref.catalogue.rules()) == len(docs["catalogue"])


def _unit(docs: dict[str, Any], unit_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in docs["units"] if u["id"] == unit_id)
    return found


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: _unit(d, "d01-urban-squad").update(parent="ghost"), "'ghost' does not exist"),
        (lambda d: _unit(d, "d01-urban-squad").update(parent="d02-urban-squad"), "not 2"),
        (lambda d: _unit(d, "d01-urban-squad").pop("parent"), "needs a level-2 parent"),
        (lambda d: d["units"].append(copy.deepcopy(d["units"][0])), "duplicate unit id"),
        (lambda d: _unit(d, "city-water").update(districts=["990199"]), "unknown district"),
        (lambda d: _unit(d, "city-water").update(categories=["tea"]), "unknown category"),
        (lambda d: _unit(d, "city-water").update(id="城市"), "does not match"),
        (lambda d: d["catalogue"][0]["to"].update(kind="ghost-station"), "ghost-station"),
        (lambda d: d["catalogue"][1]["to"].update(unit="d01-gov"), "does not handle"),
        (lambda d: d["catalogue"][0].update(category="urban-management/bus-service"), "not under"),
        (lambda d: d["catalogue"][0].update(types=["gossip"]), "unknown ticket types"),
        (
            lambda d: d["categories"][1]["children"].append(
                {"code": "street-lights", "name_zh": "重复"}
            ),
            "duplicate",
        ),
    ],
)
def test_validation_catches_broken_files(docs: dict[str, Any], breakage: Any, message: str) -> None:
    breakage(docs)
    with pytest.raises(ValueError, match=message):
        parse_reference(**docs)


def test_unit_target_must_cover_the_district(docs: dict[str, Any]) -> None:
    docs["catalogue"].insert(
        0,
        {
            "id": "R00",
            "category": "government-services",
            "types": ["*"],
            "district": "*",
            "to": {"unit": "d01-gov"},
            "note_zh": "错误规则",
        },
    )
    with pytest.raises(ValueError, match="R00: no target unit covers"):
        parse_reference(**docs)
