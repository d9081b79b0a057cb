#!/usr/bin/env bash
# Prepare this machine for naas-fabric: Debian packages, Open vSwitch running, Python venv.
# Idempotent and fast when everything is already there. Needs root (Mininet needs it anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES="mininet openvswitch-switch iperf3 iputils-ping ethtool iproute2 python3-venv"
VENV=${VENV:-.venv}

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

# Open vSwitch: the kernel datapath where the module exists, the userspace one otherwise
# (ovs-ctl skips the module when it cannot load it; bridges then use datapath_type=netdev).
if ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
  echo "setup-host: starting Open vSwitch"
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null
  ovs-vsctl --timeout=10 show >/dev/null
fi

# The Python environment, pinned; rebuilt only when the pins change.
stamp="$VENV/.naas-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup-host: creating $VENV"
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "setup-host: installing Python packages into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
  touch "$stamp"
fi
