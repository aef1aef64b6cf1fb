"""`campaign users`: the portal's accounts (add, disable, enable, reset-password, list)."""

from __future__ import annotations

import sys
from typing import Any

import click

from faces.cli.common import district_or_exit, emit_json, say


@click.group()
def users() -> None:
    """Portal accounts: one per district data clerk, and the DoH coordinators."""


def _account_action(ctx: click.Context, action: Any) -> Any:

    from campaign.accounts import AccountError
    from campaign.resources import get_resources

    res = get_resources()
    try:
        from campaign.store.db import write_session
        with write_session(res.engine) as session:
            return action(session, res)
    except AccountError as exc:
        say(f"error: {exc}")
        ctx.exit(3)


def _password_option(password: str | None) -> tuple[str, bool]:
    """(password, generated): the one read from stdin, or a generated one when not asked to read."""
    from campaign.accounts import generate_password

    if password is None:
        return generate_password(), True
    if not password:
        raise click.UsageError("--password-stdin: no password on stdin")
    return password, False


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["district", "coordinator"]), required=True)
@click.option("--district", "-d", default=None, help="For a district account: GSO code or name.")
@click.option("--name", "display_name", default=None, help="The person's or office's name, as shown on pages.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of generating one.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_add(ctx: click.Context, username: str, role: str, district: str | None, display_name: str | None,
              password_stdin: bool, as_json: bool) -> None:
    """Create an account; prints a generated password once (unless --password-stdin)."""
    from campaign import accounts
    from campaign.resources import get_resources

    code = None
    if role == "district":
        if not district:
            raise click.UsageError("a district account needs --district")
        code = district_or_exit(ctx, district, get_resources().campaign)
    password, generated = _password_option(sys.stdin.readline().rstrip("\n")
                                           if password_stdin else None)

    def add(session: Any, res: Any) -> dict[str, Any]:
        user = accounts.add_user(session, username=username, password=password, role=role, district_code=code,
                                 display_name=display_name)
        return {"username": user.username, "role": user.role, "district": user.district_code}

    result = _account_action(ctx, add)
    if generated:
        result["password"] = password
    if as_json:
        emit_json(result)
    else:
        say(f"account {result['username']} ({role}{', district ' + code if code else ''}) created"
            + (f"; password (shown once): {password}" if generated else ""))


@users.command("disable")
@click.argument("username")
@click.pass_context
def users_disable(ctx: click.Context, username: str) -> None:
    """The account can no longer sign in; its open sessions end now. Nothing is deleted."""
    from campaign import accounts

    _account_action(ctx, lambda session, res: accounts.disable_user(session, username))
    say(f"account {username} disabled; its sessions ended")


@users.command("enable")
@click.argument("username")
@click.pass_context
def users_enable(ctx: click.Context, username: str) -> None:
    """Let a disabled or locked account sign in again."""
    from campaign import accounts

    _account_action(ctx, lambda session, res: accounts.enable_user(session, username))
    say(f"account {username} enabled")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of generating one.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_reset_password(ctx: click.Context, username: str, password_stdin: bool, as_json: bool) -> None:
    """A new password (generated and printed once, unless --password-stdin); open sessions end."""
    from campaign import accounts

    password, generated = _password_option(sys.stdin.readline().rstrip("\n")
                                           if password_stdin else None)
    _account_action(ctx, lambda session, res: accounts.reset_password(session, username, password))
    if as_json:
        emit_json({"username": username, **({"password": password} if generated else {})})
    else:
        say(f"password of {username} reset" + (f"; new password (shown once): {password}" if generated else ""))


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Every account, its role, district and whether it can sign in."""
    from campaign import accounts

    rows = _account_action(ctx, lambda session, res: [
        {"username": u.username, "display_name": u.display_name, "role": u.role, "district": u.district_code,
         "active": u.is_active} for u in accounts.list_users(session)])
    if as_json:
        emit_json({"users": [{k: r[k] for k in ("username", "display_name", "role", "district", "active")}
                              for r in rows]})
        return
    for r in rows:
        click.echo(f"{r['username']:<24} {r['role']:<12} {r['district'] or '-':<4} "
                   f"{'active' if r['active'] else 'disabled'}  {r['display_name']}")
