"""Entry point: runs the CLI and maps errors and interrupts to the documented exit codes."""

from __future__ import annotations

import sys

import click

from provisioner.errors import ExitCode


def main(argv: list[str] | None = None) -> int:
    from provisioner.cli import cli

    try:
        cli.main(args=argv, prog_name="provisioner", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.INTERRUPTED
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        e.show()
        return ExitCode.USAGE
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    return ExitCode.SUCCESS


if __name__ == "__main__":
    sys.exit(main())
