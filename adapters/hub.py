"""What every transformers hub model shares: where its weights are, how it is named, where it runs.

A hub adapter is a family class plus ``HubModel``: a ``kind`` (its registered prefix, e.g.
``trocr``), ``PRESETS`` (short names for the checkpoints the paper ran) and ``DEFAULT`` (the preset
a bare ``kind`` means). ``kind:SPEC`` takes a preset, any hub name (``org/name``) or a local
folder; ``--option KIND.model_path=DIR`` points it at a local copy. Weights not found locally are
downloaded when the run may download (``adapters.weights``); otherwise the method is unavailable,
naming every place it looked and the fix.

Options shared by all of them (``HubOptions``): ``device`` (``auto``: CUDA when torch sees one,
else the CPU; or ``cpu``, ``cuda``, ``cuda:N``) and ``dtype`` (``auto``: bfloat16 on CUDA, float32
on the CPU; or ``float32``, ``bfloat16``, ``float16``), so a user with a GPU runs them there.

Checkpoints whose architecture transformers does not ship run only with the code in their hub
repository (``trust_remote_code``). hwr-bench does not execute such code unasked: the method is
unavailable with that reason until ``--option KIND.trust_remote_code=true`` says the user has
read it (``REMOTE_CODE``), and a download then fetches the code with the weights.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from adapters.weights import CHECKPOINT_FILES, download, find_weights, folder_digest
from bench.api import Availability, MethodInfo, UnknownMethodError, did_you_mean
from methodkit.params import folder_bytes, safetensors_param_count

DTYPES = ("auto", "float32", "bfloat16", "float16")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
REMOTE_CODE_FILES = [*CHECKPOINT_FILES, "*.py"]


@dataclass(frozen=True)
class HubOptions:
    model_path: Path | None = None   # a local copy of the weights
    device: str = "auto"             # auto: cuda when available, else cpu
    dtype: str = "auto"              # auto: bfloat16 on cuda, float32 on cpu

    def __post_init__(self):
        if not _DEVICE.match(self.device):
            raise ValueError(f"option device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"option dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")


@dataclass(frozen=True)
class RemoteCodeOptions(HubOptions):
    """The options of an adapter whose checkpoints need their own code (``HubModel.REMOTE_CODE``)."""

    trust_remote_code: bool = False  # run the checkpoint's own code from its hub repository


def check_spec(kind: str, spec: str | None, presets: dict[str, str]) -> None:
    """A spec is a preset, a hub name (``org/name``) or a local folder; anything else is refused
    with the presets listed (it would otherwise surface as "weights not found")."""
    if spec is None or spec in presets or "/" in spec or Path(spec).expanduser().is_dir():
        return
    raise UnknownMethodError(f"{kind}:{spec}: {spec!r} is not a preset{did_you_mean(spec, presets)}, a hub name "
                             f"(org/name) or a local folder; presets: {', '.join(presets)}")


class HubModel:
    """Mixin for a retriever backed by one transformers checkpoint (see the module docstring): it
    finds the weights when built, loads them with ``_load_pretrained`` on first use (kept in
    ``_model``), and describes them with ``hub_info``."""

    kind: ClassVar[str]
    PRESETS: ClassVar[dict[str, str]] = {}
    DEFAULT: ClassVar[str | None] = None
    REMOTE_CODE: ClassVar[frozenset[str]] = frozenset()   # hub names that need trust_remote_code
    extra: ClassVar[str] = "vlm"                          # the pip extra with its libraries
    modules: ClassVar[tuple[str, ...]] = ("torch", "transformers")

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._find(spec)
        self._model = None

    @classmethod
    def parse_options(cls, spec, raw):
        check_spec(cls.kind, spec, cls.PRESETS)   # a mistyped preset is a bad name, said before any work
        return super().parse_options(spec, raw)

    def _find(self, spec: str | None) -> None:
        if spec is None and self.DEFAULT is None:
            raise ValueError(f"{self.kind} needs a model, e.g. {self.kind}:{next(iter(self.PRESETS), 'org/name')}")
        self.target = spec or self.DEFAULT
        self.repo_id = self.PRESETS.get(self.target, self.target)
        explicit = self.options.model_path
        if explicit is None and self.target not in self.PRESETS and Path(self.target).expanduser().is_dir():
            explicit = self.target
        self._explicit = explicit   # a local folder named by the user: never replaced by a download
        self.lookup = find_weights(self.repo_id, explicit)

    @property
    def method_name(self) -> str:
        """The name it was requested under: ``kind``, or ``kind:SPEC`` with SPEC as given."""
        return self.kind if self.spec is None else f"{self.kind}:{self.spec}"

    @property
    def needs_remote_code(self) -> bool:
        return self.repo_id in self.REMOTE_CODE

    @property
    def remote_code_trusted(self) -> bool:
        return self.needs_remote_code and getattr(self.options, "trust_remote_code", False)

    def remote_code_fix(self) -> str:
        return (f"read the code at https://huggingface.co/{self.repo_id}, then pass "
                f"--option {self.method_name}.trust_remote_code=true (online the first time)")

    def fetch_weights(self) -> None:
        if self._explicit is None and (self.remote_code_trusted or not self.needs_remote_code):
            self.lookup = download(self.lookup, REMOTE_CODE_FILES if self.needs_remote_code else CHECKPOINT_FILES)

    def availability(self) -> Availability:
        for module in self.modules:
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{module} is not installed (extra [{self.extra}])",
                                       f"pip install -e '.[{self.extra}]'")
        if self.needs_remote_code and not self.remote_code_trusted:
            return Availability.no(remote_code_reason(self.repo_id), self.remote_code_fix())
        if not self.lookup.found:
            return Availability.no(self.lookup.reason(), self.lookup.fix(self.method_name))
        return Availability.yes()

    # -- what results record ----------------------------------------------------------------
    @property
    def found_path(self) -> Path | None:
        return self.lookup.path if self.lookup.found else None

    def hub_version(self) -> str:
        """``repo@revision``: the hub commit the snapshot came from when it is a cached snapshot,
        with a digest of the files actually loaded (a local folder has no commit)."""
        found = self.found_path
        if found is None:
            return f"{self.repo_id}@missing"
        commit = found.name if found.parent.name == "snapshots" else "local"
        return f"{self.repo_id}@{commit}:{folder_digest(found)}"

    def hub_config(self) -> dict:
        return {"repo_id": self.repo_id, "device": self.options.device, "dtype": self.options.dtype}

    def hub_info(self, group: str, description: str, config: dict, version_suffix: str = "",
                 preprocessing: str = "greyscale to RGB, then the model's processor",
                 requires: tuple[str, ...] = ()) -> MethodInfo:
        """What results record about the checkpoint: its name, revision, sizes and options."""
        found = self.found_path
        return MethodInfo(
            name=self.method_name, group=group, version=self.hub_version() + version_suffix,
            description=description, params=safetensors_param_count(found) if found else None,
            model_bytes=folder_bytes(found) if found else None, licence="see the model card",
            requires=(f"extra [{self.extra}]", *requires), preprocessing=preprocessing,
            config={**self.hub_config(), **config})

    # -- loading ------------------------------------------------------------------------------
    def _torch_setup(self):
        """(torch, device, dtype) for this run's options."""
        import torch

        device = self.options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = self.options.dtype
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        return torch, torch.device(device), getattr(torch, dtype)

    def _pretrained_kwargs(self) -> dict:
        return {"local_files_only": True, "trust_remote_code": self.remote_code_trusted}

    def _load_pretrained(self, model_class: str):
        """(model, processor, torch, device): the checkpoint as transformers' ``model_class`` with its
        ``AutoProcessor``, on the device and in the dtype of the options, in eval mode."""
        import transformers
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = str(self.lookup.path)
        torch, device, dtype = self._torch_setup()
        processor = transformers.AutoProcessor.from_pretrained(path, **self._pretrained_kwargs())
        model = getattr(transformers, model_class).from_pretrained(path, dtype=dtype, **self._pretrained_kwargs())
        return model.to(device).eval(), processor, torch, device


def remote_code_reason(repo_id: str) -> str:
    return (f"{repo_id} runs only with the code in its hub repository (trust_remote_code), which hwr-bench "
            "does not execute unasked")
