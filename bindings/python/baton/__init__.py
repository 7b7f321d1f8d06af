"""Python binding of baton, the embeddable engine for test-lifecycle events.

baton is a C++ library with a C ABI (baton.h); this package drives it with ctypes and
needs nothing but the standard library and libbaton itself. The library is found
through ``BATON_LIBRARY``, next to this package, or by the system loader (see
:mod:`baton._lib`) on first use.

Example::

    import baton

    with baton.Engine() as engine, engine.session({"client": "ci-1"}) as session:
        session.push({"type": "run.start", "run": "nightly-1"})
        session.push({"type": "test.start", "run": "nightly-1", "id": "t1", "name": "t1"})
        session.push({"type": "test.end", "run": "nightly-1", "id": "t1", "status": "passed"})
        print(engine.query({"op": "run", "run": "nightly-1"})["counts"])

Refusals raise a :class:`BatonError` subclass carrying ``status``, ``code`` and
``reply``; :meth:`Session.push_raw` returns ``(status, reply)`` instead.
"""

from __future__ import annotations

import logging as _logging
from typing import Callable

from ._engine import (
    Engine,
    Event,
    JsonInput,
    Plugin,
    Session,
    abi_version,
    last_error,
    status_name,
    version,
)
from ._errors import (
    EDENIED,
    ECLOSED,
    ECONFLICT,
    EINTERNAL,
    EINVALID,
    EINVALID_ARGUMENT,
    ENOT_FOUND,
    EPARSE,
    ERATE_LIMITED,
    EREJECTED,
    ESTORAGE,
    EUSER,
    LOG_DEBUG,
    LOG_ERROR,
    LOG_INFO,
    LOG_WARN,
    OK,
    AccessDenied,
    BatonError,
    CallbackError,
    Closed,
    Conflict,
    InternalError,
    InvalidArgument,
    InvalidEvent,
    LibraryError,
    NotFound,
    ParseError,
    RateLimited,
    Rejected,
    StorageError,
    error_for,
)
from ._lib import ABI_VERSION
from ._version import __version__

_LOGGING_LEVELS = {
    LOG_DEBUG: _logging.DEBUG,
    LOG_INFO: _logging.INFO,
    LOG_WARN: _logging.WARNING,
    LOG_ERROR: _logging.ERROR,
}


def log_to(logger: _logging.Logger) -> Callable[[int, str], None]:
    """A logger function for :meth:`Engine.set_logger` that forwards to ``logger``.

    Example: ``engine.set_logger(baton.log_to(logging.getLogger("baton")), baton.LOG_INFO)``
    """

    def forward(level: int, message: str) -> None:
        logger.log(_LOGGING_LEVELS.get(level, _logging.ERROR), "%s", message)

    return forward


__all__ = [
    "ABI_VERSION",
    "AccessDenied",
    "BatonError",
    "CallbackError",
    "Closed",
    "Conflict",
    "ECLOSED",
    "ECONFLICT",
    "EDENIED",
    "EINTERNAL",
    "EINVALID",
    "EINVALID_ARGUMENT",
    "ENOT_FOUND",
    "EPARSE",
    "ERATE_LIMITED",
    "EREJECTED",
    "ESTORAGE",
    "EUSER",
    "Engine",
    "Event",
    "InternalError",
    "InvalidArgument",
    "InvalidEvent",
    "JsonInput",
    "LOG_DEBUG",
    "LOG_ERROR",
    "LOG_INFO",
    "LOG_WARN",
    "LibraryError",
    "NotFound",
    "OK",
    "ParseError",
    "Plugin",
    "RateLimited",
    "Rejected",
    "Session",
    "StorageError",
    "__version__",
    "abi_version",
    "error_for",
    "last_error",
    "log_to",
    "status_name",
    "version",
]
