"""``openai:<model>@<base_url>``: a VLM behind any OpenAI-compatible chat endpoint.

vLLM, SGLang, llama.cpp's server and Ollama all speak ``POST
{base_url}/chat/completions``. Each word image goes as a base64 PNG data URL
with the prompts of ``adapters.vlm``; requests run with bounded concurrency,
a timeout, and retries with exponential backoff on connection errors, timeouts,
429 and 5xx. Answers are cached on disk keyed by (model, prompt, image hash), so
a re-run costs no request. Standard library only.

Options (``--option 'openai:MODEL@URL.KEY=VALUE'``): ``concurrency`` (8),
``timeout`` seconds (60), ``retries`` (4), ``max_tokens`` (32), ``backoff``
seconds before the first retry (1.0, doubling). The API key, if the server wants
one, comes from ``$OPENAI_API_KEY``. Answers are cached under the run's cache
folder (``prepare``); before that, in memory only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from adapters.vlm import PROMPT_VERSION, GenerativeVLM
from bench.cache import TextCache
from bench.retriever import Availability, MethodInfo, RunContext

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EndpointError(RuntimeError):
    pass


def image_data_url(image) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@dataclass(frozen=True)
class OpenAIChatOptions:
    concurrency: int = 8      # requests in flight
    timeout: float = 60.0     # seconds per request
    retries: int = 4          # after the first attempt, on connection errors, timeouts, 429 and 5xx
    max_tokens: int = 32
    backoff: float = 1.0      # seconds before the first retry, doubling after each

    def __post_init__(self):
        for name, low in (("concurrency", 1), ("max_tokens", 1), ("retries", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"option {name} must be at least {low}, not {getattr(self, name)}")
        if self.timeout <= 0 or self.backoff < 0:
            raise ValueError(f"options timeout must be > 0 and backoff >= 0 (got {self.timeout}, {self.backoff})")


class OpenAIChat(GenerativeVLM):
    Options = OpenAIChatOptions

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        model, sep, base_url = (spec or "").rpartition("@")
        if not sep or not model or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"openai needs <model>@<base_url>, e.g. openai:Qwen/Qwen2.5-VL-7B-Instruct@"
                             f"http://localhost:8000/v1 (got {spec!r})")
        self.model, self.base_url = model, base_url.rstrip("/")
        self.concurrency = self.options.concurrency
        self.timeout = self.options.timeout
        self.retries = self.options.retries
        self.max_tokens = self.options.max_tokens
        self.backoff = self.options.backoff
        self._cache = TextCache(None, "openai-responses")   # in memory until prepare() gives the run's cache

    def prepare(self, context: RunContext) -> None:
        self._cache = TextCache(context.cache_dir, "openai-responses")

    def availability(self) -> Availability:
        try:
            self._request("GET", "/models", None, timeout=min(self.timeout, 5), retries=0)
        except EndpointError as exc:
            return Availability.no(f"no OpenAI-compatible server answers at {self.base_url} ({exc})",
                                   f"start one, e.g. `vllm serve {self.model} --port 8000`, and pass "
                                   f"openai:{self.model}@http://HOST:8000/v1")
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(
            name=f"openai:{self.spec}", group="vlm",
            version=f"{self.model}/prompts-{PROMPT_VERSION}",
            description=f"{self.model} behind an OpenAI-compatible endpoint, prompted to transcribe "
                        "(cross-lingual: translate) the word; lexicon ranked by normalised edit similarity",
            licence="see the model card", requires=("an OpenAI-compatible server",),
            preprocessing="greyscale to RGB PNG, base64 data URL",
            config={"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                    "prompt_version": PROMPT_VERSION})

    # -- HTTP -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None, *, timeout: float, retries: int) -> dict:
        headers = {"Content-Type": "application/json"}
        if os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
        data = None if body is None else json.dumps(body).encode()
        last = "no attempt"
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return json.loads(response.read().decode() or "{}")
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code not in RETRY_STATUS:
                    raise EndpointError(f"{last}: {exc.read()[:200]!r}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            except json.JSONDecodeError:
                raise EndpointError("the server answered with something that is not JSON") from None
        raise EndpointError(f"gave up after {retries + 1} attempts ({last})")

    def _ask(self, image, prompt: str) -> str:
        body = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": image_data_url(image)}},
                    {"type": "text", "text": prompt}]}]}
        reply = self._request("POST", "/chat/completions", body, timeout=self.timeout, retries=self.retries)
        try:
            return reply["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"unexpected reply shape: {json.dumps(reply)[:200]}") from None

    def generate(self, images, prompts: list[str]) -> list[str]:
        images = list(images)
        keys = [hashlib.sha256(json.dumps([self.model, p, hashlib.sha256(im.tobytes()).hexdigest(),
                                           im.size, self.max_tokens]).encode()).hexdigest()
                for im, p in zip(images, prompts)]
        found = self._cache.lookup(keys)
        todo = [i for i, v in enumerate(found) if v is None]
        with ThreadPoolExecutor(max(1, min(self.concurrency, len(todo) or 1))) as pool:
            answers = list(pool.map(lambda i: self._ask(images[i], prompts[i]), todo))
        self._cache.store([keys[i] for i in todo], answers)
        return self._cache.lookup(keys)
