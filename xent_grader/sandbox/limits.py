"""Resource limits for the submission's process, and the report of which protections are active."""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass

MIB = 1024 * 1024

# Environment variables the submission's process keeps. Everything else (tokens, keys, PYTHON* hooks)
# is dropped before the submission's code runs.
ENVIRONMENT_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "TZ")


@dataclass(frozen=True)
class Limits:
    """Limits for one submission's process."""

    timeout: float = 20.0  # wall-clock seconds for loading and all graded calls
    memory_mb: int = 4096  # address space the submission may add on top of the preloaded interpreter
    output_bytes: int = 1 * MIB  # stdout plus stderr; more ends the run with status output-limit
    file_size_mb: int = 64  # largest file the submission may write
    open_files: int = 256
    grace_seconds: float = 0.2  # between SIGTERM and SIGKILL when the run is stopped


def current_address_space_bytes() -> int:
    """Return this process's virtual memory size (VmSize) in bytes, or 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def apply_resource_limits(limits: Limits) -> list[str]:
    """Set the rlimits of the calling process; return the names of the limits that could not be set."""
    # RLIMIT_AS counts the address space torch already mapped, so the cap is relative to it.
    address_space = current_address_space_bytes() + limits.memory_mb * MIB
    cpu_seconds = int(limits.timeout) + 2
    wanted = {
        "RLIMIT_AS": (address_space, address_space),
        "RLIMIT_CPU": (cpu_seconds, cpu_seconds + 1),
        "RLIMIT_FSIZE": (limits.file_size_mb * MIB, limits.file_size_mb * MIB),
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_NOFILE": (limits.open_files, limits.open_files),
    }
    failed = []
    for name, values in wanted.items():
        try:
            resource.setrlimit(getattr(resource, name), values)
        except (ValueError, OSError, AttributeError):
            failed.append(name)
    return failed


@dataclass(frozen=True)
class Protection:
    name: str
    active: bool
    detail: str


def describe_protections(limits: Limits, run_as_user: str | None = None) -> list[Protection]:
    """List the protections this grader applies on this machine, for the report."""
    linux = sys.platform.startswith("linux")
    if run_as_user:
        confinement = Protection(
            "separate user",
            True,
            f"submissions run as {run_as_user}: they cannot write the grader's files, but can use the network",
        )
    else:
        confinement = Protection(
            "filesystem and network confinement",
            False,
            "not confined: submissions run as your user and can read your files and use the network",
        )
    return [
        Protection("separate process", True, "each submission runs in its own process, forked from a clean one"),
        Protection("wall-clock timeout", True, f"{limits.timeout:g} s, then SIGTERM and SIGKILL to the whole tree"),
        Protection("memory limit", linux, f"RLIMIT_AS: {limits.memory_mb} MiB above the preloaded interpreter"),
        Protection("CPU time limit", True, f"RLIMIT_CPU: {int(limits.timeout) + 2} s"),
        Protection("file size limit", True, f"RLIMIT_FSIZE: {limits.file_size_mb} MiB; no core dumps"),
        Protection("output cap", True, f"{limits.output_bytes // 1024} KiB of stdout and stderr"),
        Protection("scrubbed environment", True, "only " + ", ".join(ENVIRONMENT_ALLOWLIST) + " are kept"),
        Protection("isolated imports", True, "files next to the submission are not on sys.path"),
        Protection("closed stdin and file descriptors", True, "only the private result channel stays open"),
        Protection("descendants ended", linux, "child-subreaper; every process the submission started is killed"),
        confinement,
    ]


def scrubbed_environment(home: str) -> dict[str, str]:
    environment = {name: os.environ[name] for name in ENVIRONMENT_ALLOWLIST if name in os.environ}
    environment.setdefault("PATH", "/usr/bin:/bin")
    environment.update(HOME=home, TMPDIR=home, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return environment
