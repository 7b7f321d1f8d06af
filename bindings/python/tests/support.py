"""Shared helpers of the binding's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict, List, Optional

import baton

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING_ROOT = os.path.dirname(HERE)
SAMPLES = os.path.join(HERE, "samples")


def library_path() -> str:
    """The libbaton under test: BATON_LIBRARY, else the repository's build/libbaton.so."""
    env = os.environ.get("BATON_LIBRARY")
    if env:
        return os.path.abspath(env)
    return os.path.abspath(os.path.join(BINDING_ROOT, "..", "..", "build", "libbaton.so"))


def subprocess_env(**extra: str) -> Dict[str, str]:
    """The environment for a child Python that imports this source tree's baton."""
    env = dict(os.environ)
    env["BATON_LIBRARY"] = library_path()
    env["PYTHONPATH"] = os.pathsep.join(
        [BINDING_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.update(extra)
    return env


def run_python(args: List[str], cwd: Optional[str] = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable] + args,
        cwd=cwd,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=300,
    )


def compiler() -> Optional[str]:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def push_small_run(session: baton.Session, run: str, tests: int = 3, failing: int = 1) -> None:
    """run.start, then ``tests`` tests of which the last ``failing`` fail, then run.end."""
    session.push({"type": "run.start", "run": run, "name": f"run {run}"})
    for i in range(tests):
        test_id = f"{run}.t{i}"
        session.push({"type": "test.start", "run": run, "id": test_id, "name": f"t{i}"})
        status = "failed" if i >= tests - failing else "passed"
        end: Dict[str, Any] = {"type": "test.end", "run": run, "id": test_id, "status": status,
                               "duration_ms": 5 + i}
        if status == "failed":
            end["error"] = {"message": f"t{i} broke", "type": "AssertionError"}
        session.push(end)
    session.push({"type": "run.end", "run": run, "status": "failed" if failing else "passed"})


class EngineTestCase(unittest.TestCase):
    """Opens ``self.engine`` (options from :meth:`options`) and ``self.session``."""

    def options(self) -> Optional[Dict[str, Any]]:
        return None

    def setUp(self) -> None:
        self.engine = baton.Engine(self.options())
        self.addCleanup(self.engine.close)
        self.session = self.engine.session({"client": "tester"})

    def temp_dir(self) -> str:
        path = tempfile.mkdtemp(prefix="baton-py-")
        self.addCleanup(shutil.rmtree, path, True)
        return path
