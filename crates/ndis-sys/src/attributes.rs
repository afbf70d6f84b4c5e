//! Adapter attributes set with `NdisMSetMiniportAttributes` from `MiniportInitializeEx`
//! (`ndis.h`): registration, general, offload and hardware-assist attributes.

use crate::basic::{
    BOOLEAN, NDIS_HANDLE, NDIS_OID, NET_IFTYPE, UCHAR, UINT, ULONG, ULONG64, USHORT,
};
use crate::general::{
    NDIS_MAX_PHYS_ADDRESS_LENGTH, NDIS_MEDIA_CONNECT_STATE, NDIS_MEDIA_DUPLEX_STATE, NDIS_MEDIUM,
    NDIS_PHYSICAL_MEDIUM, NET_IF_ACCESS_TYPE, NET_IF_CONNECTION_TYPE, NET_IF_DIRECTION_TYPE,
    PNDIS_PM_CAPABILITIES, PNDIS_PNP_CAPABILITIES,
};
use crate::object::NDIS_OBJECT_HEADER;
use crate::offload::NDIS_OFFLOAD;
use crate::rss::PNDIS_RECEIVE_SCALE_CAPABILITIES;

/// `NDIS_INTERFACE_TYPE` (C enum, mirrors the HAL `INTERFACE_TYPE`).
pub type NDIS_INTERFACE_TYPE = i32;
/// `NdisInterfaceInternal`.
pub const NdisInterfaceInternal: NDIS_INTERFACE_TYPE = 0;
/// `NdisInterfacePci` (`PCIBus`).
pub const NdisInterfacePci: NDIS_INTERFACE_TYPE = 5;
/// `NdisInterfacePNPBus`.
pub const NdisInterfacePNPBus: NDIS_INTERFACE_TYPE = 15;

/// `NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE`.
pub const NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE: ULONG = 0x0000_0001;
/// `NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM`.
pub const NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM: ULONG = 0x0000_0002;
/// `NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK`.
pub const NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK: ULONG = 0x0000_0004;
/// `NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS`.
pub const NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS: ULONG = 0x0000_0008;
/// `NDIS_MINIPORT_ATTRIBUTES_DO_NOT_BIND_TO_ALL_CO`.
pub const NDIS_MINIPORT_ATTRIBUTES_DO_NOT_BIND_TO_ALL_CO: ULONG = 0x0000_0010;
/// `NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND`.
pub const NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND: ULONG = 0x0000_0020;
/// `NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER`.
pub const NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER: ULONG = 0x0000_0040;
/// `NDIS_MINIPORT_ATTRIBUTES_CONTROLS_DEFAULT_PORT`.
pub const NDIS_MINIPORT_ATTRIBUTES_CONTROLS_DEFAULT_PORT: ULONG = 0x0000_0080;
/// `NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND` (NDIS 6.30).
pub const NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND: ULONG = 0x0000_0100;
/// `NDIS_MINIPORT_ATTRIBUTES_NO_OID_INTERCEPT_ON_NONDEFAULT_PORTS` (NDIS 6.30).
pub const NDIS_MINIPORT_ATTRIBUTES_NO_OID_INTERCEPT_ON_NONDEFAULT_PORTS: ULONG = 0x0000_0200;
/// `NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK` (NDIS 6.30).
pub const NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK: ULONG = 0x0000_0400;

/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1`.
pub const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1: UCHAR = 1;
/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2` (NDIS 6.30).
pub const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1` (28; `size_of` is 32).
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1: USHORT = 28;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2` (same as revision 1).
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2: USHORT = 28;

/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES` (header type 0x9E): must be the first
/// attributes set in `MiniportInitializeEx`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// The adapter context NDIS passes to every handler.
    pub MiniportAdapterContext: NDIS_HANDLE,
    /// `NDIS_MINIPORT_ATTRIBUTES_*`.
    pub AttributeFlags: ULONG,
    /// CheckForHang period (0 = NDIS default of 2 s).
    pub CheckForHangTimeInSeconds: UINT,
    /// `NdisInterface*`.
    pub InterfaceType: NDIS_INTERFACE_TYPE,
}
assert_layout!(
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
    size = 32,
    Header = 0,
    MiniportAdapterContext = 8,
    AttributeFlags = 16,
    CheckForHangTimeInSeconds = 20,
    InterfaceType = 24
);

/// `NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES_REVISION_1`.
pub const NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES_REVISION_1`.
pub const NDIS_SIZEOF_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES_REVISION_1: USHORT = 20;

/// `NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES` (type 0xA4).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// AddDevice context.
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    /// Flags.
    pub Flags: ULONG,
}
assert_layout!(
    NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES,
    size = 24,
    MiniportAddDeviceContext = 8,
    Flags = 16
);

/// `NDIS_STATISTICS_XMIT_OK_SUPPORTED` (general attributes `SupportedStatistics`).
pub const NDIS_STATISTICS_XMIT_OK_SUPPORTED: ULONG = 0x0000_0001;
/// `NDIS_STATISTICS_RCV_OK_SUPPORTED`.
pub const NDIS_STATISTICS_RCV_OK_SUPPORTED: ULONG = 0x0000_0002;
/// `NDIS_STATISTICS_XMIT_ERROR_SUPPORTED`.
pub const NDIS_STATISTICS_XMIT_ERROR_SUPPORTED: ULONG = 0x0000_0004;
/// `NDIS_STATISTICS_RCV_ERROR_SUPPORTED`.
pub const NDIS_STATISTICS_RCV_ERROR_SUPPORTED: ULONG = 0x0000_0008;
/// `NDIS_STATISTICS_RCV_NO_BUFFER_SUPPORTED`.
pub const NDIS_STATISTICS_RCV_NO_BUFFER_SUPPORTED: ULONG = 0x0000_0010;
/// `NDIS_STATISTICS_DIRECTED_BYTES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_DIRECTED_BYTES_XMIT_SUPPORTED: ULONG = 0x0000_0020;
/// `NDIS_STATISTICS_DIRECTED_FRAMES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_DIRECTED_FRAMES_XMIT_SUPPORTED: ULONG = 0x0000_0040;
/// `NDIS_STATISTICS_MULTICAST_BYTES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_MULTICAST_BYTES_XMIT_SUPPORTED: ULONG = 0x0000_0080;
/// `NDIS_STATISTICS_MULTICAST_FRAMES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_MULTICAST_FRAMES_XMIT_SUPPORTED: ULONG = 0x0000_0100;
/// `NDIS_STATISTICS_BROADCAST_BYTES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_BROADCAST_BYTES_XMIT_SUPPORTED: ULONG = 0x0000_0200;
/// `NDIS_STATISTICS_BROADCAST_FRAMES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_BROADCAST_FRAMES_XMIT_SUPPORTED: ULONG = 0x0000_0400;
/// `NDIS_STATISTICS_DIRECTED_BYTES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_DIRECTED_BYTES_RCV_SUPPORTED: ULONG = 0x0000_0800;
/// `NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED: ULONG = 0x0000_1000;
/// `NDIS_STATISTICS_MULTICAST_BYTES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_MULTICAST_BYTES_RCV_SUPPORTED: ULONG = 0x0000_2000;
/// `NDIS_STATISTICS_MULTICAST_FRAMES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_MULTICAST_FRAMES_RCV_SUPPORTED: ULONG = 0x0000_4000;
/// `NDIS_STATISTICS_BROADCAST_BYTES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_BROADCAST_BYTES_RCV_SUPPORTED: ULONG = 0x0000_8000;
/// `NDIS_STATISTICS_BROADCAST_FRAMES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_BROADCAST_FRAMES_RCV_SUPPORTED: ULONG = 0x0001_0000;
/// `NDIS_STATISTICS_RCV_CRC_ERROR_SUPPORTED`.
pub const NDIS_STATISTICS_RCV_CRC_ERROR_SUPPORTED: ULONG = 0x0002_0000;
/// `NDIS_STATISTICS_TRANSMIT_QUEUE_LENGTH_SUPPORTED`.
pub const NDIS_STATISTICS_TRANSMIT_QUEUE_LENGTH_SUPPORTED: ULONG = 0x0004_0000;
/// `NDIS_STATISTICS_BYTES_RCV_SUPPORTED`.
pub const NDIS_STATISTICS_BYTES_RCV_SUPPORTED: ULONG = 0x0008_0000;
/// `NDIS_STATISTICS_BYTES_XMIT_SUPPORTED`.
pub const NDIS_STATISTICS_BYTES_XMIT_SUPPORTED: ULONG = 0x0010_0000;
/// `NDIS_STATISTICS_RCV_DISCARDS_SUPPORTED`.
pub const NDIS_STATISTICS_RCV_DISCARDS_SUPPORTED: ULONG = 0x0020_0000;
/// `NDIS_STATISTICS_GEN_STATISTICS_SUPPORTED`.
pub const NDIS_STATISTICS_GEN_STATISTICS_SUPPORTED: ULONG = 0x0040_0000;
/// `NDIS_STATISTICS_XMIT_DISCARDS_SUPPORTED`.
pub const NDIS_STATISTICS_XMIT_DISCARDS_SUPPORTED: ULONG = 0x0800_0000;

/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1`.
pub const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1: UCHAR = 1;
/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2` (NDIS 6.20: `PowerManagementCapabilitiesEx`).
pub const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1` (through `AutoNegotiationFlags`).
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1: USHORT = 216;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2`.
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2: USHORT = 224;

/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES` (header type 0x9F).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Flags.
    pub Flags: ULONG,
    /// `NdisMedium802_3` for Ethernet.
    pub MediaType: NDIS_MEDIUM,
    /// `NdisPhysicalMedium*`.
    pub PhysicalMediumType: NDIS_PHYSICAL_MEDIUM,
    /// MTU (payload, without the Ethernet header).
    pub MtuSize: ULONG,
    /// Bits/s.
    pub MaxXmitLinkSpeed: ULONG64,
    /// Bits/s.
    pub XmitLinkSpeed: ULONG64,
    /// Bits/s.
    pub MaxRcvLinkSpeed: ULONG64,
    /// Bits/s.
    pub RcvLinkSpeed: ULONG64,
    /// Connect state.
    pub MediaConnectState: NDIS_MEDIA_CONNECT_STATE,
    /// Duplex.
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    /// Lookahead bytes.
    pub LookaheadSize: ULONG,
    /// Legacy PM capabilities (NDIS 6.20+ drivers use `PowerManagementCapabilitiesEx`).
    pub PowerManagementCapabilities: PNDIS_PNP_CAPABILITIES,
    /// `NDIS_MAC_OPTION_*`.
    pub MacOptions: ULONG,
    /// `NDIS_PACKET_TYPE_*`.
    pub SupportedPacketFilters: ULONG,
    /// Multicast list capacity.
    pub MaxMulticastListSize: ULONG,
    /// 6 for Ethernet.
    pub MacAddressLength: USHORT,
    /// Permanent MAC.
    pub PermanentMacAddress: [UCHAR; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    /// Current MAC.
    pub CurrentMacAddress: [UCHAR; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    /// RSS capabilities (null when RSS is not supported).
    pub RecvScaleCapabilities: PNDIS_RECEIVE_SCALE_CAPABILITIES,
    /// `NET_IF_ACCESS_BROADCAST` for Ethernet.
    pub AccessType: NET_IF_ACCESS_TYPE,
    /// `NET_IF_DIRECTION_SENDRECEIVE`.
    pub DirectionType: NET_IF_DIRECTION_TYPE,
    /// `NET_IF_CONNECTION_DEDICATED`.
    pub ConnectionType: NET_IF_CONNECTION_TYPE,
    /// `IF_TYPE_ETHERNET_CSMACD`.
    pub IfType: NET_IFTYPE,
    /// `TRUE` for a physical adapter.
    pub IfConnectorPresent: BOOLEAN,
    /// `NDIS_STATISTICS_*_SUPPORTED`.
    pub SupportedStatistics: ULONG,
    /// `NdisPauseFunctions*`.
    pub SupportedPauseFunctions: ULONG,
    /// Data backfill bytes.
    pub DataBackFillSize: ULONG,
    /// Context backfill bytes.
    pub ContextBackFillSize: ULONG,
    /// OIDs the miniport supports.
    pub SupportedOidList: *mut NDIS_OID,
    /// Bytes at `SupportedOidList`.
    pub SupportedOidListLength: ULONG,
    /// `NDIS_LINK_STATE_*_AUTO_NEGOTIATED`.
    pub AutoNegotiationFlags: ULONG,
    /// NDIS 6.20 PM capabilities (revision 2).
    pub PowerManagementCapabilitiesEx: PNDIS_PM_CAPABILITIES,
}
assert_layout!(
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
    size = 224,
    Header = 0,
    Flags = 4,
    MediaType = 8,
    PhysicalMediumType = 12,
    MtuSize = 16,
    MaxXmitLinkSpeed = 24,
    XmitLinkSpeed = 32,
    MaxRcvLinkSpeed = 40,
    RcvLinkSpeed = 48,
    MediaConnectState = 56,
    MediaDuplexState = 60,
    LookaheadSize = 64,
    PowerManagementCapabilities = 72,
    MacOptions = 80,
    SupportedPacketFilters = 84,
    MaxMulticastListSize = 88,
    MacAddressLength = 92,
    PermanentMacAddress = 94,
    CurrentMacAddress = 126,
    RecvScaleCapabilities = 160,
    AccessType = 168,
    DirectionType = 172,
    ConnectionType = 176,
    IfType = 180,
    IfConnectorPresent = 182,
    SupportedStatistics = 184,
    SupportedPauseFunctions = 188,
    DataBackFillSize = 192,
    ContextBackFillSize = 196,
    SupportedOidList = 200,
    SupportedOidListLength = 208,
    AutoNegotiationFlags = 212,
    PowerManagementCapabilitiesEx = 216
);

/// `NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1`.
pub const NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1`.
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1: USHORT = 40;

/// `NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES` (header type 0xA0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Current (default) offload configuration.
    pub DefaultOffloadConfiguration: *mut NDIS_OFFLOAD,
    /// Hardware capabilities.
    pub HardwareOffloadCapabilities: *mut NDIS_OFFLOAD,
    /// Chimney (`PNDIS_TCP_CONNECTION_OFFLOAD`), null.
    pub DefaultTcpConnectionOffloadConfiguration: crate::basic::PVOID,
    /// Chimney (`PNDIS_TCP_CONNECTION_OFFLOAD`), null.
    pub TcpConnectionOffloadHardwareCapabilities: crate::basic::PVOID,
}
assert_layout!(
    NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
    size = 40,
    Header = 0,
    DefaultOffloadConfiguration = 8,
    HardwareOffloadCapabilities = 16,
    DefaultTcpConnectionOffloadConfiguration = 24,
    TcpConnectionOffloadHardwareCapabilities = 32
);

/// `NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_1`.
pub const NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_1: UCHAR = 1;
/// `NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2` (NDIS 6.20).
pub const NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2: UCHAR = 2;
/// `NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3` (NDIS 6.30).
pub const NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3: UCHAR = 3;
/// `NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_4` (NDIS 6.50).
pub const NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_4: UCHAR = 4;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_1`.
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_1: USHORT = 16;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2`.
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2: USHORT = 48;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3`.
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3: USHORT = 80;
/// `NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_4`.
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_4: USHORT = 96;

/// `NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES` (header type 0xAF): header/data split,
/// receive filters (VMQ), NIC switch, SR-IOV, QoS, GFT. A virtio miniport without VMQ/SR-IOV
/// does not need to set it; RSS is advertised through the general attributes. The capability
/// structures are passed as untyped pointers here.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `PNDIS_HD_SPLIT_ATTRIBUTES`.
    pub HDSplitAttributes: crate::basic::PVOID,
    /// `PNDIS_RECEIVE_FILTER_CAPABILITIES` (hardware).
    pub HardwareReceiveFilterCapabilities: crate::basic::PVOID,
    /// `PNDIS_RECEIVE_FILTER_CAPABILITIES` (current).
    pub CurrentReceiveFilterCapabilities: crate::basic::PVOID,
    /// `PNDIS_NIC_SWITCH_CAPABILITIES` (hardware).
    pub HardwareNicSwitchCapabilities: crate::basic::PVOID,
    /// `PNDIS_NIC_SWITCH_CAPABILITIES` (current).
    pub CurrentNicSwitchCapabilities: crate::basic::PVOID,
    /// `PNDIS_SRIOV_CAPABILITIES` (hardware).
    pub HardwareSriovCapabilities: crate::basic::PVOID,
    /// `PNDIS_SRIOV_CAPABILITIES` (current).
    pub CurrentSriovCapabilities: crate::basic::PVOID,
    /// `PNDIS_QOS_CAPABILITIES` (hardware).
    pub HardwareQosCapabilities: crate::basic::PVOID,
    /// `PNDIS_QOS_CAPABILITIES` (current).
    pub CurrentQosCapabilities: crate::basic::PVOID,
    /// `PNDIS_GFT_OFFLOAD_CAPABILITIES` (hardware).
    pub HardwareGftOffloadCapabilities: crate::basic::PVOID,
    /// `PNDIS_GFT_OFFLOAD_CAPABILITIES` (current).
    pub CurrentGftOffloadCapabilities: crate::basic::PVOID,
}
assert_layout!(
    NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
    size = 96,
    HDSplitAttributes = 8,
    CurrentNicSwitchCapabilities = 40,
    CurrentQosCapabilities = 72,
    CurrentGftOffloadCapabilities = 88
);

/// `NDIS_MINIPORT_ADAPTER_ATTRIBUTES`: the union `NdisMSetMiniportAttributes` takes; NDIS
/// dispatches on `Header.Type` and reads `Header.Size` bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
    /// Common header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Type 0xA4.
    pub AddDeviceRegistrationAttributes: NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES,
    /// Type 0x9E.
    pub RegistrationAttributes: NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
    /// Type 0x9F.
    pub GeneralAttributes: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
    /// Type 0xA0.
    pub OffloadAttributes: NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
    /// Type 0xAF.
    pub HardwareAssistAttributes: NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
}
assert_layout!(NDIS_MINIPORT_ADAPTER_ATTRIBUTES, size = 224);
/// `PNDIS_MINIPORT_ADAPTER_ATTRIBUTES`. Pass a pointer to one of the member structures cast
/// to this type.
pub type PNDIS_MINIPORT_ADAPTER_ATTRIBUTES = *mut NDIS_MINIPORT_ADAPTER_ATTRIBUTES;

#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    type G = NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES;
    type R = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
    type H = NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES;
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1 as usize
            == offset_of!(G, AutoNegotiationFlags) + 4
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2 as usize
            == offset_of!(G, PowerManagementCapabilitiesEx) + 8
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1 as usize
            == offset_of!(R, InterfaceType) + 4
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_1 as usize
            == offset_of!(H, HDSplitAttributes) + 8
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2 as usize
            == offset_of!(H, CurrentNicSwitchCapabilities) + 8
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3 as usize
            == offset_of!(H, CurrentQosCapabilities) + 8
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_4 as usize
            == offset_of!(H, CurrentGftOffloadCapabilities) + 8
    );
};
