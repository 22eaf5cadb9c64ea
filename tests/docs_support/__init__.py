"""Helpers for tests/test_docs.py: find the code blocks of a Markdown page and run them."""
