"""The desired-state manifest (TOML) that ``sync`` converges to, validated with ``tomlcheck`` (the
style of config.toml): each table's fields are data, and every problem of every entry is reported
at once, naming the entry, the key and the fix.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provisioner import tomlcheck as tc
from provisioner.errors import InputError, RowError
from provisioner.inputs.fields import COUNTRY, UPN, EntryError, text_problem
from provisioner.isoduration import iso_span, sent
from provisioner.model import DEFAULT_MANAGED_ROLES, USER_WRITABLE, Holding, Manifest, UserSpec

_NAMES = tc.Kind("a list of names", '["name"]', lambda v: tc.STRLIST.test(v) and all(x.strip() for x in v))
_DOMAINS = 'must be a non-empty list of domains, like ["contoso.onmicrosoft.com"]'
_ADD_SCOPE = 'add [scope] with domains = ["contoso.onmicrosoft.com"]'
TOP_FIELDS = {
    "scope": tc.Field(tc.TABLE, wrong=f"must be a table; {_ADD_SCOPE}"),
    "users": tc.Field(tc.Kind("an array of tables", "[[users]]", lambda v: isinstance(v, list)),
                      wrong="must be an array of tables: write each user as [[users]]"),
}
SCOPE_FIELDS = {
    "domains": tc.Field(tc.Kind("a list of domains", '["contoso.com"]', lambda v: _NAMES.test(v) and bool(v)),
                        required=True, wrong=_DOMAINS, missing=_DOMAINS),
    "managed_roles": tc.Field(_NAMES, wrong='must be a list of roles, like ["global", "user"]'),
}
USER_FIELDS = {
    "userPrincipalName": tc.Field(tc.TEXT, required=True, wrong="missing; every user needs one",
                                  missing="missing; every user needs one"),
    **{key: tc.Field(tc.TEXT, wrong='must be non-empty text in quotes, like "Engineer"') for key in USER_WRITABLE},
    "accountEnabled": tc.Field(tc.BOOL, wrong="must be true or false (without quotes)"),
    "businessPhones": tc.Field(tc.Kind("a list of one phone number", '["+1 425 555 0100"]',
                                       lambda v: tc.STRLIST.test(v) and len(v) <= 1 and all(x.strip() for x in v)),
                               wrong='must be a list of one phone number, like ["+1 425 555 0100"]'),
    "roles": tc.Field(tc.Kind("a list of roles", '["user", { role = "global", eligible = true }]',
                              lambda v: isinstance(v, list) and all(_role_entry(x) for x in v)),
                      wrong='must be a list of roles, like ["user", { role = "global", eligible = true, '
                            'duration = "P180D" }]'),
    "licenses": tc.Field(_NAMES, wrong='must be a list of licenses (part number, product name or skuId), like '
                                       '["SPE_E5", "Office 365 E3"]'),
}
ROLE_KEYS = ("role", "eligible", "duration", "until", "justification")


def _role_entry(x: Any) -> bool:
    """A role name, or a table naming one with how it is held (PIM)."""
    if isinstance(x, str):
        return bool(x.strip())
    return (isinstance(x, dict) and isinstance(x.get("role"), str) and bool(x["role"].strip())
            and set(x) <= set(ROLE_KEYS) and isinstance(x.get("eligible", False), bool)
            and all(isinstance(x.get(k, ""), str) for k in ("duration", "until", "justification")))


def _sent(duration: str | None) -> str | None:
    """A checked duration (positive, see ``_role_problems``) in the form sent to PIM (``P1W`` -> ``P7D``)."""
    span = iso_span(duration) if duration else None
    return sent(span) if span else None


def _role_problems(entry: dict) -> list[tc.Problem]:
    """A role table's duration and end, checked (their shapes; the rest is checked by the kind)."""
    found = []
    for x in entry.get("roles", ()):
        if not isinstance(x, dict):
            continue
        duration, until = x.get("duration"), x.get("until")
        if duration and until:
            found.append(tc.Problem("roles", f"role {x['role']!r} has both duration and until; keep one"))
        if duration and not iso_span(duration):  # not ISO 8601, or zero: no end would be a permanent grant
            found.append(tc.Problem("roles", f"role {x['role']!r}: duration {duration!r} is not a positive ISO 8601 "
                                             "duration, like P180D or PT8H"))
        if until and not re.fullmatch(r"\d{4}-\d\d-\d\d", until):
            found.append(tc.Problem("roles", f"role {x['role']!r}: until {until!r} is not a date, like 2027-01-31"))
    return found
# Report order within an entry: unknown keys, then the fields in USER_FIELDS order.
_ORDER = {key: i for i, key in enumerate(USER_FIELDS)}


def read_manifest(path: str | Path) -> Manifest:
    """Read a desired-state manifest (TOML). Its shape::

        [scope]
        domains = ["contoso.onmicrosoft.com"]      # the UPN domains the manifest owns (required)
        managed_roles = ["global", "billing", "password", "service", "user"]   # the default

        [[users]]
        userPrincipalName = "alice@contoso.onmicrosoft.com"
        displayName = "Alice Archer"               # needed to create the user
        jobTitle = "Engineer"                      # any of USER_WRITABLE; unset keys are not managed
        accountEnabled = true
        roles = ["user"]                           # exactly these of the managed roles; without
                                                   # the key, the roles it holds are kept (roles = [] removes them)
        licenses = ["SPE_E5"]                      # exactly these direct licenses; without the key,
                                                   # the ones held are kept (group-given ones always are)

    Raises ``InputError`` naming each bad entry and key with the fix.
    """
    path = Path(path)
    source = str(path)
    try:
        data = tc.read(path)
    except tc.Unreadable as e:
        raise InputError(source, [EntryError(0, "-", str(e), "file")]) from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(source, [EntryError(0, "-", f"not valid TOML: {e}", "file")]) from None
    except OSError as e:
        problem = f"cannot be read ({e.strerror or e}); check the path and its permissions"
        raise InputError(source, [EntryError(0, "-", problem, "file")]) from None
    problems: list[RowError] = []

    def report(where: str, found: list[tc.Problem], row: int = 0) -> None:
        for p in found:
            problems.append(EntryError(row, p.key, p.message, f"{where}, key {p.key}" if p.key else where))

    report("top level", tc.check(data, TOP_FIELDS, hint="a manifest has [scope] and [[users]]"))
    scope = data.get("scope")
    domains: tuple[str, ...] = ()
    managed: tuple[str, ...] = DEFAULT_MANAGED_ROLES
    if scope is None:
        report("[scope]", [tc.Problem("domains", "missing", _ADD_SCOPE)])
    elif isinstance(scope, dict):
        found = tc.check(scope, SCOPE_FIELDS, hint="[scope] has domains and managed_roles")
        report("[scope]", found)
        bad = {p.key for p in found}
        if "domains" not in bad:
            domains = tuple(d.strip().lower() for d in scope["domains"])
        if "managed_roles" in scope and "managed_roles" not in bad:
            managed = tuple(r.strip() for r in scope["managed_roles"])

    users_raw = data.get("users", [])
    users: list[UserSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(users_raw if isinstance(users_raw, list) else [], start=1):
        spec = _user(index, entry, domains, seen, report)
        if spec is not None:
            users.append(spec)
    if problems:
        raise InputError(source, problems)
    return Manifest(users=tuple(users), scope_domains=domains, managed_roles=managed)


def _user(index: int, entry: Any, domains: tuple[str, ...], seen: dict[str, int],
          report: Callable[..., None]) -> UserSpec | None:
    """The entry as a UserSpec, or None after reporting its problems."""
    where = f"[[users]] entry {index}"
    if not isinstance(entry, dict):
        report(where, [tc.Problem("", "must be a table of user properties")], index)
        return None
    upn = entry.get("userPrincipalName")
    if isinstance(upn, str) and upn.strip():
        upn = upn.strip()
        where = f"{where} ({upn})"
    found = tc.check(entry, USER_FIELDS, hint="use " + ", ".join(USER_FIELDS))
    for i, p in enumerate(found):
        if p.key.lower() in ("password", "passwordprofile") and p.key not in USER_FIELDS:
            found[i] = tc.Problem(p.key, "passwords do not belong in a manifest; new users get a generated one")
    bad = {p.key for p in found}
    if "userPrincipalName" not in bad:
        key = "userPrincipalName"
        if not UPN.match(upn):
            found.append(tc.Problem(key, "not a valid user principal name, like alice@contoso.com"))
        elif domains and upn.rsplit("@", 1)[1].lower() not in domains:
            found.append(tc.Problem(key, "its domain is outside [scope] domains (" + ", ".join(domains) + ")",
                                    "add the domain to the scope or remove the user"))
        first = seen.setdefault(upn.lower(), index)
        if first != index:
            found.append(tc.Problem(key, f"already listed in entry {first}", "list each user once"))
    if "roles" not in bad:
        found += _role_problems(entry)
    location = entry.get("usageLocation")
    if "usageLocation" not in bad and isinstance(location, str) and not COUNTRY.match(location.strip()):
        found.append(tc.Problem("usageLocation", "must be a two-letter country code (ISO 3166), like US"))
    for key in USER_WRITABLE:
        value = entry.get(key)
        texts = [value] if isinstance(value, str) else value if key == "businessPhones" else None
        if key not in bad and isinstance(texts, list):
            if problem := next(filter(None, (text_problem(key, t.strip()) for t in texts)), None):
                found.append(tc.Problem(key, problem))
    if found:
        report(where, sorted(found, key=lambda p: _ORDER.get(p.key, -1)), index)
        return None
    attributes: dict[str, Any] = {}
    for key in USER_WRITABLE:
        if key in entry:
            value = entry[key]
            if isinstance(value, str):
                value = value.strip().upper() if key == "usageLocation" else value.strip()
            elif key == "businessPhones":
                value = [v.strip() for v in value]
            attributes[key] = value
    roles = tuple(dict.fromkeys((r if isinstance(r, str) else r["role"]).strip() for r in entry.get("roles", ())))
    holdings = {r["role"].strip(): Holding(eligible=r.get("eligible", False), duration=_sent(r.get("duration")),
                                           end=f"{r['until']}T00:00:00Z" if r.get("until") else None,
                                           justification=r.get("justification"))
                for r in entry.get("roles", ()) if isinstance(r, dict)}
    licenses = tuple(dict.fromkeys(x.strip() for x in entry["licenses"])) if "licenses" in entry else None
    return UserSpec(upn=upn, attributes=attributes, roles=roles, row=index, roles_given="roles" in entry,
                    holdings=holdings, licenses=licenses)
