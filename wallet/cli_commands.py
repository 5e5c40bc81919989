"""Registers the `wallet` subcommands that belong to other modules."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    from wallet.demo.cli import demo_data_command
    from wallet.importing.cli import import_command
    from wallet.ledger.cli import checkpoint_command, verify_command
    from wallet.ledger.totals_cli import totals_group
    from wallet.reconciliation.cli import COMMANDS as reconciliation_commands
    from wallet.reports.cli import COMMANDS as report_commands
    from wallet.terminals_cli import terminals_group
    from wallet.vouchers.cli import vouchers_group

    cli.add_command(import_command)
    cli.add_command(demo_data_command)
    cli.add_command(terminals_group)
    cli.add_command(vouchers_group)
    cli.add_command(verify_command)
    cli.add_command(checkpoint_command)
    cli.add_command(totals_group)
    for command in (*reconciliation_commands, *report_commands):
        cli.add_command(command)
