"""Error log and push history (one SQLite file in the state dir); small settings (TinyDB)."""

from core.store.atomic import atomic_write_bytes
from core.store.consent_emails import ConsentEmails
from core.store.database import StoreError
from core.store.errors import ErrorLog
from core.store.history import History
from core.store.settings import KeyValue

__all__ = ["ConsentEmails", "ErrorLog", "History", "KeyValue", "StoreError", "atomic_write_bytes"]
