# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jsm backend package (Jira Service Management). FOR INTERNAL COLLECTION USE ONLY.

The registry (backends/__init__.py) imports this package only when ``backend: jsm`` is selected; its class is
``BACKEND``. Files: client.py, jql.py, mapping.py, codec.py, records.py, the feature files, backend.py.
"""

from __future__ import annotations

from .backend import JsmBackend

BACKEND = JsmBackend

__all__ = ["BACKEND", "JsmBackend"]
