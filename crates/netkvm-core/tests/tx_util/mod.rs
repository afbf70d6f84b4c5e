//! Shared helpers for the tx tests: a frame builder that produces what the Windows stack
//! hands a miniport, and an independent oracle (etherparse) for what reaches the wire.
#![allow(dead_code)]

use etherparse::{NetHeaders, PacketHeaders, TransportHeader};
use netkvm_core::tx::{self, TxAction, TxContext, TxPlan};

pub const SRC4: [u8; 4] = [10, 0, 0, 1];
pub const DST4: [u8; 4] = [10, 0, 0, 2];
pub const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// What the stack put in the TCP/UDP checksum field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pseudo {
    /// LSO/USO: pseudo-header sum without the L4 length (spec §2.3, §3.3).
    NoLen,
    /// Checksum offload: with the length (spec §4.2).
    WithLen,
    /// Zero.
    Zero,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub v6: bool,
    pub udp: bool,
    /// 802.1Q tag already in the frame.
    pub tagged: bool,
    /// IPv4 option bytes (multiple of 4).
    pub ip_opts: usize,
    /// IPv6 destination-options header of 8 bytes.
    pub ext: bool,
    /// TCP option bytes (multiple of 4).
    pub tcp_opts: Vec<u8>,
    pub payload: Vec<u8>,
    pub tcp_flags: u8,
    pub seq: u32,
    pub id: u16,
    /// IP length field 0 (LSOv2).
    pub zero_len: bool,
    pub pseudo: Pseudo,
    /// Trailing bytes after the datagram.
    pub padding: usize,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            v6: false,
            udp: false,
            tagged: false,
            ip_opts: 0,
            ext: false,
            tcp_opts: Vec::new(),
            payload: Vec::new(),
            tcp_flags: 0x18, // PSH ACK
            seq: 0x1000_0000,
            id: 0x1234,
            zero_len: false,
            pseudo: Pseudo::WithLen,
            padding: 0,
        }
    }
}

pub fn payload(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 9) as u8)
        .collect()
}

/// Timestamp option padded to 12 bytes: NOP NOP TS(10).
pub fn ts_opts(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut v = vec![1u8, 1, 8, 10];
    v.extend_from_slice(&tsval.to_be_bytes());
    v.extend_from_slice(&tsecr.to_be_bytes());
    v
}

impl Spec {
    pub fn l2_len(&self) -> usize {
        if self.tagged {
            18
        } else {
            14
        }
    }

    pub fn l3_header_len(&self) -> usize {
        if self.v6 {
            40 + if self.ext { 8 } else { 0 }
        } else {
            20 + self.ip_opts
        }
    }

    pub fn l4_offset(&self) -> usize {
        self.l2_len() + self.l3_header_len()
    }

    pub fn l4_header_len(&self) -> usize {
        if self.udp {
            8
        } else {
            20 + self.tcp_opts.len()
        }
    }

    pub fn headers_len(&self) -> usize {
        self.l4_offset() + self.l4_header_len()
    }

    pub fn proto(&self) -> u8 {
        if self.udp {
            17
        } else {
            6
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        if self.tagged {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        }
        f.extend_from_slice(if self.v6 {
            &[0x86, 0xDD]
        } else {
            &[0x08, 0x00]
        });
        let l4_len = self.l4_header_len() + self.payload.len();
        if self.v6 {
            let plen = if self.zero_len {
                0
            } else {
                (l4_len + if self.ext { 8 } else { 0 }) as u16
            };
            f.extend_from_slice(&0x6000_0000u32.to_be_bytes());
            f.extend_from_slice(&plen.to_be_bytes());
            f.push(if self.ext { 60 } else { self.proto() });
            f.push(64);
            f.extend_from_slice(&SRC6);
            f.extend_from_slice(&DST6);
            if self.ext {
                f.extend_from_slice(&[self.proto(), 0, 1, 4, 0, 0, 0, 0]);
            }
        } else {
            let total = if self.zero_len {
                0
            } else {
                (self.l3_header_len() + l4_len) as u16
            };
            f.push(0x40 | (5 + self.ip_opts / 4) as u8);
            f.push(0);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&self.id.to_be_bytes());
            f.extend_from_slice(&[0x40, 0, 64, self.proto(), 0, 0]); // DF, checksum left 0
            f.extend_from_slice(&SRC4);
            f.extend_from_slice(&DST4);
            f.extend(std::iter::repeat_n(1u8, self.ip_opts)); // NOP options
        }
        let l4 = f.len();
        let field = self.pseudo_field(l4_len);
        if self.udp {
            f.extend_from_slice(&5000u16.to_be_bytes());
            f.extend_from_slice(&6000u16.to_be_bytes());
            f.extend_from_slice(&(l4_len as u16).to_be_bytes());
            f.extend_from_slice(&field.to_be_bytes());
        } else {
            f.extend_from_slice(&5000u16.to_be_bytes());
            f.extend_from_slice(&80u16.to_be_bytes());
            f.extend_from_slice(&self.seq.to_be_bytes());
            f.extend_from_slice(&0x0BAD_CAFEu32.to_be_bytes());
            f.push((((20 + self.tcp_opts.len()) / 4) as u8) << 4);
            f.push(self.tcp_flags);
            f.extend_from_slice(&0xFFFFu16.to_be_bytes());
            f.extend_from_slice(&field.to_be_bytes());
            f.extend_from_slice(&[0, 0]);
            f.extend_from_slice(&self.tcp_opts);
        }
        assert_eq!(f.len() - l4, self.l4_header_len());
        f.extend_from_slice(&self.payload);
        f.extend(std::iter::repeat_n(0u8, self.padding));
        f
    }

    /// Pseudo-header sum as the stack writes it, computed by hand from the addresses.
    pub fn pseudo_field(&self, l4_len: usize) -> u16 {
        let len = match self.pseudo {
            Pseudo::Zero => return 0,
            Pseudo::NoLen => 0,
            Pseudo::WithLen => l4_len,
        };
        let mut b = Vec::new();
        if self.v6 {
            b.extend_from_slice(&SRC6);
            b.extend_from_slice(&DST6);
            b.extend_from_slice(&(len as u32).to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, self.proto()]);
        } else {
            b.extend_from_slice(&SRC4);
            b.extend_from_slice(&DST4);
            b.extend_from_slice(&[0, self.proto()]);
            b.extend_from_slice(&(len as u16).to_be_bytes());
        }
        naive_sum(&b)
    }
}

/// Independent RFC 1071 sum (big-endian words, fold at the end).
pub fn naive_sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for c in data.chunks(2) {
        acc += u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0));
    }
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// Splits `frame` into fragments at the given cut points.
pub fn split<'a>(frame: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut v = Vec::new();
    let mut at = 0;
    for &c in cuts {
        let c = c.clamp(at, frame.len());
        v.push(&frame[at..c]);
        at = c;
    }
    v.push(&frame[at..]);
    v
}

/// Runs the planner and returns (plan, header buffer).
pub fn run(
    ctx: &TxContext,
    info: &tx::SendInfo,
    frags: &[&[u8]],
) -> Result<(TxPlan, Vec<u8>), tx::TxError> {
    let mut hb = vec![0u8; tx::TX_HEADER_BUF_LEN];
    let p = tx::plan(ctx, info, frags, &mut hb)?;
    Ok((p, hb))
}

/// The bytes a Device plan puts on the wire (after the virtio header).
pub fn device_wire(plan: &TxPlan, hb: &[u8], frame: &[u8]) -> Vec<u8> {
    assert_eq!(plan.action, TxAction::Device);
    let mut v = hb[..plan.header_buf_len].to_vec();
    v.extend_from_slice(&frame[plan.header_len..]);
    v
}

/// All software segments of a Segment plan.
pub fn segments(plan: &TxPlan, hb: &[u8], frags: &[&[u8]]) -> Vec<(tx::Segment, Vec<u8>)> {
    let mut s = plan.segmenter(hb, frags);
    let mut out = Vec::new();
    let mut buf = vec![0u8; plan.max_segment_len()];
    while let Some(r) = s.next_into(&mut buf) {
        let seg = r.expect("segment");
        out.push((seg, buf[..seg.len].to_vec()));
    }
    out
}

/// All segments of a Segment plan in the zero-copy form, reassembled as header bytes followed
/// by the payload range of the original frame.
pub fn segments_zero_copy(
    plan: &TxPlan,
    hb: &[u8],
    frags: &[&[u8]],
    frame: &[u8],
) -> Vec<(tx::Segment, Vec<u8>)> {
    let mut s = plan.segmenter(hb, frags);
    let mut out = Vec::new();
    let mut buf = vec![0u8; plan.layout.payload_offset];
    while let Some(r) = s.next_header_into(&mut buf) {
        let seg = r.expect("segment header");
        let mut v = buf[..seg.len].to_vec();
        v.extend_from_slice(&frame[seg.payload_offset..seg.payload_offset + seg.payload_len]);
        out.push((seg, v));
    }
    out
}

/// Completes a `NEEDS_CSUM` frame as a virtio device does (virtio 1.2 §5.1.6.2): sum from
/// `csum_start` to the end, store the complement at `csum_start + csum_offset`. Uses the
/// independent reference sum.
pub fn complete_partial(
    frame: &mut [u8],
    hdr: &netkvm_core::wire::virtio::VirtioNetHdr,
    udp: bool,
) {
    if !hdr
        .flags
        .contains(netkvm_core::wire::virtio::HdrFlags::NEEDS_CSUM)
    {
        return;
    }
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    let mut c = !naive_sum(&frame[start..]);
    if udp && c == 0 {
        c = 0xFFFF;
    }
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Device with checksum offload only (no TSO/USO).
pub fn ctx_csum_only() -> TxContext {
    let mut c = ctx_bare();
    c.caps.csum = true;
    c
}

/// What the oracle found in one frame.
#[derive(Clone, Debug)]
pub struct Seen {
    pub ip_id: Option<u16>,
    pub df: bool,
    pub ip_options: Vec<u8>,
    pub tcp: Option<etherparse::TcpHeader>,
    pub udp: Option<etherparse::UdpHeader>,
    pub payload: Vec<u8>,
    pub vlan: Option<u16>,
}

/// Parses a wire frame with etherparse and checks every length and checksum; panics with a
/// message on any violation. `udp_zero_ok`: an IPv4 UDP checksum of 0 is accepted.
pub fn verify_wire(frame: &[u8], udp_zero_ok: bool) -> Seen {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parses the frame");
    let vlan = h.link_exts.iter().find_map(|e| match e {
        etherparse::LinkExtHeader::Vlan(v) => Some(v.vlan_id.value()),
        _ => None,
    });
    let payload = h.payload.slice().to_vec();
    let mut seen = Seen {
        ip_id: None,
        df: false,
        ip_options: vec![],
        tcp: None,
        udp: None,
        payload,
        vlan,
    };
    let l2 = 14 + 4 * h.link_exts.len();
    match h.net.expect("ip") {
        NetHeaders::Ipv4(ip, _) => {
            assert_eq!(
                ip.header_checksum,
                ip.calc_header_checksum(),
                "IPv4 header checksum"
            );
            assert_eq!(
                usize::from(ip.total_len),
                frame.len() - l2,
                "IPv4 total length"
            );
            seen.ip_id = Some(ip.identification);
            seen.df = ip.dont_fragment;
            seen.ip_options = ip.options.as_slice().to_vec();
            match h.transport.expect("l4") {
                TransportHeader::Tcp(t) => {
                    assert_eq!(
                        t.checksum,
                        t.calc_checksum_ipv4(&ip, &seen.payload).unwrap(),
                        "TCP checksum"
                    );
                    seen.tcp = Some(t);
                }
                TransportHeader::Udp(u) => {
                    assert_eq!(usize::from(u.length), 8 + seen.payload.len(), "UDP length");
                    if !(udp_zero_ok && u.checksum == 0) {
                        assert_eq!(
                            u.checksum,
                            u.calc_checksum_ipv4(&ip, &seen.payload).unwrap(),
                            "UDP checksum"
                        );
                    }
                    seen.udp = Some(u);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        NetHeaders::Ipv6(ip, _) => {
            assert_eq!(
                usize::from(ip.payload_length),
                frame.len() - l2 - 40,
                "IPv6 payload length"
            );
            match h.transport.expect("l4") {
                TransportHeader::Tcp(t) => {
                    assert_eq!(
                        t.checksum,
                        t.calc_checksum_ipv6(&ip, &seen.payload).unwrap(),
                        "TCP checksum"
                    );
                    seen.tcp = Some(t);
                }
                TransportHeader::Udp(u) => {
                    assert_eq!(usize::from(u.length), 8 + seen.payload.len(), "UDP length");
                    assert_ne!(u.checksum, 0, "IPv6 UDP checksum must not be 0");
                    assert_eq!(
                        u.checksum,
                        u.calc_checksum_ipv6(&ip, &seen.payload).unwrap(),
                        "UDP checksum"
                    );
                    seen.udp = Some(u);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        NetHeaders::Arp(_) => panic!("arp"),
    }
    seen
}

/// Full capabilities and limits, every offload enabled.
pub fn ctx_all() -> TxContext {
    TxContext {
        config: tx::TxOffloadConfig::ALL,
        encap: tx::Encapsulation::ETHERNET,
        caps: tx::DeviceCaps {
            csum: true,
            tso4: true,
            tso6: true,
            tso_ecn: false,
            uso: true,
            ..Default::default()
        },
        limits: tx::TxLimits::default(),
    }
}

/// Every offload enabled in NDIS but a device without any transmit feature.
pub fn ctx_bare() -> TxContext {
    TxContext {
        caps: tx::DeviceCaps::default(),
        ..ctx_all()
    }
}

/// Pseudo-header sum with an explicit L4 length (what Linux GSO expects in the field),
/// computed by hand from the addresses (independent of `netkvm_core::checksum`).
pub fn linux_gso_pseudo(spec: &Spec, l4_len: usize) -> u16 {
    Spec {
        pseudo: Pseudo::WithLen,
        ..spec.clone()
    }
    .pseudo_field(l4_len)
}
