"""The paper's objective (section 3.3): symmetric InfoNCE plus semantic consistency.

* ``infonce``: L_con = L_i2t + L_t2i over a batch of (image, text) pairs, with a
  learnable temperature (CLIP's log-scale parametrisation). In-batch items that
  share the query's semantic id are not negatives: they are removed from the
  denominator (their logits set to -inf), so a batch with several instances
  per id does not push synonyms apart.
* ``semantic_consistency``: L_sem over the union U of all image and text
  embeddings of the batch with the omni-modal mask M_ij = [id_i == id_j], i != j
  (same meaning = positive across languages and modalities):
  L_sem = 1 - sum_ij M_ij cos(u_i, u_j) / (sum_ij M_ij + eps).
* ``supervised_contrastive``: the SupCon form of the same mask, a variant to
  ablate against (it also pushes different ids apart).
Total: L = L_con + lambda * L_sem.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _same_id(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a[:, None] == b[None, :]


def infonce(image: torch.Tensor, text: torch.Tensor, ids: torch.Tensor, logit_scale: torch.Tensor,
            *, i2t: bool = True, t2i: bool = True) -> torch.Tensor:
    """image, text: (B, d) L2-normalised, row i a positive pair; ids: (B,) semantic ids."""
    logits = logit_scale.exp() * image @ text.T
    duplicate = _same_id(ids, ids) & ~torch.eye(len(ids), dtype=torch.bool, device=ids.device)
    logits = logits.masked_fill(duplicate, float("-inf"))
    target = torch.arange(len(ids), device=ids.device)
    loss = image.new_zeros(())
    if i2t:
        loss = loss + F.cross_entropy(logits, target)
    if t2i:
        loss = loss + F.cross_entropy(logits.T, target)
    return loss


def semantic_consistency(embeddings: torch.Tensor, ids: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """embeddings: (N, d) L2-normalised images and texts together; ids: (N,)."""
    sim = embeddings @ embeddings.T
    mask = (_same_id(ids, ids) & ~torch.eye(len(ids), dtype=torch.bool, device=ids.device)).float()
    return 1.0 - (sim * mask).sum() / (mask.sum() + eps)


def supervised_contrastive(embeddings: torch.Tensor, ids: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    n = len(ids)
    eye = torch.eye(n, dtype=torch.bool, device=ids.device)
    logits = (embeddings @ embeddings.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = _same_id(ids, ids) & ~eye
    has_positive = positive.any(1)
    per_anchor = -(log_prob.masked_fill(~positive, 0).sum(1)) / positive.sum(1).clamp(min=1)
    return per_anchor[has_positive].mean() if has_positive.any() else embeddings.new_zeros(())


def total_loss(image: torch.Tensor, text: torch.Tensor, ids: torch.Tensor, logit_scale: torch.Tensor, *,
               lam: float = 1.0, i2t: bool = True, t2i: bool = True, sem: str = "paper",
               extra_texts: torch.Tensor | None = None, extra_ids: torch.Tensor | None = None) -> dict:
    """All terms, switchable; ``extra_texts`` (e.g. the pair's synonyms in other languages) join L_sem."""
    parts = {"con": infonce(image, text, ids, logit_scale, i2t=i2t, t2i=t2i)}
    if sem != "off" and lam > 0:
        union = torch.cat([image, text] + ([extra_texts] if extra_texts is not None else []))
        union_ids = torch.cat([ids, ids] + ([extra_ids] if extra_ids is not None else []))
        term = semantic_consistency(union, union_ids) if sem == "paper" else supervised_contrastive(union, union_ids)
        parts["sem"] = lam * term
    parts["total"] = sum(parts.values())
    return parts
