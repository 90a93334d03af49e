"""Generative VLM adapters: answer parsing, a tiny random Qwen2-VL through `vlm:`, and `openai:`
against a local server that speaks the chat-completions format."""

import base64
import hashlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from adapters.openai_chat import EndpointError
from adapters.vlm import parse_answer, transcribe_prompt, translate_prompt
from bench.api.options import OptionError
from bench.evaluation.ranking import edit_similarity_scorer
from bench.api.registry import create
from bench.store.results import result_path
from bench.api.retriever import RunContext
from bench.engine.runner import RunConfig, run
from bench.data.schema import ImageItem


def as_items(images, lang="en"):
    return [ImageItem(f"img-{i}", im, lang, hashlib.sha256(im.tobytes()).hexdigest()) for i, im in enumerate(images)]


@pytest.mark.parametrize("reply, word", [
    ("apple", "apple"),
    ("  Apple.\n", "Apple"),
    ("The word is: \"manzana\"", "manzana"),
    ("Answer: **苹果**。", "苹果"),
    ("<think>It looks like a fruit.</think>\nwater", "water"),
    ("Transcription: 'casa'\nThis is Spanish for house.", "casa"),
    ("答案：房子", "房子"),
    ("", ""),
])
def test_parse_answer(reply, word):
    assert parse_answer(reply) == word


def test_prompts_name_the_languages():
    assert "Simplified Chinese" in transcribe_prompt("zh")
    assert "Spanish" in translate_prompt("en", "es") and "English" in translate_prompt("en", "es")


# -- transformers -----------------------------------------------------------------------------

def test_tiny_qwen2_vl_generates_through_the_adapter(tmp_path, toy_dataset):
    pytest.importorskip("torchvision")   # Qwen2-VL's video processor needs it
    from tiny_hf import save_tiny_qwen2_vl

    folder = save_tiny_qwen2_vl(tmp_path / "tiny-qwen2-vl")
    method = create(f"vlm:{folder}")
    assert method.availability().ok and method.info.params > 1000
    assert method.info.name == f"vlm:{folder}" and method.can_translate
    images = as_items([Image.new("L", (120, 40), 255), Image.new("L", (80, 40), 0)])
    texts = method.transcribe(images, "en")
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert method.transcribe(images, "en") == texts                       # greedy: deterministic
    outcomes = run(toy_dataset, RunConfig(methods=[f"vlm:{folder}"], protocols=["id", "xling"],
                                          results_dir=tmp_path / "r", cache_dir=tmp_path / "c",
                                          limit=2, n_boot=0))
    assert {o.status for o in outcomes} == {"ok"}, [o.message for o in outcomes]
    data = json.loads(result_path(tmp_path / "r", f"vlm:{folder}", "xling").read_text())
    assert data["metrics"]["overall"]["n_queries"] == 12


def test_vlm_without_weights_is_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("HWR_BENCH_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    available = create("vlm:Qwen/Qwen2-VL-2B-Instruct").availability()
    assert not available.ok and "Qwen/Qwen2-VL-2B-Instruct" in available.reason


# -- OpenAI-compatible server -----------------------------------------------------------------

ANSWERS = {60: "Answer: **apple**", 70: "The word is \"water\".", 80: "苹果", 90: "casa"}
STALL_WIDTH, FLAKY_WIDTH = 99, 90


class ChatServer(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.posts: list[int] = []
        self.prompts: list[str] = []
        self.failed_once: set[int] = set()

    def handle_error(self, request, client_address):
        pass   # the stalled request's client has hung up by design

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _reply(self, code, payload):
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(200, {"data": [{"id": "tiny"}]})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        url = request["messages"][0]["content"][0]["image_url"]["url"]
        width = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).width
        self.server.posts.append(width)
        self.server.prompts.append(request["messages"][0]["content"][1]["text"])
        if width == STALL_WIDTH:
            time.sleep(2)
            return self._reply(200, {"choices": [{"message": {"content": "late"}}]})
        if width == FLAKY_WIDTH and width not in self.server.failed_once:
            self.server.failed_once.add(width)
            return self._reply(500, {"error": "overloaded"})
        self._reply(200, {"choices": [{"message": {"role": "assistant", "content": ANSWERS[width]}}]})


@pytest.fixture
def chat_server():
    server = ChatServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _openai(server, tmp_path, **options):
    method = create(f"openai:tiny@{server.url}", {"backoff": "0", **{k: str(v) for k, v in options.items()}})
    method.prepare(RunContext(dataset=None, seed=0, cache_dir=tmp_path / "cache"))
    return method


def test_openai_parses_retries_ranks_and_caches(chat_server, tmp_path):
    method = _openai(chat_server, tmp_path)
    assert method.availability().ok
    images = as_items([Image.new("L", (w, 30), 255) for w in (60, 70, 90)])
    texts = method.transcribe(images, "en")
    assert texts == ["apple", "water", "casa"]
    assert chat_server.posts.count(FLAKY_WIDTH) == 2                       # a 500, then the answer
    lexicon = ["house", "apple", "casa", "water", "agua"]
    scores = edit_similarity_scorer(texts, lexicon)(0, 3)
    assert [lexicon[i] for i in np.argmax(scores, axis=1)] == ["apple", "water", "casa"]
    n_posts = len(chat_server.posts)
    assert _openai(chat_server, tmp_path).transcribe(images, "en") == texts   # a re-run is free
    assert len(chat_server.posts) == n_posts


def test_openai_gives_up_on_a_stalled_server(chat_server, tmp_path):
    method = _openai(chat_server, tmp_path, timeout=0.3, retries=1)
    started = time.perf_counter()
    with pytest.raises(EndpointError, match="gave up after 2 attempts"):
        method.transcribe(as_items([Image.new("L", (STALL_WIDTH, 30), 255)]), "en")
    assert time.perf_counter() - started < 5


def test_openai_without_a_server_is_unavailable_with_the_fix(tmp_path):
    method = create("openai:Qwen/Qwen2.5-VL-7B-Instruct@http://127.0.0.1:9/v1", {"retries": "0"})
    available = method.availability()
    assert not available.ok and "127.0.0.1:9" in available.reason and "vllm serve" in available.fix


def test_openai_options_are_typed_and_checked_and_the_name_keeps_the_url():
    spec = "Qwen/Qwen2.5-VL-7B-Instruct@http://127.0.0.1:9/v1"
    method = create(f"openai:{spec}", {"timeout": "2.5", "concurrency": "3"})
    assert method.options.timeout == 2.5 and method.options.concurrency == 3
    assert method.info.name == f"openai:{spec}"
    with pytest.raises(OptionError, match="'concurrency'.*not an integer"):
        create(f"openai:{spec}", {"concurrency": "many"})
    with pytest.raises(OptionError, match="concurrency must be at least 1"):
        create(f"openai:{spec}", {"concurrency": "0"})


def test_openai_translates_with_the_translation_prompt(chat_server, tmp_path):
    method = _openai(chat_server, tmp_path)
    assert method.can_translate
    assert method.translate(as_items([Image.new("L", (80, 30), 255)], "zh"), "zh", "en") == ["苹果"]
    assert chat_server.prompts[-1] == translate_prompt("zh", "en")
