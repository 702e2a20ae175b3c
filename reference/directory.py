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

Adding a unit or a rule is a data change: edit the JSON, no code changes. The files are
read and checked by reference/documents.py; this module holds what they become, and is
pure: lookups and routing never do I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.vocabulary import TicketType

ANY = "*"


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
