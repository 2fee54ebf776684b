"""Issue attachments (Jira platform ``/rest/api/2``): upload, metadata, content, delete, and the issue's
``attachment`` field.  The reference (jira-api.md) names only the cap of about 2,000 attachments per issue;
what it leaves open is the simulator's choice and listed in tests/simulators/README.md (JSM section).

- ``POST /issue/{key}/attachments``: multipart/form-data, every file part (any field name; Jira's clients
  send ``file``) becomes one attachment; without ``X-Atlassian-Token: no-check`` the answer is Jira's 403
  "XSRF check failed". Answers 200 with the list of new attachments.
- ``GET /attachment/{id}``: the metadata, ``content`` pointing at the bytes: Cloud
  ``/rest/api/2/attachment/content/{id}``, Data Center ``/secure/attachment/{id}/{filename}``.
- ``DELETE /attachment/{id}``: 204.
- A part's Content-Type is kept as the ``mimeType``, except ``application/octet-stream`` (what most clients
  send for every file), which is replaced by the type the file name suggests, as Jira's MIME manager does.
"""

from __future__ import annotations

import base64
import mimetypes
from email.parser import BytesParser
from email.policy import HTTP

from .wire import JiraError, Request, Response, empty, json_response

GENERIC_TYPE = "application/octet-stream"


class Attachments:
    def __init__(self, issues) -> None:
        self.issues = issues
        self.site = issues.site
        self.store = issues.store

    # -- the issue side --------------------------------------------------------------------------------

    def upload(self, req: Request, issue: dict, user: dict) -> Response:
        if req.header("X-Atlassian-Token").lower() != "no-check":
            raise JiraError(403, "XSRF check failed")
        files = _file_parts(req)
        if not files:
            raise JiraError(400, "No file was attached: send multipart/form-data with a file part.")
        if len(self.for_issue(issue)) + len(files) > self.site.attachment_cap:
            raise JiraError(413, f"The issue {issue['key']} has reached the limit of {self.site.attachment_cap} "
                                 "attachments.")
        made = []
        for filename, content_type, content in files:
            attachment_id = str(self.store.next_id("attachment", 10000))
            mime = content_type if content_type and content_type != GENERIC_TYPE else \
                mimetypes.guess_type(filename)[0] or GENERIC_TYPE
            doc = {"id": attachment_id, "issueId": issue["id"], "filename": filename, "mimeType": mime,
                   "size": len(content), "created": self.site.now_str(), "author": user["name"],
                   "content": base64.b64encode(content).decode("ascii")}
            self.store.put("attachment", attachment_id, doc, issue["id"])
            made.append(self.render(doc, req.base_url))
        self.issues.save(issue, user)
        return json_response(200, made)

    def for_issue(self, issue: dict) -> list[dict]:
        return self.store.all("attachment", issue["id"])

    def render_field(self, issue: dict, base: str) -> list[dict]:
        """The issue's ``attachment`` field: every attachment, oldest first."""
        return [self.render(doc, base) for doc in self.for_issue(issue)]

    # -- /attachment/{id} --------------------------------------------------------------------------------

    def route(self, req: Request, rest: list[str], user: dict) -> Response:
        if rest[:1] == ["content"] and len(rest) == 2 and req.method == "GET" and self.site.cloud:
            return self.content(rest[1])
        if len(rest) != 1:
            raise JiraError(404, "null for uri: " + req.path)
        doc = self._get(rest[0])
        if req.method == "GET":
            return json_response(200, self.render(doc, req.base_url))
        if req.method == "DELETE":
            self.store.delete("attachment", doc["id"])
            self.issues.save(self.issues.get(doc["issueId"]), user)
            return empty(204)
        raise JiraError(405, "Method Not Allowed")

    def content(self, attachment_id: str, filename: str | None = None) -> Response:
        doc = self._get(attachment_id)
        if filename is not None and filename != doc["filename"]:
            raise JiraError(404, f"The attachment with id '{attachment_id}' has no file named '{filename}'.")
        return Response(200, base64.b64decode(doc["content"]), [
            ("Content-Type", doc["mimeType"]), ("Cache-Control", "private"),
            ("Content-Disposition", f"attachment; filename=\"{doc['filename']}\"")])

    def render(self, doc: dict, base: str) -> dict:
        content = (f"{base}/rest/api/2/attachment/content/{doc['id']}" if self.site.cloud
                   else f"{base}/secure/attachment/{doc['id']}/{doc['filename']}")
        return {"self": f"{base}/rest/api/2/attachment/{doc['id']}", "id": doc["id"], "filename": doc["filename"],
                "author": self.site.render_user(self.site.user(doc["author"]), base), "created": doc["created"],
                "size": doc["size"], "mimeType": doc["mimeType"], "content": content}

    def _get(self, attachment_id: str) -> dict:
        doc = self.store.get("attachment", attachment_id)
        if doc is None:
            raise JiraError(404, f"The attachment with id '{attachment_id}' does not exist.")
        return doc


def _file_parts(req: Request) -> list[tuple[str, str, bytes]]:
    """``(filename, content type, bytes)`` of each file part of a multipart/form-data body."""
    content_type = req.header("Content-Type")
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise JiraError(415, "Unsupported Media Type: attachments are sent as multipart/form-data.")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + req.body)
    return [(part.get_filename(), part.get_content_type() if part.get("Content-Type") else "",
             part.get_payload(decode=True) or b"")
            for part in message.iter_parts() if part.get_filename()]
