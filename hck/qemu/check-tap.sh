#!/usr/bin/env bash
# Verifies the host side of RSC for one guest: the TAP delivers checksum-offloaded, TSO-sized
# frames to the guest (ethtool -k: tx-checksumming on, tcp-segmentation-offload on). These turn
# on only after the guest driver negotiated GUEST_CSUM / GUEST_TSO4 / GUEST_TSO6 and QEMU
# applied them to the TAP, so run this once Windows is up with netkvmrs loaded.
#
# With --nic it also prints the interrupt coalescing (ethtool -c rx-usecs) and GRO of the
# physical NIC that feeds the bridge, for traffic from outside the host.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

usage() {
    echo "usage: $0 TAP [--wait SECONDS] [--nic NIC]"
}

tap='' wait=0 nic=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --wait) wait=${2:?}; shift 2 ;;
        --nic) nic=${2:?}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; hck_die 2 "unknown option '$1'" ;;
        *) [[ -z $tap ]] || hck_die 2 "one TAP at a time"; tap=$1; shift ;;
    esac
done
[[ -n $tap ]] || { usage >&2; exit 2; }
hck_check_ifname "$tap"
[[ $wait =~ ^[0-9]+$ ]] || hck_die 2 "--wait takes whole seconds"
hck_need_tools ethtool ip
ip link show dev "$tap" >/dev/null 2>&1 || hck_die 3 "no interface $tap"

deadline=$((SECONDS + wait))
while :; do
    csum=$(hck_feature "$tap" tx-checksumming)
    tso=$(hck_feature "$tap" tcp-segmentation-offload)
    [[ $csum == on && $tso == on ]] && break
    ((SECONDS < deadline)) || break
    sleep 1
done

ethtool -k "$tap" | grep -E '^(tx-checksumming|tcp-segmentation-offload|[[:space:]]+tx-tcp6?-segmentation|[[:space:]]+tx-checksum-ip-generic|tx-udp-segmentation|generic-receive-offload):' || true
status=0
if [[ $csum != on ]]; then
    echo "FAIL $tap: tx-checksumming is ${csum:-unknown}" >&2
    status=1
fi
if [[ $tso != on ]]; then
    echo "FAIL $tap: tcp-segmentation-offload is ${tso:-unknown}" >&2
    status=1
fi
if ((status != 0)); then
    cat >&2 <<HINT
The TAP does not pass offloaded frames to the guest, so the host cannot deliver coalesced
(GSO) frames and Get-NetAdapterRsc shows FailureReason Capability unless the driver coalesces
in software (netkvmrs SoftwareRsc=1, the default). Causes, in order of likelihood:
  - the guest driver is not loaded yet or did not negotiate GUEST_CSUM/GUEST_TSO4/6
    (check Device Manager; rerun with --wait 120);
  - QEMU runs with guest_csum=off, guest_tso4=off or guest_tso6=off on the virtio-net device
    (libvirt: <driver><guest csum='on' tso4='on' tso6='on'/></driver>);
  - the TAP was created without vnet_hdr (use net-up.sh);
  - someone ran 'ethtool -K $tap tx off' (some HCK setups do, as a workaround for
    partial-checksum drops): QEMU re-applies the offloads only at the next negotiation.
HINT
fi
udp=$(hck_feature "$tap" tx-udp-segmentation)
echo "info $tap: tx-udp-segmentation ${udp:-unknown} (on only when the guest negotiated GUEST_USO4 and GUEST_USO6; needs host kernel >= 6.2 and QEMU >= 8.2)"

if [[ -n $nic ]]; then
    hck_check_ifname "$nic"
    usecs=$(ethtool -c "$nic" 2>/dev/null | awk '$1 == "rx-usecs:" { print $2; exit }')
    gro=$(hck_feature "$nic" generic-receive-offload)
    echo "info $nic: rx-usecs ${usecs:-n/a} (interrupt coalescing; 0 means every frame interrupts), generic-receive-offload ${gro:-unknown}"
fi
exit "$status"
