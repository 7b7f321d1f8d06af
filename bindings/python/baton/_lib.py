"""Finding and loading libbaton, and declaring its C ABI (baton.h) with ctypes.

The library is looked up, in this order:

1. the path in the environment variable ``BATON_LIBRARY``;
2. a ``libbaton.so*`` (or ``libbaton*.dylib``) inside this package's folder, then in
   the folder that holds the package;
3. the system loader: ``ctypes.util.find_library("baton")``, else ``libbaton.so.1``.

It is loaded on first use, not on ``import baton``, and its ``baton_abi_version()`` must
equal :data:`ABI_VERSION`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import threading
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint64, c_void_p
from typing import Any, List, Optional, Tuple

from ._errors import LibraryError
from ._version import __version__

ABI_VERSION = 1
"""The ABI version of baton.h this binding is written against."""


class EngineHandle(ctypes.Structure):
    """Opaque ``baton_engine``."""


class SessionHandle(ctypes.Structure):
    """Opaque ``baton_session``."""


class EventHandle(ctypes.Structure):
    """Opaque ``baton_event``; valid only during a callback."""


EngineP = POINTER(EngineHandle)
SessionP = POINTER(SessionHandle)
EventP = POINTER(EventHandle)

FILTER_FN = CFUNCTYPE(c_int, c_void_p, EventP)
OBSERVE_FN = CFUNCTYPE(c_int, c_void_p, EventP)
DESTROY_FN = CFUNCTYPE(None, c_void_p)
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
REPLAY_FN = CFUNCTYPE(c_int, c_void_p, EventP)

_OUT_BUFFER = [POINTER(c_void_p), POINTER(c_size_t)]

# name -> (restype, argtypes): every function of baton.h.
SIGNATURES = {
    "baton_version": (c_char_p, []),
    "baton_abi_version": (c_int, []),
    "baton_status_name": (c_char_p, [c_int]),
    "baton_last_error": (c_char_p, []),
    "baton_free": (None, [c_void_p]),
    "baton_open": (c_int, [c_char_p, POINTER(EngineP)]),
    "baton_close": (c_int, [EngineP]),
    "baton_flush": (c_int, [EngineP]),
    "baton_clock_set": (c_int, [EngineP, c_int64]),
    "baton_access_reload": (c_int, [EngineP, c_char_p]),
    "baton_session_open": (c_int, [EngineP, c_char_p, POINTER(SessionP)]),
    "baton_session_close": (c_int, [SessionP]),
    "baton_push": (c_int, [SessionP, c_char_p, c_size_t] + _OUT_BUFFER),
    "baton_session_query": (c_int, [SessionP, c_char_p] + _OUT_BUFFER),
    "baton_query": (c_int, [EngineP, c_char_p] + _OUT_BUFFER),
    "baton_export": (c_int, [EngineP, c_char_p, c_char_p] + _OUT_BUFFER),
    "baton_event_type": (c_char_p, [EventP]),
    # A pointer, not c_char_p: the length comes with it and the text is copied by length.
    "baton_event_json": (c_void_p, [EventP, POINTER(c_size_t)]),
    "baton_event_seq": (c_int64, [EventP]),
    "baton_event_replace": (c_int, [EventP, c_char_p, c_size_t]),
    "baton_plugin_add": (
        c_int,
        [EngineP, c_char_p, FILTER_FN, OBSERVE_FN, DESTROY_FN, c_void_p, POINTER(c_uint64)],
    ),
    "baton_plugin_remove": (c_int, [EngineP, c_uint64]),
    "baton_set_logger": (c_int, [EngineP, LOG_FN, c_int, c_void_p]),
    "baton_replay": (c_int, [EngineP, c_char_p, REPLAY_FN, c_void_p]),
}

_LIBRARY_PATTERNS = ("libbaton.so*", "libbaton*.dylib")


def candidates() -> List[Tuple[str, str]]:
    """The places to load libbaton from, in order, as (how it was found, path or name)."""
    env = os.environ.get("BATON_LIBRARY")
    if env:
        return [("BATON_LIBRARY", env)]
    found: List[Tuple[str, str]] = []
    package_dir = os.path.dirname(os.path.abspath(__file__))
    for folder in (package_dir, os.path.dirname(package_dir)):
        matches: List[str] = []
        for pattern in _LIBRARY_PATTERNS:
            matches.extend(glob.glob(os.path.join(folder, pattern)))
        # libbaton.so before libbaton.so.1 before libbaton.so.1.0.0.
        for path in sorted(set(matches), key=lambda p: (len(os.path.basename(p)), p)):
            found.append(("next to the package", path))
    system = ctypes.util.find_library("baton")
    found.append(("system loader", system or "libbaton.so.1"))
    return found


def check_abi(cdll: Any, path: str) -> int:
    """Raises :class:`LibraryError` unless ``cdll.baton_abi_version()`` is :data:`ABI_VERSION`."""
    try:
        abi_fn = cdll.baton_abi_version
    except AttributeError:
        raise LibraryError(
            f"{path} is not libbaton: it has no baton_abi_version symbol"
        ) from None
    abi_fn.restype = c_int
    abi_fn.argtypes = []
    found = int(abi_fn())
    if found != ABI_VERSION:
        raise LibraryError(
            f"libbaton at {path} has ABI version {found}, but the baton Python package "
            f"{__version__} needs ABI version {ABI_VERSION}; install a matching libbaton "
            f"or point BATON_LIBRARY at one"
        )
    return found


def declare(cdll: Any, path: str) -> None:
    """Sets ``restype`` and ``argtypes`` of every function of baton.h on ``cdll``."""
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            raise LibraryError(
                f"libbaton at {path} lacks {name}, which ABI version {ABI_VERSION} has"
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes


def load(path: str) -> ctypes.CDLL:
    """Loads the library at ``path``, checks its ABI version and declares its functions."""
    try:
        cdll = ctypes.CDLL(path)
    except OSError as exc:
        raise LibraryError(f"cannot load libbaton from {path}: {exc}") from exc
    check_abi(cdll, path)
    declare(cdll, path)
    return cdll


class _Loaded:
    lib: Optional[ctypes.CDLL] = None
    path: Optional[str] = None


_lock = threading.Lock()


def get() -> ctypes.CDLL:
    """The loaded library, loading it on first use."""
    lib = _Loaded.lib
    if lib is not None:
        return lib
    with _lock:
        if _Loaded.lib is None:
            _Loaded.lib, _Loaded.path = _discover()
        return _Loaded.lib


def loaded_path() -> Optional[str]:
    """The path (or loader name) the library was loaded from; None before first use."""
    return _Loaded.path


def _discover() -> Tuple[ctypes.CDLL, str]:
    for how, path in candidates():
        if how == "system loader":
            try:
                cdll = ctypes.CDLL(path)
            except OSError as exc:
                raise LibraryError(
                    "libbaton not found: set BATON_LIBRARY to the path of libbaton.so, put "
                    "it next to the baton package, or install it where the system loader "
                    f"finds it (loading {path!r} failed: {exc})"
                ) from exc
            check_abi(cdll, path)
            declare(cdll, path)
            return cdll, path
        if not os.path.exists(path):
            if how == "BATON_LIBRARY":
                raise LibraryError(f"BATON_LIBRARY={path} does not exist")
            continue
        return load(path), path
    raise LibraryError("libbaton not found")  # unreachable: the system loader comes last
