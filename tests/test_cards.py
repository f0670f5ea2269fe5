"""Model cards and Hub pushing: rendered metadata, and push helpers against a fake HfApi (no network)."""

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
