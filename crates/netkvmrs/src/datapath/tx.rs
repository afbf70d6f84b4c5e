//! The transmit path of one queue pair: NET_BUFFER_LISTs → netkvm-core's plan → virtio descriptors, and
//! back to `NdisMSendNetBufferListsComplete`.
//!
//! # Descriptors per NET_BUFFER
//! Every chain starts in a **slot**: 2 KiB of pre-mapped shared memory per ring entry holding the virtio
//! header immediately followed by the frame's headers as the planner fixed them up (VLAN tag inserted,
//! IPv4 checksum, lengths, pseudo-header). Then:
//! * **copy** — frames up to [`COPY_MAX`] bytes (every standard-MTU frame, tag included) are copied whole
//!   into the slot: one descriptor, no mapping. A ≤ 2 KiB copy costs tens of nanoseconds; a
//!   scatter/gather mapping costs two HAL calls, a callback and at least one more descriptor — and the
//!   completion no longer depends on the protocol's buffers;
//! * **scatter/gather** — larger frames (LSO/USO sends, jumbo frames): the NET_BUFFER is mapped with
//!   `NdisMAllocateNetBufferSGList` (list storage pre-allocated per slot) and the payload descriptors
//!   point at the protocol's pages; the list is freed when the last chain using it completes;
//! * **software segmentation** (the host lacks TSO/USO for the send): segments are written into slots
//!   (copy form) when they fit, else each slot carries a segment's headers and the payload descriptors
//!   point into the mapped NET_BUFFER (zero-copy form);
//! * **bounce** — no SG DMA, a failed mapping, or more fragments than a chain may have: the NET_BUFFER is
//!   copied into one 68 KiB bounce buffer per queue (one such send in flight at a time).
//!
//! # Order, batching, backpressure
//! NBLs are queued per pair in arrival order; the queue is drained (NBs posted) under the queue's lock
//! until the ring or the slots run out — the rest waits and is resumed by the completion DPC. Each call
//! publishes once and notifies at most once. Completed NBLs are collected and handed to NDIS in one call
//! after the lock is released (a completion may re-enter `MiniportSendNetBufferLists`).
//!
//! # Per-NBL / per-NB bookkeeping (in `MiniportReserved`)
//! NBL: chains in flight + 1 while NBs remain to be posted; TCP payload sent (LSOv1 completion). NB:
//! SG list, mapping state, chains using the list, the queue (for an asynchronous mapping callback).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use ndis_sys as n;
use netkvm_core::offload::{Features as CoreFeatures, NdisVersion};
use netkvm_core::params::PriorityVlan;
use netkvm_core::tx::{
    self as ctx_tx, plan, ChecksumRequest, Ieee8021Q, LsoRequest, SendInfo, TxAction, TxContext,
    TxError, UsoRequest, TX_HEADER_BUF_LEN,
};
use netkvm_core::wire::virtio::{HdrFormat, VirtioNetHdr};
use netkvm_virtio::queue::{Buffer, QueueConfig, SplitQueue};
use netkvm_virtio::{PciTransport, QueueError};

use super::config::{self, SharedConfig};
use super::filter::{self, Cast};
use super::mem::{DmaPool, Unit};
use super::nbl::{self, map_state, nbw, FragError, NblList};
use super::stats::TxStats;
use super::{DatapathError, DatapathFault};
use crate::device::hal::NdisHal;
use crate::log;
use crate::sync::{SetOnce, SpinLock};

/// Bytes of one slot.
pub(crate) const SLOT_SIZE: usize = 2048;
/// Offset of the frame in a slot; the virtio header (12 or 20 bytes) ends exactly here so header and
/// frame form one descriptor (VERSION_1 implies ANY_LAYOUT).
const FRAME_OFF: usize = 32;
/// Largest frame sent by copy (see the module docs).
pub(crate) const COPY_MAX: usize = SLOT_SIZE - FRAME_OFF;
/// MDLs of one NET_BUFFER viewed in place; more are linearised through the bounce buffer.
const MAX_FRAGS: usize = 64;
/// MDLs of the common NET_BUFFER (header + payload pieces): the first, cheap attempt to view it.
const FEW_FRAGS: usize = 8;
/// Descriptors of an indirect table (INDIRECT_DESC): a 64 KiB send in 4 KiB pages needs 18.
pub(crate) const INDIRECT_MAX: u16 = 64;
/// Bounce buffer: the largest LSO send (63488 payload + 128 header bytes) or frame, rounded to pages.
const BOUNCE_LEN: usize = 68 * 1024;
/// `MiniportReserved[nbw::SGL]` value meaning "the data is in the bounce buffer".
const SRC_BOUNCE: usize = 1;

/// One slot's state.
#[derive(Clone, Copy, Debug)]
struct Slot {
    kind: Kind,
    nbl: n::PNET_BUFFER_LIST,
    nb: n::PNET_BUFFER,
    frames: u32,
    bytes: u32,
    cast: Cast,
    /// The NBL was already completed (device gone): only the slot remains to be freed.
    abandoned: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Free,
    /// Everything in the slot.
    Copy,
    /// Payload from the NB's SG list or the bounce buffer (NB users counted).
    Shared,
    /// A frame of the control plane (guest announce): no NBL.
    Internal,
}

impl Slot {
    const FREE: Slot = Slot {
        kind: Kind::Free,
        nbl: ptr::null_mut(),
        nb: ptr::null_mut(),
        frames: 0,
        bytes: 0,
        cast: Cast::Unicast,
        abandoned: false,
    };
}

/// Slot memory, SG-list storage and the bounce buffer, allocated at the first attach.
struct TxPool {
    _mem: DmaPool,
    slots: Box<[Unit]>,
    /// At least `sg_size` bytes per block (8-aligned), `slots + 1` blocks.
    sg_store: Box<[u64]>,
    sg_stride: usize,
    bounce: Unit,
}

// SAFETY: addresses of memory the pool owns; access is serialised by the queue lock.
unsafe impl Send for TxPool {}
// SAFETY: as above.
unsafe impl Sync for TxPool {}

/// Static facts of the queue.
#[derive(Clone, Copy)]
pub(crate) struct TxParams {
    pub(crate) pair: u16,
    pub(crate) miniport: n::NDIS_HANDLE,
    pub(crate) dma: n::NDIS_HANDLE,
    pub(crate) sg_size: u32,
    pub(crate) hal: NdisHal,
    pub(crate) hdr_len: u16,
    pub(crate) capacity: u16,
    pub(crate) negotiated: CoreFeatures,
    pub(crate) mtu: u32,
    pub(crate) ndis: NdisVersion,
    pub(crate) indirect: bool,
}

/// How the head NBL is progressing.
#[derive(Clone, Copy)]
struct Cursor {
    nb: n::PNET_BUFFER,
    seg: u32,
    info: SendInfo,
}

struct TxState {
    q: Option<SplitQueue<NdisHal, u32>>,
    slots: Vec<Slot>,
    free: Vec<u16>,
    sg_free: Vec<u16>,
    pending: NblList,
    cur: Option<Cursor>,
    bounce_busy: bool,
    /// Sends are refused with this status (gate closed); `None` = open.
    closed: Option<n::NDIS_STATUS>,
    gen: u32,
    ctx: TxContext,
    vlan: PriorityVlan,
    vlan_id: u16,
    template: Box<[u8; TX_HEADER_BUF_LEN]>,
    /// Scratch for the descriptors of one chain (reused: no per-send initialisation of a 1 KiB array).
    descs: Box<[Buffer; MAX_FRAGS + 1]>,
    fault: Option<QueueError>,
    desc_limit: usize,
}

// SAFETY: the raw NBL/NB pointers are ownership records of sends the miniport owns; the queue is used
// under its spin lock from any CPU.
unsafe impl Send for TxState {}

/// One transmit queue.
pub(crate) struct TxQueue {
    p: TxParams,
    pool: SetOnce<TxPool>,
    st: SpinLock<TxState>,
    /// NBLs owned (queued or in flight); written under the lock.
    owned: AtomicUsize,
    pub(crate) stats: TxStats,
}

/// Result of posting one NET_BUFFER.
enum Step {
    Done,
    Wait,
    /// Post the same NB again now (its data source changed).
    Retry,
    Fail(n::NDIS_STATUS),
}

/// Whether a status is an error that counts as a failed send.
fn failed(s: n::NDIS_STATUS) -> bool {
    s != n::NDIS_STATUS_SUCCESS
}

impl TxQueue {
    /// Host-side state (PASSIVE_LEVEL); slots come with the first attach.
    pub(crate) fn new(p: TxParams) -> Result<Self, DatapathError> {
        let template = crate::adapter::init::try_box([0u8; TX_HEADER_BUF_LEN])
            .ok_or(DatapathError::NoMemory)?;
        let descs = crate::adapter::init::try_box([Buffer::readable(0, 1); MAX_FRAGS + 1])
            .ok_or(DatapathError::NoMemory)?;
        Ok(TxQueue {
            p,
            pool: SetOnce::new(),
            st: SpinLock::new(TxState {
                q: None,
                slots: Vec::new(),
                free: Vec::new(),
                sg_free: Vec::new(),
                pending: NblList::new(),
                cur: None,
                bounce_busy: false,
                closed: Some(n::NDIS_STATUS_PAUSED),
                gen: 0,
                ctx: config::tx_context(None, p.negotiated, p.mtu),
                vlan: PriorityVlan {
                    priority: true,
                    vlan: true,
                },
                vlan_id: 0,
                template,
                descs,
                fault: None,
                desc_limit: 1,
            }),
            owned: AtomicUsize::new(0),
            stats: TxStats::default(),
        })
    }

    /// NBLs owned (queued or in the ring).
    pub(crate) fn owned(&self) -> usize {
        self.owned.load(Ordering::Acquire)
    }

    fn ring_max(&self) -> u16 {
        if self.p.capacity == 0 {
            256
        } else {
            self.p.capacity
        }
    }

    // -------------------------------------------------------------------------------------------
    // Attach / detach (PASSIVE_LEVEL)

    /// Creates the virtqueue; allocates slots, SG-list storage and the bounce buffer the first time.
    pub(crate) fn attach(
        &self,
        transport: &PciTransport<NdisHal>,
        vector: Option<u16>,
    ) -> Result<(), DatapathError> {
        let index = 2 * self.p.pair + 1;
        let qcfg = QueueConfig {
            max_size: self.ring_max(),
            indirect_max: if self.p.indirect { INDIRECT_MAX } else { 0 },
            indirect_min: 2,
            event_idx: false,
        };
        // SAFETY: the queue is dropped only by `detach`, after the device was reset.
        let q = unsafe { transport.create_split_queue::<u32>(index, qcfg, vector) }.map_err(
            |error| DatapathError::Queue {
                pair: self.p.pair,
                rx: false,
                error,
            },
        )?;
        if self.pool.get().is_none() {
            let pool = self.alloc_pool(q.size())?;
            let n_slots = pool.slots.len();
            let n_sg = if pool.sg_stride == 0 { 0 } else { n_slots + 1 };
            let mut s = self.st.lock();
            s.slots
                .try_reserve_exact(n_slots)
                .map_err(|_| DatapathError::NoMemory)?;
            s.free
                .try_reserve_exact(n_slots)
                .map_err(|_| DatapathError::NoMemory)?;
            s.sg_free
                .try_reserve_exact(n_sg)
                .map_err(|_| DatapathError::NoMemory)?;
            s.slots.resize(n_slots, Slot::FREE);
            s.free.extend((0..n_slots as u16).rev());
            s.sg_free.extend((0..n_sg as u16).rev());
            drop(s);
            if self.pool.set(pool).is_err() {
                return Err(DatapathError::BadParams);
            }
        }
        let limit = if self.p.indirect {
            usize::from(INDIRECT_MAX)
        } else {
            usize::from(q.size())
        };
        let mut s = self.st.lock();
        s.desc_limit = limit.clamp(1, MAX_FRAGS + 1);
        s.fault = None;
        s.q = Some(q);
        Ok(())
    }

    fn alloc_pool(&self, ring_size: u16) -> Result<TxPool, DatapathError> {
        let count = usize::from(ring_size).clamp(1, usize::from(u16::MAX) - 1);
        let mut mem = DmaPool::new(self.p.hal);
        let mut units: Vec<Unit> = Vec::new();
        mem.alloc_units(SLOT_SIZE, count, &mut units)
            .map_err(|_| DatapathError::NoMemory)?;
        let b = mem
            .alloc_region(BOUNCE_LEN)
            .map_err(|_| DatapathError::NoMemory)?;
        // `ScatterGatherListSize` covers a maximal mapping in page-sized pieces; an NB of many short
        // MDLs needs more elements than that (NDIS then allocates the list itself on every send).
        // Every list the ring can take (up to INDIRECT_MAX descriptors) fits in a block.
        let sg_stride = if self.p.sg_size == 0 {
            0
        } else {
            let ring_max = core::mem::size_of::<n::SCATTER_GATHER_LIST>()
                + core::mem::size_of::<n::SCATTER_GATHER_ELEMENT>() * usize::from(INDIRECT_MAX);
            (self.p.sg_size as usize).max(ring_max).div_ceil(8)
        };
        let words = sg_stride
            .checked_mul(count + 1)
            .ok_or(DatapathError::NoMemory)?;
        let mut sg = Vec::new();
        sg.try_reserve_exact(words)
            .map_err(|_| DatapathError::NoMemory)?;
        sg.resize(words, 0u64);
        Ok(TxPool {
            _mem: mem,
            slots: units.into_boxed_slice(),
            sg_store: sg.into_boxed_slice(),
            sg_stride,
            bounce: Unit {
                va: b.vaddr.as_ptr(),
                pa: b.paddr,
            },
        })
    }

    /// After the device reset (or removal): every send still queued or in the ring completes with
    /// `status`; the virtqueue is dropped. PASSIVE_LEVEL.
    pub(crate) fn detach(&self, status: n::NDIS_STATUS) {
        let mut done = NblList::new();
        let q = {
            let mut s = self.st.lock();
            self.flush_pending(&mut s, status, &mut done);
            let st = &mut *s;
            let mut tokens: Vec<u32> = Vec::new();
            if let Some(q) = st.q.as_mut() {
                let _ = tokens.try_reserve_exact(usize::from(q.size()));
                // SAFETY: the device was reset (or is gone): it no longer reads the ring or the buffers.
                unsafe { q.detach_unused(|t| tokens.push(t)) };
            }
            for t in tokens {
                self.release_slot(st, t as usize, Some(status), &mut done);
            }
            st.fault = None;
            st.q.take()
        };
        drop(q);
        // SAFETY: completing sends we own; IRQL as it is now (PASSIVE for detach).
        unsafe {
            nbl::complete_sends(
                self.p.miniport,
                done,
                nbl::current_irql() == n::DISPATCH_LEVEL,
            )
        };
    }

    // -------------------------------------------------------------------------------------------
    // Gate

    /// Opens (`None`) or closes (`Some(status)`) the queue. Closing completes every NBL not yet in the
    /// ring with `status`; with `abandon` (device gone) also those in the ring.
    pub(crate) fn set_closed(&self, closed: Option<n::NDIS_STATUS>, abandon: bool) {
        let mut done = NblList::new();
        {
            let mut s = self.st.lock();
            s.closed = closed;
            if let Some(status) = closed {
                self.flush_pending(&mut s, status, &mut done);
                if abandon {
                    self.abandon_ring(&mut s, status, &mut done);
                }
            }
        }
        // SAFETY: completing sends we own, at the current IRQL.
        unsafe {
            nbl::complete_sends(
                self.p.miniport,
                done,
                nbl::current_irql() == n::DISPATCH_LEVEL,
            )
        };
    }

    /// Completes every queued NBL (and the rest of a partly posted head) with `status`.
    fn flush_pending(&self, s: &mut TxState, status: n::NDIS_STATUS, done: &mut NblList) {
        loop {
            let head = s.pending.head();
            if head.is_null() {
                break;
            }
            if let Some(c) = s.cur {
                // SAFETY: the head NBL's NB is owned while its NBL is queued.
                let waiting = !c.nb.is_null()
                    && unsafe { nbl::nb_word(c.nb, nbw::STATE) }.load(Ordering::Acquire)
                        == map_state::WAITING;
                if waiting {
                    // Its SG list is on the way: the callback finishes it (the gate is closed now).
                    break;
                }
            }
            // SAFETY: queued NBLs are owned.
            let Some(l) = (unsafe { s.pending.pop_front() }) else {
                break;
            };
            self.stats
                .queued
                .store(u64::from(s.pending.len()), Ordering::Relaxed);
            // SAFETY: owned NBL.
            let lr = unsafe { &mut *l };
            if !failed(lr.status()) {
                lr.set_status(status);
            }
            if let Some(c) = s.cur.take() {
                // A mapping (or bounce) no chain uses yet is released now.
                if !c.nb.is_null() {
                    self.free_unused_source(s, c.nb);
                }
                // Partly posted: drop the posting reference; in-flight chains finish it.
                self.unref(l, done);
            } else {
                self.finish(l, done);
            }
        }
    }

    /// The device is gone: whatever is in the ring will never complete. The NBLs complete now with
    /// `status`; their slots stay reserved until `detach` hands the tokens back.
    fn abandon_ring(&self, s: &mut TxState, status: n::NDIS_STATUS, done: &mut NblList) {
        for k in 0..s.slots.len() {
            let Some(slot) = s.slots.get(k).copied() else {
                break;
            };
            if slot.kind == Kind::Free || slot.abandoned {
                continue;
            }
            self.drop_slot_refs(s, &slot, Some(status), done);
            if let Some(x) = s.slots.get_mut(k) {
                x.abandoned = true;
                x.nbl = ptr::null_mut();
                x.nb = ptr::null_mut();
            }
        }
    }

    // -------------------------------------------------------------------------------------------
    // Completion bookkeeping (queue lock held)

    /// Drops one chain's reference on its NBL; completes the NBL at zero.
    fn unref(&self, l: n::PNET_BUFFER_LIST, done: &mut NblList) {
        // SAFETY: an NBL with a chain in flight / being posted is owned.
        let c = unsafe { nbl::nbl_pending(l) };
        let v = c.load(Ordering::Relaxed);
        if v <= 1 {
            c.store(0, Ordering::Relaxed);
            self.finish(l, done);
        } else {
            c.store(v - 1, Ordering::Relaxed);
        }
    }

    /// Final status bookkeeping and the LSO completion info; queues the NBL for completion.
    fn finish(&self, l: n::PNET_BUFFER_LIST, done: &mut NblList) {
        // SAFETY: owned NBL about to be completed.
        let lr = unsafe { &mut *l };
        let lso = lr.lso_info();
        if lso.value() != 0 {
            if lso.transmit_type() == n::NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE {
                // LSOv1: report the TCP payload actually sent (0 for a failed send), keep Type.
                let sent = if failed(lr.status()) {
                    0
                } else {
                    // SAFETY: owned NBL.
                    unsafe { nbl::nbl_payload(l) }.load(Ordering::Relaxed) as u32
                };
                let mut v = n::NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::from_value(0);
                v.set_transmit_type(n::NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE);
                v.set_lso_v1_transmit_complete_tcp_payload(sent);
                lr.set_lso_info(v);
            } else {
                lr.set_lso_info(
                    n::NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO::lso_v2_transmit_complete(),
                );
            }
        }
        let o = self.owned.load(Ordering::Relaxed);
        self.owned.store(o.saturating_sub(1), Ordering::Release);
        // SAFETY: owned, in no other list any more.
        unsafe { done.push(l) };
    }

    /// Releases what a slot's chain referenced (SG list / bounce users, NBL reference).
    fn drop_slot_refs(
        &self,
        s: &mut TxState,
        slot: &Slot,
        status: Option<n::NDIS_STATUS>,
        done: &mut NblList,
    ) {
        if slot.kind == Kind::Shared && !slot.nb.is_null() {
            self.release_source(s, slot.nb, 1);
        }
        if !slot.nbl.is_null() {
            if let Some(st) = status {
                // SAFETY: owned NBL.
                let lr = unsafe { &mut *slot.nbl };
                if !failed(lr.status()) {
                    lr.set_status(st);
                }
            }
            self.unref(slot.nbl, done);
        }
    }

    /// Drops `users` references on an NB's payload source; frees the SG list / bounce at zero.
    fn release_source(&self, s: &mut TxState, nb: n::PNET_BUFFER, users: usize) {
        // SAFETY: the NB of an owned NBL.
        let u = unsafe { nbl::nb_word(nb, nbw::USERS) };
        let left = u.load(Ordering::Relaxed).saturating_sub(users);
        u.store(left, Ordering::Relaxed);
        if left == 0 {
            self.free_source(s, nb);
        }
    }

    /// Frees an NB's SG list (or bounce buffer) now.
    fn free_source(&self, s: &mut TxState, nb: n::PNET_BUFFER) {
        // SAFETY: the NB of an owned NBL.
        let src = unsafe { nbl::nb_word(nb, nbw::SGL) }.swap(0, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { nbl::nb_word(nb, nbw::STATE) }.store(map_state::IDLE, Ordering::Relaxed);
        if src == SRC_BOUNCE {
            s.bounce_busy = false;
        } else if src != 0 {
            let sgl = src as n::PSCATTER_GATHER_LIST;
            // SAFETY: the list NDIS built for `nb` and gave to ProcessSGList, freed exactly once (the
            // word was swapped to 0); DISPATCH_LEVEL (queue lock held).
            unsafe { n::NdisMFreeNetBufferSGList(self.p.dma, sgl, nb) };
            if let Some(pool) = self.pool.get() {
                if let Some(b) = sg_block_of(pool, sgl) {
                    s.sg_free.push(b);
                }
            }
        }
    }

    /// A chain completed (`status` None: by the device) or was taken back (`Some`): frees its slot.
    fn release_slot(
        &self,
        s: &mut TxState,
        k: usize,
        status: Option<n::NDIS_STATUS>,
        done: &mut NblList,
    ) {
        let Some(slot) = s.slots.get(k).copied() else {
            return;
        };
        if slot.kind == Kind::Free {
            return;
        }
        if let Some(x) = s.slots.get_mut(k) {
            *x = Slot::FREE;
        }
        s.free.push(k as u16);
        if slot.abandoned {
            return;
        }
        if status.is_none() && slot.kind != Kind::Internal {
            self.stats
                .ok
                .count(slot.cast, u64::from(slot.frames), u64::from(slot.bytes));
        }
        if status.is_some() && !slot.nbl.is_null() {
            self.stats.errors.add(1);
        }
        self.drop_slot_refs(s, &slot, status, done);
    }

    /// Pops every used chain. Err: device fault (queue stopped).
    fn reap(&self, s: &mut TxState, done: &mut NblList) -> Result<(), QueueError> {
        if let Some(f) = s.fault {
            return Err(f);
        }
        loop {
            let r = match s.q.as_mut() {
                Some(q) => q.pop_used(),
                None => return Ok(()),
            };
            match r {
                Ok(Some(u)) => self.release_slot(s, u.token as usize, None, done),
                Ok(None) => return Ok(()),
                Err(e) => {
                    log!(Error, "tx{}: device fault {:?}", self.p.pair, e);
                    s.fault = Some(e);
                    return Err(e);
                }
            }
        }
    }

    // -------------------------------------------------------------------------------------------
    // Entry points

    fn refresh(&self, s: &mut TxState, shared: &SharedConfig) {
        let g = shared.generation();
        if g == s.gen {
            return;
        }
        let (g, d) = shared.snapshot();
        s.gen = g;
        s.ctx = config::tx_context(d.offload.as_ref(), self.p.negotiated, self.p.mtu);
        if let Some(f) = d.filter {
            s.vlan = f.priority_vlan;
            s.vlan_id = f.vlan_id;
        }
    }

    /// Queues `list` (NBLs of this queue, in order) and posts what fits. `dispatch`: the caller runs at
    /// DISPATCH_LEVEL (completions made here use it).
    ///
    /// # Safety
    /// The NBLs are send NBLs NDIS handed to the miniport.
    pub(crate) unsafe fn send(&self, mut list: NblList, shared: &SharedConfig, dispatch: bool) {
        let mut done = NblList::new();
        let mut refused: Option<n::NDIS_STATUS> = None;
        {
            let mut s = self.st.lock();
            if let Some(status) = s.closed {
                refused = Some(status);
            } else {
                self.refresh(&mut s, shared);
                let count = list.len() as usize;
                // SAFETY: owned NBLs.
                unsafe { s.pending.append(&mut list) };
                let o = self.owned.load(Ordering::Relaxed);
                self.owned.store(o + count, Ordering::Release);
                let _ = self.reap(&mut s, &mut done);
                self.pump(&mut s, &mut done);
            }
        }
        if let Some(status) = refused {
            // SAFETY: the NBLs were never queued; completed once here.
            unsafe { nbl::complete_chain(self.p.miniport, list.head(), status, dispatch) };
            return;
        }
        // SAFETY: completing NBLs we own, at the caller's IRQL.
        unsafe { nbl::complete_sends(self.p.miniport, done, dispatch) };
    }

    /// Drains the pending queue, publishes, notifies, re-arms the completion interrupt (lock held).
    fn pump(&self, s: &mut TxState, done: &mut NblList) {
        loop {
            self.drain(s, done);
            let Some(q) = s.q.as_mut() else {
                return;
            };
            q.publish_and_notify();
            // Interrupt after about 3/4 of what is in flight completed (completion batching); if that
            // many already did, reap and go again.
            if q.in_flight() == 0 || !q.enable_interrupts_delayed() {
                return;
            }
            if self.reap(s, done).is_err() {
                return;
            }
        }
    }

    /// The completion DPC (DISPATCH_LEVEL): reap, post what waited, complete.
    pub(crate) fn process(&self, shared: &SharedConfig) -> Option<DatapathFault> {
        let mut done = NblList::new();
        let mut fault = None;
        {
            // SAFETY: DPCs run at DISPATCH_LEVEL.
            let mut s = unsafe { self.st.lock_at_dpc() };
            if s.q.is_some() {
                if let Some(q) = s.q.as_mut() {
                    q.disable_interrupts();
                }
                self.refresh(&mut s, shared);
                match self.reap(&mut s, &mut done) {
                    Err(e) => {
                        fault = Some(DatapathFault {
                            pair: self.p.pair,
                            rx: false,
                            error: e,
                        })
                    }
                    Ok(()) => self.pump(&mut s, &mut done),
                }
            }
        }
        // SAFETY: completing NBLs we own, at DISPATCH_LEVEL.
        unsafe { nbl::complete_sends(self.p.miniport, done, true) };
        fault
    }

    /// `MiniportCancelSend`: NBLs with `id` that are queued and not started complete with
    /// `NDIS_STATUS_SEND_ABORTED`.
    pub(crate) fn cancel(&self, id: n::PVOID) {
        let mut done = NblList::new();
        {
            let mut s = self.st.lock();
            // The head NBL is cancellable as long as nothing of it is in the ring and no mapping is on
            // its way (a prepared but unused SG list is released).
            let head = s.pending.head();
            let mut started = ptr::null_mut();
            if let Some(c) = s.cur {
                // SAFETY: the head NBL is queued, hence owned.
                let in_ring = unsafe { nbl::nbl_pending(head) }.load(Ordering::Relaxed) > 1
                    || c.seg > 0
                    // SAFETY: as above.
                    || c.nb != unsafe { (*head).first_nb() };
                let waiting = !c.nb.is_null()
                    // SAFETY: an NB of the owned head NBL.
                    && unsafe { nbl::nb_word(c.nb, nbw::STATE) }.load(Ordering::Acquire)
                        == map_state::WAITING;
                // SAFETY: owned NBL.
                let matches = unsafe { (*head).cancel_id() } == id;
                if in_ring || waiting || !matches {
                    started = head;
                } else {
                    if !c.nb.is_null() {
                        self.free_unused_source(&mut s, c.nb);
                    }
                    s.cur = None;
                }
            }
            let mut removed = NblList::new();
            let keep = |l: n::PNET_BUFFER_LIST| {
                // SAFETY: a queued NBL, owned.
                l == started || unsafe { (*l).cancel_id() } != id
            };
            // SAFETY: queued NBLs are owned.
            unsafe { s.pending.retain(keep, &mut removed) };
            self.stats
                .queued
                .store(u64::from(s.pending.len()), Ordering::Relaxed);
            // SAFETY: the removed NBLs are owned.
            while let Some(l) = unsafe { removed.pop_front() } {
                // SAFETY: owned NBL.
                unsafe { (*l).set_status(n::NDIS_STATUS_SEND_ABORTED) };
                self.finish(l, &mut done);
            }
        }
        // SAFETY: completing NBLs we own.
        unsafe {
            nbl::complete_sends(
                self.p.miniport,
                done,
                nbl::current_irql() == n::DISPATCH_LEVEL,
            )
        };
    }

    /// Sends one frame built by the control plane (copied into a slot).
    pub(crate) fn send_internal(&self, frame: &[u8]) -> Result<(), DatapathError> {
        let Some(pool) = self.pool.get() else {
            return Err(DatapathError::NotAttached);
        };
        if frame.is_empty() || frame.len() > COPY_MAX {
            return Err(DatapathError::BadParams);
        }
        let vlen = usize::from(self.p.hdr_len);
        let mut s = self.st.lock();
        let st = &mut *s;
        let Some(q) = st.q.as_mut() else {
            return Err(DatapathError::NotAttached);
        };
        if q.num_free() == 0 {
            return Err(DatapathError::NoMemory);
        }
        let Some(k) = st.free.pop() else {
            return Err(DatapathError::NoMemory);
        };
        let Some(u) = pool.slots.get(usize::from(k)).copied() else {
            return Err(DatapathError::NoMemory);
        };
        // SAFETY: a free slot (ours, not in the ring): SLOT_SIZE bytes at `u.va`.
        let buf = unsafe { core::slice::from_raw_parts_mut(u.va, SLOT_SIZE) };
        let (h, body) = buf.split_at_mut(FRAME_OFF);
        let ok = write_vnet(h, vlen, &VirtioNetHdr::default());
        if let (true, Some(dst)) = (ok, body.get_mut(..frame.len())) {
            dst.copy_from_slice(frame);
        }
        let d = Buffer::readable(
            u.pa + (FRAME_OFF - vlen) as u64,
            (vlen + frame.len()) as u32,
        );
        // SAFETY: the slot memory stays untouched until its token comes back.
        match unsafe { q.add([d], u32::from(k)) } {
            Ok(_) => {
                if let Some(x) = st.slots.get_mut(usize::from(k)) {
                    *x = Slot {
                        kind: Kind::Internal,
                        ..Slot::FREE
                    };
                }
                q.publish_and_notify();
                Ok(())
            }
            Err(_) => {
                st.free.push(k);
                Err(DatapathError::NoMemory)
            }
        }
    }

    // -------------------------------------------------------------------------------------------
    // Posting (queue lock held)

    /// Posts queued NBLs in order until resources run out.
    fn drain(&self, s: &mut TxState, done: &mut NblList) {
        let Some(pool) = self.pool.get() else {
            return;
        };
        loop {
            let l = s.pending.head();
            if l.is_null() || s.fault.is_some() || s.q.is_none() {
                return;
            }
            if s.cur.is_none() {
                // Start the NBL: NBL-level checks, posting reference.
                // SAFETY: queued NBLs are owned.
                unsafe { nbl::nbl_pending(l) }.store(1, Ordering::Relaxed);
                // SAFETY: as above.
                unsafe { nbl::nbl_payload(l) }.store(0, Ordering::Relaxed);
                // SAFETY: owned NBL.
                let lr = unsafe { &mut *l };
                lr.set_status(n::NDIS_STATUS_SUCCESS);
                match send_info(lr, self.p.ndis, s.vlan, s.vlan_id) {
                    Ok(info) => {
                        s.cur = Some(Cursor {
                            nb: lr.first_nb(),
                            seg: 0,
                            info,
                        });
                    }
                    Err(status) => {
                        self.stats.discards.add(1);
                        lr.set_status(status);
                        s.cur = Some(Cursor {
                            nb: ptr::null_mut(),
                            seg: 0,
                            info: SendInfo::default(),
                        });
                    }
                }
            }
            while let Some(c) = s.cur {
                if c.nb.is_null() {
                    break;
                }
                // SAFETY: an NB of the owned head NBL.
                if unsafe { nbl::nb_word(c.nb, nbw::STATE) }.load(Ordering::Acquire)
                    == map_state::IDLE
                    && c.seg == 0
                {
                    // SAFETY: as above; first time the datapath touches this NB.
                    unsafe { nbl::nb_reset(c.nb) };
                }
                match self.post_nb(pool, s, l, c) {
                    Step::Done => {
                        if let Some(cc) = s.cur.as_mut() {
                            // SAFETY: owned NB.
                            cc.nb = unsafe { (*c.nb).next_nb() };
                            cc.seg = 0;
                        }
                    }
                    Step::Wait => return,
                    Step::Retry => {}
                    Step::Fail(status) => {
                        // SAFETY: owned NBL.
                        let lr = unsafe { &mut *l };
                        if !failed(lr.status()) {
                            lr.set_status(status);
                        }
                        // The NBs after a bad one are not sent either.
                        if let Some(cc) = s.cur.as_mut() {
                            cc.nb = ptr::null_mut();
                        }
                    }
                }
            }
            // Every NB handled: off the queue, drop the posting reference.
            // SAFETY: owned NBLs.
            let _ = unsafe { s.pending.pop_front() };
            s.cur = None;
            self.stats
                .queued
                .store(u64::from(s.pending.len()), Ordering::Relaxed);
            self.unref(l, done);
        }
    }

    /// Asks NDIS for `nb`'s SG list (unless it has one or is waiting for one).
    fn map(&self, pool: &TxPool, s: &mut TxState, nb: n::PNET_BUFFER) -> MapResult {
        // SAFETY: owned NB.
        let state = unsafe { nbl::nb_word(nb, nbw::STATE) };
        match state.load(Ordering::Acquire) {
            map_state::MAPPED => return MapResult::Mapped,
            map_state::WAITING | map_state::REQUESTED => return MapResult::Waiting,
            _ => {}
        }
        if self.p.dma.is_null() {
            return MapResult::Failed;
        }
        let block = s.sg_free.pop();
        let (buf, size) = match block {
            Some(b) => (
                pool.sg_store
                    .as_ptr()
                    .wrapping_add(usize::from(b) * pool.sg_stride)
                    .cast_mut()
                    .cast::<core::ffi::c_void>(),
                (pool.sg_stride * 8) as u32,
            ),
            // NDIS allocates the list itself when no storage is passed.
            None => (ptr::null_mut(), 0),
        };
        // SAFETY: owned NB.
        unsafe { nbl::nb_word(nb, nbw::QUEUE) }
            .store(self as *const TxQueue as usize, Ordering::Relaxed);
        state.store(map_state::REQUESTED, Ordering::Release);
        // SAFETY: DISPATCH_LEVEL (queue lock held); `nb` is an owned send NB; the storage block is
        // reserved for this list until it is freed; the context is the NB, which stays owned until the
        // callback ran (an NBL whose NB waits for its list is never completed).
        let st = unsafe {
            n::NdisMAllocateNetBufferSGList(
                self.p.dma,
                nb,
                nb.cast(),
                n::NDIS_SG_LIST_WRITE_TO_DEVICE,
                buf,
                size,
            )
        };
        if st != n::NDIS_STATUS_SUCCESS {
            state.store(map_state::IDLE, Ordering::Release);
            if let Some(b) = block {
                s.sg_free.push(b);
            }
            log!(
                Trace,
                "tx{}: SG mapping failed {:#x}",
                self.p.pair,
                st as u32
            );
            return MapResult::Failed;
        }
        match state.compare_exchange(
            map_state::REQUESTED,
            map_state::WAITING,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // The callback will come later; it resumes the queue.
            Ok(_) => MapResult::Waiting,
            Err(_) => MapResult::Mapped,
        }
    }

    /// Posts one NET_BUFFER (or the rest of its segments).
    fn post_nb(&self, pool: &TxPool, s: &mut TxState, l: n::PNET_BUFFER_LIST, c: Cursor) -> Step {
        let nb = c.nb;
        // SAFETY: owned NB.
        let len = unsafe { (*nb).data_length() } as usize;
        if len == 0 {
            self.stats.discards.add(1);
            return Step::Fail(n::NDIS_STATUS_INVALID_PACKET);
        }
        if s.free.is_empty() || s.q.as_ref().is_none_or(|q| q.num_free() == 0) {
            return Step::Wait;
        }
        let info = c.info;
        let gso = info.lso.is_some() || info.uso.is_some();
        let tag = if info.ieee8021q.is_some_and(|q| q.is_set()) {
            4
        } else {
            0
        };
        let small = !gso && len + tag <= COPY_MAX;

        // The data: in place, or linearised into the bounce buffer. Most NBs have a few MDLs: a short
        // array first, the full one only when needed (initialising 64 slices per send costs).
        let mut few: [&[u8]; FEW_FRAGS] = [&[]; FEW_FRAGS];
        let mut many: [&[u8]; MAX_FRAGS];
        // SAFETY: owned NB; the slices live until the NBL completes, longer than this call.
        let (viewed, frags): (_, &[&[u8]]) = match unsafe { nbl::nb_fragments(nb, &mut few) } {
            Err(FragError::TooMany) => {
                many = [&[]; MAX_FRAGS];
                // SAFETY: as above.
                let v = unsafe { nbl::nb_fragments(nb, &mut many) };
                (v, &many)
            }
            v => (v, &few),
        };
        let mut source = Source::Slot;
        let nfrags = match viewed {
            Ok(k) => k,
            Err(FragError::TooMany) => 0,
            Err(e) => {
                log!(Trace, "tx{}: NET_BUFFER unreadable: {:?}", self.p.pair, e);
                self.stats.discards.add(1);
                return Step::Fail(n::NDIS_STATUS_INVALID_PACKET);
            }
        };
        let mut need_bounce = viewed.is_err();
        // SAFETY: owned NB.
        let src_word = unsafe { nbl::nb_word(nb, nbw::SGL) };
        let bounce_src = src_word.load(Ordering::Acquire) == SRC_BOUNCE;
        if !small && !need_bounce && !bounce_src {
            match self.map(pool, s, nb) {
                MapResult::Mapped => {
                    let sgl = src_word.load(Ordering::Acquire) as n::PSCATTER_GATHER_LIST;
                    if sgl.is_null() {
                        need_bounce = true;
                    } else {
                        source = Source::Sg(sgl);
                    }
                }
                MapResult::Waiting => return Step::Wait,
                MapResult::Failed => need_bounce = true,
            }
        }
        if need_bounce || bounce_src {
            if !bounce_src {
                if len > BOUNCE_LEN {
                    self.stats.errors.add(1);
                    return Step::Fail(n::NDIS_STATUS_RESOURCES);
                }
                if s.bounce_busy {
                    return Step::Wait;
                }
                // SAFETY: the bounce buffer is free (not busy) and BOUNCE_LEN bytes long.
                let dst = unsafe { core::slice::from_raw_parts_mut(pool.bounce.va, BOUNCE_LEN) };
                // SAFETY: owned NB.
                if let Err(e) = unsafe { nbl::nb_copy(nb, dst) } {
                    log!(Trace, "tx{}: NET_BUFFER unreadable: {:?}", self.p.pair, e);
                    self.stats.discards.add(1);
                    return Step::Fail(n::NDIS_STATUS_INVALID_PACKET);
                }
                s.bounce_busy = true;
                src_word.store(SRC_BOUNCE, Ordering::Release);
                // SAFETY: owned NB.
                unsafe { nbl::nb_word(nb, nbw::STATE) }.store(map_state::MAPPED, Ordering::Release);
                self.stats.bounced.add(1);
            }
            source = Source::Bounce;
        }
        // SAFETY: the bounce buffer holds this NB's `len` bytes while it is the source.
        let bounce_data: [&[u8]; 1] =
            [unsafe { core::slice::from_raw_parts(pool.bounce.va, len.min(BOUNCE_LEN)) }];
        let data: &[&[u8]] = match source {
            Source::Bounce => &bounce_data,
            _ => frags.get(..nfrags).unwrap_or(&[]),
        };

        // Plan into the template buffer.
        let p = match plan(&s.ctx, &info, data, &mut s.template[..]) {
            Ok(p) => p,
            Err(e) => {
                log!(Trace, "tx{}: send refused: {:?}", self.p.pair, e);
                self.stats.discards.add(1);
                if source != Source::Slot {
                    self.free_unused_source(s, nb);
                }
                return Step::Fail(tx_error_status(e));
            }
        };
        let r = match p.action {
            TxAction::Device => self.post_device(pool, s, l, nb, &p, data, source, len),
            TxAction::Segment => self.post_segments(pool, s, l, nb, &p, data, source, c.seg),
        };
        if let Step::Fail(_) = r {
            if source != Source::Slot {
                self.free_unused_source(s, nb);
            }
        }
        r
    }

    /// Frees an NB's source when no chain uses it (planning failed, or all segments were copied).
    fn free_unused_source(&self, s: &mut TxState, nb: n::PNET_BUFFER) {
        // SAFETY: owned NB.
        if unsafe { nbl::nb_word(nb, nbw::USERS) }.load(Ordering::Relaxed) == 0 {
            self.free_source(s, nb);
        }
    }

    /// One chain for the whole frame, offloads done by the device.
    #[allow(clippy::too_many_arguments)]
    fn post_device(
        &self,
        pool: &TxPool,
        s: &mut TxState,
        l: n::PNET_BUFFER_LIST,
        nb: n::PNET_BUFFER,
        p: &ctx_tx::TxPlan,
        data: &[&[u8]],
        source: Source,
        len: usize,
    ) -> Step {
        let vlen = usize::from(self.p.hdr_len);
        let hb = p.header_buf_len;
        let rest = len.saturating_sub(p.header_len);
        let copy = hb + rest <= COPY_MAX;
        let Some(&k) = s.free.last() else {
            return Step::Wait;
        };
        let Some(u) = pool.slots.get(usize::from(k)).copied() else {
            return Step::Wait;
        };
        // SAFETY: a free slot: SLOT_SIZE bytes only the queue lock holder touches.
        let buf = unsafe { core::slice::from_raw_parts_mut(u.va, SLOT_SIZE) };
        let (h, body) = buf.split_at_mut(FRAME_OFF);
        if !write_vnet(h, vlen, &p.vnet_hdr) {
            return Step::Fail(n::NDIS_STATUS_FAILURE);
        }
        let Some(dst) = body.get_mut(..hb) else {
            return Step::Fail(n::NDIS_STATUS_FAILURE);
        };
        dst.copy_from_slice(s.template.get(..hb).unwrap_or(&[]));
        let bufs: &mut [Buffer; MAX_FRAGS + 1] = &mut s.descs;
        let mut nbufs = 0usize;
        let head_pa = u.pa + (FRAME_OFF - vlen) as u64;
        let kind;
        if copy {
            let Some(dst) = body.get_mut(hb..hb + rest) else {
                return Step::Fail(n::NDIS_STATUS_FAILURE);
            };
            copy_from_frags(data, p.header_len, dst);
            bufs[0] = Buffer::readable(head_pa, (vlen + hb + rest) as u32);
            nbufs = 1;
            kind = Kind::Copy;
            self.stats.copied.add(1);
        } else {
            bufs[0] = Buffer::readable(head_pa, (vlen + hb) as u32);
            nbufs += 1;
            let ok = match source {
                Source::Sg(sgl) => {
                    // SAFETY: the list NDIS built for this NB; valid until freed.
                    unsafe { sg_range(sgl, p.header_len, rest, bufs, &mut nbufs, s.desc_limit) }
                }
                Source::Bounce => push_range(
                    pool.bounce.pa + p.header_len as u64,
                    rest,
                    bufs,
                    &mut nbufs,
                    s.desc_limit,
                ),
                Source::Slot => false,
            };
            if !ok {
                // Too many fragments for one chain: linearise (a later attempt uses the bounce).
                if matches!(source, Source::Sg(_)) {
                    self.free_source(s, nb);
                    if !s.bounce_busy && len <= BOUNCE_LEN {
                        return self.retry_bounced(pool, s, nb, len);
                    }
                    return Step::Wait;
                }
                self.stats.errors.add(1);
                return Step::Fail(n::NDIS_STATUS_RESOURCES);
            }
            kind = Kind::Shared;
            if matches!(source, Source::Sg(_)) {
                self.stats.mapped.add(1);
            }
        }
        let Some(q) = s.q.as_mut() else {
            return Step::Wait;
        };
        // SAFETY: the slot and the payload pages (mapped NB or bounce) stay untouched and alive until
        // the token comes back: the NBL completes only after every chain completed.
        match unsafe {
            q.add(
                s.descs.get(..nbufs).unwrap_or(&[]).iter().copied(),
                u32::from(k),
            )
        } {
            Ok(_) => {}
            Err(QueueError::Full { .. }) => return Step::Wait,
            Err(e) => {
                log!(Warn, "tx{}: add failed {:?}", self.p.pair, e);
                self.stats.errors.add(1);
                return Step::Fail(n::NDIS_STATUS_FAILURE);
            }
        }
        s.free.pop();
        if kind == Kind::Shared {
            // SAFETY: owned NB.
            let u = unsafe { nbl::nb_word(nb, nbw::USERS) };
            u.store(u.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else if source != Source::Slot {
            // Copied whole: the mapping is not needed any more.
            self.free_unused_source(s, nb);
        }
        // SAFETY: owned NBL.
        let c = unsafe { nbl::nbl_pending(l) };
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        // SAFETY: as above.
        let pay = unsafe { nbl::nbl_payload(l) };
        pay.store(
            pay.load(Ordering::Relaxed) + p.lso_v1_tcp_payload as usize,
            Ordering::Relaxed,
        );
        let segs = p.segments.max(1);
        let wire = (len + hb - p.header_len) as u64 + u64::from(segs - 1) * hb as u64;
        if let Some(x) = s.slots.get_mut(usize::from(k)) {
            *x = Slot {
                kind,
                nbl: l,
                nb,
                frames: segs,
                bytes: wire.min(u64::from(u32::MAX)) as u32,
                cast: filter::cast_of(&filter::dst_mac(s.template.get(..6).unwrap_or(&[]))),
                abandoned: false,
            };
        }
        Step::Done
    }

    /// Drops an SG list that had too many elements and linearises the NB into the bounce buffer; the
    /// caller retries on the next drain.
    fn retry_bounced(
        &self,
        pool: &TxPool,
        s: &mut TxState,
        nb: n::PNET_BUFFER,
        len: usize,
    ) -> Step {
        // SAFETY: the bounce buffer is free and BOUNCE_LEN bytes long.
        let dst = unsafe { core::slice::from_raw_parts_mut(pool.bounce.va, BOUNCE_LEN) };
        // SAFETY: owned NB.
        if unsafe { nbl::nb_copy(nb, dst) }.is_err() || len > BOUNCE_LEN {
            self.stats.discards.add(1);
            return Step::Fail(n::NDIS_STATUS_INVALID_PACKET);
        }
        s.bounce_busy = true;
        // SAFETY: owned NB.
        unsafe { nbl::nb_word(nb, nbw::SGL) }.store(SRC_BOUNCE, Ordering::Release);
        // SAFETY: owned NB.
        unsafe { nbl::nb_word(nb, nbw::STATE) }.store(map_state::MAPPED, Ordering::Release);
        self.stats.bounced.add(1);
        Step::Retry
    }

    /// Software segmentation: one chain per segment, resumed at `done_segs` after a wait.
    #[allow(clippy::too_many_arguments)]
    fn post_segments(
        &self,
        pool: &TxPool,
        s: &mut TxState,
        l: n::PNET_BUFFER_LIST,
        nb: n::PNET_BUFFER,
        p: &ctx_tx::TxPlan,
        data: &[&[u8]],
        source: Source,
        done_segs: u32,
    ) -> Step {
        let vlen = usize::from(self.p.hdr_len);
        let copy_form = p.max_segment_len() <= COPY_MAX || source == Source::Slot;
        let TxState {
            q,
            slots,
            free,
            template,
            descs,
            desc_limit,
            cur,
            ..
        } = s;
        let Some(q) = q.as_mut() else {
            return Step::Wait;
        };
        let hb: &[u8] = &template[..];
        let mut seg_it = p.segmenter(hb, data);
        // Skip what an earlier attempt already posted (re-planning reproduces the same segments).
        let mut scratch = [0u8; TX_HEADER_BUF_LEN];
        for _ in 0..done_segs {
            match seg_it.next_header_into(&mut scratch) {
                Some(Ok(_)) => {}
                _ => return Step::Fail(n::NDIS_STATUS_FAILURE),
            }
        }
        let mut posted = done_segs;
        let mut users_added = 0usize;
        let mut status = Step::Done;
        loop {
            if seg_it.remaining_segments() == 0 {
                break;
            }
            let Some(&k) = free.last() else {
                status = Step::Wait;
                break;
            };
            if q.num_free() == 0 {
                status = Step::Wait;
                break;
            }
            let Some(u) = pool.slots.get(usize::from(k)).copied() else {
                status = Step::Wait;
                break;
            };
            // SAFETY: a free slot: SLOT_SIZE bytes only the queue lock holder touches.
            let buf = unsafe { core::slice::from_raw_parts_mut(u.va, SLOT_SIZE) };
            let (h, body) = buf.split_at_mut(FRAME_OFF);
            let mut probe = seg_it.clone();
            let seg = if copy_form {
                probe.next_into(body)
            } else {
                probe.next_header_into(body)
            };
            let seg = match seg {
                Some(Ok(x)) => x,
                None => break,
                Some(Err(e)) => {
                    log!(Trace, "tx{}: segmentation failed: {:?}", self.p.pair, e);
                    status = Step::Fail(tx_error_status(e));
                    break;
                }
            };
            if !write_vnet(h, vlen, &seg.vnet_hdr) {
                status = Step::Fail(n::NDIS_STATUS_FAILURE);
                break;
            }
            let head_pa = u.pa + (FRAME_OFF - vlen) as u64;
            let bufs: &mut [Buffer; MAX_FRAGS + 1] = descs;
            let mut nbufs = 1usize;
            let shared = !copy_form;
            if copy_form {
                bufs[0] = Buffer::readable(head_pa, (vlen + seg.len) as u32);
            } else {
                bufs[0] = Buffer::readable(head_pa, (vlen + seg.header_len) as u32);
                let ok = match source {
                    // SAFETY: the list NDIS built for this NB; valid until freed.
                    Source::Sg(sgl) => unsafe {
                        sg_range(
                            sgl,
                            seg.payload_offset,
                            seg.payload_len,
                            bufs,
                            &mut nbufs,
                            *desc_limit,
                        )
                    },
                    Source::Bounce => push_range(
                        pool.bounce.pa + seg.payload_offset as u64,
                        seg.payload_len,
                        bufs,
                        &mut nbufs,
                        *desc_limit,
                    ),
                    Source::Slot => false,
                };
                if !ok {
                    status = Step::Fail(n::NDIS_STATUS_RESOURCES);
                    break;
                }
            }
            // SAFETY: slot and payload stay alive and untouched until the token comes back.
            match unsafe {
                q.add(
                    bufs.get(..nbufs).unwrap_or(&[]).iter().copied(),
                    u32::from(k),
                )
            } {
                Ok(_) => {}
                Err(QueueError::Full { .. }) => {
                    status = Step::Wait;
                    break;
                }
                Err(e) => {
                    log!(Warn, "tx{}: add failed {:?}", self.p.pair, e);
                    status = Step::Fail(n::NDIS_STATUS_FAILURE);
                    break;
                }
            }
            seg_it = probe;
            free.pop();
            posted += 1;
            if shared {
                users_added += 1;
            }
            if let Some(x) = slots.get_mut(usize::from(k)) {
                *x = Slot {
                    kind: if shared { Kind::Shared } else { Kind::Copy },
                    nbl: l,
                    nb,
                    frames: 1,
                    bytes: (seg.header_len + seg.payload_len) as u32,
                    cast: filter::cast_of(&filter::dst_mac(hb.get(..6).unwrap_or(&[]))),
                    abandoned: false,
                };
            }
            // SAFETY: owned NBL.
            let c = unsafe { nbl::nbl_pending(l) };
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            self.stats.sw_segments.add(1);
        }
        if users_added > 0 {
            // SAFETY: owned NB.
            let u = unsafe { nbl::nb_word(nb, nbw::USERS) };
            u.store(u.load(Ordering::Relaxed) + users_added, Ordering::Relaxed);
        }
        if let Some(cc) = cur.as_mut() {
            cc.seg = posted;
        }
        if matches!(status, Step::Done) {
            // SAFETY: owned NBL.
            let pay = unsafe { nbl::nbl_payload(l) };
            pay.store(
                pay.load(Ordering::Relaxed) + p.lso_v1_tcp_payload as usize,
                Ordering::Relaxed,
            );
            if copy_form && source != Source::Slot {
                // Every segment was copied: the mapping / bounce is not needed any more.
                self.free_unused_source(s, nb);
            }
        }
        status
    }

    /// Called by [`super::process_sg_list`] when a mapping completed after `NdisMAllocateNetBufferSGList`
    /// returned: posts what waited for it (DISPATCH_LEVEL).
    pub(crate) fn resume(&self) {
        let mut done = NblList::new();
        {
            // SAFETY: ProcessSGList runs at DISPATCH_LEVEL.
            let mut s = unsafe { self.st.lock_at_dpc() };
            if let Some(status) = s.closed {
                self.flush_pending(&mut s, status, &mut done);
            } else {
                self.pump(&mut s, &mut done);
            }
        }
        // SAFETY: completing NBLs we own, at DISPATCH_LEVEL.
        unsafe { nbl::complete_sends(self.p.miniport, done, true) };
    }

    /// Slots in use and free (tests and logs).
    pub(crate) fn slot_counts(&self) -> (usize, usize) {
        let s = self.st.lock();
        (s.slots.len(), s.free.len())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// No payload descriptors needed (copy).
    Slot,
    Sg(n::PSCATTER_GATHER_LIST),
    Bounce,
}

enum MapResult {
    Mapped,
    Waiting,
    Failed,
}

/// Writes the virtio header so that it ends at `FRAME_OFF` (the end of `h`).
fn write_vnet(h: &mut [u8], vlen: usize, hdr: &VirtioNetHdr) -> bool {
    let fmt = if vlen >= 20 {
        HdrFormat::V1Hash
    } else {
        HdrFormat::V1
    };
    let start = FRAME_OFF.saturating_sub(vlen);
    h.get_mut(start..FRAME_OFF)
        .is_some_and(|d| hdr.write(d, fmt).is_ok())
}

/// Copies frame bytes from `skip` on into `dst`.
fn copy_from_frags(frags: &[&[u8]], mut skip: usize, dst: &mut [u8]) {
    let mut pos = 0usize;
    for f in frags {
        if pos >= dst.len() {
            break;
        }
        if skip >= f.len() {
            skip -= f.len();
            continue;
        }
        let src = f.get(skip..).unwrap_or(&[]);
        skip = 0;
        let n = src.len().min(dst.len() - pos);
        if let (Some(d), Some(s)) = (dst.get_mut(pos..pos + n), src.get(..n)) {
            d.copy_from_slice(s);
        }
        pos += n;
    }
}

/// Appends one contiguous device range as a descriptor.
fn push_range(pa: u64, len: usize, out: &mut [Buffer], n_out: &mut usize, limit: usize) -> bool {
    if len == 0 {
        return true;
    }
    if *n_out >= limit {
        return false;
    }
    let Some(slot) = out.get_mut(*n_out) else {
        return false;
    };
    *slot = Buffer::readable(pa, len as u32);
    *n_out += 1;
    true
}

/// Appends the SG elements covering NB bytes `[start, start + len)`.
///
/// # Safety
/// `sgl` is a live SG list of the NB (elements in data order from the data start).
unsafe fn sg_range(
    sgl: n::PSCATTER_GATHER_LIST,
    start: usize,
    len: usize,
    out: &mut [Buffer],
    n_out: &mut usize,
    limit: usize,
) -> bool {
    // SAFETY: caller contract.
    let elems = unsafe { n::SCATTER_GATHER_LIST::elements(sgl) };
    let (mut skip, mut left) = (start, len);
    for e in elems {
        if left == 0 {
            break;
        }
        let el = e.Length as usize;
        if skip >= el {
            skip -= el;
            continue;
        }
        let take = (el - skip).min(left);
        if !push_range(e.Address as u64 + skip as u64, take, out, n_out, limit) {
            return false;
        }
        left -= take;
        skip = 0;
    }
    left == 0
}

/// The storage block an SG list lives in (None: NDIS allocated it).
fn sg_block_of(pool: &TxPool, sgl: n::PSCATTER_GATHER_LIST) -> Option<u16> {
    if pool.sg_stride == 0 {
        return None;
    }
    let base = pool.sg_store.as_ptr() as usize;
    let off = (sgl as usize).checked_sub(base)?;
    let stride = pool.sg_stride * 8;
    if off % stride != 0 {
        return None;
    }
    let b = off / stride;
    (b < pool.sg_store.len() / pool.sg_stride).then_some(b as u16)
}

/// The NDIS status a refused send completes with.
fn tx_error_status(e: TxError) -> n::NDIS_STATUS {
    match e {
        TxError::OffloadDisabled(_) | TxError::EncapsulationDisabled => n::NDIS_STATUS_NOT_ACCEPTED,
        TxError::TooLarge { .. } | TxError::FrameTooLong { .. } => n::NDIS_STATUS_INVALID_LENGTH,
        TxError::OutputTooSmall { .. } | TxError::HeaderBufferTooSmall { .. } => {
            n::NDIS_STATUS_FAILURE
        }
        _ => n::NDIS_STATUS_INVALID_PACKET,
    }
}

/// Decodes and checks the per-NBL send information (spec §2.2, §3.2, §4.2; 802.1Q per
/// `*PriorityVLANTag` / `VlanID`).
pub(crate) fn send_info(
    l: &n::NET_BUFFER_LIST,
    ndis: NdisVersion,
    pv: PriorityVlan,
    vlan_id: u16,
) -> Result<SendInfo, n::NDIS_STATUS> {
    let checksum = ChecksumRequest::from_raw(l.checksum_info().value() as u32);
    let lso = LsoRequest::from_raw(l.lso_info().value() as u32);
    // The slot is the RSC receive slot before NDIS 6.83: only read as USO from 6.83 on.
    let uso = if ndis >= NdisVersion::V6_83 {
        UsoRequest::from_raw(l.uso_info().value() as u32)
    } else {
        None
    };
    let raw = Ieee8021Q::from_raw(l.ieee8021q_info().value() as u32);
    if raw.cfi {
        return Err(n::NDIS_STATUS_INVALID_PACKET);
    }
    let prio = if pv.priority { raw.priority } else { 0 };
    let vid = if pv.vlan {
        match (raw.vlan_id, vlan_id) {
            (0, cfg) => cfg,
            (v, 0) => v,
            (v, cfg) if v == cfg => v,
            // A VLAN this adapter is not a member of.
            _ => return Err(n::NDIS_STATUS_INVALID_PACKET),
        }
    } else if raw.vlan_id != 0 {
        // VLAN tagging is disabled: never send the frame onto some VLAN untagged.
        return Err(n::NDIS_STATUS_INVALID_PACKET);
    } else {
        0
    };
    let ieee8021q = (prio != 0 || vid != 0).then_some(Ieee8021Q {
        priority: prio,
        cfi: false,
        vlan_id: vid,
    });
    if lso.is_some() || uso.is_some() {
        // LSO / USO NBLs carry exactly one NET_BUFFER (spec §2.2, §3.2).
        let first = l.first_nb();
        // SAFETY: the NBL's first NB is valid while the miniport owns the NBL.
        if first.is_null() || !unsafe { (*first).next_nb() }.is_null() {
            return Err(n::NDIS_STATUS_INVALID_PACKET);
        }
    }
    Ok(SendInfo {
        checksum,
        lso,
        uso,
        ieee8021q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nbl_with(slots: &[(usize, usize)]) -> Box<n::NET_BUFFER_LIST> {
        // SAFETY: NET_BUFFER_LIST is plain data; all-zero is a valid (empty) NBL for these tests.
        let mut l: Box<n::NET_BUFFER_LIST> = Box::new(unsafe { core::mem::zeroed() });
        for &(s, v) in slots {
            l.set_info_value(s, v);
        }
        l
    }

    const ALL: PriorityVlan = PriorityVlan {
        priority: true,
        vlan: true,
    };

    #[test]
    fn the_configured_vlan_is_inserted_and_a_foreign_one_refused() {
        let l = nbl_with(&[]);
        let i = send_info(&l, NdisVersion::V6_85, ALL, 12).unwrap();
        assert_eq!(i.ieee8021q.map(|q| q.vlan_id), Some(12));
        let l = nbl_with(&[(n::Ieee8021QNetBufferListInfo, (12 << 4) | 5)]);
        let i = send_info(&l, NdisVersion::V6_85, ALL, 12).unwrap();
        assert_eq!(i.ieee8021q.map(|q| (q.priority, q.vlan_id)), Some((5, 12)));
        let l = nbl_with(&[(n::Ieee8021QNetBufferListInfo, 13 << 4)]);
        assert_eq!(
            send_info(&l, NdisVersion::V6_85, ALL, 12).unwrap_err(),
            n::NDIS_STATUS_INVALID_PACKET
        );
        // CFI set is never valid on Ethernet.
        let l = nbl_with(&[(n::Ieee8021QNetBufferListInfo, 8)]);
        assert!(send_info(&l, NdisVersion::V6_85, ALL, 0).is_err());
    }

    #[test]
    fn priority_vlan_keyword_strips_what_is_disabled() {
        let prio_only = PriorityVlan {
            priority: true,
            vlan: false,
        };
        let l = nbl_with(&[(n::Ieee8021QNetBufferListInfo, 3)]);
        let i = send_info(&l, NdisVersion::V6_85, prio_only, 0).unwrap();
        assert_eq!(i.ieee8021q.map(|q| (q.priority, q.vlan_id)), Some((3, 0)));
        let l = nbl_with(&[(n::Ieee8021QNetBufferListInfo, 7 << 4)]);
        assert!(send_info(&l, NdisVersion::V6_85, prio_only, 0).is_err());
        let none = PriorityVlan {
            priority: false,
            vlan: false,
        };
        let l = nbl_with(&[(n::Ieee8021QNetBufferListInfo, 3)]);
        assert_eq!(
            send_info(&l, NdisVersion::V6_85, none, 0)
                .unwrap()
                .ieee8021q,
            None
        );
    }

    #[test]
    fn the_uso_slot_is_read_only_from_ndis_6_83() {
        let mut nb: n::NET_BUFFER = unsafe_zeroed();
        let mut l = nbl_with(&[(n::UdpSegmentationOffloadInfo, (42 << 20) | 1400)]);
        l.set_first_nb(&mut nb);
        let i = send_info(&l, NdisVersion::V6_85, ALL, 0).unwrap();
        assert_eq!(
            i.uso.map(|u| (u.mss, u.udp_header_offset)),
            Some((1400, 42))
        );
        let i = send_info(&l, NdisVersion::V6_30, ALL, 0).unwrap();
        assert_eq!(i.uso, None);
    }

    #[test]
    fn lso_on_an_nbl_with_two_net_buffers_is_refused() {
        let mut nb2: n::NET_BUFFER = unsafe_zeroed();
        let mut nb1: n::NET_BUFFER = unsafe_zeroed();
        nb1.set_next_nb(&mut nb2);
        let mut l = nbl_with(&[(
            n::TcpLargeSendNetBufferListInfo,
            (1 << 30) | (34 << 20) | 1448,
        )]);
        l.set_first_nb(&mut nb1);
        assert!(send_info(&l, NdisVersion::V6_85, ALL, 0).is_err());
        nb1.set_next_nb(ptr::null_mut());
        let i = send_info(&l, NdisVersion::V6_85, ALL, 0).unwrap();
        assert_eq!(i.lso.map(|x| x.mss), Some(1448));
    }

    #[test]
    fn frame_bytes_are_copied_across_fragments_after_the_skip() {
        let a = [1u8, 2, 3];
        let b = [4u8, 5];
        let c = [6u8, 7, 8, 9];
        let mut out = [0u8; 5];
        copy_from_frags(&[&a, &b, &c], 2, &mut out);
        assert_eq!(out, [3, 4, 5, 6, 7]);
    }

    #[test]
    fn ranges_stop_at_the_descriptor_limit() {
        let mut bufs = [Buffer::readable(0, 1); 4];
        let mut n_out = 3;
        assert!(push_range(0x1000, 10, &mut bufs, &mut n_out, 4));
        assert!(!push_range(0x2000, 10, &mut bufs, &mut n_out, 4));
        assert!(
            push_range(0x2000, 0, &mut bufs, &mut n_out, 4),
            "empty ranges need no descriptor"
        );
    }

    #[test]
    fn the_virtio_header_ends_where_the_frame_starts() {
        let mut h = [0xAAu8; FRAME_OFF];
        let hdr = VirtioNetHdr {
            gso_size: 1448,
            ..VirtioNetHdr::default()
        };
        assert!(write_vnet(&mut h, 12, &hdr));
        assert_eq!(
            &h[FRAME_OFF - 12 + 4..FRAME_OFF - 12 + 6],
            &1448u16.to_le_bytes()
        );
        assert_eq!(h[FRAME_OFF - 13], 0xAA, "nothing written before the header");
    }

    fn unsafe_zeroed<T>() -> T {
        // SAFETY: test-only, for plain-data NDIS structures.
        unsafe { core::mem::zeroed() }
    }
}
