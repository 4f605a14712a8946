"""Measure xent-grade's speed targets and print both ratios.

1. Grading one correct file, end to end through the command line, against `python -c "import torch"`
   (target: at most 1.3 times as long), with the default advisory performance note and without it.
2. Grading 100 files in one command against grading one (target: at most 8 times as long).

Each timing is the median of several fresh runs. Run from the repository root:

    python benchmarks/bench_grading.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORRECT = sorted(
    path
    for path in (ROOT / "solutions" / "cross-entropy").rglob("*.py")
    if "expect: full-marks" in path.read_text(encoding="utf-8")
)
WRONG = [ROOT / "solutions" / "cross-entropy" / "gallery" / name for name in ("missing_negation.py", "no_max_shift.py")]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed with exit code {completed.returncode}: {completed.stderr[-500:]}")
    return elapsed


def median_time(command: list[str], repeats: int) -> tuple[float, list[float]]:
    timed(command)  # warm the page cache
    samples = [timed(command) for _ in range(repeats)]
    return statistics.median(samples), samples


def class_folder(count: int, wrong_share: float) -> Path:
    """Create a folder of ``count`` submissions: copies of the correct gallery, some of them wrong."""
    folder = Path(tempfile.mkdtemp(prefix="xent-bench-"))
    wrong_count = int(count * wrong_share)
    for index in range(count):
        pool = WRONG if index < wrong_count else CORRECT
        shutil.copy(pool[index % len(pool)], folder / f"student_{index:03d}.py")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median is reported)")
    parser.add_argument("--files", type=int, default=100, help="files in the class folder")
    parser.add_argument("--wrong-share", type=float, default=0.0, help="share of wrong files in the folder, 0 to 1")
    arguments = parser.parse_args()

    grader = [sys.executable, "-m", "xent_grader"]
    import_torch, _ = median_time([sys.executable, "-c", "import torch"], arguments.repeats)
    reference = str(ROOT / "solutions" / "cross-entropy" / "reference.py")
    one_file, _ = median_time([*grader, reference, "--seed", "1"], arguments.repeats)
    one_file_bare, _ = median_time([*grader, reference, "--seed", "1", "--no-performance"], arguments.repeats)
    folder = class_folder(arguments.files, arguments.wrong_share)
    try:
        many_files, _ = median_time([*grader, str(folder), "--seed", "1"], max(1, arguments.repeats // 2))
    finally:
        shutil.rmtree(folder)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'unknown CPU'}, "
          f"Python {platform.python_version()}")
    import torch

    print(f"torch {torch.__version__}")
    print(f"python -c 'import torch':            {import_torch:.2f} s")
    print(f"grade one correct file:               {one_file:.2f} s  ratio {one_file / import_torch:.2f} (target <= 1.3)")
    print(f"  the same, --no-performance:         {one_file_bare:.2f} s  ratio {one_file_bare / import_torch:.2f}")
    print(f"grade {arguments.files} files ({arguments.wrong_share:.0%} wrong):  {many_files:.2f} s  "
          f"ratio {many_files / one_file:.2f} (target <= 8)")


if __name__ == "__main__":
    main()
