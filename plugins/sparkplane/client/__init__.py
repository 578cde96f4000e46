"""Trigger and follow a pipeline from a notebook or a script, through Airflow's REST API.

    from sparkplane.client import trigger
    run = trigger("daily_sales", conf={"days": 14}, wait=True)

No Airflow needed: plain HTTP (httpx) and jsonschema. Credentials come from the environment or a
netrc file (``sparkplane.client.credentials``), never from the notebook.
"""

from sparkplane.client.trigger import PipelineRun, trigger, unpause

__all__ = ["PipelineRun", "trigger", "unpause"]
