//! Contract enforcement: what the emulator found the driver doing wrong.
//!
//! A *violation* breaks a documented NDIS rule (an NBL completed twice, a DDI called at the
//! wrong IRQL, a leak at Halt …). Exported functions cannot panic (a panic cannot unwind
//! through the driver's `extern "system"` frames), so a violation is recorded and printed at
//! once; the [`crate::Harness`] then panics at its next call, or at Halt, unless the test takes
//! the violations itself ([`crate::Harness::take_violations`]) because it provoked them.
//!
//! A *warning* is for rules the emulator is not sure real NDIS enforces; it is recorded and
//! printed, never fatal.

use std::fmt;
use std::sync::Mutex;

use crate::ctx;

/// What rule was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A DDI called above the IRQL it allows, or a handler returned at another IRQL.
    Irql,
    /// A `*_DISPATCH_LEVEL` flag that does not match the caller's IRQL.
    IrqlFlag,
    /// A blocking call (sleep, wait, flush) at DISPATCH_LEVEL or above, or while holding a spin
    /// lock.
    Blocking,
    /// A handle NDIS never gave out (or already released).
    InvalidHandle,
    /// A structure header (type / revision / size) NDIS rejects.
    BadHeader,
    /// A parameter NDIS rejects (null pointer, bad length, unknown flag …).
    BadParameter,
    /// A call in a state that does not allow it (e.g. NdisMPauseComplete with no pause pending).
    State,
    /// A send NBL completed twice, completed without being sent, or never completed.
    SendCompletion,
    /// A send completed with the wrong status (e.g. not NDIS_STATUS_PAUSED while paused).
    SendStatus,
    /// A receive indication breaking the rules (while paused, bad NBL, count mismatch …).
    Receive,
    /// Pause completed with sends outstanding or indicated receives not returned.
    PauseIncomplete,
    /// A resource still allocated at Halt / failed initialization / Unload.
    Leak,
    /// Spin lock misuse (recursive acquire, release by non-owner, held on return …).
    SpinLock,
    /// An OID request handled wrongly (bad BytesWritten, buffer overrun, bad completion …).
    Oid,
    /// NBL / NET_BUFFER / MDL misuse (double free, wrong pool, unrestored data start …).
    Nbl,
    /// Scatter/gather DMA misuse.
    Dma,
    /// Memory misuse (double free, wrong tag, wrong length).
    Memory,
    /// Device register access outside a mapped BAR.
    Mmio,
    /// Timer / work item / DPC misuse.
    Scheduling,
    /// Interrupt registration or synchronisation misuse.
    Interrupt,
    /// The driver bugchecked or panicked.
    Crash,
    /// A required attribute was not set, or attributes were invalid.
    Attributes,
    /// A registry write NDIS could not keep (the adapter's registry file could not be updated).
    Registry,
}

/// One recorded violation or warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub kind: Kind,
    /// The DDI or handler involved.
    pub api: &'static str,
    /// What happened.
    pub message: String,
    /// IRQL of the thread at the time.
    pub irql: u8,
    /// Emulated processor of the thread.
    pub cpu: u32,
    /// OS thread name.
    pub thread: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:?}] {}: {} (IRQL {}, cpu {}, thread {})",
            self.kind, self.api, self.message, self.irql, self.cpu, self.thread
        )
    }
}

/// The violation and warning lists of one emulator instance.
#[derive(Default)]
pub struct Checks {
    violations: Mutex<Vec<Violation>>,
    warnings: Mutex<Vec<Violation>>,
    quiet: std::sync::atomic::AtomicBool,
}

fn make(kind: Kind, api: &'static str, message: String) -> Violation {
    Violation {
        kind,
        api,
        message,
        irql: ctx::irql(),
        cpu: ctx::cpu(),
        thread: std::thread::current().name().unwrap_or("?").to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Checks {
    /// Records a violation.
    pub fn violation(&self, kind: Kind, api: &'static str, message: impl Into<String>) {
        let v = make(kind, api, message.into());
        if !self.quiet.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("ndis-emu VIOLATION {v}");
        }
        lock(&self.violations).push(v);
    }

    /// Records a warning.
    pub fn warning(&self, kind: Kind, api: &'static str, message: impl Into<String>) {
        let v = make(kind, api, message.into());
        if !self.quiet.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("ndis-emu warning {v}");
        }
        lock(&self.warnings).push(v);
    }

    /// Removes and returns every violation recorded so far.
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut *lock(&self.violations))
    }

    /// Copies of the violations recorded so far.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.violations).clone()
    }

    /// Number of violations not yet taken.
    pub fn violation_count(&self) -> usize {
        lock(&self.violations).len()
    }

    /// Copies of the warnings recorded so far.
    pub fn warnings(&self) -> Vec<Violation> {
        lock(&self.warnings).clone()
    }

    /// Stops printing violations as they happen (tests that provoke them on purpose).
    pub fn set_quiet(&self, quiet: bool) {
        self.quiet
            .store(quiet, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Violations recorded on threads that belong to no emulator (printed, kept here).
pub(crate) static ORPHANS: Checks = Checks {
    violations: Mutex::new(Vec::new()),
    warnings: Mutex::new(Vec::new()),
    quiet: std::sync::atomic::AtomicBool::new(false),
};

/// Records a violation against the current thread's emulator (or the orphan list).
pub(crate) fn violation(kind: Kind, api: &'static str, message: impl Into<String>) {
    match ctx::current_ndis() {
        Some(n) => n.checks.violation(kind, api, message),
        None => ORPHANS.violation(kind, api, message),
    }
}

/// Records a warning against the current thread's emulator (or the orphan list).
pub(crate) fn warning(kind: Kind, api: &'static str, message: impl Into<String>) {
    match ctx::current_ndis() {
        Some(n) => n.checks.warning(kind, api, message),
        None => ORPHANS.warning(kind, api, message),
    }
}

/// Checks `IRQL <= max` for DDI `api`; records a violation and returns `false` otherwise.
pub(crate) fn irql_at_most(max: u8, api: &'static str) -> bool {
    let cur = ctx::irql();
    if cur > max {
        violation(
            Kind::Irql,
            api,
            format!("called at IRQL {cur}, allowed <= {max}"),
        );
        return false;
    }
    true
}

/// Checks `IRQL == want` for DDI `api`.
pub(crate) fn irql_exactly(want: u8, api: &'static str) -> bool {
    let cur = ctx::irql();
    if cur != want {
        violation(
            Kind::Irql,
            api,
            format!("called at IRQL {cur}, requires exactly {want}"),
        );
        return false;
    }
    true
}

/// For blocking DDIs: PASSIVE_LEVEL and no spin lock held.
pub(crate) fn may_block(api: &'static str) -> bool {
    let cur = ctx::irql();
    if cur >= ndis_sys::DISPATCH_LEVEL {
        violation(
            Kind::Blocking,
            api,
            format!("blocking call at IRQL {cur} (must be PASSIVE_LEVEL)"),
        );
        return false;
    }
    if ctx::locks_held() > 0 {
        violation(
            Kind::Blocking,
            api,
            format!(
                "blocking call while holding {} spin lock(s)",
                ctx::locks_held()
            ),
        );
        return false;
    }
    true
}
