//! NDIS task-offload state computed from virtio features × registry configuration.
//!
//! Abstract on purpose: the miniport maps [`NdisOffload`] onto `NDIS_OFFLOAD`
//! (`HardwareOffloadCapabilities` / `DefaultOffloadConfiguration` of
//! `NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES`, and the `StatusBuffer` of
//! `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`) with ndis-sys, and decodes
//! `OID_TCP_OFFLOAD_PARAMETERS` / `OID_OFFLOAD_ENCAPSULATION` buffers with the parsers here.
//!
//! Design decisions (the lead's, spec §1–§5):
//! * Checksum, LSOv1/LSOv2 and USO capabilities do **not** depend on the host: when the device
//!   lacks `CSUM` / `HOST_TSO4/6` / `HOST_USO` the driver checksums and segments in software
//!   (`crate::tx`). They depend only on the NDIS version (USO needs 6.83).
//! * RSC capability per family = host path OR software RSC (`SoftwareRsc`=1, the default).
//!   The host path needs `GUEST_CSUM` + `GUEST_TSO4/6` **and** `CTRL_VQ` +
//!   `CTRL_GUEST_OFFLOADS`: without the control command the driver could not stop the host
//!   from coalescing when the protocol turns RSC off (spec §1.2: no coalesced indications
//!   unless enabled), so it never acks `GUEST_TSO4/6` then and coalesces in software instead.
//!   With `SoftwareRsc`=0 and no host path, RSC is not a capability (Get-NetAdapterRsc:
//!   FailureReason Capability, as with NetKVM).
//! * The registry `*` keywords only choose the initial current configuration within the
//!   capabilities.

use bitflags::bitflags;

use crate::params::Config;

bitflags! {
    /// virtio-net feature bits (virtio 1.x §5.1.3, spec §7.2) the offload logic cares about.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Features: u64 {
        /// Device handles packets with partial checksum (TX checksum offload).
        const CSUM = 1 << 0;
        /// Driver handles packets with partial checksum (RX `NEEDS_CSUM` / `DATA_VALID`).
        const GUEST_CSUM = 1 << 1;
        /// Guest offloads reconfigurable through the control queue.
        const CTRL_GUEST_OFFLOADS = 1 << 2;
        /// Device reports its MTU.
        const MTU = 1 << 3;
        /// Driver can receive TSOv4 (host coalescing / GRO).
        const GUEST_TSO4 = 1 << 7;
        /// Driver can receive TSOv6.
        const GUEST_TSO6 = 1 << 8;
        /// Driver can receive TSO with ECN.
        const GUEST_ECN = 1 << 9;
        /// Device can receive TSOv4 (TX LSO).
        const HOST_TSO4 = 1 << 11;
        /// Device can receive TSOv6.
        const HOST_TSO6 = 1 << 12;
        /// Mergeable receive buffers.
        const MRG_RXBUF = 1 << 15;
        /// Control virtqueue.
        const CTRL_VQ = 1 << 17;
        /// virtio 1.x.
        const VERSION_1 = 1 << 32;
        /// Driver can receive USOv4.
        const GUEST_USO4 = 1 << 54;
        /// Driver can receive USOv6.
        const GUEST_USO6 = 1 << 55;
        /// Device can receive USO (TX USO).
        const HOST_USO = 1 << 56;
        /// Device reports a per-packet hash.
        const HASH_REPORT = 1 << 57;
        /// Device RSS.
        const RSS = 1 << 60;
        /// Device reports coalesced segment / dup-ACK counts in RSC frames.
        const RSC_EXT = 1 << 61;
        // Other bits pass through untouched.
        const _ = !0;
    }
}

/// NDIS version the miniport registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NdisVersion {
    /// Major version (6).
    pub major: u8,
    /// Minor version (30, 80, 83, 84, 85…).
    pub minor: u8,
}

impl NdisVersion {
    /// NDIS 6.30 (Windows 8): RSC, `NDIS_OFFLOAD` revision 3.
    pub const V6_30: Self = Self {
        major: 6,
        minor: 30,
    };
    /// NDIS 6.80.
    pub const V6_80: Self = Self {
        major: 6,
        minor: 80,
    };
    /// NDIS 6.83: USO, `NDIS_OFFLOAD` revision 6.
    pub const V6_83: Self = Self {
        major: 6,
        minor: 83,
    };
    /// NDIS 6.84: `SubMssFinalSegmentSupported`.
    pub const V6_84: Self = Self {
        major: 6,
        minor: 84,
    };
    /// NDIS 6.85: `NDIS_OFFLOAD` revision 7 (same size as 6).
    pub const V6_85: Self = Self {
        major: 6,
        minor: 85,
    };

    /// `NDIS_OFFLOAD.Header.Revision` for this version (spec §5.1; NetKVM: 3 / 6 / 7).
    pub fn offload_revision(self) -> u8 {
        if self >= Self::V6_85 {
            7
        } else if self >= Self::V6_83 {
            6
        } else if self >= Self::V6_30 {
            3
        } else {
            2
        }
    }

    /// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_n` matching [`offload_revision`](Self::offload_revision).
    pub fn offload_size(self) -> u16 {
        match self.offload_revision() {
            7 | 6 => 216,
            3 => 156,
            _ => 144,
        }
    }
}

/// Largest TCP payload of one LSO send: 0xF800. Payload + the 128-byte NDIS header maximum +
/// VLAN tag stays below 64 KiB, so the IPv4 total length and Linux's 64 KiB GSO limit hold
/// when the host segments; NetKVM ships the same value through HLK.
pub const LSO_MAX_OFFLOAD_SIZE: u32 = 63488;
/// Largest UDP payload of one USO send: 536 × 64. Linux hosts accept at most 64 segments per
/// UDP GSO packet on older kernels (`UDP_MAX_SEGMENTS`), and 536 is Windows' smallest MSS;
/// larger values let the stack build sends the host silently drops (NetKVM #1525).
pub const USO_MAX_OFFLOAD_SIZE: u32 = 536 * 64;
/// Smallest segment count the stack may hand over for LSO/USO.
pub const MIN_SEGMENT_COUNT: u32 = 2;
/// `NDIS_ENCAPSULATION_IEEE_802_3`: the only encapsulation offloads are advertised for.
pub const ENCAPSULATION_IEEE_802_3: u32 = 0x02;

/// IPv4 checksum offload flags of one direction (`NDIS_TCP_IP_CHECKSUM_OFFLOAD.IPv4*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv4Checksum {
    /// `IpChecksum`.
    pub ip: bool,
    /// `IpOptionsSupported`.
    pub ip_options: bool,
    /// `TcpChecksum`.
    pub tcp: bool,
    /// `TcpOptionsSupported`.
    pub tcp_options: bool,
    /// `UdpChecksum`.
    pub udp: bool,
}

/// IPv6 checksum offload flags of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv6Checksum {
    /// `IpExtensionHeadersSupported`.
    pub ext_headers: bool,
    /// `TcpChecksum`.
    pub tcp: bool,
    /// `TcpOptionsSupported`.
    pub tcp_options: bool,
    /// `UdpChecksum`.
    pub udp: bool,
}

/// `NDIS_TCP_IP_CHECKSUM_OFFLOAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChecksumOffload {
    /// IPv4 transmit.
    pub ipv4_tx: Ipv4Checksum,
    /// IPv4 receive.
    pub ipv4_rx: Ipv4Checksum,
    /// IPv6 transmit.
    pub ipv6_tx: Ipv6Checksum,
    /// IPv6 receive.
    pub ipv6_rx: Ipv6Checksum,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1.IPv4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsoV1Ipv4 {
    /// `MaxOffLoadSize`.
    pub max_offload_size: u32,
    /// `MinSegmentCount`.
    pub min_segment_count: u32,
    /// `TcpOptions`.
    pub tcp_options: bool,
    /// `IpOptions`.
    pub ip_options: bool,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2.IPv4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsoV2Ipv4 {
    /// `MaxOffLoadSize`.
    pub max_offload_size: u32,
    /// `MinSegmentCount`.
    pub min_segment_count: u32,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2.IPv6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsoV2Ipv6 {
    /// `MaxOffLoadSize`.
    pub max_offload_size: u32,
    /// `MinSegmentCount`.
    pub min_segment_count: u32,
    /// `IpExtensionHeadersSupported`.
    pub ext_headers: bool,
    /// `TcpOptionsSupported`.
    pub tcp_options: bool,
}

/// One family of `NDIS_UDP_SEGMENTATION_OFFLOAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsoFamily {
    /// `MaxOffLoadSize`.
    pub max_offload_size: u32,
    /// `MinSegmentCount` (6-bit field).
    pub min_segment_count: u32,
    /// `SubMssFinalSegmentSupported` (NDIS 6.84+).
    pub sub_mss_final_segment: bool,
    /// `IpExtensionHeadersSupported` (IPv6 only; false for IPv4).
    pub ext_headers: bool,
}

/// A pair of per-family values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PerFamily<T> {
    /// IPv4.
    pub ipv4: T,
    /// IPv6.
    pub ipv6: T,
}

/// The abstract `NDIS_OFFLOAD`: used for both the hardware capabilities and the current
/// configuration (`None`/`false` = not supported / disabled; the miniport writes
/// `NDIS_ENCAPSULATION_NOT_SUPPORTED` and zero sizes for a `None`, as NetKVM does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdisOffload {
    /// `Header.Revision` to use (size from [`NdisVersion::offload_size`]).
    pub revision: u8,
    /// Checksum offloads.
    pub checksum: ChecksumOffload,
    /// LSOv1 IPv4.
    pub lso_v1: Option<LsoV1Ipv4>,
    /// LSOv2 IPv4.
    pub lso_v2_ipv4: Option<LsoV2Ipv4>,
    /// LSOv2 IPv6.
    pub lso_v2_ipv6: Option<LsoV2Ipv6>,
    /// USO per family (revision ≥ 6 only).
    pub uso: PerFamily<Option<UsoFamily>>,
    /// RSC per family (revision ≥ 3 only).
    pub rsc: PerFamily<bool>,
}

/// What RSC runs for a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RscPath {
    /// The host coalesces (`GUEST_TSO` on through `CTRL_GUEST_OFFLOADS`).
    pub host: bool,
    /// The driver's software engine coalesces what the host did not.
    pub software: bool,
}

impl RscPath {
    /// Neither.
    pub const OFF: RscPath = RscPath {
        host: false,
        software: false,
    };

    /// Any coalescing at all.
    pub const fn enabled(self) -> bool {
        self.host || self.software
    }
}

/// Choices left to the driver writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffloadPolicy {
    /// Ack `VIRTIO_NET_F_RSC_EXT` when offered. On by default: QEMU offers the feature only when
    /// the host administrator asked for its coalescer (`guest_rsc_ext=on`, off by default, the
    /// setting the HLK RSC run uses — hck/README.md), so an offer is an explicit opt-in. The
    /// coalescer's defects (latency up to `rsc_interval`, a lost cached segment on a full RX
    /// ring, a stale IPv4 checksum: qemu-testbed §8) are handled by the RX path (checksum
    /// recomputed, counts from the header) or are the host's to tune; without the offer, host
    /// GRO over a tap plus software RSC gives the same coalescing.
    pub accept_rsc_ext: bool,
}

impl Default for OffloadPolicy {
    fn default() -> Self {
        Self {
            accept_rsc_ext: true,
        }
    }
}

/// The features (of the offload / buffer-layout group) the driver wants acked, given what
/// the device offers. The miniport ORs these into its own selection; every virtio
/// dependency (spec §7.2) is respected so the device cannot reject the set.
pub fn wanted_features(
    offered: Features,
    config: &Config,
    ndis: NdisVersion,
    policy: OffloadPolicy,
) -> Features {
    let mut want = Features::empty();
    let has = |f: Features| offered.contains(f);
    if has(Features::CSUM) {
        want |= Features::CSUM;
        // Device segmentation is used whenever present; capabilities do not depend on it.
        want |= offered & (Features::HOST_TSO4 | Features::HOST_TSO6);
        if ndis >= NdisVersion::V6_83 {
            want |= offered & Features::HOST_USO;
        }
    }
    if config.mergeable_buffers && has(Features::MRG_RXBUF) {
        want |= Features::MRG_RXBUF;
    }
    if has(Features::GUEST_CSUM) {
        want |= Features::GUEST_CSUM;
        let ctrl = Features::CTRL_VQ | Features::CTRL_GUEST_OFFLOADS;
        if has(ctrl) && ndis >= NdisVersion::V6_30 {
            want |= ctrl;
            // Host coalescing for a family whose RSC starts disabled would need 64 KiB
            // receive buffers for nothing unless buffers are mergeable (NetKVM #861); it is
            // then left to software RSC until the next restart.
            let big_ok = want.contains(Features::MRG_RXBUF);
            if has(Features::GUEST_TSO4) && (config.rsc_ipv4 || big_ok) {
                want |= Features::GUEST_TSO4;
            }
            if has(Features::GUEST_TSO6) && (config.rsc_ipv6 || big_ok) {
                want |= Features::GUEST_TSO6;
            }
            let host_tso = want.intersects(Features::HOST_TSO4 | Features::HOST_TSO6);
            let guest_tso = want.intersects(Features::GUEST_TSO4 | Features::GUEST_TSO6);
            if policy.accept_rsc_ext && has(Features::RSC_EXT) && host_tso && guest_tso {
                want |= Features::RSC_EXT;
            }
        }
    }
    want
}

/// How receive buffers must be sized for the negotiated features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxBufferLayout {
    /// `MRG_RXBUF`: one 4 KiB page per descriptor, frames span up to `max_buffers` pages.
    Mergeable {
        /// Pages one frame may use (`num_buffers` above this is a device error).
        max_buffers: u16,
    },
    /// One buffer per frame of at least this many bytes (virtio header included).
    Single {
        /// Bytes per buffer.
        bytes: u32,
    },
}

/// Page size of mergeable receive buffers.
pub const RX_PAGE_SIZE: u32 = 4096;

/// Largest frame the device may deliver: the MTU frame (+VLAN tag), or a coalesced frame of the
/// largest legal datagram when any `GUEST_TSO*`/`GUEST_USO*` is negotiated — IPv4 Total Length
/// 65535, and for IPv6 the 40-byte header plus a 65535-byte Payload Length (QEMU's RSC_EXT
/// coalescer builds such IPv6 SCUs; spec §1.4 exception 7 bounds an SCU by exactly that).
pub fn max_rx_frame(negotiated: Features, mtu: u32) -> u32 {
    let l3 = if negotiated.intersects(Features::GUEST_TSO6 | Features::GUEST_USO6) {
        40 + 65535
    } else if negotiated.intersects(Features::GUEST_TSO4 | Features::GUEST_USO4) {
        65535
    } else {
        mtu
    };
    l3 + 14 + 4
}

/// Receive buffer layout: RX buffers are sized by what was **negotiated**, not by what the
/// host offers (NetKVM #861 allocates 64 KiB buffers whenever the host offers TSO).
pub fn rx_buffer_layout(negotiated: Features, mtu: u32, hdr_len: u32) -> RxBufferLayout {
    let need = max_rx_frame(negotiated, mtu) + hdr_len;
    if negotiated.contains(Features::MRG_RXBUF) {
        let pages = need.div_ceil(RX_PAGE_SIZE);
        RxBufferLayout::Mergeable {
            max_buffers: u16::try_from(pages).unwrap_or(u16::MAX),
        }
    } else {
        RxBufferLayout::Single { bytes: need }
    }
}

/// The offload state of one adapter: capabilities, current configuration, encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffloadState {
    /// Negotiated virtio features.
    pub negotiated: Features,
    /// Registered NDIS version.
    pub ndis: NdisVersion,
    /// `HardwareOffloadCapabilities`.
    pub caps: NdisOffload,
    /// Current configuration (`DefaultOffloadConfiguration` at init).
    pub current: NdisOffload,
    /// Families the host can coalesce (GUEST_TSO negotiated with CTRL_GUEST_OFFLOADS).
    pub host_rsc: PerFamily<bool>,
    /// `SoftwareRsc` keyword.
    pub software_rsc: bool,
    /// `OID_OFFLOAD_ENCAPSULATION` state.
    pub encapsulation: EncapsulationState,
}

fn ipv4_csum(on: bool) -> Ipv4Checksum {
    Ipv4Checksum {
        ip: on,
        ip_options: on,
        tcp: on,
        tcp_options: on,
        udp: on,
    }
}

fn ipv6_csum(on: bool) -> Ipv6Checksum {
    Ipv6Checksum {
        ext_headers: on,
        tcp: on,
        tcp_options: on,
        udp: on,
    }
}

/// Options/extension-header flags follow their parents in a current configuration.
fn normalize(o: &mut NdisOffload) {
    for c in [&mut o.checksum.ipv4_tx, &mut o.checksum.ipv4_rx] {
        c.ip_options = c.ip || c.tcp || c.udp;
        c.tcp_options = c.tcp;
    }
    for c in [&mut o.checksum.ipv6_tx, &mut o.checksum.ipv6_rx] {
        c.ext_headers = c.tcp || c.udp;
        c.tcp_options = c.tcp;
    }
}

impl OffloadState {
    /// Capabilities and initial configuration for an adapter whose features were negotiated
    /// as `negotiated`, registered at `ndis`, configured by `config`.
    pub fn new(negotiated: Features, config: &Config, ndis: NdisVersion) -> Self {
        let revision = ndis.offload_revision();
        let ctrl = negotiated
            .contains(Features::CTRL_VQ | Features::CTRL_GUEST_OFFLOADS | Features::GUEST_CSUM);
        let host_rsc = PerFamily {
            ipv4: ctrl && negotiated.contains(Features::GUEST_TSO4),
            ipv6: ctrl && negotiated.contains(Features::GUEST_TSO6),
        };
        let rsc_ok = ndis >= NdisVersion::V6_30;
        let uso_ok = ndis >= NdisVersion::V6_83;
        let uso = |ext| UsoFamily {
            max_offload_size: USO_MAX_OFFLOAD_SIZE,
            min_segment_count: MIN_SEGMENT_COUNT,
            sub_mss_final_segment: ndis >= NdisVersion::V6_84,
            ext_headers: ext,
        };
        // Software checksum, segmentation and the IPv6 extension-header walker of crate::wire
        // back every capability (spec §4.1 minimums: IPv4 options, TCP options, 128 bytes of
        // IPv6 extension headers).
        let caps = NdisOffload {
            revision,
            checksum: ChecksumOffload {
                ipv4_tx: ipv4_csum(true),
                ipv4_rx: ipv4_csum(true),
                ipv6_tx: ipv6_csum(true),
                ipv6_rx: ipv6_csum(true),
            },
            lso_v1: Some(LsoV1Ipv4 {
                max_offload_size: LSO_MAX_OFFLOAD_SIZE,
                min_segment_count: MIN_SEGMENT_COUNT,
                tcp_options: true,
                ip_options: true,
            }),
            lso_v2_ipv4: Some(LsoV2Ipv4 {
                max_offload_size: LSO_MAX_OFFLOAD_SIZE,
                min_segment_count: MIN_SEGMENT_COUNT,
            }),
            lso_v2_ipv6: Some(LsoV2Ipv6 {
                max_offload_size: LSO_MAX_OFFLOAD_SIZE,
                min_segment_count: MIN_SEGMENT_COUNT,
                ext_headers: true,
                tcp_options: true,
            }),
            uso: PerFamily {
                ipv4: uso_ok.then(|| uso(false)),
                ipv6: uso_ok.then(|| uso(true)),
            },
            rsc: PerFamily {
                ipv4: rsc_ok && (host_rsc.ipv4 || config.software_rsc),
                ipv6: rsc_ok && (host_rsc.ipv6 || config.software_rsc),
            },
        };
        let cs = &config.checksum;
        let mut current = NdisOffload {
            revision,
            checksum: ChecksumOffload {
                ipv4_tx: Ipv4Checksum {
                    ip: cs.ipv4.tx,
                    tcp: cs.tcp_ipv4.tx,
                    udp: cs.udp_ipv4.tx,
                    ..Default::default()
                },
                ipv4_rx: Ipv4Checksum {
                    ip: cs.ipv4.rx,
                    tcp: cs.tcp_ipv4.rx,
                    udp: cs.udp_ipv4.rx,
                    ..Default::default()
                },
                ipv6_tx: Ipv6Checksum {
                    tcp: cs.tcp_ipv6.tx,
                    udp: cs.udp_ipv6.tx,
                    ..Default::default()
                },
                ipv6_rx: Ipv6Checksum {
                    tcp: cs.tcp_ipv6.rx,
                    udp: cs.udp_ipv6.rx,
                    ..Default::default()
                },
            },
            lso_v1: caps.lso_v1.filter(|_| config.lso_v1_ipv4),
            lso_v2_ipv4: caps.lso_v2_ipv4.filter(|_| config.lso_v2_ipv4),
            lso_v2_ipv6: caps.lso_v2_ipv6.filter(|_| config.lso_v2_ipv6),
            uso: PerFamily {
                ipv4: caps.uso.ipv4.filter(|_| config.uso_ipv4),
                ipv6: caps.uso.ipv6.filter(|_| config.uso_ipv6),
            },
            rsc: PerFamily {
                ipv4: caps.rsc.ipv4 && config.rsc_ipv4,
                ipv6: caps.rsc.ipv6 && config.rsc_ipv6,
            },
        };
        normalize(&mut current);
        OffloadState {
            negotiated,
            ndis,
            caps,
            current,
            host_rsc,
            software_rsc: config.software_rsc,
            encapsulation: EncapsulationState::default(),
        }
    }

    /// Which RSC engine runs for each family under the current configuration.
    pub fn rsc_path(&self) -> PerFamily<RscPath> {
        let path = |enabled: bool, host: bool| {
            if enabled {
                RscPath {
                    host,
                    software: self.software_rsc,
                }
            } else {
                RscPath::OFF
            }
        };
        PerFamily {
            ipv4: path(self.current.rsc.ipv4, self.host_rsc.ipv4),
            ipv6: path(self.current.rsc.ipv6, self.host_rsc.ipv6),
        }
    }

    /// The `VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET` mask for the current configuration:
    /// `GUEST_CSUM` always (partial checksums are completed by the RX path), `GUEST_TSO4/6`
    /// while RSC of that family is enabled, `RSC_EXT` alongside if negotiated (QEMU strips it,
    /// NetKVM sends it). `None` when the device has no `CTRL_GUEST_OFFLOADS`.
    pub fn guest_offloads(&self) -> Option<u64> {
        if !self
            .negotiated
            .contains(Features::CTRL_VQ | Features::CTRL_GUEST_OFFLOADS)
        {
            return None;
        }
        let mut m = self.negotiated & Features::GUEST_CSUM;
        let path = self.rsc_path();
        if path.ipv4.host {
            m |= Features::GUEST_TSO4;
        }
        if path.ipv6.host {
            m |= Features::GUEST_TSO6;
        }
        if m.intersects(Features::GUEST_TSO4 | Features::GUEST_TSO6) {
            m |= self.negotiated & Features::RSC_EXT;
        }
        Some(m.bits())
    }

    /// The guest-offload command to send right after `DRIVER_OK`, when the initial
    /// configuration turns off a negotiated guest offload (the device starts with all
    /// negotiated guest offloads enabled).
    pub fn initial_guest_offloads(&self) -> Option<u64> {
        let mask = self.guest_offloads()?;
        let negotiated_guest = self.negotiated
            & (Features::GUEST_CSUM
                | Features::GUEST_TSO4
                | Features::GUEST_TSO6
                | Features::RSC_EXT);
        (mask != negotiated_guest.bits()).then_some(mask)
    }

    /// Receive checksum results may be reported for a family only after
    /// `OID_OFFLOAD_ENCAPSULATION` enabled it (spec §4.1), and per protocol as configured.
    pub fn rx_checksum(&self) -> RxChecksumConfig {
        let v4 = self.encapsulation.ipv4.is_some();
        let v6 = self.encapsulation.ipv6.is_some();
        let c = &self.current.checksum;
        RxChecksumConfig {
            ipv4_header: v4 && c.ipv4_rx.ip,
            tcp_ipv4: v4 && c.ipv4_rx.tcp,
            udp_ipv4: v4 && c.ipv4_rx.udp,
            tcp_ipv6: v6 && c.ipv6_rx.tcp,
            udp_ipv6: v6 && c.ipv6_rx.udp,
        }
    }

    /// Validates an `OID_TCP_OFFLOAD_PARAMETERS` request against the capabilities and computes
    /// the new configuration. Nothing changes on error (the request is atomic).
    pub fn apply_parameters(
        &self,
        p: &OffloadParameters,
    ) -> Result<OffloadChange, OffloadParamError> {
        let mut new = self.current;
        let caps = &self.caps;
        let cs = &mut new.checksum;
        apply_csum(
            p.ipv4_checksum,
            Field::Ipv4Checksum,
            caps.checksum.ipv4_tx.ip,
            caps.checksum.ipv4_rx.ip,
            &mut cs.ipv4_tx.ip,
            &mut cs.ipv4_rx.ip,
        )?;
        apply_csum(
            p.tcp_ipv4_checksum,
            Field::TcpIpv4Checksum,
            caps.checksum.ipv4_tx.tcp,
            caps.checksum.ipv4_rx.tcp,
            &mut cs.ipv4_tx.tcp,
            &mut cs.ipv4_rx.tcp,
        )?;
        apply_csum(
            p.udp_ipv4_checksum,
            Field::UdpIpv4Checksum,
            caps.checksum.ipv4_tx.udp,
            caps.checksum.ipv4_rx.udp,
            &mut cs.ipv4_tx.udp,
            &mut cs.ipv4_rx.udp,
        )?;
        apply_csum(
            p.tcp_ipv6_checksum,
            Field::TcpIpv6Checksum,
            caps.checksum.ipv6_tx.tcp,
            caps.checksum.ipv6_rx.tcp,
            &mut cs.ipv6_tx.tcp,
            &mut cs.ipv6_rx.tcp,
        )?;
        apply_csum(
            p.udp_ipv6_checksum,
            Field::UdpIpv6Checksum,
            caps.checksum.ipv6_tx.udp,
            caps.checksum.ipv6_rx.udp,
            &mut cs.ipv6_tx.udp,
            &mut cs.ipv6_rx.udp,
        )?;
        apply_opt(p.lso_v1, Field::LsoV1, caps.lso_v1, &mut new.lso_v1)?;
        apply_opt(
            p.lso_v2_ipv4,
            Field::LsoV2Ipv4,
            caps.lso_v2_ipv4,
            &mut new.lso_v2_ipv4,
        )?;
        apply_opt(
            p.lso_v2_ipv6,
            Field::LsoV2Ipv6,
            caps.lso_v2_ipv6,
            &mut new.lso_v2_ipv6,
        )?;
        // Offloads this driver never has: "off"/"no change" are fine, anything else is not.
        reject_enable(p.ipsec_v1, 4, Field::IpsecV1)?;
        reject_enable(p.tcp_connection_ipv4, 2, Field::TcpConnectionIpv4)?;
        reject_enable(p.tcp_connection_ipv6, 2, Field::TcpConnectionIpv6)?;
        if p.revision >= 2 {
            reject_enable(p.ipsec_v2, 4, Field::IpsecV2)?;
            reject_enable(p.ipsec_v2_ipv4, 4, Field::IpsecV2Ipv4)?;
        }
        if p.revision >= 3 {
            apply_bool(p.rsc_ipv4, Field::RscIpv4, caps.rsc.ipv4, &mut new.rsc.ipv4)?;
            apply_bool(p.rsc_ipv6, Field::RscIpv6, caps.rsc.ipv6, &mut new.rsc.ipv6)?;
            // NDIS_OFFLOAD_SET_NO_CHANGE / ON / OFF; no encapsulated-packet task offload here.
            match p.encapsulated_packet_task_offload {
                0 | 2 => {}
                1 => {
                    return Err(OffloadParamError::NotSupported(
                        Field::EncapsulatedPacketTaskOffload,
                    ))
                }
                _ => {
                    return Err(OffloadParamError::InvalidData(
                        Field::EncapsulatedPacketTaskOffload,
                    ))
                }
            }
        }
        if p.revision >= 5 {
            apply_opt(p.uso_ipv4, Field::UsoIpv4, caps.uso.ipv4, &mut new.uso.ipv4)?;
            apply_opt(p.uso_ipv6, Field::UsoIpv6, caps.uso.ipv6, &mut new.uso.ipv6)?;
        }
        normalize(&mut new);

        let mut next = *self;
        next.current = new;
        let old_path = self.rsc_path();
        let new_path = next.rsc_path();
        let guest_offloads = next
            .guest_offloads()
            .filter(|&m| Some(m) != self.guest_offloads());
        Ok(OffloadChange {
            new,
            rsc_disabled: PerFamily {
                ipv4: old_path.ipv4.enabled() && !new_path.ipv4.enabled(),
                ipv6: old_path.ipv6.enabled() && !new_path.ipv6.enabled(),
            },
            guest_offloads,
            changed: new != self.current,
        })
    }

    /// Installs a change returned by [`apply_parameters`](Self::apply_parameters) (after the
    /// miniport flushed RSC state and sent the guest-offload command).
    pub fn commit(&mut self, change: &OffloadChange) {
        self.current = change.new;
    }

    /// Applies `OID_OFFLOAD_ENCAPSULATION`. The miniport then indicates
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` (mandatory after this OID, spec §5.1).
    pub fn apply_encapsulation(
        &mut self,
        req: &EncapsulationRequest,
    ) -> Result<(), OffloadParamError> {
        let v4 = encap_family(self.encapsulation.ipv4, req.ipv4, Field::EncapsulationIpv4)?;
        let v6 = encap_family(self.encapsulation.ipv6, req.ipv6, Field::EncapsulationIpv6)?;
        self.encapsulation = EncapsulationState { ipv4: v4, ipv6: v6 };
        Ok(())
    }
}

/// Which receive checksums the RX path may validate and report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RxChecksumConfig {
    /// IPv4 header checksum.
    pub ipv4_header: bool,
    /// TCP over IPv4.
    pub tcp_ipv4: bool,
    /// UDP over IPv4.
    pub udp_ipv4: bool,
    /// TCP over IPv6.
    pub tcp_ipv6: bool,
    /// UDP over IPv6.
    pub udp_ipv6: bool,
}

impl RxChecksumConfig {
    /// Everything enabled.
    pub const ALL: RxChecksumConfig = RxChecksumConfig {
        ipv4_header: true,
        tcp_ipv4: true,
        udp_ipv4: true,
        tcp_ipv6: true,
        udp_ipv6: true,
    };
}

// ---------------------------------------------------------------------------------------------
// OID_TCP_OFFLOAD_PARAMETERS
// ---------------------------------------------------------------------------------------------

/// A field of `NDIS_OFFLOAD_PARAMETERS` / `NDIS_OFFLOAD_ENCAPSULATION`, for error context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Field {
    Header,
    Ipv4Checksum,
    TcpIpv4Checksum,
    UdpIpv4Checksum,
    TcpIpv6Checksum,
    UdpIpv6Checksum,
    LsoV1,
    IpsecV1,
    LsoV2Ipv4,
    LsoV2Ipv6,
    TcpConnectionIpv4,
    TcpConnectionIpv6,
    IpsecV2,
    IpsecV2Ipv4,
    RscIpv4,
    RscIpv6,
    EncapsulatedPacketTaskOffload,
    UsoIpv4,
    UsoIpv6,
    EncapsulationIpv4,
    EncapsulationIpv6,
}

/// Why an offload OID was refused; the miniport maps these to NDIS status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadParamError {
    /// Buffer shorter than the smallest revision: `NDIS_STATUS_BUFFER_TOO_SHORT` /
    /// `INVALID_LENGTH` with `BytesNeeded = needed`.
    BufferTooShort {
        /// Bytes needed.
        needed: usize,
    },
    /// Malformed contents (header, out-of-range value): `NDIS_STATUS_INVALID_DATA`.
    InvalidData(Field),
    /// Asks for an offload the adapter does not have: `NDIS_STATUS_NOT_SUPPORTED`.
    NotSupported(Field),
}

/// Decoded `NDIS_OFFLOAD_PARAMETERS` (spec §5.2). Fields beyond `revision` are zero
/// (= no change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct OffloadParameters {
    /// Effective revision (fields of later revisions are not read).
    pub revision: u8,
    pub ipv4_checksum: u8,
    pub tcp_ipv4_checksum: u8,
    pub udp_ipv4_checksum: u8,
    pub tcp_ipv6_checksum: u8,
    pub udp_ipv6_checksum: u8,
    pub lso_v1: u8,
    pub ipsec_v1: u8,
    pub lso_v2_ipv4: u8,
    pub lso_v2_ipv6: u8,
    pub tcp_connection_ipv4: u8,
    pub tcp_connection_ipv6: u8,
    pub flags: u32,
    pub ipsec_v2: u8,
    pub ipsec_v2_ipv4: u8,
    pub rsc_ipv4: u8,
    pub rsc_ipv6: u8,
    pub encapsulated_packet_task_offload: u8,
    pub encapsulation_types: u8,
    pub vxlan_udp_port: u32,
    pub uso_ipv4: u8,
    pub uso_ipv6: u8,
}

/// `NDIS_OBJECT_TYPE_DEFAULT`.
pub const NDIS_OBJECT_TYPE_DEFAULT: u8 = 0x80;
/// `NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION`.
pub const NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION: u8 = 0xA8;
/// `NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1..5` (spec §5.2).
pub const OFFLOAD_PARAMETERS_SIZES: [usize; 5] = [20, 22, 26, 32, 34];
/// `NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE`.
pub const OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE: u32 = 0x1;

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

impl OffloadParameters {
    /// Decodes an `OID_TCP_OFFLOAD_PARAMETERS` information buffer. Newer-revision fields are
    /// read only when both `Header.Revision` and `Header.Size`/the buffer cover them.
    pub fn from_bytes(buf: &[u8]) -> Result<Self, OffloadParamError> {
        let min = OFFLOAD_PARAMETERS_SIZES[0];
        let too_short = OffloadParamError::BufferTooShort { needed: min };
        if buf.len() < min {
            return Err(too_short);
        }
        let &[ty, rev, s0, s1] = buf.first_chunk::<4>().ok_or(too_short)?;
        let size = usize::from(u16::from_le_bytes([s0, s1]));
        if ty != NDIS_OBJECT_TYPE_DEFAULT || rev == 0 || size < min {
            return Err(OffloadParamError::InvalidData(Field::Header));
        }
        let avail = size.min(buf.len());
        let mut revision = 0u8;
        for (r, &need) in (1u8..).zip(OFFLOAD_PARAMETERS_SIZES.iter()) {
            if r <= rev && need <= avail {
                revision = r;
            }
        }
        let b = |off: usize| buf.get(off).copied().unwrap_or(0);
        let mut p = OffloadParameters {
            revision,
            ipv4_checksum: b(4),
            tcp_ipv4_checksum: b(5),
            udp_ipv4_checksum: b(6),
            tcp_ipv6_checksum: b(7),
            udp_ipv6_checksum: b(8),
            lso_v1: b(9),
            ipsec_v1: b(10),
            lso_v2_ipv4: b(11),
            lso_v2_ipv6: b(12),
            tcp_connection_ipv4: b(13),
            tcp_connection_ipv6: b(14),
            flags: u32_at(buf, 16),
            ..Default::default()
        };
        if revision >= 2 {
            p.ipsec_v2 = b(20);
            p.ipsec_v2_ipv4 = b(21);
        }
        if revision >= 3 {
            p.rsc_ipv4 = b(22);
            p.rsc_ipv6 = b(23);
            p.encapsulated_packet_task_offload = b(24);
            p.encapsulation_types = b(25);
        }
        if revision >= 4 {
            p.vxlan_udp_port = u32_at(buf, 28);
        }
        if revision >= 5 {
            p.uso_ipv4 = b(32);
            p.uso_ipv6 = b(33);
        }
        Ok(p)
    }
}

/// Result of a successful `OID_TCP_OFFLOAD_PARAMETERS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffloadChange {
    /// The new current configuration (indicate it with
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` — mandatory after this OID, even when
    /// `changed` is false).
    pub new: NdisOffload,
    /// RSC turned off for these families: flush every held SCU (software engine) and let the
    /// host path drain **before** completing the OID (spec §1.2).
    pub rsc_disabled: PerFamily<bool>,
    /// Send `VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET` with this mask (it changed).
    pub guest_offloads: Option<u64>,
    /// Whether anything differs from the previous configuration.
    pub changed: bool,
}

fn apply_csum(
    v: u8,
    f: Field,
    cap_tx: bool,
    cap_rx: bool,
    tx: &mut bool,
    rx: &mut bool,
) -> Result<(), OffloadParamError> {
    // 0 no change, 1 Tx+Rx off, 2 Tx on/Rx off, 3 Rx on/Tx off, 4 Tx+Rx on.
    let (want_tx, want_rx) = match v {
        0 => return Ok(()),
        1 => (false, false),
        2 => (true, false),
        3 => (false, true),
        4 => (true, true),
        _ => return Err(OffloadParamError::InvalidData(f)),
    };
    if (want_tx && !cap_tx) || (want_rx && !cap_rx) {
        return Err(OffloadParamError::NotSupported(f));
    }
    *tx = want_tx;
    *rx = want_rx;
    Ok(())
}

fn apply_opt<T: Copy>(
    v: u8,
    f: Field,
    cap: Option<T>,
    cur: &mut Option<T>,
) -> Result<(), OffloadParamError> {
    match v {
        0 => Ok(()),
        1 => {
            *cur = None;
            Ok(())
        }
        2 => {
            *cur = Some(cap.ok_or(OffloadParamError::NotSupported(f))?);
            Ok(())
        }
        _ => Err(OffloadParamError::InvalidData(f)),
    }
}

fn apply_bool(v: u8, f: Field, cap: bool, cur: &mut bool) -> Result<(), OffloadParamError> {
    let mut o = cur.then_some(());
    apply_opt(v, f, cap.then_some(()), &mut o)?;
    *cur = o.is_some();
    Ok(())
}

fn reject_enable(v: u8, max: u8, f: Field) -> Result<(), OffloadParamError> {
    match v {
        0 | 1 => Ok(()),
        v if v <= max => Err(OffloadParamError::NotSupported(f)),
        _ => Err(OffloadParamError::InvalidData(f)),
    }
}

// ---------------------------------------------------------------------------------------------
// OID_OFFLOAD_ENCAPSULATION
// ---------------------------------------------------------------------------------------------

/// Per family: `Some(l2_header_size)` once the protocol enabled it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EncapsulationState {
    /// IPv4: L2 header size (offset of the IP header).
    pub ipv4: Option<u16>,
    /// IPv6.
    pub ipv6: Option<u16>,
}

/// One family of `NDIS_OFFLOAD_ENCAPSULATION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EncapsulationFamily {
    /// `NDIS_OFFLOAD_SET_NO_CHANGE` 0 / `_ON` 1 / `_OFF` 2.
    pub enabled: u32,
    /// `NDIS_ENCAPSULATION_*` bits.
    pub encapsulation_type: u32,
    /// L2 header size.
    pub header_size: u32,
}

/// Decoded `NDIS_OFFLOAD_ENCAPSULATION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EncapsulationRequest {
    /// IPv4.
    pub ipv4: EncapsulationFamily,
    /// IPv6.
    pub ipv6: EncapsulationFamily,
}

/// `NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1`.
pub const OFFLOAD_ENCAPSULATION_SIZE: usize = 28;

impl EncapsulationRequest {
    /// Decodes an `OID_OFFLOAD_ENCAPSULATION` set buffer.
    pub fn from_bytes(buf: &[u8]) -> Result<Self, OffloadParamError> {
        let too_short = OffloadParamError::BufferTooShort {
            needed: OFFLOAD_ENCAPSULATION_SIZE,
        };
        if buf.len() < OFFLOAD_ENCAPSULATION_SIZE {
            return Err(too_short);
        }
        let &[ty, rev, s0, s1] = buf.first_chunk::<4>().ok_or(too_short)?;
        let size = usize::from(u16::from_le_bytes([s0, s1]));
        if ty != NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION
            || rev < 1
            || size < OFFLOAD_ENCAPSULATION_SIZE
        {
            return Err(OffloadParamError::InvalidData(Field::Header));
        }
        let fam = |o| EncapsulationFamily {
            enabled: u32_at(buf, o),
            encapsulation_type: u32_at(buf, o + 4),
            header_size: u32_at(buf, o + 8),
        };
        Ok(EncapsulationRequest {
            ipv4: fam(4),
            ipv6: fam(16),
        })
    }
}

/// Largest L2 header accepted: Ethernet + two VLAN tags, well inside the 128-byte LSO header
/// limit. Anything else is not an encapsulation this driver parses.
const MAX_L2_HEADER: u32 = 22;

fn encap_family(
    cur: Option<u16>,
    req: EncapsulationFamily,
    f: Field,
) -> Result<Option<u16>, OffloadParamError> {
    match req.enabled {
        0 => Ok(cur),
        2 => Ok(None),
        1 => {
            if req.encapsulation_type & ENCAPSULATION_IEEE_802_3 == 0 {
                return Err(OffloadParamError::NotSupported(f));
            }
            if !(14..=MAX_L2_HEADER).contains(&req.header_size) {
                return Err(OffloadParamError::InvalidData(f));
            }
            Ok(u16::try_from(req.header_size).ok())
        }
        _ => Err(OffloadParamError::InvalidData(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{Config, KeyValueSource};

    const QEMU_DEFAULT: Features = Features::CSUM
        .union(Features::GUEST_CSUM)
        .union(Features::CTRL_GUEST_OFFLOADS)
        .union(Features::GUEST_TSO4)
        .union(Features::GUEST_TSO6)
        .union(Features::GUEST_ECN)
        .union(Features::HOST_TSO4)
        .union(Features::HOST_TSO6)
        .union(Features::MRG_RXBUF)
        .union(Features::CTRL_VQ)
        .union(Features::VERSION_1)
        .union(Features::HOST_USO)
        .union(Features::GUEST_USO4)
        .union(Features::GUEST_USO6);

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::read(&KeyValueSource::new(pairs)).0
    }

    fn state(offered: Features, c: &Config, ndis: NdisVersion) -> OffloadState {
        let neg = wanted_features(offered, c, ndis, OffloadPolicy::default());
        OffloadState::new(neg, c, ndis)
    }

    fn params(rev: u8) -> OffloadParameters {
        OffloadParameters {
            revision: rev,
            ..Default::default()
        }
    }

    #[test]
    fn offload_wanted_features_qemu_default() {
        let w = wanted_features(
            QEMU_DEFAULT,
            &Config::default(),
            NdisVersion::V6_85,
            OffloadPolicy::default(),
        );
        let expect = Features::CSUM
            | Features::GUEST_CSUM
            | Features::CTRL_GUEST_OFFLOADS
            | Features::CTRL_VQ
            | Features::GUEST_TSO4
            | Features::GUEST_TSO6
            | Features::HOST_TSO4
            | Features::HOST_TSO6
            | Features::HOST_USO
            | Features::MRG_RXBUF;
        assert_eq!(w, expect);
        // Never: GUEST_ECN (no ECN GSO frames), GUEST_USO (no URO before NDIS 6.89).
        assert!(!w.intersects(Features::GUEST_ECN | Features::GUEST_USO4 | Features::GUEST_USO6));
    }

    #[test]
    fn offload_host_tso_needs_csum() {
        let w = wanted_features(
            Features::HOST_TSO4 | Features::HOST_USO,
            &Config::default(),
            NdisVersion::V6_85,
            OffloadPolicy::default(),
        );
        assert!(w.is_empty());
    }

    #[test]
    fn offload_guest_tso_needs_guest_csum_and_ctrl_guest_offloads() {
        let c = Config::default();
        let no_ctrl = QEMU_DEFAULT - Features::CTRL_GUEST_OFFLOADS;
        let w = wanted_features(no_ctrl, &c, NdisVersion::V6_85, OffloadPolicy::default());
        assert!(!w.intersects(Features::GUEST_TSO4 | Features::GUEST_TSO6));
        let no_gcsum = QEMU_DEFAULT - Features::GUEST_CSUM;
        let w = wanted_features(no_gcsum, &c, NdisVersion::V6_85, OffloadPolicy::default());
        assert!(!w.intersects(
            Features::GUEST_TSO4 | Features::GUEST_TSO6 | Features::CTRL_GUEST_OFFLOADS
        ));
    }

    #[test]
    fn offload_host_uso_needs_ndis_6_83() {
        let w = wanted_features(
            QEMU_DEFAULT,
            &Config::default(),
            NdisVersion::V6_80,
            OffloadPolicy::default(),
        );
        assert!(!w.contains(Features::HOST_USO));
        assert!(w.contains(Features::HOST_TSO4));
    }

    #[test]
    fn offload_guest_tso_not_acked_for_disabled_rsc_without_mergeable() {
        let c = cfg(&[("*RscIPv4", "0"), ("MergeableBuffers", "0")]);
        let w = wanted_features(
            QEMU_DEFAULT,
            &c,
            NdisVersion::V6_85,
            OffloadPolicy::default(),
        );
        assert!(!w.contains(Features::GUEST_TSO4));
        assert!(w.contains(Features::GUEST_TSO6));
        // With mergeable buffers the host path stays available for a later enable.
        let c = cfg(&[("*RscIPv4", "0")]);
        let w = wanted_features(
            QEMU_DEFAULT,
            &c,
            NdisVersion::V6_85,
            OffloadPolicy::default(),
        );
        assert!(w.contains(Features::GUEST_TSO4));
    }

    #[test]
    fn offload_rsc_ext_acked_when_offered_by_policy_and_with_tso_both_ways() {
        let offered = QEMU_DEFAULT | Features::RSC_EXT;
        let c = Config::default();
        // An offer is the host's opt-in (guest_rsc_ext=on): acked by default, refusable by policy.
        let pol = OffloadPolicy::default();
        assert!(wanted_features(offered, &c, NdisVersion::V6_85, pol).contains(Features::RSC_EXT));
        let refuse = OffloadPolicy {
            accept_rsc_ext: false,
        };
        let w = wanted_features(offered, &c, NdisVersion::V6_85, refuse);
        assert!(!w.contains(Features::RSC_EXT));
        // Not offered (QEMU's default): never acked.
        assert!(
            !wanted_features(QEMU_DEFAULT, &c, NdisVersion::V6_85, pol).contains(Features::RSC_EXT)
        );
        // Spec: RSC_EXT requires HOST_TSO4 or HOST_TSO6.
        let w = wanted_features(
            offered - Features::HOST_TSO4 - Features::HOST_TSO6,
            &c,
            NdisVersion::V6_85,
            pol,
        );
        assert!(!w.contains(Features::RSC_EXT));
    }

    #[test]
    fn offload_capabilities_do_not_depend_on_host() {
        let c = Config::default();
        let bare = state(Features::VERSION_1, &c, NdisVersion::V6_85);
        let full = state(QEMU_DEFAULT, &c, NdisVersion::V6_85);
        assert_eq!(bare.caps.checksum, full.caps.checksum);
        assert_eq!(bare.caps.lso_v1, full.caps.lso_v1);
        assert_eq!(bare.caps.lso_v2_ipv4, full.caps.lso_v2_ipv4);
        assert_eq!(bare.caps.lso_v2_ipv6, full.caps.lso_v2_ipv6);
        assert_eq!(bare.caps.uso, full.caps.uso);
        assert!(
            bare.caps.checksum.ipv4_tx.tcp
                && bare.caps.checksum.ipv6_rx.udp
                && bare.caps.checksum.ipv4_tx.ip
        );
        assert_eq!(bare.caps.lso_v2_ipv4.unwrap().max_offload_size, 63488);
        assert_eq!(bare.caps.uso.ipv4.unwrap().max_offload_size, 34304);
        assert_eq!(bare.caps.uso.ipv6.unwrap().min_segment_count, 2);
    }

    #[test]
    fn offload_rsc_capability_host_or_software() {
        let ndis = NdisVersion::V6_85;
        // Default (SoftwareRsc=1): RSC even without any host support.
        let s = state(Features::VERSION_1, &Config::default(), ndis);
        assert_eq!(
            s.caps.rsc,
            PerFamily {
                ipv4: true,
                ipv6: true
            }
        );
        assert_eq!(
            s.rsc_path().ipv4,
            RscPath {
                host: false,
                software: true
            }
        );
        // SoftwareRsc=0 and no host path: no capability (FailureReason Capability).
        let c0 = cfg(&[("SoftwareRsc", "0")]);
        let s = state(Features::VERSION_1, &c0, ndis);
        assert_eq!(
            s.caps.rsc,
            PerFamily {
                ipv4: false,
                ipv6: false
            }
        );
        assert_eq!(
            s.current.rsc,
            PerFamily {
                ipv4: false,
                ipv6: false
            }
        );
        // SoftwareRsc=0 with the host path on IPv4 only.
        let s = state(QEMU_DEFAULT - Features::GUEST_TSO6, &c0, ndis);
        assert_eq!(
            s.caps.rsc,
            PerFamily {
                ipv4: true,
                ipv6: false
            }
        );
        assert_eq!(
            s.rsc_path().ipv4,
            RscPath {
                host: true,
                software: false
            }
        );
        // Host TSO offered but no CTRL_GUEST_OFFLOADS: no host path.
        let s = state(QEMU_DEFAULT - Features::CTRL_GUEST_OFFLOADS, &c0, ndis);
        assert_eq!(
            s.caps.rsc,
            PerFamily {
                ipv4: false,
                ipv6: false
            }
        );
    }

    #[test]
    fn offload_version_gates_rsc_uso_and_sub_mss() {
        let c = Config::default();
        let s = state(
            QEMU_DEFAULT,
            &c,
            NdisVersion {
                major: 6,
                minor: 20,
            },
        );
        assert_eq!(
            s.caps.rsc,
            PerFamily {
                ipv4: false,
                ipv6: false
            }
        );
        assert_eq!(s.caps.uso.ipv4, None);
        assert_eq!(s.caps.revision, 2);
        let s = state(QEMU_DEFAULT, &c, NdisVersion::V6_30);
        assert!(s.caps.rsc.ipv4);
        assert_eq!(s.caps.uso.ipv4, None);
        assert_eq!(s.caps.revision, 3);
        let s = state(QEMU_DEFAULT, &c, NdisVersion::V6_83);
        assert!(!s.caps.uso.ipv4.unwrap().sub_mss_final_segment);
        assert_eq!(
            (s.caps.revision, NdisVersion::V6_83.offload_size()),
            (6, 216)
        );
        let s = state(QEMU_DEFAULT, &c, NdisVersion::V6_84);
        assert!(s.caps.uso.ipv4.unwrap().sub_mss_final_segment);
        assert_eq!(state(QEMU_DEFAULT, &c, NdisVersion::V6_85).caps.revision, 7);
    }

    #[test]
    fn offload_registry_keywords_set_initial_configuration() {
        let c = cfg(&[
            ("*TCPChecksumOffloadIPv4", "2"),
            ("*IPChecksumOffloadIPv4", "0"),
            ("*LsoV2IPv6", "0"),
            ("*UsoIPv4", "0"),
            ("*RscIPv6", "0"),
        ]);
        let s = state(QEMU_DEFAULT, &c, NdisVersion::V6_85);
        let cs = s.current.checksum;
        assert!(!cs.ipv4_tx.tcp && cs.ipv4_rx.tcp);
        assert!(!cs.ipv4_tx.ip && !cs.ipv4_rx.ip);
        // Options follow their parents.
        assert!(!cs.ipv4_tx.tcp_options && cs.ipv4_tx.ip_options); // UDP tx still on
        assert!(s.current.lso_v2_ipv4.is_some() && s.current.lso_v2_ipv6.is_none());
        assert!(s.current.uso.ipv4.is_none() && s.current.uso.ipv6.is_some());
        assert_eq!(
            s.current.rsc,
            PerFamily {
                ipv4: true,
                ipv6: false
            }
        );
        // Capabilities unaffected by the keywords.
        assert!(s.caps.rsc.ipv6 && s.caps.lso_v2_ipv6.is_some());
    }

    #[test]
    fn offload_initial_guest_offloads_turn_off_disabled_rsc_family() {
        let c = cfg(&[("*RscIPv6", "0")]);
        let s = state(QEMU_DEFAULT, &c, NdisVersion::V6_85);
        assert!(s.negotiated.contains(Features::GUEST_TSO6));
        let m = s.initial_guest_offloads().unwrap();
        assert_eq!(m, (Features::GUEST_CSUM | Features::GUEST_TSO4).bits());
        // Nothing to send when the configuration matches what was negotiated.
        assert_eq!(
            state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85).initial_guest_offloads(),
            None
        );
    }

    #[test]
    fn offload_oid_rsc_off_flushes_and_sends_guest_offloads() {
        let s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        let mut p = params(5);
        p.rsc_ipv4 = 1;
        let ch = s.apply_parameters(&p).unwrap();
        assert!(ch.changed);
        assert_eq!(
            ch.rsc_disabled,
            PerFamily {
                ipv4: true,
                ipv6: false
            }
        );
        assert_eq!(
            ch.guest_offloads,
            Some((Features::GUEST_CSUM | Features::GUEST_TSO6).bits())
        );
        assert!(!ch.new.rsc.ipv4 && ch.new.rsc.ipv6);
        let mut s2 = s;
        s2.commit(&ch);
        // Turning it back on re-enables the host path.
        p.rsc_ipv4 = 2;
        let ch = s2.apply_parameters(&p).unwrap();
        assert_eq!(
            ch.rsc_disabled,
            PerFamily {
                ipv4: false,
                ipv6: false
            }
        );
        assert_eq!(
            ch.guest_offloads,
            Some((Features::GUEST_CSUM | Features::GUEST_TSO4 | Features::GUEST_TSO6).bits())
        );
    }

    #[test]
    fn offload_oid_rsc_software_only_has_no_guest_offload_command() {
        let s = state(Features::VERSION_1, &Config::default(), NdisVersion::V6_85);
        let mut p = params(3);
        p.rsc_ipv6 = 1;
        let ch = s.apply_parameters(&p).unwrap();
        assert_eq!(
            ch.rsc_disabled,
            PerFamily {
                ipv4: false,
                ipv6: true
            }
        );
        assert_eq!(ch.guest_offloads, None);
    }

    #[test]
    fn offload_oid_rsc_enable_without_capability_not_supported() {
        let s = state(
            Features::VERSION_1,
            &cfg(&[("SoftwareRsc", "0")]),
            NdisVersion::V6_85,
        );
        let mut p = params(3);
        p.rsc_ipv4 = 2;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::NotSupported(Field::RscIpv4))
        );
        // Disabling what is already off is fine.
        p.rsc_ipv4 = 1;
        assert!(s.apply_parameters(&p).is_ok());
    }

    #[test]
    fn offload_oid_fields_of_newer_revisions_ignored() {
        let s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        let mut p = params(2);
        p.rsc_ipv4 = 1;
        p.uso_ipv4 = 1;
        let ch = s.apply_parameters(&p).unwrap();
        assert!(!ch.changed);
        assert!(ch.new.rsc.ipv4 && ch.new.uso.ipv4.is_some());
        let mut p = params(4);
        p.uso_ipv4 = 1;
        assert!(!s.apply_parameters(&p).unwrap().changed);
        p.revision = 5;
        assert!(s.apply_parameters(&p).unwrap().new.uso.ipv4.is_none());
    }

    #[test]
    fn offload_oid_checksum_encoding() {
        let s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        let mut p = params(1);
        p.tcp_ipv4_checksum = 2; // Tx on / Rx off
        p.udp_ipv6_checksum = 3; // Rx on / Tx off
        p.ipv4_checksum = 1; // both off
        let n = s.apply_parameters(&p).unwrap().new.checksum;
        assert!(n.ipv4_tx.tcp && !n.ipv4_rx.tcp && n.ipv4_tx.tcp_options && !n.ipv4_rx.tcp_options);
        assert!(!n.ipv6_tx.udp && n.ipv6_rx.udp);
        assert!(!n.ipv4_tx.ip && !n.ipv4_rx.ip);
        assert!(n.ipv6_tx.tcp && n.ipv6_rx.tcp); // untouched
        p.tcp_ipv6_checksum = 5;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::InvalidData(Field::TcpIpv6Checksum))
        );
    }

    #[test]
    fn offload_oid_is_atomic_on_error() {
        let s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        let mut p = params(5);
        p.lso_v2_ipv4 = 1;
        p.uso_ipv6 = 7;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::InvalidData(Field::UsoIpv6))
        );
        // `apply_parameters` takes &self: nothing to roll back, current untouched.
        assert!(s.current.lso_v2_ipv4.is_some());
    }

    #[test]
    fn offload_oid_unsupported_offloads() {
        let s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        let mut p = params(3);
        p.ipsec_v1 = 3;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::NotSupported(Field::IpsecV1))
        );
        p.ipsec_v1 = 1;
        p.tcp_connection_ipv6 = 2;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::NotSupported(Field::TcpConnectionIpv6))
        );
        p.tcp_connection_ipv6 = 0;
        p.encapsulated_packet_task_offload = 1;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::NotSupported(
                Field::EncapsulatedPacketTaskOffload
            ))
        );
        p.encapsulated_packet_task_offload = 9;
        assert_eq!(
            s.apply_parameters(&p),
            Err(OffloadParamError::InvalidData(
                Field::EncapsulatedPacketTaskOffload
            ))
        );
        p.encapsulated_packet_task_offload = 2;
        assert!(s.apply_parameters(&p).is_ok());
    }

    #[test]
    fn offload_parameters_from_bytes_layout_and_revisions() {
        let mut b = [0u8; 34];
        b[0] = 0x80;
        b[1] = 5;
        b[2..4].copy_from_slice(&34u16.to_le_bytes());
        b[5] = 4; // TCPIPv4Checksum
        b[12] = 1; // LsoV2IPv6
        b[16] = 1; // Flags
        b[22] = 1; // RscIPv4
        b[23] = 2; // RscIPv6
        b[28..32].copy_from_slice(&4789u32.to_le_bytes());
        b[33] = 1; // USO IPv6
        let p = OffloadParameters::from_bytes(&b).unwrap();
        assert_eq!(p.revision, 5);
        assert_eq!((p.tcp_ipv4_checksum, p.lso_v2_ipv6, p.flags), (4, 1, 1));
        assert_eq!(
            (p.rsc_ipv4, p.rsc_ipv6, p.vxlan_udp_port, p.uso_ipv6),
            (1, 2, 4789, 1)
        );
        // Header claims revision 5 but the buffer only holds revision 3: USO not read.
        let p = OffloadParameters::from_bytes(&b[..26]).unwrap();
        assert_eq!((p.revision, p.rsc_ipv6, p.uso_ipv6), (3, 2, 0));
        // Revision 2 header: RSC bytes present but not read.
        b[1] = 2;
        let p = OffloadParameters::from_bytes(&b).unwrap();
        assert_eq!((p.revision, p.rsc_ipv4), (2, 0));
        // Errors.
        assert_eq!(
            OffloadParameters::from_bytes(&b[..19]),
            Err(OffloadParamError::BufferTooShort { needed: 20 })
        );
        b[0] = 0x81;
        assert_eq!(
            OffloadParameters::from_bytes(&b),
            Err(OffloadParamError::InvalidData(Field::Header))
        );
        b[0] = 0x80;
        b[1] = 0;
        assert_eq!(
            OffloadParameters::from_bytes(&b),
            Err(OffloadParamError::InvalidData(Field::Header))
        );
        b[1] = 5;
        b[2..4].copy_from_slice(&8u16.to_le_bytes());
        assert_eq!(
            OffloadParameters::from_bytes(&b),
            Err(OffloadParamError::InvalidData(Field::Header))
        );
    }

    #[test]
    fn offload_encapsulation_gates_rx_checksum_reporting() {
        let mut s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        assert_eq!(s.rx_checksum(), RxChecksumConfig::default());
        let on = EncapsulationFamily {
            enabled: 1,
            encapsulation_type: ENCAPSULATION_IEEE_802_3,
            header_size: 14,
        };
        s.apply_encapsulation(&EncapsulationRequest {
            ipv4: on,
            ipv6: EncapsulationFamily::default(),
        })
        .unwrap();
        let rx = s.rx_checksum();
        assert!(rx.ipv4_header && rx.tcp_ipv4 && rx.udp_ipv4 && !rx.tcp_ipv6 && !rx.udp_ipv6);
        assert_eq!(s.encapsulation.ipv4, Some(14));
        s.apply_encapsulation(&EncapsulationRequest {
            ipv4: EncapsulationFamily::default(),
            ipv6: on,
        })
        .unwrap();
        assert_eq!(s.rx_checksum(), RxChecksumConfig::ALL);
        let off = EncapsulationFamily {
            enabled: 2,
            ..Default::default()
        };
        s.apply_encapsulation(&EncapsulationRequest {
            ipv4: off,
            ipv6: EncapsulationFamily::default(),
        })
        .unwrap();
        assert_eq!(
            s.encapsulation,
            EncapsulationState {
                ipv4: None,
                ipv6: Some(14)
            }
        );
    }

    #[test]
    fn offload_encapsulation_validation() {
        let mut s = state(QEMU_DEFAULT, &Config::default(), NdisVersion::V6_85);
        let req = |f: EncapsulationFamily| EncapsulationRequest {
            ipv4: f,
            ipv6: EncapsulationFamily::default(),
        };
        let snap = s.encapsulation;
        let bad_type = EncapsulationFamily {
            enabled: 1,
            encapsulation_type: 0x10,
            header_size: 14,
        };
        assert_eq!(
            s.apply_encapsulation(&req(bad_type)),
            Err(OffloadParamError::NotSupported(Field::EncapsulationIpv4))
        );
        let bad_size = EncapsulationFamily {
            enabled: 1,
            encapsulation_type: 2,
            header_size: 200,
        };
        assert_eq!(
            s.apply_encapsulation(&req(bad_size)),
            Err(OffloadParamError::InvalidData(Field::EncapsulationIpv4))
        );
        let bad_en = EncapsulationFamily {
            enabled: 3,
            encapsulation_type: 2,
            header_size: 14,
        };
        assert_eq!(
            s.apply_encapsulation(&req(bad_en)),
            Err(OffloadParamError::InvalidData(Field::EncapsulationIpv4))
        );
        assert_eq!(s.encapsulation, snap);
        // Byte decoding.
        let mut b = [0u8; 28];
        b[0] = 0xA8;
        b[1] = 1;
        b[2..4].copy_from_slice(&28u16.to_le_bytes());
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        b[12..16].copy_from_slice(&18u32.to_le_bytes());
        let r = EncapsulationRequest::from_bytes(&b).unwrap();
        assert_eq!(
            r.ipv4,
            EncapsulationFamily {
                enabled: 1,
                encapsulation_type: 2,
                header_size: 18
            }
        );
        assert_eq!(
            EncapsulationRequest::from_bytes(&b[..27]),
            Err(OffloadParamError::BufferTooShort { needed: 28 })
        );
        b[0] = 0x80;
        assert_eq!(
            EncapsulationRequest::from_bytes(&b),
            Err(OffloadParamError::InvalidData(Field::Header))
        );
    }

    #[test]
    fn offload_rx_buffers_sized_by_negotiation() {
        // Not negotiated GUEST_TSO → MTU-sized buffers even if the host offered TSO (#861).
        let neg = Features::VERSION_1;
        assert_eq!(
            rx_buffer_layout(neg, 1500, 12),
            RxBufferLayout::Single {
                bytes: 1500 + 18 + 12
            }
        );
        let neg = Features::VERSION_1 | Features::GUEST_TSO4;
        assert_eq!(
            rx_buffer_layout(neg, 1500, 12),
            RxBufferLayout::Single {
                bytes: 65535 + 18 + 12
            }
        );
        let neg = Features::VERSION_1 | Features::GUEST_TSO4 | Features::MRG_RXBUF;
        // 65565 bytes → 17 pages of 4 KiB (NetKVM's VIRTIO_NET_MAX_MRG_BUFS).
        assert_eq!(
            rx_buffer_layout(neg, 1500, 12),
            RxBufferLayout::Mergeable { max_buffers: 17 }
        );
        assert_eq!(
            rx_buffer_layout(Features::MRG_RXBUF, 1500, 12),
            RxBufferLayout::Mergeable { max_buffers: 1 }
        );
        // IPv6: a 40-byte header on top of a 65535-byte payload (an SCU of the largest legal
        // IPv6 datagram, spec §1.4 exception 7): 65575 + 18 + 12 bytes, still 17 pages.
        let neg = Features::VERSION_1 | Features::GUEST_TSO6;
        assert_eq!(max_rx_frame(neg, 1500), 40 + 65535 + 14 + 4);
        assert_eq!(
            rx_buffer_layout(neg, 1500, 12),
            RxBufferLayout::Single {
                bytes: 40 + 65535 + 18 + 12
            }
        );
        assert_eq!(
            rx_buffer_layout(neg | Features::MRG_RXBUF, 1500, 12),
            RxBufferLayout::Mergeable { max_buffers: 17 }
        );
        assert_eq!(
            max_rx_frame(Features::GUEST_USO4 | Features::GUEST_USO6, 1500),
            40 + 65535 + 18
        );
    }
}
