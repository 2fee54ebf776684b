# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Approvals of changes on a Jira Service Management site. FOR INTERNAL COLLECTION USE ONLY.

Read from the issue's Approvals field (the service-desk approvals app's custom field, found by its type): each
approval step lists its approvers with their decisions, so one issue read gives them all and one search gives
those of many changes. Each approver of each step is one canonical approval ``{approver, state, comments, stage,
decided_at}``, steps oldest first: ``approver`` is the user as the codec names users (``accountId`` on Cloud,
``name`` on Data Center), ``state`` ``requested``/``approved``/``rejected`` (Jira's ``pending``/``approved``/
``declined``), ``stage`` None (Jira does not say which status a step gates; ServiceNow records none either;
a technical decision, below, says ``assess``),
``decided_at`` the step's completion (Jira records no time per approver).

A normal change passes the canonical model's two stages (_lifecycle.CHANGE_APPROVAL_MOVES), as on local and
ServiceNow. The first, technical stage has no JSM approval step: in assess (Planning) the decision is the
workflow's transition, to authorize (the ITSM template's "Request approval", which opens the CAB's approval step)
or, rejected, back to new (a Planning -> Open transition such as "Back to open"), chosen through the mapping. The
decision is kept in the issue property ``opsgate.approval_comments`` under ``"assess"`` (a list, oldest first,
each entry ``{approver, state, comments, decided_at, after_steps}``, ``after_steps`` the number of approval
steps the issue had then, which places it among them) and approvals() lists it before the step it led to. The
second stage is the JSM approval step in authorize (Authorize): approved, the workflow moves the change to
scheduled; declined, to the mapping's rejection status (backend.py reopens it to new).

Every decision is the connection's own user's: Jira lets only an assigned approver answer a step, as themselves,
and the backend holds the technical stage to the same rule, so ``approver`` must be the connection's user (its
account id or name, its e-mail, or the user name it logs in with) and anyone else is refused before writing with
a message saying how to connect as them (it never needs to be an approver to gate, jira-api.md §12). A step's
decision is posted to ``/rest/servicedeskapi/request/{key}/approval/{id}``. Jira keeps no comment with a decision
on Cloud, so the comments go into the same property (``{approval id: {approver: text}}``) before the decision,
and an internal comment says the same to the people reading the issue.
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
from .mapping import KindMapping, status_name

Record = dict[str, t.Any]
#: the Approvals field's type: its name may be translated, its type is not
APPROVALS_FIELD_TYPE = "com.atlassian.servicedesk.approvals-plugin:sd-approvals"
COMMENTS_PROPERTY = "opsgate.approval_comments"
#: Jira's decisions (approverDecision, finalDecision) -> canonical approval states
STATES = {"pending": "requested", "approved": "approved", "declined": "rejected"}
#: canonical decision -> what the approval endpoint takes
ANSWERS = {"approved": "approve", "rejected": "decline"}
RECONCILE_CHUNK = 50  # Cloud reconciles at most 50 just-created issues per search
#: where the property keeps the technical (first) stage's decisions, which have no JSM approval step
FIRST_STAGE = "assess"
#: change type -> state -> the states a user moves a change to beyond the canonical model: a user may also take
#: "Request approval" (assess -> authorize) themselves, skipping the technical stage, as the JSM workflow allows.
USER_MOVES: dict[str, dict[str, tuple[str, ...]]] = {"normal": {"assess": ("authorize",)}}


def approvals(client: JsmClient, record: Record) -> list[Record]:
    """The change's approvals, oldest step first, each approver with their decision and comment (one request)."""
    field_id = approvals_field(client)
    issue = client.issue(issue_ref(record), fields=(field_id,), properties=(COMMENTS_PROPERTY,))
    return from_field(client, (issue.get("fields") or {}).get(field_id),
                      (issue.get("properties") or {}).get(COMMENTS_PROPERTY))


def approvals_for(client: JsmClient, ids: t.Sequence[str]) -> dict[str, list[Record]]:
    """The approvals of many changes by id, as approvals() lists them: one search per 50 changes (just-created
    ones reconciled on Cloud), their decisions' property read in the same search."""
    found: dict[str, list[Record]] = {str(change_id): [] for change_id in ids}
    field_id = approvals_field(client)
    keys = list(found)
    for start in range(0, len(keys), RECONCILE_CHUNK):
        chunk = keys[start:start + RECONCILE_CHUNK]
        numeric = all(key.isdigit() for key in chunk)
        text = jql.one_of("id" if numeric else "key", chunk, "id")
        for issue in client.search(text, fields=(field_id,), reconcile=chunk if numeric else (),
                                   what=f"read the approvals of {len(chunk)} changes", properties=(COMMENTS_PROPERTY,)):
            value = (issue.get("fields") or {}).get(field_id)
            comments = (issue.get("properties") or {}).get(COMMENTS_PROPERTY)
            ref = issue["id"] if issue["id"] in found else issue.get("key")
            if ref in found:
                found[ref] = from_field(client, value, comments)
    return found


def decide_approval(client: JsmClient, record: Record, approver: str, decision: str, comments: str | None,
                    check_mode: bool, read_back: t.Callable[[], Record | None], mapping: KindMapping) -> Record:
    """Record ``approver``'s ``decision`` on the stage waiting for them; the change as it is afterwards
    (``read_back()``). A decision already recorded is not sent again (a re-run changes nothing)."""
    inputs.approval_decision(approver, decision, comments)
    ref, label = issue_ref(record), record.get("number") or issue_ref(record)
    me_user = client.myself()
    me = user_id(client, me_user) or approver
    who = me if is_connection_user(client, me_user, approver) else approver
    if _in_first_stage(record):
        return _decide_first_stage(client, record, approver, who, me, decision, comments, check_mode, read_back,
                                   mapping)
    steps = list(client.desk_values(f"/request/{_segment(ref)}/approval",
                                    f"read the approvals of {label}"))
    pending = [step for step in steps if step.get("finalDecision") == "pending"
               and _decision_of(client, step, who) == "pending"]
    if not pending:
        if any(_decision_of(client, step, who) == _jira_state(decision) for step in steps) or \
                _first_stage_decided(client, ref, who, decision):
            return read_back() or record  # decided already
        if who != me:  # Cloud names no one by login: only the approver's own connection can tell
            raise _not_the_connection_user(approver, me, label)
        raise ItsmTransitionError(
            f"{label} is not awaiting approval from {approver} (state {record.get('state')}, approval "
            f"{record.get('approval')}); only an approver with a pending approval can decide", option="approver",
            value=approver)
    if who != me:
        raise _not_the_connection_user(approver, me, label)
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
        return Response(200, {}, again, "") if _decision_of(client, again, me) != "pending" else None

    client.call("POST", path, f"record {approver}'s decision on {label}", headers=DESK_HEADERS, idempotent=False,
                recover=recover, json_body={"decision": ANSWERS[decision]})
    if comments:
        client.add_comment(ref, f"{approver} {decision} {step.get('name') or 'the approval'}: {comments}",
                           internal=True)
    return read_back() or record


def _decide_first_stage(client: JsmClient, record: Record, approver: str, who: str, me: str, decision: str,
                        comments: str | None, check_mode: bool, read_back: t.Callable[[], Record | None],
                        mapping: KindMapping) -> Record:
    """The technical stage of a change in assess: the decision kept in the property, then the workflow's move to
    authorize (approved) or new (rejected); every check made, and the transition chosen, before the first write."""
    ref, label, change_type = issue_ref(record), record.get("number") or issue_ref(record), record.get("type")
    if who != me:
        raise _not_the_connection_user(approver, me, label)
    outcome = lifecycle.approval_outcome(change_type or "normal", FIRST_STAGE, decision)
    if outcome is None:  # pragma: no cover - _in_first_stage() holds only where the model has this stage
        raise ItsmTransitionError(f"{label} awaits no technical approval", option="approver", value=approver)
    move = mapping.choose_transition(label, mapping.statuses[FIRST_STAGE][0], outcome[0], client.transitions(ref))
    if check_mode:
        return dict(record, state=outcome[0], approval=outcome[1])
    field_id = approvals_field(client)
    issue = client.issue(ref, fields=(field_id,), properties=(COMMENTS_PROPERTY,))
    steps = len([step for step in (issue.get("fields") or {}).get(field_id) or [] if isinstance(step, dict)])
    kept = (issue.get("properties") or {}).get(COMMENTS_PROPERTY)
    kept = kept if isinstance(kept, dict) else {}
    decided = first_stage(kept)
    latest = decided[-1] if decided else {}
    # A re-run after a failure between the two writes: the same decision is kept already, only the move is left.
    if (latest.get("approver"), latest.get("state"), latest.get("after_steps")) != (me, decision, steps):
        kept[FIRST_STAGE] = decided + [{"approver": me, "state": decision, "comments": comments, "after_steps": steps,
                                        "decided_at": records.format_datetime(dt.datetime.now(dt.timezone.utc))}]
        client.set_property(ref, COMMENTS_PROPERTY, kept)
    target = status_name(move.get("to")).lower()

    def landed() -> Response | None:
        """An attempt whose answer was lost: taken when the issue is in the move's status now."""
        return Response(204, {}, None, "") if status_name(client.status(ref)).lower() == target else None

    client.transition(ref, move["id"], recover=landed)
    client.add_comment(ref, f"{approver} {decision} the technical approval" + (f": {comments}" if comments else ""),
                       internal=True)
    return read_back() or record


def _in_first_stage(record: Record) -> bool:
    """Whether the change awaits its technical approval: in assess, where its type's model asks for one."""
    return record.get("state") == FIRST_STAGE and \
        FIRST_STAGE in lifecycle.CHANGE_APPROVAL_MOVES.get(record.get("type") or "normal", {})


def _first_stage_decided(client: JsmClient, ref: str, who: str, decision: str) -> bool:
    """Whether the latest technical decision is ``who``'s ``decision`` (a re-run once the change moved on)."""
    decided = first_stage(client.get_property(ref, COMMENTS_PROPERTY))
    return bool(decided) and (decided[-1].get("approver"), decided[-1].get("state")) == (who, decision)


def _not_the_connection_user(approver: str, me: str, label: str) -> ItsmTransitionError:
    return ItsmTransitionError(
        f"approver: Jira lets only an assigned approver answer an approval, as themselves; the connection's user is "
        f"{me}, so {approver}'s decision on {label} must be sent with {approver}'s credentials: connect as "
        f"{approver} (username and token: their API token; token alone: their personal access token), for example "
        "with the task's username and token options", option="approver", value=approver)


def is_connection_user(client: JsmClient, me: t.Mapping[str, t.Any], given: str) -> bool:
    """Whether ``given`` names the connection's own user ``me``: its id, its e-mail, or the user name it logs in
    with (Cloud answers with no user name, and a playbook names approvers by the logins it has for them)."""
    login = str(client.settings.username or "").lower()
    return matches(client, me, given) or (bool(login) and given.lower() == login)


def first_stage(kept: t.Any) -> list[Record]:
    """The technical stage's decisions kept in the property, oldest first."""
    decided = kept.get(FIRST_STAGE) if isinstance(kept, dict) else None
    return [entry for entry in decided or [] if isinstance(entry, dict)] if isinstance(decided, list) else []


# -- reading -----------------------------------------------------------------------------------------

def approvals_field(client: JsmClient) -> str:
    """The id of the issue's Approvals field: by its type, else by the name ``Approvals``."""
    for field in client.fields():
        if (field.get("schema") or {}).get("custom") == APPROVALS_FIELD_TYPE:
            return field["id"]
    return client.field_ids(["Approvals"], option="approvals")["Approvals"]


def from_field(client: JsmClient, value: t.Any, comments: t.Any) -> list[Record]:
    """Canonical approvals from the Approvals field's value and the comments property."""
    technical = first_stage(comments)
    comments = comments if isinstance(comments, dict) else {}
    steps = sorted((step for step in value or [] if isinstance(step, dict)),
                   key=lambda step: (_millis(step.get("createdDate")), _int(step.get("id"))))
    found = []
    for index, step in enumerate(steps + [{}]):
        # each technical decision before the approval step it led to (the last ones after every step)
        found.extend({"approver": entry.get("approver"), "state": entry.get("state"), "comments": entry.get("comments"),
                      "stage": FIRST_STAGE, "decided_at": entry.get("decided_at")} for entry in technical
                     if _int(entry.get("after_steps")) == index or (index == len(steps)
                                                                    and _int(entry.get("after_steps")) > index))
        said = comments.get(str(step.get("id"))) or {}
        for entry in step.get("approvers") or []:
            state = STATES.get(str(entry.get("approverDecision")))
            who = user_id(client, entry.get("approver") or {})
            if state is None or who is None or (state == "requested" and step.get("finalDecision") != "pending"):
                continue  # an approver not asked any more: the step was decided (the first decision decides)
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
