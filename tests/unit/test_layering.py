"""domain/ is pure: it imports only the standard library and segshare_core.domain (DESIGN.md).

One exception: the columnar match core (domain/match.py) imports numpy (DESIGN.md, "Columnar
core"; issue 14). No other domain module may.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "layers" / "segshare_core" / "segshare_core" / "domain"
PACKAGE = "segshare_core.domain"
#: Third-party imports a domain module may make, each only in the named module.
ALLOWED_ONLY_IN = {"numpy": "match.py"}
FORBIDDEN = ("boto3", "botocore", "pynamodb", "aws_lambda_powertools", "moto", "segshare_core.store", "segshare_core.api")


def _module_name(path: Path) -> str:
    relative = path.relative_to(DOMAIN).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _imports(path: Path) -> list[str]:
    """Every module a file imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from segshare_core import store` imports segshare_core.store
            found.extend(f"{target}.{alias.name}" for alias in node.names)
    return found


def _allowed(name: str, path: Path) -> bool:
    top = name.split(".", 1)[0]
    if ALLOWED_ONLY_IN.get(top) == path.relative_to(DOMAIN).as_posix():
        return True
    return top in sys.stdlib_module_names or name == PACKAGE or name.startswith(PACKAGE + ".")


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


FILES = sorted(DOMAIN.rglob("*.py"))


def test_domain_has_modules() -> None:
    # Given the domain package
    # Then the walk below has something to walk (a moved package must not pass silently)
    assert len(FILES) >= 5
    assert DOMAIN / "devices.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_domain_module_imports_only_stdlib_and_domain(path: Path) -> None:
    # Given a domain module
    # When its imports are read
    imports = _imports(path)
    # Then none is an AWS library or an outer layer of ours, and each is stdlib or domain
    assert [name for name in imports if _forbidden(name)] == []
    assert [name for name in imports if not _allowed(name, path)] == []


@pytest.mark.parametrize(
    ("source", "bad", "file"),
    [
        ("import numpy as np", False, "match.py"),
        ("from numpy.typing import NDArray", False, "match.py"),
        ("import numpy", True, "devices.py"),
        ("from numpy import uint64", True, "probe.py"),
        ("import boto3", True, "match.py"),
        ("import boto3", True, "probe.py"),
        ("import botocore.exceptions", True, "probe.py"),
        ("from pynamodb.models import Model", True, "probe.py"),
        ("from aws_lambda_powertools import Logger", True, "probe.py"),
        ("import moto", True, "probe.py"),
        ("from segshare_core.store import directory", True, "probe.py"),
        ("from segshare_core import store", True, "probe.py"),
        ("from segshare_core import api", True, "probe.py"),
        ("from .. import store", True, "probe.py"),
        ("from ..api import principal", True, "probe.py"),
        ("import requests", True, "probe.py"),
        ("import re", False, "probe.py"),
        ("from collections.abc import Mapping", False, "probe.py"),
        ("from segshare_core.domain.errors import NotFound", False, "probe.py"),
        ("from .errors import NotFound", False, "probe.py"),
        ("from . import errors", False, "probe.py"),
    ],
)
def test_the_check_itself(tmp_path: Path, source: str, bad: bool, file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a module in the domain package with one import
    monkeypatch.setattr(sys.modules[__name__], "DOMAIN", tmp_path)
    module = tmp_path / file
    module.write_text(source + "\n")
    # When its imports are checked
    imports = _imports(module)
    flagged = any(_forbidden(n) or not _allowed(n, module) for n in imports)
    # Then exactly the bad ones are flagged
    assert flagged is bad
