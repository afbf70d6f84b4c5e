//! Transmit planning: a Windows send request → a `virtio_net_hdr` plus header fix-ups, or a
//! software fallback (checksum or LSO/USO segmentation) when the device cannot do the work.
//!
//! # How the miniport uses this
//! Per NET_BUFFER the miniport has the frame as a scatter list (`&[&[u8]]`, the MDL chain),
//! the decoded per-NBL info ([`SendInfo`]), and the adapter state ([`TxContext`]: enabled
//! offloads, `OID_OFFLOAD_ENCAPSULATION`, negotiated device features, advertised limits). It
//! calls [`plan`] with a driver-owned header buffer of at least [`TX_HEADER_BUF_LEN`] bytes:
//! * [`TxAction::Device`]: send `header_buf[..plan.header_buf_len]` followed by the original
//!   frame from byte `plan.header_len` on (zero-copy), with `plan.vnet_hdr` in front. The
//!   protocol's buffers are never written: every fix-up (VLAN tag, IPv4 header checksum,
//!   lengths, pseudo-header, software L4 checksum) lands in the header copy.
//! * [`TxAction::Segment`]: call [`TxPlan::segmenter`] and write each segment into a
//!   driver-owned bounce buffer with [`Segmenter::next_into`]; each comes with its own
//!   `virtio_net_hdr` (no offload requested). Payload copy and checksum are one pass.
//!
//! Nothing allocates. Malformed or disallowed requests return a [`TxError`]; the miniport
//! completes the NBL with a failure status (spec §2.3, §3.3: fail, never crash).
//!
//! # Decisions (where the spec leaves a choice)
//! * **Device first.** TSO/USO/CSUM go to the device when negotiated; the driver only
//!   computes the IPv4 header checksum and rewrites the NDIS pseudo-header sum (which LSO/USO
//!   send *without* the L4 length) to include the length, as Linux GSO in the host expects
//!   (testbed §8: without it every segment has a bad checksum).
//! * **Software segments are checksummed by the device when it has CSUM**
//!   ([`SegmentChecksum`]). The guest then never reads the payload in the zero-copy form and
//!   only copies it in the bounce-buffer form; the host completes `NEEDS_CSUM` in its own
//!   transmit path (for guest-to-guest traffic Linux passes the partial checksum on without
//!   computing it). Without CSUM, or for IPv4 USO with checksum 0, the driver computes
//!   complete checksums (fused with the copy) and sends `flags = 0`.
//! * **Fallback to software segmentation** also when the device has TSO/USO but: the TCP
//!   template has CWR and `HOST_ECN` is missing (virtio 1.2 §5.1.6.2 forbids it); the IPv4 USO
//!   template has UDP checksum 0 ("do not compute", spec §2.3 — a device would compute one);
//!   the send needs more segments than the host accepts; or the L4 length does not fit the
//!   16-bit IP length field of a GSO frame.
//! * **One-segment LSO/USO** (payload ≤ MSS) is sent as one frame with a checksum offload:
//!   Linux rejects a UDP GSO frame that yields a single segment.
//! * **Frames longer than the MTU without LSO/USO are rejected** ([`TxError::FrameTooLong`]):
//!   NDIS never hands a miniport such a frame legitimately; the host or the peer would drop it
//!   silently, and failing the NBL makes the fault visible (ifOutErrors) instead.
//! * **Checksum requests for a checksum offload that is turned off are still honoured** (the
//!   stack asked for a correct packet; NetKVM does the same). LSO/USO requests after the
//!   offload was turned off are failed (spec §2.3, §3.3), as are LSO/USO requests for an IP
//!   family that `OID_OFFLOAD_ENCAPSULATION` has not enabled (NetKVM rejects LSO likewise).
//! * **IP ID**: LSOv2 increments within 0x0000–0x7FFF with wrap (spec §3.3); USO through
//!   0x0000–0xFFFF (spec §2.3). LSOv1 is not specified; it uses the LSOv2 rule, because the
//!   0x8000–0xFFFF reservation (TCP chimney) applied regardless of the LSO version. A
//!   template ID ≥ 0x8000 keeps its top bit and wraps within 0x8000–0xFFFF.
//! * **Frames that do not parse** are sent unchanged when nothing was requested (raw frames
//!   from protocol drivers need not be IP), and rejected when an offload was requested.
//! * **Headers split across MDLs** are gathered into the header copy, so any split is carried
//!   (LSO guarantees headers in the first MDL; checksum-only sends do not).
//! * **`MinSegmentCount` is not enforced**: it tells the stack when offloading pays off; a
//!   send with fewer segments is still performed correctly. `MaxOffLoadSize` is enforced
//!   (spec §2.3: requests built against an old, larger value must be failed).
//! * **Software segments, two forms**: [`Segmenter::next_into`] writes complete frames into
//!   bounce buffers; [`Segmenter::next_header_into`] writes only each segment's headers and
//!   reports the payload range of the original frame (summed in place, never copied), for a
//!   ring that can chain descriptors.

mod segment;

pub use segment::{Segment, Segmenter};

use crate::checksum;
use crate::wire::virtio::{GsoType, HdrFlags, VirtioNetHdr};
use crate::wire::{
    self, be16, ethertype, parse_frame, put_be16, FrameLayout, L3Kind, LenMode, ParseError,
    TcpFlags, VlanTag, ETH_HEADER_LEN, MAC_LEN, VLAN_TAG_LEN,
};

/// `NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH`: MAC + IP + TCP headers of an LSO send.
pub const LSO_MAX_HEADER_LEN: usize = 128;

/// Minimum size of the driver's header buffer: room for the largest headers the parser
/// accepts (22 B Ethernet + 40 B IPv6 + 256 B extension headers + 60 B TCP) plus a 4-byte tag.
pub const TX_HEADER_BUF_LEN: usize = 384;

/// TCP checksum field offset within the TCP header.
pub const TCP_CSUM_OFFSET: u16 = 16;
/// UDP checksum field offset within the UDP header.
pub const UDP_CSUM_OFFSET: u16 = 6;

/// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.Transmit` (spec §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChecksumRequest {
    /// `IsIPv4`.
    pub is_ipv4: bool,
    /// `IsIPv6`.
    pub is_ipv6: bool,
    /// `TcpChecksum`.
    pub tcp: bool,
    /// `UdpChecksum`.
    pub udp: bool,
    /// `IpHeaderChecksum`.
    pub ip_header: bool,
    /// `TcpHeaderOffset` (0 = not given).
    pub tcp_header_offset: u16,
}

impl ChecksumRequest {
    /// Decodes the pointer-sized NBL info value (bits 0–4 flags, 16–25 TCP header offset).
    pub const fn from_raw(v: u32) -> Self {
        ChecksumRequest {
            is_ipv4: v & 1 != 0,
            is_ipv6: v & 2 != 0,
            tcp: v & 4 != 0,
            udp: v & 8 != 0,
            ip_header: v & 0x10 != 0,
            tcp_header_offset: ((v >> 16) & 0x3FF) as u16,
        }
    }

    /// Whether any checksum work is requested: none unless `IsIPv4` or `IsIPv6` (spec §4.2).
    pub const fn any(&self) -> bool {
        (self.is_ipv4 || self.is_ipv6) && (self.tcp || self.udp || self.ip_header)
    }
}

/// LSO version (`NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE` / `_V2_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LsoVersion {
    /// LSOv1: IPv4 only, Total Length holds the whole length, completion reports TcpPayload.
    V1,
    /// LSOv2: IPv4 and IPv6, Total Length may be 0.
    V2,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO` transmit view (spec §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LsoRequest {
    /// V1 or V2.
    pub version: LsoVersion,
    /// MSS (20 bits).
    pub mss: u32,
    /// TcpHeaderOffset from the start of the frame.
    pub tcp_header_offset: u16,
    /// V2 `IPVersion` = IPv6 (always false for V1).
    pub ipv6: bool,
}

impl LsoRequest {
    /// Decodes the NBL info value; `None` for 0 (no LSO).
    pub const fn from_raw(v: u32) -> Option<Self> {
        if v == 0 {
            return None;
        }
        let v2 = v & (1 << 30) != 0;
        Some(LsoRequest {
            version: if v2 { LsoVersion::V2 } else { LsoVersion::V1 },
            mss: v & 0xF_FFFF,
            tcp_header_offset: ((v >> 20) & 0x3FF) as u16,
            ipv6: v2 && v & (1 << 31) != 0,
        })
    }
}

/// `NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO` transmit view (spec §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UsoRequest {
    /// MSS (20 bits).
    pub mss: u32,
    /// UdpHeaderOffset from the start of the frame.
    pub udp_header_offset: u16,
    /// `IPVersion` = IPv6.
    pub ipv6: bool,
}

impl UsoRequest {
    /// Decodes the NBL info value; `None` for 0 (no USO).
    pub const fn from_raw(v: u32) -> Option<Self> {
        if v == 0 {
            return None;
        }
        Some(UsoRequest {
            mss: v & 0xF_FFFF,
            udp_header_offset: ((v >> 20) & 0x3FF) as u16,
            ipv6: v & (1 << 31) != 0,
        })
    }
}

/// `NDIS_NET_BUFFER_LIST_8021Q_INFO` (UserPriority bits 0–2, CanonicalFormatId bit 3,
/// VlanId bits 4–15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ieee8021Q {
    /// UserPriority (0–7).
    pub priority: u8,
    /// CanonicalFormatId (must be 0 on Ethernet).
    pub cfi: bool,
    /// VlanId (0 = priority-only tag).
    pub vlan_id: u16,
}

impl Ieee8021Q {
    /// Decodes the NBL info value.
    pub const fn from_raw(v: u32) -> Self {
        Ieee8021Q {
            priority: (v & 7) as u8,
            cfi: v & 8 != 0,
            vlan_id: ((v >> 4) & 0xFFF) as u16,
        }
    }

    /// Whether a tag must be inserted (priority or VLAN non-zero).
    pub const fn is_set(&self) -> bool {
        self.priority != 0 || self.vlan_id != 0
    }
}

/// Per-NET_BUFFER_LIST send information.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SendInfo {
    /// Checksum request.
    pub checksum: ChecksumRequest,
    /// LSO request.
    pub lso: Option<LsoRequest>,
    /// USO request.
    pub uso: Option<UsoRequest>,
    /// 802.1Q tag to insert (already merged with the adapter's configured VLAN by the
    /// miniport).
    pub ieee8021q: Option<Ieee8021Q>,
}

/// Transmit offloads currently enabled (`NDIS_OFFLOAD_PARAMETERS` / keywords).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TxOffloadConfig {
    /// IPv4 header checksum.
    pub ipv4_checksum: bool,
    /// TCP/IPv4 checksum.
    pub tcp4_checksum: bool,
    /// UDP/IPv4 checksum.
    pub udp4_checksum: bool,
    /// TCP/IPv6 checksum.
    pub tcp6_checksum: bool,
    /// UDP/IPv6 checksum.
    pub udp6_checksum: bool,
    /// LSOv1 (IPv4).
    pub lso_v1: bool,
    /// LSOv2 IPv4.
    pub lso_v2_ipv4: bool,
    /// LSOv2 IPv6.
    pub lso_v2_ipv6: bool,
    /// USO IPv4.
    pub uso_ipv4: bool,
    /// USO IPv6.
    pub uso_ipv6: bool,
}

impl TxOffloadConfig {
    /// Everything enabled.
    pub const ALL: Self = TxOffloadConfig {
        ipv4_checksum: true,
        tcp4_checksum: true,
        udp4_checksum: true,
        tcp6_checksum: true,
        udp6_checksum: true,
        lso_v1: true,
        lso_v2_ipv4: true,
        lso_v2_ipv6: true,
        uso_ipv4: true,
        uso_ipv6: true,
    };
}

/// `OID_OFFLOAD_ENCAPSULATION` state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Encapsulation {
    /// IPv4 offloads enabled for Ethernet encapsulation.
    pub ipv4: bool,
    /// IPv6 offloads enabled for Ethernet encapsulation.
    pub ipv6: bool,
    /// Header size NDIS announced (14 for Ethernet II); informational: frames are parsed.
    pub header_size: u16,
}

impl Encapsulation {
    /// Both families enabled, 14-byte header.
    pub const ETHERNET: Self = Encapsulation {
        ipv4: true,
        ipv6: true,
        header_size: ETH_HEADER_LEN as u16,
    };
}

/// Negotiated device transmit features (virtio 1.2 §5.1.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeviceCaps {
    /// `VIRTIO_NET_F_CSUM`: partial checksums.
    pub csum: bool,
    /// `VIRTIO_NET_F_HOST_TSO4`.
    pub tso4: bool,
    /// `VIRTIO_NET_F_HOST_TSO6`.
    pub tso6: bool,
    /// `VIRTIO_NET_F_HOST_ECN`: TSO with CWR.
    pub tso_ecn: bool,
    /// `VIRTIO_NET_F_HOST_USO`.
    pub uso: bool,
    /// Most segments the host accepts per TCP GSO frame (0 = no limit).
    pub max_tso_segments: u32,
    /// Most segments the host accepts per UDP GSO frame (Linux `UDP_MAX_SEGMENTS`: 64 on
    /// older kernels, 128 later; 0 = no limit).
    pub max_uso_segments: u32,
}

/// Limits the miniport advertised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxLimits {
    /// MTU (IP datagram bytes per frame).
    pub mtu: u32,
    /// LSO `MaxOffLoadSize` (TCP payload bytes per send).
    pub lso_max_size: u32,
    /// USO `MaxOffLoadSize` (UDP payload bytes per send).
    pub uso_max_size: u32,
}

impl Default for TxLimits {
    /// MTU 1500 and NetKVM's limits: LSO 63488, USO 34304 (spec §2.4, §3.1).
    fn default() -> Self {
        TxLimits {
            mtu: 1500,
            lso_max_size: 63488,
            uso_max_size: 34304,
        }
    }
}

/// Adapter state the planner needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TxContext {
    /// Enabled offloads.
    pub config: TxOffloadConfig,
    /// `OID_OFFLOAD_ENCAPSULATION`.
    pub encap: Encapsulation,
    /// Device features.
    pub caps: DeviceCaps,
    /// Advertised limits.
    pub limits: TxLimits,
}

/// Which offload a [`TxError::OffloadDisabled`] refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Offload {
    /// LSOv1.
    LsoV1,
    /// LSOv2 IPv4.
    LsoV2Ipv4,
    /// LSOv2 IPv6.
    LsoV2Ipv6,
    /// USO IPv4.
    UsoIpv4,
    /// USO IPv6.
    UsoIpv6,
}

/// Why a send request cannot be carried out. The miniport fails the NBL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxError {
    /// The NET_BUFFER has no data.
    EmptyFrame,
    /// The headers do not parse (offload requested, or shorter than an Ethernet header).
    Parse(ParseError),
    /// The header buffer is smaller than [`TX_HEADER_BUF_LEN`] / the headers.
    HeaderBufferTooSmall {
        /// Bytes needed.
        required: usize,
        /// Bytes given.
        available: usize,
    },
    /// LSO and USO info on the same NBL.
    LsoAndUso,
    /// MSS 0.
    MssZero,
    /// MSS larger than the MTU allows (or than 65535).
    MssTooLarge {
        /// Requested MSS.
        mss: u32,
        /// Largest acceptable.
        max: u32,
    },
    /// A header offset in the request does not match the parsed frame.
    OffsetMismatch {
        /// Offset from the NBL info.
        requested: u16,
        /// Offset found in the frame.
        parsed: usize,
    },
    /// The request's IP version (IsIPv4/IsIPv6/IPVersion, LSOv1 = IPv4) contradicts the frame.
    IpVersionMismatch,
    /// LSO or a TCP checksum requested on a frame that is not TCP.
    NotTcp,
    /// USO or a UDP checksum requested on a frame that is not UDP.
    NotUdp,
    /// LSO headers longer than 128 bytes (`NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH`).
    HeadersTooLong {
        /// Header bytes.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Offload requested on an IP fragment.
    IpFragment,
    /// The offload was turned off (OID) but the NBL still carries its info.
    OffloadDisabled(Offload),
    /// `OID_OFFLOAD_ENCAPSULATION` has not enabled offloads for this IP family.
    EncapsulationDisabled,
    /// LSO/USO payload larger than the advertised `MaxOffLoadSize`.
    TooLarge {
        /// Payload bytes.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A frame without LSO/USO longer than MTU + Ethernet header.
    FrameTooLong {
        /// Frame bytes.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// LSO template with SYN, RST or URG (spec §3.3 guarantees them clear).
    LsoTcpFlags,
    /// 802.1Q info with CanonicalFormatId set, or a tag for a frame that already has one.
    BadVlan,
    /// A segment does not fit the output buffer.
    OutputTooSmall {
        /// Bytes needed.
        required: usize,
        /// Bytes given.
        available: usize,
    },
}

impl From<ParseError> for TxError {
    fn from(e: ParseError) -> Self {
        TxError::Parse(e)
    }
}

/// What the miniport does with a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxAction {
    /// One descriptor chain: `vnet_hdr`, `header_buf[..header_buf_len]`, then the original
    /// frame from `header_len`.
    Device,
    /// Software segmentation into bounce buffers via [`TxPlan::segmenter`].
    Segment,
}

/// Who completes the TCP/UDP checksum of software segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentChecksum {
    /// The driver: segments leave with complete checksums and `flags = 0`.
    Software,
    /// The device (`VIRTIO_NET_F_CSUM` negotiated): each segment carries the pseudo-header sum
    /// with its own length and `NEEDS_CSUM`; the payload is not summed by the driver.
    Device,
}

/// Kind of segmentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SegKind {
    Tcp(LsoVersion),
    Udp,
}

/// The decision for one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxPlan {
    /// Device offload or software segmentation.
    pub action: TxAction,
    /// Header for [`TxAction::Device`] (for segments see [`Segment::vnet_hdr`]).
    pub vnet_hdr: VirtioNetHdr,
    /// Bytes of the original frame represented by the header buffer.
    pub header_len: usize,
    /// Bytes of the header buffer to send (= `header_len` + 4 with an inserted tag).
    pub header_buf_len: usize,
    /// Original frame length.
    pub frame_len: usize,
    /// Layout of the frame as sent (after tag insertion; lengths as for the whole send).
    pub layout: FrameLayout,
    /// Frames that reach the wire (1 without LSO/USO).
    pub segments: u32,
    /// `LsoV1TransmitComplete.TcpPayload`: TCP payload bytes sent (0 unless LSOv1).
    pub lso_v1_tcp_payload: u32,
    /// MSS used for segmentation (0 without LSO/USO).
    pub mss: u32,
    /// Who checksums software segments.
    pub segment_checksum: SegmentChecksum,
    pub(crate) seg: Option<SegKind>,
    /// Pseudo-header sum without the L4 length (LSO/USO template).
    pub(crate) pseudo_nolen: u16,
    /// IPv4 USO with checksum 0: segments carry no UDP checksum.
    pub(crate) udp_no_csum: bool,
}

impl TxPlan {
    /// The software segmenter for a [`TxAction::Segment`] plan (`header_buf` as filled by
    /// [`plan`], `frags` the same scatter list).
    pub fn segmenter<'a>(&'a self, header_buf: &'a [u8], frags: &'a [&'a [u8]]) -> Segmenter<'a> {
        Segmenter::new(self, header_buf, frags)
    }

    /// Bytes of the largest segment the segmenter writes (bounce-buffer size needed).
    pub fn max_segment_len(&self) -> usize {
        self.layout.payload_offset + self.mss as usize
    }
}

/// Total bytes of a scatter list.
pub fn frags_len(frags: &[&[u8]]) -> usize {
    frags.iter().map(|f| f.len()).sum()
}

/// Copies the first bytes of the scatter list into `out`; returns the count.
pub(crate) fn gather(frags: &[&[u8]], out: &mut [u8]) -> usize {
    let mut n = 0;
    for f in frags {
        let Some(dst) = out.get_mut(n..) else { break };
        let k = dst.len().min(f.len());
        if let (Some(d), Some(s)) = (dst.get_mut(..k), f.get(..k)) {
            d.copy_from_slice(s);
        }
        n += k;
        if k < f.len() {
            break;
        }
    }
    n
}

/// Reads a scatter list sequentially from a byte offset.
#[derive(Clone, Debug)]
pub(crate) struct FragReader<'a> {
    frags: &'a [&'a [u8]],
    idx: usize,
    off: usize,
}

impl<'a> FragReader<'a> {
    pub(crate) fn new(frags: &'a [&'a [u8]], mut skip: usize) -> Self {
        let mut idx = 0;
        while let Some(f) = frags.get(idx) {
            if skip < f.len() {
                break;
            }
            skip -= f.len();
            idx += 1;
        }
        FragReader {
            frags,
            idx,
            off: skip,
        }
    }

    /// Copies into `out` while summing; returns bytes copied (less at the end of the list)
    /// and their unfolded little-endian-domain sum (see `checksum::sum_unfolded_le`). A
    /// range inside one fragment (the usual case) is one fused copy-and-sum call.
    #[inline]
    pub(crate) fn copy_and_sum(&mut self, out: &mut [u8]) -> (usize, u64) {
        if let Some(f) = self.frags.get(self.idx) {
            let end = self.off + out.len();
            if let Some(s) = f
                .get(self.off..end)
                .and_then(|src| checksum::copy_sum_unfolded_le(out, src))
            {
                self.advance_to(end, f.len());
                return (out.len(), s);
            }
        }
        let mut c = checksum::Checksum::new();
        let n = self.copy_and_add(out, &mut c);
        (n, c.unfolded_le())
    }

    /// Sums up to `len` bytes without copying; returns bytes summed and their unfolded
    /// little-endian-domain sum.
    #[inline]
    pub(crate) fn sum(&mut self, len: usize) -> (usize, u64) {
        if let Some(f) = self.frags.get(self.idx) {
            let end = self.off + len;
            if let Some(src) = f.get(self.off..end) {
                let s = checksum::sum_unfolded_le(src);
                self.advance_to(end, f.len());
                return (len, s);
            }
        }
        let mut c = checksum::Checksum::new();
        let n = self.add(len, &mut c);
        (n, c.unfolded_le())
    }

    /// Moves to offset `end` of the current fragment (of `len` bytes), or to the next
    /// fragment when `end` reaches its end.
    #[inline]
    fn advance_to(&mut self, end: usize, len: usize) {
        if end >= len {
            self.idx += 1;
            self.off = 0;
        } else {
            self.off = end;
        }
    }

    /// Copies into `out` while summing; returns bytes copied (less at the end of the list).
    pub(crate) fn copy_and_add(&mut self, out: &mut [u8], c: &mut checksum::Checksum) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(f) = self.frags.get(self.idx) else {
                break;
            };
            let src = f.get(self.off..).unwrap_or(&[]);
            let k = c.copy_and_add(out.get_mut(n..).unwrap_or(&mut []), src);
            n += k;
            self.off += k;
            if self.off >= f.len() {
                self.idx += 1;
                self.off = 0;
            }
        }
        n
    }

    /// Copies into `out` without summing; returns bytes copied.
    pub(crate) fn copy(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(f) = self.frags.get(self.idx) else {
                break;
            };
            let src = f.get(self.off..).unwrap_or(&[]);
            let dst = out.get_mut(n..).unwrap_or(&mut []);
            let k = dst.len().min(src.len());
            if let (Some(d), Some(s)) = (dst.get_mut(..k), src.get(..k)) {
                d.copy_from_slice(s);
            }
            n += k;
            self.off += k;
            if self.off >= f.len() {
                self.idx += 1;
                self.off = 0;
            }
        }
        n
    }

    /// Advances by up to `len` bytes without reading them; returns bytes skipped.
    pub(crate) fn skip(&mut self, mut len: usize) -> usize {
        let mut n = 0;
        while len > 0 {
            let Some(f) = self.frags.get(self.idx) else {
                break;
            };
            let k = f.len().saturating_sub(self.off).min(len);
            n += k;
            len -= k;
            self.off += k;
            if self.off >= f.len() {
                self.idx += 1;
                self.off = 0;
            }
        }
        n
    }

    /// Sums up to `len` bytes without copying; returns bytes summed.
    pub(crate) fn add(&mut self, mut len: usize, c: &mut checksum::Checksum) -> usize {
        let mut n = 0;
        while len > 0 {
            let Some(f) = self.frags.get(self.idx) else {
                break;
            };
            let src = f.get(self.off..).unwrap_or(&[]);
            let k = src.len().min(len);
            c.add_bytes(src.get(..k).unwrap_or(&[]));
            n += k;
            len -= k;
            self.off += k;
            if self.off >= f.len() {
                self.idx += 1;
                self.off = 0;
            }
        }
        n
    }
}

/// Plans one send. `header_buf` (≥ [`TX_HEADER_BUF_LEN`] bytes, driver-owned) receives the
/// frame's headers with all fix-ups applied.
pub fn plan(
    ctx: &TxContext,
    info: &SendInfo,
    frags: &[&[u8]],
    header_buf: &mut [u8],
) -> Result<TxPlan, TxError> {
    let total = frags_len(frags);
    if total == 0 {
        return Err(TxError::EmptyFrame);
    }
    if header_buf.len() < TX_HEADER_BUF_LEN {
        return Err(TxError::HeaderBufferTooSmall {
            required: TX_HEADER_BUF_LEN,
            available: header_buf.len(),
        });
    }
    if info.lso.is_some() && info.uso.is_some() {
        return Err(TxError::LsoAndUso);
    }
    let tag = match info.ieee8021q {
        Some(q) if q.cfi => return Err(TxError::BadVlan),
        Some(q) if q.is_set() => Some(VlanTag {
            pcp: q.priority,
            dei: false,
            vid: q.vlan_id,
        }),
        _ => None,
    };
    let offload = info.lso.is_some() || info.uso.is_some() || info.checksum.any();

    // Gather the headers, leaving room for a tag; parse them against the true frame length.
    let cap = header_buf.len() - VLAN_TAG_LEN;
    let got = gather(frags, header_buf.get_mut(..cap).unwrap_or(&mut []));
    let prefix = header_buf.get(..got).unwrap_or(&[]);
    let mode = if info.lso.is_some() || info.uso.is_some() {
        LenMode::Lax
    } else {
        LenMode::Strict
    };
    let lay = match parse_headers(prefix, total, mode) {
        Ok(l) => l,
        Err(e) if offload || got < ETH_HEADER_LEN => return Err(e),
        Err(_) => {
            // Not parseable and nothing requested: send as is (raw frames need not be IP).
            return passthrough(ctx, total, tag, header_buf);
        }
    };

    if info.lso.is_none() && info.uso.is_none() {
        let max = ctx.limits.mtu as usize + lay.l2_len;
        if total > max {
            return Err(TxError::FrameTooLong { len: total, max });
        }
    }
    if tag.is_some() && (lay.vlan.is_some() || lay.outer_vlan.is_some()) {
        return Err(TxError::BadVlan);
    }

    if let Some(lso) = info.lso {
        return plan_lso(ctx, lso, &lay, total, tag, frags, header_buf);
    }
    if let Some(uso) = info.uso {
        return plan_uso(ctx, uso, &lay, total, tag, frags, header_buf);
    }
    plan_checksum(ctx, info, &lay, total, tag, frags, header_buf)
}

/// `parse_frame` over a header prefix of a frame that is `total` bytes long.
fn parse_headers(prefix: &[u8], total: usize, mode: LenMode) -> Result<FrameLayout, TxError> {
    let truncated = prefix.len() < total;
    let mut lay = match parse_frame(prefix, LenMode::Lax) {
        Ok(l) => l,
        Err(e) if truncated => {
            // Headers run past what the buffer can hold.
            return Err(match e {
                ParseError::Len(l) => TxError::HeadersTooLong {
                    len: l.offset + l.required,
                    max: prefix.len(),
                },
                other => TxError::Parse(other),
            });
        }
        Err(e) => return Err(TxError::Parse(e)),
    };
    if lay.l3 == L3Kind::Other {
        lay.payload_len = total.saturating_sub(lay.payload_offset);
        return Ok(lay);
    }
    let avail = total - lay.l3_offset;
    let datagram = match mode {
        LenMode::Lax => avail,
        LenMode::Strict => {
            let field = wire::ip_length_field(prefix, &lay).unwrap_or(0);
            let min = lay.payload_offset - lay.l3_offset;
            if field > avail || field < min {
                let (layer, source) = if lay.is_ipv4() {
                    (wire::Layer::Ipv4, wire::LenSource::Ipv4TotalLength)
                } else {
                    (wire::Layer::Ipv6, wire::LenSource::Ipv6PayloadLength)
                };
                return Err(TxError::Parse(ParseError::Len(wire::LenError {
                    layer,
                    offset: lay.l3_offset,
                    required: field.max(min),
                    available: avail,
                    source,
                })));
            }
            field
        }
    };
    lay.l3_datagram_len = datagram;
    lay.padding = avail - datagram;
    lay.payload_len = lay.l3_end().saturating_sub(lay.payload_offset);
    Ok(lay)
}

fn passthrough(
    ctx: &TxContext,
    total: usize,
    tag: Option<VlanTag>,
    header_buf: &mut [u8],
) -> Result<TxPlan, TxError> {
    let l2 = ETH_HEADER_LEN.min(total);
    let max = ctx.limits.mtu as usize + ETH_HEADER_LEN;
    if total > max {
        return Err(TxError::FrameTooLong { len: total, max });
    }
    let mut layout = FrameLayout {
        l2_len: l2,
        l3_offset: l2,
        l4_offset: l2,
        payload_offset: l2,
        payload_len: total - l2,
        ..FrameLayout::default()
    };
    let header_buf_len = insert_tag(header_buf, l2, tag, &mut layout);
    Ok(TxPlan {
        action: TxAction::Device,
        vnet_hdr: VirtioNetHdr::default(),
        header_len: l2,
        header_buf_len,
        frame_len: total,
        layout,
        segments: 1,
        lso_v1_tcp_payload: 0,
        mss: 0,
        seg: None,
        pseudo_nolen: 0,
        udp_no_csum: false,
        segment_checksum: SegmentChecksum::Software,
    })
}

/// Inserts `tag` after the MACs of the `len` header bytes in `buf` and shifts `lay`; returns
/// the header length in the buffer.
fn insert_tag(buf: &mut [u8], len: usize, tag: Option<VlanTag>, lay: &mut FrameLayout) -> usize {
    let Some(tag) = tag else { return len };
    if len < 2 * MAC_LEN || buf.len() < len + VLAN_TAG_LEN {
        return len;
    }
    buf.copy_within(2 * MAC_LEN..len, 2 * MAC_LEN + VLAN_TAG_LEN);
    put_be16(buf, 2 * MAC_LEN, ethertype::VLAN);
    put_be16(buf, 2 * MAC_LEN + 2, tag.tci());
    lay.l2_len += VLAN_TAG_LEN;
    lay.l3_offset += VLAN_TAG_LEN;
    lay.l4_offset += VLAN_TAG_LEN;
    lay.payload_offset += VLAN_TAG_LEN;
    lay.ipv6_home_address_offset = lay.ipv6_home_address_offset.map(|o| o + VLAN_TAG_LEN);
    lay.ipv6_routing_type2_offset = lay.ipv6_routing_type2_offset.map(|o| o + VLAN_TAG_LEN);
    lay.vlan = Some(tag);
    len + VLAN_TAG_LEN
}

fn check_ip_version(lay: &FrameLayout, ipv6: bool) -> Result<(), TxError> {
    match (lay.l3, ipv6) {
        (L3Kind::Ipv4, false) | (L3Kind::Ipv6, true) => Ok(()),
        _ => Err(TxError::IpVersionMismatch),
    }
}

fn check_mss(ctx: &TxContext, lay: &FrameLayout, mss: u32) -> Result<(), TxError> {
    if mss == 0 {
        return Err(TxError::MssZero);
    }
    let hdrs = (lay.payload_offset - lay.l3_offset) as u32;
    // A segment's IP datagram must fit the MTU and the 16-bit length fields.
    let max = ctx.limits.mtu.min(u32::from(u16::MAX)).saturating_sub(hdrs);
    if mss > max {
        return Err(TxError::MssTooLarge { mss, max });
    }
    Ok(())
}

/// The frame's IP source/destination pseudo-header sum without length, from the addresses
/// (used when an IPv6 USO template arrives with checksum 0). Honours the Home Address option
/// and a type-2 routing header (RFC 6275 §6.3, §6.4).
fn pseudo_from_addresses(hb: &[u8], lay: &FrameLayout) -> u16 {
    let l3 = lay.l3_offset;
    if lay.is_ipv4() {
        return checksum::pseudo_header_v4(
            wire::array(hb, l3 + 12),
            wire::array(hb, l3 + 16),
            lay.ip_proto,
            None,
        );
    }
    let src = lay
        .ipv6_home_address_offset
        .map_or(wire::array(hb, l3 + 8), |o| wire::array(hb, o));
    let dst = lay
        .ipv6_routing_type2_offset
        .map_or(wire::array(hb, l3 + 24), |o| wire::array(hb, o));
    checksum::pseudo_header_v6(&src, &dst, lay.ip_proto, None)
}

/// Fills the IP length field(s) of the header copy for a datagram of `datagram_len` bytes and
/// recomputes the IPv4 header checksum. Returns false if the length does not fit 16 bits.
pub(crate) fn set_ip_len(hb: &mut [u8], lay: &FrameLayout, datagram_len: usize) -> bool {
    let l3 = lay.l3_offset;
    if lay.is_ipv4() {
        let Ok(v) = u16::try_from(datagram_len) else {
            return false;
        };
        put_be16(hb, l3 + 2, v);
        fill_ipv4_checksum(hb, lay);
        true
    } else {
        let Ok(v) = u16::try_from(datagram_len.saturating_sub(wire::IPV6_HEADER_LEN)) else {
            return false;
        };
        put_be16(hb, l3 + 4, v);
        true
    }
}

pub(crate) fn fill_ipv4_checksum(hb: &mut [u8], lay: &FrameLayout) {
    let l3 = lay.l3_offset;
    put_be16(hb, l3 + 10, 0);
    let c = checksum::checksum(hb.get(l3..l3 + lay.l3_header_len).unwrap_or(&[]));
    put_be16(hb, l3 + 10, c);
}

#[allow(clippy::too_many_arguments)]
fn plan_lso(
    ctx: &TxContext,
    lso: LsoRequest,
    lay: &FrameLayout,
    total: usize,
    tag: Option<VlanTag>,
    frags: &[&[u8]],
    hb: &mut [u8],
) -> Result<TxPlan, TxError> {
    let ipv6 = match lso.version {
        LsoVersion::V1 => false,
        LsoVersion::V2 => lso.ipv6,
    };
    check_ip_version(lay, ipv6)?;
    let (enabled, which) = match (lso.version, ipv6) {
        (LsoVersion::V1, _) => (ctx.config.lso_v1, Offload::LsoV1),
        (LsoVersion::V2, false) => (ctx.config.lso_v2_ipv4, Offload::LsoV2Ipv4),
        (LsoVersion::V2, true) => (ctx.config.lso_v2_ipv6, Offload::LsoV2Ipv6),
    };
    if !enabled {
        return Err(TxError::OffloadDisabled(which));
    }
    if !(if ipv6 { ctx.encap.ipv6 } else { ctx.encap.ipv4 }) {
        return Err(TxError::EncapsulationDisabled);
    }
    if !lay.is_tcp() {
        return Err(TxError::NotTcp);
    }
    if usize::from(lso.tcp_header_offset) != lay.l4_offset {
        return Err(TxError::OffsetMismatch {
            requested: lso.tcp_header_offset,
            parsed: lay.l4_offset,
        });
    }
    if lay.fragment.is_some() {
        return Err(TxError::IpFragment);
    }
    if lay.payload_offset > LSO_MAX_HEADER_LEN {
        return Err(TxError::HeadersTooLong {
            len: lay.payload_offset,
            max: LSO_MAX_HEADER_LEN,
        });
    }
    check_mss(ctx, lay, lso.mss)?;
    if lay.payload_len > ctx.limits.lso_max_size as usize {
        return Err(TxError::TooLarge {
            len: lay.payload_len,
            max: ctx.limits.lso_max_size as usize,
        });
    }
    let flags = TcpFlags::from_bits_truncate(be16(hb, lay.l4_offset + 12) & 0x1FF);
    if flags.intersects(TcpFlags::SYN | TcpFlags::RST | TcpFlags::URG) {
        return Err(TxError::LsoTcpFlags);
    }
    let pseudo_nolen = be16(hb, lay.l4_offset + usize::from(TCP_CSUM_OFFSET));
    let kind = SegKind::Tcp(lso.version);
    let mut p = segmented_plan(
        ctx,
        lay,
        total,
        tag,
        frags,
        hb,
        lso.mss,
        kind,
        pseudo_nolen,
        false,
    )?;
    if lso.version == LsoVersion::V1 {
        p.lso_v1_tcp_payload = u32::try_from(lay.payload_len).unwrap_or(u32::MAX);
    }
    Ok(p)
}

#[allow(clippy::too_many_arguments)]
fn plan_uso(
    ctx: &TxContext,
    uso: UsoRequest,
    lay: &FrameLayout,
    total: usize,
    tag: Option<VlanTag>,
    frags: &[&[u8]],
    hb: &mut [u8],
) -> Result<TxPlan, TxError> {
    check_ip_version(lay, uso.ipv6)?;
    let (enabled, which, encap) = if uso.ipv6 {
        (ctx.config.uso_ipv6, Offload::UsoIpv6, ctx.encap.ipv6)
    } else {
        (ctx.config.uso_ipv4, Offload::UsoIpv4, ctx.encap.ipv4)
    };
    if !enabled {
        return Err(TxError::OffloadDisabled(which));
    }
    if !encap {
        return Err(TxError::EncapsulationDisabled);
    }
    if !lay.is_udp() {
        return Err(TxError::NotUdp);
    }
    if usize::from(uso.udp_header_offset) != lay.l4_offset {
        return Err(TxError::OffsetMismatch {
            requested: uso.udp_header_offset,
            parsed: lay.l4_offset,
        });
    }
    if lay.fragment.is_some() {
        return Err(TxError::IpFragment);
    }
    check_mss(ctx, lay, uso.mss)?;
    if lay.payload_len > ctx.limits.uso_max_size as usize {
        return Err(TxError::TooLarge {
            len: lay.payload_len,
            max: ctx.limits.uso_max_size as usize,
        });
    }
    let field = be16(hb, lay.l4_offset + usize::from(UDP_CSUM_OFFSET));
    // IPv4: 0 means "send without UDP checksum" (spec §2.3). IPv6 requires a checksum, so a
    // missing pseudo-header sum is computed from the addresses.
    let (pseudo_nolen, no_csum) = match (field, uso.ipv6) {
        (0, false) => (0, true),
        (0, true) => (pseudo_from_addresses(hb, lay), false),
        (v, _) => (v, false),
    };
    segmented_plan(
        ctx,
        lay,
        total,
        tag,
        frags,
        hb,
        uso.mss,
        SegKind::Udp,
        pseudo_nolen,
        no_csum,
    )
}

/// Common tail of LSO and USO planning: device GSO, one-frame send, or software segments.
#[allow(clippy::too_many_arguments)]
fn segmented_plan(
    ctx: &TxContext,
    lay: &FrameLayout,
    total: usize,
    tag: Option<VlanTag>,
    frags: &[&[u8]],
    hb: &mut [u8],
    mss: u32,
    kind: SegKind,
    pseudo_nolen: u16,
    udp_no_csum: bool,
) -> Result<TxPlan, TxError> {
    let header_len = lay.payload_offset;
    let mut out = *lay;
    let header_buf_len = insert_tag(hb, header_len, tag, &mut out);
    let payload = lay.payload_len;
    let mss_us = mss as usize;
    let segments = payload.div_ceil(mss_us).max(1);
    let mut plan = TxPlan {
        action: TxAction::Device,
        vnet_hdr: VirtioNetHdr::default(),
        header_len,
        header_buf_len,
        frame_len: total,
        layout: out,
        segments: u32::try_from(segments).unwrap_or(u32::MAX),
        lso_v1_tcp_payload: 0,
        mss,
        seg: Some(kind),
        pseudo_nolen,
        udp_no_csum,
        segment_checksum: if ctx.caps.csum && !udp_no_csum {
            SegmentChecksum::Device
        } else {
            SegmentChecksum::Software
        },
    };
    let l4_len = out.l4_len();
    let is_tcp = matches!(kind, SegKind::Tcp(_));
    let csum_off = if is_tcp {
        TCP_CSUM_OFFSET
    } else {
        UDP_CSUM_OFFSET
    };

    if segments == 1 {
        // Payload ≤ MSS: one ordinary frame. Lengths and the full pseudo-header, then a
        // checksum offload (or software checksum).
        plan.segments = 1;
        if !set_ip_len(hb, &out, out.l3_datagram_len) {
            return Err(TxError::TooLarge {
                len: payload,
                max: usize::from(u16::MAX),
            });
        }
        if !is_tcp {
            put_be16(hb, out.l4_offset + 4, u16::try_from(l4_len).unwrap_or(0));
        }
        if udp_no_csum {
            return Ok(plan);
        }
        put_be16(
            hb,
            out.l4_offset + usize::from(csum_off),
            checksum::add_length(pseudo_nolen, l4_len as u32),
        );
        let use_device = ctx.caps.csum && out.padding == 0;
        if use_device {
            plan.vnet_hdr = partial_csum_hdr(&out, csum_off);
        } else {
            software_l4_checksum(hb, &out, header_len, frags, !is_tcp);
        }
        return Ok(plan);
    }

    let (dev_ok, gso, max_segs) = match kind {
        SegKind::Tcp(_) => {
            let ok = if out.is_ipv4() {
                ctx.caps.tso4
            } else {
                ctx.caps.tso6
            };
            let gso = if out.is_ipv4() {
                GsoType::TcpV4
            } else {
                GsoType::TcpV6
            };
            (ok && ctx.caps.csum, gso, ctx.caps.max_tso_segments)
        }
        SegKind::Udp => (
            ctx.caps.uso && ctx.caps.csum && !udp_no_csum,
            GsoType::UdpL4,
            ctx.caps.max_uso_segments,
        ),
    };
    let cwr = is_tcp && be16(hb, out.l4_offset + 12) & TcpFlags::CWR.bits() != 0;
    let fits16 = l4_len <= usize::from(u16::MAX)
        && out.l3_datagram_len <= usize::from(u16::MAX) + wire::IPV6_HEADER_LEN;
    let seg_ok = max_segs == 0 || segments <= max_segs as usize;
    if dev_ok
        && (!cwr || ctx.caps.tso_ecn)
        && seg_ok
        && fits16
        && set_ip_len(hb, &out, out.l3_datagram_len)
    {
        if !is_tcp {
            put_be16(hb, out.l4_offset + 4, l4_len as u16);
        }
        put_be16(
            hb,
            out.l4_offset + usize::from(csum_off),
            checksum::add_length(pseudo_nolen, l4_len as u32),
        );
        plan.vnet_hdr = VirtioNetHdr {
            flags: HdrFlags::NEEDS_CSUM,
            gso_type: gso,
            ecn: cwr,
            hdr_len: out.payload_offset as u16,
            gso_size: mss as u16,
            csum_start: out.l4_offset as u16,
            csum_offset: csum_off,
            ..VirtioNetHdr::default()
        };
        return Ok(plan);
    }
    plan.action = TxAction::Segment;
    Ok(plan)
}

fn partial_csum_hdr(lay: &FrameLayout, csum_off: u16) -> VirtioNetHdr {
    VirtioNetHdr {
        flags: HdrFlags::NEEDS_CSUM,
        csum_start: lay.l4_offset as u16,
        csum_offset: csum_off,
        ..VirtioNetHdr::default()
    }
}

/// Completes the L4 checksum in the header copy: the field holds the full pseudo-header sum
/// (NDIS checksum offload, spec §4.2); sum from the L4 header to the datagram end.
fn software_l4_checksum(
    hb: &mut [u8],
    lay: &FrameLayout,
    header_len: usize,
    frags: &[&[u8]],
    udp: bool,
) {
    let off = lay.l4_offset
        + if udp {
            usize::from(UDP_CSUM_OFFSET)
        } else {
            usize::from(TCP_CSUM_OFFSET)
        };
    let mut c = checksum::Checksum::new();
    c.add_bytes(hb.get(lay.l4_offset..lay.payload_offset).unwrap_or(&[]));
    let payload_in_datagram = lay.l3_end().saturating_sub(lay.payload_offset);
    FragReader::new(frags, header_len).add(payload_in_datagram, &mut c);
    let v = c.checksum();
    put_be16(hb, off, if udp && v == 0 { 0xFFFF } else { v });
}

fn plan_checksum(
    ctx: &TxContext,
    info: &SendInfo,
    lay: &FrameLayout,
    total: usize,
    tag: Option<VlanTag>,
    frags: &[&[u8]],
    hb: &mut [u8],
) -> Result<TxPlan, TxError> {
    let req = info.checksum;
    let header_len = lay.payload_offset;
    let mut out = *lay;
    let header_buf_len = insert_tag(hb, header_len, tag, &mut out);
    let mut plan = TxPlan {
        action: TxAction::Device,
        vnet_hdr: VirtioNetHdr::default(),
        header_len,
        header_buf_len,
        frame_len: total,
        layout: out,
        segments: 1,
        lso_v1_tcp_payload: 0,
        mss: 0,
        seg: None,
        pseudo_nolen: 0,
        udp_no_csum: false,
        segment_checksum: SegmentChecksum::Software,
    };
    if !req.any() {
        return Ok(plan);
    }
    if req.is_ipv4 && req.is_ipv6 {
        return Err(TxError::IpVersionMismatch);
    }
    check_ip_version(lay, req.is_ipv6)?;
    if req.tcp && req.udp {
        return Err(if lay.is_tcp() {
            TxError::NotUdp
        } else {
            TxError::NotTcp
        });
    }
    if (req.tcp || req.udp) && lay.is_fragment() {
        return Err(TxError::IpFragment);
    }
    if req.tcp {
        if !lay.is_tcp() {
            return Err(TxError::NotTcp);
        }
        if req.tcp_header_offset != 0 && usize::from(req.tcp_header_offset) != lay.l4_offset {
            return Err(TxError::OffsetMismatch {
                requested: req.tcp_header_offset,
                parsed: lay.l4_offset,
            });
        }
    }
    if req.udp && !lay.is_udp() {
        return Err(TxError::NotUdp);
    }
    if req.ip_header && lay.is_ipv4() {
        // The field arrives zeroed or stale; ignore it (spec §4.2).
        fill_ipv4_checksum(hb, &out);
    }
    if req.tcp || req.udp {
        let csum_off = if req.tcp {
            TCP_CSUM_OFFSET
        } else {
            UDP_CSUM_OFFSET
        };
        // A device checksums to the end of the buffer, so padding after the datagram would
        // enter the sum: checksum such frames here.
        if ctx.caps.csum && out.padding == 0 {
            plan.vnet_hdr = partial_csum_hdr(&out, csum_off);
        } else {
            software_l4_checksum(hb, &out, header_len, frags, req.udp);
        }
    }
    Ok(plan)
}
