"""Pages import public names only: from audioclf's public modules, and from each other (pages/_common etc.)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT


def _private_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "audioclf"
                      and any(part.startswith("_") for part in a.name.split("."))]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "audioclf" and any(part.startswith("_") for part in parts):
                found.append(node.module)  # a private module of the library
            elif parts[0] == "audioclf" or (parts[0] == "pages" and len(parts) > 1):
                # pages/_common.py and friends are shared helpers: importing them is fine, their public names only
                found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_pages_import_public_names_only():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    assert len(files) > 5
    problems = [f"{f.relative_to(ROOT)}: {name}" for f in files for name in _private_imports(f.read_text())]
    assert not problems, "pages import private names: " + "; ".join(problems)


def test_the_check_sees_each_kind_of_private_import():
    source = ("from audioclf.backbones import TOP_BLOCKS, _x\nfrom pages._train_parts import _load, load\n"
              "import audioclf._validate\nfrom audioclf.features._config import C1_HZ\n"
              "from pages._common import ok\nfrom pages import _common\nimport audioclf.features\n"
              "def f():\n    from audioclf.models import _private\n")
    assert _private_imports(source) == ["audioclf.backbones._x", "pages._train_parts._load", "audioclf._validate",
                                        "audioclf.features._config", "audioclf.models._private"]
