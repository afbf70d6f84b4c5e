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

// ---------------------------------------------------------------------------------------------
// Send / receive / return flags (ndis/nblsend.h, ndis/nblreceive.h)

/// `NDIS_SEND_FLAGS_DISPATCH_LEVEL` (`SendFlags` of `MiniportSendNetBufferLists`).
pub const NDIS_SEND_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
/// `NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK`.
pub const NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK: ULONG = 0x0000_0002;
/// `NDIS_SEND_FLAGS_SINGLE_QUEUE`.
pub const NDIS_SEND_FLAGS_SINGLE_QUEUE: ULONG = 0x0000_0004;
/// `NDIS_SEND_FLAGS_SWITCH_DESTINATION_GROUP`.
pub const NDIS_SEND_FLAGS_SWITCH_DESTINATION_GROUP: ULONG = 0x0000_0010;
/// `NDIS_SEND_FLAGS_SWITCH_SINGLE_SOURCE`.
pub const NDIS_SEND_FLAGS_SWITCH_SINGLE_SOURCE: ULONG = 0x0000_0020;
/// `NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL` (`NdisMSendNetBufferListsComplete`).
pub const NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
/// `NDIS_SEND_COMPLETE_FLAGS_SINGLE_QUEUE`.
pub const NDIS_SEND_COMPLETE_FLAGS_SINGLE_QUEUE: ULONG = 0x0000_0002;
/// `NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE`.
pub const NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE: ULONG = 0x0000_0004;
/// `NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL` (`NdisMIndicateReceiveNetBufferLists`).
pub const NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
/// `NDIS_RECEIVE_FLAGS_RESOURCES`: the NBLs return to the miniport when the call returns.
pub const NDIS_RECEIVE_FLAGS_RESOURCES: ULONG = 0x0000_0002;
/// `NDIS_RECEIVE_FLAGS_SINGLE_ETHER_TYPE`.
pub const NDIS_RECEIVE_FLAGS_SINGLE_ETHER_TYPE: ULONG = 0x0000_0100;
/// `NDIS_RECEIVE_FLAGS_SINGLE_VLAN`.
pub const NDIS_RECEIVE_FLAGS_SINGLE_VLAN: ULONG = 0x0000_0200;
/// `NDIS_RECEIVE_FLAGS_PERFECT_FILTERED`.
pub const NDIS_RECEIVE_FLAGS_PERFECT_FILTERED: ULONG = 0x0000_0400;
/// `NDIS_RECEIVE_FLAGS_SINGLE_QUEUE`.
pub const NDIS_RECEIVE_FLAGS_SINGLE_QUEUE: ULONG = 0x0000_0800;
/// `NDIS_RECEIVE_FLAGS_SHARED_MEMORY_INFO_VALID`.
pub const NDIS_RECEIVE_FLAGS_SHARED_MEMORY_INFO_VALID: ULONG = 0x0000_1000;
/// `NDIS_RECEIVE_FLAGS_MORE_NBLS`.
pub const NDIS_RECEIVE_FLAGS_MORE_NBLS: ULONG = 0x0000_2000;
/// `NDIS_RECEIVE_FLAGS_SWITCH_DESTINATION_GROUP`.
pub const NDIS_RECEIVE_FLAGS_SWITCH_DESTINATION_GROUP: ULONG = 0x0000_4000;
/// `NDIS_RECEIVE_FLAGS_SWITCH_SINGLE_SOURCE`.
pub const NDIS_RECEIVE_FLAGS_SWITCH_SINGLE_SOURCE: ULONG = 0x0000_8000;
/// `NDIS_RETURN_FLAGS_DISPATCH_LEVEL` (`ReturnFlags` of `MiniportReturnNetBufferLists`).
pub const NDIS_RETURN_FLAGS_DISPATCH_LEVEL: ULONG = 0x0000_0001;
/// `NDIS_RETURN_FLAGS_SINGLE_QUEUE`.
pub const NDIS_RETURN_FLAGS_SINGLE_QUEUE: ULONG = 0x0000_0002;
/// `NDIS_RETURN_FLAGS_SWITCH_SINGLE_SOURCE`.
pub const NDIS_RETURN_FLAGS_SWITCH_SINGLE_SOURCE: ULONG = 0x0000_0004;

/// `NDIS_TEST_SEND_AT_DISPATCH_LEVEL(flags)`.
pub const fn NDIS_TEST_SEND_AT_DISPATCH_LEVEL(flags: ULONG) -> bool {
    flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0
}
/// `NDIS_TEST_RETURN_AT_DISPATCH_LEVEL(flags)`.
pub const fn NDIS_TEST_RETURN_AT_DISPATCH_LEVEL(flags: ULONG) -> bool {
    flags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0
}
/// `NDIS_SET_SEND_COMPLETE_FLAG(flags, f)` (returns the new value instead of assigning).
pub const fn NDIS_SET_SEND_COMPLETE_FLAG(flags: ULONG, f: ULONG) -> ULONG {
    flags | f
}
/// `NDIS_SET_RETURN_FLAG(flags, f)`.
pub const fn NDIS_SET_RETURN_FLAG(flags: ULONG, f: ULONG) -> ULONG {
    flags | f
}
/// `NDIS_SET_RECEIVE_FLAG(flags, f)`.
pub const fn NDIS_SET_RECEIVE_FLAG(flags: ULONG, f: ULONG) -> ULONG {
    flags | f
}

// ---------------------------------------------------------------------------------------------
// Pools (ndis/nblapi.h)

/// `NDIS_PROTOCOL_ID_DEFAULT` (`NET_BUFFER_LIST_POOL_PARAMETERS.ProtocolId` for miniports).
pub const NDIS_PROTOCOL_ID_DEFAULT: u8 = 0x00;
/// `NDIS_PROTOCOL_ID_TCP_IP`.
pub const NDIS_PROTOCOL_ID_TCP_IP: u8 = 0x02;
/// `NDIS_PROTOCOL_ID_IP6`.
pub const NDIS_PROTOCOL_ID_IP6: u8 = 0x03;

/// `NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1`.
pub const NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1`.
pub const NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: USHORT = 16;

/// `NET_BUFFER_LIST_POOL_PARAMETERS` for `NdisAllocateNetBufferListPool` (header type
/// `NDIS_OBJECT_TYPE_DEFAULT`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NET_BUFFER_LIST_POOL_PARAMETERS {
    /// Header.
    pub Header: crate::object::NDIS_OBJECT_HEADER,
    /// `NDIS_PROTOCOL_ID_DEFAULT` for a miniport.
    pub ProtocolId: u8,
    /// `TRUE`: each NBL comes with one NET_BUFFER (`NdisAllocateNetBufferAndNetBufferList`).
    pub fAllocateNetBuffer: crate::basic::BOOLEAN,
    /// Context bytes per NBL (multiple of `MEMORY_ALLOCATION_ALIGNMENT`).
    pub ContextSize: USHORT,
    /// Pool tag.
    pub PoolTag: ULONG,
    /// Data buffer bytes NDIS pre-allocates per NBL (0 = none).
    pub DataSize: ULONG,
}
assert_layout!(
    NET_BUFFER_LIST_POOL_PARAMETERS,
    size = 16,
    Header = 0,
    ProtocolId = 4,
    fAllocateNetBuffer = 5,
    ContextSize = 6,
    PoolTag = 8,
    DataSize = 12
);

/// `NET_BUFFER_POOL_PARAMETERS_REVISION_1`.
pub const NET_BUFFER_POOL_PARAMETERS_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1`.
pub const NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1: USHORT = 12;

/// `NET_BUFFER_POOL_PARAMETERS` for `NdisAllocateNetBufferPool`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NET_BUFFER_POOL_PARAMETERS {
    /// Header.
    pub Header: crate::object::NDIS_OBJECT_HEADER,
    /// Pool tag.
    pub PoolTag: ULONG,
    /// Pre-allocated data bytes per NB.
    pub DataSize: ULONG,
}
assert_layout!(
    NET_BUFFER_POOL_PARAMETERS,
    size = 12,
    Header = 0,
    PoolTag = 4,
    DataSize = 8
);

/// `NET_BUFFER_ALLOCATE_MDL` callback for `NdisRetreatNetBufferDataStart` (in/out buffer size).
pub type NET_BUFFER_ALLOCATE_MDL =
    Option<unsafe extern "system" fn(BufferSize: *mut ULONG) -> *mut MDL>;
/// `NET_BUFFER_FREE_MDL` callback for `NdisAdvanceNetBufferDataStart`.
pub type NET_BUFFER_FREE_MDL = Option<unsafe extern "system" fn(Mdl: *mut MDL)>;

/// `NDIS_CLONE_FLAGS_RESERVED`.
pub const NDIS_CLONE_FLAGS_RESERVED: ULONG = 0x0000_0001;
/// `NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS`.
pub const NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS: ULONG = 0x0000_0002;

// ---------------------------------------------------------------------------------------------
// Accessors (ndis/nblaccessors.h macros)

impl MDL {
    /// `MmGetMdlByteCount`.
    pub const fn byte_count(&self) -> ULONG {
        self.ByteCount
    }
    /// `MmGetMdlByteOffset`.
    pub const fn byte_offset(&self) -> ULONG {
        self.ByteOffset
    }
    /// `MmGetMdlVirtualAddress` (`StartVa + ByteOffset`, as an address; not dereferenceable
    /// unless mapped).
    pub fn virtual_address(&self) -> usize {
        (self.StartVa as usize).wrapping_add(self.ByteOffset as usize)
    }
    /// `NDIS_MDL_LINKAGE` / `NDIS_BUFFER_LINKAGE`: the next MDL of the chain.
    pub const fn next(&self) -> *mut MDL {
        self.Next
    }
}

impl NET_BUFFER {
    fn data(&self) -> &NET_BUFFER_DATA {
        // SAFETY: both union views are plain pointer/integer data, any bit pattern is a valid
        // NET_BUFFER_DATA; the data view is the one NDIS keeps current while the NB is in use.
        unsafe { &self.NetBufferHeader.NetBufferData }
    }
    fn data_mut(&mut self) -> &mut NET_BUFFER_DATA {
        // SAFETY: as in `data`.
        unsafe { &mut self.NetBufferHeader.NetBufferData }
    }
    /// `NET_BUFFER_NEXT_NB`.
    pub fn next_nb(&self) -> *mut NET_BUFFER {
        self.data().Next
    }
    /// Sets the `Next` link.
    pub fn set_next_nb(&mut self, next: *mut NET_BUFFER) {
        self.data_mut().Next = next;
    }
    /// `NET_BUFFER_FIRST_MDL` (= `MdlChain`).
    pub fn first_mdl(&self) -> *mut MDL {
        self.data().MdlChain
    }
    /// `NET_BUFFER_CURRENT_MDL`.
    pub fn current_mdl(&self) -> *mut MDL {
        self.data().CurrentMdl
    }
    /// `NET_BUFFER_CURRENT_MDL_OFFSET`.
    pub fn current_mdl_offset(&self) -> ULONG {
        self.data().CurrentMdlOffset
    }
    /// `NET_BUFFER_DATA_LENGTH`.
    pub fn data_length(&self) -> ULONG {
        // SAFETY: reading the ULONG view of an integer union.
        unsafe { self.data().NbDataLength.DataLength }
    }
    /// Sets `DataLength` (only legal for NBs the miniport owns, e.g. its receive NBs).
    pub fn set_data_length(&mut self, len: ULONG) {
        self.data_mut().NbDataLength.DataLength = len;
    }
    /// `NET_BUFFER_DATA_OFFSET`.
    pub fn data_offset(&self) -> ULONG {
        self.data().DataOffset
    }
    /// `NET_BUFFER_MINIPORT_RESERVED`.
    pub fn miniport_reserved(&mut self) -> &mut [PVOID; 4] {
        &mut self.MiniportReserved
    }
}

impl NET_BUFFER_LIST {
    fn links(&self) -> &NET_BUFFER_LIST_DATA {
        // SAFETY: both union views are plain pointer data; NDIS keeps the linkage view current
        // while the NBL is in use.
        unsafe { &self.NetBufferListHeader.NetBufferListData }
    }
    fn links_mut(&mut self) -> &mut NET_BUFFER_LIST_DATA {
        // SAFETY: as in `links`.
        unsafe { &mut self.NetBufferListHeader.NetBufferListData }
    }
    /// `NET_BUFFER_LIST_NEXT_NBL`.
    pub fn next_nbl(&self) -> *mut NET_BUFFER_LIST {
        self.links().Next
    }
    /// Sets the `Next` link (used to split/chain NBL lists).
    pub fn set_next_nbl(&mut self, next: *mut NET_BUFFER_LIST) {
        self.links_mut().Next = next;
    }
    /// `NET_BUFFER_LIST_FIRST_NB`.
    pub fn first_nb(&self) -> *mut NET_BUFFER {
        self.links().FirstNetBuffer
    }
    /// Sets `FirstNetBuffer`.
    pub fn set_first_nb(&mut self, nb: *mut NET_BUFFER) {
        self.links_mut().FirstNetBuffer = nb;
    }
    /// `NET_BUFFER_LIST_STATUS`.
    pub const fn status(&self) -> NDIS_STATUS {
        self.Status
    }
    /// Sets `NET_BUFFER_LIST_STATUS` (before `NdisMSendNetBufferListsComplete`).
    pub fn set_status(&mut self, status: NDIS_STATUS) {
        self.Status = status;
    }
    /// `NET_BUFFER_LIST_INFO(nbl, id)`; `None` for an index beyond `MaxNetBufferListInfo`.
    pub fn info(&self, id: usize) -> Option<PVOID> {
        self.NetBufferListInfo.get(id).copied()
    }
    /// Pointer-sized slot value as an integer (the offload unions are stored by value).
    pub fn info_value(&self, id: usize) -> Option<usize> {
        self.info(id).map(|p| p as usize)
    }
    /// `NET_BUFFER_LIST_INFO(nbl, id) = value`; `false` (nothing written) for a bad index.
    pub fn set_info(&mut self, id: usize, value: PVOID) -> bool {
        match self.NetBufferListInfo.get_mut(id) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }
    /// Stores an integer slot value (see [`crate::nblinfo`] for the typed views).
    pub fn set_info_value(&mut self, id: usize, value: usize) -> bool {
        self.set_info(id, value as PVOID)
    }
    /// `NET_BUFFER_LIST_FLAGS` (private `Flags`).
    pub const fn flags(&self) -> ULONG {
        self.Flags
    }
    /// `NBL_TEST_FLAG(nbl, f)` (private `Flags`; the miniport owns `NBL_FLAGS_MINIPORT_RESERVED`).
    pub const fn test_flag(&self, f: ULONG) -> bool {
        self.Flags & f != 0
    }
    /// `NBL_SET_FLAG(nbl, f)`.
    pub fn set_flag(&mut self, f: ULONG) {
        self.Flags |= f;
    }
    /// `NBL_CLEAR_FLAG(nbl, f)`.
    pub fn clear_flag(&mut self, f: ULONG) {
        self.Flags &= !f;
    }
    /// `NdisTestNblFlag(nbl, f)` (public `NblFlags`).
    pub const fn test_nbl_flag(&self, f: ULONG) -> bool {
        self.NblFlags & f != 0
    }
    /// `NdisSetNblFlag(nbl, f)`.
    pub fn set_nbl_flag(&mut self, f: ULONG) {
        self.NblFlags |= f;
    }
    /// `NdisClearNblFlag(nbl, f)`.
    pub fn clear_nbl_flag(&mut self, f: ULONG) {
        self.NblFlags &= !f;
    }
    /// `NDIS_GET_NET_BUFFER_LIST_CANCEL_ID`.
    pub fn cancel_id(&self) -> PVOID {
        self.NetBufferListInfo[crate::nblinfo::NetBufferListCancelId]
    }
    /// `NET_BUFFER_LIST_MINIPORT_RESERVED`.
    pub fn miniport_reserved(&mut self) -> &mut [PVOID; 2] {
        &mut self.MiniportReserved
    }
    /// `NET_BUFFER_LIST_CONTEXT_DATA_START`: start of the current context area.
    ///
    /// # Safety
    /// `Context` must be non-null and point to a context header allocated by NDIS
    /// (`NdisAllocateNetBufferListContext` / a pool with `ContextSize`) whose data area holds at
    /// least `Offset` bytes.
    pub unsafe fn context_data_start(&self) -> *mut u8 {
        let ctx = self.Context;
        // SAFETY: the caller guarantees `ctx` points to a valid context header.
        let offset = usize::from(unsafe { (*ctx).Offset });
        // SAFETY: the data area follows the 16-byte header; `Offset` stays inside it (caller).
        unsafe {
            ctx.cast::<u8>()
                .add(core::mem::size_of::<NET_BUFFER_LIST_CONTEXT>() + offset)
        }
    }
}

/// Iterator over an NBL chain linked by `Next` (yields raw pointers).
pub struct NblChain {
    cur: *mut NET_BUFFER_LIST,
}

impl NblChain {
    /// Starts at `head` (may be null: empty chain).
    ///
    /// # Safety
    /// Every NBL reachable from `head` must stay valid and unmodified in its `Next` link while
    /// the iterator is used.
    pub unsafe fn new(head: *mut NET_BUFFER_LIST) -> Self {
        Self { cur: head }
    }
}

impl Iterator for NblChain {
    type Item = *mut NET_BUFFER_LIST;
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur.is_null() {
            return None;
        }
        let this = self.cur;
        // SAFETY: non-null and valid per the constructor's contract.
        self.cur = unsafe { &*this }.next_nbl();
        Some(this)
    }
}

/// Iterator over the NET_BUFFERs of one NBL (yields raw pointers).
pub struct NbChain {
    cur: *mut NET_BUFFER,
}

impl NbChain {
    /// Starts at `nbl`'s first NET_BUFFER.
    ///
    /// # Safety
    /// `nbl` and every NB reachable from it must stay valid and unmodified in their links while
    /// the iterator is used.
    pub unsafe fn new(nbl: *const NET_BUFFER_LIST) -> Self {
        // SAFETY: the caller guarantees `nbl` is valid.
        let nbl = unsafe { &*nbl };
        Self {
            cur: nbl.first_nb(),
        }
    }
}

impl Iterator for NbChain {
    type Item = *mut NET_BUFFER;
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur.is_null() {
            return None;
        }
        let this = self.cur;
        // SAFETY: non-null and valid per the constructor's contract.
        self.cur = unsafe { &*this }.next_nb();
        Some(this)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ptr::null_mut;

    fn zeroed<T>() -> T {
        // SAFETY: test-only; used for the plain-data NDIS structures below (pointers/integers).
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn nbl_links_and_info_slots_use_the_wdk_fields() {
        let mut a: NET_BUFFER_LIST = zeroed();
        let mut b: NET_BUFFER_LIST = zeroed();
        let mut nb: NET_BUFFER = zeroed();
        a.set_next_nbl(&mut b);
        a.set_first_nb(&mut nb);
        nb.set_data_length(1514);
        assert_eq!(a.next_nbl(), &mut b as *mut _);
        assert_eq!(a.first_nb(), &mut nb as *mut _);
        // The link really is the first pointer of the structure (NET_BUFFER_LIST_NEXT_NBL).
        // SAFETY: reading the first 8 bytes of a live struct.
        let raw_next = unsafe { *(core::ptr::addr_of!(a) as *const usize) };
        assert_eq!(raw_next, &mut b as *mut _ as usize);
        assert!(a.set_info_value(crate::nblinfo::TcpRecvSegCoalesceInfo, 0x0001_0005));
        assert_eq!(a.NetBufferListInfo[22] as usize, 0x0001_0005);
        assert!(!a.set_info_value(crate::nblinfo::MaxNetBufferListInfo, 1));
        assert_eq!(a.info(27), None);
        assert_eq!(nb.data_length(), 1514);
        // DataLength is at offset 24 of NET_BUFFER.
        let len_ptr = core::ptr::addr_of!(nb)
            .cast::<u8>()
            .wrapping_add(24)
            .cast::<u32>();
        // SAFETY: offset 24 is in bounds and 4-aligned inside the live, 16-aligned NET_BUFFER.
        let raw_len = unsafe { *len_ptr };
        assert_eq!(raw_len, 1514);
    }

    #[test]
    fn chain_iterators_visit_every_element_once() {
        let mut n: [NET_BUFFER_LIST; 3] = [zeroed(), zeroed(), zeroed()];
        let p: [*mut NET_BUFFER_LIST; 3] = [&mut n[0], &mut n[1], &mut n[2]];
        // SAFETY: the pointers come from the live array.
        unsafe {
            (*p[0]).set_next_nbl(p[1]);
        }
        // SAFETY: as above.
        unsafe {
            (*p[1]).set_next_nbl(p[2]);
        }
        let v: [*mut NET_BUFFER_LIST; 3] = {
            // SAFETY: the chain is built from live elements and not modified during iteration.
            let mut it = unsafe { NblChain::new(p[0]) };
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(v, p);
        // SAFETY: a null head is an empty chain.
        assert_eq!(unsafe { NblChain::new(null_mut()) }.count(), 0);
        let mut nbs: [NET_BUFFER; 2] = [zeroed(), zeroed()];
        let nbp: *mut NET_BUFFER = &mut nbs[1];
        nbs[0].set_next_nb(nbp);
        let mut l: NET_BUFFER_LIST = zeroed();
        l.set_first_nb(&mut nbs[0]);
        // SAFETY: `l` and both NBs are live and unmodified while iterating.
        assert_eq!(unsafe { NbChain::new(&l) }.count(), 2);
    }

    #[test]
    fn mdl_mapped_address_follows_the_flags() {
        let mut m: MDL = zeroed();
        m.MappedSystemVa = 0x1000 as PVOID;
        assert_eq!(mdl_system_address_if_mapped(&m), None);
        m.MdlFlags = MDL_SOURCE_IS_NONPAGED_POOL;
        assert_eq!(mdl_system_address_if_mapped(&m), Some(0x1000 as PVOID));
        m.MdlFlags = MDL_MAPPED_TO_SYSTEM_VA | MDL_PAGES_LOCKED;
        assert_eq!(mdl_system_address_if_mapped(&m), Some(0x1000 as PVOID));
        m.MdlFlags = MDL_PAGES_LOCKED | MDL_PARTIAL;
        assert_eq!(mdl_system_address_if_mapped(&m), None);
        m.StartVa = 0x7000 as PVOID;
        m.ByteOffset = 0x123;
        assert_eq!(m.virtual_address(), 0x7123);
    }

    #[test]
    fn dispatch_level_flag_tests() {
        assert!(NDIS_TEST_SEND_AT_DISPATCH_LEVEL(
            NDIS_SEND_FLAGS_DISPATCH_LEVEL | NDIS_SEND_FLAGS_SINGLE_QUEUE
        ));
        assert!(!NDIS_TEST_SEND_AT_DISPATCH_LEVEL(
            NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK
        ));
        assert!(NDIS_TEST_RETURN_AT_DISPATCH_LEVEL(1));
        assert_eq!(
            NDIS_SET_SEND_COMPLETE_FLAG(0, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL),
            1
        );
    }
}
