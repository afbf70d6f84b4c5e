//! General adapter types (`ntddndis.h`, `ifdef.h`, `ndis.h`): media, interface types, link state,
//! statistics, power management, status indications.

use crate::basic::{
    NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS, PVOID, UCHAR, ULONG, ULONG64, USHORT,
};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_MEDIUM` (C enum).
pub type NDIS_MEDIUM = i32;
/// `NdisMedium802_3` (Ethernet).
pub const NdisMedium802_3: NDIS_MEDIUM = 0;
/// `NdisMedium802_5`.
pub const NdisMedium802_5: NDIS_MEDIUM = 1;
/// `NdisMediumWan`.
pub const NdisMediumWan: NDIS_MEDIUM = 3;
/// `NdisMediumNative802_11`.
pub const NdisMediumNative802_11: NDIS_MEDIUM = 16;
/// `NdisMediumLoopback`.
pub const NdisMediumLoopback: NDIS_MEDIUM = 17;
/// `NdisMediumIP`.
pub const NdisMediumIP: NDIS_MEDIUM = 19;

/// `NDIS_PHYSICAL_MEDIUM` (C enum).
pub type NDIS_PHYSICAL_MEDIUM = i32;
/// `NdisPhysicalMediumUnspecified` (virtual adapters commonly report this).
pub const NdisPhysicalMediumUnspecified: NDIS_PHYSICAL_MEDIUM = 0;
/// `NdisPhysicalMediumWirelessLan`.
pub const NdisPhysicalMediumWirelessLan: NDIS_PHYSICAL_MEDIUM = 1;
/// `NdisPhysicalMediumNative802_11`.
pub const NdisPhysicalMediumNative802_11: NDIS_PHYSICAL_MEDIUM = 9;
/// `NdisPhysicalMedium802_3` (wired Ethernet).
pub const NdisPhysicalMedium802_3: NDIS_PHYSICAL_MEDIUM = 14;
/// `NdisPhysicalMediumOther`.
pub const NdisPhysicalMediumOther: NDIS_PHYSICAL_MEDIUM = 19;

/// `NET_IF_MEDIA_CONNECT_STATE` / `NDIS_MEDIA_CONNECT_STATE` (C enum).
pub type NET_IF_MEDIA_CONNECT_STATE = i32;
/// `NDIS_MEDIA_CONNECT_STATE`.
pub type NDIS_MEDIA_CONNECT_STATE = NET_IF_MEDIA_CONNECT_STATE;
/// `MediaConnectStateUnknown`.
pub const MediaConnectStateUnknown: NET_IF_MEDIA_CONNECT_STATE = 0;
/// `MediaConnectStateConnected`.
pub const MediaConnectStateConnected: NET_IF_MEDIA_CONNECT_STATE = 1;
/// `MediaConnectStateDisconnected`.
pub const MediaConnectStateDisconnected: NET_IF_MEDIA_CONNECT_STATE = 2;

/// `NET_IF_MEDIA_DUPLEX_STATE` / `NDIS_MEDIA_DUPLEX_STATE` (C enum).
pub type NET_IF_MEDIA_DUPLEX_STATE = i32;
/// `NDIS_MEDIA_DUPLEX_STATE`.
pub type NDIS_MEDIA_DUPLEX_STATE = NET_IF_MEDIA_DUPLEX_STATE;
/// `MediaDuplexStateUnknown`.
pub const MediaDuplexStateUnknown: NET_IF_MEDIA_DUPLEX_STATE = 0;
/// `MediaDuplexStateHalf`.
pub const MediaDuplexStateHalf: NET_IF_MEDIA_DUPLEX_STATE = 1;
/// `MediaDuplexStateFull`.
pub const MediaDuplexStateFull: NET_IF_MEDIA_DUPLEX_STATE = 2;

/// `NET_IF_LINK_SPEED_UNKNOWN`.
pub const NET_IF_LINK_SPEED_UNKNOWN: ULONG64 = u64::MAX;

/// `NET_IF_ACCESS_TYPE` (C enum).
pub type NET_IF_ACCESS_TYPE = i32;
/// `NET_IF_ACCESS_LOOPBACK`.
pub const NET_IF_ACCESS_LOOPBACK: NET_IF_ACCESS_TYPE = 1;
/// `NET_IF_ACCESS_BROADCAST` (Ethernet).
pub const NET_IF_ACCESS_BROADCAST: NET_IF_ACCESS_TYPE = 2;
/// `NET_IF_ACCESS_POINT_TO_POINT`.
pub const NET_IF_ACCESS_POINT_TO_POINT: NET_IF_ACCESS_TYPE = 3;
/// `NET_IF_ACCESS_POINT_TO_MULTI_POINT`.
pub const NET_IF_ACCESS_POINT_TO_MULTI_POINT: NET_IF_ACCESS_TYPE = 4;

/// `NET_IF_DIRECTION_TYPE` (C enum).
pub type NET_IF_DIRECTION_TYPE = i32;
/// `NET_IF_DIRECTION_SENDRECEIVE`.
pub const NET_IF_DIRECTION_SENDRECEIVE: NET_IF_DIRECTION_TYPE = 0;
/// `NET_IF_DIRECTION_SENDONLY`.
pub const NET_IF_DIRECTION_SENDONLY: NET_IF_DIRECTION_TYPE = 1;
/// `NET_IF_DIRECTION_RECEIVEONLY`.
pub const NET_IF_DIRECTION_RECEIVEONLY: NET_IF_DIRECTION_TYPE = 2;

/// `NET_IF_CONNECTION_TYPE` (C enum).
pub type NET_IF_CONNECTION_TYPE = i32;
/// `NET_IF_CONNECTION_DEDICATED` (`IF_CONNECTION_DEDICATED`).
pub const NET_IF_CONNECTION_DEDICATED: NET_IF_CONNECTION_TYPE = 1;
/// `NET_IF_CONNECTION_PASSIVE`.
pub const NET_IF_CONNECTION_PASSIVE: NET_IF_CONNECTION_TYPE = 2;
/// `NET_IF_CONNECTION_DEMAND`.
pub const NET_IF_CONNECTION_DEMAND: NET_IF_CONNECTION_TYPE = 3;

/// `IF_TYPE_ETHERNET_CSMACD` (IANA ifType 6) for `NET_IFTYPE`.
pub const IF_TYPE_ETHERNET_CSMACD: USHORT = 6;
/// `IF_MAX_PHYS_ADDRESS_LENGTH` = `NDIS_MAX_PHYS_ADDRESS_LENGTH`.
pub const NDIS_MAX_PHYS_ADDRESS_LENGTH: usize = 32;

/// `NET_IF_OPER_STATUS` (C enum).
pub type NET_IF_OPER_STATUS = i32;
/// `NET_IF_OPER_STATUS_UP`.
pub const NET_IF_OPER_STATUS_UP: NET_IF_OPER_STATUS = 1;
/// `NET_IF_OPER_STATUS_DOWN`.
pub const NET_IF_OPER_STATUS_DOWN: NET_IF_OPER_STATUS = 2;

/// `NDIS_SUPPORTED_PAUSE_FUNCTIONS` (C enum).
pub type NDIS_SUPPORTED_PAUSE_FUNCTIONS = i32;
/// `NdisPauseFunctionsUnsupported`.
pub const NdisPauseFunctionsUnsupported: NDIS_SUPPORTED_PAUSE_FUNCTIONS = 0;
/// `NdisPauseFunctionsSendOnly`.
pub const NdisPauseFunctionsSendOnly: NDIS_SUPPORTED_PAUSE_FUNCTIONS = 1;
/// `NdisPauseFunctionsReceiveOnly`.
pub const NdisPauseFunctionsReceiveOnly: NDIS_SUPPORTED_PAUSE_FUNCTIONS = 2;
/// `NdisPauseFunctionsSendAndReceive`.
pub const NdisPauseFunctionsSendAndReceive: NDIS_SUPPORTED_PAUSE_FUNCTIONS = 3;
/// `NdisPauseFunctionsUnknown`.
pub const NdisPauseFunctionsUnknown: NDIS_SUPPORTED_PAUSE_FUNCTIONS = 4;

/// `NDIS_LINK_STATE_XMIT_LINK_SPEED_AUTO_NEGOTIATED`.
pub const NDIS_LINK_STATE_XMIT_LINK_SPEED_AUTO_NEGOTIATED: ULONG = 0x1;
/// `NDIS_LINK_STATE_RCV_LINK_SPEED_AUTO_NEGOTIATED`.
pub const NDIS_LINK_STATE_RCV_LINK_SPEED_AUTO_NEGOTIATED: ULONG = 0x2;
/// `NDIS_LINK_STATE_DUPLEX_AUTO_NEGOTIATED`.
pub const NDIS_LINK_STATE_DUPLEX_AUTO_NEGOTIATED: ULONG = 0x4;
/// `NDIS_LINK_STATE_PAUSE_FUNCTIONS_AUTO_NEGOTIATED`.
pub const NDIS_LINK_STATE_PAUSE_FUNCTIONS_AUTO_NEGOTIATED: ULONG = 0x8;

/// `NDIS_LINK_STATE_REVISION_1`.
pub const NDIS_LINK_STATE_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_LINK_STATE_REVISION_1`.
pub const NDIS_SIZEOF_LINK_STATE_REVISION_1: USHORT = 40;

/// `NDIS_LINK_STATE`: `StatusBuffer` of `NDIS_STATUS_LINK_STATE`, answer to `OID_GEN_LINK_STATE`
/// (header `NDIS_OBJECT_TYPE_DEFAULT`, revision 1).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_LINK_STATE {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `MediaConnectState*`.
    pub MediaConnectState: NDIS_MEDIA_CONNECT_STATE,
    /// `MediaDuplexState*`.
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    /// Bits per second.
    pub XmitLinkSpeed: ULONG64,
    /// Bits per second.
    pub RcvLinkSpeed: ULONG64,
    /// `NdisPauseFunctions*`.
    pub PauseFunctions: NDIS_SUPPORTED_PAUSE_FUNCTIONS,
    /// `NDIS_LINK_STATE_*_AUTO_NEGOTIATED`.
    pub AutoNegotiationFlags: ULONG,
}
assert_layout!(
    NDIS_LINK_STATE,
    size = 40,
    Header = 0,
    MediaConnectState = 4,
    MediaDuplexState = 8,
    XmitLinkSpeed = 16,
    RcvLinkSpeed = 24,
    PauseFunctions = 32,
    AutoNegotiationFlags = 36
);

/// `NDIS_LINK_PARAMETERS_REVISION_1`.
pub const NDIS_LINK_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_LINK_PARAMETERS_REVISION_1`.
pub const NDIS_SIZEOF_LINK_PARAMETERS_REVISION_1: USHORT = 32;

/// `NDIS_LINK_PARAMETERS` (`OID_GEN_LINK_PARAMETERS` set).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_LINK_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Requested duplex.
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    /// Requested transmit speed.
    pub XmitLinkSpeed: ULONG64,
    /// Requested receive speed.
    pub RcvLinkSpeed: ULONG64,
    /// Requested pause functions.
    pub PauseFunctions: NDIS_SUPPORTED_PAUSE_FUNCTIONS,
    /// Auto-negotiation flags.
    pub AutoNegotiationFlags: ULONG,
}
assert_layout!(
    NDIS_LINK_PARAMETERS,
    size = 32,
    Header = 0,
    MediaDuplexState = 4,
    XmitLinkSpeed = 8,
    RcvLinkSpeed = 16,
    PauseFunctions = 24,
    AutoNegotiationFlags = 28
);

/// `NDIS_STATISTICS_INFO_REVISION_1`.
pub const NDIS_STATISTICS_INFO_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_STATISTICS_INFO_REVISION_1`.
pub const NDIS_SIZEOF_STATISTICS_INFO_REVISION_1: USHORT = 152;

/// `NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV: ULONG = 0x0000_0001;
/// `NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV: ULONG = 0x0000_0002;
/// `NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV: ULONG = 0x0000_0004;
/// `NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV: ULONG = 0x0000_0008;
/// `NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS`.
pub const NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS: ULONG = 0x0000_0010;
/// `NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR`.
pub const NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR: ULONG = 0x0000_0020;
/// `NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT: ULONG = 0x0000_0040;
/// `NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT: ULONG = 0x0000_0080;
/// `NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT: ULONG = 0x0000_0100;
/// `NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT: ULONG = 0x0000_0200;
/// `NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR`.
pub const NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR: ULONG = 0x0000_0400;
/// `NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS`.
pub const NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS: ULONG = 0x0000_8000;
/// `NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV: ULONG = 0x0001_0000;
/// `NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV: ULONG = 0x0002_0000;
/// `NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV: ULONG = 0x0004_0000;
/// `NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT: ULONG = 0x0008_0000;
/// `NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT: ULONG = 0x0010_0000;
/// `NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT: ULONG = 0x0020_0000;

/// `NDIS_STATISTICS_INFO` (`OID_GEN_STATISTICS`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_STATISTICS_INFO {
    /// Header (`NDIS_OBJECT_TYPE_DEFAULT`, revision 1, size 152).
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_STATISTICS_FLAGS_VALID_*`.
    pub SupportedStatistics: ULONG,
    /// `OID_GEN_RCV_DISCARDS`.
    pub ifInDiscards: ULONG64,
    /// `OID_GEN_RCV_ERROR`.
    pub ifInErrors: ULONG64,
    /// `OID_GEN_BYTES_RCV`.
    pub ifHCInOctets: ULONG64,
    /// `OID_GEN_DIRECTED_FRAMES_RCV`.
    pub ifHCInUcastPkts: ULONG64,
    /// `OID_GEN_MULTICAST_FRAMES_RCV`.
    pub ifHCInMulticastPkts: ULONG64,
    /// `OID_GEN_BROADCAST_FRAMES_RCV`.
    pub ifHCInBroadcastPkts: ULONG64,
    /// `OID_GEN_BYTES_XMIT`.
    pub ifHCOutOctets: ULONG64,
    /// `OID_GEN_DIRECTED_FRAMES_XMIT`.
    pub ifHCOutUcastPkts: ULONG64,
    /// `OID_GEN_MULTICAST_FRAMES_XMIT`.
    pub ifHCOutMulticastPkts: ULONG64,
    /// `OID_GEN_BROADCAST_FRAMES_XMIT`.
    pub ifHCOutBroadcastPkts: ULONG64,
    /// `OID_GEN_XMIT_ERROR`.
    pub ifOutErrors: ULONG64,
    /// `OID_GEN_XMIT_DISCARDS`.
    pub ifOutDiscards: ULONG64,
    /// `OID_GEN_DIRECTED_BYTES_RCV`.
    pub ifHCInUcastOctets: ULONG64,
    /// `OID_GEN_MULTICAST_BYTES_RCV`.
    pub ifHCInMulticastOctets: ULONG64,
    /// `OID_GEN_BROADCAST_BYTES_RCV`.
    pub ifHCInBroadcastOctets: ULONG64,
    /// `OID_GEN_DIRECTED_BYTES_XMIT`.
    pub ifHCOutUcastOctets: ULONG64,
    /// `OID_GEN_MULTICAST_BYTES_XMIT`.
    pub ifHCOutMulticastOctets: ULONG64,
    /// `OID_GEN_BROADCAST_BYTES_XMIT`.
    pub ifHCOutBroadcastOctets: ULONG64,
}
assert_layout!(
    NDIS_STATISTICS_INFO,
    size = 152,
    Header = 0,
    SupportedStatistics = 4,
    ifInDiscards = 8,
    ifInErrors = 16,
    ifHCInOctets = 24,
    ifHCOutOctets = 56,
    ifOutErrors = 88,
    ifOutDiscards = 96,
    ifHCInUcastOctets = 104,
    ifHCOutBroadcastOctets = 144
);

/// `NDIS_RSC_STATISTICS_REVISION_1`.
pub const NDIS_RSC_STATISTICS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_RSC_STATISTICS_REVISION_1`.
pub const NDIS_SIZEOF_RSC_STATISTICS_REVISION_1: USHORT = 40;

/// `NDIS_RSC_STATISTICS_INFO` (`OID_TCP_RSC_STATISTICS`). 4 bytes of padding follow `Header`.
/// UNCONFIRMED: the header `Type` to use is not documented; `NDIS_OBJECT_TYPE_DEFAULT` is the
/// usual choice.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_RSC_STATISTICS_INFO {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Segments added to SCUs.
    pub CoalescedPkts: ULONG64,
    /// Payload bytes of those segments.
    pub CoalescedOctets: ULONG64,
    /// SCUs indicated.
    pub CoalesceEvents: ULONG64,
    /// Exceptions other than "datagram too long".
    pub Aborts: ULONG64,
}
assert_layout!(
    NDIS_RSC_STATISTICS_INFO,
    size = 40,
    Header = 0,
    CoalescedPkts = 8,
    CoalescedOctets = 16,
    CoalesceEvents = 24,
    Aborts = 32
);

/// `NDIS_INTERRUPT_MODERATION` (C enum).
pub type NDIS_INTERRUPT_MODERATION = i32;
/// `NdisInterruptModerationUnknown`.
pub const NdisInterruptModerationUnknown: NDIS_INTERRUPT_MODERATION = 0;
/// `NdisInterruptModerationNotSupported`.
pub const NdisInterruptModerationNotSupported: NDIS_INTERRUPT_MODERATION = 1;
/// `NdisInterruptModerationEnabled`.
pub const NdisInterruptModerationEnabled: NDIS_INTERRUPT_MODERATION = 2;
/// `NdisInterruptModerationDisabled`.
pub const NdisInterruptModerationDisabled: NDIS_INTERRUPT_MODERATION = 3;
/// `NDIS_INTERRUPT_MODERATION_CHANGE_NEEDS_RESET`.
pub const NDIS_INTERRUPT_MODERATION_CHANGE_NEEDS_RESET: ULONG = 0x1;
/// `NDIS_INTERRUPT_MODERATION_CHANGE_NEEDS_REINITIALIZE`.
pub const NDIS_INTERRUPT_MODERATION_CHANGE_NEEDS_REINITIALIZE: ULONG = 0x2;
/// `NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1`.
pub const NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1`.
pub const NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1: USHORT = 12;

/// `NDIS_INTERRUPT_MODERATION_PARAMETERS` (`OID_GEN_INTERRUPT_MODERATION`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_INTERRUPT_MODERATION_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_INTERRUPT_MODERATION_CHANGE_*`.
    pub Flags: ULONG,
    /// `NdisInterruptModeration*`.
    pub InterruptModeration: NDIS_INTERRUPT_MODERATION,
}
assert_layout!(
    NDIS_INTERRUPT_MODERATION_PARAMETERS,
    size = 12,
    Header = 0,
    Flags = 4,
    InterruptModeration = 8
);

/// `NDIS_DEVICE_POWER_STATE` (C enum).
pub type NDIS_DEVICE_POWER_STATE = i32;
/// `NdisDeviceStateUnspecified`.
pub const NdisDeviceStateUnspecified: NDIS_DEVICE_POWER_STATE = 0;
/// `NdisDeviceStateD0`.
pub const NdisDeviceStateD0: NDIS_DEVICE_POWER_STATE = 1;
/// `NdisDeviceStateD1`.
pub const NdisDeviceStateD1: NDIS_DEVICE_POWER_STATE = 2;
/// `NdisDeviceStateD2`.
pub const NdisDeviceStateD2: NDIS_DEVICE_POWER_STATE = 3;
/// `NdisDeviceStateD3`.
pub const NdisDeviceStateD3: NDIS_DEVICE_POWER_STATE = 4;

/// `NDIS_PM_WAKE_UP_CAPABILITIES`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_PM_WAKE_UP_CAPABILITIES {
    /// Lowest state that can wake on a magic packet.
    pub MinMagicPacketWakeUp: NDIS_DEVICE_POWER_STATE,
    /// Lowest state that can wake on a pattern.
    pub MinPatternWakeUp: NDIS_DEVICE_POWER_STATE,
    /// Lowest state that can wake on a link change.
    pub MinLinkChangeWakeUp: NDIS_DEVICE_POWER_STATE,
}

/// `NDIS_PNP_CAPABILITIES` (legacy `OID_PNP_CAPABILITIES` payload and general attributes field).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_PNP_CAPABILITIES {
    /// `NDIS_DEVICE_WAKE_*`.
    pub Flags: ULONG,
    /// Wake-up capabilities.
    pub WakeUpCapabilities: NDIS_PM_WAKE_UP_CAPABILITIES,
}
assert_layout!(
    NDIS_PNP_CAPABILITIES,
    size = 16,
    Flags = 0,
    WakeUpCapabilities = 4
);
/// `PNDIS_PNP_CAPABILITIES`.
pub type PNDIS_PNP_CAPABILITIES = *mut NDIS_PNP_CAPABILITIES;

/// `NDIS_PM_CAPABILITIES_REVISION_1`.
pub const NDIS_PM_CAPABILITIES_REVISION_1: UCHAR = 1;
/// `NDIS_PM_CAPABILITIES_REVISION_2` (NDIS 6.30).
pub const NDIS_PM_CAPABILITIES_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_1` (through `MinLinkChangeWakeUp`).
pub const NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_1: USHORT = 52;
/// `NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_2` (through `MediaSpecificWakeUpEvents`).
pub const NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_2: USHORT = 60;
/// `NDIS_PM_WAKE_PACKET_INDICATION_SUPPORTED`.
pub const NDIS_PM_WAKE_PACKET_INDICATION_SUPPORTED: ULONG = 0x1;
/// `NDIS_PM_SELECTIVE_SUSPEND_SUPPORTED`.
pub const NDIS_PM_SELECTIVE_SUSPEND_SUPPORTED: ULONG = 0x2;
/// `NDIS_PM_WOL_BITMAP_PATTERN_SUPPORTED`.
pub const NDIS_PM_WOL_BITMAP_PATTERN_SUPPORTED: ULONG = 0x1;
/// `NDIS_PM_WOL_MAGIC_PACKET_SUPPORTED`.
pub const NDIS_PM_WOL_MAGIC_PACKET_SUPPORTED: ULONG = 0x2;
/// `NDIS_PM_PROTOCOL_OFFLOAD_ARP_SUPPORTED`.
pub const NDIS_PM_PROTOCOL_OFFLOAD_ARP_SUPPORTED: ULONG = 0x1;
/// `NDIS_PM_PROTOCOL_OFFLOAD_NS_SUPPORTED`.
pub const NDIS_PM_PROTOCOL_OFFLOAD_NS_SUPPORTED: ULONG = 0x2;
/// `NDIS_PM_WAKE_ON_MEDIA_CONNECT_SUPPORTED`.
pub const NDIS_PM_WAKE_ON_MEDIA_CONNECT_SUPPORTED: ULONG = 0x1;
/// `NDIS_PM_WAKE_ON_MEDIA_DISCONNECT_SUPPORTED`.
pub const NDIS_PM_WAKE_ON_MEDIA_DISCONNECT_SUPPORTED: ULONG = 0x2;

/// `NDIS_PM_CAPABILITIES` (`PowerManagementCapabilitiesEx` of the general attributes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_PM_CAPABILITIES {
    /// Header (`NDIS_OBJECT_TYPE_DEFAULT`).
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_PM_*_SUPPORTED`.
    pub Flags: ULONG,
    /// `NDIS_PM_WOL_*_SUPPORTED`.
    pub SupportedWoLPacketPatterns: ULONG,
    /// Total WoL patterns.
    pub NumTotalWoLPatterns: ULONG,
    /// Max pattern bytes.
    pub MaxWoLPatternSize: ULONG,
    /// Max pattern offset.
    pub MaxWoLPatternOffset: ULONG,
    /// Saved wake packet bytes.
    pub MaxWoLPacketSaveBuffer: ULONG,
    /// `NDIS_PM_PROTOCOL_OFFLOAD_*_SUPPORTED`.
    pub SupportedProtocolOffloads: ULONG,
    /// ARP offload addresses.
    pub NumArpOffloadIPv4Addresses: ULONG,
    /// NS offload addresses.
    pub NumNSOffloadIPv6Addresses: ULONG,
    /// Lowest magic-packet wake state.
    pub MinMagicPacketWakeUp: NDIS_DEVICE_POWER_STATE,
    /// Lowest pattern wake state.
    pub MinPatternWakeUp: NDIS_DEVICE_POWER_STATE,
    /// Lowest link-change wake state.
    pub MinLinkChangeWakeUp: NDIS_DEVICE_POWER_STATE,
    /// `NDIS_PM_WAKE_ON_*_SUPPORTED` (revision 2).
    pub SupportedWakeUpEvents: ULONG,
    /// Media-specific wake events (revision 2).
    pub MediaSpecificWakeUpEvents: ULONG,
}
assert_layout!(
    NDIS_PM_CAPABILITIES,
    size = 60,
    Header = 0,
    Flags = 4,
    MinMagicPacketWakeUp = 40,
    MinLinkChangeWakeUp = 48,
    SupportedWakeUpEvents = 52,
    MediaSpecificWakeUpEvents = 56
);
/// `PNDIS_PM_CAPABILITIES`.
pub type PNDIS_PM_CAPABILITIES = *mut NDIS_PM_CAPABILITIES;

/// `NDIS_PM_PARAMETERS_REVISION_2`.
pub const NDIS_PM_PARAMETERS_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_NDIS_PM_PARAMETERS_REVISION_1`.
pub const NDIS_SIZEOF_NDIS_PM_PARAMETERS_REVISION_1: USHORT = 16;
/// `NDIS_SIZEOF_NDIS_PM_PARAMETERS_REVISION_2`.
pub const NDIS_SIZEOF_NDIS_PM_PARAMETERS_REVISION_2: USHORT = 20;

/// `NDIS_PM_PARAMETERS` (`OID_PM_PARAMETERS`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_PM_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_PM_WOL_*_ENABLED`.
    pub EnabledWoLPacketPatterns: ULONG,
    /// `NDIS_PM_PROTOCOL_OFFLOAD_*_ENABLED`.
    pub EnabledProtocolOffloads: ULONG,
    /// `NDIS_PM_WAKE_ON_*_ENABLED`.
    pub WakeUpFlags: ULONG,
    /// Media-specific (revision 2).
    pub MediaSpecificWakeUpEvents: ULONG,
}
assert_layout!(
    NDIS_PM_PARAMETERS,
    size = 20,
    WakeUpFlags = 12,
    MediaSpecificWakeUpEvents = 16
);

/// `GUID`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GUID {
    /// `Data1`.
    pub Data1: ULONG,
    /// `Data2`.
    pub Data2: USHORT,
    /// `Data3`.
    pub Data3: USHORT,
    /// `Data4`.
    pub Data4: [UCHAR; 8],
}
assert_layout!(GUID, size = 16, Data1 = 0, Data2 = 4, Data3 = 6, Data4 = 8);

/// `NDIS_STATUS_INDICATION_REVISION_1`.
pub const NDIS_STATUS_INDICATION_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_STATUS_INDICATION_REVISION_1` (through `NdisReserved`).
pub const NDIS_SIZEOF_STATUS_INDICATION_REVISION_1: USHORT = 112;
/// `NDIS_STATUS_INDICATION_FLAGS_NDIS_RESERVED`.
pub const NDIS_STATUS_INDICATION_FLAGS_NDIS_RESERVED: ULONG = 0xFFF;
/// `NDIS_STATUS_INDICATION_FLAGS_MEDIA_CONNECT_TO_CONNECT`.
pub const NDIS_STATUS_INDICATION_FLAGS_MEDIA_CONNECT_TO_CONNECT: ULONG = 0x1000;

/// `NDIS_STATUS_INDICATION` for `NdisMIndicateStatusEx` (header
/// `NDIS_OBJECT_TYPE_STATUS_INDICATION`, revision 1, size 112).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_STATUS_INDICATION {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// The miniport adapter handle.
    pub SourceHandle: NDIS_HANDLE,
    /// Port (0 = default).
    pub PortNumber: NDIS_PORT_NUMBER,
    /// `NDIS_STATUS_*` indication code.
    pub StatusCode: NDIS_STATUS,
    /// `NDIS_STATUS_INDICATION_FLAGS_*`.
    pub Flags: ULONG,
    /// Target of a targeted indication (else null).
    pub DestinationHandle: NDIS_HANDLE,
    /// OID request id when answering one.
    pub RequestId: PVOID,
    /// Indication payload.
    pub StatusBuffer: PVOID,
    /// Bytes at `StatusBuffer`.
    pub StatusBufferSize: ULONG,
    /// Valid only for `NDIS_STATUS_MEDIA_SPECIFIC_INDICATION`.
    pub Guid: GUID,
    /// Reserved.
    pub NdisReserved: [PVOID; 4],
}
assert_layout!(
    NDIS_STATUS_INDICATION,
    size = 112,
    Header = 0,
    SourceHandle = 8,
    PortNumber = 16,
    StatusCode = 20,
    Flags = 24,
    DestinationHandle = 32,
    RequestId = 40,
    StatusBuffer = 48,
    StatusBufferSize = 56,
    Guid = 60,
    NdisReserved = 80
);
/// `PNDIS_STATUS_INDICATION`.
pub type PNDIS_STATUS_INDICATION = *mut NDIS_STATUS_INDICATION;

impl NDIS_STATUS_INDICATION {
    /// An indication of `code` from `source` with `buffer` (the `NDIS_INIT_STATUS_INDICATION`
    /// pattern): header type 0x98 revision 1 size 112, everything else zero.
    pub fn new(source: NDIS_HANDLE, code: NDIS_STATUS, buffer: PVOID, size: ULONG) -> Self {
        Self {
            Header: NDIS_OBJECT_HEADER::new(
                crate::object::NDIS_OBJECT_TYPE_STATUS_INDICATION,
                NDIS_STATUS_INDICATION_REVISION_1,
                NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
            ),
            SourceHandle: source,
            PortNumber: 0,
            StatusCode: code,
            Flags: 0,
            DestinationHandle: core::ptr::null_mut(),
            RequestId: core::ptr::null_mut(),
            StatusBuffer: buffer,
            StatusBufferSize: size,
            Guid: GUID::default(),
            NdisReserved: [core::ptr::null_mut(); 4],
        }
    }
}
