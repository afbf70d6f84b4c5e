//! Receive classification: one received frame + its `virtio_net_hdr` → the NDIS receive
//! information as plain values (checksum bits, RSC info, 802.1Q, RSS hash), or a typed error
//! saying why the frame must be dropped.
//!
//! # Input
//! The frame starts at the Ethernet header. Its first chunk (the first receive buffer after
//! the virtio header: a 4 KiB page with mergeable buffers) is **mutable**: partial checksums
//! are completed, stale IPv4 header checksums rewritten and the 802.1Q tag stripped in place.
//! Further chunks (mergeable pages) are read-only. All headers the driver parses must be in
//! the first chunk (they always are with ≥ 1 KiB first buffers; otherwise
//! [`RxError::HeadersSplit`]).
//!
//! # Checksum verdicts (spec §4.2, §1.7, §7.3; NetKVM §5)
//! * `DATA_VALID` (with `GUEST_CSUM`): the device validated TCP/UDP → succeeded.
//! * `NEEDS_CSUM`: the checksum field holds the pseudo-header sum of a local sender; the
//!   driver completes it (writes the real checksum into the frame) → succeeded.
//! * otherwise: verified in software when reporting is enabled or software RSC needs it.
//! * The IPv4 header checksum is always verified in software (Linux does not trust devices
//!   for it either), or recomputed for host-coalesced frames (QEMU leaves it stale).
//! * A bad checksum is never reported as succeeded; fragments skip L4; IPv6 packets with a
//!   type-2 routing header or Home Address option are not verified (their pseudo-header uses
//!   other addresses) and left to the stack.
//!
//! # Host-coalesced frames
//! `gso_type` TCPv4/TCPv6 (host GRO or QEMU's RSC_EXT coalescer) → an SCU: segment count from
//! `RSC_INFO` (`csum_start`) or estimated as ⌈payload / MSS⌉ with the MSS clamped to what the
//! MTU allows (as NetKVM); DupAckCount from `RSC_INFO` (`csum_offset`) — passed through: the
//! device did absorb those duplicate ACKs; IpChecksumSucceeded + TcpChecksumSucceeded always
//! (§1.7) with the IPv4 header checksum recomputed, and the TCP checksum either recomputed
//! over the whole SCU or flagged `TcpChecksumValueInvalid` ([`ScuChecksum`]).
//!
//! # QEMU defect 2 (frames above the MTU marked `GSO_NONE`, possibly with a partial checksum)
//! A TCP frame above the MTU without GSO fields can only be a host-coalesced frame whose
//! fields were lost. When RSC is enabled for its family it is treated as one: if its checksum
//! verifies it is indicated as an SCU; if the checksum field holds exactly the pseudo-header
//! sum (what a `CHECKSUM_PARTIAL` skb carries; a random match has probability 2⁻¹⁶) the host
//! handed it over unchecksummed from a local sender, so the checksum is completed and the
//! frame indicated as an SCU; otherwise it is indicated with TcpChecksumFailed. Without RSC
//! for the family (or for non-TCP frames) it is dropped ([`RxError::ExceedsMtu`]): the stack
//! must never see a datagram above the MTU that is not an SCU.

use bitflags::bitflags;

use crate::checksum::{self, Checksum};
use crate::offload::{max_rx_frame, Features, PerFamily, RscPath, RxChecksumConfig};
use crate::params::PriorityVlan;
use crate::rss::{self, HashCheck, HashTypes, L3Fields, L4Fields, RssHash, Toeplitz};
use crate::wire::virtio::{GsoType, HdrFlags, VirtioNetHdr};
use crate::wire::{
    ip_proto, parse_frame, FrameLayout, L3Kind, L4Kind, LenMode, ParseError, VlanTag,
    ETH_HEADER_LEN,
};

bitflags! {
    /// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.Receive` bits (spec §4.2).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct RxChecksumFlags: u32 {
        /// `TcpChecksumFailed`.
        const TCP_FAILED = 0x1;
        /// `UdpChecksumFailed`.
        const UDP_FAILED = 0x2;
        /// `IpChecksumFailed`.
        const IP_FAILED = 0x4;
        /// `TcpChecksumSucceeded`.
        const TCP_SUCCEEDED = 0x8;
        /// `UdpChecksumSucceeded`.
        const UDP_SUCCEEDED = 0x10;
        /// `IpChecksumSucceeded`.
        const IP_SUCCEEDED = 0x20;
        /// `TcpChecksumValueInvalid` (NDIS 6.30, RSC only).
        const TCP_VALUE_INVALID = 0x80;
        /// `IpChecksumValueInvalid` (NDIS 6.30, RSC only).
        const IP_VALUE_INVALID = 0x100;
    }
}

/// Outcome of one checksum check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Not checked (disabled, not applicable, or not verifiable).
    #[default]
    NotChecked,
    /// Verified (or completed) correct.
    Good,
    /// Verified wrong.
    Bad,
}

/// How the TCP checksum of a host-coalesced frame is reported (spec §1.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ScuChecksum {
    /// Leave the field and set `TcpChecksumValueInvalid` (NetKVM's choice; no pass over up to
    /// 64 KiB of payload).
    #[default]
    MarkValueInvalid,
    /// Compute the SCU's TCP checksum and write it (one pass over the payload).
    Recompute,
}

/// What the RX path needs to know about the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxConfig {
    /// Negotiated virtio features.
    pub features: Features,
    /// Which checksums may be reported ([`crate::offload::OffloadState::rx_checksum`]).
    pub csum: RxChecksumConfig,
    /// RSC per family ([`crate::offload::OffloadState::rsc_path`]): coalesced frames may be
    /// indicated only where enabled.
    pub rsc: PerFamily<RscPath>,
    /// MTU (largest IP datagram outside SCUs).
    pub mtu: u32,
    /// `*PriorityVLANTag`.
    pub priority_vlan: PriorityVlan,
    /// `VlanID` (0 = any).
    pub vlan_id: u16,
    /// Host SCU TCP checksum policy.
    pub scu_checksum: ScuChecksum,
}

impl RxConfig {
    /// The RX configuration of an adapter: negotiated features, checksum reporting and RSC
    /// paths from its offload state, VLAN settings from the registry, `mtu` from the device
    /// (`VIRTIO_NET_F_MTU`) or `*JumboPacket`.
    pub fn new(
        state: &crate::offload::OffloadState,
        config: &crate::params::Config,
        mtu: u32,
    ) -> Self {
        RxConfig {
            features: state.negotiated,
            csum: state.rx_checksum(),
            rsc: state.rsc_path(),
            mtu,
            priority_vlan: config.priority_vlan,
            vlan_id: config.vlan_id,
            scu_checksum: ScuChecksum::default(),
        }
    }
}

/// The frame: a mutable first chunk and read-only further chunks.
#[derive(Debug)]
pub struct RxFrame<'a, 'b> {
    /// First chunk (from the Ethernet header).
    pub first: &'a mut [u8],
    /// Further chunks in order.
    pub rest: &'b [&'b [u8]],
}

/// RSS parameters for one classification.
#[derive(Clone, Copy, Debug)]
pub struct RssParams<'a> {
    /// The hasher with the current key.
    pub toeplitz: &'a Toeplitz,
    /// Enabled hash types.
    pub types: HashTypes,
}

/// `NDIS_RSC_NBL_INFO` values (+ `RscTcpTimestampDelta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RscNblInfo {
    /// `CoalescedSegCount` (data segments).
    pub coalesced_seg_count: u16,
    /// `DupAckCount`.
    pub dup_ack_count: u16,
    /// `RscTcpTimestampDelta`, if known.
    pub timestamp_delta: Option<u32>,
}

/// 802.1Q information for `Ieee8021QNetBufferListInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ieee8021Q {
    /// `UserPriority`.
    pub priority: u8,
    /// `VlanId`.
    pub vlan_id: u16,
}

/// The classification of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxInfo {
    /// Layout of the frame as indicated (after tag stripping: offsets from `data_offset`).
    pub layout: FrameLayout,
    /// Bytes at the start of the first chunk not to indicate (4 when a tag was stripped).
    pub data_offset: usize,
    /// Bytes to indicate (whole frame after `data_offset`).
    pub frame_len: usize,
    /// Bytes of the first chunk that belong to the frame (after `data_offset`).
    pub first_len: usize,
    /// Checksum bits to report.
    pub checksum: RxChecksumFlags,
    /// IPv4 header checksum verdict (NotChecked for IPv6 / non-IP).
    pub ip_verdict: Verdict,
    /// TCP/UDP checksum verdict.
    pub l4_verdict: Verdict,
    /// RSC information for host-coalesced frames.
    pub rsc: Option<RscNblInfo>,
    /// The host coalesced this frame (do not feed it to the software engine).
    pub host_coalesced: bool,
    /// A `NEEDS_CSUM` partial checksum was completed in software.
    pub completed_partial: bool,
    /// The frame may be offered to the software RSC engine (TCP, software RSC on for its
    /// family, checksums verified good).
    pub rsc_candidate: bool,
    /// The 802.1Q tag found (stripped), before the priority/VLAN settings are applied.
    pub vlan_tag: Option<VlanTag>,
    /// What to report in `Ieee8021QNetBufferListInfo`.
    pub ieee8021q: Option<Ieee8021Q>,
    /// Software RSS hash.
    pub hash: Option<RssHash>,
    /// Cross-check with the device's hash report.
    pub hash_check: HashCheck,
    /// Bytes missing to the 60-byte Ethernet minimum (the miniport pads if it can).
    pub short_by: usize,
}

/// Why a frame is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// The device reported more bytes than the buffer holds.
    UsedLenBeyondBuffer {
        /// Reported length.
        used: u32,
        /// Buffer capacity.
        capacity: u32,
    },
    /// `num_buffers` of 0 or above what a frame can need.
    BadNumBuffers {
        /// Reported count.
        num_buffers: u16,
        /// Maximum.
        max: u16,
    },
    /// Shorter than an Ethernet header (or than the virtio header).
    Runt {
        /// Bytes.
        len: usize,
    },
    /// Longer than any frame the negotiated features allow.
    TooLong {
        /// Bytes.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// An IP datagram above the MTU that cannot be indicated as an SCU.
    ExceedsMtu {
        /// IP datagram length.
        len: usize,
        /// MTU.
        mtu: u32,
    },
    /// Malformed headers.
    Parse(ParseError),
    /// Headers (or a checksum field to complete) not inside the first chunk.
    HeadersSplit,
    /// `csum_start`/`csum_offset` outside the frame.
    CsumOutOfFrame {
        /// `csum_start`.
        start: u16,
        /// `csum_offset`.
        offset: u16,
    },
    /// `csum_start` of an IP frame inside its IP header (or extension headers): completing the
    /// "partial checksum" would overwrite header bytes already verified (hostile device).
    CsumInsideL3Header {
        /// `csum_start`.
        start: u16,
        /// `csum_offset`.
        offset: u16,
    },
    /// `csum_start`/`csum_offset` of a GSO frame not at the TCP checksum.
    CsumNotTcp {
        /// `csum_start`.
        start: u16,
        /// `csum_offset`.
        offset: u16,
    },
    /// `gso_type` set without `NEEDS_CSUM`, `DATA_VALID` or `RSC_INFO`.
    GsoWithoutChecksum,
    /// `gso_type` does not match the frame (not TCP, wrong IP version).
    GsoMismatch {
        /// Raw `gso_type`.
        gso_type: u8,
    },
    /// A `gso_type` (or ECN bit) for an offload that was not negotiated.
    GsoNotNegotiated {
        /// Raw `gso_type`.
        gso_type: u8,
    },
    /// `hdr_len` beyond the frame.
    HdrLenBeyondFrame {
        /// `hdr_len`.
        hdr_len: u16,
        /// Frame length.
        len: usize,
    },
    /// `RSC_INFO` without `RSC_EXT` negotiated.
    RscInfoNotNegotiated,
    /// `RSC_INFO` without a TCP `gso_type`.
    RscInfoWithoutGso,
    /// `RSC_INFO` with zero coalesced segments.
    RscZeroSegments,
    /// A coalesced frame for a family whose RSC is off (the host has not applied
    /// `CTRL_GUEST_OFFLOADS_SET` yet): indicating it would break spec §1.2.
    CoalescedWhileRscDisabled,
    /// Tagged for a VLAN this adapter is not a member of.
    VlanFiltered {
        /// The frame's VLAN ID.
        vid: u16,
    },
}

impl From<ParseError> for RxError {
    fn from(e: ParseError) -> Self {
        RxError::Parse(e)
    }
}

/// Validates one used-ring entry: `used_len` bytes written into a buffer of `capacity`
/// bytes. Returns the frame bytes it holds (the virtio header of `hdr_size` bytes excluded
/// for the first buffer of a frame).
pub fn validate_used_len(
    used_len: u32,
    capacity: u32,
    hdr_size: usize,
    first: bool,
) -> Result<usize, RxError> {
    if used_len > capacity {
        return Err(RxError::UsedLenBeyondBuffer {
            used: used_len,
            capacity,
        });
    }
    let n = used_len as usize;
    if first {
        n.checked_sub(hdr_size).ok_or(RxError::Runt { len: n })
    } else {
        Ok(n)
    }
}

/// Validates `num_buffers` of a mergeable frame against the layout's maximum.
pub fn validate_num_buffers(num_buffers: u16, max: u16) -> Result<u16, RxError> {
    if num_buffers == 0 || num_buffers > max {
        Err(RxError::BadNumBuffers { num_buffers, max })
    } else {
        Ok(num_buffers)
    }
}

// ---------------------------------------------------------------------------------------------
// Byte helpers (bounds-checked, never panic)
// ---------------------------------------------------------------------------------------------

fn be16(b: &[u8], off: usize) -> u16 {
    b.get(off..)
        .and_then(<[u8]>::first_chunk)
        .map_or(0, |s| u16::from_be_bytes(*s))
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

fn arr4(b: &[u8], off: usize) -> [u8; 4] {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 4])
}

fn arr16(b: &[u8], off: usize) -> [u8; 16] {
    b.get(off..off + 16)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 16])
}

/// Continues `c` with frame bytes `[start, end)` across the chunks.
fn sum_range(c: &mut Checksum, first: &[u8], rest: &[&[u8]], start: usize, end: usize) {
    let mut base = 0usize;
    for chunk in core::iter::once(first).chain(rest.iter().copied()) {
        let (lo, hi) = (start.max(base), end.min(base + chunk.len()));
        if lo < hi {
            if let Some(s) = chunk.get(lo - base..hi - base) {
                c.add_bytes(s);
            }
        }
        base += chunk.len();
        if base >= end {
            break;
        }
    }
}

/// Pseudo-header sum with the L4 length for the frame's IP version.
fn pseudo_sum(frame: &[u8], lay: &FrameLayout, proto: u8) -> u16 {
    let len = lay.l4_len() as u32;
    let l3 = lay.l3_offset;
    if lay.is_ipv4() {
        checksum::pseudo_header_v4(arr4(frame, l3 + 12), arr4(frame, l3 + 16), proto, Some(len))
    } else {
        checksum::pseudo_header_v6(
            &arr16(frame, l3 + 8),
            &arr16(frame, l3 + 24),
            proto,
            Some(len),
        )
    }
}

/// Parses the frame; with several chunks the IP length fields are checked against the total.
fn parse(first: &[u8], total: usize, multi: bool) -> Result<FrameLayout, RxError> {
    if !multi {
        return Ok(parse_frame(first, LenMode::Strict)?);
    }
    let mut lay = match parse_frame(first, LenMode::Lax) {
        Ok(l) => l,
        // Ran off the end of the first chunk: the headers continue in the next one.
        Err(ParseError::Len(l)) if l.offset + l.available >= first.len() => {
            return Err(RxError::HeadersSplit)
        }
        Err(e) => return Err(e.into()),
    };
    if lay.l3 == L3Kind::Other {
        lay.payload_len = total.saturating_sub(lay.payload_offset);
        return Ok(lay);
    }
    let dgram = crate::wire::ip_length_field(first, &lay).unwrap_or(0);
    let min = lay.l3_header_len
        + if lay.is_fragment() {
            0
        } else {
            lay.l4_header_len
        };
    if dgram < min {
        return Err(RxError::Parse(ParseError::Len(crate::wire::LenError {
            layer: if lay.is_ipv4() {
                crate::wire::Layer::Ipv4
            } else {
                crate::wire::Layer::Ipv6
            },
            offset: lay.l3_offset,
            required: min,
            available: dgram,
            source: if lay.is_ipv4() {
                crate::wire::LenSource::Ipv4TotalLength
            } else {
                crate::wire::LenSource::Ipv6PayloadLength
            },
        })));
    }
    if lay.l3_offset + dgram > total {
        return Err(RxError::Parse(ParseError::Len(crate::wire::LenError {
            layer: if lay.is_ipv4() {
                crate::wire::Layer::Ipv4
            } else {
                crate::wire::Layer::Ipv6
            },
            offset: lay.l3_offset,
            required: dgram,
            available: total - lay.l3_offset,
            source: crate::wire::LenSource::Buffer,
        })));
    }
    lay.l3_datagram_len = dgram;
    lay.padding = total - lay.l3_end();
    lay.payload_len = lay.l3_end().saturating_sub(lay.payload_offset);
    if lay.is_udp() && !lay.is_fragment() {
        let ulen = usize::from(be16(first, lay.l4_offset + 4));
        if ulen < 8 || ulen > lay.l4_len() {
            return Err(RxError::Parse(ParseError::Invalid {
                layer: crate::wire::Layer::Udp,
                offset: lay.l4_offset,
                what: crate::wire::Invalid::UdpLength(ulen as u16),
            }));
        }
        lay.payload_len = ulen - 8;
    }
    Ok(lay)
}

/// MSS the MTU allows for this frame's headers (NetKVM clamps `gso_size` to it).
fn mtu_mss(lay: &FrameLayout, mtu: u32) -> usize {
    (mtu as usize)
        .saturating_sub(lay.l3_header_len + lay.l4_header_len)
        .max(1)
}

/// Segment-count estimate for a coalesced frame without `RSC_INFO` (spec §7.5).
fn estimate_segments(lay: &FrameLayout, gso_size: u16, mtu: u32) -> u16 {
    let bound = mtu_mss(lay, mtu);
    let mss = match usize::from(gso_size) {
        g if g > 0 && g <= bound => g,
        _ => bound,
    };
    u16::try_from(lay.payload_len.div_ceil(mss).max(1)).unwrap_or(u16::MAX)
}

/// Writes the TCP checksum of the whole (coalesced) segment.
fn recompute_tcp(first: &mut [u8], rest: &[&[u8]], lay: &FrameLayout) -> Result<(), RxError> {
    let field = lay.l4_offset + 16;
    if field + 2 > first.len() {
        return Err(RxError::HeadersSplit);
    }
    put16(first, field, 0);
    let mut c = Checksum::new();
    c.add_sum(pseudo_sum(first, lay, ip_proto::TCP));
    sum_range(&mut c, first, rest, lay.l4_offset, lay.l3_end());
    put16(first, field, c.checksum());
    Ok(())
}

fn ipv4_header_recompute(first: &mut [u8], lay: &FrameLayout) {
    let (s, e) = (lay.l3_offset, lay.l3_offset + lay.l3_header_len);
    put16(first, s + 10, 0);
    let c = first.get(s..e).map_or(0, checksum::checksum);
    put16(first, s + 10, c);
}

fn ipv4_header_ok(first: &[u8], lay: &FrameLayout) -> bool {
    first
        .get(lay.l3_offset..lay.l3_offset + lay.l3_header_len)
        .is_some_and(|h| checksum::checksum(h) == 0)
}

/// Software verification of the TCP/UDP checksum (`None` when not verifiable).
fn verify_l4(first: &[u8], rest: &[&[u8]], lay: &FrameLayout) -> Option<bool> {
    let proto = match lay.l4 {
        L4Kind::Tcp => ip_proto::TCP,
        L4Kind::Udp => ip_proto::UDP,
        _ => return None,
    };
    if lay.is_fragment()
        || lay.ipv6_home_address_offset.is_some()
        || lay.ipv6_routing_type2_offset.is_some()
    {
        return None;
    }
    if proto == ip_proto::UDP && lay.is_ipv4() && be16(first, lay.l4_offset + 6) == 0 {
        return None; // no checksum transmitted (RFC 768)
    }
    let mut c = Checksum::new();
    c.add_sum(pseudo_sum(first, lay, proto));
    sum_range(&mut c, first, rest, lay.l4_offset, lay.l3_end());
    Some(c.checksum() == 0)
}

fn rsc_on(cfg: &RxConfig, lay: &FrameLayout) -> RscPath {
    match lay.l3 {
        L3Kind::Ipv4 => cfg.rsc.ipv4,
        L3Kind::Ipv6 => cfg.rsc.ipv6,
        L3Kind::Other => RscPath::OFF,
    }
}

/// Classifies one received frame. See the module documentation for the rules.
pub fn classify(
    hdr: &VirtioNetHdr,
    frame: RxFrame<'_, '_>,
    cfg: &RxConfig,
    rss: Option<RssParams<'_>>,
) -> Result<RxInfo, RxError> {
    let RxFrame { first, rest } = frame;
    let total = rest.iter().fold(first.len(), |a, c| a + c.len());
    if total < ETH_HEADER_LEN {
        return Err(RxError::Runt { len: total });
    }
    let max = max_rx_frame(cfg.features, cfg.mtu) as usize;
    if total > max {
        return Err(RxError::TooLong { len: total, max });
    }
    let mut lay = parse(first, total, !rest.is_empty())?;

    // VLAN membership first: no checksum work for frames that are dropped anyway.
    let tag = if lay.outer_vlan.is_none() {
        lay.vlan
    } else {
        None
    };
    if let Some(t) = tag {
        let member = if cfg.priority_vlan.vlan {
            cfg.vlan_id == 0 || t.vid == cfg.vlan_id
        } else {
            false
        };
        if t.vid != 0 && !member {
            return Err(RxError::VlanFiltered { vid: t.vid });
        }
    }

    // --- virtio header consistency ---------------------------------------------------------
    let flags = hdr.flags;
    let gso_raw = hdr.gso_type_raw();
    let rsc_info = flags.contains(HdrFlags::RSC_INFO);
    if rsc_info && !cfg.features.contains(Features::RSC_EXT) {
        return Err(RxError::RscInfoNotNegotiated);
    }
    let host_coalesced = match hdr.gso_type {
        GsoType::None => {
            if rsc_info {
                return Err(RxError::RscInfoWithoutGso);
            }
            false
        }
        GsoType::TcpV4 | GsoType::TcpV6 => {
            let (feature, want_v4) = if hdr.gso_type == GsoType::TcpV4 {
                (Features::GUEST_TSO4, true)
            } else {
                (Features::GUEST_TSO6, false)
            };
            if !cfg.features.contains(feature)
                || (hdr.ecn && !cfg.features.contains(Features::GUEST_ECN))
            {
                return Err(RxError::GsoNotNegotiated { gso_type: gso_raw });
            }
            if lay.is_ipv4() != want_v4 || !lay.is_tcp() || lay.l3 == L3Kind::Other {
                return Err(RxError::GsoMismatch { gso_type: gso_raw });
            }
            if !flags.intersects(HdrFlags::NEEDS_CSUM | HdrFlags::DATA_VALID | HdrFlags::RSC_INFO) {
                return Err(RxError::GsoWithoutChecksum);
            }
            if usize::from(hdr.hdr_len) > total {
                return Err(RxError::HdrLenBeyondFrame {
                    hdr_len: hdr.hdr_len,
                    len: total,
                });
            }
            true
        }
        // GUEST_UFO / GUEST_USO are never negotiated.
        GsoType::Udp | GsoType::UdpL4 => {
            return Err(RxError::GsoNotNegotiated { gso_type: gso_raw })
        }
    };
    let partial = hdr.partial_csum();
    if let Some((start, offset)) = partial {
        let end = if lay.l3 == L3Kind::Other {
            total
        } else {
            lay.l3_end()
        };
        let field = usize::from(start) + usize::from(offset);
        if field + 2 > end || usize::from(start) < lay.l2_len {
            return Err(RxError::CsumOutOfFrame { start, offset });
        }
        if lay.l3 != L3Kind::Other && usize::from(start) < lay.l4_offset {
            return Err(RxError::CsumInsideL3Header { start, offset });
        }
        if field + 2 > first.len() {
            return Err(RxError::HeadersSplit);
        }
        if host_coalesced && (usize::from(start) != lay.l4_offset || offset != 16) {
            return Err(RxError::CsumNotTcp { start, offset });
        }
    }
    let rsc_path = rsc_on(cfg, &lay);
    if host_coalesced && !rsc_path.enabled() {
        return Err(RxError::CoalescedWhileRscDisabled);
    }

    // --- checksums -------------------------------------------------------------------------
    let is_v4 = lay.is_ipv4();
    let (rep_tcp, rep_udp) = if is_v4 {
        (cfg.csum.tcp_ipv4, cfg.csum.udp_ipv4)
    } else {
        (cfg.csum.tcp_ipv6, cfg.csum.udp_ipv6)
    };
    let mut ip_verdict = Verdict::NotChecked;
    let mut l4_verdict = Verdict::NotChecked;
    let mut completed_partial = false;
    let mut as_scu = host_coalesced;
    let mut value_invalid = false;
    let mut rsc = None;

    if host_coalesced {
        if is_v4 {
            // QEMU's RSC path leaves the IPv4 header checksum stale (testbed §8 defect 1).
            ipv4_header_recompute(first, &lay);
            ip_verdict = Verdict::Good;
        }
        match cfg.scu_checksum {
            ScuChecksum::Recompute => recompute_tcp(first, rest, &lay)?,
            ScuChecksum::MarkValueInvalid => value_invalid = true,
        }
        l4_verdict = Verdict::Good;
        rsc = Some(match hdr.rsc_info() {
            Some(i) if i.segments == 0 => return Err(RxError::RscZeroSegments),
            Some(i) => RscNblInfo {
                coalesced_seg_count: i.segments,
                dup_ack_count: i.dup_acks,
                timestamp_delta: None,
            },
            None => RscNblInfo {
                coalesced_seg_count: estimate_segments(&lay, hdr.gso_size, cfg.mtu),
                dup_ack_count: 0,
                timestamp_delta: None,
            },
        });
    } else {
        if is_v4 && (cfg.csum.ipv4_header || rsc_path.software) {
            ip_verdict = if ipv4_header_ok(first, &lay) {
                Verdict::Good
            } else {
                Verdict::Bad
            };
        }
        let want_l4 = match lay.l4 {
            L4Kind::Tcp => rep_tcp || rsc_path.software,
            L4Kind::Udp => rep_udp,
            _ => false,
        };
        if let Some((start, offset)) = partial {
            // Complete the partial checksum (the field holds the pseudo-header sum).
            let (start, field) = (usize::from(start), usize::from(start) + usize::from(offset));
            let end = if lay.l3 == L3Kind::Other {
                total
            } else {
                lay.l3_end()
            };
            let mut c = Checksum::new();
            sum_range(&mut c, first, rest, start, end);
            let mut v = c.checksum();
            let std_field = match lay.l4 {
                L4Kind::Tcp => Some(16),
                L4Kind::Udp => Some(6),
                _ => None,
            };
            let is_l4 = start == lay.l4_offset
                && std_field == Some(usize::from(offset))
                && !lay.is_fragment();
            if is_l4 && lay.is_udp() && v == 0 {
                v = 0xFFFF; // a computed 0 is sent as all ones (RFC 768)
            }
            put16(first, field, v);
            completed_partial = true;
            if is_l4 {
                l4_verdict = Verdict::Good;
            }
        } else if flags.contains(HdrFlags::DATA_VALID)
            && cfg.features.contains(Features::GUEST_CSUM)
            && (lay.is_tcp() || lay.is_udp())
            && !lay.is_fragment()
        {
            l4_verdict = Verdict::Good;
        } else if want_l4 {
            l4_verdict = match verify_l4(first, rest, &lay) {
                Some(true) => Verdict::Good,
                Some(false) => Verdict::Bad,
                None => Verdict::NotChecked,
            };
        }

        // Above the MTU without GSO fields: QEMU defect 2 (see module docs).
        if lay.l3 != L3Kind::Other && lay.l3_datagram_len > cfg.mtu as usize {
            if !lay.is_tcp() || !rsc_path.enabled() || lay.is_fragment() {
                return Err(RxError::ExceedsMtu {
                    len: lay.l3_datagram_len,
                    mtu: cfg.mtu,
                });
            }
            if l4_verdict != Verdict::Good {
                let field = lay.l4_offset + 16;
                let pseudo = pseudo_sum(first, &lay, ip_proto::TCP);
                if field + 2 <= first.len() && be16(first, field) == pseudo {
                    let mut c = Checksum::new();
                    sum_range(&mut c, first, rest, lay.l4_offset, lay.l3_end());
                    put16(first, field, c.checksum());
                    completed_partial = true;
                    l4_verdict = Verdict::Good;
                } else {
                    l4_verdict = match verify_l4(first, rest, &lay) {
                        Some(true) => Verdict::Good,
                        _ => Verdict::Bad,
                    };
                }
            }
            if l4_verdict == Verdict::Good && ip_verdict != Verdict::Bad {
                if is_v4 {
                    ipv4_header_recompute(first, &lay);
                    ip_verdict = Verdict::Good;
                }
                as_scu = true;
                rsc = Some(RscNblInfo {
                    coalesced_seg_count: estimate_segments(&lay, 0, cfg.mtu),
                    dup_ack_count: 0,
                    timestamp_delta: None,
                });
            }
        }
    }

    // --- reported bits ---------------------------------------------------------------------
    let mut bits = RxChecksumFlags::empty();
    if as_scu {
        // Spec §1.7: always IpChecksumSucceeded + TcpChecksumSucceeded on an SCU.
        bits |= RxChecksumFlags::IP_SUCCEEDED | RxChecksumFlags::TCP_SUCCEEDED;
        if value_invalid {
            bits |= RxChecksumFlags::TCP_VALUE_INVALID;
        }
    } else {
        if is_v4 && cfg.csum.ipv4_header {
            match ip_verdict {
                Verdict::Good => bits |= RxChecksumFlags::IP_SUCCEEDED,
                Verdict::Bad => bits |= RxChecksumFlags::IP_FAILED,
                Verdict::NotChecked => {}
            }
        }
        let (ok, bad, report) = match lay.l4 {
            L4Kind::Tcp => (
                RxChecksumFlags::TCP_SUCCEEDED,
                RxChecksumFlags::TCP_FAILED,
                rep_tcp,
            ),
            L4Kind::Udp => (
                RxChecksumFlags::UDP_SUCCEEDED,
                RxChecksumFlags::UDP_FAILED,
                rep_udp,
            ),
            _ => (RxChecksumFlags::empty(), RxChecksumFlags::empty(), false),
        };
        if report {
            match l4_verdict {
                Verdict::Good => bits |= ok,
                Verdict::Bad => bits |= bad,
                Verdict::NotChecked => {}
            }
        }
    }

    // --- RSS (on the unmodified offsets) -----------------------------------------------------
    let hash = rss.and_then(|p| {
        if p.types.is_empty() {
            return None;
        }
        let l3 = match lay.l3 {
            L3Kind::Ipv4 => L3Fields::V4 {
                src: arr4(first, lay.l3_offset + 12),
                dst: arr4(first, lay.l3_offset + 16),
            },
            L3Kind::Ipv6 => L3Fields::V6 {
                src: arr16(first, lay.l3_offset + 8),
                dst: arr16(first, lay.l3_offset + 24),
                home_address: lay.ipv6_home_address_offset.map(|o| arr16(first, o)),
                routing_dst: lay.ipv6_routing_type2_offset.map(|o| arr16(first, o)),
            },
            L3Kind::Other => return None,
        };
        let ports = (be16(first, lay.l4_offset), be16(first, lay.l4_offset + 2));
        let l4 = match lay.l4 {
            L4Kind::Tcp => L4Fields::Tcp {
                src_port: ports.0,
                dst_port: ports.1,
            },
            L4Kind::Udp => L4Fields::Udp {
                src_port: ports.0,
                dst_port: ports.1,
            },
            _ => L4Fields::None,
        };
        rss::hash_packet(
            p.toeplitz,
            p.types,
            &rss::HashFields {
                l3,
                l4,
                fragment: lay.is_fragment(),
            },
        )
    });
    let hash_check = if cfg.features.contains(Features::HASH_REPORT) {
        rss::check_device_hash(hash, hdr.hash_value, hdr.hash_report)
    } else {
        HashCheck::NotReported
    };

    // --- 802.1Q: strip the tag in place, report per *PriorityVLANTag -------------------------
    let mut data_offset = 0;
    let mut ieee8021q = None;
    if let Some(t) = tag {
        if let Ok(Some((_, n))) = crate::wire::strip_vlan_tag(first) {
            data_offset = n;
            lay.l2_len -= n;
            lay.l3_offset -= n;
            lay.l4_offset -= n;
            lay.payload_offset -= n;
            lay.vlan = None;
            lay.ipv6_home_address_offset = lay.ipv6_home_address_offset.map(|o| o - n);
            lay.ipv6_routing_type2_offset = lay.ipv6_routing_type2_offset.map(|o| o - n);
            let q = Ieee8021Q {
                priority: if cfg.priority_vlan.priority { t.pcp } else { 0 },
                vlan_id: if cfg.priority_vlan.vlan { t.vid } else { 0 },
            };
            if q.priority != 0 || q.vlan_id != 0 {
                ieee8021q = Some(q);
            }
        }
    }
    let frame_len = total - data_offset;
    let ip_ok = !is_v4 || ip_verdict == Verdict::Good;
    let rsc_candidate = !as_scu
        && lay.is_tcp()
        && rsc_path.software
        && ip_ok
        && l4_verdict == Verdict::Good
        && !lay.is_fragment();
    Ok(RxInfo {
        layout: lay,
        data_offset,
        frame_len,
        first_len: first.len() - data_offset,
        checksum: bits,
        ip_verdict,
        l4_verdict,
        rsc,
        host_coalesced: as_scu,
        completed_partial,
        rsc_candidate,
        vlan_tag: tag,
        ieee8021q,
        hash,
        hash_check,
        short_by: 60usize.saturating_sub(frame_len),
    })
}

#[cfg(test)]
pub(crate) mod tests;
