"""The forkserver every submission's process is forked from.

This module imports no torch, so the command line can start the forkserver (which preloads torch
and the harness) before the grader imports torch itself, and both imports overlap.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import multiprocessing
import multiprocessing.forkserver
import os
import sys

from xent_grader.sandbox.limits import scrubbed_environment

context = multiprocessing.get_context("forkserver")
context.set_forkserver_preload(["xent_grader.sandbox.zygote"])


@contextlib.contextmanager
def main_module_not_rerun():
    """Keep multiprocessing from re-running the grader's ``__main__`` in each submission's process.

    Without a module spec, multiprocessing re-executes the main script in every child, which would
    load the whole grader there. It skips modules named ``*.__main__``, so one is set while starting.
    """
    main = sys.modules["__main__"]
    saved = getattr(main, "__spec__", None)
    main.__spec__ = importlib.machinery.ModuleSpec("xent_grader.__main__", None)
    try:
        yield
    finally:
        main.__spec__ = saved


def start_forkserver() -> None:
    """Start the forkserver now, with a scrubbed environment, so it preloads torch in the background.

    The forkserver's environment is what every submission's process starts from, and
    ``/proc/<pid>/environ`` keeps it, so secrets in the grader's environment never reach it.
    """
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(scrubbed_environment(home="/nonexistent"))
        os.environ["PYTHONSAFEPATH"] = "1"
        with main_module_not_rerun():
            multiprocessing.forkserver.ensure_running()
    finally:
        os.environ.clear()
        os.environ.update(saved)
