# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tells an AWX / Automation Platform job or an ansible-runner run, and which paths go with it."""

import pytest

from ansible_collections.opsgate.itsm.plugins.plugin_utils import _job_environment as job

DETECT = {
    "nothing": ({}, None),
    "JOB_ID alone is any CI's job id": ({"JOB_ID": "7"}, None),
    "AWX_HOST": ({"AWX_HOST": "https://awx"}, job.Job(job.AWX, None, None)),
    "JOB_ID with runner's artifact dir": ({"JOB_ID": "7", "AWX_ISOLATED_DATA_DIR": "/runner/artifacts/7"},
                                          job.Job(job.AWX, "7", "/runner")),
    "ansible-runner alone": ({"AWX_ISOLATED_DATA_DIR": "/tmp/pdd/artifacts/abc"}, job.Job(job.RUNNER, None, "/tmp/pdd")),
}


@pytest.mark.parametrize("environ, expected", list(DETECT.values()), ids=list(DETECT))
def test_detect(environ, expected):
    assert job.detect(environ) == expected


LOST = {
    "not a job": ("/var/lib/outbox.sqlite", None, False, None),
    "awx, undeclared": ("/var/lib/outbox.sqlite", job.Job(job.AWX, "7", "/runner"), False, "not declared"),
    "awx, declared": ("/var/lib/outbox.sqlite", job.Job(job.AWX, "7", "/runner"), True, None),
    "awx, declared but in /runner": ("/runner/.ansible/outbox.sqlite", job.Job(job.AWX, "7", "/runner"), True,
                                     "private data dir /runner"),
    "runner, outside its dir": ("/var/lib/outbox.sqlite", job.Job(job.RUNNER, None, "/tmp/pdd"), False, None),
    "runner, inside its dir": ("/tmp/pdd/env/outbox.sqlite", job.Job(job.RUNNER, None, "/tmp/pdd"), False,
                               "private data dir /tmp/pdd"),
    "a sibling with the same prefix is outside": ("/tmp/pdd2/outbox.sqlite", job.Job(job.RUNNER, None, "/tmp/pdd"),
                                                  False, None),
    # issue 17: an outbox on a PostgreSQL server is not in the container, declared or not
    "awx, postgresql, undeclared": ("postgresql://itsm:********@db.example.com/itsm", job.Job(job.AWX, "7", "/runner"),
                                    False, None),
    "awx, postgres:// scheme": ("postgres://itsm@db.example.com/itsm", job.Job(job.AWX, "7", "/runner"), False, None),
    "awx, a file named like a scheme is a file": ("/runner/postgresql:/x", job.Job(job.AWX, "7", "/runner"), True,
                                                  "private data dir /runner"),
}


@pytest.mark.parametrize("path, found, declared, expected", list(LOST.values()), ids=list(LOST))
def test_lost_with_job(path, found, declared, expected):
    why = job.lost_with_job(path, found, declared)
    assert (why is None) if expected is None else (expected in why)
