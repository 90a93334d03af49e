"""The committed leaderboard is exactly what `bench leaderboard` makes of the committed results.

A byte-for-byte check of the whole rendering (tables, bold, marks, sections) against a file a
reader can open, and the guard that nobody edits leaderboard.md by hand or forgets to rebuild it.
"""

from pathlib import Path

from bench.views.leaderboard import build_leaderboard

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_leaderboard_is_the_committed_results_rendered(monkeypatch):
    monkeypatch.chdir(ROOT)   # the leaderboard names the folder it read as given: `results/`
    made = build_leaderboard(Path("results"))
    assert made == (ROOT / "leaderboard.md").read_text(), \
        "leaderboard.md is not what `bench leaderboard` makes of results/: run it and commit the file"


# --- the pieces the board is made of (from the mutation run's survivors) --------------------------

import re  # noqa: E402
from dataclasses import replace  # noqa: E402

import pytest  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402

from bench.views.leaderboard import MISSING, Table, _not_run_section, leaderboard_sections, md_code  # noqa: E402
from bench.store.results import iter_results  # noqa: E402


@pytest.mark.parametrize("text", ["a", "a`b", "`a", "a`", "``x``", " a ", " a", "a ", "a``b`c", "x\ny", "  ", "`"])
def test_md_code_is_read_back_as_exactly_its_text(text):
    # CommonMark: the fence must be longer than any backtick run inside, and a span that starts
    # or ends with a backtick, or starts and ends with a space, needs a space of padding each side.
    [inline] = [t for t in MarkdownIt("commonmark").parse(f"x {md_code(text)} y") if t.type == "inline"]
    spans = [c.content for c in inline.children if c.type == "code_inline"]
    assert spans == [re.sub(r"\s*\n\s*", " ", text)], md_code(text)


def test_md_code_pads_only_where_commonmark_needs_it():
    assert md_code("ours") == "`ours`" and md_code("a`b") == "``a`b``" and md_code("`a") == "`` `a ``"
    assert md_code(" a") == "` a`" and md_code(" a ") == "`  a  `"


def test_results_not_in_the_tables_one_line_each_with_the_fix_and_reasons_per_method():
    [record] = [r for r in iter_results(ROOT / "results") if r.method_name == "random" and r.protocol.name == "ood"]
    rd = replace(record.protocol, name="rd")

    def made(name, status, error, protocol=record.protocol):
        return replace(record, method={**record.method, "name": name}, status=status, error=error, protocol=protocol)

    rows = [made("b", "failed", {"message": "boom", "fix": "pip install b"}),
            made("a", "failed", {"message": "crashed"}),
            made("c", "not_applicable", {"reason": "c answers none of ood's subtasks (en only)"}),
            made("c", "not_applicable", {"reason": ""}, rd),
            made("d", "not_applicable", None)]
    [section] = _not_run_section(rows + [record])
    assert (section.title, section.key) == ("Not in the tables", "not-run")
    assert section.blocks == ("\n".join([
        "- `a` / `ood`: failed. crashed",
        "- `b` / `ood`: failed. boom Fix: pip install b",
        "- `c`: not applicable to `ood`, `rd` (c answers none of their subtasks (en only))",
        "- `d`: not applicable to `ood`"]),)
    assert _not_run_section([record]) == []


def test_every_cell_of_the_committed_board_sorts_by_what_it_shows():
    # The report sorts columns by Cell.sort and links Cell.method: neither is in the Markdown.
    names = {r.method_name for r in iter_results(ROOT / "results")}
    sections = leaderboard_sections(ROOT / "results")
    keys = [s.key for s in sections if s.title and s.level == 2]
    assert len(keys) == len(set(keys)) and all(isinstance(k, str) and k for k in keys)
    assert {"efficiency", "not-run"} <= set(keys)
    n_tables = 0
    for section in sections:
        for table in (b for b in section.blocks if isinstance(b, Table)):
            n_tables += 1
            for row in (r for r in table.rows if r.heading is None):
                for cell in row.cells:
                    if cell.code:                      # a name (method, style), sorted by itself
                        assert cell.sort == cell.text
                        # a method's name links to it (the report); nothing else does
                        assert cell.method == (cell.text if cell.text in names else None), cell
                for cell in row.cells[table.left:]:
                    shown = re.sub(r"[×%+\s]", "", cell.text.replace("**", ""))
                    if cell.text == MISSING:
                        assert cell.sort is None
                    elif re.fullmatch(r"-?\d+(\.\d+)?", shown):
                        assert isinstance(cell.sort, (int, float)), (section.key, cell)
            # numbers sort as shown: a column's order by Cell.sort is its order by the text's number
            for col in range(table.left, len(table.header)):
                pairs = [(c.sort, float(re.sub(r"[×%+\s]", "", c.text))) for r in table.rows if r.heading is None
                         for c in [r.cells[col]] if c.sort is not None and re.fullmatch(
                             r"-?\d+(\.\d+)?", re.sub(r"[×%+\s]", "", c.text))]
                by_sort = [t for _, t in sorted(pairs, key=lambda p: p[0])]
                assert all(a <= b + 1e-9 for a, b in zip(by_sort, by_sort[1:])) or \
                       all(a >= b - 1e-9 for a, b in zip(by_sort, by_sort[1:])), (section.key, table.header[col])
    assert n_tables > 5


def test_sections_are_keyed_by_what_they_show():
    # The report anchors and links sections by key: a protocol's by its name, an axis by its title.
    from bench.evaluation.protocols import PROTOCOLS

    keys = [s.key for s in leaderboard_sections(ROOT / "results", tiers=False)]
    protocols = [name for name, spec in PROTOCOLS.items() if spec.axis is None and spec.columns]
    axes = list(dict.fromkeys(spec.axis[0] for spec in PROTOCOLS.values() if spec.axis))
    assert keys == ["", "dataset", *protocols, *axes, "style", "marks", "", "efficiency", "plots", "not-run", ""]
    # Another tier's sections follow, keyed under the tier's name so that no key repeats.
    tiered = [s.key for s in leaderboard_sections(ROOT / "results")][len(keys):]
    assert tiered[0] == "tier-hand" and "hand/ood" in tiered and "hand/dataset" in tiered
    named = [k for k in tiered if k]
    assert len(named) == len(set(named)) and not set(named) & set(keys)


def test_every_link_of_the_committed_leaderboard_resolves(monkeypatch):
    monkeypatch.chdir(ROOT)
    links = re.findall(r"\]\(([^)#]+)\)", (ROOT / "leaderboard.md").read_text())
    assert any("results/hand/plots/" in link for link in links)
    assert [link for link in links if "://" not in link and not (ROOT / link).exists()] == []


def test_the_board_of_a_given_record_list_shows_exactly_those_records():
    from bench.views.leaderboard import build_leaderboard

    records = iter_results(ROOT / "results")
    only_ood = [r for r in records if r.protocol.name == "ood"]
    board = build_leaderboard(ROOT / "results", only_ood)
    assert "(`ood`)" in board and "(`id`)" not in board      # a protocol without rows is left out, not the rest
    random_ood = [r for r in only_ood if r.method_name == "random"]

    def ood_rows(results):
        [section] = [s for s in leaderboard_sections(ROOT / "results", results) if s.key == "ood"]
        return {r.cells[0].text for b in section.blocks if isinstance(b, Table) for r in b.rows if r.heading is None}

    assert ood_rows(random_ood) == {"random"} and ood_rows(only_ood) == {r.method_name for r in only_ood if r.ok}


def test_the_dataset_line_names_the_reference_datasets_and_their_notes_and_marks_other_data():
    from bench.views.leaderboard import build_leaderboard

    records = [r for r in iter_results(ROOT / "results") if r.protocol.name == "ood" and r.ok]
    ref = records[0].dataset
    renamed = replace(records[1], dataset=replace(ref, name="twin"))           # same data, second name
    no_note = replace(records[2], dataset=replace(ref, note=None))
    other = replace(records[3], method={**records[3].method, "name": "elsewhere"},
                    dataset=replace(ref, name="other-set", fingerprint="0" * 16))
    failed_other = replace(records[4], status="failed", metrics=None, error={"message": "x"},
                           method={**records[4].method, "name": "failed-elsewhere"},
                           dataset=replace(ref, name="failed-set", fingerprint="1" * 16))
    from bench.evaluation.ranking import TIE_POLICY

    fresh = next(r for r in records if r.config.tie_policy == TIE_POLICY)
    old_ties = replace(fresh, method={**fresh.method, "name": "old-ties"},
                       config=replace(fresh.config, tie_policy=None))                     # ranked by key order
    board = build_leaderboard(ROOT / "results", records + [renamed, no_note, other, failed_other, old_ties])
    assert [l for l in board.splitlines() if "`old-ties` †" in l]
    assert not [l for l in board.splitlines() if f"`{fresh.method_name}` †" in l]
    [line] = [l for l in board.splitlines() if l.startswith("Dataset: ")]
    names = sorted({ref.name, "twin"})
    assert line.startswith(f"Dataset: {names[0]}, {names[1]} (fingerprint `{ref.fingerprint[:16]}`).")
    assert line.count(" Note: ") == (1 if ref.note else 0) and "other-set" not in line and "failed-set" not in line
    assert "- † stale: made under an older protocol version or tie policy, or on a different dataset than the " \
           "other rows; re-run it." in board.replace("\\", "")


@pytest.mark.parametrize("text, shown", [("a|b", "a\\|b"), ("a\\|b", "a\\\\\\|b"), ("<x>", "\\<x>"),
                                          ("a\\\\<b", "a\\\\\\\\\\<b"), ("one\n two", "one two")])
def test_md_text_escapes_pipes_and_angle_brackets_keeping_backslashes_before_them(text, shown):
    from bench.views.leaderboard import md_text

    assert md_text(text) == shown
    [inline] = [t for t in MarkdownIt("commonmark").parse(md_text(text)) if t.type == "inline"]
    assert "".join(c.content for c in inline.children) == re.sub(r"\s*\n\s*", " ", text)


def test_a_name_cell_carries_every_mark_that_applies():
    from bench.views.leaderboard import STALE, SUBSET, _name_cell

    [record] = [r for r in iter_results(ROOT / "results") if r.method_name == "random" and r.protocol.name == "ood"]
    marks = set()
    cell = _name_cell(record, record.dataset.fingerprint, marks)
    assert (cell.text, cell.sort, cell.method, cell.suffix, cell.code, marks) == ("random", "random", "random", "", True, set())
    odd = replace(record, dataset=replace(record.dataset, fingerprint="0" * 16),
                  config=replace(record.config, limit=5), metrics={**record.metrics, "answered_subtasks": ["en", "es"]})
    cell = _name_cell(odd, record.dataset.fingerprint, marks)
    assert cell.suffix == f" {STALE} (en, es only) {SUBSET}" and marks == {STALE, SUBSET}
