//! Per-NBL out-of-band info: slot indices (`ndis/nblinfo.h`, x64 numbering) and typed views of
//! the pointer-sized slot values (`nblchecksum.h`, `nbllso.h`, `nbluso.h`, `nblrsc.h`, `nblhash.h`,
//! `nbl8021q.h`, `nbluro.h`).

/// `NDIS_NET_BUFFER_LIST_INFO` (C enum) used as an index into `NetBufferListInfo`.
pub type NDIS_NET_BUFFER_LIST_INFO = usize;

/// `TcpIpChecksumNetBufferListInfo`.
pub const TcpIpChecksumNetBufferListInfo: usize = 0;
/// `TcpOffloadBytesTransferred` (= `TcpIpChecksumNetBufferListInfo`).
pub const TcpOffloadBytesTransferred: usize = 0;
/// `IPsecOffloadV1NetBufferListInfo`.
pub const IPsecOffloadV1NetBufferListInfo: usize = 1;
/// `IPsecOffloadV2NetBufferListInfo` (= V1 slot).
pub const IPsecOffloadV2NetBufferListInfo: usize = 1;
/// `TcpLargeSendNetBufferListInfo`.
pub const TcpLargeSendNetBufferListInfo: usize = 2;
/// `TcpReceiveNoPush` (= `TcpLargeSendNetBufferListInfo`).
pub const TcpReceiveNoPush: usize = 2;
/// `ClassificationHandleNetBufferListInfo`.
pub const ClassificationHandleNetBufferListInfo: usize = 3;
/// `Ieee8021QNetBufferListInfo`.
pub const Ieee8021QNetBufferListInfo: usize = 4;
/// `NetBufferListCancelId`.
pub const NetBufferListCancelId: usize = 5;
/// `MediaSpecificInformation`.
pub const MediaSpecificInformation: usize = 6;
/// `NetBufferListFrameType`.
pub const NetBufferListFrameType: usize = 7;
/// `NetBufferListProtocolId` (= `NetBufferListFrameType`).
pub const NetBufferListProtocolId: usize = 7;
/// `NetBufferListHashValue`.
pub const NetBufferListHashValue: usize = 8;
/// `NetBufferListHashInfo`.
pub const NetBufferListHashInfo: usize = 9;
/// `WfpNetBufferListInfo`.
pub const WfpNetBufferListInfo: usize = 10;
/// `IPsecOffloadV2TunnelNetBufferListInfo`.
pub const IPsecOffloadV2TunnelNetBufferListInfo: usize = 11;
/// `IPsecOffloadV2HeaderNetBufferListInfo`.
pub const IPsecOffloadV2HeaderNetBufferListInfo: usize = 12;
/// `NetBufferListCorrelationId`.
pub const NetBufferListCorrelationId: usize = 13;
/// `NetBufferListFilteringInfo`.
pub const NetBufferListFilteringInfo: usize = 14;
/// `MediaSpecificInformationEx`.
pub const MediaSpecificInformationEx: usize = 15;
/// `NblOriginalInterfaceIfIndex`.
pub const NblOriginalInterfaceIfIndex: usize = 16;
/// `NblReAuthWfpFlowContext` (= `NblOriginalInterfaceIfIndex`).
pub const NblReAuthWfpFlowContext: usize = 16;
/// `TcpReceiveBytesTransferred`.
pub const TcpReceiveBytesTransferred: usize = 17;
/// `NrtNameResolutionId` (= `TcpReceiveBytesTransferred`).
pub const NrtNameResolutionId: usize = 17;
/// `UdpRecvSegCoalesceOffloadInfo` (NDIS 6.84, = `TcpReceiveBytesTransferred`): URO receive info.
pub const UdpRecvSegCoalesceOffloadInfo: usize = 17;
/// `SwitchForwardingReserved` (x64 only at this position).
pub const SwitchForwardingReserved: usize = 18;
/// `SwitchForwardingDetail`.
pub const SwitchForwardingDetail: usize = 19;
/// `VirtualSubnetInfo`.
pub const VirtualSubnetInfo: usize = 20;
/// `IMReserved`.
pub const IMReserved: usize = 21;
/// `TcpRecvSegCoalesceInfo`: RSC info on receive.
pub const TcpRecvSegCoalesceInfo: usize = 22;
/// `UdpSegmentationOffloadInfo` (NDIS 6.83, = `TcpRecvSegCoalesceInfo`): USO info on send.
pub const UdpSegmentationOffloadInfo: usize = 22;
/// `RscTcpTimestampDelta`.
pub const RscTcpTimestampDelta: usize = 23;
/// `TcpSendOffloadsSupplementalNetBufferListInfo` (= `RscTcpTimestampDelta`).
pub const TcpSendOffloadsSupplementalNetBufferListInfo: usize = 23;
/// `GftOffloadInformation`.
pub const GftOffloadInformation: usize = 24;
/// `GftFlowEntryId`.
pub const GftFlowEntryId: usize = 25;
/// `NetBufferListInfoReserved3`.
pub const NetBufferListInfoReserved3: usize = 26;
/// `MaxNetBufferListInfo` (x64, `NDIS_WRAPPER` not defined): number of slots.
pub const MaxNetBufferListInfo: usize = 27;

// ---------------------------------------------------------------------------------------------
// Typed views of slot values
//
// Each WDK union below is `{ struct { ULONG bit-fields } View…; PVOID Value; }`. On x64 the
// ULONG bit-fields occupy the low 32 bits of the pointer-sized slot (little endian, MSVC
// allocates bit-fields from bit 0). Getters read the low 32 bits (like `PtrToUlong`); setters
// change only the field's bits and keep everything else, exactly like a C bit-field store.

/// Getter/setter pairs over the low 32 bits of a `usize` slot value.
macro_rules! slot_bitfields {
    ($( $(#[$m:meta])* $get:ident, $set:ident : $lo:expr, $width:expr; )*) => {
        $(
            $(#[$m])*
            #[inline]
            pub const fn $get(&self) -> u32 {
                ((self.Value as u32) >> $lo) & ((1u32 << $width) - 1)
            }
            #[doc = concat!("Sets the field read by [`Self::", stringify!($get), "`] (", stringify!($width), " bits at bit ", stringify!($lo), "); excess bits are discarded.")]
            #[inline]
            pub const fn $set(&mut self, v: u32) -> &mut Self {
                let mask: u32 = ((1u32 << $width) - 1) << $lo;
                self.Value = (self.Value & !(mask as usize)) | (((v << $lo) & mask) as usize);
                self
            }
        )*
    };
}

/// Common constructors of the slot wrappers.
macro_rules! slot_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[repr(transparent)]
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name {
            /// The raw slot value (`Value` member of the union).
            pub Value: usize,
        }
        impl $name {
            /// Wraps a raw slot value.
            pub const fn from_value(Value: usize) -> Self {
                Self { Value }
            }
            /// The raw slot value.
            pub const fn value(self) -> usize {
                self.Value
            }
        }
    };
}

slot_type!(
    /// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO` (slot `TcpIpChecksumNetBufferListInfo`).
    NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO
);
impl NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO {
    slot_bitfields! {
        /// `Transmit.IsIPv4` (bit 0): the frame is IPv4.
        transmit_is_ipv4, set_transmit_is_ipv4: 0, 1;
        /// `Transmit.IsIPv6` (bit 1).
        transmit_is_ipv6, set_transmit_is_ipv6: 1, 1;
        /// `Transmit.TcpChecksum` (bit 2): compute the TCP checksum.
        transmit_tcp_checksum, set_transmit_tcp_checksum: 2, 1;
        /// `Transmit.UdpChecksum` (bit 3).
        transmit_udp_checksum, set_transmit_udp_checksum: 3, 1;
        /// `Transmit.IpHeaderChecksum` (bit 4).
        transmit_ip_header_checksum, set_transmit_ip_header_checksum: 4, 1;
        /// `Transmit.TcpHeaderOffset` (bits 16..26): TCP header offset from the frame start.
        transmit_tcp_header_offset, set_transmit_tcp_header_offset: 16, 10;
        /// `Receive.TcpChecksumFailed` (bit 0).
        receive_tcp_checksum_failed, set_receive_tcp_checksum_failed: 0, 1;
        /// `Receive.UdpChecksumFailed` (bit 1).
        receive_udp_checksum_failed, set_receive_udp_checksum_failed: 1, 1;
        /// `Receive.IpChecksumFailed` (bit 2).
        receive_ip_checksum_failed, set_receive_ip_checksum_failed: 2, 1;
        /// `Receive.TcpChecksumSucceeded` (bit 3).
        receive_tcp_checksum_succeeded, set_receive_tcp_checksum_succeeded: 3, 1;
        /// `Receive.UdpChecksumSucceeded` (bit 4).
        receive_udp_checksum_succeeded, set_receive_udp_checksum_succeeded: 4, 1;
        /// `Receive.IpChecksumSucceeded` (bit 5).
        receive_ip_checksum_succeeded, set_receive_ip_checksum_succeeded: 5, 1;
        /// `Receive.Loopback` (bit 6; owned by NDIS, a miniport must not set it).
        receive_loopback, set_receive_loopback: 6, 1;
        /// `Receive.TcpChecksumValueInvalid` (bit 7, NDIS 6.30, RSC SCUs only).
        receive_tcp_checksum_value_invalid, set_receive_tcp_checksum_value_invalid: 7, 1;
        /// `Receive.IpChecksumValueInvalid` (bit 8, NDIS 6.30, RSC SCUs only).
        receive_ip_checksum_value_invalid, set_receive_ip_checksum_value_invalid: 8, 1;
    }
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE` (`Transmit.Type`).
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE: u32 = 0;
/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE`.
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: u32 = 1;
/// `NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4` (`LsoV2Transmit.IPVersion`).
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4: u32 = 0;
/// `NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6`.
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6: u32 = 1;
/// `NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH`: larger headers are never LSO'd.
pub const NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH: u32 = 128;

slot_type!(
    /// `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO` (slot `TcpLargeSendNetBufferListInfo`).
    /// Read [`Self::transmit_type`] first to pick the V1 or V2 view.
    NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO
);
impl NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO {
    slot_bitfields! {
        /// `Transmit.Type` (bit 30): `NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE` / `_V2_TYPE`.
        transmit_type, set_transmit_type: 30, 1;
        /// `LsoV1Transmit.MSS` (bits 0..20).
        lso_v1_transmit_mss, set_lso_v1_transmit_mss: 0, 20;
        /// `LsoV1Transmit.TcpHeaderOffset` (bits 20..30).
        lso_v1_transmit_tcp_header_offset, set_lso_v1_transmit_tcp_header_offset: 20, 10;
        /// `LsoV1TransmitComplete.TcpPayload` (bits 0..30): TCP payload bytes sent, written by
        /// the miniport before completing an LSOv1 NBL.
        lso_v1_transmit_complete_tcp_payload, set_lso_v1_transmit_complete_tcp_payload: 0, 30;
        /// `LsoV2Transmit.MSS` (bits 0..20).
        lso_v2_transmit_mss, set_lso_v2_transmit_mss: 0, 20;
        /// `LsoV2Transmit.TcpHeaderOffset` (bits 20..30).
        lso_v2_transmit_tcp_header_offset, set_lso_v2_transmit_tcp_header_offset: 20, 10;
        /// `LsoV2Transmit.IPVersion` (bit 31): `NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4` / `_IPv6`.
        lso_v2_transmit_ip_version, set_lso_v2_transmit_ip_version: 31, 1;
        /// `LsoV2TransmitComplete.Reserved` (bits 0..30; must be 0 on completion).
        lso_v2_transmit_complete_reserved, set_lso_v2_transmit_complete_reserved: 0, 30;
    }

    /// The LSOv2 completion value the WDK prescribes: `Reserved = 0`, `Type = V2`.
    pub const fn lso_v2_transmit_complete() -> Self {
        Self {
            Value: (NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE as usize) << 30,
        }
    }
}

/// `NDIS_UDP_SEGMENTATION_OFFLOAD_IPV4` (`Transmit.IPVersion`).
pub const NDIS_UDP_SEGMENTATION_OFFLOAD_IPV4: u32 = 0;
/// `NDIS_UDP_SEGMENTATION_OFFLOAD_IPV6`.
pub const NDIS_UDP_SEGMENTATION_OFFLOAD_IPV6: u32 = 1;

slot_type!(
    /// `NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO` (slot `UdpSegmentationOffloadInfo`,
    /// NDIS 6.83; same slot as the RSC receive info). Non-zero on send = perform USO.
    NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO
);
impl NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO {
    slot_bitfields! {
        /// `Transmit.MSS` (bits 0..20): UDP payload bytes per segment.
        transmit_mss, set_transmit_mss: 0, 20;
        /// `Transmit.UdpHeaderOffset` (bits 20..30).
        transmit_udp_header_offset, set_transmit_udp_header_offset: 20, 10;
        /// `Transmit.Reserved` (bit 30).
        transmit_reserved, set_transmit_reserved: 30, 1;
        /// `Transmit.IPVersion` (bit 31).
        transmit_ip_version, set_transmit_ip_version: 31, 1;
    }
}

slot_type!(
    /// `NDIS_RSC_NBL_INFO` (slot `TcpRecvSegCoalesceInfo`, NDIS 6.30): `Info.CoalescedSegCount`
    /// (USHORT at byte 0) and `Info.DupAckCount` (USHORT at byte 2). `CoalescedSegCount` must be
    /// 0 on NBLs that are not SCUs.
    NDIS_RSC_NBL_INFO
);
impl NDIS_RSC_NBL_INFO {
    slot_bitfields! {
        /// `Info.CoalescedSegCount` (bits 0..16; `NET_BUFFER_LIST_COALESCED_SEG_COUNT`).
        coalesced_seg_count, set_coalesced_seg_count: 0, 16;
        /// `Info.DupAckCount` (bits 16..32; `NET_BUFFER_LIST_DUP_ACK_COUNT`).
        dup_ack_count, set_dup_ack_count: 16, 16;
    }
    /// An SCU's info.
    pub const fn new(coalesced_seg_count: u16, dup_ack_count: u16) -> Self {
        Self {
            Value: (coalesced_seg_count as usize) | ((dup_ack_count as usize) << 16),
        }
    }
}

slot_type!(
    /// `NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO` (slot `UdpRecvSegCoalesceOffloadInfo`,
    /// NDIS 6.84): `Receive.SegCount` (USHORT at byte 0), `Receive.SegSize` (USHORT at byte 2).
    NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO
);
impl NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO {
    slot_bitfields! {
        /// `Receive.SegCount` (bits 0..16).
        receive_seg_count, set_receive_seg_count: 0, 16;
        /// `Receive.SegSize` (bits 16..32).
        receive_seg_size, set_receive_seg_size: 16, 16;
    }
}

slot_type!(
    /// `NDIS_NET_BUFFER_LIST_8021Q_INFO` (slot `Ieee8021QNetBufferListInfo`).
    NDIS_NET_BUFFER_LIST_8021Q_INFO
);
impl NDIS_NET_BUFFER_LIST_8021Q_INFO {
    slot_bitfields! {
        /// `TagHeader.UserPriority` (bits 0..3, 802.1p).
        user_priority, set_user_priority: 0, 3;
        /// `TagHeader.CanonicalFormatId` (bit 3, always 0 for Ethernet).
        canonical_format_id, set_canonical_format_id: 3, 1;
        /// `TagHeader.VlanId` (bits 4..16).
        vlan_id, set_vlan_id: 4, 12;
        /// `TagHeader.Reserved` (bits 16..32, 0 for Ethernet).
        reserved, set_reserved: 16, 16;
        /// `WLanTagHeader.WMMInfo` (bits 16..20).
        wlan_wmm_info, set_wlan_wmm_info: 16, 4;
    }
}

slot_type!(
    /// The `NetBufferListHashInfo` slot: hash type | hash function in the low 32 bits
    /// (`NET_BUFFER_LIST_GET/SET_HASH_TYPE/FUNCTION`).
    NDIS_NBL_HASH_INFO
);
impl NDIS_NBL_HASH_INFO {
    /// `NET_BUFFER_LIST_GET_HASH_TYPE`.
    pub const fn hash_type(self) -> u32 {
        (self.Value as u32) & crate::rss::NDIS_HASH_TYPE_MASK
    }
    /// `NET_BUFFER_LIST_GET_HASH_FUNCTION`.
    pub const fn hash_function(self) -> u32 {
        (self.Value as u32) & crate::rss::NDIS_HASH_FUNCTION_MASK
    }
    /// `NET_BUFFER_LIST_SET_HASH_TYPE`: read-modify-write of the type bits only; the result is
    /// a `ULONG` widened to the slot (`UlongToPtr`), as in the WDK.
    pub const fn with_hash_type(self, hash_type: u32) -> Self {
        let v = ((self.Value as u32) & !crate::rss::NDIS_HASH_TYPE_MASK)
            | (hash_type & crate::rss::NDIS_HASH_TYPE_MASK);
        Self { Value: v as usize }
    }
    /// `NET_BUFFER_LIST_SET_HASH_FUNCTION`: read-modify-write of the function bits only.
    pub const fn with_hash_function(self, hash_function: u32) -> Self {
        let v = ((self.Value as u32) & !crate::rss::NDIS_HASH_FUNCTION_MASK)
            | (hash_function & crate::rss::NDIS_HASH_FUNCTION_MASK);
        Self { Value: v as usize }
    }
}

impl crate::nbl::NET_BUFFER_LIST {
    // Every slot index used below is a constant < MaxNetBufferListInfo; an index outside the
    // array reads as 0 and writes nothing rather than panicking in the driver.
    fn slot(&self, id: usize) -> usize {
        self.NetBufferListInfo.get(id).map_or(0, |&p| p as usize)
    }
    fn set_slot(&mut self, id: usize, v: usize) {
        if let Some(p) = self.NetBufferListInfo.get_mut(id) {
            *p = v as crate::basic::PVOID;
        }
    }
    /// `TcpIpChecksumNetBufferListInfo` slot.
    pub fn checksum_info(&self) -> NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO {
        NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::from_value(
            self.slot(TcpIpChecksumNetBufferListInfo),
        )
    }
    /// Stores the `TcpIpChecksumNetBufferListInfo` slot.
    pub fn set_checksum_info(&mut self, v: NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO) {
        self.set_slot(TcpIpChecksumNetBufferListInfo, v.value());
    }
    /// `TcpLargeSendNetBufferListInfo` slot.
    pub fn lso_info(&self) -> NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO {
        NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(
            self.slot(TcpLargeSendNetBufferListInfo),
        )
    }
    /// Stores the `TcpLargeSendNetBufferListInfo` slot (e.g. the LSO completion value).
    pub fn set_lso_info(&mut self, v: NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO) {
        self.set_slot(TcpLargeSendNetBufferListInfo, v.value());
    }
    /// `UdpSegmentationOffloadInfo` slot (send).
    pub fn uso_info(&self) -> NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO {
        NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(
            self.slot(UdpSegmentationOffloadInfo),
        )
    }
    /// `TcpRecvSegCoalesceInfo` slot (receive).
    pub fn rsc_info(&self) -> NDIS_RSC_NBL_INFO {
        NDIS_RSC_NBL_INFO::from_value(self.slot(TcpRecvSegCoalesceInfo))
    }
    /// Stores the `TcpRecvSegCoalesceInfo` slot.
    pub fn set_rsc_info(&mut self, v: NDIS_RSC_NBL_INFO) {
        self.set_slot(TcpRecvSegCoalesceInfo, v.value());
    }
    /// `RscTcpTimestampDelta` slot (a `ULONG` stored by value).
    pub fn rsc_tcp_timestamp_delta(&self) -> u32 {
        self.slot(RscTcpTimestampDelta) as u32
    }
    /// Stores `RscTcpTimestampDelta`.
    pub fn set_rsc_tcp_timestamp_delta(&mut self, delta: u32) {
        self.set_slot(RscTcpTimestampDelta, delta as usize);
    }
    /// `UdpRecvSegCoalesceOffloadInfo` slot (receive, NDIS 6.84).
    pub fn uro_info(&self) -> NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO {
        NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(
            self.slot(UdpRecvSegCoalesceOffloadInfo),
        )
    }
    /// Stores the `UdpRecvSegCoalesceOffloadInfo` slot.
    pub fn set_uro_info(&mut self, v: NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO) {
        self.set_slot(UdpRecvSegCoalesceOffloadInfo, v.value());
    }
    /// `Ieee8021QNetBufferListInfo` slot.
    pub fn ieee8021q_info(&self) -> NDIS_NET_BUFFER_LIST_8021Q_INFO {
        NDIS_NET_BUFFER_LIST_8021Q_INFO::from_value(self.slot(Ieee8021QNetBufferListInfo))
    }
    /// Stores the `Ieee8021QNetBufferListInfo` slot.
    pub fn set_ieee8021q_info(&mut self, v: NDIS_NET_BUFFER_LIST_8021Q_INFO) {
        self.set_slot(Ieee8021QNetBufferListInfo, v.value());
    }
    /// `NET_BUFFER_LIST_GET_HASH_VALUE`.
    pub fn hash_value(&self) -> u32 {
        self.slot(NetBufferListHashValue) as u32
    }
    /// `NET_BUFFER_LIST_SET_HASH_VALUE`.
    pub fn set_hash_value(&mut self, v: u32) {
        self.set_slot(NetBufferListHashValue, v as usize);
    }
    /// The `NetBufferListHashInfo` slot.
    pub fn hash_info(&self) -> NDIS_NBL_HASH_INFO {
        NDIS_NBL_HASH_INFO::from_value(self.slot(NetBufferListHashInfo))
    }
    /// `NET_BUFFER_LIST_SET_HASH_TYPE`.
    pub fn set_hash_type(&mut self, hash_type: u32) {
        let v = self.hash_info().with_hash_type(hash_type);
        self.set_slot(NetBufferListHashInfo, v.value());
    }
    /// `NET_BUFFER_LIST_SET_HASH_FUNCTION`.
    pub fn set_hash_function(&mut self, hash_function: u32) {
        let v = self.hash_info().with_hash_function(hash_function);
        self.set_slot(NetBufferListHashInfo, v.value());
    }
}

// The NBL slot helpers index with these constants; keep them inside the array.
const _: () = assert!(
    TcpRecvSegCoalesceInfo < MaxNetBufferListInfo
        && RscTcpTimestampDelta < MaxNetBufferListInfo
        && NetBufferListHashInfo < MaxNetBufferListInfo
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_indices_match_the_x64_enum_table() {
        // ndis-offload-rules.md §0.2 (x64 column) and the enum order in nblinfo.h.
        assert_eq!(TcpIpChecksumNetBufferListInfo, 0);
        assert_eq!(TcpLargeSendNetBufferListInfo, 2);
        assert_eq!(Ieee8021QNetBufferListInfo, 4);
        assert_eq!(NetBufferListCancelId, 5);
        assert_eq!(NetBufferListHashValue, 8);
        assert_eq!(NetBufferListHashInfo, 9);
        assert_eq!(TcpReceiveBytesTransferred, 17);
        assert_eq!(UdpRecvSegCoalesceOffloadInfo, 17);
        assert_eq!(TcpRecvSegCoalesceInfo, 22);
        assert_eq!(UdpSegmentationOffloadInfo, 22);
        assert_eq!(RscTcpTimestampDelta, 23);
        assert_eq!(MaxNetBufferListInfo, 27);
    }

    #[test]
    fn checksum_transmit_bits_match_spec_table() {
        // Spec §4.2 transmit: IsIPv4 0x1, IsIPv6 0x2, TcpChecksum 0x4, UdpChecksum 0x8,
        // IpHeaderChecksum 0x10, TcpHeaderOffset bits 16..25.
        let mut c = NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::default();
        c.set_transmit_is_ipv4(1)
            .set_transmit_tcp_checksum(1)
            .set_transmit_ip_header_checksum(1);
        c.set_transmit_tcp_header_offset(34);
        assert_eq!(c.value(), 0x1 | 0x4 | 0x10 | (34 << 16));
        let d = NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::from_value(0x2 | 0x8 | (0x3FF << 16));
        assert_eq!(d.transmit_is_ipv4(), 0);
        assert_eq!(d.transmit_is_ipv6(), 1);
        assert_eq!(d.transmit_udp_checksum(), 1);
        assert_eq!(d.transmit_tcp_checksum(), 0);
        assert_eq!(d.transmit_tcp_header_offset(), 0x3FF);
    }

    #[test]
    fn checksum_receive_bits_match_spec_table() {
        // Spec §4.2 receive: TcpFailed 0x1, UdpFailed 0x2, IpFailed 0x4, TcpSucceeded 0x8,
        // UdpSucceeded 0x10, IpSucceeded 0x20, Loopback 0x40, TcpValueInvalid 0x80,
        // IpValueInvalid 0x100.
        let mut c = NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::default();
        c.set_receive_ip_checksum_succeeded(1)
            .set_receive_tcp_checksum_succeeded(1)
            .set_receive_tcp_checksum_value_invalid(1)
            .set_receive_ip_checksum_value_invalid(1);
        assert_eq!(c.value(), 0x20 | 0x8 | 0x80 | 0x100);
        let f =
            NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::from_value(0x1 | 0x2 | 0x4 | 0x10 | 0x40);
        assert_eq!(
            (
                f.receive_tcp_checksum_failed(),
                f.receive_udp_checksum_failed(),
                f.receive_ip_checksum_failed(),
                f.receive_udp_checksum_succeeded(),
                f.receive_loopback(),
                f.receive_tcp_checksum_succeeded()
            ),
            (1, 1, 1, 1, 1, 0)
        );
    }

    #[test]
    fn lso_views_match_spec_table() {
        // Spec §3.2: MSS bits 0..19, TcpHeaderOffset 20..29, Type bit 30, IPVersion bit 31.
        let v2 = NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(
            1448 | (54 << 20) | (1 << 30) | (1 << 31),
        );
        assert_eq!(v2.transmit_type(), NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE);
        assert_eq!(v2.lso_v2_transmit_mss(), 1448);
        assert_eq!(v2.lso_v2_transmit_tcp_header_offset(), 54);
        assert_eq!(
            v2.lso_v2_transmit_ip_version(),
            NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6
        );
        let v1 = NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(536 | (34 << 20));
        assert_eq!(v1.transmit_type(), NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE);
        assert_eq!(v1.lso_v1_transmit_mss(), 536);
        // LSOv1 completion: TcpPayload in bits 0..29, Type kept.
        let mut c = v1;
        c.set_lso_v1_transmit_complete_tcp_payload(60_000);
        assert_eq!(c.value(), 60_000);
        assert_eq!(c.transmit_type(), 0);
        // LSOv2 completion: Reserved 0, Type V2 -> exactly bit 30.
        assert_eq!(
            NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::lso_v2_transmit_complete().value(),
            1 << 30
        );
        // MSS wider than 20 bits is cut like a C bit-field and does not spill into the offset.
        let mut m = NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::default();
        m.set_lso_v2_transmit_mss(0x10_0001);
        assert_eq!(m.lso_v2_transmit_mss(), 1);
        assert_eq!(m.lso_v2_transmit_tcp_header_offset(), 0);
    }

    #[test]
    fn uso_view_matches_spec_table() {
        // Spec §2.2: MSS bits 0..19, UdpHeaderOffset 20..29, Reserved 30, IPVersion 31.
        let u = NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(
            1200 | (34 << 20) | (1 << 31),
        );
        assert_eq!(u.transmit_mss(), 1200);
        assert_eq!(u.transmit_udp_header_offset(), 34);
        assert_eq!(u.transmit_reserved(), 0);
        assert_eq!(u.transmit_ip_version(), NDIS_UDP_SEGMENTATION_OFFLOAD_IPV6);
        let mut w = NDIS_UDP_SEGMENTATION_OFFLOAD_NET_BUFFER_LIST_INFO::default();
        w.set_transmit_mss(1472)
            .set_transmit_udp_header_offset(14 + 20);
        assert_eq!(w.value(), 1472 | (34 << 20));
    }

    #[test]
    fn rsc_and_uro_are_two_ushorts() {
        // Spec §1.8: CoalescedSegCount bits 0..15, DupAckCount bits 16..31.
        let r = NDIS_RSC_NBL_INFO::new(5, 2);
        assert_eq!(r.value(), 0x0002_0005);
        assert_eq!(
            NDIS_RSC_NBL_INFO::from_value(0xABCD_1234).coalesced_seg_count(),
            0x1234
        );
        assert_eq!(
            NDIS_RSC_NBL_INFO::from_value(0xABCD_1234).dup_ack_count(),
            0xABCD
        );
        // Spec notes: URO SegCount at offset 0, SegSize at offset 2.
        let mut u = NDIS_UDP_RSC_OFFLOAD_NET_BUFFER_LIST_INFO::default();
        u.set_receive_seg_count(3).set_receive_seg_size(1472);
        assert_eq!(u.value(), 3 | (1472 << 16));
        // The in-memory byte order agrees: USHORT at byte 0 is the low half on little endian.
        assert_eq!(r.value().to_le_bytes()[..4], [5, 0, 2, 0]);
    }

    #[test]
    fn ieee8021q_tag_header_layout() {
        // UserPriority bits 0..2, CanonicalFormatId bit 3, VlanId bits 4..15.
        let mut q = NDIS_NET_BUFFER_LIST_8021Q_INFO::default();
        q.set_user_priority(5).set_vlan_id(100);
        assert_eq!(q.value(), 5 | (100 << 4));
        let p = NDIS_NET_BUFFER_LIST_8021Q_INFO::from_value(0xFFFF);
        assert_eq!(
            (p.user_priority(), p.canonical_format_id(), p.vlan_id()),
            (7, 1, 0xFFF)
        );
    }

    #[test]
    fn hash_setters_are_read_modify_write_like_the_wdk_inlines() {
        let info = NDIS_NBL_HASH_INFO::default()
            .with_hash_function(crate::rss::NdisHashFunctionToeplitz)
            .with_hash_type(crate::rss::NDIS_HASH_TCP_IPV4);
        assert_eq!(info.value(), 0x201);
        // Changing the type keeps the function, and vice versa.
        let t = info.with_hash_type(crate::rss::NDIS_HASH_IPV6);
        assert_eq!(t.hash_function(), 1);
        assert_eq!(t.hash_type(), 0x400);
        // Bits outside the masks of the argument are dropped.
        assert_eq!(
            NDIS_NBL_HASH_INFO::default()
                .with_hash_type(0xFF00_00FF)
                .value(),
            0
        );
    }

    #[test]
    fn nbl_slot_helpers_write_the_documented_slots() {
        // SAFETY: NET_BUFFER_LIST is plain data; all-zero is a valid (empty) value.
        let mut nbl: crate::nbl::NET_BUFFER_LIST = unsafe { core::mem::zeroed() };
        nbl.set_rsc_info(NDIS_RSC_NBL_INFO::new(3, 0));
        nbl.set_rsc_tcp_timestamp_delta(77);
        nbl.set_hash_value(0x51cc_c178);
        nbl.set_hash_type(crate::rss::NDIS_HASH_TCP_IPV4);
        nbl.set_hash_function(crate::rss::NdisHashFunctionToeplitz);
        assert_eq!(nbl.NetBufferListInfo[22] as usize, 3);
        assert_eq!(nbl.NetBufferListInfo[23] as usize, 77);
        assert_eq!(nbl.NetBufferListInfo[8] as usize, 0x51cc_c178);
        assert_eq!(nbl.NetBufferListInfo[9] as usize, 0x201);
        assert_eq!(nbl.uso_info().value(), 3, "USO shares the RSC slot");
        assert_eq!(nbl.hash_info().hash_type(), crate::rss::NDIS_HASH_TCP_IPV4);
    }
}
