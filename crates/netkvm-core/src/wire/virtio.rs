//! `virtio_net_hdr` layouts (virtio 1.2 §5.1.6, spec §7.1) and a validated value type.
//!
//! Three sizes exist: the legacy 10-byte header, the 12-byte header used with
//! `VIRTIO_NET_F_MRG_RXBUF` or `VIRTIO_F_VERSION_1` (`num_buffers` appended), and the 20-byte
//! `virtio_net_hdr_v1_hash` with `VIRTIO_NET_F_HASH_REPORT`. Modern devices use little
//! endian; legacy devices use guest-native order, which is little endian on every Windows
//! target (x86, x64, ARM64), so one little-endian layout serves all.
//!
//! **RSC_INFO reuse** (`VIRTIO_NET_F_RSC_EXT`, spec §7.3/§7.4): on receive, when `flags`
//! has [`HdrFlags::RSC_INFO`], `csum_start` holds the number of coalesced segments and
//! `csum_offset` the number of duplicate ACKs; the checksum fields then mean nothing. Use
//! [`VirtioNetHdr::rsc_info`] and [`VirtioNetHdr::partial_csum`], which keep the two
//! meanings apart.

use bitflags::bitflags;
use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Invalid, Layer, LenError, LenSource, ParseError};

/// Legacy `virtio_net_hdr` (10 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct VirtioNetHdrLegacy {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`.
    pub gso_type: u8,
    /// Length of the headers (Ethernet + IP + L4).
    pub hdr_len: U16,
    /// MSS for segmentation.
    pub gso_size: U16,
    /// Where checksumming starts (RSC_INFO: coalesced segments).
    pub csum_start: U16,
    /// Checksum field offset from `csum_start` (RSC_INFO: duplicate ACKs).
    pub csum_offset: U16,
}

/// `virtio_net_hdr_v1` / `virtio_net_hdr_mrg_rxbuf` (12 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct VirtioNetHdrV1 {
    /// The legacy fields.
    pub base: VirtioNetHdrLegacy,
    /// Number of merged receive buffers.
    pub num_buffers: U16,
}

/// `virtio_net_hdr_v1_hash` (20 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct VirtioNetHdrV1Hash {
    /// The v1 fields.
    pub v1: VirtioNetHdrV1,
    /// Hash value computed by the device.
    pub hash_value: U32,
    /// `VIRTIO_NET_HASH_REPORT_*`.
    pub hash_report: U16,
    /// Reserved.
    pub padding: U16,
}

/// Which header layout the device and driver agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HdrFormat {
    /// 10 bytes: legacy device without `MRG_RXBUF`.
    Legacy,
    /// 12 bytes: `VERSION_1` or `MRG_RXBUF`.
    V1,
    /// 20 bytes: `HASH_REPORT`.
    V1Hash,
}

impl HdrFormat {
    /// Header size in bytes.
    pub const fn len(self) -> usize {
        match self {
            HdrFormat::Legacy => 10,
            HdrFormat::V1 => 12,
            HdrFormat::V1Hash => 20,
        }
    }

    /// Always false (a header is never empty); for clippy's `len_without_is_empty`.
    pub const fn is_empty(self) -> bool {
        false
    }
}

bitflags! {
    /// `virtio_net_hdr.flags`. Unknown bits (newer spec: UDP tunnel checksum, IPsec) are
    /// retained so a header round-trips.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct HdrFlags: u8 {
        /// Partial checksum: complete it from `csum_start`, store at `+csum_offset`.
        const NEEDS_CSUM = 1;
        /// Receive: the device validated the checksum.
        const DATA_VALID = 2;
        /// Receive with `RSC_EXT`: `csum_start`/`csum_offset` hold RSC counts.
        const RSC_INFO = 4;
        const _ = !0;
    }
}

/// `gso_type` values (without the ECN bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GsoType {
    /// `VIRTIO_NET_HDR_GSO_NONE` (0).
    #[default]
    None,
    /// `VIRTIO_NET_HDR_GSO_TCPV4` (1).
    TcpV4,
    /// `VIRTIO_NET_HDR_GSO_UDP` (3, UFO).
    Udp,
    /// `VIRTIO_NET_HDR_GSO_TCPV6` (4).
    TcpV6,
    /// `VIRTIO_NET_HDR_GSO_UDP_L4` (5, USO for IPv4 and IPv6).
    UdpL4,
}

/// `VIRTIO_NET_HDR_GSO_ECN`: the TCP GSO frame has CWR set (needs `HOST_ECN`/`GUEST_ECN`).
pub const GSO_ECN: u8 = 0x80;

impl GsoType {
    /// The wire value.
    pub const fn raw(self) -> u8 {
        match self {
            GsoType::None => 0,
            GsoType::TcpV4 => 1,
            GsoType::Udp => 3,
            GsoType::TcpV6 => 4,
            GsoType::UdpL4 => 5,
        }
    }

    /// Decodes a wire value without the ECN bit.
    pub const fn from_raw(v: u8) -> Option<Self> {
        Some(match v {
            0 => GsoType::None,
            1 => GsoType::TcpV4,
            3 => GsoType::Udp,
            4 => GsoType::TcpV6,
            5 => GsoType::UdpL4,
            _ => return None,
        })
    }
}

/// RSC counts carried in a receive header with [`HdrFlags::RSC_INFO`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RscInfo {
    /// Number of coalesced segments (`csum_start`; QEMU `rsc.segments`).
    pub segments: u16,
    /// Number of duplicate ACKs (`csum_offset`; QEMU `rsc.dup_acks`).
    pub dup_acks: u16,
}

/// A decoded `virtio_net_hdr` of any format. Fields absent from the format read as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VirtioNetHdr {
    /// Flags.
    pub flags: HdrFlags,
    /// GSO type.
    pub gso_type: GsoType,
    /// `VIRTIO_NET_HDR_GSO_ECN` was set.
    pub ecn: bool,
    /// Header length hint.
    pub hdr_len: u16,
    /// MSS.
    pub gso_size: u16,
    /// Checksum start (raw; see [`VirtioNetHdr::partial_csum`]).
    pub csum_start: u16,
    /// Checksum offset (raw).
    pub csum_offset: u16,
    /// Merged buffers (V1 formats).
    pub num_buffers: u16,
    /// Hash value (V1Hash).
    pub hash_value: u32,
    /// Hash report type (V1Hash).
    pub hash_report: u16,
}

impl VirtioNetHdr {
    /// Decodes the first `format.len()` bytes of `bytes`. An unknown `gso_type` is an error
    /// (the device is not trusted).
    pub fn parse(bytes: &[u8], format: HdrFormat) -> Result<Self, ParseError> {
        let short = |available| {
            ParseError::Len(LenError {
                layer: Layer::VirtioNetHdr,
                offset: 0,
                required: format.len(),
                available,
                source: LenSource::Buffer,
            })
        };
        let (base, num_buffers, hash_value, hash_report) = match format {
            HdrFormat::Legacy => {
                let (h, _) =
                    VirtioNetHdrLegacy::read_from_prefix(bytes).map_err(|_| short(bytes.len()))?;
                (h, 0, 0, 0)
            }
            HdrFormat::V1 => {
                let (h, _) =
                    VirtioNetHdrV1::read_from_prefix(bytes).map_err(|_| short(bytes.len()))?;
                (h.base, h.num_buffers.get(), 0, 0)
            }
            HdrFormat::V1Hash => {
                let (h, _) =
                    VirtioNetHdrV1Hash::read_from_prefix(bytes).map_err(|_| short(bytes.len()))?;
                (
                    h.v1.base,
                    h.v1.num_buffers.get(),
                    h.hash_value.get(),
                    h.hash_report.get(),
                )
            }
        };
        let gso_type = GsoType::from_raw(base.gso_type & !GSO_ECN).ok_or(ParseError::Invalid {
            layer: Layer::VirtioNetHdr,
            offset: 1,
            what: Invalid::GsoType(base.gso_type),
        })?;
        Ok(VirtioNetHdr {
            flags: HdrFlags::from_bits_retain(base.flags),
            gso_type,
            ecn: base.gso_type & GSO_ECN != 0,
            hdr_len: base.hdr_len.get(),
            gso_size: base.gso_size.get(),
            csum_start: base.csum_start.get(),
            csum_offset: base.csum_offset.get(),
            num_buffers,
            hash_value,
            hash_report,
        })
    }

    /// The raw `gso_type` byte (with the ECN bit).
    pub const fn gso_type_raw(&self) -> u8 {
        self.gso_type.raw() | if self.ecn { GSO_ECN } else { 0 }
    }

    /// Encodes into the first `format.len()` bytes of `out`; returns that length.
    pub fn write(&self, out: &mut [u8], format: HdrFormat) -> Result<usize, ParseError> {
        let base = VirtioNetHdrLegacy {
            flags: self.flags.bits(),
            gso_type: self.gso_type_raw(),
            hdr_len: U16::new(self.hdr_len),
            gso_size: U16::new(self.gso_size),
            csum_start: U16::new(self.csum_start),
            csum_offset: U16::new(self.csum_offset),
        };
        let v1 = VirtioNetHdrV1 {
            base,
            num_buffers: U16::new(self.num_buffers),
        };
        let res = match format {
            HdrFormat::Legacy => base.write_to_prefix(out).is_ok(),
            HdrFormat::V1 => v1.write_to_prefix(out).is_ok(),
            HdrFormat::V1Hash => VirtioNetHdrV1Hash {
                v1,
                hash_value: U32::new(self.hash_value),
                hash_report: U16::new(self.hash_report),
                padding: U16::ZERO,
            }
            .write_to_prefix(out)
            .is_ok(),
        };
        if !res {
            return Err(ParseError::Len(LenError {
                layer: Layer::VirtioNetHdr,
                offset: 0,
                required: format.len(),
                available: out.len(),
                source: LenSource::Buffer,
            }));
        }
        Ok(format.len())
    }

    /// RSC counts, when [`HdrFlags::RSC_INFO`] is set.
    pub fn rsc_info(&self) -> Option<RscInfo> {
        self.flags.contains(HdrFlags::RSC_INFO).then_some(RscInfo {
            segments: self.csum_start,
            dup_acks: self.csum_offset,
        })
    }

    /// `(csum_start, csum_offset)` when they mean a partial checksum: `NEEDS_CSUM` set and
    /// `RSC_INFO` clear (virtio 1.2 §5.1.6.4.1: the driver must not use them otherwise).
    pub fn partial_csum(&self) -> Option<(u16, u16)> {
        (self.flags.contains(HdrFlags::NEEDS_CSUM) && !self.flags.contains(HdrFlags::RSC_INFO))
            .then_some((self.csum_start, self.csum_offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtio_hdr_sizes_match_spec() {
        assert_eq!(core::mem::size_of::<VirtioNetHdrLegacy>(), 10);
        assert_eq!(core::mem::size_of::<VirtioNetHdrV1>(), 12);
        assert_eq!(core::mem::size_of::<VirtioNetHdrV1Hash>(), 20);
    }

    #[test]
    fn virtio_hdr_parse_little_endian_fields() {
        // Testbed §8 USO header: NEEDS_CSUM, UDP_L4, 42, 1400, 34, 6, num_buffers 4.
        let b = [1u8, 5, 42, 0, 0x78, 0x05, 34, 0, 6, 0, 4, 0];
        let h = VirtioNetHdr::parse(&b, HdrFormat::V1).unwrap();
        assert_eq!(h.flags, HdrFlags::NEEDS_CSUM);
        assert_eq!(h.gso_type, GsoType::UdpL4);
        assert_eq!(
            (
                h.hdr_len,
                h.gso_size,
                h.csum_start,
                h.csum_offset,
                h.num_buffers
            ),
            (42, 1400, 34, 6, 4)
        );
        assert_eq!(h.partial_csum(), Some((34, 6)));
        assert_eq!(h.rsc_info(), None);
        let mut out = [0u8; 12];
        assert_eq!(h.write(&mut out, HdrFormat::V1).unwrap(), 12);
        assert_eq!(out, b);
    }

    #[test]
    fn virtio_hdr_rsc_info_reuses_csum_fields() {
        // Testbed §8: flags=RSC_INFO, TCPV4, csum_start = 44 segments, csum_offset = 0 dup ACKs.
        let b = [4u8, 1, 0, 0, 0, 0, 44, 0, 2, 0];
        let h = VirtioNetHdr::parse(&b, HdrFormat::Legacy).unwrap();
        assert_eq!(
            h.rsc_info(),
            Some(RscInfo {
                segments: 44,
                dup_acks: 2
            })
        );
        assert_eq!(h.partial_csum(), None);
        // RSC_INFO together with NEEDS_CSUM: still not a checksum.
        let b = [5u8, 1, 0, 0, 0, 0, 44, 0, 2, 0];
        assert_eq!(
            VirtioNetHdr::parse(&b, HdrFormat::Legacy)
                .unwrap()
                .partial_csum(),
            None
        );
    }

    #[test]
    fn virtio_hdr_unknown_gso_type_rejected_ecn_bit_decoded() {
        let b = [0u8, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            VirtioNetHdr::parse(&b, HdrFormat::Legacy).unwrap_err(),
            ParseError::Invalid {
                layer: Layer::VirtioNetHdr,
                offset: 1,
                what: Invalid::GsoType(2)
            }
        );
        let b = [1u8, 0x81, 0, 0, 0, 0, 0, 0, 0, 0];
        let h = VirtioNetHdr::parse(&b, HdrFormat::Legacy).unwrap();
        assert!(h.ecn);
        assert_eq!(h.gso_type, GsoType::TcpV4);
        assert_eq!(h.gso_type_raw(), 0x81);
    }

    #[test]
    fn virtio_hdr_hash_fields_and_short_buffers() {
        let mut b = [0u8; 20];
        b[12..16].copy_from_slice(&0xdeadbeefu32.to_le_bytes());
        b[16..18].copy_from_slice(&7u16.to_le_bytes());
        let h = VirtioNetHdr::parse(&b, HdrFormat::V1Hash).unwrap();
        assert_eq!((h.hash_value, h.hash_report), (0xdeadbeef, 7));
        assert!(VirtioNetHdr::parse(&b[..19], HdrFormat::V1Hash).is_err());
        assert!(VirtioNetHdr::parse(&b[..11], HdrFormat::V1).is_err());
        let mut out = [0u8; 11];
        assert!(h.write(&mut out, HdrFormat::V1).is_err());
        assert_eq!(h.write(&mut out, HdrFormat::Legacy).unwrap(), 10);
    }

    #[test]
    fn virtio_hdr_unknown_flag_bits_round_trip() {
        let b = [0x09u8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let h = VirtioNetHdr::parse(&b, HdrFormat::Legacy).unwrap();
        assert!(h.flags.contains(HdrFlags::NEEDS_CSUM));
        let mut out = [0u8; 10];
        h.write(&mut out, HdrFormat::Legacy).unwrap();
        assert_eq!(out[0], 0x09);
    }
}
