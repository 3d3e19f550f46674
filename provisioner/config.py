"""config.toml: tenant profiles, safety and execution settings, validated with errors that say the fix.

Where the file is: ``--config PATH`` > ``$PROVISIONER_CONFIG`` > ``click.get_app_dir("provisioner")/
config.toml``. A missing default file is fine (the built-in ``local`` profile applies); a missing file
that was named explicitly is an error.

Layout (see ``config.example.toml``)::

    default_tenant = "prod"
    [safety]      protected_accounts, max_deletes           (apply to every profile)
    [execution]   write_budget, write_window_seconds, concurrency, journal
    [audit.scuba] excluded_users, excluded_groups: object ids exempt from SCuBA MS.AAD.7.4
    [tenants.NAME]            kind, cloud, tenant_id, client_id, auth, method fields, graph_url
    [tenants.NAME.safety]     per-profile overrides (protected_accounts are added, never removed)
    [tenants.NAME.execution]  per-profile overrides

Each profile carries its merged ``safety`` and ``execution`` settings (``Profile.safety``,
``Profile.execution``), so callers need nothing but the profile.
Secrets never live in this file: a key such as ``client_secret`` holding a value is refused, and the
``*_env`` keys name environment variables instead.

Tables are checked with ``tomlcheck`` (the manifest's style too); a real tenant's auth settings in
``config_auth``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from provisioner import tomlcheck as tc
from provisioner.config_auth import fail, graph_settings, resolve
from provisioner.errors import ConfigError
from provisioner.ids import is_guid

ENV_CONFIG = "PROVISIONER_CONFIG"
LOCAL = "local"

# What each table may hold (tomlcheck fields: the kind, and so the "write it like" example).
_STR, _PATH, _TABLE = tc.Field(tc.STR), tc.Field(tc.PATH), tc.Field(tc.TABLE)
TOP_KEYS = {"default_tenant": _STR, "tenants": _TABLE, "safety": _TABLE, "execution": _TABLE, "audit": _TABLE}
AUDIT_KEYS = {"scuba": _TABLE}
SCUBA_KEYS = {"excluded_users": tc.Field(tc.STRLIST), "excluded_groups": tc.Field(tc.STRLIST)}
SAFETY_KEYS = {"protected_accounts": tc.Field(tc.STRLIST), "max_deletes": tc.Field(tc.INT),
               "confirm": tc.Field(tc.STR), "confirm_above": tc.Field(tc.INT)}
CONFIRM = ("destructive", "always", "never")
EXECUTION_KEYS = {"write_budget": tc.Field(tc.INT), "write_window_seconds": tc.Field(tc.NUM),
                  "concurrency": tc.Field(tc.INT), "journal": _PATH}
LOCAL_KEYS = {"kind": _STR, "state": _PATH, "safety": _TABLE, "execution": _TABLE}
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
    "safety": _TABLE,
    "execution": _TABLE,
}

# A key whose name says it holds a secret, and the *_env key that should name it instead.
_SECRET_WORDS = ("secret", "password", "passphrase", "token", "api_key", "private_key", "credential")



@dataclass(frozen=True)
class Safety:
    """Guardrails: accounts never deleted or demoted, and the most deletes one plan may hold."""

    protected_accounts: tuple[str, ...] = ()
    max_deletes: int = 50
    confirm: str = "destructive"  # which runs ask first on a terminal: destructive (or big), always, never
    confirm_above: int = 100  # a run of more changes than this asks first, even when it only adds


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
class Scuba:
    """The CISA SCuBA baseline's exclusions: principals (break-glass accounts, PIM for Groups groups)
    whose permanent active assignments MS.AAD.7.4 accepts, as ScubaGear's RoleExclusions."""

    excluded_users: tuple[str, ...] = ()
    excluded_groups: tuple[str, ...] = ()


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
    scuba: Scuba = field(default_factory=Scuba)
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
        raw = tc.read(file)
    except tc.Unreadable as e:
        raise ConfigError(f"{file}: {e}") from None
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
        return fail(self.file, key, problem, fix)

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
        scuba = self.scuba(raw.get("audit", {}))
        profiles = {name: replace(p, scuba=scuba) for name, p in profiles.items()}
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

    def check_keys(self, table: dict[str, Any], allowed: dict[str, tc.Field], prefix: str) -> None:
        # Stops at the first problem, in file order: one error, then the admin fixes and reruns.
        for key, value in table.items():
            dotted = f"{prefix}{key}"
            if _is_secret_key(key) and key not in allowed and _holds_value(value):
                raise self.fail(
                    dotted,
                    "a secret must not be written in the config file",
                    f"put it in an environment variable and name it with {_env_key_for(key)}",
                )
            problem = tc.unknown_key(key, allowed, prefix) if key not in allowed else None
            problem = problem or tc.value_problem(key, value, allowed[key])
            if problem is not None:
                raise self.fail(dotted, problem.problem, problem.fix)

    def expect(self, value: Any, field: tc.Field, key: str) -> None:
        problem = tc.value_problem(key, value, field)
        if problem is not None:
            raise self.fail(key, problem.problem, problem.fix)

    def expect_table(self, value: Any, key: str) -> None:
        self.expect(value, _TABLE, key)

    def path(self, value: str) -> Path:
        return resolve(self.file, value)

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
        confirm = table.get("confirm", base.confirm)
        if confirm not in CONFIRM:
            raise self.fail(f"{prefix}.confirm", f"{confirm!r} is not one of {', '.join(CONFIRM)}",
                            'write confirm = "destructive" (the default), "always" or "never"')
        confirm_above = table.get("confirm_above", base.confirm_above)
        self.positive(confirm_above, f"{prefix}.confirm_above", 1)
        # A profile can add protected accounts but never drop those protected globally.
        merged = tuple(dict.fromkeys(base.protected_accounts + protected))
        return Safety(protected_accounts=merged, max_deletes=max_deletes, confirm=confirm, confirm_above=confirm_above)

    def scuba(self, table: dict[str, Any]) -> Scuba:
        self.check_keys(table, AUDIT_KEYS, "audit.")
        scuba = table.get("scuba", {})
        self.check_keys(scuba, SCUBA_KEYS, "audit.scuba.")
        for key in SCUBA_KEYS:
            for i, value in enumerate(scuba.get(key, [])):
                if not is_guid(value):
                    raise self.fail(f"audit.scuba.{key}[{i}]", f"{value!r} is not an object id",
                                    "write the id (a GUID) of the user or group, as `provisioner users show` gives it")
        return Scuba(tuple(x.lower() for x in scuba.get("excluded_users", [])),
                     tuple(x.lower() for x in scuba.get("excluded_groups", [])))

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
        return Profile(**graph_settings(self.file, prefix, table), **common)


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

