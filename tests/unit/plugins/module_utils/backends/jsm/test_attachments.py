# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/attachments.py against the JSM simulator, Cloud and Data Center: uploads idempotent by name and
the sha256 kept in the issue property, replacement of an older content, check mode, an upload cut off after it
landed, and refusals before any request."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import attachments as jsm_attachments

from .conftest import create_issues, new_label

KEYS = {"id", "name", "size", "sha256", "content_type", "created", "url"}


def _upload_path(key: str) -> str:
    return f"/rest/api/2/issue/{key}/attachments"


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"all green\n")
    return path


@pytest.fixture
def key(client):
    return create_issues(client, 1, new_label())[0]["key"]


def test_an_upload_is_idempotent_by_name_and_sha256(jsm, client, key, report):
    changed, first = jsm_attachments.add_attachment(client, key, str(report), None, None, False)
    again, second = jsm_attachments.add_attachment(client, key, str(report), None, None, False)

    assert (changed, again) == (True, False)
    assert jsm.request_count("POST", _upload_path(key)) == 1
    assert set(first) == KEYS and first == second
    assert (first["name"], first["size"], first["content_type"]) == ("report.txt", 10, "text/plain")
    assert first["sha256"] == hashlib.sha256(b"all green\n").hexdigest()
    assert first["created"].endswith("Z") and first["url"].startswith(jsm.url)
    assert jsm_attachments.attachments(client, key) == [first]
    assert client.get_property(key, jsm_attachments.HASH_PROPERTY) == {first["id"]: first["sha256"]}


def test_new_content_replaces_the_old_and_another_name_adds(client, key, report):
    _changed, old = jsm_attachments.add_attachment(client, key, str(report), None, None, False)
    report.write_bytes(b"one red\n")

    _changed, replaced = jsm_attachments.add_attachment(client, key, str(report), None, None, False)
    _changed, other = jsm_attachments.add_attachment(client, key, str(report), "copy.log", "text/x-log", False)

    listed = jsm_attachments.attachments(client, key)
    assert [(item["name"], item["sha256"]) for item in listed] == [
        ("report.txt", replaced["sha256"]), ("copy.log", replaced["sha256"])]
    assert other["content_type"] == "text/x-log" and old["id"] not in {item["id"] for item in listed}
    assert set(client.get_property(key, jsm_attachments.HASH_PROPERTY)) == {replaced["id"], other["id"]}


def test_check_mode_uploads_nothing(jsm, client, key, report):
    changed, approximate = jsm_attachments.add_attachment(client, key, str(report), None, None, True)

    assert changed is True and approximate["id"] is None and approximate["sha256"]
    assert jsm.request_count("POST", _upload_path(key)) == 0
    assert jsm_attachments.attachments(client, key) == []


def test_an_attachment_without_a_recorded_sha256_is_replaced_once(jsm, client, key, report):
    client.upload_attachment(key, "report.txt", b"all green\n", "text/plain")  # as a person in Jira's UI would
    (foreign,) = jsm_attachments.attachments(client, key)
    assert foreign["sha256"] is None

    changed, ours = jsm_attachments.add_attachment(client, key, str(report), None, None, False)
    again, _same = jsm_attachments.add_attachment(client, key, str(report), None, None, False)

    assert (changed, again) == (True, False)
    assert jsm_attachments.attachments(client, key) == [ours]


def test_an_upload_cut_off_after_it_landed_is_found_not_sent_again(jsm, client, key, report):
    jsm.admin("POST", "faults", {"kind": "reset", "stage": "headers", "count": 1, "method": "POST",
                                 "path": _upload_path(key)})

    changed, attached = jsm_attachments.add_attachment(client, key, str(report), None, None, False)

    assert changed is True and attached["sha256"] == hashlib.sha256(b"all green\n").hexdigest()
    posts = jsm.admin("GET", f"requests?method=POST&path={_upload_path(key)}")["requests"]
    assert [entry["fault"] for entry in posts] == ["reset"]  # cut off once, found, never sent again
    assert jsm_attachments.attachments(client, key) == [attached]


def test_a_file_name_with_non_ascii_letters_round_trips(client, key, report):
    _changed, attached = jsm_attachments.add_attachment(client, key, str(report), "résumé été.txt", None, False)

    assert [item["name"] for item in jsm_attachments.attachments(client, key)] == ["résumé été.txt"]
    assert attached["content_type"] == "text/plain"


@pytest.mark.parametrize("name, option", [(None, "path"), ("a/b.txt", "name"), ("..", "name")])
def test_bad_input_is_refused_before_any_request(jsm, client, report, tmp_path, name, option):
    path = str(tmp_path / "missing.txt") if option == "path" else str(report)
    before = jsm.request_count()
    with pytest.raises(ItsmValidationError) as error:
        jsm_attachments.add_attachment(client, "ITSM-1", path, name, None, False)
    assert error.value.details["option"] == option
    assert jsm.request_count() == before
