//! Backend: netkvm-virtio's in-process fake virtio-net PCI function (fast, deterministic, no
//! QEMU). The fake plays the device on its own "physical memory" arena; its interrupt callback
//! feeds the emulator's interrupt thread directly (no polling).
//!
//! The fake device does not run by itself: transmitted frames are consumed when someone calls
//! [`FakeNetDevice::process_tx`] and frames are received with [`FakeNetDevice::deliver_rx`].
//! Tests do that through [`FakeBus::device`], or start [`FakeBus::start_tx_pump`], a thread that
//! drains the TX queues into a list ([`FakeBus::take_tx`]).

use std::collections::BTreeSet;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netkvm_virtio::fake::{
    FakeConfig, FakeNetDevice, TxPacket, FAKE_BAR, FAKE_BAR_ADDRESS, FAKE_BAR_LEN,
};
use netkvm_virtio::fake::{FAKE_MSIX_BAR, FAKE_MSIX_BAR_ADDRESS};
use netkvm_virtio::{DmaRegion, Hal, PciConfig};

use super::{BarInfo, BarKind, Bus, BusError, DmaChunk};

/// Length of the fake's MSI-X BAR.
const MSIX_BAR_LEN: u64 = 0x1000;

#[derive(Default)]
struct Irq {
    pending: Mutex<BTreeSet<u16>>,
    cv: Condvar,
    woken: AtomicBool,
}

struct Pump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The fake virtio-net function as a [`Bus`].
pub struct FakeBus {
    dev: FakeNetDevice,
    irq: Arc<Irq>,
    removed: AtomicBool,
    tx: Arc<Mutex<Vec<(u16, TxPacket)>>>,
    pump: Mutex<Option<Pump>>,
}

impl FakeBus {
    /// A new fake device with `cfg`.
    pub fn new(cfg: FakeConfig) -> Arc<Self> {
        Self::from_device(FakeNetDevice::new(cfg))
    }

    /// Wraps an existing fake device (the bus takes over its interrupt callback).
    pub fn from_device(dev: FakeNetDevice) -> Arc<Self> {
        let irq = Arc::new(Irq::default());
        let i2 = irq.clone();
        dev.set_interrupt_callback(move |v| {
            let mut p = i2.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.insert(v);
            i2.cv.notify_all();
        });
        Arc::new(FakeBus {
            dev,
            irq,
            removed: AtomicBool::new(false),
            tx: Arc::new(Mutex::new(Vec::new())),
            pump: Mutex::new(None),
        })
    }

    /// The fake device (deliver RX frames, process TX, misbehave …).
    pub fn device(&self) -> &FakeNetDevice {
        &self.dev
    }

    /// TX queue indices of the device (`2k + 1` for each queue pair `k`).
    pub fn tx_queues(&self) -> Vec<u16> {
        let pairs = self.read_pairs();
        (0..pairs).map(|k| 2 * k + 1).collect()
    }

    fn read_pairs(&self) -> u16 {
        // max_virtqueue_pairs is at offset 8 of the device configuration (virtio 5.1.4); only
        // meaningful with VIRTIO_NET_F_MQ, otherwise one pair.
        let f = self.dev.driver_features();
        if f.contains(netkvm_virtio::Features::MQ) {
            // SAFETY: the device-config structure lies inside FAKE_BAR in the default layout;
            // the fake's register accessors are emulated and accept any offset.
            let v = unsafe { Hal::read16(&self.dev, FAKE_BAR, 0x2000 + 8) };
            v.max(1)
        } else {
            1
        }
    }

    /// Runs the device's TX processing once on every TX queue; returns the frames with their
    /// queue index.
    pub fn pump_tx_once(&self) -> Vec<(u16, TxPacket)> {
        let mut out = Vec::new();
        for q in self.tx_queues() {
            if let Ok(v) = self.dev.process_tx(q) {
                out.extend(v.into_iter().map(|p| (q, p)));
            }
        }
        out
    }

    /// Starts a thread that keeps draining the TX queues (adaptive: spins briefly after
    /// traffic, then sleeps up to 1 ms). Frames accumulate in [`FakeBus::take_tx`].
    pub fn start_tx_pump(self: &Arc<Self>) {
        let mut p = self.pump.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_some() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, me) = (stop.clone(), Arc::downgrade(self));
        let thread = std::thread::Builder::new()
            .name("fake-tx-pump".into())
            .spawn(move || {
                let mut idle_since = Instant::now();
                while !s2.load(Ordering::Relaxed) {
                    let Some(bus) = me.upgrade() else { break };
                    let frames = bus.pump_tx_once();
                    if !frames.is_empty() {
                        bus.tx
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend(frames);
                        idle_since = Instant::now();
                    }
                    drop(bus);
                    let idle = idle_since.elapsed();
                    if idle < Duration::from_micros(50) {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(
                            if idle < Duration::from_millis(5) {
                                50
                            } else {
                                1000
                            },
                        ));
                    }
                }
            })
            .ok();
        *p = Some(Pump { stop, thread });
    }

    /// Stops the TX pump thread.
    pub fn stop_tx_pump(&self) {
        let p = self.pump.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut p) = p {
            p.stop.store(true, Ordering::Relaxed);
            if let Some(t) = p.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// Frames the TX pump collected so far (taken).
    pub fn take_tx(&self) -> Vec<(u16, TxPacket)> {
        std::mem::take(&mut *self.tx.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits up to `timeout` until the pump collected at least `n` frames; returns them.
    pub fn wait_tx(&self, n: usize, timeout: Duration) -> Vec<(u16, TxPacket)> {
        let start = Instant::now();
        loop {
            {
                let t = self.tx.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() >= n || start.elapsed() > timeout {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        self.take_tx()
    }

    fn bar_of(&self, addr: u64, width: u64) -> Option<(u8, u64)> {
        self.bars()
            .into_iter()
            .find(|b| b.contains(addr, width))
            .map(|b| (b.index, addr - b.base))
    }
}

impl Drop for FakeBus {
    fn drop(&mut self) {
        self.stop_tx_pump();
    }
}

impl Bus for FakeBus {
    fn describe(&self) -> String {
        "fake virtio-net (netkvm-virtio test-utils)".into()
    }

    fn bars(&self) -> Vec<BarInfo> {
        vec![
            BarInfo {
                index: FAKE_MSIX_BAR,
                kind: BarKind::Mem32,
                prefetchable: false,
                base: FAKE_MSIX_BAR_ADDRESS,
                len: MSIX_BAR_LEN,
            },
            BarInfo {
                index: FAKE_BAR,
                kind: BarKind::Mem64,
                prefetchable: true,
                base: FAKE_BAR_ADDRESS,
                len: FAKE_BAR_LEN,
            },
        ]
    }

    fn pci_read(&self, offset: u32, buf: &mut [u8]) -> usize {
        let mut n = 0;
        for (i, b) in buf.iter_mut().enumerate() {
            let off = offset as usize + i;
            if off >= 256 {
                break;
            }
            *b = if self.removed.load(Ordering::Relaxed) {
                0xFF
            } else {
                PciConfig::read8(&self.dev, off as u16)
            };
            n += 1;
        }
        n
    }

    fn pci_write(&self, offset: u32, data: &[u8]) -> usize {
        let mut n = 0;
        for (i, b) in data.iter().enumerate() {
            let off = offset as usize + i;
            if off >= 256 {
                break;
            }
            PciConfig::write8(&self.dev, off as u16, *b);
            n += 1;
        }
        n
    }

    fn mmio_read(&self, addr: u64, width: u8) -> Result<u64, BusError> {
        let (bar, off) = self.bar_of(addr, u64::from(width)).ok_or_else(|| {
            BusError(format!("read{} at {addr:#x}: outside every BAR", width * 8))
        })?;
        if self.removed.load(Ordering::Relaxed) {
            return Ok(u64::MAX >> (64 - 8 * u32::from(width)));
        }
        // In every arm: `bar_of` checked `off + width <= bar_len(bar)`; the fake's register
        // accessors are emulated (no real memory access).
        Ok(match width {
            // SAFETY: see above.
            1 => u64::from(unsafe { Hal::read8(&self.dev, bar, off) }),
            // SAFETY: see above.
            2 => u64::from(unsafe { Hal::read16(&self.dev, bar, off) }),
            // SAFETY: see above.
            4 => u64::from(unsafe { Hal::read32(&self.dev, bar, off) }),
            // SAFETY: see above.
            8 => unsafe { Hal::read64(&self.dev, bar, off) },
            _ => return Err(BusError(format!("read of width {width}"))),
        })
    }

    fn mmio_write(&self, addr: u64, width: u8, value: u64) -> Result<(), BusError> {
        let (bar, off) = self.bar_of(addr, u64::from(width)).ok_or_else(|| {
            BusError(format!(
                "write{} at {addr:#x}: outside every BAR",
                width * 8
            ))
        })?;
        if self.removed.load(Ordering::Relaxed) {
            return Ok(());
        }
        // In every arm: as in `mmio_read`.
        match width {
            // SAFETY: see above.
            1 => unsafe { Hal::write8(&self.dev, bar, off, value as u8) },
            // SAFETY: see above.
            2 => unsafe { Hal::write16(&self.dev, bar, off, value as u16) },
            // SAFETY: see above.
            4 => unsafe { Hal::write32(&self.dev, bar, off, value as u32) },
            // SAFETY: see above.
            8 => unsafe { Hal::write64(&self.dev, bar, off, value) },
            _ => return Err(BusError(format!("write of width {width}"))),
        }
        Ok(())
    }

    fn msix_vectors(&self) -> u16 {
        // Walk the capability list for MSI-X (id 0x11): Table Size is bits 0..11 of Message
        // Control, minus one (PCI Local Bus 3.0, 6.8.2.3).
        let p = self.dev.pci_snapshot();
        let mut pos = usize::from(p[0x34]) & !3;
        let mut guard = 0;
        while pos != 0 && pos < 0xFC && guard < 48 {
            if p[pos] == 0x11 {
                let ctl = u16::from_le_bytes([p[pos + 2], p[pos + 3]]);
                return (ctl & 0x7FF) + 1;
            }
            pos = usize::from(p[pos + 1]) & !3;
            guard += 1;
        }
        0
    }

    fn dma_alloc(&self, len: usize) -> Option<DmaChunk> {
        let r = self.dev.memory().alloc(len).ok()?;
        Some(DmaChunk {
            va: r.vaddr.as_ptr(),
            pa: r.paddr,
            len: r.len,
        })
    }

    unsafe fn dma_free(&self, chunk: DmaChunk) {
        if let Some(vaddr) = NonNull::new(chunk.va) {
            self.dev.memory().free(DmaRegion {
                vaddr,
                paddr: chunk.pa,
                len: chunk.len,
            });
        }
    }

    fn has_doorbells(&self) -> bool {
        true
    }

    fn take_interrupts(&self, _vectors: u16, out: &mut Vec<u16>) {
        let mut p = self.irq.pending.lock().unwrap_or_else(|e| e.into_inner());
        out.extend(p.iter().copied());
        p.clear();
    }

    fn wait_interrupts(&self, _vectors: u16, timeout: Duration) {
        let p = self.irq.pending.lock().unwrap_or_else(|e| e.into_inner());
        if !p.is_empty() || self.irq.woken.swap(false, Ordering::SeqCst) {
            return;
        }
        let _ = self.irq.cv.wait_timeout(p, timeout);
        self.irq.woken.store(false, Ordering::SeqCst);
    }

    fn wake(&self) {
        let _p = self.irq.pending.lock().unwrap_or_else(|e| e.into_inner());
        self.irq.woken.store(true, Ordering::SeqCst);
        self.irq.cv.notify_all();
    }

    fn surprise_remove(&self) -> bool {
        self.removed.store(true, Ordering::SeqCst);
        true
    }
}
