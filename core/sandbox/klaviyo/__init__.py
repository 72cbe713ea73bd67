"""Klaviyo API emulator (revision 2026-07-15): the sandbox operators rehearse on."""

from core.sandbox.klaviyo.app import KlaviyoEmulator

__all__ = ["KlaviyoEmulator"]
