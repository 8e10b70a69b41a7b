"""The Modal image ships every first-party module its containers can import.

pyproject's dependencies are pip-installed into the image, but our own code is added with
`add_local_python_source(*modal_app.LOCAL_SOURCES)`; a module missing there imports fine in
every local test (`.local()` included) and fails only in Modal's cloud.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_party_names() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in config["packages"]["find"]["include"]}
    return set(config["py-modules"]) | packages


def source_files(name: str) -> list[Path]:
    path = ROOT / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [ROOT / f"{name}.py"]


def imported_first_party(path: Path, names: set[str]) -> set[str]:
    """Top-level first-party names imported anywhere in the file, function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & names


def test_every_module_the_containers_import_is_shipped():
    import modal_app

    names = first_party_names()
    shipped = set(modal_app.LOCAL_SOURCES)
    assert shipped <= names, f"not first-party: {sorted(shipped - names)}"
    needed, todo = set(), ["modal_app"]
    while todo:
        name = todo.pop()
        for path in source_files(name):
            for imported in imported_first_party(path, names) - needed:
                needed.add(imported)
                todo.append(imported)
    missing = needed - shipped - {"modal_app"}
    assert not missing, f"imported in the containers but not in modal_app.LOCAL_SOURCES: {sorted(missing)}"


def test_the_scan_sees_function_level_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("import os\n\ndef f():\n    from core.runtime.precision import resolve\n    import rag.query\n")
    assert imported_first_party(sample, first_party_names()) == {"core", "rag"}


def test_the_containers_get_every_data_file_the_packages_read():
    """Modal ships only .py files unless told otherwise: the database cannot migrate without its SQL."""
    import modal.mount as mm

    import modal_app

    for package in ("db", "gpu_jobs"):
        shipped = {str(remote).removeprefix("/root/") for _, remote in
                   mm._MountedPythonModule(package, "/root", modal_app.SHIPPED_FILES).get_files_to_upload()}
        wanted = {str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*")
                  if p.is_file() and p.suffix in (".sql", ".json") and "__pycache__" not in p.parts}
        assert wanted and wanted <= shipped, sorted(wanted - shipped)
