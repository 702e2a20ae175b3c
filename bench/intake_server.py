"""Child process of the intake benchmark: one uvicorn server, one worker, on a given port.

    python -m bench.intake_server ours|bare DATA_DIR PORT [LOG_URL]

`ours` is `services.intake.app.create_app` over a Platform on DATA_DIR (the
embedded log there, or LOG_URL such as kafka://host:port); `bare` is
`bench.bare_app`. API keys are read from the store in DATA_DIR/api_keys.db,
written by the parent (`bench_api_keys`). uvicorn runs as `hotline run` runs
it (uvloop, log level warning, no access log).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

from hotline.apikeys import ApiKeyStore
from hotline.apikeys_sql import SqlApiKeyStore
from hotline.runtime import tune_gc

SAMPLES_PATH = "/_bench/latencies"


class ServerTiming:
    """ASGI wrapper: how long the app took for each POST /v1/contacts, as the server sees it.

    GET /_bench/latencies returns the samples (ms) taken since the last call and
    clears them. This excludes the time a request waits in the client and in
    the socket, which on two shared cores is most of the client-observed latency.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == SAMPLES_PATH:
            body = json.dumps(self.samples).encode()
            self.samples = []
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        t0 = time.perf_counter()
        await self.app(scope, receive, send)
        if scope["path"] == "/v1/contacts":
            self.samples.append((time.perf_counter() - t0) * 1000)


def bench_api_keys(data_dir: Path) -> ApiKeyStore:
    """The API key store of a benchmark server's data dir (not yet started)."""
    return SqlApiKeyStore(str(data_dir / "api_keys.db"))


async def serve(server: uvicorn.Server, api_keys: ApiKeyStore) -> None:
    await api_keys.start()
    tune_gc()  # both apps on the collector settings `hotline run` serves with
    try:
        await server.serve()
    finally:
        await api_keys.close()


def main() -> None:
    mode, data_dir, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    log_url = sys.argv[4] if len(sys.argv) > 4 else f"sqlite:///{data_dir / 'log.db'}"
    api_keys = bench_api_keys(data_dir)
    if mode == "bare":
        from bench.bare_app import create_bare_app

        app = create_bare_app(api_keys)
    else:
        from hotline.runtime import Platform
        from hotline.settings import Settings
        from services.intake.app import create_app

        settings = Settings(
            data_dir=data_dir, environment="test", log=log_url,
            db=f"sqlite+aiosqlite:///{data_dir / 'projections.db'}",
            keys_db=str(data_dir / "keys.db"),
            kafka_idempotence=os.environ.get("BENCH_KAFKA_IDEMPOTENCE", "true") == "true",
            kafka_replication_factor=1, kafka_session_timeout_ms=6000,
        )
        app = create_app(Platform.from_settings(settings), api_keys)
    config = uvicorn.Config(ServerTiming(app), host="127.0.0.1", port=port, workers=1,
                            log_level="warning", access_log=False)
    uvloop.run(serve(uvicorn.Server(config), api_keys))


if __name__ == "__main__":
    main()
