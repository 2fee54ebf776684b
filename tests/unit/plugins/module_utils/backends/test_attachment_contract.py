# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attachment part of the backend contract, on every backend of CONTRACT_BACKENDS (same inputs, same results)."""

from __future__ import annotations

import hashlib

import pytest

ATTACHMENT_KEYS = {"id", "name", "size", "sha256", "content_type", "created", "url"}


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"all green\n")
    return path


def test_attach_is_idempotent_by_name_and_sha256(backend, report):
    change = backend.create("change", {"short_description": "attach"})

    changed, first = backend.add_attachment("change", change, str(report))
    again, second = backend.add_attachment("change", change, str(report))

    assert (changed, again) == (True, False)
    assert set(first) == ATTACHMENT_KEYS and first == second
    assert (first["name"], first["size"], first["content_type"]) == ("report.txt", 10, "text/plain")
    assert first["sha256"] == hashlib.sha256(b"all green\n").hexdigest()
    assert backend.attachments("change", change) == [first]


def test_new_content_replaces_and_another_name_adds(backend, report):
    incident = backend.create("incident", {"short_description": "attach"})
    backend.add_attachment("incident", incident, str(report))
    report.write_bytes(b"one red\n")

    _changed, replaced = backend.add_attachment("incident", incident, str(report))
    _changed, other = backend.add_attachment("incident", incident, str(report), name="copy.log",
                                             content_type="text/x-log")

    listed = backend.attachments("incident", incident)
    assert [(item["name"], item["sha256"]) for item in listed] == [
        ("report.txt", replaced["sha256"]), ("copy.log", replaced["sha256"])]
    assert other["content_type"] == "text/x-log"


def test_check_mode_attach_writes_nothing(backend, report):
    change = backend.create("change", {"short_description": "attach"})

    changed, approximate = backend.add_attachment("change", change, str(report), check_mode=True)

    assert changed is True and approximate["id"] is None
    assert backend.attachments("change", change) == []
