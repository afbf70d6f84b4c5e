//! Scatter/gather DMA (`ndis.h` `NDIS_SG_DMA_DESCRIPTION`, `wdm.h` `SCATTER_GATHER_LIST`).

use crate::basic::{PDEVICE_OBJECT, PHYSICAL_ADDRESS, UCHAR, ULONG, ULONG_PTR, USHORT};
use crate::miniport::{
    MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE_HANDLER, MINIPORT_PROCESS_SG_LIST_HANDLER,
};
use crate::object::NDIS_OBJECT_HEADER;

/// `SCATTER_GATHER_ELEMENT`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SCATTER_GATHER_ELEMENT {
    /// Device-visible (logical) address.
    pub Address: PHYSICAL_ADDRESS,
    /// Bytes.
    pub Length: ULONG,
    /// Reserved.
    pub Reserved: ULONG_PTR,
}
assert_layout!(
    SCATTER_GATHER_ELEMENT,
    size = 24,
    Address = 0,
    Length = 8,
    Reserved = 16
);

/// `SCATTER_GATHER_LIST` header; `NumberOfElements` elements follow at offset 16.
#[repr(C)]
#[derive(Debug)]
pub struct SCATTER_GATHER_LIST {
    /// Number of elements.
    pub NumberOfElements: ULONG,
    /// Reserved.
    pub Reserved: ULONG_PTR,
    /// `Elements[]` (flexible array).
    pub Elements: [SCATTER_GATHER_ELEMENT; 0],
}
assert_layout!(
    SCATTER_GATHER_LIST,
    size = 16,
    NumberOfElements = 0,
    Reserved = 8,
    Elements = 16
);
/// `PSCATTER_GATHER_LIST`.
pub type PSCATTER_GATHER_LIST = *mut SCATTER_GATHER_LIST;

impl SCATTER_GATHER_LIST {
    /// The elements as a slice.
    ///
    /// # Safety
    /// `sgl` must point to a list whose `NumberOfElements` elements are readable for `'a`
    /// (true for the list handed to `MiniportProcessSGList` until `NdisMFreeNetBufferSGList`).
    pub unsafe fn elements<'a>(sgl: *const Self) -> &'a [SCATTER_GATHER_ELEMENT] {
        // SAFETY: the caller guarantees `sgl` is valid.
        let n = unsafe { (*sgl).NumberOfElements } as usize;
        // SAFETY: `sgl` is valid, so the element array start is in bounds.
        let first =
            unsafe { core::ptr::addr_of!((*sgl).Elements) }.cast::<SCATTER_GATHER_ELEMENT>();
        // SAFETY: the caller guarantees `n` readable, properly aligned elements follow for 'a.
        unsafe { core::slice::from_raw_parts(first, n) }
    }
}

/// `NDIS_SG_DMA_64_BIT_ADDRESS`.
pub const NDIS_SG_DMA_64_BIT_ADDRESS: ULONG = 0x0000_0001;
/// `NDIS_SG_DMA_V3_HAL_API` (NDIS 6.50).
pub const NDIS_SG_DMA_V3_HAL_API: ULONG = 0x0000_0002;
/// `NDIS_SG_DMA_HYBRID_DMA` (NDIS 6.85).
pub const NDIS_SG_DMA_HYBRID_DMA: ULONG = 0x0000_0004;
/// `NDIS_SG_DMA_DESCRIPTION_REVISION_1`.
pub const NDIS_SG_DMA_DESCRIPTION_REVISION_1: UCHAR = 1;
/// `NDIS_SG_DMA_DESCRIPTION_REVISION_2` (NDIS 6.85: `PdoOverride`).
pub const NDIS_SG_DMA_DESCRIPTION_REVISION_2: UCHAR = 2;
/// `NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1` (through `ScatterGatherListSize`; `size_of` of the
/// pre-6.85 struct is 40).
pub const NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1: USHORT = 36;
/// `NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_2` (through `PdoOverride`).
pub const NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_2: USHORT = 48;
/// `NDIS_SG_LIST_WRITE_TO_DEVICE` (`NdisMAllocateNetBufferSGList` flag).
pub const NDIS_SG_LIST_WRITE_TO_DEVICE: ULONG = 0x0000_0001;

/// `NDIS_SG_DMA_DESCRIPTION` as compiled for NDIS 6.85 (48 bytes, with `PdoOverride`), for
/// `NdisMRegisterScatterGatherDma` (header type `NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION`). A driver
/// running on NDIS < 6.85 registers revision 1 with `Header.Size` 36 and leaves `PdoOverride`
/// null; NDIS then reads only 36 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_SG_DMA_DESCRIPTION {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_SG_DMA_*`.
    pub Flags: ULONG,
    /// Largest single mapping (bytes) the miniport will request.
    pub MaximumPhysicalMapping: ULONG,
    /// `MiniportProcessSGList`.
    pub ProcessSGListHandler: MINIPORT_PROCESS_SG_LIST_HANDLER,
    /// `MiniportSharedMemoryAllocateComplete` (for `NdisMAllocateSharedMemoryAsyncEx`).
    pub SharedMemAllocateCompleteHandler: MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE_HANDLER,
    /// Out: bytes of SG-list storage the miniport must provide per call.
    pub ScatterGatherListSize: ULONG,
    /// NDIS 6.85: PDO to use for DMA instead of the adapter's.
    pub PdoOverride: PDEVICE_OBJECT,
}
assert_layout!(
    NDIS_SG_DMA_DESCRIPTION,
    size = 48,
    Header = 0,
    Flags = 4,
    MaximumPhysicalMapping = 8,
    ProcessSGListHandler = 16,
    SharedMemAllocateCompleteHandler = 24,
    ScatterGatherListSize = 32,
    PdoOverride = 40
);
/// `PNDIS_SG_DMA_DESCRIPTION`.
pub type PNDIS_SG_DMA_DESCRIPTION = *mut NDIS_SG_DMA_DESCRIPTION;
