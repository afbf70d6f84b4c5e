//! Backend: a real QEMU virtio-net-pci function from crates/testbed.
//!
//! Registers go through qtest (writes are posted by default: qtest executes commands in order,
//! so a later synchronous read observes every earlier write; failures of posted writes are
//! collected by the testbed and reported by [`QemuBus::posted_failures`]). DMA memory is the
//! guest RAM above `testbed::ram::DMA_BASE`, guest-physical address = offset. MSI-X messages
//! land in RAM doorbells; waiting for them polls adaptively (spin ~20 µs, then yield, then
//! sleeps of up to 200 µs) because a memory write cannot wake a sleeping thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testbed::{BarKind as TbKind, Machine};

use super::{BarInfo, BarKind, Bus, BusError, DmaChunk, RangeAllocator};

/// A QEMU testbed machine as a [`Bus`].
pub struct QemuBus {
    m: Arc<Machine>,
    alloc: Mutex<RangeAllocator>,
    post_writes: AtomicBool,
    woken: AtomicBool,
    removed: AtomicBool,
}

impl QemuBus {
    /// Wraps a running testbed machine.
    pub fn new(m: Arc<Machine>) -> Arc<Self> {
        let r = m.ram().dma_range();
        Arc::new(QemuBus {
            alloc: Mutex::new(RangeAllocator::new(r.start, r.end - r.start, 4096)),
            m,
            post_writes: AtomicBool::new(true),
            woken: AtomicBool::new(false),
            removed: AtomicBool::new(false),
        })
    }

    /// The testbed machine.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.m
    }

    /// Whether register writes are posted (default) or synchronous (each waits for QEMU's
    /// reply: slower, but a failure is reported at the write itself).
    pub fn set_posted_writes(&self, on: bool) {
        self.post_writes.store(on, Ordering::Relaxed);
    }

    /// Failures of posted writes so far (taken).
    pub fn posted_failures(&self) -> Vec<String> {
        self.m.qtest().take_posted_failures()
    }

    fn any_pending(&self, vectors: u16) -> bool {
        (0..vectors).any(|v| {
            self.m
                .doorbell(v)
                .is_some_and(|d| d.load(Ordering::Acquire) != 0)
        })
    }
}

impl Bus for QemuBus {
    fn describe(&self) -> String {
        let b = self.m.bdf();
        format!(
            "QEMU virtio-net-pci {:02x}:{:02x}.{} ({})",
            b.bus,
            b.dev,
            b.func,
            self.m.accel().as_str()
        )
    }

    fn bars(&self) -> Vec<BarInfo> {
        self.m
            .bars()
            .iter()
            .map(|b| BarInfo {
                index: b.index,
                kind: match b.kind {
                    TbKind::Mem32 => BarKind::Mem32,
                    TbKind::Mem64 => BarKind::Mem64,
                    TbKind::Io => BarKind::Io,
                },
                prefetchable: b.prefetchable,
                base: b.base,
                len: b.len,
            })
            .collect()
    }

    fn pci_read(&self, offset: u32, buf: &mut [u8]) -> usize {
        if self.removed.load(Ordering::Relaxed) {
            buf.fill(0xFF);
            return buf.len();
        }
        let avail = 256usize.saturating_sub(offset as usize).min(buf.len());
        if avail == 0 {
            return 0;
        }
        match self.m.pci_read_block(offset as u16, &mut buf[..avail]) {
            Ok(()) => avail,
            Err(_) => 0,
        }
    }

    fn pci_write(&self, offset: u32, data: &[u8]) -> usize {
        let mut n = 0;
        for (i, b) in data.iter().enumerate() {
            let off = offset as usize + i;
            if off >= 256 || self.m.pci_write8(off as u16, *b).is_err() {
                break;
            }
            n += 1;
        }
        n
    }

    fn mmio_read(&self, addr: u64, width: u8) -> Result<u64, BusError> {
        if self.removed.load(Ordering::Relaxed) {
            return Ok(u64::MAX >> (64 - 8 * u32::from(width)));
        }
        let r = match width {
            1 => self.m.mmio_read8(addr).map(u64::from),
            2 => self.m.mmio_read16(addr).map(u64::from),
            4 => self.m.mmio_read32(addr).map(u64::from),
            8 => self.m.mmio_read64_split(addr),
            _ => return Err(BusError(format!("read of width {width}"))),
        };
        r.map_err(|e| BusError(format!("read{} at {addr:#x}: {e}", width * 8)))
    }

    fn mmio_write(&self, addr: u64, width: u8, value: u64) -> Result<(), BusError> {
        if self.removed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let post = self.post_writes.load(Ordering::Relaxed);
        let r = match (width, post) {
            (1, true) => self.m.mmio_post8(addr, value as u8),
            (2, true) => self.m.mmio_post16(addr, value as u16),
            (4, true) => self.m.mmio_post32(addr, value as u32),
            (1, false) => self.m.mmio_write8(addr, value as u8),
            (2, false) => self.m.mmio_write16(addr, value as u16),
            (4, false) => self.m.mmio_write32(addr, value as u32),
            (8, _) => self.m.mmio_write64_split(addr, value),
            _ => return Err(BusError(format!("write of width {width}"))),
        };
        r.map_err(|e| BusError(format!("write{} at {addr:#x}: {e}", width * 8)))
    }

    fn msix_vectors(&self) -> u16 {
        self.m.msix_vectors()
    }

    fn dma_alloc(&self, len: usize) -> Option<DmaChunk> {
        let pa = self
            .alloc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .alloc(len as u64)?;
        let len = len.max(1).div_ceil(4096) * 4096;
        let va = self.m.ram().ptr(pa, len as u64)?;
        Some(DmaChunk { va, pa, len })
    }

    unsafe fn dma_free(&self, chunk: DmaChunk) {
        self.alloc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free(chunk.pa, chunk.len as u64);
    }

    fn dma_is_32bit(&self) -> bool {
        self.m.ram().len() <= (1 << 32)
    }

    fn has_doorbells(&self) -> bool {
        self.m.msix_vectors() > 0
    }

    fn take_interrupts(&self, vectors: u16, out: &mut Vec<u16>) {
        for v in 0..vectors.min(self.m.msix_vectors()) {
            if self.m.take_interrupt(v) {
                out.push(v);
            }
        }
    }

    fn wait_interrupts(&self, vectors: u16, timeout: Duration) {
        let vectors = vectors.min(self.m.msix_vectors());
        let start = Instant::now();
        let mut round = 0u32;
        loop {
            if self.any_pending(vectors) || self.woken.swap(false, Ordering::SeqCst) {
                return;
            }
            let el = start.elapsed();
            if el >= timeout {
                return;
            }
            round = round.wrapping_add(1);
            if el < Duration::from_micros(20) {
                std::hint::spin_loop();
            } else if el < Duration::from_micros(200) && !round.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                let nap = Duration::from_micros(20 * u64::from(round.min(10)));
                std::thread::sleep(nap.min(timeout - el));
            }
        }
    }

    fn wake(&self) {
        self.woken.store(true, Ordering::SeqCst);
    }

    fn surprise_remove(&self) -> bool {
        self.removed.store(true, Ordering::SeqCst);
        true
    }
}
