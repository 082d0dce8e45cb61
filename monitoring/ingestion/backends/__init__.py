"""One module per database backend behind :class:`~.base.IngestionBackend`, chosen by vendor."""

from monitoring.ingestion.backends.base import IngestionBackend, WriteCounts


def backend_for(connection) -> IngestionBackend:
    """The ingestion backend for a Django database connection (PostgreSQL or SQLite)."""
    if connection.vendor == "postgresql":
        from monitoring.ingestion.backends.postgresql import PostgresqlBackend

        return PostgresqlBackend(connection)
    if connection.vendor == "sqlite":
        from monitoring.ingestion.backends.sqlite import SqliteBackend

        return SqliteBackend(connection)
    raise NotImplementedError(f"load_csvs supports PostgreSQL and SQLite, not {connection.vendor}.")


__all__ = ["IngestionBackend", "WriteCounts", "backend_for"]
