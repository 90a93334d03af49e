"""OCR baselines on clean rendered words: real engines, real weights (those that ship offline)."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from adapters.easyocr import EasyOCR
from bench.data import assets as assets_mod
from bench.data.toy import TOY_CONCEPTS
from bench.api.options import OptionError
from bench.evaluation.ranking import edit_similarity_scorer
from bench.api.registry import create
from bench.store.results import result_path
from bench.engine.runner import RunConfig, run
from bench.data.schema import ImageItem

# Clean words every engine must read exactly. No ñ (not in RapidOCR's character set) and no
# accents (its PP-OCRv4 model drops them even on clean print: "corazón" -> "corazon").
WORDS = {"en": ["apple", "water", "house"], "es": ["agua", "escuela", "ciudad"], "zh": ["苹果", "学校", "音乐"]}
FONTS = {"en": ("comic-neue", "ComicNeue-Regular.otf"), "es": ("comic-neue", "ComicNeue-Regular.otf"),
         "zh": ("lxgw-wenkai", "LXGWWenKai-Regular.ttf")}


@pytest.fixture(scope="module")
def font_files(asset_cache):
    return {lang: assets_mod.assets_dir(asset_cache) / name / file for lang, (name, file) in FONTS.items()}


def render(text: str, font_file) -> Image.Image:
    font = ImageFont.truetype(str(font_file), 40)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 24, bottom - top + 24), 255)
    ImageDraw.Draw(image).text((12 - left, 12 - top), text, font=font, fill=0)
    return image


def images(lang, font_files, words=None):
    """The words rendered, as the items a method is handed."""
    out = []
    for i, word in enumerate(words or WORDS[lang]):
        image = render(word, font_files[lang])
        out.append(ImageItem(f"{lang}-{i}", image, lang, hashlib.sha256(image.tobytes()).hexdigest()))
    return out


def _available(name):
    method = create(name)
    available = method.availability()
    if not available.ok:
        pytest.skip(f"{name} unavailable here: {available.reason}")
    return method


@pytest.mark.parametrize("name", ["rapidocr", "tesseract", "ppocrv6"])
@pytest.mark.parametrize("lang", ["en", "es", "zh"])
def test_engine_reads_clean_words(name, lang, font_files):
    method = _available(name)
    assert method.transcribe(images(lang, font_files), lang) == WORDS[lang]


def test_easyocr_reads_clean_english_with_the_offline_weights(font_files):
    method = EasyOCR()
    try:
        method.weights("en")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    if not method.availability().ok and "not installed" in method.availability().reason:
        pytest.skip(method.availability().reason)
    assert method.transcribe(images("en", font_files), "en") == WORDS["en"]


def test_rapidocr_cannot_write_enye_and_says_so(font_files):
    method = _available("rapidocr")
    [text] = method.transcribe(images("es", font_files, ["montaña"]), "es")
    assert "ñ" not in text
    assert "ñ" in method.info.config["characters_missing"]


def test_ppocrv6_writes_what_v4_cannot(font_files):
    # PP-OCRv6's dictionary has ñ, ¿ and the accented vowels; PP-OCRv4's has none of ñ ¿.
    method = _available("ppocrv6")
    words = ["montaña", "canción", "¿Mañana?"]
    assert method.transcribe(images("es", font_files, words), "es") == words
    assert method.info.config["characters_missing"] == "¡"


def test_ppocrv6_ctc_scores_through_its_own_posteriors(font_files):
    method = _available("ppocrv6-ctc")
    lexicon = [c[2] for c in TOY_CONCEPTS]
    words = lexicon[:4]
    scores = method.score_texts(images("es", font_files, words), "es", {"es": lexicon})["es"]
    assert [lexicon[j] for j in scores.argmax(1)] == words


def test_the_shortlist_row_scores_its_shortlist_exactly_and_ranks_the_rest_below(font_files):
    exact = _available("ppocrv6-ctc")
    lexicon = [c[2] for c in TOY_CONCEPTS]
    items = images("es", font_files, lexicon[:3])
    full = exact.score_texts(items, "es", {"es": lexicon})["es"]
    short = create("ppocrv6-ctc-shortlist", {"shortlist": "4"})
    assert short.info.name == "ppocrv6-ctc-shortlist" and short.info.config["shortlist"] == 4
    assert short.info.cache_key() != exact.info.cache_key()      # its own rows, never ppocrv6-ctc's
    approx = short.score_texts(items, "es", {"es": lexicon})["es"]
    for row_exact, row_short in zip(full, approx):
        kept = np.isclose(row_exact, row_short, rtol=0, atol=0)
        assert kept.sum() == 4                                      # four words scored exactly
        assert row_short[~kept].max() < row_short[kept].min()       # the others below them
    assert (approx.argmax(1) == full.argmax(1)).all()
    wide = create("ppocrv6-ctc-shortlist", {"shortlist": str(len(lexicon))})
    np.testing.assert_array_equal(wide.score_texts(items, "es", {"es": lexicon})["es"], full)
    with pytest.raises(OptionError, match="shortlist must be at least 1"):
        create("ppocrv6-ctc-shortlist", {"shortlist": "0"})


def test_tesseract_latin_model_is_a_spanish_only_row(font_files):
    from bench.evaluation.protocols import Subtask

    method = _available("tesseract-latn")
    assert method.options.spanish == "Latin" and method.info.config["language_packs"]["es"] == "Latin"
    assert method.transcribe(images("es", font_files), "es") == WORDS["es"]

    def subtask(q, g):
        return Subtask("x", "image", (), q, "text", (), g, ())

    assert method.answers(subtask("es", "es")) and not method.answers(subtask("en", "en"))
    assert create("tesseract-latn+dict").answers(subtask("es", "en"))
    assert not create("tesseract-latn+dict").answers(subtask("en", "es"))
    with pytest.raises(OptionError, match="spanish must be one of spa, Latin, spa\\+Latin"):
        create("tesseract", {"spanish": "cat"})


def test_edit_similarity_ranks_the_right_lexicon_entry(font_files):
    method = _available("rapidocr")
    for i, lang in enumerate(("en", "zh", "es")):
        lexicon = [c[i] for c in TOY_CONCEPTS]
        words = [w for w in WORDS[lang] if w in lexicon]
        transcripts = method.transcribe(images(lang, font_files, words), lang)
        scores = edit_similarity_scorer(transcripts, lexicon)(0, len(words))
        assert [lexicon[j] for j in scores.argmax(1)] == words


def test_ctc_scoring_picks_the_word_even_where_the_charset_lacks_a_letter(font_files):
    method = _available("rapidocr-ctc")
    for i, lang in enumerate(("en", "zh", "es")):
        lexicon = [c[i] for c in TOY_CONCEPTS]
        words = [w for w in lexicon if lang != "es" or "ñ" in w][:4]   # es: the ñ words only
        scores = method.score_texts(images(lang, font_files, words), lang, {lang: lexicon})[lang]
        assert scores.shape == (len(words), len(lexicon)) and np.isfinite(scores).all()
        assert [lexicon[j] for j in scores.argmax(1)] == words


def test_missing_engines_are_unavailable_with_reason_and_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TESSERACT_CMD", str(tmp_path / "no-tesseract"))
    tess = create("tesseract").availability()
    assert not tess.ok and "does not run" in tess.reason and "apt-get install" in tess.fix

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("adapters.easyocr.model_dirs", lambda explicit=None: [tmp_path / "models"])
    easy = EasyOCR().availability()
    assert not easy.ok
    if "not installed" not in easy.reason:
        assert "zh_sim_g2.pth" in easy.reason and str(tmp_path / "models") in easy.reason
        assert "HWR_BENCH_EASYOCR_MODELS" in easy.fix


def test_ocr_plus_embedding_crosses_scripts(tmp_path, toy_dataset):
    """oracle-text + embed: perfect transcripts, so cross-lingual hits come from the text encoder."""
    outcomes = run(toy_dataset, RunConfig(methods=["ocr+embed:oracle-text", "oracle-text"],
                                          protocols=["id", "xling"], results_dir=tmp_path / "r",
                                          cache_dir=tmp_path / "c", n_boot=0))
    assert {o.status for o in outcomes} == {"ok"}

    def acc(method, protocol):
        result = json.loads(result_path(tmp_path / "r", method, protocol).read_text())
        return result["metrics"]["overall"]["acc@1"]["value"]

    assert acc("ocr+embed:oracle-text", "id") == 1.0
    assert acc("ocr+embed:oracle-text", "xling") > 0.5 > acc("oracle-text", "xling")


def test_ocr_plus_embedding_takes_its_engines_options_and_name():
    method = create("rapidocr+embed", {"rec_batch": "8"})
    assert method.options is method.ocr.options and method.ocr.options.rec_batch == 8
    assert method.info.name == "rapidocr+embed" and method.ocr._load().batch == 8
    assert create("ocr+embed:rapidocr").info.name == "ocr+embed:rapidocr"
    with pytest.raises(OptionError, match="'psm'.*known: rec_batch"):
        create("rapidocr+embed", {"psm": "7"})
    assert create("ocr+embed:tesseract", {"psm": "6"}).ocr.options.psm == 6
    with pytest.raises(ValueError, match="random is not a transcription method"):
        create("ocr+embed:random")
