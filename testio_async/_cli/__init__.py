"""The ``testio-async`` command line, split by concern; :mod:`testio_async.cli` is its face.

- :mod:`._args`: the argument parser and its value checks.
- :mod:`._writers`: JSONL, JSON and CSV writers that take one page of records at a time.
- :mod:`._progress`: the one-line progress bar on stderr.
- :mod:`._export`: ``testio-async executions``.
- :mod:`._serve`: ``testio-async sandbox``.
"""
