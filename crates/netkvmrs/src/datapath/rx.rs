//! The receive path of one queue pair: buffers posted to the RX virtqueue, the DPC that turns used
//! buffers into NET_BUFFER_LISTs (netkvm-core classification, the software filter, software RSC, RSS
//! steering) and indicates them, and the return path that recycles buffers and refills the ring.
//!
//! # Buffers
//! A buffer is one descriptor of physically contiguous pages (virtio header at its start):
//! * mergeable buffers (`MRG_RXBUF`): 4 KiB when only MTU frames can arrive; 16 KiB when the host may
//!   deliver coalesced frames (GUEST_TSO/USO negotiated), so that a 256-entry ring holds 4 MiB and a
//!   64 KiB frame takes 5 entries instead of 17 — the ring then rides out DPC latency without the
//!   host dropping (measured: ring-empty events fell from ~1000 to ~50 per 4 s at 6 Gbit/s);
//! * single buffers: the negotiated frame size (a page for MTU frames; 64 KiB only when GUEST_TSO/USO
//!   was negotiated without mergeable buffers — never because the host merely offers it).
//!
//! Every page has its own MDL, so an indicated frame (or an SCU's payload window) is an MDL chain of
//! page windows at any offset; every frame gets one NBL (one NET_BUFFER). All of it is allocated when
//! the queue is first attached: nothing is allocated per packet. An indicated NBL owns the buffers of
//! the frames it shows (linked through [`RxBuf::next`]; `MiniportReserved` holds the first one);
//! `ReturnNetBufferLists` puts them back on the free list and refills the ring in batches.
//!
//! # Locks
//! * `ring` (spin lock): the virtqueue, the free buffer and NBL stacks. Held only to pop a batch of used
//!   entries and to recycle/refill — never across classification or an indication (a return may arrive
//!   from inside `NdisMIndicateReceiveNetBufferLists`, on this or another CPU).
//! * `work` (spin lock, uncontended): the DPC's state (configuration copy, hasher, RSC engine, batch
//!   arrays). `busy` lets a DPC for the same pair on another processor skip instead of spinning.
//!
//! Lock order: `work` → `ring`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use ndis_sys as n;
use netkvm_core::offload::{Features as CoreFeatures, PerFamily, RxBufferLayout, RX_PAGE_SIZE};
use netkvm_core::rsc::{Part, RscEngine, RscOutput, RscSegment, Scu};
use netkvm_core::rss::{
    HashCheck, HashTypes, Toeplitz, HASH_FUNCTION_TOEPLITZ, MICROSOFT_TEST_KEY,
};
use netkvm_core::rx::{classify, RssParams, RxConfig, RxError, RxFrame, RxInfo};
use netkvm_core::wire::virtio::{HdrFormat, VirtioNetHdr};
use netkvm_virtio::queue::{Buffer, QueueConfig, SplitQueue};
use netkvm_virtio::{PciTransport, QueueError};

use super::config::{self, ConfigData, SharedConfig};
use super::filter::{self, Cast};
use super::mem::{DmaPool, Unit};
use super::nbl::{self, NblList};
use super::stats::RxStats;
use super::steer::Steering;
use super::{DatapathError, DatapathFault, RssMode, RxFilter};
use crate::device::hal::NdisHal;
use crate::log;
use crate::sync::{SetOnce, SpinLock};

/// Frames handled per round of the DPC loop: the software RSC batch and the unit of one indication.
pub(crate) const RX_BATCH: usize = 128;
/// Buffers one frame may span (64 KiB + headers in 4 KiB pages is 17).
const MAX_FRAME_BUFS: usize = 20;
/// End of a buffer chain.
const NO_BUF: u32 = u32::MAX;
/// Pages of a mergeable buffer when coalesced frames can arrive (see the module docs).
const MRG_GSO_PAGES: u32 = 4;
/// Memory a queue's buffers may take in total once the ring is covered (the reserve comes out of it).
const RX_RESERVE_BUDGET: usize = 4 << 20;
/// Refill the ring once this many buffers (at most a quarter of the ring) are free — kicks are what
/// cost, and with EVENT_IDX the device only wants one when it ran dry.
const REFILL_BATCH: usize = 16;
/// Pool tag of the receive NBL pool ("NkRx").
const RX_POOL_TAG: u32 = u32::from_le_bytes(*b"NkRx");

/// One receive buffer.
pub(crate) struct RxBuf {
    va: *mut u8,
    pa: u64,
    /// Next buffer owned by the same NBL (or [`NO_BUF`]).
    next: AtomicU32,
}

/// Buffers, MDLs and NBLs of one queue, allocated at the first attach and kept until the datapath is
/// dropped (indicated NBLs survive resets).
pub(crate) struct RxPool {
    _mem: DmaPool,
    miniport: n::NDIS_HANDLE,
    bufs: Box<[RxBuf]>,
    /// One MDL per page: buffer `t`, page `p` at `t * pages + p`.
    mdls: Box<[n::PMDL]>,
    /// Pages per buffer.
    pages: u32,
    /// Bytes posted per buffer (`pages` × 4 KiB).
    buf_len: u32,
    nbl_pool: n::NDIS_HANDLE,
    nbls: Box<[n::PNET_BUFFER_LIST]>,
}

// SAFETY: the pool's raw pointers name DMA memory, MDLs and NBLs it owns; after construction the
// table is read-only, per-buffer mutable state is atomic, and who may touch a buffer/NBL is decided by
// the ring lock (free/posted) or by NDIS ownership (indicated).
unsafe impl Send for RxPool {}
// SAFETY: as above.
unsafe impl Sync for RxPool {}

impl RxPool {
    fn buf(&self, t: u32) -> Option<&RxBuf> {
        self.bufs.get(t as usize)
    }

    /// The MDL of page `page` of buffer `t`.
    fn mdl(&self, t: u32, page: u32) -> n::PMDL {
        let i = (t as usize)
            .checked_mul(self.pages as usize)
            .and_then(|x| x.checked_add(page as usize));
        i.and_then(|i| self.mdls.get(i))
            .copied()
            .unwrap_or(ptr::null_mut())
    }
}

/// An MDL chain being built for one NET_BUFFER: windows of buffer pages.
struct Chain {
    first: n::PMDL,
    last: n::PMDL,
    bytes: u32,
}

impl Chain {
    const fn new() -> Self {
        Chain {
            first: ptr::null_mut(),
            last: ptr::null_mut(),
            bytes: 0,
        }
    }

    /// Appends bytes `[start, start + len)` of buffer `t` (one window per page touched).
    ///
    /// The buffer must be owned by the DPC (popped, not indicated) and appear in no other chain.
    fn push(&mut self, pool: &RxPool, t: u32, start: u32, len: u32) {
        let Some(b) = pool.buf(t) else {
            return;
        };
        let end = start.saturating_add(len).min(pool.buf_len);
        let mut off = start;
        while off < end {
            let page = off / RX_PAGE_SIZE;
            let in_page = off % RX_PAGE_SIZE;
            let take = (RX_PAGE_SIZE - in_page).min(end - off);
            let mdl = pool.mdl(t, page);
            if mdl.is_null() {
                return;
            }
            let page_va = b.va.wrapping_add((page * RX_PAGE_SIZE) as usize);
            // SAFETY: the page's own MDL (built over exactly this page), owned by the DPC like the
            // buffer; `in_page + take <= 4096`.
            unsafe { nbl::mdl_window(mdl, page_va, in_page, take) };
            if self.last.is_null() {
                self.first = mdl;
            } else {
                // SAFETY: both MDLs belong to buffers owned by the DPC.
                unsafe { nbl::mdl_link(self.last, mdl) };
            }
            self.last = mdl;
            self.bytes += take;
            off += take;
        }
    }
}

impl Drop for RxPool {
    fn drop(&mut self) {
        for &nbl in self.nbls.iter() {
            // SAFETY: our NBL, not with NDIS (the datapath is dropped at Halt, after every return); its NB
            // must not point at our MDLs when NDIS frees it.
            unsafe { nbl::set_rx_data(nbl, ptr::null_mut(), 0, 0) };
            // SAFETY: allocated from `nbl_pool`, freed once.
            unsafe { n::NdisFreeNetBufferList(nbl) };
        }
        if !self.nbl_pool.is_null() {
            // SAFETY: every NBL of the pool was freed above.
            unsafe { n::NdisFreeNetBufferListPool(self.nbl_pool) };
        }
        for &m in self.mdls.iter() {
            if !m.is_null() {
                // SAFETY: from NdisAllocateMdl, no longer in any chain NDIS holds; freed once.
                unsafe { n::NdisFreeMdl(m) };
            }
        }
    }
}

/// The ring and the free stacks.
struct RxRing {
    q: Option<SplitQueue<NdisHal, u32>>,
    free: Vec<u32>,
    free_nbls: Vec<u32>,
}

/// A used entry: buffer and bytes written.
#[derive(Clone, Copy, Debug, Default)]
struct Ent {
    token: u32,
    len: u32,
}

/// A frame that passed classification and the filter.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// First entry in `RxWork::ents`.
    first: u32,
    /// Entries (buffers).
    count: u8,
    info: RxInfo,
    cast: Cast,
}

/// Snapshot of the RSS configuration the DPC uses.
#[derive(Clone, Copy)]
struct RssView {
    mode: RssMode,
    types: HashTypes,
}

/// The DPC's state.
struct RxWork {
    gen: u32,
    cfg: RxConfig,
    filter: Option<RxFilter>,
    rss: RssView,
    key: [u8; 40],
    key_len: u8,
    toeplitz: Toeplitz,
    rsc: RscEngine,
    rsc_on: PerFamily<bool>,
    /// Popped entries of complete frames (this round).
    ents: Vec<Ent>,
    /// Frame boundaries in `ents` before classification: (first, count).
    bounds: Vec<(u32, u8)>,
    /// Accepted frames (this round).
    frames: Vec<Frame>,
    /// Buffers to put back (dropped frames, recycled NBLs' buffers).
    recycle: Vec<u32>,
    /// NBLs taken for this round (indices).
    nbls: Vec<u32>,
    /// NBLs to put back.
    recycle_nbls: Vec<u32>,
    /// A mergeable frame whose buffers are not all used yet.
    carry: Vec<Ent>,
    carry_need: u16,
    /// RSC input (cleared after every round: the slices never outlive the round, see `coalesce`).
    segs: Vec<RscSegment<'static>>,
    /// Segment index → frame index.
    seg_frame: Vec<u16>,
    /// The engine's outputs of the round (copied out of the engine).
    outs: Vec<RscOutput>,
    /// Parts of the SCU being built.
    parts: Vec<Part>,
    fault: Option<QueueError>,
}

// SAFETY: `segs` is empty outside a round (its slices never escape the DPC that created them); the rest
// is plain data owned by the queue.
unsafe impl Send for RxWork {}

/// Static facts of the queue.
#[derive(Clone, Copy)]
pub(crate) struct RxParams {
    pub(crate) pair: u16,
    pub(crate) miniport: n::NDIS_HANDLE,
    pub(crate) hal: NdisHal,
    pub(crate) hdr_len: u16,
    pub(crate) layout: RxBufferLayout,
    pub(crate) capacity: u16,
    pub(crate) negotiated: CoreFeatures,
    pub(crate) mtu: u32,
    pub(crate) min_percent: u8,
}

/// One receive queue.
pub(crate) struct RxQueue {
    p: RxParams,
    pool: SetOnce<RxPool>,
    ring: SpinLock<RxRing>,
    work: SpinLock<RxWork>,
    busy: AtomicBool,
    /// A DPC found `busy` set: the owner polls again before leaving.
    again: AtomicBool,
    /// NBLs indicated (or waiting on a steering list) and not yet returned.
    held: AtomicUsize,
    /// Buffers posted or free in the driver — not held by NDIS (the low-resources check; written
    /// under `ring`).
    available: AtomicUsize,
    /// MSI-X message of the queue (for DPCs queued on other processors), `u32::MAX` = none.
    message: AtomicU32,
    pub(crate) stats: RxStats,
}

/// What one `process` call did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RxOutcome {
    pub(crate) more: bool,
    pub(crate) fault: Option<DatapathFault>,
}

fn try_vec<T>(cap: usize) -> Result<Vec<T>, DatapathError> {
    let mut v = Vec::new();
    v.try_reserve_exact(cap)
        .map_err(|_| DatapathError::NoMemory)?;
    Ok(v)
}

impl RxQueue {
    /// Host-side state of the queue (PASSIVE_LEVEL); buffers come with the first attach.
    pub(crate) fn new(p: RxParams, cfg: RxConfig) -> Result<Self, DatapathError> {
        let toeplitz = Toeplitz::new(&MICROSOFT_TEST_KEY).map_err(|_| DatapathError::NoMemory)?;
        let rsc = RscEngine::new(RX_BATCH).map_err(|_| DatapathError::NoMemory)?;
        let work = RxWork {
            gen: 0,
            cfg,
            filter: None,
            rss: RssView {
                mode: RssMode::Disabled,
                types: HashTypes::empty(),
            },
            key: MICROSOFT_TEST_KEY,
            key_len: MICROSOFT_TEST_KEY.len() as u8,
            toeplitz,
            rsc,
            rsc_on: PerFamily::default(),
            ents: try_vec(RX_BATCH * MAX_FRAME_BUFS)?,
            bounds: try_vec(RX_BATCH)?,
            frames: try_vec(RX_BATCH)?,
            recycle: try_vec(RX_BATCH * MAX_FRAME_BUFS)?,
            nbls: try_vec(RX_BATCH)?,
            recycle_nbls: try_vec(RX_BATCH)?,
            carry: try_vec(MAX_FRAME_BUFS)?,
            carry_need: 0,
            segs: try_vec(RX_BATCH)?,
            seg_frame: try_vec(RX_BATCH)?,
            outs: try_vec(RX_BATCH)?,
            parts: try_vec(RX_BATCH)?,
            fault: None,
        };
        Ok(RxQueue {
            p,
            pool: SetOnce::new(),
            ring: SpinLock::new(RxRing {
                q: None,
                free: Vec::new(),
                free_nbls: Vec::new(),
            }),
            work: SpinLock::new(work),
            busy: AtomicBool::new(false),
            again: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            available: AtomicUsize::new(0),
            message: AtomicU32::new(u32::MAX),
            stats: RxStats::default(),
        })
    }

    /// NBLs indicated and not returned.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Buffers and NBLs owned by this queue, and how many are free / posted (for tests and logs).
    pub(crate) fn buffer_counts(&self) -> (usize, usize, usize) {
        let total = self.pool.get().map_or(0, |p| p.bufs.len());
        let r = self.ring.lock();
        (
            total,
            r.free.len(),
            r.q.as_ref().map_or(0, |q| usize::from(q.in_flight())),
        )
    }

    /// The MSI-X message DPCs of this queue run for.
    pub(crate) fn message(&self) -> Option<u32> {
        let m = self.message.load(Ordering::Relaxed);
        (m != u32::MAX).then_some(m)
    }

    // -------------------------------------------------------------------------------------------
    // Attach / detach (PASSIVE_LEVEL)

    fn ring_max(&self) -> u16 {
        if self.p.capacity == 0 {
            256
        } else {
            self.p.capacity
        }
    }

    /// Creates the virtqueue, allocates the buffers the first time, posts every free buffer (no
    /// notification: the device is not live yet).
    pub(crate) fn attach(
        &self,
        transport: &PciTransport<NdisHal>,
        vector: Option<u16>,
    ) -> Result<(), DatapathError> {
        let index = 2 * self.p.pair;
        let qcfg = QueueConfig {
            max_size: self.ring_max(),
            indirect_max: 0,
            indirect_min: 2,
            event_idx: false,
        };
        // SAFETY: the queue is dropped only by `detach` (after the device reset) or on the error paths
        // below before the device was told about it... see `detach`'s contract.
        let q = unsafe { transport.create_split_queue::<u32>(index, qcfg, vector) }.map_err(
            |error| DatapathError::Queue {
                pair: self.p.pair,
                rx: true,
                error,
            },
        )?;
        if self.pool.get().is_none() {
            let pool = self.alloc_pool(q.size())?;
            let nbufs = pool.bufs.len();
            let nnbls = pool.nbls.len();
            let mut r = self.ring.lock();
            r.free
                .try_reserve_exact(nbufs)
                .map_err(|_| DatapathError::NoMemory)?;
            r.free_nbls
                .try_reserve_exact(nnbls)
                .map_err(|_| DatapathError::NoMemory)?;
            // Post the lowest indices first (pop from the end).
            r.free.extend((0..nbufs as u32).rev());
            r.free_nbls.extend((0..nnbls as u32).rev());
            drop(r);
            if self.pool.set(pool).is_err() {
                return Err(DatapathError::BadParams);
            }
        }
        self.message
            .store(vector.map_or(u32::MAX, u32::from), Ordering::Relaxed);
        let Some(pool) = self.pool.get() else {
            return Err(DatapathError::NoMemory);
        };
        let mut r = self.ring.lock();
        r.q = Some(q);
        let ring = &mut *r;
        refill(pool, ring);
        if let Some(q) = ring.q.as_mut() {
            // Published, not notified: DRIVER_OK is not set yet; `start` kicks.
            let _ = q.publish();
        }
        self.note_available(ring);
        drop(r);
        self.work.lock().fault = None;
        Ok(())
    }

    /// Buffers, MDLs and NBLs for a ring of `ring_size`. Mergeable buffers are 16 KiB when coalesced
    /// frames may arrive; when shared memory is short, smaller choices are tried in turn: single pages
    /// with a reserve, then just the ring's worth.
    fn alloc_pool(&self, ring_size: u16) -> Result<RxPool, DatapathError> {
        let gso = CoreFeatures::GUEST_TSO4
            | CoreFeatures::GUEST_TSO6
            | CoreFeatures::GUEST_USO4
            | CoreFeatures::GUEST_USO6;
        // (pages per buffer, with a reserve), best first.
        let choices: &[(u32, bool)] = match self.p.layout {
            RxBufferLayout::Mergeable { .. } if self.p.negotiated.intersects(gso) => {
                &[(MRG_GSO_PAGES, true), (1, true), (1, false)]
            }
            RxBufferLayout::Mergeable { .. } => &[(1, true), (1, false)],
            RxBufferLayout::Single { bytes } => {
                let p = bytes.div_ceil(RX_PAGE_SIZE).max(1);
                return self
                    .alloc_pool_of(ring_size, p, p == 1)
                    .map_err(|_| DatapathError::NoMemory);
            }
        };
        for (k, &(pages, reserve)) in choices.iter().enumerate() {
            match self.alloc_pool_of(ring_size, pages, reserve) {
                Err(PoolError::Dma) => {
                    if let Some(&(np, nr)) = choices.get(k + 1) {
                        log!(
                            Warn,
                            "rx{}: no shared memory for {} KiB receive buffers{}; using {} KiB buffers{}",
                            self.p.pair,
                            pages * 4,
                            if reserve { " with a reserve" } else { "" },
                            np * 4,
                            if nr { " with a reserve" } else { " without a reserve" }
                        );
                    }
                }
                r => return r.map_err(|_| DatapathError::NoMemory),
            }
        }
        Err(DatapathError::NoMemory)
    }

    fn alloc_pool_of(
        &self,
        ring_size: u16,
        pages: u32,
        reserve: bool,
    ) -> Result<RxPool, PoolError> {
        let ring = usize::from(ring_size).max(1);
        let buf_len = pages * RX_PAGE_SIZE;
        // `RxCapacity` beyond the ring size becomes a reserve, within a 4 MiB budget per queue (NetKVM's
        // default: 1024 page buffers; a full ring of 16 KiB buffers already uses it): while the stack
        // holds indicated buffers — an SCU holds one per coalesced segment — each DPC round refills the
        // ring from the reserve at once instead of waiting for returns, so the device does not run dry
        // (NetKVM #1012). 64 KiB single buffers get no reserve.
        let count = if reserve {
            let budget = (RX_RESERVE_BUDGET / buf_len as usize).max(ring);
            usize::from(self.p.capacity).max(ring).min(budget)
        } else {
            ring
        };
        let mut mem = DmaPool::new(self.p.hal);
        let mut units: Vec<Unit> = Vec::new();
        mem.alloc_units(buf_len as usize, count, &mut units)
            .map_err(|_| PoolError::Dma)?;
        let mut bufs: Vec<RxBuf> = try_vec(count).map_err(|_| PoolError::Other)?;
        let mut mdls: Vec<n::PMDL> =
            try_vec(count * pages as usize).map_err(|_| PoolError::Other)?;
        let mut nbls: Vec<n::PNET_BUFFER_LIST> = try_vec(count).map_err(|_| PoolError::Other)?;
        let params = n::NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                n::NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: n::NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: n::TRUE,
            ContextSize: 0,
            PoolTag: RX_POOL_TAG,
            DataSize: 0,
        };
        // SAFETY: PASSIVE_LEVEL; valid parameters for the adapter handle.
        let nbl_pool = unsafe { n::NdisAllocateNetBufferListPool(self.p.miniport, &params) };
        // From here on `pool`'s Drop releases whatever was allocated.
        let mut pool = RxPool {
            _mem: mem,
            miniport: self.p.miniport,
            bufs: Box::new([]),
            mdls: Box::new([]),
            pages,
            buf_len,
            nbl_pool,
            nbls: Box::new([]),
        };
        if nbl_pool.is_null() {
            return Err(PoolError::Other);
        }
        let mut failed = false;
        'units: for u in &units {
            bufs.push(RxBuf {
                va: u.va,
                pa: u.pa,
                next: AtomicU32::new(NO_BUF),
            });
            for p in 0..pages {
                let va = u.va.wrapping_add((p * RX_PAGE_SIZE) as usize);
                // SAFETY: one page of non-paged shared memory owned by the pool.
                let mdl = unsafe { n::NdisAllocateMdl(self.p.miniport, va.cast(), RX_PAGE_SIZE) };
                if mdl.is_null() {
                    failed = true;
                    break 'units;
                }
                mdls.push(mdl);
            }
            // SAFETY: pool created with fAllocateNetBuffer; no MDL yet (set per indication).
            let l = unsafe {
                n::NdisAllocateNetBufferAndNetBufferList(nbl_pool, 0, 0, ptr::null_mut(), 0, 0)
            };
            if l.is_null() {
                failed = true;
                break;
            }
            // SAFETY: a fresh NBL of our pool.
            unsafe { nbl::reset_rx_nbl(l, self.p.miniport) };
            nbls.push(l);
        }
        pool.bufs = bufs.into_boxed_slice();
        pool.mdls = mdls.into_boxed_slice();
        pool.nbls = nbls.into_boxed_slice();
        if failed {
            return Err(PoolError::Other);
        }
        Ok(pool)
    }

    /// Opens the ring for the device: one notification so it sees the posted buffers (after
    /// DRIVER_OK).
    pub(crate) fn kick(&self) {
        let r = self.ring.lock();
        if let Some(q) = r.q.as_ref() {
            q.notify();
        }
    }

    /// After the device reset (or removal): takes every posted buffer back and drops the virtqueue.
    /// Buffers NDIS holds stay held. PASSIVE_LEVEL.
    pub(crate) fn detach(&self) {
        let q = {
            let mut w = self.work.lock();
            let mut r = self.ring.lock();
            let ring = &mut *r;
            if let Some(q) = ring.q.as_mut() {
                let free = &mut ring.free;
                // SAFETY: the device was reset (or is gone): it no longer touches the ring or buffers.
                unsafe { q.detach_unused(|t| free.push(t)) };
            }
            for e in w.carry.drain(..) {
                ring.free.push(e.token);
            }
            w.carry_need = 0;
            w.fault = None;
            self.available.store(0, Ordering::Relaxed);
            ring.q.take()
        };
        // Freed outside the spin lock: DMA memory is released at PASSIVE_LEVEL.
        drop(q);
    }

    // -------------------------------------------------------------------------------------------
    // DPC

    /// Refreshes the DPC's configuration copy when the control plane changed it.
    fn refresh(&self, w: &mut RxWork, shared: &SharedConfig) {
        let g = shared.generation();
        if g == w.gen {
            return;
        }
        let (g, d): (u32, ConfigData) = shared.snapshot();
        w.gen = g;
        w.cfg = config::rx_config(
            d.offload.as_ref(),
            self.p.negotiated,
            self.p.mtu,
            d.filter.as_ref(),
        );
        w.filter = d.filter;
        w.rsc_on = config::software_rsc(&w.cfg);
        w.rsc.set_enabled(w.rsc_on);
        w.rss = RssView {
            mode: d.rss.mode,
            types: if d.rss.mode == RssMode::Disabled {
                HashTypes::empty()
            } else {
                d.rss.hash_types
            },
        };
        let klen = usize::from(d.rss.key_len).min(d.rss.key.len());
        if d.rss.mode != RssMode::Disabled
            && klen > 0
            && (klen != usize::from(w.key_len) || d.rss.key.get(..klen) != w.key.get(..klen))
        {
            if let Some(k) = d.rss.key.get(..klen) {
                if w.toeplitz.set_key(k).is_ok() {
                    w.key = d.rss.key;
                    w.key_len = klen as u8;
                } else {
                    log!(Warn, "rx{}: RSS key of {} bytes refused", self.p.pair, klen);
                }
            }
        }
    }

    /// The DPC work of this queue (DISPATCH_LEVEL): at most `budget` NBLs indicated; `running` says
    /// whether indications are allowed (else received frames are dropped and their buffers reposted).
    pub(crate) fn process(
        &self,
        shared: &SharedConfig,
        steering: &Steering,
        running: bool,
        budget: u32,
    ) -> RxOutcome {
        let mut out = RxOutcome::default();
        let Some(pool) = self.pool.get() else {
            return out;
        };
        // One processor at a time works on the ring (a steering DPC may run this pair elsewhere). A DPC
        // that finds it busy leaves a note the owner checks after releasing it, so the interrupt that
        // brought it here is never lost.
        self.again.store(true, Ordering::SeqCst);
        let mut done: u32 = 0;
        loop {
            if self.busy.swap(true, Ordering::SeqCst) {
                return out;
            }
            self.again.store(false, Ordering::SeqCst);
            {
                // SAFETY: DPCs run at DISPATCH_LEVEL.
                let mut w = unsafe { self.work.lock_at_dpc() };
                let mut first = true;
                loop {
                    // Per round: a configuration change applies from the next batch on.
                    self.refresh(&mut w, shared);
                    if done >= budget {
                        out.more = true;
                        break;
                    }
                    let room = ((budget - done) as usize).min(RX_BATCH);
                    match self.pop(pool, &mut w, room, first) {
                        Err(f) => {
                            out.fault = Some(f);
                            break;
                        }
                        Ok(0) => {
                            // Nothing left: re-arm; if entries arrived meanwhile, go on.
                            if self.rearm() {
                                first = false;
                                continue;
                            }
                            break;
                        }
                        Ok(_) => {}
                    }
                    first = false;
                    done = done.saturating_add(self.round(pool, &mut w, steering, running));
                    self.finish_round(pool, &mut w);
                }
            }
            self.busy.store(false, Ordering::SeqCst);
            if out.more || out.fault.is_some() || !self.again.load(Ordering::SeqCst) {
                return out;
            }
        }
    }

    /// Waits until a DPC in flight on another processor finished its round (its configuration may be
    /// older than a change just made).
    pub(crate) fn sync_dpc(&self) {
        drop(self.work.lock());
    }

    fn note_available(&self, ring: &RxRing) {
        let in_ring = ring.q.as_ref().map_or(0, |q| usize::from(q.in_flight()));
        self.available
            .store(in_ring + ring.free.len(), Ordering::Relaxed);
    }

    /// Re-enables interrupts; true if used entries are already pending (poll again).
    fn rearm(&self) -> bool {
        // SAFETY: DISPATCH_LEVEL (DPC).
        let mut r = unsafe { self.ring.lock_at_dpc() };
        match r.q.as_mut() {
            Some(q) if q.fault().is_none() => q.enable_interrupts(),
            _ => false,
        }
    }

    /// Pops up to `max_frames` complete frames into `w.ents`/`w.bounds` and reserves an NBL for each.
    /// Returns how many frames are ready (0: the ring is empty).
    fn pop(
        &self,
        pool: &RxPool,
        w: &mut RxWork,
        max_frames: usize,
        first: bool,
    ) -> Result<usize, DatapathFault> {
        w.ents.clear();
        w.bounds.clear();
        w.nbls.clear();
        let hdr_len = u32::from(self.p.hdr_len);
        let (mrg, max_bufs) = match self.p.layout {
            RxBufferLayout::Mergeable { max_buffers } => {
                (true, max_buffers.clamp(1, MAX_FRAME_BUFS as u16))
            }
            RxBufferLayout::Single { .. } => (false, 1),
        };
        // SAFETY: DISPATCH_LEVEL (DPC).
        let mut r = unsafe { self.ring.lock_at_dpc() };
        let ring = &mut *r;
        let Some(q) = ring.q.as_mut() else {
            return Ok(0);
        };
        if let Some(f) = w.fault {
            return Err(DatapathFault {
                pair: self.p.pair,
                rx: true,
                error: f,
            });
        }
        if first {
            q.disable_interrupts();
        }
        while w.bounds.len() < max_frames {
            let u = match q.pop_used() {
                Ok(Some(u)) => u,
                Ok(None) => break,
                Err(e) => {
                    w.fault = Some(e);
                    log!(Error, "rx{}: device fault {:?}", self.p.pair, e);
                    // Frames popped before the fault are still handled.
                    if w.bounds.is_empty() {
                        return Err(DatapathFault {
                            pair: self.p.pair,
                            rx: true,
                            error: e,
                        });
                    }
                    break;
                }
            };
            let e = Ent {
                token: u.token,
                len: u.len,
            };
            if w.carry.is_empty() {
                // First buffer of a frame: how many buffers it spans.
                if e.len < hdr_len {
                    self.stats.errors.add(1);
                    w.recycle.push(e.token);
                    continue;
                }
                let nb = if mrg {
                    let Some(b) = pool.buf(e.token) else {
                        continue;
                    };
                    // SAFETY: the buffer was just popped (ours) and holds at least `hdr_len` ≥ 12
                    // bytes; `num_buffers` is the little-endian u16 at offset 10.
                    let raw = unsafe { b.va.wrapping_add(10).cast::<[u8; 2]>().read() };
                    u16::from_le_bytes(raw)
                } else {
                    1
                };
                // More buffers than a frame may use, or than are posted at all: it can never be
                // assembled (hostile or broken device) — drop what we have, keep the ring going.
                let in_ring = q.in_flight();
                if nb == 0 || nb > max_bufs || nb > in_ring.saturating_add(1) {
                    self.stats.errors.add(1);
                    w.recycle.push(e.token);
                    continue;
                }
                w.carry_need = nb;
            }
            w.carry.push(e);
            if w.carry.len() >= usize::from(w.carry_need) {
                let first_ent = w.ents.len() as u32;
                w.ents.append(&mut w.carry);
                w.bounds.push((first_ent, w.carry_need as u8));
                w.carry_need = 0;
            }
        }
        // Give the device fresh buffers from the free list (the reserve) before this round is
        // classified and indicated, so it keeps receiving meanwhile — a round of 64 KiB frames can
        // take the whole ring.
        if !w.bounds.is_empty() {
            self.refill_and_kick(pool, ring, true);
        }
        self.note_available(ring);
        // One NBL per frame at most.
        while w.nbls.len() < w.bounds.len() {
            match ring.free_nbls.pop() {
                Some(i) => w.nbls.push(i),
                None => break,
            }
        }
        Ok(w.bounds.len())
    }

    /// Classifies, filters, coalesces, builds and indicates the frames of one round. Returns the number
    /// of NBLs indicated.
    fn round(&self, pool: &RxPool, w: &mut RxWork, steering: &Steering, running: bool) -> u32 {
        w.frames.clear();
        let hdr_len = usize::from(self.p.hdr_len);
        let fmt = if hdr_len >= 20 {
            HdrFormat::V1Hash
        } else {
            HdrFormat::V1
        };
        let nframes = w.bounds.len();
        for fi in 0..nframes {
            let Some(&(first, count)) = w.bounds.get(fi) else {
                break;
            };
            if !running {
                self.stats.discards.add(1);
                drop_frame(w, first, count);
                continue;
            }
            match self.classify_one(pool, w, first, count, fmt) {
                Ok((info, cast)) => w.frames.push(Frame {
                    first,
                    count,
                    info,
                    cast,
                }),
                Err(e) => {
                    match e {
                        Dropped::Filtered | Dropped::Vlan => self.stats.discards.add(1),
                        Dropped::Bad(err) => {
                            self.stats.errors.add(1);
                            log!(Trace, "rx{}: frame dropped: {:?}", self.p.pair, err);
                        }
                    }
                    drop_frame(w, first, count);
                }
            }
        }
        if w.frames.is_empty() {
            return 0;
        }
        let mut local = NblList::new();
        let here = nbl::current_processor();
        let use_rsc = (w.rsc_on.ipv4 || w.rsc_on.ipv6) && w.frames.len() > 1;
        if use_rsc {
            self.coalesce(pool, w, steering, &here, &mut local);
        } else {
            for i in 0..w.frames.len() {
                self.build_single(pool, w, i, steering, &here, &mut local, true);
            }
        }
        let count = local.len();
        if count > 0 {
            // What waits on this processor's steering list goes first: the pair's DPC also runs on
            // the processors it steers to, so frames of a flow this ring steered here in an earlier
            // round (its DPC then ran elsewhere) may still wait there, and indicating the new ones
            // first would reorder the flow (spec §1.5; seen end to end as ~1 gap per 5–10k frames).
            // This DPC holds the ring (`busy`), so no later frame of it can be pushed meanwhile.
            steering.indicate_local(pool.miniport, u32::MAX);
            self.indicate(pool, w, local);
        }
        count
    }

    /// Runs classification of one frame.
    fn classify_one(
        &self,
        pool: &RxPool,
        w: &mut RxWork,
        first: u32,
        count: u8,
        fmt: HdrFormat,
    ) -> Result<(RxInfo, Cast), Dropped> {
        let hdr_len = usize::from(self.p.hdr_len);
        let ents = w
            .ents
            .get(first as usize..first as usize + usize::from(count))
            .ok_or(Dropped::Bad(RxError::Runt { len: 0 }))?;
        let e0 = ents
            .first()
            .copied()
            .ok_or(Dropped::Bad(RxError::Runt { len: 0 }))?;
        let b0 = pool
            .buf(e0.token)
            .ok_or(Dropped::Bad(RxError::Runt { len: 0 }))?;
        let len0 = (e0.len.min(pool.buf_len)) as usize;
        // SAFETY: popped buffer (owned by the DPC), `len0 <= buf_len` bytes written by the device.
        let whole = unsafe { core::slice::from_raw_parts_mut(b0.va, len0) };
        let (hb, first_chunk) = whole.split_at_mut(hdr_len.min(len0));
        let hdr = VirtioNetHdr::parse(hb, fmt).map_err(|e| Dropped::Bad(RxError::Parse(e)))?;
        let mut rest: [&[u8]; MAX_FRAME_BUFS] = [&[]; MAX_FRAME_BUFS];
        let mut nrest = 0usize;
        for e in ents.iter().skip(1) {
            let b = pool
                .buf(e.token)
                .ok_or(Dropped::Bad(RxError::Runt { len: 0 }))?;
            let l = e.len.min(pool.buf_len) as usize;
            if let Some(slot) = rest.get_mut(nrest) {
                // SAFETY: a popped buffer of this frame, `l` bytes written by the device.
                *slot = unsafe { core::slice::from_raw_parts(b.va, l) };
                nrest += 1;
            }
        }
        let rss = (!w.rss.types.is_empty()).then_some(RssParams {
            toeplitz: &w.toeplitz,
            types: w.rss.types,
        });
        let info = classify(
            &hdr,
            RxFrame {
                first: first_chunk,
                rest: rest.get(..nrest).unwrap_or(&[]),
            },
            &w.cfg,
            rss,
        )
        .map_err(|e| match e {
            RxError::VlanFiltered { .. } => Dropped::Vlan,
            other => Dropped::Bad(other),
        })?;
        if info.hash_check == HashCheck::Mismatch {
            self.stats.hash_mismatch.add(1);
        }
        let dst = filter::dst_mac(first_chunk.get(info.data_offset..).unwrap_or(&[]));
        let pass = w.filter.as_ref().is_some_and(|f| filter::accept(f, &dst));
        if !pass {
            return Err(Dropped::Filtered);
        }
        Ok((info, filter::cast_of(&dst)))
    }

    /// Software RSC over the round's frames, then NBLs for its outputs.
    fn coalesce(
        &self,
        pool: &RxPool,
        w: &mut RxWork,
        steering: &Steering,
        here: &n::PROCESSOR_NUMBER,
        local: &mut NblList,
    ) {
        let hdr_len = usize::from(self.p.hdr_len);
        w.segs.clear();
        w.seg_frame.clear();
        for (i, f) in w.frames.iter().enumerate() {
            let Some(e0) = w.ents.get(f.first as usize) else {
                continue;
            };
            let Some(b0) = pool.buf(e0.token) else {
                continue;
            };
            let len0 = e0.len.min(pool.buf_len) as usize;
            // SAFETY: the frame's first buffer is owned by this DPC until it is indicated or recycled
            // below; the slice is only used through `w.segs`, which is cleared before this function
            // returns (the 'static lifetime never escapes the round).
            let chunk: &'static mut [u8] = unsafe {
                core::slice::from_raw_parts_mut(
                    b0.va.wrapping_add(hdr_len.min(len0)),
                    len0.saturating_sub(hdr_len),
                )
            };
            w.segs.push(RscSegment::from_rx(chunk, &f.info));
            w.seg_frame.push(i as u16);
        }
        let before = w.rsc.stats();
        let mut segs = core::mem::take(&mut w.segs);
        w.outs.clear();
        let ok = match w.rsc.process(&mut segs) {
            Ok(o) => {
                w.outs.extend_from_slice(o);
                true
            }
            Err(_) => false,
        };
        // The slices into the buffers end here (see the SAFETY note above).
        segs.clear();
        w.segs = segs;
        if !ok {
            for i in 0..w.frames.len() {
                self.build_single(pool, w, i, steering, here, local, true);
            }
            return;
        }
        let after = w.rsc.stats();
        self.stats
            .rsc_pkts
            .add(after.coalesced_pkts.wrapping_sub(before.coalesced_pkts));
        self.stats
            .rsc_octets
            .add(after.coalesced_octets.wrapping_sub(before.coalesced_octets));
        self.stats
            .rsc_events
            .add(after.coalesce_events.wrapping_sub(before.coalesce_events));
        self.stats
            .rsc_aborts
            .add(after.aborts.wrapping_sub(before.aborts));
        for k in 0..w.outs.len() {
            let Some(&out) = w.outs.get(k) else {
                break;
            };
            match out {
                RscOutput::Single(s) => {
                    let fi = w.seg_frame.get(usize::from(s)).copied().unwrap_or(u16::MAX);
                    self.build_single(pool, w, usize::from(fi), steering, here, local, false);
                }
                RscOutput::Scu(scu) => {
                    w.parts.clear();
                    w.parts.extend(w.rsc.parts(&scu));
                    self.build_scu(pool, w, &scu, steering, here, local);
                }
            }
        }
    }

    /// The NBL for frame `i` alone. `count_host_rsc`: count a host SCU in the RSC statistics (when the
    /// software engine did not see it).
    #[allow(clippy::too_many_arguments)]
    fn build_single(
        &self,
        pool: &RxPool,
        w: &mut RxWork,
        i: usize,
        steering: &Steering,
        here: &n::PROCESSOR_NUMBER,
        local: &mut NblList,
        count_host_rsc: bool,
    ) {
        let Some(f) = w.frames.get(i).copied() else {
            return;
        };
        let Some(nidx) = w.nbls.pop() else {
            self.stats.no_buffer.add(1);
            drop_frame(w, f.first, f.count);
            return;
        };
        let Some(&l) = pool.nbls.get(nidx as usize) else {
            return;
        };
        let hdr = usize::from(self.p.hdr_len) + f.info.data_offset;
        let first = f.first as usize;
        let ents = w
            .ents
            .get(first..first + usize::from(f.count))
            .unwrap_or(&[]);
        let Some((e0, rest)) = ents.split_first() else {
            w.nbls.push(nidx);
            return;
        };
        let Some(b0) = pool.buf(e0.token) else {
            w.nbls.push(nidx);
            return;
        };
        let mut data_len = f.info.frame_len;
        let mut first_bytes = f.info.first_len.min(data_len);
        // Runts (e.g. a 64-byte tagged frame after stripping) are padded to the Ethernet minimum when
        // the buffer has room (NetKVM does the same; the stack expects 60-byte frames). Not a host SCU:
        // its length is the coalesced datagram's (QEMU's coalescer turns e.g. 1 byte of data plus a
        // window update into a 55-byte frame with a segment count of 2).
        if f.info.short_by > 0
            && f.info.rsc.is_none()
            && rest.is_empty()
            && hdr + data_len + f.info.short_by <= pool.buf_len as usize
        {
            // SAFETY: the buffer is owned by this DPC; the range lies inside it (checked above).
            unsafe { ptr::write_bytes(b0.va.wrapping_add(hdr + data_len), 0, f.info.short_by) };
            data_len += f.info.short_by;
            first_bytes = data_len;
        }
        // SAFETY: our NBL (taken from the free stack), not with NDIS.
        unsafe { nbl::reset_rx_nbl(l, pool.miniport) };
        let mut chain = Chain::new();
        chain.push(pool, e0.token, hdr as u32, first_bytes as u32);
        let mut prev_tok = e0.token;
        for e in rest {
            chain.push(pool, e.token, 0, e.len.min(pool.buf_len));
            link_buf(pool, prev_tok, e.token);
            prev_tok = e.token;
        }
        link_buf(pool, prev_tok, NO_BUF);
        // SAFETY: our NBL; the chain holds exactly `chain.bytes` bytes.
        unsafe { nbl::set_rx_data(l, chain.first, 0, chain.bytes) };
        let data_len = chain.bytes as usize;
        // SAFETY: our NBL.
        unsafe { nbl::set_rx_tags(l, e0.token as usize + 1, owner_tag(self.p.pair, nidx)) };
        // SAFETY: our NBL.
        let lr = unsafe { &mut *l };
        lr.set_checksum_info(n::NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::from_value(
            f.info.checksum.bits() as usize,
        ));
        let mut frames = 1u64;
        if let Some(r) = f.info.rsc {
            lr.set_rsc_info(n::NDIS_RSC_NBL_INFO::new(
                r.coalesced_seg_count,
                r.dup_ack_count,
            ));
            if let Some(d) = r.timestamp_delta {
                lr.set_rsc_tcp_timestamp_delta(d);
            }
            frames = u64::from(r.coalesced_seg_count.max(1));
            if count_host_rsc && r.coalesced_seg_count > 0 {
                self.stats.rsc_pkts.add(u64::from(r.coalesced_seg_count));
                self.stats.rsc_octets.add(f.info.layout.payload_len as u64);
                self.stats.rsc_events.add(1);
            }
        }
        set_common_info(lr, &f.info, w.rss.mode);
        self.stats.ok.count(f.cast, frames, data_len as u64);
        self.deliver(l, &f.info, w.rss.mode, steering, here, local);
    }

    /// The NBL for an SCU built by the software engine (parts in `w.parts`).
    fn build_scu(
        &self,
        pool: &RxPool,
        w: &mut RxWork,
        scu: &Scu,
        steering: &Steering,
        here: &n::PROCESSOR_NUMBER,
        local: &mut NblList,
    ) {
        let hdr_len = usize::from(self.p.hdr_len);
        let head_frame = w
            .seg_frame
            .get(usize::from(scu.head))
            .and_then(|&fi| w.frames.get(usize::from(fi)))
            .copied();
        let (Some(head), Some(nidx)) = (head_frame, w.nbls.pop()) else {
            // No NBL: every frame of the SCU goes back.
            self.stats.no_buffer.add(1);
            for k in 0..w.parts.len() {
                let Some(p) = w.parts.get(k).copied() else {
                    break;
                };
                if let Some(f) = frame_of(w, p) {
                    drop_frame(w, f.first, f.count);
                }
            }
            return;
        };
        let Some(&l) = pool.nbls.get(nidx as usize) else {
            return;
        };
        // SAFETY: our NBL, not with NDIS.
        unsafe { nbl::reset_rx_nbl(l, pool.miniport) };
        let mut chain = Chain::new();
        let mut first_tok = NO_BUF;
        let mut prev_tok = NO_BUF;
        for k in 0..w.parts.len() {
            let Some(p) = w.parts.get(k).copied() else {
                break;
            };
            let Some(f) = frame_of(w, p) else {
                continue;
            };
            let first = f.first as usize;
            let ents = w
                .ents
                .get(first..first + usize::from(f.count))
                .unwrap_or(&[]);
            // Every buffer of the frame belongs to the SCU's NBL (absorbed ACKs included).
            for e in ents {
                if first_tok == NO_BUF {
                    first_tok = e.token;
                } else {
                    link_buf(pool, prev_tok, e.token);
                }
                prev_tok = e.token;
            }
            // The part's bytes, frame offsets → buffer windows.
            let mut off = p.offset as usize;
            let mut left = p.len as usize;
            for (j, e) in ents.iter().enumerate() {
                if left == 0 {
                    break;
                }
                let (start, clen) = if j == 0 {
                    (hdr_len + f.info.data_offset, f.info.first_len)
                } else {
                    (0, e.len.min(pool.buf_len) as usize)
                };
                if off >= clen {
                    off -= clen;
                    continue;
                }
                let take = (clen - off).min(left);
                chain.push(pool, e.token, (start + off) as u32, take as u32);
                left -= take;
                off = 0;
            }
        }
        link_buf(pool, prev_tok, NO_BUF);
        let total = chain.bytes;
        // SAFETY: our NBL; the chain holds `total` bytes.
        unsafe { nbl::set_rx_data(l, chain.first, 0, total) };
        // SAFETY: our NBL.
        unsafe { nbl::set_rx_tags(l, first_tok as usize + 1, owner_tag(self.p.pair, nidx)) };
        // SAFETY: our NBL.
        let lr = unsafe { &mut *l };
        lr.set_checksum_info(n::NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO::from_value(
            scu.checksum.bits() as usize,
        ));
        lr.set_rsc_info(n::NDIS_RSC_NBL_INFO::new(
            scu.rsc.coalesced_seg_count,
            scu.rsc.dup_ack_count,
        ));
        if let Some(d) = scu.rsc.timestamp_delta {
            lr.set_rsc_tcp_timestamp_delta(d);
        }
        set_common_info(lr, &head.info, w.rss.mode);
        self.stats.ok.count(
            head.cast,
            u64::from(scu.rsc.coalesced_seg_count.max(1)),
            u64::from(total),
        );
        self.deliver(l, &head.info, w.rss.mode, steering, here, local);
    }

    /// Sends a built NBL to the local indication list or, under RSS, to the processor the indirection
    /// table names for its hash.
    fn deliver(
        &self,
        l: n::PNET_BUFFER_LIST,
        info: &RxInfo,
        mode: RssMode,
        steering: &Steering,
        here: &n::PROCESSOR_NUMBER,
        local: &mut NblList,
    ) {
        if mode == RssMode::Full {
            if let Some(target) = steering.target(info.hash.map(|h| h.value)) {
                if target.Group != here.Group || target.Number != here.Number {
                    if let Some(msg) = self.message() {
                        self.held.fetch_add(1, Ordering::AcqRel);
                        // SAFETY: our built NBL; ownership moves to the steering list.
                        if unsafe { steering.push(target, l, msg) } {
                            self.stats.steered.add(1);
                            return;
                        }
                        self.held.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            }
        }
        // SAFETY: our built NBL, in no other list.
        unsafe { local.push(l) };
    }

    /// Indicates the round's local NBLs (one call), with `NDIS_RECEIVE_FLAGS_RESOURCES` when the ring is
    /// low on buffers (then the NBLs are ours again when the call returns).
    fn indicate(&self, pool: &RxPool, w: &mut RxWork, list: NblList) {
        let count = list.len();
        let total = pool.bufs.len();
        let threshold = total * usize::from(self.p.min_percent.min(100)) / 100;
        let low = self.p.min_percent > 0 && self.available.load(Ordering::Relaxed) < threshold;
        let mut flags = n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL;
        // Remember them: with RESOURCES they come back to us at once.
        w.recycle_nbls.clear();
        if low {
            flags |= n::NDIS_RECEIVE_FLAGS_RESOURCES;
            // SAFETY: the list's NBLs are ours until indicated.
            for l in unsafe { n::NblChain::new(list.head()) } {
                // SAFETY: our NBL.
                let (_, owner) = unsafe { nbl::rx_tags(l) };
                w.recycle_nbls.push((owner >> 16) as u32);
            }
            self.stats.low_resources.add(1);
        } else {
            // Before the call: a return may come from inside it.
            self.held.fetch_add(count as usize, Ordering::AcqRel);
        }
        // SAFETY: DISPATCH_LEVEL (DPC) as flagged; every NBL is a fully built receive NBL of this
        // adapter; `count` matches the chain.
        unsafe {
            n::NdisMIndicateReceiveNetBufferLists(pool.miniport, list.head(), 0, count, flags)
        };
        if low {
            for k in 0..w.recycle_nbls.len() {
                let Some(&idx) = w.recycle_nbls.get(k) else {
                    break;
                };
                if let Some(&l) = pool.nbls.get(idx as usize) {
                    // SAFETY: indicated with RESOURCES: ours again.
                    let (bufs, _) = unsafe { nbl::rx_tags(l) };
                    collect_bufs(pool, bufs, &mut w.recycle);
                }
            }
        } else {
            w.recycle_nbls.clear();
        }
    }

    /// End of a round: dropped buffers and unused NBLs back to the free stacks, refill, publish, kick.
    fn finish_round(&self, pool: &RxPool, w: &mut RxWork) {
        // SAFETY: DISPATCH_LEVEL (DPC).
        let mut r = unsafe { self.ring.lock_at_dpc() };
        let ring = &mut *r;
        ring.free.append(&mut w.recycle);
        ring.free_nbls.append(&mut w.recycle_nbls);
        ring.free_nbls.append(&mut w.nbls);
        // Keep the ring full from the free buffers (reserve included) every round.
        self.refill_and_kick(pool, ring, true);
    }

    /// Refills when enough buffers are free or the ring runs low, publishes, notifies if the device
    /// asks for it. `force`: refill whatever is free.
    fn refill_and_kick(&self, pool: &RxPool, ring: &mut RxRing, force: bool) {
        let Some(q) = ring.q.as_ref() else {
            return;
        };
        let size = usize::from(q.size());
        let low = usize::from(q.in_flight()) < size / 2;
        if force || low || ring.free.len() >= (size / 4).clamp(1, REFILL_BATCH) {
            if q.in_flight() == 0 {
                self.stats.ring_empty.add(1);
            }
            refill(pool, ring);
            if let Some(q) = ring.q.as_mut() {
                if q.publish_and_notify() {
                    self.stats.kicks.add(1);
                }
            }
        }
        self.note_available(ring);
    }

    /// `MiniportReturnNetBufferLists` for the NBLs of this queue in `list`.
    ///
    /// # Safety
    /// Every NBL of `list` was indicated by this queue and is handed back by NDIS (or taken off a
    /// steering list).
    pub(crate) unsafe fn take_back(&self, list: NblList) {
        let Some(pool) = self.pool.get() else {
            return;
        };
        let count = list.len();
        let mut r = self.ring.lock();
        let ring = &mut *r;
        // SAFETY: the list's NBLs are ours again (caller).
        for l in unsafe { n::NblChain::new(list.head()) } {
            // SAFETY: a receive NBL of this queue (caller).
            let (bufs, owner) = unsafe { nbl::rx_tags(l) };
            let idx = owner >> 16;
            if pool.nbls.get(idx).copied() != Some(l) {
                log!(Error, "rx{}: returned NBL {:p} is not ours", self.p.pair, l);
                continue;
            }
            collect_bufs(pool, bufs, &mut ring.free);
            // SAFETY: our NBL; nothing of it remains in use.
            unsafe { nbl::set_rx_tags(l, 0, owner) };
            ring.free_nbls.push(idx as u32);
        }
        // Refills are batched, but once the stack holds nothing of this queue every free buffer
        // goes back to the device: an idle ring is a full ring, ready for the next burst.
        let idle = self.held.fetch_sub(count as usize, Ordering::AcqRel) == count as usize;
        self.refill_and_kick(pool, ring, idle);
    }

    /// Whether this queue owns `l` (an NBL of its pool).
    pub(crate) fn owns(&self, owner: usize, l: n::PNET_BUFFER_LIST) -> bool {
        self.pool
            .get()
            .is_some_and(|p| p.nbls.get(owner >> 16).copied() == Some(l))
    }
}

/// Owner tag of a receive NBL: pair in the low 16 bits, pool index above.
pub(crate) fn owner_tag(pair: u16, nbl_index: u32) -> usize {
    usize::from(pair) | ((nbl_index as usize) << 16)
}

/// The frame a part belongs to.
fn frame_of(w: &RxWork, p: Part) -> Option<Frame> {
    let fi = w.seg_frame.get(usize::from(p.frame)).copied()?;
    w.frames.get(usize::from(fi)).copied()
}

/// Links buffer `b` after `a` in an NBL's buffer chain.
fn link_buf(pool: &RxPool, a: u32, b: u32) {
    if let Some(x) = pool.buf(a) {
        x.next.store(b, Ordering::Relaxed);
    }
}

/// Pushes the buffer chain starting at `first + 1` (0 = none) onto `out`.
fn collect_bufs(pool: &RxPool, first: usize, out: &mut Vec<u32>) {
    let mut t = first.wrapping_sub(1) as u32;
    if first == 0 {
        return;
    }
    // A chain never holds more buffers than the pool: stop a corrupted (looping) chain.
    for _ in 0..pool.bufs.len() {
        let Some(b) = pool.buf(t) else {
            break;
        };
        out.push(t);
        t = b.next.swap(NO_BUF, Ordering::Relaxed);
        if t == NO_BUF {
            break;
        }
    }
}

/// Checksum-independent per-NBL info: RSS hash, 802.1Q.
fn set_common_info(l: &mut n::NET_BUFFER_LIST, info: &RxInfo, mode: RssMode) {
    if mode != RssMode::Disabled {
        if let Some(h) = info.hash {
            l.set_hash_value(h.value);
            l.set_hash_type(h.hash_type.bits());
            l.set_hash_function(HASH_FUNCTION_TOEPLITZ);
        }
    }
    if let Some(q) = info.ieee8021q {
        let mut v = n::NDIS_NET_BUFFER_LIST_8021Q_INFO::default();
        v.set_user_priority(u32::from(q.priority));
        v.set_vlan_id(u32::from(q.vlan_id));
        l.set_ieee8021q_info(v);
    }
}

/// Why a pool could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolError {
    /// Shared (DMA) memory for the buffers.
    Dma,
    /// MDLs, NBLs, host memory.
    Other,
}

/// Why a frame was not indicated.
#[derive(Clone, Copy, Debug)]
enum Dropped {
    /// Packet filter.
    Filtered,
    /// VLAN membership.
    Vlan,
    /// Malformed or hostile.
    Bad(RxError),
}

/// Puts a dropped frame's buffers on the recycle list.
fn drop_frame(w: &mut RxWork, first: u32, count: u8) {
    for k in 0..u32::from(count) {
        if let Some(e) = w.ents.get((first + k) as usize) {
            w.recycle.push(e.token);
        }
    }
}

/// Posts free buffers while the ring has room; returns the number of buffers in the ring.
fn refill(pool: &RxPool, ring: &mut RxRing) -> usize {
    let Some(q) = ring.q.as_mut() else {
        return 0;
    };
    if q.fault().is_some() {
        return usize::from(q.in_flight());
    }
    while q.num_free() > 0 {
        let Some(t) = ring.free.pop() else {
            break;
        };
        let Some(b) = pool.buf(t) else {
            continue;
        };
        // SAFETY: `b` is `buf_len` bytes of DMA memory the pool owns; it stays untouched by the CPU
        // until the device hands it back (pop_used) or the queue is detached after a reset.
        let r = unsafe { q.add([Buffer::writable(b.pa, pool.buf_len)], t) };
        if r.is_err() {
            ring.free.push(t);
            break;
        }
    }
    usize::from(q.in_flight())
}
