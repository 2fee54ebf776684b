# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jsm mapping (backends/jsm/mapping.py, default_mapping.yml): validation, states and transitions, fields
and values, and the default mapping proven against the simulator's standard ITSM templates on both flavours."""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmTransitionError, ItsmUnexpectedResponseError, ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import mapping as jsm_mapping

from .conftest import create_issues, new_label


@pytest.fixture
def default_data() -> dict:
    with open(jsm_mapping.DEFAULT_MAPPING, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_default_mapping_covers_every_canonical_state_and_choice():
    mapping = jsm_mapping.load_mapping()
    assert mapping.project == "ITSM"
    for kind, states in jsm_mapping.STATES.items():
        assert set(mapping.of(kind).statuses) == set(states)
        for field, choices in jsm_mapping.CHOICES[kind].items():
            assert set(mapping.of(kind).values[field]) == set(choices)
    assert jsm_mapping.load_mapping() is mapping  # read once


def _broken(data: dict, change) -> dict:
    data = copy.deepcopy(data)
    change(data)
    return data


@pytest.mark.parametrize("change, where, words", [
    (lambda d: d["change"]["statuses"].pop("review"), "change.statuses", "'review' is a required property"),
    (lambda d: d["incident"]["fields"].update(blast_radius="Blast radius"), "incident.fields", "blast_radius"),
    (lambda d: d["change"]["statuses"].update(review=["Planning"]), "change.statuses.review",
     "'Planning' is already the status of assess"),
    (lambda d: d["change"]["values"].pop("risk"), "change.values", "risk names a JSM field but has no values"),
    (lambda d: d["change"]["values"]["risk"].update(extreme=["Extreme"]), "change.values.risk", "extreme"),
    (lambda d: d["incident"]["statuses"].update(new=[]), "incident.statuses.new", "should be non-empty"),
    (lambda d: d.update(version=2), "version", "1 was expected"),
])
def test_a_broken_mapping_is_refused_naming_where(default_data, change, where, words):
    with pytest.raises(ItsmValidationError) as error:
        jsm_mapping.build_mapping(_broken(default_data, change), "site.yml")
    assert error.value.details == {"option": "jsm_mapping", "value": "site.yml"}
    assert f"{where}: " in error.value.message and words in error.value.message


def test_a_mapping_file_that_is_not_yaml_or_missing_is_refused_naming_the_option(tmp_path):
    bad = tmp_path / "m.yml"
    bad.write_text("change: [unclosed\n", encoding="utf-8")
    with pytest.raises(ItsmValidationError, match=r"jsm_mapping: .*line 2, column 1: not valid YAML"):
        jsm_mapping.load_mapping(str(bad), option="jsm_mapping")
    with pytest.raises(ItsmValidationError, match="cannot be read"):
        jsm_mapping.load_mapping(str(tmp_path / "none.yml"))


# -- states and transitions (pure) ------------------------------------------------------------------------

CHANGE = jsm_mapping.load_mapping().of("change")


def test_statuses_map_to_states_case_insensitively():
    assert CHANGE.state_of({"name": "awaiting IMPLEMENTATION"}) == "scheduled"
    assert CHANGE.state_of("Declined") == "canceled"


def test_an_unmapped_status_is_an_error_listing_what_the_mapping_maps():
    with pytest.raises(ItsmUnexpectedResponseError) as error:
        CHANGE.state_of({"name": "Under CAB review"}, "ITSM-7")
    message = error.value.message
    assert message.startswith("change ITSM-7 is in the JSM status 'Under CAB review'")
    assert "Awaiting implementation (scheduled)" in message and "change.statuses" in message


OFFERED = [{"id": "41", "name": "Review", "to": {"name": "Review"}},
           {"id": "51", "name": "Complete", "to": {"name": "Completed"}},
           {"id": "61", "name": "Mark as failed", "to": {"name": "Failed"}},
           {"id": "99", "name": "Park", "to": {"name": "Parked"}}]


def test_the_close_code_picks_the_status_a_close_lands_in():
    assert CHANGE.choose_transition("ITSM-1", "Review", "closed", OFFERED)["id"] == "51"
    assert CHANGE.choose_transition("ITSM-1", "Review", "closed", OFFERED, close_code="unsuccessful")["id"] == "61"
    assert CHANGE.choose_transition("ITSM-1", "Review", "closed", OFFERED[2:], close_code="successful")["id"] == "61"


def test_a_missing_transition_is_an_error_listing_what_the_workflow_offers():
    with pytest.raises(ItsmTransitionError) as error:
        CHANGE.choose_transition("ITSM-1", {"name": "Implementing"}, "scheduled", OFFERED)
    assert error.value.message == (
        "change ITSM-1: the JSM workflow offers no transition from 'Implementing' to scheduled (status Awaiting "
        "implementation); it offers: Review -> Review (review), Complete -> Completed (closed), Mark as failed -> "
        "Failed (closed), Park -> Parked (not mapped)")


def test_values_are_written_as_the_first_option_and_read_from_any():
    assert CHANGE.to_jsm("risk", "very_high") == "Critical"
    assert CHANGE.to_jsm("impact", "high") == "Extensive / Widespread"
    assert CHANGE.from_jsm("impact", {"value": "Significant / Large", "id": "10012"}) == "high"
    assert CHANGE.from_jsm("urgency", "critical") == "high"
    assert CHANGE.from_jsm("risk", None) is None
    with pytest.raises(ItsmValidationError, match="risk: 'extreme' is not valid; expected one of: very_high"):
        CHANGE.to_jsm("risk", "extreme")


# -- against the simulator's standard ITSM templates ---------------------------------------------------------

def test_every_mapped_field_and_option_exists_on_the_site(jsm, client):
    """Field names resolve to the site's own ids (one field-list request for both kinds), and each option value
    the mapping writes or reads is one the request type's field offers."""
    mapping = jsm_mapping.load_mapping()
    site_ids = jsm.admin("GET", "site")["fields"]
    desk = client.service_desk(mapping.project)
    request_types = {kind["name"]: kind["id"] for kind in client.request_types(desk["id"])}
    for kind in ("change", "incident"):
        part = mapping.of(kind)
        ids = part.field_ids(client.field_ids)
        assert ids == {canonical: site_ids[name] for canonical, name in part.fields.items()}
        form = client.call("GET", f"/rest/servicedeskapi/servicedesk/{desk['id']}/requesttype/"
                           f"{request_types[part.request_type]}/field", "read the request type's fields")
        offered = {field["fieldId"]: {value["label"] for value in field["validValues"]}
                   for field in form["requestTypeFields"]}
        for field, choices in part.values.items():
            assert {name for names in choices.values() for name in names} <= offered[ids[field]], (kind, field)
    assert client.http.counts[("GET", "/rest/api/2/field")] == 1


@pytest.mark.parametrize("kind, walk", [
    ("Change", ["assess", "authorize"]),
    ("Incident", ["in_progress", "on_hold", "in_progress", "resolved", "closed"]),
])
def test_the_default_mapping_walks_the_seeded_workflows(jsm, client, kind, walk):
    part = jsm_mapping.load_mapping().of(kind.lower())
    [issue] = create_issues(client, 1, new_label(), kind=kind)
    status = client.issue(issue["key"], fields=["status"])["fields"]["status"]
    assert part.state_of(status, issue["key"]) == "new"
    for target in walk:
        move = part.choose_transition(issue["key"], status, target, client.transitions(issue["key"]))
        client.transition(issue["key"], move["id"])
        status = client.issue(issue["key"], fields=["status"])["fields"]["status"]
        assert part.state_of(status, issue["key"]) == target


def test_a_change_awaiting_approval_offers_only_cancel(jsm, client):
    part = jsm_mapping.load_mapping().of("change")
    [issue] = create_issues(client, 1, new_label())
    for target in ("assess", "authorize"):
        client.transition(issue["key"], part.choose_transition(issue["key"], "", target,
                                                               client.transitions(issue["key"]))["id"])
    with pytest.raises(ItsmTransitionError, match=r"from 'Authorize' to scheduled .* it offers: Cancel -> Canceled "
                                                  r"\(canceled\)$"):
        part.choose_transition(issue["key"], "Authorize", "scheduled", client.transitions(issue["key"]))
