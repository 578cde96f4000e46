"""The trigger's arguments survive serialization, as the triggerer stores and restores them."""

from __future__ import annotations

from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts
from sparkplane.kubernetes.trigger import SparkDriverTrigger


def test_a_trigger_rebuilt_from_its_serialized_form_follows_the_same_pod_the_same_way():
    trigger = SparkDriverTrigger(
        kubernetes_conn_id="spark_cluster", namespace="spark", pod_name="job-driver",
        timeouts=FollowTimeouts(run_seconds=60).to_dict(), follower_key="abc",
        timing=FollowerTiming(log_quiet_seconds=1, log_drain_seconds=0).to_dict(),
    )  # fmt: skip
    path, kwargs = trigger.serialize()
    assert path == "sparkplane.kubernetes.trigger.SparkDriverTrigger"
    rebuilt = SparkDriverTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert FollowerTiming(**rebuilt.timing) == FollowerTiming(log_quiet_seconds=1, log_drain_seconds=0)
    assert FollowTimeouts(**rebuilt.timeouts).run_seconds == 60


def test_a_trigger_without_timing_follows_at_production_pace():
    trigger = SparkDriverTrigger(kubernetes_conn_id="c", namespace="spark", pod_name="p", timeouts={})
    assert FollowerTiming(**(trigger.timing or {})) == FollowerTiming()
