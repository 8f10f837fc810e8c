"""Run the generated CLI fuzzer (tests/cli_fuzz_generated.py) and print its counts and failures.

    python scripts/fuzz_cli.py                      # the whole grid (every command x option x value)
    python scripts/fuzz_cli.py --sample 120         # the fixed-seed sample the test suite runs
    python scripts/fuzz_cli.py --command 'train lm' --command generate   # some commands only
    python scripts/fuzz_cli.py --bases              # only the base invocations (each must exit 0)

Prints: commands x options x values tried, passed, failures by class, and each failing argv with the first
lines of its stderr (or traceback). Exit status 1 when a case failed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cli_fuzz_generated import enumerate_cases, run_cases, sample_cases, summarize  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=None, help="run a fixed-seed sample of this many cases")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0, as the test)")
    parser.add_argument("--command", action="append", default=None, help="only this command (repeatable)")
    parser.add_argument("--bases", action="store_true", help="only the base invocations")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it is a hang")
    parser.add_argument("--quiet", action="store_true", help="no line per case while running")
    args = parser.parse_args()
    # `kill PID` ends the run through run_cases' cleanup (the worker stopped, the scratch tree removed)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(143))

    cases = enumerate_cases()
    if args.command:
        cases = [case for case in cases if case.command in args.command]
    if args.bases:
        cases = [case for case in cases if case.option == "base"]
    if args.sample is not None:
        cases = sample_cases(cases, args.sample, args.seed)
    started = time.monotonic()

    def progress(number: int, result) -> None:
        if not args.quiet:
            mark = "FAIL " + ",".join(result.failures) if result.failures else "ok"
            print(f"{number + 1:5d}/{len(cases)} {result.seconds:6.2f}s {result.case.command} {result.case.option} "
                  f"= {result.case.value}: exit {result.code} {mark}", flush=True)  # fmt: skip

    results = run_cases(cases, timeout=args.timeout, progress=progress)
    print(summarize(results))
    print(f"wall time {time.monotonic() - started:.0f} s")
    return 1 if any(result.failures for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
