#!/usr/bin/env bash
# The CI profile of the Jepsen harness: two runs (a fixed seed and a random one), each ≤ 5 min,
# against the freshly built `ferric`. Meant to be called from .ci/run after the workspace build.
# Any `false` verdict fails (exit 1); run dirs stay under $JEPSEN_RUNS for the artefacts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
RUNS="${JEPSEN_RUNS:-$PWD/jepsen-runs}"
NET="${FERRIC_JEPSEN_NET:-proxy}"
FIXED_SEED="${FERRIC_JEPSEN_SEED:-20261121}"
# One selection for both binaries, the same as scripts/test.sh's build (a no-op after it).
cargo build --workspace --tests --bins --examples
status=0
for seed in "$FIXED_SEED" "$(( (RANDOM << 15) | RANDOM ))"; do
  echo "=== ferric-jepsen: profile ci, net $NET, seed $seed"
  rm -rf "$RUNS/ci-$seed"
  if ! timeout 330 "$CARGO_TARGET_DIR/debug/ferric-jepsen" test --profile ci --net "$NET" --seed "$seed" \
      --ferric-bin "$CARGO_TARGET_DIR/debug/ferric" --out "$RUNS/ci-$seed"; then
    status=1
  fi
done
exit $status
