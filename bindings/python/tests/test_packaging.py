"""The in-tree PEP 517 backend: wheel, sdist, metadata, and an offline pip install."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

from .support import BINDING_ROOT, library_path

sys.path.insert(0, os.path.join(BINDING_ROOT, "_backend"))
import baton_backend  # noqa: E402

from baton import __version__  # noqa: E402


class BackendTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="baton-pkg-")
        self.addCleanup(shutil.rmtree, self.folder, True)

    def test_no_build_requirements(self) -> None:
        self.assertEqual(baton_backend.get_requires_for_build_wheel(), [])
        self.assertEqual(baton_backend.get_requires_for_build_sdist(), [])
        self.assertEqual(baton_backend.get_requires_for_build_editable(), [])

    def test_wheel_contents_and_record(self) -> None:
        name = baton_backend.build_wheel(self.folder)
        self.assertEqual(name, f"baton-{__version__}-py3-none-any.whl")
        with zipfile.ZipFile(os.path.join(self.folder, name)) as wheel:
            names = wheel.namelist()
            for expected in ("baton/__init__.py", "baton/_lib.py", "baton/_engine.py",
                             "baton/_errors.py", "baton/unittest.py", "baton/py.typed"):
                self.assertIn(expected, names)
            self.assertFalse([n for n in names if "__pycache__" in n or n.startswith("tests/")])
            dist_info = f"baton-{__version__}.dist-info"
            metadata = wheel.read(f"{dist_info}/METADATA").decode()
            self.assertIn("Name: baton", metadata)
            self.assertIn(f"Version: {__version__}", metadata)
            self.assertIn("Requires-Python: >=3.9", metadata)
            wheel_file = wheel.read(f"{dist_info}/WHEEL").decode()
            self.assertIn("Tag: py3-none-any", wheel_file)
            self.assertIn("Root-Is-Purelib: true", wheel_file)
            self.assertIn("baton-unittest = baton.unittest:main",
                          wheel.read(f"{dist_info}/entry_points.txt").decode())
            record = wheel.read(f"{dist_info}/RECORD").decode().splitlines()
            listed = {}
            for line in record:
                path, digest, size = line.rsplit(",", 2)
                listed[path] = (digest, size)
            self.assertEqual(set(listed), set(names))
            self.assertEqual(listed[f"{dist_info}/RECORD"], ("", ""))
            for path, (digest, size) in listed.items():
                if path.endswith("RECORD"):
                    continue
                data = wheel.read(path)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                self.assertEqual(digest, "sha256=" + expected.decode(), path)
                self.assertEqual(int(size), len(data), path)

    def test_wheel_is_reproducible(self) -> None:
        first = os.path.join(self.folder, "1")
        second = os.path.join(self.folder, "2")
        name = baton_backend.build_wheel(first)
        baton_backend.build_wheel(second)
        with open(os.path.join(first, name), "rb") as a, open(os.path.join(second, name), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_wheel_with_a_bundled_library(self) -> None:
        name = baton_backend.build_wheel(self.folder, {"bundle-library": library_path()})
        self.assertNotIn("none-any", name)
        with zipfile.ZipFile(os.path.join(self.folder, name)) as wheel:
            self.assertIn("baton/libbaton.so", wheel.namelist())
            self.assertIn("Root-Is-Purelib: false",
                          wheel.read(f"baton-{__version__}.dist-info/WHEEL").decode())

    def test_metadata_hook(self) -> None:
        dist_info = baton_backend.prepare_metadata_for_build_wheel(self.folder)
        self.assertEqual(dist_info, f"baton-{__version__}.dist-info")
        with open(os.path.join(self.folder, dist_info, "METADATA"), encoding="utf-8") as f:
            self.assertIn("Name: baton", f.read())

    def test_sdist(self) -> None:
        name = baton_backend.build_sdist(self.folder)
        self.assertEqual(name, f"baton-{__version__}.tar.gz")
        with tarfile.open(os.path.join(self.folder, name)) as sdist:
            names = sdist.getnames()
        base = f"baton-{__version__}"
        for expected in ("PKG-INFO", "pyproject.toml", "_backend/baton_backend.py",
                         "baton/__init__.py", "tests/test_packaging.py", "run_tests.sh"):
            self.assertIn(f"{base}/{expected}", names)
        self.assertFalse([n for n in names if n.endswith((".pyc", ".so"))])

    def test_editable_wheel_points_at_the_source(self) -> None:
        name = baton_backend.build_editable(self.folder)
        with zipfile.ZipFile(os.path.join(self.folder, name)) as wheel:
            pth = [n for n in wheel.namelist() if n.endswith(".pth")]
            self.assertEqual(len(pth), 1)
            self.assertEqual(wheel.read(pth[0]).decode().strip(), BINDING_ROOT)


class OfflinePipInstallTest(unittest.TestCase):
    def test_pip_install_without_an_index_into_a_venv(self) -> None:
        folder = tempfile.mkdtemp(prefix="baton-venv-")
        self.addCleanup(shutil.rmtree, folder, True)
        venv = os.path.join(folder, "venv")
        made = subprocess.run([sys.executable, "-m", "venv", venv],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        python = os.path.join(venv, "bin", "python")
        if made.returncode != 0 or not os.path.exists(python):
            self.skipTest(f"cannot make a venv with pip here: {made.stdout[-300:]}")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
        env["PIP_NO_INDEX"] = "1"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        source = os.path.join(folder, "src")
        shutil.copytree(BINDING_ROOT, source, ignore=shutil.ignore_patterns("__pycache__"))
        installed = subprocess.run([python, "-m", "pip", "install", "--no-index", source],
                                   env=env, cwd=folder, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        self.assertEqual(installed.returncode, 0, installed.stdout)
        env["BATON_LIBRARY"] = library_path()
        check = subprocess.run(
            [python, "-c",
             "import baton, os; assert os.path.dirname(baton.__file__) != os.getcwd();"
             "e = baton.Engine(); s = e.session();"
             "print(s.push({'type': 'run.start', 'run': 'venv'})['ok'], baton.abi_version());"
             "e.close()"],
            env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=120)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertEqual(check.stdout.split(), ["True", "1"])
        script = os.path.join(venv, "bin", "baton-unittest")
        self.assertTrue(os.path.exists(script))
        helped = subprocess.run([script, "discover", "--help"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        self.assertEqual(helped.returncode, 0, helped.stderr)

        # The sdist builds and installs offline too: it carries the backend with it.
        sdist = baton_backend.build_sdist(folder)
        reinstalled = subprocess.run(
            [python, "-m", "pip", "install", "--no-index", "--force-reinstall",
             os.path.join(folder, sdist)],
            env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=300)
        self.assertEqual(reinstalled.returncode, 0, reinstalled.stdout)
        self.assertIn("Successfully installed baton", reinstalled.stdout)
