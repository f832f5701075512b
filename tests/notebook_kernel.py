"""Running an exported notebook or script as a learner would, and checking its printed curve
against the engine's own trainer (the oracle; the export shares no code with it at run time).

- kernel_root(): a Jupyter kernel spec of its own, in a temporary folder, pointing at the project's
  Python with one thread: nothing of the user's Jupyter setup is read or written;
- run_notebook(): runs it under nbclient, after a first cell that proves `engine` is not importable;
- run_script(): runs the .py in a subprocess, in a folder where `engine` is not importable;
- assert_curve_matches(): every reported step's numbers equal the trainer's snapshot to 1e-5.
"""
from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PYTHON = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)
KERNEL = "playground-venv"

# Put in front of the notebook's own cells before it runs: the notebook must stand alone.
GUARD = ('import importlib.util\n'
         'assert importlib.util.find_spec("engine") is None, "engine is importable: the notebook would not prove it '
         'stands alone"')
# What an export may import besides the standard library: all of it is in requirements.txt.
ALLOWED_IMPORTS = {"numpy", "torch", "plotly", "IPython", "sklearn", "scipy", "transformers"}
ENV = {"OMP_NUM_THREADS": "1", "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def make_kernel_root(folder: Path) -> Path:
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Playground venv", "language": "python", "env": ENV,
    }))
    return folder


def run_notebook(text: str, folder: Path, kernel_root: Path, timeout: int = 180) -> nbformat.NotebookNode:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    nb = nbformat.reads(text, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(GUARD, id="guard"))
    km = KernelManager(kernel_name=KERNEL, connection_file=str(folder / "connection.json"),
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_root / "kernels")]))
    NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return nb


def run_script(text: str, folder: Path, timeout: int = 300) -> list[dict]:
    """Runs the script in `folder` (engine not importable there); its JSON lines."""
    path = folder / "exported.py"
    path.write_text(text)
    env = {**os.environ, **ENV}
    out = subprocess.run([str(PYTHON), "-c", GUARD + "\nimport runpy\nrunpy.run_path('exported.py', run_name='__main__')"],
                         cwd=folder, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json_lines(out.stdout)


def cell(nb, cell_id: str):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def printed_lines(nb, cell_id: str = "train") -> list[dict]:
    c = cell(nb, cell_id)
    return json_lines("".join(o["text"] for o in c.outputs if o.output_type == "stream" and o.name == "stdout"))


def shown_html(nb) -> str:
    """Every HTML output of the notebook, joined."""
    return "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))


def close(a, b, rel: float = 1e-5, abs_: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, (str, int)) and isinstance(b, (str, int)):
        return a == b
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            close(x, y, rel, abs_) for x, y in zip(a, b))
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def assert_curve_matches(lines: list[dict], snapshots: dict[int, dict], min_reports: int = 10) -> None:
    """lines: what the export printed; snapshots: step -> the trainer's snapshot as a dict at that
    step. Every printed key must be a snapshot field with the same value to 1e-5."""
    assert len(lines) >= min_reports, f"only {len(lines)} reports"
    for line in lines:
        step = line["step"]
        assert step in snapshots, f"step {step} printed, but the trainer has no snapshot there"
        snap = snapshots[step]
        for key, value in line.items():
            assert key in snap, f"printed key {key!r} is not a snapshot field"
            assert close(value, snap[key]), (step, key, value, snap[key])


def trainer_snapshots(trainer_cls, config, steps: int) -> dict[int, dict]:
    """step -> the trainer's snapshot as a dict, from its start (step 0) to `steps` steps (or its end),
    on one torch thread as the exported notebooks' kernel runs."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = trainer_cls(config, "cpu")
        snaps = {0: trainer.snapshot().to_json_dict()}
        for _ in range(steps):
            s = trainer.step(1)
            snaps[s.step] = s.to_json_dict()
        return snaps
    finally:
        torch.set_num_threads(before)


def imported_modules(nb_or_text) -> set[str]:
    sources = ([c.source for c in nb_or_text.cells if c.cell_type == "code"] if hasattr(nb_or_text, "cells")
               else [nb_or_text])
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, "relative import in an export"
                names.add(node.module.split(".")[0])
    return names
