"""Preloaded only by the forkserver that starts submission processes; never imported by the grader.

Importing it makes the forkserver a child subreaper: a descendant of a submission that escapes its
own process's subreaper then reparents here, where the grader finds and ends it, instead of
reparenting to init.
"""

import ctypes
import warnings

from xent_grader.sandbox import harness  # noqa: F401 - preloads torch and the harness before any fork

PR_SET_CHILD_SUBREAPER = 36

# As a subreaper the forkserver also reaps orphans it did not fork, and multiprocessing warns about
# each one on the grader's terminal. The grader ends and accounts for those orphans itself.
warnings.filterwarnings("ignore", message="forkserver: waitpid returned")

try:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
except (OSError, AttributeError):
    pass
