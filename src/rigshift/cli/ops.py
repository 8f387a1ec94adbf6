"""`rigshift ops …`: the operator's alerts, actions and audit log, as the console shows them.

Thin: each command calls one method of a `ControlPlane` (`rigshift.client.control_plane`), a
running server's admin API with `--server` and `--admin-key`, else the database (`--db`), where
the alerts, the audit log and acknowledgements live. Actions that need the running server
(drain, undrain, demand, bench) say so without `--server`. Every action is written to the audit
log with who did it: the admin key's name, or "local CLI (user)".
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import AdminKeyOption, DbOption, JsonResultOption, ServerOption, transport
from rigshift.tables import Col, fitted_table, output_console

ops_app = typer.Typer(
    help="Alerts, the operator's actions (drain, demand, bench, events) and their audit log.",
    no_args_is_help=True,
)
_out = Console(highlight=False, soft_wrap=True)
RigArgument = Annotated[str, typer.Argument(metavar="RIG", help="The rig's name.")]
LimitOption = Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")]


def _plane(ctx: typer.Context, server: str | None, admin_key: str | None, db: str | None) -> Any:
    from rigshift.client.control_plane import control_plane

    return control_plane(server, admin_key, db, transport=transport(ctx))


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _show(
    rows: list[dict[str, Any]], as_json: bool, columns: tuple[Col, ...], cells: Sequence[Sequence[str]]
) -> None:
    if as_json:
        typer.echo(json.dumps({"data": rows}, indent=2))
        return
    console = output_console()
    console.print(fitted_table(columns, cells, console.width))


def alerts_command(
    ctx: typer.Context,
    history: Annotated[
        bool, typer.Option("--history", help="Every alert, resolved ones too, newest first.")
    ] = False,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule (e.g. hot_gpu).")] = None,
    limit: LimitOption = 200,
    as_json: JsonResultOption = False,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """The alerts firing now (with --server the server evaluates its rules first), or their history."""
    rows = _plane(ctx, server, admin_key, db).alerts(history=history, rule=rule, limit=limit)
    cells = [
        (
            a["id"],
            a["rule"],
            a["subject"],
            a["severity"],
            _when(a["fired_at"]),
            _when(a["resolved_at"]) or "firing",
            f"{a['acked_by']} {_when(a['acked_at'])}" if a["acked_by"] else "",
            a["message"],
        )
        for a in rows
    ]
    columns = (
        Col("id"),
        Col("rule"),
        Col("subject"),
        Col("severity", drop=5),  # on a narrow terminal the message is kept longest
        Col("fired (UTC)", drop=4),
        Col("resolved", drop=3),
        Col("acknowledged", drop=2),
        Col("message", wrap=True, drop=1),
    )
    _show(rows, as_json, columns, cells)


def ack_command(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(metavar="ALERT_ID", help="The alert's id (al-…).")],
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """Acknowledge an alert: who and when are stored with it."""
    alert = _plane(ctx, server, admin_key, db).acknowledge_alert(alert_id)
    _out.print(
        f"alert {alert['id']} ({alert['rule']} {alert['subject']}) acknowledged by {alert['acked_by']}"
    )


def audit_command(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option("--action", help="Only this action (e.g. rig.drain).")] = None,
    limit: LimitOption = 200,
    as_json: JsonResultOption = False,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """The operators' actions, newest first: when, who, what, on what, and how it ended."""
    rows = _plane(ctx, server, admin_key, db).audit(limit=limit, action=action)
    cells = [
        (
            _when(e["at"]),
            e["actor"],
            e["action"],
            e["target"],
            e["outcome"],
            json.dumps(e["detail"], sort_keys=True),
        )
        for e in rows
    ]
    columns = (
        Col("when (UTC)"),
        Col("who"),
        Col("action"),
        Col("target"),
        Col("outcome", drop=2),
        Col("detail", wrap=True, drop=1),
    )
    _show(rows, as_json, columns, cells)


def drains_command(
    ctx: typer.Context,
    as_json: JsonResultOption = False,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """The drained rigs: who drained them, when and why."""
    rows = _plane(ctx, server, admin_key, db).drains()
    cells = [(d["rig"], d["drained_by"], _when(d["drained_at"]), d["reason"]) for d in rows]
    _show(rows, as_json, (Col("rig"), Col("by"), Col("since (UTC)"), Col("reason", wrap=True)), cells)


def drain_command(
    ctx: typer.Context,
    rig: RigArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """Drain RIG: the gateway sends it no new request (those in flight finish) and no plan starts a
    new replica there; its replicas keep running until a plan moves them or it is undrained."""
    drain = _plane(ctx, server, admin_key, db).drain(rig, reason)
    _out.print(f"rig {drain['rig']} drained by {drain['drained_by']} at {_when(drain['drained_at'])} UTC")


def undrain_command(
    ctx: typer.Context,
    rig: RigArgument,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """Undrain RIG: it takes requests and new replicas again."""
    done = _plane(ctx, server, admin_key, db).undrain(rig)
    _out.print(f"rig {rig} undrained" if done["was_drained"] else f"rig {rig} was not drained")


def demand_command(
    ctx: typer.Context,
    demand_file: Annotated[
        Path, typer.Argument(metavar="DEMAND.yaml", help="What to serve (docs/planner.md).")
    ],
    apply: Annotated[bool, typer.Option("--apply", help="Apply the replicas (default: a dry run).")] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Apply even when part of the demand cannot be placed.")
    ] = False,
    as_json: JsonResultOption = False,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """Plan DEMAND.yaml on the server's fleet (drained rigs left out) and say which replicas would
    run where; with --apply, hand them to the reconciler, as the console's "Apply" does."""
    from rigshift.plan.demand import parse_demand
    from rigshift.readers.limits import read_text

    text = read_text(demand_file, "a demand file (docs/planner.md)")
    parse_demand(text, str(demand_file))  # a mistake is reported here with the file's name and line
    result = _plane(ctx, server, admin_key, db).apply_demand(
        text, dry_run=not apply, allow_partial=allow_partial
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    cells = [
        (r["replica_id"], r["model"], r["rig"], ",".join(map(str, r["gpu_indices"])) or "cpu")
        for r in result["replicas"]
    ]
    console = output_console()
    console.print(fitted_table((Col("replica"), Col("model"), Col("rig"), Col("gpus")), cells, console.width))
    for line in result["unplaced"]:
        _out.print(f"unplaced: {line}", markup=False)
    verb = "applied" if result["applied"] else "would apply (dry run; --apply to apply)"
    _out.print(f"{verb}: {len(result['replicas'])} replica(s)")


def bench_command(
    ctx: typer.Context,
    rig: RigArgument,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="MODEL:QUANT instead of the standard set (repeat).")
    ] = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """Start a bench on RIG through its agent, in the background (minutes); `rigshift ops audit
    --action rig.bench` shows how it ended, and its rows are stored as measurements. (`rigshift
    bench --rig RIG` does the same and waits for the rows.)"""
    entry = _plane(ctx, server, admin_key, db).start_bench(rig, model or None)
    _out.print(f"bench on rig {entry['target']} started by {entry['actor']} (audit entry {entry['id']})")


def end_event_command(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT_ID", help="The event's id (ev-…).")],
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """End a demand-response event early (`rigshift energy event` starts one); work resumes at the
    next decision."""
    event = _plane(ctx, server, admin_key, db).end_energy_event(event_id)
    _out.print(f"event {event['id']} at {event['site']} ended")


def register(app: typer.Typer) -> None:
    for name, command in (
        ("alerts", alerts_command),
        ("ack", ack_command),
        ("audit", audit_command),
        ("drains", drains_command),
        ("drain", drain_command),
        ("undrain", undrain_command),
        ("demand", demand_command),
        ("bench", bench_command),
        ("end-event", end_event_command),
    ):
        ops_app.command(name)(handle_errors(command))
    app.add_typer(ops_app, name="ops")
