"""Integration tests on the real packaged all-MiniLM-L6-v2 (no Hub access)."""

import json
import os

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm_zoo(tmp_path_factory):
    from text2lora.adapters import AdapterSpec
    from text2lora.data.zoo import write_index
    from text2lora.training.collection import TrainingSettings, ZooCollector

    path = tmp_path_factory.mktemp("minilm-zoo")
    settings = TrainingSettings(epochs=1, batch_size=16, max_train_examples=32)
    collector = ZooCollector(path, AdapterSpec(), settings, embedder="sentence-transformers/all-MiniLM-L6-v2")
    collector.collect(["trec_location", "clinc_alarm"], progress=False)
    write_index(path)
    return path


def test_collected_adapters_load_with_plain_peft(minilm_zoo):
    from peft import AutoPeftModelForSequenceClassification, PeftModel
    from transformers import AutoModelForSequenceClassification

    from text2lora.hub import DEFAULT_BASE_MODEL, register_offline_copy, resolve_model

    rows = [json.loads(line) for line in open(minilm_zoo / "index.jsonl")]
    assert [r["task"] for r in rows] == ["clinc_alarm", "trec_location"]
    # Both tasks are easy for the embedder: zero-shot is far above chance (0.98 and 0.83 in the shipped zoo).
    assert all(r["zero_shot_test_accuracy"] > 0.75 for r in rows)
    adapter = minilm_zoo / rows[0]["checkpoint_path"]
    config = json.load(open(adapter / "adapter_config.json"))
    assert config["base_model_name_or_path"] == DEFAULT_BASE_MODEL  # portable Hub id, not a local path

    base = AutoModelForSequenceClassification.from_pretrained(resolve_model(DEFAULT_BASE_MODEL), num_labels=2)
    model = PeftModel.from_pretrained(base, adapter)
    register_offline_copy(DEFAULT_BASE_MODEL)  # the Hub id now resolves offline, as a cached download would
    auto = AutoPeftModelForSequenceClassification.from_pretrained(adapter)
    ids = {"input_ids": torch.tensor([[101, 7592, 2088, 102]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    with torch.no_grad():
        assert torch.allclose(model(**ids).logits, auto(**ids).logits, atol=1e-5)


def test_shared_initialization_on_minilm(minilm_zoo):
    from text2lora.data.zoo import Zoo

    zoo = Zoo.load(minilm_zoo)
    assert zoo.layout.num_params == 74498  # r=8 on query/value of 6 layers + the 384x2 head
    assert len({r["seed"] for r in zoo.rows}) == 1
    cfg = json.load(open(os.path.join(minilm_zoo, "zoo_config.json")))
    assert cfg["spec"]["init_seed"] == 0 and cfg["spec"]["target_modules"] == ["query", "value"]
