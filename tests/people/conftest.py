"""The people app beside intake and dispatch, over one platform, with an admin's key; and
a signed-in person as a set of clients (one per service) carrying their session."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotline.apikeys import ApiKeyStore
from hotline.log.port import EventLog
from tests.dispatch.conftest import Hotline, open_hotline


@dataclass
class People:
    h: Hotline
    client: httpx.AsyncClient  # the people app, no credentials of its own
    store: ApiKeyStore
    admin: dict[str, str]  # the admin key's header
    stack: contextlib.AsyncExitStack

    async def account(self, login: str, roles: list[str], unit: str | None = None,
                      password: str = "长城-Great-Wall-2026") -> dict[str, Any]:
        r = await self.client.post("/v1/accounts", headers=self.admin, json={
            "login": login, "display_name": login.replace(".", " ").title(),
            "roles": roles, "unit": unit, "password": password})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def sign_in(self, login: str, password: str = "长城-Great-Wall-2026",
                      role: str | None = None) -> Person:
        """A person's clients for every app, carrying the session's cookie and token."""
        r = await self.client.post("/v1/session", json={
            "login": login, "password": password, **({"role": role} if role else {})})
        assert r.status_code == 201, r.text
        cookies = {"hotline_session": r.cookies["hotline_session"]}
        clients = {name: await self.stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{name}",
            cookies=cookies)) for name, app in self.apps().items()}
        return Person(login, r.json(), clients)

    def apps(self) -> dict[str, FastAPI]:
        return self.h.apps


@dataclass
class Person:
    login: str
    session: dict[str, Any]  # the sign-in's answer
    on: dict[str, httpx.AsyncClient]  # by service

    @property
    def csrf(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.session["csrf_token"]}

    async def post(self, service: str, path: str, body: dict[str, Any] | None = None,
                   csrf: bool = True) -> httpx.Response:
        return await self.on[service].post(path, json=body or {},
                                           headers=self.csrf if csrf else {})


@pytest.fixture
async def people(log: EventLog, tmp_path: Path) -> AsyncIterator[People]:
    async with open_hotline(log, tmp_path) as h, contextlib.AsyncExitStack() as stack:
        assert h.people is not None
        for runner in h.runners:  # their tables exist before the first read
            await runner.started.wait()
        yield People(h, h.people, h.apps["people"].state.api_keys, h.auth("admin"), stack)
