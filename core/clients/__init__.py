"""HTTP clients for Klaviyo and iPaaS.com: typed calls, retries, pacing, secret-free errors."""

from core.clients.errors import ApiError
from core.clients.http import RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import ConsentSubject, KlaviyoClient
from core.clients.limiter import RateLimitState

__all__ = [
    "ApiError",
    "ConsentSubject",
    "IpaasClient",
    "KlaviyoClient",
    "RateLimitState",
    "RetryPolicy",
]
