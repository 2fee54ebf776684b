"""The platform REST API, ``/rest/api/2`` and ``/rest/api/3`` (jira-api.md §1, §3, §8): v3 differs only in
carrying Atlassian Document Format bodies for descriptions, textarea fields and comments.
"""

from __future__ import annotations

import hashlib

from .attachments import Attachments
from .issues import body_in
from .render import render_issue, render_transition
from .search import Search
from .seed import PRIORITIES, RESOLUTIONS
from .wire import JiraError, Request, empty, json_response, param_int, param_list

BUILD = {"cloud": ("1001.0.0-SNAPSHOT", [1001, 0, 0], "Cloud", 100282),
         "datacenter": ("9.12.0", [9, 12, 0], "Server", 912000)}


class Platform:
    def __init__(self, issues) -> None:
        self.issues = issues
        self.site = issues.site
        self.search = Search(issues)
        self.attachments = Attachments(issues)

    def server_info(self, req: Request) -> object:
        version, numbers, deployment, build = BUILD[self.site.flavour]
        return json_response(200, {"baseUrl": req.base_url, "version": version, "versionNumbers": numbers,
                                   "deploymentType": deployment, "buildNumber": build,
                                   "buildDate": "2024-01-01T00:00:00.000+0000", "serverTime": self.site.now_str(),
                                   "scmInfo": "0" * 40, "serverTitle": "opsgate JSM simulator"})

    def route(self, req: Request, version: str, parts: list[str], user: dict) -> object:
        site, base, method = self.site, req.base_url, req.method
        head, rest = parts[0], parts[1:]
        if head == "issue" and rest:
            return self._issue(req, version, rest, user)
        if head == "issue" and method == "POST":
            body = req.json()
            body = body if isinstance(body, dict) else {}
            issue = self.issues.create(user, body.get("fields"), body.get("update"), body.get("properties"), version)
            return json_response(201, {"id": issue["id"], "key": issue["key"],
                                       "self": f"{base}/rest/api/{version}/issue/{issue['id']}"})
        if head == "search" and not rest and method in ("GET", "POST"):
            return self.search.legacy(req, version, user)
        if head == "search" and rest == ["jql"] and method in ("GET", "POST"):
            return self.search.enhanced(req, version, user)
        if head == "search" and rest == ["approximate-count"] and method == "POST":
            return self.search.approximate_count(req, user)
        if head == "attachment" and rest:
            return self.attachments.route(req, rest, user)
        if head == "issueLink" and method == "POST" and not rest:
            return self._link(req, user)
        if head == "issueLink" and method == "DELETE" and len(rest) == 1:
            return self._unlink(rest[0], user)
        if head == "group" and method == "POST" and not rest:
            return self._create_group(req, user)
        if method != "GET":
            raise JiraError(405, "Method Not Allowed")
        if head == "field" and not rest:
            return json_response(200, site.field_list())
        if head == "myself" and not rest:
            return json_response(200, {**site.render_user(user, base), "groups": {"size": len(user["groups"])}})
        if head == "project":
            return self._project(req, rest)
        return self._lookup(req, head, rest)

    def _create_group(self, req: Request, user: dict) -> object:
        """Create group (``POST /rest/api/2/group`` ``{"name": ...}``): site administrators only; 201 with the group,
        400 when the name is taken or empty."""
        if "jira-administrators" not in user["groups"]:
            raise JiraError(403, "You do not have permission to create groups.")
        body = req.json()
        name = str((body if isinstance(body, dict) else {}).get("name") or "").strip()
        if not name or self.site.store.get("group", name) is not None:
            raise JiraError(400, f"A group with name '{name}' already exists." if name else "Group name is required.")
        self.site.store.put("group", name, {"name": name, "groupId": hashlib.md5(name.encode()).hexdigest()})
        return json_response(201, {"name": name, "groupId": hashlib.md5(name.encode()).hexdigest(),
                                   "self": f"{req.base_url}/rest/api/2/group?groupname={name}"})

    def _lookup(self, req: Request, head: str, rest: list[str]) -> object:
        site, base = self.site, req.base_url
        tables = {
            "status": ([s["id"] for s in site.store.all("status")], site.render_status),
            "issuetype": ([t["id"] for t in site.store.all("issuetype")], site.render_issuetype),
            "priority": ([p[0] for p in PRIORITIES], site.render_priority),
            "resolution": ([r[0] for r in RESOLUTIONS], site.render_resolution),
        }
        if head in tables and len(rest) <= 1:
            ids, render = tables[head]
            if not rest:
                return json_response(200, [render(i, base) for i in ids])
            match = next((i for i in ids if i == rest[0] or render(i, base)["name"].lower() == rest[0].lower()), None)
            if match is None:
                raise JiraError(404, f"The {head} with id '{rest[0]}' does not exist.")
            return json_response(200, render(match, base))
        if head == "customFieldOption" and len(rest) == 1:
            for field in site.custom_fields():
                for option in field["options"] or []:
                    if option["id"] == rest[0]:
                        return json_response(200, {"self": f"{base}/rest/api/2/customFieldOption/{option['id']}",
                                                   "value": option["value"]})
            raise JiraError(404, f"A custom field option with id '{rest[0]}' does not exist.")
        if head == "user" and not rest:
            wanted = req.param("accountId") or req.param("username") or req.param("key")
            found = next((u for u in site.users() if wanted in (u["accountId"], u["name"])), None)
            if found is None or (site.cloud and not req.param("accountId")):
                raise JiraError(404, f"The user with the ID '{wanted}' does not exist.")
            return json_response(200, site.render_user(found, base))
        if head == "user" and rest == ["search"]:
            query = (req.param("query") or req.param("username") or "").lower()
            return json_response(200, [site.render_user(u, base) for u in site.users()
                                       if query in (u["name"] + " " + u["displayName"] + " " +
                                                    u["emailAddress"]).lower()])
        if head == "group" and rest == ["member"]:
            group = req.param("groupname") or ""
            if site.store.get("group", group) is None:
                raise JiraError(404, f"Group '{group}' does not exist.")
            members = [site.render_user(u, base) for u in site.group_members(group)]
            start, size = param_int(req, "startAt", 0), param_int(req, "maxResults", 50)
            page = members[start:start + size]
            return json_response(200, {"self": f"{base}{req.path}", "maxResults": size, "startAt": start,
                                       "total": len(members), "isLast": start + size >= len(members),
                                       "values": page})
        if head == "groups" and rest == ["picker"]:
            query = (req.param("query") or "").lower()
            groups = [g for g in site.store.all("group") if query in g["name"].lower()]
            return json_response(200, {"header": f"Showing {len(groups)} of {len(groups)} matching groups",
                                       "total": len(groups), "groups": [{"name": g["name"], "groupId": g["groupId"],
                                                                         "html": g["name"]} for g in groups]})
        raise JiraError(404, "null for uri: " + req.path)

    def _project(self, req: Request, rest: list[str]) -> object:
        site, base = self.site, req.base_url
        expand = param_list(req, "expand") or []
        if not rest:
            return json_response(200, [site.render_project(p, base, "issueTypes" in expand)
                                       for p in site.store.all("project")])
        project = site.project(rest[0])
        if project is None:
            raise JiraError(404, f"No project could be found with key '{rest[0]}'.")
        if rest[1:] == ["statuses"]:
            return json_response(200, [{"self": f"{base}/rest/api/2/issuetype/{t}", "id": t, "subtask": False,
                                        "name": site.issuetype(t)["name"],
                                        "statuses": [site.render_status(s["id"], base)
                                                     for s in site.store.all("status")]}
                                       for t in project["issuetypes"]])
        if len(rest) != 1:
            raise JiraError(404, "null for uri: " + req.path)
        return json_response(200, site.render_project(project, base, True))

    # -- issues -------------------------------------------------------------------------------------

    def _issue(self, req: Request, version: str, rest: list[str], user: dict) -> object:
        issues, base, method = self.issues, req.base_url, req.method
        issue = issues.get(rest[0])
        sub = rest[1:]
        if not sub and method == "GET":
            props = param_list(req, "properties")
            return json_response(200, render_issue(issues, issue, base, version, param_list(req, "fields"),
                                                   props, expand=param_list(req, "expand")))
        if not sub and method == "PUT":
            body = req.json()
            body = body if isinstance(body, dict) else {}
            issues.edit(issue, user, body.get("fields"), body.get("update"), version,
                        properties=body.get("properties"))
            return empty(204)
        if sub == ["transitions"] and method == "GET":
            wanted = req.param("transitionId")
            return json_response(200, {"expand": "transitions", "transitions": [
                render_transition(self.site, t, base) for t in issues.available_transitions(issue)
                if not wanted or t["id"] == wanted]})
        if sub == ["transitions"] and method == "POST":
            body = req.json()
            body = body if isinstance(body, dict) else {}
            if not isinstance(body.get("transition"), dict) or body["transition"].get("id") in (None, ""):
                raise JiraError(400, "Missing 'transition' identifier")
            issues.transition(issue, user, body["transition"], body.get("fields"), body.get("update"), version)
            return empty(204)
        if sub == ["attachments"] and method == "POST":
            return self.attachments.upload(req, issue, user)
        if sub and sub[0] == "comment":
            return self._comments(req, version, issue, sub[1:], user)
        if sub and sub[0] == "properties":
            return self._properties(req, issue, sub[1:])
        raise JiraError(404, "null for uri: " + req.path)

    def _comments(self, req: Request, version: str, issue: dict, sub: list[str], user: dict) -> object:
        issues, base = self.issues, req.base_url
        expand = "properties" in (param_list(req, "expand") or [])
        if not sub and req.method == "POST":
            body = req.json()
            body = body if isinstance(body, dict) else {}
            text = body_in(body.get("body"), version, "comment")
            props = {p.get("key"): p.get("value") for p in body.get("properties") or [] if isinstance(p, dict)}
            internal = isinstance(props.get("sd.public.comment"), dict) and props["sd.public.comment"].get("internal")
            comment = issues.add_comment(issue, user, text, public=not internal, properties=props)
            return json_response(201, issues.render_comment(comment, base, version, expand))
        if not sub and req.method == "GET":
            comments = issues.comments(issue)
            start, size = param_int(req, "startAt", 0), param_int(req, "maxResults", 5000)
            if req.param("orderBy", "").lstrip("+") == "-created":
                comments = list(reversed(comments))
            return json_response(200, {"startAt": start, "maxResults": size, "total": len(comments),
                                       "comments": [issues.render_comment(c, base, version, expand)
                                                    for c in comments[start:start + size]]})
        comment = issues.store.get("comment", sub[0])
        if comment is None or comment["issueId"] != issue["id"]:
            raise JiraError(404, f"Can not find a comment for the id: {sub[0]}.")
        if len(sub) == 1 and req.method == "GET":
            return json_response(200, issues.render_comment(comment, base, version, expand))
        if sub[1:2] == ["properties"] and req.method == "GET":
            if len(sub) == 2:
                return json_response(200, {"keys": [{"key": k, "self": f"{base}{req.path}/{k}"}
                                                    for k in comment["properties"]]})
            if sub[2] in comment["properties"]:
                return json_response(200, {"key": sub[2], "value": comment["properties"][sub[2]]})
            raise JiraError(404, f"The property with key '{sub[2]}' does not exist.")
        raise JiraError(404, "null for uri: " + req.path)

    def _properties(self, req: Request, issue: dict, sub: list[str]) -> object:
        props = issue["properties"]
        if not sub and req.method == "GET":
            return json_response(200, {"keys": [{"key": k, "self": f"{req.base_url}{req.path}/{k}"} for k in props]})
        if len(sub) != 1:
            raise JiraError(404, "null for uri: " + req.path)
        key = sub[0]
        if req.method == "GET":
            if key not in props:
                raise JiraError(404, f"The property with key '{key}' does not exist.")
            return json_response(200, {"key": key, "value": props[key]})
        if req.method == "PUT":
            if len(key) > 255:
                raise JiraError(400, "The property key cannot be longer than 255 characters.")
            existed = key in props
            props[key] = req.json() if req.body.strip() else None
            self.issues.save(issue)
            return empty(200 if existed else 201)
        if req.method == "DELETE":
            if key not in props:
                raise JiraError(404, f"The property with key '{key}' does not exist.")
            del props[key]
            self.issues.save(issue)
            return empty(204)
        raise JiraError(405, "Method Not Allowed")

    def _link(self, req: Request, user: dict) -> object:
        body = req.json()
        body = body if isinstance(body, dict) else {}
        kinds = {"causes": ("Causes", "is caused by", "causes"), "relates": ("Relates", "relates to", "relates to"),
                 "blocks": ("Blocks", "is blocked by", "blocks"),
                 # Jira Service Management's link of a problem to its incidents
                 "problem/incident": ("Problem/Incident", "is caused by", "causes")}
        kind = kinds.get(str((body.get("type") or {}).get("name", "")).lower())
        if kind is None:
            name = (body.get("type") or {}).get("name")
            raise JiraError(404, f"No issue link type with name '{name}' found.")
        refs = [body.get(side) or {} for side in ("inwardIssue", "outwardIssue")]
        inward, outward = (self.issues.get(str(r.get("id") or r.get("key"))) for r in refs)
        for issue in (inward, outward):
            if len(issue["links"]) >= self.site.link_cap:
                raise JiraError(413, f"The issue {issue['key']} has reached the limit of {self.site.link_cap} "
                                     "issue links.")
        link_id = str(self.issues.store.next_id("link", 10000))
        outward["links"].append({"id": link_id, "type": kind[0], "inward": kind[1], "outward": kind[2],
                                 "direction": "inward", "issueId": inward["id"]})
        inward["links"].append({"id": link_id, "type": kind[0], "inward": kind[1], "outward": kind[2],
                                "direction": "outward", "issueId": outward["id"]})
        self.issues.save(inward, user)
        self.issues.save(outward, user)
        return empty(201)

    def _unlink(self, link_id: str, user: dict) -> object:
        """``DELETE /issueLink/{id}``: both ends lose the link (204), an unknown id is a 404."""
        linked = [issue for issue in self.issues.all() if any(link["id"] == link_id for link in issue["links"])]
        if not linked:
            raise JiraError(404, f"No issue link with id '{link_id}' exists.")
        for issue in linked:
            issue["links"] = [link for link in issue["links"] if link["id"] != link_id]
            self.issues.save(issue, user)
        return empty(204)
