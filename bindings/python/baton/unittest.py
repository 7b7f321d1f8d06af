"""Recording a unittest run into baton.

In process::

    import unittest, baton
    from baton.unittest import BatonTestRunner

    with baton.Engine() as engine, engine.session() as session:
        suite = unittest.defaultTestLoader.discover("tests")
        result = BatonTestRunner(session=session, run_id="local-1", verbosity=2).run(suite)
        print(engine.export("local-1", "junit"))

From the command line, like ``python -m unittest``::

    python -m baton.unittest discover [-s DIR] [-p PATTERN] [-t TOP]
                                      [--db PATH] [--junit FILE] [--json FILE] [--run ID]
    python -m baton.unittest [--db PATH] ... test.module test.module.Class.test_name

What is recorded: ``run.start`` and ``run.end``; ``suite.start``/``suite.end`` per
TestCase class; ``test.start``/``test.end`` per test with its status (passed, failed,
skipped), duration, error (type, message, stack), captured output with ``-b``, and the
skip reason or expected-failure outcome in ``meta``. Errors of class and module
fixtures (``setUpClass`` ...) are recorded as failed tests of their own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time
import traceback
import unittest
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple, Type

from ._engine import Engine, Session
from ._errors import BatonError, RateLimited

_MAX_TEXT = 32 * 1024  # stays below baton's default max_string_bytes (64 KiB)
_RATE_LIMIT_RETRIES = 5

ExcInfo = Tuple[Type[BaseException], BaseException, Any]


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    if len(text.encode("utf-8")) <= limit:
        return text
    clipped = text.encode("utf-8")[: limit - 20].decode("utf-8", "ignore")
    return clipped + "\n... [truncated]"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _source_file(cls: type) -> Optional[str]:
    module = sys.modules.get(cls.__module__)
    path: Optional[str] = getattr(module, "__file__", None)
    if not path:
        return None
    # Relative to the working folder (usually the repository) when it is inside it.
    full = os.path.abspath(path)
    here = os.getcwd()
    if full.startswith(here.rstrip(os.sep) + os.sep):
        return os.path.relpath(full, here)
    return full


class _TestRecord:
    __slots__ = ("id", "started", "status", "error", "meta", "subtest_errors", "subtest_error")

    def __init__(self, test_id: str) -> None:
        self.id = test_id
        self.started = time.perf_counter()
        self.status: Optional[str] = None
        self.error: Optional[Dict[str, str]] = None
        self.meta: Dict[str, Any] = {}
        self.subtest_errors: List[str] = []
        self.subtest_error: Optional[Dict[str, str]] = None


class BatonTestResult(unittest.TextTestResult):
    """A TextTestResult that also records the run into a baton session.

    It prints exactly what unittest prints. A message baton refuses does not stop the
    test run: the error is kept in :attr:`recording_errors` and reported once on the
    stream.
    """

    def __init__(
        self,
        stream: TextIO,
        descriptions: bool,
        verbosity: int,
        *,
        session: Session,
        run_id: str,
        run_name: Optional[str] = None,
        build: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(stream, descriptions, verbosity, **kwargs)
        self.session = session
        self.run_id = run_id
        self.run_name = run_name or run_id
        self.build = build
        self.recording_errors: List[BatonError] = []
        self._suite: Optional[str] = None
        self._current: Optional[_TestRecord] = None
        self._current_test: Optional[unittest.TestCase] = None

    # -- sending --

    def _send(self, message: Dict[str, Any]) -> None:
        message.setdefault("run", self.run_id)
        message.setdefault("ts", _now_ms())
        for attempt in range(_RATE_LIMIT_RETRIES + 1):
            try:
                self.session.push(message)
                return
            except RateLimited as exc:
                if attempt == _RATE_LIMIT_RETRIES:
                    self._recording_failed(exc, message)
                    return
                time.sleep((exc.retry_after_ms or 10) / 1000.0)
            except BatonError as exc:
                self._recording_failed(exc, message)
                return

    def _recording_failed(self, exc: BatonError, message: Dict[str, Any]) -> None:
        if not self.recording_errors:
            self.stream.write(
                f"\nbaton: could not record {message.get('type')} "
                f"{message.get('id', message.get('run'))}: {exc.code}: {exc}\n"
            )
            self.stream.flush()
        self.recording_errors.append(exc)

    # -- run and suites --

    def startTestRun(self) -> None:
        super().startTestRun()
        message: Dict[str, Any] = {
            "type": "run.start",
            "name": self.run_name,
            "platform": sys.platform,
            "meta": {
                "framework": "unittest",
                "python": sys.version.split()[0],
                "implementation": sys.implementation.name,
            },
        }
        if self.build:
            message["build"] = self.build
        self._send(message)

    def stopTestRun(self) -> None:
        self._end_suite()
        # TextTestRunner calls this in a `finally`: Ctrl-C is the exception in flight.
        interrupted = isinstance(sys.exc_info()[1], KeyboardInterrupt)
        if interrupted or (self.shouldStop and not self.failfast):
            status = "interrupted"
        else:
            status = "passed" if self.wasSuccessful() else "failed"
        self._send({"type": "run.end", "status": status})
        super().stopTestRun()

    def _suite_of(self, test: Any) -> Tuple[str, str, Optional[str]]:
        if not isinstance(test, unittest.TestCase):
            # A fixture error holder, described as "setUpClass (package.module.Class)":
            # it belongs to that class, or to that module.
            match = re.match(r"^\w+ \((.+)\)$", str(test))
            target = match.group(1) if match else "unittest.fixtures"
            return target, target.rsplit(".", 1)[-1], None
        cls = type(test)
        return f"{cls.__module__}.{cls.__qualname__}", cls.__qualname__, _source_file(cls)

    def _enter_suite(self, test: Any) -> str:
        suite_id, name, path = self._suite_of(test)
        if suite_id != self._suite:
            self._end_suite()
            message: Dict[str, Any] = {"type": "suite.start", "id": suite_id, "name": name}
            if path:
                message["file"] = path
            self._send(message)
            self._suite = suite_id
        return suite_id

    def _end_suite(self) -> None:
        if self._suite is not None:
            self._send({"type": "suite.end", "id": self._suite})
            self._suite = None

    # -- tests --

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._begin(test)

    def _begin(self, test: Any) -> _TestRecord:
        suite_id = self._enter_suite(test)
        record = _TestRecord(test.id())
        message: Dict[str, Any] = {
            "type": "test.start",
            "id": record.id,
            "name": getattr(test, "_testMethodName", None) or str(test),
            "suite": suite_id,
        }
        path = _source_file(type(test)) if isinstance(test, unittest.TestCase) else None
        if path:
            message["file"] = path
        self._send(message)
        self._current = record
        self._current_test = test
        return record

    def stopTest(self, test: unittest.TestCase) -> None:
        if self._current is not None and test is self._current_test:
            if self._current.status is None and isinstance(sys.exc_info()[1], KeyboardInterrupt):
                self._current.status = "interrupted"  # TestCase.run stops us in a `finally`
            stdout, stderr = self._captured_output()
            self._finish(self._current, stdout, stderr)
            self._current = None
            self._current_test = None
        super().stopTest(test)

    def _captured_output(self) -> Tuple[str, str]:
        if not self.buffer:
            return "", ""
        out = getattr(self, "_stdout_buffer", None)
        err = getattr(self, "_stderr_buffer", None)
        return (
            out.getvalue() if isinstance(out, io.StringIO) else "",
            err.getvalue() if isinstance(err, io.StringIO) else "",
        )

    def _finish(self, record: _TestRecord, stdout: str = "", stderr: str = "") -> None:
        status = record.status
        if record.subtest_errors and status in (None, "passed"):
            status = "failed"
            first = record.subtest_error or {}
            record.error = {
                "type": first.get("type", "AssertionError"),
                "message": _clip(
                    f"{len(record.subtest_errors)} subtest(s) failed: "
                    + "; ".join(record.subtest_errors)
                ),
            }
            if "stack" in first:
                record.error["stack"] = first["stack"]
        message: Dict[str, Any] = {
            "type": "test.end",
            "id": record.id,
            "status": status or "passed",
            "duration_ms": max(0, int(round((time.perf_counter() - record.started) * 1000))),
        }
        if record.error is not None:
            message["error"] = record.error
        if stdout:
            message["stdout"] = _clip(stdout)
        if stderr:
            message["stderr"] = _clip(stderr)
        if record.meta:
            message["meta"] = record.meta
        self._send(message)

    def _record_for(self, test: Any) -> Tuple[_TestRecord, bool]:
        """The record of the running test, or a new one for an outcome reported outside
        of startTest/stopTest (class and module fixtures); True when it is new."""
        if self._current is not None and test is self._current_test:
            return self._current, False
        return self._begin_detached(test), True

    def _begin_detached(self, test: Any) -> _TestRecord:
        saved = (self._current, self._current_test)
        record = self._begin(test)
        self._current, self._current_test = saved
        return record

    def _error_of(self, err: ExcInfo, test: Any) -> Dict[str, str]:
        exc_type, exc, tb = err
        # Leave out unittest's own frames, as unittest does when it prints the error.
        while tb is not None and "__unittest" in tb.tb_frame.f_globals:
            tb = tb.tb_next
        message = str(exc) or exc_type.__name__
        stack = "".join(traceback.format_exception(exc_type, exc, tb))
        return {"type": exc_type.__name__, "message": _clip(message), "stack": _clip(stack)}

    def _outcome(
        self,
        test: Any,
        status: str,
        error: Optional[Dict[str, str]] = None,
        meta: Optional[Dict[str, Any]] = None,
    ) -> None:
        record, detached = self._record_for(test)
        record.status = status
        if error is not None:
            record.error = error
        if meta:
            record.meta.update(meta)
        if detached:
            self._finish(record)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._outcome(test, "passed")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._outcome(test, "failed", self._error_of(err, test))

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._outcome(test, "failed", self._error_of(err, test), {"outcome": "error"})

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        if self._is_subtest_of_current(test):
            return
        self._outcome(test, "skipped", meta={"skip_reason": _clip(str(reason), 4096)})

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._outcome(test, "passed", meta={"outcome": "expected_failure"})

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._outcome(
            test,
            "failed",
            {"type": "UnexpectedSuccess", "message": "the test passed but was expected to fail"},
            {"outcome": "unexpected_success"},
        )

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is None or self._current is None or test is not self._current_test:
            return
        exc_type, exc, _tb = err
        description = subtest._subDescription() if hasattr(subtest, "_subDescription") else ""
        self._current.subtest_errors.append(
            f"{description or subtest.id()}: {exc_type.__name__}: {exc}"
        )
        if self._current.subtest_error is None:
            self._current.subtest_error = self._error_of(err, subtest)

    def _is_subtest_of_current(self, test: Any) -> bool:
        return (
            self._current_test is not None
            and test is not self._current_test
            and getattr(test, "test_case", None) is self._current_test
        )


class BatonTestRunner(unittest.TextTestRunner):
    """A TextTestRunner whose result also records the run into ``session`` as ``run_id``."""

    def __init__(
        self,
        *,
        session: Session,
        run_id: str,
        run_name: Optional[str] = None,
        build: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._recording = {
            "session": session,
            "run_id": run_id,
            "run_name": run_name,
            "build": build,
        }

    def _makeResult(self) -> BatonTestResult:
        kwargs: Dict[str, Any] = dict(self._recording)
        durations = getattr(self, "durations", None)
        if durations is not None:
            kwargs["durations"] = durations
        runner: Any = self  # stream, descriptions and verbosity are set by TextTestRunner
        return BatonTestResult(runner.stream, runner.descriptions, runner.verbosity, **kwargs)


# ---- command line ----------------------------------------------------------------------


def _default_run_id() -> str:
    return time.strftime("unittest-%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("baton")
    group.add_argument("--db", metavar="PATH", help="the store file (default: in memory)")
    group.add_argument("--run", metavar="ID", help="the run id (default: unittest-<time>-<pid>)")
    group.add_argument("--name", metavar="NAME", help="the run's name (default: the run id)")
    group.add_argument("--build", metavar="ID", help="the CI build id of the run")
    group.add_argument("--client", metavar="NAME", default="unittest", help="the client name")
    group.add_argument(
        "--token",
        metavar="TOKEN",
        default=os.environ.get("BATON_TOKEN"),
        help="the session token when access is configured (default: $BATON_TOKEN)",
    )
    group.add_argument("--junit", metavar="FILE", help="write the run as JUnit XML to FILE")
    group.add_argument("--json", metavar="FILE", help="write the run as baton JSON to FILE")
    group.add_argument("--options", metavar="JSON", help="more engine options, as a JSON object")
    runner = common.add_argument_group("unittest")
    runner.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=2, default=1)
    runner.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=0)
    runner.add_argument("-f", "--failfast", action="store_true", help="stop on first failure")
    runner.add_argument("-b", "--buffer", action="store_true", help="buffer stdout and stderr")
    return common


def _parse(argv: Sequence[str]) -> Tuple[argparse.Namespace, bool]:
    common = _common_options()
    if argv and argv[0] == "discover":
        parser = argparse.ArgumentParser(
            prog="python -m baton.unittest discover",
            parents=[common],
            description="Discover and run tests like `python -m unittest discover`, recording them into baton.",
        )
        parser.add_argument("-s", "--start-directory", default=".", metavar="DIR",
                            help="the folder to start discovery in (default: .)")
        parser.add_argument("-p", "--pattern", default="test*.py", metavar="PATTERN",
                            help="the pattern of test files (default: test*.py)")
        parser.add_argument("-t", "--top-level-directory", default=None, metavar="DIR",
                            help="the top-level folder of the project (default: DIR of -s)")
        return parser.parse_args(list(argv[1:])), True
    parser = argparse.ArgumentParser(
        prog="python -m baton.unittest",
        parents=[common],
        description="Run tests like `python -m unittest`, recording them into baton. "
        "Use `discover` (see `python -m baton.unittest discover -h`) to discover tests.",
    )
    parser.add_argument("tests", nargs="+", metavar="TEST", help="modules, classes or methods")
    return parser.parse_args(list(argv)), False


def _write(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit status: 0 when every test passed, 1 when
    one failed, 2 when baton could not be opened, or could not record or export the run."""
    args, discover = _parse(sys.argv[1:] if argv is None else argv)
    try:
        options: Dict[str, Any] = json.loads(args.options) if args.options else {}
    except ValueError as exc:
        sys.stderr.write(f"baton: error: --options is not a JSON object: {exc}\n")
        return 2
    if not isinstance(options, dict):
        sys.stderr.write("baton: error: --options is not a JSON object\n")
        return 2
    if args.db:
        options["path"] = args.db
    credentials: Dict[str, Any] = {"client": args.client}
    if args.token:
        credentials["token"] = args.token

    loader = unittest.TestLoader()
    if discover:
        suite = loader.discover(args.start_directory, args.pattern, args.top_level_directory)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        suite = loader.loadTestsFromNames(args.tests)

    try:
        engine = Engine(options or None)
    except BatonError as exc:
        sys.stderr.write(f"baton: error: cannot open the engine ({exc.code}): {exc}\n")
        return 2
    with engine:
        try:
            session = engine.session(credentials)
        except BatonError as exc:
            sys.stderr.write(f"baton: error: cannot open a session ({exc.code}): {exc}\n")
            return 2
        with session:
            result, problems = _run_and_report(args, engine, session, suite)
    for problem in problems:
        sys.stderr.write(f"baton: error: {problem}\n")
    if not result.wasSuccessful():
        return 1
    return 2 if problems else 0


def _run_and_report(
    args: argparse.Namespace, engine: Engine, session: Session, suite: unittest.TestSuite
) -> Tuple[BatonTestResult, List[str]]:
    run_id = args.run or _default_run_id()
    problems: List[str] = []
    runner = BatonTestRunner(
        session=session,
        run_id=run_id,
        run_name=args.name,
        build=args.build,
        verbosity=args.verbosity,
        failfast=args.failfast,
        buffer=args.buffer,
    )
    result = runner.run(suite)
    assert isinstance(result, BatonTestResult)
    if result.recording_errors:
        problems.append(
            f"{len(result.recording_errors)} message(s) could not be recorded; "
            f"first: {result.recording_errors[0]}"
        )
    engine.flush()
    for path, fmt in ((args.junit, "junit"), (args.json, "json")):
        if not path:
            continue
        try:
            _write(path, engine.export(run_id, fmt))
        except BatonError as exc:
            problems.append(
                f"the {fmt} export of this libbaton failed ({exc.code}: {exc}); "
                f"{path} was not written"
            )
    try:
        counts = engine.query({"op": "run", "run": run_id}).get("counts", {})
        summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        sys.stderr.write(f"baton: run {run_id}: {summary or 'no tests'}\n")
    except BatonError as exc:
        problems.append(f"the run summary query failed ({exc.code}: {exc})")
    return result, problems


if __name__ == "__main__":
    sys.exit(main())
