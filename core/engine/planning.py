"""Step 3 of design §3: the customer through the mapping, each collection mapped once."""

from __future__ import annotations

from core.engine.context import Context
from core.mapping import Template, apply
from core.model import Collection, Customer, MappedProfile


class Mapped:
    """A customer through the mapping: the collection its link selects (Update when linked, Add
    otherwise) is mapped at once, the other only when something asks for it (a stale link)."""

    __slots__ = ("_add", "_link", "_region", "_template", "_update", "customer")

    def __init__(self, customer: Customer, template: Template, region: str, link: str | None,
                 *, add: MappedProfile | None = None,
                 update: MappedProfile | None = None) -> None:
        self.customer = customer
        self._template = template
        self._region = region
        self._link = link
        self._add = add
        self._update = update

    @property
    def add(self) -> MappedProfile:
        """The Add collection's mapping (unlinked customers, and matching)."""
        if self._add is None:
            self._add = apply(self.customer, self._template, Collection.ADD, link=None,
                              default_region=self._region)
        return self._add

    @property
    def update(self) -> MappedProfile:
        """The Update collection's mapping (linked customers)."""
        if self._update is None:
            self._update = apply(self.customer, self._template, Collection.UPDATE,
                                 link=self._link, default_region=self._region)
        return self._update

    @property
    def needed(self) -> MappedProfile:
        """The mapping the link selects: Update when linked, Add otherwise."""
        return self.update if self._link else self.add

    def _identifiers_of(self, collection: Collection) -> tuple[str | None, str | None]:
        # Both collections give the same email and phone when the template maps them by the
        # same rows: the mapping already made answers, and the other is not built for it.
        mapped = self._add if collection is Collection.ADD else self._update
        if mapped is None and self._template.identifiers_agree:
            mapped = self._add or self._update
        if mapped is None:
            mapped = self.add if collection is Collection.ADD else self.update
        email = mapped.attributes.get("email")
        phone = mapped.attributes.get("phone_number")
        return (str(email) if email else None, str(phone) if phone else None)

    @property
    def identifiers(self) -> tuple[str | None, str | None]:
        """The email and E.164 phone an unlinked customer is matched by (the Add collection's)."""
        return self._identifiers_of(Collection.ADD)

    @property
    def list_names(self) -> list[str]:
        """Every list the needed collection names, in mapping order."""
        return list(dict.fromkeys(intent.list_name for intent in self.needed.list_intents))

    def probe(self) -> tuple[str | None, str | None]:
        """The email (else phone) a list-side membership check filters by."""
        first, second = ((Collection.UPDATE, Collection.ADD) if self._link
                         else (Collection.ADD, Collection.UPDATE))
        for channel in (0, 1):
            for collection in (first, second):
                value = self._identifiers_of(collection)[channel]
                if value:
                    return (value, None) if channel == 0 else (None, value)
        return None, None


def map_customer(ctx: Context, customer: Customer, link: str | None) -> Mapped:
    """Step 3 (pure) for the collection the link selects; the other is mapped on demand."""
    mapped = Mapped(customer, ctx.template, ctx.settings.default_region, link)
    mapped.needed  # noqa: B018 - the mapping is step 3: a bad Customer fails here, at Stage.MAP
    return mapped

