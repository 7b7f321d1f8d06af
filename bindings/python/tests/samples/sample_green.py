"""A suite that passes, recorded by the baton.unittest tests."""

import unittest


class Green(unittest.TestCase):
    def test_one(self):
        self.assertEqual("a".upper(), "A")

    def test_two(self):
        self.assertIn(2, [1, 2, 3])
