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
