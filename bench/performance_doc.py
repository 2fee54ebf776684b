# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a bench's section of docs/performance.md, the one place the benches share for it."""

from __future__ import annotations

import os

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "performance.md")


def replace_section(heading: str, section: str, path: str = PATH) -> None:
    """Put ``section`` (starting with ``heading``, a ``## `` line) in place of that section of ``path``, or at its
    end when it has none; the other sections are left as they are, one blank line before the next heading."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(heading))
        text = text[:start] + section.rstrip("\n") + "\n" + (text[following:] if following >= 0 else "")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
