"""What Entra accepts in a user body: writable and read-only properties, their types, the
userPrincipalName and mailNickname rules, the cloud password policy, and the errors it answers."""

from __future__ import annotations

import re
import sqlite3

from .wire import GraphError, bad_request, unknown_property

# Properties a client may write, with their JSON kind.
WRITABLE = {
    "accountEnabled": "bool",
    "ageGroup": "str",
    "businessPhones": "list",
    "city": "str",
    "companyName": "str",
    "country": "str",
    "department": "str",
    "displayName": "str",
    "employeeHireDate": "str",
    "employeeId": "str",
    "employeeLeaveDateTime": "str",
    "employeeOrgData": "object",
    "employeeType": "str",
    "faxNumber": "str",
    "givenName": "str",
    "jobTitle": "str",
    "mail": "str",
    "mailNickname": "str",
    "mobilePhone": "str",
    "officeLocation": "str",
    "onPremisesImmutableId": "str",
    "otherMails": "list",
    "passwordPolicies": "str",
    "passwordProfile": "object",
    "postalCode": "str",
    "preferredLanguage": "str",
    "showInAddressList": "bool",
    "state": "str",
    "streetAddress": "str",
    "surname": "str",
    "usageLocation": "str",
    "userPrincipalName": "str",
    "userType": "str",
}
READ_ONLY = {
    "id",
    "createdDateTime",
    "deletedDateTime",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesUserPrincipalName",
    "lastPasswordChangeDateTime",
    "creationType",
    "externalUserState",
    "proxyAddresses",
    # Set by their own actions (assignLicense, revokeSignInSessions), never by PATCH (L§1.2).
    "assignedLicenses",
    "assignedPlans",
    "licenseAssignmentStates",
    "signInSessionsValidFromDateTime",
    "refreshTokensValidFromDateTime",
    "isSipEnabled",
}
KNOWN = set(WRITABLE) | READ_ONLY
REQUIRED = ("accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName")

# The documented set, plus `$`: real Graph accepts it (graph-quirks §4, observed).
_UPN_LOCAL = re.compile(r"[A-Za-z0-9'.\-_!#^~$]{1,64}")
_NICKNAME = re.compile(r"[\x21-\x7e]{1,64}")
_NICKNAME_BAD = set('@()\\[]";:<>,')
_SYMBOLS = set("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ")


UPN_DOMAIN_ERROR = (
    "The domain portion of the userPrincipalName property is invalid. "
    "You must use one of the verified domain names in your organization."
)
PASSWORD_ERROR = (
    "The specified password does not comply with password complexity requirements. "
    "Please provide a different password."
)

def upn_conflict() -> GraphError:
    """Graph's observed answer to a duplicate userPrincipalName."""
    return bad_request(
        "Another object with the same value for property userPrincipalName already exists.",
        [{"target": "userPrincipalName", "code": "ObjectConflict"}],
    )


def proxy_conflict() -> GraphError:
    """Graph's observed answer to a mail/proxy address already used by another object."""
    return bad_request(
        "Another object with the same value for property proxyAddresses already exists.",
        [{"target": "proxyAddresses", "code": "ObjectConflict"}, {"code": "ConflictingObjects"}],
    )


def invalid_value(name: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")


def check_password(password: object) -> None:
    """The cloud password policy: 8-256 ASCII characters from 3 of 4 classes."""
    if not isinstance(password, str) or not 8 <= len(password) <= 256:
        raise bad_request(PASSWORD_ERROR)
    classes = [False, False, False, False]
    for ch in password:
        if "a" <= ch <= "z":
            classes[0] = True
        elif "A" <= ch <= "Z":
            classes[1] = True
        elif "0" <= ch <= "9":
            classes[2] = True
        elif ch in _SYMBOLS:
            classes[3] = True
        else:
            raise bad_request(PASSWORD_ERROR)
    if sum(classes) < 3:
        raise bad_request(PASSWORD_ERROR)


def check_upn(db: sqlite3.Connection, upn: object) -> str:
    """Validate format, characters and verified domain of a userPrincipalName."""
    if not isinstance(upn, str) or upn.count("@") != 1:
        raise bad_request("Property userPrincipalName is invalid.")
    local, domain = upn.split("@")
    if not _UPN_LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise bad_request("Property userPrincipalName is invalid.")
    if (
        not domain
        or not db.execute("SELECT 1 FROM domains WHERE name = ? AND is_verified = 1", (domain,)).fetchone()
    ):
        raise bad_request(UPN_DOMAIN_ERROR)
    return upn


def check_values(body: dict, *, creating: bool) -> dict:
    """Type-check a create/update body; returns the writable properties it sets."""
    out: dict = {}
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        if key in READ_ONLY:
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
        kind = WRITABLE.get(key)
        if kind is None:
            raise unknown_property(key, "user")
        if value is None:
            if key in REQUIRED:
                raise invalid_value(key)
        elif kind == "bool" and not isinstance(value, bool):
            raise invalid_value(key)
        elif kind == "str" and not isinstance(value, str):
            raise invalid_value(key)
        elif kind == "list" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise invalid_value(key)
        elif kind == "object" and not isinstance(value, dict):
            raise invalid_value(key)
        out[key] = value
    if "displayName" in out and not (out["displayName"] or "").strip():
        raise invalid_value("displayName")
    nick = out.get("mailNickname")
    if nick is not None and (not _NICKNAME.fullmatch(nick) or _NICKNAME_BAD & set(nick)):
        raise invalid_value("mailNickname")
    loc = out.get("usageLocation")
    if loc is not None and not re.fullmatch(r"[A-Za-z]{2}", loc):
        raise invalid_value("usageLocation")
    if "businessPhones" in out and len(out["businessPhones"]) > 1:
        raise invalid_value("businessPhones")
    if creating:
        for key in REQUIRED:
            if body.get(key) is None:
                raise bad_request(f"A value is required for property '{key}' of resource 'User'.")
    profile = out.get("passwordProfile")
    if profile is not None:
        if creating and "password" not in profile:
            raise bad_request(
                "A value is required for property 'passwordProfile.password' of resource 'User'."
            )
        if "password" in profile:
            check_password(profile["password"])
    return out
