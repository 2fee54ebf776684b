"""The issue JSON of ``GET /issue`` and search results (jira-api.md §3), with ``fields`` and ``properties``
filters.  Nested objects carry routable ``self`` URLs because the ``jira`` client types and updates by them.
"""

from __future__ import annotations

from . import approvals
from .attachments import Attachments
from .issues import Issues, body_out

NAVIGABLE_SKIP = {"comment"}  # *navigable leaves out the comment page, as Jira does


def wanted_fields(requested: list[str] | None, all_names: list[str], default: str = "*all") -> set[str]:
    requested = requested or [default]
    chosen: set[str] = set()
    for name in requested:
        if name == "*all":
            chosen.update(all_names)
        elif name == "*navigable":
            chosen.update(n for n in all_names if n not in NAVIGABLE_SKIP)
        elif not name.startswith("-"):
            chosen.add(name)
    chosen.difference_update(name[1:] for name in requested if name.startswith("-"))
    return chosen


def render_issue(issues: Issues, issue: dict, base: str, version: str, requested: list[str] | None = None,
                 properties: list[str] | None = None, comment_limit: int | None = None,
                 expand: list[str] | None = None) -> dict:
    site = issues.site
    values = field_values(issues, issue, base, version, comment_limit)
    chosen = wanted_fields(requested, list(values))
    body = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue["id"], "self": f"{base}/rest/api/{version}/issue/{issue['id']}", "key": issue["key"],
            "fields": {name: value for name, value in values.items() if name in chosen}}
    if properties:
        every = "*all" in properties
        body["properties"] = {k: v for k, v in issue["properties"].items() if every or k in properties}
    if expand and "names" in expand:
        body["names"] = {f["id"]: f["name"] for f in site.field_list() if f["id"] in body["fields"]}
    if expand and "transitions" in expand:
        body["transitions"] = [render_transition(site, t, base) for t in issues.available_transitions(issue)]
    return body


def field_values(issues: Issues, issue: dict, base: str, version: str, comment_limit: int | None) -> dict:
    site = issues.site
    project = site.project(issue["projectId"])
    comments = issues.comments(issue)
    shown = comments if comment_limit is None else comments[:comment_limit]
    values = {
        "summary": issue["summary"], "description": body_out(issue["description"], version),
        "issuetype": site.render_issuetype(issue["issuetypeId"], base),
        "project": site.render_project(project, base),
        "status": site.render_status(issue["statusId"], base),
        "priority": site.render_priority(issue["priority"], base),
        "assignee": site.render_user(site.user(issue["assignee"]) if issue["assignee"] else None, base),
        "reporter": site.render_user(site.user(issue["reporter"]), base),
        "creator": site.render_user(site.user(issue["reporter"]), base),
        "labels": list(issue["labels"]), "resolution": site.render_resolution(issue["resolution"], base),
        "resolutiondate": issue["resolutiondate"], "created": issue["created"], "updated": issue["updated"],
        "statuscategorychangedate": issue["history"][-1]["date"],
        "issuelinks": [render_link(issues, link, base) for link in issue.get("links", [])],
        "attachment": Attachments(issues).render_field(issue, base),
        "comment": {"comments": [issues.render_comment(c, base, version) for c in shown],
                    "self": f"{base}/rest/api/{version}/issue/{issue['id']}/comment",
                    "maxResults": len(shown), "total": len(comments), "startAt": 0},
    }
    for field in site.custom_fields():
        values[field["id"]] = custom_value(issues, issue, field, base, version)
    return values


def custom_value(issues: Issues, issue: dict, field: dict, base: str, version: str) -> object:
    site, kind = issues.site, field["kind"]
    if kind == "requesttype":
        request_type = site.request_type(issue["requestTypeId"]) if issue.get("requestTypeId") else None
        return request_type and {"requestType": render_request_type_ref(request_type, base),
                                 "currentStatus": {"status": site.status(issue["statusId"])["name"]}}
    if kind == "approvals":
        return [approvals.render_field(site, a, base) for a in approvals.for_issue(site, issue)] or None
    stored = issue["custom"].get(field["id"])
    if stored is None:
        return None
    if kind == "select":
        option = next(o for o in field["options"] if o["id"] == stored)
        return {"self": f"{base}/rest/api/2/customFieldOption/{option['id']}", "value": option["value"],
                "id": option["id"]}
    if kind == "textarea":
        return body_out(stored, version)
    if kind == "datetime":
        return stored
    objects = [issues.store.get("object", oid) for oid in stored]
    if kind == "services":
        return [{"id": o["id"], "name": o["values"]["Name"]} for o in objects if o]
    return [{"workspaceId": site.workspace, "id": f"{site.workspace}:{o['id']}", "objectId": o["id"],
             "objectKey": o["objectKey"], "label": o["values"].get("Name")} for o in objects if o]


def render_request_type_ref(request_type: dict, base: str) -> dict:
    return {"id": request_type["id"], "name": request_type["name"], "description": request_type["description"],
            "issueTypeId": request_type["issueTypeId"], "serviceDeskId": request_type["serviceDeskId"],
            "_links": {"self": f"{base}/rest/servicedeskapi/servicedesk/{request_type['serviceDeskId']}"
                               f"/requesttype/{request_type['id']}"}}


def render_transition(site, transition: dict, base: str) -> dict:
    return {"id": transition["id"], "name": transition["name"], "to": site.render_status(transition["to"], base),
            "hasScreen": False, "isGlobal": not transition["from"], "isInitial": False, "isAvailable": True,
            "isConditional": False, "isLooped": False}


def render_link(issues: Issues, link: dict, base: str) -> dict:
    other = issues.find(link["issueId"])
    ref = other and {"id": other["id"], "key": other["key"], "self": f"{base}/rest/api/2/issue/{other['id']}",
                     "fields": {"summary": other["summary"],
                                "status": issues.site.render_status(other["statusId"], base)}}
    body = {"id": link["id"], "self": f"{base}/rest/api/2/issueLink/{link['id']}",
            "type": {"id": "10000", "name": link["type"], "inward": link["inward"], "outward": link["outward"]}}
    body["inwardIssue" if link["direction"] == "inward" else "outwardIssue"] = ref
    return body
