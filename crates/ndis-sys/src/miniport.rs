//! Miniport driver registration (`NDIS_MINIPORT_DRIVER_CHARACTERISTICS`), every miniport handler
//! type, the parameters NDIS passes to them, and the interrupt/DPC/timer/work-item/DMA callback
//! types (`ndis.h`).
//!
//! Handler types are `Option<unsafe extern "system" fn(..)>` so a zeroed/`None` slot is the C null
//! pointer. IRQLs noted per handler are the WDK's `_IRQL_requires_` annotations.

use core::ffi::c_void;

use crate::basic::{
    BOOLEAN, NDIS_HANDLE, NDIS_PHYSICAL_ADDRESS, NDIS_PORT_NUMBER, NDIS_STATUS, NET_IFINDEX,
    NET_LUID, PDEVICE_OBJECT, PDRIVER_OBJECT, PVOID, UCHAR, ULONG, USHORT,
};
use crate::dma::PSCATTER_GATHER_LIST;
use crate::nbl::PNET_BUFFER_LIST;
use crate::object::NDIS_OBJECT_HEADER;
use crate::oid::PNDIS_OID_REQUEST;
use crate::resources::{PIO_INTERRUPT_MESSAGE_INFO, PNDIS_RESOURCE_LIST};

// ---------------------------------------------------------------------------------------------
// Handler function types

/// `DRIVER_INITIALIZE` (`DriverEntry`), PASSIVE_LEVEL: exported as `DriverEntry`, calls
/// `NdisMRegisterMiniportDriver`.
pub type DRIVER_INITIALIZE = unsafe extern "system" fn(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut crate::basic::UNICODE_STRING,
) -> crate::basic::NTSTATUS;

/// `MINIPORT_SET_OPTIONS` (`SET_OPTIONS`), PASSIVE_LEVEL: register optional services
/// (`NdisSetOptionalHandlers`).
pub type MINIPORT_SET_OPTIONS = Option<
    unsafe extern "system" fn(
        NdisDriverHandle: NDIS_HANDLE,
        DriverContext: NDIS_HANDLE,
    ) -> NDIS_STATUS,
>;
/// `SET_OPTIONS_HANDLER`.
pub type SET_OPTIONS_HANDLER = MINIPORT_SET_OPTIONS;

/// `MINIPORT_INITIALIZE` (`MiniportInitializeEx`), PASSIVE_LEVEL.
pub type MINIPORT_INITIALIZE = Option<
    unsafe extern "system" fn(
        NdisMiniportHandle: NDIS_HANDLE,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportInitParameters: PNDIS_MINIPORT_INIT_PARAMETERS,
    ) -> NDIS_STATUS,
>;
/// `MINIPORT_INITIALIZE_HANDLER`.
pub type MINIPORT_INITIALIZE_HANDLER = MINIPORT_INITIALIZE;

/// `MINIPORT_HALT` (`MiniportHaltEx`), PASSIVE_LEVEL.
pub type MINIPORT_HALT = Option<
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, HaltAction: NDIS_HALT_ACTION),
>;
/// `MINIPORT_HALT_HANDLER`.
pub type MINIPORT_HALT_HANDLER = MINIPORT_HALT;

/// `MINIPORT_UNLOAD` (`MiniportDriverUnload`, a `DRIVER_UNLOAD`), PASSIVE_LEVEL: must call
/// `NdisMDeregisterMiniportDriver`.
pub type MINIPORT_UNLOAD = Option<unsafe extern "system" fn(DriverObject: PDRIVER_OBJECT)>;
/// `MINIPORT_DRIVER_UNLOAD`.
pub type MINIPORT_DRIVER_UNLOAD = MINIPORT_UNLOAD;
/// `DRIVER_UNLOAD`.
pub type DRIVER_UNLOAD = MINIPORT_UNLOAD;

/// `MINIPORT_PAUSE` (`MiniportPause`), PASSIVE_LEVEL; may return `NDIS_STATUS_PENDING` and
/// finish with `NdisMPauseComplete`.
pub type MINIPORT_PAUSE = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        PauseParameters: PNDIS_MINIPORT_PAUSE_PARAMETERS,
    ) -> NDIS_STATUS,
>;
/// `MINIPORT_PAUSE_HANDLER`.
pub type MINIPORT_PAUSE_HANDLER = MINIPORT_PAUSE;

/// `MINIPORT_RESTART` (`MiniportRestart`), PASSIVE_LEVEL; pending completes with
/// `NdisMRestartComplete`.
pub type MINIPORT_RESTART = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        RestartParameters: PNDIS_MINIPORT_RESTART_PARAMETERS,
    ) -> NDIS_STATUS,
>;
/// `MINIPORT_RESTART_HANDLER`.
pub type MINIPORT_RESTART_HANDLER = MINIPORT_RESTART;

/// `MINIPORT_OID_REQUEST` (`MiniportOidRequest`), PASSIVE_LEVEL per the header annotation
/// (documented as `<= DISPATCH_LEVEL`); pending completes with `NdisMOidRequestComplete`.
pub type MINIPORT_OID_REQUEST = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        OidRequest: PNDIS_OID_REQUEST,
    ) -> NDIS_STATUS,
>;
/// `MINIPORT_OID_REQUEST_HANDLER`.
pub type MINIPORT_OID_REQUEST_HANDLER = MINIPORT_OID_REQUEST;

/// `MINIPORT_SEND_NET_BUFFER_LISTS` (`MiniportSendNetBufferLists`), <= DISPATCH_LEVEL
/// (`NDIS_SEND_FLAGS_DISPATCH_LEVEL` tells which).
pub type MINIPORT_SEND_NET_BUFFER_LISTS = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        NetBufferList: PNET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        SendFlags: ULONG,
    ),
>;
/// `MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER`.
pub type MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER = MINIPORT_SEND_NET_BUFFER_LISTS;

/// `MINIPORT_RETURN_NET_BUFFER_LISTS` (`MiniportReturnNetBufferLists`), <= DISPATCH_LEVEL.
pub type MINIPORT_RETURN_NET_BUFFER_LISTS = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        NetBufferLists: PNET_BUFFER_LIST,
        ReturnFlags: ULONG,
    ),
>;
/// `MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER`.
pub type MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER = MINIPORT_RETURN_NET_BUFFER_LISTS;

/// `MINIPORT_CANCEL_SEND` (`MiniportCancelSend`), <= DISPATCH_LEVEL.
pub type MINIPORT_CANCEL_SEND =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, CancelId: PVOID)>;
/// `MINIPORT_CANCEL_SEND_HANDLER`.
pub type MINIPORT_CANCEL_SEND_HANDLER = MINIPORT_CANCEL_SEND;

/// `MINIPORT_CHECK_FOR_HANG` (`MiniportCheckForHangEx`), PASSIVE_LEVEL: `TRUE` asks NDIS to
/// reset the adapter.
pub type MINIPORT_CHECK_FOR_HANG =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE) -> BOOLEAN>;
/// `MINIPORT_CHECK_FOR_HANG_HANDLER`.
pub type MINIPORT_CHECK_FOR_HANG_HANDLER = MINIPORT_CHECK_FOR_HANG;

/// `MINIPORT_RESET` (`MiniportResetEx`), <= DISPATCH_LEVEL; pending completes with
/// `NdisMResetComplete`.
pub type MINIPORT_RESET = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        AddressingReset: *mut BOOLEAN,
    ) -> NDIS_STATUS,
>;
/// `MINIPORT_RESET_HANDLER`.
pub type MINIPORT_RESET_HANDLER = MINIPORT_RESET;

/// `MINIPORT_DEVICE_PNP_EVENT_NOTIFY` (`MiniportDevicePnPEventNotify`), PASSIVE_LEVEL.
pub type MINIPORT_DEVICE_PNP_EVENT_NOTIFY = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        NetDevicePnPEvent: PNET_DEVICE_PNP_EVENT,
    ),
>;
/// `MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER`.
pub type MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER = MINIPORT_DEVICE_PNP_EVENT_NOTIFY;

/// `MINIPORT_SHUTDOWN` (`MiniportShutdownEx`): PASSIVE_LEVEL for `NdisShutdownPowerOff`,
/// HIGH_LEVEL for `NdisShutdownBugCheck` (then it may only touch the hardware).
pub type MINIPORT_SHUTDOWN = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        ShutdownAction: NDIS_SHUTDOWN_ACTION,
    ),
>;
/// `MINIPORT_SHUTDOWN_HANDLER`.
pub type MINIPORT_SHUTDOWN_HANDLER = MINIPORT_SHUTDOWN;

/// `MINIPORT_CANCEL_OID_REQUEST` (`MiniportCancelOidRequest`), <= DISPATCH_LEVEL.
pub type MINIPORT_CANCEL_OID_REQUEST =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, RequestId: PVOID)>;
/// `MINIPORT_CANCEL_OID_REQUEST_HANDLER`.
pub type MINIPORT_CANCEL_OID_REQUEST_HANDLER = MINIPORT_CANCEL_OID_REQUEST;

/// `MINIPORT_DIRECT_OID_REQUEST` (`MiniportDirectOidRequest`, NDIS 6.1), <= DISPATCH_LEVEL;
/// pending completes with `NdisMDirectOidRequestComplete`.
pub type MINIPORT_DIRECT_OID_REQUEST = MINIPORT_OID_REQUEST;
/// `MINIPORT_DIRECT_OID_REQUEST_HANDLER`.
pub type MINIPORT_DIRECT_OID_REQUEST_HANDLER = MINIPORT_DIRECT_OID_REQUEST;

/// `MINIPORT_CANCEL_DIRECT_OID_REQUEST` (`MiniportCancelDirectOidRequest`), <= DISPATCH_LEVEL.
pub type MINIPORT_CANCEL_DIRECT_OID_REQUEST = MINIPORT_CANCEL_OID_REQUEST;
/// `MINIPORT_CANCEL_DIRECT_OID_REQUEST_HANDLER`.
pub type MINIPORT_CANCEL_DIRECT_OID_REQUEST_HANDLER = MINIPORT_CANCEL_DIRECT_OID_REQUEST;

/// `MINIPORT_SYNCHRONOUS_OID_REQUEST` (`MiniportSynchronousOidRequest`, NDIS 6.80, revision 3 of
/// the characteristics), <= DISPATCH_LEVEL; never pends. Optional (required only for RSSv2).
pub type MINIPORT_SYNCHRONOUS_OID_REQUEST = MINIPORT_OID_REQUEST;
/// `MINIPORT_SYNCHRONOUS_OID_REQUEST_HANDLER`.
pub type MINIPORT_SYNCHRONOUS_OID_REQUEST_HANDLER = MINIPORT_SYNCHRONOUS_OID_REQUEST;

// ---------------------------------------------------------------------------------------------
// Characteristics

/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1` (NDIS 6.0).
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1: UCHAR = 1;
/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2` (NDIS 6.1+: direct OID handlers). The
/// revision to register with for NDIS 6.30–6.85 unless the synchronous OID path is implemented.
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2: UCHAR = 2;
/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3` (NDIS 6.80+: adds
/// `SynchronousOidRequestHandler`).
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3: UCHAR = 3;
/// `NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1` (through `CancelOidRequestHandler`).
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1: USHORT = 136;
/// `NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2` (through
/// `CancelDirectOidRequestHandler`).
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2: USHORT = 152;
/// `NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3` (through
/// `SynchronousOidRequestHandler`).
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3: USHORT = 160;

/// `NDIS_INTERMEDIATE_DRIVER` (characteristics `Flags`).
pub const NDIS_INTERMEDIATE_DRIVER: ULONG = 0x0000_0001;
/// `NDIS_WDM_DRIVER` (characteristics `Flags`).
pub const NDIS_WDM_DRIVER: ULONG = 0x0000_0002;
/// `NDIS_DRIVER_FLAGS_RESERVED` (NDIS 6.30).
pub const NDIS_DRIVER_FLAGS_RESERVED: ULONG = 0x0000_0008;

/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS`, passed to `NdisMRegisterMiniportDriver` from
/// `DriverEntry`. Header: type `NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS`, revision 2 with
/// size 152 (or revision 3 / 160 with a synchronous OID handler). This struct is the full
/// revision-3 layout; NDIS reads only `Header.Size` bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    /// Object header.
    pub Header: NDIS_OBJECT_HEADER,
    /// NDIS major version the driver is written for (6).
    pub MajorNdisVersion: UCHAR,
    /// NDIS minor version (30, 80, 83, 85, …).
    pub MinorNdisVersion: UCHAR,
    /// Driver major version.
    pub MajorDriverVersion: UCHAR,
    /// Driver minor version.
    pub MinorDriverVersion: UCHAR,
    /// `NDIS_INTERMEDIATE_DRIVER` / `NDIS_WDM_DRIVER` (0 for a NIC miniport).
    pub Flags: ULONG,
    /// `MiniportSetOptions` (optional).
    pub SetOptionsHandler: SET_OPTIONS_HANDLER,
    /// `MiniportInitializeEx` (required).
    pub InitializeHandlerEx: MINIPORT_INITIALIZE_HANDLER,
    /// `MiniportHaltEx` (required).
    pub HaltHandlerEx: MINIPORT_HALT_HANDLER,
    /// `MiniportDriverUnload` (required).
    pub UnloadHandler: MINIPORT_DRIVER_UNLOAD,
    /// `MiniportPause` (required).
    pub PauseHandler: MINIPORT_PAUSE_HANDLER,
    /// `MiniportRestart` (required).
    pub RestartHandler: MINIPORT_RESTART_HANDLER,
    /// `MiniportOidRequest` (required).
    pub OidRequestHandler: MINIPORT_OID_REQUEST_HANDLER,
    /// `MiniportSendNetBufferLists` (required).
    pub SendNetBufferListsHandler: MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER,
    /// `MiniportReturnNetBufferLists` (required).
    pub ReturnNetBufferListsHandler: MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER,
    /// `MiniportCancelSend` (required).
    pub CancelSendHandler: MINIPORT_CANCEL_SEND_HANDLER,
    /// `MiniportCheckForHangEx` (optional).
    pub CheckForHangHandlerEx: MINIPORT_CHECK_FOR_HANG_HANDLER,
    /// `MiniportResetEx` (optional).
    pub ResetHandlerEx: MINIPORT_RESET_HANDLER,
    /// `MiniportDevicePnPEventNotify` (required).
    pub DevicePnPEventNotifyHandler: MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER,
    /// `MiniportShutdownEx` (required).
    pub ShutdownHandlerEx: MINIPORT_SHUTDOWN_HANDLER,
    /// `MiniportCancelOidRequest` (required).
    pub CancelOidRequestHandler: MINIPORT_CANCEL_OID_REQUEST_HANDLER,
    /// `MiniportDirectOidRequest` (revision 2, optional).
    pub DirectOidRequestHandler: MINIPORT_DIRECT_OID_REQUEST_HANDLER,
    /// `MiniportCancelDirectOidRequest` (revision 2, optional; required with the direct handler).
    pub CancelDirectOidRequestHandler: MINIPORT_CANCEL_DIRECT_OID_REQUEST_HANDLER,
    /// `MiniportSynchronousOidRequest` (revision 3, NDIS 6.80+, optional).
    pub SynchronousOidRequestHandler: MINIPORT_SYNCHRONOUS_OID_REQUEST_HANDLER,
}
assert_layout!(
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    size = 160,
    Header = 0,
    MajorNdisVersion = 4,
    MinorNdisVersion = 5,
    MajorDriverVersion = 6,
    MinorDriverVersion = 7,
    Flags = 8,
    SetOptionsHandler = 16,
    InitializeHandlerEx = 24,
    HaltHandlerEx = 32,
    UnloadHandler = 40,
    PauseHandler = 48,
    RestartHandler = 56,
    OidRequestHandler = 64,
    SendNetBufferListsHandler = 72,
    ReturnNetBufferListsHandler = 80,
    CancelSendHandler = 88,
    CheckForHangHandlerEx = 96,
    ResetHandlerEx = 104,
    DevicePnPEventNotifyHandler = 112,
    ShutdownHandlerEx = 120,
    CancelOidRequestHandler = 128,
    DirectOidRequestHandler = 136,
    CancelDirectOidRequestHandler = 144,
    SynchronousOidRequestHandler = 152
);
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    type C = NDIS_MINIPORT_DRIVER_CHARACTERISTICS;
    assert!(
        NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1 as usize
            == offset_of!(C, CancelOidRequestHandler) + 8
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 as usize
            == offset_of!(C, CancelDirectOidRequestHandler) + 8
    );
    assert!(
        NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3 as usize
            == core::mem::size_of::<C>()
    );
};

impl NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    /// All handlers `None`, header for revision 2 (152 bytes), NDIS version 0.0 — fill in the
    /// version and handlers before registering.
    pub const fn revision2() -> Self {
        Self {
            Header: NDIS_OBJECT_HEADER::new(
                crate::object::NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
                NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
                NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            ),
            MajorNdisVersion: 0,
            MinorNdisVersion: 0,
            MajorDriverVersion: 0,
            MinorDriverVersion: 0,
            Flags: 0,
            SetOptionsHandler: None,
            InitializeHandlerEx: None,
            HaltHandlerEx: None,
            UnloadHandler: None,
            PauseHandler: None,
            RestartHandler: None,
            OidRequestHandler: None,
            SendNetBufferListsHandler: None,
            ReturnNetBufferListsHandler: None,
            CancelSendHandler: None,
            CheckForHangHandlerEx: None,
            ResetHandlerEx: None,
            DevicePnPEventNotifyHandler: None,
            ShutdownHandlerEx: None,
            CancelOidRequestHandler: None,
            DirectOidRequestHandler: None,
            CancelDirectOidRequestHandler: None,
            SynchronousOidRequestHandler: None,
        }
    }
}

/// `PNDIS_MINIPORT_DRIVER_CHARACTERISTICS`.
pub type PNDIS_MINIPORT_DRIVER_CHARACTERISTICS = *mut NDIS_MINIPORT_DRIVER_CHARACTERISTICS;

// ---------------------------------------------------------------------------------------------
// Handler parameters

/// `NDIS_HALT_ACTION` (C enum).
pub type NDIS_HALT_ACTION = i32;
/// `NdisHaltDeviceDisabled`.
pub const NdisHaltDeviceDisabled: NDIS_HALT_ACTION = 0;
/// `NdisHaltDeviceInstanceDeInitialized`.
pub const NdisHaltDeviceInstanceDeInitialized: NDIS_HALT_ACTION = 1;
/// `NdisHaltDevicePoweredDown`.
pub const NdisHaltDevicePoweredDown: NDIS_HALT_ACTION = 2;
/// `NdisHaltDeviceSurpriseRemoved`.
pub const NdisHaltDeviceSurpriseRemoved: NDIS_HALT_ACTION = 3;
/// `NdisHaltDeviceFailed`.
pub const NdisHaltDeviceFailed: NDIS_HALT_ACTION = 4;
/// `NdisHaltDeviceInitializationFailed`.
pub const NdisHaltDeviceInitializationFailed: NDIS_HALT_ACTION = 5;
/// `NdisHaltDeviceStopped`.
pub const NdisHaltDeviceStopped: NDIS_HALT_ACTION = 6;

/// `NDIS_SHUTDOWN_ACTION` (C enum).
pub type NDIS_SHUTDOWN_ACTION = i32;
/// `NdisShutdownPowerOff`.
pub const NdisShutdownPowerOff: NDIS_SHUTDOWN_ACTION = 0;
/// `NdisShutdownBugCheck`.
pub const NdisShutdownBugCheck: NDIS_SHUTDOWN_ACTION = 1;

/// `NDIS_DEVICE_PNP_EVENT` (C enum).
pub type NDIS_DEVICE_PNP_EVENT = i32;
/// `NdisDevicePnPEventQueryRemoved`.
pub const NdisDevicePnPEventQueryRemoved: NDIS_DEVICE_PNP_EVENT = 0;
/// `NdisDevicePnPEventRemoved`.
pub const NdisDevicePnPEventRemoved: NDIS_DEVICE_PNP_EVENT = 1;
/// `NdisDevicePnPEventSurpriseRemoved`.
pub const NdisDevicePnPEventSurpriseRemoved: NDIS_DEVICE_PNP_EVENT = 2;
/// `NdisDevicePnPEventQueryStopped`.
pub const NdisDevicePnPEventQueryStopped: NDIS_DEVICE_PNP_EVENT = 3;
/// `NdisDevicePnPEventStopped`.
pub const NdisDevicePnPEventStopped: NDIS_DEVICE_PNP_EVENT = 4;
/// `NdisDevicePnPEventPowerProfileChanged`.
pub const NdisDevicePnPEventPowerProfileChanged: NDIS_DEVICE_PNP_EVENT = 5;
/// `NdisDevicePnPEventFilterListChanged`.
pub const NdisDevicePnPEventFilterListChanged: NDIS_DEVICE_PNP_EVENT = 6;

/// `NET_DEVICE_PNP_EVENT_REVISION_1`.
pub const NET_DEVICE_PNP_EVENT_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1` (through `NdisReserved`).
pub const NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1: USHORT = 44;

/// `NET_DEVICE_PNP_EVENT`, argument of `MiniportDevicePnPEventNotify`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NET_DEVICE_PNP_EVENT {
    /// Header (`NDIS_OBJECT_TYPE_DEFAULT`, revision 1).
    pub Header: NDIS_OBJECT_HEADER,
    /// Port.
    pub PortNumber: NDIS_PORT_NUMBER,
    /// `NdisDevicePnPEvent*`.
    pub DevicePnPEvent: NDIS_DEVICE_PNP_EVENT,
    /// Event-specific data (e.g. a `ULONG` power profile).
    pub InformationBuffer: PVOID,
    /// Bytes at `InformationBuffer`.
    pub InformationBufferLength: ULONG,
    /// Reserved.
    pub NdisReserved: [UCHAR; 2 * core::mem::size_of::<PVOID>()],
}
assert_layout!(
    NET_DEVICE_PNP_EVENT,
    size = 48,
    Header = 0,
    PortNumber = 4,
    DevicePnPEvent = 8,
    InformationBuffer = 16,
    InformationBufferLength = 24,
    NdisReserved = 28
);
/// `PNET_DEVICE_PNP_EVENT`.
pub type PNET_DEVICE_PNP_EVENT = *mut NET_DEVICE_PNP_EVENT;

/// `NET_PNP_EVENT_CODE` (C enum).
pub type NET_PNP_EVENT_CODE = i32;
/// `NetEventSetPower`.
pub const NetEventSetPower: NET_PNP_EVENT_CODE = 0;
/// `NetEventQueryPower`.
pub const NetEventQueryPower: NET_PNP_EVENT_CODE = 1;
/// `NetEventQueryRemoveDevice`.
pub const NetEventQueryRemoveDevice: NET_PNP_EVENT_CODE = 2;
/// `NetEventCancelRemoveDevice`.
pub const NetEventCancelRemoveDevice: NET_PNP_EVENT_CODE = 3;
/// `NetEventReconfigure`.
pub const NetEventReconfigure: NET_PNP_EVENT_CODE = 4;
/// `NetEventBindList`.
pub const NetEventBindList: NET_PNP_EVENT_CODE = 5;
/// `NetEventBindsComplete`.
pub const NetEventBindsComplete: NET_PNP_EVENT_CODE = 6;
/// `NetEventPnPCapabilities`.
pub const NetEventPnPCapabilities: NET_PNP_EVENT_CODE = 7;
/// `NetEventPause`.
pub const NetEventPause: NET_PNP_EVENT_CODE = 8;
/// `NetEventRestart`.
pub const NetEventRestart: NET_PNP_EVENT_CODE = 9;
/// `NetEventPortActivation`.
pub const NetEventPortActivation: NET_PNP_EVENT_CODE = 10;
/// `NetEventPortDeactivation`.
pub const NetEventPortDeactivation: NET_PNP_EVENT_CODE = 11;
/// `NetEventIMReEnableDevice`.
pub const NetEventIMReEnableDevice: NET_PNP_EVENT_CODE = 12;

/// `NET_PNP_EVENT` (`netpnp.h`; not among the published NDIS headers — x64 layout cross-checked
/// against a PDB-derived dump: 152 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NET_PNP_EVENT {
    /// `NetEvent*`.
    pub NetEvent: NET_PNP_EVENT_CODE,
    /// Event data.
    pub Buffer: PVOID,
    /// Bytes at `Buffer`.
    pub BufferLength: ULONG,
    /// Reserved.
    pub NdisReserved: [usize; 4],
    /// Reserved.
    pub TransportReserved: [usize; 4],
    /// Reserved.
    pub TdiReserved: [usize; 4],
    /// Reserved.
    pub TdiClientReserved: [usize; 4],
}
assert_layout!(
    NET_PNP_EVENT,
    size = 152,
    NetEvent = 0,
    Buffer = 8,
    BufferLength = 16,
    NdisReserved = 24,
    TdiClientReserved = 120
);

/// `NET_PNP_EVENT_NOTIFICATION_REVISION_1`.
pub const NET_PNP_EVENT_NOTIFICATION_REVISION_1: UCHAR = 1;
/// `NET_PNP_EVENT_NOTIFICATION_REVISION_2` (NDIS 6.50).
pub const NET_PNP_EVENT_NOTIFICATION_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1` (through `Flags`).
pub const NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1: USHORT = 164;
/// `NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_2` (through `VPortId`).
pub const NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_2: USHORT = 172;
/// `NET_EVENT_HALT_MINIPORT_ON_LOW_POWER`.
pub const NET_EVENT_HALT_MINIPORT_ON_LOW_POWER: ULONG = 0x1;
/// `NET_EVENT_FLAGS_VPORT_ID_VALID`.
pub const NET_EVENT_FLAGS_VPORT_ID_VALID: ULONG = 0x2;

/// `NET_PNP_EVENT_NOTIFICATION` (`NdisMNetPnPEvent`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NET_PNP_EVENT_NOTIFICATION {
    /// Header (`NDIS_OBJECT_TYPE_DEFAULT`).
    pub Header: NDIS_OBJECT_HEADER,
    /// Port.
    pub PortNumber: NDIS_PORT_NUMBER,
    /// The event.
    pub NetPnPEvent: NET_PNP_EVENT,
    /// `NET_EVENT_*`.
    pub Flags: ULONG,
    /// NIC switch (revision 2).
    pub SwitchId: ULONG,
    /// VPort (revision 2).
    pub VPortId: ULONG,
}
assert_layout!(
    NET_PNP_EVENT_NOTIFICATION,
    size = 176,
    Header = 0,
    PortNumber = 4,
    NetPnPEvent = 8,
    Flags = 160,
    SwitchId = 164,
    VPortId = 168
);
/// `PNET_PNP_EVENT_NOTIFICATION`.
pub type PNET_PNP_EVENT_NOTIFICATION = *mut NET_PNP_EVENT_NOTIFICATION;

/// `NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1`.
pub const NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_MINIPORT_INIT_PARAMETER_REVISION_1` (sic: `PARAMETER`; through
/// `PciDeviceCustomProperties`).
pub const NDIS_SIZEOF_MINIPORT_INIT_PARAMETER_REVISION_1: USHORT = 64;

/// `NDIS_MINIPORT_INIT_PARAMETERS`, argument of `MiniportInitializeEx`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_INIT_PARAMETERS {
    /// Header (`NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS`).
    pub Header: NDIS_OBJECT_HEADER,
    /// Flags.
    pub Flags: ULONG,
    /// Translated hardware resources (may be null when the device has none).
    pub AllocatedResources: PNDIS_RESOURCE_LIST,
    /// IM drivers only.
    pub IMDeviceInstanceContext: NDIS_HANDLE,
    /// Context from `MiniportAddDevice`, if any.
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    /// Interface index.
    pub IfIndex: NET_IFINDEX,
    /// Interface LUID.
    pub NetLuid: NET_LUID,
    /// `PNDIS_PORT_AUTHENTICATION_PARAMETERS`.
    pub DefaultPortAuthStates: PVOID,
    /// `PNDIS_PCI_DEVICE_CUSTOM_PROPERTIES`.
    pub PciDeviceCustomProperties: PVOID,
}
assert_layout!(
    NDIS_MINIPORT_INIT_PARAMETERS,
    size = 64,
    Header = 0,
    Flags = 4,
    AllocatedResources = 8,
    IMDeviceInstanceContext = 16,
    MiniportAddDeviceContext = 24,
    IfIndex = 32,
    NetLuid = 40,
    DefaultPortAuthStates = 48,
    PciDeviceCustomProperties = 56
);
/// `PNDIS_MINIPORT_INIT_PARAMETERS`.
pub type PNDIS_MINIPORT_INIT_PARAMETERS = *mut NDIS_MINIPORT_INIT_PARAMETERS;

/// `NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1`.
pub const NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1`.
pub const NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1: USHORT = 12;
/// `NDIS_PAUSE_NDIS_INTERNAL` (`PauseReason`).
pub const NDIS_PAUSE_NDIS_INTERNAL: ULONG = 0x0000_0001;
/// `NDIS_PAUSE_LOW_POWER`.
pub const NDIS_PAUSE_LOW_POWER: ULONG = 0x0000_0002;
/// `NDIS_PAUSE_BIND_PROTOCOL`.
pub const NDIS_PAUSE_BIND_PROTOCOL: ULONG = 0x0000_0004;
/// `NDIS_PAUSE_UNBIND_PROTOCOL`.
pub const NDIS_PAUSE_UNBIND_PROTOCOL: ULONG = 0x0000_0008;
/// `NDIS_PAUSE_ATTACH_FILTER`.
pub const NDIS_PAUSE_ATTACH_FILTER: ULONG = 0x0000_0010;
/// `NDIS_PAUSE_DETACH_FILTER`.
pub const NDIS_PAUSE_DETACH_FILTER: ULONG = 0x0000_0020;
/// `NDIS_PAUSE_FILTER_RESTART_STACK`.
pub const NDIS_PAUSE_FILTER_RESTART_STACK: ULONG = 0x0000_0040;
/// `NDIS_PAUSE_MINIPORT_DEVICE_REMOVE`.
pub const NDIS_PAUSE_MINIPORT_DEVICE_REMOVE: ULONG = 0x0000_0080;

/// `NDIS_MINIPORT_PAUSE_PARAMETERS`, argument of `MiniportPause`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_PAUSE_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved flags.
    pub Flags: ULONG,
    /// `NDIS_PAUSE_*`.
    pub PauseReason: ULONG,
}
assert_layout!(
    NDIS_MINIPORT_PAUSE_PARAMETERS,
    size = 12,
    Header = 0,
    Flags = 4,
    PauseReason = 8
);
/// `PNDIS_MINIPORT_PAUSE_PARAMETERS`.
pub type PNDIS_MINIPORT_PAUSE_PARAMETERS = *mut NDIS_MINIPORT_PAUSE_PARAMETERS;

/// `NDIS_RESTART_ATTRIBUTES` header (a chain of OID-tagged blobs; `Data` is 16-byte aligned and
/// starts at offset 16).
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_RESTART_ATTRIBUTES {
    /// Next attribute.
    pub Next: *mut NDIS_RESTART_ATTRIBUTES,
    /// OID identifying `Data` (e.g. `OID_GEN_MINIPORT_RESTART_ATTRIBUTES`).
    pub Oid: crate::basic::NDIS_OID,
    /// Bytes of data.
    pub DataLength: ULONG,
}
assert_layout!(
    NDIS_RESTART_ATTRIBUTES,
    size = 16,
    Next = 0,
    Oid = 8,
    DataLength = 12
);

/// `NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1`.
pub const NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1` (20; `size_of` is 24).
pub const NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1: USHORT = 20;

/// `NDIS_MINIPORT_RESTART_PARAMETERS`, argument of `MiniportRestart`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_RESTART_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Attribute chain.
    pub RestartAttributes: *mut NDIS_RESTART_ATTRIBUTES,
    /// Reserved.
    pub Flags: ULONG,
}
assert_layout!(
    NDIS_MINIPORT_RESTART_PARAMETERS,
    size = 24,
    Header = 0,
    RestartAttributes = 8,
    Flags = 16
);
/// `PNDIS_MINIPORT_RESTART_PARAMETERS`.
pub type PNDIS_MINIPORT_RESTART_PARAMETERS = *mut NDIS_MINIPORT_RESTART_PARAMETERS;

// ---------------------------------------------------------------------------------------------
// Interrupts

/// `MINIPORT_ISR` (`MiniportInterrupt`, line-based), HIGH_LEVEL (DIRQL).
pub type MINIPORT_ISR = Option<
    unsafe extern "system" fn(
        MiniportInterruptContext: NDIS_HANDLE,
        QueueDefaultInterruptDpc: *mut BOOLEAN,
        TargetProcessors: *mut ULONG,
    ) -> BOOLEAN,
>;
/// `MINIPORT_ISR_HANDLER`.
pub type MINIPORT_ISR_HANDLER = MINIPORT_ISR;

/// `MINIPORT_INTERRUPT_DPC` (`MiniportInterruptDPC`), DISPATCH_LEVEL. `ReceiveThrottleParameters`
/// is a `PNDIS_RECEIVE_THROTTLE_PARAMETERS` (NDIS 6.20+).
pub type MINIPORT_INTERRUPT_DPC = Option<
    unsafe extern "system" fn(
        MiniportInterruptContext: NDIS_HANDLE,
        MiniportDpcContext: PVOID,
        ReceiveThrottleParameters: PVOID,
        NdisReserved2: PVOID,
    ),
>;
/// `MINIPORT_INTERRUPT_DPC_HANDLER`.
pub type MINIPORT_INTERRUPT_DPC_HANDLER = MINIPORT_INTERRUPT_DPC;

/// `MINIPORT_DISABLE_INTERRUPT` (`MiniportDisableInterruptEx`), HIGH_LEVEL.
pub type MINIPORT_DISABLE_INTERRUPT =
    Option<unsafe extern "system" fn(MiniportInterruptContext: NDIS_HANDLE)>;
/// `MINIPORT_DISABLE_INTERRUPT_HANDLER`.
pub type MINIPORT_DISABLE_INTERRUPT_HANDLER = MINIPORT_DISABLE_INTERRUPT;
/// `MINIPORT_ENABLE_INTERRUPT` (`MiniportEnableInterruptEx`), HIGH_LEVEL.
pub type MINIPORT_ENABLE_INTERRUPT =
    Option<unsafe extern "system" fn(MiniportInterruptContext: NDIS_HANDLE)>;
/// `MINIPORT_ENABLE_INTERRUPT_HANDLER`.
pub type MINIPORT_ENABLE_INTERRUPT_HANDLER = MINIPORT_ENABLE_INTERRUPT;

/// `MINIPORT_MESSAGE_INTERRUPT` (`MiniportMessageInterrupt`, MSI/MSI-X ISR), HIGH_LEVEL.
pub type MINIPORT_MESSAGE_INTERRUPT = Option<
    unsafe extern "system" fn(
        MiniportInterruptContext: NDIS_HANDLE,
        MessageId: ULONG,
        QueueDefaultInterruptDpc: *mut BOOLEAN,
        TargetProcessors: *mut ULONG,
    ) -> BOOLEAN,
>;
/// `MINIPORT_MSI_ISR_HANDLER`.
pub type MINIPORT_MSI_ISR_HANDLER = MINIPORT_MESSAGE_INTERRUPT;

/// `MINIPORT_MESSAGE_INTERRUPT_DPC` (`MiniportMessageInterruptDPC`), DISPATCH_LEVEL.
pub type MINIPORT_MESSAGE_INTERRUPT_DPC = Option<
    unsafe extern "system" fn(
        MiniportInterruptContext: NDIS_HANDLE,
        MessageId: ULONG,
        MiniportDpcContext: PVOID,
        ReceiveThrottleParameters: PVOID,
        NdisReserved2: PVOID,
    ),
>;
/// `MINIPORT_MSI_INTERRUPT_DPC_HANDLER`.
pub type MINIPORT_MSI_INTERRUPT_DPC_HANDLER = MINIPORT_MESSAGE_INTERRUPT_DPC;

/// `MINIPORT_DISABLE_MESSAGE_INTERRUPT`, HIGH_LEVEL.
pub type MINIPORT_DISABLE_MESSAGE_INTERRUPT =
    Option<unsafe extern "system" fn(MiniportInterruptContext: NDIS_HANDLE, MessageId: ULONG)>;
/// `MINIPORT_DISABLE_MSI_INTERRUPT_HANDLER`.
pub type MINIPORT_DISABLE_MSI_INTERRUPT_HANDLER = MINIPORT_DISABLE_MESSAGE_INTERRUPT;
/// `MINIPORT_ENABLE_MESSAGE_INTERRUPT`, HIGH_LEVEL.
pub type MINIPORT_ENABLE_MESSAGE_INTERRUPT =
    Option<unsafe extern "system" fn(MiniportInterruptContext: NDIS_HANDLE, MessageId: ULONG)>;
/// `MINIPORT_ENABLE_MSI_INTERRUPT_HANDLER`.
pub type MINIPORT_ENABLE_MSI_INTERRUPT_HANDLER = MINIPORT_ENABLE_MESSAGE_INTERRUPT;

/// `MINIPORT_SYNCHRONIZE_INTERRUPT` (`MiniportSynchronizeInterrupt`), runs at DIRQL under the
/// interrupt lock via `NdisMSynchronizeWithInterruptEx`.
pub type MINIPORT_SYNCHRONIZE_INTERRUPT =
    Option<unsafe extern "system" fn(SynchronizeContext: NDIS_HANDLE) -> BOOLEAN>;
/// `MINIPORT_SYNCHRONIZE_INTERRUPT_HANDLER`.
pub type MINIPORT_SYNCHRONIZE_INTERRUPT_HANDLER = MINIPORT_SYNCHRONIZE_INTERRUPT;
/// `MINIPORT_SYNCHRONIZE_MESSAGE_INTERRUPT`.
pub type MINIPORT_SYNCHRONIZE_MESSAGE_INTERRUPT = MINIPORT_SYNCHRONIZE_INTERRUPT;
/// `MINIPORT_SYNCHRONIZE_MSI_INTERRUPT_HANDLER`.
pub type MINIPORT_SYNCHRONIZE_MSI_INTERRUPT_HANDLER = MINIPORT_SYNCHRONIZE_INTERRUPT;

/// `NDIS_RECEIVE_THROTTLE_PARAMETERS` (NDIS 6.20), passed to interrupt DPCs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_RECEIVE_THROTTLE_PARAMETERS {
    /// Maximum NBLs to indicate in this DPC (`NDIS_INDICATE_ALL_NBLS` = no limit).
    pub MaxNblsToIndicate: ULONG,
    /// Bit 0: `MoreNblsPending` (set by the miniport when it stopped early).
    pub Flags: ULONG,
}
assert_layout!(
    NDIS_RECEIVE_THROTTLE_PARAMETERS,
    size = 8,
    MaxNblsToIndicate = 0,
    Flags = 4
);
impl NDIS_RECEIVE_THROTTLE_PARAMETERS {
    /// Sets the `MoreNblsPending:1` bit-field.
    pub fn set_more_nbls_pending(&mut self, more: bool) {
        self.Flags = (self.Flags & !1) | u32::from(more);
    }
}
/// `NDIS_INDICATE_ALL_NBLS`.
pub const NDIS_INDICATE_ALL_NBLS: ULONG = !0;

/// `NDIS_INTERRUPT_TYPE` (C enum).
pub type NDIS_INTERRUPT_TYPE = i32;
/// `NDIS_CONNECT_LINE_BASED`.
pub const NDIS_CONNECT_LINE_BASED: NDIS_INTERRUPT_TYPE = 1;
/// `NDIS_CONNECT_MESSAGE_BASED`.
pub const NDIS_CONNECT_MESSAGE_BASED: NDIS_INTERRUPT_TYPE = 2;

/// `NDIS_MINIPORT_INTERRUPT_REVISION_1`.
pub const NDIS_MINIPORT_INTERRUPT_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1`.
pub const NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1: USHORT = 96;

/// `NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS`, input/output of `NdisMRegisterInterruptEx`
/// (header type `NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Line-based ISR.
    pub InterruptHandler: MINIPORT_ISR_HANDLER,
    /// Line-based DPC.
    pub InterruptDpcHandler: MINIPORT_INTERRUPT_DPC_HANDLER,
    /// Line-based disable.
    pub DisableInterruptHandler: MINIPORT_DISABLE_INTERRUPT_HANDLER,
    /// Line-based enable.
    pub EnableInterruptHandler: MINIPORT_ENABLE_INTERRUPT_HANDLER,
    /// `TRUE` to use MSI/MSI-X when available.
    pub MsiSupported: BOOLEAN,
    /// `TRUE` to serialise all messages on one lock.
    pub MsiSyncWithAllMessages: BOOLEAN,
    /// Message ISR.
    pub MessageInterruptHandler: MINIPORT_MSI_ISR_HANDLER,
    /// Message DPC.
    pub MessageInterruptDpcHandler: MINIPORT_MSI_INTERRUPT_DPC_HANDLER,
    /// Message disable.
    pub DisableMessageInterruptHandler: MINIPORT_DISABLE_MSI_INTERRUPT_HANDLER,
    /// Message enable.
    pub EnableMessageInterruptHandler: MINIPORT_ENABLE_MSI_INTERRUPT_HANDLER,
    /// Out: what NDIS connected.
    pub InterruptType: NDIS_INTERRUPT_TYPE,
    /// Out: the message table when `NDIS_CONNECT_MESSAGE_BASED`.
    pub MessageInfoTable: PIO_INTERRUPT_MESSAGE_INFO,
}
assert_layout!(
    NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    size = 96,
    Header = 0,
    InterruptHandler = 8,
    InterruptDpcHandler = 16,
    DisableInterruptHandler = 24,
    EnableInterruptHandler = 32,
    MsiSupported = 40,
    MsiSyncWithAllMessages = 41,
    MessageInterruptHandler = 48,
    MessageInterruptDpcHandler = 56,
    DisableMessageInterruptHandler = 64,
    EnableMessageInterruptHandler = 72,
    InterruptType = 80,
    MessageInfoTable = 88
);
/// `PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS`.
pub type PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS = *mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS;

// ---------------------------------------------------------------------------------------------
// Timers, work items, DMA callbacks

/// `NDIS_TIMER_FUNCTION` (timer object callback), DISPATCH_LEVEL.
pub type NDIS_TIMER_FUNCTION = Option<
    unsafe extern "system" fn(
        SystemSpecific1: PVOID,
        FunctionContext: PVOID,
        SystemSpecific2: PVOID,
        SystemSpecific3: PVOID,
    ),
>;
/// `PNDIS_TIMER_FUNCTION`.
pub type PNDIS_TIMER_FUNCTION = NDIS_TIMER_FUNCTION;

/// `NDIS_TIMER_CHARACTERISTICS_REVISION_1`.
pub const NDIS_TIMER_CHARACTERISTICS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1`.
pub const NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1: USHORT = 24;

/// `NDIS_TIMER_CHARACTERISTICS` for `NdisAllocateTimerObject` (header type
/// `NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_TIMER_CHARACTERISTICS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// Pool tag.
    pub AllocationTag: ULONG,
    /// Callback.
    pub TimerFunction: PNDIS_TIMER_FUNCTION,
    /// Default context passed to the callback.
    pub FunctionContext: PVOID,
}
assert_layout!(
    NDIS_TIMER_CHARACTERISTICS,
    size = 24,
    Header = 0,
    AllocationTag = 4,
    TimerFunction = 8,
    FunctionContext = 16
);
/// `PNDIS_TIMER_CHARACTERISTICS`.
pub type PNDIS_TIMER_CHARACTERISTICS = *mut NDIS_TIMER_CHARACTERISTICS;

/// `NDIS_IO_WORKITEM_FUNCTION` (work item callback), PASSIVE_LEVEL.
pub type NDIS_IO_WORKITEM_FUNCTION =
    Option<unsafe extern "system" fn(WorkItemContext: PVOID, NdisIoWorkItemHandle: NDIS_HANDLE)>;
/// `NDIS_IO_WORKITEM_ROUTINE`.
pub type NDIS_IO_WORKITEM_ROUTINE = NDIS_IO_WORKITEM_FUNCTION;

/// `KDEFERRED_ROUTINE` (a raw `KDPC` routine), DISPATCH_LEVEL.
pub type KDEFERRED_ROUTINE = Option<
    unsafe extern "system" fn(
        Dpc: *mut c_void,
        DeferredContext: PVOID,
        SystemArgument1: PVOID,
        SystemArgument2: PVOID,
    ),
>;

/// `MINIPORT_PROCESS_SG_LIST` (`MiniportProcessSGList`), DISPATCH_LEVEL: receives the SG list
/// built by `NdisMAllocateNetBufferSGList`.
pub type MINIPORT_PROCESS_SG_LIST = Option<
    unsafe extern "system" fn(
        pDO: PDEVICE_OBJECT,
        Reserved: PVOID,
        pSGL: PSCATTER_GATHER_LIST,
        Context: PVOID,
    ),
>;
/// `MINIPORT_PROCESS_SG_LIST_HANDLER`.
pub type MINIPORT_PROCESS_SG_LIST_HANDLER = MINIPORT_PROCESS_SG_LIST;

/// `MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE` (`MiniportSharedMemoryAllocateComplete`), PASSIVE_LEVEL.
pub type MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        VirtualAddress: PVOID,
        PhysicalAddress: *mut NDIS_PHYSICAL_ADDRESS,
        Length: ULONG,
        Context: PVOID,
    ),
>;
/// `MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE_HANDLER`.
pub type MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE_HANDLER = MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE;

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "system" fn init(
        _: NDIS_HANDLE,
        _: NDIS_HANDLE,
        _: PNDIS_MINIPORT_INIT_PARAMETERS,
    ) -> NDIS_STATUS {
        0
    }

    #[test]
    fn characteristics_revision2_header_and_handler_slots() {
        let mut c = NDIS_MINIPORT_DRIVER_CHARACTERISTICS::revision2();
        assert_eq!(c.Header.Type, 0x8A);
        assert_eq!(c.Header.Revision, 2);
        assert_eq!(c.Header.Size, 152);
        c.InitializeHandlerEx = Some(init);
        // The recipe's emulator decodes handler pointers from offset 16 in declaration order;
        // InitializeHandlerEx is the second one (offset 24).
        let base = core::ptr::addr_of!(c) as usize;
        let slot = core::ptr::addr_of!(c.InitializeHandlerEx) as usize;
        assert_eq!(slot - base, 24);
        // SAFETY: reading the pointer-sized slot as usize; Option<fn> is a nullable pointer.
        let raw: usize = unsafe { core::mem::transmute(c.InitializeHandlerEx) };
        assert_eq!(raw, init as *const () as usize);
        // SAFETY: as above, a None slot is the null pointer.
        let none: usize = unsafe { core::mem::transmute(c.HaltHandlerEx) };
        assert_eq!(none, 0);
    }

    #[test]
    fn throttle_more_nbls_pending_is_bit0() {
        let mut t = NDIS_RECEIVE_THROTTLE_PARAMETERS {
            MaxNblsToIndicate: 64,
            Flags: 0xFFFF_FFF0,
        };
        t.set_more_nbls_pending(true);
        assert_eq!(t.Flags, 0xFFFF_FFF1);
        t.set_more_nbls_pending(false);
        assert_eq!(t.Flags, 0xFFFF_FFF0);
    }
}
