"""Model cards for generated adapters, generators and adapter zoos, and pushing their folders to the Hub.

Cards are rendered from the Jinja templates in ``templates/`` with ``huggingface_hub``'s ``ModelCard`` /
``DatasetCard``: YAML front matter from ``ModelCardData`` / ``DatasetCardData``, then a markdown body.

The push helpers go through :class:`huggingface_hub.HfApi` (``create_repo`` then ``upload_folder``). They validate
the repo id and the folder before any network call, never change anything local, never print or log the token, and
turn every network failure into one :class:`ConnectionError` with a clear message.
"""

import json
import os
import re
import shlex
from functools import lru_cache
from pathlib import Path

from huggingface_hub import (
    DatasetCard,
    DatasetCardData,
    HfApi,
    ModelCard,
    ModelCardData,
)
from huggingface_hub.utils import HFValidationError, validate_repo_id

__all__ = [
    "parse_card_metadata",
    "push_adapter_to_hub",
    "push_generator_to_hub",
    "push_zoo_to_hub",
    "render_adapter_card",
    "render_generator_card",
    "render_zoo_card",
]

UNKNOWN = "unknown"
ADAPTER_TAGS = ["lora", "peft", "text2lora", "generated-adapter"]
GENERATOR_TAGS = ["text2lora", "lora-generator", "diffusion", "peft"]
ZOO_TAGS = ["text2lora", "lora", "peft", "adapter-zoo"]

ADAPTER_REQUIRED_FILES = ("adapter_config.json", "adapter_model.safetensors", "README.md")
GENERATOR_REQUIRED_FILES = ("model_index.json",)
ZOO_REQUIRED_FILES = ("index.jsonl",)

_HUB_URL = "https://huggingface.co"
_TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{30,}")
_SECRET_KEYS = {"token", "hf_token", "hub_token", "auth_token", "use_auth_token", "api_key", "password", "secret"}


# -- templates and formatting ---------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _compiled_template(path):
    import jinja2

    return jinja2.Template(Path(path).read_text(encoding="utf-8"))


def _from_template(card_class, card_data, template_name, **template_kwargs):
    """``card_class.from_template(card_data, template_path=..., **template_kwargs)`` with the Jinja template
    compiled once per process (compiling it was most of the time to write a generated adapter)."""
    kwargs = card_data.to_dict().copy()
    kwargs.update(template_kwargs)
    template = _compiled_template(str(_template_path(template_name)))
    return card_class(template.render(card_data=card_data.to_yaml(), **kwargs))


def _template_path(name):
    """The packaged Jinja template ``templates/<name>`` (the only copy)."""
    return Path(__file__).resolve().parent / "templates" / name


def _scrub(text):
    """Remove anything that looks like a Hugging Face token from ``text``."""
    return _TOKEN_RE.sub("hf_***", text)


def _finish(card):
    """The card as text: no token-like strings, no runs of blank lines left by optional template sections."""
    return re.sub(r"\n{3,}", "\n\n", _scrub(str(card)))


def _fmt(value):
    """A human-readable string for a card value (``None`` renders as "unknown")."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_fmt(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _cell(value):
    """``_fmt(value)`` made safe for a markdown table cell."""
    text = _fmt(value)
    return " ".join(text.split()).replace("|", "\\|") or " "


def _code(value):
    """An inline-code table cell, or "unknown"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return UNKNOWN
    return f"`{_cell(value).replace('`', '')}`"


def _label(key):
    return str(key).replace("_", " ")


def _rows(mapping, skip=()):
    """``(label, cell)`` pairs for a dict, leaving out ``skip`` and anything that looks like a secret."""
    rows = []
    for key, value in (mapping or {}).items():
        if key in skip or str(key).lower() in _SECRET_KEYS:
            continue
        rows.append((_cell(_label(key)), _cell(value)))
    return rows


def _valid_repo_id(value):
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def _is_hub_id(value):
    """A string shaped like a Hub repo id (``namespace/name``) that is not an existing local path."""
    return isinstance(value, str) and "/" in value and _valid_repo_id(value) and not os.path.exists(value)


def _model_link(model_id):
    if not model_id:
        return f"`{UNKNOWN}`"
    if _is_hub_id(model_id):
        return f"[`{model_id}`]({_HUB_URL}/{model_id})"
    return f"`{model_id}`"


def _py(value):
    """A Python string literal."""
    return json.dumps(str(value))


def _get(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _missing(value):
    return value is None or (isinstance(value, str) and not value.strip())


# Generation settings that only the diffusion sampler uses (the head generator is deterministic).
_SAMPLING_KEYS = ("scheduler", "num_inference_steps", "guidance_scale", "seed")


def _generation_rows(gen):
    """(label, cell) rows of how an adapter was generated, from its generation_config: only the settings that are
    recorded and that the method used (a field that is not known is left out, not printed as "unknown")."""
    fields = [("generator", "Generator", _code), ("method", "Method", _code),
              ("snapped_to_task", "Conditioned on seen task", _code),
              ("generator_revision", "Generator revision", _code), ("scheduler", "Scheduler", _code),
              ("num_inference_steps", "Inference steps", _cell), ("guidance_scale", "Guidance scale", _cell),
              ("seed", "Seed", _cell), ("embedder", "Text embedder", _code),
              ("text2lora_version", "text2lora version", _cell)]
    rows = []
    for key, label, cell in fields:
        if _missing(gen.get(key)) or (gen.get("method") == "hypernetwork" and key in _SAMPLING_KEYS):
            continue
        rows.append((label, cell(gen[key])))
    return rows


def _generation_text(gen):
    """What produced the weights, and how to reproduce them: true for the recorded method and settings only."""
    method = gen.get("method")
    if method == "hypernetwork":
        return ("The head generator (a hypernetwork trained with a task loss) computed the adapter's classifier head "
                "from the description below; its LoRA weights are the feature LoRA shared by every adapter it writes.",
                "The head generator is deterministic: the same generator and description give this adapter.")
    what = ("A diffusion model sampled the adapter's weights, conditioned on the description below."
            if method == "diffusion" or not _missing(gen.get("scheduler")) else
            "text2lora generated the adapter's weights from the description below.")
    known = all(not _missing(gen.get(k)) for k in ("generator", *_SAMPLING_KEYS))
    how = ("Sampling with the same generator, description, settings and seed reproduces this adapter." if known else
           "Not every sampling setting was recorded, so this adapter cannot be reproduced exactly from this card.")
    return what, how


def _lora_rows(spec, base_model):
    """(label, cell) rows of the adapter's base model and LoRA settings."""
    rows = [("Base model", _code(base_model))]
    for name, label in [("r", "Rank `r`"), ("lora_alpha", "`lora_alpha`"), ("lora_dropout", "`lora_dropout`"),
                        ("target_modules", "`target_modules`"), ("modules_to_save", "`modules_to_save`"),
                        ("num_labels", "Number of labels"), ("init_seed", "Initialization seed"),
                        ("max_length", "Max sequence length")]:
        if name in ("lora_dropout",) and _get(spec, name) is None:
            continue
        rows.append((label, _cell(_get(spec, name))))
    return rows


# -- adapter card ---------------------------------------------------------------------------------------------------
def render_adapter_card(spec, generation_config, evaluation=None) -> str:
    """The README.md of a generated adapter: metadata for the Hub, the description it was generated from, how it
    was sampled, how to load it, optional evaluation numbers and its limitations."""
    gen = dict(generation_config or {})
    base_model = _get(spec, "base_model")
    causal = _get(spec, "task_type") == "CAUSAL_LM"
    num_labels = _get(spec, "num_labels", 2)
    max_length = _get(spec, "max_length", 64)

    card_data = ModelCardData(
        base_model=base_model,
        library_name="peft",
        pipeline_tag="text-generation" if causal else "text-classification",
        tags=ADAPTER_TAGS + [f"base_model:adapter:{base_model}"],
        license="apache-2.0",
    )

    description = gen.get("description")
    if _missing(description):
        description_block = "_No description was recorded._"
        title = "Generated LoRA adapter"
    else:
        description = str(description).strip()
        description_block = "\n".join(f"> {line}".rstrip() for line in description.splitlines())
        first = " ".join(description.split())
        title = f"Generated LoRA adapter: {first[:77] + '...' if len(first) > 80 else first}"

    generation_rows = _generation_rows(gen)
    generation_text, reproduce_text = _generation_text(gen)
    lora_rows = _lora_rows(spec, base_model)

    evaluation = dict(evaluation or {})
    evaluation_task = evaluation.pop("task", None)
    evaluation_rows = _rows(evaluation)

    adapter_ref = gen.get("repo_id")
    placeholder = _missing(adapter_ref)
    if placeholder:
        adapter_ref = "path/to/this/adapter"
    if causal:
        auto_class, auto_peft_class, base_kwargs, auto_peft_kwargs = (
            "AutoModelForCausalLM", "AutoPeftModelForCausalLM", "", "")
    else:
        auto_class, auto_peft_class = "AutoModelForSequenceClassification", "AutoPeftModelForSequenceClassification"
        base_kwargs = f", num_labels={num_labels}"
        auto_peft_kwargs = "" if num_labels in (2, None) else f", num_labels={num_labels}"

    card = _from_template(
        ModelCard,
        card_data,
        "adapter_card.md",
        title=title,
        base_model=base_model or UNKNOWN,
        base_model_link=_model_link(base_model),
        base_model_py=_py(base_model or "BASE_MODEL_ID"),
        description_block=description_block,
        is_classifier=not causal,
        generation_rows=generation_rows,
        generation_text=generation_text,
        reproduce_text=reproduce_text,
        lora_rows=lora_rows,
        auto_class=auto_class,
        auto_peft_class=auto_peft_class,
        base_kwargs=base_kwargs,
        auto_peft_kwargs=auto_peft_kwargs,
        adapter_ref_py=_py(adapter_ref),
        adapter_ref_is_placeholder=placeholder,
        max_length=max_length if max_length is not None else 64,
        evaluation_task=evaluation_task,
        evaluation_rows=evaluation_rows,
    )
    return _finish(card)


# -- generator card -------------------------------------------------------------------------------------------------
def _evaluation_table(rows):
    rows = [r for r in (rows or []) if isinstance(r, dict)]
    header = []
    for row in rows:
        for key in row:
            if key not in header:
                header.append(key)
    table = [[_cell(row[k]) if k in row else " " for k in header] for row in rows]
    return [_cell(_label(k)) for k in header], table


def render_generator_card(config) -> str:
    """The README.md of a generator pipeline folder or repo."""
    config = dict(config or {})
    generator_id = config.get("generator_id")
    zoo = config.get("zoo")
    base_model = config.get("base_model")

    data = {"library_name": "diffusers", "tags": list(GENERATOR_TAGS), "license": "apache-2.0"}
    if not _missing(base_model):
        data["base_model"] = base_model
    if _is_hub_id(zoo):
        data["datasets"] = [zoo]
    card_data = ModelCardData(**data)

    if _is_hub_id(zoo):
        zoo_link = f"[`{zoo}`]({_HUB_URL}/datasets/{zoo})"
    elif not _missing(zoo):
        zoo_link = f"`{zoo}`"
    else:
        zoo_link = "zoo: unknown"
    generator_ref = generator_id if not _missing(generator_id) else "path/to/generator"
    title = f"text2lora generator: {generator_id}" if not _missing(generator_id) else "text2lora generator"

    evaluation = dict(config.get("evaluation") or {})
    header, table = _evaluation_table(evaluation.pop("table", None))
    controls = evaluation.pop("controls", None) or {}
    control_rows = _rows(controls) if isinstance(controls, dict) else [("controls", _cell(controls))]

    num_seen = config.get("num_seen_tasks")
    card = _from_template(
        ModelCard,
        card_data,
        "generator_card.md",
        title=title,
        base_model=base_model or UNKNOWN,
        base_model_link=_model_link(base_model),
        scheduler=_fmt(config.get("scheduler")),
        embedder=_fmt(config.get("embedder")),
        num_seen_tasks=f"{num_seen}" if num_seen is not None else "an unknown number of",
        zoo_link=zoo_link,
        generator_ref=shlex.quote(str(generator_ref)),
        generator_ref_py=_py(generator_ref),
        training_rows=_rows(config.get("training")),
        evaluation_header=header,
        evaluation_table=table,
        evaluation_rows=_rows(evaluation),
        control_rows=control_rows,
    )
    return _finish(card)


# -- zoo card -------------------------------------------------------------------------------------------------------
def render_zoo_card(config) -> str:
    """The README.md of an adapter zoo (a Hub dataset repo)."""
    config = dict(config or {})
    zoo_id = config.get("zoo_id")
    base_model = config.get("base_model")
    card_data = DatasetCardData(
        license="other",
        tags=list(ZOO_TAGS),
        task_categories=["text-classification"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "index.jsonl"}]}],
    )
    source_rows = []
    for source in config.get("sources") or []:
        if isinstance(source, dict):
            source_rows.append((_code(source.get("dataset")), _cell(source.get("license"))))
        else:
            source_rows.append((_code(source), UNKNOWN))
    num_tasks = config.get("num_tasks")
    card = _from_template(
        DatasetCard,
        card_data,
        "zoo_card.md",
        title=f"text2lora adapter zoo: {zoo_id}" if not _missing(zoo_id) else "text2lora adapter zoo",
        num_tasks=num_tasks if num_tasks is not None else "an unknown number of",
        base_model_link=_model_link(base_model),
        family_rows=_rows(config.get("families")),
        source_rows=source_rows,
        collection_rows=_rows(config.get("collection")),
        accuracy_rows=_rows(config.get("accuracy_summary")),
        zoo_ref_py=_py(zoo_id if not _missing(zoo_id) else "namespace/zoo-id"),
    )
    return _finish(card)


def parse_card_metadata(text) -> dict:
    """The YAML front matter of a card as a dict (``{}`` when the card has none)."""
    import yaml
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    match = REGEX_YAML_BLOCK.search(text)
    if not match:
        return {}
    data = yaml.safe_load(match.group(2)) or {}
    if not isinstance(data, dict):
        raise ValueError("The card's metadata block is not a mapping.")  # noqa: TRY004 (bad content, as in hf)
    return data


# -- pushing --------------------------------------------------------------------------------------------------------
def _api():
    return HfApi()


def _check_repo_id(repo_id):
    if not isinstance(repo_id, str) or not _valid_repo_id(repo_id):
        raise ValueError(
            f"Invalid Hub repo id {repo_id!r}: expected 'namespace/name' or 'name', made of letters, digits, '-', "
            "'_' and '.' (no spaces, no '--' or '..', at most 96 characters per part)."
        )


def _check_folder(folder, required, what):
    if folder is None or not os.path.isdir(folder):
        raise ValueError(f"The {what} folder {str(folder)!r} does not exist or is not a directory.")
    missing = [name for name in required if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise ValueError(f"The {what} folder {str(folder)!r} is missing {', '.join(missing)}; nothing was pushed.")
    return str(folder)


def _network_errors():
    errors = [OSError]  # ConnectionError, requests' RequestException, HfHubHTTPError, OfflineModeIsEnabled
    try:
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

        errors += [HfHubHTTPError, OfflineModeIsEnabled]
    except ImportError:  # pragma: no cover - older huggingface_hub
        pass
    for module in ("httpx", "httpx2", "requests"):
        try:
            errors.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _redact(text, token):
    for secret in (token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        if isinstance(secret, str) and secret:
            text = text.replace(secret, "***")
    text = _scrub(text)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 300 else first[:297] + "..."


def _push(folder, repo_id, repo_type, required, what, private, token):
    _check_repo_id(repo_id)
    folder = _check_folder(folder, required, what)
    auth = {} if token is None else {"token": token}
    failure = None
    try:
        api = _api()
        created = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **auth)
        api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type=repo_type,
                          commit_message=f"Upload {what} with text2lora", **auth)
    except _network_errors() as err:
        hint = " (HF_HUB_OFFLINE=1 is set)" if type(err).__name__ == "OfflineModeIsEnabled" else ""
        detail = _redact(str(err), token)
        failure = (
            f"could not reach the Hugging Face Hub to push the {what} {folder!r} to {repo_id!r}{hint}; nothing local "
            "was changed; check your network connection and your token (the token= argument, HF_TOKEN or "
            f"`hf auth login`). [{type(err).__name__}{': ' + detail if detail else ''}]"
        )
    if failure is not None:  # raised outside the except block: no chained original error that might carry secrets
        raise ConnectionError(failure)
    url = getattr(created, "url", None)
    if not url:
        prefix = "datasets/" if repo_type == "dataset" else ""
        url = f"{_HUB_URL}/{prefix}{repo_id}"
    return str(url)


def push_adapter_to_hub(adapter_dir, repo_id, private=False, token=None) -> str:
    """Upload a generated adapter folder (adapter_config.json, adapter_model.safetensors, README.md) to the model
    repo ``repo_id`` (created if needed). Returns the repo URL."""
    return _push(adapter_dir, repo_id, "model", ADAPTER_REQUIRED_FILES, "adapter", private, token)


def push_generator_to_hub(pipeline_dir, repo_id, private=False, token=None) -> str:
    """Upload a saved generator pipeline folder (with model_index.json) to the model repo ``repo_id``."""
    return _push(pipeline_dir, repo_id, "model", GENERATOR_REQUIRED_FILES, "generator", private, token)


def push_zoo_to_hub(zoo_dir, repo_id, private=False, token=None) -> str:
    """Upload a packed adapter zoo folder (with index.jsonl) to the dataset repo ``repo_id``."""
    return _push(zoo_dir, repo_id, "dataset", ZOO_REQUIRED_FILES, "adapter zoo", private, token)
