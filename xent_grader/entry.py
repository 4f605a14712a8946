"""Entry point of the ``xent-grade`` command; it imports as little as possible before it starts work.

A grade command starts the forkserver, which preloads torch for the submissions' processes, before
this process imports typer, rich and torch, so the imports run side by side.
"""

from __future__ import annotations

import ctypes
import os
import sys

COMMANDS = {"grade", "problems", "show", "init", "hint", "solution", "export"}


def _drop_working_directory_from_path() -> None:
    """Keep ``python -m xent_grader`` run inside a folder of submissions from importing their files.

    A submission folder may contain a ``torch.py``; the working directory stays on ``sys.path``
    only when it is a checkout of this package.
    """
    here = os.getcwd()
    if not os.path.isdir(os.path.join(here, "xent_grader")):
        sys.path[:] = [entry for entry in sys.path if entry not in ("", ".", here)]


PR_SET_DUMPABLE = 4


def _protect_process_files() -> None:
    """Make /proc/PID/environ, fd and cwd of the grader unreadable to processes of the same user.

    A submission runs as the same user unless --run-as is given. Without this protection it could
    read the grader's environment variables, or write into its stdout through /proc/PID/fd/1.
    Linux only, and no protection against root, which can read every /proc entry.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main() -> None:
    _protect_process_files()
    _drop_working_directory_from_path()
    argv = sys.argv[1:]
    grading = bool(argv) and argv[0] not in COMMANDS - {"grade"} and not {"--help", "-h"} & set(argv)
    if grading:
        from xent_grader.sandbox.forkserver import start_forkserver

        start_forkserver()
    from xent_grader.cli import main as run_cli

    try:
        run_cli(argv)
        code = 0
    except SystemExit as exit_request:
        if exit_request.code is None:
            code = 0
        elif isinstance(exit_request.code, int):
            code = exit_request.code
        else:
            code = 1
    # Every report and file is complete here, so skip interpreter shutdown, which takes about 0.4 s
    # with torch loaded. The forkserver exits on its own when this process is gone.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
