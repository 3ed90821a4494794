"""The import rules of ARCHITECTURE.md, checked on the source itself (ast: nothing is imported or run).

A module that breaks a rule fails here, in `make lint` and in `make test`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("transforms", "pipelines", "local_endpoint", "local_kafka")

# Stages of the flow and what each may import of ours (besides itself).
STAGE_IMPORTS = {
    "transforms.core": set(),
    "transforms.codecs": {"transforms.core"},
    "transforms.sources": {"transforms.core", "transforms.codecs"},
    "transforms.batching": {"transforms.core", "transforms.codecs"},
    "transforms.invoke": {"transforms.core", "transforms.codecs", "transforms.batching", "transforms.totals"},
    "transforms.sinks": {"transforms.core", "transforms.codecs"},
    "transforms.totals": {"transforms.core"},
}
# Beam's file layer (local, s3://, gs:// with the job's options), not its pipeline API.
BEAM_FILESYSTEMS = "apache_beam.io.filesystems"
FILESYSTEM_USERS = {
    "transforms.sources.parquet_files",
    "transforms.sinks.staging",
    "transforms.sinks.ledger",
    "pipelines.report",
    "pipelines.resume",
    "pipelines.run",
}
# The one module of the worker that sends HTTP itself (aiohttp is a worker dependency for it alone).
HTTP_CLIENT = "transforms.invoke.direct_client"
# Entry points that build or run a pipeline without defining a transform.
PIPELINE_ENTRY_POINTS = {"pipelines.build", "pipelines.run"}
BEAM_BASES = {"DoFn", "PTransform", "CombineFn", "PipelineOptions", "RestrictionProvider", "OffsetRestrictionTracker"}
MAX_LINES = 300


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found.append((name, path))
    return found


def imports(tree: ast.AST, module: str) -> set[str]:
    """Every module named by an import anywhere in the file (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else module.rsplit(".", node.level)[0] + "." + node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def defines_beam_class(tree: ast.AST) -> bool:
    """A class derived from a Beam base, directly or through another class of the same module."""
    beam_classes = set(BEAM_BASES)
    for node in ast.walk(tree):  # classes come before their subclasses in a module
        if isinstance(node, ast.ClassDef):
            bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
            if bases & beam_classes:
                beam_classes.add(node.name)
    return len(beam_classes) > len(BEAM_BASES)


def wide_positional_records(tree: ast.AST) -> list[str]:
    """Dataclasses of more than three fields that can be built by position (a shifted argument goes unseen)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name != "dataclass":
                continue
            kw_only = call is not None and any(
                k.arg == "kw_only" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords
            )
            fields = [n for n in node.body if isinstance(n, ast.AnnAssign) and "ClassVar" not in ast.unparse(n)]
            if len(fields) > 3 and not kw_only:
                found.append(node.name)
    return found


def stage(module: str) -> str | None:
    return next((s for s in STAGE_IMPORTS if module == s or module.startswith(s + ".")), None)


def ours(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in PACKAGES}


MODULES = modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_import_rules(module: str, path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    names = imports(tree, module)
    top = module.split(".")[0]
    problems = []

    beam = {n for n in names if n == "apache_beam" or n.startswith("apache_beam.")}
    pipeline_api = {n for n in beam if not n.startswith(BEAM_FILESYSTEMS)}
    if pipeline_api and not (defines_beam_class(tree) or module in PIPELINE_ENTRY_POINTS):
        problems.append(f"imports Beam's pipeline API ({sorted(pipeline_api)[0]}) but defines no transform or DoFn")
    if beam - pipeline_api and module not in FILESYSTEM_USERS:
        problems.append("uses Beam's FileSystems: add it to FILESYSTEM_USERS and ARCHITECTURE.md, or don't")

    if top in ("local_endpoint", "local_kafka"):
        foreign = {n for n in ours(names) if n.split(".")[0] != top}
        if foreign:
            problems.append(f"the local services import nothing of the pipeline or each other: {sorted(foreign)}")
    if top == "transforms":
        if ours(names) - {n for n in ours(names) if n.startswith("transforms")}:
            problems.append("transforms know no CLI, config or local service")
        if {"yaml", "argparse"} & names:
            problems.append("transforms read no config files and parse no arguments")
        if "uvloop" in {n.split(".")[0] for n in names}:
            problems.append("transforms run on workers, which do not install the local endpoint's server")
        if "aiohttp" in {n.split(".")[0] for n in names} and module != HTTP_CLIENT:
            problems.append(f"aiohttp is the direct client's transport: only {HTTP_CLIENT} sends with it")
        own = stage(module)
        if module == "transforms":
            pass
        elif own is None:
            problems.append("not in a stage of STAGE_IMPORTS: place it, and say where in ARCHITECTURE.md")
        else:
            allowed = STAGE_IMPORTS[own] | {own}
            wrong = sorted(n for n in ours(names) if stage(n) is not None and stage(n) not in allowed)
            if wrong:
                problems.append(f"{own} may import {sorted(allowed)}, not {wrong}")
    if top == "pipelines" and module not in ("pipelines.cli", "pipelines.run"):
        local = sorted(n for n in ours(names) if n.startswith(("local_endpoint", "local_kafka")))
        if local:
            problems.append(f"only the CLI and the run start local services: {local}")

    wide = wide_positional_records(tree)
    if wide:
        problems.append(f"records of more than three fields are built by keyword (kw_only=True): {wide}")

    lines = source.count("\n")
    docstring = ast.get_docstring(tree) or ""
    if lines > MAX_LINES and "Over 300 lines" not in docstring:
        problems.append(f"{lines} lines: split it, or say why at its top ('Over 300 lines ...')")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_every_stage_is_a_package_of_the_tree() -> None:
    for name in STAGE_IMPORTS:
        path = ROOT / Path(*name.split("."))
        assert path.is_dir() or path.with_suffix(".py").is_file(), name
