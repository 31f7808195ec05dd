#!/usr/bin/env bash
# Sets up airlock on a Debian/Ubuntu host, then runs the main job or the test suite.
#
#   sudo ./scripts/setup.sh run    # install everything, then one sandboxed execution
#   sudo ./scripts/setup.sh test   # install everything, then the full test suite
#
# Installs (list in scripts/system-packages.txt): bubblewrap, runsc (gVisor), mmdebstrap, nftables, iproute2, iptables, socat, util-linux, gcc, openssl
# (the escape suite compiles its probes), Node.js 24 when the host's Node is older, the npm
# dependencies (exact versions from package-lock.json) and the default image.
set -euo pipefail

mode="${1:-run}"
case "$mode" in run | test | install) ;; *)
  echo "usage: $0 run|test|install" >&2
  exit 2
  ;;
esac

cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  # The controller creates cgroups and drops each sandbox to its own unprivileged uid: that needs root.
  exec sudo --preserve-env=AIRLOCK_CONFIG,CI "$0" "$@"
fi

NODE_VERSION=24.11.1
NODE_PREFIX=/opt/airlock/node
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/sbin:/usr/local/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

step "system packages"
package_lists=(scripts/system-packages.txt)
# The test suite's own packages (the guest VM's QEMU) are installed for the test run only.
if [ "$mode" = test ]; then package_lists+=(scripts/test-packages.txt); fi
mapfile -t packages < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${package_lists[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The observability and image tests start their own Prometheus and registry on loopback; the
  # services the packages start on install (only when installed here, never an operator's own) are
  # stopped and disabled (the registry's would listen on :5000 on every interface).
  for service_name in prometheus docker-registry; do
    printf '%s\n' "${missing[@]}" | grep -qx "$service_name" || continue
    if [ -d /run/systemd/system ]; then
      systemctl disable --now "$service_name" >/dev/null 2>&1 || true
    else
      service "$service_name" stop >/dev/null 2>&1 || true
      update-rc.d "$service_name" disable >/dev/null 2>&1 || true
    fi
  done
else
  echo "all present: ${packages[*]}" >&2
fi

step "Node.js ${NODE_VERSION%%.*}"
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 24 ]; then
  # Node's own binary, as published in the npm registry's node-linux-<arch> package.
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *)
    echo "unsupported architecture $(uname -m)" >&2
    exit 1
    ;;
  esac
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-save --no-audit --no-fund --loglevel=error "node-linux-${arch}@${NODE_VERSION}"
  ln -sf "$NODE_PREFIX/node_modules/node-linux-${arch}/bin/node" /usr/local/bin/node
  hash -r
fi
echo "node $(node --version)" >&2

step "npm dependencies"
npm ci --no-audit --no-fund --loglevel=error

step "airlock on the PATH"
# A link to this checkout's entry point: \`airlock …\` starts as fast as Node allows (npx in front
# adds about half a second).
ln -sf "$PWD/bin/airlock.js" /usr/local/bin/airlock

if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
  # Sandboxes run under airlock's AppArmor profile wherever AppArmor is active; on Ubuntu 23.10+
  # bubblewrap also needs a profile granting it user namespaces (src/isolation/apparmor/install.ts).
  step "AppArmor profiles"
  if ! command -v apparmor_parser >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends apparmor
  fi
  node src/isolation/apparmor/install.ts
fi

step "default image"
if ! node bin/airlock.js image verify default >/dev/null 2>&1; then
  node bin/airlock.js image build default
fi
node bin/airlock.js image ls

case "$mode" in
run)
  step "airlock run --json -- python3 -c 'print(1+1)'"
  node bin/airlock.js run --json -- python3 -c 'print(1+1)'
  ;;
test)
  step "tests"
  # The real image build is part of the suite here: this command already needs the Debian mirror.
  # So is the guest VM suite (test/hosts/: cgroup v2 and AppArmor under a stock Debian kernel in
  # QEMU); AIRLOCK_TEST_GUEST=0 leaves it out.
  AIRLOCK_TEST_IMAGE_BUILD=1 AIRLOCK_TEST_GUEST="${AIRLOCK_TEST_GUEST:-1}" npm test
  ;;
install) ;;
esac
