"""Unsafe or unbounded loads: a crafted ``train_state.pt``, archives whose members are links or
leave their folder, and missing or damaged rankings sidecars.

Corpora:
* ``CODE_RUNNING_STATES``: ``train_state.pt`` files that run code when unpickled (each would
  create a marker file); ``BROKEN_STATES``: files that are not a training state;
* ``ARCHIVE_CASES``: npm tarballs, Debian packages and PyPI wheels with symbolic links (absolute,
  escaping, inside the package), hard links, a device, and members whose path leaves the folder;
* ``SIDECAR_CASES``: a rankings sidecar missing, truncated, not gzip, not JSON, or not rankings.
"""

from __future__ import annotations

import builtins
import gzip
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from bench.core.errors import HwrBenchError
from bench.store.results import rankings_path, result_path
from test_cli import bench

# -- train_state.pt ----------------------------------------------------------------------------------


class _Reduce:
    """Unpickles as ``fn(*args)``: what a crafted checkpoint runs."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _torch_save(obj, path: Path, zipped: bool = True) -> None:
    import torch

    torch.save(obj, path, _use_new_zipfile_serialization=zipped)


def _state(payload) -> dict:
    return {"optim": payload, "step": 0, "elapsed": 0.0, "config": {}}


CODE_RUNNING_STATES = {
    "open() in the optimiser state (zip format)":
        lambda m, p: _torch_save(_state(_Reduce(builtins.open, str(m), "w")), p),
    "open() in the optimiser state (legacy format)":
        lambda m, p: _torch_save(_state(_Reduce(builtins.open, str(m), "w")), p, zipped=False),
    "exec() as the whole file (zip format)":
        lambda m, p: _torch_save(_Reduce(builtins.exec, f"open({str(m)!r}, 'w').write('ran')"), p),
    "os.system() as the step":
        lambda m, p: _torch_save({**_state({}), "step": _Reduce(os.system, f"touch '{m}'")}, p),
    "a bare pickle, no torch container":
        lambda m, p: p.write_bytes(pickle.dumps(_Reduce(builtins.open, str(m), "w"))),
    "eval() inside the config":
        lambda m, p: _torch_save({**_state({}), "config": {"extra": _Reduce(builtins.eval, f"open({str(m)!r}, 'w')")}}, p),
}


def _truncated(_m, p: Path) -> None:
    _torch_save(_state({"state": {}, "param_groups": []}), p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


BROKEN_STATES = {
    "empty file": lambda _m, p: p.write_bytes(b""),
    "not a torch file": lambda _m, p: p.write_bytes(b"this is not a checkpoint\n" * 10),
    "truncated": _truncated,
    "a list, not a state": lambda _m, p: _torch_save([1, 2, 3], p),
    "a state without its optimiser": lambda _m, p: _torch_save({"step": 3, "elapsed": 1.0}, p),
}


@pytest.fixture(scope="module")
def training(toy_dataset):
    pytest.importorskip("torch")
    from ourmodel.images import image_batch
    from ourmodel.model import ModelConfig
    from ourmodel.train import TrainConfig, TrainingData

    data = TrainingData(toy_dataset, lambda samples: image_batch(
        [toy_dataset.image_item(s.key).image for s in samples], 32, 128), cache_root=None)
    config = TrainConfig(backbone="mnv3", steps=2, batch_size=24, instances=3, val_every=1, checkpoint_every=1,
                         feature_noise=0.0, threads=2, pyramid_levels=[], spelled_i2t=0.0, char_dropout=0.0, distill=0.0)
    return data, config, ModelConfig(backbone="mnv3")


def _resume(training, out: Path):
    from ourmodel.train import train

    data, config, model_config = training
    return train(data, lambda m: {}, out, config, model_config, log=lambda line: None)


@pytest.mark.parametrize("case", sorted(CODE_RUNNING_STATES))
def test_a_crafted_train_state_runs_nothing_and_is_one_clear_error(case, training, tmp_path):
    marker = tmp_path / "PWNED"
    state = tmp_path / "run" / "last" / "train_state.pt"
    state.parent.mkdir(parents=True)
    CODE_RUNNING_STATES[case](marker, state)
    assert not marker.exists()                               # writing it ran nothing
    with pytest.raises(HwrBenchError) as caught:
        _resume(training, tmp_path / "run")
    assert not marker.exists(), "loading the state ran its code"
    message = str(caught.value)
    assert str(state) in message and "refused" in message and "\n" not in message


@pytest.mark.parametrize("case", sorted(BROKEN_STATES))
def test_a_state_that_is_not_one_is_one_clear_error(case, training, tmp_path):
    state = tmp_path / "run" / "last" / "train_state.pt"
    state.parent.mkdir(parents=True)
    BROKEN_STATES[case](None, state)
    with pytest.raises(HwrBenchError) as caught:
        _resume(training, tmp_path / "run")
    assert str(state) in str(caught.value) and "\n" not in str(caught.value)


def test_a_real_state_still_resumes(training, tmp_path):
    from ourmodel.train import load_train_state

    _resume(training, tmp_path / "run")
    state = load_train_state(tmp_path / "run" / "last" / "train_state.pt")   # weights_only=True
    assert state["step"] == 2 and state["optim"]["state"]
    lines = []
    from ourmodel.train import train

    data, config, model_config = training
    train(data, lambda m: {}, tmp_path / "run", config, model_config, log=lines.append)
    assert "resuming at step 2 " in " ".join(lines) + " "


# -- archives ----------------------------------------------------------------------------------------

SECRET = b"SECRET CONTENT OF THIS MACHINE"
NPM_FONT = "package/files/patrick-hand-latin-400-normal.woff2"     # what the patrick-hand asset keeps


def _tar(path: Path, members: list[tuple[str, str, object]]) -> Path:
    """members: (name, kind, value): kind "file" (bytes), "symlink"/"hardlink" (target), "device"."""
    with tarfile.open(path, "w:gz") as tf:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tf.addfile(info, io.BytesIO(value))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "device": tarfile.CHRTYPE}[kind]
            info.linkname = value or ""
            tf.addfile(info)
    return path


def _npm(*members):
    def build(tmp: Path, secret: Path) -> Path:
        return _tar(tmp / "patrick-hand-5.3.0.tgz",
                    [(n, k, (str(secret) if v == "SECRET" else v)) for n, k, v in members])
    return build


def _deb(links: list[tuple[str, str]], hard: list[tuple[str, str]] = ()):
    """A fonts-kristi package with one real font and the given symbolic and hard links."""
    def build(tmp: Path, secret: Path) -> Path:
        if shutil.which("dpkg-deb") is None:
            pytest.skip("dpkg-deb is not installed")
        root = tmp / "pkg"
        fonts = root / "usr/share/fonts/truetype/kristi"
        fonts.mkdir(parents=True)
        (fonts / "Kristi.ttf").write_bytes(b"GOOD FONT")
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN/control").write_text("Package: fonts-kristi\nVersion: 20101220-1\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: test\n")
        for name, target in links:   # "SECRET": the secret file's path (absolute, or after ESCAPE's ../)
            os.symlink(str(secret) if target == "SECRET" else target.replace("SECRET", str(secret).lstrip("/")),
                       fonts / name)
        for name, target in hard:
            os.link(fonts / target, fonts / name)
        out = tmp / "fonts-kristi_20101220-1_all.deb"
        subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)], check=True,
                       capture_output=True)
        return out
    return build


def _wheel(tmp: Path, secret: Path) -> Path:
    path = tmp / "fontpkg_caveat-2.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fontpkg_caveat/files/Caveat.ttf", b"GOOD FONT")
        link = zipfile.ZipInfo("fontpkg_caveat/files/Evil.ttf")
        link.external_attr = 0o120777 << 16                  # a symbolic link entry, its target as data
        zf.writestr(link, str(secret))
    return path


ESCAPE = "../" * 12
# (asset, archive builder, what must come of it: the files kept, or "refused")
ARCHIVE_CASES = {
    "npm: the font is an absolute symlink to a file of this machine":
        ("patrick-hand", _npm((NPM_FONT, "symlink", "SECRET")), set()),
    "npm: the font is a symlink inside the package":
        ("patrick-hand", _npm(("package/other.bin", "file", b"x"), (NPM_FONT, "symlink", "../other.bin")), set()),
    "npm: the font is a hard link":
        ("patrick-hand", _npm(("package/other.bin", "file", b"x"), (NPM_FONT, "hardlink", "package/other.bin")), set()),
    "npm: the font is a hard link to a file of this machine":
        ("patrick-hand", _npm((NPM_FONT, "hardlink", "SECRET")), set()),
    "npm: a device beside the font":
        ("patrick-hand", _npm((NPM_FONT, "file", b"GOOD FONT"), ("package/files/dev", "device", None)),
         {"patrick-hand-latin-400-normal.woff2"}),
    "npm: a member that leaves the folder (../)":
        ("patrick-hand", _npm((NPM_FONT, "file", b"GOOD FONT"), ("../escaped.woff2", "file", b"x")), "refused"),
    "npm: a member that leaves the folder (package/../../)":
        ("patrick-hand", _npm((NPM_FONT, "file", b"GOOD FONT"), ("package/../../escaped", "file", b"x")),
         "refused"),
    "deb: an absolute symlink to a file of this machine":
        ("kristi", _deb([("Evil.ttf", "SECRET")]), {"Kristi.ttf"}),
    "deb: a relative symlink out of the package":
        ("kristi", _deb([("Evil.ttf", ESCAPE + "SECRET")]), {"Kristi.ttf"}),
    "deb: a symlink to the package's own font":
        ("kristi", _deb([("Alias.ttf", "Kristi.ttf")]), {"Kristi.ttf"}),
    "deb: a hard link":
        ("kristi", _deb([], hard=[("Zz-hard.ttf", "Kristi.ttf")]), {"Kristi.ttf"}),   # after Kristi.ttf: the link
    "pypi: a symlink entry in the wheel":
        ("caveat", _wheel, {"Caveat.ttf"}),
}


@pytest.fixture
def fetch_from(monkeypatch, tmp_path):
    """``fetch_from(builder)``: assets download the archive ``builder`` makes; the lock file is a
    copy in tmp_path (``--update-lock`` must not touch the committed one)."""
    from bench.data import assets

    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    lock = tmp_path / "assets.lock.json"
    lock.write_text(assets.LOCK_PATH.read_text())
    monkeypatch.setattr(assets, "LOCK_PATH", lock)

    def use(builder):
        (tmp_path / "build").mkdir(exist_ok=True)
        archive = builder(tmp_path / "build", secret)

        def download(source, workdir):
            return Path(shutil.copy(archive, workdir))
        monkeypatch.setattr(assets, "_download", download)
        return archive
    return use


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_archive_links_are_never_followed_and_bad_members_are_one_error(case, fetch_from, tmp_path):
    from bench.data.assets import assets_dir, fetch_all

    name, builder, expected = ARCHIVE_CASES[case]
    archive = fetch_from(builder)
    cache, lines = tmp_path / "cache", []
    if expected == "refused":
        with pytest.raises(HwrBenchError) as caught:
            fetch_all(cache, [name], update_lock=True, report=lines.append)
        message = str(caught.value)
        assert archive.name in message and "escaped" in message and "\n" not in message
        assert not (assets_dir(cache) / name).exists()
        return
    got = fetch_all(cache, [name], update_lock=True, report=lines.append)
    folder = assets_dir(cache) / name
    kept = set(got[name]["files"]) if name in got else set()
    assert kept == expected, lines
    if not expected:
        assert any("unavailable" in line for line in lines) and not folder.exists()
    for path in folder.rglob("*") if folder.exists() else ():
        assert not path.is_symlink() and (not path.is_file() or SECRET not in path.read_bytes())


def test_a_refused_member_is_one_error_line_from_the_command(fetch_from, tmp_path, monkeypatch, capsys):
    from bench import cli

    fetch_from(ARCHIVE_CASES["npm: a member that leaves the folder (../)"][1])
    monkeypatch.setenv("HWR_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", ["bench", "data", "assets", "--update-lock", "--only", "patrick-hand"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert done.value.code == 2 and len(err) == 1 and err[0].startswith("error: ") and "escaped" in err[0], err


# -- rankings sidecars -------------------------------------------------------------------------------

def _rewrite(edit):
    def change(path: Path) -> None:
        payload = json.loads(gzip.decompress(path.read_bytes()))
        path.write_bytes(gzip.compress(json.dumps(edit(payload)).encode()))
    return change


def _first(payload: dict) -> dict:
    return next(iter(payload.values()))


SIDECAR_CASES = {
    "missing": lambda p: p.unlink(),
    "empty file": lambda p: p.write_bytes(b""),
    "truncated gzip": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "only the gzip header": lambda p: p.write_bytes(p.read_bytes()[:12]),
    "not gzip": lambda p: p.write_bytes(b"{\"en\": {}}"),
    "gzip of truncated JSON": lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:200])),
    "gzip of a JSON list": lambda p: p.write_bytes(gzip.compress(b"[1, 2, 3]")),
    "gzip of an empty object": lambda p: p.write_bytes(gzip.compress(b"{}")),
    "a subtask without relevant_ranks": _rewrite(lambda d: {k: {f: v for f, v in st.items() if f != "relevant_ranks"}
                                                             for k, st in d.items()}),
    "a subtask whose lists differ in length": _rewrite(lambda d: {**d, next(iter(d)): {
        **_first(d), "query_keys": _first(d)["query_keys"][:-1]}}),
    "a subtask that is a string": _rewrite(lambda d: {**d, next(iter(d)): "rankings"}),
}


@pytest.fixture(scope="module")
def sidecar_results(tmp_path_factory, toy_dataset):
    from bench.engine.runner import RunConfig, run

    root = tmp_path_factory.mktemp("adv-sidecars")
    run(toy_dataset, RunConfig(methods=["random", "oracle-text"], protocols=["ood"], results_dir=root / "results",
                               cache_dir=root / "cache", n_boot=20))
    return root / "results"


def _damaged(base: Path, folder: Path, case: str) -> Path:
    shutil.copytree(base, folder)
    sidecar = rankings_path(result_path(folder, "random", "ood"))
    SIDECAR_CASES[case](sidecar)
    return sidecar


def _error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(SIDECAR_CASES))
def test_compare_names_a_missing_or_damaged_sidecar_in_one_error_line(case, sidecar_results, tmp_path):
    sidecar = _damaged(sidecar_results, tmp_path / "results", case)
    proc = bench("compare", "random", "oracle-text", "-p", "ood", "--results-dir", str(tmp_path / "results"),
                 cwd=tmp_path, check=False)
    line = _error_line(proc)
    assert str(sidecar) in line and "interrupted" not in proc.stderr


@pytest.mark.parametrize("case", sorted(SIDECAR_CASES))
def test_the_report_leaves_out_a_gallery_whose_sidecar_is_damaged_and_says_so(case, sidecar_results, toy_dataset_path,
                                                                             tmp_path):
    sidecar = _damaged(sidecar_results, tmp_path / "results", case)
    common = ("--results-dir", str(tmp_path / "results"), "--dataset", str(toy_dataset_path), "--no-open")
    proc = bench("report", "--out", str(tmp_path / "site"), "--compare", "random,oracle-text", *common,
                 cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert str(sidecar) in proc.stderr and "Traceback" not in proc.stderr
    site = tmp_path / "site"
    method = next((site / "methods").glob("random*.html")).read_text()
    assert "Not shown:" in method and str(sidecar) in method and "Failures: ood" in method
    assert "Failures: ood" in next((site / "methods").glob("oracle-text*.html")).read_text()   # others still there
    compare = next((site / "compare").glob("*.html")).read_text()
    assert "Not shown:" in compare and str(sidecar) in compare
    assert "Unreadable rankings" in (site / "index.html").read_text()
    # A quick look at that one gallery has nothing else to show: the command's error.
    line = _error_line(bench("report", "--out", str(tmp_path / "quick"), "--method", "random", "--protocol", "ood",
                             *common, cwd=tmp_path, check=False))
    assert str(sidecar) in line and not (tmp_path / "quick").exists()
