#!/usr/bin/env bash
# Creates a host-only bridge and a TAP for a Windows guest running netkvmrs, with the host
# offloads RSC needs requested (tx-checksumming, TSO). Idempotent for the bridge, so several
# guests (HLK SUT and support machine) can share it: call once per TAP.
#
# The TAP's offloads become effective only when QEMU applies what the guest driver negotiated
# (TUNSETOFFLOAD); verify them with check-tap.sh after the driver has loaded.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

usage() {
    cat <<USAGE
usage: $0 [--bridge NAME] [--tap NAME] [--addr CIDR|none] [--mtu N] [--queues N] [--user USER]

  --bridge NAME  bridge to create or reuse (default hckbr0)
  --tap NAME     TAP to create (default hcktap0); must not exist yet
  --addr CIDR    host address on the bridge, the iperf3 server side (default 192.168.77.1/24;
                 'none' = no address)
  --mtu N        MTU of bridge and TAP (default 1500; 9000 or 65500 for the jumbo / USO runs)
  --queues N     >1 creates a multi-queue TAP for virtio-net mq=on (default 1)
  --user USER    owner of the TAP, for QEMU running unprivileged (default: root only)
USAGE
}

bridge=hckbr0 tap=hcktap0 addr=192.168.77.1/24 mtu=1500 queues=1 user=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --bridge) bridge=${2:?}; shift 2 ;;
        --tap) tap=${2:?}; shift 2 ;;
        --addr) addr=${2:?}; shift 2 ;;
        --mtu) mtu=${2:?}; shift 2 ;;
        --queues) queues=${2:?}; shift 2 ;;
        --user) user=${2:?}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; hck_die 2 "unknown argument '$1'" ;;
    esac
done
hck_check_ifname "$bridge"
hck_check_ifname "$tap"
if ! [[ $mtu =~ ^[0-9]+$ ]] || ((mtu < 576 || mtu > 65535)); then hck_die 2 "--mtu must be 576..65535"; fi
if ! [[ $queues =~ ^[0-9]+$ ]] || ((queues < 1 || queues > 256)); then hck_die 2 "--queues must be 1..256"; fi
hck_need_root
hck_need_tools ip ethtool
[[ -c /dev/net/tun ]] || hck_die 3 "/dev/net/tun missing (modprobe tun)"

if ! ip link show dev "$bridge" >/dev/null 2>&1; then
    ip link add name "$bridge" type bridge
    hck_info "created bridge $bridge"
fi
ip link set dev "$bridge" mtu "$mtu" up
if [[ $addr != none ]] && ! ip -o addr show dev "$bridge" | grep -qF " ${addr} "; then
    ip addr add "$addr" dev "$bridge"
fi

ip link show dev "$tap" >/dev/null 2>&1 && hck_die 1 "$tap already exists (remove it with net-down.sh --tap $tap)"
args=(tuntap add dev "$tap" mode tap vnet_hdr)
((queues > 1)) && args+=(multi_queue)
[[ -n $user ]] && args+=(user "$user")
ip "${args[@]}"
ip link set dev "$tap" master "$bridge" mtu "$mtu" up
# Requests only: the kernel masks them until QEMU's TUNSETOFFLOAD (at feature negotiation).
ethtool -K "$tap" tx on tso on >/dev/null 2>&1 || true

hck_info "TAP $tap (vnet_hdr, queues $queues, mtu $mtu) on bridge $bridge${addr:+, host address $addr}"
hck_info "next: start-guest.sh --tap $tap DISK.qcow2, then check-tap.sh $tap once the driver is loaded"
