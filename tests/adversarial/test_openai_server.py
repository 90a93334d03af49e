"""Hostile OpenAI-compatible servers against ``openai:`` (adapters/openai_chat.py).

A stub HTTP server on 127.0.0.1 plays each case of ``CORPUS``: a name, what the server does to a
chat request, and what the adapter must make of it (an answer, or an ``EndpointError`` matching a
pattern). Every case runs with an API key set and checks that the key is in no error message and
no cache file, that no request reached a second server (the "sink" a redirect points at), that a
failed or malformed answer is not cached, and that the case ended within its time bound.
To add a case, append a ``Case`` to ``CORPUS``; the servers stop by themselves (every loop is
bounded and ends when the test closes the stub).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest
from PIL import Image

from adapters.openai_chat import EndpointError
from bench.api.registry import create
from bench.api.retriever import RunContext
from bench.data.schema import ImageItem

KEY = "sk-hwr-adversarial-0123456789abcdef"
STALL_S = 4.0   # the longest any stub keeps a connection busy


# -- the stub server ----------------------------------------------------------------------------
class Stub:
    """``serve(handler, stub)`` answers every POST; GET /models answers a model list."""

    def __init__(self, serve: Callable):
        self.serve = serve
        self.requests: list[tuple[str, str, str | None]] = []   # (method, path, Authorization)
        self.closing = threading.Event()
        self.sink: Stub | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _record(self):
                stub.requests.append((self.command, self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                self.close_connection = True
                return self.rfile.read(length) if length else b""

            def do_GET(self):
                self._record()
                if self.path.endswith("/models"):
                    return send(self, 200, json.dumps({"data": [{"id": "tiny"}]}).encode())
                stub.serve(self, stub)

            def do_POST(self):
                self._record()
                try:
                    stub.serve(self, stub)
                except OSError:   # the client hung up: by design in many cases
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.handle_error = lambda request, address: None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def posts(self) -> int:
        return sum(1 for method, _, _ in self.requests if method == "POST")

    def __enter__(self) -> "Stub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


def send(handler, status: int, body: bytes, headers: dict | None = None, length: bool = True) -> None:
    handler.send_response(status)
    for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
        handler.send_header(key, value)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def chat(content) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()


def trickle(handler, stub: Stub, data: bytes, every: float = 0.05) -> None:
    """``data`` a byte at a time, until it is sent, STALL_S has passed, or the stub closes."""
    end = time.monotonic() + STALL_S
    for byte in data:
        if stub.closing.is_set() or time.monotonic() > end:
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(every)


# -- server behaviours --------------------------------------------------------------------------
def answers(content):
    return lambda h, stub: send(h, 200, chat(content))


def redirect(status: int, leak_key: bool = False):
    def serve(h, stub):
        target = f"{stub.sink.url}/chat/completions"
        if leak_key:
            target += "?stolen=" + (h.headers.get("Authorization") or "")
        send(h, status, b"", {"Location": target})
    return serve


def echo_key_401(h, stub):
    send(h, 401, f"invalid credentials: {h.headers.get('Authorization')}".encode(), {"Content-Type": "text/plain"})


def trickled_body(h, stub):
    body = chat("apple")
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body) + 2000))
    h.end_headers()
    h.wfile.flush()
    trickle(h, stub, body + b" " * 2000)


def trickled_headers(h, stub):
    body = chat("apple")
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: {'x' * 400}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    trickle(h, stub, head + body)


def big_reply(declared: bool):
    def serve(h, stub):
        body = chat("apple " + "x" * (9 * 1024 * 1024))   # over the default cap of 8 MiB, valid JSON
        send(h, 200, body, length=declared)
    return serve


def cut_short_once(h, stub):
    body = chat("apple")
    if stub.posts == 1:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body) + 100))
        h.end_headers()
        h.wfile.write(body[:20])
        h.wfile.flush()
        h.close_connection = True
        return
    send(h, 200, body)


def raw_body(data: bytes):
    return lambda h, stub: send(h, 200, data)


def null_content(h, stub):
    send(h, 200, chat(None))


@dataclass(frozen=True)
class Case:
    name: str
    serve: Callable
    error: str | None = None     # an EndpointError matching this, or None: the answer below
    answer: str = "apple"
    cacheable: bool = True       # (answers only) a second run asks nothing
    options: dict = field(default_factory=dict)
    images: int = 1              # 1: the request runs in the calling thread; more: in worker threads
    posts: int | None = None     # POSTs the first run makes
    max_seconds: float = 3.0


CORPUS = [
    Case("redirect 302 to another host", redirect(302), error=r"redirected \(HTTP 302\) to http://127\.0\.0\.1:\d+",
         posts=1),
    Case("redirect 303 turns POST into GET elsewhere", redirect(303), error=r"redirected \(HTTP 303\)", posts=1),
    Case("redirect 307 to another host", redirect(307), error=r"redirected \(HTTP 307\)", posts=1),
    Case("redirect whose Location carries the key", redirect(302, leak_key=True),
         error=r"redirected \(HTTP 302\).*stolen=Bearer <OPENAI_API_KEY>", posts=1),
    Case("401 body echoing the Authorization header", echo_key_401, error=r"HTTP 401.*<OPENAI_API_KEY>", posts=1),
    Case("body trickled a byte at a time", trickled_body, error=r"gave up after 1 attempts.*timeout of 0\.5 s",
         options={"timeout": 0.5, "retries": 0}, max_seconds=2.0),
    Case("status line and headers trickled", trickled_headers, error=r"gave up after 1 attempts.*timeout of 0\.5 s",
         options={"timeout": 0.5, "retries": 0}, max_seconds=2.0),
    Case("trickling to three worker threads, one retry each", trickled_body, error=r"gave up after 2 attempts",
         options={"timeout": 0.4, "retries": 1, "concurrency": 3}, images=3, max_seconds=2.0),
    Case("9 MiB reply announced by Content-Length", big_reply(declared=True), error=r"max_reply_bytes=8,388,608"),
    Case("9 MiB reply without a Content-Length", big_reply(declared=False), error=r"max_reply_bytes=8,388,608"),
    Case("integer content", answers(42), error=r"content of type int, not text"),
    Case("list content", answers(["apple"]), error=r"content of type list, not text"),
    Case("reply cut short once (IncompleteRead), then whole", cut_short_once, answer="apple", posts=2),
    Case("body that is not UTF-8", raw_body(b"\xff\xfe" + chat("apple")),
         error=r"server at http://127\.0\.0\.1:\d+/v1 answered with a body that is not UTF-8 \(byte 0xff"),
    Case("JSON nested 100,000 deep", raw_body(b"[" * 100_000 + b"]" * 100_000), error=r"not JSON"),
    Case("a 5,000-digit integer", raw_body(b'{"choices": [{"message": {"content": ' + b"7" * 5000 + b"}}]}"),
         error=r"not JSON"),
    Case("null content: empty answer, not cached", null_content, answer="", cacheable=False, posts=1),
]


# -- running a case -----------------------------------------------------------------------------
def word_images(n: int) -> list[ImageItem]:
    images = [Image.new("L", (40 + i, 20), 255) for i in range(n)]
    return [ImageItem(f"img-{i}", im, "en", hashlib.sha256(im.tobytes()).hexdigest()) for i, im in enumerate(images)]


def openai_method(url: str, cache: Path, **options):
    method = create(f"openai:tiny@{url}", {"backoff": "0", "timeout": "2", "retries": "1",
                                          **{k: str(v) for k, v in options.items()}})
    method.prepare(RunContext(dataset=None, seed=0, cache_dir=cache))
    return method


def files_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def cached_answers(folder: Path) -> list:
    return [v for p in folder.rglob("shard-*.json") for v in json.loads(p.read_text()).values()]


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_hostile_server(case, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cache, items = tmp_path / "cache", word_images(case.images)
    with Stub(answers("from the sink")) as sink, Stub(case.serve) as stub:
        stub.sink = sink
        started = time.monotonic()
        if case.error is None:
            assert openai_method(stub.url, cache, **case.options).transcribe(items, "en") == [case.answer] * case.images
        else:
            with pytest.raises(EndpointError, match=case.error) as raised:
                openai_method(stub.url, cache, **case.options).transcribe(items, "en")
            assert KEY not in str(raised.value) and "\n" not in str(raised.value)
        elapsed = time.monotonic() - started
        assert elapsed < case.max_seconds, f"took {elapsed:.1f} s"
        if case.posts is not None:
            assert stub.posts == case.posts
        assert sink.requests == []                          # no redirect followed, no key sent elsewhere
        assert all(auth == f"Bearer {KEY}" for _, _, auth in stub.requests)
        assert KEY not in files_text(tmp_path)              # nor in any cache file
        if case.error is not None or not case.cacheable:    # a failure or a malformed answer is not cached ...
            assert cached_answers(cache) == []
            first = stub.posts
            try:                                            # ... so a second run asks again
                openai_method(stub.url, cache, **case.options).transcribe(items, "en")
            except EndpointError:
                pass
            assert stub.posts > first
        else:
            first = stub.posts
            openai_method(stub.url, cache, **case.options).transcribe(items, "en")
            assert stub.posts == first


# -- the key and the transport ------------------------------------------------------------------
def test_the_key_is_not_sent_over_plain_http_to_a_remote_host(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    remote = "http://hwr-bench-test.invalid:8000/v1"
    method = openai_method(remote, tmp_path, retries=0)
    available = method.availability()
    assert not available.ok and "plain http" in available.reason and "hwr-bench-test.invalid" in available.reason
    assert "allow_insecure_http=true" in available.fix and "https://" in available.fix
    started = time.monotonic()
    with pytest.raises(EndpointError, match=r"refusing to send \$OPENAI_API_KEY over plain http.*"
                                            r"allow_insecure_http=true") as raised:
        method.transcribe(word_images(1), "en")
    assert "\n" not in str(raised.value) and time.monotonic() - started < 1
    # the explicit option lets it try (and fail to resolve the name): no refusal
    with pytest.raises(EndpointError) as raised:
        openai_method(remote, tmp_path, retries=0, allow_insecure_http="true", timeout=1).transcribe(
            word_images(1), "en")
    assert "refusing" not in str(raised.value)
    # a loopback host gets the key over http
    with Stub(answers("apple")) as stub:
        url = stub.url.replace("127.0.0.1", "localhost")
        assert openai_method(url, tmp_path).transcribe(word_images(1), "en") == ["apple"]
        assert stub.requests[-1][2] == f"Bearer {KEY}"


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True),
    ("10.0.0.1", False), ("localhost.example.com", False), ("example.com", False), ("0.0.0.0", False),
])
def test_loopback_hosts_may_get_the_key_over_http(host, loopback):
    from adapters.openai_chat import is_loopback

    assert is_loopback(host) is loopback


def test_a_key_with_a_newline_is_refused_without_showing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY + "\nX-Injected: 1")
    with Stub(answers("apple")) as stub:
        method = openai_method(stub.url, tmp_path)
        with pytest.raises(EndpointError, match="OPENAI_API_KEY holds a character") as raised:
            method.transcribe(word_images(1), "en")
        assert KEY not in str(raised.value) and stub.requests == []
        assert not method.availability().ok and KEY not in method.availability().reason


# -- the cache ----------------------------------------------------------------------------------
def test_the_answer_cache_tells_servers_and_models_apart(tmp_path):
    with Stub(answers("apple")) as first, Stub(answers("water")) as second:
        images = word_images(1)
        assert openai_method(first.url, tmp_path).transcribe(images, "en") == ["apple"]
        assert openai_method(second.url, tmp_path).transcribe(images, "en") == ["water"]
        assert second.posts == 1
        other_model = create(f"openai:other@{first.url}", {"backoff": "0"})
        other_model.prepare(RunContext(dataset=None, seed=0, cache_dir=tmp_path))
        other_model.transcribe(images, "en")
        assert first.posts == 2
        assert openai_method(first.url, tmp_path).transcribe(images, "en") == ["apple"]   # cached
        assert first.posts == 2


# -- --method-timeout ---------------------------------------------------------------------------
def stalls(h, stub):
    end = time.monotonic() + STALL_S
    while time.monotonic() < end and not stub.closing.is_set():
        time.sleep(0.05)
    send(h, 200, chat("late"))


@pytest.mark.parametrize("n_images", [1, 4])
def test_method_timeout_cuts_off_stuck_requests(n_images, tmp_path):
    from bench.engine.runner import MethodTimeout, _deadline

    with Stub(stalls) as stub:
        method = openai_method(stub.url, tmp_path, timeout=30, retries=0, concurrency=4)
        started = time.monotonic()
        with pytest.raises(MethodTimeout):
            with _deadline(0.5):
                method.transcribe(word_images(n_images), "en")
        assert time.monotonic() - started < 1.5
        # no request outlives it: the worker threads end at once, their connections closed
        end = time.monotonic() + 1
        while any(t.name.startswith("openai-chat") for t in threading.enumerate()) and time.monotonic() < end:
            time.sleep(0.02)
        assert not [t.name for t in threading.enumerate() if t.name.startswith("openai-chat")]
        assert stub.posts == n_images


def test_a_run_records_the_failure_without_the_key(tmp_path, toy_dataset, monkeypatch):
    from bench.engine.runner import RunConfig, run

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with Stub(echo_key_401) as stub:
        name = f"openai:tiny@{stub.url}"
        outcomes = run(toy_dataset, RunConfig(methods=[name], protocols=["id"], results_dir=tmp_path / "results",
                                              cache_dir=tmp_path / "cache", limit=4, n_boot=10,
                                              method_options={name: {"backoff": "0", "retries": "0"}}))
        assert [o.status for o in outcomes] == ["failed"] and "HTTP 401" in outcomes[0].message
        assert KEY not in outcomes[0].message
        assert "HTTP 401" in files_text(tmp_path / "results")
        assert KEY not in files_text(tmp_path)
