"""Run the grader with ``python -m xent_grader``."""

from xent_grader.entry import main

if __name__ == "__main__":
    main()
