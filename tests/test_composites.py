"""Composite methods (`<engine>+embed`, `<engine>+dict`) are data: one declaration per kind in
adapters/__init__.py, expanded into registrations with a fixed `engine` argument, no subclass."""

import inspect
import re

import pytest

import adapters
from adapters import composite
from adapters.composite import Composite, OnEngine
from bench.api import DEFAULT, EFFICIENCY, METHODS, Registry, load_target


def test_each_declaration_repeats_its_class_prefix_and_suffix():
    for kind in adapters.COMPOSITES:
        cls = load_target(kind.target)
        assert issubclass(cls, OnEngine)
        assert (cls.prefix, cls.suffix) == (kind.prefix, kind.suffix)


def test_no_composite_subclass_per_engine():
    import adapters.dictionary
    import adapters.ocr_embed

    declared = {kind.target for kind in adapters.COMPOSITES}
    for module in (adapters.dictionary, adapters.ocr_embed, composite):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, OnEngine) and cls is not OnEngine:
                assert f"{cls.__module__}:{name}" in declared, f"{name}: declare an engine, do not subclass"


def test_named_composites_follow_their_engine_into_the_default_run():
    regs = METHODS.registrations()
    for kind in adapters.COMPOSITES:
        for engine in kind.engines:
            reg = regs[engine + kind.suffix]
            assert reg.fixed == {"engine": engine} and reg.target == kind.target
            assert (DEFAULT in reg.tags) == (DEFAULT in regs[engine].tags)
            assert (EFFICIENCY in reg.tags) == (engine in kind.measured)
        assert regs[kind.prefix].fixed == {} and regs[kind.prefix].target == kind.target


def test_a_named_composite_is_its_engine_plus_suffix_and_takes_the_engines_options():
    method = METHODS.create("tesseract+embed", {"psm": "8"})
    assert method.info.name == "tesseract+embed" and method.ocr.info.name == "tesseract"
    assert method.options == method.ocr.options and method.options.psm == 8
    assert METHODS.create("ocr+embed:tesseract").info.name == "ocr+embed:tesseract"


@pytest.mark.parametrize("fields, message", [
    (dict(prefix="dict", suffix="+dict", engines=("a",)), "prefix 'dict' must end in its only ':'"),
    (dict(prefix="dict:", suffix="dict", engines=("a",)), "suffix 'dict' must start with '+'"),
    (dict(prefix="dict:", suffix="+dict", engines=("a", "a")), "an engine is named twice"),
    (dict(prefix="dict:", suffix="+dict", engines=("a",), measured=("b",)), "measured engine 'b' is not one"),
])
def test_a_malformed_declaration_is_refused_when_declared(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Composite("adapters.dictionary:DictionaryPivot", **fields)


def test_a_declaration_naming_an_unknown_engine_is_refused_when_registered():
    kind = Composite("adapters.dictionary:DictionaryPivot", prefix="dict:", suffix="+dict", engines=("nope",))
    with pytest.raises(ValueError, match="engine 'nope' is not a registered method name"):
        composite.register_composite(Registry(), kind, {"rapidocr": frozenset()})
