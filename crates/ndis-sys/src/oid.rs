//! `NDIS_OID_REQUEST` (`ndis/oidrequest.h`) and the OID numbers a NIC miniport answers
//! (`ntddndis.h`).

use crate::basic::{NDIS_HANDLE, NDIS_OID, NDIS_PORT_NUMBER, PVOID, UCHAR, UINT, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_REQUEST_TYPE` (C enum).
pub type NDIS_REQUEST_TYPE = i32;
/// `NdisRequestQueryInformation`.
pub const NdisRequestQueryInformation: NDIS_REQUEST_TYPE = 0;
/// `NdisRequestSetInformation`.
pub const NdisRequestSetInformation: NDIS_REQUEST_TYPE = 1;
/// `NdisRequestQueryStatistics` (treat like a query).
pub const NdisRequestQueryStatistics: NDIS_REQUEST_TYPE = 2;
/// `NdisRequestMethod`.
pub const NdisRequestMethod: NDIS_REQUEST_TYPE = 12;

/// `NDIS_OID_REQUEST_TIMEOUT_INFINITE`.
pub const NDIS_OID_REQUEST_TIMEOUT_INFINITE: UINT = 0;
/// `NDIS_OID_REQUEST_NDIS_RESERVED_SIZE` (in pointers).
pub const NDIS_OID_REQUEST_NDIS_RESERVED_SIZE: usize = 16;
/// `NDIS_OID_REQUEST_REVISION_1`.
pub const NDIS_OID_REQUEST_REVISION_1: UCHAR = 1;
/// `NDIS_OID_REQUEST_REVISION_2` (NDIS 6.50: `SwitchId`, `VPortId`, `Flags`).
pub const NDIS_OID_REQUEST_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_OID_REQUEST_REVISION_1` (through `Reserved2`).
pub const NDIS_SIZEOF_OID_REQUEST_REVISION_1: USHORT = 236;
/// `NDIS_SIZEOF_OID_REQUEST_REVISION_2` (through `Flags`).
pub const NDIS_SIZEOF_OID_REQUEST_REVISION_2: USHORT = 248;
/// `NDIS_OID_REQUEST_FLAGS_VPORT_ID_VALID`.
pub const NDIS_OID_REQUEST_FLAGS_VPORT_ID_VALID: ULONG = 0x0001;

/// `DATA.QUERY_INFORMATION` of an `NDIS_OID_REQUEST`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_OID_REQUEST_QUERY {
    /// The OID.
    pub Oid: NDIS_OID,
    /// Output buffer (NDIS-owned, `InformationBufferLength` bytes).
    pub InformationBuffer: PVOID,
    /// Bytes available at `InformationBuffer`.
    pub InformationBufferLength: UINT,
    /// Bytes the miniport wrote.
    pub BytesWritten: UINT,
    /// Bytes the miniport needs (set with `NDIS_STATUS_BUFFER_TOO_SHORT` / `INVALID_LENGTH`).
    pub BytesNeeded: UINT,
}

/// `DATA.SET_INFORMATION` of an `NDIS_OID_REQUEST`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_OID_REQUEST_SET {
    /// The OID.
    pub Oid: NDIS_OID,
    /// Input buffer.
    pub InformationBuffer: PVOID,
    /// Bytes at `InformationBuffer`.
    pub InformationBufferLength: UINT,
    /// Bytes the miniport consumed.
    pub BytesRead: UINT,
    /// Bytes the miniport needs.
    pub BytesNeeded: UINT,
}

/// `DATA.METHOD_INFORMATION` of an `NDIS_OID_REQUEST`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_OID_REQUEST_METHOD {
    /// The OID.
    pub Oid: NDIS_OID,
    /// In/out buffer.
    pub InformationBuffer: PVOID,
    /// Input bytes.
    pub InputBufferLength: ULONG,
    /// Output capacity.
    pub OutputBufferLength: ULONG,
    /// Method id.
    pub MethodId: ULONG,
    /// Bytes written.
    pub BytesWritten: UINT,
    /// Bytes read.
    pub BytesRead: UINT,
    /// Bytes needed.
    pub BytesNeeded: UINT,
}

/// `NDIS_OID_REQUEST.DATA` (union `_REQUEST_DATA`; `Oid` is first in every view).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_OID_REQUEST_DATA {
    /// The OID, valid for every request type.
    pub Oid: NDIS_OID,
    /// For `NdisRequestQueryInformation` / `NdisRequestQueryStatistics`.
    pub QUERY_INFORMATION: NDIS_OID_REQUEST_QUERY,
    /// For `NdisRequestSetInformation`.
    pub SET_INFORMATION: NDIS_OID_REQUEST_SET,
    /// For `NdisRequestMethod`.
    pub METHOD_INFORMATION: NDIS_OID_REQUEST_METHOD,
}

/// `NDIS_OID_REQUEST`: passed to `MiniportOidRequest` / `MiniportDirectOidRequest`, completed with
/// `NdisMOidRequestComplete` when the handler returned `NDIS_STATUS_PENDING`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_REQUEST {
    /// Type `NDIS_OBJECT_TYPE_OID_REQUEST`, revision 1 or 2.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NdisRequest*`.
    pub RequestType: NDIS_REQUEST_TYPE,
    /// Target port.
    pub PortNumber: NDIS_PORT_NUMBER,
    /// Seconds, or `NDIS_OID_REQUEST_TIMEOUT_INFINITE`.
    pub Timeout: UINT,
    /// Identifier used by `MiniportCancelOidRequest`.
    pub RequestId: PVOID,
    /// Handle of the issuer.
    pub RequestHandle: NDIS_HANDLE,
    /// Request-type specific data.
    pub DATA: NDIS_OID_REQUEST_DATA,
    /// Reserved for NDIS.
    pub NdisReserved: [UCHAR; NDIS_OID_REQUEST_NDIS_RESERVED_SIZE * core::mem::size_of::<PVOID>()],
    /// Free for the miniport while it owns the request.
    pub MiniportReserved: [UCHAR; 2 * core::mem::size_of::<PVOID>()],
    /// Reserved for the issuer.
    pub SourceReserved: [UCHAR; 2 * core::mem::size_of::<PVOID>()],
    /// Highest revision the miniport supports for this OID's data (set by the miniport).
    pub SupportedRevision: UCHAR,
    /// Reserved.
    pub Reserved1: UCHAR,
    /// Reserved.
    pub Reserved2: USHORT,
    /// NIC switch id (revision 2).
    pub SwitchId: ULONG,
    /// VPort id (revision 2, valid with `NDIS_OID_REQUEST_FLAGS_VPORT_ID_VALID`).
    pub VPortId: ULONG,
    /// `NDIS_OID_REQUEST_FLAGS_*` (revision 2).
    pub Flags: ULONG,
}
assert_layout!(
    NDIS_OID_REQUEST_QUERY,
    size = 32,
    Oid = 0,
    InformationBuffer = 8,
    InformationBufferLength = 16,
    BytesWritten = 20,
    BytesNeeded = 24
);
assert_layout!(
    NDIS_OID_REQUEST_SET,
    size = 32,
    Oid = 0,
    InformationBuffer = 8,
    InformationBufferLength = 16,
    BytesRead = 20,
    BytesNeeded = 24
);
assert_layout!(
    NDIS_OID_REQUEST_METHOD,
    size = 40,
    InputBufferLength = 16,
    OutputBufferLength = 20,
    MethodId = 24,
    BytesWritten = 28,
    BytesRead = 32,
    BytesNeeded = 36
);
assert_layout!(NDIS_OID_REQUEST_DATA, size = 40);
assert_layout!(
    NDIS_OID_REQUEST,
    size = 248,
    Header = 0,
    RequestType = 4,
    PortNumber = 8,
    Timeout = 12,
    RequestId = 16,
    RequestHandle = 24,
    DATA = 32,
    NdisReserved = 72,
    MiniportReserved = 200,
    SourceReserved = 216,
    SupportedRevision = 232,
    Reserved2 = 234,
    SwitchId = 236,
    VPortId = 240,
    Flags = 244
);
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(
        NDIS_SIZEOF_OID_REQUEST_REVISION_1 as usize
            == core::mem::offset_of!(NDIS_OID_REQUEST, Reserved2) + 2
    );
    assert!(
        NDIS_SIZEOF_OID_REQUEST_REVISION_2 as usize
            == core::mem::offset_of!(NDIS_OID_REQUEST, Flags) + 4
    );
};

/// `PNDIS_OID_REQUEST`.
pub type PNDIS_OID_REQUEST = *mut NDIS_OID_REQUEST;
