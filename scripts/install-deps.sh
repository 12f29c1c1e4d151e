#!/usr/bin/env bash
# Installs the Debian 12 packages Cairn builds, runs and tests with. Idempotent: packages that are
# already present are not touched, so a developer machine pays nothing after the first run.
#   scripts/install-deps.sh build   libraries and toolchain for the binaries
#   scripts/install-deps.sh test    the above plus what the test suite needs (curl, Node.js,
#                                   Chromium for the console's browser test, python3-yaml for
#                                   the deployment files' check, iproute2 for the partition test)
#   scripts/install-deps.sh bench   the build set plus the benchmark's load generator and baselines
#                                   (wrk, etcd-server (one member and a 3-member cluster),
#                                   gnuplot, curl, libcurl for the push tool)
#   scripts/install-deps.sh fuzz    the build set plus clang and its libFuzzer runtime
set -euo pipefail

want=(build-essential cmake pkg-config
      libnng-dev libmsgpack-dev libmicrohttpd-dev liblmdb-dev zlib1g-dev libjansson-dev
      libsystemd-dev libraft-dev libuv1-dev libsodium-dev
      libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler)
if [ "${1:-build}" = test ]; then
  want+=(libcriterion-dev libcurl4-openssl-dev curl iproute2 procps chromium python3-yaml)
  command -v node >/dev/null 2>&1 || want+=(nodejs)
  command -v npm >/dev/null 2>&1 || want+=(npm)
fi
if [ "${1:-build}" = bench ]; then
  want+=(wrk etcd-server gnuplot-nox curl libcurl4-openssl-dev procps util-linux)
fi
if [ "${1:-build}" = fuzz ]; then
  want+=(clang libclang-rt-14-dev) # the runtime (libFuzzer, ASan) is only recommended by clang
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
