"""The puller pod and its owner ConfigMap, as manifests."""

from __future__ import annotations

import json
import re

import pytest
from kubernetes.client import ApiClient, V1ConfigMap, V1ObjectMeta

from sparkplane.prepull.labels import (
    COMPONENT_LABEL,
    NODE_ANNOTATION,
    NODE_LABEL,
    RUN_LABEL,
    check_run_key,
    node_label_value,
    run_key_of,
    run_selector,
)
from sparkplane.prepull.puller_pod import build_owner_config_map, build_puller_pod, puller_pod_name

IMAGE = "registry.example.com:5000/sparkplane/spark@sha256:" + "ab" * 32
RUN_KEY = run_key_of("image_prepull", "manual__2026-11-25T10:45:24+00:00", "2026-11-25T10:45:25+00:00")
OWNER = V1ConfigMap(metadata=V1ObjectMeta(name=f"sparkplane-prepull-{RUN_KEY}", namespace="sparkplane-system", uid="u-1"))
LONG_NODE = "ip-10-0-12-34." + "a" * 60 + ".compute.internal"
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?")


def _pod(node: str = "node-17", **overrides: object) -> dict:
    arguments = {"node_name": node, "image": IMAGE, "owner": OWNER, "run_key": RUN_KEY,
                 "priority_class_name": "sparkplane-prepull", **overrides}  # fmt: skip
    return build_puller_pod(**arguments)


def test_the_pod_passes_pod_security_restricted():
    spec = _pod()["spec"]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 65534
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = spec["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False


def test_the_pod_is_pinned_to_its_node_through_the_scheduler():
    spec = _pod()["spec"]
    assert "nodeName" not in spec
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-17"]}]}]
    }


def test_the_pod_runs_true_once_pulling_if_not_present_and_takes_almost_nothing():
    spec = _pod(active_deadline_seconds=300)["spec"]
    [container] = spec["containers"]
    assert (container["image"], container["imagePullPolicy"], container["command"]) == (IMAGE, "IfNotPresent", ["true"])
    assert container["resources"] == {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "16Mi"}}
    assert (spec["restartPolicy"], spec["terminationGracePeriodSeconds"], spec["activeDeadlineSeconds"]) == ("Never", 0, 300)
    assert spec["priorityClassName"] == "sparkplane-prepull"
    assert "priorityClassName" not in _pod(priority_class_name=None)["spec"]


def test_the_pod_carries_spark_tolerations_and_pull_secrets():
    toleration = {"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}
    spec = _pod(tolerations=[toleration], image_pull_secrets=["registry"])["spec"]
    assert spec["tolerations"] == [toleration] and spec["imagePullSecrets"] == [{"name": "registry"}]


def test_the_pod_is_owned_by_the_runs_config_map_and_labelled_for_the_run():
    metadata = _pod()["metadata"]
    assert metadata["ownerReferences"] == [{"apiVersion": "v1", "kind": "ConfigMap", "name": OWNER.metadata.name, "uid": "u-1"}]
    assert metadata["namespace"] == "sparkplane-system"
    assert metadata["labels"][COMPONENT_LABEL] == "image-prepull" and metadata["labels"][RUN_LABEL] == RUN_KEY
    assert metadata["annotations"][NODE_ANNOTATION] == "node-17"
    assert run_selector(RUN_KEY).endswith(f"{RUN_LABEL}={RUN_KEY}")


def test_an_owner_given_by_name_and_uid_works_and_one_in_another_namespace_is_refused():
    assert _pod(owner=("cm", "u-2"))["metadata"]["ownerReferences"][0]["uid"] == "u-2"
    elsewhere = V1ConfigMap(metadata=V1ObjectMeta(name="cm", namespace="spark", uid="u-3"))
    with pytest.raises(ValueError, match="do not cross namespaces"):
        _pod(owner=elsewhere)


def test_names_fit_63_characters_and_labels_stay_valid_for_long_node_names():
    metadata = _pod(LONG_NODE)["metadata"]
    assert len(metadata["name"]) <= 63 and DNS_LABEL.fullmatch(metadata["name"])
    assert len(metadata["labels"][NODE_LABEL]) <= 63 and LABEL_VALUE.fullmatch(metadata["labels"][NODE_LABEL])
    assert metadata["annotations"][NODE_ANNOTATION] == LONG_NODE
    assert node_label_value("node-17") == "node-17"
    assert node_label_value(LONG_NODE) != node_label_value(LONG_NODE[:-1] + "x")


def test_a_node_keeps_its_pod_name_within_a_run_and_nodes_differ():
    assert puller_pod_name(RUN_KEY, "node-1") == puller_pod_name(RUN_KEY, "node-1") != puller_pod_name(RUN_KEY, "node-2")


def test_a_run_key_that_cannot_be_part_of_a_name_is_refused():
    with pytest.raises(ValueError, match="run_key"):
        check_run_key("Manual__2026")
    with pytest.raises(ValueError, match="run_key"):
        build_owner_config_map("x" * 40, image=IMAGE)


def test_the_owner_config_map_records_the_image_under_the_runs_labels():
    config_map = build_owner_config_map(RUN_KEY, image=IMAGE)
    assert config_map["metadata"]["name"] == OWNER.metadata.name
    assert config_map["metadata"]["labels"][RUN_LABEL] == RUN_KEY and config_map["data"] == {"image": IMAGE}


class _Response:
    def __init__(self, manifest: dict) -> None:
        self.data = json.dumps(manifest)


@pytest.mark.parametrize("manifest", [_pod(tolerations=[{"operator": "Exists"}], image_pull_secrets=["s"]),
                                      build_owner_config_map(RUN_KEY, image=IMAGE)])  # fmt: skip
def test_every_field_of_the_manifests_is_known_to_the_kubernetes_models(manifest):
    model = ApiClient().deserialize(_Response(manifest), f"V1{manifest['kind']}")
    assert ApiClient().sanitize_for_serialization(model) == manifest
