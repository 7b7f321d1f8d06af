"""The PEP 517 / PEP 660 build backend of the baton Python package, standard library only.

pip builds a package in an isolated environment and would download setuptools into
it; this backend needs nothing, so ``pip install --no-index bindings/python`` works on
a machine without a package index. It builds:

- a wheel: the ``baton`` package plus ``baton-<v>.dist-info`` (METADATA, WHEEL,
  entry_points.txt, RECORD). It is pure Python (``py3-none-any``) unless a libbaton is
  bundled with the config setting ``bundle-library=/path/to/libbaton.so`` (or the
  environment variable ``BATON_BUNDLE_LIBRARY``), which copies it into the package and
  tags the wheel for this platform;
- an sdist ``baton-<v>.tar.gz`` with PKG-INFO and the source tree;
- an editable wheel holding a ``.pth`` file that points at this source tree.

Archives are reproducible: entries are sorted and dated ``SOURCE_DATE_EPOCH`` (or 1980).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import re
import shutil
import sysconfig
import tarfile
import time
import zipfile
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "baton"
SUMMARY = "Python binding of baton, the embeddable engine for test-lifecycle events"
REQUIRES_PYTHON = ">=3.9"
CLASSIFIERS = (
    "Programming Language :: Python :: 3",
    "Operating System :: POSIX :: Linux",
    "Topic :: Software Development :: Testing",
    "Typing :: Typed",
)
ENTRY_POINTS = "[console_scripts]\nbaton-unittest = baton.unittest:main\n"
PACKAGE_DIR = "baton"
# Files and folders of the source tree that go into the sdist.
SDIST_ITEMS = ("pyproject.toml", "README.md", "run_tests.sh", "_backend", "baton", "tests")
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".dylib")


def _version() -> str:
    with open(os.path.join(ROOT, PACKAGE_DIR, "_version.py"), encoding="utf-8") as f:
        match = re.search(r'^__version__\s*=\s*"([^"]+)"', f.read(), re.M)
    if match is None:
        raise RuntimeError("baton/_version.py does not define __version__")
    return match.group(1)


def _dist_info_name() -> str:
    return f"{NAME}-{_version()}.dist-info"


def _epoch() -> int:
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)


def _metadata() -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {NAME}",
        f"Version: {_version()}",
        f"Summary: {SUMMARY}",
        f"Requires-Python: {REQUIRES_PYTHON}",
    ]
    lines += [f"Classifier: {c}" for c in CLASSIFIERS]
    readme = os.path.join(ROOT, "README.md")
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = f.read()
        return "\n".join(lines) + "\n\n" + body
    return "\n".join(lines) + "\n"


def _wheel_file(tag: str, pure: bool) -> str:
    return (
        "Wheel-Version: 1.0\n"
        f"Generator: baton_backend {_version()}\n"
        f"Root-Is-Purelib: {'true' if pure else 'false'}\n"
        f"Tag: {tag}\n"
    )


def _walk(relative_dir: str) -> Iterable[str]:
    """Relative paths of the files under ``relative_dir`` worth shipping, sorted."""
    base = os.path.join(ROOT, relative_dir)
    if os.path.isfile(base):
        yield relative_dir
        return
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(_SKIP_SUFFIXES) or ".so." in name:
                continue
            yield os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, "/")


def _bundled_library(config_settings: Optional[Mapping[str, object]]) -> Optional[str]:
    setting = (config_settings or {}).get("bundle-library") or os.environ.get(
        "BATON_BUNDLE_LIBRARY"
    )
    if not setting:
        return None
    path = os.path.abspath(str(setting))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"bundle-library: {path} does not exist")
    return path


def _platform_tag() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


class _WheelWriter:
    """Writes a wheel, recording each file for RECORD."""

    def __init__(self, path: str) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._records: List[Tuple[str, str, int]] = []
        self._date = time.gmtime(_epoch())[:6]

    def add(self, arcname: str, data: bytes, executable: bool = False) -> None:
        info = zipfile.ZipInfo(arcname, date_time=self._date)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
        self._zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        self._records.append((arcname, "sha256=" + digest.decode("ascii"), len(data)))

    def close(self, record_name: str) -> None:
        lines = [f"{name},{digest},{size}" for name, digest, size in self._records]
        lines.append(f"{record_name},,")
        info = zipfile.ZipInfo(record_name, date_time=self._date)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (0o644 | 0o100000) << 16
        self._zip.writestr(info, "\n".join(lines) + "\n")
        self._zip.close()


def _write_dist_info(writer: _WheelWriter, tag: str, pure: bool) -> str:
    dist_info = _dist_info_name()
    writer.add(f"{dist_info}/METADATA", _metadata().encode("utf-8"))
    writer.add(f"{dist_info}/WHEEL", _wheel_file(tag, pure).encode("utf-8"))
    writer.add(f"{dist_info}/entry_points.txt", ENTRY_POINTS.encode("utf-8"))
    return f"{dist_info}/RECORD"


def _read(relative: str) -> bytes:
    with open(os.path.join(ROOT, relative), "rb") as f:
        return f.read()


# ---- PEP 517 hooks ---------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, object]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, object]] = None) -> List[str]:
    return []


def get_requires_for_build_editable(
    config_settings: Optional[Dict[str, object]] = None,
) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Optional[Dict[str, object]] = None
) -> str:
    """Writes ``baton-<v>.dist-info`` (METADATA, WHEEL, entry_points.txt) and returns its name."""
    bundled = _bundled_library(config_settings)
    tag = f"py3-none-{_platform_tag()}" if bundled else "py3-none-any"
    dist_info = _dist_info_name()
    target = os.path.join(metadata_directory, dist_info)
    os.makedirs(target, exist_ok=True)
    files = {
        "METADATA": _metadata(),
        "WHEEL": _wheel_file(tag, bundled is None),
        "entry_points.txt": ENTRY_POINTS,
    }
    for name, text in files.items():
        with open(os.path.join(target, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return dist_info


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: Optional[Dict[str, object]] = None
) -> str:
    return prepare_metadata_for_build_wheel(metadata_directory, None)


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, object]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """Builds the wheel into ``wheel_directory`` and returns its file name."""
    bundled = _bundled_library(config_settings)
    tag = f"py3-none-{_platform_tag()}" if bundled else "py3-none-any"
    filename = f"{NAME}-{_version()}-{tag}.whl"
    os.makedirs(wheel_directory, exist_ok=True)
    writer = _WheelWriter(os.path.join(wheel_directory, filename))
    for relative in _walk(PACKAGE_DIR):
        writer.add(relative, _read(relative))
    if bundled:
        with open(bundled, "rb") as f:
            writer.add(f"{PACKAGE_DIR}/libbaton.so", f.read(), executable=True)
    writer.close(_write_dist_info(writer, tag, bundled is None))
    return filename


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Dict[str, object]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """Builds a wheel whose ``baton.pth`` puts this source tree on ``sys.path``."""
    tag = "py3-none-any"
    filename = f"{NAME}-{_version()}-{tag}.whl"
    os.makedirs(wheel_directory, exist_ok=True)
    writer = _WheelWriter(os.path.join(wheel_directory, filename))
    writer.add(f"__editable__.{NAME}-{_version()}.pth", (ROOT + "\n").encode("utf-8"))
    writer.close(_write_dist_info(writer, tag, True))
    return filename


def build_sdist(
    sdist_directory: str, config_settings: Optional[Dict[str, object]] = None
) -> str:
    """Builds ``baton-<v>.tar.gz`` into ``sdist_directory`` and returns its file name."""
    base = f"{NAME}-{_version()}"
    filename = f"{base}.tar.gz"
    os.makedirs(sdist_directory, exist_ok=True)
    mtime = _epoch()

    def add(tar: tarfile.TarFile, arcname: str, data: bytes, mode: int) -> None:
        info = tarfile.TarInfo(f"{base}/{arcname}")
        info.size = len(data)
        info.mtime = mtime
        info.mode = mode
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(data))

    temporary = os.path.join(sdist_directory, filename + ".part")
    with open(temporary, "wb") as raw:
        # A fixed gzip header time keeps the archive byte-for-byte reproducible.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                add(tar, "PKG-INFO", _metadata().encode("utf-8"), 0o644)
                for item in SDIST_ITEMS:
                    if not os.path.exists(os.path.join(ROOT, item)):
                        continue
                    for relative in _walk(item):
                        full = os.path.join(ROOT, relative)
                        mode = 0o755 if os.access(full, os.X_OK) else 0o644
                        add(tar, relative, _read(relative), mode)
    shutil.move(temporary, os.path.join(sdist_directory, filename))
    return filename
