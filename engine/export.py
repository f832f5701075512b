"""Export a run to take home: any task's config -> a Jupyter notebook or a Python script.

The 2-D tasks have their own exporter (engine/mlp/export.py and notebook.py, the oldest). Every
other task's lives beside its trainer, as engine/<lab>/take_home.py, whose function returns the
run as engine.core.take_home Pieces; one list makes both formats. Exporters are imported only
when asked for, so neither the CLI nor a page loads more than it uses.
"""
from __future__ import annotations

import importlib

from .core.config import ConfigError
from .core.take_home import check_steps, export_text

FORMATS = ("ipynb", "py")
# task -> "module:function" returning list[Piece] for (config, steps)
EXPORTERS: dict[str, str] = {
    "autoencoder": "engine.autoencoders.take_home:pieces",
    "gan": "engine.gan.take_home:pieces",
    "charlm": "engine.sequence.take_home:charlm_pieces",
    "markov": "engine.sequence.take_home:markov_pieces",
    "sentiment": "engine.sentiment.take_home:pieces",
    "DigitsGANConfig": "engine.gan.take_home:digits_pieces",
    "cnn": "engine.cnn.take_home:pieces",
    "boltzmann": "engine.energy.take_home:boltzmann_pieces",
    "rbm": "engine.energy.take_home:rbm_pieces",
    "dbn": "engine.energy.take_home:dbn_pieces",
    "elm": "engine.reservoirs.take_home:elm_pieces",
    "esn": "engine.reservoirs.take_home:esn_pieces",
    "lsm": "engine.reservoirs.take_home:lsm_pieces",
    "ntm": "engine.ntm.take_home:pieces",
}
MLP_TASKS = ("classify2d", "regress2d")


def export(config, fmt: str = "py", steps: int = 1000) -> str:
    """The notebook (fmt "ipynb") or script (fmt "py") text that trains `config` for `steps` steps."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    check_steps(steps)
    # Configs without a CLI task (the digits GAN game) are known by their class name.
    task = getattr(config, "task", None) or type(config).__name__
    if task in MLP_TASKS:
        if fmt == "ipynb":
            from .mlp.notebook import export_notebook
            return export_notebook(config, steps=steps)
        from .mlp.export import export_script
        return export_script(config, steps=steps)
    if task not in EXPORTERS:
        raise ConfigError("task", f"no exporter for task {task!r}")
    module, name = EXPORTERS[task].split(":")
    return export_text(getattr(importlib.import_module(module), name)(config, steps), fmt)


def file_name(task: str, fmt: str) -> str:
    """What a download of this task's export is called."""
    return f"{'playground' if task in MLP_TASKS else task}.{'ipynb' if fmt == 'ipynb' else 'py'}"
