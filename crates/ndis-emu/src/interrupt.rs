//! Interrupts: `NdisMRegisterInterruptEx` (message-signalled for MSI-X, line-based otherwise),
//! the interrupt thread that turns the bus's doorbells into ISR calls at DIRQL, the DPC queuing
//! NDIS does after an ISR (`QueueDefaultInterruptDpc` / `TargetProcessors`), `NdisMQueueDpc(Ex)`
//! and `NdisMSynchronizeWithInterruptEx`.
//!
//! Each message has one DPC object per processor, as NDIS keeps: queuing a DPC that is already
//! queued on that processor does nothing (and `NdisMQueueDpcEx` reports it), while a DPC that is
//! running can be queued again. A DPC that sets `MoreNblsPending` in its receive-throttle
//! parameters is queued again by NDIS.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ndis_sys as n;

use crate::accounting::Handler;
use crate::adapter::Adapter;
use crate::checks::{self, Kind};
use crate::ctx::{self, Role, DIRQL};
use crate::handles::{self, Obj};
use crate::ndis::{guard, lock, InterruptMode, Ndis};
use crate::sched::OwnerLock;
use crate::track::{Res, ResKind};

/// How the interrupt was connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Line-based (`NDIS_CONNECT_LINE_BASED`).
    Line,
    /// Message-signalled with this many messages.
    Message(u16),
}

/// A registered interrupt.
pub(crate) struct InterruptObj {
    adapter: usize,
    ctx: usize,
    chars: n::NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    pub(crate) conn: Connection,
    cpus: u32,
    locks: Vec<OwnerLock>,
    sync_all: bool,
    /// Per (message, processor): a DPC is queued.
    queued: Vec<AtomicBool>,
    dpcs_active: AtomicUsize,
    connected: AtomicBool,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    table: usize,
    isr_calls: AtomicU32,
}

// SAFETY: the characteristics hold driver function pointers (callable from any thread, as NDIS
// does); everything else is atomics / plain data.
unsafe impl Send for InterruptObj {}
// SAFETY: as above.
unsafe impl Sync for InterruptObj {}

thread_local! {
    /// NBLs indicated by the running interrupt DPC (throttle check).
    static DPC_INDICATED: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// Counts NBLs indicated from an interrupt DPC; returns the running count (None outside one).
pub(crate) fn count_indicated(nbls: u32) -> Option<u32> {
    DPC_INDICATED.with(|c| {
        let v = c.get()?.saturating_add(nbls);
        c.set(Some(v));
        Some(v)
    })
}

impl InterruptObj {
    fn messages(&self) -> u16 {
        match self.conn {
            Connection::Line => 1,
            Connection::Message(m) => m,
        }
    }

    /// Processor message `m` is delivered to.
    pub(crate) fn cpu_of(&self, m: u32) -> u32 {
        m % self.cpus
    }

    fn lock_for(&self, m: u32) -> &OwnerLock {
        if self.sync_all || self.conn == Connection::Line {
            &self.locks[0]
        } else {
            &self.locks[(m as usize).min(self.locks.len() - 1)]
        }
    }

    /// Queues the DPC of message `m` on `cpu`; false if it was already queued there.
    pub(crate) fn queue_dpc(
        self: &Arc<Self>,
        ndis: &Ndis,
        m: u32,
        cpu: u32,
        dpc_ctx: usize,
    ) -> bool {
        let idx = m as usize * self.cpus as usize + cpu as usize;
        let Some(flag) = self.queued.get(idx) else {
            return false;
        };
        if flag.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.dpcs_active.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        ndis.rt.queue_dpc(
            cpu,
            Box::new(move |ndis: &Arc<Ndis>| {
                me.queued[idx].store(false, Ordering::SeqCst);
                if me.connected.load(Ordering::SeqCst) {
                    me.run_dpc(ndis, m, cpu, dpc_ctx);
                }
                me.dpcs_active.fetch_sub(1, Ordering::SeqCst);
            }),
        );
        true
    }

    fn run_dpc(self: &Arc<Self>, ndis: &Arc<Ndis>, m: u32, cpu: u32, dpc_ctx: usize) {
        let max = ndis.cfg.dpc_max_nbls;
        let mut throttle = n::NDIS_RECEIVE_THROTTLE_PARAMETERS {
            MaxNblsToIndicate: max,
            Flags: 0,
        };
        let tp =
            (&mut throttle as *mut n::NDIS_RECEIVE_THROTTLE_PARAMETERS).cast::<core::ffi::c_void>();
        DPC_INDICATED.with(|c| c.set(Some(0)));
        let ctx_p = self.ctx as n::NDIS_HANDLE;
        let dctx = dpc_ctx as n::PVOID;
        match self.conn {
            Connection::Message(_) => {
                if let Some(dpc) = self.chars.MessageInterruptDpcHandler {
                    ndis.call_driver(Handler::InterruptDpc, self.adapter, || {
                        // SAFETY: the driver's message DPC with its interrupt context, the message,
                        // the DPC context and throttle parameters valid for the call, at
                        // DISPATCH_LEVEL on the DPC thread of the target processor.
                        unsafe { dpc(ctx_p, m, dctx, tp, std::ptr::null_mut()) }
                    });
                }
            }
            Connection::Line => {
                if let Some(dpc) = self.chars.InterruptDpcHandler {
                    ndis.call_driver(Handler::InterruptDpc, self.adapter, || {
                        // SAFETY: as above for the line-based DPC.
                        unsafe { dpc(ctx_p, dctx, tp, std::ptr::null_mut()) }
                    });
                }
            }
        }
        let indicated = DPC_INDICATED.with(|c| c.take()).unwrap_or(0);
        if max != n::NDIS_INDICATE_ALL_NBLS && indicated > max {
            ndis.checks.violation(
                Kind::Receive,
                "MiniportInterruptDPC",
                format!("indicated {indicated} NBLs, MaxNblsToIndicate was {max}"),
            );
        }
        if throttle.Flags & 1 != 0 {
            self.queue_dpc(ndis, m, cpu, 0);
        }
    }

    fn deliver(self: &Arc<Self>, ndis: &Arc<Ndis>, m: u32) {
        if !self.connected.load(Ordering::SeqCst) {
            return;
        }
        let cpu = self.cpu_of(m);
        ctx::set_cpu(cpu);
        ctx::set_irql_raw(DIRQL);
        let lk = self.lock_for(m);
        lk.acquire();
        let mut qd: n::BOOLEAN = n::FALSE;
        let mut targets: n::ULONG = 0;
        let ctx_p = self.ctx as n::NDIS_HANDLE;
        self.isr_calls.fetch_add(1, Ordering::Relaxed);
        let claimed = match self.conn {
            Connection::Message(_) => match self.chars.MessageInterruptHandler {
                Some(isr) => ndis.call_driver(Handler::Isr, self.adapter, || {
                    // SAFETY: the driver's message ISR with its context and valid out-parameters,
                    // at DIRQL under the message's interrupt lock.
                    unsafe { isr(ctx_p, m, &mut qd, &mut targets) }
                }),
                None => n::FALSE,
            },
            Connection::Line => match self.chars.InterruptHandler {
                Some(isr) => ndis.call_driver(Handler::Isr, self.adapter, || {
                    // SAFETY: as above for the line ISR.
                    unsafe { isr(ctx_p, &mut qd, &mut targets) }
                }),
                None => n::FALSE,
            },
        };
        lk.release();
        if claimed == n::FALSE {
            return;
        }
        if qd != n::FALSE {
            self.queue_dpc(ndis, m, cpu, 0);
        } else {
            for c in 0..32 {
                if targets & (1 << c) == 0 {
                    continue;
                }
                if c >= self.cpus {
                    ndis.checks.violation(
                        Kind::Interrupt,
                        "MiniportMessageInterrupt",
                        format!(
                            "TargetProcessors {targets:#x} names processor {c}, the machine has {}",
                            self.cpus
                        ),
                    );
                    continue;
                }
                self.queue_dpc(ndis, m, c, 0);
            }
        }
    }

    fn stop_thread(&self, ndis: &Ndis) {
        self.stop.store(true, Ordering::SeqCst);
        ndis.bus.wake();
        let t = lock(&self.thread).take();
        if let Some(t) = t {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }

    /// ISR calls so far.
    pub(crate) fn isr_calls(&self) -> u32 {
        self.isr_calls.load(Ordering::Relaxed)
    }
}

fn interrupt_thread(w: Weak<Ndis>, intr: Arc<InterruptObj>) {
    match w.upgrade() {
        Some(ndis) => ctx::enter(&ndis, Role::Isr, 0),
        None => return,
    }
    let mut fired = Vec::new();
    let mut last_poll = Instant::now();
    while !intr.stop.load(Ordering::SeqCst) {
        let Some(ndis) = w.upgrade() else { break };
        let nmsg = intr.messages();
        let poll = match ndis.cfg.interrupt_mode {
            InterruptMode::Polling(p) => Some(p),
            InterruptMode::Auto if !ndis.bus.has_doorbells() => Some(Duration::from_millis(1)),
            InterruptMode::Auto => None,
        };
        fired.clear();
        match poll {
            Some(p) => {
                let el = last_poll.elapsed();
                if el < p {
                    std::thread::sleep(p - el);
                }
                last_poll = Instant::now();
                fired.extend(0..nmsg);
            }
            None => {
                ndis.bus
                    .wait_interrupts(intr.max_vector(), Duration::from_millis(50));
                ndis.bus.take_interrupts(intr.max_vector(), &mut fired);
            }
        }
        if intr.stop.load(Ordering::SeqCst) {
            break;
        }
        match intr.conn {
            Connection::Line => {
                if !fired.is_empty() {
                    intr.deliver(&ndis, 0);
                }
            }
            Connection::Message(m) => {
                for &v in &fired {
                    if v < m {
                        intr.deliver(&ndis, u32::from(v));
                    }
                }
            }
        }
    }
    ctx::leave();
}

impl InterruptObj {
    fn max_vector(&self) -> u16 {
        match self.conn {
            Connection::Line => u16::MAX,
            Connection::Message(m) => m,
        }
    }
}

/// Builds an `IO_INTERRUPT_MESSAGE_INFO` with `m` entries; returns the block.
fn message_table(m: u16, cpus: u32) -> usize {
    let size = 8 + 48 * usize::from(m.max(1));
    let p = crate::nbl::raw_alloc(size);
    if p.is_null() {
        return 0;
    }
    let hdr = p.cast::<n::IO_INTERRUPT_MESSAGE_INFO>();
    // SAFETY: fresh block of `size` >= 56 bytes; the header fields are written in place.
    unsafe {
        (*hdr).UnifiedIrql = DIRQL;
    }
    // SAFETY: as above.
    unsafe { (*hdr).MessageCount = u32::from(m) };
    let first = p
        .wrapping_add(8)
        .cast::<n::IO_INTERRUPT_MESSAGE_INFO_ENTRY>();
    for i in 0..m {
        let cpu = u32::from(i) % cpus;
        // SAFETY: entry `i` is inside the block (8 + 48 * m bytes).
        unsafe {
            first
                .wrapping_add(usize::from(i))
                .write(n::IO_INTERRUPT_MESSAGE_INFO_ENTRY {
                    MessageAddress: 0x10_0000 + 64 * i64::from(i),
                    TargetProcessorSet: 1usize << cpu,
                    InterruptObject: std::ptr::null_mut(),
                    MessageData: 0x4E54_0000 | u32::from(i),
                    Vector: 0x50 + u32::from(i),
                    Irql: DIRQL,
                    Mode: n::Latched,
                    Polarity: 0,
                })
        };
    }
    p as usize
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMRegisterInterruptEx(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    MiniportInterruptContext: n::NDIS_HANDLE,
    MiniportInterruptCharacteristics: n::PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    NdisInterruptHandle: *mut n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMRegisterInterruptEx";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if MiniportInterruptCharacteristics.is_null() || NdisInterruptHandle.is_null() {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                "NULL characteristics or handle pointer",
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if !a.in_initialize() {
            ndis.checks
                .violation(Kind::State, API, "must be called from MiniportInitializeEx");
        }
        // SAFETY: non-null characteristics from the driver.
        let c = unsafe { MiniportInterruptCharacteristics.read() };
        if c.Header.Type != n::NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT
            || c.Header.Revision < n::NDIS_MINIPORT_INTERRUPT_REVISION_1
            || c.Header.Size < n::NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1
        {
            ndis.checks
                .violation(Kind::BadHeader, API, format!("header {:?}", c.Header));
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if a.interrupt().is_some() {
            ndis.checks
                .violation(Kind::Interrupt, API, "interrupt registered twice");
            return n::NDIS_STATUS_RESOURCE_CONFLICT;
        }
        let msgs = a.message_count();
        let conn = if c.MsiSupported != 0 && msgs > 0 {
            if c.MessageInterruptHandler.is_none() || c.MessageInterruptDpcHandler.is_none() {
                ndis.checks.violation(
                    Kind::Interrupt,
                    API,
                    "MsiSupported without MessageInterruptHandler / MessageInterruptDpcHandler",
                );
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
            Connection::Message(msgs)
        } else {
            if c.InterruptHandler.is_none() || c.InterruptDpcHandler.is_none() {
                ndis.checks.violation(
                    Kind::Interrupt,
                    API,
                    "line-based interrupt without InterruptHandler / InterruptDpcHandler",
                );
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
            if !a.has_line_interrupt() {
                return n::NDIS_STATUS_RESOURCES;
            }
            Connection::Line
        };
        if ndis.fail.should_fail() {
            return n::NDIS_STATUS_RESOURCES;
        }
        let cpus = ndis.cpu_count();
        let m = match conn {
            Connection::Line => 1,
            Connection::Message(m) => m,
        };
        let table = match conn {
            Connection::Message(m) => message_table(m, cpus),
            Connection::Line => 0,
        };
        let nlocks = if c.MsiSyncWithAllMessages != 0 {
            1
        } else {
            usize::from(m)
        };
        let intr = Arc::new(InterruptObj {
            adapter: a.handle(),
            ctx: MiniportInterruptContext as usize,
            chars: c,
            conn,
            cpus,
            locks: (0..nlocks.max(1)).map(|_| OwnerLock::new()).collect(),
            sync_all: c.MsiSyncWithAllMessages != 0,
            queued: (0..usize::from(m) * cpus as usize)
                .map(|_| AtomicBool::new(false))
                .collect(),
            dpcs_active: AtomicUsize::new(0),
            connected: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            table,
            isr_calls: AtomicU32::new(0),
        });
        let h = Arc::as_ptr(&intr) as usize;
        handles::insert(&ndis, h, Obj::Interrupt(intr.clone()));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::Interrupt,
                owner: a.handle(),
                size: 0,
                tag: 0,
                what: API,
            },
        );
        a.set_interrupt(Some(intr.clone()));
        // Start delivering only now that the registration is complete.
        let (w, i2) = (Arc::downgrade(&ndis), intr.clone());
        let t = std::thread::Builder::new()
            .name("ndis-isr".into())
            .spawn(move || interrupt_thread(w, i2))
            .ok();
        *lock(&intr.thread) = t;
        // SAFETY: non-null characteristics (in/out): the driver reads back the connection type
        // and the message table.
        unsafe {
            (*MiniportInterruptCharacteristics).InterruptType = match conn {
                Connection::Line => n::NDIS_CONNECT_LINE_BASED,
                Connection::Message(_) => n::NDIS_CONNECT_MESSAGE_BASED,
            }
        };
        // SAFETY: as above.
        unsafe {
            (*MiniportInterruptCharacteristics).MessageInfoTable =
                table as n::PIO_INTERRUPT_MESSAGE_INFO
        };
        // SAFETY: non-null output.
        unsafe { *NdisInterruptHandle = h as n::NDIS_HANDLE };
        n::NDIS_STATUS_SUCCESS
    })
}

/// Disconnects and releases an interrupt (also used when the emulator cleans up).
pub(crate) fn disconnect(ndis: &Ndis, intr: &Arc<InterruptObj>, api: &'static str) {
    intr.connected.store(false, Ordering::SeqCst);
    intr.stop_thread(ndis);
    if ctx::role() == Role::Dpc {
        ndis.checks
            .violation(Kind::Interrupt, api, "called from a DPC");
        return;
    }
    // NDIS does not return while a DPC of the interrupt is queued or running.
    let start = Instant::now();
    while intr.dpcs_active.load(Ordering::SeqCst) != 0 {
        if start.elapsed() > ndis.cfg.op_timeout {
            ndis.checks
                .violation(Kind::Interrupt, api, "interrupt DPCs did not finish");
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    if intr.table != 0 {
        crate::nbl::raw_free(intr.table as *mut u8);
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMDeregisterInterruptEx(
    NdisInterruptHandle: n::NDIS_HANDLE,
) {
    const API: &str = "NdisMDeregisterInterruptEx";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, intr)) = handles::interrupt(NdisInterruptHandle, API) else {
            return;
        };
        handles::remove(NdisInterruptHandle as usize);
        ndis.track
            .remove(ResKind::Interrupt, NdisInterruptHandle as usize);
        disconnect(&ndis, &intr, API);
        let a = lock(&ndis.adapter).clone();
        if let Some(a) = a {
            if a.handle() == intr.adapter {
                a.set_interrupt(None);
            }
        }
    })
}

fn queue_mask(
    api: &'static str,
    h: n::NDIS_HANDLE,
    m: u32,
    mask: usize,
    dpc_ctx: n::PVOID,
) -> usize {
    checks::irql_at_most(n::DISPATCH_LEVEL, api);
    let Some((ndis, intr)) = handles::interrupt(h, api) else {
        return 0;
    };
    if m >= u32::from(intr.messages()) {
        ndis.checks.violation(
            Kind::Interrupt,
            api,
            format!("MessageId {m} of {}", intr.messages()),
        );
        return 0;
    }
    let mut done = 0usize;
    for c in 0..usize::BITS {
        if mask & (1 << c) == 0 {
            continue;
        }
        if c >= intr.cpus {
            ndis.checks.violation(
                Kind::Interrupt,
                api,
                format!("processor {c} does not exist"),
            );
            continue;
        }
        if intr.queue_dpc(&ndis, m, c, dpc_ctx as usize) {
            done |= 1 << c;
        }
    }
    done
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMQueueDpcEx(
    NdisInterruptHandle: n::NDIS_HANDLE,
    MessageId: n::ULONG,
    TargetProcessors: *mut n::GROUP_AFFINITY,
    MiniportDpcContext: n::PVOID,
) -> n::KAFFINITY {
    const API: &str = "NdisMQueueDpcEx";
    guard(API, 0, || {
        if TargetProcessors.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL TargetProcessors");
            return 0;
        }
        // SAFETY: non-null GROUP_AFFINITY from the driver.
        let g = unsafe { TargetProcessors.read() };
        if g.Group != 0 {
            checks::violation(Kind::Interrupt, API, format!("processor group {}", g.Group));
            return 0;
        }
        queue_mask(
            API,
            NdisInterruptHandle,
            MessageId,
            g.Mask,
            MiniportDpcContext,
        )
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMQueueDpc(
    NdisInterruptHandle: n::NDIS_HANDLE,
    MessageId: n::ULONG,
    TargetProcessors: n::ULONG,
    MiniportDpcContext: n::PVOID,
) -> n::ULONG {
    const API: &str = "NdisMQueueDpc";
    guard(API, 0, || {
        queue_mask(
            API,
            NdisInterruptHandle,
            MessageId,
            TargetProcessors as usize,
            MiniportDpcContext,
        ) as u32
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMSynchronizeWithInterruptEx(
    NdisInterruptHandle: n::NDIS_HANDLE,
    MessageId: n::ULONG,
    SynchronizeFunction: n::MINIPORT_SYNCHRONIZE_INTERRUPT_HANDLER,
    SynchronizeContext: n::PVOID,
) -> n::BOOLEAN {
    const API: &str = "NdisMSynchronizeWithInterruptEx";
    guard(API, n::FALSE, || {
        checks::irql_at_most(DIRQL, API);
        let Some((ndis, intr)) = handles::interrupt(NdisInterruptHandle, API) else {
            return n::FALSE;
        };
        let Some(f) = SynchronizeFunction else {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL SynchronizeFunction");
            return n::FALSE;
        };
        if MessageId >= u32::from(intr.messages()) {
            ndis.checks.violation(
                Kind::Interrupt,
                API,
                format!("MessageId {MessageId} of {}", intr.messages()),
            );
            return n::FALSE;
        }
        let old = ctx::raise(DIRQL);
        let lk = intr.lock_for(MessageId);
        if !lk.acquire() {
            ndis.checks.violation(
                Kind::Interrupt,
                API,
                "called while holding the same interrupt lock (from the ISR or a synchronize routine): deadlock on Windows",
            );
            ctx::lower(old);
            return n::FALSE;
        }
        let r = ndis.call_driver(Handler::SynchronizeInterrupt, intr.adapter, || {
            // SAFETY: the driver's synchronize routine with its context, at DIRQL under the
            // interrupt lock.
            unsafe { f(SynchronizeContext) }
        });
        lk.release();
        ctx::lower(old);
        r
    })
}

impl Adapter {
    /// Test hook: pretend message `m` fired (as if the device had written its doorbell).
    pub(crate) fn fire_interrupt(&self, ndis: &Arc<Ndis>, m: u32) -> bool {
        let Some(intr) = self.interrupt() else {
            return false;
        };
        if intr.conn != Connection::Line && m >= u32::from(intr.messages()) {
            return false;
        }
        let prev_role = ctx::role();
        let prev_irql = ctx::irql();
        let prev_cpu = ctx::cpu();
        ctx::enter(ndis, Role::Isr, intr.cpu_of(m));
        intr.deliver(ndis, m);
        ctx::enter(ndis, prev_role, prev_cpu);
        ctx::set_irql_raw(prev_irql);
        true
    }
}
