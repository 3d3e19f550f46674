"""``provisioner completion bash|zsh|fish``: the shell script that completes commands, options,
role aliases and profile names (Click's own completion, sourced from the shell's start-up file)."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem, get_completion_class


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"], case_sensitive=False))
def completion(shell: str) -> None:
    """Print the completion script for SHELL; add it to the shell's start-up file.

    \b
    Examples:
      provisioner completion bash >> ~/.bashrc
      provisioner completion zsh > "${fpath[1]}/_provisioner"
      provisioner completion fish > ~/.config/fish/completions/provisioner.fish
    """
    from provisioner.cli import cli

    script = get_completion_class(shell.lower())(cli, {}, "provisioner", "_PROVISIONER_COMPLETE").source()
    click.echo(script)


def complete_role(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The five aliases and the classic roles' Entra names (every built-in role is accepted too)."""
    from provisioner.roles.catalog import CLASSIC_ROLES

    names = [r.alias for r in CLASSIC_ROLES] + [r.entra_name for r in CLASSIC_ROLES]
    return [CompletionItem(n, help=r.entra_name) for n, r in zip(names, CLASSIC_ROLES * 2, strict=True)
            if n.lower().startswith(incomplete.lower())]


def complete_profile(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The profiles of the config file (nothing when it cannot be read: completion never fails)."""
    try:
        from provisioner.config import load_config

        names = sorted(load_config(ctx.params.get("config_path")).profiles)
    except Exception:
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]
