"""`wallet dev-token` and `wallet run-demo`: the development commands, the only ones that need the web layer
(the development identity provider signs tokens with pyjwt; the demo serves api.wsgi under gunicorn)."""

from __future__ import annotations

import click

from api.auth import dev_idp
from cli.context import Context, pass_context
from cli.i18n import _
from wallet.identifiers import IdentifierError, validate_iin
from wallet.principals import STAFF_ROLES


@click.command("dev-token")
@click.option("--parent", "parent_iin", default=None, help="a parent's IIN (sub of the token)")
@click.option("--role", type=click.Choice(STAFF_ROLES), default=None, help="a staff role")
@click.option("--subject", default="dev-user", show_default=True, help="sub for staff tokens")
@click.option("--school", default=None, help="school BIN (school_admin scope)")
@click.option("--region", default=None, help="region code (auditor scope)")
@click.option("--supplier", default=None, help="supplier BIN (supplier scope)")
@click.option("--national", is_flag=True, help="national scope (an auditor without --region)")
@click.option("--minutes", default=60, show_default=True, type=click.IntRange(1, 24 * 60))
@pass_context
def dev_token(ctx: Context, parent_iin: str | None, role: str | None, subject: str, school: str | None,
              region: str | None, supplier: str | None, national: bool, minutes: int) -> None:
    """Print a token from the local development identity provider (refused outside development)."""
    import datetime as dt

    if (parent_iin is None) == (role is None):
        raise click.UsageError(_("give exactly one of --parent IIN or --role ROLE"))
    if parent_iin is not None:
        try:
            validate_iin(parent_iin)
        except IdentifierError as exc:
            raise click.BadParameter(str(exc), param_hint="--parent") from exc
        sub, claims = parent_iin, {"role": "parent"}
    else:
        scope = {"school": school, "region": region, "supplier": supplier, "national": national}
        sub, claims = subject, {"role": role, **{k: v for k, v in scope.items() if v}}
    click.echo(dev_idp.issue_token(ctx.settings, sub, claims, dt.timedelta(minutes=minutes)))


@click.command("run-demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--terminals", default=2, show_default=True, type=click.IntRange(1, 8))
@click.option("--meals-per-minute", default=40.0, show_default=True, type=click.FloatRange(1, 100000),
              help="the pace of the rush: at 40 a school's lunch and snack take a few minutes to serve")
@click.option("--duration", default=None, type=click.FloatRange(1, None), help="seconds (default: until Ctrl-C)")
@pass_context
def run_demo(ctx: Context, host: str, port: int, terminals: int, meals_per_minute: float,
             duration: float | None) -> None:
    """Serve the API with gunicorn and let simulated canteen terminals post meals to it."""
    from cli.demo_run import run

    run(ctx, host=host, port=port, terminals=terminals, meals_per_minute=meals_per_minute, duration=duration)


COMMANDS = (dev_token, run_demo)
