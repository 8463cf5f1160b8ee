"""Alembic migrations of the store, run programmatically by :meth:`skyfence.store.Store.open`."""
