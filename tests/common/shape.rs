//! The Windows-stack stand-in's translation rules, as pure functions:
//!
//! * **send** ([`shape_tx`]): a frame the guest kernel transmitted on its TAP (with its
//!   `virtio_net_hdr`: TSO/USO super-frames, partial checksums the Linux way) becomes what
//!   Windows's TCP/IP hands a miniport — per-NBL info and header fields exactly as
//!   ndis-offload-rules §2.2–2.3 (USO), §3.2–3.3 (LSO) and §4.2 (checksum) describe, for the
//!   offloads the miniport *currently* has enabled ([`TxOffloads`], from its `NDIS_OFFLOAD`);
//!   what it cannot offload is done in software here, as the Windows stack would.
//! * **receive** ([`rx_to_tap`]): an NBL the miniport indicated becomes a frame for the guest
//!   kernel: an SCU (`CoalescedSegCount > 0`) as a GSO frame, checksum-succeeded as
//!   `NEEDS_CSUM` (Linux ignores `DATA_VALID` on TAP writes), checksum-failed dropped. Every
//!   claim the miniport makes is verified independently first ([`crate::pkt`]); a false
//!   "succeeded" is counted as a lie ([`RxStats::lies`]) and fails the tests.
//!
//! Bit positions of the per-NBL info are restated here from the spec tables (not taken from
//! ndis-sys) so a layout mistake shared by driver and stand-in cannot cancel out; a unit test
//! cross-checks them against ndis-sys's views.

use std::sync::atomic::{AtomicU64, Ordering};

use ndis_sys as n;
use testbed::tap::{gso, hdr_flags, VnetHdr};

use crate::pkt::{self, IpVer, PROTO_TCP, PROTO_UDP, TCP_CSUM_OFF, UDP_CSUM_OFF};

/// NBL info slot indices (x64, spec §0.2).
pub mod slot {
    /// `TcpIpChecksumNetBufferListInfo`.
    pub const CHECKSUM: usize = 0;
    /// `TcpLargeSendNetBufferListInfo`.
    pub const LSO: usize = 2;
    /// `Ieee8021QNetBufferListInfo`.
    pub const VLAN: usize = 4;
    /// `NetBufferListHashValue`.
    pub const HASH_VALUE: usize = 8;
    /// `NetBufferListHashInfo`.
    pub const HASH_INFO: usize = 9;
    /// `TcpRecvSegCoalesceInfo` (receive) = `UdpSegmentationOffloadInfo` (send).
    pub const RSC_USO: usize = 22;
    /// `RscTcpTimestampDelta`.
    pub const RSC_TS_DELTA: usize = 23;
}

/// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO` bits (spec §4.2).
pub mod csum {
    /// Transmit `IsIPv4`.
    pub const TX_IS_IPV4: usize = 1 << 0;
    /// Transmit `IsIPv6`.
    pub const TX_IS_IPV6: usize = 1 << 1;
    /// Transmit `TcpChecksum`.
    pub const TX_TCP: usize = 1 << 2;
    /// Transmit `UdpChecksum`.
    pub const TX_UDP: usize = 1 << 3;
    /// Transmit `IpHeaderChecksum`.
    pub const TX_IP: usize = 1 << 4;
    /// Transmit `TcpHeaderOffset` shift (10 bits).
    pub const TX_TCP_OFFSET_SHIFT: u32 = 16;
    /// Receive `TcpChecksumFailed`.
    pub const RX_TCP_FAILED: usize = 1 << 0;
    /// Receive `UdpChecksumFailed`.
    pub const RX_UDP_FAILED: usize = 1 << 1;
    /// Receive `IpChecksumFailed`.
    pub const RX_IP_FAILED: usize = 1 << 2;
    /// Receive `TcpChecksumSucceeded`.
    pub const RX_TCP_OK: usize = 1 << 3;
    /// Receive `UdpChecksumSucceeded`.
    pub const RX_UDP_OK: usize = 1 << 4;
    /// Receive `IpChecksumSucceeded`.
    pub const RX_IP_OK: usize = 1 << 5;
    /// Receive `Loopback` (NDIS-owned).
    pub const RX_LOOPBACK: usize = 1 << 6;
    /// Receive `TcpChecksumValueInvalid`.
    pub const RX_TCP_VALUE_INVALID: usize = 1 << 7;
    /// Receive `IpChecksumValueInvalid`.
    pub const RX_IP_VALUE_INVALID: usize = 1 << 8;
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO` (spec §3.2).
pub mod lso {
    /// `MSS` mask (bits 0..19).
    pub const MSS_MASK: usize = 0xF_FFFF;
    /// `TcpHeaderOffset` shift (bits 20..29).
    pub const OFFSET_SHIFT: u32 = 20;
    /// `Type` bit (30): 1 = LSOv2.
    pub const TYPE_V2: usize = 1 << 30;
    /// `IPVersion` bit (31): 1 = IPv6.
    pub const IPV6: usize = 1 << 31;
    /// `LsoV1TransmitComplete.TcpPayload` mask (bits 0..29).
    pub const V1_PAYLOAD_MASK: usize = 0x3FFF_FFFF;
}

/// `NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO` (spec §2.2).
pub mod uso {
    /// `MSS` mask (bits 0..19).
    pub const MSS_MASK: usize = 0xF_FFFF;
    /// `UdpHeaderOffset` shift (bits 20..29).
    pub const OFFSET_SHIFT: u32 = 20;
    /// `IPVersion` bit (31).
    pub const IPV6: usize = 1 << 31;
}

/// `NDIS_RECEIVE_FLAGS_RESOURCES`.
pub const RECEIVE_FLAGS_RESOURCES: u32 = 0x0000_0002;

// ---------------------------------------------------------------------------------------------
// What the miniport offloads now

/// One segmentation offload as the miniport reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegOffload {
    /// `MaxOffLoadSize` (payload bytes).
    pub max_size: u32,
    /// `MinSegmentCount`.
    pub min_segs: u32,
    /// USO: `SubMssFinalSegmentSupported`.
    pub sub_mss_final: bool,
}

/// The transmit offloads of the miniport's current `NDIS_OFFLOAD` (what Windows's stack would use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOffloads {
    /// IPv4 header checksum.
    pub ip4: bool,
    /// TCP/IPv4 checksum.
    pub tcp4: bool,
    /// UDP/IPv4 checksum.
    pub udp4: bool,
    /// TCP/IPv6 checksum.
    pub tcp6: bool,
    /// UDP/IPv6 checksum.
    pub udp6: bool,
    /// LSOv2 IPv4.
    pub lso4: Option<SegOffload>,
    /// LSOv2 IPv6.
    pub lso6: Option<SegOffload>,
    /// LSOv1 IPv4 (used only when LSOv2 IPv4 is off, as Windows does).
    pub lso1: Option<SegOffload>,
    /// USO IPv4.
    pub uso4: Option<SegOffload>,
    /// USO IPv6.
    pub uso6: Option<SegOffload>,
}

/// Receive-side state of the current `NDIS_OFFLOAD` (for the admin tables and RSC checks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxOffloads {
    /// RSC IPv4 enabled.
    pub rsc4: bool,
    /// RSC IPv6 enabled.
    pub rsc6: bool,
}

fn ethernet(encap: u32) -> bool {
    encap & n::NDIS_ENCAPSULATION_IEEE_802_3 != 0
}

impl TxOffloads {
    /// From an `NDIS_OFFLOAD` (current configuration). Fields beyond the structure's revision
    /// are ignored, as NDIS does.
    pub fn from_ndis(o: &n::NDIS_OFFLOAD) -> Self {
        let c = &o.Checksum;
        let v4 = ethernet(c.IPv4Transmit.Encapsulation);
        let v6 = ethernet(c.IPv6Transmit.Encapsulation);
        let on = |x: u32| x == n::NDIS_OFFLOAD_SUPPORTED;
        let seg = |encap: u32, max: u32, min: u32| {
            (ethernet(encap) && max > 0).then_some(SegOffload {
                max_size: max,
                min_segs: min,
                sub_mss_final: true,
            })
        };
        let l2 = &o.LsoV2;
        let l1 = &o.LsoV1.IPv4;
        let (uso4, uso6) = if o.Header.Revision >= 6 {
            let u = &o.UdpSegmentation;
            let mk = |encap, max, min: u32, sub: u32| {
                seg(encap, max, min).map(|s| SegOffload {
                    sub_mss_final: sub == n::NDIS_OFFLOAD_SUPPORTED,
                    ..s
                })
            };
            (
                mk(
                    u.IPv4.Encapsulation,
                    u.IPv4.MaxOffLoadSize,
                    u.IPv4.min_segment_count(),
                    u.IPv4.sub_mss_final_segment_supported(),
                ),
                mk(
                    u.IPv6.Encapsulation,
                    u.IPv6.MaxOffLoadSize,
                    u.IPv6.min_segment_count(),
                    u.IPv6.sub_mss_final_segment_supported(),
                ),
            )
        } else {
            (None, None)
        };
        TxOffloads {
            ip4: v4 && on(c.IPv4Transmit.ip_checksum()),
            tcp4: v4 && on(c.IPv4Transmit.tcp_checksum()),
            udp4: v4 && on(c.IPv4Transmit.udp_checksum()),
            tcp6: v6 && on(c.IPv6Transmit.tcp_checksum()),
            udp6: v6 && on(c.IPv6Transmit.udp_checksum()),
            lso4: seg(
                l2.IPv4.Encapsulation,
                l2.IPv4.MaxOffLoadSize,
                l2.IPv4.MinSegmentCount,
            ),
            lso6: seg(
                l2.IPv6.Encapsulation,
                l2.IPv6.MaxOffLoadSize,
                l2.IPv6.MinSegmentCount,
            ),
            lso1: seg(l1.Encapsulation, l1.MaxOffLoadSize, l1.MinSegmentCount),
            uso4,
            uso6,
        }
    }

    /// `TUNSETOFFLOAD` flags for the guest TAP: the guest kernel hands over exactly the kinds
    /// of frames Windows's stack would hand the miniport (partial checksums only when some
    /// checksum or segmentation offload is on; TSO per LSO version/IP family; USO needs both
    /// families on a TAP, so the missing family is segmented here in software).
    pub fn tun_flags(&self) -> u32 {
        use testbed::tap::offload as f;
        let lso4 = self.lso4.is_some() || self.lso1.is_some();
        let any_csum = self.tcp4 || self.udp4 || self.tcp6 || self.udp6;
        let any_seg = lso4 || self.lso6.is_some() || self.uso4.is_some() || self.uso6.is_some();
        let mut fl = 0;
        if any_csum || any_seg {
            fl |= f::CSUM;
        }
        if lso4 {
            fl |= f::TSO4;
        }
        if self.lso6.is_some() {
            fl |= f::TSO6;
        }
        if self.uso4.is_some() || self.uso6.is_some() {
            fl |= f::USO4 | f::USO6;
        }
        fl
    }

    /// Largest LSO/USO payload the guest TAP may build (for `gso_max_size`).
    pub fn gso_max(&self) -> u32 {
        [self.lso4, self.lso6, self.lso1, self.uso4, self.uso6]
            .iter()
            .flatten()
            .map(|s| s.max_size)
            .max()
            .unwrap_or(0)
    }
}

impl RxOffloads {
    /// From an `NDIS_OFFLOAD` (current configuration; RSC needs revision ≥ 3).
    pub fn from_ndis(o: &n::NDIS_OFFLOAD) -> Self {
        if o.Header.Revision < 3 {
            return RxOffloads::default();
        }
        RxOffloads {
            rsc4: o.Rsc.IPv4Enabled != 0,
            rsc6: o.Rsc.IPv6Enabled != 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

macro_rules! counters {
    ($(#[$m:meta])* $name:ident / $snap:ident { $($(#[$fm:meta])* $f:ident,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name { $($(#[$fm])* pub $f: AtomicU64,)* }
        /// A plain copy of the counters.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $snap { $($(#[$fm])* pub $f: u64,)* }
        impl $name {
            /// Current values.
            pub fn snapshot(&self) -> $snap {
                $snap { $($f: self.$f.load(Ordering::Relaxed),)* }
            }
        }
        impl $snap {
            /// `self - earlier`, per counter.
            pub fn since(&self, e: &$snap) -> $snap {
                $snap { $($f: self.$f.saturating_sub(e.$f),)* }
            }
            /// `(name, value)` of every non-zero counter.
            pub fn nonzero(&self) -> Vec<(&'static str, u64)> {
                let mut v = Vec::new();
                $(if self.$f != 0 { v.push((stringify!($f), self.$f)); })*
                v
            }
        }
    };
}

counters!(
    /// Send-side counters of the stand-in.
    TxStats / TxSnap {
        /// Frames read from the guest TAP.
        tap_frames,
        /// Bytes read from the guest TAP (without vnet headers).
        tap_bytes,
        /// NBLs handed to the miniport.
        nbls,
        /// LSOv2 NBLs.
        lso_v2,
        /// Of those, IPv6.
        lso_v2_ipv6,
        /// LSOv1 NBLs.
        lso_v1,
        /// USO NBLs.
        uso,
        /// NBLs with checksum-offload requests.
        csum_requests,
        /// Of those, requesting the TCP checksum.
        csum_tcp,
        /// Requesting the UDP checksum.
        csum_udp,
        /// Requesting the IPv4 header checksum.
        csum_ip,
        /// Checksums computed here because the miniport does not offload them.
        sw_csum,
        /// Super-frames segmented here (offload off or unusable).
        sw_segmented,
        /// Super-frames split into several NBLs (payload above MaxOffLoadSize).
        split,
        /// Frames dropped as malformed (unparsable with a GSO/partial-checksum header).
        malformed,
        /// NBLs the miniport completed.
        completed,
        /// Completions with a status other than success.
        completed_failed,
        /// LSO completions whose per-NBL info breaks spec §3.2 (v1 TcpPayload / v2 Reserved).
        bad_lso_completion,
        /// Frames not sent because the adapter was not running.
        not_running,
    }
);

counters!(
    /// Receive-side counters of the stand-in.
    RxStats / RxSnap {
        /// NBLs indicated by the miniport.
        nbls,
        /// NET_BUFFERs (frames) in them.
        frames,
        /// Bytes of indicated frames.
        bytes,
        /// Indications with NDIS_RECEIVE_FLAGS_RESOURCES.
        resources,
        /// NBLs indicated on emulated processor 0.
        on_cpu0,
        /// On processor 1.
        on_cpu1,
        /// On other processors.
        on_cpu_other,
        /// SCUs (CoalescedSegCount > 0).
        scus,
        /// Of those, IPv6.
        scus_ipv6,
        /// Sum of CoalescedSegCount over SCUs.
        scu_segments,
        /// TCP payload bytes in SCUs.
        scu_payload,
        /// Largest CoalescedSegCount seen.
        scu_max_segments,
        /// SCUs whose DupAckCount is non-zero.
        scu_dup_acks,
        /// SCUs whose CoalescedSegCount cannot be right: more segments than payload bytes, or
        /// fewer than the payload needs at the largest MSS the MTU allows.
        scu_count_implausible,
        /// TCP frames with payload indicated outside SCUs.
        tcp_data_frames,
        /// TCP data that skipped ahead of the flow's next expected sequence number (a segment
        /// before it is missing: lost or reordered on the way up).
        tcp_gaps,
        /// TCP data starting before the flow's next expected sequence number (a retransmission,
        /// or a segment that came up late: reordering).
        tcp_old,
        /// Frames with TcpChecksumSucceeded (SCUs included).
        verdict_tcp_ok,
        /// Frames with UdpChecksumSucceeded.
        verdict_udp_ok,
        /// Frames with IpChecksumSucceeded.
        verdict_ip_ok,
        /// SCUs with an IPv4 header checksum the miniport left wrong (without ValueInvalid).
        scu_bad_ip_csum,
        /// SCUs whose IP length field does not match the frame.
        scu_bad_length,
        /// SCUs without both IpChecksumSucceeded and TcpChecksumSucceeded (spec §1.7).
        scu_missing_succeeded,
        /// SCUs with several NET_BUFFERs or not TCP (spec §1.6: exactly one NB).
        scu_malformed,
        /// SCUs with TcpChecksumValueInvalid.
        scu_tcp_value_invalid,
        /// SCUs with IpChecksumValueInvalid.
        scu_ip_value_invalid,
        /// Non-SCU frames larger than the MTU.
        oversize,
        /// Frames the miniport said are checksum-OK and that verified.
        verified_ok,
        /// IP header checksums claimed OK that are wrong.
        lie_ip,
        /// TCP/UDP checksums claimed OK that are wrong.
        lie_l4,
        /// Frames reported with a *Failed bit: dropped here.
        failed_dropped,
        /// Of those, frames whose checksums are actually right (needless drops).
        failed_but_good,
        /// Frames without any checksum verdict (the guest kernel verifies).
        no_verdict,
        /// Frames written to the guest TAP.
        tap_frames,
        /// Of those, GSO frames.
        tap_gso,
        /// TAP write errors.
        tap_errors,
        /// Frames dropped as unparsable.
        malformed,
    }
);

impl RxSnap {
    /// Checksum lies in total (any is a test failure).
    pub fn lies(&self) -> u64 {
        self.lie_ip + self.lie_l4
    }

    /// Spec §1.5: arrival order preserved per flow. QEMU delivers in order and drops nothing
    /// itself; a frame the host TAP dropped (`tap_drops`, guest rings full on a loaded machine)
    /// is a gap the driver never saw, so gaps beyond that mean the miniport reordered (or lost)
    /// frames.
    pub fn assert_in_order(&self, tap_drops: u64) {
        assert!(
            self.tcp_gaps <= tap_drops,
            "indications out of arrival order: {} gaps, {tap_drops} frames dropped by the host \
             TAP: {self:?}",
            self.tcp_gaps
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Send: guest kernel frame -> Windows-shaped NBL

/// How a send NBL was shaped (for completion checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// No offload.
    Plain,
    /// Checksum offload requests only.
    Csum,
    /// LSOv2.
    LsoV2,
    /// LSOv1 with this many TCP payload bytes.
    LsoV1(u32),
    /// USO.
    Uso,
}

/// One NBL as Windows's stack would send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WinTx {
    /// The frame (one NET_BUFFER).
    pub frame: Vec<u8>,
    /// Offsets where the MDL chain is split (headers / payload pieces).
    pub splits: Vec<usize>,
    /// `(slot, value)` per-NBL info.
    pub info: Vec<(usize, usize)>,
    /// Kind.
    pub kind: TxKind,
}

/// Bytes of payload per MDL after the header MDL (Windows hands application buffers in
/// pieces; several MDLs exercise the miniport's scatter/gather path).
pub const PAYLOAD_MDL: usize = 64 * 1024;

fn mdl_splits(hdr_end: usize, len: usize) -> Vec<usize> {
    let mut v = Vec::new();
    if hdr_end > 0 && hdr_end < len {
        v.push(hdr_end);
        let mut o = hdr_end + PAYLOAD_MDL;
        while o < len {
            v.push(o);
            o += PAYLOAD_MDL;
        }
    }
    v
}

fn csum_field(proto: u8) -> Option<usize> {
    match proto {
        PROTO_TCP => Some(TCP_CSUM_OFF),
        PROTO_UDP => Some(UDP_CSUM_OFF),
        _ => None,
    }
}

/// Turns one frame from the guest TAP into the NBLs Windows's stack would send, appending to
/// `out`. Returns false when the frame was dropped as malformed.
pub fn shape_tx(
    hdr: &VnetHdr,
    mut frame: Vec<u8>,
    off: &TxOffloads,
    out: &mut Vec<WinTx>,
    st: &TxStats,
) -> bool {
    let mut h = *hdr;
    let mut vlan_info = 0usize;
    // A tagged frame: Windows puts the tag out of band (NDIS_ENCAPSULATION_..._P_AND_Q_IN_OOB).
    if frame.len() >= 18 && pkt::get16(&frame, 12) == Some(pkt::ETHERTYPE_VLAN) {
        let tci = usize::from(pkt::get16(&frame, 14).unwrap_or(0));
        vlan_info = ((tci >> 13) & 7) | ((tci & 0xFFF) << 4);
        frame.drain(12..16);
        if h.flags & hdr_flags::NEEDS_CSUM != 0 {
            h.csum_start = h.csum_start.saturating_sub(4);
        }
        h.hdr_len = h.hdr_len.saturating_sub(4);
    }
    let gso_type = h.gso_type & !gso::ECN;
    if gso_type != gso::NONE {
        return shape_gso(&h, gso_type, frame, off, out, st, vlan_info);
    }
    let partial = h.flags & hdr_flags::NEEDS_CSUM != 0;
    match shape_plain(
        frame,
        partial.then_some((h.csum_start, h.csum_offset)),
        off,
        st,
    ) {
        Some(mut w) => {
            if vlan_info != 0 {
                w.info.push((slot::VLAN, vlan_info));
            }
            out.push(w);
            true
        }
        None => {
            st.malformed.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// A non-GSO frame: checksum-offload requests where the miniport offloads, software checksums
/// where it does not (spec §4.2: pseudo-header sum *with* the length in the L4 field, IPv4
/// header checksum zeroed when offloaded).
fn shape_plain(
    mut frame: Vec<u8>,
    partial: Option<(u16, u16)>,
    off: &TxOffloads,
    st: &TxStats,
) -> Option<WinTx> {
    let p = pkt::parse(&frame);
    let ip = p.and_then(|p| p.ip);
    let mut info = 0usize;
    let mut hdr_end = 0usize;
    if let Some((start, offset)) = partial {
        let start = usize::from(start);
        let field = start + usize::from(offset);
        if field + 2 > frame.len() {
            return None;
        }
        // Which L4 checksum is it? Only TCP/UDP right after the IP header can be offloaded.
        let l4 = ip.filter(|ip| {
            ip.l4 == start && !ip.fragment && csum_field(ip.proto) == Some(usize::from(offset))
        });
        let offloaded = l4.is_some_and(|ip| match (ip.ver, ip.proto) {
            (IpVer::V4, PROTO_TCP) => off.tcp4,
            (IpVer::V4, PROTO_UDP) => off.udp4,
            (IpVer::V6, PROTO_TCP) => off.tcp6,
            (IpVer::V6, PROTO_UDP) => off.udp6,
            _ => false,
        });
        match l4 {
            Some(ip) if offloaded => {
                let end = pkt::ip_end(&frame, &ip)?;
                let len = (end - ip.l4) as u32;
                let ps = pkt::fold(ip.pseudo(Some(len)));
                pkt::put16(&mut frame, field, ps);
                info |= if ip.ver == IpVer::V4 {
                    csum::TX_IS_IPV4
                } else {
                    csum::TX_IS_IPV6
                };
                if ip.proto == PROTO_TCP {
                    info |= csum::TX_TCP | (ip.l4 << csum::TX_TCP_OFFSET_SHIFT);
                    hdr_end = ip.l4 + pkt::tcp_hlen(&frame, ip.l4)?;
                } else {
                    info |= csum::TX_UDP;
                    hdr_end = ip.l4 + 8;
                }
            }
            _ => {
                // Software checksum: the field holds the (Linux) pseudo-header sum with the
                // length; sum from csum_start to the end and complement (virtio §5.1.6.2).
                let end = ip
                    .and_then(|ip| pkt::ip_end(&frame, &ip))
                    .unwrap_or(frame.len());
                if start >= end || field + 2 > end {
                    return None;
                }
                let mut c = !pkt::fold(pkt::sum(&frame[start..end]));
                if ip.is_some_and(|ip| ip.proto == PROTO_UDP) && c == 0 {
                    c = 0xFFFF;
                }
                pkt::put16(&mut frame, field, c);
                st.sw_csum.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // IPv4 header checksum: offloaded for every IPv4 packet when enabled.
    if let (Some(p), Some(ip)) = (p, ip) {
        if ip.ver == IpVer::V4 && off.ip4 {
            pkt::put16(&mut frame, p.l3 + 10, 0);
            info |= csum::TX_IS_IPV4 | csum::TX_IP;
        }
    }
    let kind = if info != 0 {
        st.csum_requests.fetch_add(1, Ordering::Relaxed);
        if info & csum::TX_TCP != 0 {
            st.csum_tcp.fetch_add(1, Ordering::Relaxed);
        }
        if info & csum::TX_UDP != 0 {
            st.csum_udp.fetch_add(1, Ordering::Relaxed);
        }
        if info & csum::TX_IP != 0 {
            st.csum_ip.fetch_add(1, Ordering::Relaxed);
        }
        TxKind::Csum
    } else {
        TxKind::Plain
    };
    let splits = mdl_splits(hdr_end, frame.len());
    Some(WinTx {
        frame,
        splits,
        info: if info != 0 {
            vec![(slot::CHECKSUM, info)]
        } else {
            Vec::new()
        },
        kind,
    })
}

#[allow(clippy::too_many_arguments)]
fn shape_gso(
    h: &VnetHdr,
    gso_type: u8,
    frame: Vec<u8>,
    off: &TxOffloads,
    out: &mut Vec<WinTx>,
    st: &TxStats,
    vlan_info: usize,
) -> bool {
    let Some(p) = pkt::parse(&frame) else {
        st.malformed.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let Some(ip) = p.ip else {
        st.malformed.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let mss = usize::from(h.gso_size);
    let (is_tcp, hlen) = match (gso_type, ip.proto) {
        (gso::TCPV4 | gso::TCPV6, PROTO_TCP) => match pkt::tcp_hlen(&frame, ip.l4) {
            Some(t) => (true, ip.l4 + t),
            None => {
                st.malformed.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        },
        (gso::UDP_L4, PROTO_UDP) => (false, ip.l4 + 8),
        _ => {
            st.malformed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
    };
    if mss == 0 || ip.fragment || hlen > frame.len() {
        st.malformed.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    let payload = frame.len() - hlen;
    let segs = payload.div_ceil(mss) as u32;
    let v4 = ip.ver == IpVer::V4;
    let offload = match (is_tcp, v4) {
        (true, true) => off.lso4.map(|o| (o, false)).or(off.lso1.map(|o| (o, true))),
        (true, false) => off.lso6.map(|o| (o, false)),
        (false, true) => off.uso4.map(|o| (o, false)),
        (false, false) => off.uso6.map(|o| (o, false)),
    };
    // USO without SubMssFinalSegmentSupported: only exact multiples of the MSS (spec §2.1).
    let usable = offload.filter(|(o, _)| {
        segs >= o.min_segs.max(2) && (is_tcp || o.sub_mss_final || payload.is_multiple_of(mss))
    });
    let Some((o, v1)) = usable else {
        // Windows would not have built this send: segment it here, as its stack would.
        st.sw_segmented.fetch_add(1, Ordering::Relaxed);
        for seg in split_gso(&frame, &ip, hlen, is_tcp, mss, mss) {
            let l4 = ip.l4 as u16;
            let partial = Some((l4, if is_tcp { 16 } else { 6 }));
            match shape_plain(seg, partial, off, st) {
                Some(mut w) => {
                    if vlan_info != 0 {
                        w.info.push((slot::VLAN, vlan_info));
                    }
                    out.push(w);
                }
                None => {
                    st.malformed.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
        return true;
    };
    // Above MaxOffLoadSize: several large sends, each a multiple of the MSS.
    let max = (o.max_size as usize / mss).max(1) * mss;
    let pieces = if payload > max {
        st.split.fetch_add(1, Ordering::Relaxed);
        split_gso(&frame, &ip, hlen, is_tcp, mss, max)
    } else {
        vec![frame]
    };
    for mut f in pieces {
        let Some(ip) = pkt::parse(&f).and_then(|p| p.ip) else {
            st.malformed.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        let l3 = ip.l4 - ip.hlen;
        let piece_payload = (f.len() - hlen) as u32;
        // One segment left after a split: an ordinary checksum-offload send.
        if piece_payload as usize <= mss {
            let partial = Some((ip.l4 as u16, if is_tcp { 16 } else { 6 }));
            let end = pkt::ip_end(&f, &ip).unwrap_or(f.len());
            let ps = pkt::fold(ip.pseudo(Some((end - ip.l4) as u32)));
            pkt::put16(&mut f, ip.l4 + if is_tcp { 16 } else { 6 }, ps);
            match shape_plain(f, partial, off, st) {
                Some(mut w) => {
                    if vlan_info != 0 {
                        w.info.push((slot::VLAN, vlan_info));
                    }
                    out.push(w);
                }
                None => return false,
            }
            continue;
        }
        // Spec §3.3 / §2.3: pseudo-header sum WITHOUT the length in the L4 checksum field.
        let field = ip.l4 + if is_tcp { TCP_CSUM_OFF } else { UDP_CSUM_OFF };
        pkt::put16(&mut f, field, pkt::fold(ip.pseudo(None)));
        if v4 {
            // The segmenting NIC computes each segment's IPv4 header checksum.
            pkt::put16(&mut f, l3 + 10, 0);
        }
        let mut info = Vec::with_capacity(2);
        let kind;
        if is_tcp {
            let mut v = (mss & lso::MSS_MASK) | (ip.l4 << lso::OFFSET_SHIFT);
            if v1 {
                // LSOv1: IPv4 Total Length holds the whole packet.
                kind = TxKind::LsoV1(piece_payload);
                st.lso_v1.fetch_add(1, Ordering::Relaxed);
            } else {
                // LSOv2: IPv4 Total Length / IPv6 Payload Length 0 (spec §3.3).
                pkt::put16(&mut f, l3 + if v4 { 2 } else { 4 }, 0);
                v |= lso::TYPE_V2 | if v4 { 0 } else { lso::IPV6 };
                kind = TxKind::LsoV2;
                st.lso_v2.fetch_add(1, Ordering::Relaxed);
                if !v4 {
                    st.lso_v2_ipv6.fetch_add(1, Ordering::Relaxed);
                }
            }
            info.push((slot::LSO, v));
        } else {
            let v = (mss & uso::MSS_MASK)
                | (ip.l4 << uso::OFFSET_SHIFT)
                | if v4 { 0 } else { uso::IPV6 };
            info.push((slot::RSC_USO, v));
            kind = TxKind::Uso;
            st.uso.fetch_add(1, Ordering::Relaxed);
        }
        if vlan_info != 0 {
            info.push((slot::VLAN, vlan_info));
        }
        let splits = mdl_splits(hlen, f.len());
        out.push(WinTx {
            frame: f,
            splits,
            info,
            kind,
        });
    }
    true
}

/// Cuts a TCP/UDP super-frame (headers `..hlen`, payload after) into frames of `chunk` payload
/// bytes (a multiple of `mss`, or `mss` itself for plain segments): per piece the IP length,
/// IPv4 identification (+ segments before it), TCP sequence number and flags (FIN/PSH only on
/// the last, CWR only on the first) or UDP length are rewritten; the L4 checksum field gets the
/// pseudo-header sum *with* the piece's length (a partial checksum, Linux convention), the IPv4
/// header checksum is recomputed.
pub fn split_gso(
    frame: &[u8],
    ip: &pkt::Ip,
    hlen: usize,
    is_tcp: bool,
    mss: usize,
    chunk: usize,
) -> Vec<Vec<u8>> {
    let l3 = ip.l4 - ip.hlen;
    let payload = &frame[hlen..];
    let n = payload.len().div_ceil(chunk).max(1);
    let base_id = pkt::get16(frame, l3 + 4).unwrap_or(0);
    let seq0 = if is_tcp {
        pkt::tcp_seq(frame, ip.l4).unwrap_or(0)
    } else {
        0
    };
    let flags0 = if is_tcp {
        pkt::tcp_flags(frame, ip.l4).unwrap_or(0)
    } else {
        0
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let a = i * chunk;
        let b = (a + chunk).min(payload.len());
        let mut f = Vec::with_capacity(hlen + b - a);
        f.extend_from_slice(&frame[..hlen]);
        f.extend_from_slice(&payload[a..b]);
        let l4_len = f.len() - ip.l4;
        match ip.ver {
            IpVer::V4 => {
                let tl = (f.len() - l3) as u16;
                pkt::put16(&mut f, l3 + 2, tl);
                let segs_before = (a / mss) as u16;
                pkt::put16(&mut f, l3 + 4, base_id.wrapping_add(segs_before));
                pkt::fix_ipv4_header(&mut f, l3, ip.hlen);
            }
            IpVer::V6 => {
                let pl = (f.len() - l3 - 40) as u16;
                pkt::put16(&mut f, l3 + 4, pl);
            }
        }
        if is_tcp {
            pkt::put32(&mut f, ip.l4 + 4, seq0.wrapping_add(a as u32));
            let mut fl = flags0;
            if i + 1 != n {
                fl &= !(pkt::tcp_flags::FIN | pkt::tcp_flags::PSH);
            }
            if i != 0 {
                fl &= !pkt::tcp_flags::CWR;
            }
            f[ip.l4 + 13] = fl;
        } else {
            pkt::put16(&mut f, ip.l4 + 4, l4_len as u16);
        }
        let ps = pkt::fold(ip.pseudo(Some(l4_len as u32)));
        let field = ip.l4 + if is_tcp { TCP_CSUM_OFF } else { UDP_CSUM_OFF };
        pkt::put16(&mut f, field, ps);
        out.push(f);
    }
    out
}

/// Checks the per-NBL info of a completed LSO send (spec §3.2): LSOv1 → `TcpPayload` = payload
/// bytes, `Type` kept; LSOv2 → `Reserved` 0, `Type` V2. True when right (or not LSO).
pub fn lso_completion_ok(kind: TxKind, lso_slot: usize) -> bool {
    match kind {
        TxKind::LsoV1(payload) => {
            lso_slot & lso::TYPE_V2 == 0 && (lso_slot & lso::V1_PAYLOAD_MASK) == payload as usize
        }
        TxKind::LsoV2 => lso_slot & lso::TYPE_V2 != 0 && lso_slot & lso::V1_PAYLOAD_MASK == 0,
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------------
// Receive order

/// Per-flow next expected TCP sequence number of what was indicated (spec §1.5: arrival order
/// must be preserved): gaps and late data are counted in [`RxStats`].
#[derive(Debug, Default)]
pub struct TcpOrder {
    next: std::collections::HashMap<[u8; 36], u32>,
}

impl TcpOrder {
    /// Looks at one (verified, fixed-up) frame.
    pub fn observe(&mut self, f: &[u8], st: &RxStats) {
        let Some(p) = pkt::parse(f) else { return };
        let Some(ip) = p.ip.filter(|ip| ip.proto == PROTO_TCP && !ip.fragment) else {
            return;
        };
        let Some(thl) = pkt::tcp_hlen(f, ip.l4) else {
            return;
        };
        let end = pkt::ip_end(f, &ip).unwrap_or(f.len());
        let len = end.saturating_sub(ip.l4 + thl) as u32;
        let Some(seq) = pkt::tcp_seq(f, ip.l4) else {
            return;
        };
        let flags = pkt::tcp_flags(f, ip.l4).unwrap_or(0);
        let mut key = [0u8; 36];
        key[..16].copy_from_slice(&ip.src);
        key[16..32].copy_from_slice(&ip.dst);
        key[32..36].copy_from_slice(&f[ip.l4..ip.l4 + 4]);
        let adv = len + u32::from(flags & (pkt::tcp_flags::SYN | pkt::tcp_flags::FIN) != 0);
        if adv == 0 {
            return;
        }
        match self.next.get(&key).copied() {
            None => {}
            Some(n) => {
                let d = seq.wrapping_sub(n) as i32;
                if d > 0 {
                    st.tcp_gaps.fetch_add(1, Ordering::Relaxed);
                } else if d < 0 {
                    st.tcp_old.fetch_add(1, Ordering::Relaxed);
                    // Keep the furthest point seen.
                    let e = seq.wrapping_add(adv);
                    if (e.wrapping_sub(n) as i32) <= 0 {
                        return;
                    }
                }
            }
        }
        self.next.insert(key, seq.wrapping_add(adv));
    }
}

// ---------------------------------------------------------------------------------------------
// Receive: indicated NBL -> guest kernel frame

/// The per-NBL info of an indication the stand-in looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxInfo {
    /// `TcpIpChecksumNetBufferListInfo`.
    pub csum: usize,
    /// `TcpRecvSegCoalesceInfo`.
    pub rsc: usize,
    /// `Ieee8021QNetBufferListInfo`.
    pub vlan: usize,
    /// Receive flags of the indication.
    pub receive_flags: u32,
}

impl RxInfo {
    /// From the info slot array of an indicated NBL.
    pub fn from_slots(info: &[usize], receive_flags: u32) -> Self {
        let g = |i: usize| info.get(i).copied().unwrap_or(0);
        RxInfo {
            csum: g(slot::CHECKSUM),
            rsc: g(slot::RSC_USO),
            vlan: g(slot::VLAN),
            receive_flags,
        }
    }
    /// `CoalescedSegCount`.
    pub fn coalesced(&self) -> u16 {
        (self.rsc & 0xFFFF) as u16
    }
    /// `DupAckCount`.
    pub fn dup_acks(&self) -> u16 {
        ((self.rsc >> 16) & 0xFFFF) as u16
    }
}

/// What to do with one indicated frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RxVerdict {
    /// Write it to the guest TAP with this header (the frame was fixed up in place).
    Deliver(VnetHdr),
    /// Drop it (checksum failed, or malformed).
    Drop,
}

fn max_fetch(a: &AtomicU64, v: u64) {
    a.fetch_max(v, Ordering::Relaxed);
}

/// Verifies one indicated frame (`nbs` = NET_BUFFERs in its NBL) and prepares it for the TAP.
/// `mtu` is the guest TAP MTU (L3 bytes) for the oversize count.
pub fn rx_to_tap(
    frame: &mut Vec<u8>,
    info: &RxInfo,
    nbs: usize,
    mtu: usize,
    st: &RxStats,
) -> RxVerdict {
    st.frames.fetch_add(1, Ordering::Relaxed);
    st.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
    // 802.1Q info out of band: put the tag back for the guest kernel.
    if info.vlan != 0 && frame.len() >= 14 {
        let prio = info.vlan & 7;
        let vid = (info.vlan >> 4) & 0xFFF;
        let tci = ((prio << 13) | vid) as u16;
        let mut tag = [0x81, 0x00, 0, 0];
        tag[2..].copy_from_slice(&tci.to_be_bytes());
        frame.splice(12..12, tag);
    }
    let Some(p) = pkt::parse(frame) else {
        st.malformed.fetch_add(1, Ordering::Relaxed);
        return RxVerdict::Drop;
    };
    let c = info.csum;
    let failed = c & (csum::RX_TCP_FAILED | csum::RX_UDP_FAILED | csum::RX_IP_FAILED) != 0;
    if failed {
        st.failed_dropped.fetch_add(1, Ordering::Relaxed);
        let good = p.ip.is_some_and(|ip| {
            (ip.ver == IpVer::V6 || pkt::ipv4_header_ok(frame, p.l3, ip.hlen))
                && (ip.fragment || pkt::l4_ok(frame, &ip))
        });
        if good {
            st.failed_but_good.fetch_add(1, Ordering::Relaxed);
        }
        return RxVerdict::Drop;
    }
    if c & csum::RX_TCP_OK != 0 {
        st.verdict_tcp_ok.fetch_add(1, Ordering::Relaxed);
    }
    if c & csum::RX_UDP_OK != 0 {
        st.verdict_udp_ok.fetch_add(1, Ordering::Relaxed);
    }
    if c & csum::RX_IP_OK != 0 {
        st.verdict_ip_ok.fetch_add(1, Ordering::Relaxed);
    }
    let segs = info.coalesced();
    if segs > 0 {
        return scu_to_tap(frame, &p, info, nbs, mtu, st);
    }
    if let Some(ip) =
        p.ip.filter(|ip| ip.proto == PROTO_TCP && !ip.later_fragment)
    {
        let thl = pkt::tcp_hlen(frame, ip.l4).unwrap_or(20);
        let end = pkt::ip_end(frame, &ip).unwrap_or(frame.len());
        if end > ip.l4 + thl {
            st.tcp_data_frames.fetch_add(1, Ordering::Relaxed);
        }
    }
    if frame.len() > mtu + 14 + if p.vlan.is_some() { 4 } else { 0 } {
        st.oversize.fetch_add(1, Ordering::Relaxed);
    }
    let Some(ip) = p.ip else {
        if c & (csum::RX_IP_OK | csum::RX_TCP_OK | csum::RX_UDP_OK) != 0 {
            // A verdict on a frame without an IP header is a lie about nothing: count it.
            st.lie_ip.fetch_add(1, Ordering::Relaxed);
        }
        st.no_verdict.fetch_add(1, Ordering::Relaxed);
        return RxVerdict::Deliver(VnetHdr::default());
    };
    let mut lied = false;
    if c & csum::RX_IP_OK != 0 && ip.ver == IpVer::V4 {
        if c & csum::RX_IP_VALUE_INVALID != 0 {
            pkt::fix_ipv4_header(frame, p.l3, ip.hlen);
        } else if !pkt::ipv4_header_ok(frame, p.l3, ip.hlen) {
            st.lie_ip.fetch_add(1, Ordering::Relaxed);
            lied = true;
        }
    }
    let l4_claim = match ip.proto {
        PROTO_TCP => c & csum::RX_TCP_OK != 0,
        PROTO_UDP => c & csum::RX_UDP_OK != 0,
        _ => false,
    };
    let wrong_proto_claim = match ip.proto {
        PROTO_TCP => c & csum::RX_UDP_OK != 0,
        PROTO_UDP => c & csum::RX_TCP_OK != 0,
        _ => c & (csum::RX_TCP_OK | csum::RX_UDP_OK) != 0,
    };
    if wrong_proto_claim {
        st.lie_l4.fetch_add(1, Ordering::Relaxed);
        lied = true;
    }
    let mut hdr = VnetHdr::default();
    if l4_claim {
        if ip.fragment || !pkt::l4_ok(frame, &ip) {
            st.lie_l4.fetch_add(1, Ordering::Relaxed);
            lied = true;
        } else if !lied {
            // Verified: hand it over as "checksum done" so the guest kernel does not redo it.
            let end = pkt::ip_end(frame, &ip).unwrap_or(frame.len());
            let field = csum_field(ip.proto).unwrap_or(TCP_CSUM_OFF);
            let udp_none = ip.proto == PROTO_UDP
                && ip.ver == IpVer::V4
                && pkt::get16(frame, ip.l4 + UDP_CSUM_OFF) == Some(0);
            if !udp_none {
                let ps = pkt::fold(ip.pseudo(Some((end - ip.l4) as u32)));
                pkt::put16(frame, ip.l4 + field, ps);
                hdr.flags = hdr_flags::NEEDS_CSUM;
                hdr.csum_start = ip.l4 as u16;
                hdr.csum_offset = field as u16;
            }
        }
    }
    if !lied && (l4_claim || c & csum::RX_IP_OK != 0) {
        st.verified_ok.fetch_add(1, Ordering::Relaxed);
    }
    if !l4_claim && c & csum::RX_IP_OK == 0 {
        st.no_verdict.fetch_add(1, Ordering::Relaxed);
    }
    RxVerdict::Deliver(hdr)
}

fn scu_to_tap(
    frame: &mut [u8],
    p: &pkt::Frame,
    info: &RxInfo,
    nbs: usize,
    mtu: usize,
    st: &RxStats,
) -> RxVerdict {
    let segs = info.coalesced();
    st.scus.fetch_add(1, Ordering::Relaxed);
    st.scu_segments
        .fetch_add(u64::from(segs), Ordering::Relaxed);
    max_fetch(&st.scu_max_segments, u64::from(segs));
    if info.dup_acks() != 0 {
        st.scu_dup_acks.fetch_add(1, Ordering::Relaxed);
    }
    let c = info.csum;
    let Some(ip) = p.ip.filter(|ip| ip.proto == PROTO_TCP && !ip.fragment) else {
        st.scu_malformed.fetch_add(1, Ordering::Relaxed);
        return RxVerdict::Drop;
    };
    if nbs != 1 {
        st.scu_malformed.fetch_add(1, Ordering::Relaxed);
    }
    if ip.ver == IpVer::V6 {
        st.scus_ipv6.fetch_add(1, Ordering::Relaxed);
    }
    let Some(thl) = pkt::tcp_hlen(frame, ip.l4) else {
        st.scu_malformed.fetch_add(1, Ordering::Relaxed);
        return RxVerdict::Drop;
    };
    if c & csum::RX_IP_OK == 0 || c & csum::RX_TCP_OK == 0 {
        st.scu_missing_succeeded.fetch_add(1, Ordering::Relaxed);
    }
    let want_len = match ip.ver {
        IpVer::V4 => frame.len() - p.l3,
        IpVer::V6 => frame.len() - p.l3 - 40,
    };
    if usize::from(ip.len_field) != want_len {
        st.scu_bad_length.fetch_add(1, Ordering::Relaxed);
        let off = p.l3 + if ip.ver == IpVer::V4 { 2 } else { 4 };
        pkt::put16(frame, off, want_len as u16);
    }
    if ip.ver == IpVer::V4 {
        if c & csum::RX_IP_VALUE_INVALID != 0 {
            st.scu_ip_value_invalid.fetch_add(1, Ordering::Relaxed);
            pkt::fix_ipv4_header(frame, p.l3, ip.hlen);
        } else if !pkt::ipv4_header_ok(frame, p.l3, ip.hlen) {
            // Spec §1.6/§1.7: recomputed, or flagged invalid. QEMU leaves it stale.
            st.scu_bad_ip_csum.fetch_add(1, Ordering::Relaxed);
            st.lie_ip.fetch_add(1, Ordering::Relaxed);
            pkt::fix_ipv4_header(frame, p.l3, ip.hlen);
        }
    }
    let ip = pkt::parse(frame).and_then(|p| p.ip).unwrap_or(ip);
    if c & csum::RX_TCP_VALUE_INVALID != 0 {
        // The field is not meaningful: nothing to verify; the data is checked by the tests'
        // stream hashes.
        st.scu_tcp_value_invalid.fetch_add(1, Ordering::Relaxed);
    } else if c & csum::RX_TCP_OK != 0 && !pkt::l4_ok(frame, &ip) {
        st.lie_l4.fetch_add(1, Ordering::Relaxed);
        return RxVerdict::Drop;
    } else {
        st.verified_ok.fetch_add(1, Ordering::Relaxed);
    }
    let hlen = ip.l4 + thl;
    let payload = frame.len().saturating_sub(hlen);
    st.scu_payload.fetch_add(payload as u64, Ordering::Relaxed);
    // Each coalesced segment carried at least one byte and at most the MSS of the link
    // (MTU − IP header − TCP header, the SCU's own headers as lower bound).
    let max_mss = mtu.saturating_sub(ip.hlen + thl).max(1);
    if usize::from(segs) > payload || usize::from(segs) < payload.div_ceil(max_mss) {
        st.scu_count_implausible.fetch_add(1, Ordering::Relaxed);
    }
    let gso_size = payload.div_ceil(usize::from(segs)).max(1);
    let tcp_len = (frame.len() - ip.l4) as u32;
    let ps = pkt::fold(ip.pseudo(Some(tcp_len)));
    pkt::put16(frame, ip.l4 + TCP_CSUM_OFF, ps);
    RxVerdict::Deliver(VnetHdr {
        flags: hdr_flags::NEEDS_CSUM,
        gso_type: if ip.ver == IpVer::V4 {
            gso::TCPV4
        } else {
            gso::TCPV6
        },
        hdr_len: hlen as u16,
        gso_size: gso_size.min(usize::from(u16::MAX)) as u16,
        csum_start: ip.l4 as u16,
        csum_offset: TCP_CSUM_OFF as u16,
        num_buffers: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkt::{tcp4, udp4, Endpoints, TcpSeg};

    fn ep() -> Endpoints {
        Endpoints {
            src_mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_ip: [10, 77, 0, 2],
            dst_ip: [10, 77, 0, 1],
            sport: 40000,
            dport: 5201,
        }
    }

    fn all_on() -> TxOffloads {
        let s = SegOffload {
            max_size: 64000,
            min_segs: 2,
            sub_mss_final: true,
        };
        TxOffloads {
            ip4: true,
            tcp4: true,
            udp4: true,
            tcp6: true,
            udp6: true,
            lso4: Some(s),
            lso6: Some(s),
            lso1: Some(s),
            uso4: Some(s),
            uso6: Some(s),
        }
    }

    /// A TSO super-frame as the Linux kernel hands it to a TAP: TCP checksum field = pseudo
    /// header sum with the full TCP length, IPv4 header checksum valid.
    fn linux_tso(payload: usize, mss: u16) -> (VnetHdr, Vec<u8>) {
        let data: Vec<u8> = (0..payload).map(|i| (i * 31 + 7) as u8).collect();
        let seg = TcpSeg {
            seq: 1000,
            flags: pkt::tcp_flags::ACK | pkt::tcp_flags::PSH,
            ip_id: 0x7FFE,
            ..TcpSeg::default()
        };
        let mut f = tcp4(&ep(), &seg, &data);
        let ip = pkt::parse(&f).unwrap().ip.unwrap();
        let ps = pkt::fold(ip.pseudo(Some((f.len() - 34) as u32)));
        pkt::put16(&mut f, 34 + 16, ps);
        (
            VnetHdr {
                flags: hdr_flags::NEEDS_CSUM,
                gso_type: gso::TCPV4,
                hdr_len: 54,
                gso_size: mss,
                csum_start: 34,
                csum_offset: 16,
                num_buffers: 0,
            },
            f,
        )
    }

    /// What a segmenting NIC does with an NDIS LSOv2 send (spec §3.3), restated independently:
    /// per segment, the IPv4 length and checksum, the TCP sequence, FIN/PSH only on the last,
    /// and the TCP checksum from the template's pseudo-header sum (without length) + length.
    fn nic_lso_v2(w: &WinTx) -> Vec<Vec<u8>> {
        let v = w.info.iter().find(|(s, _)| *s == slot::LSO).unwrap().1;
        let mss = v & lso::MSS_MASK;
        let off = (v >> lso::OFFSET_SHIFT) & 0x3FF;
        let f = &w.frame;
        let thl = pkt::tcp_hlen(f, off).unwrap();
        let hl = off + thl;
        let seq = pkt::tcp_seq(f, off).unwrap();
        let id = pkt::get16(f, 18).unwrap();
        let ps_nolen = pkt::get16(f, off + 16).unwrap();
        let pay = &f[hl..];
        let n = pay.len().div_ceil(mss);
        (0..n)
            .map(|i| {
                let chunk = &pay[i * mss..((i + 1) * mss).min(pay.len())];
                let mut s = f[..hl].to_vec();
                s.extend_from_slice(chunk);
                let tl = (s.len() - 14) as u16;
                pkt::put16(&mut s, 16, tl);
                pkt::put16(&mut s, 18, (id.wrapping_add(i as u16)) & 0x7FFF);
                pkt::fix_ipv4_header(&mut s, 14, 20);
                pkt::put32(&mut s, off + 4, seq.wrapping_add((i * mss) as u32));
                if i + 1 != n {
                    s[off + 13] &= !(pkt::tcp_flags::FIN | pkt::tcp_flags::PSH);
                }
                let l = (s.len() - off) as u64;
                pkt::put16(&mut s, off + 16, 0);
                let c = !pkt::fold(u64::from(ps_nolen) + l + pkt::sum(&s[off..]));
                pkt::put16(&mut s, off + 16, c);
                s
            })
            .collect()
    }

    #[test]
    fn tso_super_frame_becomes_lsov2_with_windows_header_fields() {
        let (h, f) = linux_tso(10 * 1460 + 100, 1460);
        let st = TxStats::default();
        let mut out = Vec::new();
        assert!(shape_tx(&h, f.clone(), &all_on(), &mut out, &st));
        assert_eq!(out.len(), 1);
        let w = &out[0];
        assert_eq!(w.kind, TxKind::LsoV2);
        let v = w.info.iter().find(|(s, _)| *s == slot::LSO).unwrap().1;
        assert_eq!(v & lso::MSS_MASK, 1460);
        assert_eq!((v >> lso::OFFSET_SHIFT) & 0x3FF, 34);
        assert_ne!(v & lso::TYPE_V2, 0);
        assert_eq!(v & lso::IPV6, 0);
        // IPv4 Total Length 0, header checksum zeroed, TCP field = pseudo header without length.
        assert_eq!(pkt::get16(&w.frame, 16), Some(0));
        assert_eq!(pkt::get16(&w.frame, 24), Some(0));
        let ps = pkt::fold(pkt::pseudo_v4(
            &[10, 77, 0, 2],
            &[10, 77, 0, 1],
            PROTO_TCP,
            None,
        ));
        assert_eq!(pkt::get16(&w.frame, 50), Some(ps));
        // Headers alone in the first MDL.
        assert_eq!(w.splits[0], 54);
        assert!(!w.info.iter().any(|(s, _)| *s == slot::CHECKSUM));
        // A NIC following the spec turns it into 11 valid segments carrying the same bytes.
        let segs = nic_lso_v2(w);
        assert_eq!(segs.len(), 11);
        let mut bytes = Vec::new();
        for s in &segs {
            let ip = pkt::parse(s).unwrap().ip.unwrap();
            assert!(pkt::ipv4_header_ok(s, 14, 20));
            assert!(pkt::l4_ok(s, &ip), "segment checksum");
            bytes.extend_from_slice(&s[54..]);
        }
        assert_eq!(bytes, f[54..]);
        assert_eq!(st.snapshot().lso_v2, 1);
    }

    #[test]
    fn lso_off_segments_in_software_with_checksum_requests_per_segment() {
        let (h, f) = linux_tso(3 * 1000 + 10, 1000);
        let off = TxOffloads {
            lso4: None,
            lso1: None,
            ..all_on()
        };
        let st = TxStats::default();
        let mut out = Vec::new();
        assert!(shape_tx(&h, f, &off, &mut out, &st));
        assert_eq!(out.len(), 4);
        let mut seq = 1000u32;
        for (i, w) in out.iter().enumerate() {
            assert_eq!(w.kind, TxKind::Csum);
            let c = w.info.iter().find(|(s, _)| *s == slot::CHECKSUM).unwrap().1;
            assert_eq!(
                c & (csum::TX_IS_IPV4 | csum::TX_TCP | csum::TX_IP),
                csum::TX_IS_IPV4 | csum::TX_TCP | csum::TX_IP
            );
            assert_eq!((c >> csum::TX_TCP_OFFSET_SHIFT) & 0x3FF, 34);
            assert_eq!(pkt::tcp_seq(&w.frame, 34), Some(seq));
            let psh = pkt::tcp_flags(&w.frame, 34).unwrap() & pkt::tcp_flags::PSH != 0;
            assert_eq!(psh, i == 3, "PSH only on the last segment");
            // Complete what the NIC would: IPv4 header checksum and TCP checksum from the
            // pseudo-header sum WITH the length already in the field.
            let mut s = w.frame.clone();
            pkt::fix_ipv4_header(&mut s, 14, 20);
            let ip = pkt::parse(&s).unwrap().ip.unwrap();
            let c = !pkt::fold(pkt::sum(&s[34..]));
            pkt::put16(&mut s, 50, c);
            assert!(pkt::l4_ok(&s, &ip));
            seq += (s.len() - 54) as u32;
        }
        assert_eq!(seq, 1000 + 3010);
        assert_eq!(st.snapshot().sw_segmented, 1);
    }

    #[test]
    fn checksum_offload_off_means_software_checksums_and_no_info() {
        let mut f = udp4(&ep(), &[9u8; 500]);
        let ip = pkt::parse(&f).unwrap().ip.unwrap();
        let ps = pkt::fold(ip.pseudo(Some(508)));
        pkt::put16(&mut f, 40, ps);
        let h = VnetHdr {
            flags: hdr_flags::NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..VnetHdr::default()
        };
        let st = TxStats::default();
        let mut out = Vec::new();
        shape_tx(&h, f, &TxOffloads::default(), &mut out, &st);
        assert_eq!(out[0].kind, TxKind::Plain);
        assert!(out[0].info.is_empty());
        let ip = pkt::parse(&out[0].frame).unwrap().ip.unwrap();
        assert!(pkt::l4_ok(&out[0].frame, &ip));
        assert!(pkt::ipv4_header_ok(&out[0].frame, 14, 20));
        assert_eq!(st.snapshot().sw_csum, 1);
    }

    #[test]
    fn udp_checksum_offload_request_keeps_pseudo_header_with_length_and_zeroes_ip_checksum() {
        let mut f = udp4(&ep(), &[1u8; 1472]);
        let ip = pkt::parse(&f).unwrap().ip.unwrap();
        pkt::put16(&mut f, 40, 0x1111); // whatever Linux left: the stand-in rewrites it
        let h = VnetHdr {
            flags: hdr_flags::NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..VnetHdr::default()
        };
        let mut out = Vec::new();
        shape_tx(&h, f, &all_on(), &mut out, &TxStats::default());
        let w = &out[0];
        let c = w.info[0].1;
        assert_eq!(c, csum::TX_IS_IPV4 | csum::TX_UDP | csum::TX_IP);
        assert_eq!(
            pkt::get16(&w.frame, 40),
            Some(pkt::fold(ip.pseudo(Some(1480))))
        );
        assert_eq!(pkt::get16(&w.frame, 24), Some(0));
    }

    #[test]
    fn uso_super_frame_gets_uso_info_and_pseudo_header_without_length() {
        let data = vec![5u8; 1472 * 20];
        let mut f = udp4(&ep(), &data);
        let ip = pkt::parse(&f).unwrap().ip.unwrap();
        pkt::put16(
            &mut f,
            40,
            pkt::fold(ip.pseudo(Some(8 + data.len() as u32))),
        );
        let h = VnetHdr {
            flags: hdr_flags::NEEDS_CSUM,
            gso_type: gso::UDP_L4,
            hdr_len: 42,
            gso_size: 1472,
            csum_start: 34,
            csum_offset: 6,
            num_buffers: 0,
        };
        let mut out = Vec::new();
        shape_tx(&h, f, &all_on(), &mut out, &TxStats::default());
        assert_eq!(out.len(), 1);
        let w = &out[0];
        assert_eq!(w.kind, TxKind::Uso);
        let v = w.info.iter().find(|(s, _)| *s == slot::RSC_USO).unwrap().1;
        assert_eq!(v & uso::MSS_MASK, 1472);
        assert_eq!((v >> uso::OFFSET_SHIFT) & 0x3FF, 34);
        assert_eq!(pkt::get16(&w.frame, 40), Some(pkt::fold(ip.pseudo(None))));
    }

    #[test]
    fn a_send_above_max_offload_size_is_split_into_mss_multiples() {
        let (h, f) = linux_tso(40 * 1000, 1000);
        let mut off = all_on();
        off.lso4 = Some(SegOffload {
            max_size: 15500,
            min_segs: 2,
            sub_mss_final: true,
        });
        let st = TxStats::default();
        let mut out = Vec::new();
        shape_tx(&h, f, &off, &mut out, &st);
        let sizes: Vec<usize> = out.iter().map(|w| w.frame.len() - 54).collect();
        assert_eq!(sizes, vec![15000, 15000, 10000]);
        assert!(out.iter().all(|w| w.kind == TxKind::LsoV2));
        let seqs: Vec<u32> = out
            .iter()
            .map(|w| pkt::tcp_seq(&w.frame, 34).unwrap())
            .collect();
        assert_eq!(seqs, vec![1000, 16000, 31000]);
        assert_eq!(st.snapshot().split, 1);
    }

    #[test]
    fn lso_completion_info_rules() {
        assert!(lso_completion_ok(TxKind::LsoV2, lso::TYPE_V2));
        assert!(!lso_completion_ok(TxKind::LsoV2, lso::TYPE_V2 | 1460));
        assert!(lso_completion_ok(TxKind::LsoV1(5000), 5000));
        assert!(!lso_completion_ok(TxKind::LsoV1(5000), 1460 | (34 << 20)));
    }

    fn rx(frame: &[u8], csum_bits: usize, rsc: usize) -> (RxVerdict, Vec<u8>, RxSnap) {
        let st = RxStats::default();
        let mut f = frame.to_vec();
        let info = RxInfo {
            csum: csum_bits,
            rsc,
            ..RxInfo::default()
        };
        let v = rx_to_tap(&mut f, &info, 1, 1500, &st);
        (v, f, st.snapshot())
    }

    #[test]
    fn a_false_checksum_succeeded_claim_is_counted_as_a_lie() {
        let mut f = udp4(&ep(), b"corrupted on the way");
        let last = f.len() - 1;
        f[last] ^= 1;
        let (v, _, s) = rx(&f, csum::RX_IP_OK | csum::RX_UDP_OK, 0);
        assert_eq!(s.lie_l4, 1);
        // Delivered without NEEDS_CSUM: the guest kernel drops it on its own check.
        assert_eq!(v, RxVerdict::Deliver(VnetHdr::default()));
        let (_, _, s) = rx(&f, 0, 0);
        assert_eq!((s.lies(), s.no_verdict), (0, 1));
        let (v, _, s) = rx(&f, csum::RX_UDP_FAILED, 0);
        assert_eq!(
            (v, s.failed_dropped, s.failed_but_good),
            (RxVerdict::Drop, 1, 0)
        );
    }

    #[test]
    fn a_verified_frame_is_written_with_needs_csum_and_the_pseudo_header() {
        let f = tcp4(&ep(), &TcpSeg::default(), &[3u8; 1000]);
        let (v, out, s) = rx(&f, csum::RX_IP_OK | csum::RX_TCP_OK, 0);
        let RxVerdict::Deliver(h) = v else {
            panic!("dropped")
        };
        assert_eq!(h.flags, hdr_flags::NEEDS_CSUM);
        assert_eq!((h.csum_start, h.csum_offset), (34, 16));
        let ip = pkt::parse(&out).unwrap().ip.unwrap();
        assert_eq!(pkt::get16(&out, 50), Some(pkt::fold(ip.pseudo(Some(1020)))));
        assert_eq!((s.verified_ok, s.lies()), (1, 0));
    }

    #[test]
    fn an_scu_becomes_a_gso_frame_and_a_stale_ip_checksum_is_a_lie() {
        let mut f = tcp4(&ep(), &TcpSeg::default(), &vec![8u8; 4 * 1448]);
        let (v, _, s) = rx(&f, csum::RX_IP_OK | csum::RX_TCP_OK, 4);
        let RxVerdict::Deliver(h) = v else {
            panic!("dropped")
        };
        assert_eq!(
            (h.gso_type, h.gso_size, h.hdr_len, h.flags),
            (gso::TCPV4, 1448, 54, hdr_flags::NEEDS_CSUM)
        );
        assert_eq!((s.scus, s.scu_segments, s.lies()), (1, 4, 0));
        // QEMU's defect: total length updated, header checksum not.
        f[25] ^= 0x40;
        let (_, out, s) = rx(
            &f,
            csum::RX_IP_OK | csum::RX_TCP_OK | csum::RX_TCP_VALUE_INVALID,
            4,
        );
        assert_eq!((s.scu_bad_ip_csum, s.lie_ip), (1, 1));
        assert!(pkt::ipv4_header_ok(&out, 14, 20), "fixed before the TAP");
        let (_, _, s) = rx(
            &f,
            csum::RX_IP_OK
                | csum::RX_TCP_OK
                | csum::RX_IP_VALUE_INVALID
                | csum::RX_TCP_VALUE_INVALID,
            4,
        );
        assert_eq!((s.lies(), s.scu_ip_value_invalid), (0, 1));
    }

    #[test]
    fn tcp_order_counts_gaps_and_late_segments_per_flow() {
        let st = RxStats::default();
        let mut o = TcpOrder::default();
        let seg = |seq: u32| {
            tcp4(
                &ep(),
                &TcpSeg {
                    seq,
                    ..TcpSeg::default()
                },
                &[0u8; 100],
            )
        };
        for s in [1000, 1100, 1300, 1200, 1400] {
            o.observe(&seg(s), &st);
        }
        let s = st.snapshot();
        assert_eq!((s.tcp_gaps, s.tcp_old), (1, 1));
        // Another flow has its own sequence space.
        o.observe(
            &tcp4(
                &Endpoints { sport: 1, ..ep() },
                &TcpSeg {
                    seq: 5,
                    ..TcpSeg::default()
                },
                &[0u8; 10],
            ),
            &st,
        );
        assert_eq!(st.snapshot().tcp_gaps, 1);
    }

    #[test]
    fn bit_positions_agree_with_ndis_sys_views() {
        let mut c = n::NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::default();
        c.set_transmit_is_ipv4(1)
            .set_transmit_tcp_checksum(1)
            .set_transmit_ip_header_checksum(1)
            .set_transmit_tcp_header_offset(34);
        assert_eq!(
            c.value(),
            csum::TX_IS_IPV4 | csum::TX_TCP | csum::TX_IP | (34 << csum::TX_TCP_OFFSET_SHIFT)
        );
        let r = n::NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::from_value(
            csum::RX_IP_OK | csum::RX_TCP_VALUE_INVALID | csum::RX_IP_VALUE_INVALID,
        );
        assert_eq!(r.receive_ip_checksum_succeeded(), 1);
        assert_eq!(r.receive_tcp_checksum_value_invalid(), 1);
        assert_eq!(r.receive_ip_checksum_value_invalid(), 1);
        let mut l = n::NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::default();
        l.set_transmit_type(1)
            .set_lso_v2_transmit_mss(1460)
            .set_lso_v2_transmit_tcp_header_offset(34)
            .set_lso_v2_transmit_ip_version(1);
        assert_eq!(
            l.value(),
            lso::TYPE_V2 | lso::IPV6 | 1460 | (34 << lso::OFFSET_SHIFT)
        );
        let mut u = n::NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO::default();
        u.set_transmit_mss(1472).set_transmit_udp_header_offset(34);
        assert_eq!(u.value(), 1472 | (34 << uso::OFFSET_SHIFT));
        let rsc = n::NDIS_RSC_NBL_INFO::new(7, 2);
        let i = RxInfo {
            rsc: rsc.value(),
            ..RxInfo::default()
        };
        assert_eq!((i.coalesced(), i.dup_acks()), (7, 2));
        assert_eq!(n::TcpRecvSegCoalesceInfo, slot::RSC_USO);
        assert_eq!(n::TcpLargeSendNetBufferListInfo, slot::LSO);
        assert_eq!(n::Ieee8021QNetBufferListInfo, slot::VLAN);
    }
}
