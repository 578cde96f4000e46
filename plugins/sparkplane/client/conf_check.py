"""A run's conf checked against the DAG's Params before anything is triggered.

Airflow checks too, and answers 400 "Invalid input for param ..."; checking here first names the
key, the value and the bound in the notebook's cell, and catches two things the server lets
through: a key that is no Param (silently ignored there) and a float for an integer Param
(``2.0`` passes JSON Schema's ``integer`` and then renders as ``--days 2.0``, which the job's
option refuses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema


class ConfError(ValueError):
    """A conf value a Param refuses; the message names the key."""


def check_conf(conf: Mapping[str, Any], params: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Return warnings about ``conf`` (keys that are not Params); raise ``ConfError`` on a bad value.

    :param conf: what the run is to be triggered with.
    :param params: the DAG's Params as ``/api/v2/dags/{dag_id}/details`` gives them:
        name -> ``{"value": ..., "schema": {...}, "description": ...}``.
    """
    warnings = []
    for key, value in conf.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            warnings.append(f"conf key {key!r} is not a Param of this DAG and is ignored by its tasks (Params: {known})")
            continue
        schema = params[key].get("schema") or {}
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        if "integer" in types and "number" not in types and isinstance(value, float):
            raise ConfError(f"conf[{key!r}] = {value!r} is a float, and Param {key!r} takes a whole number: "
                            f"pass {int(value) if value.is_integer() else round(value)}.")  # fmt: skip
        try:
            jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as error:
            described = params[key].get("description")
            raise ConfError(f"conf[{key!r}] = {value!r} is refused by Param {key!r}: {error.message}"
                            + (f" ({described})" if described else "")) from None  # fmt: skip
    return warnings
