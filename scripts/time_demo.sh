#!/usr/bin/env bash
# Time `make demo` the way a new user meets it: a fresh clone, a fresh virtual environment, install
# included. Issue 15's target: <= 5 min of wall clock on an idle 2-core machine.
#
#   scripts/time_demo.sh                 # clones this checkout's HEAD into a temporary directory
#   scripts/time_demo.sh /path/repo REF  # another repository or commit
#
# Prints the wall clock of `make demo` (and of its install step alone), then the report's key lines.
set -euo pipefail
repo=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
ref=${2:-HEAD}
work=$(mktemp -d "${TMPDIR:-/tmp}/rnnlab-demo-XXXXXX")
git clone -q "$repo" "$work/rnnlab"
cd "$work/rnnlab"
git checkout -q "$ref"
echo "fresh clone of $repo@$(git rev-parse --short HEAD) in $work/rnnlab; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
make demo 2>&1 | tee "$work/demo.log"
end=$(date +%s.%N)
installed=$(stat -c %Y .venv/.core)
echo
echo "make demo: $(awk "BEGIN{printf \"%.0f\", $end - $start}") s wall clock, install included (install done after $((installed - ${start%.*})) s)"
grep -E "^\| (training|test perplexity|test bits)|^\| (3-gram|RNN) \|" runs/demo/report.md
echo "log: $work/demo.log   (remove $work when done)"
