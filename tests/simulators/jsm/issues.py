"""Issues: create, edit, workflow transitions, comments (internal and public), properties, rendering.

Values are validated before anything is written, so a 400 leaves the issue as it was.  Field errors use
Jira's ``errors`` map keyed by field id (jira-api.md §6).
"""

from __future__ import annotations

import time

from . import approvals
from .site import Site
from .wire import JiraError, jira_time, not_found_issue, parse_time

NOT_SETTABLE = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
DONE_RESOLUTION = {"Declined": "10002", "Canceled": "10001"}  # other done statuses resolve as "Done" (10000)


def adf(text: str) -> dict:
    """Plain text as an Atlassian Document (v3 bodies): one paragraph per line."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")]}


def adf_text(node: object) -> str:
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        parts = [adf_text(child) for child in node.get("content", [])]
        return ("\n" if node.get("type") == "doc" else "").join(parts)
    return ""


def body_in(value: object, version: str, field: str) -> str:
    """A text body from a request: a string on v2, an Atlassian Document on v3."""
    if version == "3":
        if not (isinstance(value, dict) and value.get("type") == "doc"):
            raise JiraError(400, errors={field: "Operation value must be an Atlassian Document (see the Atlassian "
                                                "Document Format)"})
        return adf_text(value)
    if not isinstance(value, str):
        raise JiraError(400, errors={field: "Operation value must be a string"})
    return value


def body_out(text: str | None, version: str) -> object:
    if text is None:
        return None
    return adf(text) if version == "3" else text


class Issues:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.store = site.store

    # -- lookup -----------------------------------------------------------------------------------

    def find(self, ref: str) -> dict | None:
        ref = str(ref)
        if ref.isdigit():
            return self.store.get("issue", ref)
        mapped = self.store.get("issuekey", ref.upper())
        return self.store.get("issue", mapped["id"]) if mapped else None

    def get(self, ref: str) -> dict:
        issue = self.find(ref)
        if issue is None:
            raise not_found_issue()
        return issue

    def all(self) -> list[dict]:
        return self.store.all("issue")

    def save(self, issue: dict, user: dict | None = None) -> None:
        issue["updated"] = self.site.now_str()
        self.store.put("issue", issue["id"], issue)

    # -- create and edit ----------------------------------------------------------------------------

    def create(self, user: dict, fields: object, update: object, properties: object, version: str,
               request_type: dict | None = None) -> dict:
        if not isinstance(fields, dict):
            raise JiraError(400, "Can not deserialize instance of fields out of the request body.")
        errors = {}
        project = fields.get("project")
        project = self.site.project(str(project.get("id") or project.get("key"))) if isinstance(project, dict) else None
        if project is None:
            errors["project"] = "Specify a valid project ID or key"
        kind = fields.get("issuetype")
        type_id = None
        if isinstance(kind, dict) and project:
            type_id = next((t for t in project["issuetypes"] if t == str(kind.get("id"))
                            or self.site.issuetype(t)["name"].lower() == str(kind.get("name", "")).lower()), None)
        if type_id is None:
            errors["issuetype"] = "Specify a valid issue type" if kind else "Specify an issue type"
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        changes = self._field_changes({k: v for k, v in fields.items() if k not in ("project", "issuetype")},
                                      version, errors, creating=True)
        changes += self._update_ops(update, version, errors)
        props = self._properties_in(properties, errors)
        if errors:
            raise JiraError(400, errors=errors)
        number = self.store.next_id(f"issuenum:{project['id']}", 1)
        issue_id = str(self.store.next_id("issue", 10001))
        now = self.site.now_str()
        workflow = self.site.workflow(type_id)
        issue = {"id": issue_id, "key": f"{project['key']}-{number}", "number": number, "projectId": project["id"],
                 "issuetypeId": type_id, "statusId": workflow["initial"], "summary": "", "description": None,
                 "priority": "3", "assignee": None, "reporter": user["name"], "labels": [], "resolution": None,
                 "resolutiondate": None, "created": now, "updated": now, "custom": {}, "properties": props,
                 "requestTypeId": request_type["id"] if request_type else None, "links": [],
                 "history": [{"statusId": workflow["initial"], "date": now}],
                 "visibleAt": time.time() + self.site.index_lag}
        comments = self._apply(issue, changes)
        self.store.put("issue", issue_id, issue)
        self.store.put("issuekey", issue["key"], {"id": issue_id})
        for text in comments:
            self.add_comment(issue, user, text, public=True)
        return issue

    def edit(self, issue: dict, user: dict, fields: object, update: object, version: str,
             transition: bool = False, properties: object = None) -> None:
        """Fields, update operations and (as Jira's edit takes them) entity properties, all or nothing."""
        errors: dict = {}
        fields = fields if isinstance(fields, dict) else {}
        changes = self._field_changes(fields, version, errors, transition=transition)
        changes += self._update_ops(update, version, errors)
        props = self._properties_in(properties, errors)
        if errors:
            raise JiraError(400, errors=errors)
        for text in self._apply(issue, changes):
            self.add_comment(issue, user, text, public=True)
        issue["properties"].update(props)
        self.save(issue)

    def _field_changes(self, fields: dict, version: str, errors: dict, creating: bool = False,
                       transition: bool = False) -> list[tuple[str, str, object]]:
        """``(op, field, stored value)`` for every field in a ``fields`` map, or errors."""
        changes = []
        for name, value in fields.items():
            try:
                if name == "resolution" and not transition:
                    raise JiraError(400, errors={name: NOT_SETTABLE.format(name)})
                changes.append(("set", name, self._stored(name, value, version)))
            except JiraError as exc:
                errors.update(exc.errors or {name: "; ".join(exc.messages)})
        return changes

    def _update_ops(self, update: object, version: str, errors: dict) -> list[tuple[str, str, object]]:
        changes = []
        for name, ops in (update or {}).items() if isinstance(update, dict) else []:
            for op in ops if isinstance(ops, list) else []:
                if not isinstance(op, dict):
                    # a bare value where an operation object belongs, e.g. {"labels": ["x"]}: Jira's deserialiser
                    raise JiraError(400, "Can not instantiate value of type [simple type, class com.atlassian.jira."
                                         "rest.api.issue.FieldOperation] from JSON String; no single-String "
                                         "constructor/factory method")
                for verb, value in op.items():
                    try:
                        if name == "comment" and verb == "add":
                            changes.append(("comment", name, body_in((value or {}).get("body"), version, name)))
                        elif name == "labels" and verb in ("add", "remove"):
                            changes.append((verb, name, str(value)))
                        elif name in ("issuelinks",) or verb not in ("set", "add", "remove"):
                            raise JiraError(400, errors={name: NOT_SETTABLE.format(name)})
                        elif verb == "set":
                            changes.append(("set", name, self._stored(name, value, version)))
                        else:
                            stored = self._stored(name, [value], version)
                            if not isinstance(stored, list):
                                raise JiraError(400, errors={name: NOT_SETTABLE.format(name)})
                            changes.append((verb, name, stored))
                    except JiraError as exc:
                        errors.update(exc.errors or {name: "; ".join(exc.messages)})
        return changes

    def _stored(self, name: str, value: object, version: str) -> object:
        site = self.site
        if name == "summary":
            if not isinstance(value, str) or not value.strip():
                raise JiraError(400, errors={name: "You must specify a summary of the issue."})
            if len(value) > 255:
                raise JiraError(400, errors={name: "Summary must be less than 255 characters."})
            return value
        if name == "description":
            return None if value is None else body_in(value, version, name)
        if name == "labels":
            if not isinstance(value, list) or any(not isinstance(v, str) or " " in v for v in value):
                raise JiraError(400, errors={name: "The label must not contain spaces."})
            return list(value)
        if name in ("assignee", "reporter"):
            user = site.find_user(value, name)
            return user["name"] if user else None
        if name == "priority":
            found = site.priority(value)
            if found is None:
                raise JiraError(400, errors={name: "Specify the Priority (id or name) in the string format"})
            return found[0]
        if name == "resolution":
            found = site.resolution(value)
            if found is None:
                raise JiraError(400, errors={name: "Could not find resolution by id or name."})
            return found[0]
        field = site.field(name)
        if field is None or field["kind"] == "approvals":
            raise JiraError(400, errors={name: NOT_SETTABLE.format(name)})
        return self._stored_custom(field, value, version)

    def _stored_custom(self, field: dict, value: object, version: str) -> object:
        name, kind = field["id"], field["kind"]
        if value is None:
            return None
        if kind == "select":
            if not isinstance(value, dict):
                raise JiraError(400, errors={name: "Could not find valid 'id' or 'value' in the Parent Option object."})
            wanted = value.get("id") or value.get("value")
            option = next((o for o in field["options"] if str(wanted) in (o["id"], o["value"])), None)
            if option is None:
                raise JiraError(400, errors={name: f"Option value '{wanted}' is not valid"})
            return option["id"]
        if kind == "textarea":
            return body_in(value, version, name)
        if kind == "datetime":
            try:
                return jira_time(parse_time(str(value)))
            except ValueError as exc:
                raise JiraError(400, errors={name: "Invalid date format. Please enter the date in the format "
                                                   "\"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."}) from exc
        if kind == "requesttype":
            found = self.site.request_type(str(value)) or next(
                (t for t in self.store.all("requesttype") if t["name"] == value), None)
            if found is None:
                raise JiraError(400, errors={name: f"Request type '{value}' does not exist."})
            return found["id"]
        if not isinstance(value, list):
            raise JiraError(400, errors={name: "Operation value must be an array"})
        return [self._object_ref(name, kind, item) for item in value]

    def _object_ref(self, name: str, kind: str, item: object) -> str:
        """An Assets object id from ``{"objectId"}``, ``{"id": "workspace:object"}``, ``{"key"}`` or ``{"name"}``."""
        if isinstance(item, dict):
            wanted = item.get("objectId") or str(item.get("id") or "").rsplit(":", maxsplit=1)[-1] or None
            found = self.store.get("object", wanted) if wanted else None
            if found is None and (item.get("key") or item.get("name")):
                found = next((o for o in self.store.all("object", "3" if kind == "services" else None)
                              if item.get("key") == o["objectKey"] or item.get("name") == o["values"].get("Name")),
                             None)
            if found is not None and (kind == "assets") != (found["objectTypeId"] == "3"):
                return found["id"]
        raise JiraError(400, errors={name: f"{'Service' if kind == 'services' else 'Object'} {item!r} does not exist."})

    def _apply(self, issue: dict, changes: list[tuple[str, str, object]]) -> list[str]:
        comments = []
        for op, name, value in changes:
            if op == "comment":
                comments.append(value)
                continue
            holder = issue["custom"] if name.startswith("customfield_") else issue
            if name == "requesttype" or (name.startswith("customfield_") and self.site.field(name)["kind"]
                                         == "requesttype"):
                issue["requestTypeId"] = value
            elif op == "set":
                holder[name] = value
            else:
                current = list(holder.get(name) or [])
                for item in value if isinstance(value, list) else [value]:
                    if op == "add" and item not in current:
                        current.append(item)
                    elif op == "remove" and item in current:
                        current.remove(item)
                holder[name] = current
        return comments

    def _properties_in(self, properties: object, errors: dict) -> dict:
        props = {}
        for item in properties if isinstance(properties, list) else []:
            if not isinstance(item, dict) or not item.get("key"):
                errors["properties"] = "An entity property must have a key."
                continue
            props[str(item["key"])] = item.get("value")
        return props

    # -- workflow ---------------------------------------------------------------------------------

    def available_transitions(self, issue: dict) -> list[dict]:
        workflow = self.site.workflow(issue["issuetypeId"])
        approval = workflow.get("approval")
        awaiting = approval and issue["statusId"] == approval["status"]
        return [t for t in workflow["transitions"]
                if (not t["from"] or issue["statusId"] in t["from"])
                and not (awaiting and t["to"] in (approval["approved"], approval["declined"]))]

    def transition(self, issue: dict, user: dict, transition_id: object, fields: object, update: object,
                   version: str) -> None:
        wanted = str(transition_id.get("id") if isinstance(transition_id, dict) else transition_id)
        chosen = next((t for t in self.available_transitions(issue) if t["id"] == wanted), None)
        if chosen is None:
            raise JiraError(400, f"Transition id '{wanted}' is not valid for this issue.")
        self.edit(issue, user, fields, update, version, transition=True)
        explicit = isinstance(fields, dict) and "resolution" in fields
        self.set_status(issue, chosen["to"], keep_resolution=explicit)

    def set_status(self, issue: dict, status_id: str, keep_resolution: bool = False) -> None:
        status = self.site.status(status_id)
        now = self.site.now_str()
        issue["statusId"] = status_id
        issue["history"].append({"statusId": status_id, "date": now})
        if status["category"] == "done":
            if not (keep_resolution and issue.get("resolution")):
                issue["resolution"] = DONE_RESOLUTION.get(status["name"], "10000")
            issue["resolutiondate"] = now
        else:
            issue["resolution"] = issue["resolutiondate"] = None
        approval = self.site.workflow(issue["issuetypeId"]).get("approval")
        if approval and status_id == approval["status"]:
            approvals.open_approval(self.site, issue, approval)
        self.save(issue)

    # -- comments -----------------------------------------------------------------------------------

    def add_comment(self, issue: dict, user: dict, body: str, public: bool, properties: dict | None = None) -> dict:
        if self.store.count("comment", issue["id"]) >= self.site.comment_cap:
            raise JiraError(413, f"The issue {issue['key']} has reached the limit of {self.site.comment_cap} "
                                 "comments. No more comments can be added.")
        if not str(body).strip():
            raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
        now = self.site.now_str()
        comment = {"id": str(self.store.next_id("comment", 10000)), "issueId": issue["id"], "body": body,
                   "author": user["name"], "created": now, "updated": now, "public": public,
                   "properties": {**(properties or {}), "sd.public.comment": {"internal": not public}}}
        self.store.put("comment", comment["id"], comment, issue["id"])
        self.save(issue)
        return comment

    def comments(self, issue: dict) -> list[dict]:
        return self.store.all("comment", issue["id"])

    def render_comment(self, comment: dict, base: str, version: str, expand_properties: bool = False) -> dict:
        author = self.site.render_user(self.site.user(comment["author"]), base)
        body = {"self": f"{base}/rest/api/{version}/issue/{comment['issueId']}/comment/{comment['id']}",
                "id": comment["id"], "author": author, "body": body_out(comment["body"], version),
                "updateAuthor": author, "created": comment["created"], "updated": comment["updated"],
                "jsdPublic": comment["public"]}
        if expand_properties:
            body["properties"] = [{"key": k, "value": v} for k, v in comment["properties"].items()]
        return body
