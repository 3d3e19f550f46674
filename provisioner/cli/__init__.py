"""The ``provisioner`` command line. Commands parse, call one operation and render.

msgraph-sdk is imported only by commands that talk to a tenant, so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from provisioner import __version__
from provisioner.cli.app import App
from provisioner.cli.completion import complete_profile
from provisioner.errors import ExitCode, ProvisionerError


class Failure(click.ClickException):
    """A ProvisionerError on its way out: ``Error: <message>`` on stderr and its exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class ProvisionerGroup(click.Group):
    """Maps the project's errors to their exit codes, and usage errors to 64 (2 means "changes
    present" for ``sync --detailed-exitcode``)."""

    def make_context(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            e.exit_code = ExitCode.USAGE
            raise

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            e.exit_code = ExitCode.USAGE
            raise
        except ProvisionerError as e:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            raise Failure(str(e), e.exit_code) from None
        except KeyboardInterrupt:
            message = "interrupted; re-run the same command to finish: it converges"
            raise Failure(message, ExitCode.INTERRUPTED) from None


@click.group(cls=ProvisionerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provisioner")
@click.option("--tenant", "-t", envvar="PROVISIONER_TENANT", metavar="NAME", shell_complete=complete_profile,
              help="Target profile from config.toml. Default: the config's default_tenant, else the local tenant.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH",
              help="Config file. Default: $PROVISIONER_CONFIG, else the platform config directory.")
@click.option("-v", "--verbose", count=True, help="Log each Graph call (method, path, status, ms) to stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--record", "record_path", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Append every Graph request and answer of this command to FILE as JSON lines, without the "
                   "Authorization header, passwords or secrets (for a bug report; see 'local replay').")
@click.pass_context
def cli(ctx: click.Context, tenant: str | None, config_path: Path | None, verbose: int, debug: bool,
        record_path: Path | None) -> None:
    """Manage Microsoft 365 / Entra ID users and admin roles through Microsoft Graph.

    Without configuration every command acts on the local tenant: a simulated Entra tenant
    kept in a file on this machine. Every change can be shown first with --dry-run.
    """
    if verbose:
        # Our request log only: httpx logs each request at INFO too, which would say everything twice.
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("provisioner.graph").setLevel(logging.INFO)
    ctx.obj = App(tenant=tenant, config_path=config_path, debug=debug)
    if record_path is not None:
        from provisioner.record import recording

        ctx.with_resource(recording(record_path))  # closed when the command ends, however it ends


def _register() -> None:
    from provisioner.cli.audit import audit
    from provisioner.cli.completion import completion
    from provisioner.cli.deleted import deleted
    from provisioner.cli.doctor import doctor
    from provisioner.cli.leavers import offboard, reset_password
    from provisioner.cli.licenses import licenses
    from provisioner.cli.local import local
    from provisioner.cli.roles import roles
    from provisioner.cli.sync import apply_command, sync_command
    from provisioner.cli.users import users

    users.add_command(reset_password)
    users.add_command(offboard)
    for command in (users, licenses, deleted, roles, sync_command, apply_command, audit, local, doctor, completion):
        cli.add_command(command)


_register()
