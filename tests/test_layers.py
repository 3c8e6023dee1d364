"""The house's rules, checked on the source so they stay true: every import points down, no private name crosses.

Layers, lowest first (a module may import its own layer and any layer below it)::

    errors, _version  (leaves: import nothing of chestxai)
    data -> models -> explain -> retrieval -> evaluate -> service -> pacs -> train -> cli

``pacs`` sits beside the service, one step above it: it hands images to the same analysis
(:mod:`chestxai.service.analysis`) and the service never imports it. The package root (``chestxai/__init__.py``)
and ``__main__`` are facades for callers: no library module imports the root (the CLI, the top, may use it as any
caller does).
Underscore rule: no module imports another module's ``_private`` name (``from chestxai.x import _y``), nor a
private module other than the ``_version`` leaf.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = ["data", "models", "explain", "retrieval", "evaluate", "service", "pacs", "train", "cli"]
LEAVES = {"chestxai.errors", "chestxai._version"}
FACADES = {"chestxai", "chestxai.__main__", "chestxai.cli"}  # may import the root facade


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank(module: str) -> int:
    """-1 for the leaves; the index in LAYERS for a module of a layer."""
    if module in LEAVES:
        return -1
    return LAYERS.index(module.split(".")[1])


def imports(source: str, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import of ``chestxai`` code, also inside functions."""
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "chestxai"]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            if target.split(".")[0] == "chestxai":
                found.append((target, [a.name for a in node.names]))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every break of the layer order, the root rule and the underscore rule in one module's source."""
    bad = []
    for target, names in imports(source, module, is_package):
        # `from chestxai.explain import base` names a submodule, not a value: judge the submodule.
        where = target
        if target == "chestxai" and module not in FACADES:
            subs = [n for n in names if (SRC / "chestxai" / n).exists() or (SRC / "chestxai" / f"{n}.py").exists()]
            if len(subs) != len(names):
                bad.append(f"{module} imports the package root ({', '.join(names)}); import from where it lives")
                continue
            where = f"chestxai.{subs[0]}" if subs else target
        private = [p for p in where.split(".") if p.startswith("_") and not p.startswith("__") and p != "_version"]
        if private:
            bad.append(f"{module} imports private module {where}")
        if where != module:
            taken = [n for n in names if n.startswith("_") and not n.startswith("__") and n != "_version"]
            if taken:
                bad.append(f"{module} imports private names {taken} from {where}")
        if module in LEAVES:
            bad.append(f"leaf {module} imports {where}")
        elif module not in FACADES - {"chestxai.cli"} and where not in LEAVES | FACADES and rank(where) > rank(module):
            bad.append(f"{module} ({LAYERS[rank(module)]}) imports {where} ({LAYERS[rank(where)]}): arrow up")
    return bad


def test_every_import_points_down_and_no_private_name_crosses() -> None:
    modules = sorted((SRC / "chestxai").rglob("*.py"))
    assert len(modules) > 40
    bad = []
    for path in modules:
        bad += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    assert bad == []


def test_the_checker_catches_each_kind_of_break() -> None:
    assert violations("from chestxai.train.fit import fit\n", "chestxai.retrieval.igcbir_train") == [
        "chestxai.retrieval.igcbir_train (retrieval) imports chestxai.train.fit (train): arrow up"]
    assert violations("def f():\n    from chestxai import load_model\n", "chestxai.retrieval.api")[0].startswith(
        "chestxai.retrieval.api imports the package root")
    assert violations("from chestxai.retrieval.api import _case_pixels\n", "chestxai.service.analysis") == [
        "chestxai.service.analysis imports private names ['_case_pixels'] from chestxai.retrieval.api"]
    assert violations("from .catalogue import _labels_of\n", "chestxai.retrieval.ray_index") == [
        "chestxai.retrieval.ray_index imports private names ['_labels_of'] from chestxai.retrieval.catalogue"]
    assert violations("import chestxai.service.analysis\n", "chestxai.pacs.node") == []
    assert violations("from chestxai.pacs import node\n", "chestxai.service.api") == [
        "chestxai.service.api (service) imports chestxai.pacs (pacs): arrow up"]
    assert violations("from chestxai._version import __version__\nfrom chestxai.errors import ConfigError\n",
                      "chestxai.data.io") == []
    assert violations("from chestxai.data.io import read_image\n", "chestxai.errors") == [
        "leaf chestxai.errors imports chestxai.data.io"]
