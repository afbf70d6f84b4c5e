//! Packet parsing, building and the Internet checksum — written for the bench independently of
//! netkvm-core, so that what the stand-in verifies is not computed by the code under test.
//!
//! Checksums follow RFC 1071 (ones' complement sum of big-endian 16-bit words); pseudo headers
//! follow RFC 793 §3.1 / RFC 768 (IPv4: src, dst, zero, protocol, length) and RFC 8200 §8.1
//! (IPv6: src, dst, 32-bit length, three zero bytes, next header).

/// Ethernet header without a tag.
pub const ETH_HLEN: usize = 14;
/// 802.1Q tag length.
pub const VLAN_HLEN: usize = 4;
/// EtherType IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// EtherType ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType 802.1Q.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// IP protocol TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol ICMP.
pub const PROTO_ICMP: u8 = 1;
/// Offset of the checksum field in a TCP header.
pub const TCP_CSUM_OFF: usize = 16;
/// Offset of the checksum field in a UDP header.
pub const UDP_CSUM_OFF: usize = 6;

/// TCP flag bits (byte 13 of the header).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}

// ---------------------------------------------------------------------------------------------
// Checksum

/// Unfolded ones' complement sum of `data` read as big-endian 16-bit words (an odd last byte is
/// the high byte of a word). Sums of consecutive ranges add up as long as every range but the
/// last has an even length.
pub fn sum(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Two big-endian 32-bit halves; 2^32 additions of < 2^33 cannot overflow a u64 here
        // (frames are < 2^17 bytes).
        let hi = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let lo = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
        acc += u64::from(hi) + u64::from(lo);
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = words.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Folds an unfolded sum to 16 bits (end-around carry), not complemented.
pub fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// The Internet checksum of `data` (complemented fold).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// Pseudo-header sum for IPv4 (`len = None`: without the length, as NDIS LSO/USO want it).
pub fn pseudo_v4(src: &[u8; 4], dst: &[u8; 4], proto: u8, len: Option<u32>) -> u64 {
    sum(src) + sum(dst) + u64::from(proto) + len.map_or(0, u64::from)
}

/// Pseudo-header sum for IPv6 (`len = None`: without the length).
pub fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], proto: u8, len: Option<u32>) -> u64 {
    let l = len.unwrap_or(0);
    sum(src) + sum(dst) + u64::from(proto) + u64::from(l >> 16) + u64::from(l & 0xFFFF)
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// IP version of a parsed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVer {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// The headers of an Ethernet frame, as offsets into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// 802.1Q TCI when the frame carries a tag.
    pub vlan: Option<u16>,
    /// EtherType after an optional tag.
    pub ethertype: u16,
    /// Offset of the L3 header.
    pub l3: usize,
    /// IP details when the frame is IPv4/IPv6 with a complete header.
    pub ip: Option<Ip>,
}

/// An IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip {
    /// Version.
    pub ver: IpVer,
    /// Header length (IPv4 IHL·4; IPv6 40 + extension headers walked).
    pub hlen: usize,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// IPv4 Total Length / IPv6 Payload Length as written in the header.
    pub len_field: u16,
    /// Source address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// A fragment (IPv4 MF or offset ≠ 0; IPv6 fragment header).
    pub fragment: bool,
    /// A non-first fragment (no L4 header in it).
    pub later_fragment: bool,
    /// Offset of the L4 header in the frame.
    pub l4: usize,
}

impl Ip {
    /// IPv4 source address.
    pub fn src4(&self) -> [u8; 4] {
        [self.src[0], self.src[1], self.src[2], self.src[3]]
    }
    /// IPv4 destination address.
    pub fn dst4(&self) -> [u8; 4] {
        [self.dst[0], self.dst[1], self.dst[2], self.dst[3]]
    }
    /// Pseudo-header sum for this packet's upper layer with `len` (or without a length).
    pub fn pseudo(&self, len: Option<u32>) -> u64 {
        match self.ver {
            IpVer::V4 => pseudo_v4(&self.src4(), &self.dst4(), self.proto, len),
            IpVer::V6 => pseudo_v6(&self.src, &self.dst, self.proto, len),
        }
    }
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(off)?,
        *b.get(off + 1)?,
        *b.get(off + 2)?,
        *b.get(off + 3)?,
    ]))
}

/// Parses the Ethernet, optional 802.1Q and IP headers (`None` for a runt frame).
pub fn parse(frame: &[u8]) -> Option<Frame> {
    let mut et = be16(frame, 12)?;
    let mut l3 = ETH_HLEN;
    let mut vlan = None;
    if et == ETHERTYPE_VLAN {
        vlan = Some(be16(frame, 14)?);
        et = be16(frame, 16)?;
        l3 += VLAN_HLEN;
    }
    let ip = match et {
        ETHERTYPE_IPV4 => parse_v4(frame, l3),
        ETHERTYPE_IPV6 => parse_v6(frame, l3),
        _ => None,
    };
    Some(Frame {
        vlan,
        ethertype: et,
        l3,
        ip,
    })
}

fn parse_v4(f: &[u8], l3: usize) -> Option<Ip> {
    let vihl = *f.get(l3)?;
    if vihl >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(vihl & 0xF) * 4;
    if hlen < 20 || f.len() < l3 + hlen {
        return None;
    }
    let frag = be16(f, l3 + 6)?;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&f[l3 + 12..l3 + 16]);
    dst[..4].copy_from_slice(&f[l3 + 16..l3 + 20]);
    Some(Ip {
        ver: IpVer::V4,
        hlen,
        proto: f[l3 + 9],
        len_field: be16(f, l3 + 2)?,
        src,
        dst,
        fragment: frag & 0x3FFF != 0,
        later_fragment: frag & 0x1FFF != 0,
        l4: l3 + hlen,
    })
}

fn parse_v6(f: &[u8], l3: usize) -> Option<Ip> {
    if f.get(l3)? >> 4 != 6 || f.len() < l3 + 40 {
        return None;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&f[l3 + 8..l3 + 24]);
    dst.copy_from_slice(&f[l3 + 24..l3 + 40]);
    let mut next = f[l3 + 6];
    let mut off = l3 + 40;
    let mut fragment = false;
    let mut later = false;
    // Hop-by-hop (0), routing (43), fragment (44), destination options (60).
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let n = *f.get(off)?;
                let l = (usize::from(*f.get(off + 1)?) + 1) * 8;
                next = n;
                off += l;
            }
            44 => {
                fragment = true;
                later = be16(f, off + 2)? & 0xFFF8 != 0;
                next = *f.get(off)?;
                off += 8;
            }
            _ => break,
        }
    }
    if off > f.len() {
        return None;
    }
    Some(Ip {
        ver: IpVer::V6,
        hlen: off - l3,
        proto: next,
        len_field: be16(f, l3 + 4)?,
        src,
        dst,
        fragment,
        later_fragment: later,
        l4: off,
    })
}

/// TCP header length at `l4` (data offset · 4), checked against the frame.
pub fn tcp_hlen(f: &[u8], l4: usize) -> Option<usize> {
    let doff = usize::from(*f.get(l4 + 12)? >> 4) * 4;
    (doff >= 20 && l4 + doff <= f.len()).then_some(doff)
}

/// TCP sequence number.
pub fn tcp_seq(f: &[u8], l4: usize) -> Option<u32> {
    be32(f, l4 + 4)
}

/// TCP acknowledgement number.
pub fn tcp_ack(f: &[u8], l4: usize) -> Option<u32> {
    be32(f, l4 + 8)
}

/// TCP flags byte.
pub fn tcp_flags(f: &[u8], l4: usize) -> Option<u8> {
    f.get(l4 + 13).copied()
}

/// Reads a big-endian u16 (public helper for tests).
pub fn get16(f: &[u8], off: usize) -> Option<u16> {
    be16(f, off)
}

/// Writes a big-endian u16; false if out of range.
pub fn put16(f: &mut [u8], off: usize, v: u16) -> bool {
    match f.get_mut(off..off + 2) {
        Some(s) => {
            s.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Writes a big-endian u32; false if out of range.
pub fn put32(f: &mut [u8], off: usize, v: u32) -> bool {
    match f.get_mut(off..off + 4) {
        Some(s) => {
            s.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Whether an IPv4 header's checksum is right.
pub fn ipv4_header_ok(f: &[u8], l3: usize, hlen: usize) -> bool {
    f.get(l3..l3 + hlen).is_some_and(|h| fold(sum(h)) == 0xFFFF)
}

/// Recomputes and stores an IPv4 header checksum.
pub fn fix_ipv4_header(f: &mut [u8], l3: usize, hlen: usize) {
    if f.len() < l3 + hlen || hlen < 20 {
        return;
    }
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    let c = checksum(&f[l3..l3 + hlen]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// Whether the TCP/UDP checksum of the packet (L4 from `ip.l4` to the end of the IP payload) is
/// right. A UDP/IPv4 checksum of 0 means "none" and counts as right.
pub fn l4_ok(f: &[u8], ip: &Ip) -> bool {
    let Some(end) = ip_end(f, ip) else {
        return false;
    };
    let Some(seg) = f.get(ip.l4..end) else {
        return false;
    };
    if ip.proto == PROTO_UDP && ip.ver == IpVer::V4 && be16(seg, 6) == Some(0) {
        return true;
    }
    fold(ip.pseudo(Some(seg.len() as u32)) + sum(seg)) == 0xFFFF
}

/// Computes and stores the full TCP/UDP checksum (over the L4 segment up to the IP payload end).
pub fn fix_l4(f: &mut [u8], ip: &Ip) -> bool {
    let Some(end) = ip_end(f, ip) else {
        return false;
    };
    let off = match ip.proto {
        PROTO_TCP => TCP_CSUM_OFF,
        PROTO_UDP => UDP_CSUM_OFF,
        _ => return false,
    };
    if end < ip.l4 + off + 2 {
        return false;
    }
    f[ip.l4 + off] = 0;
    f[ip.l4 + off + 1] = 0;
    let len = (end - ip.l4) as u32;
    let mut c = !fold(ip.pseudo(Some(len)) + sum(&f[ip.l4..end]));
    if ip.proto == PROTO_UDP && c == 0 {
        c = 0xFFFF;
    }
    put16(f, ip.l4 + off, c)
}

/// End of the IP payload: from the length field (IPv4 total length, IPv6 payload length), or the
/// frame end when the field is 0 (NDIS LSOv2 leaves IPv4 Total Length 0). `None` if the field
/// points past the frame.
pub fn ip_end(f: &[u8], ip: &Ip) -> Option<usize> {
    let l3 = ip.l4 - ip.hlen;
    let end = match (ip.ver, ip.len_field) {
        (_, 0) => f.len(),
        (IpVer::V4, l) => l3 + usize::from(l),
        (IpVer::V6, l) => l3 + 40 + usize::from(l),
    };
    (end <= f.len()).then_some(end)
}

// ---------------------------------------------------------------------------------------------
// Building (test frames: injection, RSC conformance sequences)

/// Addresses of a test frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source IPv4.
    pub src_ip: [u8; 4],
    /// Destination IPv4.
    pub dst_ip: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

fn eth_ipv4(ep: &Endpoints, proto: u8, l4_len: usize, id: u16, ttl: u8, df: bool) -> Vec<u8> {
    let total = 20 + l4_len;
    let mut f = Vec::with_capacity(ETH_HLEN + total);
    f.extend_from_slice(&ep.dst_mac);
    f.extend_from_slice(&ep.src_mac);
    f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
    f.extend_from_slice(&[ttl, proto, 0, 0]);
    f.extend_from_slice(&ep.src_ip);
    f.extend_from_slice(&ep.dst_ip);
    fix_ipv4_header(&mut f, ETH_HLEN, 20);
    f
}

/// A UDP/IPv4 frame with correct checksums.
pub fn udp4(ep: &Endpoints, payload: &[u8]) -> Vec<u8> {
    let l4_len = 8 + payload.len();
    let mut f = eth_ipv4(ep, PROTO_UDP, l4_len, 0x1234, 64, true);
    f.extend_from_slice(&ep.sport.to_be_bytes());
    f.extend_from_slice(&ep.dport.to_be_bytes());
    f.extend_from_slice(&(l4_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    if let Some(p) = parse(&f) {
        if let Some(ip) = p.ip {
            fix_l4(&mut f, &ip);
        }
    }
    f
}

/// TCP segment parameters for [`tcp4`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSeg {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags ([`tcp_flags`]).
    pub flags: u8,
    /// Window.
    pub window: u16,
    /// Options (padded to 4 bytes by the caller).
    pub options: Vec<u8>,
    /// IPv4 identification.
    pub ip_id: u16,
    /// TTL.
    pub ttl: u8,
    /// IPv4 TOS byte (DSCP | ECN).
    pub tos: u8,
}

impl Default for TcpSeg {
    fn default() -> Self {
        TcpSeg {
            seq: 1,
            ack: 1,
            flags: tcp_flags::ACK,
            window: 65535,
            options: Vec::new(),
            ip_id: 1,
            ttl: 64,
            tos: 0,
        }
    }
}

/// A TCP/IPv4 frame with correct checksums.
pub fn tcp4(ep: &Endpoints, s: &TcpSeg, payload: &[u8]) -> Vec<u8> {
    let thl = 20 + s.options.len();
    let l4_len = thl + payload.len();
    let mut f = eth_ipv4(ep, PROTO_TCP, l4_len, s.ip_id, s.ttl, true);
    f[ETH_HLEN + 1] = s.tos;
    f.extend_from_slice(&ep.sport.to_be_bytes());
    f.extend_from_slice(&ep.dport.to_be_bytes());
    f.extend_from_slice(&s.seq.to_be_bytes());
    f.extend_from_slice(&s.ack.to_be_bytes());
    f.push(((thl / 4) as u8) << 4);
    f.push(s.flags);
    f.extend_from_slice(&s.window.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(&s.options);
    f.extend_from_slice(payload);
    fix_ipv4_header(&mut f, ETH_HLEN, 20);
    if let Some(p) = parse(&f) {
        if let Some(ip) = p.ip {
            fix_l4(&mut f, &ip);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Endpoints {
        Endpoints {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: [10, 77, 0, 1],
            dst_ip: [10, 77, 0, 2],
            sport: 4000,
            dport: 5001,
        }
    }

    #[test]
    fn rfc1071_example_sums_to_the_published_value() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (folded).
        assert_eq!(
            fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
            0xddf2
        );
        // Odd length: the last byte is a high byte.
        assert_eq!(fold(sum(&[0x01])), 0x0100);
        // Split sums add up when the first part is even.
        let d: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(fold(sum(&d[..500]) + sum(&d[500..])), fold(sum(&d)));
    }

    #[test]
    fn built_frames_verify_with_etherparse_as_oracle() {
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for f in [
            udp4(&ep(), &payload),
            tcp4(&ep(), &TcpSeg::default(), &payload),
        ] {
            let p = parse(&f).unwrap();
            let ip = p.ip.unwrap();
            assert!(ipv4_header_ok(&f, p.l3, ip.hlen));
            assert!(l4_ok(&f, &ip));
            let sl = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
            let Some(etherparse::NetSlice::Ipv4(v4)) = sl.net else {
                panic!("not ipv4")
            };
            let h = v4.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            match sl.transport {
                Some(etherparse::TransportSlice::Udp(u)) => {
                    let want = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
                    assert_eq!(u.checksum(), want);
                }
                Some(etherparse::TransportSlice::Tcp(t)) => {
                    let want = t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap();
                    assert_eq!(t.checksum(), want);
                }
                other => panic!("unexpected transport {other:?}"),
            }
        }
    }

    #[test]
    fn a_flipped_payload_bit_fails_the_l4_check() {
        let mut f = udp4(&ep(), b"hello world, checksum me");
        let ip = parse(&f).unwrap().ip.unwrap();
        assert!(l4_ok(&f, &ip));
        let last = f.len() - 1;
        f[last] ^= 0x10;
        assert!(!l4_ok(&f, &ip));
    }

    #[test]
    fn pseudo_header_with_and_without_length_differ_by_the_length() {
        let s = [10, 0, 0, 1];
        let d = [10, 0, 0, 2];
        let a = fold(pseudo_v4(&s, &d, PROTO_TCP, Some(1480)));
        let b = fold(pseudo_v4(&s, &d, PROTO_TCP, None));
        assert_eq!(fold(u64::from(b) + 1480), a);
        let s6 = [0x20; 16];
        let d6 = [0x30; 16];
        let a6 = fold(pseudo_v6(&s6, &d6, PROTO_UDP, Some(0x1_0004)));
        let b6 = fold(pseudo_v6(&s6, &d6, PROTO_UDP, None));
        assert_eq!(fold(u64::from(b6) + 1 + 4), a6);
    }

    #[test]
    fn ipv4_total_length_zero_means_frame_end_and_vlan_tags_shift_l3() {
        let mut f = tcp4(&ep(), &TcpSeg::default(), &[7u8; 300]);
        put16(&mut f, ETH_HLEN + 2, 0);
        let ip = parse(&f).unwrap().ip.unwrap();
        assert_eq!(ip_end(&f, &ip), Some(f.len()));
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x20, 0x05]);
        tagged.extend_from_slice(&f[12..]);
        let p = parse(&tagged).unwrap();
        assert_eq!(p.vlan, Some(0x2005));
        assert_eq!(p.l3, 18);
        assert_eq!(p.ip.unwrap().l4, 38);
    }
}
