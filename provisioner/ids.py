"""Object ids and e-mail addresses: the shapes the product checks before a value reaches Graph.

Entra ids (users, tenants, applications, role templates) are GUIDs: the one pattern the product
uses to tell an id from a name (a UPN, a domain, a role alias). Patterns are checked with
``fullmatch``: ``match`` with ``$`` would also accept a value ending in a newline.
"""

from __future__ import annotations

import re

GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Anchored at the very start and end (\A, \Z) as well, so that even a ``match`` cannot pass a suffix.
GUID = re.compile(rf"\A{GUID_PATTERN}\Z")
# An alert recipient (PIM notificationRecipients, audit --notify): one address, no spaces or control
# characters (it is sent in a PATCH body and shown to people), at most 254 characters (RFC 5321).
_EMAIL_CHAR = r"[^@\s\x00-\x1f\x7f]"
EMAIL = re.compile(rf"{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+")
EMAIL_EXAMPLE = "secops@contoso.com"


def is_guid(text: str) -> bool:
    """True when ``text`` is a GUID (any case, no braces), such as an object id."""
    return GUID.fullmatch(text) is not None


def is_email(text: object) -> bool:
    """True when ``text`` is one e-mail address (``secops@contoso.com``)."""
    return isinstance(text, str) and len(text) <= 254 and EMAIL.fullmatch(text) is not None
