"""Every task exports: `python -m engine export CONFIG --format ipynb|py` writes, for any task's config,
a valid notebook and a script of the same content that stand alone (they import nothing of this
project, only what requirements.txt installs), explain each step in words before its code, train,
and end with the page's main plot. The labs' own test files run the notebooks and check the curve."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from engine.__main__ import main as cli_main
from engine.core.take_home import Piece, code, markdown, to_notebook, to_script
from engine.export import EXPORTERS, export, file_name
from engine.tasks import TASK_CLASSES, default_config
from tests.notebook_kernel import ALLOWED_IMPORTS, imported_modules

REPO_ROOT = Path(__file__).resolve().parent.parent
TASKS = list(TASK_CLASSES)


def test_every_task_has_an_exporter():
    assert set(TASKS) - {"classify2d", "regress2d"} <= set(EXPORTERS)


@pytest.mark.parametrize("task", TASKS)
def test_the_notebook_is_valid_stands_alone_and_explains_each_step(task):
    text = export(default_config(task), "ipynb", steps=20)
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.language == "python"
    modules = imported_modules(nb)
    assert "engine" not in modules and "app_pages" not in modules
    assert modules - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS, modules
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and nb.cells[0].source.startswith("# ")
    assert kinds.count("markdown") >= 5 and kinds.count("code") >= 4, kinds
    # Every code cell but the set-up follows a markdown cell somewhere above it, and no two
    # pieces of code stand four in a row without a word between them.
    run = 0
    for kind in kinds:
        run = run + 1 if kind == "code" else 0
        assert run <= 3, kinds
    ids = [c.get("id") for c in nb.cells]
    assert "train" in ids
    train = nb.cells[ids.index("train")]
    assert train.cell_type == "code" and "train(" in train.source
    # The page's main plot comes after training: a code cell that shows a figure.
    later = [c for c in nb.cells[ids.index("train") + 1:] if c.cell_type == "code"]
    assert later and any("show(" in c.source or "to_html(" in c.source for c in later)
    assert export(default_config(task), "ipynb", steps=20) == text  # the same config gives the same file


@pytest.mark.parametrize("task", TASKS)
def test_the_script_is_the_same_content_as_python(task):
    config = default_config(task)
    script = export(config, "py", steps=20)
    ast.parse(script)
    assert imported_modules(script) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS
    if task not in ("classify2d", "regress2d"):  # the 2-D script predates the notebook: its own layout
        nb = nbformat.reads(export(config, "ipynb", steps=20), as_version=4)
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.source.strip() in script


@pytest.mark.parametrize("task", TASKS)
def test_the_cli_writes_what_export_makes(task, tmp_path):
    config = default_config(task)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config.to_dict(), "task": task}))
    for fmt in ("ipynb", "py"):
        out = tmp_path / file_name(task, fmt)
        assert cli_main(["export", str(path), "--format", fmt, "--steps", "7", "--out", str(out)]) == 0
        assert out.read_text() == export(config, fmt, steps=7)


def test_the_cli_names_a_bad_format_and_bad_steps(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"task": "rbm"}))
    out = subprocess.run([sys.executable, "-m", "engine", "export", str(path), "--format", "pdf"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice: 'pdf'" in out.stderr
    with pytest.raises(ValueError, match="steps"):
        export(default_config("rbm"), "ipynb", steps=0)
    with pytest.raises(ValueError, match="format"):
        export(default_config("rbm"), "pdf", steps=5)


def test_pieces_make_a_notebook_and_a_script_of_the_same_content():
    pieces = [markdown("intro", "# Title", 'A docstring with """ quotes and a \\ backslash.'),
              code("setup", "X = 1"), markdown("why", "## Why", "Because."),
              code("train", "print(X + 1)")]
    nb = nbformat.reads(to_notebook(pieces), as_version=4)
    assert [c.get("id") for c in nb.cells] == ["intro", "setup", "why", "train"]
    script = to_script(pieces)
    namespace: dict = {}
    exec(compile(script, "script", "exec"), namespace)  # the docstring survives its quotes
    assert namespace["__doc__"].startswith("# Title") and namespace["X"] == 1
    assert "# ## Why\n# Because." in script
    with pytest.raises(ValueError, match="train"):
        to_notebook([code("setup", "x = 1")])
    with pytest.raises(ValueError, match="repeat"):
        to_script([code("train", "a"), code("train", "b")])
    with pytest.raises(ValueError, match="kind"):
        to_script([Piece("train", "raw", "x")])
