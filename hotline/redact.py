"""Logs never hold personal data in clear, whatever code logs it and whichever handler writes it.

Services never log request bodies, and the log's free text is already masked
(contracts/free_text.py); this is the defence in depth for the rest: an
exception whose text repeats a submitted value (`UnknownDistrict: '1398765…'`),
a library that logs a URL with a survey token in it. `install` wraps the
record factory, so every record of every logger is masked when it is made —
its message, its exception text and its stack — before any handler (uvicorn's,
added later by its dictConfig, included) can format it. Uncaught exceptions in
threads and at the top level go through logging too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from typing import Any

from contracts.personal import mask_personal_text

# A survey link's token (services/callback/links.py: /s/<token>, /v1/surveys/<token>) is
# the citizen's credential: it never reaches a log.
_TOKEN = re.compile(r"(/s/|/surveys/|[?&]token=)[A-Za-z0-9_-]{8,}")


def clean(text: str) -> str:
    """`text` with phone, ID and other long numbers and household address parts masked, survey
    tokens removed."""
    return _TOKEN.sub(r"\1[token]", mask_personal_text(text))


def _masked_record(record: logging.LogRecord) -> logging.LogRecord:
    record.msg, record.args = clean(record.getMessage()), None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = clean(record.exc_text)
    if record.stack_info:
        record.stack_info = clean(record.stack_info)
    return record


def install() -> None:
    """Mask every log record from now on; idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_personal_data", False):
        return

    def masked_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _masked_record(factory(*args, **kwargs))

    masked_factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_factory)
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda a: _log_uncaught(a.exc_type, a.exc_value, a.exc_traceback)


def _log_uncaught(exc_type: Any, exc: Any, tb: Any) -> None:
    logging.getLogger("hotline").critical("uncaught exception", exc_info=(exc_type, exc, tb))
