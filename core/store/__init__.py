"""TinyDB-backed error log, push history and settings: flat cost per operation, crash-safe."""

from core.store.atomic import atomic_write_bytes
from core.store.errors import ErrorLog
from core.store.history import History
from core.store.segments import StoreError
from core.store.settings import KeyValue

__all__ = ["ErrorLog", "History", "KeyValue", "StoreError", "atomic_write_bytes"]
