# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every *_info module shares: the period the records were opened in, and the cap."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  opened_after:
    description:
      - Records opened at or after this date and time. ISO 8601 with a timezone, like V(2026-11-01T00:00:00Z).
      - With O(limit), reads the most recent period of a large store without reading it all.
    type: str
  opened_before:
    description: Records opened at or before this date and time. ISO 8601 with a timezone; not before O(opened_after).
    type: str
  limit:
    description:
      - The most records to return, the oldest first.
      - When more match, the task returns RV(truncated=true) and RV(total) (where the backend knows it) and
        warns, saying how many it returned; raise O(limit) or narrow the filters to get the rest.
    type: int
    default: 1000
"""
