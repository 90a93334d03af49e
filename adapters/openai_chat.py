"""``openai:<model>@<base_url>``: a VLM behind any OpenAI-compatible chat endpoint.

vLLM, SGLang, llama.cpp's server and Ollama all speak ``POST
{base_url}/chat/completions``. Each word image goes as a base64 PNG data URL
with the prompts of ``adapters.vlm``; requests run with bounded concurrency and
retries with exponential backoff on connection errors, timeouts, replies cut
short, 429 and 5xx. Answers are cached on disk keyed by (server URL, model,
prompt, image hash), so a re-run costs no request. Standard library only.

Options (``--option 'openai:MODEL@URL.KEY=VALUE'``): ``concurrency`` (8),
``timeout`` seconds (60): one deadline for each attempt, connecting, sending
and every read together, so a server that trickles bytes is cut off at it;
``retries`` (4), ``max_tokens`` (32), ``backoff`` seconds before the first
retry (1.0, doubling), ``max_reply_bytes`` (8 MiB: a longer reply is an error,
read no further), ``allow_insecure_http`` (false: the API key is sent over
plain ``http://`` only to a loopback host).

The API key, if the server wants one, comes from ``$OPENAI_API_KEY``; it is
never written into an error message, a cache file or a result. Connections go
straight to the server (no proxy) and redirects are never followed: a redirect
is an error naming where it pointed. Only a well-formed answer (string content)
is cached, under the run's cache folder (``prepare``); before that, in memory
only. Requests made in worker threads are cut off when the calling thread
gives up (e.g. ``--method-timeout``), so none outlives it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import ipaddress
import json
import os
import queue
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, replace

from adapters.vlm import PROMPT_VERSION, GenerativeVLM, parse_answer
from bench.api import Availability, MethodInfo, RunContext, TextCache

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
CACHE_KEY_VERSION = "2"   # 2: the key names the server and the model; only string answers are stored
_CHUNK = 64 * 1024
_ERROR_SNIPPET = 200


class EndpointError(RuntimeError):
    pass


class _Transient(Exception):
    """One attempt failed in a way worth retrying; the message says how."""


class _DeadlinePassed(TimeoutError):
    pass


def image_data_url(image) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def is_loopback(host: str) -> bool:
    host = (host or "").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class OpenAIChatOptions:
    concurrency: int = 8      # requests in flight
    timeout: float = 60.0     # seconds per attempt, all of it: connect, send, every read
    retries: int = 4          # after the first attempt, on connection errors, timeouts, cut replies, 429 and 5xx
    max_tokens: int = 32
    backoff: float = 1.0      # seconds before the first retry, doubling after each
    max_reply_bytes: int = 8 * 1024 * 1024   # a longer reply is an error (read no further)
    allow_insecure_http: bool = False        # send the API key over plain http to a non-loopback host

    def __post_init__(self):
        for name, low in (("concurrency", 1), ("max_tokens", 1), ("retries", 0), ("max_reply_bytes", 1024)):
            if getattr(self, name) < low:
                raise ValueError(f"option {name} must be at least {low}, not {getattr(self, name)}")
        if self.timeout <= 0 or self.backoff < 0:
            raise ValueError(f"options timeout must be > 0 and backoff >= 0 (got {self.timeout}, {self.backoff})")


# -- sockets with one deadline --------------------------------------------------------------
class _Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed(f"no complete reply within the timeout of {self.seconds:g} s")
        return left


class _BoundedReads:
    """Reads that first arm the socket with what is left of its deadline (``_arm``)."""

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super().recv_into(*args, **kwargs)

    def recv(self, *args, **kwargs):
        self._arm()
        return super().recv(*args, **kwargs)


class _DeadlineSocket(_BoundedReads, socket.socket):
    """A socket whose every wait is bounded by what is left of one deadline (plain http)."""

    deadline: _Deadline

    def _arm(self):
        self.settimeout(self.deadline.left())

    def sendall(self, *args, **kwargs):
        self._arm()   # sendall's timeout bounds the whole call
        return super().sendall(*args, **kwargs)


class _DeadlineSSLSocket(_BoundedReads, ssl.SSLSocket):
    """The same for TLS: each read, write and the handshake get what is left of the deadline."""

    deadline: _Deadline | None = None

    def _arm(self):
        if self.deadline is not None:
            self.settimeout(self.deadline.left())

    def send(self, *args, **kwargs):
        self._arm()
        return super().send(*args, **kwargs)

    def do_handshake(self, *args, **kwargs):
        self._arm()   # the handshake's timeout bounds all of it
        return super().do_handshake(*args, **kwargs)


def _connect(host: str, port: int, deadline: _Deadline) -> _DeadlineSocket:
    raw = socket.create_connection((host, port), timeout=deadline.left())
    sock = _DeadlineSocket(raw.family, raw.type, raw.proto, fileno=raw.detach())
    sock.deadline = deadline
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, deadline: _Deadline, on_socket):
        super().__init__(host, port, timeout=deadline.seconds)
        self._deadline, self._on_socket = deadline, on_socket

    def connect(self):
        self.sock = _connect(self.host, self.port, self._deadline)
        self._on_socket(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    _context_lock = threading.Lock()
    _shared_context: ssl.SSLContext | None = None

    def __init__(self, host, port, deadline: _Deadline, on_socket):
        with self._context_lock:
            if _HTTPSConnection._shared_context is None:
                context = ssl.create_default_context()
                context.sslsocket_class = _DeadlineSSLSocket
                _HTTPSConnection._shared_context = context
        super().__init__(host, port, timeout=deadline.seconds, context=self._shared_context)
        self._deadline, self._on_socket = deadline, on_socket

    def connect(self):
        plain = _connect(self.host, self.port, self._deadline)
        self._on_socket(plain)
        sock = self._context.wrap_socket(plain, server_hostname=self.host, do_handshake_on_connect=False)
        sock.deadline = self._deadline
        self._on_socket(sock)
        self.sock = sock
        sock.do_handshake()


class _Batch:
    """Worker threads of one ``generate`` call: a stop flag and the sockets in flight, so the
    caller can cut every request off at once when it gives up."""

    def __init__(self):
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set = set()

    def track(self, sock) -> None:
        with self._lock:
            if self.stop.is_set():
                sock.close()
                raise EndpointError("cancelled")
            self._sockets.add(sock)

    def untrack(self, sock) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def cancel(self) -> None:
        with self._lock:
            self.stop.set()
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)   # wakes a thread blocked reading it
            except OSError:
                pass


class OpenAIChat(GenerativeVLM):
    Options = OpenAIChatOptions

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        model, sep, base_url = (spec or "").rpartition("@")
        if not sep or not model or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"openai needs <model>@<base_url>, e.g. openai:Qwen/Qwen2.5-VL-7B-Instruct@"
                             f"http://localhost:8000/v1 (got {spec!r})")
        self.model, self.base_url = model, base_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.username is not None or parts.password is not None:
            raise ValueError("openai: the base URL must not carry credentials; put the key in $OPENAI_API_KEY")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"openai: the base URL {self.base_url!r} has an invalid port") from None
        if not parts.hostname:
            raise ValueError(f"openai: the base URL {self.base_url!r} names no host")
        self._scheme, self._host = parts.scheme, parts.hostname
        self._port = port or (443 if parts.scheme == "https" else 80)
        self._path = parts.path.rstrip("/")
        self.concurrency = self.options.concurrency
        self.timeout = self.options.timeout
        self.retries = self.options.retries
        self.max_tokens = self.options.max_tokens
        self.backoff = self.options.backoff
        self.max_reply_bytes = self.options.max_reply_bytes
        self._cache = TextCache(None, "openai-responses")   # in memory until prepare() gives the run's cache

    SERVE_FLAGS = ""   # what `vllm serve` needs besides the model to serve it

    @property
    def method_name(self) -> str:
        """The name this method was requested under."""
        return f"openai:{self.spec}"

    def name_at(self, base_url: str) -> str:
        """The method's name for the same model behind ``base_url`` (what the fixes tell a user)."""
        return f"openai:{self.model}@{base_url}"

    def prepare(self, context: RunContext) -> None:
        self._cache = TextCache(context.cache_dir, "openai-responses")

    def availability(self) -> Availability:
        try:
            key = self._api_key()
            refusal = self._insecure_refusal(key)
        except EndpointError as exc:
            return Availability.no(str(exc), "export a valid OPENAI_API_KEY (or unset it)")
        if refusal:
            return Availability.no(*refusal)
        try:
            self._request("GET", "/models", None, timeout=min(self.timeout, 5), retries=0)
        except EndpointError as exc:
            return Availability.no(f"no OpenAI-compatible server answers at {self.base_url} ({exc})",
                                   f"start one, e.g. `vllm serve {self.model}{self.SERVE_FLAGS} --port 8000`, and "
                                   f"pass {self.name_at('http://HOST:8000/v1')}")
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(
            name=self.method_name, group="vlm",
            version=f"{self.model}/prompts-{PROMPT_VERSION}",
            description=f"{self.model} behind an OpenAI-compatible endpoint, prompted to transcribe "
                        "(cross-lingual: translate) the word; lexicon ranked by normalised edit similarity",
            licence="see the model card", requires=("an OpenAI-compatible server",),
            preprocessing="greyscale to RGB PNG, base64 data URL",
            config={"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                    "prompt_version": PROMPT_VERSION})

    # -- the key ----------------------------------------------------------------------------
    @staticmethod
    def _api_key() -> str | None:
        key = os.environ.get("OPENAI_API_KEY", "").strip()
        if not key:
            return None
        if not all(33 <= ord(c) < 127 for c in key):
            # http.client would put the raw header value, key included, into its error
            raise EndpointError("$OPENAI_API_KEY holds a character an HTTP header cannot carry "
                                "(a space, newline or non-ASCII letter); export the key alone")
        return key

    def _insecure_refusal(self, key: str | None) -> tuple[str, str] | None:
        if not key or self._scheme != "http" or self.options.allow_insecure_http or is_loopback(self._host):
            return None
        return (f"refusing to send $OPENAI_API_KEY over plain http to {self._host}, which is not a loopback "
                "address",
                f"use https://{self._host}..., or pass --option "
                f"'{self.method_name}.allow_insecure_http=true' on a trusted network, or unset OPENAI_API_KEY")

    def _scrub(self, text: str, key: str | None) -> str:
        """``text`` (from the server) without the key, plain or percent-encoded."""
        if key:
            for form in {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key)}:
                text = text.replace(form, "<OPENAI_API_KEY>")
        return text

    # -- HTTP -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None, *, timeout: float, retries: int,
                 batch: _Batch | None = None) -> dict:
        key = self._api_key()
        refusal = self._insecure_refusal(key)
        if refusal:
            raise EndpointError(f"{refusal[0]}: {refusal[1]}")
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = None if body is None else json.dumps(body).encode()
        last = "no attempt"
        for attempt in range(retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                if batch is None:
                    time.sleep(delay)
                elif batch.stop.wait(delay):
                    raise EndpointError("cancelled")
            if batch is not None and batch.stop.is_set():
                raise EndpointError("cancelled")
            try:
                return self._attempt(method, path, data, headers, timeout, batch, key)
            except _Transient as exc:
                last = self._scrub(str(exc), key)
        raise EndpointError(f"gave up after {retries + 1} attempts ({last})")

    def _attempt(self, method, path, data, headers, timeout, batch, key) -> dict:
        """One exchange: a dict on success, ``_Transient`` to retry, ``EndpointError`` to stop."""
        deadline = _Deadline(timeout)
        sockets = []

        def on_socket(sock):
            sockets.append(sock)
            if batch is not None:
                batch.track(sock)

        kind = _HTTPSConnection if self._scheme == "https" else _HTTPConnection
        connection = kind(self._host, self._port, deadline, on_socket)
        server = self.base_url
        try:
            try:
                connection.request(method, self._path + path, body=data, headers=headers)
                response = connection.getresponse()
                status = response.status
                if 300 <= status < 400:
                    location = self._scrub(response.getheader("Location", "") or "(no Location header)", key)
                    raise EndpointError(
                        f"the server at {server} redirected (HTTP {status}) to {location[:300]}; redirects are "
                        "not followed, so the API key goes to no other address: pass that URL as <base_url>")
                if status >= 400 or status < 200:
                    snippet = self._read(response, deadline, min(self.max_reply_bytes, 4096), truncate=True)
                    text = self._scrub(snippet[:_ERROR_SNIPPET].decode("utf-8", "replace"), key)
                    if status in RETRY_STATUS:
                        raise _Transient(f"HTTP {status}")
                    raise EndpointError(f"the server at {server} answered HTTP {status}: {text!r}")
                payload = self._read(response, deadline, self.max_reply_bytes)
            except (OSError, http.client.HTTPException) as exc:
                if batch is not None and batch.stop.is_set():
                    raise EndpointError("cancelled") from None
                if isinstance(exc, TimeoutError):   # a socket wait cut short by the deadline, or the deadline
                    raise _Transient(f"TimeoutError: no complete reply within the timeout of {timeout:g} s") from None
                raise _Transient(_describe(exc)) from None
        finally:
            for sock in sockets:
                if batch is not None:
                    batch.untrack(sock)
            connection.close()
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EndpointError(f"the server at {server} answered with a body that is not UTF-8 (byte "
                                f"0x{payload[exc.start]:02x} at offset {exc.start}); is it an OpenAI-compatible "
                                "endpoint?") from None
        try:
            return json.loads(text) if text.strip() else {}
        except (ValueError, RecursionError):
            snippet = self._scrub(text[:_ERROR_SNIPPET], key)
            raise EndpointError(f"the server at {server} answered with something that is not JSON: "
                                f"{snippet!r}") from None

    def _read(self, response, deadline: _Deadline, cap: int, truncate: bool = False) -> bytes:
        """The body, read piece by piece within the deadline and refused past ``cap`` bytes."""
        declared = response.length
        if declared is not None and declared > cap and not truncate:
            raise EndpointError(f"the server at {self.base_url} announced a reply of {declared:,} bytes, more "
                                f"than max_reply_bytes={cap:,}; raise the option if that is expected")
        parts, total = [], 0
        while True:
            deadline.left()
            piece = response.read1(_CHUNK)
            if not piece:
                break
            parts.append(piece)
            total += len(piece)
            if total > cap:
                if truncate:
                    break
                raise EndpointError(f"the server at {self.base_url} sent a reply longer than "
                                    f"max_reply_bytes={cap:,} bytes; raise the option if that is expected")
        body = b"".join(parts)
        if declared is not None and len(body) < declared and not truncate:
            raise http.client.IncompleteRead(body, declared - len(body))
        return body

    def _ask(self, image, prompt: str, batch: _Batch | None = None) -> tuple[str, bool]:
        """The model's answer, and whether it is well-formed (then it may be cached)."""
        body = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": image_data_url(image)}},
                    {"type": "text", "text": prompt}]}]}
        reply = self._request("POST", "/chat/completions", body, timeout=self.timeout, retries=self.retries,
                              batch=batch)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            shape = json.dumps(reply)[:_ERROR_SNIPPET] if isinstance(reply, (dict, list)) else repr(reply)[:200]
            raise EndpointError(f"the server at {self.base_url} answered an unexpected shape: "
                                f"{self._scrub(shape, self._api_key())}") from None
        if content is None:
            return "", False          # no text (e.g. all of it went to reasoning): empty, asked again next run
        if not isinstance(content, str):
            raise EndpointError(f"the server at {self.base_url} answered a message content of type "
                                f"{type(content).__name__}, not text")
        return content, True

    # -- answers ----------------------------------------------------------------------------
    def _cache_key(self, image, prompt: str) -> str:
        return hashlib.sha256(json.dumps([CACHE_KEY_VERSION, self.base_url, self.model, prompt,
                                          hashlib.sha256(image.tobytes()).hexdigest(), image.size,
                                          self.max_tokens]).encode()).hexdigest()

    def generate(self, images, prompts: list[str]) -> list[str]:
        images = list(images)
        keys = [self._cache_key(im, p) for im, p in zip(images, prompts)]
        found = [v if isinstance(v, str) else None for v in self._cache.lookup(keys)]
        todo = [i for i, v in enumerate(found) if v is None]
        answers: dict[int, tuple[str, bool]] = {}
        try:
            self._ask_all(images, prompts, todo, answers)
        finally:   # what was answered is kept even when the batch fails or is cut off
            good = [i for i in todo if i in answers and answers[i][1]]
            self._cache.store([keys[i] for i in good], [answers[i][0] for i in good])
        return [found[i] if found[i] is not None else answers[i][0] for i in range(len(images))]

    def _ask_all(self, images, prompts, todo: list[int], answers: dict) -> None:
        workers = min(self.concurrency, len(todo))
        if workers <= 1:   # in the calling thread, where --method-timeout's alarm reaches it
            for i in todo:
                answers[i] = self._ask(images[i], prompts[i])
            return
        batch, pending, done = _Batch(), queue.SimpleQueue(), queue.SimpleQueue()
        for i in todo:
            pending.put(i)

        def work():
            while not batch.stop.is_set():
                try:
                    i = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((i, self._ask(images[i], prompts[i], batch), None))
                except BaseException as exc:   # handed to the caller, which stops the others
                    done.put((i, None, exc))
                    return

        for n in range(workers):   # daemon threads: nothing waits for them once the caller gives up
            threading.Thread(target=work, name=f"openai-chat-{n}", daemon=True).start()
        try:
            for _ in todo:
                i, answer, error = done.get()
                if error is not None:
                    raise error
                answers[i] = answer
        finally:
            batch.cancel()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return f"IncompleteRead: the reply stopped {exc.expected:,} bytes short"
    return f"{type(exc).__name__}: {exc}"


class DeepSeekOCR(OpenAIChat):
    """``deepseek-ocr[:BASE_URL]``: DeepSeek-OCR (the paper's row) served by vLLM, which runs its
    remote code (``vllm serve deepseek-ai/DeepSeek-OCR --trust-remote-code``), asked with the model
    card's plain-OCR prompt; a transcription method like the paper's OCR rows (no translation:
    cross-lingual subtasks rank by edit similarity to the transcript). BASE_URL defaults to
    ``http://localhost:8000/v1``."""

    can_translate = False
    MODEL = "deepseek-ai/DeepSeek-OCR"
    PROMPT = "Free OCR."
    BASE_URL = "http://localhost:8000/v1"
    SERVE_FLAGS = " --trust-remote-code"

    def __init__(self, spec=None, options=None):
        self.requested = "deepseek-ocr" if spec is None else f"deepseek-ocr:{spec}"
        super().__init__(f"{self.MODEL}@{spec or self.BASE_URL}", options)

    @property
    def method_name(self) -> str:
        return self.requested

    def name_at(self, base_url: str) -> str:
        return f"deepseek-ocr:{base_url}"

    def transcribe(self, items, lang: str) -> list[str]:
        return [parse_answer(a) for a in self.generate([it.image for it in items], [self.PROMPT] * len(items))]

    @property
    def info(self) -> MethodInfo:
        base = super().info
        return replace(base, group="two-stage",
                       description=f"{self.MODEL} behind an OpenAI-compatible endpoint (vLLM), prompted "
                                   f"{self.PROMPT!r}; lexicon ranked by normalised edit similarity",
                       config={**base.config, "prompt": self.PROMPT})
