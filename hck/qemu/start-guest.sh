#!/usr/bin/env bash
# Starts a Windows guest with the virtio-net device netkvmrs drives, on a TAP from net-up.sh.
#
# Normal runs (install, Verify, Measure, HLK): vhost on by default, host and guest offloads on
# (QEMU's defaults), a 1024-entry RX ring. The HLK "Run RSC Tests" job only: --rsc-test adds
# guest_rsc_ext=on,rsc_interval=1000000 (QEMU coalesces in its userspace receive path and holds
# segments up to 1 ms) and therefore needs vhost off; that setting adds latency and breaks other
# tests, so never use it for anything else.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

usage() {
    cat <<USAGE
usage: $0 [options] DISK.qcow2

  --tap NAME          TAP from net-up.sh (default hcktap0)
  --vhost on|off      vhost-net data path (default on; --rsc-test requires off)
  --rsc-test          HLK RSC test run: guest_rsc_ext=on,rsc_interval=1000000, vhost off
  --queues N          multi-queue virtio-net (TAP created with net-up.sh --queues N; default 1)
  --mac MAC           device MAC (default 52:54:00:12:34:56)
  --mem MIB           guest memory (default 4096)
  --cpus N            vCPUs (default 4)
  --cdrom ISO         attach an ISO (Windows installer, driver disk); repeatable
  --ovmf CODE,VARS    boot UEFI with these OVMF images (Secure Boot must be off for test signing);
                      default: SeaBIOS (no Secure Boot)
  --vnc ADDR:N        VNC display (default 127.0.0.1:0); 'none' for no display
  --qmp PATH          QMP socket (default /run/hck-qemu-TAP.qmp)
  --check-tap SECS    start QEMU in the background, then run check-tap.sh --wait SECS
  --dry-run           print the QEMU command, one argument per line, and exit
  -- ARGS...          extra QEMU arguments
USAGE
}

tap=hcktap0 vhost='' rsc_test=0 queues=1 mac=52:54:00:12:34:56 mem=4096 cpus=4 ovmf='' vnc=127.0.0.1:0
qmp='' check_tap='' dry_run=0 disk=''
cdroms=() extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --tap) tap=${2:?}; shift 2 ;;
        --vhost) vhost=${2:?}; shift 2 ;;
        --rsc-test) rsc_test=1; shift ;;
        --queues) queues=${2:?}; shift 2 ;;
        --mac) mac=${2:?}; shift 2 ;;
        --mem) mem=${2:?}; shift 2 ;;
        --cpus) cpus=${2:?}; shift 2 ;;
        --cdrom) cdroms+=("${2:?}"); shift 2 ;;
        --ovmf) ovmf=${2:?}; shift 2 ;;
        --vnc) vnc=${2:?}; shift 2 ;;
        --qmp) qmp=${2:?}; shift 2 ;;
        --check-tap) check_tap=${2:?}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        -*) usage >&2; hck_die 2 "unknown option '$1'" ;;
        *) [[ -z $disk ]] || hck_die 2 "one disk image only (got '$disk' and '$1')"; disk=$1; shift ;;
    esac
done

[[ -n $disk ]] || { usage >&2; hck_die 2 "the disk image (qcow2) is required"; }
hck_check_ifname "$tap"
if ((rsc_test)); then
    # QEMU's RSC coalescer lives in virtio_net_receive (userspace); vhost-net bypasses it.
    [[ -z $vhost || $vhost == off ]] || hck_die 2 "--rsc-test needs --vhost off: guest_rsc_ext coalescing runs in QEMU's userspace receive path, which vhost-net bypasses"
    vhost=off
fi
vhost=${vhost:-on}
[[ $vhost == on || $vhost == off ]] || hck_die 2 "--vhost takes on or off"
if ! [[ $queues =~ ^[0-9]+$ ]] || ((queues < 1 || queues > 64)); then hck_die 2 "--queues must be 1..64"; fi
[[ $mac =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] || hck_die 2 "bad --mac '$mac'"
if ! [[ $mem =~ ^[0-9]+$ ]] || ((mem < 1024)); then hck_die 2 "--mem must be >= 1024 (MiB)"; fi
if ! [[ $cpus =~ ^[0-9]+$ ]] || ((cpus < 1)); then hck_die 2 "--cpus must be >= 1"; fi
[[ -z $check_tap || $check_tap =~ ^[0-9]+$ ]] || hck_die 2 "--check-tap takes seconds"
qmp=${qmp:-/run/hck-qemu-$tap.qmp}

accel=tcg cpu=max
if [[ -r /dev/kvm && -w /dev/kvm ]]; then
    accel=kvm
    # Hyper-V enlightenments: Windows runs much better with them under KVM.
    cpu=host,hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time,hv_vpindex,hv_synic,hv_stimer
fi

netdev="tap,id=hcknet0,ifname=$tap,script=no,downscript=no,vhost=$vhost"
device="virtio-net-pci,netdev=hcknet0,id=hcknic0,mac=$mac,rx_queue_size=1024"
if ((queues > 1)); then
    netdev+=",queues=$queues"
    # One vector per RX and TX queue, plus config and control.
    device+=",mq=on,vectors=$((2 * queues + 2))"
fi
if ((rsc_test)); then
    device+=",guest_rsc_ext=on,rsc_interval=1000000"
fi

cmd=(qemu-system-x86_64
    -name "hck-$tap"
    -machine "q35,accel=$accel"
    -cpu "$cpu"
    -smp "$cpus"
    -m "$mem"
    -rtc "base=localtime"
    -drive "file=$disk,if=none,id=disk0,format=qcow2"
    -device "ide-hd,drive=disk0,bus=ide.0,bootindex=1"
    -device qemu-xhci -device usb-tablet
    -netdev "$netdev"
    -device "$device"
    -qmp "unix:$qmp,server=on,wait=off")
if [[ -n $ovmf ]]; then
    code=${ovmf%%,*} vars=${ovmf#*,}
    [[ $code != "$ovmf" ]] || hck_die 2 "--ovmf takes CODE,VARS"
    cmd+=(-drive "if=pflash,format=raw,readonly=on,file=$code" -drive "if=pflash,format=raw,file=$vars")
fi
for iso in "${cdroms[@]}"; do
    cmd+=(-drive "file=$iso,media=cdrom,readonly=on")
done
if [[ $vnc == none ]]; then
    cmd+=(-display none)
else
    cmd+=(-vnc "$vnc")
fi
cmd+=("${extra[@]}")

if ((dry_run)); then
    printf '%s\n' "${cmd[@]}"
    exit 0
fi

hck_need_tools qemu-system-x86_64 ip
[[ -f $disk ]] || hck_die 3 "disk image '$disk' not found"
ip link show dev "$tap" >/dev/null 2>&1 || hck_die 3 "TAP $tap does not exist; create it with net-up.sh --tap $tap"
[[ $vhost == off || -c /dev/vhost-net ]] || hck_die 3 "/dev/vhost-net missing (modprobe vhost_net) or use --vhost off"
[[ $accel == kvm ]] || echo "warning: /dev/kvm not usable, falling back to TCG (very slow for Windows)" >&2
if ((rsc_test)); then
    echo "RSC test run: guest_rsc_ext=on,rsc_interval=1000000, vhost off. Use only for the HLK 'Run RSC Tests' job." >&2
fi

if [[ -z $check_tap ]]; then
    exec "${cmd[@]}"
fi
"${cmd[@]}" &
qemu_pid=$!
if ! "$here/check-tap.sh" "$tap" --wait "$check_tap"; then
    echo "warning: host offloads for $tap are not on; see the hints above (QEMU keeps running)" >&2
fi
wait "$qemu_pid"
