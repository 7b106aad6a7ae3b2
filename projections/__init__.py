"""Projections: pure folds ``(state, event) -> (state, emitted)`` over touchpoint events,
the DuckDB store and the read side.

May import: schemas, the standard library, orjson, numpy/scipy (the
customer-base models), sortedcontainers (value ranks), and (in store and
query modules only) duckdb. Never streams, Faust or Kafka clients.
"""
