//! The netkvm-virtio platform implementation on NDIS: [`NdisHal`] (BAR registers through the seam's
//! `READ_/WRITE_REGISTER_*`, DMA memory from `NdisMAllocateSharedMemory`, stalls from
//! `KeStallExecutionProcessor`), [`NdisPci`] (configuration space through `NdisMGetBusData` /
//! `NdisMSetBusData`) and [`BarMappings`] (the memory BARs mapped with `NdisMMapIoSpace`).
//!
//! Nothing here is OS-specific beyond the seam: the same NDIS calls are made on Windows and, on the host,
//! into the user-mode NDIS (which maps BARs to an inaccessible range and implements the register functions).

use core::ptr::{self, NonNull};

use ndis_sys as n;
use netkvm_virtio::hal::{BarIndex, DmaAllocError, DmaRegion, Hal, PciConfig, PAGE_SIZE};
use netkvm_virtio::pci::{bar_for_address, read_bars};

use crate::platform::regs;
use crate::resources::PciResources;

/// One memory BAR mapped into system space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedBar {
    /// System virtual address from `NdisMMapIoSpace`.
    pub va: *mut u8,
    /// Mapped length (the translated resource length).
    pub len: u32,
    /// Translated physical start (what was mapped; needed to report and unmap).
    pub phys: i64,
}

/// Why BARs could not be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A memory resource is larger than `NdisMMapIoSpace` can map (ULONG length).
    TooLarge { index: usize, length: u64 },
    /// `NdisMMapIoSpace` failed.
    MapFailed {
        bar: BarIndex,
        status: n::NDIS_STATUS,
    },
    /// No memory resource matched a programmed BAR address.
    NoBarMatched,
}

/// The BARs of the adapter, mapped once in InitializeEx and unmapped on drop (PASSIVE_LEVEL).
pub struct BarMappings {
    miniport: n::NDIS_HANDLE,
    bars: [Option<MappedBar>; 6],
}

// SAFETY: the mappings are plain addresses of device memory valid while `self` lives; access goes
// through the register functions, which are callable from any CPU.
unsafe impl Send for BarMappings {}
// SAFETY: as above; `&BarMappings` only reads the table.
unsafe impl Sync for BarMappings {}

impl BarMappings {
    /// Maps every translated memory resource whose start equals a programmed memory BAR of the function
    /// (BAR addresses read from PCI configuration space with [`NdisPci`]). Memory resources that match no
    /// BAR are left alone. PASSIVE_LEVEL.
    #[allow(clippy::not_unsafe_ptr_arg_deref)] // opaque NDIS handle, passed through only
    pub fn map(
        miniport: n::NDIS_HANDLE,
        pci: &NdisPci,
        res: &PciResources,
    ) -> Result<Self, MapError> {
        let programmed = read_bars(pci);
        let mut out = BarMappings {
            miniport,
            bars: [None; 6],
        };
        for (index, range) in res.memory.iter().enumerate() {
            let Some(range) = range else { continue };
            let Some(bar) = bar_for_address(&programmed, range.start as u64) else {
                continue;
            };
            let Some(slot) = out.bars.get_mut(usize::from(bar)) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            let len = u32::try_from(range.length).map_err(|_| MapError::TooLarge {
                index,
                length: range.length,
            })?;
            let mut va: n::PVOID = ptr::null_mut();
            // SAFETY: PASSIVE_LEVEL (InitializeEx); `range` is a translated memory resource NDIS assigned
            // to this adapter; `va` is writable.
            let status = unsafe { n::NdisMMapIoSpace(&mut va, miniport, range.start, len) };
            if status != n::NDIS_STATUS_SUCCESS || va.is_null() {
                // Already-mapped BARs are unmapped by `out`'s drop.
                return Err(MapError::MapFailed { bar, status });
            }
            *slot = Some(MappedBar {
                va: va.cast(),
                len,
                phys: range.start,
            });
        }
        if out.bars.iter().all(Option::is_none) {
            return Err(MapError::NoBarMatched);
        }
        Ok(out)
    }

    /// The register-access view for netkvm-virtio. The copy stays valid only while `self` lives: the
    /// adapter drops every transport and queue before its mappings.
    pub fn hal(&self) -> NdisHal {
        NdisHal {
            miniport: self.miniport,
            bars: self.bars,
        }
    }

    /// Number of BARs mapped (for the log line).
    pub fn count(&self) -> usize {
        self.bars.iter().flatten().count()
    }
}

impl Drop for BarMappings {
    fn drop(&mut self) {
        for b in self.bars.iter_mut().filter_map(Option::take) {
            // SAFETY: PASSIVE_LEVEL (Halt or failed InitializeEx); `b` was mapped by NdisMMapIoSpace with
            // this length and is unmapped once (taken out of the table).
            unsafe { n::NdisMUnmapIoSpace(self.miniport, b.va.cast(), b.len) };
        }
    }
}

/// The [`Hal`] over mapped BARs and NDIS shared memory. `Copy`: queues and transports each hold one.
#[derive(Clone, Copy, Debug)]
pub struct NdisHal {
    miniport: n::NDIS_HANDLE,
    bars: [Option<MappedBar>; 6],
}

// SAFETY: addresses of device memory and an NDIS handle; all access goes through the register functions
// and NDIS calls, which may be made from any CPU.
unsafe impl Send for NdisHal {}
// SAFETY: as above.
unsafe impl Sync for NdisHal {}

impl NdisHal {
    /// A HAL without BARs (register access impossible; DMA still works). For tests and for the datapath's
    /// buffer allocation before the transport exists.
    pub fn dma_only(miniport: n::NDIS_HANDLE) -> Self {
        Self {
            miniport,
            bars: [None; 6],
        }
    }

    /// The miniport adapter handle shared memory is allocated for.
    pub fn miniport(&self) -> n::NDIS_HANDLE {
        self.miniport
    }

    fn reg(&self, bar: BarIndex, offset: u64) -> *mut u8 {
        match self.bars.get(usize::from(bar)).copied().flatten() {
            // In bounds per the caller's contract (offset + width <= bar_len).
            Some(b) => b.va.wrapping_add(offset as usize),
            None => ptr::null_mut(),
        }
    }
}

// SAFETY: `bar_len` reports exactly the mapped length of each BAR, so every access the callers make with
// `offset + width <= bar_len` is inside a live NdisMMapIoSpace mapping; each accessor performs one
// register access through the seam (volatile + fences on Windows, the user-mode NDIS on the host). DMA
// memory comes from NdisMAllocateSharedMemory (cached, device-coherent on x86/x64), page-aligned (checked)
// and is freed with the same length/address pair.
unsafe impl Hal for NdisHal {
    fn bar_len(&self, bar: BarIndex) -> Option<u64> {
        self.bars
            .get(usize::from(bar))
            .copied()
            .flatten()
            .map(|b| u64::from(b.len))
    }

    unsafe fn read8(&self, bar: BarIndex, offset: u64) -> u8 {
        // SAFETY: in a mapped BAR per the trait contract.
        unsafe { regs::read_register_u8(self.reg(bar, offset)) }
    }
    unsafe fn read16(&self, bar: BarIndex, offset: u64) -> u16 {
        // SAFETY: in a mapped BAR and 2-aligned per the trait contract.
        unsafe { regs::read_register_u16(self.reg(bar, offset).cast()) }
    }
    unsafe fn read32(&self, bar: BarIndex, offset: u64) -> u32 {
        // SAFETY: in a mapped BAR and 4-aligned per the trait contract.
        unsafe { regs::read_register_u32(self.reg(bar, offset).cast()) }
    }
    unsafe fn write8(&self, bar: BarIndex, offset: u64, value: u8) {
        // SAFETY: in a mapped BAR per the trait contract.
        unsafe { regs::write_register_u8(self.reg(bar, offset), value) }
    }
    unsafe fn write16(&self, bar: BarIndex, offset: u64, value: u16) {
        // SAFETY: in a mapped BAR and 2-aligned per the trait contract.
        unsafe { regs::write_register_u16(self.reg(bar, offset).cast(), value) }
    }
    unsafe fn write32(&self, bar: BarIndex, offset: u64, value: u32) {
        // SAFETY: in a mapped BAR and 4-aligned per the trait contract.
        unsafe { regs::write_register_u32(self.reg(bar, offset).cast(), value) }
    }

    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        // Whole pages: NDIS common buffers of page multiples start on a page boundary.
        let rounded = len
            .checked_add(PAGE_SIZE - 1)
            .map(|l| l & !(PAGE_SIZE - 1))
            .filter(|l| *l != 0)
            .ok_or(DmaAllocError { len })?;
        let ulen = u32::try_from(rounded).map_err(|_| DmaAllocError { len })?;
        let mut va: n::PVOID = ptr::null_mut();
        let mut pa: n::NDIS_PHYSICAL_ADDRESS = 0;
        // SAFETY: PASSIVE_LEVEL (queue creation during initialisation/reset, per the trait contract);
        // out-parameters are writable.
        unsafe { n::NdisMAllocateSharedMemory(self.miniport, ulen, n::TRUE, &mut va, &mut pa) };
        let Some(vaddr) = NonNull::new(va.cast::<u8>()) else {
            return Err(DmaAllocError { len });
        };
        let region = DmaRegion {
            vaddr,
            paddr: pa as u64,
            len: rounded,
        };
        if !(vaddr.as_ptr() as usize).is_multiple_of(PAGE_SIZE)
            || !region.paddr.is_multiple_of(PAGE_SIZE as u64)
        {
            // SAFETY: freshly allocated above, never handed out.
            unsafe { self.dma_free(region) };
            return Err(DmaAllocError { len });
        }
        Ok(region)
    }

    unsafe fn dma_free(&self, region: DmaRegion) {
        let Ok(len) = u32::try_from(region.len) else {
            return;
        };
        // SAFETY: `region` came from `dma_alloc` (same length, cached, addresses) and is no longer used by
        // the CPU or the device (trait contract); PASSIVE_LEVEL.
        unsafe {
            n::NdisMFreeSharedMemory(
                self.miniport,
                len,
                n::TRUE,
                region.vaddr.as_ptr().cast(),
                region.paddr as n::NDIS_PHYSICAL_ADDRESS,
            )
        };
    }

    fn stall_us(&self, us: u32) {
        // SAFETY: KeStallExecutionProcessor may be called at any IRQL.
        unsafe { n::KeStallExecutionProcessor(us) };
    }
}

/// PCI configuration space of the adapter's function (`NdisMGetBusData` / `NdisMSetBusData`,
/// `PCI_WHICHSPACE_CONFIG`). Reads that NDIS cannot complete return all-ones, as PCI does.
#[derive(Clone, Copy, Debug)]
pub struct NdisPci {
    miniport: n::NDIS_HANDLE,
}

impl NdisPci {
    /// Configuration space of `miniport`'s device. Use at PASSIVE_LEVEL.
    pub fn new(miniport: n::NDIS_HANDLE) -> Self {
        Self { miniport }
    }

    fn read<const N: usize>(&self, offset: u16) -> [u8; N] {
        let mut buf = [0xFFu8; N];
        // SAFETY: `buf` is N writable bytes; NDIS validates the offset against configuration space.
        let got = unsafe {
            n::NdisMGetBusData(
                self.miniport,
                n::PCI_WHICHSPACE_CONFIG,
                u32::from(offset),
                buf.as_mut_ptr().cast(),
                N as u32,
            )
        };
        if got as usize != N {
            return [0xFF; N];
        }
        buf
    }

    fn write(&self, offset: u16, bytes: &[u8]) {
        // SAFETY: `bytes` is readable for its length; NDIS only reads it (the prototype takes PVOID).
        unsafe {
            n::NdisMSetBusData(
                self.miniport,
                n::PCI_WHICHSPACE_CONFIG,
                u32::from(offset),
                bytes.as_ptr().cast_mut().cast(),
                bytes.len() as u32,
            )
        };
    }
}

impl PciConfig for NdisPci {
    fn read8(&self, offset: u16) -> u8 {
        self.read::<1>(offset)[0]
    }
    fn read16(&self, offset: u16) -> u16 {
        u16::from_le_bytes(self.read::<2>(offset))
    }
    fn read32(&self, offset: u16) -> u32 {
        u32::from_le_bytes(self.read::<4>(offset))
    }
    fn write8(&self, offset: u16, value: u8) {
        self.write(offset, &[value]);
    }
    fn write16(&self, offset: u16, value: u16) {
        self.write(offset, &value.to_le_bytes());
    }
    fn write32(&self, offset: u16, value: u32) {
        self.write(offset, &value.to_le_bytes());
    }
}
