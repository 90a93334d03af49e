"""What a pipeline built on another method shares (``<engine>+embed``, ``<engine>+dict``).

A pipeline names its engine by a registered method name, either as a class attribute
(``rapidocr+embed``) or through its prefix (``ocr+embed:vlm:NAME``); it takes the engine's
options, creates the engine once and is available exactly when the engine is.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from bench.api import METHODS, Availability, Family, RunContext, load_target


def engine_class(engine: str) -> tuple[type, str | None]:
    """The engine's adapter class and the spec it is created with (``vlm:NAME`` -> NAME)."""
    registration, spec = METHODS.resolve(engine)
    return load_target(registration.target), spec


class OnEngine:
    """Mixin for a retriever that runs another registered method (its engine) first."""

    engine: ClassVar[str] = ""                    # the engine's registered name, for a registered subclass
    prefix: ClassVar[str] = ""                    # e.g. "ocr+embed:", the name of the generic form
    suffix: ClassVar[str] = ""                    # e.g. "+embed": a registered subclass is named engine + suffix
    engine_families: ClassVar[tuple[Family, ...]] = ()

    def __init__(self, spec=None, options=None):
        self.engine_name = spec or type(self).engine
        if not self.engine_name:
            raise ValueError(f"{type(self).__name__} needs an engine, e.g. `{self.prefix}tesseract`")
        super().__init__(spec, options)
        engine_cls, engine_spec = engine_class(self.engine_name)
        self.ocr = engine_cls(spec=engine_spec, options=self.options)
        if self.ocr.family not in self.engine_families:
            wanted = " or ".join(f.value for f in self.engine_families)
            raise ValueError(f"{self.engine_name} is not a {wanted} method (it is {self.ocr.family.value})")

    @classmethod
    def parse_options(cls, spec: str | None, raw: Mapping[str, Any] | None):
        """The engine's options: ``--option rapidocr+embed.rec_batch=8`` configures RapidOCR."""
        engine = spec or cls.engine
        if not engine:
            raise ValueError(f"{cls.__name__} needs an engine, e.g. `{cls.prefix}tesseract`")
        engine_cls, engine_spec = engine_class(engine)
        if isinstance(raw, engine_cls.Options):
            return raw
        return engine_cls.parse_options(engine_spec, raw)

    @property
    def method_name(self) -> str:
        # Created through the prefix: the name it was requested under; a registered subclass: engine + suffix.
        return f"{self.prefix}{self.spec}" if self.spec else f"{self.engine_name}{self.suffix}"

    def availability(self) -> Availability:
        return self.ocr.availability()

    def prepare(self, context: RunContext) -> None:
        self.ocr.prepare(context)
