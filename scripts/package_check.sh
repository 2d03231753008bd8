#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package from build/release, installs it into this machine
# with dpkg -i, and checks what an operator and a developer get from it: the
# installed idforge (gen, decode, a short serve over HTTP and gRPC), the unit
# (systemd-analyze verify), the settings file, the man pages and the bash
# completion, a consumer built against the installed headers through CMake and
# through pkg-config; then removes and purges it and checks nothing is left.
# It changes the machine (root): run it where that is wanted, as CI does.
#
# Usage: bash scripts/package_check.sh   (after cmake --build --preset release)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "package_check: run as root (dpkg -i)" >&2; exit 2; }
if dpkg-query -W -f='${Status}' idforge 2>/dev/null | grep -q "install ok installed"; then
  echo "package_check: idforge is installed on this machine already; remove it first (dpkg -r idforge)" >&2
  exit 2
fi
work=$(mktemp -d)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
check() { echo "  ok: $*"; }

(cd build/release && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; exit 1; }
deb=$(ls build/release/idforge_*_"$(dpkg --print-architecture)".deb)
echo "package: $deb ($(du -k "$deb" | cut -f1) KiB)"
dpkg -i "$deb" >/dev/null
check "dpkg -i"

[ "$(command -v idforge)" = /usr/bin/idforge ] || { echo "idforge is not /usr/bin/idforge" >&2; exit 1; }
ids=$(idforge gen --data-dir "$work/data" -n 3)
[ "$(echo "$ids" | wc -l)" -eq 3 ]
echo "$ids" | idforge decode --json | grep -q '"format":"snowflake"'
check "idforge gen and decode"

idforge serve --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 200); do grep -q '"grpc_port"' "$work/serve.log" && break; sleep 0.05; done
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
grpc_port=$(sed -n 's/.*"grpc_port":\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
curl -fs "http://127.0.0.1:$port/v1/next" | grep -q '"id"'
curl -fs "http://127.0.0.1:$port/v1/info" | grep -q "\"grpc\":{\"port\":$grpc_port"
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_pid=""
grep -q '"msg":"stopped"' "$work/serve.log"
check "idforge serve answered, and drained on SIGTERM with exit 0"

unit=/usr/lib/systemd/system/idforge.service
grep -q '^ExecStart=/usr/bin/idforge serve' "$unit"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no "$unit"
  check "systemd-analyze verify $unit"
else
  echo "  skipped: systemd-analyze is not installed"
fi
grep -q '^#IDFORGE_LISTEN=' /etc/default/idforge
check "/etc/default/idforge written on first install"
for page in idforge idforge-gen idforge-serve idforge-verify; do
  zcat "/usr/share/man/man1/$page.1.gz" | grep -q '^\.TH'
done
check "man pages"
bash -c 'source /usr/share/bash-completion/completions/idforge
  COMP_WORDS=(idforge se); COMP_CWORD=1; _idforge; [ "${COMPREPLY[*]}" = serve ] || exit 1
  COMP_WORDS=(idforge serve --grpc); COMP_CWORD=2; _idforge; [ "${COMPREPLY[*]}" = --grpc-listen ]'
check "bash completion"

cmake -S tests/consumer -B "$work/consumer-cmake" -G Ninja >/dev/null
cmake --build "$work/consumer-cmake" >/dev/null
"$work/consumer-cmake/consumer" >/dev/null
check "a consumer through find_package(idforge) against /usr"
# shellcheck disable=SC2046
g++ -std=c++20 tests/consumer/main.cc $(pkg-config --cflags --libs idforge) -o "$work/consumer-pc"
"$work/consumer-pc" >/dev/null
check "a consumer through pkg-config --cflags --libs idforge"

dpkg -r idforge >/dev/null
for f in /usr/bin/idforge /usr/lib/libidforge.a /usr/include/idforge/generator.h "$unit" /usr/lib/pkgconfig/idforge.pc; do
  [ ! -e "$f" ] || { echo "$f is left after dpkg -r" >&2; exit 1; }
done
[ -e /etc/default/idforge ] || { echo "dpkg -r removed the settings file; only purge should" >&2; exit 1; }
dpkg --purge idforge >/dev/null
[ ! -e /etc/default/idforge ] || { echo "/etc/default/idforge is left after purge" >&2; exit 1; }
check "dpkg -r, then --purge, left nothing"
