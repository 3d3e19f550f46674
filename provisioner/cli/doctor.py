"""``provisioner doctor``: is the target usable, and what is missing for which command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from provisioner.cli.app import App, Stop
from provisioner.errors import ExitCode, ProvisionerError

if TYPE_CHECKING:
    from provisioner.config import Profile


def _line(ok: bool, text: str) -> None:
    mark = click.style("ok ", fg="green") if ok else click.style("FAIL", fg="red")
    click.echo(f"[{mark}] {text}")


async def _token(profile: Profile) -> str:
    from provisioner import auth

    if profile.auth == "token":
        return auth.static_token(profile)
    credential = auth.build_credential(profile)
    try:
        return str((await auth.acquire_token(credential, auth.graph_scope(profile))).token)
    finally:
        await auth.close_credential(credential)


@click.command()
@click.pass_obj
def doctor(app: App) -> None:
    """Check config, credential, token, reachability and granted Graph permissions.

    Says exactly which permission or admin role is missing for which command.
    """
    import asyncio

    from provisioner import auth, permissions

    try:
        profile = app.profile()
    except ProvisionerError as e:
        _line(False, f"config: {e}")
        raise Stop("the config is not usable", ExitCode.ERROR) from None
    _line(True, f"config: {app.config.path or 'none (built-in local tenant)'}; target {profile.describe()}")

    async def check() -> bool:
        from provisioner.operations import connected

        healthy = True
        granted: set[str] | None = None
        delegated = False
        if not profile.is_local:
            try:
                claims = auth.token_claims(await _token(profile))
            except Exception as e:  # any credential failure is the finding itself
                _line(False, f"credential ({profile.auth}): {type(e).__name__}: {e}")
                return False
            delegated, granted = permissions.granted_from_claims(claims)
            who = claims.get("upn") or claims.get("app_displayname") or claims.get("appid") or "?"
            _line(True, f"token: for {who}, tenant {claims.get('tid', '?')}, "
                        f"{'delegated' if delegated else 'application'} permissions: "
                        f"{', '.join(sorted(granted)) or 'none'}")
        try:
            async with connected(profile) as d:
                users = [u async for u in d.iter_users(top=1)][:1]
                _line(True, f"reachable: {d.label} answered (users readable: {'yes' if users else 'empty tenant'})")
        except ProvisionerError as e:
            _line(False, f"reachable: {e}")
            healthy = False
        if granted is None:
            _line(True, "permissions: the local tenant grants every permission")
            return healthy
        for result in permissions.check_all(granted, delegated=delegated):
            _line(result.ok, f"{result.command}" + (f": {result.hint}" if result.hint else ""))
            healthy = healthy and result.ok
        return healthy

    if not asyncio.run(check()):
        raise Stop("doctor found problems (see FAIL lines)", ExitCode.ERROR)


