import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(ROOT, "README.md")).read().splitlines()
    marker = readme.index("<!-- test-command -->")
    command = next(line for line in readme[marker:] if line.startswith("pip install"))
    ci = open(os.path.join(ROOT, ".ci", "run")).read().splitlines()
    assert command in ci
