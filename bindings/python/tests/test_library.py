"""Loading libbaton: discovery, the ABI version check, and the library-level functions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import baton
from baton import _lib

from .support import BINDING_ROOT, compiler, library_path, run_python


class LibraryFunctionsTest(unittest.TestCase):
    def test_version_matches_the_header(self) -> None:
        self.assertRegex(baton.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(baton.version(), baton.__version__)

    def test_abi_version_is_one(self) -> None:
        self.assertEqual(baton.abi_version(), 1)
        self.assertEqual(baton.ABI_VERSION, 1)

    def test_status_names_match_the_error_classes(self) -> None:
        self.assertEqual(baton.status_name(baton.OK), "ok")
        for status, cls in baton._errors.ERROR_CLASSES.items():
            if status == baton.EUSER:
                continue  # not a reply code; its name is the library's business
            with self.subTest(status=status):
                self.assertEqual(baton.status_name(status), cls.code)
                self.assertIs(baton.error_for(status, "x").__class__, cls)
        self.assertEqual(baton.status_name(-999), "unknown")
        self.assertEqual(baton.status_name(7), "unknown")

    def test_last_error_names_the_failure_and_clears_after_success(self) -> None:
        with self.assertRaises(baton.InvalidArgument) as caught:
            baton.Engine({"bogus_option": 1})
        self.assertIn("bogus_option", str(caught.exception))
        self.assertIn("bogus_option", baton.last_error())
        with baton.Engine() as engine:
            engine.flush()
            self.assertEqual(baton.last_error(), "")

    def test_every_function_of_the_header_is_declared(self) -> None:
        header = os.path.join(BINDING_ROOT, "..", "..", "capi", "include", "baton", "baton.h")
        if not os.path.exists(header):
            self.skipTest("baton.h is not beside this source tree")
        with open(header, encoding="utf-8") as f:
            names = set(re.findall(r"BATON_EXPORT[^;]*?\b(baton_\w+)\s*\(", f.read()))
        self.assertTrue(names)
        self.assertEqual(names, set(_lib.SIGNATURES))
        lib = _lib.get()
        for name, (restype, argtypes) in _lib.SIGNATURES.items():
            fn = getattr(lib, name)
            self.assertEqual(fn.restype, restype, name)
            self.assertEqual(list(fn.argtypes), list(argtypes), name)

    def test_loaded_from_baton_library(self) -> None:
        self.assertEqual(os.path.realpath(_lib.loaded_path()), os.path.realpath(library_path()))


class _FakeLibrary:
    """Stands in for a CDLL whose baton_abi_version() returns ``abi``."""

    def __init__(self, abi: int) -> None:
        self.baton_abi_version = _Callable(abi)


class AbiCheckTest(unittest.TestCase):
    def test_wrong_abi_version_names_the_path_and_both_versions(self) -> None:
        fake = _FakeLibrary(2)
        with self.assertRaises(baton.LibraryError) as caught:
            _lib.check_abi(fake, "/opt/lib/libbaton.so.2")
        message = str(caught.exception)
        self.assertIn("/opt/lib/libbaton.so.2", message)
        self.assertIn("ABI version 2", message)
        self.assertIn("ABI version 1", message)

    def test_library_without_the_symbol_is_refused(self) -> None:
        with self.assertRaises(baton.LibraryError) as caught:
            _lib.check_abi(object(), "/usr/lib/libz.so")
        self.assertIn("/usr/lib/libz.so", str(caught.exception))
        self.assertIn("baton_abi_version", str(caught.exception))

    def test_missing_baton_library_path_is_reported(self) -> None:
        result = run_python(
            ["-c", "import baton; baton.Engine()"], BATON_LIBRARY="/nonexistent/libbaton.so"
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("BATON_LIBRARY=/nonexistent/libbaton.so does not exist", result.stderr)

    def test_real_library_with_wrong_abi_version_is_refused(self) -> None:
        cc = compiler()
        if cc is None:
            self.skipTest("no C compiler to build a wrong-version library")
        folder = self.make_temp_dir()
        source = os.path.join(folder, "fake.c")
        with open(source, "w") as f:
            f.write("int baton_abi_version(void) { return 2; }\n")
        fake = os.path.join(folder, "libbaton.so.2")
        subprocess.run([cc, "-shared", "-fPIC", "-o", fake, source], check=True)
        with self.assertRaises(baton.LibraryError) as caught:
            _lib.load(fake)
        self.assertIn(fake, str(caught.exception))
        self.assertIn("ABI version 2", str(caught.exception))
        # The same through BATON_LIBRARY in a fresh interpreter: import works, use fails.
        result = run_python(["-c", "import baton; baton.version()"], BATON_LIBRARY=fake)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("LibraryError", result.stderr)
        self.assertIn(f"libbaton at {fake} has ABI version 2", result.stderr)

    def test_library_next_to_the_package_is_found(self) -> None:
        folder = self.make_temp_dir()
        shutil.copytree(
            os.path.join(BINDING_ROOT, "baton"),
            os.path.join(folder, "baton"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        target = os.path.join(folder, "baton", "libbaton.so")
        os.symlink(library_path(), target)
        env = {"BATON_LIBRARY": "", "PYTHONPATH": folder}
        result = subprocess.run(
            [sys.executable, "-c",
             "import baton, baton._lib as l; baton.version(); print(l.loaded_path())"],
            env={**os.environ, **env},
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), target)

    def test_candidates_order(self) -> None:
        saved = os.environ.pop("BATON_LIBRARY", None)
        try:
            found = _lib.candidates()
            self.assertEqual(found[-1][0], "system loader")
            os.environ["BATON_LIBRARY"] = "/x/libbaton.so"
            self.assertEqual(_lib.candidates(), [("BATON_LIBRARY", "/x/libbaton.so")])
        finally:
            if saved is None:
                os.environ.pop("BATON_LIBRARY", None)
            else:
                os.environ["BATON_LIBRARY"] = saved

    def make_temp_dir(self) -> str:
        folder = tempfile.mkdtemp(prefix="baton-lib-")
        self.addCleanup(shutil.rmtree, folder, True)
        return folder


class _Callable:
    def __init__(self, value: int) -> None:
        self.value = value
        self.restype = None
        self.argtypes = None

    def __call__(self) -> int:
        return self.value


if __name__ == "__main__":
    unittest.main()
