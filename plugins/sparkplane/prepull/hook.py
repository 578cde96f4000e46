"""The Kubernetes calls of the image pre-pull, on the Spark operator's hook (one method per call).

Nodes are read cluster-wide; puller pods, their owner ConfigMap and their events live in the
platform's namespace. Errors translate as the operator's do: a 403 names the missing right, a
connection that never answers is ``KubernetesApiUnreachable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sparkplane.kubernetes.api_errors import HTTP_NOT_FOUND
from sparkplane.kubernetes.hook import SparkKubernetesHook, reaching_the_api, translate_api_error

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event, V1ConfigMap, V1Node


class PrepullHook(SparkKubernetesHook):
    """The Spark operator's hook, plus what the pre-pull asks: nodes, ConfigMaps, a namespace's events."""

    @reaching_the_api
    def list_nodes(self) -> list[V1Node]:
        """Return every node of the cluster."""
        try:
            return self.core_v1.list_node(_request_timeout=self._timeout).items
        except ApiException as error:
            raise translate_api_error(error, action="list nodes (cluster-wide)") from error

    @reaching_the_api
    def create_config_map(self, manifest: dict[str, Any]) -> V1ConfigMap:
        """Create a ConfigMap; return it as created (with its uid)."""
        namespace = manifest["metadata"]["namespace"]
        try:
            return self.core_v1.create_namespaced_config_map(namespace, manifest, _request_timeout=self._timeout)
        except ApiException as error:
            raise translate_api_error(error, action=f"create configmaps in namespace {namespace!r}") from error

    @reaching_the_api
    def delete_config_map(self, name: str, namespace: str) -> bool:
        """Delete a ConfigMap, and through owner references what it owns; return False if it was gone."""
        options = client.V1DeleteOptions(propagation_policy="Background")
        try:
            self.core_v1.delete_namespaced_config_map(name, namespace, body=options, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return False
            raise translate_api_error(error, action=f"delete configmaps in namespace {namespace!r}") from error
        return True

    @reaching_the_api
    def list_pod_events_in(self, namespace: str) -> list[CoreV1Event]:
        """Return the events about pods in ``namespace`` (one call for every puller of a run)."""
        try:
            return self.core_v1.list_namespaced_event(
                namespace, field_selector="involvedObject.kind=Pod", _request_timeout=self._timeout
            ).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list events in namespace {namespace!r}") from error
