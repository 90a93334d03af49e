"""Method groups: the sections a method is filed under, and what each group means to the views.

A method declares its group in ``MethodInfo.group`` (results store the word). What the views do
with a group is data here, in ``GROUP_INFO``, never a name compared in a view: its section title,
and its role: a *baseline* (sanity references: never bold, left out of cross-method plots and
comparisons), a *variant* (rows that vary another method, ablations: compared within their own
section only), or *featured* (the benchmark's reference model: ``bench plot`` projects it and the
report compares it with its strongest rival). The order of ``Group`` is the leaderboard's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Group(str, Enum):
    """Leaderboard sections, in the paper's order; ``reference`` holds sanity baselines."""

    REFERENCE = "reference"
    TWO_STAGE = "two-stage"
    END_TO_END = "end-to-end"
    VLM = "vlm"
    OURS = "ours"
    ABLATION = "ablation"


GROUPS: tuple[str, ...] = tuple(g.value for g in Group)


@dataclass(frozen=True)
class GroupInfo:
    title: str                 # the leaderboard's section heading
    baseline: bool = False     # a sanity reference, not a contender
    variant: bool = False      # variants of another method, compared among themselves only
    featured: bool = False     # the benchmark's own reference model

    @property
    def contender(self) -> bool:
        """Whether its methods stand in cross-method plots, style tables and rival searches."""
        return not (self.baseline or self.variant)


GROUP_INFO: dict[Group, GroupInfo] = {
    Group.REFERENCE: GroupInfo("Reference baselines", baseline=True),
    Group.TWO_STAGE: GroupInfo("Two-stage (OCR, then lexicon matching)"),
    Group.END_TO_END: GroupInfo("End-to-end embedding"),
    Group.VLM: GroupInfo("General vision-language models"),
    Group.OURS: GroupInfo("Ours", featured=True),
    Group.ABLATION: GroupInfo("Ours, ablations (`bench ablate`: reduced budget, small train split only; "
                              "compare within this group)", variant=True),
}


def group_info(group: str) -> GroupInfo:
    """A stored group's info; a group this harness does not know is a plain contender titled by its name."""
    return GROUP_INFO[Group(group)] if group in GROUPS else GroupInfo(group)


def group_order(group: str) -> int:
    """Where a group sits in a table: ``Group``'s order, unknown groups last."""
    return GROUPS.index(group) if group in GROUPS else len(GROUPS)
