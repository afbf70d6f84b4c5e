//! Software receive segment coalescing (NetKVM has none; Linux GRO and Hyper-V's vSwitch do).
//!
//! Used when the host delivers MTU-sized TCP segments: per receive batch (one DPC) the
//! miniport hands over the classified frames ([`RscSegment`], built from
//! [`crate::rx::RxInfo`] with [`RscSegment::from_rx`]); [`RscEngine::process`] returns, in
//! arrival order, what to indicate: a frame as is, or an SCU = frame `head` with its headers
//! **rewritten in place** followed by the payload parts of later frames ([`RscEngine::parts`])
//! — so the miniport builds one NET_BUFFER_LIST with one NET_BUFFER whose MDL chain points at
//! the original receive buffers. No payload is copied, nothing is allocated per packet (the
//! engine's arrays are sized once for the largest batch), nothing is held across batches.
//!
//! # Rules (spec §1.4–§1.9, Learn "Rules for coalescing TCP/IP packets")
//! * Exceptions (segment not coalesced): 1 resources (never hit: the flow table evicts, the
//!   arrays fit the batch), 2 checksum not verified good, 3 a flag other than ACK/PSH (or no
//!   ACK), 4 a TCP option other than Timestamp, 5 IPv4 options / IPv6 extension headers, 6 IPv4
//!   fragment. These finalize the flow's SCU and indicate the segment alone. 7 (datagram would
//!   exceed 65535) and 8 (IP ECN or TCP ECE/CWR differ from the previous segment) finalize the
//!   SCU and start a new one with the segment.
//! * Data: coalesced when `SEG.SEQ == H.NXT`, the SCU holds data, `SEG.ACK` does not go
//!   backwards, and the header template matches (same TCP header length and Timestamp layout,
//!   same DF / DSCP / flow label). Otherwise the SCU is finalized and a new one started.
//! * Pure ACKs (flowchart 2, only when `SEG.SEQ == H.NXT` and `SEG.ACK == H.ACK`): a window
//!   update (new WND) is absorbed into the SCU; a duplicate ACK (same WND) is **never**
//!   coalesced — the SCU is finalized and the dup ACK indicated alone (the recommended
//!   behaviour: Windows would otherwise disable RSC on an NBL with `DupAckCount > 0`, and dup
//!   ACKs normally carry SACK anyway). `DupAckCount` is therefore honestly 0 on every SCU:
//!   no duplicate ACK is ever folded into one. Any other pure ACK starts a new SCU.
//! * Timestamps: `SEG.TSval ≥ H.TSval` (mod 2³²) or a new SCU; the SCU carries the latest
//!   TSval/TSecr, `RscTcpTimestampDelta` = latest − earliest TSval.
//! * SCU headers: IPv4 Total Length / IPv6 Payload Length recomputed, IP ID and SEQ of the
//!   first segment, TTL / Hop Limit = minimum, ACK and WND of the last segment, PSH = OR.
//!   The TCP checksum is recomputed from the per-segment payload sums (derived from each
//!   verified segment's checksum field and header: no pass over the payload) and the IPv4
//!   header checksum recomputed, so the SCU reports IpChecksumSucceeded +
//!   TcpChecksumSucceeded with valid values. Per segment this is only additions: a verified
//!   segment's payload sum is −(pseudo-header + TCP header), and one's-complement negation
//!   distributes over sums, so the engine adds up pseudo-header + header sums (in the
//!   little-endian word domain, no byte swaps) and negates once per SCU.
//! * Statistics (`OID_TCP_RSC_STATISTICS`, §1.9): CoalescedPkts / CoalescedOctets per data
//!   segment in an indicated SCU, CoalesceEvents per SCU with CoalescedSegCount > 0 (host
//!   SCUs passing through included), Aborts per exception other than 7.
//! * A segment indicated alone (an SCU of one segment and no absorbed ACK) keeps its headers
//!   and carries no RSC information (CoalescedSegCount 0: an ordinary segment).

use alloc::vec::Vec;

use crate::checksum;
use crate::offload::PerFamily;
use crate::rx::{RscNblInfo, RxChecksumFlags, RxInfo, Verdict};
use crate::wire::{FrameLayout, L3Kind, L4Kind};

/// Flows tracked at once within a batch.
pub const MAX_FLOWS: usize = 32;
/// A tracked SCU that saw no segment for this many candidate segments may be evicted.
const STALE_AFTER: u32 = 2 * MAX_FLOWS as u32;

const F_FIN: u16 = 0x01;
const F_SYN: u16 = 0x02;
const F_RST: u16 = 0x04;
const F_PSH: u16 = 0x08;
const F_ACK: u16 = 0x10;
const F_URG: u16 = 0x20;
const F_ECE: u16 = 0x40;
const F_CWR: u16 = 0x80;
const F_NS: u16 = 0x100;
const NONE: u16 = u16::MAX;

/// One received frame offered to the engine.
#[derive(Debug)]
pub struct RscSegment<'a> {
    /// The frame as indicated (after tag stripping), at least through the TCP header; the SCU
    /// head's headers are rewritten here.
    pub frame: &'a mut [u8],
    /// Its layout (offsets from the start of `frame`).
    pub layout: FrameLayout,
    /// IPv4 header (if any) and TCP checksums verified good.
    pub checksum_ok: bool,
    /// The host already coalesced it: its RSC information (the flow is flushed first, the
    /// frame indicated as is and counted in the statistics).
    pub host_rsc: Option<RscNblInfo>,
    /// 802.1Q TCI that was stripped (0 if none): SCUs never mix tags.
    pub vlan_tci: u16,
}

impl<'a> RscSegment<'a> {
    /// From the RX classification: `first` is the frame's first chunk as classified.
    pub fn from_rx(first: &'a mut [u8], info: &RxInfo) -> Self {
        let frame = first.get_mut(info.data_offset..).unwrap_or_default();
        let ip_ok = !info.layout.is_ipv4() || info.ip_verdict == Verdict::Good;
        RscSegment {
            frame,
            layout: info.layout,
            checksum_ok: ip_ok && info.l4_verdict == Verdict::Good,
            host_rsc: if info.host_coalesced { info.rsc } else { None },
            vlan_tci: info.vlan_tag.map_or(0, |t| t.tci()),
        }
    }
}

/// An SCU to indicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scu {
    /// Frame whose (rewritten) headers start the SCU.
    pub head: u16,
    /// Frames taking part (head included; absorbed pure ACKs contribute 0 bytes).
    pub frames: u16,
    /// Bytes to indicate (headers + all payload).
    pub len: u32,
    /// `NDIS_RSC_NBL_INFO` + `RscTcpTimestampDelta`.
    pub rsc: RscNblInfo,
    /// Checksum bits for the SCU (values recomputed, spec §1.7).
    pub checksum: RxChecksumFlags,
}

/// What to indicate, in arrival order of each output's first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RscOutput {
    /// Indicate frame `i` as classified.
    Single(u16),
    /// Indicate an SCU.
    Scu(Scu),
}

/// A piece of an SCU's MDL chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Frame index in the batch.
    pub frame: u16,
    /// Offset in that frame (0 for the head, the payload offset for the others).
    pub offset: u32,
    /// Bytes (0: an absorbed pure ACK — its buffer may be recycled right away).
    pub len: u32,
}

/// `NDIS_RSC_STATISTICS_INFO` counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RscStats {
    /// Segments coalesced into indicated SCUs.
    pub coalesced_pkts: u64,
    /// Their TCP payload bytes.
    pub coalesced_octets: u64,
    /// SCUs indicated with a non-zero CoalescedSegCount.
    pub coalesce_events: u64,
    /// Exceptions other than "datagram too long".
    pub aborts: u64,
}

/// Engine errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RscError {
    /// More frames than the engine was sized for.
    BatchTooLarge {
        /// Frames passed.
        len: usize,
        /// Capacity.
        capacity: usize,
    },
    /// The per-batch arrays could not be allocated.
    OutOfMemory,
}

#[derive(Clone, Copy, Debug, Default)]
struct Link {
    next: u16,
    offset: u32,
    len: u32,
}

/// Flow identity: ports, addresses (IPv4 in `a[0]`), 802.1Q TCI and family. Built from a few
/// word loads so lookups compare five words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FlowKey {
    ports: u32,
    tag: u32,
    a: [u64; 4],
}

/// The SCU being built for one flow (spec's `H.*`).
#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    key: FlowKey,
    out: u16,
    head: u16,
    tail: u16,
    frames: u16,
    nxt: u32,
    ack: u32,
    wnd: u16,
    seg_count: u16,
    payload: u32,
    changed: bool,
    psh: bool,
    min_ttl: u8,
    ecn: u8,
    ece_cwr: u16,
    /// DSCP + DF (IPv4) or traffic class without ECN + flow label (IPv6).
    template: u32,
    tcp_hl: u8,
    /// Offset of the TSval within the TCP header (0 = no timestamp option).
    ts_off: u8,
    ts_first: u32,
    ts_last: u32,
    tsecr: u32,
    /// Pseudo-header sum of the addresses + protocol (little-endian word domain, unfolded).
    addr_sum: u64,
    /// Unfolded sums of pseudo-header + TCP header (checksum field included) of the data
    /// segments whose payload starts at an even / odd offset of the SCU payload. The payload
    /// sum is their one's-complement negation (odd ones byte-swapped), taken at finalization.
    neg_even: u64,
    neg_odd: u64,
    last_used: u32,
}

/// Fields of one TCP segment, read once.
#[derive(Clone, Copy, Debug, Default)]
struct SegInfo {
    key: FlowKey,
    seq: u32,
    ack: u32,
    wnd: u16,
    flags: u16,
    len: u32,
    ttl: u8,
    ecn: u8,
    template: u32,
    tcp_hl: u8,
    ts_off: u8,
    tsval: u32,
    tsecr: u32,
    /// Unfolded sum of the TCP header (checksum field included), little-endian word domain.
    hdr_sum: u64,
}

fn be16(b: &[u8], o: usize) -> u16 {
    b.get(o..)
        .and_then(<[u8]>::first_chunk)
        .map_or(0, |s| u16::from_be_bytes(*s))
}

fn be32(b: &[u8], o: usize) -> u32 {
    b.get(o..)
        .and_then(<[u8]>::first_chunk)
        .map_or(0, |s| u32::from_be_bytes(*s))
}

/// Native-endian 64-bit word (flow keys only compare for equality: no byte swap needed).
fn ne64(b: &[u8], o: usize) -> u64 {
    b.get(o..o + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    if let Some(s) = b.get_mut(o..o + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

fn put32(b: &mut [u8], o: usize, v: u32) {
    if let Some(s) = b.get_mut(o..o + 4) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Unfolded one's-complement sum of a short header (≤ 60 bytes) in the little-endian word
/// domain: `u32` words added into a `u64` (no carries lost, no byte swaps; fold, then
/// `swap_bytes`, for the network-order sum). Headers here have lengths that are multiples of
/// 4; a remainder is added as little-endian words too.
#[inline(always)]
fn raw_sum(b: &[u8]) -> u64 {
    // u64 words as two u32 halves: scalar adds, no vector widening for a few words.
    let (quads, rest) = b.as_chunks::<8>();
    let mut s: u64 = 0;
    for q in quads {
        let w = u64::from_le_bytes(*q);
        s += (w & 0xFFFF_FFFF) + (w >> 32);
    }
    let (words, rest) = rest.as_chunks::<4>();
    s += words
        .iter()
        .map(|w| u64::from(u32::from_le_bytes(*w)))
        .sum::<u64>();
    let (pairs, last) = rest.as_chunks::<2>();
    s += pairs
        .iter()
        .map(|w| u64::from(u16::from_le_bytes(*w)))
        .sum::<u64>();
    if let [x] = last {
        s += u64::from(*x);
    }
    s
}

/// Network-order folded sum of a short header.
fn small_sum(b: &[u8]) -> u16 {
    checksum::fold(raw_sum(b)).swap_bytes()
}

/// A 32-bit pseudo-header length (or any network-order 32-bit value) in the little-endian
/// word domain.
fn len_le(len: u32) -> u64 {
    u64::from((len as u16).swap_bytes()) + u64::from(((len >> 16) as u16).swap_bytes())
}

/// TCP protocol number as the pseudo-header's zero + protocol word, little-endian domain.
const PROTO_TCP_LE: u64 = 0x0600;

/// Serial-number comparison (RFC 1982 / TCP): `a >= b` modulo 2³².
fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

/// Offset of the TSval inside the TCP header, 0 if no timestamp, `None` for any other option
/// (exception 4) or malformed options.
fn timestamp_offset(tcp: &[u8]) -> Option<u8> {
    let opts = tcp.get(20..)?;
    if opts.is_empty() {
        return Some(0);
    }
    // The layout every stack uses: NOP NOP TS.
    if opts.len() == 12 && opts.starts_with(&[1, 1, 8, 10]) {
        return Some(24);
    }
    let mut i = 0;
    let mut ts = 0u8;
    while let Some(&kind) = opts.get(i) {
        match kind {
            0 => return opts.get(i..)?.iter().all(|&b| b == 0).then_some(ts),
            1 => i += 1,
            8 if opts.get(i + 1) == Some(&10) && ts == 0 && i + 10 <= opts.len() => {
                ts = u8::try_from(20 + i + 2).ok()?;
                i += 10;
            }
            _ => return None,
        }
    }
    Some(ts)
}

/// The flow a TCP segment belongs to: addresses, ports and 802.1Q tag.
#[inline(always)]
fn flow_key(s: &RscSegment<'_>) -> FlowKey {
    let lay = &s.layout;
    let f = &*s.frame;
    let (l3, l4) = (lay.l3_offset, lay.l4_offset);
    let mut key = FlowKey {
        ports: be32(f, l4),
        tag: u32::from(s.vlan_tci),
        a: [0; 4],
    };
    if lay.is_ipv4() {
        key.a[0] = ne64(f, l3 + 12);
    } else {
        key.tag |= 1 << 16;
        for (k, w) in key.a.iter_mut().enumerate() {
            *w = ne64(f, l3 + 8 + 8 * k);
        }
    }
    key
}

/// Sum of the pseudo-header's addresses and protocol (little-endian word domain).
fn addr_sum(s: &RscSegment<'_>) -> u64 {
    let lay = &s.layout;
    let (from, len) = if lay.is_ipv4() {
        (lay.l3_offset + 12, 8)
    } else {
        (lay.l3_offset + 8, 32)
    };
    s.frame.get(from..from + len).map_or(0, raw_sum) + PROTO_TCP_LE
}

/// Pseudo-header + TCP header sum of a verified segment (checksum field included): the
/// one's-complement negation of its payload sum (pseudo + header + payload ≡ 0).
fn neg_payload_sum(addr_sum: u64, si: &SegInfo) -> u64 {
    addr_sum + len_le(u32::from(si.tcp_hl) + si.len) + si.hdr_sum
}

/// Reads and vets a candidate segment: `None` for exceptions 2–6 (indicate alone).
fn inspect(s: &RscSegment<'_>) -> Option<SegInfo> {
    let lay = &s.layout;
    let f = &*s.frame;
    // Exception 2 (checksums not verified good), 5 (IP options / extension headers),
    // 6 (fragments).
    if !s.checksum_ok || lay.ip_options || lay.ipv6_ext_headers || lay.is_fragment() {
        return None;
    }
    let (l3, l4, hl) = (lay.l3_offset, lay.l4_offset, lay.l4_header_len);
    let tcp = f.get(l4..l4 + hl)?;
    let fixed: &[u8; 20] = tcp.first_chunk()?;
    let flags = u16::from_be_bytes([fixed[12], fixed[13]]) & 0x1ff;
    if flags & (F_FIN | F_SYN | F_RST | F_URG | F_NS) != 0 || flags & F_ACK == 0 {
        return None; // exception 3
    }
    let ts_off = timestamp_offset(tcp)?; // exception 4
    let (ttl, ecn, template);
    if lay.is_ipv4() {
        let ip: &[u8; 20] = f.get(l3..)?.first_chunk()?;
        let tos = ip[1];
        ttl = ip[8];
        ecn = tos & 3;
        template = (u32::from(tos >> 2) << 1) | u32::from(ip[6] & 0x40 != 0);
    } else {
        let ip: &[u8; 8] = f.get(l3..)?.first_chunk()?;
        let vtf = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]);
        ttl = ip[7];
        ecn = ((vtf >> 20) & 3) as u8;
        // Traffic class without ECN (6 bits) + flow label (20 bits).
        template = (((vtf >> 22) & 0x3f) << 20) | (vtf & 0xFFFFF);
    }
    let ts = usize::from(ts_off);
    Some(SegInfo {
        key: flow_key(s),
        seq: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        ack: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
        wnd: u16::from_be_bytes([fixed[14], fixed[15]]),
        flags,
        len: lay.payload_len as u32,
        ttl,
        ecn,
        template,
        tcp_hl: hl as u8,
        ts_off,
        tsval: if ts != 0 { be32(tcp, ts) } else { 0 },
        tsecr: if ts != 0 { be32(tcp, ts + 4) } else { 0 },
        hdr_sum: raw_sum(tcp),
    })
}

/// The software RSC engine. Create one per receive queue (its arrays are per-batch scratch).
#[derive(Debug)]
pub struct RscEngine {
    enabled: PerFamily<bool>,
    flows: [Flow; MAX_FLOWS],
    active: usize,
    clock: u32,
    links: Vec<Link>,
    outputs: Vec<RscOutput>,
    stats: RscStats,
}

impl RscEngine {
    /// An engine for batches of up to `max_batch` frames (the DPC budget,
    /// `NumberOfHandledRXPacketsInDPC`); allocates its arrays once, fallibly.
    pub fn new(max_batch: usize) -> Result<Self, RscError> {
        let max_batch = max_batch.min(usize::from(NONE));
        let mut links = Vec::new();
        links
            .try_reserve_exact(max_batch)
            .map_err(|_| RscError::OutOfMemory)?;
        let mut outputs = Vec::new();
        outputs
            .try_reserve_exact(max_batch)
            .map_err(|_| RscError::OutOfMemory)?;
        Ok(RscEngine {
            enabled: PerFamily {
                ipv4: true,
                ipv6: true,
            },
            flows: [Flow::default(); MAX_FLOWS],
            active: 0,
            clock: 0,
            links,
            outputs,
            stats: RscStats::default(),
        })
    }

    /// Largest batch.
    pub fn capacity(&self) -> usize {
        self.links.capacity()
    }

    /// Turns coalescing on or off per family (`OID_TCP_OFFLOAD_PARAMETERS` with
    /// `SoftwareRsc`). Nothing is held between batches, so turning it off needs no flush.
    pub fn set_enabled(&mut self, enabled: PerFamily<bool>) {
        self.enabled = enabled;
    }

    /// Statistics since creation (`OID_TCP_RSC_STATISTICS`).
    pub fn stats(&self) -> RscStats {
        self.stats
    }

    /// The pieces of `scu` in order: the head (from offset 0) then each later frame's payload.
    pub fn parts(&self, scu: &Scu) -> impl Iterator<Item = Part> + '_ {
        let mut next = scu.head;
        let mut left = scu.frames;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let l = self.links.get(usize::from(next))?;
            let p = Part {
                frame: next,
                offset: l.offset,
                len: l.len,
            };
            next = l.next;
            left -= 1;
            Some(p)
        })
    }

    /// Coalesces one receive batch. Returns the indications in order; every frame appears
    /// exactly once (alone, as an SCU head, or as an SCU part).
    pub fn process(&mut self, segs: &mut [RscSegment<'_>]) -> Result<&[RscOutput], RscError> {
        if segs.len() > self.capacity() {
            return Err(RscError::BatchTooLarge {
                len: segs.len(),
                capacity: self.capacity(),
            });
        }
        self.links.clear();
        self.outputs.clear();
        self.active = 0;
        // Payload only; `start` widens a head's part to cover its headers.
        self.links.extend(segs.iter().map(|s| Link {
            next: NONE,
            offset: s.layout.payload_offset as u32,
            len: s.layout.payload_len as u32,
        }));
        for i in 0..segs.len() {
            self.step(segs, i as u16);
        }
        while self.active > 0 {
            self.finalize(segs, self.active - 1);
        }
        Ok(&self.outputs)
    }

    fn enabled_for(&self, lay: &FrameLayout) -> bool {
        match lay.l3 {
            L3Kind::Ipv4 => self.enabled.ipv4,
            L3Kind::Ipv6 => self.enabled.ipv6,
            L3Kind::Other => false,
        }
    }

    fn find(&self, key: &FlowKey) -> Option<usize> {
        self.flows
            .get(..self.active)?
            .iter()
            .position(|f| f.key == *key)
    }

    fn alone(&mut self, i: u16) {
        self.outputs.push(RscOutput::Single(i));
    }

    fn step(&mut self, segs: &mut [RscSegment<'_>], i: u16) {
        let Some(s) = segs.get(usize::from(i)) else {
            return;
        };
        if !matches!(s.layout.l4, L4Kind::Tcp) || !self.enabled_for(&s.layout) {
            return self.alone(i);
        }
        if let Some(r) = s.host_rsc {
            // Keep the flow's order: what we hold goes first.
            if r.coalesced_seg_count > 0 {
                self.stats.coalesced_pkts += u64::from(r.coalesced_seg_count);
                self.stats.coalesced_octets += s.layout.payload_len as u64;
                self.stats.coalesce_events += 1;
            }
            if let Some(fi) = self.find(&flow_key(s)) {
                self.finalize(segs, fi);
            }
            return self.alone(i);
        }
        let Some(si) = inspect(s) else {
            self.stats.aborts += 1;
            if let Some(fi) = self.find(&flow_key(s)) {
                self.finalize(segs, fi);
            }
            return self.alone(i);
        };
        self.clock = self.clock.wrapping_add(1);
        let Some(fi) = self.find(&si.key) else {
            return self.start(segs, i, &si);
        };
        let Some(h) = self.flows.get(fi) else {
            return self.alone(i); // not reached: find() returns an index below `active`
        };
        // Exception 8: ECN codepoint or ECE/CWR changed → new SCU with this segment.
        if si.ecn != h.ecn || si.flags & (F_ECE | F_CWR) != h.ece_cwr {
            self.stats.aborts += 1;
            self.finalize(segs, fi);
            return self.start(segs, i, &si);
        }
        // Template and timestamp order: otherwise a new SCU (not an exception).
        let ts_ok = si.ts_off == 0 || seq_ge(si.tsval, h.ts_last);
        if si.template != h.template || si.tcp_hl != h.tcp_hl || si.ts_off != h.ts_off || !ts_ok {
            self.finalize(segs, fi);
            return self.start(segs, i, &si);
        }
        if si.len == 0 {
            // Flowchart 2: classify the pure ACK (DupAckCount is always 0 here).
            if si.seq == h.nxt && si.ack == h.ack {
                if si.wnd != h.wnd {
                    return self.absorb_window_update(fi, i, &si);
                }
                // Duplicate ACK: never coalesced; indicated on its own.
                self.finalize(segs, fi);
                return self.alone(i);
            }
            self.finalize(segs, fi);
            return self.start(segs, i, &si);
        }
        if si.seq != h.nxt || h.payload == 0 || !seq_ge(si.ack, h.ack) {
            self.finalize(segs, fi);
            return self.start(segs, i, &si);
        }
        // Exception 7: the SCU would exceed the largest legal datagram.
        let ip_hdr = if s.layout.is_ipv4() { 20 } else { 0 };
        if ip_hdr + u32::from(si.tcp_hl) + h.payload + si.len > 65535 {
            self.finalize(segs, fi);
            return self.start(segs, i, &si);
        }
        self.append(fi, i, &si);
    }

    fn start(&mut self, segs: &mut [RscSegment<'_>], i: u16, si: &SegInfo) {
        if self.active == MAX_FLOWS {
            // Table full: finalize the least recently used SCU if it went stale; if every
            // tracked flow is still active, this segment is exception 1 (resource limit) and
            // goes alone — evicting an active flow would make round-robin traffic over more
            // than MAX_FLOWS flows evict every SCU just before its next segment.
            let clock = self.clock;
            let (oldest, last_used) = self
                .flows
                .iter()
                .take(self.active)
                .map(|f| f.last_used)
                .enumerate()
                .max_by_key(|&(_, used)| clock.wrapping_sub(used))
                .unwrap_or((0, self.flows[0].last_used));
            if clock.wrapping_sub(last_used) <= STALE_AFTER {
                self.stats.aborts += 1;
                return self.alone(i);
            }
            self.finalize(segs, oldest);
        }
        let Some(s) = segs.get(usize::from(i)) else {
            return;
        };
        let out = self.outputs.len() as u16;
        self.outputs.push(RscOutput::Single(i));
        if let Some(l) = self.links.get_mut(usize::from(i)) {
            l.offset = 0;
            l.len = (s.layout.payload_offset + s.layout.payload_len) as u32;
        }
        let addr_sum = addr_sum(s);
        let Some(slot) = self.flows.get_mut(self.active) else {
            return self.alone(i);
        };
        *slot = Flow {
            key: si.key,
            out,
            head: i,
            tail: i,
            frames: 1,
            nxt: si.seq.wrapping_add(si.len),
            ack: si.ack,
            wnd: si.wnd,
            seg_count: u16::from(si.len > 0),
            payload: si.len,
            changed: false,
            psh: si.flags & F_PSH != 0,
            min_ttl: si.ttl,
            ecn: si.ecn,
            ece_cwr: si.flags & (F_ECE | F_CWR),
            template: si.template,
            tcp_hl: si.tcp_hl,
            ts_off: si.ts_off,
            ts_first: si.tsval,
            ts_last: si.tsval,
            tsecr: si.tsecr,
            addr_sum,
            neg_even: if si.len > 0 {
                neg_payload_sum(addr_sum, si)
            } else {
                0
            },
            neg_odd: 0,
            last_used: self.clock,
        };
        self.active += 1;
    }

    /// Links frame `i` after the flow's tail.
    fn link(&mut self, fi: usize, i: u16) {
        let Some(h) = self.flows.get_mut(fi) else {
            return;
        };
        let tail = core::mem::replace(&mut h.tail, i);
        h.frames += 1;
        if let Some(l) = self.links.get_mut(usize::from(tail)) {
            l.next = i;
        }
    }

    fn absorb_window_update(&mut self, fi: usize, i: u16, si: &SegInfo) {
        let clock = self.clock;
        let Some(h) = self.flows.get_mut(fi) else {
            return;
        };
        h.wnd = si.wnd;
        h.ts_last = si.tsval;
        h.tsecr = si.tsecr;
        h.min_ttl = h.min_ttl.min(si.ttl);
        h.changed = true;
        h.last_used = clock;
        if let Some(l) = self.links.get_mut(usize::from(i)) {
            l.len = 0;
        }
        self.link(fi, i);
    }

    fn append(&mut self, fi: usize, i: u16, si: &SegInfo) {
        let clock = self.clock;
        let Some(h) = self.flows.get_mut(fi) else {
            return;
        };
        // A block starting at an odd offset contributes byte-swapped (RFC 1071 §2(B)).
        let neg = neg_payload_sum(h.addr_sum, si);
        if h.payload & 1 == 1 {
            h.neg_odd += neg;
        } else {
            h.neg_even += neg;
        }
        h.payload += si.len;
        h.nxt = h.nxt.wrapping_add(si.len);
        h.ack = si.ack;
        h.wnd = si.wnd;
        h.seg_count = h.seg_count.saturating_add(1);
        h.psh |= si.flags & F_PSH != 0;
        h.min_ttl = h.min_ttl.min(si.ttl);
        h.ts_last = si.tsval;
        h.tsecr = si.tsecr;
        h.changed = true;
        h.last_used = clock;
        self.link(fi, i);
    }

    /// Rewrites the head's headers and fills the output slot; removes the flow.
    fn finalize(&mut self, segs: &mut [RscSegment<'_>], fi: usize) {
        let Some(&h) = self.flows.get(fi) else {
            return;
        };
        self.active -= 1;
        // Move the last active flow into the freed slot (nothing to move if `fi` was last).
        if let Some([slot, .., last]) = self.flows.get_mut(fi..=self.active) {
            *slot = *last;
        }
        if !h.changed {
            return; // a lone segment: indicated as is (slot already holds Single(head))
        }
        let Some(s) = segs.get_mut(usize::from(h.head)) else {
            return;
        };
        let lay = s.layout;
        let f = &mut *s.frame;
        let (l3, l4, hl) = (lay.l3_offset, lay.l4_offset, usize::from(h.tcp_hl));
        let tcp_len = u32::from(h.tcp_hl) + h.payload;
        if lay.is_ipv4() {
            let ihl = lay.l3_header_len;
            put16(f, l3 + 2, (ihl as u32 + tcp_len) as u16);
            if let Some(t) = f.get_mut(l3 + 8) {
                *t = h.min_ttl;
            }
            put16(f, l3 + 10, 0);
            let c = f.get(l3..l3 + ihl).map_or(0, |b| !small_sum(b));
            put16(f, l3 + 10, c);
        } else {
            put16(f, l3 + 4, tcp_len as u16);
            if let Some(t) = f.get_mut(l3 + 7) {
                *t = h.min_ttl;
            }
        }
        put32(f, l4 + 8, h.ack);
        put16(f, l4 + 14, h.wnd);
        if h.psh {
            let fl = be16(f, l4 + 12) | F_PSH;
            put16(f, l4 + 12, fl);
        }
        if h.ts_off != 0 {
            put32(f, l4 + usize::from(h.ts_off), h.ts_last);
            put32(f, l4 + usize::from(h.ts_off) + 4, h.tsecr);
        }
        put16(f, l4 + 16, 0);
        let hs = f.get(l4..l4 + hl).map_or(0, raw_sum);
        let payload = u64::from(!checksum::fold(h.neg_even))
            + u64::from((!checksum::fold(h.neg_odd)).swap_bytes());
        let total = checksum::fold(h.addr_sum + len_le(tcp_len) + hs + payload).swap_bytes();
        put16(f, l4 + 16, !total);

        let scu = Scu {
            head: h.head,
            frames: h.frames,
            len: (l4 + hl) as u32 + h.payload,
            rsc: RscNblInfo {
                coalesced_seg_count: h.seg_count,
                dup_ack_count: 0,
                timestamp_delta: (h.ts_off != 0).then(|| h.ts_last.wrapping_sub(h.ts_first)),
            },
            checksum: RxChecksumFlags::IP_SUCCEEDED | RxChecksumFlags::TCP_SUCCEEDED,
        };
        if h.seg_count > 0 {
            self.stats.coalesced_pkts += u64::from(h.seg_count);
            self.stats.coalesced_octets += u64::from(h.payload);
            self.stats.coalesce_events += 1;
        }
        if let Some(o) = self.outputs.get_mut(usize::from(h.out)) {
            *o = RscOutput::Scu(scu);
        }
    }
}

#[cfg(test)]
mod tests;
