//! Guest announcements (`VIRTIO_NET_F_GUEST_ANNOUNCE`, virtio 1.x §5.1.6.5.4; reference §3.10): after a
//! live migration the device sets `VIRTIO_NET_S_ANNOUNCE`; the driver sends gratuitous packets for its
//! addresses so switches learn the new port, then acknowledges with `CTRL_ANNOUNCE_ACK`.
//!
//! Frames: an ARP announcement per IPv4 address (RFC 5227 §2.3: request, sender = target = own address,
//! target MAC zero, broadcast) and an unsolicited Neighbor Advertisement per IPv6 address (RFC 4861
//! §7.2.6: to all-nodes, Override set, target link-layer address option) — NetKVM sends an NS, which does
//! not update neighbour caches that already hold an entry. The addresses come from
//! OID_GEN_NETWORK_LAYER_ADDRESSES. The frames go through the datapath's `send_internal`; while the
//! datapath cannot send them (not built yet, or not attached) the request is still acknowledged (the
//! device would otherwise keep the bit set) and the miss is logged.

use core::sync::atomic::Ordering;

use netkvm_core::checksum;

use crate::adapter::device::Device;
use crate::adapter::Adapter;
use crate::log;
use crate::oid::state::OidState;

/// Length of the frames built here (ARP padded to the Ethernet minimum; the NA is 86 bytes).
pub const ARP_FRAME_LEN: usize = 60;
/// Ethernet + IPv6 + ICMPv6 NA with a target link-layer address option.
pub const NA_FRAME_LEN: usize = 14 + 40 + 32;

/// Builds an ARP announcement for `ip` from `mac`.
pub fn arp_announcement(mac: [u8; 6], ip: [u8; 4]) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    f[0..6].copy_from_slice(&[0xFF; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    // htype Ethernet, ptype IPv4, hlen 6, plen 4, oper request.
    f[14..16].copy_from_slice(&1u16.to_be_bytes());
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip);
    // Target hardware address stays zero.
    f[38..42].copy_from_slice(&ip);
    f
}

/// Builds an unsolicited Neighbor Advertisement for `ip` from `mac`.
pub fn unsolicited_na(mac: [u8; 6], ip: [u8; 16]) -> [u8; NA_FRAME_LEN] {
    const ALL_NODES: [u8; 16] = [0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut f = [0u8; NA_FRAME_LEN];
    // 33:33:00:00:00:01 — the multicast MAC of ff02::1.
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86DDu16.to_be_bytes());
    let icmp_len: u16 = 32;
    // IPv6: version 6, payload length, next header ICMPv6 (58), hop limit 255 (RFC 4861 §7.1.2).
    f[14] = 0x60;
    f[18..20].copy_from_slice(&icmp_len.to_be_bytes());
    f[20] = 58;
    f[21] = 255;
    f[22..38].copy_from_slice(&ip);
    f[38..54].copy_from_slice(&ALL_NODES);
    // ICMPv6 NA: type 136, code 0, checksum, flags (Override), target, option 2 (target LLA, 8 bytes).
    // A constant, so every index below is checked against the frame length at compile time.
    const ICMP: usize = 54;
    f[ICMP] = 136;
    f[ICMP + 4] = 0x20;
    f[ICMP + 8..ICMP + 24].copy_from_slice(&ip);
    f[ICMP + 24] = 2;
    f[ICMP + 25] = 1;
    f[ICMP + 26..ICMP + 32].copy_from_slice(&mac);
    let mut c = checksum::Checksum::new();
    c.add_sum(checksum::pseudo_header_v6(
        &ip,
        &ALL_NODES,
        58,
        Some(u32::from(icmp_len)),
    ));
    c.add_bytes(f.get(ICMP..).unwrap_or(&[]));
    f[ICMP + 2..ICMP + 4].copy_from_slice(&c.checksum().to_be_bytes());
    f
}

/// Sends the announcements for `state`'s addresses and acknowledges the request (worker, PASSIVE).
pub fn announce(adapter: &Adapter, dev: &mut Device, state: &OidState) {
    let mac = state.current_mac;
    let mut sent = 0usize;
    let mut missed = 0usize;
    if let Some(dp) = adapter.datapath.get() {
        for ip in state.addresses.ipv4() {
            match dp.send_internal(&arp_announcement(mac, *ip)) {
                Ok(()) => sent += 1,
                Err(_) => missed += 1,
            }
        }
        for ip in state.addresses.ipv6() {
            match dp.send_internal(&unsolicited_na(mac, *ip)) {
                Ok(()) => sent += 1,
                Err(_) => missed += 1,
            }
        }
    }
    if missed > 0 {
        log!(
            Warn,
            "guest announce: {} of {} frame(s) could not be sent",
            missed,
            sent + missed
        );
    }
    match dev.announce_ack() {
        Ok(_) => {
            adapter
                .counters
                .announcements
                .fetch_add(1, Ordering::Relaxed);
            log!(Info, "guest announce: {} frame(s) sent, acknowledged", sent);
        }
        Err(netkvm_virtio::CtrlError::DeviceRejected { .. }) => {
            adapter
                .counters
                .ctrl_rejected
                .fetch_add(1, Ordering::Relaxed);
            log!(Warn, "guest announce: device refused the acknowledgement");
        }
        Err(e) => {
            adapter.counters.ctrl_failed.fetch_add(1, Ordering::Relaxed);
            log!(
                Error,
                "guest announce ack failed: {:?}; requesting a reset",
                e
            );
            adapter.request_reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

    #[test]
    fn arp_announcement_follows_rfc5227() {
        let f = arp_announcement(MAC, [192, 168, 7, 9]);
        assert_eq!(&f[0..6], &[0xFF; 6], "broadcast");
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[22..28], &MAC, "sender MAC");
        assert_eq!(&f[28..32], &[192, 168, 7, 9], "sender IP");
        assert_eq!(&f[32..38], &[0; 6], "target MAC zero");
        assert_eq!(&f[38..42], &[192, 168, 7, 9], "target IP = sender IP");
        assert!(f[42..].iter().all(|&b| b == 0), "padding");
    }

    #[test]
    fn unsolicited_na_has_a_valid_icmpv6_checksum_and_override_flag() {
        let ip = [
            0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xFF, 0xFE, 0x12, 0x34, 0x56,
        ];
        let f = unsolicited_na(MAC, ip);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(f[20], 58);
        assert_eq!(f[21], 255, "hop limit must be 255 or receivers drop it");
        assert_eq!(f[54], 136);
        assert_eq!(f[58] & 0x20, 0x20, "Override");
        assert_eq!(f[58] & 0x40, 0, "not Solicited");
        // Verify independently with etherparse's ICMPv6 checksum.
        let dst: [u8; 16] = f[38..54].try_into().unwrap();
        let icmp = &f[54..];
        let mut c = checksum::Checksum::new();
        c.add_sum(checksum::pseudo_header_v6(
            &ip,
            &dst,
            58,
            Some(icmp.len() as u32),
        ));
        c.add_bytes(icmp);
        assert_eq!(c.checksum(), 0, "a correct checksum sums to zero");
        let sliced = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
        match sliced.transport {
            Some(etherparse::TransportSlice::Icmpv6(i)) => {
                let computed = i.icmp_type().calc_checksum(ip, dst, i.payload()).unwrap();
                assert_eq!(computed, i.checksum());
            }
            other => panic!("not ICMPv6: {other:?}"),
        }
    }
}
