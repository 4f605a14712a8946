"""Reading and scanning a submission's file without running it: size, encoding, syntax, banned names."""

from __future__ import annotations

import ast

import pytest
from conftest import SOLUTIONS

from xent_grader.grading.source import (
    MAX_SOURCE_BYTES,
    SourceError,
    defined_functions,
    find_banned_names,
    parse_source,
    read_source,
)
from xent_grader.problems.cross_entropy import BUILTIN_LOSSES, STRICT_EXTRAS

REFERENCE = SOLUTIONS / "cross-entropy" / "reference.py"


def findings_of(source: str, banned=BUILTIN_LOSSES) -> list[tuple[int, str]]:
    return [(finding.line, finding.text) for finding in find_banned_names(ast.parse(source), banned)]


# read_source


def test_read_source_utf8(tmp_path):
    path = tmp_path / "solution.py"
    path.write_text("# café\nx = 1\n", encoding="utf-8")

    assert read_source(path) == "# café\nx = 1\n"


def test_read_source_nul_byte_status(tmp_path):
    path = tmp_path / "binary.py"
    path.write_bytes(b"x = 1\n\x00\x01\x02\n")

    with pytest.raises(SourceError) as raised:
        read_source(path)

    assert raised.value.status == "syntax-error"
    assert "binary.py" in raised.value.message
    assert "NUL" in raised.value.message


def test_read_source_nul_byte_fix(tmp_path):
    path = tmp_path / "binary.py"
    path.write_bytes(b"x = 1\n\x00\n")

    with pytest.raises(SourceError) as raised:
        read_source(path)

    assert "save" in raised.value.message.lower()


def test_read_source_latin1(tmp_path):
    # 'é' is the single byte 0xe9 in Latin-1, which is never valid on its own in UTF-8.
    path = tmp_path / "latin.py"
    path.write_bytes("x = 1\ny = 'café'\n".encode("latin-1"))

    with pytest.raises(SourceError) as raised:
        read_source(path)

    assert raised.value.status == "syntax-error"
    assert "latin.py" in raised.value.message
    assert "UTF-8" in raised.value.message
    assert "0xe9" in raised.value.message
    assert "line 2" in raised.value.message
    assert "Save the file as UTF-8" in raised.value.message


def test_read_source_at_size_limit(tmp_path):
    path = tmp_path / "large.py"
    path.write_bytes(b"#" * (MAX_SOURCE_BYTES - 1) + b"\n")

    assert len(read_source(path)) == MAX_SOURCE_BYTES


def test_read_source_over_size_limit(tmp_path):
    path = tmp_path / "huge.py"
    path.write_bytes(b"#" * MAX_SOURCE_BYTES + b"\n")

    with pytest.raises(SourceError) as raised:
        read_source(path)

    assert raised.value.status == "load-error"
    assert "huge.py" in raised.value.message
    assert "limit" in raised.value.message
    assert "MiB" in raised.value.message
    assert "Submit only the Python source" in raised.value.message


def test_read_source_over_limit_reads_nothing(tmp_path, monkeypatch):
    # The size check comes first, so a huge file is never loaded into memory.
    path = tmp_path / "huge.py"
    path.write_bytes(b"#" * (MAX_SOURCE_BYTES + 1))

    def fail_read(self):
        raise AssertionError("read_bytes was called on a file over the limit")

    monkeypatch.setattr(type(path), "read_bytes", fail_read)

    with pytest.raises(SourceError):
        read_source(path)


# parse_source


@pytest.mark.parametrize(
    "source, line",
    [
        ("x = 1\n\ndef f(:\n    pass\n", 3),
        ("x = 1\n  y = 2\n", 2),
        ("import torch\nx = (1,\n", 2),
        ("def f():\nreturn 1\n", 2),
    ],
    ids=["bad-signature", "unexpected-indent", "never-closed", "missing-indent"],
)
def test_parse_source_error_line(source, line):
    with pytest.raises(SourceError) as raised:
        parse_source(source, "solution.py")

    assert raised.value.status == "syntax-error"
    assert f"line {line}" in raised.value.message


def test_parse_source_error_shows_text():
    with pytest.raises(SourceError) as raised:
        parse_source("x = 1\ndef cross_entropy_loss(logits targets):\n    pass\n", "solution.py")

    assert "def cross_entropy_loss(logits targets):" in raised.value.message


def test_parse_source_valid():
    tree = parse_source("def f(x):\n    return x\n", "solution.py")

    assert isinstance(tree, ast.Module)


# defined_functions


def test_defined_functions_parameter_names():
    source = (
        "def cross_entropy_loss(logits, targets):\n    pass\n"
        "def with_kinds(a, b, /, c, *, d, e=1):\n    pass\n"
        "async def later(x):\n    pass\n"
    )

    functions = defined_functions(ast.parse(source))

    assert functions == {
        "cross_entropy_loss": ("logits", "targets"),
        "with_kinds": ("a", "b", "c", "d", "e"),
        "later": ("x",),
    }


def test_defined_functions_top_level_only():
    source = (
        "class Helper:\n    def method(self, x):\n        pass\n"
        "def outer():\n    def inner(y):\n        pass\n"
        "lambda_value = lambda z: z\n"
    )

    assert defined_functions(ast.parse(source)) == {"outer": ()}


# find_banned_names

BANNED_USES = [
    ("import torch.nn.functional as F\n\nloss = F.cross_entropy(x, t)\n", [(3, "uses cross_entropy")]),
    (
        "from torch.nn.functional import nll_loss\n\nloss = nll_loss(x, t)\n",
        [(1, "uses nll_loss"), (3, "uses nll_loss")],
    ),
    ("from torch.nn import CrossEntropyLoss\n", [(1, "uses CrossEntropyLoss")]),
    ("from torch.nn.functional import cross_entropy as ce\n", [(1, "uses cross_entropy")]),
    ("import torch\nloss = torch.nn.NLLLoss()(x, t)\n", [(2, "uses NLLLoss")]),
    ("import torch\nname = 'x'\nf = getattr(torch.nn.functional, 'nll_loss')\n", [(3, 'names "nll_loss" in a string')]),
    ("import torch\nloss = torch.ops.aten.nll_loss_forward(x, t, None, 1, -100)\n", [(2, "uses nll_loss_forward")]),
    ("import torch\nloss = torch._C._nn.cross_entropy_loss(x, t)\n", [(2, "uses cross_entropy_loss")]),
]


@pytest.mark.parametrize("source, expected", BANNED_USES, ids=[
    "attribute", "bare-imported-name", "from-import-class", "import-alias", "module-class", "string-constant",
    "aten-op", "torch-c",
])
def test_find_banned_names(source, expected):
    assert findings_of(source) == expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = 1\nimport xent_grader\n", [(2, "imports the grader module xent_grader")]),
        ("import xent_grader.cli as cli\n", [(1, "imports the grader module xent_grader.cli")]),
        ("\n\nfrom xent_grader.grading import compare\n", [(3, "imports from the grader module xent_grader.grading")]),
    ],
    ids=["import", "import-submodule", "from-import"],
)
def test_find_grader_imports(source, expected):
    assert findings_of(source) == expected


def test_find_banned_sorted_by_line():
    source = "import torch\n\ny = torch.nn.functional.nll_loss\nx = torch.nn.functional.cross_entropy\n"

    lines = [line for line, _ in findings_of(source)]

    assert lines == [3, 4]


def test_find_banned_strict_extras():
    source = "import torch\nlog_probs = torch.log_softmax(x, dim=1)\n"

    assert findings_of(source) == []
    assert findings_of(source, BUILTIN_LOSSES | STRICT_EXTRAS) == [(2, "uses log_softmax")]


def test_find_banned_ignores_similar_names():
    source = (
        "def my_cross_entropy(x):\n    return x\n"
        "cross_entropy_value = 1\n"
        "text = 'this is not nll_loss'\n"
    )

    assert findings_of(source) == []


def test_reference_solution_clean():
    tree = ast.parse(REFERENCE.read_text(encoding="utf-8"))

    assert find_banned_names(tree, BUILTIN_LOSSES | STRICT_EXTRAS) == []
