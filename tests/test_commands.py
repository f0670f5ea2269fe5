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
