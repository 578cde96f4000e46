"""Facts about this Airflow deployment that every worker must agree on, kept in Airflow Variables.

Workers have no database access and compose containers share no Airflow home, but every worker
can read and write Variables through Airflow's API, so a value made once by the first task that
needs it is then the same for every task of the deployment.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from sparkplane import settings
from sparkplane.exceptions import JobDefinitionError

#: The Variable holding the deployment id when ``SPARKPLANE_DEPLOYMENT_ID`` is unset.
DEPLOYMENT_ID_VARIABLE = "sparkplane_deployment_id"
#: A deployment id: part of a label value, a pod name and a hash, so short and DNS-safe.
_DEPLOYMENT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$")


def deployment_id() -> str:
    """Return this deployment's id: the setting, or the Variable made on first use."""
    value = settings.DEPLOYMENT_ID or variable_made_once(
        DEPLOYMENT_ID_VARIABLE, lambda: secrets.token_hex(4),
        description="Names this Airflow in the labels, keys and names of its Spark driver pods. Changing it "
        "makes running drivers another deployment's: their retries run the job again.",
    )  # fmt: skip
    if not _DEPLOYMENT_ID.match(value):
        raise JobDefinitionError(
            f"Deployment id {value!r} (SPARKPLANE_DEPLOYMENT_ID or the Airflow Variable {DEPLOYMENT_ID_VARIABLE}) "
            "is not usable in a pod name: use 1 to 20 lowercase letters, digits and dashes, such as 'prod'."
        )
    return value


def variable_made_once(name: str, make_value: Callable[[], str], *, description: str) -> str:
    """Return Airflow Variable ``name``, creating it with ``make_value()`` if it does not exist.

    Two first tasks racing may both write it; each returns what it reads back afterwards, so
    only a task that read back before the other's write holds a value that is not kept.
    """
    from airflow.sdk import Variable

    stored = Variable.get(name, default=None)
    if not stored:
        Variable.set(name, make_value(), description=description)
        stored = Variable.get(name)
    return stored
