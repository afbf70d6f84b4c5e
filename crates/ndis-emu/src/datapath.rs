//! The datapath between the emulated protocol and the miniport: sends (`MiniportSendNetBufferLists`
//! and `NdisMSendNetBufferListsComplete`), receive indications
//! (`NdisMIndicateReceiveNetBufferLists`) and returns (`MiniportReturnNetBufferLists`), with the
//! ownership rules enforced: every sent NBL completed exactly once with its NET_BUFFERs as they
//! were, the right status while paused, indications only while running (or pausing), every
//! indicated NBL returned before the pause completes, `*_DISPATCH_LEVEL` flags that match the
//! IRQL.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use ndis_sys as n;

use crate::accounting::{Handler, ProtocolSpan};
use crate::adapter::{Adapter, AdapterState, LifecycleError};
use crate::checks::{self, Kind};
use crate::ctx;
use crate::handles;
use crate::nbl;
use crate::ndis::{guard, lock, Ndis, ReturnPolicy, SendIrql};
use crate::protocol::ProtoNbl;

#[derive(Clone, Copy, PartialEq, Eq)]
struct NbSnap {
    nb: usize,
    chain: usize,
    offset: u32,
    len: u32,
    cur: usize,
    cur_off: u32,
    next: usize,
}

/// # Safety
/// `nb` is a valid NET_BUFFER.
unsafe fn snap(nb: *mut n::NET_BUFFER) -> NbSnap {
    // SAFETY: caller contract.
    let b = unsafe { &*nb };
    NbSnap {
        nb: nb as usize,
        chain: b.first_mdl() as usize,
        offset: b.data_offset(),
        len: b.data_length(),
        cur: b.current_mdl() as usize,
        cur_off: b.current_mdl_offset(),
        next: b.next_nb() as usize,
    }
}

struct SendRec {
    nbl: ProtoNbl,
    nbs: Vec<NbSnap>,
    /// The adapter was not running when sent: the completion must be NDIS_STATUS_PAUSED.
    expect_paused: Option<AdapterState>,
}

/// A completed send.
#[derive(Debug)]
pub struct Completion {
    /// The NBL, back with the protocol (per-NBL info as the miniport left it).
    pub nbl: ProtoNbl,
    /// `NET_BUFFER_LIST_STATUS`.
    pub status: n::NDIS_STATUS,
    /// `SendCompleteFlags`.
    pub flags: u32,
    /// Emulated processor that completed it.
    pub cpu: u32,
}

/// A received NBL as the protocol saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RxNbl {
    /// Sequence number of the indication (per adapter).
    pub seq: u64,
    /// The data of each NET_BUFFER.
    pub frames: Vec<Vec<u8>>,
    /// `NetBufferListInfo` slots.
    pub info: [usize; n::MaxNetBufferListInfo],
    /// `NblFlags`.
    pub nbl_flags: u32,
    /// `ReceiveFlags` of the indication.
    pub receive_flags: u32,
    /// Port.
    pub port: u32,
    /// Emulated processor of the indication.
    pub cpu: u32,
    /// IRQL of the indication.
    pub irql: u8,
    /// The NBL address (identifies it for a manual return).
    pub nbl: usize,
}

impl RxNbl {
    /// An info slot.
    pub fn info(&self, slot: usize) -> usize {
        self.info.get(slot).copied().unwrap_or(0)
    }
}

/// The data of one NET_BUFFER of an indicated NBL, in place: the pieces of its MDL chain from
/// `CurrentMdl` + `CurrentMdlOffset` for `DataLength` bytes (validated by the emulator first).
#[derive(Clone, Copy, Debug)]
pub struct RxNbView<'a> {
    segs: &'a [&'a [u8]],
}

impl<'a> RxNbView<'a> {
    /// The data, one slice per MDL it touches.
    pub fn segments(&self) -> &'a [&'a [u8]] {
        self.segs
    }

    /// `DataLength`.
    pub fn len(&self) -> usize {
        self.segs.iter().map(|s| s.len()).sum()
    }

    /// Whether `DataLength` is 0 (a receive violation the emulator has already recorded).
    pub fn is_empty(&self) -> bool {
        self.segs.iter().all(|s| s.is_empty())
    }

    /// Appends the data to `out` (one copy; `out` may be a recycled buffer).
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        for s in self.segs {
            out.extend_from_slice(s);
        }
    }

    /// The data as one new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.copy_to(&mut v);
        v
    }
}

/// A received NBL as the protocol sees it *during* the indication: its NET_BUFFERs' data in
/// place in the miniport's buffers, no copy made. The view lives only as long as the receive
/// callback runs (the miniport may reuse the buffers once the NBL is returned, and with
/// `NDIS_RECEIVE_FLAGS_RESOURCES` as soon as the indication returns); a protocol that keeps data
/// copies it ([`RxNbView::copy_to`]).
#[derive(Clone, Copy, Debug)]
pub struct RxView<'a> {
    /// Sequence number of the indication (per adapter).
    pub seq: u64,
    /// `NetBufferListInfo` slots.
    pub info: &'a [usize; n::MaxNetBufferListInfo],
    /// `NblFlags`.
    pub nbl_flags: u32,
    /// `ReceiveFlags` of the indication.
    pub receive_flags: u32,
    /// Port.
    pub port: u32,
    /// Emulated processor of the indication.
    pub cpu: u32,
    /// IRQL of the indication.
    pub irql: u8,
    /// The NBL address (identifies it for a manual return).
    pub nbl: usize,
    segs: &'a [&'a [u8]],
    nbs: &'a [(usize, usize)],
}

impl<'a> RxView<'a> {
    /// An info slot.
    pub fn info(&self, slot: usize) -> usize {
        self.info.get(slot).copied().unwrap_or(0)
    }

    /// Number of (well-formed) NET_BUFFERs.
    pub fn nb_count(&self) -> usize {
        self.nbs.len()
    }

    /// NET_BUFFER `i`.
    pub fn nb(&self, i: usize) -> Option<RxNbView<'a>> {
        let &(a, b) = self.nbs.get(i)?;
        Some(RxNbView {
            segs: self.segs.get(a..b)?,
        })
    }

    /// The NET_BUFFERs in chain order.
    pub fn nbs(&self) -> impl ExactSizeIterator<Item = RxNbView<'a>> + 'a {
        let segs = self.segs;
        self.nbs.iter().map(move |&(a, b)| RxNbView {
            segs: segs.get(a..b).unwrap_or_default(),
        })
    }

    /// A copy that outlives the indication (what receive capture keeps).
    pub fn to_owned(&self) -> RxNbl {
        RxNbl {
            seq: self.seq,
            frames: self.nbs().map(|nb| nb.to_vec()).collect(),
            info: *self.info,
            nbl_flags: self.nbl_flags,
            receive_flags: self.receive_flags,
            port: self.port,
            cpu: self.cpu,
            irql: self.irql,
            nbl: self.nbl,
        }
    }
}

/// Datapath counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatapathStats {
    /// NBLs given to `MiniportSendNetBufferLists`.
    pub sent: u64,
    /// Send NBLs completed.
    pub completed: u64,
    /// `NdisMIndicateReceiveNetBufferLists` calls.
    pub indications: u64,
    /// NBLs indicated.
    pub indicated: u64,
    /// Indicated NBLs returned to the miniport (including `NDIS_RECEIVE_FLAGS_RESOURCES` ones).
    pub returned: u64,
    /// NBLs indicated while the adapter was pausing.
    pub indicated_while_pausing: u64,
    /// Bytes of indicated frames.
    pub rx_bytes: u64,
    /// Received NBLs dropped from the capture queue because it was full.
    pub capture_dropped: u64,
}

type RxCallback = Arc<dyn Fn(&RxNbl) + Send + Sync>;
type RxViewCallback = Arc<dyn Fn(&RxView<'_>) + Send + Sync>;

/// One indicated NBL while its indication is processed.
struct RxMeta {
    seq: u64,
    info: [usize; n::MaxNetBufferListInfo],
    nbl_flags: u32,
    nbl: usize,
    /// Its NBs: ranges of `segs`.
    nbs: std::ops::Range<usize>,
}

#[derive(Default)]
struct Rx {
    /// Indicated, not returned: NBL → still held by the protocol in manual mode.
    outstanding: HashMap<usize, bool>,
    /// Waiting for the deferred returner.
    to_return: Vec<usize>,
    returner_armed: bool,
    /// Captured receives.
    queue: VecDeque<RxNbl>,
}

/// Per-adapter datapath state.
#[derive(Default)]
pub(crate) struct Datapath {
    /// Held (shared) by protocol-edge sends across their state check and the driver call; taken
    /// exclusively by a pause to move Running → Pausing.
    pub(crate) send_gate: RwLock<()>,
    sends: Mutex<HashMap<usize, SendRec>>,
    recently_completed: Mutex<VecDeque<usize>>,
    completions: Mutex<VecDeque<Completion>>,
    comp_cv: Condvar,
    rx: Mutex<Rx>,
    rx_cv: Condvar,
    callback: Mutex<Option<RxCallback>>,
    view_callback: Mutex<Option<RxViewCallback>>,
    seq: AtomicU64,
    stats: Mutex<DatapathStats>,
    manual: AtomicBool,
    no_capture: AtomicBool,
    next_return_cpu: AtomicU32,
    send_toggle: AtomicBool,
}

/// Most received NBLs kept for [`Datapath::recv`] before the oldest are dropped.
const CAPTURE_MAX: usize = 65536;

/// Options of one send call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOpts {
    /// Port number.
    pub port: n::NDIS_PORT_NUMBER,
    /// Extra `SendFlags` (the DISPATCH flag is managed from `irql`).
    pub flags: u32,
    /// IRQL of the call (`None`: the emulator's [`SendIrql`] policy).
    pub irql: Option<SendIrql>,
}

impl Datapath {
    /// Counters.
    pub(crate) fn stats(&self) -> DatapathStats {
        *lock(&self.stats)
    }

    pub(crate) fn set_manual_return(&self, on: bool) {
        self.manual.store(on, Ordering::SeqCst);
    }

    pub(crate) fn set_capture(&self, on: bool) {
        self.no_capture.store(!on, Ordering::SeqCst);
    }

    pub(crate) fn set_callback(&self, f: Option<RxCallback>) {
        *lock(&self.callback) = f;
    }

    pub(crate) fn set_view_callback(&self, f: Option<RxViewCallback>) {
        *lock(&self.view_callback) = f;
    }

    /// Sends `nbls` as one chain.
    pub(crate) fn send(
        &self,
        ndis: &Arc<Ndis>,
        a: &Adapter,
        nbls: Vec<ProtoNbl>,
        opts: SendOpts,
    ) -> Result<(), LifecycleError> {
        if nbls.is_empty() {
            return Ok(());
        }
        let st = a.state();
        let expect_paused = match st {
            AdapterState::Running => None,
            AdapterState::Paused | AdapterState::Pausing | AdapterState::Restarting => Some(st),
            s => return Err(LifecycleError::WrongState(s)),
        };
        let Some(f) = a.driver().chars.SendNetBufferListsHandler else {
            return Err(LifecycleError::Refused(
                "no SendNetBufferListsHandler".into(),
            ));
        };
        let head = nbls[0].as_ptr();
        {
            let mut sends = lock(&self.sends);
            for (i, p) in nbls.iter().enumerate() {
                let next = nbls.get(i + 1).map_or(std::ptr::null_mut(), |x| x.as_ptr());
                // SAFETY: our own NBL, not yet in the miniport's hands.
                unsafe { (*p.as_ptr()).set_next_nbl(next) };
            }
            for p in nbls {
                // SAFETY: our own NBL and NBs.
                let snaps = unsafe { n::NbChain::new(p.as_ptr()) }
                    // SAFETY: our own NBs.
                    .map(|nb| unsafe { snap(nb) })
                    .collect();
                sends.insert(
                    p.as_ptr() as usize,
                    SendRec {
                        nbl: p,
                        nbs: snaps,
                        expect_paused,
                    },
                );
            }
        }
        let count = {
            let mut c = 0u64;
            // SAFETY: the chain we just linked.
            for _ in unsafe { n::NblChain::new(head) } {
                c += 1;
            }
            c
        };
        lock(&self.stats).sent += count;
        let dispatch = match opts.irql.unwrap_or(ndis.cfg.send_irql) {
            SendIrql::Passive => false,
            SendIrql::Dispatch => true,
            SendIrql::Alternate => self.send_toggle.fetch_xor(true, Ordering::Relaxed),
        };
        let mut flags = opts.flags & !n::NDIS_SEND_FLAGS_DISPATCH_LEVEL;
        let old = ctx::irql();
        if dispatch {
            flags |= n::NDIS_SEND_FLAGS_DISPATCH_LEVEL;
            ctx::raise(n::DISPATCH_LEVEL);
        }
        let c = a.context();
        ndis.call_driver(Handler::Send, a.handle(), || {
            // SAFETY: the driver's send handler with its context and our NBL chain, which it owns
            // until it completes each NBL; IRQL matches the flags.
            unsafe { f(c, head, opts.port, flags) }
        });
        if dispatch {
            ctx::lower(old);
        }
        Ok(())
    }

    /// A protocol-edge send: only while Running, never overlapping the start of a pause.
    pub(crate) fn send_running(
        &self,
        ndis: &Arc<Ndis>,
        a: &Adapter,
        nbls: Vec<ProtoNbl>,
        opts: SendOpts,
    ) -> Result<(), LifecycleError> {
        let _g = self.send_gate.read().unwrap_or_else(|e| e.into_inner());
        match a.state() {
            AdapterState::Running => self.send(ndis, a, nbls, opts),
            s => Err(LifecycleError::WrongState(s)),
        }
    }

    /// `MiniportCancelSend`.
    pub(crate) fn cancel_send(&self, ndis: &Ndis, a: &Adapter, cancel_id: usize) {
        let Some(f) = a.driver().chars.CancelSendHandler else {
            return;
        };
        let c = a.context();
        ndis.call_driver(Handler::CancelSend, a.handle(), || {
            // SAFETY: the driver's cancel handler with its context and a cancel id.
            unsafe { f(c, cancel_id as n::PVOID) }
        });
    }

    fn complete(&self, ndis: &Ndis, a: &Adapter, head: *mut n::NET_BUFFER_LIST, flags: u32) {
        const API: &str = "NdisMSendNetBufferListsComplete";
        let irql = ctx::irql();
        let flag = flags & n::NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0;
        if flag != (irql == n::DISPATCH_LEVEL) {
            ndis.checks.violation(
                Kind::IrqlFlag,
                API,
                format!(
                    "NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL is {} at IRQL {irql}",
                    if flag { "set" } else { "clear" }
                ),
            );
        }
        let mut list = Vec::new();
        // SAFETY: the chain the driver completes; every element is checked against our table
        // before it is touched further.
        for p in unsafe { n::NblChain::new(head) } {
            list.push(p);
            if list.len() > 1_000_000 {
                ndis.checks.violation(
                    Kind::SendCompletion,
                    API,
                    "completion chain does not end (loop?)",
                );
                break;
            }
        }
        let mut done = Vec::new();
        for p in list {
            let rec = lock(&self.sends).remove(&(p as usize));
            let Some(rec) = rec else {
                let twice = lock(&self.recently_completed).contains(&(p as usize));
                ndis.checks.violation(
                    Kind::SendCompletion,
                    API,
                    if twice {
                        format!("NBL {p:p} completed twice")
                    } else {
                        format!("NBL {p:p} was never sent to the miniport")
                    },
                );
                continue;
            };
            let nbl = rec.nbl;
            // SAFETY: our own NBL, back from the miniport.
            let now: Vec<NbSnap> = unsafe { n::NbChain::new(p) }
                // SAFETY: NBs of our NBL.
                .map(|nb| unsafe { snap(nb) })
                .collect();
            if now != rec.nbs {
                ndis.checks.violation(
                    Kind::Nbl,
                    API,
                    format!(
                        "NBL {p:p}: NET_BUFFER chain or data start not restored before completion"
                    ),
                );
            }
            if !nbl.nbl().Context.is_null() {
                ndis.checks.violation(
                    Kind::Nbl,
                    API,
                    format!("NBL {p:p}: context allocated by the miniport not freed"),
                );
            }
            let status = nbl.status();
            if let Some(state) = rec.expect_paused {
                if status != n::NDIS_STATUS_PAUSED {
                    let msg = format!(
                        "NBL {p:p} sent while the adapter was {state:?} completed with {:#010x}, not NDIS_STATUS_PAUSED",
                        status as u32
                    );
                    if state == AdapterState::Paused {
                        ndis.checks.violation(Kind::SendStatus, API, msg);
                    } else {
                        ndis.checks.warning(Kind::SendStatus, API, msg);
                    }
                }
            }
            {
                let mut r = lock(&self.recently_completed);
                r.push_back(p as usize);
                if r.len() > 4096 {
                    r.pop_front();
                }
            }
            done.push(Completion {
                nbl,
                status,
                flags,
                cpu: ctx::cpu(),
            });
        }
        for c in &done {
            // SAFETY: our own NBL: the Next link belonged to the miniport's completion chain.
            unsafe { (*c.nbl.as_ptr()).set_next_nbl(std::ptr::null_mut()) };
        }
        let k = done.len() as u64;
        lock(&self.completions).extend(done);
        lock(&self.stats).completed += k;
        self.comp_cv.notify_all();
        let _ = a;
    }

    /// Waits until `n` completions are available (or the timeout); returns those present.
    pub(crate) fn wait_completions(&self, n_want: usize, timeout: Duration) -> Vec<Completion> {
        let deadline = Instant::now() + timeout;
        let mut c = lock(&self.completions);
        while c.len() < n_want {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            c = self
                .comp_cv
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        c.drain(..).collect()
    }

    /// Sent NBLs not yet completed.
    pub(crate) fn outstanding_sends(&self) -> usize {
        lock(&self.sends).len()
    }

    /// Indicated NBLs not yet returned.
    pub(crate) fn outstanding_receives(&self) -> usize {
        lock(&self.rx).outstanding.len()
    }

    pub(crate) fn in_flight(&self, nbl: usize) -> Option<&'static str> {
        if lock(&self.sends).contains_key(&nbl) {
            return Some("sent to the miniport and not completed");
        }
        if lock(&self.rx).outstanding.contains_key(&nbl) {
            return Some("indicated to the protocol and not returned");
        }
        None
    }

    /// Handles an indication; returns the NBLs to return inline (after the protocol span).
    fn indicate(
        &self,
        ndis: &Ndis,
        a: &Adapter,
        head: *mut n::NET_BUFFER_LIST,
        port: u32,
        count: u32,
        flags: u32,
    ) -> Vec<usize> {
        const API: &str = "NdisMIndicateReceiveNetBufferLists";
        let irql = ctx::irql();
        let dflag = flags & n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0;
        if dflag != (irql == n::DISPATCH_LEVEL) {
            ndis.checks.violation(
                Kind::IrqlFlag,
                API,
                format!(
                    "NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL is {} at IRQL {irql}",
                    if dflag { "set" } else { "clear" }
                ),
            );
        }
        let state = a.state();
        let pausing = state == AdapterState::Pausing;
        if !matches!(
            state,
            AdapterState::Running | AdapterState::Restarting | AdapterState::Pausing
        ) {
            ndis.checks.violation(
                Kind::Receive,
                API,
                format!("indication while the adapter is {state:?}"),
            );
        }
        if head.is_null() {
            ndis.checks.violation(Kind::Receive, API, "NULL NBL chain");
            return Vec::new();
        }
        let mut list = Vec::new();
        // SAFETY: the driver's NBL chain; each NBL is validated before its NBs are read.
        for p in unsafe { n::NblChain::new(head) } {
            list.push(p);
            if list.len() > 1_000_000 {
                break;
            }
        }
        if list.len() != count as usize {
            ndis.checks.violation(
                Kind::Receive,
                API,
                format!(
                    "NumberOfNetBufferLists is {count}, the chain has {}",
                    list.len()
                ),
            );
        }
        if let Some(total) = crate::interrupt::count_indicated(list.len() as u32) {
            let _ = total;
        }
        let resources = flags & n::NDIS_RECEIVE_FLAGS_RESOURCES != 0;
        let cpu = ctx::cpu();
        let mut seen = HashSet::with_capacity(list.len());
        let mut metas: Vec<RxMeta> = Vec::with_capacity(list.len());
        // Data segments (address, length) of every well-formed NB, and each NB's range of them.
        let mut segs: Vec<(usize, usize)> = Vec::with_capacity(list.len() * 2);
        let mut nb_ranges: Vec<(usize, usize)> = Vec::with_capacity(list.len());
        let mut bytes = 0u64;
        let again: Vec<usize> = {
            let rx = lock(&self.rx);
            list.iter()
                .map(|&p| p as usize)
                .filter(|p| rx.outstanding.contains_key(p))
                .collect()
        };
        for &p in &list {
            if !seen.insert(p as usize) {
                ndis.checks.violation(
                    Kind::Receive,
                    API,
                    format!("NBL {p:p} appears twice in the chain"),
                );
                continue;
            }
            if again.contains(&(p as usize)) {
                ndis.checks.violation(
                    Kind::Receive,
                    API,
                    format!("NBL {p:p} indicated again before it was returned"),
                );
            }
            // SAFETY: an NBL the driver indicates (owned by NDIS until returned).
            let l = unsafe { &*p };
            if l.SourceHandle as usize != a.handle() {
                ndis.checks.violation(
                    Kind::Receive,
                    API,
                    format!(
                        "NBL {p:p}: SourceHandle {:p} is not the miniport adapter handle",
                        l.SourceHandle
                    ),
                );
            }
            if l.first_nb().is_null() {
                ndis.checks
                    .violation(Kind::Receive, API, format!("NBL {p:p} without NET_BUFFERs"));
            }
            let first_nb = nb_ranges.len();
            // SAFETY: the NBL's NB chain (owned by NDIS during the indication).
            for nb in unsafe { n::NbChain::new(p) } {
                let start = segs.len();
                // SAFETY: an NB of the indicated NBL.
                if let Err(e) = unsafe { nbl::nb_check_segments(nb, &mut segs) } {
                    ndis.checks.violation(
                        Kind::Receive,
                        API,
                        format!("NBL {p:p}: malformed NET_BUFFER: {e}"),
                    );
                    continue;
                }
                let len: usize = segs[start..].iter().map(|s| s.1).sum();
                if len == 0 {
                    ndis.checks.violation(
                        Kind::Receive,
                        API,
                        format!("NBL {p:p}: NET_BUFFER with DataLength 0"),
                    );
                }
                bytes += len as u64;
                nb_ranges.push((start, segs.len()));
            }
            metas.push(RxMeta {
                seq: self.seq.fetch_add(1, Ordering::Relaxed),
                info: l.NetBufferListInfo.map(|v| v as usize),
                nbl_flags: l.NblFlags,
                nbl: p as usize,
                nbs: first_nb..nb_ranges.len(),
            });
        }
        {
            let mut s = lock(&self.stats);
            s.indications += 1;
            s.indicated += metas.len() as u64;
            s.rx_bytes += bytes;
            if pausing {
                s.indicated_while_pausing += metas.len() as u64;
            }
            if resources {
                s.returned += metas.len() as u64;
            }
        }
        let view_cb = lock(&self.view_callback).clone();
        let cb = lock(&self.callback).clone();
        let capture = !self.no_capture.load(Ordering::SeqCst);
        // Copies are made only for a protocol that asked for owned data.
        let mut owned: Vec<RxNbl> = Vec::new();
        if view_cb.is_some() || cb.is_some() || capture {
            let slices: Vec<&[u8]> = segs
                .iter()
                // SAFETY: NB data the emulator validated against the NB's MDL chain; the NBL
                // belongs to NDIS (this indication) until it is returned, which happens after
                // the callbacks below, and the slices do not outlive this function.
                .map(|&(va, len)| unsafe { std::slice::from_raw_parts(va as *const u8, len) })
                .collect();
            for m in &metas {
                let v = RxView {
                    seq: m.seq,
                    info: &m.info,
                    nbl_flags: m.nbl_flags,
                    receive_flags: flags,
                    port,
                    cpu,
                    irql,
                    nbl: m.nbl,
                    segs: &slices,
                    nbs: &nb_ranges[m.nbs.clone()],
                };
                if let Some(f) = &view_cb {
                    f(&v);
                }
                if cb.is_some() || capture {
                    owned.push(v.to_owned());
                }
            }
        }
        if let Some(cb) = cb {
            for r in &owned {
                cb(r);
            }
        }
        let manual = self.manual.load(Ordering::SeqCst) && !pausing && !resources;
        let mut rx = lock(&self.rx);
        if !resources {
            for m in &metas {
                rx.outstanding.insert(m.nbl, manual);
            }
        }
        if capture {
            for r in owned {
                if rx.queue.len() >= CAPTURE_MAX {
                    rx.queue.pop_front();
                    lock(&self.stats).capture_dropped += 1;
                }
                rx.queue.push_back(r);
            }
        }
        drop(rx);
        if capture {
            self.rx_cv.notify_all();
        }
        if resources || manual {
            return Vec::new();
        }
        let nbls: Vec<usize> = metas.iter().map(|m| m.nbl).collect();
        match ndis.cfg.return_policy {
            ReturnPolicy::Inline if !pausing => nbls,
            _ => {
                self.return_later(ndis, a, nbls);
                Vec::new()
            }
        }
    }

    /// Returns NBLs to the miniport on this thread.
    fn return_now(&self, ndis: &Ndis, a: &Adapter, nbls: &[usize]) {
        if nbls.is_empty() {
            return;
        }
        let Some(f) = a.driver().chars.ReturnNetBufferListsHandler else {
            return;
        };
        {
            let mut rx = lock(&self.rx);
            for &p in nbls {
                rx.outstanding.remove(&p);
            }
        }
        for (i, &p) in nbls.iter().enumerate() {
            let next = nbls.get(i + 1).copied().unwrap_or(0);
            // SAFETY: an NBL the protocol owned until now; NDIS relinks returned NBLs freely.
            unsafe {
                (*(p as *mut n::NET_BUFFER_LIST)).set_next_nbl(next as *mut n::NET_BUFFER_LIST)
            };
        }
        lock(&self.stats).returned += nbls.len() as u64;
        let irql = ctx::irql();
        let flags = if irql == n::DISPATCH_LEVEL {
            n::NDIS_RETURN_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
        let c = a.context();
        let head = nbls[0] as *mut n::NET_BUFFER_LIST;
        ndis.call_driver(Handler::Return, a.handle(), || {
            // SAFETY: the driver's return handler with its context and the NBLs it indicated.
            unsafe { f(c, head, flags) }
        });
    }

    /// Queues NBLs for the deferred returner (a DPC after `return_delay`).
    fn return_later(&self, ndis: &Ndis, a: &Adapter, nbls: Vec<usize>) {
        let arm = {
            let mut rx = lock(&self.rx);
            rx.to_return.extend(nbls);
            let arm = !rx.returner_armed && !rx.to_return.is_empty();
            if arm {
                rx.returner_armed = true;
            }
            arm
        };
        if !arm {
            return;
        }
        let h = a.handle();
        let cpu = self.next_return_cpu.fetch_add(1, Ordering::Relaxed) % ndis.cpu_count();
        ndis.rt.at(
            Instant::now() + ndis.cfg.return_delay,
            Box::new(move |ndis: &Arc<Ndis>| {
                ndis.rt.queue_dpc(
                    cpu,
                    Box::new(move |ndis: &Arc<Ndis>| {
                        let Some(a) = lock(&ndis.adapter).clone().filter(|a| a.handle() == h)
                        else {
                            return;
                        };
                        let batch = {
                            let mut rx = lock(&a.dp.rx);
                            rx.returner_armed = false;
                            std::mem::take(&mut rx.to_return)
                        };
                        a.dp.return_now(ndis, &a, &batch);
                    }),
                );
            }),
        );
    }

    /// Returns NBLs the protocol holds (manual mode); `None` = all.
    pub(crate) fn return_held(&self, ndis: &Ndis, a: &Adapter, which: Option<&[usize]>) {
        let list: Vec<usize> = {
            let mut rx = lock(&self.rx);
            let held: Vec<usize> = rx
                .outstanding
                .iter()
                .filter(|(k, &held)| held && which.is_none_or(|w| w.contains(k)))
                .map(|(k, _)| *k)
                .collect();
            for k in &held {
                rx.outstanding.insert(*k, false);
            }
            held
        };
        self.return_later(ndis, a, list);
    }

    /// Received NBLs (waits up to `timeout` for one).
    pub(crate) fn recv(&self, timeout: Duration) -> Option<RxNbl> {
        let deadline = Instant::now() + timeout;
        let mut rx = lock(&self.rx);
        loop {
            if let Some(r) = rx.queue.pop_front() {
                return Some(r);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            rx = self
                .rx_cv
                .wait_timeout(rx, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Everything received so far.
    pub(crate) fn drain_received(&self) -> Vec<RxNbl> {
        lock(&self.rx).queue.drain(..).collect()
    }

    /// The adapter starts pausing: the paused protocol returns what it holds.
    pub(crate) fn on_pausing(&self, ndis: &Ndis, a: &Adapter) {
        self.return_held(ndis, a, None);
    }

    /// Pause completed: nothing may be outstanding.
    pub(crate) fn check_paused(&self, ndis: &Ndis, a: &Adapter) {
        let s = self.outstanding_sends();
        if s != 0 {
            ndis.checks.violation(
                Kind::PauseIncomplete,
                "MiniportPause",
                format!("pause completed with {s} send NBL(s) not completed"),
            );
        }
        let r = self.outstanding_receives();
        if r != 0 {
            ndis.checks.violation(
                Kind::PauseIncomplete,
                "MiniportPause",
                format!("pause completed with {r} indicated NBL(s) not yet returned"),
            );
        }
        let _ = a;
    }

    /// After Halt: sends never completed, receives never returned.
    pub(crate) fn check_halted(&self, ndis: &Ndis, a: &Adapter) {
        let lost: Vec<ProtoNbl> = lock(&self.sends).drain().map(|(_, r)| r.nbl).collect();
        if !lost.is_empty() {
            ndis.checks.violation(
                Kind::SendCompletion,
                "MiniportHaltEx",
                format!("{} send NBL(s) never completed", lost.len()),
            );
            // The miniport may still reference them: keep the memory.
            std::mem::forget(lost);
        }
        let r = self.outstanding_receives();
        if r != 0 {
            ndis.checks.violation(
                Kind::Receive,
                "MiniportHaltEx",
                format!("{r} indicated NBL(s) still with the protocol at Halt"),
            );
            lock(&self.rx).outstanding.clear();
        }
        let _ = a;
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMSendNetBufferListsComplete(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    NetBufferList: *mut n::NET_BUFFER_LIST,
    SendCompleteFlags: n::ULONG,
) {
    const API: &str = "NdisMSendNetBufferListsComplete";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        if NetBufferList.is_null() {
            ndis.checks
                .violation(Kind::SendCompletion, API, "NULL NBL chain");
            return;
        }
        let _span = ProtocolSpan::begin();
        a.dp.complete(&ndis, &a, NetBufferList, SendCompleteFlags);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMIndicateReceiveNetBufferLists(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    NetBufferList: *mut n::NET_BUFFER_LIST,
    PortNumber: n::NDIS_PORT_NUMBER,
    NumberOfNetBufferLists: n::ULONG,
    ReceiveFlags: n::ULONG,
) {
    const API: &str = "NdisMIndicateReceiveNetBufferLists";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        let inline = {
            let _span = ProtocolSpan::begin();
            a.dp.indicate(
                &ndis,
                &a,
                NetBufferList,
                PortNumber,
                NumberOfNetBufferLists,
                ReceiveFlags,
            )
        };
        a.dp.return_now(&ndis, &a, &inline);
    })
}
