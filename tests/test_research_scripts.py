"""The research scripts' building blocks (scripts/); the evaluation report's 'what was tried' table is tested in
tests/test_evaluation.py."""

import os
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, ROOT)


def test_roc_auc_known_answers():
    from expansion_probe import roc_auc

    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(labels, np.ones(4)) == 0.5
    assert roc_auc(labels, np.array([0.1, 0.5, 0.5, 0.9])) == pytest.approx(0.875)


def test_routed_scores_pick_the_method_by_threshold():
    from routing_tradeoff import routed

    records = [("a", 0.9, 1.0, 0.0), ("a", 0.1, 1.0, 0.0), ("b", 0.5, 0.2, 0.6)]
    assert routed(records, 0.0) == {"a": 1.0, "b": 0.2}
    assert routed(records, 0.5) == {"a": 0.5, "b": 0.2}
    assert routed(records, 1.0) == {"a": 0.0, "b": 0.6}


def _variant(name, dim=8, tasks=5):
    from head_variant_probe import VariantHead

    torch.manual_seed(0)
    anchors = torch.nn.functional.normalize(torch.randn(tasks, dim), dim=-1)
    return VariantHead(name, anchors, torch.zeros(dim), torch.eye(dim), dim=dim)


def test_head_variants_start_from_the_shipped_linear_head():
    """Every variant but 'standardized' is the zero-shot linear head at initialization (its extras start at zero)."""
    condition = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    w0, b0 = _variant("linear")(condition)
    assert torch.allclose(w0, 20.0 * condition)
    assert torch.allclose(b0, torch.full((3,), -4.0))
    for name in ("contrast", "memory", "bias_mlp"):
        model = _variant(name).eval()
        w, b = model(condition)
        assert torch.allclose(w, w0) and torch.allclose(b, b0), name
    with pytest.raises(ValueError, match="variant"):
        _variant("nope")


def test_head_variant_context_leaves_out_the_excluded_anchor():
    model = _variant("contrast")
    condition = model.anchors[:2].clone()
    exclude = torch.zeros(2, len(model.anchors), dtype=torch.bool)
    exclude[0, 0] = exclude[1, 1] = True
    with torch.no_grad():
        model.log_temperature.fill_(np.log(1000.0))  # nearly hard attention: the nearest allowed anchor
    ctx = model.context(condition, exclude)
    free = model.context(condition)
    assert torch.allclose(free, condition, atol=1e-4)  # without the mask the own anchor wins
    for i in range(2):
        others = [j for j in range(len(model.anchors)) if j != i]
        assert min(torch.dist(ctx[i], model.anchors[j]) for j in others) < 1e-3


def test_text_conditions_average_positive_texts_only():
    from head_variant_probe import _text_condition

    text_vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    rows = (torch.tensor([0, 1, 2]), torch.tensor([0.0, 1.0, 1.0]))
    condition = _text_condition(rows, text_vectors, 4, np.random.default_rng(0))
    assert torch.allclose(condition, torch.tensor([0.0, 1.0]))
