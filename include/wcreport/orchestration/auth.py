"""Airflow's own authentication and authorization, for pages mounted in the API server.

The 季度报送 dashboard never keeps a role table of its own: it asks the auth manager
Airflow is configured with (simple, FAB, Keycloak, ...) the same questions Airflow's REST
API asks before the corresponding call, so a button is offered exactly when Airflow would
carry the action out.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails, TeamDetails

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

log = logging.getLogger(__name__)

# A custom permission of our own: FAB stores it as the pair (can_read, this resource), which
# `register_fab_permissions` creates and gives to Admin; other roles get it only when granted.
RAW_FILES_RESOURCE = "Wcreport Raw Files"
# Named by no deployment. An auth manager that grants a custom view even under this name
# grants every custom view to everyone it lets in (the simple auth manager does).
_UNDEFINED_RESOURCE = "Wcreport Undefined Resource"
# Where the auth manager has teams (the simple one: its admin role is in every team).
RAW_FILES_TEAM = "wcreport-raw-files"


async def resolve_user_from_token(token: str) -> BaseUser:
    """Validate a JWT with Airflow's configured auth manager (signature, expiry, revocation)."""
    from airflow.api_fastapi.core_api.security import resolve_user_from_token as resolve

    return await resolve(token)


class AirflowPermissions:
    """The configured auth manager's answers, one method per question the dashboard asks.

    ``manager``: an auth manager instance (tests); by default the API server's own,
    looked up on each call because plugins are imported before it is initialised.
    """

    def __init__(self, manager: BaseAuthManager | None = None) -> None:
        self._manager = manager

    @property
    def manager(self) -> BaseAuthManager:
        if self._manager is not None:
            return self._manager
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager()

    def _dag(self, user: Any, dag_id: str, method: Literal["GET", "POST", "PUT"], entity: DagAccessEntity) -> bool:
        return bool(self.manager.is_authorized_dag(
            method=method, access_entity=entity, details=DagDetails(id=dag_id), user=user))

    def may_read_runs(self, user: Any, dag_id: str) -> bool:
        """GET /dags/{dag_id}/dagRuns: what the page shows is that DAG's runs' results."""
        return self._dag(user, dag_id, "GET", DagAccessEntity.RUN)

    def may_trigger(self, user: Any, dag_id: str) -> bool:
        """POST /dags/{dag_id}/dagRuns."""
        return self._dag(user, dag_id, "POST", DagAccessEntity.RUN)

    def may_clear(self, user: Any, dag_id: str) -> bool:
        """POST /dags/{dag_id}/clearTaskInstances (Airflow asks PUT on task instances)."""
        return self._dag(user, dag_id, "PUT", DagAccessEntity.TASK_INSTANCE)

    def may_read_raw_files(self, user: Any) -> bool:
        """Unit mails, ledgers, the archive: the custom permission RAW_FILES_RESOURCE.

        Where the manager decides custom views per resource (FAB, Keycloak) its answer is
        final. Where it grants any custom view to any viewer (the simple auth manager), that
        answer says nothing, and the question becomes membership of RAW_FILES_TEAM, which
        the simple auth manager grants to its admin role (and to the team's members when
        multi-team is on). A manager with neither refuses.
        """
        am = self.manager
        if not am.is_authorized_custom_view(method="GET", resource_name=RAW_FILES_RESOURCE, user=user):
            return False
        if not am.is_authorized_custom_view(method="GET", resource_name=_UNDEFINED_RESOURCE, user=user):
            return True
        try:
            return bool(am.is_authorized_team(method="GET", details=TeamDetails(name=RAW_FILES_TEAM), user=user))
        except NotImplementedError:
            log.warning("%s grants every custom view and has no teams: raw files refused to all",
                        type(am).__name__)
            return False


def register_fab_permissions() -> None:
    """Create FAB's (can_read, RAW_FILES_RESOURCE) permission and give it to Admin; idempotent.

    Run after `airflow db migrate` under the FAB auth manager (docker-compose's airflow-init).
    Grant it to another role with `airflow roles add-perms ROLE -r "Wcreport Raw Files" -a can_read`.
    """
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        appbuilder.sm.create_permission("can_read", RAW_FILES_RESOURCE)
        appbuilder.sm.update_admin_permission()
