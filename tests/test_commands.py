"""The command-line entry points: dataclass flags, thin top-level scripts, console scripts; train.py is the library."""

import ast
import importlib
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ("collect", "train", "train_head", "generate")


def test_train_flags_keep_their_meaning():
    from text2lora.commands.train import parse_args
    from text2lora.training.denoiser_training import DenoiserTrainingArguments

    assert parse_args([]) == DenoiserTrainingArguments()
    assert parse_args([]).validation_tasks is None  # omitted: the default validation tasks
    args = parse_args(["--validation_tasks", "--tasks", "--use_ema", "--max_train_steps", "3"])
    assert args.validation_tasks == [] and args.tasks == []  # the flag alone: none
    assert args.use_ema is True and args.max_train_steps == 3
    assert parse_args(["--validation_tasks", "a", "b"]).validation_tasks == ["a", "b"]
    with pytest.raises(SystemExit):
        parse_args(["--prediction_type", "x0"])
    with pytest.raises(ValueError, match="prediction_type"):
        DenoiserTrainingArguments(prediction_type="x0")  # choices hold in Python too
    with pytest.raises(ValueError, match="hub_model_id"):
        parse_args(["--push_to_hub"])
    with pytest.raises(ValueError, match="max_train_steps"):
        DenoiserTrainingArguments(max_train_steps=0)


def test_collect_generate_and_train_head_flags():
    from text2lora.commands import collect, generate, train_head

    args, spec, settings = collect.parse_args(["--output_dir", "z", "--rank", "2", "--lora_alpha", "4", "--tasks",
                                               "a", "b", "--target_modules", "query", "--epochs", "1"])
    assert args.tasks == ["a", "b"] and spec.r == 2 and spec.lora_alpha == 4 and spec.target_modules == ["query"]
    assert settings.epochs == 1.0 and settings.batch_size == 16
    with pytest.raises(ValueError, match="--pack"):
        collect.parse_args(["--output_dir", "z", "--push_to_hub"])
    with pytest.raises(ValueError, match="not both"):
        collect.parse_args(["--output_dir", "z", "--pack", "p", "--extend", "e"])
    assert collect.parse_args(["--output_dir", "z", "--split", "unseen_dataset"])[0].split == "unseen_dataset"
    args = generate.parse_args(["--task", "a", "--task", "b", "--try", "x", "--try", "y", "--scheduler", "dpm"])
    assert args.task == ["a", "b"] and args.try_text == ["x", "y"] and args.scheduler == "dpm"
    assert generate.parse_args(["--task", "a"]).try_text is None
    with pytest.raises(SystemExit):
        generate.parse_args([])  # --task is required
    with pytest.raises(ValueError, match="given twice"):
        generate.parse_args(["--task", "a", "--task", "a"])
    args = train_head.parse_args(["--auxiliary_tasks", "--max_train_steps", "0"])
    assert args.auxiliary_tasks is True and args.max_train_steps == 0
    with pytest.raises(ValueError, match="rows_per_task"):
        train_head.parse_args(["--rows_per_task", "0"])


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_shows_the_description_and_the_flags(name, capsys):
    module = importlib.import_module(f"text2lora.commands.{name}")
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert module.__doc__.splitlines()[0] in out and "--output_dir" in out


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_top_level_scripts_are_thin_and_nothing_imports_them():
    for name in SCRIPTS + ("app",):  # app.py: the web demo (text2lora.demo)
        path = os.path.join(ROOT, f"{name}.py")
        assert len(open(path).read().splitlines()) <= 20, name
        assert _imports(path) == {"text2lora"}, name
    ours = [os.path.join(ROOT, f"{n}.py") for n in SCRIPTS + ("app",)]
    ours += [os.path.join(ROOT, "scripts", n) for n in ("add_condition_anchors.py", "demo_screenshot.py")]
    ours += [os.path.join(ROOT, "tests", n) for n in ("conftest.py", "test_commands.py", "test_generator.py",
                                                        "test_collection.py", "test_head_generator.py",
                                                        "test_safety.py", "test_demo.py")]
    for folder in ("text2lora", "benchmarks"):
        ours += [os.path.join(d, f) for d, _, files in os.walk(os.path.join(ROOT, folder)) for f in files
                 if f.endswith(".py")]
    for path in ours:
        assert not _imports(path) & set(SCRIPTS + ("app", "demo_screenshot")), path


def test_console_scripts_name_callables():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert {"text2lora-collect", "text2lora-train", "text2lora-train-head", "text2lora-generate"} <= set(scripts)
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_console_script_errors_are_one_line(monkeypatch, capsys):
    from text2lora.commands import train

    monkeypatch.setattr(sys, "argv", ["text2lora-train", "--condition_mix", "2"])
    with pytest.raises(SystemExit) as exit_info:
        train.run()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --condition_mix") and err.count("\n") == 1


@pytest.mark.slow
def test_train_denoiser_is_what_train_py_runs(tiny_zoo, tiny_base, tmp_path):
    """The library call gives the weights the command line gives; num_train_epochs sets the steps of the run (and
    what training_info.json records) without changing the caller's arguments."""
    import json

    from conftest import run_train
    from safetensors.torch import load_file

    from text2lora.training.denoiser_training import DenoiserTrainingArguments, train_denoiser

    run_train(tiny_zoo, tmp_path / "cli", tiny_base, "--max_train_steps", "2", "--validation_tasks")
    args = DenoiserTrainingArguments(zoo=tiny_zoo, embedder=tiny_base, output_dir=str(tmp_path / "lib"),
                                     token_size=16, hidden_size=32, num_layers=1, num_heads=2, train_batch_size=4,
                                     lr_warmup_steps=0, num_train_epochs=1, validation_tasks=[])
    assert train_denoiser(args) == str(tmp_path / "lib")
    assert args.max_train_steps == 4500  # untouched
    info = json.load(open(tmp_path / "lib" / "training_info.json"))
    assert info["training_args"]["max_train_steps"] == 2  # 6 seen adapters, batches of 4: 2 steps per epoch
    weights = "denoiser/diffusion_pytorch_model.safetensors"
    cli, lib = load_file(tmp_path / "cli" / weights), load_file(tmp_path / "lib" / weights)
    assert cli.keys() == lib.keys() and all(torch.equal(cli[k], lib[k]) for k in cli)


def test_denoising_loss_weights_by_min_snr():
    """Plain MSE without snr_gamma; with it, each sample's MSE times min(SNR, gamma) / SNR for epsilon, drawing the
    noise, timesteps and dropout mask in that order from torch's global RNG."""
    from diffusers import DDPMScheduler
    from diffusers.training_utils import compute_snr

    from text2lora.training.denoising import denoising_loss

    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon")
    calls = []

    def denoiser(noisy, timesteps, condition, drop_mask=None):
        calls.append((noisy, timesteps, drop_mask))
        return type("Out", (), {"sample": noisy * 0.5})()

    clean = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    loss = denoising_loss(denoiser, scheduler, clean, None, "epsilon", snr_gamma=5.0, cond_dropout_prob=0.5)
    torch.manual_seed(1)
    noise = torch.randn_like(clean)
    timesteps = torch.randint(0, 1000, (4,))
    drop = torch.rand(4) < 0.5
    noisy, seen_timesteps, seen_drop = calls[0]
    assert torch.equal(seen_timesteps, timesteps) and torch.equal(seen_drop, drop)
    assert torch.equal(noisy, scheduler.add_noise(clean, noise, timesteps))
    snr = compute_snr(scheduler, timesteps)
    per_sample = ((noisy * 0.5 - noise) ** 2).mean(dim=(1, 2))
    assert torch.allclose(loss, (per_sample * torch.clamp(snr, max=5.0) / snr).mean())
    torch.manual_seed(1)
    plain = denoising_loss(denoiser, scheduler, clean, None, "epsilon", snr_gamma=0.0, cond_dropout_prob=0.5)
    assert torch.allclose(plain, per_sample.mean())


# -- label names, generation configs and the cards generate.py writes ------------------------------------------------
def _tiny_pipe(generator_dir):
    from text2lora import Text2LoraPipeline

    pipe = Text2LoraPipeline.from_pretrained(generator_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_pipeline_records_labels_and_generation_configs(tiny_generator):
    pipe = _tiny_pipe(tiny_generator)
    descriptions = ["detect good texts", "spot sport"]
    out = pipe(descriptions, num_inference_steps=2, num_adapters_per_prompt=2,
               generator=torch.Generator().manual_seed(7))
    assert out.labels == [["not good", "good"]] * 2 + [["not sport", "sport"]] * 2
    assert set(out.snapped_tasks) <= {"good_task", "bad_task", "sport_task"}  # not suite tasks: named by description
    assert out.generation_configs[1] == {
        "description": "detect good texts", "generator": tiny_generator, "method": "diffusion",
        "scheduler": type(pipe.scheduler).__name__, "num_inference_steps": 2, "guidance_scale": 1.0, "seed": 7,
        "device": "cpu", "num_adapters_per_prompt": 2, "snap_to_seen_tasks": True, "call_descriptions": descriptions,
        "sample_index": 1, "snapped_to_task": out.snapped_tasks[1], "labels": ["not good", "good"],
        "id2label": {"0": "not good", "1": "good"}, "label2id": {"not good": 0, "good": 1}}
    assert [c["sample_index"] for c in out.generation_configs] == [0, 1, 0, 1]
    assert [c["description"] for c in out.generation_configs] == out.descriptions

    # No torch.Generator: the seed is not known, so it is not recorded; no snapping, one description, given names.
    plain = pipe("detect good texts", num_inference_steps=2, snap_to_seen_tasks=False, labels=["bad", "good"])
    config = plain.generation_configs[0]
    assert "seed" not in config and "device" not in config and "call_descriptions" not in config
    assert "snapped_to_task" not in config and config["snap_to_seen_tasks"] is False
    assert plain.labels == [["bad", "good"]] and config["id2label"] == {"0": "bad", "1": "good"}
    given = pipe("detect good texts", num_inference_steps=2, condition=pipe.encode_prompt(["detect good texts"]))
    assert given.generation_configs[0]["condition"] == "given" and given.generation_configs[0][
        "snap_to_seen_tasks"] is False
    for bad in (["good"], ["good", "good"], ["", "good"], "good"):
        with pytest.raises(ValueError, match="labels"):
            pipe("detect good texts", num_inference_steps=2, labels=bad)


def test_save_adapter_writes_the_label_names(tiny_generator, tmp_path):
    import json

    pipe = _tiny_pipe(tiny_generator)
    out = pipe("detect good texts", num_inference_steps=2, generator=torch.Generator().manual_seed(0),
               labels=["ham", "spam"])
    target = pipe.save_adapter(out.adapters[0], tmp_path / "a", generation_config=out.generation_configs[0])
    written = json.load(open(os.path.join(target, "generation_config.json")))
    assert {k: written[k] for k in out.generation_configs[0]} == out.generation_configs[0]  # written as given
    assert set(written) - set(out.generation_configs[0]) == {"embedder", "text2lora_version"}
    card = open(os.path.join(target, "README.md")).read()
    assert "| 0 | `ham` | the text does not match the description |" in card
    assert "| 1 | `spam` | the text matches the description |" in card
    assert "id2label={0: 'ham', 1: 'spam'}, label2id={'ham': 0, 'spam': 1}" in card
    # Without a generation config, the names come from the description.
    bare = pipe.save_adapter(out.adapters[0], tmp_path / "b", description="spot sport")
    assert json.load(open(os.path.join(bare, "generation_config.json")))["labels"] == ["not sport", "sport"]
    with pytest.raises(ValueError, match="two different names"):
        pipe.save_adapter(out.adapters[0], tmp_path / "c", generation_config={"labels": ["x", "x"]})
    assert not (tmp_path / "c").exists()


def _files(folder):
    return {name: open(os.path.join(folder, name), encoding="utf-8").read()
            for name in ("README.md", "generation_config.json")}


@pytest.mark.parametrize("extra", [[], ["--labels", "not good", "good text"]], ids=["default-labels", "labels"])
def test_api_and_cli_write_the_same_card(tiny_generator, tmp_path, monkeypatch, capsys, extra):
    """generate.py passes the pipeline's generation configs through: for the same call, the API and the CLI write
    identical README.md and generation_config.json files (and weights)."""
    from text2lora.commands import generate
    from text2lora.pipelines import adapter_folder_name

    monkeypatch.chdir(tmp_path)
    tasks = ["detect good texts", "spot sport"]
    written = generate.main(["--task", tasks[0], "--task", tasks[1], "--generator", tiny_generator,
                             "--num_inference_steps", "2", "--num_adapters", "2", "--seed", "3", "--output_dir",
                             "cli", *extra])
    capsys.readouterr()
    pipe = _tiny_pipe(tiny_generator)
    out = pipe(tasks, num_inference_steps=2, num_adapters_per_prompt=2, generator=torch.Generator().manual_seed(3),
               labels=extra[1:] or None)
    assert len(written) == len(out.adapters) == 4
    for i, (adapter, config) in enumerate(zip(out.adapters, out.generation_configs)):
        name = adapter_folder_name(config["description"], "auto", 3, config["sample_index"])
        api = pipe.save_adapter(adapter, os.path.join("api", name), generation_config=config)
        cli = written[i][1]
        assert os.path.basename(cli) == name
        assert _files(api) == _files(cli)
        assert open(os.path.join(api, "adapter_model.safetensors"), "rb").read() == open(
            os.path.join(cli, "adapter_model.safetensors"), "rb").read()
        assert written[i][4] == config["labels"] == (extra[1:] or out.labels[i])
    card = _files(cli)["README.md"]
    assert (f"python generate.py --task 'detect good texts' --task 'spot sport' --generator {tiny_generator} "
            "--method diffusion --scheduler ") in card and "--num_adapters 2" in card
    assert "pipe.save_adapter(out.adapters[3], \"adapter\", generation_config=out.generation_configs[3])" in card


def test_generate_try_prints_label_names_and_probabilities(tiny_generator, tmp_path, monkeypatch, capsys):
    import re

    from text2lora.commands import generate
    from text2lora.inference import classify, load_classifier

    monkeypatch.chdir(tmp_path)
    texts = ["what a wonderful day", "the bank transfer"]
    written = generate.main(["--task", "detect good texts", "--generator", tiny_generator, "--num_inference_steps",
                             "2", "--output_dir", "out", "--try", texts[0], "--try", texts[1]])
    out = capsys.readouterr().out
    assert "  labels: 0 = 'not good', 1 = 'good'\n" in out
    target = written[0][1]
    expected = classify(texts, *load_classifier(target))
    for text, probs in zip(texts, expected):
        best = max(probs, key=probs.get)
        other = next(name for name in probs if name != best)
        line = f"{text!r} -> {best} (p={probs[best]:.2f}; {other} {probs[other]:.2f})"
        assert line + "\n" in out, out
        assert re.fullmatch(r"'.+' -> (not good|good) \(p=[01]\.\d\d; (not good|good) [01]\.\d\d\)", line)
    # The printed load lines give the base model the names.
    lines = out.split("load it with plain PEFT:\n")[1].splitlines()
    code = [line.strip() for line in lines if line.startswith("  ")]
    assert "id2label={0: 'not good', 1: 'good'}, label2id={'not good': 0, 'good': 1}" in code[3]
    scope = {}
    exec("\n".join(code), scope)
    assert scope["model"].config.id2label == {0: "not good", 1: "good"}


@pytest.mark.parametrize("labels,message", [
    (["spam"], "error: --labels takes exactly two names, label 0 then label 1"),
    (["a", "b", "c"], "error: --labels takes exactly two names, label 0 then label 1"),
    (["spam", "spam"], "error: --labels must be two different names, got 'spam' twice."),
    (["", "spam"], "error: --labels must be non-empty text, got ''."),
])
def test_invalid_labels_exit_2_with_one_line(labels, message, monkeypatch, capsys, tmp_path):
    from text2lora.commands import generate

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["text2lora-generate", "--task", "detect spam", "--labels", *labels])
    with pytest.raises(SystemExit) as exit_info:
        generate.run()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert os.listdir(tmp_path) == []  # refused before any work


def test_load_classifier_and_classify(tiny_generator, tmp_path):
    import shutil

    from transformers import pipeline

    from text2lora.inference import classify, load_classifier

    pipe = _tiny_pipe(tiny_generator)
    out = pipe("detect good texts", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    target = pipe.save_adapter(out.adapters[0], tmp_path / "a", generation_config=out.generation_configs[0])
    model, tokenizer = load_classifier(target)
    assert type(model).__name__ == "PeftModelForSequenceClassification" and not model.training
    assert model.config.id2label == {0: "not good", 1: "good"}
    assert model.config.label2id == {"not good": 0, "good": 1}
    texts = ["what a wonderful day", "the bank transfer", "a terrible match"]
    results = classify(texts, model, tokenizer)
    with torch.no_grad():
        enc = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        probs = torch.softmax(model(**enc).logits, -1)
    for row, expected in zip(results, probs.tolist()):
        assert list(row) == ["not good", "good"]
        assert row["not good"] == pytest.approx(expected[0], abs=1e-6)
        assert row["good"] == pytest.approx(expected[1], abs=1e-6)
    assert classify(texts[0], model, tokenizer) == results[:1] and classify([], model, tokenizer) == []
    named = pipeline("text-classification", model=model, tokenizer=tokenizer)(texts[0])[0]
    assert named["label"] == max(results[0], key=results[0].get)
    # An adapter that records no names keeps transformers' defaults; a folder that is no adapter is refused.
    shutil.copytree(target, tmp_path / "plain")
    os.remove(tmp_path / "plain" / "generation_config.json")
    assert load_classifier(tmp_path / "plain")[0].config.id2label == {0: "LABEL_0", 1: "LABEL_1"}
    with pytest.raises(ValueError, match="adapter_config.json is missing"):
        load_classifier(tmp_path)
