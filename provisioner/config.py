"""config.toml: tenant profiles, safety and execution settings, validated with errors that say the fix.

Where the file is: ``--config PATH`` > ``$PROVISIONER_CONFIG`` > ``click.get_app_dir("provisioner")/
config.toml``. A missing default file is fine (the built-in ``local`` profile applies); a missing file
that was named explicitly is an error.

Layout (see ``config.example.toml``)::

    default_tenant = "prod"
    [safety]      protected_accounts, max_deletes           (apply to every profile)
    [execution]   write_budget, write_window_seconds, concurrency, journal
    [tenants.NAME]            kind, cloud, tenant_id, client_id, auth, method fields, graph_url
    [tenants.NAME.safety]     per-profile overrides (protected_accounts are added, never removed)
    [tenants.NAME.execution]  per-profile overrides

Each profile carries its merged ``safety`` and ``execution`` settings (``Profile.safety``,
``Profile.execution``), so callers need nothing but the profile.
Secrets never live in this file: a key such as ``client_secret`` holding a value is refused, and the
``*_env`` keys name environment variables instead.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from provisioner.auth import CLOUDS, LOOPBACK_HOSTS
from provisioner.errors import ConfigError

ENV_CONFIG = "PROVISIONER_CONFIG"
LOCAL = "local"

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

_STR, _INT, _NUM, _STRLIST, _PATH = "a string", "an integer", "a number", "a list of strings", "a path"
TOP_KEYS = {"default_tenant": _STR, "tenants": "table", "safety": "table", "execution": "table"}
SAFETY_KEYS = {"protected_accounts": _STRLIST, "max_deletes": _INT}
EXECUTION_KEYS = {"write_budget": _INT, "write_window_seconds": _NUM, "concurrency": _INT, "journal": _PATH}
LOCAL_KEYS = {"kind": _STR, "state": _PATH, "safety": "table", "execution": "table"}
GRAPH_KEYS = {
    "kind": _STR,
    "cloud": _STR,
    "tenant_id": _STR,
    "client_id": _STR,
    "auth": _STR,
    "graph_url": _STR,
    "certificate_path": _PATH,
    "certificate_password_env": _STR,
    "client_secret_env": _STR,
    "token_file": _PATH,
    "token_env": _STR,
    "managed_identity_client_id": _STR,
    "redirect_uri": _STR,
    "safety": "table",
    "execution": "table",
}

# A key whose name says it holds a secret, and the *_env key that should name it instead.
_SECRET_WORDS = ("secret", "password", "passphrase", "token", "api_key", "private_key", "credential")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Safety:
    """Guardrails: accounts never deleted or demoted, and the most deletes one plan may hold."""

    protected_accounts: tuple[str, ...] = ()
    max_deletes: int = 50


def default_journal() -> Path:
    """The JSONL journal's default place: the platform's user data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("provisioner", appauthor=False)) / "journal.jsonl"


@dataclass(frozen=True)
class Execution:
    """How plans run: Graph's write budget (writes per window), batches in flight, the journal."""

    write_budget: int = 3000
    write_window_seconds: float = 150.0
    concurrency: int = 4
    journal: Path = field(default_factory=default_journal)


@dataclass(frozen=True)
class Profile:
    """One target tenant: the local simulation (kind "local") or a real one through Graph (kind "graph")."""

    name: str
    kind: str = LOCAL
    state: Path | None = None
    cloud: str = "global"
    tenant_id: str | None = None
    client_id: str | None = None
    auth: str | None = None
    graph_url: str | None = None
    certificate_path: Path | None = None
    certificate_password_env: str | None = None
    client_secret_env: str | None = None
    token_file: Path | None = None
    token_env: str | None = None
    managed_identity_client_id: str | None = None
    redirect_uri: str | None = None
    safety: Safety = field(default_factory=Safety)
    execution: Execution = field(default_factory=Execution)
    source: Path | None = None  # the config file the profile came from; None for the built-in one

    @property
    def is_local(self) -> bool:
        """True for the embedded local tenant (a simulation, not a real Microsoft 365 tenant)."""
        return self.kind == LOCAL

    def key(self, name: str) -> str:
        """The dotted config key of one of this profile's fields, for error messages."""
        return f"tenants.{self.name}.{name}"

    def describe(self) -> str:
        """A one-line description of the target, for the "acting on" line every command prints."""
        if self.is_local:
            where = f", state {self.state}" if self.state else ""
            return f"{self.name} (local tenant, simulated{where})"
        where = self.graph_url or f"{self.cloud} cloud"
        return f"{self.name} (tenant {self.tenant_id or 'from token'}, {where}, auth {self.auth})"


@dataclass(frozen=True)
class Config:
    """The loaded config: profiles by name, and which one a command uses when --tenant is not given."""

    path: Path | None
    default_tenant: str
    profiles: dict[str, Profile]

    def profile(self, name: str | None) -> Profile:
        """The profile called ``name``, or the default one when ``name`` is None."""
        chosen = name or self.default_tenant
        found = self.profiles.get(chosen)
        if found is None:
            known = ", ".join(sorted(self.profiles))
            where = self.path or "no config file"
            raise ConfigError(
                f"{where}: no tenant profile named {chosen!r} (known: {known}); "
                f"add a [tenants.{chosen}] section to the config or pick a known one with --tenant"
            )
        return found


def config_path(explicit: Path | str | None = None) -> tuple[Path, bool]:
    """Where the config file is, and whether it was named explicitly (so that it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser(), True
    import click

    return Path(click.get_app_dir("provisioner")) / "config.toml", False


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config file (``path`` from --config, else the env var, else the default)."""
    file, explicit = config_path(path)
    if not file.is_file():
        if explicit:
            hint = f"${ENV_CONFIG}" if path is None else "--config"
            raise ConfigError(
                f"{file}: config file not found; fix the path given by {hint} or copy config.example.toml there"
            )
        return Config(path=None, default_tenant=LOCAL, profiles={LOCAL: Profile(name=LOCAL)})
    try:
        with file.open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: not valid TOML: {e}; fix the syntax at that line") from None
    except OSError as e:
        raise ConfigError(f"{file}: cannot read the config file ({e.strerror}); check its permissions") from None
    return _Parser(file).parse(raw)


class _Parser:
    """Validates one file's parsed TOML; every error names the file, the dotted key and the fix."""

    def __init__(self, file: Path):
        self.file = file

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {problem}; {fix}")

    def parse(self, raw: dict[str, Any]) -> Config:
        self.check_keys(raw, TOP_KEYS, "")
        safety = self.safety(raw.get("safety", {}), "safety", Safety())
        execution = self.execution(raw.get("execution", {}), "execution", Execution())
        tenants = raw.get("tenants", {})
        self.expect_table(tenants, "tenants")
        profiles = {LOCAL: Profile(name=LOCAL, safety=safety, execution=execution, source=self.file)}
        for name, table in tenants.items():
            self.expect_table(table, f"tenants.{name}")
            profiles[name] = self.profile(name, table, safety, execution)
        default = raw.get("default_tenant", LOCAL)
        self.expect(default, _STR, "default_tenant")
        if default not in profiles:
            known = ", ".join(sorted(profiles))
            raise self.fail(
                "default_tenant",
                f"names no profile ({default!r}; known: {known})",
                f"add a [tenants.{default}] section or set default_tenant to a known profile",
            )
        return Config(path=self.file, default_tenant=default, profiles=profiles)

    # -- generic checks -------------------------------------------------------------------------

    def check_keys(self, table: dict[str, Any], allowed: dict[str, str], prefix: str) -> None:
        for key, value in table.items():
            dotted = f"{prefix}{key}"
            if _is_secret_key(key) and key not in allowed and _holds_value(value):
                raise self.fail(
                    dotted,
                    "a secret must not be written in the config file",
                    f"put it in an environment variable and name it with {_env_key_for(key)}",
                )
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                fix = f"did you mean {prefix}{close[0]}?" if close else "remove it"
                known = ", ".join(allowed)
                raise self.fail(dotted, f"unknown key (known keys here: {known})", fix)
            self.expect(value, allowed[key], dotted)

    def expect(self, value: Any, kind: str, key: str) -> None:
        ok = {
            _STR: isinstance(value, str),
            _PATH: isinstance(value, str),
            _INT: isinstance(value, int) and not isinstance(value, bool),
            _NUM: isinstance(value, int | float) and not isinstance(value, bool),
            _STRLIST: isinstance(value, list) and all(isinstance(v, str) for v in value),
            "table": isinstance(value, dict),
        }[kind]
        if not ok:
            example = {
                _STR: 'key = "text"',
                _PATH: 'key = "path/to/file"',
                _INT: "key = 10",
                _NUM: "key = 150",
                _STRLIST: 'key = ["a@contoso.com", "b@contoso.com"]',
                "table": "[section]",
            }[kind]
            raise self.fail(key, f"expected {kind}, got {_type_name(value)}", f"write it like {example}")

    def expect_table(self, value: Any, key: str) -> None:
        self.expect(value, "table", key)

    def path(self, value: str) -> Path:
        # Relative paths are relative to the config file, not to wherever the command runs.
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.file.parent / p)

    def positive(self, value: float, key: str, minimum: float) -> None:
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, got {value:g}", "set a larger value")

    # -- sections -------------------------------------------------------------------------------

    def safety(self, table: Any, prefix: str, base: Safety) -> Safety:
        self.expect_table(table, prefix)
        self.check_keys(table, SAFETY_KEYS, prefix + ".")
        protected = tuple(a.strip().lower() for a in table.get("protected_accounts", []))
        for i, upn in enumerate(protected):
            if "@" not in upn:
                raise self.fail(
                    f"{prefix}.protected_accounts[{i}]",
                    f"{upn!r} is not a user principal name",
                    "write it as name@domain",
                )
        max_deletes = table.get("max_deletes", base.max_deletes)
        self.positive(max_deletes, f"{prefix}.max_deletes", 0)
        # A profile can add protected accounts but never drop those protected globally.
        merged = tuple(dict.fromkeys(base.protected_accounts + protected))
        return Safety(protected_accounts=merged, max_deletes=max_deletes)

    def execution(self, table: Any, prefix: str, base: Execution) -> Execution:
        self.expect_table(table, prefix)
        self.check_keys(table, EXECUTION_KEYS, prefix + ".")
        values: dict[str, Any] = {}
        for key in ("write_budget", "concurrency"):
            if key in table:
                self.positive(table[key], f"{prefix}.{key}", 1)
                values[key] = table[key]
        if "write_window_seconds" in table:
            self.positive(table["write_window_seconds"], f"{prefix}.write_window_seconds", 1)
            values["write_window_seconds"] = float(table["write_window_seconds"])
        if "journal" in table:
            values["journal"] = self.path(table["journal"])
        return replace(base, **values)

    def profile(self, name: str, table: dict[str, Any], safety: Safety, execution: Execution) -> Profile:
        prefix = f"tenants.{name}"
        kind = table.get("kind", LOCAL if name == LOCAL else "graph")
        if kind not in ("local", "graph"):
            raise self.fail(f"{prefix}.kind", f"unknown kind {kind!r}", 'use "local" or "graph"')
        graph_only = [k for k in table if k in GRAPH_KEYS and k not in LOCAL_KEYS]
        if name == LOCAL and (kind != LOCAL or graph_only):
            # "local" is the default target; it must never silently become a real tenant.
            raise self.fail(
                f"{prefix}.kind",
                'the profile name "local" is reserved for the local tenant',
                "give the real tenant's profile another name, e.g. [tenants.prod]",
            )
        if kind == LOCAL and graph_only:
            raise self.fail(
                f"{prefix}.{graph_only[0]}",
                'only used by kind = "graph" profiles; this one has kind = "local"',
                'remove it, or set kind = "graph" for a real tenant',
            )
        self.check_keys(table, LOCAL_KEYS if kind == LOCAL else GRAPH_KEYS, prefix + ".")
        common = {
            "name": name,
            "kind": kind,
            "safety": self.safety(table.get("safety", {}), f"{prefix}.safety", safety),
            "execution": self.execution(table.get("execution", {}), f"{prefix}.execution", execution),
            "source": self.file,
        }
        if kind == LOCAL:
            state = self.path(table["state"]) if "state" in table else None
            return Profile(state=state, **common)
        return self.graph_profile(prefix, table, common)

    def graph_profile(self, prefix: str, table: dict[str, Any], common: dict[str, Any]) -> Profile:
        cloud = table.get("cloud", "global")
        if cloud not in CLOUDS:
            raise self.fail(f"{prefix}.cloud", f"unknown cloud {cloud!r}", _choices(cloud, CLOUDS))
        if "auth" not in table:
            methods = ", ".join(AUTH_METHODS)
            raise self.fail(f"{prefix}.auth", "missing", f"set auth to one of {methods}")
        auth = table["auth"]
        if auth not in AUTH_METHODS:
            raise self.fail(f"{prefix}.auth", f"unknown auth method {auth!r}", _choices(auth, AUTH_METHODS))
        for key in REQUIRED[auth]:
            if not table.get(key):
                raise self.fail(
                    f"{prefix}.{key}",
                    f'missing; auth = "{auth}" needs it',
                    f"add {key} = ... to [{prefix}] (see config.example.toml)",
                )
        for key, method in METHOD_KEYS.items():
            if key in table and method != auth:
                raise self.fail(
                    f"{prefix}.{key}",
                    f'only used with auth = "{method}", but this profile has auth = "{auth}"',
                    "remove it or change auth",
                )
        self.check_ids(prefix, table)
        for key in ("certificate_password_env", "client_secret_env", "token_env"):
            if key in table and not _ENV_NAME.match(table[key]):
                # Never echo the value: it may be the secret itself, pasted in by mistake.
                raise self.fail(
                    f"{prefix}.{key}",
                    "must be the name of an environment variable (letters, digits and _), not its value",
                    f'write {key} = "MY_VARIABLE" and export MY_VARIABLE with the secret',
                )
        graph_url = self.graph_url(prefix, table.get("graph_url"), auth, cloud)
        paths = {k: self.path(table[k]) for k in ("certificate_path", "token_file") if k in table}
        plain = (
            "tenant_id",
            "client_id",
            "certificate_password_env",
            "client_secret_env",
            "token_env",
            "managed_identity_client_id",
            "redirect_uri",
        )
        return Profile(
            cloud=cloud,
            auth=auth,
            graph_url=graph_url,
            **{k: table[k] for k in plain if k in table},
            **paths,
            **common,
        )

    def check_ids(self, prefix: str, table: dict[str, Any]) -> None:
        tid = table.get("tenant_id")
        if tid is not None and not (_GUID.match(tid) or _DOMAIN.match(tid)):
            raise self.fail(
                f"{prefix}.tenant_id",
                f"{tid!r} is neither a tenant ID (GUID) nor a domain",
                "copy the Directory (tenant) ID from the Entra admin center's Overview page",
            )
        for key in ("client_id", "managed_identity_client_id"):
            value = table.get(key)
            if value is not None and not _GUID.match(value):
                raise self.fail(
                    f"{prefix}.{key}",
                    f"{value!r} is not a GUID",
                    "copy the Application (client) ID from the app registration's Overview page",
                )

    def graph_url(self, prefix: str, url: str | None, auth: str, cloud: str) -> str | None:
        if url is None:
            return None
        key = f"{prefix}.graph_url"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise self.fail(key, f"{url!r} is not an http(s) URL", 'write it like "https://host/v1.0"')
        if not parts.path.rstrip("/").endswith("/v1.0") or parts.query or parts.fragment:
            raise self.fail(
                key,
                "must be the Graph v1.0 base URL",
                'end it with "/v1.0", e.g. "http://127.0.0.1:8123/v1.0"',
            )
        loopback = host in LOOPBACK_HOSTS
        if parts.scheme != "https" and not loopback:
            raise self.fail(key, "plain http is only allowed to a loopback host", "use https:// or 127.0.0.1")
        graph_host = urlsplit(CLOUDS[cloud].graph_root).hostname
        if auth != "token" and host != graph_host:
            raise self.fail(
                key,
                f'auth = "{auth}" is a real tenant credential and is only ever sent to the {cloud} cloud\'s '
                f"Microsoft Graph host ({graph_host})",
                'remove graph_url, or use auth = "token" with token_env for a loopback test target',
            )
        if auth == "token" and not loopback and host != graph_host:
            raise self.fail(
                key,
                f"a static token is only sent to a loopback host or to {graph_host} (the {cloud} cloud's Graph)",
                "point graph_url at 127.0.0.1 (provisioner local serve) or remove it",
            )
        return url.rstrip("/")


def _is_secret_key(key: str) -> bool:
    k = key.lower()
    return any(w in k for w in _SECRET_WORDS) and not k.endswith("_env") and k != "token_file"


def _holds_value(value: Any) -> bool:
    return value not in ("", None, [], {})


def _env_key_for(key: str) -> str:
    k = key.lower()
    if "password" in k or "passphrase" in k or "private_key" in k:
        return 'certificate_password_env (or use auth = "certificate")'
    if "token" in k:
        return "token_env"
    return "client_secret_env"


def _choices(value: str, options: Any) -> str:
    close = difflib.get_close_matches(value, list(options), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"use one of {', '.join(options)}{hint}"


def _type_name(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
