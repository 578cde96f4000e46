"""One pre-pull of one image: choose the nodes, send pullers at a bounded pace, report, clean up.

The runner owns the waiting; every decision is a pure function of the wing (eligibility,
progress, report). It asks the API a fixed number of questions per poll, whatever the number of
nodes: the run's pods (one list), their events (one list), plus one create and one delete per
puller, so a run costs about ``2 x nodes + 2 x polls`` requests.

Cleanup happens whatever ends the run (success, a failure, a time-out, the task killed):
``clean_up`` deletes the run's owner ConfigMap, whose garbage collection takes every puller with
it even if this process dies first, and deletes the pullers it still knows itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sparkplane.exceptions import PodAlreadyExists
from sparkplane.kubernetes.identity import PREPULL_PRIORITY_CLASS
from sparkplane.prepull.constraints import SchedulingConstraints, puller_tolerations
from sparkplane.prepull.eligibility import judge_nodes
from sparkplane.prepull.images import node_has_image
from sparkplane.prepull.labels import PREPULL_NAMESPACE, run_selector
from sparkplane.prepull.progress import (
    ALREADY_PRESENT,
    FAILED,
    PULLED,
    TIMED_OUT,
    PullerProgress,
    classify_puller,
    puller_node,
)
from sparkplane.prepull.puller_pod import DEFAULT_ACTIVE_DEADLINE_SECONDS, build_owner_config_map, build_puller_pod
from sparkplane.prepull.report import PrepullReport

if TYPE_CHECKING:
    import logging

    from kubernetes.client import CoreV1Event, V1Pod

    from sparkplane.prepull.hook import PrepullHook

@dataclass(frozen=True)
class PrepullPlan:
    """What one pre-pull does.

    :param image: the image reference to pull, as Spark's pods name it (by digest).
    :param kinds: where Spark's pods may land (``constraints.constraints_from_pod_templates``).
    :param concurrency: how many nodes pull at once; 0 for all eligible nodes at once.
    :param pull_timeout_seconds: how long one node may take, from its puller's creation.
    :param run_timeout_seconds: how long the whole run may take; nodes not started by then are timed out.
    :param unschedulable_grace_seconds: how long a puller may stay unschedulable before the node is reported so.
    :param poll_interval_seconds: how often the pullers are read.
    :param progress_interval_seconds: how often each unfinished node's progress is logged.
    :param priority_class_name: the pullers' PriorityClass (None: the cluster's default).
    :param image_pull_secrets: Secrets in the pullers' namespace with the registry's credentials.
    """

    image: str
    kinds: Sequence[SchedulingConstraints] = field(default_factory=lambda: [SchedulingConstraints()])
    concurrency: int = 10
    pull_timeout_seconds: float = 900
    run_timeout_seconds: float | None = None
    unschedulable_grace_seconds: float = 60
    poll_interval_seconds: float = 2
    progress_interval_seconds: float = 30
    priority_class_name: str | None = PREPULL_PRIORITY_CLASS
    image_pull_secrets: Sequence[str] = ()


class PrepullRun:
    """Pull one image onto every eligible node that lacks it.

    :param hook: the pre-pull's Kubernetes calls.
    :param plan: what to pull, where and how fast.
    :param run_key: names this run's objects (``labels.run_key_of``).
    :param log: the task's logger.
    :param namespace: where pullers and their owner live.
    :param clock: the current time (tests pass their own).
    """

    def __init__(
        self,
        hook: PrepullHook,
        plan: PrepullPlan,
        *,
        run_key: str,
        log: logging.Logger,
        namespace: str = PREPULL_NAMESPACE,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.hook, self.plan, self.run_key, self.log, self.namespace, self.clock = hook, plan, run_key, log, namespace, clock
        self._owner: tuple[str, str] | None = None
        self._pullers: dict[str, str] = {}  # node -> puller pod name, while outstanding
        self._logged_at: dict[str, float] = {}

    def run(self) -> PrepullReport:
        """Pull where needed; return the report (nodes that failed are in it, nothing is raised for them)."""
        started = time.monotonic()
        nodes = sorted(self.hook.list_nodes(), key=lambda node: node.metadata.name)
        verdicts = judge_nodes(nodes, self.plan.kinds)
        eligible = {verdict.node for verdict in verdicts if verdict.eligible}
        outcomes: list[PullerProgress] = []
        queue = []
        for node in nodes:
            name = node.metadata.name
            if name not in eligible:
                continue
            if node_has_image(node, self.plan.image):  # what the kubelet lists; a miss is no proof
                outcomes.append(PullerProgress(name, ALREADY_PRESENT, message="listed in the node's status"))
            else:
                queue.append(name)
        self.log.info(
            "Pre-pull of %s: %d nodes, %d eligible, %d list the image already, %d to pull on (%s at once)",
            self.plan.image, len(nodes), len(eligible), len(eligible) - len(queue), len(queue),
            self.plan.concurrency or "all",
        )  # fmt: skip
        try:
            if queue:
                outcomes += self._pull_on(queue, started=started)
        finally:
            self.clean_up()
        return PrepullReport.of(self.plan.image, verdicts, outcomes)

    def clean_up(self) -> None:
        """Delete this run's pullers and their owner (idempotent; also from another thread, on a kill)."""
        if self._owner is not None:
            self.hook.delete_config_map(self._owner[0], self.namespace)  # the garbage collector takes the pods
        for pod in self.hook.list_pods(self.namespace, run_selector(self.run_key)):
            if pod.metadata.deletion_timestamp is None:
                self.hook.delete_pod(pod.metadata.name, self.namespace, grace_period_seconds=0)
        self._pullers.clear()

    # --- the pulls ------------------------------------------------------------------------

    def _pull_on(self, queue: list[str], *, started: float) -> list[PullerProgress]:
        owner = self.hook.create_config_map(build_owner_config_map(self.run_key, self.namespace, image=self.plan.image))
        self._owner = (owner.metadata.name, owner.metadata.uid)
        tolerations = puller_tolerations(self.plan.kinds)
        outcomes: list[PullerProgress] = []
        while queue or self._pullers:
            while queue and (self.plan.concurrency <= 0 or len(self._pullers) < self.plan.concurrency):
                self._start_puller(queue.pop(0), tolerations)
            time.sleep(self.plan.poll_interval_seconds)
            outcomes += self._finished_pulls()
            if self._out_of_time(started):
                now = self.clock()
                for node in sorted(self._pullers):
                    outcomes.append(PullerProgress(node, TIMED_OUT, message="the run's time is up"))
                    self.log.warning("%s", outcomes[-1].line(now))
                outcomes += [PullerProgress(node, TIMED_OUT, message="not started: the run's time is up") for node in queue]
                break
        return outcomes

    def _start_puller(self, node: str, tolerations: list[dict]) -> None:
        pod = build_puller_pod(
            node_name=node, image=self.plan.image, owner=self._owner, run_key=self.run_key, namespace=self.namespace,
            priority_class_name=self.plan.priority_class_name, tolerations=tolerations,
            active_deadline_seconds=max(DEFAULT_ACTIVE_DEADLINE_SECONDS, int(self.plan.pull_timeout_seconds) + 60),
            image_pull_secrets=self.plan.image_pull_secrets,
        )  # fmt: skip
        with contextlib.suppress(PodAlreadyExists):  # created by a call whose answer was lost
            self.hook.create_pod(pod)
        self._pullers[node] = pod["metadata"]["name"]
        self._logged_at[node] = time.monotonic()

    def _finished_pulls(self) -> list[PullerProgress]:
        """Read every puller once; delete and return those that are done, log the others' progress now and then."""
        pods = {puller_node(pod): pod for pod in self.hook.list_pods(self.namespace, run_selector(self.run_key))}
        events = _by_pod(self.hook.list_pod_events_in(self.namespace))
        now, finished = self.clock(), []
        for node, name in sorted(self._pullers.items()):
            pod = pods.get(node)
            progress = self._progress(node, pod, events.get(name, []), now)
            if progress.final:
                finished.append(progress)
                (self.log.info if progress.state in (PULLED, ALREADY_PRESENT) else self.log.warning)(
                    "%s", progress.line(now))  # fmt: skip
                if pod is not None:
                    self.hook.delete_pod(name, self.namespace, grace_period_seconds=0)
                del self._pullers[node]
            elif time.monotonic() - self._logged_at[node] >= self.plan.progress_interval_seconds:
                self.log.info("%s", progress.line(now))
                self._logged_at[node] = time.monotonic()
        return finished

    def _progress(self, node: str, pod: V1Pod | None, events: list[CoreV1Event], now: datetime) -> PullerProgress:
        if pod is None:
            return PullerProgress(node, FAILED, message="its puller pod was deleted by someone else before it ended")
        return classify_puller(pod, events, now=now, timeout_seconds=self.plan.pull_timeout_seconds,
                               unschedulable_grace_seconds=self.plan.unschedulable_grace_seconds)  # fmt: skip

    def _out_of_time(self, started: float) -> bool:
        limit = self.plan.run_timeout_seconds
        return limit is not None and time.monotonic() - started > limit


def _by_pod(events: Sequence[CoreV1Event]) -> dict[str, list[CoreV1Event]]:
    grouped: dict[str, list[CoreV1Event]] = {}
    for event in events:
        grouped.setdefault(event.involved_object.name, []).append(event)
    return grouped
