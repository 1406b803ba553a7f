"""Benchmarks and evaluations: figures about tenantry, not part of the product.

- :mod:`.ingest`: ``tenantry bench``, create latency, ingestion throughput and fetch latency of the embedded engine.
- :mod:`.server`: ``tenantry bench-server``, load test of the HTTP server on loopback.
- :mod:`.postgres`: ``tenantry bench-postgres``, fetch and ingestion on PostgreSQL against SQLite.
- :mod:`.locomo`: ``tenantry eval locomo``, evidence recall on LoCoMo.
- :mod:`.cli`: those commands; :mod:`tenantry.cli` adds them to the main CLI.
- ``_common``: what the benches share (the generated corpus, percentiles, the embedded SDK, the prefill).

This package imports the product; no product module imports it (the CLI shell, :mod:`tenantry.cli`, aside), and it
takes its configuration as :class:`~tenantry.settings.Settings` arguments, never from the environment. Both rules are
checked by ``tests/test_layering.py``.
"""
