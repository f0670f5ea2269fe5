import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import TINY_TRAIN, run_train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_denoiser_save_load_equality_and_seeded_determinism(tiny_generator, tmp_path):
    from text2lora.models import LoraDenoiser

    model = LoraDenoiser.from_pretrained(tiny_generator, subfolder="denoiser")
    model.save_pretrained(tmp_path / "d")
    again = LoraDenoiser.from_pretrained(tmp_path / "d")
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    assert json.load(open(tmp_path / "d" / "config.json"))["layout"]["token_size"] == 16
    x = torch.randn(2, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    cond = torch.randn(2, model.config.condition_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(x, 10, cond).sample, again(x, 10, cond).sample)


@pytest.mark.slow
def test_raw_token_mode_trains_and_samples(tiny_zoo, tiny_base, tmp_path):
    from text2lora import Text2LoraPipeline

    run_train(tiny_zoo, tmp_path / "raw", tiny_base, "--max_train_steps", "2", "--latent_dim", "0",
              "--validation_tasks")
    pipe = Text2LoraPipeline.from_pretrained(tmp_path / "raw")
    pipe.set_progress_bar_config(disable=True)
    assert pipe.denoiser.config.latent_dim == 0
    assert pipe.denoiser.sample_shape == (pipe.layout.num_tokens, 16)
    out = pipe("detect good texts", num_inference_steps=2)
    assert out.vectors.shape == (1, pipe.layout.num_params)


def test_latent_autoencoder_round_trips_the_zoo(tiny_zoo):
    from text2lora.data.zoo import Zoo
    from text2lora.models import LoraDenoiser

    zoo = Zoo.load(tiny_zoo)
    model = LoraDenoiser(layout=zoo.layout.to_dict(), adapter_spec=zoo.spec.to_dict(), condition_dim=8,
                         hidden_size=16, num_layers=1, num_heads=2, latent_dim=10, latent_token_size=5)
    model.fit_normalization(zoo.vectors)
    z = model.encode(zoo.vectors)
    assert z.shape == (len(zoo), 2, 5)
    assert torch.allclose(model.decode(z), zoo.vectors, atol=1e-4)  # 8 adapters fit in a 10-dim latent exactly


@pytest.mark.slow
def test_fp16_storage_loads_as_float32(tiny_zoo, tiny_base, tmp_path):
    from text2lora import Text2LoraPipeline

    run_train(tiny_zoo, tmp_path / "half", tiny_base, "--max_train_steps", "1", "--save_fp16", "--validation_tasks")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "half" / "denoiser" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert f.get_tensor("proj_in.weight").dtype == torch.float16
    pipe = Text2LoraPipeline.from_pretrained(tmp_path / "half")
    assert pipe.denoiser.dtype == torch.float32


def test_train_writes_a_loadable_pipeline(tiny_generator):
    from diffusers import DiffusionPipeline

    import text2lora  # noqa: F401  (registers Text2LoraPipeline with diffusers)
    from text2lora import Text2LoraPipeline

    assert {"model_index.json", "denoiser", "scheduler", "training_info.json"} <= set(os.listdir(tiny_generator))
    assert "layout.json" not in os.listdir(tiny_generator)  # the layout lives in the denoiser's config
    info = json.load(open(os.path.join(tiny_generator, "training_info.json")))
    assert "money_task" not in info["train_tasks"]  # the unseen task is not trained on
    pipe = DiffusionPipeline.from_pretrained(tiny_generator)
    assert isinstance(pipe, Text2LoraPipeline)


def test_pipeline_round_trip_seed_and_scheduler_swap(tiny_generator, tmp_path):
    from diffusers import DPMSolverMultistepScheduler

    from text2lora import Text2LoraPipeline

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator)
    pipe.set_progress_bar_config(disable=True)
    a = pipe("detect good texts", num_inference_steps=3, generator=torch.Generator().manual_seed(0))
    b = pipe("detect good texts", num_inference_steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.vectors, b.vectors)
    pipe.save_pretrained(tmp_path / "p")
    again = Text2LoraPipeline.from_pretrained(tmp_path / "p")
    again.set_progress_bar_config(disable=True)
    c = again("detect good texts", num_inference_steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.vectors, c.vectors)
    again.scheduler = DPMSolverMultistepScheduler.from_config(again.scheduler.config)
    d = again(["detect good texts", "spot sport"], num_inference_steps=3, num_adapters_per_prompt=2,
              guidance_scale=2.0, generator=torch.Generator().manual_seed(0))
    assert d.vectors.shape[0] == 4 and torch.isfinite(d.vectors).all()
    assert d.descriptions == ["detect good texts"] * 2 + ["spot sport"] * 2


def test_pipeline_bad_inputs(tiny_generator):
    from text2lora import Text2LoraPipeline

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator)
    with pytest.raises(ValueError, match="non-empty"):
        pipe("   ")
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe("x", num_inference_steps=0)
    with pytest.raises(ValueError, match="guidance_scale"):
        pipe("x", guidance_scale=-1.0)


def test_non_finite_weights_are_refused_before_writing(tiny_generator, tmp_path):
    from text2lora import Text2LoraPipeline
    from text2lora.pipelines import NonFiniteWeightsError

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator)
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        pipe.denoiser.param_std.fill_(float("inf"))
    with pytest.raises(NonFiniteWeightsError):
        pipe("detect good texts", num_inference_steps=2)
    adapter = pipe.layout.unflatten(torch.full((pipe.layout.num_params,), float("nan")))
    with pytest.raises(NonFiniteWeightsError):
        pipe.save_adapter(adapter, tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_checkpoint_then_resume(tiny_zoo, tiny_base, tmp_path):
    out = tmp_path / "run"
    run_train(tiny_zoo, out, tiny_base, "--max_train_steps", "2", "--checkpointing_steps", "2", "--use_ema",
              "--validation_tasks")
    assert os.path.isdir(out / "checkpoint-2")
    run_train(tiny_zoo, out, tiny_base, "--max_train_steps", "4", "--checkpointing_steps", "2", "--use_ema",
              "--resume_from_checkpoint", "latest", "--validation_tasks")
    assert os.path.isdir(out / "checkpoint-4")
    info = json.load(open(out / "training_info.json"))
    assert [h["step"] for h in info["loss_history"]] == [3, 4]  # resumed at step 2


@pytest.mark.slow
def test_generate_cli_end_to_end(tiny_generator, tmp_path):
    out = tmp_path / "adapters"
    cmd = [sys.executable, os.path.join(ROOT, "generate.py"), "--task", "detect good texts", "--generator",
           tiny_generator, "--output_dir", str(out), "--num_inference_steps", "3", "--seed", "7",
           "--try", "what a wonderful day"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    target = out / "detect-good-texts-auto-seed7"
    assert target.is_dir()
    assert result.stderr == ""  # quiet by default: no library warnings, load reports or progress bars
    assert "wrote adapter for 'detect good texts'" in result.stdout and str(target) in result.stdout
    # The printed load lines run as printed (plain PEFT, the base resolved by text2lora).
    lines = result.stdout.split("load it with plain PEFT:\n")[1].splitlines()
    scope = {}
    exec("\n".join(line.strip() for line in lines if line.startswith("  ")), scope)
    assert type(scope["model"]).__name__ == "PeftModelForSequenceClassification"
    assert "label" in result.stdout
    config = json.load(open(target / "generation_config.json"))
    assert config["description"] == "detect good texts" and config["seed"] == 7
    train_tasks = json.load(open(os.path.join(tiny_generator, "training_info.json")))["train_tasks"]
    assert config["snapped_to_task"] in train_tasks and repr(config["snapped_to_task"]) in result.stdout
    # Loads with plain PEFT and no missing/unexpected keys.
    from peft import PeftModel, get_peft_model_state_dict
    from peft.utils import load_peft_weights
    from transformers import AutoModelForSequenceClassification

    base_model = json.load(open(target / "adapter_config.json"))["base_model_name_or_path"]
    assert base_model == json.load(open(os.path.join(tiny_generator, "denoiser", "config.json")))[
        "adapter_spec"]["base_model"]
    base = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=2)
    model = PeftModel.from_pretrained(base, target)
    saved = load_peft_weights(str(target))
    expected = get_peft_model_state_dict(model)
    assert set(saved) == set(expected)
    assert (target / "README.md").read_text().startswith("---")


def test_condition_anchors_are_the_task_description_means_and_snap_descriptions(tiny_generator, tiny_zoo, tiny_base,
                                                                               tmp_path):
    import numpy as np

    from text2lora import Text2LoraPipeline
    from text2lora.data.zoo import Zoo
    from text2lora.embedding import embed

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator)
    pipe.set_progress_bar_config(disable=True)
    denoiser = pipe.denoiser
    tasks = json.load(open(os.path.join(tiny_generator, "training_info.json")))["train_tasks"]
    assert denoiser.config.anchor_tasks == tasks
    zoo = Zoo.load(tiny_zoo)
    for i, name in enumerate(tasks):
        mean = embed(zoo.task_row(name)["descriptions"], tiny_base).mean(0)
        expected = torch.from_numpy(mean / np.linalg.norm(mean))
        assert torch.allclose(denoiser.anchor_embeddings[i].float(), expected, atol=1e-3), name
    # Each anchor snaps to its own task; snapping changes only the condition.
    snapped, names = denoiser.snap_condition(denoiser.anchor_embeddings.float() * 3.0)
    assert names == tasks and torch.equal(snapped, denoiser.anchor_embeddings.float())
    descriptions = ["detect good texts", "spot sport"]
    out = pipe(descriptions, num_inference_steps=3, num_adapters_per_prompt=2,
               generator=torch.Generator().manual_seed(0))
    anchors, expected_names = denoiser.snap_condition(pipe.encode_prompt(descriptions))
    assert out.snapped_tasks == [n for n in expected_names for _ in range(2)]
    direct = pipe(descriptions, num_inference_steps=3, num_adapters_per_prompt=2, condition=anchors,
                  generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.vectors, direct.vectors) and direct.snapped_tasks is None
    raw = pipe(descriptions, num_inference_steps=3, num_adapters_per_prompt=2, snap_to_seen_tasks=False,
               generator=torch.Generator().manual_seed(0))
    own = pipe(descriptions, num_inference_steps=3, num_adapters_per_prompt=2,
               condition=pipe.encode_prompt(descriptions), generator=torch.Generator().manual_seed(0))
    assert raw.snapped_tasks is None and torch.equal(raw.vectors, own.vectors)
    # The anchors round-trip through save_pretrained.
    pipe.save_pretrained(tmp_path / "p")
    again = Text2LoraPipeline.from_pretrained(tmp_path / "p")
    assert again.denoiser.config.anchor_tasks == tasks
    assert torch.equal(again.denoiser.anchor_embeddings, denoiser.anchor_embeddings)


def test_condition_anchor_errors(tiny_generator):
    from text2lora import Text2LoraPipeline
    from text2lora.models import LoraDenoiser

    pipe = Text2LoraPipeline.from_pretrained(tiny_generator)
    config = dict(pipe.denoiser.config)
    config["anchor_tasks"] = None
    plain = LoraDenoiser.from_config(config)
    assert not plain.has_condition_anchors
    pipe.denoiser = plain
    with pytest.raises(ValueError, match="condition anchors"):
        pipe("detect good texts", snap_to_seen_tasks=True)
    assert pipe("detect good texts", num_inference_steps=2).snapped_tasks is None
    with pytest.raises(ValueError, match="shape"):
        plain.set_condition_anchors(["a", "b"], torch.ones(3, plain.config.condition_dim))
    with pytest.raises(ValueError, match="unique"):
        plain.set_condition_anchors(["a", "a"], torch.ones(2, plain.config.condition_dim))


def test_add_condition_anchors_script_reproduces_train_anchors(tiny_generator, tmp_path):
    """An older generator (no anchors) gets exactly the anchors train.py writes, and unchanged weights."""
    import shutil

    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from add_condition_anchors import main as add_anchors

    from text2lora.models import LoraDenoiser

    gen = tmp_path / "gen"
    shutil.copytree(tiny_generator, gen)
    original = LoraDenoiser.from_pretrained(gen / "denoiser")
    config = dict(original.config)
    config["anchor_tasks"] = None
    old = LoraDenoiser.from_config(config)
    state = {k: v for k, v in original.state_dict().items() if k != "anchor_embeddings"}
    old.load_state_dict(state)
    shutil.rmtree(gen / "denoiser")
    old.save_pretrained(gen / "denoiser")
    assert not LoraDenoiser.from_pretrained(gen / "denoiser").has_condition_anchors
    add_anchors(["--generator", str(gen)])
    again = LoraDenoiser.from_pretrained(gen / "denoiser")
    assert again.config.anchor_tasks == original.config.anchor_tasks
    assert torch.allclose(again.anchor_embeddings, original.anchor_embeddings, atol=1e-6)
    for k, v in state.items():
        assert torch.equal(again.state_dict()[k], v), k
    assert sorted(os.listdir(gen)) == sorted(os.listdir(tiny_generator))  # no temp folder left behind
    assert "_name_or_path" not in json.load(open(gen / "denoiser" / "config.json"))
    with pytest.raises(ValueError, match="not a generator"):
        add_anchors(["--generator", str(tmp_path / "missing")])


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--task", "  "], "non-empty"),
    (["--task", "x", "--num_inference_steps", "0"], "num_inference_steps"),
    (["--task", "x", "--guidance_scale", "-1"], "guidance_scale"),
    (["--task", "x", "--generator", "/nonexistent/generator"], "is not a folder here, and not a Hub repo id"),
])
def test_generate_cli_bad_input_is_one_clear_line(args, message, tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "generate.py"), "--output_dir", str(tmp_path / "o"), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_generate_refuses_foreign_directory(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    cmd = [sys.executable, os.path.join(ROOT, "generate.py"), "--task", "x", "--generator", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 2 and "not a Text2LoraPipeline" in result.stderr


def test_generator_layout_must_match_base(tiny_generator, tmp_path):
    import shutil

    from text2lora import Text2LoraPipeline

    copy = tmp_path / "gen"
    shutil.copytree(tiny_generator, copy)
    config_path = copy / "denoiser" / "config.json"
    config = json.load(open(config_path))
    config["adapter_spec"]["r"] = 4  # the base now yields rank-4 adapters, the layout says rank 2
    config_path.write_text(json.dumps(config))
    pipe = Text2LoraPipeline.from_pretrained(copy)
    pipe.set_progress_bar_config(disable=True)
    out = pipe("detect good texts", num_inference_steps=2)
    with pytest.raises(ValueError, match="does not match its base model"):
        pipe.save_adapter(out.adapters[0], tmp_path / "a")


@pytest.mark.slow
def test_two_process_accelerate_launch(tiny_zoo, tiny_base, tmp_path):
    out = tmp_path / "ddp"
    import socket

    with socket.socket() as sock:  # a free rendezvous port, not the default 29500 a stale run may hold
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--main_process_port", str(port), "--mixed_precision", "no", "--dynamo_backend", "no",
           os.path.join(ROOT, "train.py"), "--zoo", tiny_zoo,
           "--embedder", tiny_base, "--output_dir", str(out), *TINY_TRAIN, "--max_train_steps", "2",
           "--checkpointing_steps", "1000", "--validation_tasks"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Num processes: 2" in result.stderr + result.stdout
    assert (out / "model_index.json").exists()


def test_condition_augmentation_stays_on_the_task():
    """mix=0/noise=0 returns one of the task's own embeddings; a mix is a unit-norm convex combination of them;
    noise moves the condition by about its norm; the same seed gives the same conditions."""
    from text2lora.training.denoiser_training import ZooDataset

    g = torch.Generator().manual_seed(123)
    desc = torch.nn.functional.normalize(torch.randn(4, 16, generator=g), dim=1)
    tokens = torch.zeros(1, 3, 2)
    plain = ZooDataset(tokens, [desc], seed=0)
    for _ in range(5):
        c = plain[0]["condition"]
        assert any(torch.equal(c, d) for d in desc)
    mixed = ZooDataset(tokens, [desc], seed=0, mix=1.0)
    for _ in range(5):
        c = mixed[0]["condition"]
        assert torch.isclose(c.norm(), torch.tensor(1.0), atol=1e-5)
        assert not any(torch.allclose(c, d) for d in desc)
        # c is a positive multiple of a convex combination: non-negative least-squares weights recover it.
        w = torch.linalg.lstsq(desc.T, c[:, None]).solution[:, 0]
        assert torch.allclose(desc.T @ w, c, atol=1e-4) and (w > -1e-4).all()
    noisy = ZooDataset(tokens, [desc[:1]], seed=0, noise=0.3)
    c = noisy[0]["condition"]
    assert torch.isclose(c.norm(), torch.tensor(1.0), atol=1e-5)
    assert 0.2 < (c - desc[0]).norm() < 0.4
    a = ZooDataset(tokens, [desc], seed=3, mix=0.5, noise=0.2)
    b = ZooDataset(tokens, [desc], seed=3, mix=0.5, noise=0.2)
    assert all(torch.equal(a[0]["condition"], b[0]["condition"]) for _ in range(4))
    ids = ZooDataset(tokens, torch.tensor([7]), seed=0, mix=1.0, noise=0.5)
    assert ids[0]["condition"].item() == 7  # task-id conditions are never augmented


def test_anchor_conditions_are_the_pipeline_anchors():
    """anchor=1 always gives the task's anchor, exactly what text2lora.embedding.task_anchors (and so the pipeline's
    snapping) computes, with no noise; anchor=0.5 gives it about half the time."""
    from text2lora.embedding import task_anchors
    from text2lora.training.denoiser_training import ZooDataset

    g = torch.Generator().manual_seed(5)
    desc = torch.nn.functional.normalize(torch.randn(3, 16, generator=g), dim=1)
    tokens = torch.zeros(1, 3, 2)
    anchor = torch.from_numpy(task_anchors([desc.numpy()])[0])
    always = ZooDataset(tokens, [desc], seed=0, mix=0.5, noise=0.5, anchor=1.0)
    assert all(torch.allclose(always[0]["condition"], anchor, atol=1e-6) for _ in range(5))
    half = ZooDataset(tokens, [desc], seed=0, mix=0.5, noise=0.5, anchor=0.5)
    hits = sum(torch.allclose(half[0]["condition"], anchor, atol=1e-6) for _ in range(200))
    assert 70 < hits < 130


def test_bad_condition_augmentation_flags_are_refused():
    from text2lora.commands.train import parse_args
    from text2lora.training.denoiser_training import DenoiserTrainingArguments

    with pytest.raises(ValueError, match="condition_mix"):
        parse_args(["--condition_mix", "1.5"])
    with pytest.raises(ValueError, match="condition_noise"):
        parse_args(["--condition_noise", "-0.1"])
    with pytest.raises(ValueError, match="anchor_condition_prob"):
        parse_args(["--anchor_condition_prob", "1.2"])
    with pytest.raises(ValueError, match="anchor_condition_prob"):
        DenoiserTrainingArguments(anchor_condition_prob=-0.5)


def test_attention_paths_agree():
    """Short sequences use nn.MultiheadAttention, long ones scaled_dot_product_attention: the same function."""
    from text2lora.models.denoiser import AdaLNBlock

    torch.manual_seed(0)
    block = AdaLNBlock(32, 4, 2.0).eval()
    h = torch.randn(2, 40, 32)
    with torch.no_grad():
        short = block.attention(h)
        block.sdpa_min_tokens = 1
        long = block.attention(h)
    assert torch.allclose(short, long, atol=1e-5)
