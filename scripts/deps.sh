#!/usr/bin/env bash
# Installs the Debian packages cutover needs, only when one is missing.
# Quiet when everything is present. Usage: scripts/deps.sh [extra-package...]
set -euo pipefail
pkgs=(
  cmake ninja-build g++ pkg-config ccache
  libboost1.81-dev libyaml-cpp-dev prometheus-cpp-dev libcli11-dev
  nlohmann-json3-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  "$@"
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
