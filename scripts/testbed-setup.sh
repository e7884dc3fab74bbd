#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian 12 machine (idempotent):
# system packages (RocksDB bindings, protoc, ipmi_sim, ipmitool, wrk, and nft and ip for the
# Jepsen harness's network namespaces) and a Python venv with the real Ironic clients and the
# Redfish emulator. Needs root for apt-get (or sudo).
set -euo pipefail
FERRIC_VENV="${FERRIC_VENV:-$HOME/.cache/ferric/venv}"
PKGS="libclang-dev protobuf-compiler openipmi ipmitool wrk build-essential pkg-config curl openssl nftables iproute2"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi
if [ "${FERRIC_SKIP_VENV:-0}" = 1 ]; then
  echo "system packages ready"; exit 0
fi
if [ ! -x "$FERRIC_VENV/bin/python" ]; then
  python3 -m venv "$FERRIC_VENV"
fi
PYPKGS="sushy-tools python-ironicclient openstacksdk"
for p in $PYPKGS; do
  "$FERRIC_VENV/bin/pip" show "$p" >/dev/null 2>&1 || need_pip=1
done
if [ "${need_pip:-0}" = 1 ]; then
  "$FERRIC_VENV/bin/pip" install -q --disable-pip-version-check $PYPKGS
fi
echo "testbed ready: venv $FERRIC_VENV"
