//! Task offload structures (`ntddndis.h`, `ndis/offloadtypes.h`, `ndis/encapsulationconfig.h`):
//! `NDIS_OFFLOAD` (capabilities / current configuration), `NDIS_OFFLOAD_PARAMETERS`
//! (`OID_TCP_OFFLOAD_PARAMETERS`) and `NDIS_OFFLOAD_ENCAPSULATION` (`OID_OFFLOAD_ENCAPSULATION`).
//!
//! C bit-fields are kept as their `ULONG` storage word (`*Bits`) with typed getters/setters. All
//! layouts here are pointer-free, so they are identical on x86, x64 and ARM64.

use crate::basic::{BOOLEAN, UCHAR, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_OFFLOAD_NOT_SUPPORTED` (2-bit capability fields).
pub const NDIS_OFFLOAD_NOT_SUPPORTED: u32 = 0;
/// `NDIS_OFFLOAD_SUPPORTED`.
pub const NDIS_OFFLOAD_SUPPORTED: u32 = 1;
/// `NDIS_OFFLOAD_SET_NO_CHANGE`.
pub const NDIS_OFFLOAD_SET_NO_CHANGE: u32 = 0;
/// `NDIS_OFFLOAD_SET_ON`.
pub const NDIS_OFFLOAD_SET_ON: u32 = 1;
/// `NDIS_OFFLOAD_SET_OFF`.
pub const NDIS_OFFLOAD_SET_OFF: u32 = 2;

/// `NDIS_ENCAPSULATION_NOT_SUPPORTED`.
pub const NDIS_ENCAPSULATION_NOT_SUPPORTED: ULONG = 0x00;
/// `NDIS_ENCAPSULATION_NULL`.
pub const NDIS_ENCAPSULATION_NULL: ULONG = 0x01;
/// `NDIS_ENCAPSULATION_IEEE_802_3` (mandatory for every offload a NIC supports).
pub const NDIS_ENCAPSULATION_IEEE_802_3: ULONG = 0x02;
/// `NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q`.
pub const NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q: ULONG = 0x04;
/// `NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q_IN_OOB`.
pub const NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q_IN_OOB: ULONG = 0x08;
/// `NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED`.
pub const NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED: ULONG = 0x10;

// ---- NDIS_TCP_IP_CHECKSUM_OFFLOAD ----

/// `IPv4Transmit` / `IPv4Receive` of `NDIS_TCP_IP_CHECKSUM_OFFLOAD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_CHECKSUM_OFFLOAD_IPV4 {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: ULONG,
    /// Bit-fields: `IpOptionsSupported:2`, `TcpOptionsSupported:2`, `TcpChecksum:2`,
    /// `UdpChecksum:2`, `IpChecksum:2`.
    pub Bits: ULONG,
}
impl NDIS_CHECKSUM_OFFLOAD_IPV4 {
    bitfields!(Bits {
        /// `IpOptionsSupported` (bits 0..2).
        ip_options_supported, set_ip_options_supported: 0, 2;
        /// `TcpOptionsSupported` (bits 2..4).
        tcp_options_supported, set_tcp_options_supported: 2, 2;
        /// `TcpChecksum` (bits 4..6).
        tcp_checksum, set_tcp_checksum: 4, 2;
        /// `UdpChecksum` (bits 6..8).
        udp_checksum, set_udp_checksum: 6, 2;
        /// `IpChecksum` (bits 8..10).
        ip_checksum, set_ip_checksum: 8, 2;
    });
}

/// `IPv6Transmit` / `IPv6Receive` of `NDIS_TCP_IP_CHECKSUM_OFFLOAD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_CHECKSUM_OFFLOAD_IPV6 {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: ULONG,
    /// Bit-fields: `IpExtensionHeadersSupported:2`, `TcpOptionsSupported:2`, `TcpChecksum:2`,
    /// `UdpChecksum:2`.
    pub Bits: ULONG,
}
impl NDIS_CHECKSUM_OFFLOAD_IPV6 {
    bitfields!(Bits {
        /// `IpExtensionHeadersSupported` (bits 0..2).
        ip_extension_headers_supported, set_ip_extension_headers_supported: 0, 2;
        /// `TcpOptionsSupported` (bits 2..4).
        tcp_options_supported, set_tcp_options_supported: 2, 2;
        /// `TcpChecksum` (bits 4..6).
        tcp_checksum, set_tcp_checksum: 4, 2;
        /// `UdpChecksum` (bits 6..8).
        udp_checksum, set_udp_checksum: 6, 2;
    });
}

/// `NDIS_TCP_IP_CHECKSUM_OFFLOAD` (`NDIS_OFFLOAD.Checksum`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_TCP_IP_CHECKSUM_OFFLOAD {
    /// IPv4 transmit.
    pub IPv4Transmit: NDIS_CHECKSUM_OFFLOAD_IPV4,
    /// IPv4 receive.
    pub IPv4Receive: NDIS_CHECKSUM_OFFLOAD_IPV4,
    /// IPv6 transmit.
    pub IPv6Transmit: NDIS_CHECKSUM_OFFLOAD_IPV6,
    /// IPv6 receive.
    pub IPv6Receive: NDIS_CHECKSUM_OFFLOAD_IPV6,
}
assert_layout!(
    NDIS_TCP_IP_CHECKSUM_OFFLOAD,
    size = 32,
    IPv4Transmit = 0,
    IPv4Receive = 8,
    IPv6Transmit = 16,
    IPv6Receive = 24
);

// ---- LSO ----

/// `IPv4` of `NDIS_TCP_LARGE_SEND_OFFLOAD_V1`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_LSOV1_IPV4 {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: ULONG,
    /// Max TCP payload per large send (LSOv1 maximum 64 KiB).
    pub MaxOffLoadSize: ULONG,
    /// Minimum segments for the stack to offload.
    pub MinSegmentCount: ULONG,
    /// Bit-fields `TcpOptions:2`, `IpOptions:2`.
    pub Bits: ULONG,
}
impl NDIS_LSOV1_IPV4 {
    bitfields!(Bits {
        /// `TcpOptions` (bits 0..2).
        tcp_options, set_tcp_options: 0, 2;
        /// `IpOptions` (bits 2..4).
        ip_options, set_ip_options: 2, 2;
    });
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1` (`NDIS_OFFLOAD.LsoV1`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_TCP_LARGE_SEND_OFFLOAD_V1 {
    /// IPv4.
    pub IPv4: NDIS_LSOV1_IPV4,
}
assert_layout!(NDIS_TCP_LARGE_SEND_OFFLOAD_V1, size = 16);

/// `IPv4` of `NDIS_TCP_LARGE_SEND_OFFLOAD_V2`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_LSOV2_IPV4 {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: ULONG,
    /// Max TCP payload per large send.
    pub MaxOffLoadSize: ULONG,
    /// Minimum segments.
    pub MinSegmentCount: ULONG,
}

/// `IPv6` of `NDIS_TCP_LARGE_SEND_OFFLOAD_V2`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_LSOV2_IPV6 {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: ULONG,
    /// Max TCP payload per large send.
    pub MaxOffLoadSize: ULONG,
    /// Minimum segments.
    pub MinSegmentCount: ULONG,
    /// Bit-fields `IpExtensionHeadersSupported:2`, `TcpOptionsSupported:2`.
    pub Bits: ULONG,
}
impl NDIS_LSOV2_IPV6 {
    bitfields!(Bits {
        /// `IpExtensionHeadersSupported` (bits 0..2).
        ip_extension_headers_supported, set_ip_extension_headers_supported: 0, 2;
        /// `TcpOptionsSupported` (bits 2..4).
        tcp_options_supported, set_tcp_options_supported: 2, 2;
    });
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2` (`NDIS_OFFLOAD.LsoV2`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_TCP_LARGE_SEND_OFFLOAD_V2 {
    /// IPv4.
    pub IPv4: NDIS_LSOV2_IPV4,
    /// IPv6.
    pub IPv6: NDIS_LSOV2_IPV6,
}
assert_layout!(
    NDIS_TCP_LARGE_SEND_OFFLOAD_V2,
    size = 28,
    IPv4 = 0,
    IPv6 = 12
);

// ---- IPsec (not offered by a virtio NIC; layout only) ----

/// `NDIS_IPSEC_OFFLOAD_V1` (`NDIS_OFFLOAD.IPsecV1`): `Supported` (5 ULONGs), `IPv4AH` and
/// `IPv4ESP` bit-field words.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_IPSEC_OFFLOAD_V1 {
    /// `Supported.{Encapsulation, AhEspCombined, TransportTunnelCombined, IPv4Options, Flags}`.
    pub Supported: [ULONG; 5],
    /// `IPv4AH` bit-fields (`Md5:2 Sha_1:2 Transport:2 Tunnel:2 Send:2 Receive:2`).
    pub IPv4AH: ULONG,
    /// `IPv4ESP` bit-fields (`Des:2 Reserved:2 TripleDes:2 NullEsp:2 Transport:2 Tunnel:2 Send:2
    /// Receive:2`).
    pub IPv4ESP: ULONG,
}
assert_layout!(NDIS_IPSEC_OFFLOAD_V1, size = 28, IPv4AH = 20, IPv4ESP = 24);

/// `NDIS_IPSEC_OFFLOAD_V2` (`NDIS_OFFLOAD.IPsecV2`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_IPSEC_OFFLOAD_V2 {
    /// Encapsulation.
    pub Encapsulation: ULONG,
    /// IPv6 supported.
    pub IPv6Supported: BOOLEAN,
    /// IPv4 options.
    pub IPv4Options: BOOLEAN,
    /// IPv6 non-IPsec extension headers.
    pub IPv6NonIPsecExtensionHeaders: BOOLEAN,
    /// AH.
    pub Ah: BOOLEAN,
    /// ESP.
    pub Esp: BOOLEAN,
    /// AH+ESP.
    pub AhEspCombined: BOOLEAN,
    /// Transport.
    pub Transport: BOOLEAN,
    /// Tunnel.
    pub Tunnel: BOOLEAN,
    /// Transport+tunnel.
    pub TransportTunnelCombined: BOOLEAN,
    /// LSO with IPsec.
    pub LsoSupported: BOOLEAN,
    /// ESN.
    pub ExtendedSequenceNumbers: BOOLEAN,
    /// UDP-ESP.
    pub UdpEsp: ULONG,
    /// Authentication algorithms.
    pub AuthenticationAlgorithms: ULONG,
    /// Encryption algorithms.
    pub EncryptionAlgorithms: ULONG,
    /// SA capacity.
    pub SaOffloadCapacity: ULONG,
}
assert_layout!(
    NDIS_IPSEC_OFFLOAD_V2,
    size = 32,
    IPv6Supported = 4,
    ExtendedSequenceNumbers = 14,
    UdpEsp = 16,
    SaOffloadCapacity = 28
);

// ---- RSC / encapsulation / 464XLAT / USO ----

/// `NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD` (`NDIS_OFFLOAD.Rsc`, NDIS 6.30): `IPv4.Enabled`,
/// `IPv6.Enabled`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD {
    /// `IPv4.Enabled`.
    pub IPv4Enabled: BOOLEAN,
    /// `IPv6.Enabled`.
    pub IPv6Enabled: BOOLEAN,
}
assert_layout!(
    NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD,
    size = 2,
    IPv4Enabled = 0,
    IPv6Enabled = 1
);
/// `NDIS_TCP_RECV_SEG_COALESC_OFFLOAD_REVISION_1` (sic).
pub const NDIS_TCP_RECV_SEG_COALESC_OFFLOAD_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_TCP_RECV_SEG_COALESC_OFFLOAD_REVISION_1` (sic).
pub const NDIS_SIZEOF_TCP_RECV_SEG_COALESC_OFFLOAD_REVISION_1: USHORT = 2;

/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_NOT_SUPPORTED`.
pub const NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_NOT_SUPPORTED: u32 = 0x0;
/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_INNER_IPV4`.
pub const NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_INNER_IPV4: u32 = 0x1;
/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_OUTER_IPV4`.
pub const NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_OUTER_IPV4: u32 = 0x2;
/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_INNER_IPV6`.
pub const NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_INNER_IPV6: u32 = 0x4;
/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_OUTER_IPV6`.
pub const NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_OUTER_IPV6: u32 = 0x8;

/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD` (NVGRE, `NDIS_OFFLOAD.EncapsulatedPacketTaskOffloadGre`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD {
    /// Bit-fields (4 bits each): transmit checksum, receive checksum, LSOv2, RSS, VMQ, and
    /// (NDIS 6.85) USO.
    pub Bits: ULONG,
    /// Largest encapsulation header supported.
    pub MaxHeaderSizeSupported: ULONG,
}
impl NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD {
    bitfields!(Bits {
        /// `TransmitChecksumOffloadSupported` (bits 0..4).
        transmit_checksum_offload_supported, set_transmit_checksum_offload_supported: 0, 4;
        /// `ReceiveChecksumOffloadSupported` (bits 4..8).
        receive_checksum_offload_supported, set_receive_checksum_offload_supported: 4, 4;
        /// `LsoV2Supported` (bits 8..12).
        lso_v2_supported, set_lso_v2_supported: 8, 4;
        /// `RssSupported` (bits 12..16).
        rss_supported, set_rss_supported: 12, 4;
        /// `VmqSupported` (bits 16..20).
        vmq_supported, set_vmq_supported: 16, 4;
        /// `UsoSupported` (bits 20..24, NDIS 6.85).
        uso_supported, set_uso_supported: 20, 4;
    });
}
assert_layout!(
    NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD,
    size = 8,
    MaxHeaderSizeSupported = 4
);

/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_V2` (VXLAN, NDIS 6.50).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_V2 {
    /// Same bit-fields as [`NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD::Bits`].
    pub Bits: ULONG,
    /// Largest encapsulation header supported.
    pub MaxHeaderSizeSupported: ULONG,
    /// `EncapsulationProtocolInfo.Value` (`VxlanInfo.VxlanUDPPortNumber` in bits 0..16,
    /// `VxlanUDPPortNumberConfigurable:1` at bit 16).
    pub EncapsulationProtocolInfo: ULONG,
    /// Reserved.
    pub Reserved1: ULONG,
    /// Reserved.
    pub Reserved2: ULONG,
}
assert_layout!(
    NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_V2,
    size = 20,
    MaxHeaderSizeSupported = 4,
    EncapsulationProtocolInfo = 8
);

/// `NDIS_RFC6877_464XLAT_OFFLOAD_OPTIONS` (C enum).
pub type NDIS_RFC6877_464XLAT_OFFLOAD_OPTIONS = i32;
/// `NDIS_RFC6877_464XLAT_OFFLOAD_NOT_SUPPORTED`.
pub const NDIS_RFC6877_464XLAT_OFFLOAD_NOT_SUPPORTED: NDIS_RFC6877_464XLAT_OFFLOAD_OPTIONS = 0;

/// `NDIS_RFC6877_464XLAT_OFFLOAD` (NDIS 6.70).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_RFC6877_464XLAT_OFFLOAD {
    /// Option.
    pub XlatOffload: NDIS_RFC6877_464XLAT_OFFLOAD_OPTIONS,
    /// Reserved, 0.
    pub Flags: ULONG,
}
assert_layout!(NDIS_RFC6877_464XLAT_OFFLOAD, size = 8);

/// `IPv4` of `NDIS_UDP_SEGMENTATION_OFFLOAD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_USO_IPV4 {
    /// `NDIS_ENCAPSULATION_*` (must include `IEEE_802_3`).
    pub Encapsulation: ULONG,
    /// Max UDP payload per large send.
    pub MaxOffLoadSize: ULONG,
    /// Bit-fields `MinSegmentCount:6`, `SubMssFinalSegmentSupported:1` (NDIS 6.84), reserved.
    pub Bits: ULONG,
}
impl NDIS_USO_IPV4 {
    bitfields!(Bits {
        /// `MinSegmentCount` (bits 0..6, max 63).
        min_segment_count, set_min_segment_count: 0, 6;
        /// `SubMssFinalSegmentSupported` (bit 6, NDIS 6.84).
        sub_mss_final_segment_supported, set_sub_mss_final_segment_supported: 6, 1;
    });
}

/// `IPv6` of `NDIS_UDP_SEGMENTATION_OFFLOAD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_USO_IPV6 {
    /// `NDIS_ENCAPSULATION_*`.
    pub Encapsulation: ULONG,
    /// Max UDP payload per large send.
    pub MaxOffLoadSize: ULONG,
    /// Bit-fields `MinSegmentCount:6`, `SubMssFinalSegmentSupported:1`, `Reserved1:25`.
    pub Bits: ULONG,
    /// Bit-fields `IpExtensionHeadersSupported:2`, `Reserved2:30`.
    pub Bits2: ULONG,
}
impl NDIS_USO_IPV6 {
    bitfields!(Bits {
        /// `MinSegmentCount` (bits 0..6).
        min_segment_count, set_min_segment_count: 0, 6;
        /// `SubMssFinalSegmentSupported` (bit 6).
        sub_mss_final_segment_supported, set_sub_mss_final_segment_supported: 6, 1;
    });
    bitfields!(Bits2 {
        /// `IpExtensionHeadersSupported` (bits 0..2 of the fourth ULONG).
        ip_extension_headers_supported, set_ip_extension_headers_supported: 0, 2;
    });
}

/// `NDIS_UDP_SEGMENTATION_OFFLOAD` (`NDIS_OFFLOAD.UdpSegmentation`, NDIS 6.83).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_UDP_SEGMENTATION_OFFLOAD {
    /// IPv4.
    pub IPv4: NDIS_USO_IPV4,
    /// IPv6.
    pub IPv6: NDIS_USO_IPV6,
}
assert_layout!(
    NDIS_UDP_SEGMENTATION_OFFLOAD,
    size = 28,
    IPv4 = 0,
    IPv6 = 12
);

// ---- NDIS_OFFLOAD ----

/// `NDIS_OFFLOAD_FLAGS_GROUP_CHECKSUM_CAPABILITIES`.
pub const NDIS_OFFLOAD_FLAGS_GROUP_CHECKSUM_CAPABILITIES: ULONG = 0x1;
/// `IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE` (no `NDIS_` prefix in the header).
pub const IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE: ULONG = 0x2;
/// `IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE`.
pub const IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE: ULONG = 0x4;

/// `NDIS_OFFLOAD_REVISION_1` (NDIS 6.0).
pub const NDIS_OFFLOAD_REVISION_1: UCHAR = 1;
/// `NDIS_OFFLOAD_REVISION_2` (6.1).
pub const NDIS_OFFLOAD_REVISION_2: UCHAR = 2;
/// `NDIS_OFFLOAD_REVISION_3` (6.30: RSC).
pub const NDIS_OFFLOAD_REVISION_3: UCHAR = 3;
/// `NDIS_OFFLOAD_REVISION_4` (6.50).
pub const NDIS_OFFLOAD_REVISION_4: UCHAR = 4;
/// `NDIS_OFFLOAD_REVISION_5` (6.70).
pub const NDIS_OFFLOAD_REVISION_5: UCHAR = 5;
/// `NDIS_OFFLOAD_REVISION_6` (6.83: USO).
pub const NDIS_OFFLOAD_REVISION_6: UCHAR = 6;
/// `NDIS_OFFLOAD_REVISION_7` (6.85: same layout as 6).
pub const NDIS_OFFLOAD_REVISION_7: UCHAR = 7;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1` (through `Flags`).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1: USHORT = 112;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2` (through `IPsecV2`).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2: USHORT = 144;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3` (through `EncapsulatedPacketTaskOffloadGre`).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3: USHORT = 156;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4` (through `EncapsulationTypes`; `size_of` at 6.50 is 180).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4: USHORT = 177;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5` (through `Rfc6877Xlat`).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5: USHORT = 188;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6` (through `UdpSegmentation`).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6: USHORT = 216;
/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7` (through `UdpSegmentation`, same as 6).
pub const NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7: USHORT = 216;

/// `NDIS_OFFLOAD` as of NDIS 6.83/6.85 (216 bytes; header type `NDIS_OBJECT_TYPE_OFFLOAD`).
/// Used for hardware capabilities and current configuration in the offload attributes, the
/// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indication and the offload OIDs. Choose the header
/// revision by the NDIS version registered (3 on 6.30, 6 on 6.83, 7 on 6.85).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_OFFLOAD {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Checksum offload.
    pub Checksum: NDIS_TCP_IP_CHECKSUM_OFFLOAD,
    /// LSOv1.
    pub LsoV1: NDIS_TCP_LARGE_SEND_OFFLOAD_V1,
    /// IPsec v1.
    pub IPsecV1: NDIS_IPSEC_OFFLOAD_V1,
    /// LSOv2.
    pub LsoV2: NDIS_TCP_LARGE_SEND_OFFLOAD_V2,
    /// `NDIS_OFFLOAD_FLAGS_*`.
    pub Flags: ULONG,
    /// IPsec v2 (revision 2).
    pub IPsecV2: NDIS_IPSEC_OFFLOAD_V2,
    /// RSC (revision 3).
    pub Rsc: NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD,
    /// NVGRE task offload (revision 3).
    pub EncapsulatedPacketTaskOffloadGre: NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD,
    /// VXLAN task offload (revision 4).
    pub EncapsulatedPacketTaskOffloadVxlan: NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_V2,
    /// `NDIS_ENCAPSULATION_TYPE_*` (revision 4).
    pub EncapsulationTypes: UCHAR,
    /// 464XLAT (revision 5).
    pub Rfc6877Xlat: NDIS_RFC6877_464XLAT_OFFLOAD,
    /// USO (revision 6).
    pub UdpSegmentation: NDIS_UDP_SEGMENTATION_OFFLOAD,
}
assert_layout!(
    NDIS_OFFLOAD,
    size = 216,
    Header = 0,
    Checksum = 4,
    LsoV1 = 36,
    IPsecV1 = 52,
    LsoV2 = 80,
    Flags = 108,
    IPsecV2 = 112,
    Rsc = 144,
    EncapsulatedPacketTaskOffloadGre = 148,
    EncapsulatedPacketTaskOffloadVxlan = 156,
    EncapsulationTypes = 176,
    Rfc6877Xlat = 180,
    UdpSegmentation = 188
);
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::{offset_of, size_of};
    type O = NDIS_OFFLOAD;
    assert!(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1 as usize == offset_of!(O, Flags) + 4);
    assert!(
        NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2 as usize
            == offset_of!(O, IPsecV2) + size_of::<NDIS_IPSEC_OFFLOAD_V2>()
    );
    assert!(
        NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3 as usize
            == offset_of!(O, EncapsulatedPacketTaskOffloadGre) + 8
    );
    assert!(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4 as usize == offset_of!(O, EncapsulationTypes) + 1);
    assert!(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5 as usize == offset_of!(O, Rfc6877Xlat) + 8);
    assert!(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6 as usize == offset_of!(O, UdpSegmentation) + 28);
};
/// `PNDIS_OFFLOAD`.
pub type PNDIS_OFFLOAD = *mut NDIS_OFFLOAD;

/// The `(revision, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_n)` header pair to use when registering as
/// NDIS `major.minor` (the highest revision that version defines; 6.30 → 3, 6.83 → 6,
/// 6.85+ → 7). `None` below NDIS 6.0.
pub const fn ndis_offload_revision_for(v: crate::version::NdisVersion) -> Option<(UCHAR, USHORT)> {
    if v.major < 6 {
        return None;
    }
    let m = if v.major > 6 { 255 } else { v.minor };
    Some(if m >= 85 {
        (NDIS_OFFLOAD_REVISION_7, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7)
    } else if m >= 83 {
        (NDIS_OFFLOAD_REVISION_6, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6)
    } else if m >= 70 {
        (NDIS_OFFLOAD_REVISION_5, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5)
    } else if m >= 50 {
        (NDIS_OFFLOAD_REVISION_4, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4)
    } else if m >= 30 {
        (NDIS_OFFLOAD_REVISION_3, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3)
    } else if m >= 1 {
        (NDIS_OFFLOAD_REVISION_2, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2)
    } else {
        (NDIS_OFFLOAD_REVISION_1, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1)
    })
}

// ---- NDIS_OFFLOAD_PARAMETERS ----

/// `NDIS_OFFLOAD_PARAMETERS_NO_CHANGE`.
pub const NDIS_OFFLOAD_PARAMETERS_NO_CHANGE: UCHAR = 0;
/// `NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED: UCHAR = 2;
/// `NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED: UCHAR = 3;
/// `NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED: UCHAR = 4;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED: UCHAR = 2;
/// `NDIS_OFFLOAD_PARAMETERS_IPSECV1_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_IPSECV1_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED: UCHAR = 2;
/// `NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED: UCHAR = 2;
/// `NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED: UCHAR = 2;
/// `NDIS_OFFLOAD_PARAMETERS_USO_DISABLED` (Learn spells it `..._UDP_SEG_DISABLED`).
pub const NDIS_OFFLOAD_PARAMETERS_USO_DISABLED: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_USO_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_USO_ENABLED: UCHAR = 2;
/// `NDIS_ENCAPSULATION_TYPE_GRE_MAC`.
pub const NDIS_ENCAPSULATION_TYPE_GRE_MAC: UCHAR = 0x1;
/// `NDIS_ENCAPSULATION_TYPE_VXLAN`.
pub const NDIS_ENCAPSULATION_TYPE_VXLAN: UCHAR = 0x2;
/// `NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE` (NDIS 6.30).
pub const NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE: ULONG = 0x1;

/// `NDIS_OFFLOAD_PARAMETERS_REVISION_1`.
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_OFFLOAD_PARAMETERS_REVISION_2`.
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_2: UCHAR = 2;
/// `NDIS_OFFLOAD_PARAMETERS_REVISION_3` (6.30: RSC, encapsulation).
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_3: UCHAR = 3;
/// `NDIS_OFFLOAD_PARAMETERS_REVISION_4` (6.50).
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_4: UCHAR = 4;
/// `NDIS_OFFLOAD_PARAMETERS_REVISION_5` (6.83: USO).
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_5: UCHAR = 5;
/// `NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1` (through `Flags`).
pub const NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1: USHORT = 20;
/// `NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2` (through `IPsecV2IPv4`).
pub const NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2: USHORT = 22;
/// `NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3` (through `EncapsulationTypes`).
pub const NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3: USHORT = 26;
/// `NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_4` (through `EncapsulationProtocolParameters`).
pub const NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_4: USHORT = 32;
/// `NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5` (through `UdpSegmentation`; `size_of` is 36).
pub const NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5: USHORT = 34;

/// `NDIS_OFFLOAD_PARAMETERS` (`OID_TCP_OFFLOAD_PARAMETERS` set). Check `Header.Revision` (and
/// the buffer length) before reading fields of later revisions.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_OFFLOAD_PARAMETERS {
    /// Header (`NDIS_OBJECT_TYPE_DEFAULT`).
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_OFFLOAD_PARAMETERS_{NO_CHANGE, TX_RX_DISABLED, …}`.
    pub IPv4Checksum: UCHAR,
    /// Same encoding.
    pub TCPIPv4Checksum: UCHAR,
    /// Same encoding.
    pub UDPIPv4Checksum: UCHAR,
    /// Same encoding.
    pub TCPIPv6Checksum: UCHAR,
    /// Same encoding.
    pub UDPIPv6Checksum: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_LSOV1_*`.
    pub LsoV1: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_IPSECV1_*`.
    pub IPsecV1: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_LSOV2_*`.
    pub LsoV2IPv4: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_LSOV2_*`.
    pub LsoV2IPv6: UCHAR,
    /// Chimney.
    pub TcpConnectionIPv4: UCHAR,
    /// Chimney.
    pub TcpConnectionIPv6: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE`.
    pub Flags: ULONG,
    /// Revision 2.
    pub IPsecV2: UCHAR,
    /// Revision 2.
    pub IPsecV2IPv4: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_RSC_*` (revision 3).
    pub RscIPv4: UCHAR,
    /// `NDIS_OFFLOAD_PARAMETERS_RSC_*` (revision 3).
    pub RscIPv6: UCHAR,
    /// `NDIS_OFFLOAD_SET_*` (revision 3).
    pub EncapsulatedPacketTaskOffload: UCHAR,
    /// `NDIS_ENCAPSULATION_TYPE_*` (revision 3).
    pub EncapsulationTypes: UCHAR,
    /// `EncapsulationProtocolParameters.Value` (revision 4; VXLAN UDP port in bits 0..16).
    pub EncapsulationProtocolParameters: ULONG,
    /// `UdpSegmentation.IPv4`: `NDIS_OFFLOAD_PARAMETERS_USO_*` (revision 5).
    pub UdpSegmentationIPv4: UCHAR,
    /// `UdpSegmentation.IPv6` (revision 5).
    pub UdpSegmentationIPv6: UCHAR,
}
assert_layout!(
    NDIS_OFFLOAD_PARAMETERS,
    size = 36,
    Header = 0,
    IPv4Checksum = 4,
    TCPIPv4Checksum = 5,
    UDPIPv4Checksum = 6,
    TCPIPv6Checksum = 7,
    UDPIPv6Checksum = 8,
    LsoV1 = 9,
    IPsecV1 = 10,
    LsoV2IPv4 = 11,
    LsoV2IPv6 = 12,
    TcpConnectionIPv4 = 13,
    TcpConnectionIPv6 = 14,
    Flags = 16,
    IPsecV2 = 20,
    IPsecV2IPv4 = 21,
    RscIPv4 = 22,
    RscIPv6 = 23,
    EncapsulatedPacketTaskOffload = 24,
    EncapsulationTypes = 25,
    EncapsulationProtocolParameters = 28,
    UdpSegmentationIPv4 = 32,
    UdpSegmentationIPv6 = 33
);
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    type P = NDIS_OFFLOAD_PARAMETERS;
    assert!(NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1 as usize == offset_of!(P, Flags) + 4);
    assert!(NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2 as usize == offset_of!(P, IPsecV2IPv4) + 1);
    assert!(
        NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3 as usize == offset_of!(P, EncapsulationTypes) + 1
    );
    assert!(
        NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_4 as usize
            == offset_of!(P, EncapsulationProtocolParameters) + 4
    );
    assert!(
        NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5 as usize
            == offset_of!(P, UdpSegmentationIPv6) + 1
    );
};

// ---- NDIS_OFFLOAD_ENCAPSULATION ----

/// `NDIS_OFFLOAD_ENCAPSULATION_REVISION_1`.
pub const NDIS_OFFLOAD_ENCAPSULATION_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1` (through `IPv6.HeaderSize`).
pub const NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1: USHORT = 28;

/// One IP version of `NDIS_OFFLOAD_ENCAPSULATION`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_OFFLOAD_ENCAPSULATION_IP {
    /// `NDIS_OFFLOAD_SET_ON` / `NDIS_OFFLOAD_SET_NO_CHANGE` (/ `SET_OFF`).
    pub Enabled: ULONG,
    /// `NDIS_ENCAPSULATION_IEEE_802_3` or `NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED`.
    pub EncapsulationType: ULONG,
    /// L2 header size the protocol uses.
    pub HeaderSize: ULONG,
}

/// `NDIS_OFFLOAD_ENCAPSULATION` (`OID_OFFLOAD_ENCAPSULATION`, header type 0xA8).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_OFFLOAD_ENCAPSULATION {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// IPv4.
    pub IPv4: NDIS_OFFLOAD_ENCAPSULATION_IP,
    /// IPv6.
    pub IPv6: NDIS_OFFLOAD_ENCAPSULATION_IP,
}
assert_layout!(
    NDIS_OFFLOAD_ENCAPSULATION,
    size = 28,
    Header = 0,
    IPv4 = 4,
    IPv6 = 16
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::NdisVersion;

    #[test]
    fn checksum_ipv4_two_bit_fields_pack_from_lsb() {
        let mut c = NDIS_CHECKSUM_OFFLOAD_IPV4::default();
        c.set_ip_options_supported(NDIS_OFFLOAD_SUPPORTED);
        c.set_tcp_checksum(NDIS_OFFLOAD_SUPPORTED);
        c.set_ip_checksum(NDIS_OFFLOAD_SUPPORTED);
        // bits: IpOptions 0, TcpChecksum 4, IpChecksum 8
        assert_eq!(c.Bits, 0b01_00_01_00_01);
        assert_eq!(c.tcp_checksum(), 1);
        assert_eq!(c.udp_checksum(), 0);
        c.set_tcp_checksum(NDIS_OFFLOAD_SET_OFF);
        assert_eq!(c.Bits, 0b01_00_10_00_01);
        // A C bit-field assignment keeps only the low 2 bits.
        c.set_udp_checksum(0b111);
        assert_eq!(c.udp_checksum(), 0b11);
        assert_eq!(c.ip_checksum(), 1);
    }

    #[test]
    fn uso_min_segment_count_is_six_bits_then_submss_bit6() {
        let mut u = NDIS_USO_IPV6::default();
        u.set_min_segment_count(2);
        u.set_sub_mss_final_segment_supported(1);
        u.set_ip_extension_headers_supported(NDIS_OFFLOAD_SUPPORTED);
        assert_eq!(u.Bits, 0x42);
        assert_eq!(u.Bits2, 0x1);
        u.set_min_segment_count(64); // 7 bits: truncated to 0, bit 6 untouched
        assert_eq!(u.min_segment_count(), 0);
        assert_eq!(u.sub_mss_final_segment_supported(), 1);
    }

    #[test]
    fn lso_v2_ipv6_and_encapsulated_bits() {
        let mut l = NDIS_LSOV2_IPV6::default();
        l.set_tcp_options_supported(1);
        assert_eq!(l.Bits, 0x4);
        let mut e = NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD::default();
        e.set_uso_supported(NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD_INNER_IPV4);
        e.set_transmit_checksum_offload_supported(0xF);
        assert_eq!(e.Bits, 0x0010_000F);
    }

    #[test]
    fn offload_revision_follows_the_registered_ndis_version() {
        assert_eq!(
            ndis_offload_revision_for(NdisVersion::V6_30),
            Some((3, 156))
        );
        assert_eq!(
            ndis_offload_revision_for(NdisVersion::V6_80),
            Some((5, 188))
        );
        assert_eq!(
            ndis_offload_revision_for(NdisVersion::V6_83),
            Some((6, 216))
        );
        assert_eq!(
            ndis_offload_revision_for(NdisVersion::V6_84),
            Some((6, 216))
        );
        assert_eq!(
            ndis_offload_revision_for(NdisVersion::V6_85),
            Some((7, 216))
        );
        assert_eq!(
            ndis_offload_revision_for(NdisVersion { major: 5, minor: 1 }),
            None
        );
    }
}
