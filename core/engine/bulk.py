"""Where earlier importers find a batch's shared calls: now in shared, coalescer and import_jobs."""

from core.engine.coalescer import LINGER, Coalescer
from core.engine.import_jobs import BULK_WORKERS, Write, WriteOutcome
from core.engine.shared import BatchCalls, OptedOut

__all__ = ["BULK_WORKERS", "LINGER", "BatchCalls", "Coalescer", "OptedOut", "Write",
           "WriteOutcome"]
