"""Klaviyo API emulator (revision 2026-07-15): the sandbox operators rehearse on."""

# Where Klaviyo's behaviour is unconfirmed (reference notes, "UNCONFIRMED"), the sandbox chooses:
# - The account's opt-in process is double opt-in unless the seed's account.opt_in_process says
#   single_opt_in (Klaviyo's default is double). It governs a subscribe without a list and a
#   list created without its own opt_in_process; a list's own setting wins otherwise.
# - A double opt-in subscribe always waits for confirm_consent(), even for a profile that is
#   already subscribed, and records the consent email in `outbox`; historical_import skips it.
# - Consent jobs apply at once (Klaviyo: "after a short amount of time"); bulk import jobs move
#   queued -> processing -> complete on the injected clock and apply their rows on completion.
# - external_id never triggers 409 (Klaviyo documents that it is not used for merging);
#   emails match case-insensitively.
# - A wrong or malformed key is 401 authentication_failed; no key is 401 not_authenticated.
#   The sandbox key holds every scope, so 403 does not occur.
# - Retry-After and RateLimit-Reset are whole seconds at rate_scale >= 1 and decimals below,
#   so a scaled run is not forced to wait a whole second.
# - Unknown list or profile ids in request bodies are 400 with a pointer; unknown ids in the
#   path are 404.

from core.sandbox.klaviyo.app import KlaviyoEmulator

__all__ = ["KlaviyoEmulator"]
