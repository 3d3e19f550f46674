"""``provisioner licenses ...``: the tenant's licenses, and users' direct license assignments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, CliReview, change_options, finish, run_options

if TYPE_CHECKING:
    from provisioner.services import Target

SKU_COLUMNS = [
    ("skuPartNumber", "SKU"),
    ("productName", "Product"),
    ("enabled", "Enabled"),
    ("consumed", "Consumed"),
    ("free", "Free"),
    ("suspended", "Suspended"),
    ("warning", "Warning"),
    ("capabilityStatus", "Status"),
]


@click.group()
def licenses() -> None:
    """List the tenant's licenses; assign and revoke users' licenses within the seats it has."""


@licenses.command("list")
@click.option("--plans", is_flag=True, help="Also list each license's service plans.")
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="Output format (data goes to stdout).")
@click.pass_obj
def list_licenses(app: App, plans: bool, output: str) -> None:
    """List the tenant's licenses (SKUs) with their seats: enabled, consumed, free.

    \b
    Example:
      provisioner licenses list --plans
    """
    from provisioner.output import render

    async def work(target: Target) -> Any:
        from provisioner.services.licenses import list_licenses as listed

        return await listed(target)

    rows = [s.to_row(plans=plans) for s in app.run(work)]
    columns = SKU_COLUMNS + ([("servicePlans", "Service plans")] if plans else [])
    click.echo(render(rows, columns, output), nl=False)


def _usage_location(value: str | None) -> str | None:
    if value is None:
        return None
    from provisioner.inputs import country_problem

    if problem := country_problem(value):
        raise click.UsageError(f"--usage-location: {problem}")
    return value.upper()


@licenses.command("assign")
@click.argument("user")
@click.argument("skus", nargs=-1, required=True, metavar="SKU...")
@click.option("--disable-plan", "disable_plans", multiple=True, metavar="PLAN",
              help="Service plan to leave off (name like MFA_PREMIUM, or id; repeatable).")
@click.option("--usage-location", metavar="CC", help="Set the user's usage location first if it has none.")
@change_options
@click.pass_obj
def assign(app: App, user: str, skus: tuple[str, ...], disable_plans: tuple[str, ...], usage_location: str | None,
           **change: Any) -> None:
    """Assign licenses to a user (SKU by part number, product name or GUID).

    Refused before any write when the tenant has fewer free seats than needed, or the user has
    no usage location (give --usage-location). Assigning a license the user has again sets its
    disabled plans to the ones given.

    \b
    Examples:
      provisioner licenses assign adele@contoso.onmicrosoft.com SPE_E5 --usage-location GB
      provisioner licenses assign adele@contoso.onmicrosoft.com "Office 365 E3" --disable-plan EXCHANGE_S_ENTERPRISE
    """
    opts = app.options(**change)
    location = _usage_location(usage_location)

    async def work(target: Target) -> Any:
        from provisioner.services.licenses import SkuRequest, change_licenses

        request = SkuRequest(user, add=skus, disable_plans=disable_plans, usage_location=location)
        return await change_licenses(target, [request], CliReview(opts), run_options(opts))

    finish(app.run(work))


@licenses.command("revoke")
@click.argument("user")
@click.argument("skus", nargs=-1, required=True, metavar="SKU...")
@change_options
@click.pass_obj
def revoke(app: App, user: str, skus: tuple[str, ...], **change: Any) -> None:
    """Remove licenses assigned to a user directly (one a group gives is refused: change the group).

    \b
    Example:
      provisioner licenses revoke adele@contoso.onmicrosoft.com ENTERPRISEPACK
    """
    opts = app.options(**change)

    async def work(target: Target) -> Any:
        from provisioner.services.licenses import SkuRequest, change_licenses

        return await change_licenses(target, [SkuRequest(user, remove=skus)], CliReview(opts), run_options(opts))

    finish(app.run(work))
