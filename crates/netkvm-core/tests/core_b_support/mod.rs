//! Test support for core-b's rx/rsc tests: a frame builder with its own textbook RFC 1071
//! checksum (independent of `netkvm_core::checksum`) and etherparse-based oracles.
//! Used by unit tests (via `#[path]`) and integration tests (`mod core_b_support;`).
#![allow(dead_code)]

extern crate std;

use std::vec::Vec;

pub const FIN: u16 = 0x01;
pub const SYN: u16 = 0x02;
pub const RST: u16 = 0x04;
pub const PSH: u16 = 0x08;
pub const ACK: u16 = 0x10;
pub const URG: u16 = 0x20;
pub const ECE: u16 = 0x40;
pub const CWR: u16 = 0x80;

/// Textbook RFC 1071 sum: big-endian words, wide accumulator, fold at the end.
pub fn naive_sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        acc += (u64::from(data[i]) << 8) | u64::from(data[i + 1]);
        i += 2;
    }
    if i < data.len() {
        acc += u64::from(data[i]) << 8;
    }
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

pub fn naive_add(a: u16, b: u16) -> u16 {
    let s = u32::from(a) + u32::from(b);
    ((s & 0xFFFF) + (s >> 16)) as u16
}

/// A TCP (or UDP) segment description.
#[derive(Clone, Debug)]
pub struct Seg {
    pub v6: bool,
    pub udp: bool,
    pub src4: [u8; 4],
    pub dst4: [u8; 4],
    pub src6: [u8; 16],
    pub dst6: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub flags: u16,
    pub ts: Option<(u32, u32)>,
    /// Extra raw TCP option bytes (appended after the timestamp, padded with NOPs).
    pub extra_opts: Vec<u8>,
    pub ttl: u8,
    pub ip_id: u16,
    pub df: bool,
    pub mf: bool,
    pub frag_off: u16,
    /// IPv4 TOS / IPv6 traffic class (DSCP << 2 | ECN).
    pub tos: u8,
    pub flow_label: u32,
    /// IPv4 options (multiple of 4).
    pub ip_options: Vec<u8>,
    /// IPv6: insert an empty Destination Options header.
    pub ext_header: bool,
    pub payload: Vec<u8>,
    pub vlan: Option<u16>,
    /// Write a wrong TCP/UDP checksum.
    pub bad_l4: bool,
    /// Write a wrong IPv4 header checksum.
    pub bad_ip: bool,
    /// Leave the pseudo-header sum in the checksum field (a `CHECKSUM_PARTIAL` frame).
    pub partial: bool,
}

impl Default for Seg {
    fn default() -> Self {
        Seg {
            v6: false,
            udp: false,
            src4: [192, 168, 7, 2],
            dst4: [10, 77, 0, 2],
            src6: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            dst6: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10],
            sport: 5001,
            dport: 40000,
            seq: 1000,
            ack: 77,
            win: 512,
            flags: ACK,
            ts: None,
            extra_opts: Vec::new(),
            ttl: 64,
            ip_id: 0x1234,
            df: true,
            mf: false,
            frag_off: 0,
            tos: 0,
            flow_label: 0,
            ip_options: Vec::new(),
            ext_header: false,
            payload: Vec::new(),
            vlan: None,
            bad_l4: false,
            bad_ip: false,
            partial: false,
        }
    }
}

pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed)
                .to_be_bytes()[0]
        })
        .collect()
}

fn pseudo(s: &Seg, proto: u8, l4_len: usize) -> u16 {
    let mut p = Vec::new();
    if s.v6 {
        p.extend_from_slice(&s.src6);
        p.extend_from_slice(&s.dst6);
        p.extend_from_slice(&(l4_len as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, proto]);
    } else {
        p.extend_from_slice(&s.src4);
        p.extend_from_slice(&s.dst4);
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(l4_len as u16).to_be_bytes());
    }
    naive_sum(&p)
}

/// Builds the Ethernet frame.
pub fn build(s: &Seg) -> Vec<u8> {
    let mut l4 = Vec::new();
    let proto;
    if s.udp {
        proto = 17u8;
        let len = 8 + s.payload.len();
        l4.extend_from_slice(&s.sport.to_be_bytes());
        l4.extend_from_slice(&s.dport.to_be_bytes());
        l4.extend_from_slice(&(len as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
    } else {
        proto = 6u8;
        let mut opts = Vec::new();
        if let Some((v, e)) = s.ts {
            opts.extend_from_slice(&[1, 1, 8, 10]);
            opts.extend_from_slice(&v.to_be_bytes());
            opts.extend_from_slice(&e.to_be_bytes());
        }
        opts.extend_from_slice(&s.extra_opts);
        while opts.len() % 4 != 0 {
            opts.push(1);
        }
        let doff = (20 + opts.len()) / 4;
        l4.extend_from_slice(&s.sport.to_be_bytes());
        l4.extend_from_slice(&s.dport.to_be_bytes());
        l4.extend_from_slice(&s.seq.to_be_bytes());
        l4.extend_from_slice(&s.ack.to_be_bytes());
        let off_flags = ((doff as u16) << 12) | (s.flags & 0x1ff);
        l4.extend_from_slice(&off_flags.to_be_bytes());
        l4.extend_from_slice(&s.win.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0]);
        l4.extend_from_slice(&opts);
    }
    l4.extend_from_slice(&s.payload);
    let csum_at = if s.udp { 6 } else { 16 };
    let ps = pseudo(s, proto, l4.len());
    let field = if s.partial {
        ps
    } else {
        let mut c = !naive_add(ps, naive_sum(&l4));
        if s.udp && c == 0 {
            c = 0xffff;
        }
        if s.bad_l4 {
            c ^= 0x0101;
        }
        c
    };
    l4[csum_at..csum_at + 2].copy_from_slice(&field.to_be_bytes());

    let mut f = Vec::new();
    f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 1]);
    if let Some(tci) = s.vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    if s.v6 {
        f.extend_from_slice(&[0x86, 0xdd]);
        let vtf: u32 = (6 << 28) | (u32::from(s.tos) << 20) | (s.flow_label & 0xFFFFF);
        f.extend_from_slice(&vtf.to_be_bytes());
        let ext = if s.ext_header { 8 } else { 0 };
        f.extend_from_slice(&((l4.len() + ext) as u16).to_be_bytes());
        f.push(if s.ext_header { 60 } else { proto });
        f.push(s.ttl);
        f.extend_from_slice(&s.src6);
        f.extend_from_slice(&s.dst6);
        if s.ext_header {
            f.extend_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]); // PadN
        }
    } else {
        f.extend_from_slice(&[0x08, 0x00]);
        let ihl = 5 + s.ip_options.len() / 4;
        let start = f.len();
        f.push(0x40 | ihl as u8);
        f.push(s.tos);
        f.extend_from_slice(&((ihl * 4 + l4.len()) as u16).to_be_bytes());
        f.extend_from_slice(&s.ip_id.to_be_bytes());
        let ff = (if s.df { 0x4000 } else { 0 })
            | (if s.mf { 0x2000 } else { 0 })
            | (s.frag_off & 0x1fff);
        f.extend_from_slice(&ff.to_be_bytes());
        f.push(s.ttl);
        f.push(proto);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&s.src4);
        f.extend_from_slice(&s.dst4);
        f.extend_from_slice(&s.ip_options);
        let mut c = !naive_sum(&f[start..]);
        if s.bad_ip {
            c ^= 0x0202;
        }
        f[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
    }
    f.extend_from_slice(&l4);
    f
}

/// Independent oracle: (IPv4 header checksum ok, TCP/UDP checksum ok) computed by etherparse.
pub fn oracle_checksums_ok(frame: &[u8]) -> (bool, bool) {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
    let (ip_ok, l4_ok) = match (&p.net, &p.transport) {
        (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(t))) => {
            let h = ip.header().to_header();
            let ok = h.calc_header_checksum() == h.header_checksum;
            let th = t.to_header();
            (
                ok,
                th.calc_checksum_ipv4(&h, t.payload()).unwrap() == th.checksum,
            )
        }
        (Some(NetSlice::Ipv6(ip)), Some(TransportSlice::Tcp(t))) => {
            let h = ip.header().to_header();
            let th = t.to_header();
            (
                true,
                th.calc_checksum_ipv6(&h, t.payload()).unwrap() == th.checksum,
            )
        }
        (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(u))) => {
            let h = ip.header().to_header();
            let ok = h.calc_header_checksum() == h.header_checksum;
            let uh = u.to_header();
            (
                ok,
                uh.calc_checksum_ipv4(&h, u.payload()).unwrap() == uh.checksum,
            )
        }
        (Some(NetSlice::Ipv6(ip)), Some(TransportSlice::Udp(u))) => {
            let h = ip.header().to_header();
            let uh = u.to_header();
            (
                true,
                uh.calc_checksum_ipv6(&h, u.payload()).unwrap() == uh.checksum,
            )
        }
        other => panic!("oracle: unexpected layers {other:?}"),
    };
    (ip_ok, l4_ok)
}
