"""JQL search (jira-api.md §4): ``/search`` with startAt/maxResults/total on Data Center; on Cloud only
``/search/jql`` with ``nextPageToken``/``isLast`` (the legacy path answers 410), eventually consistent:
an issue is invisible to Cloud search until ``index_lag`` seconds after its creation, unless its id is in
``reconcileIssues``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time

from . import jql
from .issues import Issues
from .render import render_issue
from .wire import JiraError, Request, json_response, param_list, parse_time

LEGACY_GONE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
               "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
TOKEN_DAYS = 7
PROPERTY = re.compile(r"^issue\.property\[([^\]]+)\](?:\.(.+))?$", re.IGNORECASE)


def _params(req: Request) -> dict:
    if req.method == "POST":
        body = req.json()
        if not isinstance(body, dict):
            raise JiraError(400, "The request body must be a JSON object.")
        return body
    out: dict = {key: req.param(key) for key in ("jql", "startAt", "maxResults", "nextPageToken", "validateQuery")
                 if req.param(key) is not None}
    for key in ("fields", "expand", "properties", "reconcileIssues"):
        values = param_list(req, key)
        if values is not None:
            out[key] = values
    return out


def _as_list(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _int(params: dict, name: str, default: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise JiraError(400, f"The value '{value}' of parameter '{name}' is not a valid integer.") from exc


class Search:
    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.site = issues.site

    # -- endpoints --------------------------------------------------------------------------------

    def legacy(self, req: Request, version: str, user: dict) -> object:
        if self.site.cloud:
            raise JiraError(410, LEGACY_GONE)
        params = _params(req)
        strict = str(params.get("validateQuery", "true")).lower() != "false" if not isinstance(
            params.get("validateQuery"), bool) else params["validateQuery"]
        found, warnings = self.run(str(params.get("jql") or ""), user, strict)
        start = max(_int(params, "startAt", 0), 0)
        size = min(max(_int(params, "maxResults", 50), 0), 1000)
        page = found[start:start + size]
        fields = _as_list(params.get("fields")) or ["*navigable"]
        body = {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found),
                "issues": [render_issue(self.issues, i, req.base_url, version, fields,
                                        _as_list(params.get("properties"))) for i in page]}
        if warnings:
            body["warningMessages"] = warnings
        return json_response(200, body)

    def enhanced(self, req: Request, version: str, user: dict) -> object:
        if not self.site.cloud:
            raise JiraError(404, "null for uri: " + req.path)
        params = _params(req)
        text = str(params.get("jql") or "").strip()
        query = self._parse(text)
        if query.where is None:
            raise JiraError(400, UNBOUNDED)
        reconcile = self._reconcile(params.get("reconcileIssues"))
        found, _warnings = self.run(text, user, True, reconcile)
        fields = _as_list(params.get("fields"))
        ids_only = not fields or all(f in ("id", "key") for f in fields)
        size = min(max(_int(params, "maxResults", 50), 1), 5000 if ids_only else 100)
        start = self._offset(params.get("nextPageToken"), text)
        page = found[start:start + size]
        issues = []
        for issue in page:
            if not fields:
                issues.append({"id": issue["id"]})
                continue
            issues.append(render_issue(self.issues, issue, req.base_url, version, fields,
                                       _as_list(params.get("properties")), comment_limit=20))
        body: dict = {"issues": issues, "isLast": start + size >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = self._token(start + size, text)
        return json_response(200, body)

    def approximate_count(self, req: Request, user: dict) -> object:
        if not self.site.cloud:
            raise JiraError(404, "null for uri: " + req.path)
        text = str(_params(req).get("jql") or "").strip()
        if self._parse(text).where is None:
            raise JiraError(400, UNBOUNDED)
        return json_response(200, {"count": len(self.run(text, user, True)[0])})

    # -- evaluation ---------------------------------------------------------------------------------

    def run(self, text: str, user: dict, strict: bool, reconcile: set[str] | None = None) -> tuple[list, list]:
        query = self._parse(text)
        warnings: list[str] = []
        resolve = self.resolver(user, strict, warnings)
        try:
            jql.check_fields(query.where, resolve)
            self._check_values(query.where, strict, warnings)
            now = self.site.now()
            docs = self.issues.all()
            if self.site.index_lag:
                moment = time.time()
                docs = [d for d in docs if d.get("visibleAt", 0) <= moment or d["id"] in (reconcile or set())]
            found = [d for d in reversed(docs) if jql.matches(query.where, d, resolve, now)]
            return jql.sort(found, query.order, resolve), warnings
        except jql.QueryError as exc:
            raise JiraError(400, str(exc)) from exc

    def _parse(self, text: str) -> jql.Query:
        try:
            return jql.parse(text)
        except jql.QueryError as exc:
            raise JiraError(400, f"Error in the JQL Query: {exc}") from exc

    def _reconcile(self, value: object) -> set[str]:
        ids = _as_list(value) or []
        if len(ids) > 50:
            raise JiraError(400, "reconcileIssues accepts at most 50 issue ids.")
        if any(not i.isdigit() for i in ids):
            raise JiraError(400, "reconcileIssues must be a list of issue ids (numbers).")
        return set(ids)

    def _token(self, offset: int, text: str) -> str:
        raw = json.dumps({"o": offset, "q": hashlib.sha1(text.encode()).hexdigest()[:12],
                          "t": int(self.site.clock.timestamp())})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _offset(self, token: object, text: str) -> int:
        if not token:
            return 0
        try:
            data = json.loads(base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)))
            offset, digest, issued = int(data["o"]), data["q"], int(data["t"])
        except (ValueError, KeyError, TypeError) as exc:
            raise JiraError(400, "The provided next page token is invalid or expired.") from exc
        if digest != hashlib.sha1(text.encode()).hexdigest()[:12] or \
                self.site.clock.timestamp() - issued > TOKEN_DAYS * 86400:
            raise JiraError(400, "The provided next page token is invalid or expired.")
        return offset

    def _check_values(self, node: object, strict: bool, warnings: list[str]) -> None:
        """Unknown projects, issue types and statuses fail the query, as Jira's validation does."""
        if node is None:
            return
        if isinstance(node, tuple):
            for child in node[1] if node[0] in ("and", "or") else [node[1]]:
                self._check_values(child, strict, warnings)
            return
        name = node.field.lower()
        known = {"project": [(p["key"], p["id"], p["name"]) for p in self.site.store.all("project")],
                 "status": [(s["name"], s["id"]) for s in self.site.store.all("status")],
                 "issuetype": [(t["name"], t["id"]) for t in self.site.store.all("issuetype")]}.get(
                     "issuetype" if name == "type" else name)
        if known is None or node.op not in ("=", "!=", "in", "not in"):
            return
        for value in node.value if isinstance(node.value, list) else [node.value]:
            if isinstance(value, str) and not any(value.lower() == str(k).lower() for row in known for k in row):
                message = f"The value '{value}' does not exist for the field '{node.field}'."
                if strict:
                    raise jql.QueryError(message)
                warnings.append(message)

    def resolver(self, user: dict, strict: bool = True, warnings: list | None = None):
        site = self.site

        def user_values(name: str | None) -> list:
            person = site.user(name) if name else None
            return [person["name"], person["accountId"], person["emailAddress"]] if person else []

        me = user["accountId"] if site.cloud else user["name"]
        people = {"currentuser": me.lower()}
        dates = {name: jql.FieldRef(lambda d, n=name: [parse_time(d[n])] if d.get(n) else [], "date")
                 for name in ("created", "updated", "resolutiondate")}
        fixed = {
            "project": jql.FieldRef(lambda d: list(_project_values(site, d))),
            "key": jql.FieldRef(lambda d: [d["key"]], "issuekey", order=lambda d: int(d["id"])),
            "issuekey": jql.FieldRef(lambda d: [d["key"]], "issuekey", order=lambda d: int(d["id"])),
            "id": jql.FieldRef(lambda d: [d["id"]], "number"),
            "issuetype": jql.FieldRef(lambda d: [site.issuetype(d["issuetypeId"])["name"], d["issuetypeId"]]),
            "status": jql.FieldRef(lambda d: [site.status(d["statusId"])["name"], d["statusId"]]),
            "statuscategory": jql.FieldRef(lambda d: [site.status(d["statusId"])["category"]]),
            "summary": jql.FieldRef(lambda d: [d["summary"]]),
            "description": jql.FieldRef(lambda d: [d["description"]] if d["description"] else []),
            "text": jql.FieldRef(lambda d: [d["summary"], d["description"] or ""]),
            "labels": jql.FieldRef(lambda d: list(d["labels"])),
            "priority": jql.FieldRef(lambda d: [d["priority"], site.render_priority(d["priority"], "")["name"]]
                                     if d["priority"] else []),
            "resolution": jql.FieldRef(lambda d: [site.render_resolution(d["resolution"], "")["name"]]
                                       if d["resolution"] else []),
            "assignee": jql.FieldRef(lambda d: user_values(d["assignee"]), functions=people),
            "reporter": jql.FieldRef(lambda d: user_values(d["reporter"]), functions=people),
            "request type": jql.FieldRef(lambda d: [site.request_type(d["requestTypeId"])["name"]]
                                         if d.get("requestTypeId") else []),
            **dates,
        }
        fixed["type"] = fixed["issuetype"]

        def resolve(name: str) -> jql.FieldRef:
            lowered = name.lower()
            if lowered in fixed:
                return fixed[lowered]
            match = PROPERTY.match(name)
            if match:
                return jql.FieldRef(lambda d: _property_values(d, match.group(1), match.group(2)))
            field = site.field_named(name) or site.field(name) or _cf(site, name)
            if field is None:
                raise jql.QueryError(f"Field '{name}' does not exist or you do not have permission to view it.")
            return _custom_ref(self.issues, field)
        return resolve


def _project_values(site, doc: dict):
    project = site.project(doc["projectId"])
    return project["key"], project["id"], project["name"]


def _cf(site, name: str) -> dict | None:
    match = re.match(r"^cf\[(\d+)\]$", name, re.IGNORECASE)
    return site.field(f"customfield_{match.group(1)}") if match else None


def _property_values(doc: dict, key: str, path: str | None) -> list:
    value = doc["properties"].get(key)
    for part in (path or "").split(".") if path else []:
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return [v for v in value if not isinstance(v, (dict, list))]
    return [] if value is None or isinstance(value, dict) else [value]


def _custom_ref(issues: Issues, field: dict) -> jql.FieldRef:
    kind = field["kind"]
    store = issues.store

    def values(doc: dict) -> list:
        stored = doc["custom"].get(field["id"])
        if kind == "requesttype":
            return [issues.site.request_type(doc["requestTypeId"])["name"]] if doc.get("requestTypeId") else []
        if stored is None:
            return []
        if kind == "select":
            return [o["value"] for o in field["options"] if o["id"] == stored]
        if kind == "datetime":
            return [parse_time(stored)]
        if isinstance(stored, list):
            objects = [store.get("object", oid) for oid in stored]
            return [v for o in objects if o for v in (o["values"].get("Name"), o["objectKey"], o["id"])]
        return [stored]
    return jql.FieldRef(values, "date" if kind == "datetime" else "text")
