"""The layering rules, checked on the source so CI keeps them (docs/architecture.md).

- Imports point one way, lowest first: kernels <- engine <- models <- export <- benchmarks, tests.
- No import cycles between modules, counting imports inside functions too.
- The runtime (engine/, kernels/) never imports torch at module level; only the torch-cuda backend imports it
  at all (inside functions).
- Ray (the cluster extra) is imported at module level only by engine/batch/ray_runner.py, and that module only
  inside functions, so `dplf` and `import engine` work without Ray.
- No module over 500 lines outside tests.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import ROOT

LAYERS = {"kernels": 0, "engine": 1, "models": 2, "export": 3, "benchmarks": 4, "tests": 5}
SOURCE_PACKAGES = ("kernels", "engine", "models", "export", "benchmarks")
MAX_LINES = 500
TORCH_ALLOWED = ("engine/backends/torch_cuda_backend.py",)
RAY_RUNNER = "engine.batch.ray_runner"   # the one module that imports Ray at module level


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in (*SOURCE_PACKAGES, "tests"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    top_level = {id(n) for n in tree.body}
    for node in tree.body:   # imports guarded by `if`/`try` at module level run at import time too
        if isinstance(node, (ast.If, ast.Try)):
            top_level |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_pkg else base[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:   # `from pkg import submodule` imports the submodule
                sub = f"{mod}.{a.name}"
                found.append((sub if sub in MODULES else mod, id(node) in top_level))
    return found


def _project_target(mod: str) -> str | None:
    """The project module an import resolves to (its longest known prefix), or None for third-party code."""
    parts = mod.split(".")
    for i in range(len(parts), 0, -1):
        cand = ".".join(parts[:i])
        if cand in MODULES:
            return cand
    return None


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        graph[name] = set()
        for mod, _ in _imports(name, path):
            target = _project_target(mod)
            if target and target != name:
                graph[name].add(target)
    return graph


def test_imports_point_one_way():
    bad = []
    for name, path in MODULES.items():
        layer = LAYERS[name.split(".")[0]]
        for mod, _ in _imports(name, path):
            top = mod.split(".")[0]
            if top in LAYERS and LAYERS[top] > layer:
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "upward imports:\n" + "\n".join(sorted(set(bad)))


def test_no_import_cycles():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):   # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    # a package's __init__ re-exporting its submodules is not a cycle of its own making
    cycles = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_runtime_never_imports_torch_models_or_export():
    bad = []
    for name, path in MODULES.items():
        if name.split(".")[0] not in ("engine", "kernels"):
            continue
        rel = path.relative_to(ROOT).as_posix()
        for mod, module_level in _imports(name, path):
            top = mod.split(".")[0]
            if top in ("models", "export"):
                bad.append(f"{rel} imports {mod}")
            if top == "torch" and (module_level or rel not in TORCH_ALLOWED):
                bad.append(f"{rel} imports torch" + (" at module level" if module_level else ""))
    assert not bad, "\n".join(bad)


def test_ray_is_imported_only_when_a_batch_runs():
    bad = []
    for name, path in MODULES.items():
        if name.split(".")[0] == "tests":
            continue
        rel = path.relative_to(ROOT).as_posix()
        for mod, module_level in _imports(name, path):
            if module_level and mod.split(".")[0] == "ray" and name != RAY_RUNNER:
                bad.append(f"{rel} imports {mod} at module level")
            if module_level and _project_target(mod) == RAY_RUNNER:
                bad.append(f"{rel} imports {RAY_RUNNER} at module level")
    assert RAY_RUNNER in MODULES
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("pkg", SOURCE_PACKAGES)
def test_no_module_over_500_lines(pkg):
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in sorted((ROOT / pkg).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, "\n".join(long)


def test_the_checker_sees_a_violation(tmp_path):
    """The parser resolves relative imports and spots an upward one (guards against a checker that sees nothing)."""
    path = tmp_path / "mod.py"
    path.write_text("from ..models import registry\n\ndef f():\n    import torch\n")
    found = dict(_imports("engine.io.mod", path))
    assert found == {"engine.models.registry" if "engine.models.registry" in MODULES else "engine.models": True,
                     "torch": False}
    assert "engine.pipeline" in _graph()["engine"] or any(m.startswith("engine.") for m in _graph()["engine.cli"])
