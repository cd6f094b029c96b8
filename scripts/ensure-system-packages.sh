#!/usr/bin/env bash
# Install the Debian packages the stack needs when they are missing: ensure-system-packages.sh
# COMMAND=PACKAGE... (e.g. nginx=nginx-light). Idempotent; uses sudo when not root.
set -euo pipefail

missing=()
for pair in "$@"; do
    command_name=${pair%%=*}
    package=${pair#*=}
    if ! command -v "$command_name" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command_name" ]; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
