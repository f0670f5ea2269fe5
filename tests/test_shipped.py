"""The shipped generator and default zoo load from a fresh clone and produce a PEFT adapter."""

import json
import os

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = os.path.join(ROOT, "text2lora", "data", "generator")
ZOO = os.path.join(ROOT, "zoos", "minilm-default")

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(GENERATOR, "model_index.json")),
                                reason="no shipped generator in this checkout")


def test_shipped_generator_fits_its_zoo_and_size_budget():
    from text2lora import Text2LoraPipeline
    from text2lora.data.zoo import Zoo

    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(GENERATOR) for f in fs
               if f.endswith(".safetensors"))
    assert size <= 25 * 10**6
    pipe = Text2LoraPipeline.from_pretrained(GENERATOR)
    assert pipe.denoiser.dtype == torch.float32
    from text2lora.models import HeadHypernetwork, LoraDenoiser

    for cls, folder in ((LoraDenoiser, "denoiser"), (HeadHypernetwork, "head_generator")):
        _, info = cls.from_pretrained(GENERATOR, subfolder=folder, output_loading_info=True)
        assert all(not keys for keys in info.values()), (folder, info)  # every stored weight loads, none is missing
    zoo = Zoo.load(ZOO)
    assert pipe.layout == zoo.layout
    info = json.load(open(os.path.join(GENERATOR, "training_info.json")))
    unseen = set(zoo.task_names(split="unseen"))
    assert unseen and not unseen & set(info["train_tasks"])  # trained on seen tasks only


def test_shipped_head_generator_never_trained_on_an_unseen_task():
    from text2lora.data.tasks import list_tasks

    info = json.load(open(os.path.join(GENERATOR, "head_training_info.json")))
    trained = set(info["train_tasks"])
    assert trained and not trained & set(list_tasks(split="unseen"))
    assert set(info["auxiliary_tasks"]) == trained - set(list_tasks(split="seen"))
    assert set(info["auxiliary_tasks"]) <= set(list_tasks(split="auxiliary"))


@pytest.mark.slow
def test_shipped_generator_writes_a_peft_adapter(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from text2lora import Text2LoraPipeline
    from text2lora.hub import resolve_model

    pipe = Text2LoraPipeline.from_pretrained(GENERATOR)
    pipe.set_progress_bar_config(disable=True)
    out = pipe("detect positive movie reviews", num_inference_steps=10, generator=torch.Generator().manual_seed(0))
    path = pipe.save_adapter(out.adapters[0], tmp_path / "adapter", description="detect positive movie reviews")
    config = json.load(open(os.path.join(path, "adapter_config.json")))
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    base = AutoModelForSequenceClassification.from_pretrained(resolve_model(config["base_model_name_or_path"]),
                                                              num_labels=2)
    model = PeftModel.from_pretrained(base, path)
    assert model.peft_config["default"].r == 8
    card = open(os.path.join(path, "README.md")).read()
    assert "detect positive movie reviews" in card and "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
