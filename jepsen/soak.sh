#!/usr/bin/env bash
# The soak profile, on demand: 5 members in network namespaces (root), every fault, one hour per
# run, for several seeds. Usage: jepsen/soak.sh [seed ...]   (default: three random seeds)
# Environment: SOAK_SECS (default 3600), SOAK_BMC (observe|fence), JEPSEN_RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
RUNS="${JEPSEN_RUNS:-$PWD/jepsen-runs}"
SECS="${SOAK_SECS:-3600}"
seeds=("$@")
if [ ${#seeds[@]} -eq 0 ]; then
  seeds=("$(( (RANDOM << 15) | RANDOM ))" "$(( (RANDOM << 15) | RANDOM ))" "$(( (RANDOM << 15) | RANDOM ))")
fi
# CI's selection (scripts/test.sh): its build is reused instead of rebuilt with other features.
cargo build --workspace --tests --bins --examples
failed=0
for seed in "${seeds[@]}"; do
  echo "=== ferric-jepsen soak: seed $seed, $SECS s"
  if ! timeout $(( SECS + 600 )) "$CARGO_TARGET_DIR/debug/ferric-jepsen" test --profile soak --seed "$seed" \
      --time-limit "$SECS" --bmc "${SOAK_BMC:-observe}" \
      --ferric-bin "$CARGO_TARGET_DIR/debug/ferric" --out "$RUNS/soak-$seed"; then
    failed=$(( failed + 1 ))
  fi
done
echo "$(( ${#seeds[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
