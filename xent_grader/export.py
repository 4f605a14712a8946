"""Write a Gradescope autograder bundle: setup.sh, run_autograder and the grader's own source.

Gradescope runs ``setup.sh`` once when it builds the image and ``run_autograder`` as root for each
submission, with the student's files in /autograder/submission, and reads
/autograder/results/results.json. The bundle grades as root but runs the submission's process as
the unprivileged user ``student`` (``--run-as``), so student code cannot write the results file.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

from xent_grader import catalog

PACKAGE_DIR = Path(__file__).resolve().parent

SETUP_SH = """#!/usr/bin/env bash
# Runs once when Gradescope builds the autograder image.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install -r /autograder/source/requirements.txt
id student >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin student
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Runs as root for each submission. Grades the first .py file in /autograder/submission.
set -u
mkdir -p /autograder/results
results=/autograder/results/results.json
# Prefer the file that defines the problem's function; skip macOS metadata (__MACOSX, ._ files).
candidates=$(find /autograder/submission -maxdepth 2 -name '*.py' -not -path '*/__MACOSX/*' -not -name '._*' | sort)
submission=$(printf '%s\n' $candidates | xargs -r grep -l "def {function}" 2>/dev/null | head -n 1)
[ -n "$submission" ] || submission=$(printf '%s\n' $candidates | head -n 1)
if [ -z "$submission" ]; then
  printf '%s\\n' '{"score": 0, "output": "No .py file was submitted.", "tests": []}' > "$results"
  exit 0
fi
cd /autograder/source
PYTHONPATH=/autograder/source /autograder/venv/bin/python -m xent_grader "$submission" \\
  --problem {problem} --format gradescope --run-as student --output "$results"
if [ ! -s "$results" ]; then
  printf '%s\\n' '{"score": 0, "output": "The grader failed before writing results; see the log.", "tests": []}' \\
    > "$results"
fi
exit 0
"""


def _requirements() -> str:
    requirements = importlib.metadata.requires("xent-grade") or []
    kept = [line for line in requirements if "extra ==" not in line and not line.startswith("torch")]
    return "\n".join(kept) + "\n"


def write_gradescope_bundle(destination: Path, problem_id: str) -> list[Path]:
    """Write the bundle's files into ``destination`` and return their paths."""
    from xent_grader.problems.registry import problem_by_id

    function_name = problem_by_id(problem_id).function_name
    destination.mkdir(parents=True, exist_ok=True)
    source = destination / "xent_grader"
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(PACKAGE_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "data"))
    # Only the statements: the reference solutions must not sit where student code can read them.
    shutil.copytree(catalog.data_dir("problems"), source / "data" / "problems")
    written = {
        "setup.sh": SETUP_SH,
        "run_autograder": RUN_AUTOGRADER.replace("{problem}", problem_id).replace("{function}", function_name),
        "requirements.txt": _requirements(),
    }
    paths = []
    for name, text in written.items():
        path = destination / name
        path.write_text(text, encoding="utf-8")
        if name != "requirements.txt":
            path.chmod(0o755)
        paths.append(path)
    return [*paths, source]
