#!/usr/bin/env bash
# Removes a TAP created by net-up.sh and, with --bridge, the bridge once no port is left.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

usage() {
    echo "usage: $0 [--tap NAME] [--bridge NAME]   (defaults: --tap hcktap0; bridge kept unless given)"
}

tap=hcktap0 bridge=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --tap) tap=${2:?}; shift 2 ;;
        --bridge) bridge=${2:?}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; hck_die 2 "unknown argument '$1'" ;;
    esac
done
hck_check_ifname "$tap"
hck_need_root
hck_need_tools ip

if ip link show dev "$tap" >/dev/null 2>&1; then
    ip link del dev "$tap"
    hck_info "removed $tap"
fi
if [[ -n $bridge ]]; then
    hck_check_ifname "$bridge"
    if ip link show dev "$bridge" >/dev/null 2>&1; then
        ports=$(ip -o link show master "$bridge" | wc -l)
        if ((ports == 0)); then
            ip link del dev "$bridge"
            hck_info "removed $bridge"
        else
            hck_info "kept $bridge: $ports port(s) still attached"
        fi
    fi
fi
