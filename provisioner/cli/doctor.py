"""``provisioner doctor``: is the target usable, and what is missing for which command."""

from __future__ import annotations

import click

from provisioner.cli.app import App, Stop
from provisioner.errors import ExitCode, ProvisionerError


def _line(ok: bool, text: str) -> None:
    mark = click.style("ok ", fg="green") if ok else click.style("FAIL", fg="red")
    click.echo(f"[{mark}] {text}")


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
        from contextlib import AsyncExitStack

        from provisioner.operations import connected

        async with AsyncExitStack() as stack:
            # One gateway, one credential: the token read for its claims is the one the checks use,
            # so a device-code or browser sign-in happens once.
            try:
                d = await stack.enter_async_context(connected(profile))
                claims = None if profile.is_local else auth.token_claims(await d.token_for_doctor())
            except Exception as e:  # any credential failure is the finding itself
                _line(False, f"credential ({profile.auth}): {type(e).__name__}: {e}")
                return False
            healthy = True
            granted: set[str] | None = None
            delegated = False
            if claims is not None:
                delegated, granted = permissions.granted_from_claims(claims)
                who = claims.get("upn") or claims.get("app_displayname") or claims.get("appid") or "?"
                _line(True, f"token: for {who}, tenant {claims.get('tid', '?')}, "
                            f"{'delegated' if delegated else 'application'} permissions: "
                            f"{', '.join(sorted(granted)) or 'none'}")
            try:
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


