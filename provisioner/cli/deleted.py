"""``provisioner deleted list``: deleted users, soonest to expire first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from provisioner.cli.app import App
from provisioner.durations import duration_option

if TYPE_CHECKING:
    from provisioner.services import DeletedList, Target

COLUMNS = [
    ("userPrincipalName", "Original UPN"),
    ("displayName", "Name"),
    ("deletedDateTime", "Deleted"),
    ("daysLeft", "Days left"),
    ("expiresDateTime", "Expires"),
    ("onPremisesSyncEnabled", "Synced"),
    ("id", "Object id"),
]


@click.group()
def deleted() -> None:
    """Deleted users in the 30-day restore window."""


@deleted.command("list")
@click.option("--expiring-within", metavar="DURATION", help="Only users purged within DURATION (e.g. 7d).")
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"], case_sensitive=False), default="table",
              show_default=True, help="Output format (data goes to stdout).")
@click.pass_obj
def list_deleted(app: App, expiring_within: str | None, output: str) -> None:
    """List deleted users with deletion date, days left and expiry date, soonest expiry first."""
    from provisioner.output import render

    within = duration_option(expiring_within, "--expiring-within") if expiring_within else None

    async def work(target: Target) -> DeletedList:
        from provisioner import services

        return await services.deleted_users(target, expiring_within=within)

    found = app.run(work)
    click.echo(render([u.to_graph(found.now) for u in found.users], COLUMNS, output), nl=False)
