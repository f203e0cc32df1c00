"""Errors of engines and drivers as one clear line (a :class:`~sop_workbook.errors.SopError`),
never with a URL's password."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import SopError

#: the package that brings each engine's SQLAlchemy dialect (``pip install …``)
DRIVER_PACKAGES = {
    "snowflake": "snowflake-sqlalchemy", "bigquery": "sqlalchemy-bigquery",
    "databricks": "databricks-sqlalchemy", "trino": "trino (its sqlalchemy extra)",
    "postgresql": "psycopg[binary]", "duckdb": "duckdb",
}

#: modules whose exceptions are an engine's or a driver's (reported as one line)
_ENGINE_MODULES = ("duckdb", "_duckdb", "psycopg", "sqlite3", "sqlalchemy", "pyspark", "py4j",
                   "trino", "snowflake", "google", "databricks", "pyhive")


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (a password) replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


def missing_driver(backend: str, url_shown: str, exc: Exception) -> SopError:
    package = DRIVER_PACKAGES.get(backend)
    hint = (f"Install {package} next to sop-workbook." if package
            else "Install the SQLAlchemy dialect of this database next to sop-workbook.")
    return SopError(f"no driver for {backend} ({url_shown}): {_first_line(exc)}", hint)


def is_engine_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in _ENGINE_MODULES


@contextlib.contextmanager
def engine_errors(source: str, secret: str | None = None) -> Iterator[None]:
    """An engine's or driver's exception raised inside becomes a one-line SopError
    naming the source (shown without its password)."""
    try:
        yield
    except SopError:
        raise
    except Exception as exc:
        if not is_engine_error(exc):
            raise
        raise SopError(f"the database {source} failed: {scrub(_first_line(exc), secret)}") \
            from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
