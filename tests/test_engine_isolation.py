"""Rule 1: engine/ never imports a UI library. Checked in a fresh interpreter, so that
other tests (which may import streamlit) cannot hide or cause an import."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
import engine
from engine import ExperimentConfig, Trainer
snap = Trainer(ExperimentConfig(), "cpu").step(3, plane_resolution=5, neurons=True)
print(json.dumps({"step": snap.step, "modules": sorted(sys.modules)}))
"""


def test_engine_imports_no_ui_library():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["step"] == 3
    modules = result["modules"]
    assert "engine.mlp.trainer" in modules and "torch" in modules  # the check ran in a real engine process
    for ui in ("streamlit", "plotly", "altair"):
        assert not [m for m in modules if m == ui or m.startswith(ui + ".")], ui
