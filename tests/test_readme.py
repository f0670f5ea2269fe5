import ast
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_blocks():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return [block.split("```")[0] for block in readme.split("```python\n")[1:]]


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(ROOT, "README.md")).read().splitlines()
    marker = readme.index("<!-- test-command -->")
    command = next(line for line in readme[marker:] if line.startswith("pip install"))
    ci = open(os.path.join(ROOT, ".ci", "run")).read().splitlines()
    assert command in ci


@pytest.mark.slow
def test_readme_snippets_name_the_labels(tmp_path, monkeypatch, capsys):
    """The README's generation snippet and its text2lora.inference snippet run as printed: transformers.pipeline() on
    the adapter loaded with plain PEFT prints one of the adapter's two label names, the ones the README says."""
    generate, inference = _python_blocks()[0], next(b for b in _python_blocks() if "load_classifier" in b)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(generate, scope)
    printed = capsys.readouterr().out.strip().splitlines()
    names = scope["out"].labels[0]
    said = next(line for line in generate.splitlines() if line.startswith("print(out.labels[0])"))
    assert ast.literal_eval(said.split(": ", 1)[1]) == names  # the names the README quotes are the real ones
    assert printed[0] == repr(names)
    (prediction,) = ast.literal_eval(printed[-1])
    assert prediction["label"] in names and 0.5 <= prediction["score"] <= 1.0
    config = json.load(open(tmp_path / "angry-tweets" / "generation_config.json"))
    assert config["id2label"] == {"0": names[0], "1": names[1]} and config["labels"] == names
    exec(inference, scope)
    (probabilities,) = ast.literal_eval(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(probabilities) == names and abs(sum(probabilities.values()) - 1.0) < 1e-5
    assert probabilities[prediction["label"]] == pytest.approx(prediction["score"], abs=1e-4)
