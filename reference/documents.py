"""The four reference files (reference/data/*.json): read, checked and turned into the
`ReferenceData` of reference/directory.py.

A file is edited by people, so everything is checked when it is loaded: shapes, codes,
that every unit and rule points at districts, categories and units that exist, and that
the catalogue routes every category in every district. A broken file raises `ValueError`
naming every problem found, not only the first.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from contracts.vocabulary import TicketType
from reference.directory import (
    ANY,
    Catalogue,
    CategoryNode,
    Directory,
    District,
    ReferenceData,
    Rule,
    Target,
    Taxonomy,
    Unit,
    UnknownCategory,
    UnknownUnit,
)

DATA_FILES = ("districts", "categories", "units", "catalogue")
CHANNELS = ("kafka", "http")

_UNIT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DISTRICT_CODE = re.compile(r"^[0-9]{6}$")
_TICKET_TYPES = frozenset(t.value for t in TicketType)


def parse_reference(districts: Any, categories: Any, units: Any,
                    catalogue: Any) -> ReferenceData:
    """Build from the parsed JSON documents; raise ValueError listing every problem."""
    problems: list[str] = []
    city, district_list = _parse_districts(districts, problems)
    taxonomy = Taxonomy(_parse_categories(categories, problems))
    codes = {d.code for d in district_list}
    unit_list = _parse_units(units, codes, taxonomy, problems)
    directory = Directory(city, district_list, unit_list, taxonomy)
    rules = _parse_catalogue(catalogue, codes, taxonomy, directory, problems)
    if problems:
        raise ValueError("invalid dispatch reference data:\n- " + "\n- ".join(problems))
    return ReferenceData(taxonomy, directory, Catalogue(rules, taxonomy, directory))


def load_documents() -> dict[str, Any]:
    """Read and parse the packaged JSON files, keyed like `parse_reference`."""
    folder = resources.files(__package__ or "reference") / "data"
    return {
        name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        for name in DATA_FILES
    }


@functools.cache
def load_reference_data() -> ReferenceData:
    """The packaged reference data, loaded and checked once per process."""
    return parse_reference(**load_documents())


# --- parsing and integrity checks -------------------------------------------------------


class _Bad(ValueError):
    """One malformed entry; the caller records it and skips the entry."""


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(f"{where}: expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(f"{where}: expected a list")
    return value


def _str(
    obj: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None
) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{where}: {key!r} must be a non-empty string")
    if pattern is not None and not pattern.fullmatch(value):
        raise _Bad(f"{where}: {key!r} {value!r} does not match {pattern.pattern}")
    return value


def _strs(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{where}: {key!r} must be a non-empty list of strings")
    if len(set(value)) != len(value):
        raise _Bad(f"{where}: {key!r} lists a value twice")
    return tuple(value)


def _parse_districts(doc: Any, problems: list[str]) -> tuple[District, list[District]]:
    city = District("", "")
    out: list[District] = []
    try:
        root = _obj(doc, "districts")
        c = _obj(root.get("city"), "districts.city")
        city = District(
            _str(c, "code", "districts.city", _DISTRICT_CODE), _str(c, "name_zh", "districts.city")
        )
        entries = _list(root.get("districts"), "districts.districts")
    except _Bad as bad:
        problems.append(str(bad))
        return city, out
    for i, entry in enumerate(entries):
        where = f"districts[{i}]"
        try:
            d = _obj(entry, where)
            district = District(_str(d, "code", where, _DISTRICT_CODE), _str(d, "name_zh", where))
        except _Bad as bad:
            problems.append(str(bad))
            continue
        if district.code == city.code or any(o.code == district.code for o in out):
            problems.append(f"{where}: duplicate district code {district.code!r}")
            continue
        out.append(district)
    if not out:
        problems.append("districts: no district defined")
    return city, out


def _parse_categories(doc: Any, problems: list[str]) -> list[CategoryNode]:
    out: list[CategoryNode] = []
    seen: set[str] = set()

    def add(node: CategoryNode, where: str) -> None:
        if node.code in seen:
            problems.append(f"{where}: duplicate category code {node.code!r}")
        else:
            seen.add(node.code)
            out.append(node)

    try:
        entries = _list(doc, "categories")
    except _Bad as bad:
        problems.append(str(bad))
        return out
    for i, entry in enumerate(entries):
        where = f"categories[{i}]"
        try:
            c = _obj(entry, where)
            top = CategoryNode(_str(c, "code", where, _CODE), _str(c, "name_zh", where), None)
            kids = [
                _obj(k, f"{where}.children[{j}]")
                for j, k in enumerate(_list(c.get("children"), where))
            ]
            children = [
                CategoryNode(
                    _str(k, "code", f"{where}.children[{j}]", _CODE),
                    _str(k, "name_zh", f"{where}.children[{j}]"),
                    top.code,
                )
                for j, k in enumerate(kids)
            ]
        except _Bad as bad:
            problems.append(str(bad))
            continue
        add(top, where)
        for j, child in enumerate(children):
            add(child, f"{where}.children[{j}]")
    return out


def _parse_unit(entry: Any, where: str) -> Unit:
    u = _obj(entry, where)
    uid = _str(u, "id", where, _UNIT_ID)
    where = f"{where} ({uid})"
    level = u.get("level")
    if level not in (2, 3) or isinstance(level, bool):
        raise _Bad(f"{where}: 'level' must be 2 or 3")
    parent = u.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise _Bad(f"{where}: 'parent' must be a unit id")
    contact = _obj(u.get("contact"), f"{where}.contact")
    channel = _str(contact, "channel", f"{where}.contact")
    if channel not in CHANNELS:
        raise _Bad(f"{where}: channel {channel!r} is not one of {', '.join(CHANNELS)}")
    return Unit(
        id=uid,
        name_zh=_str(u, "name_zh", where),
        level=int(level),
        parent=parent,
        kind=_str(u, "kind", where, _CODE),
        districts=_strs(u, "districts", where),
        categories=_strs(u, "categories", where),
        channel=channel,
        phone=_str(contact, "phone", f"{where}.contact"),
    )


def _parse_units(
    doc: Any, districts: set[str], taxonomy: Taxonomy, problems: list[str]
) -> list[Unit]:
    by_id: dict[str, Unit] = {}
    try:
        entries = _list(doc, "units")
    except _Bad as bad:
        problems.append(str(bad))
        return []
    for i, entry in enumerate(entries):
        try:
            unit = _parse_unit(entry, f"units[{i}]")
        except _Bad as bad:
            problems.append(str(bad))
            continue
        if unit.id in by_id:
            problems.append(f"units[{i}]: duplicate unit id {unit.id!r}")
            continue
        by_id[unit.id] = unit
    for unit in by_id.values():
        where = f"unit {unit.id}"
        for code in unit.districts:
            if code not in districts:
                problems.append(f"{where}: unknown district code {code!r}")
        for code in unit.categories:
            if code not in taxonomy:
                problems.append(f"{where}: unknown category code {code!r}")
        if unit.level == 2:
            if unit.parent is not None:
                problems.append(f"{where}: a level-2 unit has no parent")
            continue
        if unit.parent is None:
            problems.append(f"{where}: a level-3 unit needs a level-2 parent")
            continue
        parent = by_id.get(unit.parent)
        if parent is None:
            problems.append(f"{where}: parent {unit.parent!r} does not exist")
        elif parent.level != 2:
            problems.append(f"{where}: parent {unit.parent!r} is level {parent.level}, not 2")
        else:
            outside = sorted(set(unit.districts) - set(parent.districts))
            if outside:
                problems.append(f"{where}: covers {outside} which parent {parent.id} does not")
    return list(by_id.values())


def _parse_rule(entry: Any, where: str, taxonomy: Taxonomy) -> Rule:
    r = _obj(entry, where)
    rid = _str(r, "id", where, _UNIT_ID)
    where = f"{where} ({rid})"
    category = _str(r, "category", where)
    level1, _, rest = category.partition("/")
    level2 = rest or None
    try:
        taxonomy.validate(level1, level2)
    except UnknownCategory as err:
        raise _Bad(f"{where}: {err}") from None
    types = _strs(r, "types", where)
    if types != (ANY,):
        unknown = [t for t in types if t not in _TICKET_TYPES]
        if unknown:
            raise _Bad(f'{where}: unknown ticket types {unknown} (use ["*"] for any)')
    to = _obj(r.get("to"), f"{where}.to")
    if ("unit" in to) == ("kind" in to):
        raise _Bad(f"{where}: 'to' needs exactly one of 'unit' or 'kind'")
    level = to.get("level", 3)
    if level not in (2, 3) or isinstance(level, bool):
        raise _Bad(f"{where}: 'to.level' must be 2 or 3")
    if "unit" in to:
        if "level" in to:
            raise _Bad(f"{where}: 'to.level' only goes with 'kind'")
        target = Target(unit=_str(to, "unit", f"{where}.to"), kind=None, level=0)
    else:
        target = Target(unit=None, kind=_str(to, "kind", f"{where}.to"), level=int(level))
    return Rule(
        rid, level1, level2, types, _str(r, "district", where), target, _str(r, "note_zh", where)
    )


def _parse_catalogue(
    doc: Any, districts: set[str], taxonomy: Taxonomy, directory: Directory, problems: list[str]
) -> list[Rule]:
    rules: list[Rule] = []
    try:
        entries = _list(doc, "catalogue")
    except _Bad as bad:
        problems.append(str(bad))
        return rules
    for i, entry in enumerate(entries):
        try:
            rule = _parse_rule(entry, f"catalogue[{i}]", taxonomy)
        except _Bad as bad:
            problems.append(str(bad))
            continue
        if any(r.id == rule.id for r in rules):
            problems.append(f"catalogue[{i}]: duplicate rule id {rule.id!r}")
            continue
        rules.append(rule)
    for rule in rules:
        problems.extend(_check_target(rule, districts, directory))
    return rules


def _check_target(rule: Rule, districts: set[str], directory: Directory) -> list[str]:
    where = f"rule {rule.id}"
    if rule.district != ANY and rule.district not in districts:
        return [f"{where}: unknown district code {rule.district!r}"]
    if rule.to.unit is not None:
        try:
            unit = directory.get(rule.to.unit)
        except UnknownUnit:
            return [f"{where}: target unit {rule.to.unit!r} does not exist"]
        candidates = [unit]
    else:
        candidates = [
            u for u in directory.units() if u.kind == rule.to.kind and u.level == rule.to.level
        ]
        if not candidates:
            return [f"{where}: no level-{rule.to.level} unit of kind {rule.to.kind!r}"]
    out: list[str] = []
    for unit in candidates:
        if not unit.handles(rule.level1, rule.level2):
            out.append(f"{where}: target {unit.id} does not handle category {rule.category!r}")
    scope = sorted(districts) if rule.district == ANY else [rule.district]
    missing = [d for d in scope if not any(u.covers(d) for u in candidates)]
    if missing:
        out.append(f"{where}: no target unit covers district(s) {missing}")
    return out
