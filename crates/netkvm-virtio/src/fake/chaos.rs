//! The driver's normal loop against a "device" whose every write comes from arbitrary
//! bytes: register and config-space reads (transport bring-up), used-ring indices and
//! elements, control-queue completions and acks.
//!
//! [`run`] panics only if the driver misbehaves: a token returned twice or never, a
//! token returned that was not outstanding, free-descriptor accounting off after a
//! reset, or leaked DMA memory. Bad device input itself must only produce typed errors.
//! Used by the fuzz target (`fuzz/fuzz_targets/device_chaos.rs`) and by a deterministic
//! test over pseudo-random inputs.

use core::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::vec::Vec;

use super::device::{FakeConfig, FakeNetDevice};
use super::mem::FakeMemory;
use crate::ctrl::{ControlQueue, CtrlWait, RssConfig, RxMode};
use crate::features::Features;
use crate::hal::{BarIndex, DmaAllocError, DmaRegion, Hal, PciConfig};
use crate::queue::{Buffer, QueueConfig, RingLayout, SplitQueue};
use crate::transport::{NetConfig, NotifyAddr, PciTransport, QueueSetup};

/// A byte stream that yields zeros once exhausted.
#[derive(Debug)]
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    /// Wraps `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }
    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    /// Next byte (0 after the end).
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    /// Next little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    /// Next little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// Registers and config space answered from the byte stream; DMA from a fake arena.
struct RegChaos<'a, 'b> {
    bytes: &'b RefCell<Bytes<'a>>,
    mem: &'b FakeMemory,
    pci: [u8; 256],
}

// SAFETY: register reads are synthesised (no memory access); DMA comes from the fake
// arena, which upholds the allocation contract; default barriers.
unsafe impl Hal for RegChaos<'_, '_> {
    fn bar_len(&self, bar: BarIndex) -> Option<u64> {
        (bar == super::FAKE_BAR).then_some(super::FAKE_BAR_LEN)
    }
    unsafe fn read8(&self, _: BarIndex, _: u64) -> u8 {
        self.bytes.borrow_mut().u8()
    }
    unsafe fn read16(&self, _: BarIndex, _: u64) -> u16 {
        self.bytes.borrow_mut().u16()
    }
    unsafe fn read32(&self, _: BarIndex, _: u64) -> u32 {
        self.bytes.borrow_mut().u32()
    }
    unsafe fn write8(&self, _: BarIndex, _: u64, _: u8) {}
    unsafe fn write16(&self, _: BarIndex, _: u64, _: u16) {}
    unsafe fn write32(&self, _: BarIndex, _: u64, _: u32) {}
    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        self.mem.alloc(len)
    }
    unsafe fn dma_free(&self, region: DmaRegion) {
        assert!(self.mem.free(region), "double or foreign DMA free");
    }
    fn stall_us(&self, _: u32) {}
}

impl PciConfig for RegChaos<'_, '_> {
    fn read8(&self, offset: u16) -> u8 {
        self.pci.get(usize::from(offset)).copied().unwrap_or(0xFF)
    }
    fn write8(&self, _: u16, _: u8) {}
}

#[derive(Clone, Copy)]
struct CtrlRing {
    ring: DmaRegion,
    layout: RingLayout,
    size: u16,
}

/// Datapath platform: inert registers except the control queue's notify, which makes
/// the "device" write arbitrary completions.
struct DataChaos<'a, 'b> {
    bytes: &'b RefCell<Bytes<'a>>,
    mem: &'b FakeMemory,
    ctrl: Cell<Option<CtrlRing>>,
    ctrl_used: Cell<u16>,
}

const CTRL_NOTIFY: u64 = 8;

impl DataChaos<'_, '_> {
    fn ctrl_device_writes(&self) {
        let Some(c) = self.ctrl.get() else { return };
        let mut b = self.bytes.borrow_mut();
        let mode = b.u8();
        let used = c.ring.paddr + c.layout.used as u64;
        let avail = c.ring.paddr + c.layout.avail as u64;
        let mut idx = self.ctrl_used.get();
        match mode % 4 {
            // Complete the head the driver put in the avail ring (well-behaved id),
            // with an arbitrary length and ack byte.
            0 | 1 => {
                let slot = (idx % c.size) as u64;
                let head = self.mem.load16(avail + 4 + 2 * slot).unwrap_or(0);
                let e = used + 4 + 8 * u64::from(idx % c.size);
                let len = u32::from(b.u8() % 3);
                let _ = self.mem.store32(e, u32::from(head));
                let _ = self.mem.store32(e + 4, len);
                // The ack is the last byte of the command buffer: its address is the
                // second descriptor of the chain.
                let d = c.ring.paddr + 16 * u64::from(head % c.size);
                let mut nb = [0u8; 2];
                if self.mem.read(d + 14, &mut nb).is_ok() {
                    let second = c.ring.paddr + 16 * u64::from(u16::from_le_bytes(nb) % c.size);
                    if let Ok(ack_addr) = self.mem.read_u64(second) {
                        let _ = self.mem.write(ack_addr, &[b.u8() % 3]);
                    }
                }
                idx = idx.wrapping_add(1);
                let _ = self.mem.store16(used + 2, idx);
            }
            // Arbitrary element and index.
            2 => {
                let e = used + 4 + 8 * u64::from(idx % c.size);
                let _ = self.mem.store32(e, b.u32());
                let _ = self.mem.store32(e + 4, b.u32());
                idx = b.u16();
                let _ = self.mem.store16(used + 2, idx);
            }
            // Never complete.
            _ => {}
        }
        self.ctrl_used.set(idx);
    }
}

// SAFETY: as `RegChaos`; the notify write only triggers bounds-checked fake-memory writes.
unsafe impl Hal for DataChaos<'_, '_> {
    fn bar_len(&self, bar: BarIndex) -> Option<u64> {
        (bar == super::FAKE_BAR).then_some(super::FAKE_BAR_LEN)
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
    unsafe fn write16(&self, _: BarIndex, offset: u64, _: u16) {
        if offset == CTRL_NOTIFY {
            self.ctrl_device_writes();
        }
    }
    unsafe fn write32(&self, _: BarIndex, _: u64, _: u32) {}
    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        self.mem.alloc(len)
    }
    unsafe fn dma_free(&self, region: DmaRegion) {
        assert!(self.mem.free(region), "double or foreign DMA free");
    }
    fn stall_us(&self, _: u32) {}
}

/// Phase A: transport bring-up with arbitrary register values and a mutated PCI config.
fn transport_phase(bytes: &RefCell<Bytes<'_>>, mem: &FakeMemory, stats: &mut ChaosStats) {
    let mut pci = FakeNetDevice::new(FakeConfig {
        memory: 4096,
        ..FakeConfig::default()
    })
    .pci_snapshot();
    let mutations = bytes.borrow_mut().u8() % 8;
    for _ in 0..mutations {
        let mut b = bytes.borrow_mut();
        let off = usize::from(b.u8());
        let v = b.u8();
        if let Some(p) = pci.get_mut(off) {
            *p = v;
        }
    }
    let hal = RegChaos { bytes, mem, pci };
    let Ok(mut t) = PciTransport::new(&hal, &hal) else {
        return;
    };
    if t.begin_init().is_err() {
        return;
    }
    if t.negotiate(Features::all()).is_ok() {
        stats.negotiated += 1;
    }
    let _ = t.read_net_config();
    let _ = t.set_config_vector(0);
    for q in 0..3u16 {
        if let Ok(s) = t.setup_queue(q, 256) {
            assert!(s.size.is_power_of_two() && s.size <= 256);
            assert!(s.notify.offset + 2 <= super::FAKE_BAR_LEN);
        }
        let _ = t.set_queue_vector(q, q + 1);
    }
    let _ = t.check_device();
    let _ = t.read_isr();
}

/// What one [`run`] exercised (lets tests check the harness reaches deep code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChaosStats {
    /// Transport bring-ups that got past negotiation.
    pub negotiated: u32,
    /// Chains added.
    pub added: u32,
    /// Chains popped as completed.
    pub popped: u32,
    /// Device faults detected on the data queue.
    pub faults: u32,
    /// Tokens returned by `detach_unused`.
    pub detached: u32,
    /// Control commands that succeeded.
    pub ctrl_ok: u32,
    /// Control commands that failed (any typed error).
    pub ctrl_err: u32,
}

/// Runs the driver loop against `data`; panics only on driver bugs (see module docs).
pub fn run(data: &[u8]) -> ChaosStats {
    let bytes = RefCell::new(Bytes::new(data));
    let mem = FakeMemory::new(1 << 20, 0x1_0000_0000);
    let mut stats = ChaosStats::default();
    transport_phase(&bytes, &mem, &mut stats);
    datapath_phase(&bytes, &mem, &mut stats);
    assert_eq!(mem.live_allocations(), 0, "DMA memory leaked");
    stats
}

fn datapath_phase(bytes: &RefCell<Bytes<'_>>, mem: &FakeMemory, stats: &mut ChaosStats) {
    let hal = DataChaos {
        bytes,
        mem,
        ctrl: Cell::new(None),
        ctrl_used: Cell::new(0),
    };
    let (size, indirect, event_idx) = {
        let mut b = bytes.borrow_mut();
        let size = 1u16 << (1 + b.u8() % 8);
        let flags = b.u8();
        (size, if flags & 1 != 0 { 4 } else { 0 }, flags & 2 != 0)
    };
    let setup = QueueSetup {
        index: 0,
        size,
        notify: NotifyAddr {
            bar: super::FAKE_BAR,
            offset: 0,
        },
    };
    let config = QueueConfig {
        max_size: size,
        indirect_max: indirect,
        indirect_min: 2,
        event_idx,
    };
    // SAFETY: the "device" is this function; queues are dropped after its last access.
    let Ok(mut q) = (unsafe { SplitQueue::<_, u32>::new(&hal, setup, config) }) else {
        return;
    };
    let ctrl_setup = QueueSetup {
        index: 2,
        size: 8,
        notify: NotifyAddr {
            bar: super::FAKE_BAR,
            offset: CTRL_NOTIFY,
        },
    };
    // SAFETY: as above.
    let Ok(cq) = (unsafe { SplitQueue::<_, ()>::new(&hal, ctrl_setup, QueueConfig::default()) })
    else {
        return;
    };
    hal.ctrl.set(Some(CtrlRing {
        ring: cq.ring_region(),
        layout: cq.layout(),
        size: 8,
    }));
    let Ok(buf) = ControlQueue::<&DataChaos<'_, '_>>::alloc_buffer(&&hal, 4096) else {
        return;
    };
    let limits = NetConfig {
        max_virtqueue_pairs: 4,
        rss_max_key_size: Some(40),
        rss_max_indirection_table_length: Some(128),
        supported_hash_types: Some(0x1FF),
        ..NetConfig::default()
    };
    let mut ctrl = ControlQueue::new(
        cq,
        buf,
        Features::all(),
        limits,
        CtrlWait {
            polls: 2,
            interval_us: 1,
        },
    );

    let mut outstanding: BTreeMap<u32, u16> = BTreeMap::new(); // token -> head
    let mut next_token = 0u32;
    let ring = q.ring_region();
    let layout = q.layout();
    let used = ring.paddr + layout.used as u64;
    let avail = ring.paddr + layout.avail as u64;
    let mut dev_used = 0u16;
    let mut dev_avail = 0u16;

    for _ in 0..4096 {
        if bytes.borrow().is_empty() {
            break;
        }
        let op = bytes.borrow_mut().u8();
        match op % 8 {
            0 | 1 => {
                let mut b = bytes.borrow_mut();
                let n = 1 + usize::from(b.u8() % 6);
                let first_writable = usize::from(b.u8()) % (n + 1);
                let mut bufs = Vec::with_capacity(n);
                for i in 0..n {
                    let len = u32::from(b.u16() % 2048);
                    let addr = 0x2000_0000 + 4096 * i as u64;
                    bufs.push(Buffer {
                        addr,
                        len,
                        writable: i >= first_writable,
                    });
                }
                drop(b);
                let token = next_token;
                next_token += 1;
                // SAFETY: no memory is behind these addresses and nothing reads it: the
                // chaos device never dereferences buffers.
                if let Ok(head) = unsafe { q.add(bufs, token) } {
                    outstanding.insert(token, head);
                    stats.added += 1;
                }
            }
            2 => {
                if q.publish() {
                    q.notify();
                }
            }
            3 => {
                // Device: consume what it sees and complete, arbitrary or plausible.
                let mut b = bytes.borrow_mut();
                let count = b.u8() % 8;
                for _ in 0..count {
                    let e = used + 4 + 8 * u64::from(dev_used % size);
                    let (id, len) = if b.u8().is_multiple_of(4) {
                        (b.u32(), b.u32())
                    } else {
                        let a = mem
                            .load16(avail + 4 + 2 * u64::from(dev_avail % size))
                            .unwrap_or(0);
                        dev_avail = dev_avail.wrapping_add(1);
                        (u32::from(a), u32::from(b.u16() % 4096))
                    };
                    let _ = mem.store32(e, id);
                    let _ = mem.store32(e + 4, len);
                    dev_used = dev_used.wrapping_add(1);
                }
                let jump = b.u8();
                let idx = if jump < 16 {
                    dev_used.wrapping_add(u16::from(jump)).wrapping_sub(8)
                } else {
                    dev_used
                };
                let _ = mem.store16(used + 2, idx);
                if b.u8().is_multiple_of(8) {
                    let _ = mem.store16(used + 4 + 8 * u64::from(size), b.u16());
                    let _ = mem.store16(used, u16::from(b.u8() % 2));
                }
            }
            4 => loop {
                match q.pop_used() {
                    Ok(Some(u)) => {
                        assert!(
                            outstanding.remove(&u.token).is_some(),
                            "token returned that was not outstanding"
                        );
                        assert!(u.len <= u.posted_writable);
                        stats.popped += 1;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        stats.faults += 1;
                        stats.detached += reset_queue(&mut q, &mut outstanding, size);
                        dev_used = 0;
                        dev_avail = 0;
                        break;
                    }
                }
            },
            5 => {
                let choice = bytes.borrow_mut().u8();
                match choice % 4 {
                    0 => {
                        let _ = q.enable_interrupts();
                    }
                    1 => q.disable_interrupts(),
                    2 => {
                        let _ = q.enable_interrupts_delayed();
                    }
                    _ => {
                        let _ = q.has_used();
                    }
                }
            }
            6 => {
                let choice = bytes.borrow_mut().u8();
                let r = match choice % 6 {
                    0 => ctrl.set_rx_mode(RxMode::Promiscuous, true),
                    1 => ctrl.set_mac_table(&[[2, 0, 0, 0, 0, 1]], &[[1, 0, 0x5e, 0, 0, 1]]),
                    2 => ctrl.set_queue_pairs(2),
                    3 => ctrl.set_rss(&RssConfig {
                        hash_types: 0x3,
                        indirection_table: &[0, 1, 0, 1],
                        unclassified_queue: 0,
                        max_tx_vq: 2,
                        key: &[0x6d; 40],
                    }),
                    4 => ctrl.set_guest_offloads(Features::GUEST_CSUM),
                    _ => ctrl.announce_ack(),
                };
                if r.is_ok() {
                    stats.ctrl_ok += 1;
                } else {
                    stats.ctrl_err += 1;
                }
                if r.is_err() && (ctrl.is_stuck() || ctrl.queue().fault().is_some()) {
                    // The miniport resets the device here.
                    // SAFETY: the chaos device stops touching the ring after "reset".
                    unsafe { ctrl.recover_after_reset() };
                    hal.ctrl_used.set(0);
                }
            }
            _ => {
                // A device reset in the middle of traffic.
                stats.detached += reset_queue(&mut q, &mut outstanding, size);
                dev_used = 0;
                dev_avail = 0;
            }
        }
    }
    stats.detached += reset_queue(&mut q, &mut outstanding, size);
    // SAFETY: the chaos device is done.
    unsafe { ctrl.recover_after_reset() };
    hal.ctrl.set(None);
}

fn reset_queue<H: Hal>(
    q: &mut SplitQueue<H, u32>,
    outstanding: &mut BTreeMap<u32, u16>,
    size: u16,
) -> u32 {
    let mut returned = Vec::new();
    // SAFETY: the chaos device does not access the ring between this call and its next
    // operation, which starts from the zeroed ring.
    unsafe { q.detach_unused(|t| returned.push(t)) };
    let n = returned.len() as u32;
    for t in returned {
        assert!(
            outstanding.remove(&t).is_some(),
            "detached token not outstanding"
        );
    }
    assert!(outstanding.is_empty(), "tokens lost: {outstanding:?}");
    assert_eq!(q.num_free(), size);
    assert_eq!(q.in_flight(), 0);
    n
}
