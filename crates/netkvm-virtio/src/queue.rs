//! Driver side of the split virtqueue (virtio 1.x §2.7).
//!
//! This is the only module that touches ring memory. The device is not trusted:
//! * everything the driver posted (chain heads, tails, descriptor counts, writable
//!   lengths, tokens) is kept in a shadow in ordinary memory; descriptor memory is only
//!   written, never read back;
//! * the only device-written values read are `used->idx`, `used->flags`, `avail_event`
//!   and used elements, each with a single aligned atomic load (no torn indices), and
//!   each is checked before use ([`UsedFault`]);
//! * a protocol violation stops the queue with a sticky error and keeps every chain in
//!   flight, so [`SplitQueue::detach_unused`] after the reset returns every token.
//!
//! Datapath methods neither allocate nor block nor panic.

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use crate::error::{QueueError, UsedFault};
use crate::hal::{DmaRegion, Hal, PAGE_SIZE};
use crate::transport::{NotifyAddr, QueueAddresses, QueueSetup, MAX_QUEUE_SIZE};

/// `VIRTQ_DESC_F_NEXT`.
pub const DESC_F_NEXT: u16 = 1;
/// `VIRTQ_DESC_F_WRITE` (device-writable).
pub const DESC_F_WRITE: u16 = 2;
/// `VIRTQ_DESC_F_INDIRECT`.
pub const DESC_F_INDIRECT: u16 = 4;
/// `VIRTQ_AVAIL_F_NO_INTERRUPT`.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// `VIRTQ_USED_F_NO_NOTIFY`.
pub const USED_F_NO_NOTIFY: u16 = 1;

/// One descriptor as laid out in ring memory (§2.7.5).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Desc {
    /// Device address of the buffer.
    pub addr: u64,
    /// Length of the buffer.
    pub len: u32,
    /// `DESC_F_*`.
    pub flags: u16,
    /// Next descriptor when `DESC_F_NEXT`.
    pub next: u16,
}

const DESC_SIZE: usize = core::mem::size_of::<Desc>();
const _: () = assert!(DESC_SIZE == 16);

/// One buffer of a chain, as the device sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Device address.
    pub addr: u64,
    /// Length in bytes (non-zero).
    pub len: u32,
    /// The device writes it (RX buffers, control-queue ack); else it reads it.
    pub writable: bool,
}

impl Buffer {
    /// A device-readable buffer (TX header or payload, control command).
    pub const fn readable(addr: u64, len: u32) -> Self {
        Buffer {
            addr,
            len,
            writable: false,
        }
    }
    /// A device-writable buffer (RX page, control ack).
    pub const fn writable(addr: u64, len: u32) -> Self {
        Buffer {
            addr,
            len,
            writable: true,
        }
    }
}

/// A completed chain popped from the used ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Used<T> {
    /// Token given to `add`.
    pub token: T,
    /// Bytes the device reports written (checked ≤ `posted_writable`).
    pub len: u32,
    /// Device-writable bytes the driver posted in this chain (trusted).
    pub posted_writable: u32,
}

/// Parameters of a split queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Largest size the driver wants (the device's size is shrunk to it).
    pub max_size: u16,
    /// Descriptors per preallocated indirect table (one table per ring slot), 0 = no
    /// indirect descriptors. Clamped to the queue size.
    pub indirect_max: u16,
    /// Chains of at least this many buffers go indirect (when they fit the table).
    pub indirect_min: u16,
    /// RING_EVENT_IDX negotiated.
    pub event_idx: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_size: 256,
            indirect_max: 0,
            indirect_min: 2,
            event_idx: false,
        }
    }
}

/// The operations a driver-side virtqueue offers; a packed-ring implementation provides
/// the same set.
pub trait Virtqueue<T: Copy> {
    /// Adds one chain (see [`SplitQueue::add`]).
    ///
    /// # Safety
    ///
    /// As [`SplitQueue::add`].
    unsafe fn add<I>(&mut self, bufs: I, token: T) -> Result<u16, QueueError>
    where
        I: IntoIterator<Item = Buffer>;
    /// Makes added chains visible; returns whether the device wants a notification.
    fn publish(&mut self) -> bool;
    /// Notifies the device.
    fn notify(&self);
    /// Pops one completed chain.
    fn pop_used(&mut self) -> Result<Option<Used<T>>, QueueError>;
    /// Whether the device has completed chains not yet popped.
    fn has_used(&self) -> bool;
    /// Asks for an interrupt on the next completion; returns true if completions are
    /// already pending (poll again to close the race).
    fn enable_interrupts(&mut self) -> bool;
    /// Suppresses interrupts (best effort: the device may still send some).
    fn disable_interrupts(&mut self);
    /// Returns every outstanding token and resets the ring state.
    ///
    /// # Safety
    ///
    /// As [`SplitQueue::detach_unused`].
    unsafe fn detach_unused(&mut self, f: impl FnMut(T));
    /// Free ring descriptors.
    fn num_free(&self) -> u16;
    /// Queue size.
    fn size(&self) -> u16;
}

#[derive(Debug, Clone, Copy)]
struct Slot<T> {
    /// `Some` while the chain headed here is in flight.
    token: Option<T>,
    /// Ring descriptors used by the chain (1 for an indirect chain).
    ndesc: u16,
    /// Last ring descriptor of the chain (head for an indirect chain).
    tail: u16,
    /// Device-writable bytes posted.
    writable: u32,
}

/// Byte offsets of the split-ring parts inside one allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLayout {
    /// Available ring offset (after the descriptor table).
    pub avail: usize,
    /// Used ring offset (own page: the device writes it, keep it off the driver's lines).
    pub used: usize,
    /// Total bytes.
    pub total: usize,
}

impl RingLayout {
    /// Layout for `size` entries: descriptors (16·N), avail (6 + 2·N), used on the next
    /// page boundary (6 + 8·N).
    pub const fn new(size: u16) -> Self {
        let n = size as usize;
        let avail = DESC_SIZE * n;
        let avail_end = avail + 6 + 2 * n;
        let used = avail_end.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let total = used + 6 + 8 * n;
        RingLayout { avail, used, total }
    }
}

/// Driver side of a split virtqueue with a caller-chosen token type `T`.
pub struct SplitQueue<H: Hal, T: Copy> {
    hal: H,
    ring: DmaRegion,
    indirect_region: Option<DmaRegion>,
    index: u16,
    size: u16,
    mask: u16,
    notify: NotifyAddr,
    layout: RingLayout,
    indirect_max: u16,
    indirect_min: u16,
    event_idx: bool,
    // Shadow (trusted) state.
    next: Box<[u16]>,
    slots: Box<[Slot<T>]>,
    free_head: u16,
    num_free: u16,
    avail_idx: u16,
    published: u16,
    last_used: u16,
    cached_used: u16,
    in_flight: u16,
    avail_flags: u16,
    interrupts: bool,
    fault: Option<UsedFault>,
}

// SAFETY: the queue exclusively owns its ring and indirect memory (raw addresses inside
// `DmaRegion`); moving it to another thread moves that ownership. The miniport serialises
// access with its per-queue spin lock.
unsafe impl<H: Hal + Send, T: Copy + Send> Send for SplitQueue<H, T> {}

impl<H: Hal, T: Copy> core::fmt::Debug for SplitQueue<H, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SplitQueue")
            .field("index", &self.index)
            .field("size", &self.size)
            .field("num_free", &self.num_free)
            .field("in_flight", &self.in_flight)
            .field("avail_idx", &self.avail_idx)
            .field("last_used", &self.last_used)
            .field("fault", &self.fault)
            .finish()
    }
}

fn try_boxed<V: Clone>(v: V, n: usize) -> Result<Box<[V]>, QueueError> {
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| QueueError::NoMemory)?;
    out.resize(n, v);
    Ok(out.into_boxed_slice())
}

impl<H: Hal, T: Copy> SplitQueue<H, T> {
    /// Allocates and zeroes the ring (and the indirect tables), builds the shadow state.
    /// Program the returned [`SplitQueue::addresses`] into the device afterwards
    /// ([`crate::transport::PciTransport::activate_queue`]).
    ///
    /// # Safety
    ///
    /// The queue must not be dropped (which frees its DMA memory) while the device may
    /// still access the ring: reset the device (or the queue) first.
    pub unsafe fn new(hal: H, setup: QueueSetup, config: QueueConfig) -> Result<Self, QueueError> {
        let size = setup.size;
        if size == 0 || !size.is_power_of_two() || size > MAX_QUEUE_SIZE {
            return Err(QueueError::InvalidSize { size });
        }
        // The notify address is checked again here so that a hand-built `QueueSetup`
        // cannot make `notify` write outside the BAR.
        let notify_ok = setup.notify.offset.is_multiple_of(2)
            && hal
                .bar_len(setup.notify.bar)
                .is_some_and(|l| setup.notify.offset.checked_add(2).is_some_and(|e| e <= l));
        if !notify_ok {
            return Err(QueueError::InvalidSize { size });
        }
        let layout = RingLayout::new(size);
        let indirect_max = config.indirect_max.min(size);
        let next = try_boxed(0u16, usize::from(size))?;
        let slots = try_boxed(
            Slot {
                token: None,
                ndesc: 0,
                tail: 0,
                writable: 0,
            },
            usize::from(size),
        )?;
        let ring = hal.dma_alloc(layout.total)?;
        let indirect_region = if indirect_max > 0 {
            let len = usize::from(size) * usize::from(indirect_max) * DESC_SIZE;
            match hal.dma_alloc(len) {
                Ok(r) => Some(r),
                Err(e) => {
                    // SAFETY: `ring` came from this hal and the device has never seen it.
                    unsafe { hal.dma_free(ring) };
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        let mut q = SplitQueue {
            hal,
            ring,
            indirect_region,
            index: setup.index,
            size,
            mask: size - 1,
            notify: setup.notify,
            layout,
            indirect_max,
            indirect_min: config.indirect_min.max(1),
            event_idx: config.event_idx,
            next,
            slots,
            free_head: 0,
            num_free: size,
            avail_idx: 0,
            published: 0,
            last_used: 0,
            cached_used: 0,
            in_flight: 0,
            avail_flags: 0,
            interrupts: true,
            fault: None,
        };
        q.reset_state();
        Ok(q)
    }

    /// Zeroes ring memory and rebuilds the free list (fresh-queue state).
    fn reset_state(&mut self) {
        // SAFETY: `ring` is our allocation of `layout.total ≤ ring.len` bytes; the device
        // is not using it (new queue, or after reset per detach_unused's contract).
        unsafe { core::ptr::write_bytes(self.ring.vaddr.as_ptr(), 0, self.layout.total) };
        for (i, n) in self.next.iter_mut().enumerate() {
            *n = (i as u16).wrapping_add(1);
        }
        for s in self.slots.iter_mut() {
            s.token = None;
            s.ndesc = 0;
        }
        self.free_head = 0;
        self.num_free = self.size;
        self.avail_idx = 0;
        self.published = 0;
        self.last_used = 0;
        self.cached_used = 0;
        self.in_flight = 0;
        self.avail_flags = 0;
        self.interrupts = true;
        self.fault = None;
    }

    /// Device addresses of the three areas, for `queue_desc/driver/device`.
    pub fn addresses(&self) -> QueueAddresses {
        let base = self.ring.paddr;
        QueueAddresses {
            desc: base,
            driver: base + self.layout.avail as u64,
            device: base + self.layout.used as u64,
        }
    }

    /// The platform this queue uses.
    pub fn hal(&self) -> &H {
        &self.hal
    }

    /// Queue index.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Chains in flight (added, not yet popped).
    pub fn in_flight(&self) -> u16 {
        self.in_flight
    }

    /// The sticky device fault, if the queue stopped.
    pub fn fault(&self) -> Option<UsedFault> {
        self.fault
    }

    /// Ring memory (for the fake device and tests).
    pub fn ring_region(&self) -> DmaRegion {
        self.ring
    }

    /// Ring layout.
    pub fn layout(&self) -> RingLayout {
        self.layout
    }

    // ---- raw ring access ---------------------------------------------------------

    fn ptr(&self, off: usize) -> *mut u8 {
        // Offsets passed here are all < layout.total ≤ ring.len (computed from the
        // trusted size), so `wrapping_add` stays inside the allocation.
        self.ring.vaddr.as_ptr().wrapping_add(off)
    }

    fn u16_at(&self, off: usize) -> &AtomicU16 {
        // SAFETY: `off` is 2-aligned (ring parts are at even offsets, ring base is page
        // aligned), inside our live allocation, and only accessed atomically or by the
        // device; the reference does not outlive `self`, which owns the memory.
        unsafe { AtomicU16::from_ptr(self.ptr(off).cast::<u16>()) }
    }

    fn avail_idx_cell(&self) -> &AtomicU16 {
        self.u16_at(self.layout.avail + 2)
    }
    fn avail_flags_cell(&self) -> &AtomicU16 {
        self.u16_at(self.layout.avail)
    }
    fn used_event_cell(&self) -> &AtomicU16 {
        self.u16_at(self.layout.avail + 4 + 2 * usize::from(self.size))
    }
    fn used_flags_cell(&self) -> &AtomicU16 {
        self.u16_at(self.layout.used)
    }
    fn used_idx_cell(&self) -> &AtomicU16 {
        self.u16_at(self.layout.used + 2)
    }
    fn avail_event_cell(&self) -> &AtomicU16 {
        self.u16_at(self.layout.used + 4 + 8 * usize::from(self.size))
    }

    #[inline]
    fn write_desc(&self, i: u16, d: Desc) {
        let p = self
            .ptr(usize::from(i & self.mask) * DESC_SIZE)
            .cast::<Desc>();
        // SAFETY: index masked below `size`, so the 16-byte descriptor lies in the table;
        // page alignment of the ring makes it 16-aligned. Volatile: the device reads it.
        unsafe { p.write_volatile(d) };
    }

    #[inline]
    fn write_indirect(&self, head: u16, k: u16, d: Desc) -> Option<()> {
        let region = self.indirect_region?;
        let idx = usize::from(head & self.mask) * usize::from(self.indirect_max) + usize::from(k);
        if k >= self.indirect_max {
            return None;
        }
        let p = region
            .vaddr
            .as_ptr()
            .wrapping_add(idx * DESC_SIZE)
            .cast::<Desc>();
        // SAFETY: idx < size × indirect_max, the table count allocated; 16-aligned.
        unsafe { p.write_volatile(d) };
        Some(())
    }

    #[inline]
    fn write_avail_slot(&self, pos: u16, head: u16) {
        let off = self.layout.avail + 4 + 2 * usize::from(pos & self.mask);
        // Plain release store: the publish barrier orders it before avail->idx.
        self.u16_at(off).store(head, Ordering::Relaxed);
    }

    // ---- datapath ----------------------------------------------------------------

    /// Adds one chain made of `bufs` (device-readable buffers first, then
    /// device-writable ones) and remembers `token` for its completion. Not visible to
    /// the device until [`SplitQueue::publish`].
    ///
    /// The iterator must report its exact length in `size_hint` (slices, `once`, `chain`
    /// and `map` of those do). Chains of at least `indirect_min` buffers use the slot's
    /// preallocated indirect table when INDIRECT_DESC is in use and they fit.
    ///
    /// Returns the head descriptor index.
    ///
    /// # Safety
    ///
    /// Every buffer must be DMA memory valid for the device at `addr..addr+len`, kept
    /// alive and not accessed by the CPU in a conflicting way until its token comes back
    /// from [`SplitQueue::pop_used`] or [`SplitQueue::detach_unused`].
    #[inline]
    pub unsafe fn add<I>(&mut self, bufs: I, token: T) -> Result<u16, QueueError>
    where
        I: IntoIterator<Item = Buffer>,
    {
        if let Some(f) = self.fault {
            return Err(QueueError::Device(f));
        }
        let mut iter = bufs.into_iter();
        let n = match iter.size_hint() {
            (lo, Some(hi)) if lo == hi => lo,
            _ => return Err(QueueError::ChainLengthMismatch),
        };
        if n == 0 {
            return Err(QueueError::EmptyChain);
        }
        let indirect = self.indirect_max != 0
            && n >= usize::from(self.indirect_min)
            && n <= usize::from(self.indirect_max);
        let needed = if indirect { 1 } else { n };
        if needed > usize::from(self.size) {
            return Err(QueueError::ChainTooLong { len: n });
        }
        if needed > usize::from(self.num_free) {
            return Err(QueueError::Full {
                needed: needed as u16,
                free: self.num_free,
            });
        }
        let head = self.free_head;
        let (tail, writable) = if indirect {
            self.fill_indirect(head, &mut iter, n)?
        } else {
            self.fill_direct(head, &mut iter, n)?
        };
        if iter.next().is_some() {
            return Err(QueueError::ChainLengthMismatch);
        }
        // Commit: nothing above changed shadow state, so errors left no trace. While
        // `needed <= num_free` the free list only yields ids below `size`, so these lookups
        // succeed; a broken free list would mean no free descriptor.
        let full = QueueError::Full {
            needed: needed as u16,
            free: self.num_free,
        };
        let next_free = *self.next.get(usize::from(tail)).ok_or(full)?;
        let slot = self.slots.get_mut(usize::from(head)).ok_or(full)?;
        self.free_head = next_free;
        self.num_free -= needed as u16;
        slot.token = Some(token);
        slot.ndesc = needed as u16;
        slot.tail = tail;
        slot.writable = writable;
        self.in_flight += 1;
        self.write_avail_slot(self.avail_idx, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        Ok(head)
    }

    #[inline]
    fn fill_direct(
        &mut self,
        head: u16,
        iter: &mut impl Iterator<Item = Buffer>,
        n: usize,
    ) -> Result<(u16, u32), QueueError> {
        let mut cur = head;
        let mut writable: u32 = 0;
        let mut seen_writable = false;
        for k in 0..n {
            let b = iter.next().ok_or(QueueError::ChainLengthMismatch)?;
            let flags = check_buf(&b, &mut seen_writable, &mut writable)?;
            // In range while descriptors are free (see `add`).
            let next = *self.next.get(usize::from(cur)).ok_or(QueueError::Full {
                needed: n as u16,
                free: self.num_free,
            })?;
            let last = k + 1 == n;
            self.write_desc(
                cur,
                Desc {
                    addr: b.addr,
                    len: b.len,
                    flags: if last { flags } else { flags | DESC_F_NEXT },
                    next: if last { 0 } else { next },
                },
            );
            if !last {
                cur = next;
            }
        }
        Ok((cur, writable))
    }

    fn fill_indirect(
        &mut self,
        head: u16,
        iter: &mut impl Iterator<Item = Buffer>,
        n: usize,
    ) -> Result<(u16, u32), QueueError> {
        let mut writable: u32 = 0;
        let mut seen_writable = false;
        for k in 0..n {
            let b = iter.next().ok_or(QueueError::ChainLengthMismatch)?;
            let flags = check_buf(&b, &mut seen_writable, &mut writable)?;
            let last = k + 1 == n;
            self.write_indirect(
                head,
                k as u16,
                Desc {
                    addr: b.addr,
                    len: b.len,
                    flags: if last { flags } else { flags | DESC_F_NEXT },
                    next: if last { 0 } else { k as u16 + 1 },
                },
            )
            .ok_or(QueueError::ChainTooLong { len: n })?;
        }
        let region = self
            .indirect_region
            .ok_or(QueueError::ChainTooLong { len: n })?;
        let table =
            region.paddr + (usize::from(head) * usize::from(self.indirect_max) * DESC_SIZE) as u64;
        self.write_desc(
            head,
            Desc {
                addr: table,
                len: (n * DESC_SIZE) as u32,
                flags: DESC_F_INDIRECT,
                next: 0,
            },
        );
        Ok((head, writable))
    }

    /// Makes every chain added since the last publish visible with one barrier and one
    /// `avail->idx` store, then decides whether to notify (§2.7.10): with EVENT_IDX when
    /// `avail_event` lies in the published range, otherwise unless `NO_NOTIFY`. Call
    /// [`SplitQueue::notify`] when it returns true.
    #[inline]
    pub fn publish(&mut self) -> bool {
        let new = self.avail_idx;
        let old = self.published;
        if new == old {
            return false;
        }
        self.hal.wmb();
        self.avail_idx_cell().store(new, Ordering::Release);
        self.published = new;
        // Store→load: the device must see the new index before we read its event index,
        // or a kick can be lost forever (qemu-testbed pitfall 3).
        self.hal.mb();
        if self.event_idx {
            let event = self.avail_event_cell().load(Ordering::Relaxed);
            need_event(event, new, old)
        } else {
            self.used_flags_cell().load(Ordering::Relaxed) & USED_F_NO_NOTIFY == 0
        }
    }

    /// Writes the queue index to the queue's notify address.
    pub fn notify(&self) {
        // SAFETY: `new` checked `notify.offset + 2 ≤ bar_len(notify.bar)` and 2-alignment.
        unsafe {
            self.hal
                .write16(self.notify.bar, self.notify.offset, self.index)
        };
    }

    /// [`SplitQueue::publish`], then [`SplitQueue::notify`] if needed; returns whether it
    /// notified.
    pub fn publish_and_notify(&mut self) -> bool {
        let kick = self.publish();
        if kick {
            self.notify();
        }
        kick
    }

    /// Whether the device has completed chains not yet popped.
    #[inline]
    pub fn has_used(&self) -> bool {
        self.last_used != self.cached_used
            || self.used_idx_cell().load(Ordering::Acquire) != self.last_used
    }

    fn stop(&mut self, f: UsedFault) -> Result<Option<Used<T>>, QueueError> {
        self.fault = Some(f);
        Err(QueueError::Device(f))
    }

    /// Pops the next completed chain, after checking the device's used index and entry:
    /// the index may not advance by more than the chains in flight, the id must head a
    /// chain in flight, and the length may not exceed the writable bytes posted. Any
    /// violation stops the queue ([`QueueError::Device`], sticky).
    #[inline]
    pub fn pop_used(&mut self) -> Result<Option<Used<T>>, QueueError> {
        if let Some(f) = self.fault {
            return Err(QueueError::Device(f));
        }
        if self.last_used == self.cached_used {
            let read = self.used_idx_cell().load(Ordering::Acquire);
            if read == self.last_used {
                return Ok(None);
            }
            if read.wrapping_sub(self.last_used) > self.in_flight {
                return self.stop(UsedFault::IndexJump {
                    last: self.last_used,
                    read,
                    in_flight: self.in_flight,
                });
            }
            self.cached_used = read;
            self.hal.rmb();
        }
        let off = self.layout.used + 4 + 8 * usize::from(self.last_used & self.mask);
        let p = self.ptr(off).cast::<u32>();
        // SAFETY: the element (8 bytes, 4-aligned) lies in the used ring of our live
        // allocation; read atomically because the device may write it concurrently.
        let id = unsafe { AtomicU32::from_ptr(p) }.load(Ordering::Relaxed);
        // SAFETY: as above, second half of the element.
        let len = unsafe { AtomicU32::from_ptr(p.wrapping_add(1)) }.load(Ordering::Relaxed);
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return self.stop(UsedFault::IdOutOfRange {
                id,
                size: self.size,
            });
        };
        let Some(token) = slot.token else {
            return self.stop(UsedFault::IdNotInFlight { id });
        };
        if len > slot.writable {
            let posted = slot.writable;
            return self.stop(UsedFault::LengthTooLarge {
                id: id as u16,
                len,
                posted,
            });
        }
        slot.token = None;
        let (ndesc, tail, posted) = (slot.ndesc, slot.tail, slot.writable);
        // `add` only records a tail that indexed `next`, so this always links the chain.
        if let Some(link) = self.next.get_mut(usize::from(tail)) {
            *link = self.free_head;
        }
        self.free_head = id as u16;
        self.num_free += ndesc;
        self.in_flight -= 1;
        self.last_used = self.last_used.wrapping_add(1);
        if self.interrupts && self.event_idx {
            self.used_event_cell()
                .store(self.last_used, Ordering::Relaxed);
        }
        Ok(Some(Used {
            token,
            len,
            posted_writable: posted,
        }))
    }

    /// Asks for an interrupt at the next completion (EVENT_IDX: `used_event` =
    /// last popped index; else clears `NO_INTERRUPT`), then re-checks with a full barrier.
    /// Returns true if completions are already pending: the caller must poll again
    /// (otherwise the interrupt for them may never come).
    pub fn enable_interrupts(&mut self) -> bool {
        self.interrupts = true;
        if self.event_idx {
            self.used_event_cell()
                .store(self.last_used, Ordering::Relaxed);
        } else if self.avail_flags != 0 {
            self.avail_flags = 0;
            self.avail_flags_cell().store(0, Ordering::Relaxed);
        }
        self.hal.mb();
        self.has_used()
    }

    /// Like [`SplitQueue::enable_interrupts`] but, with EVENT_IDX, asks for the interrupt
    /// only after about 3/4 of the chains in flight completed (TX completion batching,
    /// Linux `virtqueue_enable_cb_delayed`). Returns true if that many are already done.
    pub fn enable_interrupts_delayed(&mut self) -> bool {
        if !self.event_idx {
            return self.enable_interrupts();
        }
        self.interrupts = true;
        let pending_before = self.in_flight;
        let bufs = (pending_before as u32 * 3 / 4) as u16;
        self.used_event_cell()
            .store(self.last_used.wrapping_add(bufs), Ordering::Relaxed);
        self.hal.mb();
        let used = self.used_idx_cell().load(Ordering::Acquire);
        used.wrapping_sub(self.last_used) > bufs
    }

    /// Suppresses interrupts. Without EVENT_IDX sets `NO_INTERRUPT`; with it, moves
    /// `used_event` behind the consumer so the device's check fails until it wraps.
    pub fn disable_interrupts(&mut self) {
        if !self.interrupts {
            return;
        }
        self.interrupts = false;
        if self.event_idx {
            self.used_event_cell()
                .store(self.last_used.wrapping_sub(1), Ordering::Relaxed);
        } else {
            self.avail_flags = AVAIL_F_NO_INTERRUPT;
            self.avail_flags_cell()
                .store(AVAIL_F_NO_INTERRUPT, Ordering::Relaxed);
        }
    }

    /// Free ring descriptors.
    pub fn num_free(&self) -> u16 {
        self.num_free
    }

    /// Queue size.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Hands every outstanding token (in flight, published or not, including a chain the
    /// device faulted on) to `f`, then returns the queue to its fresh state (zeroed ring,
    /// full free list, no fault) so it can be activated again after the device reset.
    ///
    /// # Safety
    ///
    /// The device must no longer access the ring or the buffers (device or queue reset
    /// done): the caller is about to reuse them.
    pub unsafe fn detach_unused(&mut self, mut f: impl FnMut(T)) {
        for s in self.slots.iter_mut() {
            if let Some(t) = s.token.take() {
                f(t);
            }
        }
        self.reset_state();
    }
}

#[inline]
fn check_buf(b: &Buffer, seen_writable: &mut bool, writable: &mut u32) -> Result<u16, QueueError> {
    if b.len == 0 {
        return Err(QueueError::ZeroLengthBuffer);
    }
    if b.writable {
        *seen_writable = true;
        *writable = writable
            .checked_add(b.len)
            .ok_or(QueueError::WritableLengthOverflow)?;
        Ok(DESC_F_WRITE)
    } else if *seen_writable {
        Err(QueueError::ReadableAfterWritable)
    } else {
        Ok(0)
    }
}

/// `vring_need_event` (§2.7.10): notify when `event` lies in `[old, new)`.
#[inline]
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

impl<H: Hal, T: Copy> Drop for SplitQueue<H, T> {
    fn drop(&mut self) {
        // SAFETY: both regions came from `self.hal.dma_alloc`, are freed once, and `new`'s
        // contract guarantees the device no longer uses them when the queue is dropped.
        unsafe { self.hal.dma_free(self.ring) };
        if let Some(r) = self.indirect_region.take() {
            // SAFETY: as above.
            unsafe { self.hal.dma_free(r) };
        }
    }
}

impl<H: Hal, T: Copy> Virtqueue<T> for SplitQueue<H, T> {
    unsafe fn add<I>(&mut self, bufs: I, token: T) -> Result<u16, QueueError>
    where
        I: IntoIterator<Item = Buffer>,
    {
        // SAFETY: same contract, forwarded.
        unsafe { SplitQueue::add(self, bufs, token) }
    }
    fn publish(&mut self) -> bool {
        SplitQueue::publish(self)
    }
    fn notify(&self) {
        SplitQueue::notify(self)
    }
    fn pop_used(&mut self) -> Result<Option<Used<T>>, QueueError> {
        SplitQueue::pop_used(self)
    }
    fn has_used(&self) -> bool {
        SplitQueue::has_used(self)
    }
    fn enable_interrupts(&mut self) -> bool {
        SplitQueue::enable_interrupts(self)
    }
    fn disable_interrupts(&mut self) {
        SplitQueue::disable_interrupts(self)
    }
    unsafe fn detach_unused(&mut self, f: impl FnMut(T)) {
        // SAFETY: same contract, forwarded.
        unsafe { SplitQueue::detach_unused(self, f) }
    }
    fn num_free(&self) -> u16 {
        SplitQueue::num_free(self)
    }
    fn size(&self) -> u16 {
        SplitQueue::size(self)
    }
}
