"""What every `hotline` subcommand needs: the platform and the key store the settings
choose, started around one coroutine, and the console it prints on.

Services add subcommands through the `hotline.commands` entry points (a Typer app each,
e.g. `hotline accounts` from the people service), so the CLI never imports a service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from rich.console import Console

from hotline.apikeys import ApiKeyStore, open_api_keys
from hotline.runtime import Platform
from hotline.settings import Settings

console = Console()
T = TypeVar("T")


@asynccontextmanager
async def platform_from_env() -> AsyncIterator[Platform]:
    platform = Platform.from_settings(Settings())
    await platform.start()
    try:
        yield platform
    finally:
        await platform.close()


def run_async(fn: Callable[[Platform], Awaitable[T]]) -> T:
    """Run `fn` on the settings' platform, started and closed around it."""

    async def main() -> T:
        async with platform_from_env() as platform:
            return await fn(platform)

    return asyncio.run(main())


@asynccontextmanager
async def api_keys_from_env() -> AsyncIterator[ApiKeyStore]:
    store = open_api_keys(Settings())
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def run_with_keys(fn: Callable[[Platform, ApiKeyStore], Awaitable[T]]) -> T:
    """Run `fn` on the settings' platform and API key store (accounts live there too)."""

    async def main() -> T:
        async with platform_from_env() as platform, api_keys_from_env() as keys:
            return await fn(platform, keys)

    return asyncio.run(main())
