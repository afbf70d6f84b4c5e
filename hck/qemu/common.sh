# shellcheck shell=bash
# Shared helpers of the hck/qemu scripts (sourced, not run).
#
# Exit codes of every script: 0 ok, 1 a check failed, 2 usage error, 3 missing prerequisite
# (not root, tool or device missing).

hck_die() { # code message...
    local code=$1
    shift
    printf 'error: %s\n' "$*" >&2
    exit "$code"
}

hck_info() {
    printf '%s\n' "$*"
}

hck_need_root() {
    [[ $(id -u) -eq 0 ]] || hck_die 3 "run as root (bridge/TAP setup needs CAP_NET_ADMIN)"
}

hck_need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || hck_die 3 "'$t' not found; install it (Debian: apt-get install iproute2 ethtool qemu-system-x86)"
    done
}

# Linux interface names are at most 15 bytes.
hck_check_ifname() {
    [[ $1 =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || hck_die 2 "bad interface name '$1' (1-15 of A-Z a-z 0-9 _ . -)"
}

# Prints "on"/"off" for a top-level feature of `ethtool -k DEV` (e.g. tx-checksumming).
hck_feature() { # dev feature
    local dev=$1 feature=$2
    ethtool -k "$dev" 2>/dev/null | awk -v f="$feature:" '$1 == f { print $2; exit }'
}
