"""Benchmarks of testio-async against a sandbox in its own process.

``python -m benchmarks`` (or ``python benchmarks/run.py``) runs every scenario; see
``benchmarks/README.md``.
"""
