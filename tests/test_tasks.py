import json
import os

import pytest

from text2lora.data.tasks import SPLITS, Task, list_families, list_tasks, load_custom_task, load_task, suite_info


def test_shipped_suite_size_and_coverage():
    names = list_tasks()
    assert len(names) >= 200
    info = [load_task(n) for n in names[::25]]
    assert all(len(t.descriptions) + len(t.heldout_descriptions) >= 8 for t in info)
    assert all(len(t.heldout_descriptions) >= 2 for t in info)
    datasets = {json.loads(json.dumps(load_task(n).dataset)) for n in names[::3]}
    assert len(datasets) >= 18
    for family in ("sentiment", "emotion", "hate_offensive", "intent", "topic", "question_type", "subjectivity",
                   "acceptability", "citation_intent", "clickbait", "stance"):
        assert family in list_families()


def test_unseen_split_is_stratified_with_a_whole_family():
    seen, unseen = list_tasks(split="seen"), list_tasks(split="unseen")
    assert len(unseen) / (len(seen) + len(unseen)) >= 0.2
    family = suite_info()["unseen_family"]
    assert set(list_tasks(family=family)) <= set(unseen)
    for fam in list_families():
        members = list_tasks(family=fam)
        if len(members) >= 3 and fam != family:
            assert any(m in unseen for m in members) and any(m in seen for m in members), fam


def test_load_task_rows_are_binary_and_balanced():
    task = load_task("trec_location")
    for split in ("train", "val", "test"):
        labels = task.labels(split)
        assert set(labels) == {0, 1}
    assert abs(sum(task.labels("train")) * 2 - len(task.labels("train"))) <= 1
    assert len(task.labels("test")) >= 100


def test_unknown_task_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown task 'no_such_task'"):
        load_task("no_such_task")


def test_custom_task_from_jsonl_and_csv(tmp_path):
    rows = [{"text": f"text {i}", "label": i % 2} for i in range(20)]
    path = tmp_path / "task.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    task = load_custom_task("mine", "detect odd rows", data_files=str(path), val_fraction=0.25)
    assert len(task.labels("train")) == 15 and len(task.labels("val")) == 5
    csv_path = tmp_path / "task.csv"
    csv_path.write_text("sentence,y\n" + "\n".join(f"s{i},{'pos' if i % 2 else 'neg'}" for i in range(10)))
    task = load_custom_task("mine_csv", ["find pos"], data_files={"train": str(csv_path), "test": str(csv_path)},
                            text_column="sentence", label_column="y", positive_label="pos")
    assert sum(task.labels("test")) == 5


def test_bad_tasks_are_refused():
    data = {"train": {"text": ["a", "b"], "label": [1, 1], "text_pair": None}}
    with pytest.raises(ValueError, match="only one class"):
        Task(name="t", descriptions=["d"], data=data)
    with pytest.raises(ValueError, match="no descriptions"):
        Task(name="t", descriptions=["  "], data={"train": {"text": ["a", "b"], "label": [0, 1]}})
    with pytest.raises(ValueError, match="out of range"):
        Task(name="t", descriptions=["d"], data={"train": {"text": ["a", "b"], "label": [0, 2]}})


def test_augmented_descriptions_are_for_training_tasks_only_and_disjoint_from_heldout():
    import json

    from text2lora.data.tasks import SUITE_DIR, task_info

    raw = {}
    for path in (SUITE_DIR / "descriptions").glob("*.json"):
        raw.update(json.loads(path.read_text()))
    augmented = {name: d["augmented"] for name, d in raw.items() if d.get("augmented")}
    assert len(augmented) > 100
    for name, extra in augmented.items():
        info = task_info(name)
        assert info["split"] in ("seen", "auxiliary"), name  # training tasks only: never unseen ones
        assert info["descriptions"] == raw[name]["train"] + extra
        heldout = {h.strip().lower() for h in raw[name]["heldout"]}
        assert not heldout & {a.strip().lower() for a in extra}, name
    for split in ("seen", "auxiliary"):  # every training task has at least 20 training descriptions
        assert all(len(task_info(n)["descriptions"]) >= 20 for n in list_tasks(split=split)), split


def test_auxiliary_tasks_are_extra_training_tasks_outside_the_suite():
    suite = set(list_tasks())
    auxiliary = list_tasks(split="auxiliary")
    assert len(auxiliary) >= 100 and not suite & set(auxiliary)
    assert set(list_tasks(split="seen")) | set(list_tasks(split="unseen")) == suite
    # The intents that duplicate an unseen task of another dataset are left out.
    assert not {"clinc_update_playlist", "clinc_restaurant_reservation", "clinc_exchange_rate"} & set(auxiliary)
    for name in auxiliary[::20]:
        task = load_task(name)
        assert task.split == "auxiliary"
        assert set(task.data) == {"train", "val"} and set(task.labels("train")) == {0, 1}
        if task.dataset in ("clinc", "banking"):
            assert task.family == "intent"
            assert len(task.descriptions) >= 20 and len(task.heldout_descriptions) == 3  # 7 hand-written + paraphrases
    with pytest.raises(ValueError, match="auxiliary"):
        list_tasks(split="held-out")


def test_add_paraphrases_appends_new_training_descriptions_only(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("add_paraphrases", os.path.join(
        os.path.dirname(__file__), "..", "scripts", "add_paraphrases.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path / "descriptions"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"t_seen": {"train": ["find x"], "heldout": ["spot the x"]},
                                               "t_unseen": {"train": ["find y"], "heldout": ["spot y"]}}, indent=2))
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"tasks": {"t_seen": {"split": "seen"}, "t_unseen": {"split": "unseen"}}}))
    before = (folder / "a.json").read_text()
    with pytest.raises(ValueError, match="hand-written descriptions only"):
        module.add_paraphrases({"t_unseen": ["look for y"]}, folder, tasks)
    with pytest.raises(ValueError, match="unknown task"):
        module.add_paraphrases({"nope": ["z"]}, folder, tasks)
    assert (folder / "a.json").read_text() == before  # refused: nothing written
    added = module.add_paraphrases({"t_seen": ["Spot  the X", "FIND X", "is there an x?", "is there an x?"]},
                                   folder, tasks)
    assert added == {"t_seen": 1}  # the held-out and train duplicates and the repeat are skipped
    data = json.loads((folder / "a.json").read_text())
    assert data["t_seen"] == {"train": ["find x"], "heldout": ["spot the x"], "augmented": ["is there an x?"]}
    assert (folder / "a.json").read_text() == json.dumps(data, indent=2)  # the file keeps its format


# Second round: leave-dataset-out (split "unseen_dataset"), auxiliary datasets and pooled concept tasks.


def _builder():
    """scripts/build_task_suite.py as a module (its rules are tested against the shipped suite)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "build_task_suite.py"
    spec = importlib.util.spec_from_file_location("build_task_suite", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _suite():
    """(tasks.json, {task: [rows]}) of the shipped suite, read directly (tasks without descriptions included)."""
    import gzip
    from collections import defaultdict

    from text2lora.data.tasks import SUITE_DIR

    meta = json.loads((SUITE_DIR / "tasks.json").read_text())
    rows = defaultdict(list)
    for name in sorted({info.get("rows_file", info["dataset"]) for info in meta["tasks"].values()}):
        with gzip.open(SUITE_DIR / "rows" / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                rows[r["task"]].append(r)
    return meta, rows


def test_first_round_suite_is_frozen():
    """The first-round rows files and task entries are byte-identical to the ones the adapter zoo and the shipped
    generator were built on (rebuild with scripts/compare_suites.py to see what changed)."""
    import hashlib

    from text2lora.data.tasks import SUITE_DIR

    meta, _ = _suite()
    first = {n: info for n, info in meta["tasks"].items() if info["source"] in meta["first_round_sources"]}
    assert len(first) == 373
    files = sorted({info.get("rows_file", info["dataset"]) for info in first.values()})
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode())
        digest.update((SUITE_DIR / "rows" / f"{name}.jsonl.gz").read_bytes())
    assert digest.hexdigest() == "c4acb35862a6aff432c22cd1e36800eab2ab5e9b166b4d9867b69a7055941194"
    entries = hashlib.sha256(json.dumps(first).encode()).hexdigest()
    assert entries == "d49daf198da7f047d0fbc37d6f651e6bf2d12c0ea61ce2fc09d866164f4aadd2"


def test_heldout_rule_picks_one_distinct_dataset_per_family(monkeypatch):
    builder = _builder()
    meta, _ = _suite()
    datasets = {name: (d["family"], d["rows"]) for name, d in meta["second_round_datasets"].items()}
    picks = builder.heldout_datasets(datasets)
    assert picks == meta["heldout_datasets"]
    assert list(picks) == list(builder.HELDOUT_FAMILIES) and len(set(picks.values())) == len(picks) == 6
    for family, name in picks.items():
        assert datasets[name][0] == family
        assert all(rows <= datasets[name][1] for fam, rows in datasets.values() if fam == family)
    held = {info["dataset"] for info in meta["tasks"].values() if info["split"] == "unseen_dataset"}
    assert held == set(picks.values())
    for info in meta["tasks"].values():  # a held-out dataset is held out whole (DailyDialog's act tasks too)
        assert (info["split"] == "unseen_dataset") == (info["dataset"] in held)
    with pytest.raises(ValueError, match="situation"):
        builder.heldout_datasets({k: v for k, v in datasets.items() if v[0] != "situation"})
    monkeypatch.setattr(builder, "HELDOUT_FAMILIES", ("sentiment", "sentiment"))
    with pytest.raises(ValueError, match="not distinct"):
        builder.heldout_datasets(datasets)


def test_unseen_dataset_tasks_have_train_val_and_test_rows():
    meta, rows = _suite()
    held = [name for name, info in meta["tasks"].items() if info["split"] == "unseen_dataset"]
    assert len(held) >= 20
    assert set(list_tasks(split="unseen_dataset", with_descriptions=False)) == set(held)
    for name in held:
        by_split = {split: [r["label"] for r in rows[name] if r["split"] == split] for split in SPLITS}
        for split, labels in by_split.items():
            assert set(labels) == {0, 1}, (name, split)
            assert meta["tasks"][name]["counts"][split] == {"rows": len(labels), "positives": sum(labels)}
        assert abs(2 * sum(by_split["train"]) - len(by_split["train"])) <= 1


def test_no_auxiliary_or_pooled_row_uses_a_held_out_text():
    meta, rows = _suite()
    held = {r["text"] for name, info in meta["tasks"].items() if info["split"] == "unseen_dataset" for r in rows[name]}
    for name, info in meta["tasks"].items():
        if info["split"] == "auxiliary":
            assert {r["split"] for r in rows[name]} == {"train", "val"}, name
            assert not {r["text"] for r in rows[name]} & held, name


def test_pooled_tasks_are_built_only_from_training_tasks():
    builder = _builder()
    meta, rows = _suite()
    pooled = {name: info for name, info in meta["tasks"].items() if info["family"] == "pooled"}
    assert len(pooled) >= 8 and all(info["split"] == "auxiliary" for info in pooled.values())
    for name, info in pooled.items():
        members = info["members"]
        assert members == builder.pooled_members(meta["tasks"], info["label"])
        assert members["positive"] and members["negative"], name
        for member in members["positive"] + members["negative"]:
            assert meta["tasks"][member]["split"] in ("seen", "auxiliary"), (name, member)
            assert meta["tasks"][member]["family"] != "pooled"
        for label, side in ((1, "positive"), (0, "negative")):
            allowed = {(r["split"], r["text"]) for m in members[side] for r in rows[m] if r["label"] == 1}
            for r in rows[name]:
                if r["label"] == label:
                    assert (r["split"], r["text"]) in allowed, (name, r["text"])
        for split in ("train", "val"):
            labels = [r["label"] for r in rows[name] if r["split"] == split]
            assert sum(labels) * 2 == len(labels) >= 16
        train = {r["text"] for r in rows[name] if r["split"] == "train"}
        assert not train & {r["text"] for r in rows[name] if r["split"] == "val"}


def test_a_task_without_descriptions_is_a_clear_state(monkeypatch):
    import text2lora.data.tasks as tasks

    meta, descriptions = tasks._registry()
    name = "trec_location"
    monkeypatch.setattr(tasks, "_registry", lambda: (meta, {k: v for k, v in descriptions.items() if k != name}))
    assert name not in tasks.list_tasks() and name in tasks.list_tasks(with_descriptions=False)
    assert tasks.task_info(name)["described"] is False and tasks.task_info(name)["descriptions"] == []
    with pytest.raises(ValueError, match="no descriptions yet"):
        tasks.load_task(name)
