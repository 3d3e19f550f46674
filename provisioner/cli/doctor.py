"""``provisioner doctor``: is the target usable, and what is missing for which command."""

from __future__ import annotations

import click

from provisioner.cli.app import App, Stop
from provisioner.errors import ExitCode, ProvisionerError


def _line(ok: bool, text: str, warn: bool = False) -> None:
    if warn:
        mark = click.style("warn", fg="yellow")
    else:
        mark = click.style("ok ", fg="green") if ok else click.style("FAIL", fg="red")
    click.echo(f"[{mark}] {text}")


@click.command()
@click.pass_obj
def doctor(app: App) -> None:
    """Check config, credential, token, reachability and granted Graph permissions.

    Says exactly which permission or admin role is missing for which command, from the token's
    `roles`, `scp` and `wids`: FAIL when Graph would refuse the command, warn when it would refuse
    it only for users who hold admin roles, or only with an option (offboard --delete).
    """
    import asyncio

    try:
        profile = app.profile()
    except ProvisionerError as e:
        _line(False, f"config: {e}")
        raise Stop("the config is not usable", ExitCode.ERROR) from None
    _line(True, f"config: {app.config.path or 'none (built-in local tenant)'}; target {profile.describe()}")

    async def check() -> bool:
        from provisioner import services

        healthy = True
        async for result in services.doctor(profile):
            _line(result.ok, result.text, result.warn)
            healthy = healthy and result.ok
        return healthy

    if not asyncio.run(check()):
        raise Stop("doctor found problems (see FAIL lines)", ExitCode.ERROR)


