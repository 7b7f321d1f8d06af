"""Engine, Session, Plugin and Event: the Python face of baton.h."""

from __future__ import annotations

import atexit
import collections
import ctypes
import itertools
import json
import threading
import weakref
from ctypes import byref, c_size_t, c_uint64, c_void_p
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _lib
from ._errors import (
    EREJECTED,
    EUSER,
    LOG_WARN,
    OK,
    BatonError,
    Closed,
    Conflict,
    InvalidArgument,
    error_for,
)

JsonInput = Union[Dict[str, Any], str, bytes, bytearray, memoryview]
"""A JSON document: a dict (serialized for you), or its text as str or UTF-8 bytes."""

FilterFn = Callable[["Event"], Optional[bool]]
ObserveFn = Callable[["Event"], Any]
LogFn = Callable[[int, str], Any]


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    raw: bytes = _lib.get().baton_version()
    return raw.decode("utf-8")


def abi_version() -> int:
    """The loaded library's ABI version (1)."""
    return int(_lib.get().baton_abi_version())


def status_name(status: int) -> str:
    """The name of a status code: "ok", "parse", ...; "unknown" for other values."""
    raw: bytes = _lib.get().baton_status_name(status)
    return raw.decode("utf-8")


def last_error() -> str:
    """Detail of the last failure of a baton call on this thread ("" after a success)."""
    raw: bytes = _lib.get().baton_last_error()
    return raw.decode("utf-8", "replace")


def _encode(doc: Optional[JsonInput], what: str = "message") -> Optional[bytes]:
    if doc is None:
        return None
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, str):
        return doc.encode("utf-8")
    if isinstance(doc, (bytearray, memoryview)):
        return bytes(doc)
    if isinstance(doc, dict):
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raise TypeError(f"{what} must be a dict, str or bytes, not {type(doc).__name__}")


def _take_buffer(lib: Any, ptr: c_void_p, length: c_size_t) -> Optional[bytes]:
    """Copies a buffer baton returned and releases it with baton_free."""
    address = ptr.value
    if not address:
        return None
    try:
        return ctypes.string_at(address, length.value)
    finally:
        lib.baton_free(address)
        ptr.value = None


# ---- Errors raised inside callbacks ---------------------------------------------------


class _ThreadState(threading.local):
    def __init__(self) -> None:
        # The list collecting exceptions of callbacks run by the baton call this thread
        # is in; None outside of a call.
        self.errors: Optional[List[BaseException]] = None
        # Sinks of the engines whose callbacks are running on this thread.
        self.in_callback: List["_ErrorSink"] = []


_tls = _ThreadState()


class _ErrorSink:
    """Where an engine's callbacks leave their exceptions.

    A callback running on a thread that is inside a baton call made from Python leaves
    its exception to that call, which re-raises it once the C function has returned. A
    callback running on a thread of the library's own is not inside any such call: its
    exception waits here and is raised by the next call on the engine that returns.
    """

    __slots__ = ("orphans",)

    def __init__(self) -> None:
        self.orphans: Deque[BaseException] = collections.deque()

    def capture(self, exc: BaseException) -> None:
        errors = _tls.errors
        if errors is not None:
            errors.append(exc)
        else:
            self.orphans.append(exc)

    def raise_orphan(self) -> None:
        try:
            exc = self.orphans.popleft()
        except IndexError:
            return
        raise exc


class _Guard:
    """Counts the calls in flight on a handle, so close() waits for them and any later
    call fails with Closed instead of touching freed memory."""

    __slots__ = ("_lock", "_active", "closed", "_idle", "_what")

    def __init__(self, what: str, closed: bool = False) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self.closed = closed
        self._idle = threading.Event()
        self._what = what

    def enter(self) -> None:
        with self._lock:
            if self.closed:
                raise Closed(f"the {self._what} is closed")
            self._active += 1

    def leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self.closed and self._active == 0:
                self._idle.set()

    def open(self) -> None:
        self.closed = False

    def close(self) -> bool:
        """Marks the handle closed and waits for calls in flight; False if already closed."""
        with self._lock:
            if self.closed:
                return False
            self.closed = True
            busy = self._active > 0
        if busy:
            self._idle.wait()
        return True


def _run(fn: Any, *args: Any) -> Tuple[int, str, List[BaseException]]:
    """Calls a status-returning function of baton.h. Returns the status,
    baton_last_error() when it failed, and the exceptions raised by the callbacks that
    ran on this thread during the call."""
    errors: List[BaseException] = []
    outer = _tls.errors
    _tls.errors = errors
    try:
        status = fn(*args)
        detail = last_error() if status != OK else ""
    finally:
        _tls.errors = outer
    return status, detail, errors


def _invoke_raw(
    guard: _Guard, fn: Any, *args: Any
) -> Tuple[int, str, List[BaseException]]:
    """:func:`_run` while ``guard`` keeps its handle from being closed."""
    guard.enter()
    try:
        return _run(fn, *args)
    finally:
        guard.leave()


def _check(
    sink: "_ErrorSink", result: Tuple[int, str, List[BaseException]]
) -> None:
    """Re-raises the first exception of a callback, or raises the BatonError of a
    non-zero status, or an exception a callback left on another thread."""
    status, detail, errors = result
    if errors:
        raise errors[0]
    if status != OK:
        raise error_for(status, detail)
    sink.raise_orphan()


# ---- Events ---------------------------------------------------------------------------


class Event:
    """An event as a callback sees it.

    ``type``, ``json``, ``seq`` and ``data`` stay readable after the callback returns
    (they are copied then); :meth:`replace` works only inside a filter callback.
    """

    __slots__ = ("_ptr", "_writable", "_type", "_json", "_seq", "_data")

    def __init__(self, ptr: Any, writable: bool = False) -> None:
        self._ptr = ptr
        self._writable = writable
        self._type: Optional[str] = None
        self._json: Optional[str] = None
        self._seq: Optional[int] = None
        self._data: Optional[Dict[str, Any]] = None

    @classmethod
    def _snapshot(cls, ptr: Any) -> "Event":
        event = cls(ptr)
        event._detach()
        return event

    def _detach(self) -> None:
        if self._ptr is None:
            return
        self.type, self.json, self.seq  # noqa: B018 - reads and caches each property
        self._ptr = None

    def _live(self) -> Any:
        if self._ptr is None:
            raise Closed("this event is no longer valid: its callback has returned")
        return self._ptr

    @property
    def type(self) -> str:
        """The event's type, such as "test.end"."""
        if self._type is None:
            raw = _lib.get().baton_event_type(self._live())
            self._type = raw.decode("utf-8") if raw is not None else ""
        return self._type

    @property
    def json(self) -> str:
        """The event as JSON text."""
        if self._json is None:
            length = c_size_t(0)
            address = _lib.get().baton_event_json(self._live(), byref(length))
            self._json = (
                ctypes.string_at(address, length.value).decode("utf-8") if address else ""
            )
        return self._json

    @property
    def seq(self) -> int:
        """The global sequence number; 0 during the filter stage."""
        if self._seq is None:
            self._seq = int(_lib.get().baton_event_seq(self._live()))
        return self._seq

    @property
    def data(self) -> Dict[str, Any]:
        """The event parsed into a dict (parsed on first access)."""
        if self._data is None:
            self._data = json.loads(self.json) if self.json else {}
        return self._data

    def replace(self, new: JsonInput) -> None:
        """Rewrites the event; filter callbacks only. baton validates the new JSON again
        and raises the matching :class:`BatonError` when it does not pass."""
        if not self._writable:
            raise Conflict("Event.replace() is allowed only in a filter callback")
        ptr = self._live()
        payload = _encode(new, "the replacement event")
        assert payload is not None
        lib = _lib.get()
        status = lib.baton_event_replace(ptr, payload, len(payload))
        if status != OK:
            raise error_for(status, last_error())
        self._type = self._json = self._seq = self._data = None

    def __repr__(self) -> str:
        try:
            return f"Event(type={self.type!r}, seq={self.seq})"
        except BatonError:
            return "Event(<expired>)"


# ---- Callback trampolines -------------------------------------------------------------
#
# There is one C function pointer per callback kind, made once for the whole process and
# never freed, so that a CFUNCTYPE object is never released while C code runs in it.
# The user_data given to baton is a key into _contexts; the entry holds the Python
# callables and keeps them alive while baton may call them. The destroy callback of a
# plugin removes its entry.

_contexts: Dict[int, Any] = {}
_next_key = itertools.count(1).__next__
_unmatched_destroy_calls = 0


def _register(context: Any) -> int:
    key = _next_key()
    _contexts[key] = context
    return key


class _PluginContext:
    __slots__ = ("name", "filter", "observe", "sink", "destroy_calls")

    def __init__(
        self, name: str, filter: Optional[FilterFn], observe: Optional[ObserveFn], sink: _ErrorSink
    ) -> None:
        self.name = name
        self.filter = filter
        self.observe = observe
        self.sink = sink
        self.destroy_calls = 0


def _note(exc: BaseException, text: str) -> None:
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        try:
            add_note(text)
        except Exception:  # pragma: no cover - an exception type that refuses notes
            pass


def _filter_trampoline(user_data: Optional[int], ptr: Any) -> int:
    context = _contexts.get(user_data or 0)
    if context is None or context.filter is None:
        return EUSER  # fail closed: nothing to decide with
    event = Event(ptr, writable=True)
    _tls.in_callback.append(context.sink)
    try:
        verdict = context.filter(event)
    except BaseException as exc:
        _note(exc, f"raised in the filter of baton plugin {context.name!r}")
        context.sink.capture(exc)
        return EUSER
    finally:
        _tls.in_callback.pop()
        try:
            event._detach()
        except BaseException as exc:
            context.sink.capture(exc)
    if verdict is None or verdict is True:
        return OK
    if verdict is False:
        return EREJECTED
    context.sink.capture(
        TypeError(
            f"the filter of baton plugin {context.name!r} returned a "
            f"{type(verdict).__name__}: return None or True to keep the event, False to "
            "reject it"
        )
    )
    return EUSER  # fail closed


def _observe_trampoline(user_data: Optional[int], ptr: Any) -> int:
    context = _contexts.get(user_data or 0)
    if context is None or context.observe is None:
        return OK
    event = Event(ptr)
    _tls.in_callback.append(context.sink)
    try:
        if context.observe(event) is False:
            return EUSER  # a failure to count, not an exception to re-raise
    except BaseException as exc:
        _note(exc, f"raised in the observer of baton plugin {context.name!r}")
        context.sink.capture(exc)
        return EUSER
    finally:
        _tls.in_callback.pop()
        try:
            event._detach()
        except BaseException as exc:
            context.sink.capture(exc)
    return OK


def _destroy_trampoline(user_data: Optional[int]) -> None:
    global _unmatched_destroy_calls
    context = _contexts.pop(user_data or 0, None)
    if context is None:
        _unmatched_destroy_calls += 1
        return
    context.destroy_calls += 1
    context.filter = None
    context.observe = None


class _LogContext:
    __slots__ = ("fn", "sink")

    def __init__(self, fn: LogFn, sink: _ErrorSink) -> None:
        self.fn = fn
        self.sink = sink


def _log_trampoline(user_data: Optional[int], level: int, message: Optional[bytes]) -> None:
    context = _contexts.get(user_data or 0)
    if context is None:
        return
    text = message.decode("utf-8", "replace") if message is not None else ""
    _tls.in_callback.append(context.sink)
    try:
        context.fn(int(level), text)
    except BaseException as exc:
        _note(exc, "raised in the baton logger")
        context.sink.capture(exc)
    finally:
        _tls.in_callback.pop()


class _ReplayContext:
    __slots__ = ("events", "limit", "sink")

    def __init__(self, limit: int, sink: _ErrorSink) -> None:
        self.events: List[Event] = []
        self.limit = limit
        self.sink = sink


def _replay_trampoline(user_data: Optional[int], ptr: Any) -> int:
    context = _contexts.get(user_data or 0)
    if context is None:
        return 1
    try:
        context.events.append(Event._snapshot(ptr))
    except BaseException as exc:
        context.sink.capture(exc)
        return 1
    return 1 if len(context.events) >= context.limit else 0


_FILTER_PTR = _lib.FILTER_FN(_filter_trampoline)
_OBSERVE_PTR = _lib.OBSERVE_FN(_observe_trampoline)
_DESTROY_PTR = _lib.DESTROY_FN(_destroy_trampoline)
_LOG_PTR = _lib.LOG_FN(_log_trampoline)
_REPLAY_PTR = _lib.REPLAY_FN(_replay_trampoline)
# NULL function pointers ("no filter", "no logger"): ctypes does not take None for them.
_NO_FILTER = _lib.FILTER_FN(0)
_NO_OBSERVE = _lib.OBSERVE_FN(0)
_NO_LOGGER = _lib.LOG_FN(0)


# ---- Engine ---------------------------------------------------------------------------

_open_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


@atexit.register
def _close_open_engines() -> None:
    """Closes the engines still open when the interpreter exits, so that what they
    acknowledged is flushed (finalizers are not guaranteed to run at exit)."""
    for engine in list(_open_engines):
        try:
            engine.close()
        except BaseException:
            pass


class Engine:
    """An open baton engine.

    ``options`` is the options object of ``baton_open`` as a dict or JSON text; None
    means defaults (an in-memory store). Use it as a context manager or call
    :meth:`close`. Any number of threads may use one engine at once.

    Example::

        with baton.Engine({"clock": "manual"}) as engine, engine.session() as session:
            session.push({"type": "run.start", "run": "r1"})
    """

    def __init__(self, options: Optional[JsonInput] = None) -> None:
        self._handle: Any = None
        self._guard = _Guard("engine", closed=True)  # opened when baton_open succeeds
        self._sink = _ErrorSink()
        self._sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()
        self._lock = threading.Lock()
        self._logger_key: Optional[int] = None
        self._logger_lock = threading.Lock()
        lib = _lib.get()
        self._lib = lib
        encoded = _encode(options, "options")
        handle = _lib.EngineP()
        status = lib.baton_open(encoded, byref(handle))
        if status != OK:
            raise error_for(status, last_error())
        self._handle = handle
        self._guard.open()
        _open_engines.add(self)

    # -- plumbing --

    def _call(self, fn: Any, *args: Any) -> None:
        """Calls a status-returning function on the engine handle."""
        _check(self._sink, _invoke_raw(self._guard, fn, self._handle, *args))

    def _call_buffer(self, fn: Any, *args: Any) -> bytes:
        out = c_void_p()
        out_len = c_size_t(0)
        try:
            self._call(fn, *args, byref(out), byref(out_len))
        finally:
            data = _take_buffer(self._lib, out, out_len)
        return data if data is not None else b""

    def _check_not_in_own_callback(self, what: str) -> None:
        if self._sink in _tls.in_callback:
            raise InvalidArgument(f"cannot {what} from inside one of the engine's callbacks")

    # -- lifecycle --

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._guard.closed

    def close(self) -> None:
        """Closes the sessions still open, flushes, calls every plugin's destroy and
        closes the store. Waits for the calls in flight; closing twice is a no-op."""
        if self._handle is None:
            return
        self._check_not_in_own_callback("close the engine")
        if not self._guard.close():
            return
        # No engine call or new session can start now; close the sessions left open.
        with self._lock:
            sessions = list(self._sessions)
        results = [session._close_handle() for session in sessions]
        handle, self._handle = self._handle, None
        try:
            result = _run(self._lib.baton_close, handle)
        finally:
            if self._logger_key is not None:
                _contexts.pop(self._logger_key, None)
                self._logger_key = None
        for session_result in results:
            if session_result is not None and session_result[2]:
                raise session_result[2][0]
        _check(self._sink, result)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._handle is not None and not self._guard.closed:
                self.close()
        except BaseException:
            # Nothing can be raised from a finalizer; close() explicitly to see errors.
            pass

    def __repr__(self) -> str:
        return f"<baton.Engine {'closed' if self.closed else 'open'}>"

    # -- sessions --

    def session(self, credentials: Optional[JsonInput] = None) -> "Session":
        """Opens a session: ``{"client": "ci-3", "token": "..."}``, or None for an
        anonymous client in open mode."""
        return Session(self, credentials)

    # -- engine calls --

    def flush(self) -> None:
        """Makes everything acknowledged so far durable."""
        self._call(self._lib.baton_flush)

    def clock_set(self, now_ms: int) -> None:
        """Sets the engine's time (ms since the epoch); only with ``{"clock": "manual"}``."""
        self._call(self._lib.baton_clock_set, int(now_ms))

    def access_reload(self, access: Optional[JsonInput] = None) -> None:
        """Replaces the access configuration (the ``access`` option); None means open mode."""
        self._call(self._lib.baton_access_reload, _encode(access, "access"))

    def query(self, request: JsonInput) -> Dict[str, Any]:
        """Runs a query such as ``{"op": "run", "run": "r1"}`` and returns its answer."""
        data = self._call_buffer(self._lib.baton_query, _encode(request, "request"))
        answer: Dict[str, Any] = json.loads(data) if data else {}
        return answer

    def export(self, run: str, format: str = "json") -> str:
        """Exports a run as "json", "junit" or "ctrf" text."""
        data = self._call_buffer(
            self._lib.baton_export, run.encode("utf-8"), format.encode("utf-8")
        )
        return data.decode("utf-8")

    def replay(
        self,
        run: Optional[str] = None,
        from_seq: Optional[int] = None,
        types: Optional[Iterable[str]] = None,
        *,
        chunk_size: int = 1024,
    ) -> Iterator[Event]:
        """Iterates over the event log in sequence order.

        Events are fetched ``chunk_size`` at a time: each chunk is one ``baton_replay``
        call that stops after ``chunk_size`` events, and the next one starts after the
        last sequence number seen.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        type_list = list(types) if types is not None else None
        return self._replay_chunks(run, from_seq, type_list, chunk_size)

    def _replay_chunks(
        self,
        run: Optional[str],
        from_seq: Optional[int],
        types: Optional[List[str]],
        chunk_size: int,
    ) -> Iterator[Event]:
        next_seq = from_seq
        while True:
            request: Dict[str, Any] = {}
            if run is not None:
                request["run"] = run
            if next_seq is not None:
                request["from_seq"] = next_seq
            if types is not None:
                request["types"] = types
            chunk = self._replay_once(request or None, chunk_size)
            yield from chunk
            if len(chunk) < chunk_size:
                return
            next_seq = chunk[-1].seq + 1

    def _replay_once(self, request: Optional[Dict[str, Any]], limit: int) -> List[Event]:
        context = _ReplayContext(limit, self._sink)
        key = _register(context)
        try:
            self._call(self._lib.baton_replay, _encode(request), _REPLAY_PTR, key)
        finally:
            _contexts.pop(key, None)
        return context.events

    def set_logger(self, fn: Optional[LogFn], min_level: int = LOG_WARN) -> None:
        """Sends baton's log lines at ``min_level`` and above to ``fn(level, message)``;
        None removes the logger. Levels: LOG_DEBUG 0, LOG_INFO 1, LOG_WARN 2, LOG_ERROR 3.
        """
        new_key = _register(_LogContext(fn, self._sink)) if fn is not None else None
        with self._logger_lock:
            try:
                result = _invoke_raw(
                    self._guard,
                    self._lib.baton_set_logger,
                    self._handle,
                    _LOG_PTR if fn is not None else _NO_LOGGER,
                    int(min_level),
                    new_key,
                )
            except BaseException:
                if new_key is not None:
                    _contexts.pop(new_key, None)  # the call did not happen
                raise
            if result[0] != OK:
                if new_key is not None:
                    _contexts.pop(new_key, None)
            else:
                # baton no longer calls the old logger: release it.
                old_key, self._logger_key = self._logger_key, new_key
                if old_key is not None:
                    _contexts.pop(old_key, None)
        _check(self._sink, result)

    def add_plugin(
        self,
        name: str,
        filter: Optional[FilterFn] = None,
        observe: Optional[ObserveFn] = None,
    ) -> "Plugin":
        """Registers Python callables as a plugin.

        ``filter(event)`` runs before the event is applied: return None or True to keep
        it (after ``event.replace(...)`` if you like), False to reject it; any other
        value refuses the event and raises TypeError. ``observe(event)``
        runs after it is applied; returning False reports a failure to baton (counted in
        its stats and logged) without raising. An exception in either is re-raised by the
        call that made baton run the callback (a refused push, for a filter).
        """
        context = _PluginContext(name, filter, observe, self._sink)
        key = _register(context)
        out_id = c_uint64(0)
        try:
            status, detail, errors = _invoke_raw(
                self._guard,
                self._lib.baton_plugin_add,
                self._handle,
                name.encode("utf-8"),
                _FILTER_PTR if filter is not None else _NO_FILTER,
                _OBSERVE_PTR if observe is not None else _NO_OBSERVE,
                _DESTROY_PTR,
                key,
                byref(out_id),
            )
        except BaseException:
            _contexts.pop(key, None)  # the call did not happen: nothing will call destroy
            raise
        if status != OK:
            # baton has called destroy already; this only matters if it did not.
            _contexts.pop(key, None)
            if errors:
                raise errors[0]
            raise error_for(status, detail)
        plugin = Plugin(self, int(out_id.value), name, context)
        if errors:
            raise errors[0]
        self._sink.raise_orphan()
        return plugin


class Plugin:
    """A registered plugin; :meth:`remove` unregisters it."""

    def __init__(self, engine: Engine, plugin_id: int, name: str, context: _PluginContext) -> None:
        self._engine = engine
        self.id = plugin_id
        self.name = name
        self._context = context

    @property
    def active(self) -> bool:
        """False once baton has released the plugin (after remove or engine close)."""
        return self._context.destroy_calls == 0

    @property
    def destroy_calls(self) -> int:
        """How many times baton called the plugin's destroy callback (0, then 1)."""
        return self._context.destroy_calls

    def remove(self) -> None:
        """Unregisters the plugin. A no-op when it is already released."""
        if not self.active or self._engine.closed:
            return
        self._engine._call(self._engine._lib.baton_plugin_remove, c_uint64(self.id))

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        return f"<baton.Plugin {self.name!r} id={self.id} {state}>"


class Session:
    """One client's session; used by one thread at a time. Open with :meth:`Engine.session`."""

    def __init__(self, engine: Engine, credentials: Optional[JsonInput] = None) -> None:
        self._handle: Any = None
        self._engine = engine
        self._sink = engine._sink
        self._guard = _Guard("session", closed=True)  # opened with the handle
        self._close_lock = threading.Lock()
        self._lib = engine._lib
        self._reply = c_void_p()
        self._reply_len = c_size_t(0)
        payload = _encode(credentials, "credentials")
        handle = _lib.SessionP()
        engine._guard.enter()
        try:
            result = _run(self._lib.baton_session_open, engine._handle, payload, byref(handle))
            if result[0] == OK:
                # Registered before the engine can start closing, which closes it first.
                self._handle = handle
                self._guard.open()
                with engine._lock:
                    engine._sessions.add(self)
        finally:
            engine._guard.leave()
        _check(self._sink, result)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def closed(self) -> bool:
        return self._guard.closed

    def push_raw(self, msg: JsonInput) -> Tuple[int, bytes]:
        """Pushes one message and returns ``(status, reply JSON bytes)`` without raising
        for a refusal. Exceptions raised by callbacks are still re-raised."""
        data = _encode(msg)
        assert data is not None
        guard = self._guard
        guard.enter()
        errors: List[BaseException] = []
        outer = _tls.errors
        _tls.errors = errors
        try:
            status = self._lib.baton_push(
                self._handle, data, len(data), byref(self._reply), byref(self._reply_len)
            )
            reply = _take_buffer(self._lib, self._reply, self._reply_len)
        finally:
            _tls.errors = outer
            guard.leave()
        if errors:
            raise errors[0]
        if self._sink.orphans:
            self._sink.raise_orphan()
        return status, reply or b""

    def push(self, msg: JsonInput) -> Dict[str, Any]:
        """Pushes one message and returns the parsed reply; raises the
        :class:`BatonError` subclass for the status when baton refuses it."""
        status, reply = self.push_raw(msg)
        parsed: Dict[str, Any] = json.loads(reply) if reply else {}
        if status != OK:
            raise error_for(status, "", parsed or None)
        return parsed

    def query(self, request: JsonInput) -> Dict[str, Any]:
        """A query on behalf of this session's principal (viewer or admin role when
        access is configured); same requests and answers as :meth:`Engine.query`."""
        out = c_void_p()
        out_len = c_size_t(0)
        payload = _encode(request, "request")
        try:
            result = _invoke_raw(
                self._guard,
                self._lib.baton_session_query,
                self._handle,
                payload,
                byref(out),
                byref(out_len),
            )
        finally:
            data = _take_buffer(self._lib, out, out_len)
        _check(self._sink, result)
        answer: Dict[str, Any] = json.loads(data) if data else {}
        return answer

    def close(self) -> None:
        """Closes the session, waiting for a push in flight; closing twice is a no-op."""
        if self._handle is None:
            return
        self._engine._check_not_in_own_callback("close a session")
        result = self._close_handle()
        if result is not None:
            _check(self._sink, result)

    def _close_handle(self) -> Optional[Tuple[int, str, List[BaseException]]]:
        with self._close_lock:
            if self._handle is None:
                return None
            self._guard.close()
            handle, self._handle = self._handle, None
            result = _run(self._lib.baton_session_close, handle)
            # Only now: until the handle is closed, the engine's close must wait for it.
            with self._engine._lock:
                self._engine._sessions.discard(self)
            return result

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._handle is not None and not self._guard.closed:
                self.close()
        except BaseException:
            pass

    def __repr__(self) -> str:
        return f"<baton.Session {'closed' if self.closed else 'open'}>"
