# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible home as the controller's configuration sets it. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import os

from ansible import constants


def publish_ansible_home() -> None:
    """Put the configured Ansible home in ANSIBLE_HOME unless it is already there.

    The default ``local_db`` and outbox live under the Ansible home. module_utils code may not import
    Ansible's configuration, so every controller entry point (action, inventory, callback) calls this
    first, and ``home`` set in ansible.cfg then counts as much as the environment variable.
    """
    if not os.environ.get("ANSIBLE_HOME"):
        home = constants.config.get_config_value("ANSIBLE_HOME")
        if home:
            os.environ["ANSIBLE_HOME"] = os.path.expanduser(home)
