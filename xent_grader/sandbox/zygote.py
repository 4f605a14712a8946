"""Preloaded only by the forkserver that starts submission processes; never imported by the grader.

Importing it makes the forkserver a child subreaper: a descendant of a submission that escapes its
own process's subreaper then reparents here, where the grader finds and ends it, instead of
reparenting to init.
"""

import ctypes

from xent_grader.sandbox import harness  # noqa: F401 - preloads torch and the harness before any fork

PR_SET_CHILD_SUBREAPER = 36

try:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
except (OSError, AttributeError):
    pass
