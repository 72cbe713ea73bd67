"""kill -9 of the console mid-batch while `sandbox serve` (the 'remote' services) lives on.

Why a separate `sandbox serve` process and not the in-process sandbox: the in-process sandbox
persists its emulators at most once a second, so killing the console would also roll back
'Klaviyo' and 'iPaaS.com' by up to a second: a failure real services never have, which would
hide real bugs (a write that took effect remotely but not locally) behind fake ones. With the
remote in its own process, only the console dies, exactly as on an operator's machine.

The console runs from a forked copy of this process (`console.cli.main`, the same code the
`klaviyo-console` script runs) so that each of the many runs skips interpreter start-up;
the kill is still a SIGKILL of a whole process with its files half-written.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.cli import main
from core.model import ErrorStatus
from core.store import ErrorLog, History, KeyValue
from tests.reliability.harness import customer, duplicates_in, phone_of, soak_seed
from tests.reliability.remote import (
    Remote,
    base_env,
    every_json_file,
    serve,
    template_without_list_calls,
)

FORK = multiprocessing.get_context("fork")


def _run_cli(argv: Sequence[str], env: Mapping[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the process ends here
    code = main(list(argv))
    sys.stdout.flush()
    os._exit(code)


@dataclass
class CrashFigures:
    """What the kills hit and what every check found."""

    kills: int = 0
    finished_before_kill: int = 0
    reruns: int = 0
    customers: int = 0
    state_files_checked: int = 0
    leftover_tmp_files: int = 0
    duplicates: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    wrong_links: list[str] = field(default_factory=list)
    rerun_exit_codes: Counter[int] = field(default_factory=Counter)
    kill_delays: list[float] = field(default_factory=list)
    progress_at_kill: list[int] = field(default_factory=list)
    # New customers whose profile existed in Klaviyo but whose link was not yet stored.
    half_done_at_kill: int = 0
    # Profiles the killed run had created in Klaviyo before it died, per kill.
    remote_writes_at_kill: list[int] = field(default_factory=list)
    open_errors_final: int = 0


class CrashRig:
    """A remote sandbox, a console state dir and the means to run and kill the console."""

    def __init__(self, root: Path, *, customers: int, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        data = soak_seed(customers, random.Random(seed))
        seed_path = root / "seed.json"
        seed_path.write_text(json.dumps(data), encoding="utf-8")
        self.customer_ids = [str(c["id"]) for c in data["customers"]]
        self.next_n = customers
        self.emails: dict[str, str] = {}
        env = base_env(root)
        self.remote: Remote = serve(root / "remote", seed_path, env)
        self.local = root / "local"
        self.env = {
            **env, **self.remote.exports,
            "KLAVIYO_CONSOLE_TEMPLATE": str(template_without_list_calls(root / "t.toml")),
            "KLAVIYO_CONSOLE_RETRY_ATTEMPTS": "2",
        }

    def close(self) -> None:
        self.remote.stop()

    def add_customers(self, count: int) -> list[str]:
        """New Customers in the remote iPaaS.com, so that the next batch creates profiles."""
        added = []
        for _ in range(count):
            n = self.next_n
            self.next_n += 1
            typed, _ = phone_of(n)
            body = customer(0, email=f"crash{n}@example.com",
                            number=typed if n % 2 else None)
            body.pop("id")
            cid = self.remote.add_customer(body)
            self.emails[cid] = f"crash{n}@example.com"
            added.append(cid)
        self.customer_ids.extend(added)
        return added

    def run(self, batch: Sequence[str] | None, *, kill_after: float | None,
            argv: Sequence[str] | None = None) -> tuple[int | None, float]:
        """Sync `batch` (None: --all), or run `argv`; SIGKILL it after `kill_after` s.
        Returns (exit code or None when killed, seconds)."""
        what = ["--all"] if batch is None else list(batch)
        command = list(argv) if argv is not None else ["sync", *what, "--json"]
        process = FORK.Process(target=_run_cli,
                               args=(["--state-dir", str(self.local), *command], self.env))
        started = time.monotonic()
        process.start()
        process.join(kill_after)
        if process.is_alive():
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            process.join()
            return None, time.monotonic() - started
        return process.exitcode, time.monotonic() - started

    def history_count(self) -> int:
        return len(History(self.local).recent(100_000))

    def check_state_loads(self, figures: CrashFigures) -> None:
        """Every JSON state file parses, the SQLite store passes its integrity check, and every
        store opens and reads all its records."""
        figures.state_files_checked += sum(1 for _ in every_json_file(self.local))
        figures.leftover_tmp_files = sum(1 for _ in self.local.rglob("*.tmp"))
        errors = ErrorLog(self.local)
        errors.query(limit=None)
        assert errors.count() == len(errors.query(limit=None))
        history = History(self.local)
        assert history.count() == len(history.recent(100_000))
        assert errors.verify() == []  # SQLite's integrity check and the kept counts
        KeyValue(self.local, "cache").get("lists")

    def check_no_duplicates(self, figures: CrashFigures) -> list[dict[str, Any]]:
        profiles = self.remote.profiles()
        found = duplicates_in(profiles)
        figures.duplicates.extend(d for d in found if d not in figures.duplicates)
        return profiles

    def half_done(self, fresh: Sequence[str], profiles: list[dict[str, Any]]) -> int:
        """How many of these new customers have a profile in Klaviyo but no stored link."""
        emails = {str(p["attributes"].get("email")) for p in profiles}
        return sum(1 for cid in fresh
                   if self.emails[cid] in emails and self.remote.link_of(cid) is None)

    def check_accounted(self, figures: CrashFigures, ids: Sequence[str] | None = None) -> None:
        """Every customer is linked to the one profile carrying its id, or has an open error."""
        by_id = {p["id"]: p for p in self.check_no_duplicates(figures)}
        errors = ErrorLog(self.local)
        for cid in self.customer_ids if ids is None else ids:
            if errors.open_for_customer(cid) is not None:
                continue
            profile = by_id.get(self.remote.link_of(cid) or "")
            if profile is None:
                figures.unaccounted.append(cid)
            elif profile["attributes"].get("external_id") != cid:
                figures.wrong_links.append(cid)
        figures.open_errors_final = errors.count(status=ErrorStatus.OPEN)
        figures.customers = len(self.customer_ids)


def crash_soak(root: Path, *, kills: int = 20, customers: int = 16, added_per_round: int = 3,
               old_per_round: int = 2, all_every: int = 10, seed: int = 9) -> CrashFigures:
    """Kill a batch `kills` times at random points; after each, check the state, rerun the
    batch to its end and check every customer of it. Each batch is the customers added this
    round (creates) and a few old ones (updates); every `all_every`-th one is `sync --all`."""
    rig = CrashRig(root, customers=customers, seed=seed)
    figures = CrashFigures()
    try:
        # Kill points are drawn over the batch itself, past the start-up every run pays.
        _, startup = rig.run(None, kill_after=None, argv=["errors", "--json"])
        _, seconds = rig.run(None, kill_after=None)
        durations = {"all": seconds, "ids": seconds / 3}
        runs = 0
        while figures.kills < kills and runs < kills * 3:
            runs += 1
            fresh = rig.add_customers(added_per_round)
            every = runs % all_every == 0
            batch = None if every else [
                *fresh, *rig.rng.sample(rig.customer_ids[:-len(fresh)], old_per_round)]
            mode = "all" if every else "ids"
            before = rig.history_count()
            profiles_before = len(rig.remote.profiles())
            end = durations[mode] * 0.9
            delay = rig.rng.uniform(min(startup * 0.7, end * 0.5), end)
            code, _ = rig.run(batch, kill_after=delay)
            if code is not None:
                figures.finished_before_kill += 1
            else:
                figures.kills += 1
                figures.kill_delays.append(round(delay, 3))
                figures.progress_at_kill.append(rig.history_count() - before)
            rig.check_state_loads(figures)
            profiles = rig.check_no_duplicates(figures)
            if code is None:
                figures.half_done_at_kill += rig.half_done(fresh, profiles)
                figures.remote_writes_at_kill.append(len(profiles) - profiles_before)
            code, durations[mode] = rig.run(batch, kill_after=None)
            figures.reruns += 1
            figures.rerun_exit_codes[code if code is not None else -9] += 1
            rig.check_state_loads(figures)
            rig.check_accounted(figures, batch)
        rig.check_accounted(figures)
    finally:
        rig.close()
    return figures
