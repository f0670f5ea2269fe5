import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from text2lora.adapters import balanced_accuracy
from text2lora.evaluation import bootstrap_ci, gain_recovered, interpolate_conditions, random_description

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_balanced_accuracy_known_answers():
    labels = [0, 0, 0, 1, 1, 1, 1, 1]
    assert balanced_accuracy(labels, labels) == 1.0
    assert balanced_accuracy(labels, [1] * 8) == 0.5
    assert balanced_accuracy(labels, [0] * 8) == 0.5
    assert balanced_accuracy(labels, [1 - y for y in labels]) == 0.0
    # 2/3 recall on class 0, 3/5 on class 1.
    assert balanced_accuracy(labels, [0, 0, 1, 1, 1, 1, 0, 0]) == pytest.approx((2 / 3 + 3 / 5) / 2)


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    predictions = np.where(rng.random(200) < 0.8, labels, 1 - labels)
    lo, hi = bootstrap_ci(labels, predictions, n=200)
    assert lo <= balanced_accuracy(labels, predictions) <= hi and hi - lo < 0.2


def test_interpolation_endpoints_equal_the_conditions():
    a, b = torch.randn(8), torch.randn(8)
    path = interpolate_conditions(a, b, [0.0, 0.5, 1.0])
    assert torch.equal(path[0], b) and torch.equal(path[2], a)
    assert torch.allclose(path[1], (a + b) / 2)


def test_gain_recovered_and_random_description():
    assert gain_recovered(0.8, 0.6, 1.0) == pytest.approx(0.5)
    assert gain_recovered(0.8, 0.9, 0.9) is None
    assert random_description(1) == random_description(1) != random_description(2)


@pytest.fixture(scope="module")
def tiny_generator_dir(tiny_zoo, tiny_base, tmp_path_factory):
    import train

    out = tmp_path_factory.mktemp("gen-eval")
    train.main(["--zoo", tiny_zoo, "--embedder", tiny_base, "--output_dir", str(out), "--token_size", "16",
                "--hidden_size", "32", "--num_layers", "1", "--num_heads", "2", "--max_train_steps", "2",
                "--validation_tasks"])
    return str(out)


def test_bring_your_own_task_cli(tiny_generator_dir, tiny_zoo, tmp_path):
    from conftest import make_rows

    rows = make_rows("good", 40, seed=9)
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in zip(rows["text"], rows["label"])))
    cmd = [sys.executable, os.path.join(ROOT, "evaluate.py"), "--task-data", str(path), "--description",
           "detect good texts", "--generator", tiny_generator_dir, "--zoo", tiny_zoo, "--num_inference_steps", "3",
           "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout[result.stdout.index("{"):])
    for key in ("generated", "zero_shot", "retrieval", "mean_adapter"):
        assert 0.0 <= out[key] <= 1.0
    assert out["num_test"] == 28  # 40 rows, 30% held out for the zero-shot threshold


def test_evaluator_reports_every_method(tiny_generator_dir, tiny_zoo, tiny_tasks):
    from text2lora import Text2LoraPipeline
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator_dir)
    pipe.set_progress_bar_config(disable=True)
    evaluator = Evaluator(Zoo.load(tiny_zoo), pipe, num_inference_steps=2, task_loader=_loader(tiny_tasks))
    unseen = tiny_tasks[3]
    r = evaluator.evaluate_task(unseen, unseen.heldout_descriptions, num_samples=2, controls=True,
                                mismatched_description="detect sport texts", ci=True)
    for key in ("fine_tuned", "zero_shot", "mean_adapter", "retrieval", "generated", "generated_best",
                "generated_std", "random_description", "mismatched_description", "fine_tuned_ci",
                "zero_shot_label_free"):
        assert key in r, key
    assert r["retrieved_tasks"][0] in {"good_task", "bad_task", "sport_task"}  # unseen tasks are never retrieved


def _loader(tasks):
    by_name = {t.name: t for t in tasks}

    def load(name):
        if name not in by_name:
            raise ValueError(f"Unknown task '{name}'.")
        return by_name[name]

    return load


def test_label_free_zero_shot_ignores_the_tasks_labels(tiny_zoo, tiny_tasks):
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator

    evaluator = Evaluator(Zoo.load(tiny_zoo), task_loader=_loader(tiny_tasks))
    task = copy.deepcopy(tiny_tasks[3])
    description = task.heldout_descriptions[0]
    before = (evaluator.zero_shot_label_free(task, description), evaluator.zero_shot(task, description)[0])
    val = task.data["val"]
    val["label"] = [1 - y for y in val["label"]]  # flipped val labels: only the val-tuned threshold may move
    evaluator._text_vectors.clear()
    assert evaluator.zero_shot_label_free(task, description) == before[0]
    assert 0.0 <= before[0] <= 1.0
    assert evaluator.zero_shot(task, description)[0] != before[1]


def test_evaluate_resumes_finished_task_rows(tiny_generator_dir, tiny_zoo, tiny_tasks, tmp_path, monkeypatch):
    import evaluate
    from text2lora.evaluation import Evaluator

    names = {"seen": [t.name for t in tiny_tasks if t.split == "seen"], "unseen": ["money_task"]}
    monkeypatch.setattr("text2lora.data.tasks.list_tasks", lambda split=None, **_: names[split])
    monkeypatch.setattr("text2lora.data.tasks.load_task", _loader(tiny_tasks))
    argv = ["--generator", tiny_generator_dir, "--zoo", tiny_zoo, "--questions", "2", "3", "--output_dir",
            str(tmp_path / "reports"), "--work_dir", str(tmp_path / "work"), "--num_inference_steps"]
    first = evaluate.main(argv + ["2"])
    saved = sorted(p.name for p in (tmp_path / "work").rglob("*.json"))
    assert saved == sorted([f"{n}.json" for n in names["seen"] + names["unseen"]])
    # The tiny generator has condition anchors: rows name the snapped tasks and also score the unsnapped condition.
    rows = first["question_2"]["tasks"]
    assert all(set(r["snapped_tasks"]) <= set(names["seen"]) and len(r["snapped_tasks"]) == len(r["descriptions"])
               for r in rows)
    assert all(0.0 <= r["generated_unsnapped"] <= 1.0 and 0.0 <= r["retrieval_snapped"] <= 1.0 for r in rows)
    snapping = first["question_2"]["snapping"]
    assert snapping["descriptions"] == sum(len(r["descriptions"]) for r in rows)
    assert snapping["matched_own_task"] == sum(t == r["task"] for r in rows for t in r["snapped_tasks"])
    assert "ratio_unsnapped" in (tmp_path / "reports" / "evaluation.md").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("a finished task was evaluated again")

    monkeypatch.setattr(Evaluator, "evaluate_task", fail)
    second = evaluate.main(argv + ["2"])  # every row comes from work_dir
    for question in ("question_2", "question_3"):
        assert second[question]["tasks"] == first[question]["tasks"]
        assert second[question]["summary"] == first[question]["summary"]
    with pytest.raises(AssertionError, match="evaluated again"):  # other settings: a new fingerprint, no reuse
        evaluate.main(argv + ["3"])


def test_update_generator_card_writes_beside_a_moved_generator(tiny_generator_dir, tmp_path):
    """A generator copied away from its training output_dir gets its card (with the report's numbers) in its own
    folder; the folder it was trained in is left untouched."""
    import shutil

    import evaluate

    moved = tmp_path / "moved"
    shutil.copytree(tiny_generator_dir, moved)
    before = open(os.path.join(tiny_generator_dir, "README.md")).read()
    summary = {k: {"mean": 0.75, "median": 0.8771} for k in ("fine_tuned", "generated", "ratio", "retrieval",
                                                               "zero_shot")}
    evaluate.update_generator_card(str(moved), {"question_2": {"summary": summary, "tasks": [{}] * 3}})
    card = (moved / "README.md").read_text()
    assert "seen (3), held-out descriptions | 0.750 | 0.750 | 0.877 | 0.750 | 0.750 |" in card, card[-1500:]
    assert open(os.path.join(tiny_generator_dir, "README.md")).read() == before
