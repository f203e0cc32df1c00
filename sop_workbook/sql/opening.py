"""``open_source``: open any source — a folder, a database URL or a Spark session.

The one module that knows every kind of source, so that :mod:`.sources` (folders and
databases) and :mod:`.spark` (which builds on :mod:`.sources`) need not import each other.
"""

from __future__ import annotations

from pathlib import Path

from .sources import Source, open_folder_or_database


def open_source(source: str | Path) -> Source:
    """Open ``source`` (a folder, a database URL or a Spark URL; see :mod:`.sources` and
    :mod:`.spark`)."""
    text = str(source)
    if "://" in text and text.startswith(("spark://", "sc://")):
        # Spark: a session, not a SQLAlchemy URL
        from .spark import open_spark

        return open_spark(text)
    return open_folder_or_database(source)
