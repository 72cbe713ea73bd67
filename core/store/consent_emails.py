"""Double opt-in consent emails the engine sent, by (profile, list), with when (design §6)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from core.store.database import Database

# SQLite allows 999 parameters in one statement in older builds: ask in slices well below it.
_SLICE = 500

PendingKey = tuple[str, str]


class ConsentEmails:
    """Pending consent emails: recorded when sent, cleared when the person joined the list."""

    def __init__(self, state_dir: Path, *, durable: bool = True) -> None:
        """`durable=False` commits without fsync: for tests and throwaway state."""
        self._db = Database(state_dir, durable=durable)

    def pending(self, profile_ids: Iterable[str]) -> dict[PendingKey, str]:
        """{(profile_id, list_id): sent_at} for these profiles, in as few queries as can be."""
        wanted = list(dict.fromkeys(pid for pid in profile_ids if pid))
        found: dict[PendingKey, str] = {}
        for start in range(0, len(wanted), _SLICE):
            part = wanted[start : start + _SLICE]
            marks = ",".join("?" * len(part))
            for profile_id, list_id, sent_at in self._db.rows(
                    "SELECT profile_id, list_id, sent_at FROM consent_emails "
                    f"WHERE profile_id IN ({marks})", part):
                found[(str(profile_id), str(list_id))] = str(sent_at)
        return found

    def record(self, profile_id: str, list_id: str | None, sent_at: str) -> None:
        """Remember that a consent email went out for (profile, list) at `sent_at`."""
        self.add_many([(profile_id, list_id or "", sent_at)])

    def add(self, sent: tuple[str, str, str]) -> None:
        """record() of one (profile_id, list_id, sent_at), as a batch's grouped writes call it."""
        self.add_many([sent])

    def add_many(self, sent: Sequence[tuple[str, str, str]]) -> None:
        """Remember several sent emails, (profile_id, list_id, sent_at) each, in one commit."""
        if not sent:
            return
        with self._db.writing() as connection:
            connection.executemany(
                "INSERT INTO consent_emails (profile_id, list_id, sent_at) VALUES (?, ?, ?) "
                "ON CONFLICT (profile_id, list_id) DO UPDATE SET sent_at = excluded.sent_at",
                sent)

    def clear(self, profile_id: str, list_id: str | None) -> None:
        """Forget the pending email: the person joined the list, so nothing awaits."""
        with self._db.writing() as connection:
            connection.execute(
                "DELETE FROM consent_emails WHERE profile_id = ? AND list_id = ?",
                (profile_id, list_id or ""))

    def close(self) -> None:
        self._db.close()
