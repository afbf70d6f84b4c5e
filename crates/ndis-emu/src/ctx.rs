//! Per-thread execution context of the emulated kernel: the current IRQL, the emulated
//! processor the thread runs on, its role (passive thread, DPC, ISR), the spin locks it holds
//! and the accounting frames of the driver calls in progress.
//!
//! IRQL model. A thread below DISPATCH_LEVEL may run anywhere; raising to DISPATCH_LEVEL pins it
//! to its emulated processor, which on Windows also keeps every DPC of that processor from
//! running. The emulator reproduces that exclusivity with a per-processor *gate*: a passive
//! thread takes the gate of its processor when it raises to DISPATCH_LEVEL and gives it back
//! when it lowers below; a DPC thread holds its processor's gate while it runs DPCs. So two
//! DISPATCH-level contexts with the same processor number never run at the same time — what
//! per-processor data in a driver relies on. ISRs (DIRQL) preempt and take no gate.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use ndis_sys as n;

use crate::ndis::Ndis;

/// The IRQL message-signalled ISRs and `NdisMSynchronizeWithInterruptEx` run at.
pub const DIRQL: n::KIRQL = 10;

/// Tag of spin-lock owner tokens, so an uninitialised lock word is recognisable.
pub const TOKEN_TAG: u64 = 0x5350_4C4B_0000_0000;

/// What kind of thread this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A thread the emulator does not know (a test's own thread): PASSIVE, processor 0.
    Foreign,
    /// An emulator or test thread at PASSIVE_LEVEL by default (test thread, work items).
    Passive,
    /// The DPC thread of one emulated processor (always at DISPATCH_LEVEL or above).
    Dpc,
    /// The interrupt thread (ISRs at DIRQL).
    Isr,
}

/// One driver call being accounted (see [`crate::accounting`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    pub handler: crate::accounting::Handler,
    pub cpu_start: u64,
    pub wall_start: std::time::Instant,
    /// Nanoseconds of thread CPU time spent in nested driver calls or protocol callbacks.
    pub excluded: u64,
}

pub(crate) struct ThreadCtx {
    ndis: RefCell<Option<Weak<Ndis>>>,
    irql: Cell<n::KIRQL>,
    cpu: Cell<u32>,
    role: Cell<Role>,
    gate: Cell<Option<u32>>,
    token: u64,
    locks: RefCell<Vec<usize>>,
    frames: RefCell<Vec<Frame>>,
    adapter: Cell<usize>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CTX: ThreadCtx = ThreadCtx {
        ndis: RefCell::new(None),
        irql: Cell::new(n::PASSIVE_LEVEL),
        cpu: Cell::new(0),
        role: Cell::new(Role::Foreign),
        gate: Cell::new(None),
        token: TOKEN_TAG | NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
        locks: RefCell::new(Vec::new()),
        frames: RefCell::new(Vec::new()),
        adapter: Cell::new(0),
    };
}

fn with<R>(f: impl FnOnce(&ThreadCtx) -> R) -> R {
    CTX.with(f)
}

/// Makes this thread an emulator thread of `ndis` with `role` on processor `cpu`.
pub(crate) fn enter(ndis: &Arc<Ndis>, role: Role, cpu: u32) {
    with(|c| {
        *c.ndis.borrow_mut() = Some(Arc::downgrade(ndis));
        c.role.set(role);
        c.cpu.set(cpu);
        c.irql.set(match role {
            Role::Dpc => n::DISPATCH_LEVEL,
            Role::Isr => DIRQL,
            _ => n::PASSIVE_LEVEL,
        });
    });
}

/// Detaches this thread from its emulator (thread exit, or a test thread leaving a harness).
pub(crate) fn leave() {
    with(|c| {
        *c.ndis.borrow_mut() = None;
        c.role.set(Role::Foreign);
    });
}

/// The emulator this thread belongs to.
pub(crate) fn current_ndis() -> Option<Arc<Ndis>> {
    with(|c| c.ndis.borrow().as_ref().and_then(Weak::upgrade))
}

/// The current IRQL of this thread.
pub fn irql() -> n::KIRQL {
    with(|c| c.irql.get())
}

/// The emulated processor this thread runs on.
pub fn cpu() -> u32 {
    with(|c| c.cpu.get())
}

/// This thread's role.
pub fn role() -> Role {
    with(|c| c.role.get())
}

/// Moves a passive thread to another emulated processor (not while at DISPATCH_LEVEL).
pub(crate) fn set_cpu(cpu: u32) {
    with(|c| c.cpu.set(cpu));
}

/// Spin-lock owner token of this thread.
pub(crate) fn token() -> u64 {
    with(|c| c.token)
}

/// Sets the IRQL without gate handling (ISR entry/exit, DPC threads).
pub(crate) fn set_irql_raw(irql: n::KIRQL) {
    with(|c| c.irql.set(irql));
}

/// Raises the IRQL to `new` (>= current) and returns the previous IRQL. Crossing
/// DISPATCH_LEVEL on a passive thread takes the processor gate.
pub(crate) fn raise(new: n::KIRQL) -> n::KIRQL {
    let (old, role, cpu, gate) = with(|c| (c.irql.get(), c.role.get(), c.cpu.get(), c.gate.get()));
    if old < n::DISPATCH_LEVEL
        && new >= n::DISPATCH_LEVEL
        && role == Role::Passive
        && gate.is_none()
    {
        if let Some(ndis) = current_ndis() {
            ndis.rt.gate_acquire(cpu);
            with(|c| c.gate.set(Some(cpu)));
        }
    }
    with(|c| c.irql.set(new.max(old)));
    old
}

/// Lowers the IRQL to `new`. Returns `false` (and changes nothing) if that would go below
/// what a DPC or ISR must keep; the caller records the violation.
pub(crate) fn lower(new: n::KIRQL) -> bool {
    let role = role();
    match role {
        Role::Dpc if new < n::DISPATCH_LEVEL => return false,
        Role::Isr if new < DIRQL => return false,
        _ => {}
    }
    with(|c| c.irql.set(new));
    if new < n::DISPATCH_LEVEL {
        if let Some(g) = with(|c| c.gate.take()) {
            if let Some(ndis) = current_ndis() {
                ndis.rt.gate_release(g);
            }
        }
    }
    true
}

/// Records that this thread acquired spin lock `addr`.
pub(crate) fn push_lock(addr: usize) {
    with(|c| c.locks.borrow_mut().push(addr));
}

/// Forgets spin lock `addr`; `false` if this thread did not hold it.
pub(crate) fn pop_lock(addr: usize) -> bool {
    with(|c| {
        let mut l = c.locks.borrow_mut();
        match l.iter().rposition(|&a| a == addr) {
            Some(i) => {
                l.remove(i);
                true
            }
            None => false,
        }
    })
}

/// Number of spin locks this thread holds.
pub(crate) fn locks_held() -> usize {
    with(|c| c.locks.borrow().len())
}

/// Drops every lock record of this thread (after a violation was reported).
pub(crate) fn forget_locks(keep: usize) {
    with(|c| c.locks.borrow_mut().truncate(keep));
}

/// The adapter whose handler is running on this thread (0 = none): allocations made without
/// a handle (ExAllocatePool2, spin locks) are attributed to it for the leak check at Halt.
pub(crate) fn adapter() -> usize {
    with(|c| c.adapter.get())
}

/// Sets the adapter attribution; returns the previous one.
pub(crate) fn set_adapter(a: usize) -> usize {
    with(|c| c.adapter.replace(a))
}

pub(crate) fn push_frame(f: Frame) {
    with(|c| c.frames.borrow_mut().push(f));
}

pub(crate) fn pop_frame() -> Option<Frame> {
    with(|c| c.frames.borrow_mut().pop())
}

/// Adds `ns` to the excluded time of the innermost driver frame.
pub(crate) fn exclude(ns: u64) {
    with(|c| {
        if let Some(f) = c.frames.borrow_mut().last_mut() {
            f.excluded = f.excluded.saturating_add(ns);
        }
    });
}

/// Whether a driver call is being accounted on this thread.
pub(crate) fn in_driver() -> bool {
    with(|c| !c.frames.borrow().is_empty())
}

/// A thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}
