# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Approvals of changes on a Jira Service Management site. FOR INTERNAL COLLECTION USE ONLY.

Read from the issue's Approvals field (the service-desk approvals app's custom field, found by its type): each
approval step lists its approvers with their decisions, so one issue read gives them all and one search gives
those of many changes. Each approver of each step is one canonical approval ``{approver, state, comments, stage,
decided_at}``, steps oldest first: ``approver`` is the user as the codec names users (``accountId`` on Cloud,
``name`` on Data Center), ``state`` ``requested``/``approved``/``rejected`` (Jira's ``pending``/``approved``/
``declined``), ``stage`` None (Jira does not say which status a step gates; ServiceNow records none either),
``decided_at`` the step's completion (Jira records no time per approver).

A decision is posted to ``/rest/servicedeskapi/request/{key}/approval/{id}`` and Jira lets only an assigned
approver answer, as themselves: the backend decides for ``approver`` only when the connection's user is that
approver, and refuses before writing otherwise (it never needs to be an approver to gate, jira-api.md §12).
Jira keeps no comment with a decision on Cloud, so the comments go into the issue property
``opsgate.approval_comments`` (``{approval id: {approver: text}}``, where approvals() reads them) before the
decision, and an internal comment says the same to the people reading the issue.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import urllib.parse

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _records as records
from ..._errors import ItsmTransitionError
from ..._http import Response
from . import jql
from .client import DESK_API, DESK_HEADERS, JsmClient

Record = dict[str, t.Any]
#: the Approvals field's type: its name may be translated, its type is not
APPROVALS_FIELD_TYPE = "com.atlassian.servicedesk.approvals-plugin:sd-approvals"
COMMENTS_PROPERTY = "opsgate.approval_comments"
#: Jira's decisions (approverDecision, finalDecision) -> canonical approval states
STATES = {"pending": "requested", "approved": "approved", "declined": "rejected"}
#: canonical decision -> what the approval endpoint takes
ANSWERS = {"approved": "approve", "rejected": "decline"}
RECONCILE_CHUNK = 50  # Cloud reconciles at most 50 just-created issues per search


def approvals(client: JsmClient, record: Record) -> list[Record]:
    """The change's approvals, oldest step first, each approver with their decision and comment (one request)."""
    field_id = approvals_field(client)
    issue = client.issue(issue_ref(record), fields=(field_id,), properties=(COMMENTS_PROPERTY,))
    return from_field(client, (issue.get("fields") or {}).get(field_id),
                      (issue.get("properties") or {}).get(COMMENTS_PROPERTY))


def approvals_for(client: JsmClient, ids: t.Sequence[str]) -> dict[str, list[Record]]:
    """The approvals of many changes by id, as approvals() lists them: one search per 50 changes (just-created
    ones reconciled on Cloud), plus one property read for each change whose approvers have decided."""
    found: dict[str, list[Record]] = {str(change_id): [] for change_id in ids}
    field_id = approvals_field(client)
    keys = list(found)
    for start in range(0, len(keys), RECONCILE_CHUNK):
        chunk = keys[start:start + RECONCILE_CHUNK]
        numeric = all(key.isdigit() for key in chunk)
        text = jql.one_of("id" if numeric else "key", chunk, "id")
        for issue in client.search(text, fields=(field_id,), reconcile=chunk if numeric else (),
                                   what=f"read the approvals of {len(chunk)} changes"):
            value = (issue.get("fields") or {}).get(field_id)
            decided = any(entry.get("finalDecision") != "pending" for entry in value or [])
            comments = client.get_property(issue["id"], COMMENTS_PROPERTY) if decided else None
            ref = issue["id"] if issue["id"] in found else issue.get("key")
            if ref in found:
                found[ref] = from_field(client, value, comments)
    return found


def decide_approval(client: JsmClient, record: Record, approver: str, decision: str, comments: str | None,
                    check_mode: bool, read_back: t.Callable[[], Record | None]) -> Record:
    """Record ``approver``'s ``decision`` on the step waiting for them; the change as it is afterwards
    (``read_back()``). A decision already recorded is not sent again (a re-run changes nothing)."""
    inputs.approval_decision(approver, decision, comments)
    ref, label = issue_ref(record), record.get("number") or issue_ref(record)
    steps = list(client.desk_values(f"/request/{_segment(ref)}/approval",
                                    f"read the approvals of {label}"))
    pending = [step for step in steps if step.get("finalDecision") == "pending"
               and _decision_of(client, step, approver) == "pending"]
    if not pending:
        if any(_decision_of(client, step, approver) == _jira_state(decision) for step in steps):
            return read_back() or record  # decided already
        raise ItsmTransitionError(
            f"{label} is not awaiting approval from {approver} (state {record.get('state')}, approval "
            f"{record.get('approval')}); only an approver with a pending approval can decide", option="approver",
            value=approver)
    me = user_id(client, client.myself())
    if not matches(client, _approver_users(pending[0]).get(approver.lower()) or {}, me):
        raise ItsmTransitionError(
            f"approver: Jira lets only an assigned approver answer an approval, as themselves; the connection's "
            f"user is {me}, so {approver}'s decision on {label} must be sent with {approver}'s credentials",
            option="approver", value=approver)
    if check_mode:
        outcome = lifecycle.approval_outcome(record.get("type") or "normal", record.get("state") or "", decision)
        return dict(record, state=outcome[0], approval=outcome[1]) if outcome else dict(record)
    step = pending[0]
    if comments:
        kept = client.get_property(ref, COMMENTS_PROPERTY) or {}
        kept.setdefault(str(step["id"]), {})[me] = comments
        client.set_property(ref, COMMENTS_PROPERTY, kept)
    path = f"{DESK_API}/request/{_segment(ref)}/approval/{_segment(step['id'])}"

    def recover() -> Response | None:
        # One decision per approver: once theirs is no longer pending, the POST landed (or someone answered).
        again = client.call("GET", path, f"look for {approver}'s decision on {label}", headers=DESK_HEADERS)
        return Response(200, {}, again, "") if _decision_of(client, again, approver) != "pending" else None

    client.call("POST", path, f"record {approver}'s decision on {label}", headers=DESK_HEADERS, idempotent=False,
                recover=recover, json_body={"decision": ANSWERS[decision]})
    if comments:
        client.add_comment(ref, f"{approver} {decision} {step.get('name') or 'the approval'}: {comments}",
                           internal=True)
    return read_back() or record


# -- reading -----------------------------------------------------------------------------------------

def approvals_field(client: JsmClient) -> str:
    """The id of the issue's Approvals field: by its type, else by the name ``Approvals``."""
    for field in client.fields():
        if (field.get("schema") or {}).get("custom") == APPROVALS_FIELD_TYPE:
            return field["id"]
    return client.field_ids(["Approvals"], option="approvals")["Approvals"]


def from_field(client: JsmClient, value: t.Any, comments: t.Any) -> list[Record]:
    """Canonical approvals from the Approvals field's value and the comments property."""
    comments = comments if isinstance(comments, dict) else {}
    steps = sorted((step for step in value or [] if isinstance(step, dict)),
                   key=lambda step: (_millis(step.get("createdDate")), _int(step.get("id"))))
    found = []
    for step in steps:
        said = comments.get(str(step.get("id"))) or {}
        for entry in step.get("approvers") or []:
            state = STATES.get(str(entry.get("approverDecision")))
            who = user_id(client, entry.get("approver") or {})
            if state is None or who is None:
                continue
            found.append({"approver": who, "state": state, "comments": said.get(who) if isinstance(said, dict)
                          else None, "stage": None,
                          "decided_at": _date(step.get("completedDate")) if state != "requested" else None})
    return found


def user_id(client: JsmClient, user: t.Mapping[str, t.Any]) -> str | None:
    """How the backend names a user: ``accountId`` on Cloud, ``name`` on Data Center."""
    return user.get("accountId" if client.cloud else "name") or None


def matches(client: JsmClient, user: t.Mapping[str, t.Any], given: str) -> bool:
    """Whether ``given`` names the user: its id (user_id), or its e-mail address (any case)."""
    names = {user_id(client, user), str(user.get("emailAddress") or "").lower() or None}
    return given in names or given.lower() in names


def issue_ref(record: Record) -> str:
    """The issue id (stable across project moves), else its key."""
    return str(record.get("id") or record.get("number"))


def _approver_users(step: t.Mapping[str, t.Any]) -> dict[str, dict]:
    """The step's approvers by every lower-case name they go by (account id, name, key, e-mail)."""
    found = {}
    for entry in step.get("approvers") or []:
        user = entry.get("approver") or {}
        for name in ("accountId", "name", "key", "emailAddress"):
            if user.get(name):
                found.setdefault(str(user[name]).lower(), user)
    return found


def _decision_of(client: JsmClient, step: t.Mapping[str, t.Any], approver: str) -> str | None:
    """``approver``'s decision in the step (``pending``, ``approved``, ``declined``), None when not theirs."""
    for entry in step.get("approvers") or []:
        if matches(client, entry.get("approver") or {}, approver):
            return entry.get("approverDecision")
    return None


def _segment(value: t.Any) -> str:
    return urllib.parse.quote(str(value), safe="")


def _jira_state(decision: str) -> str:
    return next(jira for jira, canonical in STATES.items() if canonical == decision)


def _millis(date: t.Any) -> int:
    return _int((date or {}).get("epochMillis")) if isinstance(date, dict) else 0


def _int(value: t.Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _date(date: t.Any) -> str | None:
    """A service-desk date object ``{epochMillis, iso8601, ...}`` as the collection's ISO 8601 form."""
    millis = _millis(date)
    return records.format_datetime(dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc)) if millis else None
