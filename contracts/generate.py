"""Generate the published contracts: JSON Schemas and the AsyncAPI document (`make schemas`).

    python -m contracts.generate                   # write contracts/schemas/*.json, asyncapi.yaml
    python -m contracts.generate --check           # exit 1 if the committed files are stale
    python -m contracts.generate --allow-breaking  # overwrite despite breaking changes

One JSON Schema per event and per command: contracts/schemas/<Name>.v<major>.json,
`$id` = the envelope `dataschema` (urn:hotline:event:<Name>:v<major>), plus
contracts/schemas/Envelope.json. The AsyncAPI 3.0.0 document
contracts/asyncapi.yaml has one channel per catalogued topic plus the
per-unit `hotline.dispatch.{unitId}` channel; every message is the envelope
with its `data` typed by the event's schema (inline under components/schemas).

Published schemas describe events already in the log, which is kept for
ever: the generator refuses to overwrite a committed schema with one that
could not read old events (contracts/compat.py). Make a new major version
instead (`major: ClassVar[int] = 2` and an upcaster); the old file stays.
The generator never deletes a file. Output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from contracts.base import EventData
from contracts.commands import COMMANDS, Command
from contracts.compat import breaking_changes
from contracts.envelope import Envelope, dataschema_for, type_for
from contracts.events import EVENTS
from contracts.topics import CATALOGUE, DEADLETTER, DISPATCH_PREFIX, TICKETS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = "contracts/schemas"
ASYNCAPI_PATH = "contracts/asyncapi.yaml"
ENVELOPE_PATH = f"{SCHEMA_DIR}/Envelope.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_ID = "urn:hotline:envelope:cloudevents:v1"

Model = type[EventData] | type[Command]
COMPONENT_REF = "#/components/schemas/{model}"

__all__ = ["breaking_changes", "catalogue", "main", "render_all", "schema_path", "schema_for"]


def catalogue() -> dict[str, Model]:
    """Every event and command model by name (events and commands never share a name)."""
    clash = set(EVENTS) & set(COMMANDS)
    if clash:
        raise RuntimeError(f"event and command share a name: {sorted(clash)}")
    models: dict[str, Model] = {**EVENTS, **COMMANDS}
    return dict(sorted(models.items()))


def schema_path(name: str, major: int = 1) -> str:
    """Repository-relative path of a published schema."""
    return f"{SCHEMA_DIR}/{name}.v{major}.json"


def schema_for(name: str, model: Model) -> dict[str, Any]:
    """The published JSON Schema of one event or command model."""
    major = model.major
    schema = model.model_json_schema()
    schema.update({
        "$schema": DIALECT,
        "$id": dataschema_for(name, major),
        "title": name,
        "x-kind": "command" if name in COMMANDS else "event",
        "x-topic": model.topic,
        "x-cloudevents-type": type_for(name, major),
    })
    return schema


def envelope_schema() -> dict[str, Any]:
    """The published JSON Schema of the CloudEvents envelope."""
    schema = Envelope.model_json_schema()
    schema.update({"$schema": DIALECT, "$id": ENVELOPE_ID, "title": "Envelope"})
    return schema


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class _PlainDumper(yaml.SafeDumper):
    """Writes shared objects out in full: no `&id001` anchors in the published document."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_all() -> dict[str, str]:
    """Every generated file: repository-relative path -> exact text."""
    files = {schema_path(n, m.major): _json(schema_for(n, m)) for n, m in catalogue().items()}
    files[ENVELOPE_PATH] = _json(envelope_schema())
    files[ASYNCAPI_PATH] = yaml.dump(
        asyncapi(), Dumper=_PlainDumper, allow_unicode=True, sort_keys=True, width=100,
        default_flow_style=False,
    )
    return dict(sorted(files.items()))


# --- AsyncAPI -----------------------------------------------------------------------------------


def _channel_id(topic: str) -> str:
    return topic.removeprefix("hotline.")


def _add_component(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise RuntimeError(f"two different schemas are called {name}")
    schemas[name] = schema


def _message(name: str, model: Model, key: str) -> dict[str, Any]:
    major = model.major
    summary = (model.__doc__ or name).strip().splitlines()[0]
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/correlationid"},
        "bindings": {"kafka": {"key": {"type": "string", "description": key},
                               "bindingVersion": "0.5.0"}},
        "payload": {"allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "object", "properties": {
                "type": {"const": type_for(name, major)},
                "dataschema": {"const": dataschema_for(name, major)},
                "data": {"$ref": f"#/components/schemas/{name}"},
            }},
        ]},
        "x-schema-file": schema_path(name, major).removeprefix("contracts/"),
    }


def _channels() -> dict[str, dict[str, Any]]:
    """Channel id -> (address, description, message names, key, extra fields)."""
    by_topic: dict[str, list[str]] = {topic: [] for topic in CATALOGUE}
    for name, model in catalogue().items():
        by_topic[model.topic].append(name)
    channels: dict[str, dict[str, Any]] = {}
    for topic, entry in CATALOGUE.items():
        spec = entry.spec
        channels[_channel_id(topic)] = {
            "address": topic, "description": entry.carries, "messages": by_topic[topic],
            "key": entry.key,
            "bindings": {"kafka": {
                "topic": topic, "partitions": spec.partitions,
                "replicas": spec.replication_factor, "bindingVersion": "0.5.0",
                "topicConfiguration": {"retention.ms": spec.retention_ms,
                                       "cleanup.policy": [spec.config.get("cleanup.policy",
                                                                          "delete")]},
            }},
        }
    channels[_channel_id(DEADLETTER)]["messages"] = ["DeadLetter"]
    channels["dispatch"] = {
        "address": DISPATCH_PREFIX + "{unitId}",
        "description": "Per-unit dispatch stream: the ticket events of the tickets dispatched "
                       "to that unit, in order; a unit's ACL names its own topic only.",
        "messages": by_topic[TICKETS], "key": CATALOGUE[TICKETS].key,
        "parameters": {"unitId": {"description": "Member unit id, ^[A-Za-z0-9_-]{1,64}$",
                                  "examples": ["U0301"]}},
    }
    return channels


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic, message and schema."""
    models = catalogue()
    schemas: dict[str, Any] = {}
    _add_component(schemas, "Envelope", {**Envelope.model_json_schema(), "title": "Envelope"})
    for name, model in models.items():
        schema = model.model_json_schema(ref_template=COMPONENT_REF)
        for def_name, definition in schema.pop("$defs", {}).items():
            _add_component(schemas, def_name, definition)
        # no `$id` here: it would move the base URI of the `#/components/...` references
        schema.update({"title": name, "x-dataschema": dataschema_for(name, model.major)})
        _add_component(schemas, name, schema)
    _add_component(schemas, "DeadLetter", {
        "type": "object",
        "description": "A record that failed to decode, with its source topic, partition, "
                       "offset and the reason; the format is owned by hotline.log.",
    })
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel_id, spec in _channels().items():
        for name in spec["messages"]:
            if name == "DeadLetter":
                messages[name] = {"name": name, "title": "DeadLetter",
                                  "summary": "An undecodable record and why",
                                  "contentType": "application/json",
                                  "payload": {"$ref": "#/components/schemas/DeadLetter"}}
            else:
                messages[name] = _message(name, models[name], spec["key"])
        channel = {
            "address": spec["address"],
            "description": spec["description"],
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in spec["messages"]},
        }
        channel.update({k: spec[k] for k in ("parameters", "bindings") if k in spec})
        channels[channel_id] = channel
        title = "".join(part.capitalize() for part in channel_id.split("."))
        refs = [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in spec["messages"]]
        for action, verb in (("send", "Publish to"), ("receive", "Consume from")):
            operations[f"{action}{title}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{verb} {spec['address']}",
                "messages": refs,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "12345 hotline event contracts",
            "version": "1.0.0",
            "description": "Events and commands of the 12345 government service hotline. "
                           "Every message is a CloudEvents 1.0 envelope (structured JSON) whose "
                           "`data` is described by the schema named in `dataschema`; see "
                           "contracts/schemas/ for one JSON Schema per event and command.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


# --- command line -------------------------------------------------------------------------------


def _committed(path: str) -> str | None:
    file = ROOT / path
    return file.read_text(encoding="utf-8") if file.exists() else None


def main(argv: list[str] | None = None) -> int:
    """Write the generated files; refuse breaking changes to committed schemas."""
    parser = argparse.ArgumentParser(prog="python -m contracts.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--allow-breaking", action="store_true",
                        help="overwrite committed schemas even when old events would not validate")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a generated file differs from the committed")
    args = parser.parse_args(argv)

    rendered = render_all()
    breaking: list[str] = []
    for path, text in rendered.items():
        old = _committed(path)
        if path.endswith(".json") and old is not None:
            problems = breaking_changes(json.loads(old), json.loads(text))
            breaking += [f"{path}: {problem}" for problem in problems]
    stale = [path for path, text in rendered.items() if _committed(path) != text]

    if args.check:
        for line in breaking + [f"{path}: differs, run `make schemas`" for path in stale]:
            print(line, file=sys.stderr)
        return 1 if stale or breaking else 0
    if breaking and not args.allow_breaking:
        print("refusing to overwrite published schemas with breaking changes:", file=sys.stderr)
        for line in breaking:
            print(f"  {line}", file=sys.stderr)
        print("Old events in the log would no longer validate. Publish a new major version "
              "(major: ClassVar[int] = N+1) instead, or pass --allow-breaking if the old schema "
              "was never released.", file=sys.stderr)
        return 1
    for path in stale:
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered[path], encoding="utf-8")
    print(f"contracts: {len(stale)} file(s) written, {len(rendered) - len(stale)} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
