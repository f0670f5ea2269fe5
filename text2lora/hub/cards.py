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
_SAMPLING_KEYS = ("scheduler", "num_inference_steps", "guidance_scale", "seed", "device", "sample_index")
# generate.py's --scheduler names of the diffusers schedulers it can swap in.
_SCHEDULER_FLAGS = {"DDIMScheduler": "ddim", "DPMSolverMultistepScheduler": "dpm", "DDPMScheduler": "ddpm"}
# How generation configs and cards name the shipped generator (its path differs on every machine).
SHIPPED_GENERATOR_NAME = "text2lora (shipped default)"


def _matched_tasks(value):
    """The seen tasks an adapter was conditioned on: a task name, a list of names, or {name: weight}."""
    if isinstance(value, dict):
        return ", ".join(f"{_code(name)} ({_cell(weight)})" for name, weight in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_code(name) for name in value)
    return _code(value)


def _routing(value):
    """Why the default path (``method="auto"``) chose the adapter's method: the cosine to the nearest seen task
    against the generator's routing threshold."""
    if not isinstance(value, dict) or value.get("similarity") is None or value.get("threshold") is None:
        return _code(value)
    side = ">=" if value["similarity"] >= value["threshold"] else "<"
    return (f"`method=\"auto\"`: cosine {_cell(value['similarity'])} to the nearest seen task "
            f"{_code(value.get('nearest_seen_task'))} {side} routing threshold {_cell(value['threshold'])}")


def _generation_rows(gen):
    """(label, cell) rows of how an adapter was generated, from its generation_config: only the settings that are
    recorded and that the method used (a field that is not known is left out, not printed as "unknown")."""
    fields = [("generator", "Generator", _code), ("method", "Method", _code), ("routing", "Chosen by", _routing),
              ("snapped_to_task", "Conditioned on seen task", _code),
              ("matched_tasks", "Matched seen tasks (weight)", _matched_tasks),
              ("generator_revision", "Generator revision", _code), ("scheduler", "Scheduler", _code),
              ("num_inference_steps", "Inference steps", _cell), ("guidance_scale", "Guidance scale", _cell),
              ("seed", "Seed", _cell), ("device", "Sampling device", _code),
              ("sample_index", "Sample index", _cell), ("embedder", "Text embedder", _code),
              ("text2lora_version", "text2lora version", _cell)]
    rows = []
    for key, label, cell in fields:
        if _missing(gen.get(key)) or (gen.get("method") == "hypernetwork" and key in _SAMPLING_KEYS):
            continue
        if key == "sample_index" and gen.get("num_adapters_per_prompt", 1) == 1 and gen[key] == 0:
            continue
        if key == "device" and gen[key] == "cpu":
            continue
        rows.append((label, cell(gen[key])))
    return rows


def _reproduction(gen):
    """``(command, python)``: the generate.py command line and the Python that write this adapter again, or
    ``(None, None)`` when a setting they need was not recorded (the command alone is ``None`` when generate.py cannot
    express the call). A diffusion adapter needs the generator, description(s), sampler, steps, guidance, seed,
    sample index and snapping; a head-generator adapter the generator and description. The label names are passed
    when recorded."""
    method, description, generator = gen.get("method"), gen.get("description"), gen.get("generator")
    labels = gen.get("labels") if isinstance(gen.get("labels"), (list, tuple)) and len(gen["labels"]) == 2 else None
    if (method not in ("diffusion", "hypernetwork") or not isinstance(description, str) or _missing(description)
            or _missing(generator) or gen.get("condition") is not None):
        return None, None
    shipped = generator == SHIPPED_GENERATOR_NAME
    tasks = list(gen.get("call_descriptions") or [description])
    index = 0
    if method == "diffusion":
        needed = ("scheduler", "num_inference_steps", "guidance_scale", "seed", "sample_index",
                  "num_adapters_per_prompt", "snap_to_seen_tasks")
        if (any(gen.get(k) is None for k in needed) or description not in tasks
                or not str(gen["scheduler"]).isidentifier()):
            return None, None
        index = tasks.index(description) * gen["num_adapters_per_prompt"] + gen["sample_index"]
    quote = shlex.quote
    command = ["python", "generate.py", *[part for task in tasks for part in ("--task", quote(task))]]
    if not shipped:
        command += ["--generator", quote(str(generator))]
    command += ["--method", method]
    lines = ["from text2lora import SHIPPED_GENERATOR, Text2LoraPipeline" if shipped else
             "from text2lora import Text2LoraPipeline", ""]
    revision = gen.get("generator_revision")
    source = "SHIPPED_GENERATOR" if shipped else _py(generator)
    lines.append(f"pipe = Text2LoraPipeline.from_pretrained({source}"
                 + (f", revision={_py(revision)})" if not _missing(revision) else ")"))
    call = [_py(tasks[0]) if len(tasks) == 1 else json.dumps(tasks, ensure_ascii=False)]
    if method == "diffusion":
        scheduler, device = gen["scheduler"], gen.get("device") or "cpu"
        flag = _SCHEDULER_FLAGS.get(scheduler)
        lines[0:0] = ["import torch", f"from diffusers import {scheduler}"]
        lines.append(f"pipe.scheduler = {scheduler}.from_config(pipe.scheduler.config)")
        if device != "cpu":
            lines.append(f"pipe.to({_py(device)})")
        command += ["--scheduler", flag] if flag else []
        command += ["--num_inference_steps", str(gen["num_inference_steps"]), "--guidance_scale",
                    str(gen["guidance_scale"]), "--seed", str(gen["seed"])]
        call += [f"num_inference_steps={gen['num_inference_steps']}", f"guidance_scale={gen['guidance_scale']}"]
        if gen["num_adapters_per_prompt"] > 1:
            command += ["--num_adapters", str(gen["num_adapters_per_prompt"])]
            call.append(f"num_adapters_per_prompt={gen['num_adapters_per_prompt']}")
        call.append(f"generator=torch.Generator({_py(device)}).manual_seed({gen['seed']})")
        if not gen["snap_to_seen_tasks"]:
            command.append("--no_snap")
            call.append("snap_to_seen_tasks=False")
        if device != "cpu":
            command += ["--device", quote(device)]
        if flag is None or len(set(tasks)) != len(tasks):
            command = None  # generate.py swaps in only its own schedulers and refuses a repeated --task
    else:
        call.append('method="hypernetwork"')
    if not _missing(revision):
        command = None  # generate.py loads a Hub generator's latest revision
    if labels is not None:
        call.append(f"labels={json.dumps(list(labels), ensure_ascii=False)}")
        if command is not None:
            command += ["--labels", quote(labels[0]), quote(labels[1])]
    lines.append(f"out = pipe({', '.join(call)})")
    lines.append(f'pipe.save_adapter(out.adapters[{index}], "adapter", '
                 f'generation_config=out.generation_configs[{index}])')
    return (" ".join(command) if command is not None else None), "\n".join(lines)


def _generation_text(gen):
    """What produced the weights, and how to reproduce them: true for the recorded method and settings only."""
    method = gen.get("method")
    reproducible = _reproduction(gen)[1] is not None
    if method == "hypernetwork":
        return ("The head generator (a hypernetwork trained with a task loss) computed the adapter's classifier head "
                "from the description below; its LoRA weights are the feature LoRA shared by every adapter it writes.",
                "The head generator is deterministic: the same generator and description give this adapter." +
                ("" if reproducible else " Not every setting was recorded, so this card cannot say how to write it "
                                         "again."))
    what = ("A diffusion model sampled the adapter's weights, conditioned on the description below."
            if method == "diffusion" or not _missing(gen.get("scheduler")) else
            "text2lora generated the adapter's weights from the description below.")
    how = ("Sampling with the same generator, description, settings and seed reproduces this adapter." if reproducible
           else "Not every sampling setting was recorded, so this adapter cannot be reproduced exactly from this card.")
    return what, how


def _label_rows(gen):
    """``[(id, name, meaning)]`` of the adapter's two labels (``[]`` when no names were recorded)."""
    labels = gen.get("labels")
    if not isinstance(labels, (list, tuple)) or len(labels) != 2:
        return []
    return [("0", _code(labels[0]), "the text does not match the description"),
            ("1", _code(labels[1]), "the text matches the description")]


_SPLIT_NAMES = {"unseen_tasks": "unseen tasks", "new_datasets": "tasks of held-out datasets",
               "seen_tasks": "seen tasks, held-out descriptions"}


def _expected_accuracy(expected, gen):
    """The template's ``expected`` mapping: a table and sentences with the measured accuracy of the adapter's method
    (from the generator's evaluation_summary.json), or ``None``."""
    from ..formatting import fmt

    if not expected or expected.get("method") != gen.get("method"):
        return None
    rows, sentences = [], []
    for split in ("unseen_tasks", "new_datasets", "seen_tasks"):
        part = expected.get(split)
        if not part:
            continue
        rows.append((f"{part['num_tasks']} {_SPLIT_NAMES[split]}", fmt(part["score"]), fmt(part.get("zero_shot")),
                     fmt(part.get("fine_tuned"))))
    unseen, seen = expected.get("unseen_tasks"), expected.get("seen_tasks")
    if unseen:
        sentence = (f"On {unseen['num_tasks']} unseen tasks of the evaluation suite (tasks the generator never saw) "
                    f"this method scored a mean balanced accuracy of {fmt(unseen['score'])}")
        if unseen.get("zero_shot") is not None:
            sentence += (f", against {fmt(unseen['zero_shot'])} for zero-shot (the cosine similarity of text and "
                         "description, with a threshold tuned on each task's labelled validation rows)")
        if unseen.get("fine_tuned") is not None:
            sentence += f" and {fmt(unseen['fine_tuned'])} for a LoRA fine-tuned on each task's labelled data"
        sentences.append(sentence + ".")
    datasets = expected.get("new_datasets")
    if datasets:
        sentences.append(f"On {datasets['num_tasks']} tasks of whole datasets it never saw it scored "
                         f"{fmt(datasets['score'])}" + (f" (zero-shot {fmt(datasets['zero_shot'])})"
                                                         if datasets.get("zero_shot") is not None else "") + ".")
    if seen:
        sentences.append(f"On {seen['num_tasks']} seen tasks (tasks the generator was trained on), described in "
                         f"words it was not trained on, it scored {fmt(seen['score'])}.")
    caveats = ["These are means over the suite's tasks; single tasks vary widely around them."]
    if unseen:
        family = unseen.get("unseen_family")
        caveats.append("The unseen tasks are held-out tasks of the suite's families"
                       + (f" plus its whole `{family}` family" if family else "")
                       + ": new tasks unlike the suite may do worse.")
    if seen:
        snapped = gen.get("snapped_to_task")
        caveats.append("The seen-task number holds only for a task the generator was trained on."
                       + (f" This description was matched to the seen task `{snapped}`: expect it only if your task "
                          "is that task, and the unseen-task number or worse otherwise." if snapped else ""))
    settings = expected.get("settings") or {}
    if gen.get("method") == "diffusion" and settings:
        measured = ", ".join(f"{key}={settings[key]}" for key in ("num_inference_steps", "guidance_scale")
                             if key in settings)
        if measured:
            caveats.append(f"Measured with {measured}; other sampling settings were not measured.")
    return {"date": expected.get("date"), "rows": rows, "text": " ".join(sentences), "caveats": caveats}


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
def render_adapter_card(spec, generation_config, evaluation=None, expected_accuracy=None) -> str:
    """The README.md of a generated adapter: metadata for the Hub, the description it was generated from, its label
    names, what produced it and how to reproduce it, how to load it, optional evaluation numbers, the accuracy the
    generator's evaluation measured for its method (``expected_accuracy``, from
    :func:`text2lora.evaluation.summary.expected_accuracy`) and its limitations."""
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
    reproduce_command, reproduce_python = _reproduction(gen)
    label_rows = _label_rows(gen)
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
        if label_rows:
            id2label = {i: name for i, name in enumerate(gen["labels"])}
            label2id = {name: i for i, name in id2label.items()}
            base_kwargs = f", id2label={id2label!r}, label2id={label2id!r}"
            auto_peft_kwargs = base_kwargs

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
        reproduce_command=reproduce_command,
        reproduce_python=reproduce_python,
        version=gen.get("text2lora_version"),
        label_rows=label_rows,
        label_names=list(gen["labels"]) if label_rows else None,
        expected=_expected_accuracy(expected_accuracy, gen),
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
