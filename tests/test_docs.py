"""The docs stay true: every relative link in README.md and docs/*.md resolves, and every command-line
subcommand and flag they name exists in the CLI's parser (``python -m audioclf SUB --flag``, or ``SUB --flag``
at the start of a code span, in inline code and in code blocks)."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from audioclf.cli import build_parser
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: ``[text](target)`` and ``![alt](target)``, ``[label]: target`` definitions, and HTML src/href attributes.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HTML = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_FENCE = re.compile(r"^ {0,3}(```|~~~)[^\n]*\n(.*?)^ {0,3}\1\s*$", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_SEPARATORS = {"|", "||", "&&", ";", "&", ">", ">>", "2>&1"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def links(text: str) -> list[str]:
    """Every link target in a Markdown text (code blocks and spans left out: they show text, not links)."""
    prose = _SPAN.sub("", _FENCE.sub("", text))
    return _LINK.findall(prose) + _DEFINITION.findall(prose) + _HTML.findall(prose)


def _relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith(("#", "//"))


def code_fragments(text: str) -> list[str]:
    """Each line of each code block (``\\`` continuations joined) and each inline code span."""
    out = []
    for block in _FENCE.finditer(text):
        out += block.group(2).replace("\\\n", " ").splitlines()
    out += _SPAN.findall(_FENCE.sub("", text))
    return out


def _tokens(fragment: str) -> list[str]:
    fragment = fragment.split(" #", 1)[0]  # a shell comment
    try:
        return shlex.split(fragment, comments=False)
    except ValueError:  # an unbalanced quote in prose-like code: plain words are enough here
        return fragment.split()


def cli_uses(fragment: str, commands: set[str]) -> list[tuple[str, list[str]]]:
    """``(subcommand, flags)`` for each CLI command in ``fragment``: after ``python -m audioclf``, or a
    subcommand opening the fragment (after ``VAR=value`` settings and ``...``), e.g. ``train --data DIR``."""
    tokens = _tokens(fragment)
    uses, i = [], 0
    while i < len(tokens):
        start = None
        if tokens[i:i + 3] == ["python", "-m", "audioclf"] and i + 3 < len(tokens):
            start = i + 3
        elif i == 0 or tokens[i - 1] in _SEPARATORS or tokens[i - 1] == "..." or re.match(r"^\w+=", tokens[i - 1]):
            if tokens[i] in commands and all(t == "..." or re.match(r"^\w+=", t) for t in tokens[:i]):
                start = i
        if start is None:
            i += 1
            continue
        sub, flags = tokens[start], []
        i = start + 1
        while i < len(tokens) and tokens[i] not in _SEPARATORS:
            flag = tokens[i].strip("[]").split("=", 1)[0]
            if flag.startswith("--"):
                flags.append(flag)
            i += 1
        uses.append((sub, flags))
    return uses


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc):
    bad = []
    for target in links(doc.read_text(encoding="utf-8")):
        if not _relative(target):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (doc.parent / path).resolve().exists():
            bad.append(target)
    assert not bad, f"{doc.name}: links to missing files: {bad}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_cli_subcommand_and_flag_in_the_docs_exists(doc):
    subs = _subparsers()
    top = _flags(build_parser())
    bad = []
    for fragment in code_fragments(doc.read_text(encoding="utf-8")):
        for sub, flags in cli_uses(fragment, set(subs)):
            if sub.startswith("-"):
                bad += [f"python -m audioclf {f}" for f in [sub, *flags] if f.startswith("--") and f not in top]
            elif sub == "...":
                continue  # "python -m audioclf ..." names no command
            elif sub not in subs:
                bad.append(f"unknown subcommand {sub!r} in {fragment!r}")
            else:
                bad += [f"{sub} {f} (in {fragment!r})" for f in flags if f not in _flags(subs[sub])]
    assert not bad, f"{doc.name} names what the CLI does not have: {bad}"


def test_the_checks_find_what_they_look_for():
    """The parsers above on a made-up page: a broken link, an unknown flag and subcommand are all found."""
    commands = set(_subparsers())
    text = ("See [the guide](docs/guide.md#start), ![shot](docs/shot.png), [site](https://x.org) and [top](#a).\n"
            "[ref]: docs/ref.md\n<img src=\"docs/img.png\">\n"
            "```bash\npython -m audioclf train --data d \\\n  --out b --bogus  # --not-this\n"
            "python -m audioclf nosuch --json | head\n```\n"
            "Use `evaluate --json`, `KERAS_BACKEND=jax ... train --devices 2`, `--split none` and "
            "`python bench/load.py --sessions 3`.\n")
    assert links(text) == ["docs/guide.md#start", "docs/shot.png", "https://x.org", "#a", "docs/ref.md",
                           "docs/img.png"]
    assert [_relative(t) for t in links(text)] == [True, True, False, False, True, True]
    uses = [u for f in code_fragments(text) for u in cli_uses(f, commands)]
    assert uses == [("train", ["--data", "--out", "--bogus"]), ("nosuch", ["--json"]), ("evaluate", ["--json"]),
                    ("train", ["--devices"])]
