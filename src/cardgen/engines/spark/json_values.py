"""JSON values keep their types on Spark, as ``cardgen.data`` reads them.

Spark's JSON reader gives a column holding both strings and other values (``12345``, ``true``,
an object) the string type and quietly turns those values into strings, so a number would be
evaluated as a text. Such columns are read as VARIANT instead, and turned here into texts
(NULL for any value that is not a JSON string, which the text check then refuses), into JSON
tokens for labels (decoded on the driver into the Python values the local engine sees), or into
the strings Spark would have inferred, for slice columns.
"""

from __future__ import annotations

import json
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

_FRACTION = r"^(DOUBLE|FLOAT|DECIMAL\(\d+,[1-9]\d*\)|DECIMAL\((1[0-8]|[1-9]),0\))$"
"""VARIANT types of JSON numbers with a fraction or exponent: integers up to 18 digits are
kept as integer types, so a whole DECIMAL that short was written as ``1.0``."""


def variant_schema(schema: T.StructType) -> T.StructType | None:
    """``schema`` with its top-level string fields as VARIANT; None when it has none."""
    if not any(isinstance(field.dataType, T.StringType) for field in schema.fields):
        return None
    return T.StructType(
        [
            T.StructField(field.name, T.VariantType(), field.nullable, field.metadata)
            if isinstance(field.dataType, T.StringType)
            else field
            for field in schema.fields
        ]
    )


def is_variant(frame: DataFrame, name: str) -> bool:
    """Whether column ``name`` of ``frame`` holds JSON values (VARIANT)."""
    return isinstance(frame.schema[name].dataType, T.VariantType)


def as_text(value: Column) -> Column:
    """A JSON value as a text: the string it is, else NULL."""
    return F.when(F.schema_of_variant(value) == "STRING", F.variant_get(value, "$", "string"))


def as_token(value: Column) -> Column:
    """A JSON value as its JSON text (``"a"``, ``12345``, ``1.5``, ``true``); NULL for null
    or missing. A number VARIANT keeps as a decimal is written with a fraction when it was
    not a whole JSON integer (VARIANT keeps ``1.0`` as ``1``), so it reads back as a float."""
    kind, token = F.schema_of_variant(value), F.to_json(value)
    number = (
        F.when(token.startswith('"'), F.regexp_replace(token, '"', ""))  # "Infinity", "NaN"
        .when(~token.rlike("[.eE]"), F.concat(token, F.lit(".0")))
        .otherwise(token)
    )
    return F.when(~F.is_variant_null(value), F.when(kind.rlike(_FRACTION), number).otherwise(token))


def as_inferred_string(value: Column) -> Column:
    """A JSON value as Spark's inferred string column holds it: a string as itself, any other
    value as its JSON text, null as NULL."""
    return F.coalesce(as_text(value), as_token(value))


def from_token(token: str | None) -> Any:
    """The Python value of a JSON token (None for NULL), as ``json`` reads the local file."""
    return None if token is None else json.loads(token)
