"""How long `rnnlab --help` and `rnnlab VERB --help` take, next to a bare interpreter and a full task import.

The command line lists tasks and verbs from a cached index (rnnlab.tasks.index) instead of importing every
task (and torch). This prints, per command, the median and minimum wall time of N fresh processes, and its
ratio to the two references measured in the same loop: `python -c pass` (the floor: interpreter start) and
`python -c "import rnnlab.tasks.registry as r; r.discover_tasks()"` (what listing the tasks costs without
the index). The index is built once first (the first command after an install or an upgrade pays that).

    python benchmarks/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "import + discover every task": [sys.executable, "-c", "import rnnlab.tasks.registry as r; r.discover_tasks()"],
    "rnnlab --help": [sys.executable, "-m", "rnnlab.cli", "--help"],
    "rnnlab generate --help": [sys.executable, "-m", "rnnlab.cli", "generate", "--help"],
    "rnnlab translate --help": [sys.executable, "-m", "rnnlab.cli", "translate", "--help"],
    "rnnlab train --help": [sys.executable, "-m", "rnnlab.cli", "train", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "RNNLAB_INDEX_CACHE": cache}
        subprocess.run(COMMANDS["rnnlab --help"], env=env, capture_output=True, check=True)  # build the index
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.runs):  # interleaved, so a busy moment hits every command alike
            for name, command in COMMANDS.items():
                start = time.perf_counter()
                subprocess.run(command, env=env, capture_output=True, check=True)
                times[name].append(time.perf_counter() - start)
    floor = statistics.median(times["python -c pass (floor)"])
    full = statistics.median(times["import + discover every task"])
    print(f"{'command':32s} {'median s':>9s} {'min s':>7s} {'x floor':>8s} {'x full import':>14s}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32s} {median:9.3f} {min(values):7.3f} {median / floor:8.2f} {median / full:14.2f}")


if __name__ == "__main__":
    main()
