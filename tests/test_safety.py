"""Fault tests: saving never deletes a user's files, checkpoints survive kills, bad input is one clear line."""

import json
import os
import stat
import subprocess
import sys
import threading

import pytest
from conftest import run_train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def pipe_and_adapter(tiny_generator):
    import torch

    from text2lora import Text2LoraPipeline

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator)
    pipe.set_progress_bar_config(disable=True)
    out = pipe("detect good texts", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    return pipe, out.adapters[0]


def user_files(folder):
    (folder / "sub").mkdir(parents=True)
    (folder / "important.txt").write_text("keep me")
    (folder / "sub" / "data.csv").write_text("a,b\n1,2\n")


def assert_user_files(folder):
    assert (folder / "important.txt").read_text() == "keep me"
    assert (folder / "sub" / "data.csv").read_text() == "a,b\n1,2\n"


# -- saving ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [False, True])
def test_saving_into_a_folder_of_user_files_refuses_and_keeps_them(pipe_and_adapter, tmp_path, overwrite):
    pipe, adapter = pipe_and_adapter
    target = tmp_path / "mine"
    user_files(target)
    with pytest.raises(ValueError, match="already exists" if not overwrite else "not a text2lora adapter"):
        pipe.save_adapter(adapter, target, description="detect good texts", overwrite=overwrite)
    assert_user_files(target)
    assert sorted(os.listdir(target)) == ["important.txt", "sub"]
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")] == []


@pytest.mark.parametrize("where", [".", "cwd_abs", "ancestor", "home", "/"])
def test_current_folder_ancestors_home_and_root_are_refused(pipe_and_adapter, tmp_path, monkeypatch, where):
    pipe, adapter = pipe_and_adapter
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "work"))
    target = {".": ".", "cwd_abs": str(work), "ancestor": str(tmp_path), "home": "~", "/": "/"}[where]
    target = os.path.expanduser(target)
    with pytest.raises(ValueError, match="Refusing to write"):
        pipe.save_adapter(adapter, target, overwrite=True)
    assert (work / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(work)) == ["notes.txt"]


def test_an_adapter_text2lora_wrote_is_replaced_only_with_overwrite(pipe_and_adapter, tmp_path):
    pipe, adapter = pipe_and_adapter
    target = tmp_path / "adapter"
    pipe.save_adapter(adapter, target, description="first")
    with pytest.raises(ValueError, match="already exists"):
        pipe.save_adapter(adapter, target, description="second")
    assert json.load(open(target / "generation_config.json"))["description"] == "first"
    pipe.save_adapter(adapter, target, description="second", overwrite=True)
    assert json.load(open(target / "generation_config.json"))["description"] == "second"
    # The same adapter folder plus a user's note: --overwrite still refuses, and the note stays.
    (target / "notes.txt").write_text("my note")
    with pytest.raises(ValueError, match="holds README.md, adapter_config.json"):
        pipe.save_adapter(adapter, target, description="third", overwrite=True)
    assert (target / "notes.txt").read_text() == "my note"
    assert json.load(open(target / "generation_config.json"))["description"] == "second"


def test_written_files_get_the_umask_modes(pipe_and_adapter, tmp_path):
    pipe, adapter = pipe_and_adapter
    old = os.umask(0o022)
    try:
        target = pipe.save_adapter(adapter, tmp_path / "modes")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755
    assert {stat.S_IMODE(os.stat(os.path.join(target, n)).st_mode) for n in os.listdir(target)} == {0o644}


def test_concurrent_writers_of_one_folder_never_fail_and_leave_one_complete_copy(tmp_path):
    from text2lora.fileio import atomic_directory

    target = tmp_path / "shared"
    errors = []

    def write(i):
        try:
            for _ in range(10):
                with atomic_directory(target, replace=True) as tmp:
                    for name in ("a", "b", "c"):
                        with open(os.path.join(tmp, name), "w") as f:
                            f.write(str(i))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    contents = {open(target / n).read() for n in ("a", "b", "c")}
    assert sorted(os.listdir(target)) == ["a", "b", "c"] and len(contents) == 1  # one writer's complete copy
    assert sorted(os.listdir(tmp_path)) == ["shared"]  # no temporary folder left behind


def test_a_failed_write_leaves_the_old_folder_as_it_was(tmp_path):
    from text2lora.fileio import atomic_directory

    target = tmp_path / "out"
    target.mkdir()
    (target / "old").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target, replace=True) as tmp:
            open(os.path.join(tmp, "new"), "w").close()
            raise RuntimeError("killed")
    assert sorted(os.listdir(target)) == ["old"] and sorted(os.listdir(tmp_path)) == ["out"]


# -- folder names ---------------------------------------------------------------------------------------------------
def test_folder_names_are_unique_per_description_and_method():
    from text2lora.pipelines import adapter_folder_name

    assert adapter_folder_name("classify sentiment", "diffusion", 0) == "classify-sentiment-diffusion-seed0"
    assert adapter_folder_name("classify sentiment", "hypernetwork", 0) == "classify-sentiment-hypernetwork"
    descriptions = ["判断情感", "检测垃圾邮件", "😀", "🙁", "Classify sentiment", "classify sentiment!",
                    "classify-sentiment", "classify sentiment", "x" * 60, "x" * 61]
    names = [adapter_folder_name(d, "diffusion", 0) for d in descriptions]
    assert len(set(names)) == len(names)
    assert names[0].startswith("task--") and names[4].startswith("classify-sentiment--")
    assert all(len(n) < 80 and "/" not in n for n in names)


# -- crash-safe training checkpoints --------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_kill_during_a_checkpoint_save_resumes_from_the_last_complete_one(tiny_zoo, tiny_base, tmp_path,
                                                                             monkeypatch):
    import accelerate

    from text2lora.training.checkpoints import COMPLETE_MARKER, latest_checkpoint

    out = tmp_path / "run"
    real_save = accelerate.Accelerator.save_state
    calls = []

    def killed_on_second_save(self, output_dir=None, **kwargs):
        calls.append(output_dir)
        if len(calls) == 2:  # write part of the state, then die as a kill would
            os.makedirs(output_dir, exist_ok=True)
            open(os.path.join(output_dir, "model.safetensors"), "wb").close()
            raise KeyboardInterrupt
        return real_save(self, output_dir, **kwargs)

    monkeypatch.setattr(accelerate.Accelerator, "save_state", killed_on_second_save)
    with pytest.raises(KeyboardInterrupt):
        run_train(tiny_zoo, out, tiny_base, "--max_train_steps", "4", "--checkpointing_steps", "2",
                  "--checkpoints_total_limit", "1", "--use_ema", "--validation_tasks")
    # The total limit of 1 never leaves zero checkpoints: checkpoint-2 is still there, complete.
    assert sorted(n for n in os.listdir(out) if "checkpoint" in n) == [".tmp-checkpoint-4", "checkpoint-2"]
    assert (out / "checkpoint-2" / COMPLETE_MARKER).exists()
    # A half-written folder from an older text2lora (no marker) is skipped by "latest".
    (out / "checkpoint-3").mkdir()
    assert latest_checkpoint(out) == str(out / "checkpoint-2")

    monkeypatch.setattr(accelerate.Accelerator, "save_state", real_save)
    run_train(tiny_zoo, out, tiny_base, "--max_train_steps", "4", "--checkpointing_steps", "2",
              "--checkpoints_total_limit", "1", "--use_ema", "--resume_from_checkpoint", "latest",
              "--validation_tasks")
    info = json.load(open(out / "training_info.json"))
    assert [h["step"] for h in info["loss_history"]] == [3, 4]  # resumed after step 2
    assert sorted(n for n in os.listdir(out) if "checkpoint" in n) == ["checkpoint-3", "checkpoint-4"]
    assert (out / "checkpoint-4" / COMPLETE_MARKER).exists()


# -- zoo collection -------------------------------------------------------------------------------------------------
def test_collection_cleans_its_debris_and_a_started_zoo_loads(tiny_spec, tiny_tasks, tmp_path):
    from text2lora.data.zoo import Zoo
    from text2lora.training.collection import TrainingSettings, ZooCollector

    settings = TrainingSettings(epochs=1, batch_size=8, max_train_examples=16)
    collector = ZooCollector(tmp_path / "zoo", tiny_spec, settings, embedder=None)
    zoo = Zoo.load(tmp_path / "zoo")  # started, nothing finished, no index.jsonl yet
    assert len(zoo) == 0 and zoo.task_names() == []
    # What a kill during a checkpoint write leaves: an empty temp folder and a half-written checkpoint folder.
    task_dir = tmp_path / "zoo" / "adapters" / "good_task"
    (task_dir / ".tmp-x1y2").mkdir(parents=True)
    (task_dir / "checkpoint-2").mkdir()
    (task_dir / "checkpoint-2" / "adapter_config.json").write_text("{")
    (tmp_path / "zoo" / "entries" / ".tmp-good_task.json.abc.part").write_text("[")
    collector.collect(tiny_tasks[:1], progress=False)
    assert sorted(os.listdir(task_dir)) == ["checkpoint-2"]
    assert os.listdir(tmp_path / "zoo" / "entries") == ["good_task.json"]
    zoo = Zoo.load(tmp_path / "zoo")  # still no index.jsonl: the finished task's entry is read
    assert zoo.task_names() == ["good_task"] and len(zoo) == 1


# -- one clear message for bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, message", [("banana", "Unknown device"), ("cuda", "no CUDA GPU"),
                                           ("cuda:3", "no CUDA GPU"), ("mps", "MPS is not available")])
def test_unavailable_devices_are_one_clear_error(name, message):
    import torch

    from text2lora.cli import check_device

    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("needs a CPU-only machine")
    with pytest.raises(ValueError, match=message):
        check_device(name)
    assert check_device("cpu") == "cpu"


def test_cli_errors_are_one_line_with_exit_code_2(capsys):
    from text2lora.cli import run_cli

    def fails(error):
        def main(argv):
            raise error
        return main

    for error in (ValueError("bad value\nmore detail"), PermissionError(13, "Permission denied", "/x/y")):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(fails(error))
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def test_output_dir_that_is_a_file_or_under_a_file_is_refused(tmp_path):
    from text2lora.fileio import check_output_dir

    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "sub")
    check_output_dir(tmp_path / "new" / "folder")  # a path that can be created is fine
    assert not (tmp_path / "new").exists()  # and checking creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_output_dir_is_refused(tmp_path):
    from text2lora.fileio import check_output_dir

    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)
    try:
        with pytest.raises(ValueError, match="not writable"):
            check_output_dir(tmp_path / "ro")
    finally:
        os.chmod(tmp_path / "ro", 0o755)


def test_malformed_jsonl_names_the_file_and_the_real_line(tmp_path):
    from text2lora.data.tasks import load_custom_task

    path = tmp_path / "rows.jsonl"
    lines = ['{"text": "a", "label": 1}', "", '{"text": "b", "label": 0}', "", '{"text": "c", "label": 1}',
             '{"text": "d", "label": ', '{"text": "e", "label": 0}']
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"rows\.jsonl, line 6: not valid JSON"):
        load_custom_task("t", "d", data_files=str(path))


def test_string_labels_need_positive_label(tmp_path):
    from text2lora.data.tasks import load_custom_task

    path = tmp_path / "rows.jsonl"
    rows = [{"text": f"t{i}", "label": "pos" if i % 2 else "neg"} for i in range(10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=r"rows\.jsonl, line 1: label 'neg' is not 0 or 1.*--positive-label neg"):
        load_custom_task("t", "d", data_files=str(path))
    task = load_custom_task("t", "d", data_files=str(path), positive_label="pos", val_fraction=0.2)
    labels = {t: y for split in ("train", "val") for t, y in zip(task.data[split]["text"], task.data[split]["label"])}
    assert labels == {f"t{i}": i % 2 for i in range(10)}
    with pytest.raises(ValueError, match="positive_label 'positive' does not occur"):
        load_custom_task("t", "d", data_files=str(path), positive_label="positive")


def test_overlong_descriptions_are_found(tiny_base):
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from text2lora.embedding import overlong_texts

    model = SimpleNamespace(max_seq_length=8, tokenizer=AutoTokenizer.from_pretrained(tiny_base))
    assert overlong_texts(["short one", "word " * 7, "word " * 6], model) == ["word " * 7]


@pytest.mark.slow
def test_generate_cli_bad_input_is_one_line(tiny_generator, tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "rows.jsonl").write_text('{"text": "a", "label": 1}\n{"text": \n')
    cases = [
        (["generate.py", "--task", "x", "--output_dir", str(tmp_path / "file")], "is not a folder"),
        (["generate.py", "--task", "x", "--device", "banana"], "Unknown device"),
        (["generate.py", "--task", "x", "--output_dir", "."], "Refusing to write"),
        (["evaluate_generator.py", "--task-data", str(tmp_path / "rows.jsonl"), "--description", "x"],
         "rows.jsonl, line 2"),
    ]
    for argv, message in cases:
        argv[0] = os.path.join(ROOT, argv[0])
        result = subprocess.run([sys.executable, *argv, "--generator", tiny_generator], capture_output=True,
                                text=True, timeout=300, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT))
        assert result.returncode == 2, (argv, result.stderr[-2000:])
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["file", "rows.jsonl"]


# -- a fresh, offline machine ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_fresh_offline_machine_loads_a_generated_adapter_with_the_printed_lines(tmp_path):
    """Empty HF_HOME, HF_HUB_OFFLINE=1: generate.py with the shipped generator, then its printed load lines and the
    README's Python snippet run as printed, and nothing is written into the cache."""
    hf_home = tmp_path / "hf-home"
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", PYTHONPATH=ROOT)
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "generate.py"), "--task", "detect spam",
                             "--output_dir", "out"], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # the shipped generator's run is quiet too (no PEFT or transformers warnings)
    lines = [line.strip() for line in result.stdout.split("load it with plain PEFT:\n")[1].splitlines()
             if line.startswith("  ")]
    program = "\n".join(lines + ["print(type(model).__name__, sorted(model.peft_config))"])
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600,
                            cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip() == "PeftModelForSequenceClassification ['default']"

    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    snippet = readme.split("```python\n")[1].split("```")[0]
    ran = subprocess.run([sys.executable, "-c", snippet + "\nprint(type(model).__name__)"], capture_output=True,
                         text=True, timeout=600, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip().endswith("PeftModelForSequenceClassification")
    assert (tmp_path / "angry-tweets" / "adapter_model.safetensors").exists()
    cache_files = [os.path.join(d, f) for d, _, files in os.walk(hf_home) for f in files]
    assert cache_files == []  # no hidden setup: nothing was written into the fresh cache


def test_generate_says_what_it_replaced_and_notes_overlong_descriptions(tiny_generator, tmp_path, monkeypatch,
                                                                         capsys):
    from text2lora.commands import generate

    monkeypatch.chdir(tmp_path)
    long = "detect good texts " + "and more words " * 100
    argv = ["--task", "detect good texts", "--task", long, "--generator", tiny_generator, "--num_inference_steps",
            "2", "--output_dir", "out"]
    written = generate.main(argv)
    first = capsys.readouterr()
    assert [w[3] for w in written] == [False, False]  # nothing replaced
    assert first.out.count("wrote adapter for") == 2 and long not in first.out  # the long one is shortened
    assert "the embedder reads only the first" in first.err
    with pytest.raises(ValueError, match="already exists"):
        generate.main(argv)
    generate.main(argv + ["--overwrite"])
    again = capsys.readouterr().out
    assert again.count("replaced adapter for") == 2 and "wrote adapter for" not in again
    assert sorted(os.listdir(tmp_path / "out")) == sorted(os.path.basename(w[1]) for w in written)


def test_offline_is_detected_once_and_said(monkeypatch, caplog):
    import socket

    from huggingface_hub import constants

    from text2lora.hub import resolve as hub

    attempts = []

    def no_network(address, timeout=None):
        attempts.append(address)
        raise OSError("Name or service not known")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_offline", None)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with caplog.at_level("WARNING", logger="text2lora.hub"):
        assert hub.detect_offline() is True
        assert hub.detect_offline() is True
    assert attempts == [("huggingface.co", 443)]  # checked once
    assert constants.HF_HUB_OFFLINE is True and os.environ["HF_HUB_OFFLINE"] == "1"
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "No network" in caplog.records[0].message
    with pytest.raises(hub.OfflineModelError, match="cannot be reached"):
        hub.resolve_model("someone/not-cached-anywhere")
