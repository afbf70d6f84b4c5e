//! DMA memory of the datapath: receive buffers, transmit header/copy slots and bounce buffers, carved
//! out of a few large `NdisMAllocateSharedMemory` regions at PASSIVE_LEVEL (never per packet) and freed
//! when the owner is dropped (PASSIVE_LEVEL: Halt or a failed initialisation).

use alloc::vec::Vec;

use netkvm_virtio::{DmaRegion, Hal};

use crate::device::hal::NdisHal;

/// Size of the regions units are carved from: 64 KiB keeps the number of shared-memory allocations
/// small (16 per 256 receive pages) without asking the allocator for large contiguous runs.
const CHUNK: usize = 64 * 1024;

/// One unit of DMA memory: CPU address and device address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unit {
    /// CPU virtual address.
    pub(crate) va: *mut u8,
    /// Device (bus) address.
    pub(crate) pa: u64,
}

/// The shared-memory regions of one pool; freed on drop.
pub(crate) struct DmaPool {
    hal: NdisHal,
    regions: Vec<DmaRegion>,
}

// SAFETY: the regions are plain address ranges this pool owns; the memory is accessed through units
// handed out to the queues, which serialise access themselves.
unsafe impl Send for DmaPool {}
// SAFETY: `&DmaPool` gives no access to the memory.
unsafe impl Sync for DmaPool {}

/// The allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NoMemory;

impl DmaPool {
    /// An empty pool allocating from `hal`.
    pub(crate) fn new(hal: NdisHal) -> Self {
        DmaPool {
            hal,
            regions: Vec::new(),
        }
    }

    /// Allocates `count` units of `size` bytes (`size` a power of two ≤ 64 KiB, or a multiple of 4 KiB
    /// for larger units, which then get a region each) and appends them to `out`. PASSIVE_LEVEL.
    pub(crate) fn alloc_units(
        &mut self,
        size: usize,
        count: usize,
        out: &mut Vec<Unit>,
    ) -> Result<(), NoMemory> {
        if size == 0 {
            return Err(NoMemory);
        }
        out.try_reserve(count).map_err(|_| NoMemory)?;
        let per_region = (CHUNK / size).max(1);
        let mut left = count;
        while left > 0 {
            let n = left.min(per_region);
            let len = n.checked_mul(size).ok_or(NoMemory)?;
            let r = self.alloc_region(len)?;
            for i in 0..n {
                out.push(Unit {
                    va: r.vaddr.as_ptr().wrapping_add(i * size),
                    pa: r.paddr + (i * size) as u64,
                });
            }
            left -= n;
        }
        Ok(())
    }

    /// One region of `len` bytes (rounded up to whole pages by the HAL), zeroed.
    pub(crate) fn alloc_region(&mut self, len: usize) -> Result<DmaRegion, NoMemory> {
        self.regions.try_reserve(1).map_err(|_| NoMemory)?;
        let r = self.hal.dma_alloc(len).map_err(|_| NoMemory)?;
        // SAFETY: a fresh region of at least `r.len` bytes that nobody else references yet.
        unsafe { core::ptr::write_bytes(r.vaddr.as_ptr(), 0, r.len) };
        self.regions.push(r);
        Ok(r)
    }
}

impl Drop for DmaPool {
    fn drop(&mut self) {
        for r in self.regions.drain(..) {
            // SAFETY: allocated by this pool from the same HAL; the owner drops the pool only when the
            // device no longer accesses the memory (after reset / at Halt) and no NDIS object refers to
            // it (every indicated receive returned, every send completed). PASSIVE_LEVEL.
            unsafe { self.hal.dma_free(r) };
        }
    }
}
