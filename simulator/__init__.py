"""Synthetic touchpoints: a deterministic population acting out the CRM domain.

``generate(customers, days, seed)`` yields raw input records (JSON-able dicts,
personal data in clear text, as ``schemas.codec.seal_input`` expects) in
``occurred_at`` order; ``population(customers, seed)`` gives the hidden truth
behind them (archetype, rhythm, spend level, churn...) for tests and docs.
The same arguments always give byte-identical records: every draw comes from
a ``random.Random`` seeded by (seed, customer, task), never the clock.

Modules: ``mix`` (the proportions and where they come from), ``profiles``
(who the customers are), ``traits`` (their habits), ``timeline``, ``routine`` and
``episodes`` (what they do), ``records`` (the dicts), ``fakes`` (fake PII and
catalogues), ``clock`` (simulated time), ``stream`` (the merge).

May import: schemas and stdlib only (no numpy, no Kafka).
"""

from simulator.profiles import CustomerProfile, customer_id, population
from simulator.stream import DEFAULT_START, generate

__all__ = ["DEFAULT_START", "CustomerProfile", "customer_id", "generate", "population"]
