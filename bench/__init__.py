"""Throughput benchmark: orchestrator's conductors against stock TaskFlow's.

Run ``.venv/bin/python bench/run.py --help`` from the repository root. Nothing here
is imported by the product or the tests.
"""
