"""Reading a submission's file on the grader's side: size, encoding, syntax and banned names.

The file is only parsed here, never executed. The name scan is the static half of the from-scratch
check; the run-time trace in the submission's process is the other half.
"""

from __future__ import annotations

import ast
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 1024 * 1024


class SourceError(Exception):
    """A file that cannot be graded, with the status it gets."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Finding:
    line: int
    text: str


def read_source(path: Path, allow_symlink: bool = True) -> str:
    """Return the file's text, or raise SourceError for a file that is not a regular file, too large or not UTF-8.

    A batch passes ``allow_symlink=False``: a link in a class folder could point at any file.
    """
    if path.is_symlink() and not allow_symlink:
        raise SourceError("load-error", f"{path.name} is a symbolic link; submit the file itself, not a link.")
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise SourceError("load-error", f"{path.name} is not a regular file (a folder, pipe or device); submit a .py file.")
    size = status.st_size
    if size > MAX_SOURCE_BYTES:
        raise SourceError(
            "load-error",
            f"{path.name} is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,} bytes (1 MiB). "
            "Submit only the Python source of your solution.",
        )
    data = path.read_bytes()
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise SourceError(
            "syntax-error",
            f"{path.name} contains a NUL byte on line {line}, so it is not a Python source file. "
            "Submit the .py file itself, saved as UTF-8 text.",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SourceError(
            "syntax-error",
            f"{path.name} is not valid UTF-8 (byte 0x{data[error.start]:02x} on line {line}). Save the file as UTF-8.",
        ) from None


def parse_source(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as error:
        where = f"line {error.lineno}" if error.lineno else "an unknown line"
        text = (error.text or "").strip()
        shown = f": {text}" if text else ""
        raise SourceError("syntax-error", f"{error.msg} on {where}{shown}") from None
    except (RecursionError, MemoryError, ValueError) as error:
        raise SourceError("syntax-error", f"the file could not be parsed ({type(error).__name__})") from None


def defined_functions(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Map each top-level function's name to its parameter names."""
    functions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            functions[node.name] = tuple(argument.arg for argument in every)
    return functions


def find_banned_names(tree: ast.Module, banned: frozenset[str]) -> list[Finding]:
    """Find uses of banned names: attributes, plain names, imports, and string constants naming them.

    A plain name that the file itself defines with a top-level ``def`` (for example the candidate's
    own ``cross_entropy_loss`` called in a self-test) is the candidate's code, not PyTorch's.
    """
    own = set(defined_functions(tree))
    banned = frozenset(banned)
    findings = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.alias):
            name = node.name.rsplit(".", 1)[-1]
            if node.name.split(".")[0] == "xent_grader":
                findings.append(Finding(getattr(node, "lineno", 0), f"imports the grader module {node.name}"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            if module.split(".")[0] == "xent_grader":
                findings.append(Finding(node.lineno, f"imports from the grader module {module}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in banned - own:
            findings.append(Finding(node.lineno, f'names "{node.value}" in a string'))
        if name in banned and not (isinstance(node, ast.Name) and name in own):
            findings.append(Finding(getattr(node, "lineno", 0), f"uses {name}"))
    unique = {(finding.line, finding.text): finding for finding in findings}
    return sorted(unique.values(), key=lambda finding: finding.line)


# Names that switch off the run-time trace, or run code the source scan cannot see.
EVASION_NAMES = {
    "DisableTorchFunction": "switches off torch function modes and so hides calls from the grader's trace",
    "DisableTorchFunctionSubclass": "switches off torch function handling and so hides calls from the grader's trace",
    "_pop_mode": "removes the grader's torch function mode",
    "_pop_mode_temporarily": "removes the grader's torch function mode",
    "_push_mode": "changes the torch function mode stack",
    "exec": "runs code built at run time, which the grader cannot inspect",
    "eval": "runs code built at run time, which the grader cannot inspect",
    "compile": "compiles code at run time, which the grader cannot inspect",
    "__import__": "imports modules by computed names",
    "runpy": "runs other files as code",
}


# These count only as plain names (the builtins), so that torch.compile, say, is not flagged.
BUILTIN_EVASIONS = {"exec", "eval", "compile", "__import__"}


def _node_name(node: ast.AST) -> str | None:
    """Return the attribute or plain name a node refers to, if it is one of those."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def find_trace_evasion(tree: ast.Module) -> list[Finding]:
    """Find code that hides work from the run-time trace or reads the grader's own files."""
    findings = []
    for node in ast.walk(tree):
        name = _node_name(node)
        if isinstance(node, ast.alias):
            name = node.name.split(".")[0]
        builtin_only = name in BUILTIN_EVASIONS and not isinstance(node, ast.Name)
        if name in EVASION_NAMES and not builtin_only:
            findings.append(Finding(getattr(node, "lineno", 0), f"uses {name}, which {EVASION_NAMES[name]}"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "xent_grader" in node.value:
            findings.append(Finding(node.lineno, "names the grader's package xent_grader in a string"))
    unique = {(finding.line, finding.text): finding for finding in findings}
    return sorted(unique.values(), key=lambda finding: finding.line)
