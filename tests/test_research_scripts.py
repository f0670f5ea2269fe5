"""The research scripts' building blocks (research/) and the evaluation report's 'what was tried' table."""

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


def test_tried_for_unseen_reads_the_ablation_reports(tmp_path):
    import evaluate

    first = evaluate.TRIED_FOR_UNSEEN[0]
    _, _, _, path, keys, ref_path, ref_keys = first

    def write(name, keys, value):
        doc = value
        for key in reversed(keys):
            doc = {key: doc}
        (tmp_path / name).write_text(json.dumps(doc))

    assert evaluate.tried_for_unseen(str(tmp_path)) == {"attempts": [], "routing": None}
    write(path, keys, 0.7)
    assert evaluate.tried_for_unseen(str(tmp_path))["attempts"] == []  # no reference yet: left out
    write(ref_path, ref_keys, 0.6)
    rows = evaluate.tried_for_unseen(str(tmp_path))["attempts"]
    assert len(rows) == 1 and rows[0]["change"] == pytest.approx(0.1) and rows[0]["source"] == path
    thresholds = [{"threshold": 0.0, "seen_median_ratio": 0.997, "unseen_mean": 0.56},
                  {"threshold": 0.7, "seen_median_ratio": 0.93, "unseen_mean": 0.68},
                  {"threshold": 1.01, "seen_median_ratio": 0.91, "unseen_mean": 0.69}]
    (tmp_path / "routing_tradeoff.json").write_text(json.dumps({"summary": {
        "any_threshold_meets_both": False, "zero_shot_unseen_mean": 0.69, "thresholds": thresholds}}))
    routing = evaluate.tried_for_unseen(str(tmp_path))["routing"]
    assert routing["best_unseen_with_seen_ratio_0.99"] == 0.56
    assert routing["seen_median_ratio_all_head"] == 0.91
    text = "\n".join(evaluate._tried_text(evaluate.tried_for_unseen(str(tmp_path))))
    assert "+0.100" in text and "no threshold keeps" in text


def test_targets_pool_the_gain_recovered_over_tasks():
    import evaluate

    rows = [{"generated": 0.8, "zero_shot": 0.6, "retrieval": 0.5, "fine_tuned": 1.0, "random": 0.5},
            {"generated": 0.6, "zero_shot": 0.6, "retrieval": 0.5, "fine_tuned": 0.6, "random": 0.5}]
    summary = evaluate.summarize(rows, ["generated", "zero_shot", "retrieval", "fine_tuned", "random",
                                        "zero_shot_label_free"])
    summary["zero_shot_label_free"] = {"mean": 0.5}
    out = evaluate.targets(rows, summary, "generated", "random", [])
    # means: generated 0.7, zero-shot 0.6, fine-tuned 0.8 -> (0.7 - 0.6) / (0.8 - 0.6) = 0.5
    assert out["gain_recovered_of_means"] == pytest.approx(0.5)


def test_q3_answer_states_whether_the_margin_is_significant():
    import evaluate

    def q3(ci_low, pooled):
        return {"tasks": [{}] * 3, "summary": {k: {"mean": v} for k, v in (
            ("hypernetwork", 0.70), ("zero_shot", 0.69), ("retrieval", 0.57))},
            "hypernetwork": {"margin_vs_zero_shot": {"mean": 0.01, "ci95": [ci_low, 0.02]}, "beats_zero_shot": True,
                             "beats_retrieval": True, "gain_recovered_of_means": pooled}}

    noisy = " ".join(evaluate._q3_answer(q3(-0.01, 0.1)))
    assert "within noise" in noisy and "short of the 0.5 stretch" in noisy
    clear = " ".join(evaluate._q3_answer(q3(0.005, 0.6)))
    assert "excludes zero" in clear and "meeting the 0.5 stretch" in clear
    assert evaluate._q3_answer({"summary": {}, "tasks": []}) == []


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
