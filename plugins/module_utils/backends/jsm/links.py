# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An incident's ``caused_by`` and ``problem`` as Jira issue links. FOR INTERNAL COLLECTION USE ONLY.

An incident holds one link of each of two types, each read from the incident's side (its "is caused by" end):

- ``caused_by``: the link type ``Causes`` (outward "causes", inward "is caused by", one of Jira's default link
  types) joins the change (the cause) to the incident: the incident "is caused by" the change;
- ``problem`` (issue 19): the link type ``Problem/Incident`` (Jira Service Management's link of a problem to its
  incidents; outward "causes", inward "is caused by") joins the problem to the incident.

Reading: ``caused_by(issue)`` / ``problem_of(issue)`` is the key of the issue an incident's ``issuelinks``
(ISSUE_FIELDS) link it to with that type, the newest such link when there are several. Writing: ``set_link`` makes
that link the only one of its type (an older one is removed, as ServiceNow's single reference is replaced) and
reads the issue back to verify; that the change or problem exists is the caller's check, made before its first
write (as the runners do). Keys compare in any case. Searching incidents by cause or problem (JQL ``issue in
linkedIssues(KEY, ...)``) is not done here.
"""

from __future__ import annotations

import typing as t

from ..._errors import ItsmUnexpectedResponseError
from ..._http import Response
from .client import JsmClient

CAUSES = "Causes"
PROBLEM_INCIDENT = "Problem/Incident"
#: canonical incident field -> the link type holding it, and what the linked issue is
LINKED = {"caused_by": (CAUSES, "cause"), "problem": (PROBLEM_INCIDENT, "problem")}
#: the issue fields caused_by() and problem_of() read
ISSUE_FIELDS = ("issuelinks",)


def caused_by(issue: t.Mapping[str, t.Any]) -> str | None:
    """The key of the issue this one is caused by (its newest ``Causes`` link seen from the caused side)."""
    return linked(issue, "caused_by")


def problem_of(issue: t.Mapping[str, t.Any]) -> str | None:
    """The key of the problem this incident is linked to (its newest ``Problem/Incident`` link)."""
    return linked(issue, "problem")


def linked(issue: t.Mapping[str, t.Any], field: str) -> str | None:
    """The key of the issue the incident's ``field`` (``caused_by``, ``problem``) links it to, or None."""
    found = _links(issue, LINKED[field][0])
    return found[-1][1] if found else None


def set_caused_by(client: JsmClient, key: str, cause_key: str, check_mode: bool = False) -> bool:
    """Make ``cause_key`` the issue's only cause; True when something changed (or would, in check mode)."""
    return set_link(client, key, "caused_by", cause_key, check_mode)


def clear_caused_by(client: JsmClient, key: str, check_mode: bool = False) -> bool:
    """Remove every ``is caused by`` link of the issue; True when there was one."""
    return clear_link(client, key, "caused_by", check_mode)


def set_link(client: JsmClient, key: str, field: str, other_key: str, check_mode: bool = False) -> bool:
    """Make ``other_key`` the only issue the incident ``key``'s ``field`` links it to; True when something changed
    (or would, in check mode)."""
    kind, what = LINKED[field]
    issue = client.issue(key, fields=ISSUE_FIELDS)
    found = _links(issue, kind)
    ours = [link_id for link_id, held in found if held.upper() == other_key.upper()]
    others = [link_id for link_id, held in found if held.upper() != other_key.upper()]
    if ours and not others:
        return False
    if check_mode:
        return True
    if not ours:
        def recover() -> Response | None:
            # A link is one row per pair and type: if the read shows it, the POST landed.
            again = client.issue(key, fields=ISSUE_FIELDS)
            landed = any(held.upper() == other_key.upper() for _link, held in _links(again, kind))
            return Response(201, {}, None, "") if landed else None

        client.add_link(kind, other_key, key, f"link {key} to its {what} {other_key}", recover=recover)
    for link_id in others:
        client.delete_link(link_id, f"remove the former {what} of {key}")
    if (linked(client.issue(key, fields=ISSUE_FIELDS), field) or "").upper() != other_key.upper():
        raise ItsmUnexpectedResponseError(f"{field}: {key} was linked to {other_key}, but reading it back does not "
                                          f"show {other_key} as its {what}", url=client.http.base)
    return True


def clear_link(client: JsmClient, key: str, field: str, check_mode: bool = False) -> bool:
    """Remove every link of the incident's ``field``; True when there was one."""
    kind, what = LINKED[field]
    found = _links(client.issue(key, fields=ISSUE_FIELDS), kind)
    if found and not check_mode:
        for link_id, _held in found:
            client.delete_link(link_id, f"remove the {what} of {key}")
    return bool(found)


def _links(issue: t.Mapping[str, t.Any], kind: str) -> list[tuple[str, str]]:
    """``(link id, key of the linking issue)`` of the issue's "is caused by" links of type ``kind``, oldest first."""
    found = []
    for link in (issue.get("fields") or {}).get("issuelinks") or []:
        link_type = link.get("type") or {}
        other = link.get("inwardIssue")
        if str(link_type.get("name", "")).lower() == kind.lower() and isinstance(other, dict) and other.get("key"):
            found.append((str(link.get("id")), str(other["key"])))
    return sorted(found, key=lambda item: int(item[0]) if item[0].isdigit() else 0)
