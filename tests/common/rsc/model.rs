//! What the indications of a crafted run must look like, and the checks.
//!
//! A [`Scenario`] is a list of crafted frames (in bursts) plus, for the rules whose outcome the
//! miniport decides, the expected indications written from the spec's rules ([`Exp`]): which
//! sent segments form each NBL. The expected SCU is then BUILT with the suite's own packet
//! builder from the member segments by the header rules of spec §1.6 (first segment's IP ID and
//! SEQ, last segment's ACK/WND/Timestamp, minimum TTL, PSH OR-ed, lengths and checksums
//! recomputed) and compared byte for byte with what the miniport indicated; checksum fields
//! flagged ValueInvalid (§1.7) are exempt. Nothing here is computed by the code under test.
//!
//! Where QEMU's coalescer decides the grouping (host RSC_EXT path, spec §7.4) only the
//! miniport's own guarantees are checked ([`check_guarantees`]): every sent byte indicated
//! exactly once, at its sequence number, SCUs with valid headers and checksum claims,
//! counts consistent with the merged segments and with `OID_TCP_RSC_STATISTICS`.

use crate::pkt::{self, IpVer};
use crate::rsc::craft::{self, tf, Fam, Flow, Seg};
use crate::rsc::rig::{Nbl, Observed, Stats, Tx};
use crate::shape::csum;
use testbed::tap::{gso, hdr_flags, VnetHdr};

/// One sent frame.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Flow index in [`Scenario::flows`].
    pub flow: usize,
    /// The segment (None: a raw frame without a TCP header, e.g. a later IPv4 fragment).
    pub seg: Option<Seg>,
    /// The frame as sent (Ethernet, padded to 60 bytes).
    pub frame: Vec<u8>,
    /// A GSO super-frame's virtio-net header.
    pub gso: Option<VnetHdr>,
    /// The segment hits an exception of spec §1.4 (it must be indicated as a non-RSC NBL).
    pub exception: bool,
}

impl Sent {
    fn payload_len(&self) -> usize {
        self.seg.as_ref().map_or(0, |s| s.payload.len())
    }
}

/// One expected indication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exp {
    /// Sent frame `i` indicated unchanged, not as an SCU.
    One(usize),
    /// An SCU of these sent frames (in order; pure ACKs among them are absorbed).
    Scu(Vec<usize>),
    /// Host super-frame `i` indicated as an SCU of its own.
    Host(usize),
}

/// Expected number of RSC `Aborts` of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aborts {
    /// Not specified by the spec for this scenario.
    Any,
    /// Exactly.
    Exactly(u64),
    /// Within (spec ambiguity).
    Between(u64, u64),
}

/// A crafted run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Flows.
    pub flows: Vec<Flow>,
    /// Frames in sending order.
    pub sent: Vec<Sent>,
    /// Burst index of every sent frame (each burst is one DPC).
    pub burst_of: Vec<usize>,
    /// Expected indications (in per-flow order).
    pub exp: Vec<Exp>,
    /// Expected Aborts.
    pub aborts: Aborts,
    /// Per-flow next sequence number / ACK / IP ID / window.
    state: Vec<FlowState>,
    burst: usize,
    mac: [u8; 6],
    /// The host path the scenario runs on (a few scenarios step around host defects).
    pub path: crate::rsc::rig::Path,
    /// At most this many RX ring entries may be used: proof that the host itself coalesced
    /// (otherwise a host path could pass on the miniport's software engine alone).
    pub host_merges: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct FlowState {
    seq: u32,
    ack: u32,
    id: u16,
    salt: u16,
}

impl Scenario {
    /// An empty scenario whose frames carry source MAC `mac`.
    pub fn new(mac: [u8; 6]) -> Scenario {
        Scenario {
            flows: Vec::new(),
            sent: Vec::new(),
            burst_of: Vec::new(),
            exp: Vec::new(),
            aborts: Aborts::Exactly(0),
            state: Vec::new(),
            burst: 0,
            mac,
            path: crate::rsc::rig::Path::Software,
            host_merges: None,
        }
    }

    /// The run's source MAC.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Adds a flow; returns its index.
    pub fn add_flow(&mut self, f: Flow) -> usize {
        let i = self.flows.len();
        self.flows.push(f);
        self.state.push(FlowState {
            // Near the top of the sequence space: SCUs cross the 2^32 wrap in most runs.
            seq: 0xFFFF_0000u32.wrapping_add(i as u32 * 0x0100_0000),
            ack: 0x2000_0000,
            id: 100 + 1000 * i as u16,
            salt: i as u16 + 1,
        });
        i
    }

    /// The family of flow `f`.
    pub fn fam(&self, f: usize) -> Fam {
        self.flows[f].fam
    }

    /// The next in-order segment of flow `f` with `len` payload bytes and the flow's running
    /// ACK, IP ID, default TTL/window — for the caller to adjust before [`Scenario::push`].
    pub fn next(&self, f: usize, len: usize) -> Seg {
        let st = self.state[f];
        Seg {
            seq: st.seq,
            ack: st.ack,
            ip_id: st.id,
            payload: craft::pattern(st.salt, st.seq, len),
            ..Seg::default()
        }
    }

    /// A pure ACK at the flow's current sequence number.
    pub fn pure_ack(&self, f: usize) -> Seg {
        self.next(f, 0)
    }

    /// Regenerates `s`'s payload for its sequence number (after changing `seq`).
    pub fn repayload(&self, f: usize, s: &mut Seg) {
        let len = s.payload.len();
        s.payload = craft::pattern(self.state[f].salt, s.seq, len);
    }

    /// Sends `s` on flow `f`; advances the flow's sequence number past its payload (when it
    /// continues the flow) and the IP ID; returns the frame's index.
    pub fn push(&mut self, f: usize, s: Seg) -> usize {
        self.push_ex(f, s, false)
    }

    /// As [`Scenario::push`], marking the segment as one that hits a §1.4 exception.
    pub fn push_exception(&mut self, f: usize, s: Seg) -> usize {
        self.push_ex(f, s, true)
    }

    fn push_ex(&mut self, f: usize, s: Seg, exception: bool) -> usize {
        let frame = craft::pad_min(craft::build(&self.flows[f], &s));
        let st = &mut self.state[f];
        if s.seq == st.seq {
            st.seq = s.nxt();
        }
        st.ack = s.ack;
        st.id = st.id.wrapping_add(1);
        self.sent.push(Sent {
            flow: f,
            seg: Some(s),
            frame,
            gso: None,
            exception,
        });
        self.burst_of.push(self.burst);
        self.sent.len() - 1
    }

    /// Sends `n` in-order data segments of `len` bytes on flow `f`; returns their indices.
    pub fn data(&mut self, f: usize, n: usize, len: usize) -> Vec<usize> {
        (0..n)
            .map(|_| {
                let s = self.next(f, len);
                self.push(f, s)
            })
            .collect()
    }

    /// Sets flow `f`'s next sequence number.
    pub fn set_seq(&mut self, f: usize, seq: u32) {
        self.state[f].seq = seq;
    }

    /// Sets flow `f`'s running ACK number.
    pub fn set_ack(&mut self, f: usize, ack: u32) {
        self.state[f].ack = ack;
    }

    /// Sends a raw frame belonging to flow `f` (no TCP header of its own).
    pub fn push_raw(&mut self, f: usize, frame: Vec<u8>, exception: bool) -> usize {
        self.sent.push(Sent {
            flow: f,
            seg: None,
            frame: craft::pad_min(frame),
            gso: None,
            exception,
        });
        self.burst_of.push(self.burst);
        self.sent.len() - 1
    }

    /// Sends `s` as a GSO super-frame cut into `mss`-byte segments by the receiver's rules.
    pub fn push_gso(&mut self, f: usize, s: Seg, mss: u16) -> usize {
        let fam = self.flows[f].fam;
        let mut frame = craft::build(&self.flows[f], &s);
        let (l3, thl) = (pkt::ETH_HLEN, s.tcp_hlen());
        let ip = pkt::parse(&frame).and_then(|p| p.ip);
        let l4 = ip.map_or(0, |i| i.l4);
        // As a local Linux sender hands it over: partial checksum (pseudo-header sum with the
        // length in the field) — and here also a stale IPv4 header checksum, which the
        // miniport must not pass on as valid (§1.6, §1.7).
        if let Some(ip) = ip {
            let tcp_len = (frame.len() - ip.l4) as u32;
            pkt::put16(&mut frame, ip.l4 + 16, pkt::fold(ip.pseudo(Some(tcp_len))));
            if fam == Fam::V4 {
                frame[l3 + 10] ^= 0x0F;
            }
        }
        let h = VnetHdr {
            flags: hdr_flags::NEEDS_CSUM,
            gso_type: if fam == Fam::V4 {
                gso::TCPV4
            } else {
                gso::TCPV6
            },
            hdr_len: (l4 + thl) as u16,
            gso_size: mss,
            csum_start: l4 as u16,
            csum_offset: 16,
            num_buffers: 0,
        };
        let st = &mut self.state[f];
        if s.seq == st.seq {
            st.seq = s.nxt();
        }
        st.id = st.id.wrapping_add(1);
        self.sent.push(Sent {
            flow: f,
            seg: Some(s),
            frame,
            gso: Some(h),
            exception: false,
        });
        self.burst_of.push(self.burst);
        self.sent.len() - 1
    }

    /// Later frames go into a new burst (a new receive DPC).
    pub fn new_burst(&mut self) {
        self.burst += 1;
    }

    /// The frames to send, per burst.
    pub fn bursts(&self) -> Vec<Vec<Tx>> {
        let n = self.burst_of.iter().copied().max().map_or(0, |m| m + 1);
        let mut out = vec![Vec::new(); n];
        for (s, &b) in self.sent.iter().zip(&self.burst_of) {
            out[b].push(match s.gso {
                Some(h) => Tx::Vnet(h, s.frame.clone()),
                None => Tx::Plain(s.frame.clone()),
            });
        }
        out
    }

    /// Expects these indications (appended).
    pub fn expect(&mut self, e: impl IntoIterator<Item = Exp>) {
        self.exp.extend(e);
    }
}

// ---------------------------------------------------------------------------------------------
// The expected SCU (spec §1.6), built from its members.

/// The frame an SCU of `members` must be.
pub fn model_scu(sc: &Scenario, members: &[usize]) -> Result<Vec<u8>, String> {
    let segs: Vec<&Seg> = members
        .iter()
        .map(|&i| {
            sc.sent[i]
                .seg
                .as_ref()
                .ok_or("SCU member without a TCP header")
        })
        .collect::<Result<_, _>>()?;
    let first = segs.first().ok_or("empty SCU")?;
    let last = segs.last().ok_or("empty SCU")?;
    let mut m = (*first).clone();
    // TCP: SEQ of the first; ACK and WND of the last; PSH = OR; Timestamp = latest.
    m.ack = last.ack;
    m.wnd = last.wnd;
    if segs.iter().any(|s| s.flags & tf::PSH != 0) {
        m.flags |= tf::PSH;
    }
    m.ts = last.ts;
    // IP: ID of the first; TTL / hop limit = minimum; lengths recomputed by the builder.
    m.ttl = segs.iter().map(|s| s.ttl).min().unwrap_or(first.ttl);
    m.payload = segs
        .iter()
        .flat_map(|s| s.payload.iter().copied())
        .collect();
    m.bad_ip_csum = false;
    m.bad_tcp_csum = false;
    Ok(craft::build(&sc.flows[sent_flow(sc, members)], &m))
}

fn sent_flow(sc: &Scenario, members: &[usize]) -> usize {
    members.first().map_or(0, |&i| sc.sent[i].flow)
}

/// Data (non-empty) segments among `members`.
fn data_count(sc: &Scenario, members: &[usize]) -> usize {
    members
        .iter()
        .filter(|&&i| sc.sent[i].payload_len() > 0)
        .count()
}

/// Offsets of the checksum fields of an Ethernet frame: (IPv4 header checksum, TCP checksum).
fn csum_offsets(f: &[u8]) -> (Option<usize>, Option<usize>) {
    let Some(ip) = pkt::parse(f).and_then(|p| p.ip) else {
        return (None, None);
    };
    let ipc = (ip.ver == IpVer::V4).then_some(pkt::ETH_HLEN + 10);
    let tcpc = (ip.proto == pkt::PROTO_TCP && !ip.later_fragment).then_some(ip.l4 + 16);
    (ipc, tcpc)
}

fn field_name(f: &[u8], off: usize) -> String {
    let Some(ip) = pkt::parse(f).and_then(|p| p.ip) else {
        return format!("byte {off}");
    };
    let l3 = pkt::ETH_HLEN;
    let name = if off < l3 {
        "Ethernet header".to_string()
    } else if off < ip.l4 {
        let o = off - l3;
        match (ip.ver, o) {
            (IpVer::V4, 1) => "IPv4 DSCP/ECN".into(),
            (IpVer::V4, 2 | 3) => "IPv4 total length".into(),
            (IpVer::V4, 4 | 5) => "IPv4 identification".into(),
            (IpVer::V4, 6 | 7) => "IPv4 flags/fragment offset".into(),
            (IpVer::V4, 8) => "IPv4 TTL".into(),
            (IpVer::V4, 10 | 11) => "IPv4 header checksum".into(),
            (IpVer::V6, 0..=3) => "IPv6 traffic class/flow label".into(),
            (IpVer::V6, 4 | 5) => "IPv6 payload length".into(),
            (IpVer::V6, 7) => "IPv6 hop limit".into(),
            _ => format!("IP header byte {o}"),
        }
    } else {
        let o = off - ip.l4;
        let thl = pkt::tcp_hlen(f, ip.l4).unwrap_or(20);
        match o {
            4..=7 => "TCP sequence number".into(),
            8..=11 => "TCP acknowledgement number".into(),
            12 => "TCP data offset".into(),
            13 => "TCP flags".into(),
            14 | 15 => "TCP window".into(),
            16 | 17 => "TCP checksum".into(),
            18 | 19 => "TCP urgent pointer".into(),
            o if o < thl => "TCP options (timestamp)".into(),
            o => format!("TCP payload byte {}", o - thl),
        }
    };
    format!("{name} (offset {off})")
}

/// Compares an indicated frame with the expected one; checksum fields flagged ValueInvalid
/// are not compared. Returns the first differences.
fn compare(got: &[u8], want: &[u8], skip_ip_csum: bool, skip_tcp_csum: bool) -> Vec<String> {
    let mut out = Vec::new();
    if got.len() != want.len() {
        out.push(format!("length {} instead of {}", got.len(), want.len()));
    }
    let (ipc, tcpc) = csum_offsets(want);
    let skip = |o: usize| {
        (skip_ip_csum && ipc.is_some_and(|c| o == c || o == c + 1))
            || (skip_tcp_csum && tcpc.is_some_and(|c| o == c || o == c + 1))
    };
    let mut last_field = String::new();
    for (o, (a, b)) in got.iter().zip(want).enumerate() {
        if a != b && !skip(o) {
            let name = field_name(want, o);
            let stem = name.split(" (").next().unwrap_or("").to_string();
            if stem != last_field {
                out.push(format!("{name}: {a:#04x} instead of {b:#04x}"));
                last_field = stem;
            }
            if out.len() >= 6 {
                break;
            }
        }
    }
    out
}

fn bits(c: usize) -> String {
    let names = [
        (csum::RX_TCP_FAILED, "TcpFailed"),
        (csum::RX_UDP_FAILED, "UdpFailed"),
        (csum::RX_IP_FAILED, "IpFailed"),
        (csum::RX_TCP_OK, "TcpSucceeded"),
        (csum::RX_UDP_OK, "UdpSucceeded"),
        (csum::RX_IP_OK, "IpSucceeded"),
        (csum::RX_TCP_VALUE_INVALID, "TcpValueInvalid"),
        (csum::RX_IP_VALUE_INVALID, "IpValueInvalid"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| c & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join("|")
    }
}

/// §1.7 for an SCU: Ip+TcpChecksumSucceeded always, no failure bits.
/// An SCU's checksum bits, and its bytes against the modelled `want` (checksum values the NBL
/// marks invalid are not compared).
fn scu_frame_matches(n: &Nbl, want: &[u8], what: &str, errs: &mut Vec<String>) {
    scu_csum_bits(n, what, errs);
    let skip_ip = n.csum & csum::RX_IP_VALUE_INVALID != 0;
    let skip_tcp = n.csum & csum::RX_TCP_VALUE_INVALID != 0;
    for d in compare(&n.frame, want, skip_ip, skip_tcp) {
        errs.push(format!("{what}: {d}"));
    }
}

fn scu_csum_bits(n: &Nbl, what: &str, errs: &mut Vec<String>) {
    let c = n.csum;
    if c & csum::RX_IP_OK == 0 || c & csum::RX_TCP_OK == 0 {
        errs.push(format!(
            "{what}: checksum info {} — an SCU must carry IpChecksumSucceeded and \
             TcpChecksumSucceeded (§1.7)",
            bits(c)
        ));
    }
    if c & (csum::RX_IP_FAILED | csum::RX_TCP_FAILED | csum::RX_UDP_FAILED | csum::RX_UDP_OK) != 0 {
        errs.push(format!("{what}: checksum info {} on an SCU", bits(c)));
    }
}

/// Checksum claims on a non-SCU indication must be true, and ValueInvalid bits are SCU-only.
fn single_csum_claims(n: &Nbl, what: &str, errs: &mut Vec<String>) {
    let c = n.csum;
    let f = &n.frame;
    if c & (csum::RX_TCP_VALUE_INVALID | csum::RX_IP_VALUE_INVALID) != 0 {
        errs.push(format!(
            "{what}: {} on a non-RSC NBL (ValueInvalid bits belong to SCUs, §1.7)",
            bits(c)
        ));
    }
    let Some(p) = pkt::parse(f) else { return };
    let Some(ip) = p.ip else { return };
    let ip_good = ip.ver == IpVer::V6 || pkt::ipv4_header_ok(f, p.l3, ip.hlen);
    if c & csum::RX_IP_OK != 0 && !ip_good {
        errs.push(format!("{what}: IpChecksumSucceeded on a bad IPv4 header"));
    }
    if c & csum::RX_IP_FAILED != 0 && ip_good {
        errs.push(format!("{what}: IpChecksumFailed on a good IPv4 header"));
    }
    if let Some(tcp) = verifiable_tcp(f) {
        let good = tcp_ok(f, &ip, tcp);
        if c & csum::RX_TCP_OK != 0 && !good {
            errs.push(format!(
                "{what}: TcpChecksumSucceeded on a bad TCP checksum"
            ));
        }
        if c & csum::RX_TCP_FAILED != 0 && good {
            errs.push(format!("{what}: TcpChecksumFailed on a good TCP checksum"));
        }
    } else if c & (csum::RX_TCP_OK | csum::RX_UDP_OK) != 0 {
        errs.push(format!(
            "{what}: {} on a frame whose TCP checksum cannot be verified (fragment / not TCP)",
            bits(c)
        ));
    }
}

/// Offset of the TCP header when the frame carries a whole TCP segment whose checksum can be
/// verified: not a fragment (an IPv6 atomic fragment — offset 0, M clear — is whole), TCP
/// directly or inside IPsec AH.
fn verifiable_tcp(f: &[u8]) -> Option<usize> {
    let p = pkt::parse(f)?;
    let ip = p.ip?;
    if ip.later_fragment {
        return None;
    }
    if ip.fragment {
        match ip.ver {
            IpVer::V4 => return None,
            IpVer::V6 => {
                // Walk to the fragment header and read its M flag.
                let (mut next, mut off) = (*f.get(p.l3 + 6)?, p.l3 + 40);
                loop {
                    match next {
                        0 | 43 | 60 => {
                            next = *f.get(off)?;
                            off += (usize::from(*f.get(off + 1)?) + 1) * 8;
                        }
                        44 => {
                            if pkt::get16(f, off + 2)? & 1 != 0 {
                                return None;
                            }
                            break;
                        }
                        _ => return None,
                    }
                }
            }
        }
    }
    match ip.proto {
        pkt::PROTO_TCP => Some(ip.l4),
        craft::PROTO_AH if f.get(ip.l4) == Some(&pkt::PROTO_TCP) => {
            Some(ip.l4 + (usize::from(*f.get(ip.l4 + 1)?) + 2) * 4)
        }
        _ => None,
    }
}

/// The TCP checksum at `tcp` is right (pseudo-header with protocol 6 and the TCP length).
fn tcp_ok(f: &[u8], ip: &pkt::Ip, tcp: usize) -> bool {
    let Some(end) = pkt::ip_end(f, ip) else {
        return false;
    };
    let Some(seg) = f.get(tcp..end) else {
        return false;
    };
    let len = Some(seg.len() as u32);
    let ps = match ip.ver {
        IpVer::V4 => pkt::pseudo_v4(&ip.src4(), &ip.dst4(), pkt::PROTO_TCP, len),
        IpVer::V6 => pkt::pseudo_v6(&ip.src, &ip.dst, pkt::PROTO_TCP, len),
    };
    pkt::fold(ps + pkt::sum(seg)) == 0xFFFF
}

/// TCP sequence number and payload of an indicated frame (by its IP length).
fn seq_payload(f: &[u8]) -> Option<(u32, &[u8])> {
    let ip = pkt::parse(f)?.ip?;
    if ip.proto != pkt::PROTO_TCP || ip.later_fragment {
        return None;
    }
    let end = pkt::ip_end(f, &ip)?;
    let thl = pkt::tcp_hlen(f, ip.l4)?;
    Some((pkt::tcp_seq(f, ip.l4)?, f.get(ip.l4 + thl..end)?))
}

fn flow_of_frame(sc: &Scenario, f: &[u8]) -> Option<usize> {
    let (sp, dp) = crate::rsc::rig::tcp_ports(f)?;
    sc.flows
        .iter()
        .position(|fl| fl.sport == sp && fl.dport == dp)
}

/// Whether a frame is an IP fragment (IPv4 MF or offset ≠ 0, IPv6 fragment header).
fn is_fragment(f: &[u8]) -> bool {
    pkt::parse(f)
        .and_then(|p| p.ip)
        .is_some_and(|ip| ip.fragment)
}

/// Ordering domain of every indication — its flow, by ports or (no TCP header) by the sent
/// frame it equals, and whether it is a fragment: RSS hashes fragments by addresses only
/// (no ports), so they may be steered to another processor than their flow's segments and
/// their order relative to them is not the miniport's to keep.
fn nbl_flows(sc: &Scenario, obs: &Observed) -> Vec<Option<(usize, bool)>> {
    obs.nbls
        .iter()
        .map(|n| {
            flow_of_frame(sc, &n.frame)
                .or_else(|| sc.sent.iter().find(|s| s.frame == n.frame).map(|s| s.flow))
                .map(|f| (f, is_fragment(&n.frame)))
        })
        .collect()
}

fn exp_flow(sc: &Scenario, e: &Exp) -> (usize, bool) {
    let first = match e {
        Exp::One(i) | Exp::Host(i) => *i,
        Exp::Scu(m) => m.first().copied().unwrap_or(0),
    };
    let s = &sc.sent[first];
    (s.flow, is_fragment(&s.frame))
}

fn exp_members(e: &Exp) -> Vec<usize> {
    match e {
        Exp::One(i) | Exp::Host(i) => vec![*i],
        Exp::Scu(m) => m.clone(),
    }
}

fn gso_count(s: &Sent) -> usize {
    let mss = s.gso.map_or(1, |h| usize::from(h.gso_size).max(1));
    s.payload_len().div_ceil(mss).max(1)
}

/// Checks one indication against one expectation.
fn check_one(sc: &Scenario, e: &Exp, n: &Nbl, what: &str, errs: &mut Vec<String>) {
    if n.nbs != 1 {
        errs.push(format!(
            "{what}: {} NET_BUFFERs in the NBL (one per NBL, §1.6)",
            n.nbs
        ));
    }
    if n.dup_acks() != 0 {
        errs.push(format!(
            "{what}: DupAckCount {} (NDIS turns RSC off on DupAckCount > 0, §1.5)",
            n.dup_acks()
        ));
    }
    match e {
        Exp::One(i) => {
            let s = &sc.sent[*i];
            let plain_data = !s.exception && s.payload_len() > 0;
            // §1.8: 0 on non-RSC NBLs; whether a lone data segment may say 1 is unconfirmed.
            let ok_count = n.count() == 0 || (plain_data && n.count() == 1);
            if !ok_count {
                errs.push(format!(
                    "{what}: CoalescedSegCount {} on a segment indicated alone (§1.8: 0)",
                    n.count()
                ));
            }
            if n.count() == 0 {
                single_csum_claims(n, what, errs);
            } else {
                scu_csum_bits(n, what, errs);
            }
            for d in compare(&n.frame, &s.frame, false, false) {
                errs.push(format!("{what}: not indicated unchanged: {d}"));
            }
        }
        Exp::Scu(m) => {
            let want = match model_scu(sc, m) {
                Ok(w) => w,
                Err(x) => {
                    errs.push(format!("{what}: {x}"));
                    return;
                }
            };
            let data = data_count(sc, m);
            if usize::from(n.count()) != data {
                errs.push(format!(
                    "{what}: CoalescedSegCount {} instead of {data} (data segments merged, §1.8)",
                    n.count()
                ));
            }
            scu_frame_matches(n, &want, what, errs);
            // §1.5: RscTcpTimestampDelta = latest − earliest TSval.
            let ts: Vec<u32> = m
                .iter()
                .filter_map(|&i| sc.sent[i].seg.as_ref().and_then(|s| s.ts))
                .map(|t| t.0)
                .collect();
            if let (Some(a), Some(b)) = (ts.first(), ts.last()) {
                let want_d = b.wrapping_sub(*a) as usize;
                if n.ts_delta != want_d {
                    errs.push(format!(
                        "{what}: RscTcpTimestampDelta {} instead of {want_d}",
                        n.ts_delta
                    ));
                }
            }
        }
        Exp::Host(i) => {
            let s = &sc.sent[*i];
            let mut want = s.frame.clone();
            if let Some(p) = pkt::parse(&want) {
                if let Some(ip) = p.ip {
                    if ip.ver == IpVer::V4 {
                        pkt::fix_ipv4_header(&mut want, p.l3, ip.hlen);
                    }
                    pkt::fix_l4(&mut want, &ip);
                }
            }
            let c = gso_count(s);
            if usize::from(n.count()) != c {
                errs.push(format!(
                    "{what}: CoalescedSegCount {} instead of {c} (⌈payload / gso_size⌉, §7.5)",
                    n.count()
                ));
            }
            scu_frame_matches(n, &want, what, errs);
        }
    }
}

/// Expected `OID_TCP_RSC_STATISTICS` deltas from the expectations (§1.9).
fn expected_stats(sc: &Scenario) -> Stats {
    let mut s = Stats::default();
    for e in &sc.exp {
        match e {
            Exp::Scu(m) => {
                let d = data_count(sc, m) as u64;
                if d > 0 {
                    s.pkts += d;
                    s.octets += m
                        .iter()
                        .map(|&i| sc.sent[i].payload_len() as u64)
                        .sum::<u64>();
                    s.events += 1;
                }
            }
            Exp::Host(i) => {
                s.pkts += gso_count(&sc.sent[*i]) as u64;
                s.octets += sc.sent[*i].payload_len() as u64;
                s.events += 1;
            }
            Exp::One(_) => {}
        }
    }
    s
}

fn check_aborts(a: Aborts, got: u64, errs: &mut Vec<String>) {
    let ok = match a {
        Aborts::Any => true,
        Aborts::Exactly(x) => got == x,
        Aborts::Between(lo, hi) => (lo..=hi).contains(&got),
    };
    if !ok {
        errs.push(format!(
            "OID_TCP_RSC_STATISTICS Aborts +{got}, expected {a:?} (one per exception other than \
             'datagram too long', §1.9)"
        ));
    }
}

fn describe(e: &Exp) -> String {
    match e {
        Exp::One(i) => format!("frame #{i} alone"),
        Exp::Host(i) => format!("host super-frame #{i}"),
        Exp::Scu(m) => format!(
            "SCU of #{}..#{} ({} frames)",
            m.first().copied().unwrap_or(0),
            m.last().copied().unwrap_or(0),
            m.len()
        ),
    }
}

/// Full check of a run whose outcome the miniport decides: per flow, the indications are
/// exactly the expected ones in the expected order; every NBL's headers and info as the spec
/// says; no expected group spans a DPC boundary and every group was indicated in the DPC of its
/// last frame (nothing held across DPCs, §1.5 Timing); statistics deltas (§1.9).
pub fn check_expected(sc: &Scenario, obs: &Observed) -> Vec<String> {
    let mut errs = Vec::new();
    let flows = nbl_flows(sc, obs);
    for (k, fl) in flows.iter().enumerate() {
        if fl.is_none() {
            errs.push(format!(
                "indication {k} ({} bytes) matches no crafted flow",
                obs.nbls[k].frame.len()
            ));
        }
    }
    for (f, frag) in (0..sc.flows.len()).flat_map(|f| [(f, false), (f, true)]) {
        let got: Vec<usize> = (0..obs.nbls.len())
            .filter(|&k| flows[k] == Some((f, frag)))
            .collect();
        let want: Vec<&Exp> = sc
            .exp
            .iter()
            .filter(|e| exp_flow(sc, e) == (f, frag))
            .collect();
        let fam = sc.flows[f].fam.name();
        let fam = if frag {
            format!("{fam} fragments of")
        } else {
            fam.to_string()
        };
        if got.len() != want.len() {
            let summary: Vec<String> = got
                .iter()
                .map(|&k| {
                    let n = &obs.nbls[k];
                    let (seq, p) = seq_payload(&n.frame).unwrap_or((0, &[]));
                    format!("[seq {seq:#x} len {} count {}]", p.len(), n.count())
                })
                .collect();
            errs.push(format!(
                "{fam} flow {f}: {} indications instead of {} ({}); got {} (receive \
                 errors/discards meanwhile: {})",
                got.len(),
                want.len(),
                want.iter()
                    .map(|e| describe(e))
                    .collect::<Vec<_>>()
                    .join(", "),
                summary.join(" "),
                obs.rx_dropped
            ));
            continue;
        }
        for (j, (&k, e)) in got.iter().zip(&want).enumerate() {
            let what = format!("{fam} flow {f} indication {j} ({})", describe(e));
            check_one(sc, e, &obs.nbls[k], &what, &mut errs);
            // Timing: indicated by the end of the DPC of its last member's burst.
            let last_burst = exp_members(e)
                .iter()
                .map(|&i| sc.burst_of[i])
                .max()
                .unwrap_or(0);
            let first_burst = exp_members(e)
                .iter()
                .map(|&i| sc.burst_of[i])
                .min()
                .unwrap_or(0);
            if first_burst != last_burst {
                errs.push(format!("{what}: scenario error: group spans DPCs"));
            }
            if obs
                .after_burst
                .get(last_burst)
                .is_some_and(|&done| k >= done)
            {
                errs.push(format!(
                    "{what}: indicated only after a later DPC (held across DPCs, §1.5 Timing)"
                ));
            }
            if last_burst > 0 && obs.after_burst.get(last_burst - 1).is_some_and(|&d| k < d) {
                errs.push(format!("{what}: indicated before its frames were sent"));
            }
        }
    }
    if let Some(max) = sc.host_merges {
        if obs.ring_entries > max {
            errs.push(format!(
                "the host did not coalesce: {} RX ring entries for {} frames (at most {max} \
                 expected on the {} path)",
                obs.ring_entries,
                sc.sent.len(),
                sc.path.name()
            ));
        }
    }
    let want = expected_stats(sc);
    let got = obs.stats;
    if (got.pkts, got.octets, got.events) != (want.pkts, want.octets, want.events) {
        errs.push(format!(
            "OID_TCP_RSC_STATISTICS delta CoalescedPkts/Octets/Events {}/{}/{} instead of \
             {}/{}/{} (§1.9)",
            got.pkts, got.octets, got.events, want.pkts, want.octets, want.events
        ));
    }
    check_aborts(sc.aborts, got.aborts, &mut errs);
    errs
}

/// `#0..#45, #47` for a sorted index list.
fn ranges(v: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            format!("#{}", v[i])
        } else {
            format!("#{}..#{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// What [`check_guarantees`] found besides errors.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// Indications with CoalescedSegCount > 0.
    pub scus: usize,
    /// Data segments indicated alone.
    pub alone_data: usize,
    /// Per indication: the sent frames it holds.
    pub groups: Vec<Vec<usize>>,
}

/// The miniport's own guarantees, whoever decided the grouping: every sent data byte is
/// indicated exactly once at its sequence number (no loss, no duplicate, no corruption); a
/// non-SCU indication is a sent frame unchanged, with true checksum claims; an SCU has one NET
/// BUFFER, valid IPv4/IPv6 lengths, a valid IPv4 header checksum (or IpChecksumValueInvalid),
/// a valid TCP checksum (or TcpChecksumValueInvalid), Ip+TcpChecksumSucceeded, DupAckCount 0
/// and a CoalescedSegCount between the data segments it holds and those plus the pure ACKs of
/// its flow a host may have absorbed; per flow the data comes in sending order (`order`); the
/// RSC statistics agree with the indications.
pub fn check_guarantees(sc: &Scenario, obs: &Observed, order: bool) -> (Vec<String>, Found) {
    let mut errs = Vec::new();
    let mut found = Found::default();
    let mut used = vec![false; sc.sent.len()];
    let mut stats = Stats::default();
    let mut last_seq: Vec<Option<usize>> = vec![None; sc.flows.len()];
    for (k, n) in obs.nbls.iter().enumerate() {
        let what = format!("indication {k}");
        if n.nbs != 1 {
            errs.push(format!("{what}: {} NET_BUFFERs (one per NBL, §1.6)", n.nbs));
        }
        if n.dup_acks() != 0 {
            errs.push(format!("{what}: DupAckCount {}", n.dup_acks()));
        }
        let mut group = Vec::new();
        if n.count() == 0 {
            // Unchanged sent frame.
            match (0..sc.sent.len()).find(|&i| !used[i] && sc.sent[i].frame == n.frame) {
                Some(i) => {
                    used[i] = true;
                    group.push(i);
                    single_csum_claims(n, &what, &mut errs);
                    if sc.sent[i].payload_len() > 0 {
                        found.alone_data += 1;
                    }
                }
                None => {
                    errs.push(format!(
                        "{what}: a non-SCU indication that is no sent frame unchanged ({} bytes)",
                        n.frame.len()
                    ));
                    continue;
                }
            }
        } else {
            found.scus += 1;
            let Some(fl) = flow_of_frame(sc, &n.frame) else {
                errs.push(format!("{what}: SCU of no crafted flow"));
                continue;
            };
            let Some((seq, payload)) = seq_payload(&n.frame) else {
                errs.push(format!("{what}: SCU without a parsable TCP segment"));
                continue;
            };
            // Members: unconsumed data segments of the flow, contiguous from `seq`.
            let mut at = seq;
            let mut bytes = Vec::new();
            while bytes.len() < payload.len() {
                let next = (0..sc.sent.len()).find(|&i| {
                    !used[i]
                        && sc.sent[i].flow == fl
                        && sc.sent[i].gso.is_none()
                        && sc.sent[i]
                            .seg
                            .as_ref()
                            .is_some_and(|s| s.seq == at && !s.payload.is_empty())
                });
                let Some(i) = next else { break };
                let s = sc.sent[i]
                    .seg
                    .as_ref()
                    .map(|s| s.payload.clone())
                    .unwrap_or_default();
                used[i] = true;
                group.push(i);
                at = at.wrapping_add(s.len() as u32);
                bytes.extend_from_slice(&s);
            }
            if bytes != payload {
                errs.push(format!(
                    "{what}: SCU payload at seq {seq:#x} ({} bytes) is not the sent segments \
                     from there ({} bytes matched)",
                    payload.len(),
                    bytes.len()
                ));
            }
            let data = group.len();
            let acks = sc
                .sent
                .iter()
                .filter(|s| s.flow == fl && s.seg.as_ref().is_some_and(|x| x.payload.is_empty()))
                .count();
            let c = usize::from(n.count());
            if c < data || c > data + acks {
                errs.push(format!(
                    "{what}: CoalescedSegCount {c} for {data} data segments (§1.8)"
                ));
            }
            scu_csum_bits(n, &what, &mut errs);
            // Headers: lengths, IPv4 header checksum, TCP checksum (unless flagged).
            if let Some(p) = pkt::parse(&n.frame) {
                if let Some(ip) = p.ip {
                    let want_len = match ip.ver {
                        IpVer::V4 => n.frame.len() - p.l3,
                        IpVer::V6 => n.frame.len() - p.l3 - 40,
                    };
                    if usize::from(ip.len_field) != want_len {
                        errs.push(format!(
                            "{what}: IP length field {} for {want_len} bytes",
                            ip.len_field
                        ));
                    }
                    if ip.ver == IpVer::V4
                        && n.csum & csum::RX_IP_VALUE_INVALID == 0
                        && !pkt::ipv4_header_ok(&n.frame, p.l3, ip.hlen)
                    {
                        errs.push(format!(
                            "{what}: invalid IPv4 header checksum without IpChecksumValueInvalid"
                        ));
                    }
                    if n.csum & csum::RX_TCP_VALUE_INVALID == 0 && !pkt::l4_ok(&n.frame, &ip) {
                        errs.push(format!(
                            "{what}: invalid TCP checksum without TcpChecksumValueInvalid"
                        ));
                    }
                }
            }
            stats.pkts += c as u64;
            stats.octets += payload.len() as u64;
            stats.events += 1;
        }
        // Per-flow data order.
        if order {
            for &i in &group {
                if sc.sent[i].payload_len() == 0 {
                    continue;
                }
                let f = sc.sent[i].flow;
                if last_seq[f].is_some_and(|p| p > i) {
                    errs.push(format!(
                        "{what}: data of flow {f} out of sending order (arrival order, §1.5)"
                    ));
                }
                last_seq[f] = Some(i);
            }
        }
        found.groups.push(group);
    }
    let lost: Vec<usize> = (0..sc.sent.len())
        .filter(|&i| !used[i] && (sc.sent[i].payload_len() > 0 || sc.sent[i].seg.is_none()))
        .collect();
    if !lost.is_empty() {
        let bytes: usize = lost.iter().map(|&i| sc.sent[i].payload_len()).sum();
        errs.push(format!(
            "{} sent data frame(s) never indicated ({}; {bytes} payload bytes); the miniport \
             counted {} receive errors/discards meanwhile",
            lost.len(),
            ranges(&lost),
            obs.rx_dropped
        ));
    }
    let got = obs.stats;
    if (got.pkts, got.octets, got.events) != (stats.pkts, stats.octets, stats.events) {
        errs.push(format!(
            "OID_TCP_RSC_STATISTICS delta CoalescedPkts/Octets/Events {}/{}/{} while the \
             indicated SCUs add up to {}/{}/{} (§1.9)",
            got.pkts, got.octets, got.events, stats.pkts, stats.octets, stats.events
        ));
    }
    (errs, found)
}
