# Sourced by the other scripts: where builds go, and the build caches they may reuse.
#
# - CARGO_TARGET_DIR defaults to ~/.cache/ferric/target (outside the clone, so a fresh clone and
#   CI reuse it when present).
# - RocksDB's C++ build (12-20 minutes on 2 cores) is cached as a static library under
#   ~/.cache/ferric/rocksdb-<version>/ after the first bundled build, and linked from there by
#   later builds (ROCKSDB_LIB_DIR). Delete that directory to force a bundled rebuild.
FERRIC_CACHE="${FERRIC_CACHE:-$HOME/.cache/ferric}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FERRIC_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
FERRIC_ROCKSDB_VERSION="0.19.0+11.8.1"
FERRIC_ROCKSDB_CACHE="$FERRIC_CACHE/rocksdb-$FERRIC_ROCKSDB_VERSION"
if [ -z "${ROCKSDB_LIB_DIR:-}" ] && [ -f "$FERRIC_ROCKSDB_CACHE/librocksdb.a" ]; then
  export ROCKSDB_LIB_DIR="$FERRIC_ROCKSDB_CACHE" ROCKSDB_STATIC=1
fi

# After a bundled build, keep its static library for next time.
ferric_cache_rocksdb() {
  [ -f "$FERRIC_ROCKSDB_CACHE/librocksdb.a" ] && return 0
  local lib
  lib=$(ls -t "$CARGO_TARGET_DIR"/debug/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -n 1)
  if [ -n "$lib" ]; then
    mkdir -p "$FERRIC_ROCKSDB_CACHE" && cp "$lib" "$FERRIC_ROCKSDB_CACHE/librocksdb.a.tmp" \
      && mv "$FERRIC_ROCKSDB_CACHE/librocksdb.a.tmp" "$FERRIC_ROCKSDB_CACHE/librocksdb.a"
  fi
  # Later builds with another package selection link it instead of compiling RocksDB again.
  if [ -f "$FERRIC_ROCKSDB_CACHE/librocksdb.a" ] && [ -z "${ROCKSDB_LIB_DIR:-}" ]; then
    export ROCKSDB_LIB_DIR="$FERRIC_ROCKSDB_CACHE" ROCKSDB_STATIC=1
  fi
}
