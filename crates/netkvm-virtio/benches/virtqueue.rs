//! add + publish + complete per descriptor chain, batches of 64, single thread, cache hot:
//! netkvm-virtio's `SplitQueue` side by side with virtio-drivers 0.13's `VirtQueue` in the
//! same run. Both use EVENT_IDX, identity-mapped DMA and the same device routine (read
//! `avail->idx`, copy heads into used elements, publish `used->idx`), so the difference
//! is the driver side. Prints `BENCH`/`RATIO` lines (conventions.md).

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::Duration;

use criterion::Criterion;
use netkvm_virtio::hal::{BarIndex, DmaAllocError, DmaRegion, Hal};
use netkvm_virtio::transport::{NotifyAddr, QueueSetup};
use netkvm_virtio::{Buffer, QueueConfig, SplitQueue};

const BATCH: usize = 64;
const SIZE: u16 = 256;
const GROUP: &str = "virtqueue";

// ---- shared fake device ----------------------------------------------------------

struct Device {
    avail: *const u8,
    used: *mut u8,
    mask: u16,
    last_avail: u16,
    used_idx: u16,
}

impl Device {
    fn u16_at(&self, p: *const u8) -> &AtomicU16 {
        // SAFETY: `p` points into the live, 2-aligned ring area of the queue under test
        // (identity-mapped DMA), accessed only atomically while the queue lives.
        unsafe { AtomicU16::from_ptr(p as *mut u16) }
    }

    fn u32_at(&self, p: *mut u8) -> &AtomicU32 {
        // SAFETY: as `u16_at`, 4-aligned used-element fields.
        unsafe { AtomicU32::from_ptr(p as *mut u32) }
    }

    /// Completes every available chain with used length `len`.
    #[inline(always)]
    fn complete_all(&mut self, len: u32) {
        let avail_idx = self
            .u16_at(self.avail.wrapping_add(2))
            .load(Ordering::Acquire);
        while self.last_avail != avail_idx {
            let slot = usize::from(self.last_avail & self.mask);
            let head = self
                .u16_at(self.avail.wrapping_add(4 + 2 * slot))
                .load(Ordering::Relaxed);
            let e = self
                .used
                .wrapping_add(4 + 8 * usize::from(self.used_idx & self.mask));
            self.u32_at(e).store(u32::from(head), Ordering::Relaxed);
            self.u32_at(e.wrapping_add(4)).store(len, Ordering::Relaxed);
            self.last_avail = self.last_avail.wrapping_add(1);
            self.used_idx = self.used_idx.wrapping_add(1);
        }
        self.u16_at(self.used.wrapping_add(2))
            .store(self.used_idx, Ordering::Release);
    }
}

fn page_alloc(len: usize) -> NonNull<u8> {
    let layout = Layout::from_size_align(len.max(1), 4096).unwrap();
    // SAFETY: non-zero size, valid layout.
    NonNull::new(unsafe { alloc_zeroed(layout) }).unwrap()
}

fn page_free(p: NonNull<u8>, len: usize) {
    let layout = Layout::from_size_align(len.max(1), 4096).unwrap();
    // SAFETY: allocated by `page_alloc` with the same layout.
    unsafe { dealloc(p.as_ptr(), layout) };
}

// ---- netkvm-virtio platform ----------------------------------------------------------

struct BenchHal;

// SAFETY: registers are inert (notify is a no-op), DMA is identity-mapped heap memory
// (page aligned, zeroed, exclusively owned until freed), default barriers.
unsafe impl Hal for BenchHal {
    fn bar_len(&self, _bar: BarIndex) -> Option<u64> {
        Some(0x1000)
    }
    unsafe fn read8(&self, _: BarIndex, _: u64) -> u8 {
        0
    }
    unsafe fn read16(&self, _: BarIndex, _: u64) -> u16 {
        0
    }
    unsafe fn read32(&self, _: BarIndex, _: u64) -> u32 {
        0
    }
    unsafe fn write8(&self, _: BarIndex, _: u64, _: u8) {}
    unsafe fn write16(&self, _: BarIndex, _: u64, v: u16) {
        black_box(v);
    }
    unsafe fn write32(&self, _: BarIndex, _: u64, _: u32) {}
    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        let p = page_alloc(len);
        Ok(DmaRegion {
            vaddr: p,
            paddr: p.as_ptr() as u64,
            len,
        })
    }
    unsafe fn dma_free(&self, region: DmaRegion) {
        page_free(region.vaddr, region.len);
    }
    fn stall_us(&self, _: u32) {}
}

fn netkvm_queue(indirect: bool) -> (SplitQueue<BenchHal, u32>, Device) {
    let setup = QueueSetup {
        index: 1,
        size: SIZE,
        notify: NotifyAddr { bar: 0, offset: 0 },
    };
    let cfg = QueueConfig {
        max_size: SIZE,
        indirect_max: if indirect { 4 } else { 0 },
        indirect_min: 2,
        event_idx: true,
    };
    // SAFETY: the bench device only runs while the queue lives.
    let q = unsafe { SplitQueue::new(BenchHal, setup, cfg) }.unwrap();
    let a = q.addresses();
    let dev = Device {
        avail: a.driver as *const u8,
        used: a.device as *mut u8,
        mask: SIZE - 1,
        last_avail: 0,
        used_idx: 0,
    };
    (q, dev)
}

fn netkvm_batch(q: &mut SplitQueue<BenchHal, u32>, dev: &mut Device, bufs: &[Buffer]) {
    for i in 0..BATCH as u32 {
        // SAFETY: the buffers are never dereferenced (bench device does not touch them).
        black_box(unsafe { q.add(bufs.iter().copied(), i) }.unwrap());
    }
    if q.publish() {
        q.notify();
    }
    dev.complete_all(0);
    q.disable_interrupts();
    while let Some(u) = q.pop_used().unwrap() {
        black_box(u.token);
    }
    black_box(q.enable_interrupts());
}

// ---- virtio-drivers platform ---------------------------------------------------------

mod vd {
    use super::*;
    use std::sync::Mutex;
    use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
    use virtio_drivers::{BufferDirection, PhysAddr};

    pub struct VdHal;

    // SAFETY: identity-mapped, page-aligned, zeroed heap pages exclusively owned until
    // `dma_dealloc`; `share` returns the buffer's own address (no bounce buffers).
    unsafe impl virtio_drivers::Hal for VdHal {
        fn dma_alloc(pages: usize, _d: BufferDirection) -> (PhysAddr, NonNull<u8>) {
            let p = page_alloc(pages * 4096);
            (p.as_ptr() as u64, p)
        }
        unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
            page_free(vaddr, pages * 4096);
            0
        }
        unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
            NonNull::new(paddr as *mut u8).unwrap()
        }
        unsafe fn share(buffer: NonNull<[u8]>, _d: BufferDirection) -> PhysAddr {
            buffer.as_ptr() as *mut u8 as u64
        }
        unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _d: BufferDirection) {}
    }

    /// Records the ring addresses the queue programs.
    #[derive(Default)]
    pub struct VdTransport {
        pub areas: Mutex<Option<(PhysAddr, PhysAddr)>>,
    }

    impl Transport for VdTransport {
        fn device_type(&self) -> DeviceType {
            DeviceType::Network
        }
        fn read_device_features(&mut self) -> u64 {
            0
        }
        fn write_driver_features(&mut self, _: u64) {}
        fn max_queue_size(&mut self, _: u16) -> u32 {
            u32::from(SIZE)
        }
        fn notify(&mut self, q: u16) {
            black_box(q);
        }
        fn get_status(&self) -> DeviceStatus {
            DeviceStatus::empty()
        }
        fn set_status(&mut self, _: DeviceStatus) {}
        fn set_guest_page_size(&mut self, _: u32) {}
        fn requires_legacy_layout(&self) -> bool {
            false
        }
        fn queue_set(
            &mut self,
            _q: u16,
            _size: u32,
            _desc: PhysAddr,
            driver: PhysAddr,
            device: PhysAddr,
        ) {
            *self.areas.lock().unwrap() = Some((driver, device));
        }
        fn queue_unset(&mut self, _: u16) {}
        fn queue_used(&mut self, _: u16) -> bool {
            false
        }
        fn ack_interrupt(&mut self) -> InterruptStatus {
            InterruptStatus::empty()
        }
        fn read_config_generation(&self) -> u32 {
            0
        }
        fn read_config_space<T: zerocopy_shim::FromBytes + zerocopy_shim::IntoBytes>(
            &self,
            _: usize,
        ) -> virtio_drivers::Result<T> {
            Err(virtio_drivers::Error::ConfigSpaceMissing)
        }
        fn write_config_space<T: zerocopy_shim::IntoBytes + zerocopy_shim::Immutable>(
            &mut self,
            _: usize,
            _: T,
        ) -> virtio_drivers::Result<()> {
            Err(virtio_drivers::Error::ConfigSpaceMissing)
        }
    }

    pub mod zerocopy_shim {
        pub use zerocopy::{FromBytes, Immutable, IntoBytes};
    }
}

type VdQueue = virtio_drivers::queue::VirtQueue<vd::VdHal, { SIZE as usize }>;

fn vd_queue(indirect: bool) -> (VdQueue, Device) {
    let mut t = vd::VdTransport::default();
    let q = VdQueue::new(&mut t, 1, indirect, true).unwrap();
    let (driver, device) = t.areas.lock().unwrap().unwrap();
    let dev = Device {
        avail: driver as *const u8,
        used: device as *mut u8,
        mask: SIZE - 1,
        last_avail: 0,
        used_idx: 0,
    };
    (q, dev)
}

fn vd_batch(q: &mut VdQueue, dev: &mut Device, inputs: &[&[u8]], tokens: &mut [u16; BATCH]) {
    for t in tokens.iter_mut() {
        // SAFETY: the buffers outlive the batch and are passed back to `pop_used`.
        *t = unsafe { q.add(inputs, &mut []) }.unwrap();
    }
    if q.should_notify() {
        black_box(());
    }
    dev.complete_all(0);
    for &t in tokens.iter() {
        // SAFETY: same buffers as given to `add` for this token.
        black_box(unsafe { q.pop_used(t, inputs, &mut []) }.unwrap());
    }
}

// ---- criterion + summary ------------------------------------------------------------

fn benches(c: &mut Criterion) {
    let hdr = [0u8; 12];
    let frame = vec![0u8; 1514];
    let shapes: [(&str, bool, Vec<&[u8]>); 3] = [
        ("1desc", false, vec![&frame[..]]),
        ("2desc", false, vec![&hdr[..], &frame[..]]),
        ("indirect2", true, vec![&hdr[..], &frame[..]]),
    ];
    let mut g = c.benchmark_group(GROUP);
    g.sample_size(40)
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(2));
    for (name, indirect, inputs) in &shapes {
        let bufs: Vec<Buffer> = inputs
            .iter()
            .map(|b| Buffer::readable(b.as_ptr() as u64, b.len() as u32))
            .collect();
        let (mut q, mut dev) = netkvm_queue(*indirect);
        g.bench_function(format!("netkvm_{name}"), |b| {
            b.iter(|| netkvm_batch(&mut q, &mut dev, &bufs))
        });
        let (mut vq, mut vdev) = vd_queue(*indirect);
        let mut tokens = [0u16; BATCH];
        g.bench_function(format!("virtio_drivers_{name}"), |b| {
            b.iter(|| vd_batch(&mut vq, &mut vdev, inputs, &mut tokens))
        });
    }
    g.finish();
}

fn criterion_dir() -> std::path::PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return h.into();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return std::path::PathBuf::from(t).join("criterion");
    }
    // cargo runs benches from the package directory; the workspace target is two up.
    let here = std::env::current_dir().unwrap_or_default();
    for dir in here.ancestors() {
        let c = dir.join("target").join("criterion");
        if c.is_dir() {
            return c;
        }
    }
    "target/criterion".into()
}

fn median_ns(function: &str) -> Option<f64> {
    let p = criterion_dir()
        .join(GROUP)
        .join(function)
        .join("new")
        .join("estimates.json");
    let s = std::fs::read_to_string(p).ok()?;
    let m = s.find("\"median\"")?;
    let rest = &s[m..];
    let k = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = rest[k..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    for shape in ["1desc", "2desc", "indirect2"] {
        let ours = median_ns(&format!("netkvm_{shape}")).map(|v| v / BATCH as f64);
        let theirs = median_ns(&format!("virtio_drivers_{shape}")).map(|v| v / BATCH as f64);
        if let Some(o) = ours {
            println!("BENCH virtqueue_{shape}_netkvm {o:.1} ns/chain");
        }
        if let Some(t) = theirs {
            println!("BENCH virtqueue_{shape}_virtio_drivers {t:.1} ns/chain");
        }
        if let (Some(o), Some(t)) = (ours, theirs) {
            let r = o / t;
            let verdict = if r <= 0.70 { "PASS" } else { "MISS" };
            println!(
                "RATIO virtqueue_{shape}_vs_virtio_drivers {r:.2}x (target <= 0.70) {verdict}"
            );
        }
    }
}
