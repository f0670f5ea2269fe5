"""The web demo: its library functions (fast, on the tiny generator) and the app in a real headless Chromium (slow)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest
import torch

from text2lora.demo import find_chromium

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_label_names_and_sentence_lines():
    from text2lora.demo import MAX_SENTENCES, label_names, sentence_lines

    assert label_names() is None and label_names(" ", "") is None  # named by the library from the description
    assert label_names(" not spam ", "spam") == ["not spam", "spam"]
    with pytest.raises(ValueError, match="both labels"):
        label_names("", "spam")
    with pytest.raises(ValueError, match="two different names"):
        label_names("spam", "spam")
    assert sentence_lines("  first \n\n second\n  \n") == ["first", "second"]
    assert sentence_lines(None) == []
    with pytest.raises(ValueError, match=f"At most {MAX_SENTENCES}"):
        sentence_lines("x\n" * (MAX_SENTENCES + 1))


def test_prune_keeps_the_newest_request_folders(tmp_path):
    from text2lora.demo import _prune

    for i in range(5):
        (tmp_path / f"r{i}").mkdir()
        os.utime(tmp_path / f"r{i}", (1000 + i, 1000 + i))
    _prune(str(tmp_path), keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r3", "r4"]


def test_generate_adapter_try_sentences_and_the_zip(tiny_generator, tmp_path):
    """The adapter is written through save_adapter, classifies with softmax probabilities equal to generate.py's
    --try, and its zip holds a PEFT folder that loads with PeftModel.from_pretrained and has the generated weights."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    from text2lora import resolve_model
    from text2lora.demo import generate_adapter, results_table, try_sentences, zip_adapter
    from text2lora.pipelines import load_generator

    pipe = load_generator(tiny_generator)
    labels = ("other", "good")
    adapter_dir, snapped = generate_adapter(pipe, " detect good texts ", labels, str(tmp_path / "work"),
                                            num_inference_steps=2)
    assert os.path.dirname(adapter_dir) == str(tmp_path / "work")
    assert snapped == "good_task"  # the tiny generator has condition anchors: snapped to the closest seen task
    config = json.load(open(os.path.join(adapter_dir, "generation_config.json")))
    assert config["description"] == "detect good texts" and config["labels"] == ["other", "good"]
    assert config["id2label"] == {"0": "other", "1": "good"} and config["num_inference_steps"] == 2
    out = pipe("detect good texts", num_inference_steps=2, generator=torch.Generator().manual_seed(0),
               labels=labels)
    recorded = {k: v for k, v in config.items() if k not in ("embedder", "text2lora_version")}  # save_adapter's
    assert recorded == json.loads(json.dumps(out.generation_configs[0]))  # the pipeline's own record, as generate.py

    sentences = ["a great and lovely day", "the bank transfer failed", "x"]
    results = try_sentences(adapter_dir, sentences)
    assert [list(r) for r in results] == [["other", "good"]] * 3
    for r in results:
        assert all(0.0 <= p <= 1.0 for p in r.values()) and sum(r.values()) == pytest.approx(1.0, abs=1e-6)
    base = pipe.adapter_spec.base_model
    from text2lora.inference import classify, load_classifier

    assert results == classify(sentences, *load_classifier(adapter_dir))  # generate.py --try's classification
    assert try_sentences(adapter_dir, []) == []
    rows, headers = results_table(sentences, results)
    assert headers == ["sentence", "label", "P(other)", "P(good)"]
    assert [row[1] for row in rows] == [max(r, key=r.get) for r in results] and rows[0][0] == sentences[0]

    archive = zip_adapter(adapter_dir)
    name = os.path.basename(adapter_dir)
    assert archive == adapter_dir + ".zip"
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        assert {f"{name}/adapter_config.json", f"{name}/adapter_model.safetensors"} <= names
        z.extractall(tmp_path / "unzipped")
    unzipped = tmp_path / "unzipped" / name
    model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(resolve_model(base)),
                                      unzipped)
    saved = load_file(unzipped / "adapter_model.safetensors")
    assert saved and all(torch.equal(saved[k], load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))[k])
                         for k in saved)
    assert any("lora_A" in k for k, _ in model.named_parameters())

    with pytest.raises(ValueError, match="Describe the task"):
        generate_adapter(pipe, "  ", labels, str(tmp_path / "work"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url, proc, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"app.py did not answer at {url} within {timeout_s}s")


@pytest.mark.slow
@pytest.mark.skipif(not find_chromium(), reason="no chromium binary (apt-get install chromium, or set $CHROMIUM)")
def test_app_in_a_headless_browser(tmp_path, tmp_path_factory, monkeypatch):
    """app.py serves the shipped generator on 127.0.0.1; Chromium types a description and sentences, clicks, and sees
    the label names with probabilities, the snapped task and a download link to the zipped adapter. Nothing but the
    local server is requested, and the server writes only in this test's folder (its own folder is removed when it
    is stopped)."""
    from playwright.sync_api import sync_playwright

    from text2lora.demo import generate_in_page, open_browser

    home, tmp = tmp_path_factory.mktemp("home"), tmp_path / "tmp"  # home: a short path, for Chromium's socket
    tmp.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, GRADIO_TEMP_DIR=str(tmp_path / "gradio"), GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1", HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "app.py"), "--server_name", "127.0.0.1",
                             "--server_port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        launched = time.monotonic()
        _wait_for_server(url, proc, timeout_s=180)
        startup = time.monotonic() - launched
        (workdir,) = [p for p in tmp.iterdir() if p.name.startswith("text2lora-demo-")]
        monkeypatch.setenv("TMPDIR", str(tmp))  # playwright's driver keeps its scratch files there
        with sync_playwright() as playwright:
            context, refused = open_browser(playwright, home, url)
            page = context.new_page()
            page.goto(url)
            page.get_by_role("button", name="Generate adapter").click()  # no description: an error, no adapter
            page.get_by_text("Describe the task first").first.wait_for(timeout=30_000)
            start = time.monotonic()
            generate_in_page(page, url, "detect spam", ("not spam", "spam"),
                             ["WIN a FREE iPhone, click here now", "see you at lunch tomorrow"])
            page.get_by_text("P(spam)").first.wait_for()
            seconds = time.monotonic() - start
            text = page.inner_text("body")
            link = page.locator("a[download]").first
            download_name, href = link.get_attribute("download"), link.get_attribute("href")
            archive = tmp_path / "downloaded.zip"
            archive.write_bytes(page.request.get(href).body())
            context.close()
        for expected in ("P(not spam)", "P(spam)", "WIN a FREE iPhone, click here now", "see you at lunch tomorrow"):
            assert expected in text
        # The note under the table says how the default path made the adapter: a seen task or a new one.
        note = "Conditioned on the seen task" if "Conditioned on the seen task" in text else "A new task:"
        assert note in text
        table = text[text.index("P(spam)"):text.index(note)].split()
        probabilities = [float(cell) for cell in table if cell.replace(".", "", 1).isdigit()]
        assert len(probabilities) == 4 and all(0 <= p <= 1 for p in probabilities)
        assert [probabilities[0] + probabilities[1], probabilities[2] + probabilities[3]] == pytest.approx([1, 1],
                                                                                                      abs=2e-3)
        assert download_name.startswith("detect-spam") and download_name.endswith(".zip")
        name = download_name[: -len(".zip")]
        with zipfile.ZipFile(archive) as z:
            assert {f"{name}/adapter_config.json", f"{name}/adapter_model.safetensors"} <= set(z.namelist())
        assert refused == []
        assert seconds < 120
        print(f"app.py answered after {startup:.1f}s; generated and classified in the browser in {seconds:.1f}s")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert not workdir.exists(), out
    assert "Traceback" not in out, out
