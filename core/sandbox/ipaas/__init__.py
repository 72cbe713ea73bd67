"""An emulator of the iPaaS.com customers and sso APIs, as far as public material describes them.

What the reference marks unconfirmed ([U]) is an option in IpaasOptions: the page-number base,
the page-size parameter and default, the JSON type of `id`, the error body shape, whether
X-Client-Id is required and whether data routes need a company (ChangeCompany) token. The
create/update customer routes (`POST /customers/v2/Customer`, `PUT /customers/v2/Customer/{id}`)
are sandbox conveniences: the real paths are not public.
"""

from core.sandbox.ipaas.emulator import IpaasEmulator
from core.sandbox.ipaas.wire import CUSTOMER_TABLE, HELP_LINK, ErrorShape, IpaasOptions, SsoUser

__all__ = ["CUSTOMER_TABLE", "HELP_LINK", "ErrorShape", "IpaasEmulator", "IpaasOptions", "SsoUser"]
