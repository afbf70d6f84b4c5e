//! The device side of the emulator: a PCI function behind a [`Bus`].
//!
//! What Windows's PnP manager, the PCI bus driver and the HAL give NDIS for a PCI network
//! adapter, a `Bus` gives the emulator: configuration space, the assigned BARs (from which the
//! translated resource list is built), MMIO, DMA-able memory with its device address, and
//! MSI-X interrupts. Two backends exist: [`fake::FakeBus`] (netkvm-virtio's in-process fake
//! virtio-net function, feature `fake`) and [`qemu::QemuBus`] (a real QEMU virtio-net-pci from
//! crates/testbed, feature `qemu`).

use std::fmt;
use std::time::Duration;

#[cfg(feature = "fake")]
pub mod fake;
#[cfg(all(feature = "qemu", target_os = "linux"))]
pub mod qemu;

/// Kind of a BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// 32-bit memory BAR.
    Mem32,
    /// 64-bit memory BAR.
    Mem64,
    /// I/O port BAR.
    Io,
}

/// One assigned BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarInfo {
    /// BAR index (0..6).
    pub index: u8,
    /// Kind.
    pub kind: BarKind,
    /// Prefetchable memory.
    pub prefetchable: bool,
    /// Assigned (CPU-physical, = translated on x64) base address.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
}

impl BarInfo {
    /// True when `addr .. addr + width` is inside this BAR.
    pub fn contains(&self, addr: u64, width: u64) -> bool {
        addr >= self.base
            && addr
                .checked_add(width)
                .is_some_and(|e| e <= self.base.saturating_add(self.len))
    }
}

/// A DMA-able memory chunk: CPU pointer and device (bus) address of its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaChunk {
    /// CPU address.
    pub va: *mut u8,
    /// Device address.
    pub pa: u64,
    /// Length in bytes.
    pub len: usize,
}

// SAFETY: a DmaChunk only describes an address range; whoever owns the chunk serialises access.
unsafe impl Send for DmaChunk {}
// SAFETY: as above.
unsafe impl Sync for DmaChunk {}

/// A bus access that could not be performed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusError(pub String);

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PCI network function as NDIS sees it.
pub trait Bus: Send + Sync + 'static {
    /// Short description for messages ("fake virtio-net", "QEMU 10 virtio-net-pci 00:03.0" …).
    fn describe(&self) -> String;

    /// The assigned BARs.
    fn bars(&self) -> Vec<BarInfo>;

    /// Reads PCI configuration space at `offset` into `buf`; returns the bytes read
    /// (`NdisMGetBusData` semantics: fewer at the end of the space).
    fn pci_read(&self, offset: u32, buf: &mut [u8]) -> usize;

    /// Writes PCI configuration space; returns the bytes written.
    fn pci_write(&self, offset: u32, data: &[u8]) -> usize;

    /// Reads a `width`-byte (1, 2, 4 or 8) register at CPU-physical `addr` inside a BAR.
    fn mmio_read(&self, addr: u64, width: u8) -> Result<u64, BusError>;

    /// Writes a `width`-byte register at CPU-physical `addr` inside a BAR.
    fn mmio_write(&self, addr: u64, width: u8, value: u64) -> Result<(), BusError>;

    /// Number of MSI-X vectors (0: the function has no MSI-X; a line interrupt is offered).
    fn msix_vectors(&self) -> u16;

    /// Allocates `len` bytes of DMA-able memory, page aligned, physically contiguous as the
    /// device sees it. `None` when exhausted.
    fn dma_alloc(&self, len: usize) -> Option<DmaChunk>;

    /// Frees a chunk from [`Bus::dma_alloc`].
    ///
    /// # Safety
    /// `chunk` came from `dma_alloc` of this bus, is freed once, and nothing (CPU or device)
    /// accesses it any more.
    unsafe fn dma_free(&self, chunk: DmaChunk);

    /// Whether every device address fits in 32 bits (for drivers without
    /// `NDIS_SG_DMA_64_BIT_ADDRESS`).
    fn dma_is_32bit(&self) -> bool {
        false
    }

    /// Whether interrupts are delivered to doorbells ([`Bus::take_interrupts`] /
    /// [`Bus::wait_interrupts`] work). Without, the emulator polls the ISRs.
    fn has_doorbells(&self) -> bool;

    /// Appends the vectors that fired since the last call (and consumes them) to `out`.
    fn take_interrupts(&self, vectors: u16, out: &mut Vec<u16>);

    /// Blocks until an interrupt may be pending, `timeout` passes, or [`Bus::wake`] is called.
    /// Must not burn a core while idle.
    fn wait_interrupts(&self, vectors: u16, timeout: Duration);

    /// Wakes a thread blocked in [`Bus::wait_interrupts`].
    fn wake(&self);

    /// The device was surprise-removed: from now on the device should look gone (reads of all
    /// ones) if the backend can do that. Returns whether it could.
    fn surprise_remove(&self) -> bool {
        false
    }
}

/// A page-granular first-fit allocator over `[base, base + len)` (used by backends whose DMA
/// memory is one big region, e.g. QEMU guest RAM).
#[derive(Debug)]
pub struct RangeAllocator {
    /// Free ranges: start → length.
    free: std::collections::BTreeMap<u64, u64>,
    page: u64,
}

impl RangeAllocator {
    /// An allocator over `[base, base + len)` in units of `page` bytes.
    pub fn new(base: u64, len: u64, page: u64) -> Self {
        let mut free = std::collections::BTreeMap::new();
        let start = base.div_ceil(page) * page;
        let end = (base + len) / page * page;
        if end > start {
            free.insert(start, end - start);
        }
        RangeAllocator { free, page }
    }

    /// Allocates `len` bytes (rounded up to pages); returns the start.
    pub fn alloc(&mut self, len: u64) -> Option<u64> {
        let len = len.max(1).div_ceil(self.page) * self.page;
        let (&start, &flen) = self.free.iter().find(|(_, &l)| l >= len)?;
        self.free.remove(&start);
        if flen > len {
            self.free.insert(start + len, flen - len);
        }
        Some(start)
    }

    /// Frees `[start, start + len)` (len rounded up to pages), merging neighbours.
    pub fn free(&mut self, start: u64, len: u64) {
        let mut start = start;
        let mut len = len.max(1).div_ceil(self.page) * self.page;
        if let Some((&ps, &pl)) = self.free.range(..start).next_back() {
            if ps + pl == start {
                self.free.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = self.free.get(&(start + len)) {
            self.free.remove(&(start + len));
            len += nl;
        }
        self.free.insert(start, len);
    }

    /// Free bytes.
    pub fn free_bytes(&self) -> u64 {
        self.free.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_allocator_rounds_to_pages_and_coalesces_on_free() {
        let mut a = RangeAllocator::new(0x12_0000, 0x10_0000, 0x1000);
        let x = a.alloc(1).unwrap();
        let y = a.alloc(0x1001).unwrap();
        assert_eq!(x, 0x12_0000);
        assert_eq!(y, 0x12_1000, "the 1-byte allocation took a whole page");
        assert_eq!(a.free_bytes(), 0x10_0000 - 0x3000);
        a.free(x, 1);
        a.free(y, 0x1001);
        assert_eq!(a.free_bytes(), 0x10_0000);
        // Everything merged back into one range: a full-size allocation fits again.
        assert_eq!(a.alloc(0x10_0000), Some(0x12_0000));
        assert_eq!(a.alloc(1), None);
    }
}
