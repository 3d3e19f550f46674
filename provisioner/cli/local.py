"""``provisioner local ...``: create, reset, serve the local tenant and move its clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import click

from provisioner.durations import duration_option

T = TypeVar("T")
# The tenant clock stays 101 years short of the last date a datetime holds (9999-12-31), so the
# longest duration any command takes (36500d) and the 30-day restore window still fit after it.
CLOCK_LIMIT = datetime(9899, 1, 1, tzinfo=UTC)

state_option = click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PROVISIONER_LOCAL_STATE",
    metavar="PATH",
    help="Tenant state file. Default: $PROVISIONER_LOCAL_STATE, else the user data directory.",
)


def _state(path: Path | None) -> Path:
    if path is not None:
        return path
    from provisioner.local import default_state_path

    return default_state_path()


def _on(path: Path, action: Callable[[], T]) -> T:
    """``action()`` on the tenant file at ``path``: a file that cannot be a tenant is one line."""
    from provisioner.bootstrap import in_local_state

    return in_local_state(path, action)


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _summary(summary: dict) -> None:
    for key in ("path", "domain", "users", "seeded", "synced"):
        if key in summary:
            click.echo(f"{key}: {summary[key]}")


@click.group(name="local")
def local() -> None:
    """The local tenant: a simulated Entra tenant, in a file, that speaks Microsoft Graph v1.0.

    \b
    Example:
        provisioner local init --seed-users 200 --synced-fraction 0.1
        provisioner local serve --port 8000
    """


@local.command()
@state_option
@click.option("--domain", help="Verified domain of a new tenant (admin@DOMAIN is its Global Administrator; "
              "default contoso.onmicrosoft.com); for an existing tenant, a verified domain to add.")
@click.option("--seed-users", type=click.IntRange(min=0), default=0, show_default=True,
              help="Sample users to add.")
@click.option("--synced-fraction", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Share of the sample users synced from on-premises AD (onPremisesSyncEnabled).")
@click.option("--seed", type=int, help="Make the sample users reproducible.")
@click.option("--sku", "skus", multiple=True, metavar="PART=N",
              help="Give the tenant exactly these licenses, N seats each (repeatable; e.g. SPE_E5=25). "
                   "Default for a new tenant: SPE_E5=25, ENTERPRISEPACK=25, FLOW_FREE=10000.")
@click.option("--p2/--no-p2", default=None,
              help="Whether the tenant holds Microsoft Entra ID P2, which PIM needs (a new tenant does).")
def init(state: Path | None, domain: str | None, seed_users: int, synced_fraction: float, seed: int | None,
         skus: tuple[str, ...], p2: bool | None) -> None:
    """Create the local tenant, or add sample users to the existing one.

    \b
    Example:
        provisioner local init --seed-users 1000 --synced-fraction 0.2 --seed 1
        provisioner local init --sku SPE_E5=25 --sku ENTERPRISEPACK=10
    """
    from provisioner.local import DEFAULT_DOMAIN, add_domain, init_tenant
    from provisioner.local.licenses import parse_skus

    try:
        seats = parse_skus(list(skus)) if skus else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--sku") from None
    path = _state(state)
    summary = _on(path, lambda: init_tenant(path, domain=domain or DEFAULT_DOMAIN, seed_users=seed_users,
                                            synced_fraction=synced_fraction, seed=seed, skus=seats))
    if p2 is not None:
        from provisioner.local.pim import licence_at

        licence_at(path, p2)
    if summary.get("created"):
        click.echo(f"Created local tenant at {path} (admin@{summary['domain']} is Global Administrator).",
                   err=True)
    else:
        click.echo(f"Local tenant at {path} already exists; kept its contents.", err=True)
        if domain and domain.strip().lower() != summary["domain"]:
            try:
                add_domain(path, domain)
            except ValueError as e:
                raise click.BadParameter(f"{e}; name a domain like fabrikam.com", param_hint="--domain") from None
            click.echo(f"Added the verified domain {domain.strip().lower()}; the default domain stays "
                       f"{summary['domain']} (a new tenant is made with: provisioner local reset --domain "
                       f"{domain.strip().lower()}).", err=True)
    _summary(summary)


@local.command()
@state_option
@click.option("--domain", default="contoso.onmicrosoft.com", show_default=True,
              help="Verified domain of the new tenant.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def reset(state: Path | None, domain: str, yes: bool) -> None:
    """Wipe the local tenant and start a fresh one (users, deleted users, role assignments, clock).

    \b
    Example:
        provisioner local reset --yes
    """
    from provisioner.local import reset_tenant

    path = _state(state)
    if not yes:
        import sys

        if not sys.stdin.isatty():
            raise click.UsageError("not reset: no terminal to confirm on; re-run with --yes to reset the tenant")
        click.confirm(f"Delete everything in the local tenant at {path}?", abort=True, err=True)
    summary = _on(path, lambda: reset_tenant(path, domain=domain))
    click.echo(f"Reset local tenant at {path}.", err=True)
    _summary(summary)


@local.command()
@state_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host. The tenant accepts any bearer token: anyone who can reach "
                   "it can change it.")
@click.option("--throttle/--no-throttle", default=None,
              help="Graph's throttling: token buckets, 429 with Retry-After and x-ms-throttle-* headers.")
@click.option("--tenant-size", type=click.Choice(["S", "M", "L"], case_sensitive=False),
              help="Tenant size for the resource-unit budget (S 3,500 / M 5,000 / L 8,000 per 10 s).")
@click.option("--time-scale", type=float, help="Divide throttling windows and Retry-After by this factor.")
@click.option("--latency-ms", type=float, help="Latency added to every request.")
@click.option("--jitter-ms", type=float, help="Random extra latency, 0 to this many ms.")
@click.option("--fault-rate", type=float, help="Probability of a 503 or 504 instead of the answer.")
@click.option("--drop-rate", type=float, help="Probability of dropping the connection without an answer.")
@click.option("--replication-lag", "replication_lag_s", type=float, metavar="SECONDS",
              help="A new or restored user is 'not found' for this long.")
@click.option("--seed", type=int, help="Make faults, jitter and drops reproducible.")
def serve(state: Path | None, host: str, port: int, allow_remote: bool, **settings: object) -> None:
    """Serve the local tenant over HTTP at http://HOST:PORT/v1.0 until Ctrl-C.

    Realism flags default to the PROVISIONER_LOCAL_* environment variables, and all are off
    when neither is given.

    \b
    Example:
        provisioner local serve --port 8000 --throttle --time-scale 10 --fault-rate 0.02
    """
    from provisioner.local.realism import Realism
    from provisioner.local.serve import RemoteBindRefused
    from provisioner.local.serve import serve as run_server

    try:
        realism = Realism.from_env().with_overrides(**settings)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    from provisioner.local import init_tenant
    from provisioner.local.serve import check_host

    path = _state(state)
    try:
        check_host(host, allow_remote)
        _on(path, lambda: init_tenant(path))  # a file that cannot be a tenant is one line, before listening
        run_server(path, host=host, port=port, realism=realism, allow_remote=allow_remote)
    except RemoteBindRefused as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


@local.group()
def clock() -> None:
    """Show or move the tenant's clock (deleted users are purged 30 days after deletion)."""


@clock.command(name="show")
@state_option
def clock_show(state: Path | None) -> None:
    """Print the tenant's current time (UTC).

    \b
    Example:
        provisioner local clock show
    """
    from provisioner.local import tenant_now

    path = _state(state)
    click.echo(_when(_on(path, lambda: tenant_now(path))))


@clock.command(name="advance")
@state_option
@click.argument("duration")
def clock_advance(state: Path | None, duration: str) -> None:
    """Move the tenant's clock forward by DURATION (31d, 12h, 30m, 45s, or combined: 1d12h).

    \b
    Example:
        provisioner local clock advance 31d
    """
    from provisioner.local import advance_clock, tenant_now

    delta = duration_option(duration, "DURATION")
    path = _state(state)
    try:
        now = _on(path, lambda: tenant_now(path))
    except OverflowError:  # moved past the last date by an earlier version
        now = datetime.max.replace(tzinfo=UTC)
    if delta > CLOCK_LIMIT - now:
        left = max(CLOCK_LIMIT - now, timedelta(0)).days
        raise click.BadParameter(f"{duration!r} would move the tenant clock past {CLOCK_LIMIT:%Y-%m-%d}, the latest "
                                 f"it keeps (it is {_when(now) if now < CLOCK_LIMIT else 'past it'}); advance it by "
                                 f"at most {left}d, or start again with 'provisioner local reset'",
                                 param_hint="DURATION")
    moment = _on(path, lambda: advance_clock(path, delta))
    click.echo(f"Moved the tenant clock forward by {duration}.", err=True)
    click.echo(_when(moment))


@local.group()
def domain() -> None:
    """Manage the tenant's verified domains."""


@domain.command(name="add")
@state_option
@click.argument("name")
def domain_add(state: Path | None, name: str) -> None:
    """Add a verified domain, so users can have UPNs in it.

    \b
    Example:
        provisioner local domain add fabrikam.com
    """
    from provisioner.local import add_domain

    path = _state(state)
    try:
        _on(path, lambda: add_domain(path, name))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="NAME") from None
    click.echo(f"Added verified domain {name.strip().lower()} to the local tenant at {path}.", err=True)


def _words(values: tuple[str, ...]) -> list[str]:
    """Option values as a list, each value also split on commas and spaces."""
    return [w for v in values for w in v.replace(",", " ").split()]


def _role_ids(values: tuple[str, ...]) -> list[str]:
    """Directory role template ids from ids or built-in role names (``--wids``)."""
    from provisioner.ids import is_guid
    from provisioner.local.store import builtin_roles

    by_name = {r["displayName"].lower(): r["templateId"] for r in builtin_roles()}
    ids = []
    for value in (v.strip() for v in values if v.strip()):
        if is_guid(value):
            ids.append(value.lower())
        elif value.lower() in by_name:
            ids.append(by_name[value.lower()])
        else:
            raise click.BadParameter(f"{value!r} is neither a role template id nor a built-in role's name "
                                     "(e.g. 'User Administrator')", param_hint="--wids")
    return ids


@local.command()
@click.option("--roles", "roles", multiple=True, metavar="PERMISSION",
              help="Application permission(s) for the `roles` claim (an app-only token), e.g. User.ReadWrite.All.")
@click.option("--scp", multiple=True, metavar="SCOPE",
              help="Delegated scope(s) for the `scp` claim (a token of a signed-in admin); wins over --roles.")
@click.option("--wids", multiple=True, metavar="ROLE",
              help="Directory role held by the app's service principal or the signed-in admin: a template id or "
                   "a built-in role's name, e.g. 'Privileged Authentication Administrator'. Repeatable.")
@click.option("--expires-in", default="1d", show_default=True, metavar="DURATION",
              help="Lifetime of the token (the `exp` claim), e.g. 8h or 30d.")
def token(roles: tuple[str, ...], scp: tuple[str, ...], wids: tuple[str, ...], expires_in: str) -> None:
    """Print an unsigned JWT with chosen claims, for `local serve` to decide permissions by.

    The local tenant reads `roles`, `scp` and `wids` from a JWT bearer token (it does not check
    the signature) and answers 403 Authorization_RequestDenied as Graph does; any other token
    has full access. Put the token in the environment variable a `kind = "graph"`,
    `auth = "token"` profile names in `token_env`.

    \b
    Example:
        export GRAPH_TOKEN=$(provisioner local token --roles User.ReadWrite.All \\
            --wids 'Privileged Authentication Administrator')
    """
    import time
    import uuid

    from provisioner.local.permissions import unsigned_token

    lifetime = duration_option(expires_in, "--expires-in")
    scopes, permissions, held = _words(scp), _words(roles), _role_ids(wids)
    now = int(time.time())
    claims: dict[str, object] = {
        "aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/local/",
        "iat": now, "nbf": now, "exp": now + int(lifetime.total_seconds()),
        "app_displayname": "provisioner local token", "appid": str(uuid.uuid5(uuid.NAMESPACE_URL, "local-token")),
        "tid": "00000000-0000-0000-0000-000000000000",
    }
    if scopes:
        claims.update(idtyp="user", scp=" ".join(scopes), upn="admin@local.tenant", wids=held)
    else:
        # App-only tokens carry this marker in `wids` besides the service principal's roles (OBSERVED).
        claims.update(idtyp="app", roles=permissions, wids=[*held, "0997a1d0-0d1d-4acb-b408-d5ca73121e90"])
    click.echo(unsigned_token(claims))


@local.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def replay(file: Path) -> None:
    """Send the requests of a --record FILE, in order, to a fresh local tenant and print where its
    answers differ: status, error code, property names (not values such as ids and dates).

    One line per difference on stdout; exit 0 when there is none, 1 otherwise.

    \b
    Example:
        provisioner --tenant prod --record bug.jsonl users show alice@contoso.com
        provisioner local replay bug.jsonl
    """
    from provisioner.replay import replay_file

    count, differences = replay_file(file)
    for line in differences:
        click.echo(line)
    if differences:
        click.echo(f"{len(differences)} difference(s) in {count} exchange(s).", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"No differences in {count} exchange(s).", err=True)
