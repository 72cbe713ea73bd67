"""`klaviyo-console report [ID ... | --all] [--template FILE] [--compare FILE] [--json | --csv
FILE]`: a template's impact over many customers; writes nothing anywhere (the CSV aside)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.base import OK, UsageError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from core.engine import Engine
    from core.engine.report import ImpactReport
    from core.plan.report import Report


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `report` subcommand's arguments."""
    p = sub.add_parser("report", parents=[common],
                       help="a template's impact over many customers; writes nothing")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every customer in iPaaS.com")
    p.add_argument("--template", type=Path, metavar="FILE",
                   help="the candidate template (default: the current one)")
    p.add_argument("--compare", type=Path, metavar="FILE",
                   help="a second template: both reported, and the customers whose plan differs")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", type=Path, metavar="FILE", help="one row per customer")


def check_args(ns: argparse.Namespace) -> None:
    """Ids or --all, not both."""
    if ns.all and ns.ids:
        raise UsageError("give customer ids or --all, not both")
    if not ns.all and not ns.ids:
        raise UsageError("give customer ids or --all")


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Plan every chosen customer and print the counts (or write the CSV)."""
    from console.cli.common import out, print_json, say
    from console.cli.progress import ctrl_c, on_progress, progress_bar

    check_args(ns)
    ids = None if ns.all else list(ns.ids)
    bar = progress_bar(not ns.json, "planning", None if ids is None else len(ids))
    import asyncio

    cancel = asyncio.Event()
    with ctrl_c(cancel):
        if bar is not None:
            with bar:
                found = await engine.report(ids, template=ns.template, compare=ns.compare,
                                            on_progress=on_progress(bar), cancel=cancel)
        else:
            found = await engine.report(ids, template=ns.template, compare=ns.compare,
                                        cancel=cancel)
    if ns.csv is not None:
        write_csv(ns.csv, found)
        say(f"wrote {len(found.plans)} rows to {ns.csv}")
    if ns.json:
        print_json(found.to_json())
    elif ns.csv is None:
        out().print(report_view(found))
    return OK


def write_csv(path: Path, found: ImpactReport) -> None:
    """One row per customer; with a compared template, whether its plan differs."""
    import csv

    from core.plan.report import CSV_COLUMNS, csv_row

    differs = set(found.differing)
    columns = [*CSV_COLUMNS, *(("plan_differs",) if found.compared is not None else ())]
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for cid, plan in found.plans.items():
                row = csv_row(plan)
                if found.compared is not None:
                    row["plan_differs"] = "yes" if cid in differs else "no"
                writer.writerow(row)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def report_view(found: ImpactReport) -> RenderableType:
    """The counts as bar charts; with --compare both, then the customers whose plan differs."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = [counts_view(found.report, "template")]
    if found.compared is not None:
        parts.append(counts_view(found.compared, "compared template"))
        ids = found.differing
        parts.append(Text(f"{len(ids)} customers whose plan differs: "
                          + (", ".join(ids[:50]) + (" ..." if len(ids) > 50 else "")
                             if ids else "none"), style="bold"))
    return Group(*parts)


def counts_view(report: Report, title: str) -> RenderableType:
    """One report's buckets as horizontal bars scaled to the customers counted."""
    from rich.bar import Bar
    from rich.table import Table

    table = Table(title=f"{title}: {report.customers} customers", expand=True, box=None,
                  show_header=False)
    table.add_column("bucket", no_wrap=True, ratio=2)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("bar", ratio=3)
    scale = max(report.customers, 1)
    for label, count in rows(report):
        table.add_row(label, str(count), Bar(scale, 0, count, color="cyan"))
    return table


def rows(report: Report) -> list[tuple[str, int]]:
    """(bucket label, count) in reading order: routes, blocked, consent, lists, fields."""
    body = report.to_json()
    out = [(f"route {name}", n) for name, n in body["routes"].items()]
    out += [(f"blocked {name}", n) for name, n in body["blocked"].items()]
    out += [(f"consent {name}", n) for name, n in body["consent"].items()]
    out.append(("confirm needed", body["confirm_needed"]))
    for name, counts in body["lists"].items():
        out += [(f"list {name} {action}", n) for action, n in counts.items() if n]
    for name, counts in body["fields"].items():
        out += [(f"{name} {change}", n) for change, n in counts.items() if n]
    return out
