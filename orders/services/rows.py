"""Many saved rows of one model, each with its own values, written by one statement.

Django's ``bulk_update`` builds ``SET f = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END`` for
every field: compiling those expressions costs about a millisecond of CPU a row for a model as
wide as an order, more than the rest of the work a bulk placement does for it. On PostgreSQL
``rows_update`` sends the rows as a VALUES list instead (``UPDATE t SET f = v.f FROM (VALUES …)
AS v WHERE t.id = v.id``), each value cast to its column's type, and a column with the same value
in every row is set once instead; elsewhere (the embedded SQLite) it is ``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Field, Model

MAX_PARAMETERS = 60_000  # below PostgreSQL's 65,535 bind parameters a statement


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of each of ``rows`` (saved instances of one model; no ``pre_save``: set
    ``auto_now`` fields yourself); how many rows the database changed."""
    if not rows or not fields:
        return 0
    model = type(rows[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(rows, list(fields))
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    named: list[Field] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    per_statement = max(1, MAX_PARAMETERS // (len(named) + 1))
    changed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            values = {
                column: [column.get_db_prep_save(getattr(row, column.attname), connection) for row in part]
                for column in named
            }
            # A column with one value for every row is set once; the others come with each row.
            same = [column for column in named if _all_equal(values[column])]
            varying = [pk, *(column for column in named if column not in same)]
            values[pk] = [pk.get_db_prep_save(row.pk, connection) for row in part]
            assignments = [f"{quote(column.column)} = CAST(%s AS {_cast_type(column)})" for column in same]
            assignments += [f"{quote(column.column)} = v.column{index}" for index, column in enumerate(varying[1:], 2)]
            row_sql = "(" + ", ".join(f"CAST(%s AS {_cast_type(column)})" for column in varying) + ")"
            params = [values[column][0] for column in same]
            params += [values[column][index] for index in range(len(part)) for column in varying]
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608 - names from the model, values bound
                f"FROM (VALUES {', '.join([row_sql] * len(part))}) AS v WHERE {table}.{quote(pk.column)} = v.column1",
                params,
            )
            changed += cursor.rowcount
    return changed


def _all_equal(values: list[object]) -> bool:
    first = values[0]
    try:
        return all(type(value) is type(first) and value == first for value in values)
    except TypeError:  # values that do not compare
        return False


def _cast_type(column: Field) -> str:
    """The column's type for the VALUES list; strings as ``text``: an explicit CAST to
    ``varchar(n)`` would cut a value that is too long, the column's assignment refuses it."""
    db_type = str(column.db_type(connection))
    return "text" if db_type.startswith(("varchar", "char")) else db_type
