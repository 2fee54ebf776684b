"""The site's configuration (users, groups, statuses, workflows, fields, request types) and how Jira renders
each of those objects, per flavour: Cloud identifies users by ``accountId``, Data Center by ``name``/``key``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tests.simulators.servicenow.timeutil import Clock

from .seed import PRIORITIES, RESOLUTIONS
from .store import Store
from .wire import JiraError, jira_time

CATEGORY = {"new": ("2", "To Do", "blue-gray"), "indeterminate": ("4", "In Progress", "yellow"),
            "done": ("3", "Done", "green")}
SYSTEM_FIELDS = [  # id, name, schema type, orderable (settable), navigable
    ("summary", "Summary", "string", True), ("description", "Description", "string", True),
    ("issuetype", "Issue Type", "issuetype", True), ("project", "Project", "project", True),
    ("priority", "Priority", "priority", True), ("assignee", "Assignee", "user", True),
    ("reporter", "Reporter", "user", True), ("labels", "Labels", "array", True),
    ("status", "Status", "status", False), ("resolution", "Resolution", "resolution", True),
    ("resolutiondate", "Resolved", "datetime", False), ("created", "Created", "datetime", False),
    ("updated", "Updated", "datetime", False), ("comment", "Comment", "comments-page", True),
    ("issuelinks", "Linked Issues", "array", True), ("issuekey", "Key", "issuekey", False),
    ("attachment", "Attachment", "array", False),
]
CUSTOM_SCHEMA = {
    "select": ("option", None, "com.atlassian.jira.plugin.system.customfieldtypes:select"),
    "textarea": ("string", None, "com.atlassian.jira.plugin.system.customfieldtypes:textarea"),
    "datetime": ("datetime", None, "com.atlassian.jira.plugin.system.customfieldtypes:datetime"),
    "services": ("array", "service-entity-field-value",
                 "com.atlassian.jira.plugins.service-entity:service-entity-field-cftype"),
    "assets": ("array", "cmdb-object", "com.atlassian.jira.plugins.cmdb:cmdb-object-cftype"),
    "requesttype": ("sd-customerrequesttype", None, "com.atlassian.servicedesk:vp-origin"),
    "approvals": ("sd-approvals", None, "com.atlassian.servicedesk.approvals-plugin:sd-approvals"),
}


class Site:
    """Read access to the seeded configuration plus the rendering rules shared by every API."""

    def __init__(self, store: Store, clock: Clock, flavour: str, index_lag: float) -> None:
        self.store = store
        self.clock = clock
        self.flavour = flavour
        self.index_lag = index_lag if flavour == "cloud" else 0.0
        self.comment_cap = 5000
        self.link_cap = 2000
        self.attachment_cap = 2000

    @property
    def cloud(self) -> bool:
        return self.flavour == "cloud"

    def now(self) -> datetime:
        return self.clock.now().astimezone(timezone.utc)

    def now_str(self) -> str:
        return jira_time(self.clock.now())

    @property
    def workspace(self) -> str:
        return self.store.meta("workspace") or "workspace"

    # -- users --------------------------------------------------------------------------------------

    def user(self, name: str) -> dict | None:
        return self.store.get("user", name)

    def users(self) -> list[dict]:
        return self.store.all("user")

    def find_user(self, ref: object, field: str) -> dict | None:
        """A user from a request value: ``{"accountId"}`` on Cloud, ``{"name"}`` or ``{"key"}`` on Data Center."""
        if ref is None:
            return None
        if not isinstance(ref, dict):
            raise JiraError(400, errors={field: f"Specify a valid value for {field}"})
        if self.cloud:
            wanted = ref.get("accountId") or ref.get("id")
            if wanted is None and (ref.get("name") or ref.get("key")):
                raise JiraError(400, errors={field: "'accountId' must be the only user identifying property in "
                                                    "the request object."})
            found = next((u for u in self.users() if u["accountId"] == wanted), None)
        else:
            wanted = ref.get("name") or ref.get("key")
            found = self.user(str(wanted)) if wanted else None
        if found is None:
            raise JiraError(400, errors={field: f"User '{wanted}' does not exist."})
        return found

    def render_user(self, user: dict | None, base: str) -> dict | None:
        if user is None:
            return None
        common = {"emailAddress": user["emailAddress"], "displayName": user["displayName"], "active": True,
                  "timeZone": user["timeZone"]}
        if self.cloud:
            return {"self": f"{base}/rest/api/2/user?accountId={user['accountId']}",
                    "accountId": user["accountId"], **common, "accountType": "atlassian"}
        return {"self": f"{base}/rest/api/2/user?username={user['name']}", "name": user["name"],
                "key": user["key"], **common}

    def group_members(self, group: str) -> list[dict]:
        return [u for u in self.users() if group in u["groups"]]

    # -- statuses, workflows, types -------------------------------------------------------------------

    def status(self, status_id: str) -> dict:
        return self.store.get("status", status_id)

    def render_status(self, status_id: str, base: str) -> dict:
        status = self.status(status_id)
        cat_id, cat_name, colour = CATEGORY[status["category"]]
        return {"self": f"{base}/rest/api/2/status/{status_id}", "description": "", "iconUrl": "",
                "name": status["name"], "id": status_id,
                "statusCategory": {"self": f"{base}/rest/api/2/statuscategory/{cat_id}", "id": int(cat_id),
                                   "key": status["category"], "colorName": colour, "name": cat_name}}

    def issuetype(self, type_id: str) -> dict | None:
        return self.store.get("issuetype", type_id)

    def render_issuetype(self, type_id: str, base: str) -> dict:
        kind = self.issuetype(type_id)
        return {"self": f"{base}/rest/api/2/issuetype/{type_id}", "id": type_id, "description": kind["description"],
                "iconUrl": "", "name": kind["name"], "subtask": False, "hierarchyLevel": 0}

    def workflow(self, type_id: str) -> dict:
        return self.store.get("workflow", self.issuetype(type_id)["workflow"])

    def project(self, ref: str) -> dict | None:
        found = self.store.get("project", ref)
        return found or next((p for p in self.store.all("project") if p["key"].lower() == str(ref).lower()), None)

    def render_project(self, project: dict, base: str, with_types: bool = False) -> dict:
        body = {"self": f"{base}/rest/api/2/project/{project['id']}", "id": project["id"], "key": project["key"],
                "name": project["name"], "projectTypeKey": project["projectTypeKey"], "simplified": False}
        if with_types:
            body["issueTypes"] = [self.render_issuetype(t, base) for t in project["issuetypes"]]
        return body

    def priority(self, ref: object) -> tuple[str, str] | None:
        if not isinstance(ref, dict):
            return None
        return next((p for p in PRIORITIES if p[0] == str(ref.get("id")) or p[1] == ref.get("name")), None)

    def render_priority(self, priority_id: str | None, base: str) -> dict | None:
        found = next((p for p in PRIORITIES if p[0] == priority_id), None)
        return found and {"self": f"{base}/rest/api/2/priority/{found[0]}", "id": found[0], "name": found[1],
                          "iconUrl": ""}

    def resolution(self, ref: object) -> tuple[str, str] | None:
        if not isinstance(ref, dict):
            return None
        return next((r for r in RESOLUTIONS if r[0] == str(ref.get("id")) or r[1] == ref.get("name")), None)

    def render_resolution(self, resolution_id: str | None, base: str) -> dict | None:
        found = next((r for r in RESOLUTIONS if r[0] == resolution_id), None)
        return found and {"self": f"{base}/rest/api/2/resolution/{found[0]}", "id": found[0], "name": found[1],
                          "description": ""}

    # -- fields ---------------------------------------------------------------------------------------

    def custom_fields(self) -> list[dict]:
        return self.store.all("field")

    def field(self, field_id: str) -> dict | None:
        return self.store.get("field", field_id) if field_id.startswith("customfield_") else None

    def field_named(self, name: str) -> dict | None:
        return next((f for f in self.custom_fields() if f["name"].lower() == name.lower()), None)

    def field_list(self) -> list[dict]:
        fields = []
        for field_id, name, kind, orderable in SYSTEM_FIELDS:
            schema = {"type": kind, "system": field_id}
            if kind == "array":
                schema["items"] = {"labels": "string", "attachment": "attachment"}.get(field_id, "issuelinks")
            fields.append({"id": field_id, "key": field_id, "name": name, "custom": False, "orderable": orderable,
                           "navigable": True, "searchable": True, "clauseNames": [field_id], "schema": schema})
        for field in self.custom_fields():
            kind, items, custom = CUSTOM_SCHEMA[field["kind"]]
            schema = {"type": kind, "custom": custom, "customId": field["number"]}
            if items:
                schema["items"] = items
            fields.append({"id": field["id"], "key": field["id"], "name": field["name"], "custom": True,
                           "orderable": True, "navigable": True, "searchable": True,
                           "clauseNames": [f"cf[{field['number']}]", field["name"]], "schema": schema})
        return fields

    def request_type(self, type_id: str) -> dict | None:
        return self.store.get("requesttype", str(type_id))
