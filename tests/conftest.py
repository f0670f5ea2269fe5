"""Shared fixtures: a tiny random BERT built from config (no Hub), synthetic tasks, and a tiny collected zoo.

Before anything imports a Hugging Face library, every cache the tests could write (HF hub, datasets, XDG caches,
matplotlib, Gradio's files) is pointed into one temporary folder, removed at the end: tests never write the user's
cache or home.
``USER_CACHES`` records what the user's caches held, for tests/test_user_cache_untouched.py.
"""

import os
import random
import shutil
import tempfile

import pytest


def _cache_listing(root):
    """{relative path: (size, mtime)} of everything under ``root`` (links not followed), or {} if it is missing."""
    listing = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            stat = os.lstat(path)
            listing[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return listing


_XDG_CACHE = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
_USER_CACHE_DIRS = sorted({os.environ.get("HF_HOME") or os.path.join(_XDG_CACHE, "huggingface"),
                           os.environ.get("HF_HUB_CACHE") or os.path.join(_XDG_CACHE, "huggingface", "hub"),
                           os.path.join(_XDG_CACHE, "torch")})
USER_CACHES = {path: _cache_listing(path) for path in _USER_CACHE_DIRS}
TEST_HOME = tempfile.mkdtemp(prefix="text2lora-tests-")
for _var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "HF_ASSETS_CACHE", "HF_XET_CACHE",
             "TRANSFORMERS_CACHE", "SENTENCE_TRANSFORMERS_HOME", "TORCH_HOME"):
    os.environ.pop(_var, None)
os.environ["HF_HOME"] = os.path.join(TEST_HOME, "huggingface")
os.environ["XDG_CACHE_HOME"] = os.path.join(TEST_HOME, "cache")
os.environ["MPLCONFIGDIR"] = os.path.join(TEST_HOME, "matplotlib")
os.environ["GRADIO_TEMP_DIR"] = os.path.join(TEST_HOME, "gradio")  # read when gradio is imported
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_unconfigure(config):
    shutil.rmtree(TEST_HOME, ignore_errors=True)

WORDS = {
    "good": ["great", "wonderful", "lovely", "excellent", "superb"],
    "bad": ["awful", "terrible", "horrible", "dreadful", "poor"],
    "sport": ["football", "tennis", "match", "goal", "league"],
    "money": ["bank", "transfer", "payment", "account", "loan"],
}
FILLER = ["the", "a", "this", "was", "really", "quite", "today", "we", "it", "and"]


def make_rows(keyword_group, n, seed):
    """Texts that contain a word of ``keyword_group`` (label 1) or of another group (label 0)."""
    rng = random.Random(seed)
    others = [g for g in WORDS if g != keyword_group]
    text, label = [], []
    for i in range(n):
        positive = i % 2 == 0
        group = keyword_group if positive else rng.choice(others)
        words = rng.sample(FILLER, 4) + [rng.choice(WORDS[group])]
        rng.shuffle(words)
        text.append(" ".join(words))
        label.append(int(positive))
    return {"text": text, "label": label, "text_pair": None}


def make_task(name, group, split="seen", seed=0, n_train=32):
    from text2lora.data.tasks import Task

    return Task(
        name=name,
        descriptions=[f"detect {group} texts", f"is this text about {group}?", f"{group} detection"],
        heldout_descriptions=[f"find {group} mentions"],
        family=f"family_{group}",
        split=split,
        data={"train": make_rows(group, n_train, seed), "val": make_rows(group, 16, seed + 1),
              "test": make_rows(group, 16, seed + 2)},
    )


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A 2-layer BERT with random weights, saved with the packaged MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from text2lora.hub import packaged_model_path

    path = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=2)
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(packaged_model_path("sentence-transformers/all-MiniLM-L6-v2")).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_spec(tiny_base):
    from text2lora.adapters import AdapterSpec

    return AdapterSpec(base_model=tiny_base, r=2, lora_alpha=4, max_length=16)


@pytest.fixture(scope="session")
def tiny_tasks():
    return [make_task("good_task", "good", seed=1), make_task("bad_task", "bad", seed=2),
            make_task("sport_task", "sport", seed=3), make_task("money_task", "money", split="unseen", seed=4)]


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory, tiny_spec, tiny_tasks):
    """A collected zoo of 4 tiny tasks (2 checkpoints each), with its index."""
    from text2lora.data.zoo import write_index
    from text2lora.training.collection import TrainingSettings, ZooCollector

    path = tmp_path_factory.mktemp("zoo")
    settings = TrainingSettings(epochs=2, batch_size=8, max_train_examples=32, num_checkpoints=2,
                                learning_rate=5e-3, head_learning_rate=5e-2)
    collector = ZooCollector(path, tiny_spec, settings, embedder=None)
    collector.collect(tiny_tasks, progress=False)
    write_index(path)
    return str(path)


TINY_TRAIN = ["--token_size", "16", "--hidden_size", "32", "--num_layers", "1", "--num_heads", "2",
              "--train_batch_size", "4", "--lr_warmup_steps", "0"]


def run_train(zoo, out, embedder, *extra):
    """train.py's main (text2lora.commands.train) on the tiny zoo with a tiny denoiser."""
    from text2lora.commands.train import main

    return main(["--zoo", zoo, "--embedder", embedder, "--output_dir", str(out), *TINY_TRAIN, *extra])


@pytest.fixture(scope="session")
def tiny_generator(tiny_zoo, tiny_base, tmp_path_factory):
    """A tiny trained generator (2 steps) on the tiny zoo."""
    out = tmp_path_factory.mktemp("generator")
    run_train(tiny_zoo, out, tiny_base, "--max_train_steps", "2", "--checkpointing_steps", "1000", "--use_ema")
    return str(out)


@pytest.fixture(scope="module")
def head_generator(tiny_zoo, tiny_base, tiny_tasks, tmp_path_factory, monkeypatch_module):
    from text2lora.commands import train, train_head

    base = tmp_path_factory.mktemp("gen")
    train.main(["--zoo", tiny_zoo, "--embedder", tiny_base, "--output_dir", str(base / "plain"), "--token_size", "16",
                "--hidden_size", "32", "--num_layers", "1", "--num_heads", "2", "--train_batch_size", "4",
                "--lr_warmup_steps", "0", "--max_train_steps", "2"])
    tasks = {t.name: t for t in tiny_tasks}
    monkeypatch_module.setattr("text2lora.data.tasks.load_task", lambda name: tasks[name])
    info = train_head.main(["--generator", str(base / "plain"), "--zoo", tiny_zoo, "--output_dir",
                            str(base / "with_head"), "--rows_per_class", "8", "--projection_rows", "40",
                            "--max_train_steps", "5", "--batch_tasks", "2", "--rows_per_task", "8"])
    return str(base / "plain"), str(base / "with_head"), info


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
