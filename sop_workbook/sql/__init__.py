"""SQL sources with pushed-down aggregation (issue 9).

Refresh does not pull raw transactions into pandas when a database can aggregate them:
:func:`load_aggregates` validates a source against the data contract *in SQL* and
computes *in SQL* every table *Refresh* writes, so only aggregates travel to Python.

Sources (:func:`open_source`): a folder of ``<table>.csv`` / ``.parquet`` files (loaded
into an embedded in-memory DuckDB), ``duckdb:///file.duckdb``, ``postgresql://…`` (psycopg)
or any SQLAlchemy URL of a database with the contract's tables.

Modules: :mod:`.dialect` (the per-dialect helpers), :mod:`.sources` (opening folders and
databases), :mod:`.spark` (Spark sessions), :mod:`.opening` (``open_source``: any of them),
:mod:`.validation` (typed staging and contract checks), :mod:`.sales` (sales, customer,
item-mix aggregates), :mod:`.operations` (vendor, production, funnel, pipeline, open
supply, routings/capacity), :mod:`.finance` (budget → GL, variance), :mod:`.refresh_tables`
(orchestration), :mod:`.reference` (the in-memory path, for comparison).
"""

from .opening import open_source
from .reference import in_memory_tables
from .refresh_tables import AggregateData, load_aggregates, validate
from .sources import Source

__all__ = ["AggregateData", "Source", "in_memory_tables", "load_aggregates", "open_source",
           "validate"]
