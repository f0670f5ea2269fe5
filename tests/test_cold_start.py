"""Cold start: the package and the CLI import only what a call needs, and the light embedder embeds exactly as
sentence-transformers does."""

import importlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("torch", "diffusers", "transformers", "peft", "sentence_transformers", "sklearn", "scipy", "datasets",
         "accelerate", "matplotlib")
TEXTS = ["detect spam", "  classify sentiment  ", "Ünïcödé text — with émojis 😀", "x", "",
         "word " * 40 + "end", "Is this about sports?\nYes.", "\t tabs\tand  spaces ", "find sports news"]


def _python(*args, code=None):
    """Run ``python args`` (or ``python -c code``) from the repository root with this worktree first on the path."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, *args] + (["-c", code] if code else [])
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _imported_top_level(importtime_stderr):
    """Top-level package names in the ``-X importtime`` report."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_import_text2lora_loads_no_heavy_library():
    result = _python(code="import sys, text2lora; print(sorted(m for m in sys.modules if m.split('.')[0] in "
                          f"{HEAVY!r}))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_lazy_names_are_the_modules_objects():
    import text2lora

    modules = {"AdapterSpec": "adapters", "LoraLayout": "data.layout", "list_tasks": "data.tasks",
               "balanced_accuracy": "evaluation.metrics", "resolve_model": "hub.resolve", "LoraDenoiser": "models",
               "Text2LoraPipeline": "pipelines.pipeline_text2lora", "SHIPPED_GENERATOR": "pipelines"}
    for name, module in modules.items():
        assert getattr(text2lora, name) is getattr(importlib.import_module(f"text2lora.{module}"), name)
    for name in text2lora.__all__:
        assert getattr(text2lora, name) is not None and name in dir(text2lora)
    assert len(text2lora.__all__) == 14
    with pytest.raises(AttributeError):
        text2lora.not_a_name  # noqa: B018
    from text2lora import AdapterSpec, Text2LoraPipeline  # noqa: F401  (from-imports resolve too)


def test_pipeline_import_registers_it_with_diffusers():
    import diffusers

    import text2lora.pipelines

    assert diffusers.Text2LoraPipeline is text2lora.pipelines.Text2LoraPipeline


@pytest.mark.parametrize("argv", [["--help"], ["--task", ""], ["--task", "a", "--num_adapters", "0"]])
def test_generate_help_and_bad_flags_import_no_heavy_library(argv):
    result = _python("-X", "importtime", "generate.py", *argv)
    assert result.returncode == (0 if argv == ["--help"] else 2)
    assert not _imported_top_level(result.stderr) & set(HEAVY)
    if argv == ["--help"]:
        assert "--task" in result.stdout and "--output_dir" in result.stdout


@pytest.mark.slow
def test_text2lora_imported_after_diffusion_pipeline_registers_it():
    result = _python(code="from diffusers import DiffusionPipeline\nimport diffusers, text2lora\n"
                          "print(diffusers.Text2LoraPipeline is text2lora.Text2LoraPipeline)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# -- the light embedder ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_sentence_model(tiny_base, tmp_path_factory):
    """``tiny_base`` as a classic sentence-transformers folder: Transformer, mean Pooling, Normalize."""
    path = tmp_path_factory.mktemp("tiny-st") / "model"
    shutil.copytree(tiny_base, path)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (path / "modules.json").write_text(json.dumps(modules))
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16, "do_lower_case": False}))
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    (path / "2_Normalize").mkdir()
    return str(path)


def _assert_same_embeddings(path):
    from sentence_transformers import SentenceTransformer

    from text2lora.embedding import MeanPoolingEmbedder, embed, overlong_texts

    reference, light = SentenceTransformer(path, device="cpu"), MeanPoolingEmbedder(path)
    for batch_size in (1, 3, 128):
        expected = reference.encode(TEXTS, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                                    show_progress_bar=False)
        got = light.encode(TEXTS, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(light.encode("detect spam"), reference.encode("detect spam"), atol=1e-5, rtol=0)
    np.testing.assert_allclose(embed(TEXTS, light), embed(TEXTS, reference), atol=1e-5, rtol=0)
    assert light.max_seq_length == reference.max_seq_length
    assert overlong_texts(TEXTS, light) == overlong_texts(TEXTS, reference)


def test_light_embedder_matches_sentence_transformers(tiny_sentence_model):
    from text2lora.embedding import MeanPoolingEmbedder, load_embedder, overlong_texts

    assert isinstance(load_embedder(tiny_sentence_model), MeanPoolingEmbedder)
    _assert_same_embeddings(tiny_sentence_model)
    assert overlong_texts(TEXTS, load_embedder(tiny_sentence_model)) == ["word " * 40 + "end"]


@pytest.mark.slow
def test_light_embedder_matches_sentence_transformers_on_minilm():
    from text2lora.embedding import DEFAULT_EMBEDDER, mean_pooling_config
    from text2lora.hub import resolve_model

    path = resolve_model(DEFAULT_EMBEDDER)
    assert mean_pooling_config(path) == {"max_seq_length": 256, "normalize": True}
    _assert_same_embeddings(path)


@pytest.mark.parametrize("change", ["cls_pooling", "lower_case", "prompt", "dense", "no_modules", "encoder_decoder"])
def test_other_sentence_models_fall_back_to_sentence_transformers(tiny_sentence_model, tmp_path, change):
    from sentence_transformers import SentenceTransformer

    from text2lora.embedding import load_embedder, mean_pooling_config

    path = tmp_path / "model"
    shutil.copytree(tiny_sentence_model, path)

    def edit(name, **values):
        config = json.loads((path / name).read_text())
        config.update(values)
        (path / name).write_text(json.dumps(config))

    if change == "cls_pooling":
        edit("1_Pooling/config.json", pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    elif change == "lower_case":
        edit("sentence_bert_config.json", do_lower_case=True)
    elif change == "prompt":
        (path / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    elif change == "dense":
        modules = json.loads((path / "modules.json").read_text())
        modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        (path / "modules.json").write_text(json.dumps(modules))
    elif change == "no_modules":
        (path / "modules.json").unlink()
    else:
        edit("config.json", is_encoder_decoder=True)
    assert mean_pooling_config(str(path)) is None
    if change in ("lower_case", "no_modules"):  # models sentence-transformers itself can load
        assert isinstance(load_embedder(str(path)), SentenceTransformer)


@pytest.mark.slow
def test_embedding_the_default_model_imports_no_sentence_transformers():
    result = _python(code="import sys\nfrom text2lora.embedding import embed\nprint(embed(['detect spam']).shape)\n"
                          "print(sorted(m for m in ('sentence_transformers', 'sklearn', 'pandas', 'datasets') "
                          "if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(1,", "384)", "[]"]


def test_run_cli_one_shot_runs_without_the_cyclic_gc_and_with_sleeping_openmp_threads(monkeypatch):
    import gc

    from text2lora.cli import run_cli

    def fails(argv):
        assert not gc.isenabled()
        raise ValueError("bad flag")

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert gc.isenabled()
    assert run_cli(lambda argv: gc.isenabled()) is True and "OMP_WAIT_POLICY" not in os.environ
    assert run_cli(lambda argv: (gc.isenabled(), os.environ["OMP_WAIT_POLICY"]), one_shot=True) == (False, "PASSIVE")
    assert gc.isenabled()
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice stands
    with pytest.raises(SystemExit):
        run_cli(fails, one_shot=True)
    assert gc.isenabled() and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
