import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from text2lora.adapters import AdapterSpec, build_peft_model
from text2lora.data.layout import LayoutMismatchError, LoraLayout
from text2lora.data.zoo import Zoo, extend_packed_zoo, import_adapter, pack_zoo
from text2lora.training.collection import TrainingSettings, ZooCollector, checkpoint_steps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_zoo_index_and_shared_initialization(tiny_zoo, tiny_spec):
    zoo = Zoo.load(tiny_zoo)
    assert zoo.task_names() == ["bad_task", "good_task", "money_task", "sport_task"]
    assert len(zoo) == 8  # 2 checkpoints per task
    row = zoo.rows[0]
    for key in ("task", "family", "split", "descriptions", "checkpoint_step", "seed", "val_accuracy",
                "test_accuracy", "zero_shot_test_accuracy", "train_seconds"):
        assert key in row
    assert row["seed"] == tiny_spec.init_seed
    # Every adapter started from the same init: rebuild it and check the trained weights moved away from it.
    peft_model, _ = build_peft_model(tiny_spec)
    init = LoraLayout.from_peft_model(peft_model).flatten(
        {k: v for k, v in __import__("peft").get_peft_model_state_dict(peft_model).items()})
    assert not torch.allclose(zoo.vectors[0], init)
    again, _ = build_peft_model(tiny_spec)
    a = __import__("peft").get_peft_model_state_dict(again)
    assert torch.equal(LoraLayout.from_state_dict(a).flatten(a), init)


def test_zoo_loads_with_datasets(tiny_zoo):
    from datasets import load_dataset

    ds = load_dataset("json", data_files=os.path.join(tiny_zoo, "index.jsonl"), split="train")
    assert len(ds) == 8 and "test_accuracy" in ds.column_names


def test_adapter_dirs_are_portable_peft(tiny_zoo, tiny_spec):
    zoo = Zoo.load(tiny_zoo)
    path = os.path.join(tiny_zoo, zoo.rows[0]["checkpoint_path"])
    config = json.load(open(os.path.join(path, "adapter_config.json")))
    assert config["base_model_name_or_path"] == tiny_spec.base_model
    assert config["r"] == 2 and sorted(config["target_modules"]) == ["query", "value"]
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(tiny_spec.base_model, num_labels=2)
    model = PeftModel.from_pretrained(base, path)
    assert model.peft_config["default"].r == 2


def test_resume_skips_finished_tasks(tiny_zoo, tiny_spec, tiny_tasks):
    before = {f: os.path.getmtime(os.path.join(tiny_zoo, "entries", f)) for f in os.listdir(
        os.path.join(tiny_zoo, "entries"))}
    settings = TrainingSettings(epochs=2, batch_size=8, max_train_examples=32, num_checkpoints=2,
                                learning_rate=5e-3, head_learning_rate=5e-2)
    done = ZooCollector(tiny_zoo, tiny_spec, settings).collect(tiny_tasks, progress=False)
    assert done == 0
    after = {f: os.path.getmtime(os.path.join(tiny_zoo, "entries", f)) for f in before}
    assert before == after


def test_pack_round_trip_fp16(tiny_zoo, tmp_path):
    packed = pack_zoo(tiny_zoo, tmp_path / "packed")
    assert sorted(os.listdir(packed)) == ["index.jsonl", "layout.json", "weights.safetensors", "zoo_config.json"]
    a, b = Zoo.load(tiny_zoo), Zoo.load(packed)
    assert a.layout == b.layout and [r["task"] for r in a.rows] == [r["task"] for r in b.rows]
    assert torch.allclose(a.vectors, b.vectors, atol=1e-3, rtol=1e-2)


def test_extend_packed_zoo_appends_a_collection(tiny_zoo, tiny_spec, tmp_path):
    """Adapters of new tasks (e.g. held-out datasets, for evaluation only) are appended to a packed zoo without
    re-collecting it; a task already there, or another recipe, is refused with nothing written."""
    from conftest import make_task

    from text2lora.data.zoo import write_index

    packed = pack_zoo(tiny_zoo, tmp_path / "packed")
    settings = TrainingSettings(epochs=2, batch_size=8, max_train_examples=32, num_checkpoints=2,
                                learning_rate=5e-3, head_learning_rate=5e-2)
    extra = tmp_path / "extra"
    ZooCollector(extra, tiny_spec, settings, embedder=None).collect(
        [make_task("new_task", "money", split="unseen_dataset", seed=7)], progress=False)
    write_index(extra)
    before, added = Zoo.load(packed), Zoo.load(extra)
    extend_packed_zoo(packed, extra)
    after = Zoo.load(packed)
    assert [r["task"] for r in after.rows] == [r["task"] for r in before.rows] + ["new_task", "new_task"]
    assert torch.equal(after.vectors[: len(before)], before.vectors)
    assert torch.allclose(after.vectors[len(before):], added.vectors, atol=1e-3, rtol=1e-2)
    assert after.task_names(split="unseen_dataset") == ["new_task"]
    assert "new_task" in (tmp_path / "packed" / "report.md").read_text()
    weights = (tmp_path / "packed" / "weights.safetensors").read_bytes()
    with pytest.raises(ValueError, match="already in"):
        extend_packed_zoo(packed, extra)
    assert (tmp_path / "packed" / "weights.safetensors").read_bytes() == weights
    with pytest.raises(ValueError, match="not a packed"):
        extend_packed_zoo(extra, packed)


def test_collect_extend_refuses_tasks_the_packed_zoo_has_before_training(tiny_zoo, tiny_tasks, tmp_path,
                                                                         monkeypatch):
    from text2lora.commands import collect

    packed = pack_zoo(tiny_zoo, tmp_path / "packed")
    tasks = {t.name: t for t in tiny_tasks}
    monkeypatch.setattr("text2lora.data.tasks.load_task", lambda name: tasks[name])
    with pytest.raises(ValueError, match="already has 1 of these tasks"):
        collect.main(["--output_dir", str(tmp_path / "new"), "--tasks", "good_task", "--extend", str(packed),
                      "--embedder", "none"])
    assert not (tmp_path / "new").exists()  # refused before anything was trained or written


def test_different_spec_or_layout_is_refused(tiny_zoo, tiny_spec, tiny_base):
    other = AdapterSpec(base_model=tiny_base, r=4, lora_alpha=8, max_length=16)
    with pytest.raises(ValueError, match="different adapter spec"):
        ZooCollector(tiny_zoo, other, TrainingSettings())
    # An adapter of another rank cannot be imported.
    peft_model, _ = build_peft_model(other)
    from text2lora.adapters import save_adapter

    foreign = save_adapter(peft_model, os.path.join(os.path.dirname(tiny_zoo), "foreign"))
    with pytest.raises(LayoutMismatchError):
        import_adapter(tiny_zoo, foreign, "foreign_task", ["detect foreign things"])


def test_base_without_target_modules_is_refused(tiny_base):
    spec = AdapterSpec(base_model=tiny_base, target_modules=["q_proj", "v_proj"])
    with pytest.raises(ValueError, match="no module named"):
        build_peft_model(spec)


def test_import_existing_adapter(tiny_zoo, tmp_path):
    import shutil

    zoo_copy = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, zoo_copy)
    source = os.path.join(tiny_zoo, Zoo.load(tiny_zoo).rows[0]["checkpoint_path"])
    row = import_adapter(zoo_copy, source, "imported_task", ["detect imported things"], family="imported")
    zoo = Zoo.load(zoo_copy)
    assert "imported_task" in zoo.task_names()
    assert torch.allclose(zoo.task_vector("imported_task"), zoo.vectors[0])
    assert row["source"] == source


def test_checkpoint_steps():
    assert checkpoint_steps(10, TrainingSettings(num_checkpoints=3, checkpoint_interval=2)) == [6, 8, 10]
    with pytest.raises(ValueError, match="extra_steps"):
        checkpoint_steps(3, TrainingSettings(num_checkpoints=5))


@pytest.mark.slow
def test_kill_and_resume_collection(tmp_path, tiny_base):
    """SIGKILL a collection mid-run; the re-run finishes without redoing finished tasks or leaving partial ones."""
    out = tmp_path / "zoo"
    tasks = ["trec_location", "trec_human", "trec_numeric", "trec_entity"]
    cmd = [sys.executable, os.path.join(ROOT, "collect.py"), "--output_dir", str(out), "--tasks", *tasks,
           "--base_model", tiny_base, "--rank", "2", "--lora_alpha", "4", "--max_train_examples", "32",
           "--epochs", "1", "--embedder", "none", "--no_progress", "--max_length", "16"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    entries = out / "entries"
    while time.time() < deadline and not (entries.exists() and len(list(entries.glob("*.json"))) >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime for p in entries.glob("*.json")}
    assert 1 <= len(finished) < len(tasks)
    for p in entries.glob("*.json"):  # every entry present is complete JSON
        json.loads(p.read_text())
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in entries.glob("*.json")) == sorted(f"{t}.json" for t in tasks)
    for name, mtime in finished.items():
        assert (entries / name).stat().st_mtime == mtime
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert len((out / "index.jsonl").read_text().splitlines()) == len(tasks)


@pytest.mark.slow
def test_unknown_task_in_cli_writes_nothing(tmp_path):
    out = tmp_path / "zoo"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "collect.py"), "--output_dir", str(out), "--tasks",
                             "not_a_task"], env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "Unknown task 'not_a_task'" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_refresh_descriptions_rewrites_shipped_tasks_only(tmp_path):
    import json

    from text2lora.data.tasks import list_tasks, task_info
    from text2lora.data.zoo import refresh_descriptions

    shipped = list_tasks()[0]
    rows = [{"task": shipped, "descriptions": ["old"], "heldout_descriptions": []},
            {"task": "my_own_task", "descriptions": ["mine"], "heldout_descriptions": []}]
    (tmp_path / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert refresh_descriptions(tmp_path) == 1
    new = [json.loads(line) for line in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert new[0]["descriptions"] == task_info(shipped)["descriptions"]
    assert new[0]["heldout_descriptions"] == task_info(shipped)["heldout_descriptions"]
    assert new[1]["descriptions"] == ["mine"]
    assert refresh_descriptions(tmp_path) == 0
    with pytest.raises(ValueError, match="not a text2lora zoo"):
        refresh_descriptions(tmp_path / "missing")
