"""The Kubernetes API as the Spark operator uses it: one method per call, errors translated.

The connection (kubeconfig, in-cluster, context) is the cncf.kubernetes provider's
``KubernetesHook``; this hook only adds the calls the platform makes and turns the API's
exceptions into the platform's, with messages that say which permission or object is missing.

Every call passes ``_request_timeout=(connect, read)``, so a silent API server (a half-open
connection) ends the call with a urllib3 timeout error instead of blocking the task for ever.
urllib3 retries a GET or DELETE that timed out up to three times (its default, kept), so such a
call gives up after at most four timeouts; a POST (create) is not retried. TCP keepalive on the
client's connections is the provider's (see ``api_errors``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3
from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sparkplane.exceptions import (
    KubernetesApiUnreachable,
    KubernetesPermissionDenied,
    PodAlreadyExists,
    PodChanged,
    PodRejected,
    QuotaExceeded,
)
from sparkplane.kubernetes.api_errors import (
    CONNECT_TIMEOUT_SECONDS,
    HTTP_BAD_REQUEST,
    HTTP_CONFLICT,
    HTTP_FORBIDDEN,
    HTTP_NOT_FOUND,
    READ_TIMEOUT_SECONDS,
)

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event, V1ConfigMap, V1Node, V1Pod, V1ResourceQuota


Result = TypeVar("Result")


def reaching_the_api(call: Callable[..., Result]) -> Callable[..., Result]:
    """Turn a hook call's connection failure into ``KubernetesApiUnreachable``, which a retry may cure."""

    @functools.wraps(call)
    def calling(self: SparkKubernetesHook, *args: Any, **kwargs: Any) -> Result:
        try:
            return call(self, *args, **kwargs)
        except urllib3.exceptions.HTTPError as error:  # refused, reset, timed out; urllib3's retries spent
            raise KubernetesApiUnreachable(
                server=self.server, call=call.__name__.replace("_", " "), detail=f"{type(error).__name__}: {error}"
            ) from error

    return calling


class SparkKubernetesHook:
    """Calls to the Kubernetes API on behalf of the Spark operator.

    :param kubernetes_conn_id: the Airflow connection of the cluster (type ``kubernetes``).
    :param connect_timeout_seconds: how long opening a connection (TCP and TLS) may take.
    :param read_timeout_seconds: how long the API server may stay silent while answering a call.
    """

    def __init__(
        self,
        kubernetes_conn_id: str,
        *,
        connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.kubernetes_conn_id = kubernetes_conn_id
        self.connect_timeout_seconds = connect_timeout_seconds
        self.read_timeout_seconds = read_timeout_seconds

    @property
    def _timeout(self) -> tuple[float, float]:
        """The ``_request_timeout`` of every call: (connect, read)."""
        return (self.connect_timeout_seconds, self.read_timeout_seconds)

    @cached_property
    def _kubernetes(self) -> KubernetesHook:
        return KubernetesHook(conn_id=self.kubernetes_conn_id)

    @property
    def server(self) -> str:
        """The API server's address, as the connection gives it."""
        return self._kubernetes.api_client.configuration.host

    @cached_property
    def core_v1(self) -> client.CoreV1Api:
        return self._kubernetes.core_v1_client

    @cached_property
    def authorization_v1(self) -> client.AuthorizationV1Api:
        return client.AuthorizationV1Api(self._kubernetes.api_client)

    @reaching_the_api
    def create_pod(self, manifest: dict[str, Any]) -> V1Pod:
        """Create a pod; raise ``PodAlreadyExists`` if one of that name is there already."""
        namespace = manifest["metadata"]["namespace"]
        try:
            return self.core_v1.create_namespaced_pod(
                namespace=namespace, body=manifest, _request_timeout=self._timeout
            )
        except ApiException as error:
            if error.status == HTTP_CONFLICT:
                raise PodAlreadyExists(manifest["metadata"]["name"], namespace) from error
            raise translate_api_error(error, action=f"create pods in namespace {namespace!r}") from error

    @reaching_the_api
    def read_pod(self, name: str, namespace: str) -> V1Pod | None:
        """Return the pod, or None if it does not exist."""
        try:
            return self.core_v1.read_namespaced_pod(name=name, namespace=namespace, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise translate_api_error(error, action=f"get pods in namespace {namespace!r}") from error

    @reaching_the_api
    def annotate_pod(self, name: str, namespace: str, annotations: dict[str, str], *, uid: str) -> None:
        """Add annotations to the pod with exactly this uid (a pod re-created under the name is refused)."""
        body = {"metadata": {"uid": uid, "annotations": annotations}}
        try:
            self.core_v1.patch_namespaced_pod(name=name, namespace=namespace, body=body, _request_timeout=self._timeout)
        except ApiException as error:
            raise translate_api_error(error, action=f"patch pods in namespace {namespace!r}") from error

    @reaching_the_api
    def create_secret(self, manifest: dict[str, Any]) -> bool:
        """Create a Secret; return False if one of that name exists already (it is never read)."""
        namespace = manifest["metadata"]["namespace"]
        try:
            self.core_v1.create_namespaced_secret(namespace=namespace, body=manifest, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_CONFLICT:
                return False
            raise translate_api_error(error, action=f"create secrets in namespace {namespace!r}") from error
        return True

    @reaching_the_api
    def list_pods(self, namespace: str, label_selector: str) -> list[V1Pod]:
        """Return the pods matching ``label_selector``."""
        try:
            return self.core_v1.list_namespaced_pod(
                namespace=namespace, label_selector=label_selector, _request_timeout=self._timeout
            ).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list pods in namespace {namespace!r}") from error

    @reaching_the_api
    def delete_pod(
        self,
        name: str,
        namespace: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> bool:
        """Delete the pod and, through owner references, what it owns; return False if it was gone.

        With ``uid`` (and ``resource_version``) only that very pod, unchanged since it was read, is
        deleted; otherwise ``PodChanged`` is raised and nothing is deleted.
        """
        preconditions = client.V1Preconditions(uid=uid, resource_version=resource_version) if uid else None
        options = client.V1DeleteOptions(
            grace_period_seconds=grace_period_seconds, propagation_policy="Background", preconditions=preconditions
        )
        try:
            self.core_v1.delete_namespaced_pod(name=name, namespace=namespace, body=options, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return False
            if error.status == HTTP_CONFLICT and preconditions is not None:
                raise PodChanged(name, namespace) from error
            raise translate_api_error(error, action=f"delete pods in namespace {namespace!r}") from error
        return True

    @reaching_the_api
    def list_config_maps(self, namespace: str, label_selector: str) -> list[V1ConfigMap]:
        """Return the ConfigMaps matching ``label_selector``."""
        try:
            return self.core_v1.list_namespaced_config_map(
                namespace=namespace, label_selector=label_selector, _request_timeout=self._timeout
            ).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list configmaps in namespace {namespace!r}") from error

    @reaching_the_api
    def delete_config_map(self, name: str, namespace: str, *, uid: str) -> bool:
        """Delete the ConfigMap with exactly this uid and what it owns; return False if it was gone."""
        options = client.V1DeleteOptions(propagation_policy="Background", preconditions=client.V1Preconditions(uid=uid))
        try:
            self.core_v1.delete_namespaced_config_map(name=name, namespace=namespace, body=options,
                                                      _request_timeout=self._timeout)  # fmt: skip
        except ApiException as error:
            if error.status in (HTTP_NOT_FOUND, HTTP_CONFLICT):  # gone, or another object under the name now
                return False
            raise translate_api_error(error, action=f"delete configmaps in namespace {namespace!r}") from error
        return True

    @reaching_the_api
    def list_pod_events(self, name: str, namespace: str) -> list[CoreV1Event]:
        """Return the events about one pod, oldest first."""
        try:
            events = self.core_v1.list_namespaced_event(
                namespace=namespace,
                field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}",
                _request_timeout=self._timeout,
            ).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list events in namespace {namespace!r}") from error
        return sorted(events, key=lambda e: (e.last_timestamp or e.event_time or e.metadata.creation_timestamp))

    @reaching_the_api
    def read_pod_log_tail(self, name: str, namespace: str, *, container: str, lines: int) -> list[str]:
        """Return the last ``lines`` lines a container wrote (empty if none can be read)."""
        try:
            # Raw bytes: this client version hands a preloaded log back as the repr of bytes
            # ("b'...\\n...'"), one line with escaped newlines.
            response = self.core_v1.read_namespaced_pod_log(
                name=name, namespace=namespace, container=container, tail_lines=lines, _preload_content=False,
                _request_timeout=self._timeout,
            )  # fmt: skip
        except ApiException as error:
            if error.status in (HTTP_NOT_FOUND, HTTP_BAD_REQUEST):  # pod gone, or container never started
                return []
            raise translate_api_error(error, action=f"get pods/log in namespace {namespace!r}") from error
        return response.data.decode("utf-8", errors="replace").splitlines()

    @reaching_the_api
    def read_node(self, name: str) -> V1Node | None:
        """Return the node, or None if it does not exist (any more)."""
        try:
            return self.core_v1.read_node(name, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise translate_api_error(error, action="get nodes (cluster-wide)") from error

    @reaching_the_api
    def list_resource_quotas(self, namespace: str) -> list[V1ResourceQuota]:
        """Return the namespace's ResourceQuotas, each with what it allows and has used."""
        try:
            return self.core_v1.list_namespaced_resource_quota(namespace=namespace, _request_timeout=self._timeout).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list resourcequotas in namespace {namespace!r}") from error

    def is_allowed(self, *, service_account: str, namespace: str, verb: str, resource: str, subresource: str = "") -> bool:
        """Return whether ``service_account`` of ``namespace`` may ``verb`` ``resource`` there."""
        review = client.V1LocalSubjectAccessReview(
            metadata=client.V1ObjectMeta(namespace=namespace),
            spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{namespace}:{service_account}",
                groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                resource_attributes=client.V1ResourceAttributes(
                    namespace=namespace, verb=verb, resource=resource, subresource=subresource or None
                ),
            ),
        )
        return self.review_access(review)

    @reaching_the_api
    def review_access(self, review: client.V1LocalSubjectAccessReview) -> bool:
        """Return whether the review's user may do what it asks in the review's namespace."""
        namespace = review.metadata.namespace
        try:
            result = self.authorization_v1.create_namespaced_local_subject_access_review(
                namespace, review, _request_timeout=self._timeout
            )
        except ApiException as error:
            raise translate_api_error(error, action=f"create localsubjectaccessreviews in namespace {namespace!r}") from error
        return bool(result.status.allowed)


#: Fixes for an admission refusal (a 403 that is not RBAC's), by what the API server's message names.
_ADMISSION_FIXES = {
    "violates PodSecurity": "remove what the message names from the task's pod_template (the spark namespace "
    "enforces Pod Security 'restricted': no hostPath volumes, privileged containers or root).",
    "ValidatingAdmissionPolicy": "the namespace's admission policies (spark-bootstrap/30-admission-policies.yaml) "
    "refused the pod for the reason above; the platform team keeps their parameters in ConfigMap "
    "sparkplane-system/sparkplane-admission.",
}


def translate_api_error(error: ApiException, *, action: str) -> Exception:
    """Return the platform's exception for an API error: admission and quota refusals are not RBAC's."""
    if error.status != HTTP_FORBIDDEN:
        return error
    message = _api_message(error)
    fix = next((fix for marker, fix in _ADMISSION_FIXES.items() if marker in message), None)
    if fix is not None:
        return PodRejected(message, fix=fix)
    if "exceeded quota" in message:
        return QuotaExceeded(message)
    return KubernetesPermissionDenied(action=action, detail=message)


def _api_message(error: ApiException) -> str:
    try:
        return json.loads(error.body or "{}").get("message") or str(error.reason)
    except ValueError:
        return str(error.reason)
