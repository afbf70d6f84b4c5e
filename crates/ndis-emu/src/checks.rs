//! Contract enforcement: what the emulator found the driver doing wrong.
//!
//! A *violation* breaks a documented NDIS rule (an NBL completed twice, a DDI called at the
//! wrong IRQL, a leak at Halt …). Exported functions cannot panic (a panic cannot unwind
//! through the driver's `extern "system"` frames), so a violation is recorded and printed at
//! once; the [`crate::Harness`] then panics at its next call, or at Halt, unless the test takes
//! the violations itself ([`crate::Harness::take_violations`]) because it provoked them.
//!
//! A *warning* is for rules the emulator is not sure real NDIS enforces; it is counted, never
//! fatal. A driver can trigger one per packet (millions in a bench), so warnings are bounded:
//! a counter per [`Kind`], the first occurrence of each of the first [`DISTINCT_WARNINGS`]
//! distinct warnings with its own count (distinct = kind, DDI and message with its numbers
//! masked), and printing limited to the first occurrence of each plus at most one
//! "repeated N times" line per distinct warning every [`WARNING_PRINT_INTERVAL`]
//! ([`Checks::warning_summary`] has the totals).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Distinct warnings whose first occurrence is kept; later new ones are only counted.
pub const DISTINCT_WARNINGS: usize = 32;

/// A warning already printed is printed again (with its repeat count) at most this often.
pub const WARNING_PRINT_INTERVAL: Duration = Duration::from_secs(2);

/// One distinct warning: its first occurrence and how often it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarningCount {
    /// The first occurrence.
    pub first: Violation,
    /// Occurrences (including the first).
    pub count: u64,
}

/// What the warnings of an emulator add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WarningSummary {
    /// Every warning.
    pub total: u64,
    /// Warnings per kind (kinds that occurred, in order of first occurrence).
    pub by_kind: Vec<(Kind, u64)>,
    /// The first [`DISTINCT_WARNINGS`] distinct warnings, in order of first occurrence.
    pub distinct: Vec<WarningCount>,
    /// Occurrences of distinct warnings beyond those (counted in `total` and `by_kind` only).
    pub not_kept: u64,
}

impl fmt::Display for WarningSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} warning(s)", self.total)?;
        if self.total == 0 {
            return Ok(());
        }
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, c)| format!("{k:?} {c}"))
            .collect();
        write!(f, " ({})", kinds.join(", "))?;
        for w in &self.distinct {
            write!(f, "\n  {}x {}", w.count, w.first)?;
        }
        if self.not_kept > 0 {
            write!(
                f,
                "\n  {} more of other kinds (beyond the first {DISTINCT_WARNINGS} distinct)",
                self.not_kept
            )?;
        }
        Ok(())
    }
}

/// `message` with its numbers masked (decimal runs and `0x` hex literals become `#`): the
/// same warning about another NBL, length or address is the same distinct warning.
fn shape(message: &str) -> String {
    let b = message.as_bytes();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let hex = c == b'0'
                && matches!(b.get(i + 1), Some(b'x' | b'X'))
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            i += if hex { 2 } else { 1 };
            while i < b.len() && (b[i].is_ascii_digit() || (hex && b[i].is_ascii_hexdigit())) {
                i += 1;
            }
            out.push('#');
        } else {
            // Copy one UTF-8 character.
            let len = message[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&message[i..i + len]);
            i += len;
        }
    }
    out
}

struct Distinct {
    kind: Kind,
    api: &'static str,
    shape: String,
    first: Violation,
    count: u64,
    /// When it was last printed, and occurrences since then.
    printed: Option<Instant>,
    unprinted: u64,
}

/// Bounded warning bookkeeping (see the module documentation).
struct Warnings {
    total: u64,
    by_kind: Vec<(Kind, u64)>,
    distinct: Vec<Distinct>,
    not_kept: u64,
    overflow_printed: Option<Instant>,
    overflow_unprinted: u64,
}

impl Warnings {
    const fn new() -> Self {
        Warnings {
            total: 0,
            by_kind: Vec::new(),
            distinct: Vec::new(),
            not_kept: 0,
            overflow_printed: None,
            overflow_unprinted: 0,
        }
    }

    /// Counts one warning; returns the line to print, if one is due.
    fn record(&mut self, kind: Kind, api: &'static str, message: String) -> Option<String> {
        self.total += 1;
        match self.by_kind.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, c)) => *c += 1,
            None => self.by_kind.push((kind, 1)),
        }
        let sh = shape(&message);
        let now = Instant::now();
        let due = |at: Option<Instant>| {
            at.is_none_or(|t| now.duration_since(t) >= WARNING_PRINT_INTERVAL)
        };
        if let Some(d) = self
            .distinct
            .iter_mut()
            .find(|d| d.kind == kind && d.api == api && d.shape == sh)
        {
            d.count += 1;
            d.unprinted += 1;
            if !due(d.printed) {
                return None;
            }
            d.printed = Some(now);
            let n = std::mem::take(&mut d.unprinted);
            return Some(format!(
                "ndis-emu warning repeated {n} time(s) (total {}): {}",
                d.count,
                make(kind, api, message)
            ));
        }
        let v = make(kind, api, message);
        if self.distinct.len() < DISTINCT_WARNINGS {
            let line = format!("ndis-emu warning {v}");
            self.distinct.push(Distinct {
                kind,
                api,
                shape: sh,
                first: v,
                count: 1,
                printed: Some(now),
                unprinted: 0,
            });
            return Some(line);
        }
        self.not_kept += 1;
        self.overflow_unprinted += 1;
        if !due(self.overflow_printed) {
            return None;
        }
        self.overflow_printed = Some(now);
        let n = std::mem::take(&mut self.overflow_unprinted);
        Some(format!(
            "ndis-emu warning {v} ({n} warning(s) beyond the first {DISTINCT_WARNINGS} distinct \
             ones since the last such line: counted, not kept)"
        ))
    }

    fn summary(&self) -> WarningSummary {
        WarningSummary {
            total: self.total,
            by_kind: self.by_kind.clone(),
            distinct: self
                .distinct
                .iter()
                .map(|d| WarningCount {
                    first: d.first.clone(),
                    count: d.count,
                })
                .collect(),
            not_kept: self.not_kept,
        }
    }

    /// Occurrences not printed yet (repeats within the print interval).
    fn unprinted(&self) -> u64 {
        self.distinct.iter().map(|d| d.unprinted).sum::<u64>() + self.overflow_unprinted
    }
}

impl Default for Warnings {
    fn default() -> Self {
        Self::new()
    }
}

/// The violations and warnings of one emulator instance.
#[derive(Default)]
pub struct Checks {
    violations: Mutex<Vec<Violation>>,
    warnings: Mutex<Warnings>,
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

    /// Records a warning (bounded, printed rate-limited: see the module documentation).
    pub fn warning(&self, kind: Kind, api: &'static str, message: impl Into<String>) {
        let line = lock(&self.warnings).record(kind, api, message.into());
        if let Some(line) = line {
            if !self.quiet.load(std::sync::atomic::Ordering::Relaxed) {
                eprintln!("{line}");
            }
        }
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

    /// The first occurrence of each distinct warning so far (at most [`DISTINCT_WARNINGS`]).
    pub fn warnings(&self) -> Vec<Violation> {
        lock(&self.warnings)
            .distinct
            .iter()
            .map(|d| d.first.clone())
            .collect()
    }

    /// Counts of the warnings so far.
    pub fn warning_summary(&self) -> WarningSummary {
        lock(&self.warnings).summary()
    }

    /// Prints the summary if some warnings were counted but never printed (repeats inside the
    /// print interval) and printing is on.
    pub fn print_unprinted_summary(&self) {
        let (unprinted, summary) = {
            let w = lock(&self.warnings);
            (w.unprinted(), w.summary())
        };
        if unprinted > 0 && !self.quiet.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("ndis-emu {summary}");
        }
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
    warnings: Mutex::new(Warnings::new()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_do_not_make_a_warning_distinct() {
        assert_eq!(
            shape("Length 64 for an allocation of 128 bytes at 0x7fFe12"),
            "Length # for an allocation of # bytes at #"
        );
        assert_eq!(shape("NDIS 6.85 on µs"), "NDIS #.# on µs");
        assert_eq!(shape("IPv4 0xZ"), "IPv# #xZ");
    }

    #[test]
    fn warnings_are_counted_per_kind_and_only_the_first_distinct_ones_are_kept() {
        let c = Checks::default();
        c.set_quiet(true);
        for i in 0..100_000u32 {
            c.warning(
                Kind::Dma,
                "NdisMAllocateNetBufferSGList",
                format!("buffer of {i} bytes"),
            );
        }
        c.warning(Kind::Memory, "NdisFreeMemory", "Length 1");
        for i in 0..DISTINCT_WARNINGS + 10 {
            // Distinct messages (no numbers in them).
            c.warning(
                Kind::Scheduling,
                "KeStallExecutionProcessor",
                "x".repeat(i + 1),
            );
        }
        let s = c.warning_summary();
        assert_eq!(s.total, 100_000 + 1 + DISTINCT_WARNINGS as u64 + 10);
        assert_eq!(
            s.by_kind,
            vec![
                (Kind::Dma, 100_000),
                (Kind::Memory, 1),
                (Kind::Scheduling, DISTINCT_WARNINGS as u64 + 10)
            ]
        );
        assert_eq!(s.distinct.len(), DISTINCT_WARNINGS);
        assert_eq!(s.distinct[0].count, 100_000);
        assert_eq!(
            s.distinct[0].first.message, "buffer of 0 bytes",
            "the first is kept"
        );
        assert_eq!(s.distinct[1].first.api, "NdisFreeMemory");
        // 2 slots taken above: 30 Scheduling ones kept, 12 only counted.
        assert_eq!(s.not_kept, 12);
        assert_eq!(c.warnings().len(), DISTINCT_WARNINGS);
        let text = s.to_string();
        assert!(
            text.starts_with("100043 warning(s) (Dma 100000, Memory 1, Scheduling 42)"),
            "{text}"
        );
        assert!(
            text.contains("100000x [Dma] NdisMAllocateNetBufferSGList: buffer of 0 bytes"),
            "{text}"
        );
    }

    #[test]
    fn repeats_are_printed_at_most_once_per_interval() {
        let mut w = Warnings::new();
        let first = w.record(Kind::Dma, "A", "n 1".into());
        assert!(first.is_some_and(|l| l.contains("n 1")));
        let printed = (2..10_000)
            .filter_map(|i| w.record(Kind::Dma, "A", format!("n {i}")))
            .count();
        // The loop takes far less than the interval.
        assert_eq!(printed, 0);
        assert_eq!(w.unprinted(), 9_998);
        // Once the interval has passed, the next repeat prints with the count of the silent ones.
        w.distinct[0].printed = Some(Instant::now() - WARNING_PRINT_INTERVAL);
        let line = w.record(Kind::Dma, "A", "n 0".into()).unwrap();
        assert!(
            line.contains("repeated 9999 time(s) (total 10000)"),
            "{line}"
        );
        assert_eq!(w.unprinted(), 0);
        assert!(
            w.record(Kind::Dma, "B", "n 1".into()).is_some(),
            "a new one prints at once"
        );
    }
}
