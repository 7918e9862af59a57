"""The results store (DuckDB): every run kept whole, read back as plain results."""

from scalelab.store.duckdb_store import Store, StoreError, default_path

__all__ = ["Store", "StoreError", "default_path"]
