#!/usr/bin/env bash
# Checks the host for running netkvmrs guests: KVM, vhost-net, TUN, tools, and the kernel and
# QEMU versions USO needs (TUN USO: Linux 6.2; virtio-net host_uso/guest_uso4/guest_uso6:
# QEMU 8.2, machine type 8.2 or later). Prints ok/warn/FAIL per item; exits 1 on any FAIL.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

case ${1:-} in
    "") ;;
    -h | --help) echo "usage: $0"; exit 0 ;;
    *) hck_die 2 "no arguments expected" ;;
esac

fails=0
ok() { printf 'ok    %s\n' "$*"; }
warn() { printf 'warn  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }

# version_ge A B: A >= B for dotted numbers.
version_ge() {
    [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]
}

for t in ip ethtool; do
    if command -v "$t" >/dev/null 2>&1; then ok "$t present"; else fail "$t missing (apt-get install iproute2 ethtool)"; fi
done
if [[ -c /dev/net/tun ]]; then ok "/dev/net/tun"; else fail "/dev/net/tun missing (modprobe tun)"; fi
if [[ -r /dev/kvm && -w /dev/kvm ]]; then ok "/dev/kvm usable"; else warn "/dev/kvm not usable: QEMU falls back to TCG, far too slow for HLK"; fi
if [[ -c /dev/vhost-net ]]; then ok "/dev/vhost-net (vhost on possible)"; else warn "/dev/vhost-net missing (modprobe vhost_net) - use start-guest.sh --vhost off"; fi

kernel=$(uname -r)
kver=${kernel%%[-+]*}
if version_ge "$kver" 6.2; then
    ok "kernel $kernel: TUN supports USO (TUN_F_USO4/6, Linux 6.2)"
else
    warn "kernel $kernel: TUN has no USO before Linux 6.2 - QEMU will not offer HOST_USO/GUEST_USO, Get-NetAdapterUso stays usable but segmentation happens in the guest"
fi

if command -v qemu-system-x86_64 >/dev/null 2>&1; then
    qver=$(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }')
    if version_ge "$qver" 8.2; then
        ok "QEMU $qver: virtio-net USO properties (QEMU 8.2; machine type >= 8.2)"
    else
        warn "QEMU $qver: no virtio-net USO before QEMU 8.2"
    fi
    props=$(qemu-system-x86_64 -device virtio-net-pci,help 2>/dev/null || true)
    for p in guest_rsc_ext rsc_interval host_uso guest_uso4 guest_uso6 guest_tso4 guest_tso6 guest_csum rx_queue_size; do
        if grep -q "^ *$p=" <<<"$props"; then ok "virtio-net-pci property $p"; else warn "virtio-net-pci property $p not offered by this QEMU"; fi
    done
else
    fail "qemu-system-x86_64 missing (Debian 12: apt-get install -t bookworm-backports qemu-system-x86)"
fi

if ((fails > 0)); then
    echo "$fails check(s) failed"
    exit 1
fi
