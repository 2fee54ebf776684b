# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute fragments composed by each module's documentation."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/opsgate.itsm.itsm) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - opsgate.itsm.itsm
  platform:
    description: Carried out on the controller by an action plugin, whatever the play's hosts are.
    support: full
    platforms: all
"""

    CHECK_MODE_FULL = r"""
attributes:
  check_mode:
    description: Reports what would change without writing; the returned record is approximate.
    support: full
"""

    DIFF_MODE_FULL = r"""
attributes:
  diff_mode:
    description: Returns the record's canonical fields before and after.
    support: full
"""

    INFO = r"""
attributes:
  check_mode:
    description: Read-only; runs normally in check mode.
    support: full
  diff_mode:
    description: Read-only; returns no diff.
    support: N/A
"""
