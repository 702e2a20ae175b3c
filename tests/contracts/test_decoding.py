"""Decoded records remembered by their bytes: the same bytes are validated once, whoever
reads them, and what does not validate is never remembered; a lone reader keeps nothing.
An envelope's time is read in UTC, and refused without a zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import decoding
from contracts import events as e
from contracts.decoding import decoded_once
from contracts.envelope import DecodeError, Envelope, dataschema_for, decode, encode, type_for


def stored(unit: str) -> bytes:
    """A TicketAcknowledged as the event store writes it."""
    event = e.TicketAcknowledged(unit_id=unit)
    return encode(Envelope(
        source="/hotline/tickets", type=type_for("TicketAcknowledged"), subject="ticket-1",
        time=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        dataschema=dataschema_for("TicketAcknowledged"), streamversion=3,
        prevhash="0" * 64, correlationid="c-1", actor="unit:d01-urban-squad",
        data=event.model_dump(mode="json")))


def test_the_same_bytes_read_by_another_reader_are_not_validated_again() -> None:
    value = stored("d01-urban-squad")
    first = decoded_once(value, "TicketAcknowledged", remember=True)
    again = decoded_once(bytes(bytearray(value)), "TicketAcknowledged")  # another copy
    assert first is not None and again is first
    other = decoded_once(stored("d01-street-1"), "TicketAcknowledged", remember=True)
    assert other is not None and other[1].unit_id == "d01-street-1"


def test_what_does_not_validate_is_not_remembered() -> None:
    broken = stored("d01-urban-squad").replace(b'"streamversion":3', b'"streamversion":0')
    assert decoded_once(broken, "TicketAcknowledged", remember=True) is None
    assert broken not in decoding._recent  # noqa: SLF001
    assert decoded_once(broken, "TicketAcknowledged", remember=True) is None


def test_a_lone_reader_keeps_nothing() -> None:
    value = stored("d01-lone-reader")
    first = decoded_once(value, "TicketAcknowledged")
    assert first is not None and value not in decoding._recent  # noqa: SLF001
    assert decoded_once(value, "TicketAcknowledged") is not first  # validated again


def test_only_the_last_records_are_remembered() -> None:
    values = [stored(f"unit-{n:05d}") for n in range(decoding.RECENT + 10)]
    for value in values:
        decoded_once(value, "TicketAcknowledged", remember=True)
    assert len(decoding._recent) == decoding.RECENT  # noqa: SLF001
    assert values[0] not in decoding._recent and values[-1] in decoding._recent  # noqa: SLF001


def test_a_time_stored_at_an_offset_is_read_in_utc() -> None:
    """The event store writes every time in UTC; a record another writer stored at +08:00
    is read as the same instant in UTC, on both ways of decoding."""
    value = stored("d01-urban-squad").replace(b'"2026-11-23T02:00:00Z"',
                                              b'"2026-11-23T10:00:00+08:00"')
    for envelope in (decoding.decode_event(value)[0], decode(value)):
        assert envelope.time == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        assert envelope.time.utcoffset() == timedelta(0)


def test_a_time_without_a_zone_is_refused() -> None:
    value = stored("d01-urban-squad").replace(b'"2026-11-23T02:00:00Z"', b'"2026-11-23T02:00:00"')
    assert decoded_once(value, "TicketAcknowledged") is None
    with pytest.raises(DecodeError, match="timezone"):
        decode(value)
