"""config.toml: the auth settings of a real tenant's profile (``[tenants.NAME]`` with kind "graph").

Which keys each auth method needs and which belong to another method, that ids are GUIDs (or a
domain for the tenant), that ``*_env`` keys name a variable rather than hold the secret, and that a
credential is only ever sent to its cloud's Graph host (a static token also to a loopback one).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from provisioner.auth import CLOUDS, LOOPBACK_HOSTS
from provisioner.errors import ConfigError
from provisioner.ids import is_guid

AUTH_METHODS = (
    "certificate",
    "secret",
    "workload-identity",
    "github-oidc",
    "managed-identity",
    "azure-cli",
    "device-code",
    "browser",
    "token",
)
# Which profile keys each auth method cannot do without.
REQUIRED = {
    "certificate": ("tenant_id", "client_id", "certificate_path"),
    "secret": ("tenant_id", "client_id", "client_secret_env"),
    "workload-identity": ("tenant_id", "client_id"),
    "github-oidc": ("tenant_id", "client_id"),
    "managed-identity": ("tenant_id",),
    "azure-cli": ("tenant_id",),
    "device-code": ("tenant_id", "client_id"),
    "browser": ("tenant_id", "client_id"),
    "token": ("token_env",),
}
# Keys that only make sense with one auth method: setting them for another is a mistake worth naming.
METHOD_KEYS = {
    "certificate_path": "certificate",
    "certificate_password_env": "certificate",
    "client_secret_env": "secret",
    "token_file": "workload-identity",
    "token_env": "token",
    "managed_identity_client_id": "managed-identity",
    "redirect_uri": "browser",
}
_DOMAIN = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The profile fields taken as written (paths are resolved, the rest are checked first).
_PLAIN = (
    "tenant_id",
    "client_id",
    "certificate_password_env",
    "client_secret_env",
    "token_env",
    "managed_identity_client_id",
    "redirect_uri",
)


def fail(file: Path, key: str, problem: str, fix: str) -> ConfigError:
    """The one shape of a config error: file, dotted key, what is wrong, the fix."""
    return ConfigError(f"{file}: {key}: {problem}; {fix}")


def resolve(file: Path, value: str) -> Path:
    # Relative paths are relative to the config file, not to wherever the command runs.
    p = Path(value).expanduser()
    return p if p.is_absolute() else (file.parent / p)


def graph_settings(file: Path, prefix: str, table: dict[str, Any]) -> dict[str, Any]:
    """The validated graph-only fields of the profile ``table`` (at ``prefix``), as Profile fields."""
    cloud = table.get("cloud", "global")
    if cloud not in CLOUDS:
        raise fail(file, f"{prefix}.cloud", f"unknown cloud {cloud!r}", _choices(cloud, CLOUDS))
    if "auth" not in table:
        methods = ", ".join(AUTH_METHODS)
        raise fail(file, f"{prefix}.auth", "missing", f"set auth to one of {methods}")
    auth = table["auth"]
    if auth not in AUTH_METHODS:
        raise fail(file, f"{prefix}.auth", f"unknown auth method {auth!r}", _choices(auth, AUTH_METHODS))
    for key in REQUIRED[auth]:
        if not table.get(key):
            raise fail(
            file,
                f"{prefix}.{key}",
                f'missing; auth = "{auth}" needs it',
                f"add {key} = ... to [{prefix}] (see config.example.toml)",
            )
    for key, method in METHOD_KEYS.items():
        if key in table and method != auth:
            raise fail(
            file,
                f"{prefix}.{key}",
                f'only used with auth = "{method}", but this profile has auth = "{auth}"',
                "remove it or change auth",
            )
    _check_ids(file, prefix, table)
    for key in ("certificate_password_env", "client_secret_env", "token_env"):
        if key in table and not _ENV_NAME.match(table[key]):
            # Never echo the value: it may be the secret itself, pasted in by mistake.
            raise fail(
            file,
                f"{prefix}.{key}",
                "must be the name of an environment variable (letters, digits and _), not its value",
                f'write {key} = "MY_VARIABLE" and export MY_VARIABLE with the secret',
            )
    graph_url = _graph_url(file, prefix, table.get("graph_url"), auth, cloud)
    paths = {k: resolve(file, table[k]) for k in ("certificate_path", "token_file") if k in table}
    plain = {k: table[k] for k in _PLAIN if k in table}
    return {"cloud": cloud, "auth": auth, "graph_url": graph_url, **plain, **paths}


def _check_ids(file: Path, prefix: str, table: dict[str, Any]) -> None:
    tid = table.get("tenant_id")
    if tid is not None and not (is_guid(tid) or _DOMAIN.match(tid)):
        raise fail(
            file,
            f"{prefix}.tenant_id",
            f"{tid!r} is neither a tenant ID (GUID) nor a domain",
            "copy the Directory (tenant) ID from the Entra admin center's Overview page",
        )
    for key in ("client_id", "managed_identity_client_id"):
        value = table.get(key)
        if value is not None and not is_guid(value):
            raise fail(
            file,
                f"{prefix}.{key}",
                f"{value!r} is not a GUID",
                "copy the Application (client) ID from the app registration's Overview page",
            )


def _graph_url(file: Path, prefix: str, url: str | None, auth: str, cloud: str) -> str | None:
    if url is None:
        return None
    key = f"{prefix}.graph_url"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise fail(file, key, f"{url!r} is not an http(s) URL", 'write it like "https://host/v1.0"')
    if not parts.path.rstrip("/").endswith("/v1.0") or parts.query or parts.fragment:
        raise fail(
            file,
            key,
            "must be the Graph v1.0 base URL",
            'end it with "/v1.0", e.g. "http://127.0.0.1:8123/v1.0"',
        )
    loopback = host in LOOPBACK_HOSTS
    if parts.scheme != "https" and not loopback:
        raise fail(file, key, "plain http is only allowed to a loopback host", "use https:// or 127.0.0.1")
    graph_host = urlsplit(CLOUDS[cloud].graph_root).hostname
    if auth != "token" and host != graph_host:
        raise fail(
            file,
            key,
            f'auth = "{auth}" is a real tenant credential and is only ever sent to the {cloud} cloud\'s '
            f"Microsoft Graph host ({graph_host})",
            'remove graph_url, or use auth = "token" with token_env for a loopback test target',
        )
    if auth == "token" and not loopback and host != graph_host:
        raise fail(
            file,
            key,
            f"a static token is only sent to a loopback host or to {graph_host} (the {cloud} cloud's Graph)",
            "point graph_url at 127.0.0.1 (provisioner local serve) or remove it",
        )
    return url.rstrip("/")


def _choices(value: str, options: Any) -> str:
    close = difflib.get_close_matches(value, list(options), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"use one of {', '.join(options)}{hint}"
