"""The paper's 28 compared systems (Table 2): each one a named method here, listed by `bench methods
--paper`, available or unavailable with its reason and fix in one line.

Every architecture transformers ships among them runs through `bench run` as a tiny random
checkpoint the test builds (nothing is downloaded); the remote-code, package and unmaintained ones
are checked for the exact message a user gets.
"""

import hashlib
import importlib.util
import json

import pytest
from PIL import Image

from bench.api.registry import METHODS, create
from bench.data.schema import ImageItem
from bench.engine.runner import RunConfig, run
from bench.store.results import result_path
from bench.views.paper import PAPER_BASELINES, PAPER_ROWS, paper_row
from test_cli import bench
from test_vlm_adapters import chat_server  # noqa: F401  (the local chat-completions server fixture)

FAMILY_OF_COHORT = {"two-stage": "transcription", "vlm": "transcription", "end-to-end": "embedding"}


def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HWR_BENCH_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_the_table_holds_the_papers_28_systems_each_registered_in_its_family():
    assert len(PAPER_BASELINES) == 28 and len({r.name for r in PAPER_BASELINES}) == 28
    assert len({r.method for r in PAPER_ROWS}) == len(PAPER_ROWS)
    for row in PAPER_BASELINES:
        cls = METHODS.method_class(row.method)        # resolves: no row is missing from the harness
        assert cls.family.value == FAMILY_OF_COHORT[row.cohort], row.name
    assert paper_row("gme:7b").figure("ood") == 0.7802 and paper_row("gme:7b").figure("xling") == 0.4289
    assert paper_row("rapidocr").figure("id", "nes") == 0.9081 and paper_row("random") is None


@pytest.mark.parametrize("row", PAPER_BASELINES, ids=lambda r: r.method)
def test_each_row_is_available_or_says_why_and_how_in_one_line(row, monkeypatch, tmp_path):
    offline(monkeypatch, tmp_path)
    method = create(row.method)
    assert method.info.name == row.method
    available = method.availability()
    if not available.ok:
        assert available.reason and available.fix, row.name
        assert "\n" not in available.reason + available.fix


def test_bench_methods_paper_lists_all_28(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HWR_BENCH_MODELS": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
           "COLUMNS": "400"}
    out = bench("methods", "--paper", cwd=tmp_path, env_changes=env).stdout
    lines = [line for line in out.splitlines() if line.startswith("│ ") and not line.startswith("│  ")]
    assert len(lines) == 28, out
    for row, line in zip(PAPER_BASELINES, lines):
        assert f" {row.method} " in line and f"{row.ood[0]:.4f}" in line
        assert "broken" not in line and ("│ yes" in line or "│ no: " in line)


# -- transformers architectures, tiny and random, through the harness -----------------------------

TINY = [  # (builder in tiny_hf, how the method is named, the paper rows it stands for)
    ("save_tiny_trocr", "trocr", "TrOCR (VisionEncoderDecoder)"),
    ("save_tiny_florence2", "florence2", "Florence-2-Large"),
    ("save_tiny_chinese_clip", "clip", "Chinese CLIP B/L/H"),
    ("save_tiny_qwen2_vl", "gme", "GME-Qwen2VL-2B/7B"),
    ("save_tiny_llava_next", "e5-v", "E5-V"),
    ("save_tiny_mllama", "vlm", "Llama-3.2-11B-Vision"),
    ("save_tiny_janus", "vlm", "Janus-Pro-7B"),
    ("save_tiny_qwen3_vl", "vlm", "QWen3-VL-4B"),
    ("save_tiny_internvl", "vlm", "InternVL3.5-8B"),
]


@pytest.mark.parametrize("builder, kind, rows", TINY, ids=[t[0][10:] for t in TINY])
def test_tiny_architecture_runs_through_bench_run(builder, kind, rows, tmp_path, toy_dataset):
    pytest.importorskip("torchvision")   # video processors of the Qwen and InternVL families import it
    import tiny_hf

    folder = getattr(tiny_hf, builder)(tmp_path / builder)
    name = f"{kind}:{folder}"
    method = create(name)
    assert method.availability().ok and method.info.params > 1000
    assert method.info.config["device"] == "auto" and "@local:" in method.info.version
    outcomes = run(toy_dataset, RunConfig(methods=[name], protocols=["id"], results_dir=tmp_path / "r",
                                          cache_dir=tmp_path / "c", limit=2, n_boot=0))
    assert {o.status for o in outcomes} == {"ok"}, [o.message for o in outcomes]
    record = json.loads(result_path(tmp_path / "r", name, "id").read_text())
    assert record["metrics"]["overall"]["n_queries"] == 6 and record["method"]["family"] == method.family.value


def test_a_last_token_embedding_reads_the_last_attended_token_on_either_padding_side():
    torch = pytest.importorskip("torch")
    from adapters.mllm_embed import last_token_states

    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert last_token_states(hidden, right).flatten().tolist() == [1.0, 7.0]
    assert last_token_states(hidden, left).flatten().tolist() == [3.0, 7.0]


def test_device_and_dtype_options_are_checked():
    from bench.api.options import OptionError

    with pytest.raises(OptionError, match="device must be auto, cpu, cuda or cuda:N"):
        create("gme", {"device": "tpu"})
    assert create("trocr", {"device": "cuda:1", "dtype": "bfloat16"}).info.config["dtype"] == "bfloat16"


# -- what cannot run in-process: remote code, packages, a server, unmaintained -----------------------

@pytest.mark.parametrize("name, repo", [("mm-embed", "nvidia/MM-Embed"),
                                        ("nomic-embed-vision", "nomic-ai/nomic-embed-vision-v1.5")])
def test_remote_code_models_say_so_and_the_option_that_allows_it(name, repo, monkeypatch, tmp_path):
    offline(monkeypatch, tmp_path)
    available = create(name).availability()
    assert not available.ok
    assert available.reason == (f"{repo} runs only with the code in its hub repository (trust_remote_code), "
                                "which hwr-bench does not execute unasked")
    assert f"--option {name}.trust_remote_code=true" in available.fix and f"huggingface.co/{repo}" in available.fix
    trusted = create(name, {"trust_remote_code": "true"}).availability()   # then only the weights are missing
    assert not trusted.ok and "not found" in trusted.reason and "trust_remote_code" not in trusted.reason


@pytest.mark.parametrize("preset, repo", [("phi-3.5-vision", "microsoft/Phi-3.5-vision-instruct"),
                                          ("minicpm-o-2.6", "openbmb/MiniCPM-o-2_6")])
def test_remote_code_vlms_point_to_vllm_and_the_openai_adapter(preset, repo, monkeypatch, tmp_path):
    offline(monkeypatch, tmp_path)
    available = create(f"vlm:{preset}").availability()
    assert not available.ok and "trust_remote_code" in available.reason
    assert available.fix == (f"serve it with vLLM (`vllm serve {repo} --trust-remote-code --port 8000`) and run "
                             f"openai:{repo}@http://localhost:8000/v1")


@pytest.mark.parametrize("name, module, extra", [("parseq", "doctr", "doctr"), ("surya", "surya", "surya"),
                                                 ("bge-visualized", "FlagEmbedding", "bge")])
def test_package_backed_rows_name_their_extra(name, module, extra):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    available = create(name).availability()
    assert not available.ok and available.fix == f"pip install -e '.[{extra}]'"


def test_abinet_is_listed_as_unmaintained_with_the_transcripts_route():
    available = create("abinet").availability()
    assert not available.ok and available.reason.startswith("no maintained package runs ABINet")
    assert "transcripts:FILE" in available.fix


def test_deepseek_ocr_asks_the_server_with_its_ocr_prompt(chat_server, tmp_path):  # noqa: F811
    method = create(f"deepseek-ocr:{chat_server.url}", {"retries": 0})
    assert method.availability().ok and not method.can_translate
    items = [ImageItem("a", Image.new("L", (60, 40), 255), "en", "h")]
    assert method.transcribe(items, "en") == ["apple"] and chat_server.prompts == ["Free OCR."]
    assert method.info.name == f"deepseek-ocr:{chat_server.url}" and method.info.group.value == "two-stage"


def test_deepseek_ocr_without_a_server_says_how_to_start_one():
    available = create("deepseek-ocr:http://127.0.0.1:9/v1", {"retries": 0, "timeout": 1}).availability()
    assert not available.ok and "vllm serve deepseek-ai/DeepSeek-OCR --trust-remote-code" in available.fix
    assert "deepseek-ocr:http://HOST:8000/v1" in available.fix


# -- transcripts:FILE ------------------------------------------------------------------------------

def _items(keys):
    image = Image.new("L", (8, 8), 255)
    return [ImageItem(k, image, "en", hashlib.sha256(k.encode()).hexdigest()) for k in keys]


def test_transcripts_file_scores_any_tools_output(tmp_path, toy_dataset):
    path = tmp_path / "truth.tsv"
    path.write_text("key\ttext\n" + "".join(f"{s.key}\t{s.text}\n" for s in toy_dataset.samples), encoding="utf-8")
    name = f"transcripts:{path}"
    outcomes = run(toy_dataset, RunConfig(methods=[name], protocols=["id"], results_dir=tmp_path / "r",
                                          cache_dir=None, limit=3, n_boot=0))
    assert {o.status for o in outcomes} == {"ok"}, [o.message for o in outcomes]
    record = json.loads(result_path(tmp_path / "r", name, "id").read_text())
    assert record["metrics"]["overall"]["acc@1"]["value"] == 1.0


def test_transcripts_file_refuses_gaps_and_malformed_lines(tmp_path):
    from bench.api import MethodOutputError

    path = tmp_path / "t.tsv"
    path.write_text("a\tapple\n", encoding="utf-8")
    with pytest.raises(MethodOutputError, match=r"t.tsv has no transcript for 1 image\(s\), e.g. 'b'"):
        create(f"transcripts:{path}").transcribe(_items(["a", "b"]), "en")
    path.write_text("a\tapple\nno tab here\n", encoding="utf-8")
    with pytest.raises(MethodOutputError, match=r"t.tsv:2: expected KEY<TAB>TRANSCRIPT"):
        create(f"transcripts:{path}").transcribe(_items(["a"]), "en")
    missing = create(f"transcripts:{tmp_path / 'none.tsv'}").availability()
    assert not missing.ok and "none.tsv does not exist" in missing.reason
