"""Writing files without losing a user's data.

Every folder text2lora writes is built in a temporary sibling (``.tmp-*``) and renamed into place when complete. An
existing folder is replaced only when the caller asks for it and the folder holds nothing text2lora did not write;
the current folder, its ancestors, the home folder and ``/`` are never write targets. Written files get the modes the
user's umask gives, not the private modes of a temporary folder.
"""

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager

TEMP_PREFIX = ".tmp-"

# The files of an adapter folder written by text2lora (PEFT's save path plus generation_config.json and the card).
ADAPTER_FILES = frozenset({"adapter_config.json", "adapter_model.safetensors", "generation_config.json", "README.md"})


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_location(path):
    """Raise ``ValueError`` when ``path`` must never be written as a whole folder: ``/``, the home folder, the current
    folder or one of its ancestors, or an existing file."""
    path = os.fspath(path)
    if not path.strip():
        raise ValueError("The output folder must be a non-empty path.")
    real = os.path.realpath(path)
    cwd = os.path.realpath(os.getcwd())
    protected = {os.path.realpath(os.sep): "the root folder",
                 os.path.realpath(os.path.expanduser("~")): "your home folder"}
    if real in protected:
        raise ValueError(f"Refusing to write into '{path}': it is {protected[real]}. Name a new folder instead.")
    if cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep):
        what = "the current folder" if cwd == real else "an ancestor of the current folder"
        raise ValueError(f"Refusing to write into '{path}': it is {what}. Name a new folder instead.")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError(f"'{path}' exists and is not a folder.")


def check_writable_parent(path):
    """Raise ``ValueError`` when the folder that would hold ``path`` cannot be created or written."""
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    probe = parent
    while not os.path.exists(probe):  # the first existing ancestor decides
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ValueError(f"Cannot create '{path}': '{probe}' is a file, not a folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"Cannot write '{path}': '{probe}' is not writable.")


def check_output_dir(path):
    """Raise ``ValueError`` unless ``path`` can be used as an output folder that text2lora writes files into: not a
    file, not a protected folder (:func:`check_output_location`), and creatable and writable."""
    check_output_location(path)
    check_writable_parent(os.path.join(os.fspath(path), "_"))


def is_generated_adapter(path):
    """True when ``path`` is an adapter folder that text2lora's pipeline wrote and that holds nothing else: only
    :data:`ADAPTER_FILES`, with a ``generation_config.json`` naming a text2lora version."""
    try:
        names = set(os.listdir(path))
        with open(os.path.join(path, "generation_config.json"), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError):
        return False
    return names <= ADAPTER_FILES and "adapter_config.json" in names and "text2lora_version" in config


def prepare_target(path, overwrite=False, replaceable=is_generated_adapter, what="a text2lora adapter"):
    """Check that a folder may be written at ``path``; returns True when an existing folder will be replaced.

    A missing or empty folder is always fine. A non-empty one needs ``overwrite=True`` and must pass ``replaceable``
    (by default: an adapter that text2lora wrote, with no other files); otherwise ``ValueError`` and nothing changes.
    """
    check_output_location(path)
    if not os.path.isdir(path):
        check_writable_parent(path)
        return False
    names = sorted(os.listdir(path))
    if not names:
        return False
    if not overwrite:
        raise ValueError(f"'{path}' already exists. Pass overwrite=True (--overwrite on the command line) to replace "
                         "it, or choose another folder.")
    if not replaceable(path):
        raise ValueError(f"Refusing to replace '{path}': it is not {what} holding only its own files "
                         f"(it holds {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}).")
    if not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK | os.X_OK):
        raise ValueError(f"Cannot replace '{path}': its parent folder is not writable.")
    return True


def _apply_umask(root):
    mask = _umask()
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~mask)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def swap_in(tmp, target):
    """Rename ``tmp`` (a folder or a file) to ``target``; an existing ``target`` is moved aside first and removed once
    ``tmp`` is in place (so concurrent writers of one target never see a missing folder error; the last one wins)."""
    for attempt in range(20):
        aside = None
        if os.path.lexists(target):
            aside = f"{tmp}.old{attempt}"
            try:
                os.replace(target, aside)
            except FileNotFoundError:  # another writer moved it first
                aside = None
        try:
            os.replace(tmp, target)
        except OSError as err:
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another writer's folder arrived in between
                if aside is not None:
                    _remove(aside)
                continue
            if aside is not None and not os.path.lexists(target):  # a real failure: put the original back
                os.replace(aside, target)
            raise
        if aside is not None:
            _remove(aside)
        return
    raise OSError(f"Could not move the new folder into '{target}': other writers kept replacing it.")


@contextmanager
def atomic_directory(target, prefix=TEMP_PREFIX, replace=False):
    """Yield a temporary folder beside ``target``; when the block ends without error, it becomes ``target``.

    An existing non-empty ``target`` is replaced only with ``replace=True``: check it first with
    :func:`prepare_target`. On any error the temporary folder is removed and ``target`` is left as it was.
    """
    target = os.fspath(target)
    if not replace and os.path.isdir(target) and os.listdir(target):
        raise ValueError(f"'{target}' already exists and is not empty; nothing was written.")
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        yield tmp
        _apply_umask(tmp)
        swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder (``.tmp-<name>.*.part``) and a
    rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.path.basename(path)}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_json_atomic(path, obj, indent=1):
    """Write ``obj`` as JSON (UTF-8, trailing newline) through a temporary file and a rename."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def remove_temp_debris(folder, prefix=TEMP_PREFIX):
    """Remove what an interrupted write left in ``folder``: entries whose name starts with ``prefix`` (only
    text2lora's temporary names). Returns the names removed."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        if name.startswith(prefix):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed.append(name)
    return removed
