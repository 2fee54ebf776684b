"""Change approvals (jira-api.md §5.4): opened when a change enters the workflow's approval status, one
approver per member of the approval group (``CAB Approval``: ``cab.approver``), the first decision decides
(condition "number of approvers: 1") and moves the issue on.  Only an assigned approver may answer, and
only while the approval is pending (§12).
"""

from __future__ import annotations

from .wire import DeskError, date_obj


def open_approval(site, issue: dict, step: dict) -> dict:
    now = site.now_str()
    approval = {"id": str(site.store.next_id("approval", 1)), "issueId": issue["id"], "name": step["name"],
                "finalDecision": "pending", "created": now, "completed": None, "statusId": step["status"],
                "approvers": [{"user": u["name"], "decision": "pending"} for u in site.group_members(step["group"])]}
    site.store.put("approval", approval["id"], approval, issue["id"])
    return approval


def for_issue(site, issue: dict) -> list[dict]:
    return site.store.all("approval", issue["id"])


def find(site, issue: dict, approval_id: str) -> dict:
    approval = site.store.get("approval", approval_id)
    if approval is None or approval["issueId"] != issue["id"]:
        raise DeskError(404, f"The approval with id '{approval_id}' does not exist on this request.",
                        "sd.approval.error.not.found")
    return approval


def decide(site, issues, issue: dict, approval: dict, user: dict, decision: object) -> dict:
    if decision not in ("approve", "decline"):
        raise DeskError(400, "The decision must be either 'approve' or 'decline'.", "sd.approval.error.decision")
    mine = next((a for a in approval["approvers"] if a["user"] == user["name"]), None)
    if mine is None:
        raise DeskError(403, "You are not an approver of this request and cannot answer this approval.",
                        "sd.approval.error.not.approver")
    if approval["finalDecision"] != "pending":
        raise DeskError(400, "This approval has already been answered.", "sd.approval.error.already.decided")
    mine["decision"] = "approved" if decision == "approve" else "declined"
    approval["finalDecision"] = mine["decision"]
    approval["completed"] = site.now_str()
    site.store.put("approval", approval["id"], approval, issue["id"])
    step = site.workflow(issue["issuetypeId"]).get("approval")
    if step and issue["statusId"] == approval["statusId"]:
        issues.set_status(issue, step["approved" if decision == "approve" else "declined"])
    return approval


def render(site, approval: dict, issue: dict, user: dict | None, base: str) -> dict:
    approvers = []
    for entry in approval["approvers"]:
        person = site.user(entry["user"])
        who = {"displayName": person["displayName"], "emailAddress": person["emailAddress"], "active": True}
        who.update({"accountId": person["accountId"]} if site.cloud else {"key": person["key"], "name": person["name"]})
        approvers.append({"approver": who, "approverDecision": entry["decision"]})
    pending = approval["finalDecision"] == "pending"
    body = {"id": approval["id"], "name": approval["name"], "finalDecision": approval["finalDecision"],
            "canAnswerApproval": bool(pending and user and any(a["user"] == user["name"]
                                                               for a in approval["approvers"])),
            "approvers": approvers, "createdDate": date_obj(approval["created"]),
            "_links": {"self": f"{base}/rest/servicedeskapi/request/{issue['id']}/approval/{approval['id']}"}}
    if approval["completed"]:
        body["completedDate"] = date_obj(approval["completed"])
    if not site.cloud:
        body["condition"] = {"type": "number", "value": "1"}
    return body


def render_field(site, approval: dict, base: str) -> dict:
    """The approvals custom field on the issue (a compact form of the same data)."""
    return {"id": approval["id"], "name": approval["name"], "finalDecision": approval["finalDecision"],
            "approvers": [{"approver": site.render_user(site.user(a["user"]), base), "approverDecision":
                           a["decision"]} for a in approval["approvers"]],
            "createdDate": date_obj(approval["created"]),
            **({"completedDate": date_obj(approval["completed"])} if approval["completed"] else {})}
