"""`engines:` — one model on one server each. Keys stay out of the file both ways.

`api_key_env` must name an engine key variable (`DIHYA_ENGINE_KEY_*` or one listed in
DIHYA_ENGINE_KEY_VARIABLES, fallbacks.models), and a key stored in the database is cleared when
the file moves its engine to another host (scheme, host or port of `base_url`): the file cannot
carry a key, so a new host never inherits the old one's.

`capabilities:` lists what the engine can do (fallbacks.spec.CAPABILITIES); left out, the
provider's defaults apply, and export writes what applies either way.

`region:` (free text, matched exactly: local, EU, US, FR…), `processor:` (self_hosted or
third_party) and `mask:` (left out: on for a third-party processor) say where the engine
processes data and whether personal data is masked before it leaves (lawful egress).

`batch_share:` is how many batch lines it serves at once at most (0: none; left out: no limit),
so that batches leave the rest of its slots to live calls.

`price:` is the engine's price for cost limits (quotas' EnginePrice row); an engine without
one costs nothing, and a file that leaves `price:` out removes the row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from pydantic import Field, field_validator

from dihya.config.base import Item, Name, Section, Strict
from fallbacks.models import Engine, validate_key_variable
from fallbacks.providers import registry
from fallbacks.spec import CAPABILITIES
from quotas.models import EnginePrice

Capability = Literal["chat", "tools", "json_schema", "vision", "audio", "logprobs", "embeddings"]
assert set(get_args(Capability)) == set(CAPABILITIES)  # one vocabulary
CENT = Decimal("0.0001")  # EnginePrice keeps 4 decimal places


def _default(field: str) -> float:
    return float(Engine._meta.get_field(field).default)  # type: ignore[union-attr]


class Timeout(Strict):
    connect: float = Field(default_factory=lambda: _default("connect_timeout"), ge=0.05)
    read: float = Field(default_factory=lambda: _default("read_timeout"), ge=0.05)
    total: float = Field(default_factory=lambda: _default("total_timeout"), ge=0.1)


class Price(Strict):
    """Per million tokens, in the price unit of cost limits."""

    input: float = Field(0.0, ge=0, lt=1e8)
    output: float = Field(0.0, ge=0, lt=1e8)

    @field_validator("input", "output")
    @classmethod
    def _four_places(cls, value: float) -> float:
        exact = Decimal(str(value))
        if exact.quantize(CENT) != exact:
            raise ValueError("at most 4 decimal places")
        return value


class EngineItem(Item):
    name: Name
    provider: str
    base_url: str = Field(max_length=300)
    model: str = Field(min_length=1, max_length=200)
    api_key_env: str = Field("", max_length=100, pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$")
    # Export's marker for a key stored encrypted in the database. Informational on apply:
    # the stored key is kept whether or not the marker is there (but not on a new host, see
    # write()); a key itself is refused.
    api_key: Literal["stored"] | None = None
    timeout: Timeout = Field(default_factory=Timeout)
    enabled: bool = True
    max_concurrency: int | None = Field(None, ge=1, le=2**31 - 1)
    batch_share: int | None = Field(None, ge=0, le=1_000_000)
    context_window: int | None = Field(None, ge=1, le=2**31 - 1)
    capabilities: list[Capability] | None = None
    price: Price | None = None
    region: str = Field("local", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    processor: Literal["self_hosted", "third_party"] = "self_hosted"
    mask: bool | None = None
    notes: str = ""

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_secrets(cls, value: object) -> object:
        if value not in (None, "stored"):
            raise ValueError("a key never goes in the file: name its environment variable in "
                             "api_key_env, or store it in the admin ('stored' marks that)")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _engine_key_variable(cls, value: str) -> str:
        try:
            validate_key_variable(value)  # the admin's rule and message, never the value
        except DjangoValidationError as exc:
            raise ValueError(exc.messages[0]) from None
        return value

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in registry.names():
            raise ValueError(f"unknown provider {value!r} (known: {', '.join(registry.names())})")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except DjangoValidationError:
            raise ValueError("must be an http:// or https:// URL") from None
        return value


class EnginesSection(Section[EngineItem]):
    key = "engines"
    kind = "engine"
    item = EngineItem

    def existing_names(self) -> set[str]:
        return set(Engine.objects.values_list("name", flat=True))

    def snapshot(self, names: set[str] | None = None) -> dict[str, EngineItem]:
        engines = Engine.objects.select_related("price")
        if names is not None:
            engines = engines.filter(name__in=names)
        return {engine.name: EngineItem.model_construct(
            name=engine.name, provider=engine.provider, base_url=engine.base_url,
            model=engine.model, api_key_env=engine.api_key_env,
            api_key="stored" if engine.has_stored_key else None,
            timeout=Timeout.model_construct(connect=engine.connect_timeout,
                                            read=engine.read_timeout,
                                            total=engine.total_timeout),
            enabled=engine.enabled, max_concurrency=engine.max_concurrency,
            batch_share=engine.batch_share,
            context_window=engine.context_window,
            capabilities=ordered(engine.capability_set()),
            price=_price_item(engine), region=engine.region,
            processor=engine.processor,  # type: ignore[arg-type]
            mask=engine.mask, notes=engine.notes,
        ) for engine in engines}

    def same(self, wanted: EngineItem, current: EngineItem) -> bool:
        ignore = {"api_key", "capabilities", "mask"}
        return (wanted.model_dump(exclude=ignore) == current.model_dump(exclude=ignore)
                and capabilities_of(wanted) == capabilities_of(current)
                and masks(wanted) == masks(current))

    def write(self, item: EngineItem) -> None:
        engine = Engine.objects.filter(name=item.name).first() or Engine(name=item.name)
        stored_base_url = engine.base_url
        engine.provider = item.provider
        engine.base_url = item.base_url
        engine.model = item.model
        engine.api_key_env = item.api_key_env
        engine.connect_timeout = item.timeout.connect
        engine.read_timeout = item.timeout.read
        engine.total_timeout = item.timeout.total
        engine.enabled = item.enabled
        engine.max_concurrency = item.max_concurrency
        engine.batch_share = item.batch_share
        engine.context_window = item.context_window
        engine.capabilities = (ordered(frozenset(item.capabilities))
                               if item.capabilities is not None else [])
        engine.region = item.region
        engine.processor = item.processor
        engine.mask = item.mask
        engine.notes = item.notes
        # A stored key survives every apply that leaves the engine on its host; the file
        # cannot bring a new key, so moving the engine elsewhere clears it (the change then
        # shows `api_key: stored` before and nothing after).
        engine.clear_key_if_moved(stored_base_url, new_key=False)
        engine.save()
        if item.price is None:
            EnginePrice.objects.filter(engine=engine).delete()
        else:
            EnginePrice.objects.update_or_create(engine=engine, defaults={
                "input_per_million": Decimal(str(item.price.input)).quantize(CENT),
                "output_per_million": Decimal(str(item.price.output)).quantize(CENT)})

    def delete(self, names: set[str]) -> None:
        Engine.objects.filter(name__in=names).delete()


def ordered(capabilities: frozenset[str]) -> list[Capability]:
    return [c for c in CAPABILITIES if c in capabilities]  # type: ignore[misc]


def capabilities_of(item: EngineItem) -> list[Capability]:
    if item.capabilities is not None:
        return ordered(frozenset(item.capabilities))
    return ordered(registry.get(item.provider).capabilities)


def masks(item: EngineItem) -> bool:
    """What `mask` comes to: as written, or on for a third-party processor."""
    return item.mask if item.mask is not None else item.processor == "third_party"


def _price_item(engine: Engine) -> Price | None:
    try:
        price = engine.price
    except EnginePrice.DoesNotExist:
        return None
    return Price.model_construct(input=float(price.input_per_million),
                                 output=float(price.output_per_million))


section = EnginesSection()
