"""`python -m rnnlab ...`: the `rnnlab` command, for `torchrun -m rnnlab train CONFIG.yaml` and `--nproc N`."""

import sys

from rnnlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
