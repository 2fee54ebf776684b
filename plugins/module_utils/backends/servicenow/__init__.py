# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The servicenow backend package: ``ServiceNowBackend`` (backend.py) and ``BACKEND``, the class the registry
builds. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

from .backend import ServiceNowBackend

BACKEND = ServiceNowBackend

__all__ = ["BACKEND", "ServiceNowBackend"]
