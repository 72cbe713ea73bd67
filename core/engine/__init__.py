"""Async orchestration of design §3: preview, push, batch, retry and outbound triggers."""

from core.engine.batch import BatchProgress
from core.engine.context import CustomerNotFound, PushResult, StageFailure
from core.engine.engine import Engine, UnknownErrorId
from core.engine.listen import HookHandler, Notification

__all__ = [
    "BatchProgress",
    "CustomerNotFound",
    "Engine",
    "HookHandler",
    "Notification",
    "PushResult",
    "StageFailure",
    "UnknownErrorId",
]
