"""Object ids: Entra ids (users, tenants, applications, role templates) are GUIDs.

The one pattern the product uses to tell an id from a name (a UPN, a domain, a role alias).
"""

from __future__ import annotations

import re

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(text: str) -> bool:
    """True when ``text`` is a GUID (any case, no braces), such as an object id."""
    return GUID.fullmatch(text) is not None
