"""Backward compatibility of JSON Schemas: can the new schema still read every old event?

Events are kept for ever and replayed, so a new version of a schema must
accept everything the published one accepted. `breaking_changes(old, new)`
lists what would reject old data:

- a property removed (our models forbid unknown properties);
- a property whose type changed: every alternative of the old schema (`type`,
  `$ref`, `anyOf`/`oneOf`, `enum`/`const`) must still be accepted by the new one,
  so `integer -> number` or `X -> X | null` are fine, `string -> integer` is not;
- an enum or const that lost a value (adding values is fine);
- a property newly in `required`, or extra properties newly forbidden;
- a tightened constraint: pattern or format added or changed, a longer
  minimum or shorter maximum length, a narrower numeric range, more items.

`$ref`s into `$defs` are followed, so a change inside a nested model
(e.g. `Category`) is found wherever it is used, whatever the definition is called.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum")


def breaking_changes(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Human-readable reasons why data valid under `old_schema` may fail `new_schema`."""
    comparer = _Comparer(old_schema, new_schema)
    comparer.compare(old_schema, new_schema, str(old_schema.get("title", "$")))
    return comparer.problems


class _Comparer:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        self._open: set[tuple[str, str]] = set()  # $ref pairs being compared (recursion)

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        """Every alternative of `old` must be accepted by some alternative of `new`."""
        new_alts = self._alternatives(new, self.new_root)
        for old_ref, old_alt in self._alternatives(old, self.old_root):
            candidates = [(r, n) for r, n in new_alts if _accepts_kind(_kind(n), _kind(old_alt))]
            if not candidates:
                self.problems.append(
                    f"{path}: type changed from {_describe(old)} to {_describe(new)}"
                )
                return
            self._best_match(old_ref, old_alt, candidates, path)

    def _best_match(
        self, old_ref: str, old: Schema, candidates: list[tuple[str, Schema]], path: str
    ) -> None:
        first: list[str] | None = None
        for new_ref, candidate in candidates:
            pair = (old_ref, new_ref) if old_ref and new_ref else None
            if pair in self._open:
                return  # a recursive model: this pair is already being compared further up
            saved, self.problems = self.problems, []
            if pair:
                self._open.add(pair)
            try:
                self._compare_same_kind(old, candidate, path)
            finally:
                if pair:
                    self._open.discard(pair)
            found, self.problems = self.problems, saved
            if not found:
                return
            first = found if first is None else first
        self.problems.extend(first or [])

    def _alternatives(self, schema: Schema, root: Schema) -> list[tuple[str, Schema]]:
        """(the `$ref` it came from or "", resolved schema) for each alternative of a schema."""
        ref = str(schema.get("$ref", ""))
        schema = _resolve(schema, root)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return [alt for s in schema[key] for alt in self._alternatives(s, root)]
        if isinstance(schema.get("type"), list):
            return [(ref, {**schema, "type": t}) for t in schema["type"]]
        return [(ref, schema)]

    def _compare_same_kind(self, old: Schema, new: Schema, path: str) -> None:
        self._compare_values(old, new, path)
        self._compare_constraints(old, new, path)
        if _kind(old) == "object" and _kind(new) == "object":
            self._compare_objects(old, new, path)
        if _kind(old) == "array" and _kind(new) == "array":
            old_items, new_items = old.get("items", {}), new.get("items", {})
            if isinstance(old_items, dict) and isinstance(new_items, dict):
                self.compare(old_items, new_items, f"{path}[]")

    def _compare_values(self, old: Schema, new: Schema, path: str) -> None:
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            self.problems.append(f"{path}: now restricted to the values {sorted(new_values)}")
            return
        lost = sorted(old_values - new_values, key=repr)
        if lost:
            self.problems.append(f"{path}: enum lost the values {lost}")

    def _compare_constraints(self, old: Schema, new: Schema, path: str) -> None:
        for key in ("pattern", "format"):
            if key in new and new[key] != old.get(key):
                self.problems.append(f"{path}: {key} changed from {old.get(key)!r} to {new[key]!r}")
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                self.problems.append(f"{path}: {key} raised to {new[key]}")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                self.problems.append(f"{path}: {key} lowered to {new[key]}")

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        for name in old_props:
            if name not in new_props:
                self.problems.append(f"{path}: property {name!r} removed")
            else:
                self.compare(old_props[name], new_props[name], f"{path}.{name}")
        for name in new.get("required", []):
            if name not in old.get("required", []):
                self.problems.append(f"{path}: property {name!r} newly required")
        if old.get("additionalProperties", True) is not False and (
            new.get("additionalProperties", True) is False
        ):
            self.problems.append(f"{path}: extra properties no longer accepted")


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow a local `#/$defs/<name>` reference (repeatedly); keep sibling keywords."""
    seen: set[str] = set()
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/$defs/"):
        ref = schema["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        target = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"))
        if target is None:
            break
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
    return schema


def _allowed_values(schema: Schema) -> set[Any] | None:
    if "const" in schema:
        return {_hashable(schema["const"])}
    if "enum" in schema:
        return {_hashable(v) for v in schema["enum"]}
    return None


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (dict, list)) else value


def _kind(schema: Schema) -> str:
    """The JSON type a (resolved) schema accepts: string, integer, ..., `ref:<uri>` or `any`."""
    if isinstance(schema.get("$ref"), str):
        return "ref:" + schema["$ref"]  # unresolvable: compared by name
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    values = _allowed_values(schema)
    if values:
        kinds = {_json_type(v) for v in values}
        return kinds.pop() if len(kinds) == 1 else "any"
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "any"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def _accepts_kind(new_kind: str, old_kind: str) -> bool:
    return new_kind in (old_kind, "any") or (new_kind == "number" and old_kind == "integer")


def _describe(schema: Schema) -> str:
    """Short shape of an unresolved schema for messages: string, Category, anyOf[...], enum[...]."""
    if isinstance(schema.get("$ref"), str):
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return f"{key}[{', '.join(_describe(s) for s in schema[key])}]"
    values = _allowed_values(schema)
    if values is not None:
        return f"enum{sorted(values, key=repr)}"
    return _kind(schema)
