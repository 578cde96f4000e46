from __future__ import annotations

import re
from datetime import datetime, timezone
from types import SimpleNamespace

from sparkplane.kubernetes.identity import (
    DRIVER_SELECTOR,
    TaskTry,
    deployment_drivers_selector,
    executor_selector,
    to_dns_label,
    to_label_value,
)

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

TRY = TaskTry(
    dag_id="revenue_by_region",
    task_id="revenue_by_region",
    run_id="manual__2026-11-25T10:45:24.376248+00:00",
    try_number=2,
)


def test_labels_are_valid_label_values():
    assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in TRY.labels().values())


def test_annotations_keep_the_exact_run_id():
    assert TRY.annotations()["sparkplane.dev/run-id"] == "manual__2026-11-25T10:45:24.376248+00:00"


def test_each_try_has_its_own_key_and_driver_name():
    retry = TaskTry(TRY.dag_id, TRY.task_id, TRY.run_id, try_number=3)
    mapped = TaskTry(TRY.dag_id, TRY.task_id, TRY.run_id, try_number=2, map_index=0)
    assert len({TRY.key, retry.key, mapped.key}) == 3
    assert len({TRY.driver_name(), retry.driver_name(), mapped.driver_name()}) == 3


def test_same_try_always_gets_the_same_names():
    same = TaskTry(TRY.dag_id, TRY.task_id, TRY.run_id, try_number=2)
    assert (same.key, same.driver_name(), same.selector()) == (TRY.key, TRY.driver_name(), TRY.selector())


def test_driver_name_is_a_short_dns_label_even_for_long_ids():
    long_try = TaskTry("Sales_" * 20, "9_Report." * 10, "scheduled__2026-01-01T00:00:00+00:00", 1)
    for task_try in (TRY, long_try):
        name = task_try.driver_name()
        assert DNS_1035.match(name) and len(name) <= 63 and name.endswith("-driver")


def test_selector_matches_on_the_platform_marker_and_the_try_key():
    assert TRY.selector() == f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/try-key={TRY.key}"


def test_label_and_name_cleaning():
    assert to_label_value("__a:b+c__") == "a_b_c"
    assert to_dns_label("9_Report", 20) == "job-9-report"


def test_a_driver_carries_its_trys_labels_its_role_and_its_application_id():
    assert TRY.application_id() == TRY.driver_name().removesuffix("-driver")
    assert TRY.driver_labels() == {**TRY.labels(), "spark-role": "driver", "spark-app-selector": TRY.application_id()}


def test_selectors_of_a_task_instances_drivers_and_of_an_applications_executors():
    assert TRY.drivers_selector() == f"{TRY.instance_selector()},spark-role=driver"
    assert executor_selector("app-1") == (
        "app.kubernetes.io/managed-by=sparkplane,spark-app-selector=app-1,spark-role=executor"
    )
    assert DRIVER_SELECTOR == "app.kubernetes.io/managed-by=sparkplane,spark-role=driver"


def test_a_try_is_read_from_airflows_task_instance_and_dag_run():
    mapped = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=3, map_index=4)
    unmapped = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=1, map_index=None)
    run = SimpleNamespace(start_date=datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc))
    assert TaskTry.of(mapped, run, deployment="prod") == TaskTry(
        "d", "t", "r", try_number=3, map_index=4, deployment="prod", run_started="2026-11-30T08:00:00+00:00")
    assert TaskTry.of(unmapped, run, deployment="prod").map_index == -1


def test_two_deployments_never_share_a_driver_and_a_recreated_run_never_follows_the_old_one():
    prod = TaskTry(TRY.dag_id, TRY.task_id, TRY.run_id, 2, deployment="prod", run_started="2026-11-30T08:00:00+00:00")
    staging = TaskTry(TRY.dag_id, TRY.task_id, TRY.run_id, 2, deployment="staging", run_started=prod.run_started)
    recreated = TaskTry(TRY.dag_id, TRY.task_id, TRY.run_id, 2, deployment="prod", run_started="2026-11-30T09:00:00+00:00")
    assert len({prod.instance_key, staging.instance_key, recreated.instance_key}) == 3
    assert len({prod.driver_name(), staging.driver_name(), recreated.driver_name()}) == 3
    assert prod.labels()["sparkplane.dev/deployment"] == "prod"
    assert deployment_drivers_selector("prod") == f"{DRIVER_SELECTOR},sparkplane.dev/deployment=prod"
