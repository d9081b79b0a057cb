#!/usr/bin/env bash
# Prepare this machine for naas-fabric: Debian packages, the Python venv and the span emulator.
# Idempotent and fast when everything is already there. Needs root (Mininet needs it anyway).
# No Open vSwitch service is needed: naas-lab starts one Open vSwitch per site itself
# (topologies/emulation/switch.py says why), on the kernel datapath where the module is loaded.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd-server: controller replicas (docs/ha.md); the lab starts its own members on free loopback
# ports (on a systemd machine the package also starts a system etcd on 2379/2380, never used).
# tcpdump: `naas-lab capture` and the lab CLI's `capture`.
DEB_PACKAGES="mininet openvswitch-switch iperf3 iputils-ping ethtool iproute2 python3-venv openssl gcc libc6-dev etcd-server tcpdump chromium chromium-driver"
VENV=${VENV:-.venv}

# --venv-only: just the Python environment and the span emulator (no root needed; for `make unit`).
venv_only=${1:-}

if [ "$venv_only" != --venv-only ]; then
if [ "$(id -u)" != 0 ]; then
  echo "setup-host: run as root (Mininet and Open vSwitch need it)" >&2
  exit 1
fi

missing=""
for p in $DEB_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup-host: installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Load the Open vSwitch kernel datapath where the kernel has it (none on some VMs: fine).
[ -d /sys/module/openvswitch ] || modprobe openvswitch 2>/dev/null || true
fi

# The Python environment, pinned; rebuilt only when the pins change.
stamp="$VENV/.naas-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup-host: creating $VENV"
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "setup-host: installing Python packages into $VENV"
  # Everything the demo and the tests need: the controller, the lab and the test tools.
  "$VENV/bin/pip" install -q --disable-pip-version-check -c requirements.lock -e '.[controller,lab,test]'
  touch "$stamp"
fi

# The span emulator (topologies/emulation/spand.c), a native program beside the venv's Python;
# rebuilt when its source changes. The emulation refuses to start without it.
spand="$VENV/bin/naas-spand"
if [ ! -x "$spand" ] || [ topologies/emulation/spand.c -nt "$spand" ]; then
  if ! command -v gcc >/dev/null; then
    echo "setup-host: gcc is needed to build $spand (Debian: apt-get install gcc libc6-dev)" >&2
    exit 1
  fi
  echo "setup-host: building $spand"
  gcc -O2 -Wall -Wextra -o "$spand.new" topologies/emulation/spand.c -lm
  mv "$spand.new" "$spand"
fi
