"""What a pre-pull run achieved, node by node: the task log's report, its XCom, its verdict. Pure.

Coverage counts eligible nodes only: nodes no Spark pod may land on are not expected to hold the
image, and unavailable nodes (cordoned, NotReady) are listed but not waited for, so neither counts
against the run. A node without the image is no outage: a Spark pod landing there pulls the image
itself, only its start is slower. ``check_threshold`` lets the DAG decide how much of that it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkplane.exceptions import PrepullIncomplete
from sparkplane.prepull.eligibility import NOT_ELIGIBLE, UNAVAILABLE
from sparkplane.prepull.progress import ALREADY_PRESENT, CANNOT_SCHEDULE, FAILED, PULLED

if TYPE_CHECKING:
    from sparkplane.prepull.eligibility import NodeVerdict
    from sparkplane.prepull.progress import PullerProgress

#: Nodes named in an exception's message; the report in the task log lists them all.
_NODES_IN_MESSAGE = 20


@dataclass
class PrepullReport:
    """The outcome of one pre-pull run.

    :param image: the image reference that was pulled.
    :param pulled: nodes the image was pulled onto, with the pull's seconds (None if unknown).
    :param already_present: nodes that held the image already.
    :param failed: nodes where the pull failed, with the kubelet's message.
    :param not_eligible: nodes no Spark pod may land on, with why.
    :param unavailable: nodes that take no pods now (cordoned, NotReady), with why.
    :param timed_out: nodes where the pull did not end in time.
    :param unschedulable: nodes whose puller the scheduler could not place, with its message.
    """

    image: str
    pulled: dict[str, float | None] = field(default_factory=dict)
    already_present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_eligible: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)
    unschedulable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, image: str, verdicts: Sequence[NodeVerdict], outcomes: Sequence[PullerProgress]) -> PrepullReport:
        """Return the report of a run: each eligible node's last outcome; none, or an unfinished one, is a time-out."""
        report = cls(image=image)
        last = {outcome.node: outcome for outcome in outcomes}
        for verdict in verdicts:
            outcome = last.get(verdict.node)
            if verdict.category == NOT_ELIGIBLE:
                report.not_eligible[verdict.node] = verdict.why
            elif verdict.category == UNAVAILABLE:
                report.unavailable[verdict.node] = verdict.why
            elif outcome is None or not outcome.final:
                report.timed_out.append(verdict.node)
            elif outcome.state == PULLED:
                report.pulled[verdict.node] = outcome.seconds
            elif outcome.state == ALREADY_PRESENT:
                report.already_present.append(verdict.node)
            elif outcome.state == FAILED:
                report.failed[verdict.node] = outcome.message
            elif outcome.state == CANNOT_SCHEDULE:
                report.unschedulable[verdict.node] = outcome.message
            else:
                report.timed_out.append(verdict.node)
        return report

    @property
    def present(self) -> list[str]:
        """Return the eligible nodes that hold the image."""
        return sorted([*self.pulled, *self.already_present])

    @property
    def missing(self) -> list[str]:
        """Return the eligible nodes that lack the image."""
        return sorted([*self.failed, *self.timed_out, *self.unschedulable])

    @property
    def eligible_count(self) -> int:
        """Return how many nodes should hold the image."""
        return len(self.present) + len(self.missing)

    @property
    def coverage_percent(self) -> float:
        """Return the share of eligible nodes holding the image, rounded down (100 when no node is eligible)."""
        # Rounded down, so a run that misses one node in 2,000 never reads as 100%.
        return math.floor(1000 * len(self.present) / self.eligible_count) / 10 if self.eligible_count else 100.0

    @property
    def coverage(self) -> str:
        """Return the coverage as people read it: ``image present on 14/16 eligible nodes``."""
        return f"image present on {len(self.present)}/{self.eligible_count} eligible nodes"

    def as_xcom(self) -> dict[str, Any]:
        """Return the report as a small JSON-able dict; empty categories are left out."""
        categories = {
            "pulled": dict(sorted(self.pulled.items())),
            "already_present": sorted(self.already_present),
            "failed": dict(sorted(self.failed.items())),
            "timed_out": sorted(self.timed_out),
            "unschedulable": dict(sorted(self.unschedulable.items())),
            "unavailable": dict(sorted(self.unavailable.items())),
            "not_eligible": dict(sorted(self.not_eligible.items())),
        }
        summary = {"image": self.image, "coverage": f"{len(self.present)}/{self.eligible_count}",
                   "coverage_percent": self.coverage_percent}  # fmt: skip
        return {**summary, **{name: nodes for name, nodes in categories.items() if nodes}}

    def log_lines(self) -> list[str]:
        """Return the report for the task log, one finding per line."""
        lines = [f"{self.image}: {self.coverage} ({self.coverage_percent:g}%)"]
        if self.pulled:
            slowest_first = sorted(self.pulled.items(), key=lambda item: -(item[1] or 0))
            times = ", ".join(f"{node} {_seconds(seconds)}" for node, seconds in slowest_first)
            lines.append(f"Pulled on {_nodes(self.pulled)}: {times}")
        if self.already_present:
            present = ", ".join(sorted(self.already_present))
            lines.append(f"Already present on {_nodes(self.already_present)}: {present}")
        if self.failed:
            lines += [f"Pull failed on {_nodes(self.failed)}:", *_by_reason(self.failed)]
        if self.unschedulable:
            lines.append(f"Puller could not be scheduled on {_nodes(self.unschedulable)}:")
            lines += _by_reason(self.unschedulable)
        if self.timed_out:
            lines.append(f"Timed out on {_nodes(self.timed_out)}: {', '.join(sorted(self.timed_out))}")
        if self.unavailable:
            lines.append(f"Unavailable, reported and not waited for, {_nodes(self.unavailable)}:")
            lines += _by_reason(self.unavailable)
        if self.not_eligible:
            lines += [f"Not eligible for Spark's pods, {_nodes(self.not_eligible)}:", *_by_reason(self.not_eligible)]
        return lines

    def check_threshold(self, min_coverage_percent: float) -> None:
        """Raise PrepullIncomplete when fewer eligible nodes than ``min_coverage_percent`` hold the image."""
        if self.eligible_count and 100 * len(self.present) >= min_coverage_percent * self.eligible_count:
            return
        if not self.eligible_count:
            if min_coverage_percent <= 0:
                return
            raise PrepullIncomplete(
                f"No node is eligible for {self.image}: {len(self.not_eligible)} nodes do not fit Spark's pods "
                f"and {len(self.unavailable)} take no pods now (the report above says why for each).",
                "check the DAG's node_selector and tolerations params against the nodes' labels and taints, "
                "or uncordon the nodes; set min_coverage_percent to 0 to accept a cluster with no eligible node.",
                nodes=[],
            )
        missing = self.missing
        named = ", ".join(f"{node} ({self._why_missing(node)})" for node in missing[:_NODES_IN_MESSAGE])
        more = f", and {len(missing) - _NODES_IN_MESSAGE} more" if len(missing) > _NODES_IN_MESSAGE else ""
        raise PrepullIncomplete(
            f"{self.image}: {self.coverage} ({self.coverage_percent:g}%), below the required "
            f"{min_coverage_percent:g}%. Nodes without it: {named}{more}.",
            " ".join([*self._fixes(), "Spark pods landing on these nodes pull the image themselves, so jobs still "
                      "run, only slower to start; lower min_coverage_percent to accept that."]),
            nodes=missing,
        )  # fmt: skip

    def _why_missing(self, node: str) -> str:
        if node in self.failed:
            return f"pull failed: {self.failed[node]}"
        if node in self.unschedulable:
            return f"puller could not be scheduled: {self.unschedulable[node]}"
        return "timed out"

    def _fixes(self) -> list[str]:
        fixes = []
        if self.failed:
            fixes.append("Where the pull failed, check that the image exists in its registry and that those nodes "
                         "can reach it and may pull it (the DAG's image pull secrets).")  # fmt: skip
        if self.unschedulable:
            fixes.append("Where the puller could not be scheduled, the scheduler's message says what the node "
                         "lacks (free pods, CPU, memory, a toleration): free room there or fix the node.")  # fmt: skip
        if self.timed_out:
            fixes.append("Where the pull timed out, raise the DAG's timeout, or lower its concurrency if the "
                         "registry is the bottleneck.")  # fmt: skip
        return fixes


def _nodes(nodes: Sequence[str] | Mapping[str, Any]) -> str:
    return f"{len(nodes)} node" if len(nodes) == 1 else f"{len(nodes)} nodes"


def _seconds(seconds: float | None) -> str:
    return f"{seconds:g} s" if seconds is not None else "(time unknown)"


def _by_reason(reasons: Mapping[str, str]) -> list[str]:
    nodes_by_reason: dict[str, list[str]] = {}
    for node, reason in sorted(reasons.items()):
        nodes_by_reason.setdefault(reason, []).append(node)
    return [f"  {', '.join(nodes)}: {reason}" for reason, nodes in nodes_by_reason.items()]
