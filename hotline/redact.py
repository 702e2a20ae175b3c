"""Defence in depth for logs: personal data is masked even if some code logs it by mistake.

Services never log request bodies; this filter also rewrites anything that
looks like a mainland mobile number, a resident ID number or a landline in
every log record that passes through the root handlers.
"""

from __future__ import annotations

import logging

from contracts.personal import mask_numbers


class RedactingFilter(logging.Filter):
    """Masks personal numbers in the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = mask_numbers(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install() -> None:
    """Put the filter on every handler of the root logger (and uvicorn's)."""
    flt = RedactingFilter()
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)
