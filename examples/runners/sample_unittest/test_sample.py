"""Sample tests for unittest_ws.py. SAMPLE_DELAY_S slows each test down, so a
test of the runner can restart the server while the run is in progress."""
import os
import time
import unittest

DELAY = float(os.environ.get("SAMPLE_DELAY_S", "0"))


class Arithmetic(unittest.TestCase):
    def setUp(self):
        time.sleep(DELAY)

    def test_adds(self):
        self.assertEqual(2 + 3, 5)

    def test_multiplies(self):
        self.assertEqual(6 * 7, 42)

    def test_divides(self):
        self.assertAlmostEqual(1 / 3, 0.3333, places=4)

    def test_powers(self):
        for n in range(4):
            with self.subTest(n=n):
                self.assertEqual(2 ** n, 1 << n)


class Text(unittest.TestCase):
    def setUp(self):
        time.sleep(DELAY)

    def test_upper(self):
        self.assertEqual("baton".upper(), "BATON")

    def test_split(self):
        self.assertEqual("a,b,c".split(","), ["a", "b", "c"])

    @unittest.skip("shows a skipped test")
    def test_unicode_width(self):
        pass

    def test_fails_when_asked(self):
        # Fails only when SAMPLE_FAIL is set: the runner's failure path, on demand.
        self.assertFalse(os.environ.get("SAMPLE_FAIL"), "SAMPLE_FAIL is set")
