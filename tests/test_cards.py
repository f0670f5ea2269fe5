"""Model cards and Hub pushing: rendered metadata, and push helpers against a fake HfApi (no network)."""

import os
from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard, ModelCard

from text2lora.adapters import AdapterSpec
from text2lora.hub import cards
from text2lora.hub.cards import (
    parse_card_metadata,
    push_adapter_to_hub,
    push_generator_to_hub,
    push_zoo_to_hub,
    render_adapter_card,
    render_generator_card,
    render_zoo_card,
)

TOKEN = "hf_" + "Q" * 20 + "secretTokenValue1234"
DESCRIPTION = "is this movie review positive?"
BASE = "sentence-transformers/all-MiniLM-L6-v2"


def _front_matter(text):
    """Parse the YAML block by hand too, independently of huggingface_hub."""
    assert text.startswith("---\n")
    block = text.split("\n---\n", 1)[0][len("---\n"):]
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    return data


def _body(text):
    return text.split("\n---\n", 1)[1]


def _generation_config(**overrides):
    config = {
        "description": DESCRIPTION,
        "generator": "text2lora/minilm-generator",
        "generator_revision": "abc123",
        "scheduler": "DDIMScheduler",
        "num_inference_steps": 25,
        "guidance_scale": 1.5,
        "seed": 1234,
        "num_adapters_per_prompt": 1,
        "sample_index": 0,
        "snap_to_seen_tasks": True,
        "embedder": BASE,
        "text2lora_version": "0.1.0",
    }
    config.update(overrides)
    return config


GENERATOR_CONFIG = {
    "generator_id": "text2lora/minilm-generator",
    "zoo": "text2lora/minilm-zoo",
    "base_model": BASE,
    "embedder": BASE,
    "num_seen_tasks": 321,
    "training": {"learning_rate": 0.0003, "train_steps": 20000, "batch_size": 64},
    "evaluation": {
        "table": [
            {"split": "unseen tasks", "generated": 0.812, "fine_tuned": 0.9},
            {"split": "seen tasks", "generated": 0.85, "fine_tuned": 0.91},
        ],
        "controls": {"random_description": 0.503, "mismatched_description": 0.497},
    },
    "scheduler": "DDIMScheduler",
}

ZOO_CONFIG = {
    "zoo_id": "text2lora/minilm-zoo",
    "num_tasks": 321,
    "families": {"sentiment": 40, "topic": 120},
    "sources": [{"dataset": "stanfordnlp/imdb", "license": "other"}, {"dataset": "ag_news", "license": "unknown"}],
    "collection": {"epochs": 3, "max_train_examples": 2000},
    "accuracy_summary": {"median_fine_tuned": 0.88, "median_zero_shot": 0.52},
    "base_model": BASE,
}


# -- adapter card ---------------------------------------------------------------------------------------------------
def test_adapter_card_metadata_and_body():
    text = render_adapter_card(AdapterSpec(), _generation_config(),
                               evaluation={"task": "imdb", "balanced_accuracy": 0.91, "fine_tuned_accuracy": 0.93})
    meta = _front_matter(text)
    assert meta == {
        "base_model": BASE,
        "library_name": "peft",
        "pipeline_tag": "text-classification",
        "tags": ["lora", "peft", "text2lora", "generated-adapter", f"base_model:adapter:{BASE}"],
        "license": "apache-2.0",
    }
    assert parse_card_metadata(text) == meta
    card = ModelCard(text)
    assert card.data.base_model == BASE and card.data.library_name == "peft"

    body = _body(text)
    assert DESCRIPTION in body
    for expected in ["text2lora/minilm-generator", "abc123", "DDIMScheduler", "25", "1.5", "1234", "0.1.0",
                     "PeftModel.from_pretrained(base,", "AutoPeftModelForSequenceClassification.from_pretrained(",
                     f'AutoModelForSequenceClassification.from_pretrained("{BASE}", num_labels=2)',
                     "label 1", "label 0", "0.91", "0.93", "imdb", "## Limitations"]:
        assert expected in body, expected
    assert "labelled data" in body and "arbitrary" in body
    assert "Conditioned on seen task" not in body and "| Method |" not in body


def test_adapter_card_names_the_method_and_the_snapped_task():
    body = _body(render_adapter_card(AdapterSpec(), _generation_config(method="diffusion",
                                                                      snapped_to_task="sst2_positive")))
    assert "| Method | `diffusion` |" in body
    assert "| Conditioned on seen task | `sst2_positive` |" in body


def test_adapter_card_leaves_out_unknown_fields_and_claims_no_reproducibility():
    text = render_adapter_card(AdapterSpec(), {"description": DESCRIPTION})
    body = _body(text)
    assert DESCRIPTION in body
    assert "unknown" not in body
    assert "| Generator |" not in body and "| Seed |" not in body
    assert "reproduces this adapter" not in body and "cannot be reproduced exactly" in body
    assert "A diffusion model sampled" not in body
    assert "## Evaluation" not in body


def test_adapter_card_of_each_method_states_only_what_produced_it():
    diffusion = _body(render_adapter_card(AdapterSpec(), _generation_config(method="diffusion")))
    assert "A diffusion model sampled the adapter's weights" in diffusion
    assert "| Seed |" in diffusion and "Sampling with the same generator" in diffusion
    head = _body(render_adapter_card(AdapterSpec(), _generation_config(method="hypernetwork")))
    assert "The head generator (a hypernetwork trained with a task loss) computed" in head
    assert "diffusion" not in head.lower().split("## lora configuration")[0]
    for row in ("| Scheduler |", "| Inference steps |", "| Guidance scale |", "| Seed |"):
        assert row not in head
    assert "| Method | `hypernetwork` |" in head and "deterministic" in head


def test_adapter_card_causal_lm_pipeline_tag():
    spec = AdapterSpec()
    spec.task_type = "CAUSAL_LM"
    meta = parse_card_metadata(render_adapter_card(spec, _generation_config()))
    assert meta["pipeline_tag"] == "text-generation"


def test_adapter_card_multiline_description_and_token_in_config_not_rendered():
    text = render_adapter_card(AdapterSpec(), _generation_config(description="line one\nline two", token=TOKEN))
    assert "> line one\n> line two" in text
    assert TOKEN not in text
    assert parse_card_metadata(text)["library_name"] == "peft"


def test_adapter_card_label_table_and_how_to_reproduce_a_diffusion_adapter():
    gen = _generation_config(method="diffusion", generator="text2lora (shipped default)", generator_revision=None,
                             sample_index=1,
                             num_adapters_per_prompt=2, call_descriptions=["detect spam", DESCRIPTION],
                             snap_to_seen_tasks=False, labels=["not spam", "spam"])
    body = _body(render_adapter_card(AdapterSpec(), gen))
    assert "| 0 | `not spam` | the text does not match the description |" in body
    assert "| 1 | `spam` | the text matches the description |" in body
    assert "| Sample index | 1 |" in body
    assert ("python generate.py --task 'detect spam' --task 'is this movie review positive?' --method diffusion "
            "--scheduler ddim --num_inference_steps 25 --guidance_scale 1.5 --seed 1234 --num_adapters 2 --no_snap "
            "--labels 'not spam' spam\n") in body
    python = body.split("Or in Python:\n\n```python\n")[1].split("```")[0]
    assert python == (
        "import torch\nfrom diffusers import DDIMScheduler\n"
        "from text2lora import SHIPPED_GENERATOR, Text2LoraPipeline\n"
        "\npipe = Text2LoraPipeline.from_pretrained(SHIPPED_GENERATOR)\n"
        "pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)\n"
        'out = pipe(["detect spam", "is this movie review positive?"], num_inference_steps=25, guidance_scale=1.5, '
        'num_adapters_per_prompt=2, generator=torch.Generator("cpu").manual_seed(1234), snap_to_seen_tasks=False, '
        'labels=["not spam", "spam"])\n'
        'pipe.save_adapter(out.adapters[3], "adapter", generation_config=out.generation_configs[3])\n')
    compile(python, "card", "exec")  # valid Python
    assert "id2label={0: 'not spam', 1: 'spam'}, label2id={'not spam': 0, 'spam': 1}" in body
    assert 'pipeline("text-classification", model=model, tokenizer=tokenizer)' in body
    assert "load_classifier(" in body


def test_adapter_card_of_the_head_generator_has_no_sampler_settings_and_its_own_command():
    gen = {"description": "detect spam", "generator": "me/gen", "method": "hypernetwork", "sample_index": 0,
           "labels": ["not spam", "spam"], "scheduler": "DDIMScheduler", "seed": 3, "num_inference_steps": 9}
    body = _body(render_adapter_card(AdapterSpec(), gen))
    assert ("python generate.py --task 'detect spam' --generator me/gen --method hypernetwork "
            "--labels 'not spam' spam\n") in body
    assert 'out = pipe("detect spam", method="hypernetwork", labels=["not spam", "spam"])' in body
    for absent in ("| Scheduler |", "| Seed |", "| Inference steps |", "| Sample index |", "--seed", "--scheduler",
                   "manual_seed", "num_inference_steps=", "DDIMScheduler"):
        assert absent not in body, absent


def test_adapter_card_claims_reproduction_only_with_every_setting():
    complete = _generation_config(method="diffusion", labels=["no", "yes"], generator_revision=None)
    assert "python generate.py" in _body(render_adapter_card(AdapterSpec(), complete))
    for key in ("seed", "scheduler", "sample_index", "snap_to_seen_tasks", "generator", "method"):
        body = _body(render_adapter_card(AdapterSpec(), {k: v for k, v in complete.items() if k != key}))
        assert "## How to reproduce" not in body and "python generate.py" not in body, key
    body = _body(render_adapter_card(AdapterSpec(), {**complete, "condition": "given"}))
    assert "## How to reproduce" not in body and "cannot be reproduced exactly" in body
    # A scheduler generate.py cannot swap in: the Python, not the command.
    body = _body(render_adapter_card(AdapterSpec(), {**complete, "scheduler": "EulerDiscreteScheduler"}))
    assert "python generate.py" not in body and "In Python (text2lora 0.1.0):" in body
    assert "pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)" in body
    # A pinned Hub revision: generate.py cannot load it, the Python can.
    body = _body(render_adapter_card(AdapterSpec(), {**complete, "method": "hypernetwork",
                                                     "generator_revision": "abc123"}))
    assert "python generate.py" not in body
    assert ('pipe = Text2LoraPipeline.from_pretrained("text2lora/minilm-generator", revision="abc123")\n'
            'out = pipe("is this movie review positive?", method="hypernetwork", labels=["no", "yes"])') in body


SHIPPED_SUMMARY = Path(__file__).resolve().parents[1] / "text2lora" / "data" / "generator" / "evaluation_summary.json"


@pytest.mark.parametrize("method", ["diffusion", "hypernetwork"])
def test_adapter_card_quotes_the_generators_measured_accuracy(method):
    import json

    from text2lora.evaluation.summary import expected_accuracy
    from text2lora.formatting import fmt

    summary = json.loads(SHIPPED_SUMMARY.read_text())
    gen = _generation_config(method=method, snapped_to_task="sst2_positive", labels=["no", "yes"])
    body = _body(render_adapter_card(AdapterSpec(), gen, expected_accuracy=expected_accuracy(summary, method)))
    section = body.split("## Expected accuracy\n")[1].split("\n## ")[0]
    unseen, seen = summary["unseen_tasks"], summary["seen_tasks"]
    assert (f"| {unseen['num_tasks']} unseen tasks | {fmt(unseen['methods'][method])} | {fmt(unseen['zero_shot'])} | "
            f"{fmt(unseen['fine_tuned'])} |") in section
    assert (f"| {seen['num_tasks']} seen tasks, held-out descriptions | {fmt(seen['methods'][method])} | "
            f"{fmt(seen['zero_shot'])} | {fmt(seen['fine_tuned'])} |") in section
    assert (f"On {unseen['num_tasks']} unseen tasks of the evaluation suite (tasks the generator never saw) this "
            f"method scored a mean balanced accuracy of {fmt(unseen['methods'][method])}, against "
            f"{fmt(unseen['zero_shot'])} for zero-shot") in section
    assert f"on {summary['date']}" in section and "new tasks unlike the suite may do worse" in section
    assert "`sst2_positive`" in section and "`citation_intent`" in section
    other = "hypernetwork" if method == "diffusion" else "diffusion"
    assert fmt(unseen["methods"][other]) not in section.split("|---|")[1].split("\n\n")[0]
    assert ("other sampling settings were not measured" in section) == (method == "diffusion")


def test_adapter_card_without_a_summary_or_for_another_method_has_no_expected_accuracy():
    from text2lora.evaluation.summary import expected_accuracy

    summary = {"seen_tasks": {"num_tasks": 3, "methods": {"diffusion": 0.7}, "zero_shot": 0.6}}
    gen = _generation_config(method="hypernetwork")
    assert expected_accuracy(summary, "hypernetwork") is None and expected_accuracy(None, "diffusion") is None
    assert "## Expected accuracy" not in render_adapter_card(AdapterSpec(), gen)
    only_seen = expected_accuracy(summary, "diffusion")
    body = _body(render_adapter_card(AdapterSpec(), _generation_config(method="diffusion"),
                                     expected_accuracy=only_seen))
    assert "| 3 seen tasks, held-out descriptions | 0.700 | 0.600 | – |" in body and "unseen tasks" not in body
    # A summary for one method is never quoted on an adapter of another.
    assert "## Expected accuracy" not in render_adapter_card(AdapterSpec(), gen, expected_accuracy=only_seen)


def _fake_report():
    summary2 = {"generated": {"mean": 0.8125}, "hypernetwork": {"mean": 0.75}, "zero_shot": {"mean": 0.625},
                "fine_tuned": {"mean": 0.875}, "zero_shot_label_free": {"mean": 0.5}}
    summary3 = {"generated": {"mean": 0.5625}, "zero_shot": {"mean": 0.6875}, "fine_tuned": {"mean": 0.9375}}
    return {"date": "2030-01-02", "settings": {"num_inference_steps": 4, "guidance_scale": 1.0},
            "question_2": {"summary": summary2, "tasks": [{}] * 3},
            "question_3": {"summary": summary3, "tasks": [{}] * 2, "unseen_family": "fam"}}


def test_evaluation_summary_is_read_by_the_pipeline_and_quoted_in_its_cards(tiny_generator, tmp_path):
    import json
    import shutil

    import torch

    from text2lora import Text2LoraPipeline
    from text2lora.evaluation.summary import EVALUATION_SUMMARY, read_evaluation_summary, write_evaluation_summary

    folder = tmp_path / "gen"
    shutil.copytree(tiny_generator, folder)
    assert Text2LoraPipeline.from_pretrained(folder).evaluation_summary is None  # none: no section, no error
    path = write_evaluation_summary(folder, _fake_report())
    assert path == str(folder / EVALUATION_SUMMARY) and sorted(os.listdir(folder)).count(EVALUATION_SUMMARY) == 1
    summary = json.loads(Path(path).read_text())
    assert summary["date"] == "2030-01-02"
    assert summary["seen_tasks"] == {"num_tasks": 3, "tasks": summary["seen_tasks"]["tasks"],
                                     "methods": {"diffusion": 0.8125, "hypernetwork": 0.75}, "zero_shot": 0.625,
                                     "zero_shot_label_free": 0.5, "fine_tuned": 0.875}
    assert summary["unseen_tasks"]["methods"] == {"diffusion": 0.5625} and summary["unseen_tasks"]["num_tasks"] == 2
    pipe = Text2LoraPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.evaluation_summary == summary
    out = pipe("detect good texts", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    target = pipe.save_adapter(out.adapters[0], tmp_path / "a", generation_config=out.generation_configs[0])
    card = open(os.path.join(target, "README.md")).read()
    assert "| 2 unseen tasks | 0.562 | 0.688 | 0.938 |" in card and "| 3 seen tasks, held-out descriptions | 0.812 |" \
        in card and "on 2030-01-02" in card
    # The card and the summary are not part of the fingerprint; the weights are: a retrained generator's is stale.
    (folder / "README.md").write_text("another card")
    assert read_evaluation_summary(folder) == summary
    with open(folder / "denoiser" / "config.json", "a") as f:
        f.write("\n")
    assert read_evaluation_summary(folder) is None
    with pytest.raises(ValueError, match="neither question 2 nor question 3"):
        write_evaluation_summary(folder, {"question_1": {}})


def test_shipped_evaluation_summary_is_the_one_the_library_writes_from_the_report():
    import json

    from text2lora import SHIPPED_GENERATOR, Text2LoraPipeline
    from text2lora.evaluation.summary import evaluation_summary

    report = json.loads((Path(SHIPPED_GENERATOR).parents[2] / "reports" / "evaluation.json").read_text())
    shipped = json.loads(SHIPPED_SUMMARY.read_text())
    assert evaluation_summary(report, SHIPPED_GENERATOR) == shipped  # never typed by hand, never stale
    assert shipped["unseen_tasks"]["methods"]["diffusion"] == report["question_3"]["summary"]["generated"]["mean"]
    assert shipped["seen_tasks"]["num_tasks"] == len(report["question_2"]["tasks"])
    assert Text2LoraPipeline.from_pretrained(SHIPPED_GENERATOR).evaluation_summary == shipped


# -- generator and zoo cards ----------------------------------------------------------------------------------------
def test_generator_card_metadata_and_body():
    text = render_generator_card(GENERATOR_CONFIG)
    meta = _front_matter(text)
    assert meta == {
        "base_model": BASE,
        "datasets": ["text2lora/minilm-zoo"],
        "library_name": "diffusers",
        "license": "apache-2.0",
        "tags": ["text2lora", "lora-generator", "diffusion", "peft"],
    }
    assert parse_card_metadata(text) == meta
    assert ModelCard(text).data.library_name == "diffusers"
    body = _body(text)
    for expected in ['python generate.py --task "classify sentiment" --generator text2lora/minilm-generator',
                     'Text2LoraPipeline.from_pretrained("text2lora/minilm-generator")',
                     'pipe("classify sentiment").adapters[0]', "pipe.save_adapter(",
                     "| learning rate | 0.0003 |", "| train steps | 20000 |",
                     "| split | generated | fine tuned |", "| unseen tasks | 0.812 | 0.9 |",
                     "| random description | 0.503 |", "| mismatched description | 0.497 |",
                     "short commands", "yes/no questions", "definition sentences", "arbitrary", "321"]:
        assert expected in body, expected


def test_generator_card_local_zoo_is_not_a_dataset(tmp_path):
    zoo = tmp_path / "my" / "zoo"
    zoo.mkdir(parents=True)
    meta = parse_card_metadata(render_generator_card({"zoo": str(zoo), "base_model": BASE}))
    assert "datasets" not in meta
    meta = parse_card_metadata(render_generator_card({}))
    assert meta["library_name"] == "diffusers" and "datasets" not in meta and "base_model" not in meta


def test_zoo_card_metadata_and_body():
    text = render_zoo_card(ZOO_CONFIG)
    meta = _front_matter(text)
    assert meta["license"] == "other"
    assert meta["tags"] == ["text2lora", "lora", "peft", "adapter-zoo"]
    assert meta["task_categories"] == ["text-classification"]
    assert meta["configs"][0]["data_files"][0]["path"] == "index.jsonl"
    assert parse_card_metadata(text) == meta
    assert DatasetCard(text).data.license == "other"
    body = _body(text)
    for expected in ["| sentiment | 40 |", "| topic | 120 |", "| `stanfordnlp/imdb` | other |",
                     "| epochs | 3 |", "| median fine tuned | 0.88 |", "| median zero shot | 0.52 |",
                     'load_dataset("json", data_files=', 'load_dataset("text2lora/minilm-zoo"']:
        assert expected in body, expected


def test_parse_card_metadata_without_front_matter():
    assert parse_card_metadata("# just a title\n") == {}


# -- pushing --------------------------------------------------------------------------------------------------------
class FakeApi:
    def __init__(self, error=None):
        self.error = error
        self.calls = []

    def create_repo(self, repo_id, repo_type=None, private=False, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, "repo_type": repo_type, "private": private,
                                           "exist_ok": exist_ok, **kwargs}))
        if self.error is not None:
            raise self.error
        prefix = "datasets/" if repo_type == "dataset" else ""

        class Url(str):
            url = f"https://huggingface.co/{prefix}{repo_id}"

        return Url(f"https://huggingface.co/{prefix}{repo_id}")

    def upload_folder(self, repo_id, folder_path, repo_type=None, commit_message=None, **kwargs):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        self.calls.append(("upload_folder", {"repo_id": repo_id, "repo_type": repo_type, "files": files,
                                             "commit_message": commit_message, **kwargs}))
        return "https://huggingface.co/commit"


@pytest.fixture
def fake_api(monkeypatch):
    api = FakeApi()
    monkeypatch.setattr(cards, "_api", lambda: api)
    return api


def _make_folder(root, files):
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def _snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


ADAPTER_FILES = {"adapter_config.json": b"{}", "adapter_model.safetensors": b"\x00\x01", "README.md": b"# card\n",
                 "generation_config.json": b"{}"}


def test_push_adapter_uploads_folder(tmp_path, fake_api):
    folder = _make_folder(tmp_path / "adapter", ADAPTER_FILES)
    url = push_adapter_to_hub(folder, "someone/my-adapter", private=True)
    assert url == "https://huggingface.co/someone/my-adapter"
    (_, create), (_, upload) = fake_api.calls
    assert [c[0] for c in fake_api.calls] == ["create_repo", "upload_folder"]
    assert create == {"repo_id": "someone/my-adapter", "repo_type": "model", "private": True, "exist_ok": True}
    assert upload["repo_type"] == "model" and upload["repo_id"] == "someone/my-adapter"
    assert upload["files"] == ["README.md", "adapter_config.json", "adapter_model.safetensors",
                               "generation_config.json"]
    assert "token" not in upload


def test_push_generator_uploads_folder(tmp_path, fake_api):
    folder = _make_folder(tmp_path / "gen", {"model_index.json": b"{}", "denoiser/config.json": b"{}",
                                             "scheduler/scheduler_config.json": b"{}", "README.md": b"x"})
    url = push_generator_to_hub(str(folder), "generator-name", token=TOKEN)
    assert url == "https://huggingface.co/generator-name"
    (_, create), (_, upload) = fake_api.calls
    assert create["repo_type"] == "model" and create["private"] is False and create["token"] == TOKEN
    assert upload["files"] == ["README.md", "denoiser/config.json", "model_index.json",
                               "scheduler/scheduler_config.json"]
    assert upload["token"] == TOKEN


def test_push_zoo_uploads_dataset(tmp_path, fake_api):
    folder = _make_folder(tmp_path / "zoo", {"index.jsonl": b"{}\n", "adapters/a/adapter_config.json": b"{}"})
    url = push_zoo_to_hub(folder, "someone/zoo", private=False)
    assert url == "https://huggingface.co/datasets/someone/zoo"
    (_, create), (_, upload) = fake_api.calls
    assert create == {"repo_id": "someone/zoo", "repo_type": "dataset", "private": False, "exist_ok": True}
    assert upload["repo_type"] == "dataset"
    assert upload["files"] == ["adapters/a/adapter_config.json", "index.jsonl"]


def test_push_url_fallback_when_create_repo_has_no_url(tmp_path, monkeypatch):
    class PlainApi(FakeApi):
        def create_repo(self, repo_id, **kwargs):
            super().create_repo(repo_id, **kwargs)

    monkeypatch.setattr(cards, "_api", PlainApi)
    folder = _make_folder(tmp_path / "zoo", {"index.jsonl": b"{}\n"})
    assert push_zoo_to_hub(folder, "someone/zoo") == "https://huggingface.co/datasets/someone/zoo"


def _network_errors():
    import requests
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:  # huggingface_hub >= 1.0: an httpx-style response is required
        import httpx2 as httpx
    except ImportError:  # pragma: no cover
        import httpx
    response = httpx.Response(401, request=httpx.Request("POST", "https://huggingface.co/api/repos/create"))
    return [
        requests.exceptions.ConnectionError(f"Max retries exceeded (token {TOKEN})"),
        OSError("Network is unreachable"),
        HfHubHTTPError(f"401 Client Error: Unauthorized for token {TOKEN}", response=response),
        OfflineModeIsEnabled("offline"),
        ConnectionError("connection refused"),
    ]


@pytest.mark.parametrize("error", _network_errors(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("fail_at", ["create_repo", "upload_folder"])
def test_network_failure_is_one_connection_error_and_nothing_local_changes(tmp_path, monkeypatch, error, fail_at):
    class FailingApi(FakeApi):
        def create_repo(self, repo_id, **kwargs):
            if fail_at == "create_repo":
                raise error
            return super().create_repo(repo_id, **kwargs)

        def upload_folder(self, **kwargs):
            raise error

    monkeypatch.setattr(cards, "_api", FailingApi)
    folder = _make_folder(tmp_path / "adapter", ADAPTER_FILES)
    before = _snapshot(tmp_path)
    with pytest.raises(ConnectionError) as info:
        push_adapter_to_hub(folder, "someone/my-adapter", token=TOKEN)
    message = str(info.value)
    assert type(info.value) is ConnectionError
    assert "could not reach the Hugging Face Hub" in message and "nothing local was changed" in message
    assert TOKEN not in message and TOKEN not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("push,files", [
    (push_adapter_to_hub, ADAPTER_FILES),
    (push_generator_to_hub, {"model_index.json": b"{}"}),
    (push_zoo_to_hub, {"index.jsonl": b""}),
])
def test_missing_required_file_is_value_error(tmp_path, fake_api, push, files):
    for missing in files:
        if missing == "generation_config.json":
            continue
        folder = _make_folder(tmp_path / missing.replace(".", "_"), {k: v for k, v in files.items() if k != missing})
        with pytest.raises(ValueError, match=missing.replace(".", r"\.")):
            push(folder, "someone/repo", token=TOKEN)
    with pytest.raises(ValueError, match="does not exist"):
        push(tmp_path / "nowhere", "someone/repo")
    assert fake_api.calls == []


@pytest.mark.parametrize("repo_id", ["has space/name", "a/b/c", "", "/name", "name/", "-bad/name", "ns/na--me",
                                     "ns/" + "x" * 97, None, "ns/name.", "ns/name with space"])
def test_bad_repo_id_is_value_error_before_network(tmp_path, fake_api, repo_id):
    folder = _make_folder(tmp_path / "zoo", {"index.jsonl": b""})
    with pytest.raises(ValueError, match="repo id"):
        push_zoo_to_hub(folder, repo_id, token=TOKEN)
    assert fake_api.calls == []


def test_token_never_in_cards_or_errors(tmp_path, fake_api):
    texts = [
        render_adapter_card(AdapterSpec(), _generation_config(token=TOKEN, hub_token=TOKEN)),
        render_generator_card({**GENERATOR_CONFIG, "training": {"hub_token": TOKEN, "lr": 1e-4}}),
        render_zoo_card({**ZOO_CONFIG, "collection": {"token": TOKEN, "epochs": 3}}),
    ]
    for text in texts:
        assert TOKEN not in text
    messages = []
    for repo_id, files in [("bad id", ADAPTER_FILES), ("someone/x", {})]:
        folder = _make_folder(tmp_path / str(len(messages)), files)
        with pytest.raises(ValueError) as info:
            push_adapter_to_hub(folder, repo_id, token=TOKEN)
        messages.append(str(info.value))
    assert all(TOKEN not in m for m in messages)


def test_default_api_is_hf_api():
    from huggingface_hub import HfApi

    assert isinstance(cards._api(), HfApi)  # constructing HfApi makes no network call


def test_update_card_run_writes_the_evaluation_summary(tiny_generator, tmp_path, monkeypatch):
    """evaluate_generator.py --update_card: beside the re-rendered card, the generator folder gets the summary of the
    report the run wrote (questions 2/3 and the card rendering stubbed out: they take hours on the real suite)."""
    import json
    import shutil

    from text2lora.evaluation import run
    from text2lora.evaluation.summary import evaluation_summary

    folder = tmp_path / "gen"
    shutil.copytree(tiny_generator, folder)
    fake = _fake_report()
    cards_updated = []
    monkeypatch.setattr("text2lora.data.zoo.Zoo.load", lambda zoo: None)
    monkeypatch.setattr(run, "_answer_questions_2_3",
                        lambda args, zoo, report: (report.update(question_2=fake["question_2"],
                                                                 question_3=fake["question_3"]), str(folder))[1])
    monkeypatch.setattr(run, "update_generator_card", lambda generator_dir, report: cards_updated.append(generator_dir))
    monkeypatch.setattr(run, "write_markdown", lambda report, path: None)
    args = run.EvaluationArguments(generator=str(folder), questions=[2, 3], output_dir=str(tmp_path / "reports"),
                                   update_card=True, num_inference_steps=4)
    report = run.run_evaluation(args)
    assert cards_updated == [str(folder)]
    summary = json.loads((folder / "evaluation_summary.json").read_text())
    assert summary == evaluation_summary(report, folder)
    assert summary["seen_tasks"]["methods"] == {"diffusion": 0.8125, "hypernetwork": 0.75}
    assert summary["settings"]["num_inference_steps"] == 4 and summary["date"] == report["date"]
    (folder / "evaluation_summary.json").unlink()
    run.run_evaluation(run.EvaluationArguments(generator=str(folder), questions=[2, 3], update_card=False,
                                               output_dir=str(tmp_path / "reports")))
    assert not (folder / "evaluation_summary.json").exists()  # only --update_card touches the generator folder
