"""``promoter completion bash|zsh|fish``: print the shell completion script."""

from __future__ import annotations

import click


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (commands, options, environment names).

    \b
      bash: eval "$(promoter completion bash)"   # in ~/.bashrc
      zsh:  eval "$(promoter completion zsh)"    # in ~/.zshrc, after compinit
      fish: promoter completion fish > ~/.config/fish/completions/promoter.fish
    """
    from click.shell_completion import get_completion_class

    from promoter.cli import cli

    completion_class = get_completion_class(shell)
    assert completion_class is not None  # the choice above lists only shells click supports
    script = completion_class(cli, {}, "promoter", "_PROMOTER_COMPLETE").source()
    click.echo(script.rstrip("\n"))
