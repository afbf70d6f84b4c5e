//! Crafted TCP segments for the RSC conformance suite: every header field a rule of spec §1
//! looks at is explicit (sequence/ack numbers, flags, window, Timestamp and other options, IPv4
//! TTL/ID/DF/MF/fragment offset/DSCP/ECN/options, IPv6 hop limit/traffic class/flow
//! label/extension headers, IPsec AH, deliberately wrong checksums). Checksums come from
//! [`crate::pkt`] (RFC 1071), never from the driver's crates.

use crate::pkt::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HLEN, PROTO_TCP};

/// IP version of a crafted flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fam {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Fam {
    /// Both families.
    pub const BOTH: [Fam; 2] = [Fam::V4, Fam::V6];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Fam::V4 => "IPv4",
            Fam::V6 => "IPv6",
        }
    }

    /// TCP payload of a full-sized segment at MTU 1500 without options (1500 − IP − 20).
    pub fn mss(self) -> usize {
        match self {
            Fam::V4 => 1460,
            Fam::V6 => 1440,
        }
    }
}

/// One TCP connection's addresses (host → guest direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Family.
    pub fam: Fam,
    /// Source MAC (unique per rule run: it tells the run's frames from everything else).
    pub src_mac: [u8; 6],
    /// Destination MAC (the adapter's current address).
    pub dst_mac: [u8; 6],
    /// Source address (IPv4 in the first four bytes).
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// TCP flag bits.
pub use crate::pkt::tcp_flags as tf;

/// IPv6 extension header types used here.
pub mod ext {
    /// Hop-by-hop options.
    pub const HOP_BY_HOP: u8 = 0;
    /// Destination options.
    pub const DEST_OPTS: u8 = 60;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
}

/// IP protocol number of IPsec AH (RFC 4302).
pub const PROTO_AH: u8 = 51;
/// Bytes of the AH header built here (12 fixed + 12-byte ICV, HMAC-SHA1-96 sized).
pub const AH_LEN: usize = 24;

/// Every field of one crafted segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags ([`tf`]).
    pub flags: u8,
    /// Window.
    pub wnd: u16,
    /// Urgent pointer.
    pub urg: u16,
    /// TCP payload.
    pub payload: Vec<u8>,
    /// Timestamp option `(TSval, TSecr)`, laid out as NOP NOP TS (what every stack sends).
    pub ts: Option<(u32, u32)>,
    /// Further TCP options after the timestamp (padded with NOPs to a multiple of 4).
    pub opts: Vec<u8>,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// DSCP (6 bits).
    pub dscp: u8,
    /// ECN codepoint (2 bits).
    pub ecn: u8,
    /// IPv4 identification.
    pub ip_id: u16,
    /// IPv4 Don't Fragment.
    pub df: bool,
    /// IPv4 More Fragments: the frame then carries only `frag_bytes` of the L4 segment.
    pub mf: bool,
    /// L4 bytes kept in an MF fragment.
    pub frag_bytes: usize,
    /// IPv4 options (padded with NOP/EOL to a multiple of 4).
    pub ip_opts: Vec<u8>,
    /// IPv6 extension headers `(type, body after next-header/length)`, body padded to 8n+6.
    pub ext: Vec<(u8, Vec<u8>)>,
    /// IPv6 flow label (20 bits).
    pub flow_label: u32,
    /// Store a wrong TCP checksum.
    pub bad_tcp_csum: bool,
    /// Store a wrong IPv4 header checksum.
    pub bad_ip_csum: bool,
    /// Wrap the TCP segment in IPsec AH (transport mode).
    pub ah: bool,
}

impl Default for Seg {
    fn default() -> Self {
        Seg {
            seq: 0,
            ack: 0x1000_0000,
            flags: tf::ACK,
            wnd: 1000,
            urg: 0,
            payload: Vec::new(),
            ts: None,
            opts: Vec::new(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ip_id: 0,
            df: true,
            mf: false,
            frag_bytes: 0,
            ip_opts: Vec::new(),
            ext: Vec::new(),
            flow_label: 0,
            bad_tcp_csum: false,
            bad_ip_csum: false,
            ah: false,
        }
    }
}

impl Seg {
    /// TCP header length with this segment's options.
    pub fn tcp_hlen(&self) -> usize {
        20 + self.tcp_options().len()
    }

    /// The option bytes as sent.
    pub fn tcp_options(&self) -> Vec<u8> {
        let mut o = Vec::new();
        if let Some((v, e)) = self.ts {
            o.extend_from_slice(&[1, 1, 8, 10]);
            o.extend_from_slice(&v.to_be_bytes());
            o.extend_from_slice(&e.to_be_bytes());
        }
        o.extend_from_slice(&self.opts);
        while !o.len().is_multiple_of(4) {
            o.push(1);
        }
        o
    }

    /// `SEQ + LEN` (the next expected sequence number).
    pub fn nxt(&self) -> u32 {
        self.seq.wrapping_add(self.payload.len() as u32)
    }
}

/// Deterministic payload bytes for `len` bytes at sequence number `seq` of flow `salt`: each
/// byte depends on its sequence number, so a reassembled SCU proves order as well as content.
pub fn pattern(salt: u16, seq: u32, len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| {
            let s = seq.wrapping_add(i);
            (s.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (salt as u8) ^ ((s >> 8) as u8)
        })
        .collect()
}

fn pad4(mut v: Vec<u8>) -> Vec<u8> {
    while !v.len().is_multiple_of(4) {
        v.push(0); // EOL padding (RFC 791)
    }
    v
}

/// Builds the Ethernet frame of `s` on `f` with the checksums `s` asks for.
pub fn build(f: &Flow, s: &Seg) -> Vec<u8> {
    // The TCP segment first: its checksum needs the addresses only.
    let opts = s.tcp_options();
    let thl = 20 + opts.len();
    let mut tcp = Vec::with_capacity(thl + s.payload.len());
    tcp.extend_from_slice(&f.sport.to_be_bytes());
    tcp.extend_from_slice(&f.dport.to_be_bytes());
    tcp.extend_from_slice(&s.seq.to_be_bytes());
    tcp.extend_from_slice(&s.ack.to_be_bytes());
    tcp.push(((thl / 4) as u8) << 4);
    tcp.push(s.flags);
    tcp.extend_from_slice(&s.wnd.to_be_bytes());
    tcp.extend_from_slice(&[0, 0]);
    tcp.extend_from_slice(&s.urg.to_be_bytes());
    tcp.extend_from_slice(&opts);
    tcp.extend_from_slice(&s.payload);
    let len = tcp.len() as u32;
    let ps = match f.fam {
        Fam::V4 => pkt::pseudo_v4(&v4(&f.src), &v4(&f.dst), PROTO_TCP, Some(len)),
        Fam::V6 => pkt::pseudo_v6(&f.src, &f.dst, PROTO_TCP, Some(len)),
    };
    let mut c = !pkt::fold(ps + pkt::sum(&tcp));
    if s.bad_tcp_csum {
        c ^= 0x5A5A;
    }
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    if s.mf {
        tcp.truncate(s.frag_bytes.max(20));
    }
    // Upper layer as carried by IP: optionally inside AH.
    let (proto, l4) = if s.ah {
        let mut a = Vec::with_capacity(AH_LEN + tcp.len());
        a.push(PROTO_TCP);
        a.push((AH_LEN / 4 - 2) as u8);
        a.extend_from_slice(&[0, 0]);
        a.extend_from_slice(&0x0000_1234u32.to_be_bytes()); // SPI
        a.extend_from_slice(&s.seq.to_be_bytes()); // AH sequence number
        a.extend_from_slice(&[0xA5; 12]); // ICV
        a.extend_from_slice(&tcp);
        (PROTO_AH, a)
    } else {
        (PROTO_TCP, tcp)
    };
    let mut fr = Vec::with_capacity(ETH_HLEN + 60 + l4.len());
    fr.extend_from_slice(&f.dst_mac);
    fr.extend_from_slice(&f.src_mac);
    match f.fam {
        Fam::V4 => {
            fr.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            let ipo = pad4(s.ip_opts.clone());
            let ihl = 20 + ipo.len();
            let total = (ihl + l4.len()) as u16;
            let frag = (u16::from(s.df) << 14) | (u16::from(s.mf) << 13);
            fr.push(0x40 | (ihl / 4) as u8);
            fr.push((s.dscp << 2) | (s.ecn & 3));
            fr.extend_from_slice(&total.to_be_bytes());
            fr.extend_from_slice(&s.ip_id.to_be_bytes());
            fr.extend_from_slice(&frag.to_be_bytes());
            fr.extend_from_slice(&[s.ttl, proto, 0, 0]);
            fr.extend_from_slice(&f.src[..4]);
            fr.extend_from_slice(&f.dst[..4]);
            fr.extend_from_slice(&ipo);
            pkt::fix_ipv4_header(&mut fr, ETH_HLEN, ihl);
            if s.bad_ip_csum {
                fr[ETH_HLEN + 10] ^= 0x33;
            }
        }
        Fam::V6 => {
            fr.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            let mut exts = Vec::new();
            let mut types: Vec<u8> = s.ext.iter().map(|(t, _)| *t).collect();
            types.push(proto);
            for (i, (_, body)) in s.ext.iter().enumerate() {
                let mut b = body.clone();
                while !(b.len() + 2).is_multiple_of(8) {
                    b.push(0);
                }
                exts.push(types[i + 1]);
                exts.push(((b.len() + 2) / 8 - 1) as u8);
                exts.extend_from_slice(&b);
            }
            let first_next = types[0];
            let tc = (u32::from(s.dscp) << 2) | u32::from(s.ecn & 3);
            let vtf = (6u32 << 28) | (tc << 20) | (s.flow_label & 0xF_FFFF);
            fr.extend_from_slice(&vtf.to_be_bytes());
            fr.extend_from_slice(&((exts.len() + l4.len()) as u16).to_be_bytes());
            fr.push(first_next);
            fr.push(s.ttl);
            fr.extend_from_slice(&f.src);
            fr.extend_from_slice(&f.dst);
            fr.extend_from_slice(&exts);
        }
    }
    fr.extend_from_slice(&l4);
    fr
}

/// An IPv4 non-first fragment (offset ≠ 0, no TCP header) of flow `f`.
pub fn ipv4_later_fragment(f: &Flow, id: u16, offset8: u16, data: &[u8]) -> Vec<u8> {
    let mut fr = Vec::with_capacity(ETH_HLEN + 20 + data.len());
    fr.extend_from_slice(&f.dst_mac);
    fr.extend_from_slice(&f.src_mac);
    fr.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    fr.extend_from_slice(&[0x45, 0]);
    fr.extend_from_slice(&((20 + data.len()) as u16).to_be_bytes());
    fr.extend_from_slice(&id.to_be_bytes());
    fr.extend_from_slice(&(offset8 & 0x1FFF).to_be_bytes());
    fr.extend_from_slice(&[64, PROTO_TCP, 0, 0]);
    fr.extend_from_slice(&f.src[..4]);
    fr.extend_from_slice(&f.dst[..4]);
    pkt::fix_ipv4_header(&mut fr, ETH_HLEN, 20);
    fr.extend_from_slice(data);
    fr
}

/// The IPv4 address in the first four bytes.
pub fn v4(a: &[u8; 16]) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

/// Ethernet padding to the 60-byte minimum (what a NIC puts on the wire for short frames).
pub fn pad_min(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(fam: Fam) -> Flow {
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src[..4].copy_from_slice(&[10, 77, 0, 1]);
        dst[..4].copy_from_slice(&[10, 77, 0, 2]);
        if fam == Fam::V6 {
            src = [0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
            dst = [0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        }
        Flow {
            fam,
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src,
            dst,
            sport: 40000,
            dport: 40001,
        }
    }

    #[test]
    fn crafted_segments_verify_with_etherparse_as_oracle() {
        for fam in Fam::BOTH {
            let s = Seg {
                seq: 77,
                payload: pattern(1, 77, 333),
                ts: Some((5, 6)),
                opts: vec![2, 4, 5, 0xb4],
                ..Seg::default()
            };
            let fr = build(&flow(fam), &s);
            let sl = etherparse::SlicedPacket::from_ethernet(&fr).unwrap();
            let Some(etherparse::TransportSlice::Tcp(t)) = sl.transport else {
                panic!("not TCP")
            };
            assert_eq!(t.sequence_number(), 77);
            assert_eq!(t.payload(), &s.payload[..]);
            let want = match sl.net {
                Some(etherparse::NetSlice::Ipv4(h)) => {
                    let ip = h.header().to_header();
                    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
                    t.to_header().calc_checksum_ipv4(&ip, t.payload()).unwrap()
                }
                Some(etherparse::NetSlice::Ipv6(h)) => t
                    .to_header()
                    .calc_checksum_ipv6(&h.header().to_header(), t.payload())
                    .unwrap(),
                _ => panic!("no IP"),
            };
            assert_eq!(t.checksum(), want, "{fam:?}");
            let bad = build(
                &flow(fam),
                &Seg {
                    bad_tcp_csum: true,
                    ..s.clone()
                },
            );
            let p = pkt::parse(&bad).unwrap().ip.unwrap();
            assert!(!pkt::l4_ok(&bad, &p));
        }
    }

    #[test]
    fn ipv4_options_and_ipv6_extension_headers_are_walked_by_an_independent_parser() {
        let s4 = Seg {
            ip_opts: vec![148, 4, 0, 0], // router alert
            payload: vec![1; 10],
            ..Seg::default()
        };
        let fr = build(&flow(Fam::V4), &s4);
        let ip = pkt::parse(&fr).unwrap().ip.unwrap();
        assert_eq!(ip.hlen, 24);
        assert!(pkt::ipv4_header_ok(&fr, ETH_HLEN, 24) && pkt::l4_ok(&fr, &ip));
        let s6 = Seg {
            ext: vec![(ext::HOP_BY_HOP, vec![1, 4, 0, 0, 0, 0])],
            payload: vec![1; 10],
            ..Seg::default()
        };
        let fr = build(&flow(Fam::V6), &s6);
        let ip = pkt::parse(&fr).unwrap().ip.unwrap();
        assert_eq!((ip.hlen, ip.proto), (48, PROTO_TCP));
        assert!(pkt::l4_ok(&fr, &ip));
        let sl = etherparse::SlicedPacket::from_ethernet(&fr).unwrap();
        assert!(matches!(
            sl.transport,
            Some(etherparse::TransportSlice::Tcp(_))
        ));
    }
}
