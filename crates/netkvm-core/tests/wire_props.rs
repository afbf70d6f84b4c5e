//! Property tests for `parse_frame`: it agrees with etherparse on random valid frames (tags,
//! IPv4 options, IPv6 extension headers, TCP options, UDP, other protocols, padding) and
//! never panics on random or mutated bytes, in either length mode.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use netkvm_core::wire::{
    self, parse_frame, EthernetFrame, Ipv4Packet, Ipv6Packet, L3Kind, L4Kind, LenMode, TcpSegment,
    UdpDatagram,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct F {
    tags: u8, // 0 none, 1 802.1Q, 2 QinQ
    v6: bool,
    ip_opts: usize,
    ext: Vec<u8>, // IPv6: sequence of 60 (dest opts) / 0 (hop-by-hop, first only) header sizes in 8-byte units
    l4: u8,       // 6, 17 or 1/58 (ICMP)
    tcp_opts: usize,
    payload: Vec<u8>,
    padding: usize,
}

fn frame_strategy() -> impl Strategy<Value = F> {
    (
        0u8..3,
        any::<bool>(),
        0usize..=10,
        proptest::collection::vec(0u8..3, 0..4),
        prop_oneof![Just(6u8), Just(17u8), Just(1u8)],
        0usize..=10,
        proptest::collection::vec(any::<u8>(), 0..600),
        0usize..30,
    )
        .prop_map(
            |(tags, v6, ip_opts, ext, l4, tcp_opts, payload, padding)| F {
                tags,
                v6,
                ip_opts: ip_opts * 4,
                ext: if v6 { ext } else { vec![] },
                l4: if v6 && l4 == 1 { 58 } else { l4 },
                tcp_opts: tcp_opts * 4,
                payload,
                padding,
            },
        )
}

impl F {
    fn build(&self) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        if self.tags == 2 {
            f.extend_from_slice(&[0x88, 0xA8, 0x00, 0x0A]);
        }
        if self.tags >= 1 {
            f.extend_from_slice(&[0x81, 0x00, 0x20, 0x14]);
        }
        f.extend_from_slice(if self.v6 {
            &[0x86, 0xDD]
        } else {
            &[0x08, 0x00]
        });
        let mut l4 = Vec::new();
        match self.l4 {
            6 => {
                l4.extend_from_slice(&[0x13, 0x88, 0, 80, 1, 2, 3, 4, 5, 6, 7, 8]);
                l4.push((((20 + self.tcp_opts) / 4) as u8) << 4);
                l4.extend_from_slice(&[0x18, 0xff, 0xff, 0, 0, 0, 0]);
                l4.extend(std::iter::repeat_n(1u8, self.tcp_opts));
            }
            17 => {
                l4.extend_from_slice(&[0x13, 0x88, 0, 53]);
                l4.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                l4.extend_from_slice(&[0, 0]);
            }
            _ => l4.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, 1]),
        }
        l4.extend_from_slice(&self.payload);
        if self.v6 {
            let mut ext = Vec::new();
            let mut kinds: Vec<u8> = Vec::new();
            for (i, &sz) in self.ext.iter().enumerate() {
                kinds.push(if i == 0 && sz == 0 { 0 } else { 60 });
            }
            for (i, &sz) in self.ext.iter().enumerate() {
                let next = kinds.get(i + 1).copied().unwrap_or(self.l4);
                let len = usize::from(sz.max(1)) * 8;
                ext.push(next);
                ext.push((len / 8 - 1) as u8);
                ext.extend_from_slice(&[1, (len - 4) as u8]); // PadN
                ext.extend(std::iter::repeat_n(0u8, len - 4));
            }
            f.extend_from_slice(&0x6000_0000u32.to_be_bytes());
            f.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
            f.push(kinds.first().copied().unwrap_or(self.l4));
            f.push(64);
            f.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            f.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            f.extend_from_slice(&ext);
        } else {
            let hl = 20 + self.ip_opts;
            f.push(0x40 | (hl / 4) as u8);
            f.push(0);
            f.extend_from_slice(&((hl + l4.len()) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 1, 0x40, 0, 64, self.l4, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            f.extend(std::iter::repeat_n(1u8, self.ip_opts));
        }
        f.extend_from_slice(&l4);
        f.extend(std::iter::repeat_n(0u8, self.padding));
        f
    }
}

fn off(base: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - base.as_ptr() as usize
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_frame_agrees_with_etherparse(spec in frame_strategy()) {
        let f = spec.build();
        let ours = parse_frame(&f, LenMode::Strict).unwrap();
        let theirs = SlicedPacket::from_ethernet(&f).unwrap();
        prop_assert_eq!(ours.l2_len, 14 + 4 * theirs.link_exts.len());
        let (l3_off, l4_off_ip) = match theirs.net.as_ref().unwrap() {
            NetSlice::Ipv4(ip) => {
                prop_assert_eq!(ours.l3, L3Kind::Ipv4);
                prop_assert_eq!(ours.l3_header_len, ip.header().slice().len());
                prop_assert_eq!(ours.ip_options, spec.ip_opts > 0);
                (off(&f, ip.header().slice()), off(&f, ip.payload().payload))
            }
            NetSlice::Ipv6(ip) => {
                prop_assert_eq!(ours.l3, L3Kind::Ipv6);
                prop_assert_eq!(ours.ipv6_ext_headers, !spec.ext.is_empty());
                (off(&f, ip.header().slice()), off(&f, ip.payload().payload))
            }
            NetSlice::Arp(_) => unreachable!(),
        };
        prop_assert_eq!(ours.l3_offset, l3_off);
        prop_assert_eq!(ours.l4_offset, l4_off_ip);
        prop_assert_eq!(ours.padding, spec.padding);
        match theirs.transport {
            Some(TransportSlice::Tcp(t)) => {
                prop_assert_eq!(ours.l4, L4Kind::Tcp);
                prop_assert_eq!(ours.l4_header_len, t.header_len());
                prop_assert_eq!(ours.payload_offset, off(&f, t.payload()));
                prop_assert_eq!(ours.payload_len, t.payload().len());
            }
            Some(TransportSlice::Udp(u)) => {
                prop_assert_eq!(ours.l4, L4Kind::Udp);
                prop_assert_eq!(ours.payload_offset, off(&f, u.payload()));
                prop_assert_eq!(ours.payload_len, u.payload().len());
            }
            _ => {
                prop_assert!(matches!(ours.l4, L4Kind::Other(1 | 58)));
            }
        }
        // Lax mode: same headers, the datagram runs to the end of the buffer.
        let lax = parse_frame(&f, LenMode::Lax).unwrap();
        prop_assert_eq!(lax.l4_offset, ours.l4_offset);
        prop_assert_eq!(lax.l3_end(), f.len());
    }

    #[test]
    fn parse_frame_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for mode in [LenMode::Strict, LenMode::Lax] {
            if let Ok(l) = parse_frame(&bytes, mode) {
                prop_assert!(l.payload_offset + l.payload_len <= bytes.len());
                prop_assert!(l.l3_end() <= bytes.len());
            }
        }
        views_never_panic(&bytes);
    }

    #[test]
    fn parse_frame_never_panics_on_mutated_valid_frames(
        spec in frame_strategy(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut f = spec.build();
        for (i, v) in flips {
            let i = i.index(f.len());
            f[i] = v;
        }
        let f = &f[..cut.index(f.len() + 1)];
        for mode in [LenMode::Strict, LenMode::Lax] {
            if let Ok(l) = parse_frame(f, mode) {
                prop_assert!(l.payload_offset + l.payload_len <= f.len());
                prop_assert!(l.l4_offset <= l.payload_offset);
            }
        }
        views_never_panic(f);
    }
}

/// Every accessor of every view on arbitrary bytes (after `new_checked` succeeded).
fn views_never_panic(b: &[u8]) {
    if let Ok(e) = EthernetFrame::new_checked(b) {
        let _ = (e.dst(), e.src(), e.ethertype(), e.vlan(), e.payload().len());
    }
    for mode in [LenMode::Strict, LenMode::Lax] {
        if let Ok(p) = Ipv4Packet::new_checked(b, mode) {
            let _ = (
                p.header(),
                p.options(),
                p.payload(),
                p.verify_checksum(),
                p.compute_checksum(),
                p.frag_offset(),
            );
        }
        if let Ok(p) = Ipv6Packet::new_checked(b, mode) {
            let _ = (p.header(), p.walk(), p.payload(), p.flow_label(), p.ecn());
        }
    }
    if let Ok(t) = TcpSegment::new_checked(b) {
        let _ = (
            t.flags(),
            t.option_iter().count(),
            t.timestamp(),
            t.payload().len(),
            t.verify_checksum(0),
        );
    }
    if let Ok(u) = UdpDatagram::new_checked(b) {
        let _ = (u.len(), u.payload().len(), u.verify_checksum(0));
    }
    let _ = wire::walk_extension_headers(b, 0);
    let _ = wire::virtio::VirtioNetHdr::parse(b, wire::virtio::HdrFormat::V1Hash);
}
