"""Benchmarks of the task-tracker services: ``make bench`` or ``python -m bench [SCENARIO...]``.

Each scenario starts the service it measures on a free port with its own database, drives
it with ``wrk`` and prints figures (never assertions); the figures are also written as JSON
to ``bench/results/<scenario>.json``. A scenario is a module with a ``run()`` function,
registered in :mod:`bench.__main__`.
"""
