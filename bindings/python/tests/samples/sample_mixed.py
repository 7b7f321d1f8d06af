"""A small suite with every outcome unittest knows, recorded by the baton.unittest tests."""

import sys
import unittest


class Arithmetic(unittest.TestCase):
    def test_adds(self):
        self.assertEqual(1 + 1, 2)

    def test_fails(self):
        self.assertEqual(2 * 2, 5, "multiplication is broken")

    def test_errors(self):
        raise KeyError("missing-key")

    @unittest.skip("not on this platform")
    def test_skipped(self):
        self.fail("never runs")

    @unittest.expectedFailure
    def test_known_bug(self):
        self.assertEqual(0.1 + 0.2, 0.3)

    def test_subtests(self):
        for n in (1, 2, 3):
            with self.subTest(n=n):
                self.assertNotEqual(n, 2)


class Output(unittest.TestCase):
    def test_prints(self):
        print("hello from the test")
        sys.stderr.write("a warning\n")

    def test_passes(self):
        self.assertTrue(True)


class BrokenFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("database unavailable")

    def test_never_runs(self):
        pass
