"""The task-loss head generator (HeadHypernetwork, train_head.py, method="hypernetwork"), on tiny models."""

import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_head_is_the_hypernetwork_logit_and_round_trips(tmp_path):
    from text2lora.models import HeadHypernetwork

    torch.manual_seed(0)
    model = HeadHypernetwork(embedding_dim=6, feature_dim=5)
    with torch.no_grad():
        model.correction.weight.normal_()
        model.bias.weight.normal_()
        model.projection.normal_()
    condition = torch.nn.functional.normalize(torch.randn(3, 6), dim=-1)
    features = torch.randn(7, 5)
    weight, bias = model.classifier_head(condition)
    assert weight.shape == (3, 2, 5) and bias.shape == (3, 2)
    # softmax over the two written logits gives sigmoid(hypernetwork logit) for label 1.
    proba = torch.softmax(torch.einsum("bkf,nf->bnk", weight, features) + bias[:, None], dim=-1)[..., 1]
    torch.testing.assert_close(proba, torch.sigmoid(model.logits(condition, features)))
    model.save_pretrained(tmp_path)
    loaded = HeadHypernetwork.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.logits(condition, features), model.logits(condition, features))


def test_untrained_head_is_the_zero_shot_cosine_classifier():
    from text2lora.models import HeadHypernetwork

    model = HeadHypernetwork(embedding_dim=4, feature_dim=4, init_scale=10.0, init_threshold=0.3)
    with torch.no_grad():
        model.projection[:-1] = torch.eye(4)
    e = torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    x = torch.nn.functional.normalize(torch.randn(5, 4), dim=-1)
    torch.testing.assert_close(model.logits(e, x), 10.0 * (e @ x.T - 0.3))


def test_fit_projection_recovers_a_linear_map():
    from text2lora.training.head_training import fit_projection

    torch.manual_seed(0)
    features = torch.randn(200, 5)
    true = torch.randn(5, 3)
    projection, r2 = fit_projection(features, features @ true + 0.5)
    torch.testing.assert_close(projection[:-1], true, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(projection[-1], torch.full((3,), 0.5), atol=1e-4, rtol=1e-4)
    assert r2 > 0.999


@pytest.mark.slow
def test_training_separates_tasks_on_synthetic_features():
    """Two tasks whose label is the sign of a different feature; the description picks the task."""
    from text2lora.models import HeadHypernetwork
    from text2lora.training.head_training import train_head_hypernetwork

    torch.manual_seed(0)
    features = torch.randn(400, 4)
    rows = {"a": (torch.arange(400), (features[:, 0] > 0).long()),
            "b": (torch.arange(400), (features[:, 1] > 0).long())}
    conditions = {"a": torch.tensor([[0.0, 0.0, 1.0, 0.0]]), "b": torch.tensor([[0.0, 0.0, 0.0, 1.0]])}
    model = HeadHypernetwork(embedding_dim=4, feature_dim=4, init_scale=1.0, init_threshold=0.0)
    with torch.no_grad():
        model.projection[:-1] = torch.eye(4)
    losses = train_head_hypernetwork(model, model.project(features), rows, conditions, max_train_steps=300,
                                     batch_tasks=2, rows_per_task=64, learning_rate=5e-2, condition_noise=0.0,
                                     progress=False)
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        logits = model.logits(torch.cat([conditions["a"], conditions["b"]]), model.project(features))
    for i, label in enumerate((rows["a"][1], rows["b"][1])):
        assert ((logits[i] > 0).long() == label).float().mean() > 0.9


def test_train_head_adds_a_component_that_loads_in_peft(head_generator, tiny_base, tmp_path):
    from peft import PeftModel
    from peft.utils import load_peft_weights
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from text2lora.embedding import embed
    from text2lora.pipelines import Text2LoraPipeline
    from text2lora.training.head_training import classifier_features

    plain, with_head, info = head_generator
    assert set(info["train_tasks"]) == {"good_task", "bad_task", "sport_task"}  # seen tasks only
    assert json.load(open(os.path.join(with_head, "model_index.json")))["head_generator"][1] == "HeadHypernetwork"
    pipe = Text2LoraPipeline.from_pretrained(with_head)
    out = pipe(["detect good texts", "detect money texts"], method="hypernetwork")
    assert len(out.adapters) == 2
    lora = [k for k in out.adapters[0] if "lora_" in k]
    assert lora and all(float(out.adapters[0][k].abs().max()) == 0.0 for k in lora)
    target = pipe.save_adapter(out.adapters[0], tmp_path / "adapter", description="detect good texts")
    base = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2)
    model = PeftModel.from_pretrained(base, target).eval()
    assert set(load_peft_weights(str(target))) == set(out.adapters[0])
    # The PEFT model's P(label 1) is the hypernetwork's sigmoid(logit) on the frozen base's features.
    texts = ["a great match today", "the bank loan was awful"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    with torch.no_grad():
        proba = torch.softmax(model(**tokenizer(texts, return_tensors="pt", padding=True)).logits, -1)[:, 1]
        features = classifier_features(pipe.adapter_spec, texts, progress=False)
        condition = torch.from_numpy(embed(["detect good texts"], tiny_base))
        expected = torch.sigmoid(pipe.head_generator.logits(condition, features))[0]
    torch.testing.assert_close(proba, expected, atol=1e-5, rtol=1e-4)


def test_hypernetwork_method_needs_the_component(head_generator):
    from text2lora.pipelines import Text2LoraPipeline

    plain, with_head, _ = head_generator
    pipe = Text2LoraPipeline.from_pretrained(plain)
    assert pipe.head_generator is None
    with pytest.raises(ValueError, match="no head_generator"):
        pipe("detect good texts", method="hypernetwork")
    with pytest.raises(ValueError, match="method must be one of"):
        Text2LoraPipeline.from_pretrained(with_head)("detect good texts", method="lookup")


@pytest.mark.slow
def test_generate_cli_hypernetwork_method(head_generator, tmp_path):
    _, with_head, _ = head_generator
    cmd = [sys.executable, os.path.join(ROOT, "generate.py"), "--task", "find money mentions", "--generator",
           with_head, "--output_dir", str(tmp_path), "--method", "hypernetwork", "--try", "a bank transfer"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.load(open(tmp_path / "find-money-mentions-hypernetwork" / "generation_config.json"))
    assert config["method"] == "hypernetwork"
    assert "label" in result.stdout


def test_evaluator_scores_the_hypernetwork_next_to_the_diffusion_generator(head_generator, tiny_zoo, tiny_tasks):
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator
    from text2lora.pipelines import Text2LoraPipeline

    _, with_head, _ = head_generator
    pipe = Text2LoraPipeline.from_pretrained(with_head)
    pipe.set_progress_bar_config(disable=True)
    evaluator = Evaluator(Zoo.load(tiny_zoo), pipe, num_inference_steps=2)
    assert evaluator.has_hypernetwork
    unseen = tiny_tasks[3]
    r = evaluator.evaluate_task(unseen, unseen.heldout_descriptions, controls=True,
                                mismatched_description="detect sport texts")
    for key in ("generated", "hypernetwork", "random_description", "hypernetwork_random_description",
                "mismatched_description", "hypernetwork_mismatched_description"):
        assert 0.0 <= r[key] <= 1.0, key
    # The hypernetwork is deterministic: the same description gives the same score.
    again = evaluator.evaluate_task(unseen, unseen.heldout_descriptions)
    assert again["hypernetwork"] == r["hypernetwork"]


def test_classifier_features_mix_single_texts_and_pairs(head_generator):
    from text2lora.embedding import pair_text
    from text2lora.pipelines import Text2LoraPipeline
    from text2lora.training.head_training import classifier_features

    spec = Text2LoraPipeline.from_pretrained(head_generator[1]).adapter_spec
    texts, pairs = ["a great match", "the loan", "good day"], [None, "was awful", None]
    mixed = classifier_features(spec, texts, pairs, progress=False)
    single = classifier_features(spec, [texts[0], texts[2]], progress=False)
    paired = classifier_features(spec, [texts[1]], [pairs[1]], progress=False)
    torch.testing.assert_close(mixed[[0, 2]], single, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mixed[[1]], paired, atol=1e-5, rtol=1e-4)
    assert pair_text(texts, pairs) == ["a great match", "the loan [SEP] was awful", "good day"]


def test_train_head_adds_auxiliary_tasks_without_zoo_adapters(head_generator, tiny_zoo, tmp_path, monkeypatch):
    from conftest import make_task

    from text2lora.commands import train_head

    tasks = {t.name: t for t in [make_task("good_task", "good", seed=1), make_task("bad_task", "bad", seed=2),
                                 make_task("sport_task", "sport", seed=3),
                                 make_task("bank_task", "money", split="auxiliary", seed=5),
                                 make_task("money_task", "money", split="unseen", seed=4)]}
    monkeypatch.setattr("text2lora.data.tasks.load_task", lambda name: tasks[name])
    monkeypatch.setattr("text2lora.data.tasks.list_tasks",
                        lambda split=None: ["bank_task"] if split == "auxiliary" else [])
    info = train_head.main(["--generator", head_generator[0], "--zoo", tiny_zoo, "--output_dir",
                            str(tmp_path / "aux"), "--auxiliary_tasks", "--rows_per_class", "8",
                            "--projection_rows", "40", "--max_train_steps", "5", "--batch_tasks", "2",
                            "--rows_per_task", "8"])
    assert info["auxiliary_tasks"] == ["bank_task"]
    assert set(info["train_tasks"]) == {"good_task", "bad_task", "sport_task", "bank_task"}
    assert info["validation"]["seen"]["tasks"] == 3  # validated on the zoo's tasks only


@pytest.mark.slow
def test_evaluate_reuses_adapter_rows_when_only_the_head_changes(head_generator, tiny_zoo, tiny_tasks, tmp_path,
                                                                  monkeypatch):
    import shutil

    from text2lora.commands import evaluate
    from text2lora.evaluation import Evaluator
    from text2lora.models import HeadHypernetwork

    _, with_head, _ = head_generator
    generator = tmp_path / "generator"
    shutil.copytree(with_head, generator)
    names = {"seen": [t.name for t in tiny_tasks if t.split == "seen"], "unseen": ["money_task"]}
    monkeypatch.setattr("text2lora.data.tasks.list_tasks", lambda split=None, **_: names.get(split, []))
    argv = ["--generator", str(generator), "--zoo", tiny_zoo, "--questions", "2", "3", "--output_dir",
            str(tmp_path / "reports"), "--work_dir", str(tmp_path / "work"), "--num_inference_steps", "2"]
    first = evaluate.main(argv)
    for part in ("adapters", "head"):
        assert len(list((tmp_path / "work" / "rows" / part).rglob("*.json"))) == 4, part

    # A new head generator: the other methods' rows are reused, the head's are computed again.
    head = HeadHypernetwork.from_pretrained(generator / "head_generator")
    with torch.no_grad():
        head.bias.bias.add_(5.0)
    head.save_pretrained(generator / "head_generator")
    calls = []
    real_head = Evaluator.evaluate_head

    def fail(*args, **kwargs):
        raise AssertionError("an adapters row was evaluated again")

    def counted(self, task, *args, **kwargs):
        calls.append(task.name)
        return real_head(self, task, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate_task", fail)
    monkeypatch.setattr(Evaluator, "evaluate_head", counted)
    second = evaluate.main(argv)
    assert sorted(calls) == sorted(names["seen"] + names["unseen"])
    for question in ("question_2", "question_3"):
        for old, new in zip(first[question]["tasks"], second[question]["tasks"]):
            assert {k: v for k, v in old.items() if "hypernetwork" not in k} == \
                   {k: v for k, v in new.items() if "hypernetwork" not in k}
    # One fingerprint folder for the other methods, a second one for the new head.
    assert [len(list((tmp_path / "work" / "rows" / part).iterdir())) for part in ("adapters", "head")] == [1, 2]


@pytest.mark.slow
def test_feature_lora_is_written_into_every_generated_adapter(head_generator, tiny_zoo, tiny_base, tmp_path):
    """With --feature_lora_steps the head generator's adapters carry one shared, non-zero LoRA, and the PEFT model's
    P(label 1) is still the hypernetwork's sigmoid(logit) on the features that LoRA gives."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from text2lora.commands import train_head
    from text2lora.embedding import embed
    from text2lora.pipelines import Text2LoraPipeline
    from text2lora.training.head_training import classifier_features

    plain, _, _ = head_generator
    info = train_head.main(["--generator", plain, "--zoo", tiny_zoo, "--output_dir", str(tmp_path / "gen"),
                            "--rows_per_class", "8", "--projection_rows", "40", "--max_train_steps", "5",
                            "--batch_tasks", "2", "--rows_per_task", "8", "--feature_lora_steps", "4",
                            "--feature_lora_batch_size", "8", "--feature_lora_learning_rate", "1e-2"])
    assert info["feature_lora"]["steps"] == 4
    pipe = Text2LoraPipeline.from_pretrained(tmp_path / "gen")
    lora_state = pipe.head_generator.feature_lora_state()
    assert lora_state and all(k in pipe.layout.keys for k in lora_state)
    b_keys = [k for k in lora_state if "lora_B" in k]
    assert b_keys and any(float(lora_state[k].abs().max()) > 0 for k in b_keys)  # trained away from B = 0
    out = pipe(["detect good texts", "detect money texts"], method="hypernetwork")
    for adapter in out.adapters:
        for key, value in lora_state.items():
            torch.testing.assert_close(adapter[key], value)
    target = pipe.save_adapter(out.adapters[0], tmp_path / "adapter", description="detect good texts")
    model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2),
                                      target).eval()
    texts = ["a great match today", "the bank loan was awful"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    with torch.no_grad():
        proba = torch.softmax(model(**tokenizer(texts, return_tensors="pt", padding=True)).logits, -1)[:, 1]
        features = classifier_features(pipe.adapter_spec, texts, progress=False, lora_state=lora_state)
        plain_features = classifier_features(pipe.adapter_spec, texts, progress=False)
        condition = torch.from_numpy(embed(["detect good texts"], tiny_base))
        expected = torch.sigmoid(pipe.head_generator.logits(condition, features))[0]
    assert not torch.allclose(features, plain_features)
    torch.testing.assert_close(proba, expected, atol=1e-5, rtol=1e-4)


def test_feature_lora_config_is_checked():
    from text2lora.models import HeadHypernetwork

    with pytest.raises(ValueError, match="feature_lora_keys and feature_lora_shapes"):
        HeadHypernetwork(embedding_dim=4, feature_dim=4, feature_lora_keys=["a.lora_A.weight"])
    model = HeadHypernetwork(embedding_dim=4, feature_dim=4, feature_lora_keys=["a.lora_A.weight"],
                             feature_lora_shapes=[[2, 4]])
    with pytest.raises(ValueError, match="keys and shapes"):
        model.set_feature_lora({"a.lora_A.weight": torch.ones(4, 2)})
    model.set_feature_lora({"a.lora_A.weight": torch.ones(2, 4)})
    assert float(model.feature_lora_state()["a.lora_A.weight"].sum()) == 8.0
    assert HeadHypernetwork(embedding_dim=4, feature_dim=4).feature_lora_state() == {}
    with pytest.raises(ValueError, match="no feature LoRA"):
        HeadHypernetwork(embedding_dim=4, feature_dim=4).set_feature_lora({})


def test_balanced_task_loss_known_values():
    """A zero head scores log 2 per row, weighted so that each class weighs the same (weights 2(1-p) and 2p for a
    positive share p of the drawn rows); a head that separates the classes scores close to zero."""
    import math

    import numpy as np

    from text2lora.training.head_training import balanced_task_loss

    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    rows = [(torch.tensor([0, 1]), torch.tensor([1.0, 0.0]))] * 2
    zero = balanced_task_loss(features, rows, torch.zeros(2, 2), torch.zeros(2), 16, np.random.default_rng(0))
    draws = np.random.default_rng(0)
    shares = [float(np.clip((draws.integers(0, 2, 16) == 0).mean(), 0.05, 0.95)) for _ in rows]
    expected = np.mean([math.log(2) * 4 * p * (1 - p) for p in shares])  # mean weight 2p(1-p) + 2(1-p)p
    assert float(zero) == pytest.approx(expected, abs=1e-6)
    assert float(zero) <= math.log(2)
    sharp = balanced_task_loss(features, rows, torch.tensor([[50.0, 0.0]] * 2), torch.zeros(2), 16,
                               np.random.default_rng(0))
    assert float(sharp) < 1e-6


@pytest.mark.slow
def test_multitask_stage_trains_the_shared_lora_with_the_task_loss(head_generator, tiny_zoo, tmp_path, monkeypatch):
    """--multitask_steps trains the shared LoRA and the head together through the base: B leaves zero, the loss is
    recorded, validation is reported before and after, and every generated adapter carries the trained LoRA."""
    from text2lora.commands import train_head
    from text2lora.pipelines import Text2LoraPipeline

    plain, _, _ = head_generator
    info = train_head.main(["--generator", plain, "--zoo", tiny_zoo, "--output_dir", str(tmp_path / "gen"),
                            "--rows_per_class", "8", "--projection_rows", "40", "--max_train_steps", "5",
                            "--batch_tasks", "2", "--rows_per_task", "8", "--multitask_steps", "6",
                            "--multitask_batch_tasks", "2", "--multitask_rows_per_task", "4",
                            "--multitask_learning_rate", "5e-2"])
    assert info["multitask"]["steps"] == 6 and info["feature_lora"] is None
    assert info["validation"]["seen"]["tasks"] == 3 and info["validation"]["unseen"]["tasks"] == 1  # money_task
    assert info["validation"]["unseen_labels"]["tasks"] == 1 and info["validation"]["unseen_datasets"] is None
    assert info["validation"]["before_multitask"]["seen"]["tasks"] == 3
    pipe = Text2LoraPipeline.from_pretrained(tmp_path / "gen")
    lora_state = pipe.head_generator.feature_lora_state()
    b_keys = [k for k in lora_state if "lora_B" in k]
    assert b_keys and any(float(lora_state[k].abs().max()) > 0 for k in b_keys)
    out = pipe(["detect good texts"], method="hypernetwork")
    for key, value in lora_state.items():
        torch.testing.assert_close(out.adapters[0][key], value)


def test_multitask_rows_per_task_must_be_even():
    from text2lora.training.head_generator import HeadTrainingArguments

    with pytest.raises(ValueError, match="even"):
        HeadTrainingArguments(multitask_steps=5, multitask_rows_per_task=3)


@pytest.mark.slow
def test_evaluate_reports_new_datasets_with_the_multitask_and_merge_baselines(head_generator, tiny_zoo, tiny_tasks,
                                                                              tmp_path, monkeypatch):
    """Question 3 has a second part for the split "unseen_dataset"; --multitask_generator adds the multi-task
    baseline's keys (cached as their own row part) and every row has the top-k merge baseline."""
    from text2lora.commands import evaluate
    from text2lora.evaluation import report

    _, with_head, _ = head_generator
    names = {"seen": [t.name for t in tiny_tasks if t.split == "seen"], "unseen": ["money_task"],
             "unseen_dataset": ["money_task"]}
    monkeypatch.setattr("text2lora.data.tasks.list_tasks", lambda split=None, **_: names.get(split, []))
    out = evaluate.main(["--generator", with_head, "--multitask_generator", with_head, "--zoo", tiny_zoo,
                         "--questions", "3", "--output_dir", str(tmp_path / "reports"), "--work_dir",
                         str(tmp_path / "work"), "--num_inference_steps", "2"])
    part = out["question_3_new_datasets"]
    assert part["split"] == "unseen_dataset" and [r["task"] for r in part["tasks"]] == ["money_task"]
    row = part["tasks"][0]
    # The same head generator as the multi-task baseline: the same scores under both names.
    assert row["multitask"] == row["hypernetwork"] and 0.0 <= row["top_k_merge"] <= 1.0
    assert row["gain_recovered_multitask"] == row["gain_recovered_hypernetwork"]
    assert part["multitask"]["beats_multitask"] is None and part["hypernetwork"]["beats_multitask"] is False
    assert len(list((tmp_path / "work" / "rows" / "multitask").rglob("*.json"))) == 2  # one row per Q3 part
    markdown = (tmp_path / "reports" / "evaluation.md").read_text()
    assert "## Question 3, part 2: new datasets" in markdown
    assert f"| multitask | {report.fmt(part['summary']['multitask']['mean'])} |" in markdown


def test_top_k_merge_is_the_similarity_weighted_average(tiny_zoo, tiny_tasks):
    import numpy as np

    from text2lora.data.zoo import Zoo
    from text2lora.embedding import embed
    from text2lora.evaluation import Evaluator

    zoo = Zoo.load(tiny_zoo)
    evaluator = Evaluator(zoo, train_tasks=["good_task", "bad_task", "sport_task"])
    merged, top, weights = evaluator.top_k_merge_vector("detect good texts", k=2)
    assert len(top) == 2 and len(set(top)) == 2 and sum(weights) == pytest.approx(1.0)
    best = {}
    vectors, owners = evaluator.retrieval_index()
    scores = vectors @ embed(["detect good texts"], evaluator.embedder)[0]
    for owner, score in zip(owners, scores):
        best[owner] = max(best.get(owner, -1.0), float(score))
    assert top == sorted(best, key=best.get, reverse=True)[:2]
    expected = np.clip([best[t] for t in top], 0, None)
    assert weights == pytest.approx((expected / expected.sum()).tolist())
    torch.testing.assert_close(merged, weights[0] * zoo.task_vector(top[0]) + weights[1] * zoo.task_vector(top[1]))


def test_hypernetwork_generation_config_card_and_cli_match_the_api(head_generator, tmp_path, monkeypatch, capsys):
    """A head-generator adapter records no sampler setting (steps, guidance, scheduler, seed), even when a
    torch.Generator is passed, and generate.py writes the card the API writes."""
    from text2lora import Text2LoraPipeline
    from text2lora.commands import generate

    _, with_head, _ = head_generator
    monkeypatch.chdir(tmp_path)
    pipe = Text2LoraPipeline.from_pretrained(with_head)
    out = pipe("find money mentions", method="hypernetwork", generator=torch.Generator().manual_seed(5))
    assert out.generation_configs == [{
        "description": "find money mentions", "generator": with_head, "method": "hypernetwork", "sample_index": 0,
        "labels": ["not money", "money"], "id2label": {"0": "not money", "1": "money"},
        "label2id": {"not money": 0, "money": 1}}]
    api = pipe.save_adapter(out.adapters[0], tmp_path / "api", generation_config=out.generation_configs[0])
    (written,) = generate.main(["--task", "find money mentions", "--generator", with_head, "--method", "hypernetwork",
                                "--seed", "5", "--output_dir", "cli"])
    capsys.readouterr()
    for name in ("README.md", "generation_config.json"):
        assert open(os.path.join(api, name)).read() == open(os.path.join(written[1], name)).read(), name
    card = open(os.path.join(api, "README.md")).read()
    assert (f"python generate.py --task 'find money mentions' --generator {with_head} --method hypernetwork "
            "--labels 'not money' money\n") in card
    for absent in ("| Seed |", "| Scheduler |", "| Inference steps |", "--seed", "manual_seed"):
        assert absent not in card, absent
