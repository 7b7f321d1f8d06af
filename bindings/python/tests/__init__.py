"""Integration tests of the baton Python binding against a real libbaton (run_tests.sh)."""
