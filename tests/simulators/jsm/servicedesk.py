"""The Service Management API, ``/rest/servicedeskapi`` (jira-api.md §4.3, §5): service desks, request
types and their fields, requests, request comments, customer transitions, status history and approvals.
"""

from __future__ import annotations

from . import approvals
from .render import field_values, render_request_type_ref
from .wire import DeskError, JiraError, Request, date_obj, empty, json_response, param_bool, param_int

DESK_CATEGORY = {"new": "NEW", "indeterminate": "INDETERMINATE", "done": "DONE"}
SYSTEM_LABELS = {"summary": "Summary", "description": "Description", "priority": "Priority"}


def page(req: Request, values: list, default_limit: int = 50) -> object:
    start = max(param_int(req, "start", 0), 0)
    limit = max(param_int(req, "limit", default_limit), 1)
    chunk = values[start:start + limit]
    base = f"{req.base_url}/rest/servicedeskapi"
    links = {"base": base, "context": "", "self": f"{req.base_url}{req.path}"}
    if start + limit < len(values):
        links["next"] = f"{req.base_url}{req.path}?start={start + limit}&limit={limit}"
    if start > 0:
        links["prev"] = f"{req.base_url}{req.path}?start={max(start - limit, 0)}&limit={limit}"
    return json_response(200, {"size": len(chunk), "start": start, "limit": limit,
                               "isLastPage": start + limit >= len(values), "values": chunk, "_links": links})


class ServiceDesk:
    def __init__(self, issues) -> None:
        self.issues = issues
        self.site = issues.site
        self.store = issues.store

    def route(self, req: Request, parts: list[str], user: dict) -> object:
        head, rest, method = parts[0] if parts else "", parts[1:], req.method
        if head == "info" and not rest:
            return json_response(200, {"version": "10.3.0", "platformVersion": "9.12.0", "isLicensedForUse": True,
                                       "buildDate": date_obj("2024-01-01T00:00:00.000+0000"),
                                       "buildChangeSet": "0" * 40,
                                       "_links": {"self": f"{req.base_url}/rest/servicedeskapi/info"}})
        if head == "servicedesk" and method == "GET":
            return self._desks(req, rest)
        if head == "request" and not rest and method == "POST":
            return self._create(req, user)
        if head == "request" and not rest and method == "GET":
            mine = [i for i in self.issues.all() if i.get("requestTypeId") and i["reporter"] == user["name"]]
            return page(req, [self.render_request(i, req.base_url) for i in reversed(mine)])
        if head == "request" and rest:
            return self._request(req, rest, user)
        if head == "assets" and rest == ["workspace"] and method == "GET":
            if not self.site.cloud:
                raise DeskError(404, "Assets workspaces exist on Cloud only.")
            return page(req, [{"workspaceId": self.site.workspace}])
        raise DeskError(404, f"No resource found at {req.path}.")

    # -- discovery ----------------------------------------------------------------------------------

    def _desk(self, ref: str) -> dict:
        desk = self.store.get("servicedesk", ref) or next(
            (d for d in self.store.all("servicedesk") if d["projectKey"].lower() == ref.lower()), None)
        if desk is None:
            raise DeskError(404, f"The service project with id '{ref}' does not exist.",
                            "sd.rest.error.servicedesk.not.found")
        return desk

    def render_desk(self, desk: dict, base: str) -> dict:
        return {"id": desk["id"], "projectId": desk["projectId"], "projectName": desk["projectName"],
                "projectKey": desk["projectKey"], "_links": {"self": f"{base}/rest/servicedeskapi/servicedesk/"
                                                                     f"{desk['id']}"}}

    def _desks(self, req: Request, rest: list[str]) -> object:
        base = req.base_url
        if not rest:
            return page(req, [self.render_desk(d, base) for d in self.store.all("servicedesk")])
        desk = self._desk(rest[0])
        if len(rest) == 1:
            return json_response(200, self.render_desk(desk, base))
        types = [t for t in self.store.all("requesttype") if t["serviceDeskId"] == desk["id"]]
        if rest[1:] == ["requesttype"]:
            return page(req, [self.render_type(t, base) for t in types])
        found = next((t for t in types if len(rest) > 2 and t["id"] == rest[2]), None)
        if rest[1] != "requesttype" or found is None:
            raise DeskError(404, "The request type does not exist.", "sd.rest.error.requesttype.not.found")
        if len(rest) == 3:
            return json_response(200, self.render_type(found, base))
        if rest[3:] == ["field"]:
            return json_response(200, {"requestTypeFields": [self._render_field(f) for f in found["fields"]],
                                       "canRaiseOnBehalfOf": True, "canAddRequestParticipants": True})
        raise DeskError(404, f"No resource found at {req.path}.")

    def render_type(self, request_type: dict, base: str) -> dict:
        body = render_request_type_ref(request_type, base)
        return {**body, "helpText": "", "groupIds": [], "icon": {"id": "10000", "_links": {}}}

    def _render_field(self, field_id: str) -> dict:
        field = self.site.field(field_id)
        required = field_id == "summary"
        if field is None:
            return {"fieldId": field_id, "name": SYSTEM_LABELS.get(field_id, field_id), "description": "",
                    "required": required, "defaultValues": [], "validValues": [], "visible": True,
                    "jiraSchema": {"type": "priority" if field_id == "priority" else "string", "system": field_id}}
        schema = next(f["schema"] for f in self.site.field_list() if f["id"] == field_id)
        return {"fieldId": field_id, "name": field["name"], "description": "", "required": False,
                "defaultValues": [], "visible": True, "jiraSchema": schema,
                "validValues": [{"value": o["id"], "label": o["value"], "children": []}
                                for o in field["options"] or []]}

    # -- requests -----------------------------------------------------------------------------------

    def _create(self, req: Request, user: dict) -> object:
        body = req.json()
        if not isinstance(body, dict):
            raise DeskError(400, "The request body must be a JSON object.")
        desk = self._desk(str(body.get("serviceDeskId", "")))
        request_type = self.site.request_type(str(body.get("requestTypeId", "")))
        if request_type is None or request_type["serviceDeskId"] != desk["id"]:
            raise DeskError(400, f"The request type '{body.get('requestTypeId')}' does not exist in this service "
                                 "project.", "sd.rest.error.requesttype.not.found")
        values = body.get("requestFieldValues") or {}
        if not isinstance(values, dict):
            raise DeskError(400, "requestFieldValues must be an object.")
        unknown = [name for name in values if name not in request_type["fields"]]
        if unknown:
            raise DeskError(400, f"The field(s) {', '.join(unknown)} are not valid for the request type "
                                 f"'{request_type['name']}'.", "sd.rest.error.field.not.valid")
        reporter = user
        if body.get("raiseOnBehalfOf"):
            who = str(body["raiseOnBehalfOf"])
            reporter = next((u for u in self.site.users() if who in (u["accountId"], u["name"], u["emailAddress"])),
                            None)
            if reporter is None:
                raise DeskError(400, f"The user '{who}' does not exist.", "sd.rest.error.user.not.found")
        fields = {"project": {"id": desk["projectId"]}, "issuetype": {"id": request_type["issueTypeId"]}, **values}
        try:
            issue = self.issues.create(reporter, fields, None, None, "2", request_type)
        except JiraError as exc:
            detail = "; ".join([*exc.messages, *(f"{self._label(k)}: {v}" for k, v in exc.errors.items())])
            raise DeskError(400, detail, "sd.rest.error.request.invalid") from exc
        return json_response(201, self.render_request(issue, req.base_url))

    def _label(self, field_id: str) -> str:
        field = self.site.field(field_id)
        return field["name"] if field else SYSTEM_LABELS.get(field_id, field_id)

    def render_request(self, issue: dict, base: str) -> dict:
        site = self.site
        person = site.user(issue["reporter"])
        reporter = {"displayName": person["displayName"], "emailAddress": person["emailAddress"], "active": True,
                    "timeZone": person["timeZone"]}
        reporter.update({"accountId": person["accountId"]} if site.cloud else {"key": person["key"],
                                                                               "name": person["name"]})
        request_type = site.request_type(issue["requestTypeId"]) if issue.get("requestTypeId") else None
        field_ids = request_type["fields"] if request_type else ["summary", "description"]
        values = field_values(self.issues, issue, base, "2", 0)
        return {"_expands": ["participant", "status", "sla", "requestType", "serviceDesk", "attachment",
                             "action", "comment"],
                "issueId": issue["id"], "issueKey": issue["key"],
                "requestTypeId": request_type["id"] if request_type else None,
                "serviceDeskId": request_type["serviceDeskId"] if request_type else "1",
                "createdDate": date_obj(issue["created"]), "reporter": reporter,
                "requestFieldValues": [{"fieldId": f, "label": self._label(f), "value": values.get(f)}
                                       for f in field_ids],
                "currentStatus": self._status(issue["history"][-1]),
                "_links": {"jiraRest": f"{base}/rest/api/2/issue/{issue['id']}",
                           "web": f"{base}/servicedesk/customer/portal/1/{issue['key']}",
                           "self": f"{base}/rest/servicedeskapi/request/{issue['id']}"}}

    def _status(self, entry: dict) -> dict:
        status = self.site.status(entry["statusId"])
        return {"status": status["name"], "statusCategory": DESK_CATEGORY[status["category"]],
                "statusDate": date_obj(entry["date"])}

    def _request(self, req: Request, rest: list[str], user: dict) -> object:
        issue = self.issues.find(rest[0])
        if issue is None or self.site.project(issue["projectId"])["projectTypeKey"] != "service_desk":
            raise DeskError(404, f"The request '{rest[0]}' does not exist or you do not have permission to see it.",
                            "sd.rest.error.request.not.found")
        sub, method, base = rest[1:], req.method, req.base_url
        if not sub and method == "GET":
            return json_response(200, self.render_request(issue, base))
        if sub == ["status"] and method == "GET":
            return page(req, [self._status(e) for e in reversed(issue["history"])])
        if sub == ["comment"]:
            return self._comment(req, issue, user)
        if sub == ["transition"] and method == "GET":
            return page(req, [{"id": t["id"], "name": t["name"]} for t in self.issues.available_transitions(issue)])
        if sub == ["transition"] and method == "POST":
            body = req.json() if isinstance(req.json(), dict) else {}
            comment = (body.get("additionalComment") or {}).get("body")
            try:
                self.issues.transition(issue, user, str(body.get("id")), {}, None, "2")
            except JiraError as exc:
                raise DeskError(400, "; ".join(exc.messages) or str(exc.errors), "sd.rest.error.transition") from exc
            if comment:
                self.issues.add_comment(issue, user, comment, public=True)
            return empty(204)
        if sub and sub[0] == "approval":
            return self._approval(req, issue, sub[1:], user)
        raise DeskError(404, f"No resource found at {req.path}.")

    def _comment(self, req: Request, issue: dict, user: dict) -> object:
        if req.method == "POST":
            body = req.json() if isinstance(req.json(), dict) else {}
            if not isinstance(body.get("body"), str) or not body["body"].strip():
                raise DeskError(400, "The comment body must not be empty.", "sd.rest.error.comment.empty")
            try:
                public = body.get("public", True) is not False
                comment = self.issues.add_comment(issue, user, body["body"], public=public)
            except JiraError as exc:
                raise DeskError(exc.status, "; ".join(exc.messages), "sd.rest.error.comment") from exc
            return json_response(201, self._render_comment(comment, req.base_url))
        public, internal = param_bool(req, "public", True), param_bool(req, "internal", True)
        chosen = [c for c in self.issues.comments(issue) if (public and c["public"]) or (internal and not c["public"])]
        return page(req, [self._render_comment(c, req.base_url) for c in chosen])

    def _render_comment(self, comment: dict, base: str) -> dict:
        person = self.site.user(comment["author"])
        author = {"displayName": person["displayName"], "emailAddress": person["emailAddress"], "active": True}
        author.update({"accountId": person["accountId"]} if self.site.cloud else {"name": person["name"]})
        return {"id": comment["id"], "body": comment["body"], "public": comment["public"], "author": author,
                "created": date_obj(comment["created"]),
                "_links": {"self": f"{base}/rest/servicedeskapi/request/{comment['issueId']}/comment/"
                                   f"{comment['id']}"}}

    def _approval(self, req: Request, issue: dict, sub: list[str], user: dict) -> object:
        base = req.base_url
        if not sub and req.method == "GET":
            return page(req, [approvals.render(self.site, a, issue, user, base)
                              for a in approvals.for_issue(self.site, issue)])
        if len(sub) != 1:
            raise DeskError(404, f"No resource found at {req.path}.")
        approval = approvals.find(self.site, issue, sub[0])
        if req.method == "POST":
            body = req.json() if isinstance(req.json(), dict) else {}
            approval = approvals.decide(self.site, self.issues, issue, approval, user, body.get("decision"))
        return json_response(200, approvals.render(self.site, approval, issue, user, base))
