"""Ids derived from a name are exactly uuid5's; random ids are version-4 UUIDs."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from contracts.ids import name_id, new_id


@given(st.uuids(), st.text())
def test_a_named_id_is_uuid5s_text(namespace: uuid.UUID, name: str) -> None:
    assert name_id(namespace, name) == str(uuid.uuid5(namespace, name))


def test_a_new_id_is_a_random_version_4_uuid() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
