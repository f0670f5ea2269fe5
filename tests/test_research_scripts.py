"""The research scripts' building blocks (research/); the evaluation report's 'what was tried' table is tested
in tests/test_evaluation.py."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "research"))
sys.path.insert(0, ROOT)


def test_expansion_scores_known_answers():
    """Val ROC AUC counts ties half (as the probe's stored numbers did); the test accuracy uses the val threshold."""
    from expansion_probe import score_condition

    labels = np.array([0, 0, 1, 1])
    assert score_condition(labels, np.array([0.1, 0.2, 0.8, 0.9]), labels, np.array([0.1, 0.2, 0.8, 0.9])) == (1.0, 1.0)
    assert score_condition(labels, np.array([0.9, 0.8, 0.2, 0.1]), labels, np.array([0.9, 0.8, 0.2, 0.1]))[0] == 0.0
    assert score_condition(labels, np.ones(4), labels, np.ones(4)) == (0.5, 0.5)
    assert score_condition(labels, np.array([0.1, 0.5, 0.5, 0.9]), labels, np.ones(4))[0] == pytest.approx(0.875)
    # val separates the classes anywhere in (0.2, 0.6]: the threshold lands there, so on test 0.1 and 0.15 fall below
    # it: recall 2/3 on class 1, 1 on class 0 (a threshold at 0 would give 0.5, one at 0.5 would give 2/3)
    auc, accuracy = score_condition(labels, np.array([0.1, 0.2, 0.6, 0.9]), np.array([0, 1, 1, 1]),
                                    np.array([0.1, 0.15, 0.3, 0.8]))
    assert auc == 1.0 and accuracy == pytest.approx(5 / 6)


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


def _render(folder):
    from render_ablations import main as render

    render(["--folder", str(folder)])
    return (folder / "README.md").read_text()


def test_render_ablations_writes_the_fidelity_table(tmp_path):
    """The session-8 table comes from snap_fidelity_*.json and latent_roundtrip.json, sorted by anchor mean ratio."""

    def run(name, anchor_mean):
        summary = {"tasks": 3, "median_ratio": 0.5, "mean_ratio": 0.25, "tasks_at_0.99": 1, "anchor_median_ratio": 1.0,
                   "anchor_mean_ratio": anchor_mean, "anchor_tasks_at_0.99": 2}
        with open(tmp_path / f"snap_fidelity_{name}.json", "w") as f:
            json.dump({"name": name, "training": f"train {name}", "summary": summary, "rows": []}, f)

    run("better", 0.9876)
    run("worse", 0.5)
    with open(tmp_path / "latent_roundtrip.json", "w") as f:
        json.dump({"summary": {"tasks": 7, "latent_dim": 130, "median_ratio_roundtrip": 0.9973,
                               "tasks_roundtrip_below_0.99": 4}}, f)
    text = _render(tmp_path)
    assert "| worse | train worse | 3 | 0.500 | 0.250 | 1 | 1.000 | 0.500 | 2 |" in text
    assert text.index("| worse |") < text.index("| better | train better | 3 | 0.500 | 0.250 | 1 | 1.000 | 0.988 | 2 |")
    assert "each of 7 seen zoo adapters" in text and "median 0.997" in text and "4 tasks fall below 0.99" in text


def test_committed_ablation_readme_is_what_the_renderer_writes(tmp_path):
    """reports/ablations/README.md is rendered from the JSON files beside it: re-rendering them changes nothing."""
    folder = tmp_path / "ablations"
    shutil.copytree(os.path.join(ROOT, "reports", "ablations"), folder)
    with open(os.path.join(ROOT, "reports", "ablations", "README.md")) as f:
        assert _render(folder) == f.read()
