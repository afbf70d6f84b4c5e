//! The platform seam: register access, DMA memory, barriers and delays.
//!
//! Two implementations exist in the project: the Windows miniport (volatile MMIO on
//! `NdisMMapIoSpace`'d BARs, `NdisMAllocateSharedMemory`, `NdisMGetBusData`) and the
//! user-mode QEMU bench (qtest register access, shared guest RAM). The fake device of this
//! crate (feature `test-utils`) is a third.
//!
//! Everything in this crate that touches hardware goes through [`Hal`] and [`PciConfig`].

use core::ptr::NonNull;
use core::sync::atomic::{fence, Ordering};

/// Size of a page as this crate assumes it for DMA allocations (x86/x64 and the virtio
/// split-ring alignment rules are all satisfied by 4 KiB).
pub const PAGE_SIZE: usize = 4096;

/// Index of a PCI base address register (0..=5).
pub type BarIndex = u8;

/// A region of DMA-capable memory handed out by [`Hal::dma_alloc`].
///
/// Plain data: it does not free itself. Owners (queues, the control queue) give it back
/// with [`Hal::dma_free`] when the device can no longer access it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaRegion {
    /// CPU virtual address of the first byte (page aligned).
    pub vaddr: NonNull<u8>,
    /// Address the device uses for the first byte (bus/physical address; page aligned).
    pub paddr: u64,
    /// Length in bytes (at least what was requested).
    pub len: usize,
}

// SAFETY: a DmaRegion is only an address range description; the memory it names is
// accessed through the owning queue, which serialises access itself.
unsafe impl Send for DmaRegion {}
// SAFETY: as above; `&DmaRegion` only gives access to the addresses, not the memory.
unsafe impl Sync for DmaRegion {}

/// Why a DMA allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaAllocError {
    /// Bytes that were requested.
    pub len: usize,
}

/// The platform a virtio device is driven from.
///
/// Register access is by `(bar, offset)`: the transport discovers, from the virtio PCI
/// capabilities, which BAR holds each structure and checks every offset against
/// [`Hal::bar_len`] before it calls an accessor, so implementations can map each BAR once
/// and access `base + offset` without further checks.
///
/// # Safety
///
/// Implementations must follow the "Implementation safety" paragraph of every method;
/// in particular DMA memory must really be device-accessible at the returned addresses,
/// and barriers must order memory as documented. Callers of the `unsafe` methods must
/// follow their "Safety" paragraphs.
pub unsafe trait Hal {
    /// Length in bytes of the mapped region of BAR `bar`, or `None` if the BAR is not
    /// mapped (not present, I/O space, or not in the resource list).
    ///
    /// # Implementation safety
    ///
    /// Every register access with `offset + width <= bar_len(bar)` must be valid for the
    /// implementation (mapped, device memory). The value must not change while a
    /// transport built on this `Hal` exists.
    fn bar_len(&self, bar: BarIndex) -> Option<u64>;

    /// Reads an 8-bit register.
    ///
    /// # Implementation safety
    ///
    /// Exactly one 8-bit device access, not merged, split, elided or reordered with other
    /// register accesses of this `Hal` (volatile MMIO semantics).
    ///
    /// # Safety
    ///
    /// `offset + 1 <= self.bar_len(bar)` (so the BAR is mapped).
    unsafe fn read8(&self, bar: BarIndex, offset: u64) -> u8;
    /// Reads a little-endian 16-bit register.
    ///
    /// # Implementation safety
    ///
    /// As [`Hal::read8`], one 16-bit access.
    ///
    /// # Safety
    ///
    /// `offset + 2 <= self.bar_len(bar)` and `offset` is 2-aligned.
    unsafe fn read16(&self, bar: BarIndex, offset: u64) -> u16;
    /// Reads a little-endian 32-bit register.
    ///
    /// # Implementation safety
    ///
    /// As [`Hal::read8`], one 32-bit access.
    ///
    /// # Safety
    ///
    /// `offset + 4 <= self.bar_len(bar)` and `offset` is 4-aligned.
    unsafe fn read32(&self, bar: BarIndex, offset: u64) -> u32;
    /// Writes an 8-bit register.
    ///
    /// # Implementation safety
    ///
    /// As [`Hal::read8`], one 8-bit write, completed in program order with other register
    /// accesses and after all earlier memory writes of this CPU are visible to the device.
    ///
    /// # Safety
    ///
    /// `offset + 1 <= self.bar_len(bar)`.
    unsafe fn write8(&self, bar: BarIndex, offset: u64, value: u8);
    /// Writes a little-endian 16-bit register (also used for queue notifications).
    ///
    /// # Implementation safety
    ///
    /// As [`Hal::write8`], one 16-bit write.
    ///
    /// # Safety
    ///
    /// `offset + 2 <= self.bar_len(bar)` and `offset` is 2-aligned.
    unsafe fn write16(&self, bar: BarIndex, offset: u64, value: u16);
    /// Writes a little-endian 32-bit register.
    ///
    /// # Implementation safety
    ///
    /// As [`Hal::write8`], one 32-bit write.
    ///
    /// # Safety
    ///
    /// `offset + 4 <= self.bar_len(bar)` and `offset` is 4-aligned.
    unsafe fn write32(&self, bar: BarIndex, offset: u64, value: u32);

    /// Reads a 64-bit register as two 32-bit reads (low half first).
    ///
    /// QEMU's virtio common configuration accepts only accesses of at most 4 bytes, so the
    /// default splits; the virtio spec (4.1.3.1) allows drivers to do so for 64-bit fields.
    ///
    /// # Implementation safety
    ///
    /// If overridden: same value semantics as two 32-bit reads.
    ///
    /// # Safety
    ///
    /// `offset + 8 <= self.bar_len(bar)` and `offset` is 4-aligned.
    unsafe fn read64(&self, bar: BarIndex, offset: u64) -> u64 {
        // SAFETY: the caller guarantees `offset + 8` is inside the BAR, so both halves are.
        let lo = unsafe { self.read32(bar, offset) };
        // SAFETY: as above, `offset + 4 + 4 <= bar_len`.
        let hi = unsafe { self.read32(bar, offset + 4) };
        u64::from(lo) | (u64::from(hi) << 32)
    }

    /// Writes a 64-bit register as two 32-bit writes (low half first), see [`Hal::read64`].
    ///
    /// # Implementation safety
    ///
    /// If overridden: same effect as two 32-bit writes, low half first.
    ///
    /// # Safety
    ///
    /// `offset + 8 <= self.bar_len(bar)` and `offset` is 4-aligned.
    unsafe fn write64(&self, bar: BarIndex, offset: u64, value: u64) {
        // SAFETY: the caller guarantees `offset + 8` is inside the BAR.
        unsafe { self.write32(bar, offset, value as u32) };
        // SAFETY: as above.
        unsafe { self.write32(bar, offset + 4, (value >> 32) as u32) };
    }

    /// Allocates `len` bytes of DMA-capable memory, physically contiguous as the device
    /// sees it, aligned to [`PAGE_SIZE`]. The contents are unspecified (this crate zeroes
    /// what it needs). Called only at queue creation (PASSIVE_LEVEL on Windows), never on
    /// the datapath.
    ///
    /// # Implementation safety
    ///
    /// On success `vaddr..vaddr+len` is valid for CPU reads and writes, aligned to
    /// [`PAGE_SIZE`], not aliased by any other allocation or Rust reference until it is
    /// given to [`Hal::dma_free`], and the device accesses the same bytes at
    /// `paddr..paddr+len` (cache-coherent, as `NdisMAllocateSharedMemory` with `Cached`).
    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError>;

    /// Frees memory obtained from [`Hal::dma_alloc`].
    ///
    /// # Safety
    ///
    /// `region` was returned by `dma_alloc` of this `Hal`, is freed only once, and neither
    /// the CPU nor the device accesses it any more (the device was reset or the queue
    /// using it was disabled).
    unsafe fn dma_free(&self, region: DmaRegion);

    /// Full barrier: every earlier load and store (to DMA memory or registers) is
    /// globally visible before any later load or store. Required between publishing
    /// `avail->idx` and reading `avail_event` / `used->flags`, and between writing
    /// `used_event` and re-reading `used->idx` (store→load ordering).
    ///
    /// # Implementation safety
    ///
    /// Must order stores before later loads against the device (x86: `mfence` or a locked
    /// instruction). The default `fence(SeqCst)` does this on x86-64 and AArch64.
    fn mb(&self) {
        fence(Ordering::SeqCst);
    }

    /// Write barrier: earlier stores to DMA memory become visible to the device before
    /// later stores (descriptors and ring entries before `avail->idx`).
    ///
    /// # Implementation safety
    ///
    /// Must order store→store against the device. On x86 a compiler barrier suffices.
    fn wmb(&self) {
        fence(Ordering::Release);
    }

    /// Read barrier: a load of `used->idx` is ordered before later loads of used entries.
    ///
    /// # Implementation safety
    ///
    /// Must order load→load against the device. On x86 a compiler barrier suffices.
    fn rmb(&self) {
        fence(Ordering::Acquire);
    }

    /// Busy-waits about `us` microseconds (`NdisStallExecution`). Used only in bounded
    /// polling loops (reset, control queue); never called on the datapath.
    fn stall_us(&self, us: u32);
}

/// PCI configuration space access (`NdisMGetBusData`/`NdisMSetBusData` on Windows,
/// mechanism #1 through qtest in the bench).
///
/// Reads of offsets the function does not implement should return all-ones, as PCI does;
/// this crate treats every value read as untrusted.
pub trait PciConfig {
    /// Reads one byte of configuration space.
    fn read8(&self, offset: u16) -> u8;
    /// Reads a little-endian 16-bit value (offset 2-aligned).
    fn read16(&self, offset: u16) -> u16 {
        u16::from_le_bytes([self.read8(offset), self.read8(offset.wrapping_add(1))])
    }
    /// Reads a little-endian 32-bit value (offset 4-aligned).
    fn read32(&self, offset: u16) -> u32 {
        u32::from(self.read16(offset)) | (u32::from(self.read16(offset.wrapping_add(2))) << 16)
    }
    /// Writes one byte.
    fn write8(&self, offset: u16, value: u8);
    /// Writes a little-endian 16-bit value.
    fn write16(&self, offset: u16, value: u16) {
        let b = value.to_le_bytes();
        self.write8(offset, b[0]);
        self.write8(offset.wrapping_add(1), b[1]);
    }
    /// Writes a little-endian 32-bit value.
    fn write32(&self, offset: u16, value: u32) {
        self.write16(offset, value as u16);
        self.write16(offset.wrapping_add(2), (value >> 16) as u16);
    }
}

impl<P: PciConfig + ?Sized> PciConfig for &P {
    fn read8(&self, offset: u16) -> u8 {
        (**self).read8(offset)
    }
    fn read16(&self, offset: u16) -> u16 {
        (**self).read16(offset)
    }
    fn read32(&self, offset: u16) -> u32 {
        (**self).read32(offset)
    }
    fn write8(&self, offset: u16, value: u8) {
        (**self).write8(offset, value)
    }
    fn write16(&self, offset: u16, value: u16) {
        (**self).write16(offset, value)
    }
    fn write32(&self, offset: u16, value: u32) {
        (**self).write32(offset, value)
    }
}

macro_rules! forward_hal {
    ($($ty:ty),*) => {$(
        // SAFETY: forwards every method to the inner implementation, which upholds the
        // contract itself.
        unsafe impl<H: Hal + ?Sized> Hal for $ty {
            fn bar_len(&self, bar: BarIndex) -> Option<u64> { (**self).bar_len(bar) }
            unsafe fn read8(&self, bar: BarIndex, offset: u64) -> u8 {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).read8(bar, offset) }
            }
            unsafe fn read16(&self, bar: BarIndex, offset: u64) -> u16 {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).read16(bar, offset) }
            }
            unsafe fn read32(&self, bar: BarIndex, offset: u64) -> u32 {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).read32(bar, offset) }
            }
            unsafe fn read64(&self, bar: BarIndex, offset: u64) -> u64 {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).read64(bar, offset) }
            }
            unsafe fn write8(&self, bar: BarIndex, offset: u64, value: u8) {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).write8(bar, offset, value) }
            }
            unsafe fn write16(&self, bar: BarIndex, offset: u64, value: u16) {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).write16(bar, offset, value) }
            }
            unsafe fn write32(&self, bar: BarIndex, offset: u64, value: u32) {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).write32(bar, offset, value) }
            }
            unsafe fn write64(&self, bar: BarIndex, offset: u64, value: u64) {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).write64(bar, offset, value) }
            }
            fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
                (**self).dma_alloc(len)
            }
            unsafe fn dma_free(&self, region: DmaRegion) {
                // SAFETY: same contract, passed through from our caller.
                unsafe { (**self).dma_free(region) }
            }
            fn mb(&self) { (**self).mb() }
            fn wmb(&self) { (**self).wmb() }
            fn rmb(&self) { (**self).rmb() }
            fn stall_us(&self, us: u32) { (**self).stall_us(us) }
        }
    )*};
}

forward_hal!(&H, alloc::sync::Arc<H>);
