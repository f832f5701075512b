"""The engine's folder tree is its architecture: one package per lab over a core, no import
circles, core imports no lab, and no module imports a UI library. Read from the source
with ast (every import statement, also those inside functions), not by importing."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"
LABS = {"mlp", "foundations", "autoencoders", "gan", "sequence", "attention", "sentiment", "bridges", "zoo", "cnn",
        "energy", "reservoirs", "ntm"}
UI_LIBRARIES = {"streamlit", "plotly", "altair"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ENGINE.rglob("*.py")}


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported_names(path: Path) -> list[str]:
    """Absolute names of every module `path` imports (relative imports resolved),
    skipping `if TYPE_CHECKING:` blocks, which never run."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []

    def visit(node):
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            # `from . import checkpoint` imports a module (engine.mlp.checkpoint), not a name of engine.mlp
            submodules = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES]
            out.extend(submodules)
            if len(submodules) < len(node.names):
                out.append(module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return out


def _engine_edges() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        targets = set()
        for imported in _imported_names(path):
            # the longest engine module the name starts with (engine.gan.trainer, not engine.gan)
            while imported and imported not in MODULES:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def walk(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_circle():
    graph = _engine_edges()
    assert sum(len(t) for t in graph.values()) > 50  # the graph was read (about 100 arrows)
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_a_circle_would_be_found():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_core_imports_no_lab():
    graph = _engine_edges()
    for name, targets in graph.items():
        if name.startswith("engine.core"):
            labs = [t for t in targets if t.split(".")[1] in LABS]
            assert not labs, f"{name} imports {labs}: core is what the labs share, it must not depend on one"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_ui_library(name):
    ui = [m for m in _imported_names(MODULES[name]) if m and m.split(".")[0] in UI_LIBRARIES]
    assert not ui, f"{name} imports {ui}"


def test_the_folder_tree_is_one_package_per_lab_over_a_core():
    packages = {p.name for p in ENGINE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == LABS | {"core"}
    top_modules = {p.name for p in ENGINE.glob("*.py")}
    assert top_modules == {"__init__.py", "__main__.py", "tasks.py", "export.py"}
    for lab in packages:
        doc = ast.get_docstring(ast.parse((ENGINE / lab / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"engine/{lab}/__init__.py opens with the idea of the lab"


def test_the_public_names_keep_working():
    from engine import ConfigError, DataConfig, ExperimentConfig, ModelConfig, Trainer  # noqa: F401
    from engine.autoencoders import AutoencoderConfig, AutoencoderTrainer  # noqa: F401
    from engine.gan import GANConfig, GANTrainer  # noqa: F401
    from engine.sentiment import SentimentConfig, SentimentTrainer  # noqa: F401
    from engine.sequence import CharLMConfig, CharLMTrainer  # noqa: F401
    from engine.tasks import TASK_CLASSES, config_class, make_trainer  # noqa: F401
    assert (AutoencoderConfig, GANConfig, SentimentConfig, CharLMConfig) == tuple(
        config_class(t) for t in ("autoencoder", "gan", "sentiment", "charlm"))
    assert config_class("classify2d") is ExperimentConfig and config_class("regress2d") is ExperimentConfig
    for task, (_, name, trainer_path) in TASK_CLASSES.items():
        assert config_class(task).__name__ == name  # every task's module path resolves to its class
        trainer = make_trainer.__globals__["_attr"](*trainer_path.split(":"))
        assert trainer.__name__ == trainer_path.split(":")[1]
    assert Trainer.__module__ == "engine.mlp.trainer" and GANTrainer.__module__ == "engine.gan.trainer"
