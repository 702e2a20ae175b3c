"""工作台 console's composition root: what `hotline run` and `hotline serve console` start.

Registered as the entry point `hotline.services:console` (pyproject.toml). It reads no
topic and writes none: every page asks the other services' APIs.
"""

from __future__ import annotations

from collections.abc import Sequence

from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from services.console.app import create_app


def _console_example(base: str, keys: dict[str, str]) -> str:
    return f"open {base}/login in a browser (Chromium, Firefox, Edge), sign in as below"


def _none(platform: Platform) -> Sequence[Projection]:
    return ()


def _writes(platform: Platform) -> Sequence[str]:
    return ()


SERVICE = ServiceSpec(
    name="console", title="工作台 console", order=9, port=lambda s: s.console_port,
    create_app=create_app, projections=_none, writes=_writes, example=_console_example)
