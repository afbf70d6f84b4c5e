//! `NET_BUFFER_LIST`, `NET_BUFFER`, `MDL` (`ndis/nbl.h`, `wdm.h`) and the WDK accessor macros
//! (`ndis/nblaccessors.h`) as methods.
//!
//! Layouts are x64/ARM64 (`MEMORY_ALLOCATION_ALIGNMENT` = 16, `SLIST_HEADER` = 16 bytes).

use crate::basic::{NDIS_HANDLE, NDIS_STATUS, PHYSICAL_ADDRESS, PVOID, ULONG, USHORT};
use crate::nblinfo::MaxNetBufferListInfo;

/// `SLIST_HEADER` on x64: 16 bytes, 16-byte aligned (interlocked singly linked list head).
#[repr(C, align(16))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SLIST_HEADER {
    /// Low half (`Alignment`).
    pub Alignment: u64,
    /// High half (`Region`).
    pub Region: u64,
}
assert_layout!(SLIST_HEADER, size = 16);

/// `MDL`: describes the physical pages of a virtually contiguous buffer. A PFN array follows the
/// structure in memory.
#[repr(C)]
#[derive(Debug)]
pub struct MDL {
    /// Next MDL of a chain.
    pub Next: *mut MDL,
    /// Size of the MDL including the PFN array (`CSHORT`).
    pub Size: i16,
    /// `MDL_*` flags (`CSHORT`).
    pub MdlFlags: i16,
    /// Owning process (`PEPROCESS`).
    pub Process: PVOID,
    /// System VA when `MDL_MAPPED_TO_SYSTEM_VA` or `MDL_SOURCE_IS_NONPAGED_POOL` is set.
    pub MappedSystemVa: PVOID,
    /// Page-aligned start VA of the buffer.
    pub StartVa: PVOID,
    /// Bytes described.
    pub ByteCount: ULONG,
    /// Offset of the buffer start within the first page.
    pub ByteOffset: ULONG,
}
assert_layout!(
    MDL,
    size = 48,
    Next = 0,
    Size = 8,
    MdlFlags = 10,
    Process = 16,
    MappedSystemVa = 24,
    StartVa = 32,
    ByteCount = 40,
    ByteOffset = 44
);
/// `PMDL`.
pub type PMDL = *mut MDL;

/// `MDL_MAPPED_TO_SYSTEM_VA`.
pub const MDL_MAPPED_TO_SYSTEM_VA: i16 = 0x0001;
/// `MDL_PAGES_LOCKED`.
pub const MDL_PAGES_LOCKED: i16 = 0x0002;
/// `MDL_SOURCE_IS_NONPAGED_POOL`.
pub const MDL_SOURCE_IS_NONPAGED_POOL: i16 = 0x0004;
/// `MDL_ALLOCATED_FIXED_SIZE`.
pub const MDL_ALLOCATED_FIXED_SIZE: i16 = 0x0008;
/// `MDL_PARTIAL`.
pub const MDL_PARTIAL: i16 = 0x0010;
/// `MDL_PARTIAL_HAS_BEEN_MAPPED`.
pub const MDL_PARTIAL_HAS_BEEN_MAPPED: i16 = 0x0020;
/// `MDL_IO_PAGE_READ`.
pub const MDL_IO_PAGE_READ: i16 = 0x0040;
/// `MDL_WRITE_OPERATION`.
pub const MDL_WRITE_OPERATION: i16 = 0x0080;
/// `MDL_LOCKED_PAGE_TABLES` (formerly `MDL_PARENT_MAPPED_SYSTEM_VA`).
pub const MDL_LOCKED_PAGE_TABLES: i16 = 0x0100;
/// `MDL_FREE_EXTRA_PTES`.
pub const MDL_FREE_EXTRA_PTES: i16 = 0x0200;
/// `MDL_DESCRIBES_AWE`.
pub const MDL_DESCRIBES_AWE: i16 = 0x0400;
/// `MDL_IO_SPACE`.
pub const MDL_IO_SPACE: i16 = 0x0800;
/// `MDL_NETWORK_HEADER`.
pub const MDL_NETWORK_HEADER: i16 = 0x1000;
/// `MDL_MAPPING_CAN_FAIL`.
pub const MDL_MAPPING_CAN_FAIL: i16 = 0x2000;
/// `MDL_PAGE_CONTENTS_INVARIANT` (formerly `MDL_ALLOCATED_MUST_SUCCEED`).
pub const MDL_PAGE_CONTENTS_INVARIANT: i16 = 0x4000;
/// `MDL_INTERNAL` (`0x8000` as a `CSHORT`).
pub const MDL_INTERNAL: i16 = 0x8000_u16 as i16;

/// The `MmGetSystemAddressForMdlSafe` fast path as a pure function of the MDL flags:
/// `Some(MappedSystemVa)` when either `MDL_MAPPED_TO_SYSTEM_VA` or `MDL_SOURCE_IS_NONPAGED_POOL`
/// is set; `None` means the caller must map the pages (`MmMapLockedPagesSpecifyCache`), which
/// NDIS miniports normally avoid by using `NdisQueryMdl` / `NdisGetDataBuffer`.
pub fn mdl_system_address_if_mapped(mdl: &MDL) -> Option<PVOID> {
    if mdl.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0 {
        Some(mdl.MappedSystemVa)
    } else {
        None
    }
}

/// `NET_BUFFER_SHARED_MEMORY` (NDIS 6.20).
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER_SHARED_MEMORY {
    /// Next segment.
    pub NextSharedMemorySegment: *mut NET_BUFFER_SHARED_MEMORY,
    /// Flags.
    pub SharedMemoryFlags: ULONG,
    /// Allocation handle.
    pub SharedMemoryHandle: NDIS_HANDLE,
    /// Offset in the allocation.
    pub SharedMemoryOffset: ULONG,
    /// Length.
    pub SharedMemoryLength: ULONG,
}
assert_layout!(
    NET_BUFFER_SHARED_MEMORY,
    size = 32,
    SharedMemoryHandle = 16,
    SharedMemoryOffset = 24
);

/// The anonymous `DataLength` / `stDataLength` union of `NET_BUFFER`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_DATA_LENGTH {
    /// Bytes of data in the NET_BUFFER (the part NDIS uses).
    pub DataLength: ULONG,
    /// Pointer-sized view.
    pub stDataLength: usize,
}

/// `NET_BUFFER_DATA`: the linkage/data part of `NET_BUFFER` (legacy name of the anonymous struct).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NET_BUFFER_DATA {
    /// Next NET_BUFFER of the NBL.
    pub Next: *mut NET_BUFFER,
    /// MDL holding the current data start.
    pub CurrentMdl: *mut MDL,
    /// Offset of the data start inside `CurrentMdl`.
    pub CurrentMdlOffset: ULONG,
    /// Data length.
    pub NbDataLength: NET_BUFFER_DATA_LENGTH,
    /// First MDL of the chain (including unused data space before `DataOffset`).
    pub MdlChain: *mut MDL,
    /// Offset of the data start from the beginning of `MdlChain`.
    pub DataOffset: ULONG,
}
assert_layout!(
    NET_BUFFER_DATA,
    size = 48,
    Next = 0,
    CurrentMdl = 8,
    CurrentMdlOffset = 16,
    NbDataLength = 24,
    MdlChain = 32,
    DataOffset = 40
);

/// `NET_BUFFER_HEADER`: union of the data part and the free-list link.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_HEADER {
    /// Data view (`NetBufferData`).
    pub NetBufferData: NET_BUFFER_DATA,
    /// Pool free-list link.
    pub Link: SLIST_HEADER,
}
assert_layout!(NET_BUFFER_HEADER, size = 48);

/// `NET_BUFFER`: one frame's data (an MDL chain window) inside a NET_BUFFER_LIST.
#[repr(C)]
pub struct NET_BUFFER {
    /// Linkage and data window (`NetBufferHeader`).
    pub NetBufferHeader: NET_BUFFER_HEADER,
    /// Checksum bias.
    pub ChecksumBias: USHORT,
    /// Reserved.
    pub Reserved: USHORT,
    /// Pool this NB was allocated from.
    pub NdisPoolHandle: NDIS_HANDLE,
    /// Reserved for NDIS.
    pub NdisReserved: [PVOID; 2],
    /// Reserved for the protocol.
    pub ProtocolReserved: [PVOID; 6],
    /// Free for the miniport while it owns the NB.
    pub MiniportReserved: [PVOID; 4],
    /// Physical address of the data (when known).
    pub DataPhysicalAddress: PHYSICAL_ADDRESS,
    /// `SharedMemoryInfo` / `ScatterGatherList` union.
    pub SharedMemoryInfo: PVOID,
}
assert_layout!(
    NET_BUFFER,
    size = 176,
    NetBufferHeader = 0,
    ChecksumBias = 48,
    Reserved = 50,
    NdisPoolHandle = 56,
    NdisReserved = 64,
    ProtocolReserved = 80,
    MiniportReserved = 128,
    DataPhysicalAddress = 160,
    SharedMemoryInfo = 168
);
/// `PNET_BUFFER`.
pub type PNET_BUFFER = *mut NET_BUFFER;

/// `NET_BUFFER_LIST_CONTEXT` header (context data of `Size` bytes follows at offset 16).
#[repr(C, align(16))]
#[derive(Debug)]
pub struct NET_BUFFER_LIST_CONTEXT {
    /// Next (outer) context.
    pub Next: *mut NET_BUFFER_LIST_CONTEXT,
    /// Bytes of context data.
    pub Size: USHORT,
    /// Offset of the used part.
    pub Offset: USHORT,
}
assert_layout!(
    NET_BUFFER_LIST_CONTEXT,
    size = 16,
    Next = 0,
    Size = 8,
    Offset = 10
);

/// `NET_BUFFER_LIST_DATA`: the linkage part of `NET_BUFFER_LIST`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NET_BUFFER_LIST_DATA {
    /// Next NBL in the chain.
    pub Next: *mut NET_BUFFER_LIST,
    /// First NET_BUFFER of this NBL.
    pub FirstNetBuffer: *mut NET_BUFFER,
}

/// `NET_BUFFER_LIST_HEADER`: union of linkage and free-list link.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_LIST_HEADER {
    /// Linkage view.
    pub NetBufferListData: NET_BUFFER_LIST_DATA,
    /// Pool free-list link.
    pub Link: SLIST_HEADER,
}
assert_layout!(NET_BUFFER_LIST_HEADER, size = 16);

/// `NET_BUFFER_LIST`: one or more frames (NET_BUFFERs) with shared out-of-band info.
#[repr(C)]
pub struct NET_BUFFER_LIST {
    /// Linkage (`Next`, `FirstNetBuffer`).
    pub NetBufferListHeader: NET_BUFFER_LIST_HEADER,
    /// Context stack.
    pub Context: *mut NET_BUFFER_LIST_CONTEXT,
    /// Parent NBL of a clone.
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    /// Pool this NBL was allocated from.
    pub NdisPoolHandle: NDIS_HANDLE,
    // DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) on NdisReserved moves it from 40 to 48.
    _align_NdisReserved: usize,
    /// Reserved for NDIS.
    pub NdisReserved: [PVOID; 2],
    /// Reserved for the protocol.
    pub ProtocolReserved: [PVOID; 4],
    /// Free for the miniport while it owns the NBL.
    pub MiniportReserved: [PVOID; 2],
    /// Scratch pointer for the current owner.
    pub Scratch: PVOID,
    /// Handle of the driver that allocated/sent the NBL; a miniport sets its adapter handle
    /// here on NBLs it indicates.
    pub SourceHandle: NDIS_HANDLE,
    /// `NDIS_NBL_FLAGS_*` (public flags).
    pub NblFlags: ULONG,
    /// Number of outstanding clones.
    pub ChildRefCount: i32,
    /// `NBL_FLAGS_*` private flags.
    pub Flags: ULONG,
    /// Completion status (`Status` / `NdisReserved2` union).
    pub Status: NDIS_STATUS,
    /// Per-NBL out-of-band info, indexed by `NDIS_NET_BUFFER_LIST_INFO`.
    pub NetBufferListInfo: [PVOID; MaxNetBufferListInfo],
}
assert_layout!(
    NET_BUFFER_LIST,
    size = 368,
    NetBufferListHeader = 0,
    Context = 16,
    ParentNetBufferList = 24,
    NdisPoolHandle = 32,
    NdisReserved = 48,
    ProtocolReserved = 64,
    MiniportReserved = 96,
    Scratch = 112,
    SourceHandle = 120,
    NblFlags = 128,
    ChildRefCount = 132,
    Flags = 136,
    Status = 140,
    NetBufferListInfo = 144
);
/// `PNET_BUFFER_LIST`.
pub type PNET_BUFFER_LIST = *mut NET_BUFFER_LIST;

/// `NBL_FLAGS_PROTOCOL_RESERVED` (NDIS 6.30+).
pub const NBL_FLAGS_PROTOCOL_RESERVED: ULONG = 0xFFF0_0003;
/// `NBL_FLAGS_MINIPORT_RESERVED`: `Flags` bits free for the miniport.
pub const NBL_FLAGS_MINIPORT_RESERVED: ULONG = 0x0000_F000;
/// `NBL_FLAGS_SCRATCH`.
pub const NBL_FLAGS_SCRATCH: ULONG = 0x000F_0000;
/// `NBL_FLAGS_NDIS_RESERVED` (NDIS 6.30+).
pub const NBL_FLAGS_NDIS_RESERVED: ULONG = 0x0000_0FFC;

/// `NDIS_NBL_FLAGS_SEND_READ_ONLY`.
pub const NDIS_NBL_FLAGS_SEND_READ_ONLY: ULONG = 0x0000_0001;
/// `NDIS_NBL_FLAGS_RECV_READ_ONLY`.
pub const NDIS_NBL_FLAGS_RECV_READ_ONLY: ULONG = 0x0000_0002;
/// `NDIS_NBL_FLAGS_HD_SPLIT`.
pub const NDIS_NBL_FLAGS_HD_SPLIT: ULONG = 0x0000_0100;
/// `NDIS_NBL_FLAGS_IS_IPV4`.
pub const NDIS_NBL_FLAGS_IS_IPV4: ULONG = 0x0000_0200;
/// `NDIS_NBL_FLAGS_IS_IPV6`.
pub const NDIS_NBL_FLAGS_IS_IPV6: ULONG = 0x0000_0400;
/// `NDIS_NBL_FLAGS_IS_TCP`.
pub const NDIS_NBL_FLAGS_IS_TCP: ULONG = 0x0000_0800;
/// `NDIS_NBL_FLAGS_IS_UDP`.
pub const NDIS_NBL_FLAGS_IS_UDP: ULONG = 0x0000_1000;
/// `NDIS_NBL_FLAGS_SPLIT_AT_UPPER_LAYER_PROTOCOL_HEADER`.
pub const NDIS_NBL_FLAGS_SPLIT_AT_UPPER_LAYER_PROTOCOL_HEADER: ULONG = 0x0000_2000;
/// `NDIS_NBL_FLAGS_SPLIT_AT_UPPER_LAYER_PROTOCOL_PAYLOAD`.
pub const NDIS_NBL_FLAGS_SPLIT_AT_UPPER_LAYER_PROTOCOL_PAYLOAD: ULONG = 0x0000_4000;
/// `NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET`.
pub const NDIS_NBL_FLAGS_IS_LOOPBACK_PACKET: ULONG = 0x0000_8000;
/// `NDIS_NBL_FLAGS_CAPTURE_TIMESTAMP_ON_TRANSMIT` (NDIS 6.82).
pub const NDIS_NBL_FLAGS_CAPTURE_TIMESTAMP_ON_TRANSMIT: ULONG = 0x0001_0000;
