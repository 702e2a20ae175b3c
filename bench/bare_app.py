"""The bare baseline for the intake benchmark: the same HTTP stack, nothing appended.

One route, POST /v1/contacts, with the same body model (`ContactIn`, fully
validated), the same API-key dependency, the same response model, the same
body-limit middleware and problem+json handlers as the intake app; it answers
202 with a fresh uuid instead of sealing, appending and waiting for the fsync.
"""

from __future__ import annotations

from fastapi import FastAPI

from contracts.ids import new_id
from hotline.apikeys import ApiKeys
from hotline.limits import RequestLimits
from hotline.web import install_problem_handlers
from services.intake.api import AdapterDep, ReceiptOut, _own_channel
from services.intake.app import SINGLE_LIMIT
from services.intake.domain import ContactIn


def create_bare_app(api_keys: ApiKeys) -> FastAPI:
    app = FastAPI(title="bench: bare intake")
    app.state.api_keys = api_keys

    @app.post("/v1/contacts", status_code=202, response_model=ReceiptOut)
    async def post_contact(contact: ContactIn, principal: AdapterDep) -> ReceiptOut:
        _own_channel(principal, contact.channel)
        return ReceiptOut(contact_id=new_id(), status="accepted")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    install_problem_handlers(app)
    app.add_middleware(RequestLimits, default=SINGLE_LIMIT)  # type: ignore[arg-type]
    return app
