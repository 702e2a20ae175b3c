"""The whole hotline (intake, dispatch, supervision, callback) over one log, as callback's tests
build it."""

from tests.callback.conftest import hotline_cb

__all__ = ["hotline_cb"]
