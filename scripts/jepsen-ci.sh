#!/usr/bin/env bash
# The Jepsen CI step (called by scripts/test.sh, hence by .ci/run), as root:
#  1. jepsen/ci.sh: the CI profile twice (the fixed seed 20261121 and a random one; three members,
#     proxy network, about three minutes of faults each); any `false` verdict fails;
#  2. the negative controls: ferric-unsafe (the unsafe-test-switches feature) with each unsafe
#     switch on, each of which the harness must catch (jepsen/tests/negative_controls.rs).
# Both always run; the step fails if either does. Run dirs (summary.txt, results.json,
# timeline.html, latency.svg) stay under $JEPSEN_RUNS. About 12 minutes after the builds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/env.sh
started=$SECONDS
# The same selection and targets as scripts/test.sh's build, so this is a no-op after it: another
# package selection unifies dependency features differently (dev-dependencies count only when
# tests are built) and rebuilds a good part of the dependency tree.
cargo build --workspace --tests --bins --examples
cargo build -p ferric --features unsafe-test-switches --bin ferric-unsafe
export JEPSEN_RUNS="${JEPSEN_RUNS:-$CARGO_TARGET_DIR/jepsen-runs}"
mkdir -p "$JEPSEN_RUNS"
built=$SECONDS
status=0
if ! bash jepsen/ci.sh; then
  echo "jepsen-ci: the CI profile found a false verdict (or could not run): see $JEPSEN_RUNS/ci-*/summary.txt" >&2
  status=1
fi
echo "=== ferric-jepsen negative controls (each unsafe switch must be caught)"
if ! FERRIC_UNSAFE_BIN="$CARGO_TARGET_DIR/debug/ferric-unsafe" \
    timeout 900 cargo test --workspace --test negative_controls -- --ignored --test-threads=1; then
  echo "jepsen-ci: a negative control was not caught: see $JEPSEN_RUNS/control-*/summary.txt" >&2
  status=1
fi
echo "jepsen-ci: builds $(( built - started )) s, runs $(( SECONDS - built )) s, status $status"
exit $status
