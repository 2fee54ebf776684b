# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the run is an AWX / Automation Platform job or an ansible-runner run, and whether a file the recorder
keeps outlives it. FOR INTERNAL COLLECTION USE ONLY.

AWX and Automation Platform run every job in an execution-environment container that is removed when the job
ends, with its private data dir (``/runner``: project, inventory, env files, artifacts, and ``HOME``). A file
written there, or anywhere in the container but a mounted volume, is gone with it: an outbox there keeps nothing
for the next run. What tells a job:

- AWX / Automation Platform: ``AWX_HOST`` (the controller's URL, set for every job), or ``JOB_ID`` together with
  any other ``AWX_*`` variable (ansible-runner's ``AWX_ISOLATED_DATA_DIR``);
- ansible-runner (AWX's launcher, also used alone): ``AWX_ISOLATED_DATA_DIR``, the job's artifact directory,
  ``<private data dir>/artifacts/<ident>``.

Whether a path is on a volume cannot be told from inside the container (a bind mount of the host's disk and the
container's own layer look alike), so a durable outbox is declared (the recorder's ``outbox_durable``); a path in
the private data dir is never durable, declared or not. An outbox on a PostgreSQL server (the recorder's ``outbox``
a ``postgresql://`` URL, as ``local_db`` takes) is durable without a declaration: it is not in the container.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
import urllib.parse

from ansible_collections.opsgate.itsm.plugins.module_utils._local_db import POSTGRESQL_SCHEMES

AWX = "AWX / Automation Platform"
RUNNER = "ansible-runner"
ARTIFACT_DIR_ENV = "AWX_ISOLATED_DATA_DIR"


@dataclasses.dataclass(frozen=True)
class Job:
    """A job of AWX / Automation Platform (``system`` AWX) or a plain ansible-runner run (``system`` RUNNER)."""

    system: str
    job_id: str | None = None
    private_data_dir: str | None = None

    @property
    def label(self) -> str:
        return f"{self.system} job {self.job_id}" if self.job_id else f"{self.system} run"


def detect(environ: t.Mapping[str, str] | None = None) -> Job | None:
    """The job this process runs in, from its environment; None outside AWX and ansible-runner."""
    environ = os.environ if environ is None else environ
    artifacts = environ.get(ARTIFACT_DIR_ENV) or ""
    private = os.path.dirname(os.path.dirname(os.path.abspath(artifacts))) if artifacts else None
    awx_vars = [name for name in environ if name.startswith("AWX_") and environ.get(name)]
    if environ.get("AWX_HOST") or (environ.get("JOB_ID") and awx_vars):
        return Job(AWX, environ.get("JOB_ID") or None, private)
    if artifacts:
        return Job(RUNNER, None, private)
    return None


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def on_server(location: str) -> bool:
    """Whether the outbox ``location`` is a database on a PostgreSQL server, not a file (_local_db.read's rule)."""
    return urllib.parse.urlsplit(location).scheme.lower() in POSTGRESQL_SCHEMES and "://" in location


def lost_with_job(path: str, job: Job | None, declared_durable: bool) -> str | None:
    """Why the outbox at ``path`` (a file, or a PostgreSQL URL: durable) would not outlive ``job`` (a clause), or
    None when it does."""
    if job is None or on_server(path):
        return None
    if job.private_data_dir and _inside(path, job.private_data_dir):
        return f"it is inside the job's private data dir {job.private_data_dir}, which is removed after the job"
    if job.system == AWX and not declared_durable:
        return ("the job's execution environment is a container removed after the job, and the path is not "
                "declared to be on a mounted volume (outbox_durable, ITSM_OUTBOX_DURABLE)")
    return None
