"""The console's own form reading (services/console/web.py `read_form`)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from services.console.upstream import Refused
from services.console.web import read_form


def posted(body: bytes) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/login", "query_string": b"",
                    "headers": [(b"content-type", b"application/x-www-form-urlencoded")]},
                   receive)  # type: ignore[arg-type]


async def test_fields_are_read_and_trimmed() -> None:
    form = await read_form(posted(b"login=+dev.operator+&unit=a&unit=b"))
    assert form.get("login") == "dev.operator" and form.all("unit") == ["a", "b"]


@pytest.mark.parametrize("body", [b"login=dev%00.operator&password=x", b"login=a\x00b"])
async def test_a_form_holding_nul_is_422(body: bytes) -> None:
    """The sign-in page looks the login up in the database itself: on PostgreSQL a NUL in
    it was a 500."""
    with pytest.raises(Refused) as refused:
        await read_form(posted(body))
    assert refused.value.status == 422


async def test_a_body_that_is_not_a_form_is_422() -> None:
    with pytest.raises(Refused) as refused:
        await read_form(posted(b"\xff\xfe"))
    assert refused.value.status == 422
