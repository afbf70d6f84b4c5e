//! Arbitrary bytes through every header view and `parse_frame`: no panic, and whatever parses
//! stays inside the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkvm_core::wire::virtio::{HdrFormat, VirtioNetHdr};
use netkvm_core::wire::{
    self, parse_frame, EthernetFrame, Ipv4Packet, Ipv6Packet, LenMode, TcpSegment, UdpDatagram,
};

fuzz_target!(|data: &[u8]| {
    for mode in [LenMode::Strict, LenMode::Lax] {
        if let Ok(l) = parse_frame(data, mode) {
            assert!(l.l3_offset <= l.l4_offset || l.l3 == wire::L3Kind::Other);
            assert!(l.l4_offset <= l.payload_offset);
            assert!(l.payload_offset + l.payload_len <= data.len());
            assert!(l.l3_end() + l.padding <= data.len() || l.l3 == wire::L3Kind::Other);
            for o in [l.ipv6_home_address_offset, l.ipv6_routing_type2_offset]
                .into_iter()
                .flatten()
            {
                assert!(o + 16 <= data.len());
            }
            if mode == LenMode::Strict && l.is_tcp() {
                let t = TcpSegment::new_checked(&data[l.l4_offset..l.l3_end()])
                    .expect("TCP view of a parsed frame");
                let _ = (t.flags(), t.timestamp(), t.option_iter().count());
            }
        }
        // The same bytes as a bare IP packet.
        if let Ok(p) = Ipv4Packet::new_checked(data, mode) {
            let _ = (
                p.header(),
                p.options(),
                p.payload(),
                p.verify_checksum(),
                p.compute_checksum(),
            );
            assert!(p.header_len() + p.payload().len() <= data.len());
        }
        if let Ok(p) = Ipv6Packet::new_checked(data, mode) {
            if let Ok(w) = p.walk() {
                assert!(w.l4_offset <= p.datagram_len());
            }
        }
    }
    if let Ok(e) = EthernetFrame::new_checked(data) {
        let _ = (
            e.dst(),
            e.src(),
            e.ethertype(),
            e.vlan(),
            e.outer_vlan(),
            e.payload(),
        );
    }
    if let Ok(t) = TcpSegment::new_checked(data) {
        let _ = (
            t.seq(),
            t.ack(),
            t.flags(),
            t.window(),
            t.urgent(),
            t.timestamp(),
            t.verify_checksum(0x1234),
        );
        for o in t.option_iter() {
            let _ = o;
        }
    }
    if let Ok(u) = UdpDatagram::new_checked(data) {
        let _ = (u.len(), u.checksum(), u.payload(), u.verify_checksum(0));
    }
    for f in [HdrFormat::Legacy, HdrFormat::V1, HdrFormat::V1Hash] {
        if let Ok(h) = VirtioNetHdr::parse(data, f) {
            let mut out = [0u8; 20];
            assert_eq!(h.write(&mut out, f), Ok(f.len()));
            assert_eq!(VirtioNetHdr::parse(&out, f), Ok(h));
            let _ = (h.rsc_info(), h.partial_csum());
        }
    }
    let _ = wire::walk_extension_headers(data, data.first().copied().unwrap_or(0));
    let mut copy = data.to_vec();
    let _ = wire::strip_vlan_tag(&mut copy);
    let mut out = vec![0u8; data.len() + 4];
    let _ = wire::insert_vlan_tag(data, wire::VlanTag::from_tci(0x2005), &mut out);
});
