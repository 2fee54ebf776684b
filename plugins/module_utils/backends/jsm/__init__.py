# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jsm backend package (Jira Service Management): client.py, jql.py, mapping.py so far. FOR INTERNAL
COLLECTION USE ONLY.

Not registered yet: the facade (backend.py, exporting ``JsmBackend`` and ``BACKEND`` here) comes with the
declared-reads contract, and until then selecting ``backend: jsm`` says it is not available. This file
imports nothing, so importing the package never needs requests, PyYAML or jsonschema.
"""

from __future__ import annotations
