"""Where method names resolve to adapter classes.

Every method, built-in or not, comes in the same way: a lazy ``"module:Class"``
target registered under a name (nothing is imported until the method is used).
A distribution registers methods with one entry point per method in the
``hwr_bench.adapters`` group, e.g. in its pyproject.toml::

    [project.entry-points."hwr_bench.adapters"]
    my-method = "my_package.module:MyRetriever"

or, to register several at once (with tags), one hook in the
``hwr_bench.plugins`` group that is called with the registry. A name that is
already taken is refused, whoever registers it. A name ending in ``:`` is a
prefix: ``openclip:ViT-B-32/laion`` resolves to the ``openclip:`` adapter with
``spec="ViT-B-32/laion"``. A registration may also carry fixed keyword arguments
for its class (``kwargs``): one class then serves many named methods, each a
declaration rather than a subclass (``rapidocr+dict`` is the dictionary pivot
with ``engine="rapidocr"``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

from bench.api.options import OptionError
from bench.core.errors import HwrBenchError, UnknownMethodError, did_you_mean

ENTRY_POINT_GROUP = "hwr_bench.adapters"

# Tags a registration may carry: what `bench run` and `bench efficiency` run by default.
DEFAULT = "default"          # runs offline from a plain install: part of the main job
EFFICIENCY = "efficiency"    # measured by `bench efficiency` by default


class RegistryError(HwrBenchError):
    pass


@dataclass(frozen=True)
class Registration:
    name: str
    target: str                    # "module:Class"
    source: str                    # who registered it: a distribution, "builtin", a test ...
    tags: frozenset[str] = frozenset()
    kwargs: tuple[tuple[str, Any], ...] = ()   # fixed keyword arguments of the class (and its parse_options)

    @property
    def fixed(self) -> dict[str, Any]:
        """``kwargs`` as a dict: what ``create`` and ``check`` pass to the class besides spec and options."""
        return dict(self.kwargs)


def load_target(target: str):
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"cannot load {target!r}: {type(exc).__name__}: {exc}") from None


class Registry:
    """Method names -> lazy targets. Entry points and plugin hooks are read on first use."""

    def __init__(self, load_plugins: Callable[["Registry"], None] | None = None):
        self._entries: dict[str, Registration] = {}
        self._load_plugins = load_plugins
        self._loaded = load_plugins is None

    def register(self, name: str, target: str, *, source: str = "api", tags: frozenset[str] | set[str] = frozenset(),
                 kwargs: Mapping[str, Any] | None = None) -> Registration:
        """Add a method; a name already registered (by anyone) is refused. ``kwargs`` are passed to
        the class (``target(spec=..., options=..., **kwargs)``) and to its ``parse_options``."""
        self._ensure_loaded()
        return self._add(Registration(name, target, source, frozenset(tags), tuple(sorted((kwargs or {}).items()))))

    def _add(self, registration: Registration) -> Registration:
        if ":" in registration.name[:-1]:
            raise RegistryError(f"method name {registration.name!r}: only a final ':' (a prefix) may hold a colon")
        existing = self._entries.get(registration.name)
        if existing is not None:
            raise RegistryError(f"method {registration.name!r} from {registration.source} collides with the one "
                                f"from {existing.source} ({existing.target}); rename one of them")
        self._entries[registration.name] = registration
        return registration

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True
            self._load_plugins(self)
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                dist = getattr(ep, "dist", None)
                self._add(Registration(ep.name, ep.value, dist.name if dist else "an entry point"))

    def registrations(self) -> dict[str, Registration]:
        self._ensure_loaded()
        return dict(self._entries)

    def tagged(self, tag: str) -> tuple[str, ...]:
        """Names carrying ``tag``, in registration order."""
        return tuple(n for n, r in self.registrations().items() if tag in r.tags)

    def resolve(self, name: str) -> tuple[Registration, str | None]:
        regs = self.registrations()
        if name in regs and not name.endswith(":"):
            return regs[name], None
        prefix, sep, spec = name.partition(":")
        if sep and spec and f"{prefix}:" in regs:
            return regs[f"{prefix}:"], spec
        if not regs:
            raise UnknownMethodError(f"unknown method {name!r} (none registered; is hwr-bench installed "
                                     "(pip install -e .)?)")
        hint = did_you_mean(name, [n for n in regs if not n.endswith(":")])
        if sep and f"{prefix}:" in regs:
            hint = f" ({prefix}: takes a spec after the colon, e.g. {prefix}:NAME)"
        raise UnknownMethodError(f"unknown method {name!r}{hint}; `bench methods` lists the "
                                 f"{len(regs)} registered names and prefixes")

    def method_class(self, name: str):
        registration, _ = self.resolve(name)
        return load_target(registration.target)

    def check(self, name: str, options: Mapping[str, Any] | None = None):
        """Resolve ``name`` and validate its options without building the method (input checks)."""
        registration, spec = self.resolve(name)
        cls = load_target(registration.target)
        try:
            return cls.parse_options(spec, options, **registration.fixed)
        except OptionError as exc:
            raise exc.for_method(name) from None

    def create(self, name: str, options: Mapping[str, Any] | None = None):
        """Instantiate a method by name. Raises UnknownMethodError, OptionError or the adapter's own error."""
        registration, spec = self.resolve(name)
        return load_target(registration.target)(spec=spec, options=self.check(name, options), **registration.fixed)


PLUGIN_GROUP = "hwr_bench.plugins"


def shadowing_distributions(import_name: str, own: str | None) -> list[str]:
    """Other installed distributions that also provide the top-level import name ``import_name``.

    hwr-bench installs the import names ``bench`` and ``adapters``; another distribution with the
    same name (e.g. AdapterHub's ``adapters``) shadows one of them, and the plugin's import fails
    somewhere deep inside the other package.
    """
    from importlib.metadata import packages_distributions

    return sorted(set(packages_distributions().get(import_name, [])) - {own})


def entry_point_load_error(ep, exc: BaseException) -> str:
    """One line on why an entry point does not load, naming a shadowing distribution if one is why."""
    top = ep.value.split(":")[0].split(".")[0]
    own = ep.dist.name if ep.dist is not None else None
    others = shadowing_distributions(top, own)
    if others:
        return (f"plugin {ep.name!r} ({ep.value}) does not load: the import name {top!r} is also installed by "
                f"{', '.join(others)}, which shadows {own or 'it'}'s; use a virtual environment without it "
                f"(pip uninstall {others[0]})")
    return f"plugin {ep.name!r} ({ep.value}) does not load: {type(exc).__name__}: {exc}"


def _load_plugin_hooks(registry: Registry) -> None:
    """Call every ``hwr_bench.plugins`` hook: ``register(registry)`` adds that package's methods."""
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            hook = ep.load()
        except Exception as exc:
            raise RegistryError(entry_point_load_error(ep, exc)) from None
        hook(registry)


METHODS = Registry(_load_plugin_hooks)


def create(name: str, options: Mapping[str, Any] | None = None):
    return METHODS.create(name, options)


def resolve(name: str) -> tuple[Registration, str | None]:
    return METHODS.resolve(name)


def registrations() -> dict[str, Registration]:
    return METHODS.registrations()


def check_name(requested: str, info_name: str) -> None:
    """A method's results are filed under its name: the one it was asked for."""
    if info_name != requested:
        raise RegistryError(f"method {requested!r} reports info.name {info_name!r}; MethodInfo.name must be "
                            "the name the method is registered and requested under")
