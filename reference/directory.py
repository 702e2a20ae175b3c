"""Reference data of dispatch: districts, the 诉求分类 taxonomy, member units and the 派单目录.

The source of truth is four human-editable UTF-8 JSON files in `data/` beside this module:

- `districts.json`: the city (示例市, 990100) and its ten districts and counties;
- `categories.json`: the two-level category taxonomy (level-1 codes with level-2 children);
- `units.json`: the member-unit directory, level-2 departments and the level-3 stations
  under them, with the districts and categories each one covers and its contact;
- `catalogue.json`: the dispatch catalogue, ordered rules where the first match wins.

The catalogue follows Qingdao's practice: requests, emergency repairs and reports go
straight to the competent level-3 station of the district; complaints, suggestions,
praise and consultations go to the level-2 department that supervises the stations.

Adding a unit or a rule is a data change: edit the JSON, no code changes. Everything is
checked when the files are loaded (`load_reference_data`), and a broken file raises
`ValueError` naming every problem found. Apart from reading those files, this module is
pure: lookups and routing never do I/O.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from contracts.vocabulary import TicketType

ANY = "*"
DATA_FILES = ("districts", "categories", "units", "catalogue")
CHANNELS = ("kafka", "http")

_UNIT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DISTRICT_CODE = re.compile(r"^[0-9]{6}$")
_TICKET_TYPES = frozenset(t.value for t in TicketType)


class UnknownCategory(ValueError):
    """A category code is not in the taxonomy, or a level-2 code is not under its level-1."""


class UnknownUnit(KeyError):
    """No member unit has this id."""


class UnknownDistrict(KeyError):
    """No district has this code."""


class NoRoute(LookupError):
    """No catalogue rule matches the ticket."""


@dataclass(frozen=True, slots=True)
class District:
    """A district or county (区/县) of the city."""

    code: str
    name_zh: str


@dataclass(frozen=True, slots=True)
class CategoryNode:
    """A node of the taxonomy: level 1 when `parent` is None, else level 2 under `parent`."""

    code: str
    name_zh: str
    parent: str | None

    @property
    def level(self) -> int:
        """1 or 2."""
        return 1 if self.parent is None else 2


@dataclass(frozen=True, slots=True)
class Unit:
    """A member unit (成员单位): a level-2 department or a level-3 station under one."""

    id: str
    name_zh: str
    level: int
    parent: str | None
    kind: str
    districts: tuple[str, ...]
    categories: tuple[str, ...]
    channel: str
    phone: str

    def covers(self, district: str) -> bool:
        """Whether the unit serves this district."""
        return district in self.districts

    def handles(self, level1: str, level2: str | None = None) -> bool:
        """Whether the unit handles this category (listed by level-1 or by level-2 code)."""
        return level1 in self.categories or (level2 is not None and level2 in self.categories)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a rule sends a ticket: one named unit, or the unit of a kind covering the district."""

    unit: str | None
    kind: str | None
    level: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of the dispatch catalogue (派单目录)."""

    id: str
    level1: str
    level2: str | None
    types: tuple[str, ...]
    district: str
    to: Target
    note_zh: str

    @property
    def category(self) -> str:
        """The category as written in the file: "a" or "a/b"."""
        return self.level1 if self.level2 is None else f"{self.level1}/{self.level2}"

    def matches(self, level1: str, level2: str | None, ticket_type: str, district: str) -> bool:
        """Whether the rule applies; a level-1 rule matches every level-2 under it."""
        return (
            self.level1 == level1
            and (self.level2 is None or self.level2 == level2)
            and (ANY in self.types or ticket_type in self.types)
            and self.district in (ANY, district)
        )


@dataclass(frozen=True, slots=True)
class Route:
    """The result of routing: the unit, its level, the rule that matched and why."""

    unit_id: str
    level: int
    rule_id: str
    reason_zh: str


class Taxonomy:
    """The two-level 诉求分类 taxonomy."""

    __slots__ = ("_children", "_nodes")

    def __init__(self, nodes: Iterable[CategoryNode]) -> None:
        self._nodes: dict[str, CategoryNode] = {}
        self._children: dict[str, list[CategoryNode]] = {}
        for node in nodes:
            self._nodes[node.code] = node
            if node.parent is None:
                self._children.setdefault(node.code, [])
            else:
                self._children.setdefault(node.parent, []).append(node)

    def __contains__(self, code: object) -> bool:
        return code in self._nodes

    def level1(self) -> tuple[CategoryNode, ...]:
        """The level-1 categories, in file order."""
        return tuple(n for n in self._nodes.values() if n.parent is None)

    def children(self, code: str) -> tuple[CategoryNode, ...]:
        """The level-2 categories under a level-1 code (empty for a level-2 code)."""
        self.get(code)
        return tuple(self._children.get(code, ()))

    def get(self, code: str) -> CategoryNode:
        """The node of a code, level 1 or 2."""
        try:
            return self._nodes[code]
        except KeyError:
            raise UnknownCategory(f"unknown category code {code!r}") from None

    def validate(self, level1: str, level2: str | None = None) -> CategoryNode:
        """Check a (level-1, level-2) pair and return its most specific node."""
        top = self.get(level1)
        if top.parent is not None:
            raise UnknownCategory(f"{level1!r} is a level-2 category, not a level-1 one")
        if level2 is None:
            return top
        node = self.get(level2)
        if node.parent != level1:
            where = "a level-1 category" if node.parent is None else f"under {node.parent!r}"
            raise UnknownCategory(f"category {level2!r} is not under {level1!r} (it is {where})")
        return node

    def label_zh(self, level1: str, level2: str | None = None) -> str:
        """The Chinese label, e.g. "城市管理 / 路灯照明"."""
        node = self.validate(level1, level2)
        if node.parent is None:
            return node.name_zh
        return f"{self._nodes[level1].name_zh} / {node.name_zh}"


class Directory:
    """The member-unit directory of the city and its districts."""

    __slots__ = ("_children", "_districts", "_taxonomy", "_units", "city")

    def __init__(
        self,
        city: District,
        districts: Iterable[District],
        units: Iterable[Unit],
        taxonomy: Taxonomy,
    ) -> None:
        self.city = city
        self._districts = {d.code: d for d in districts}
        self._units = {u.id: u for u in units}
        self._taxonomy = taxonomy
        self._children: dict[str, list[Unit]] = {}
        for unit in self._units.values():
            if unit.parent is not None:
                self._children.setdefault(unit.parent, []).append(unit)

    def units(self) -> tuple[Unit, ...]:
        """Every unit, in file order."""
        return tuple(self._units.values())

    def get(self, unit_id: str) -> Unit:
        """The unit with this id."""
        try:
            return self._units[unit_id]
        except KeyError:
            raise UnknownUnit(unit_id) from None

    def districts(self) -> tuple[District, ...]:
        """The districts and counties, in file order."""
        return tuple(self._districts.values())

    def district(self, code: str) -> District:
        """The district with this code."""
        try:
            return self._districts[code]
        except KeyError:
            raise UnknownDistrict(code) from None

    def children(self, unit_id: str) -> tuple[Unit, ...]:
        """The level-3 stations under a unit."""
        self.get(unit_id)
        return tuple(self._children.get(unit_id, ()))

    def covering(
        self, district: str, kind: str | None = None, level: int | None = None
    ) -> tuple[Unit, ...]:
        """Units serving a district, optionally of one kind and level, in file order."""
        self.district(district)
        return tuple(
            u
            for u in self._units.values()
            if u.covers(district)
            and (kind is None or u.kind == kind)
            and (level is None or u.level == level)
        )

    def handling(self, category_level1: str, district: str) -> tuple[Unit, ...]:
        """Units serving a district that handle a level-1 category or any level-2 under it."""
        self._taxonomy.validate(category_level1)
        codes = {category_level1} | {c.code for c in self._taxonomy.children(category_level1)}
        return tuple(u for u in self.covering(district) if codes.intersection(u.categories))


class Catalogue:
    """The dispatch catalogue (派单目录): ordered rules, first match wins."""

    __slots__ = ("_directory", "_rules", "_taxonomy")

    def __init__(self, rules: Iterable[Rule], taxonomy: Taxonomy, directory: Directory) -> None:
        self._rules = tuple(rules)
        self._taxonomy = taxonomy
        self._directory = directory

    def rules(self) -> tuple[Rule, ...]:
        """The rules in matching order."""
        return self._rules

    def resolve(self, target: Target, district: str) -> Unit | None:
        """The unit a target means for a district: the named one if it covers the district,
        else the first unit of the kind and level covering it, in directory order."""
        if target.unit is not None:
            unit = self._directory.get(target.unit)
            return unit if unit.covers(district) else None
        found = self._directory.covering(district, kind=target.kind, level=target.level)
        return found[0] if found else None

    def route(self, level1: str, level2: str | None, ticket_type: str, district_code: str) -> Route:
        """Route a ticket by the first matching rule."""
        label = self._taxonomy.label_zh(level1, level2)
        district = self._directory.district(district_code)
        try:
            type_zh = TicketType(ticket_type).zh
        except ValueError:
            raise ValueError(f"unknown ticket type {ticket_type!r}") from None
        for rule in self._rules:
            if not rule.matches(level1, level2, ticket_type, district_code):
                continue
            unit = self.resolve(rule.to, district_code)
            if unit is None:
                raise NoRoute(f"rule {rule.id} has no unit covering {district.name_zh}")
            reason = (
                f"派单目录 {rule.id}: {label} 的{type_zh}诉求 → {unit.name_zh}（{rule.note_zh}）"
            )
            return Route(unit_id=unit.id, level=unit.level, rule_id=rule.id, reason_zh=reason)
        raise NoRoute(f"no catalogue rule for {label} / {type_zh} in {district.name_zh}")


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """The taxonomy, the directory and the catalogue, checked against one another."""

    taxonomy: Taxonomy
    directory: Directory
    catalogue: Catalogue

    @classmethod
    def from_dicts(
        cls, districts: Any, categories: Any, units: Any, catalogue: Any
    ) -> ReferenceData:
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
        return cls(taxonomy, directory, Catalogue(rules, taxonomy, directory))


def load_documents() -> dict[str, Any]:
    """Read and parse the packaged JSON files, keyed like `ReferenceData.from_dicts`."""
    folder = resources.files(__package__ or "services.dispatch") / "data"
    return {
        name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        for name in DATA_FILES
    }


@functools.cache
def load_reference_data() -> ReferenceData:
    """The packaged reference data, loaded and checked once per process."""
    return ReferenceData.from_dicts(**load_documents())


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
