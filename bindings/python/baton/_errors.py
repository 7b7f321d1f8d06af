"""Status codes of the C ABI and the exception raised for each of them."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

OK = 0
EINVALID_ARGUMENT = -1
EPARSE = -2
EINVALID = -3
EDENIED = -4
ERATE_LIMITED = -5
ECONFLICT = -6
ENOT_FOUND = -7
EREJECTED = -8
ESTORAGE = -9
ECLOSED = -10
EINTERNAL = -11
EUSER = -12

LOG_DEBUG = 0
LOG_INFO = 1
LOG_WARN = 2
LOG_ERROR = 3


class LibraryError(OSError):
    """libbaton could not be found or loaded, or it has the wrong ABI version."""


class BatonError(Exception):
    """A call into baton was refused.

    Attributes:
        status: the negative ``BATON_E*`` status code returned by the C call.
        code: the status name, as in a reply's ``"code"`` (``"invalid"``, ``"denied"``, ...).
        reply: the reply as a dict. For a push it is the reply baton sent; for any other
            call it has the same shape, ``{"ok": false, "code": ..., "error": ...}``.
        message: one sentence saying why (the reply's ``"error"`` or ``baton_last_error()``).
    """

    status: int = EINTERNAL
    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        reply: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.message = message
        if reply is None:
            reply = {"ok": False, "code": self.code, "error": message}
        self.reply: Dict[str, Any] = reply

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code!r})"


class InvalidArgument(BatonError):
    """A bad handle, a NULL where none is allowed, bad options (BATON_EINVALID_ARGUMENT)."""

    status = EINVALID_ARGUMENT
    code = "invalid_argument"


class ParseError(BatonError):
    """The message is not well-formed JSON or not UTF-8 (BATON_EPARSE)."""

    status = EPARSE
    code = "parse"


class InvalidEvent(BatonError):
    """Well-formed, but breaks the schema or a limit (BATON_EINVALID)."""

    status = EINVALID
    code = "invalid"


class AccessDenied(BatonError):
    """The access controller refused (BATON_EDENIED)."""

    status = EDENIED
    code = "denied"


class RateLimited(BatonError):
    """Over the rate limit (BATON_ERATE_LIMITED); see :attr:`retry_after_ms`."""

    status = ERATE_LIMITED
    code = "rate_limited"

    @property
    def retry_after_ms(self) -> Optional[int]:
        """How long to wait before sending again, from the reply's ``retry_after_ms``."""
        value = self.reply.get("retry_after_ms")
        return int(value) if isinstance(value, (int, float)) else None


class Conflict(BatonError):
    """Not allowed in the current state: unknown or finished run, stale lease (BATON_ECONFLICT)."""

    status = ECONFLICT
    code = "conflict"


class NotFound(BatonError):
    """The run, test or plugin does not exist (BATON_ENOT_FOUND)."""

    status = ENOT_FOUND
    code = "not_found"


class Rejected(BatonError):
    """A filter plugin refused the event (BATON_EREJECTED)."""

    status = EREJECTED
    code = "rejected"


class StorageError(BatonError):
    """The store failed; the event was not applied (BATON_ESTORAGE)."""

    status = ESTORAGE
    code = "storage"


class Closed(BatonError):
    """The engine or session is already closed (BATON_ECLOSED)."""

    status = ECLOSED
    code = "closed"


class InternalError(BatonError):
    """A bug inside baton (BATON_EINTERNAL)."""

    status = EINTERNAL
    code = "internal"


class CallbackError(BatonError):
    """A host callback failed (BATON_EUSER).

    A Python callback that raises has its own exception re-raised instead; this class
    is used only when baton reports BATON_EUSER without a Python exception behind it.
    """

    status = EUSER
    code = "user"


ERROR_CLASSES: Dict[int, Type[BatonError]] = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        ParseError,
        InvalidEvent,
        AccessDenied,
        RateLimited,
        Conflict,
        NotFound,
        Rejected,
        StorageError,
        Closed,
        InternalError,
        CallbackError,
    )
}

_CLASSES_BY_CODE: Dict[str, Type[BatonError]] = {cls.code: cls for cls in ERROR_CLASSES.values()}


def error_for(
    status: int, message: str = "", reply: Optional[Dict[str, Any]] = None
) -> BatonError:
    """Builds the exception for a non-zero status.

    The class comes from ``status``; when the status is unknown to this binding, the
    reply's ``code`` is tried, and :class:`BatonError` is the last resort. The message
    is the reply's ``error`` when there is one, else ``message``.
    """
    cls = ERROR_CLASSES.get(status)
    code = None
    if reply is not None:
        reply_code = reply.get("code")
        if isinstance(reply_code, str):
            code = reply_code
            if cls is None:
                cls = _CLASSES_BY_CODE.get(reply_code)
        reply_error = reply.get("error")
        if isinstance(reply_error, str) and reply_error:
            message = reply_error
    if cls is None:
        cls = BatonError
        code = code or "unknown"
    if not message:
        message = f"baton refused the call with status {status} ({code or cls.code})"
    return cls(message, status=status, code=code, reply=reply)
