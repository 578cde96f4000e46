"""The Kubernetes reads of the RBAC check, on the Spark operator's hook (one method per call).

The namespace, its two ServiceAccounts, its Roles and RoleBindings, every ClusterRole and
ClusterRoleBinding, and the API server's answer to access reviews. The operator's launcher is
built on this hook too: its preflight reads the RBAC objects to say why a driver right is
missing, and it reads a namespace it was denied in to say whether that namespace exists. Errors
translate as the operator's do: a 403 names the missing right, a connection that never answers
is ``KubernetesApiUnreachable``.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sparkplane.kubernetes.api_errors import HTTP_NOT_FOUND
from sparkplane.kubernetes.hook import SparkKubernetesHook, reaching_the_api, translate_api_error
from sparkplane.rbac.grants import RbacObjects

if TYPE_CHECKING:
    from kubernetes.client import (
        V1ClusterRole,
        V1ClusterRoleBinding,
        V1Namespace,
        V1Role,
        V1RoleBinding,
        V1SelfSubjectAccessReview,
        V1ServiceAccount,
        V1SubjectAccessReview,
    )


class RbacHook(SparkKubernetesHook):
    """The Spark operator's hook, plus what the RBAC check reads and asks."""

    @cached_property
    def rbac_v1(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self._kubernetes.api_client)

    @cached_property
    def authentication_v1(self) -> client.AuthenticationV1Api:
        return client.AuthenticationV1Api(self._kubernetes.api_client)

    @reaching_the_api
    def read_namespace(self, name: str) -> V1Namespace | None:
        """Return the namespace, or None if it does not exist."""
        try:
            return self.core_v1.read_namespace(name, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise translate_api_error(error, action="get namespaces (cluster-wide)") from error

    @reaching_the_api
    def read_service_account(self, name: str, namespace: str) -> V1ServiceAccount | None:
        """Return the ServiceAccount, or None if it does not exist."""
        try:
            return self.core_v1.read_namespaced_service_account(name, namespace, _request_timeout=self._timeout)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise translate_api_error(error, action=f"get serviceaccounts in namespace {namespace!r}") from error

    @reaching_the_api
    def list_roles(self, namespace: str) -> list[V1Role]:
        """Return the namespace's Roles."""
        try:
            return self.rbac_v1.list_namespaced_role(namespace, _request_timeout=self._timeout).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list roles in namespace {namespace!r}") from error

    @reaching_the_api
    def list_role_bindings(self, namespace: str) -> list[V1RoleBinding]:
        """Return the namespace's RoleBindings."""
        try:
            return self.rbac_v1.list_namespaced_role_binding(namespace, _request_timeout=self._timeout).items
        except ApiException as error:
            raise translate_api_error(error, action=f"list rolebindings in namespace {namespace!r}") from error

    @reaching_the_api
    def list_cluster_roles(self) -> list[V1ClusterRole]:
        """Return every ClusterRole."""
        try:
            return self.rbac_v1.list_cluster_role(_request_timeout=self._timeout).items
        except ApiException as error:
            raise translate_api_error(error, action="list clusterroles (cluster-wide)") from error

    @reaching_the_api
    def list_cluster_role_bindings(self) -> list[V1ClusterRoleBinding]:
        """Return every ClusterRoleBinding."""
        try:
            return self.rbac_v1.list_cluster_role_binding(_request_timeout=self._timeout).items
        except ApiException as error:
            raise translate_api_error(error, action="list clusterrolebindings (cluster-wide)") from error

    def rbac_objects(self, namespace: str) -> RbacObjects:
        """Return the namespace's Roles and RoleBindings and every ClusterRole and ClusterRoleBinding."""
        return RbacObjects(
            roles=self.list_roles(namespace),
            role_bindings=self.list_role_bindings(namespace),
            cluster_roles=self.list_cluster_roles(),
            cluster_role_bindings=self.list_cluster_role_bindings(),
            namespaces=frozenset({namespace}),
        )

    @reaching_the_api
    def read_own_username(self) -> str:
        """Return the user the connection acts as (a SelfSubjectReview: every user may ask it)."""
        try:
            review = self.authentication_v1.create_self_subject_review(
                client.V1SelfSubjectReview(), _request_timeout=self._timeout
            )
        except ApiException as error:
            raise translate_api_error(error, action="create selfsubjectreviews") from error
        return review.status.user_info.username

    @reaching_the_api
    def review_own_access(self, review: V1SelfSubjectAccessReview) -> bool:
        """Return whether the connection's own user may do what the review asks."""
        try:
            result = self.authorization_v1.create_self_subject_access_review(review, _request_timeout=self._timeout)
        except ApiException as error:
            raise translate_api_error(error, action="create selfsubjectaccessreviews") from error
        return bool(result.status.allowed)

    @reaching_the_api
    def review_cluster_access(self, review: V1SubjectAccessReview) -> bool:
        """Return whether the review's user may do what it asks, cluster-wide (a cluster right to ask)."""
        try:
            result = self.authorization_v1.create_subject_access_review(review, _request_timeout=self._timeout)
        except ApiException as error:
            raise translate_api_error(error, action="create subjectaccessreviews") from error
        return bool(result.status.allowed)
