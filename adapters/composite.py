"""Methods built on another method, their engine (``<engine>+embed``, ``<engine>+dict``), as data.

A composite names its engine by a registered method name: through its prefix (``ocr+embed:vlm:NAME``,
named exactly that) or as a registration's fixed ``engine`` argument (``rapidocr+embed``, named
engine + suffix). It takes the engine's options, creates the engine once and is available exactly
when the engine is. ``Composite`` declares one kind of composite: its class, its prefix and suffix,
and the built-in engines it is registered on; ``register_composite`` expands a declaration into
registrations (no subclass per engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from bench.api import DEFAULT, EFFICIENCY, METHODS, Availability, Family, Registry, RunContext, load_target


def engine_class(engine: str) -> tuple[type, str | None, dict[str, Any]]:
    """The engine's adapter class, the spec it is created with (``vlm:NAME`` -> NAME) and its
    registration's fixed arguments."""
    registration, spec = METHODS.resolve(engine)
    return load_target(registration.target), spec, registration.fixed


class OnEngine:
    """Mixin for a retriever that runs another registered method (its engine) first."""

    prefix: ClassVar[str] = ""                    # e.g. "ocr+embed:", the name of the generic form
    suffix: ClassVar[str] = ""                    # e.g. "+embed": a registered composite is named engine + suffix
    engine_families: ClassVar[tuple[Family, ...]] = ()

    def __init__(self, spec=None, options=None, engine: str | None = None):
        self.engine_name = spec or engine
        if not self.engine_name:
            raise ValueError(f"{type(self).__name__} needs an engine, e.g. `{self.prefix}tesseract`")
        engine_cls, engine_spec, fixed = engine_class(self.engine_name)
        self.Options = engine_cls.Options   # a composite's options are its engine's (parsed here, once)
        super().__init__(spec, self.parse_options(spec, options, self.engine_name))
        self.ocr = engine_cls(spec=engine_spec, options=self.options, **fixed)
        if self.ocr.family not in self.engine_families:
            wanted = " or ".join(f.value for f in self.engine_families)
            raise ValueError(f"{self.engine_name} is not a {wanted} method (it is {self.ocr.family.value})")

    @classmethod
    def parse_options(cls, spec: str | None, raw: Mapping[str, Any] | None, engine: str | None = None):
        """The engine's options: ``--option rapidocr+embed.rec_batch=8`` configures RapidOCR."""
        engine = spec or engine
        if not engine:
            raise ValueError(f"{cls.__name__} needs an engine, e.g. `{cls.prefix}tesseract`")
        engine_cls, engine_spec, fixed = engine_class(engine)
        if isinstance(raw, engine_cls.Options):
            return raw
        return engine_cls.parse_options(engine_spec, raw, **fixed)

    @property
    def method_name(self) -> str:
        # Created through the prefix: the name it was requested under; a registered composite: engine + suffix.
        return f"{self.prefix}{self.spec}" if self.spec else f"{self.engine_name}{self.suffix}"

    def availability(self) -> Availability:
        return self.ocr.availability()

    @property
    def shared_pass(self) -> str | None:
        # It reads its engine's network (through the engine's cached outputs): scheduled with it.
        return self.ocr.shared_pass

    def prepare(self, context: RunContext) -> None:
        self.ocr.prepare(context)


@dataclass(frozen=True)
class Composite:
    """One kind of composite method, declared as data (validated when declared).

    ``target`` is the class (``"module:Class"``, an ``OnEngine`` retriever) whose ``prefix`` and
    ``suffix`` it repeats; ``engines`` the registered methods it is built on by name, each becoming
    ``<engine><suffix>``, in the ``default`` run exactly when its engine is; ``measured``: the
    engines whose composite ``bench efficiency`` measures by default."""

    target: str
    prefix: str
    suffix: str
    engines: tuple[str, ...]
    measured: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.prefix.endswith(":") and self.prefix.count(":") == 1):
            raise ValueError(f"composite {self.target}: prefix {self.prefix!r} must end in its only ':'")
        if not self.suffix.startswith("+") or ":" in self.suffix:
            raise ValueError(f"composite {self.target}: suffix {self.suffix!r} must start with '+' and hold no ':'")
        if len(set(self.engines)) != len(self.engines):
            raise ValueError(f"composite {self.target}: an engine is named twice in {self.engines}")
        stray = [e for e in self.measured if e not in self.engines]
        if stray:
            raise ValueError(f"composite {self.target}: measured engine {stray[0]!r} is not one of its engines")

    def registrations(self, engine_tags: Mapping[str, frozenset[str]]) -> list[tuple[str, frozenset[str], dict]]:
        """(name, tags, fixed arguments) of each named composite, then the prefix (no tags)."""
        unknown = [e for e in self.engines if e not in engine_tags or e.endswith(":")]
        if unknown:
            raise ValueError(f"composite {self.suffix}: engine {unknown[0]!r} is not a registered method name")
        rows = [(f"{e}{self.suffix}",
                 frozenset({DEFAULT} & engine_tags[e]) | (frozenset({EFFICIENCY}) if e in self.measured else frozenset()),
                 {"engine": e}) for e in self.engines]
        return rows + [(self.prefix, frozenset(), {})]


def register_composite(registry: Registry, composite: Composite, engine_tags: Mapping[str, frozenset[str]],
                       source: str = "builtin") -> None:
    """Register a declaration's named composites and its prefix (lazily, as every method: the class
    is not imported here; tests/test_composites.py checks that it repeats the prefix and suffix)."""
    for name, tags, fixed in composite.registrations(engine_tags):
        registry.register(name, composite.target, source=source, tags=tags, kwargs=fixed)
