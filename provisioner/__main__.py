"""Entry point: ``provisioner`` and ``python -m provisioner``.

The root command group maps errors, usage errors and interrupts to the documented exit codes.
"""

from __future__ import annotations


def main() -> None:
    from provisioner.cli import cli

    cli.main(prog_name="provisioner")


if __name__ == "__main__":
    main()
