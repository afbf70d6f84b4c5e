//! CPU accounting of the miniport: call counts and thread CPU time spent inside each handler.
//!
//! Every call into the driver is wrapped (`Ndis::call_driver`): the thread's CPU
//! clock is read before and after; time spent in nested driver calls (e.g. ProcessSGList inside
//! Send) and in the protocol side reached through NDIS (receive indications, send completions)
//! is subtracted, so the per-handler figures add up to the miniport's own CPU time and benches
//! can report CPU per packet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::ctx::{self, Frame};

/// The driver entry points the emulator calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Handler {
    /// `DriverEntry`.
    DriverEntry,
    /// `MiniportSetOptions`.
    SetOptions,
    /// `MiniportDriverUnload`.
    Unload,
    /// `MiniportInitializeEx`.
    Initialize,
    /// `MiniportHaltEx`.
    Halt,
    /// `MiniportPause`.
    Pause,
    /// `MiniportRestart`.
    Restart,
    /// `MiniportOidRequest`.
    OidRequest,
    /// `MiniportDirectOidRequest`.
    DirectOidRequest,
    /// `MiniportSynchronousOidRequest`.
    SynchronousOidRequest,
    /// `MiniportCancelOidRequest` / `MiniportCancelDirectOidRequest`.
    CancelOidRequest,
    /// `MiniportSendNetBufferLists`.
    Send,
    /// `MiniportReturnNetBufferLists`.
    Return,
    /// `MiniportCancelSend`.
    CancelSend,
    /// `MiniportCheckForHangEx`.
    CheckForHang,
    /// `MiniportResetEx`.
    Reset,
    /// `MiniportDevicePnPEventNotify`.
    PnPEvent,
    /// `MiniportShutdownEx`.
    Shutdown,
    /// `MiniportInterrupt` / `MiniportMessageInterrupt`.
    Isr,
    /// `MiniportInterruptDPC` / `MiniportMessageInterruptDPC`.
    InterruptDpc,
    /// `MiniportSynchronizeInterrupt` routines.
    SynchronizeInterrupt,
    /// Enable / disable interrupt handlers.
    InterruptControl,
    /// Timer object callbacks.
    Timer,
    /// IO work item routines.
    WorkItem,
    /// `MiniportProcessSGList`.
    ProcessSgList,
    /// `MiniportSharedMemoryAllocateComplete`.
    SharedMemoryComplete,
}

/// Number of [`Handler`] variants.
pub const HANDLERS: usize = Handler::SharedMemoryComplete as usize + 1;

const ALL: [Handler; HANDLERS] = [
    Handler::DriverEntry,
    Handler::SetOptions,
    Handler::Unload,
    Handler::Initialize,
    Handler::Halt,
    Handler::Pause,
    Handler::Restart,
    Handler::OidRequest,
    Handler::DirectOidRequest,
    Handler::SynchronousOidRequest,
    Handler::CancelOidRequest,
    Handler::Send,
    Handler::Return,
    Handler::CancelSend,
    Handler::CheckForHang,
    Handler::Reset,
    Handler::PnPEvent,
    Handler::Shutdown,
    Handler::Isr,
    Handler::InterruptDpc,
    Handler::SynchronizeInterrupt,
    Handler::InterruptControl,
    Handler::Timer,
    Handler::WorkItem,
    Handler::ProcessSgList,
    Handler::SharedMemoryComplete,
];

/// Per-handler counters.
pub struct Accounting {
    enabled: AtomicBool,
    calls: [AtomicU64; HANDLERS],
    cpu_ns: [AtomicU64; HANDLERS],
    wall_ns: [AtomicU64; HANDLERS],
}

/// One handler's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandlerStats {
    /// Calls.
    pub calls: u64,
    /// Thread CPU time inside the driver (nested driver calls and protocol work excluded).
    pub cpu_ns: u64,
    /// Wall time inside the call (nested calls included).
    pub wall_ns: u64,
}

/// A snapshot of all counters.
#[derive(Clone, Debug, Default)]
pub struct AccountingSnapshot {
    /// Per handler.
    pub handlers: Vec<(Handler, HandlerStats)>,
}

impl AccountingSnapshot {
    /// The figures of one handler.
    pub fn get(&self, h: Handler) -> HandlerStats {
        self.handlers
            .iter()
            .find(|(k, _)| *k == h)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    /// Total driver CPU time (all handlers).
    pub fn total_cpu_ns(&self) -> u64 {
        self.handlers.iter().map(|(_, s)| s.cpu_ns).sum()
    }

    /// Counter differences `self - earlier` (for a measured interval).
    pub fn since(&self, earlier: &AccountingSnapshot) -> AccountingSnapshot {
        let handlers = self
            .handlers
            .iter()
            .map(|(h, s)| {
                let e = earlier.get(*h);
                (
                    *h,
                    HandlerStats {
                        calls: s.calls.saturating_sub(e.calls),
                        cpu_ns: s.cpu_ns.saturating_sub(e.cpu_ns),
                        wall_ns: s.wall_ns.saturating_sub(e.wall_ns),
                    },
                )
            })
            .collect();
        AccountingSnapshot { handlers }
    }
}

impl Default for Accounting {
    fn default() -> Self {
        Accounting {
            enabled: AtomicBool::new(true),
            calls: std::array::from_fn(|_| AtomicU64::new(0)),
            cpu_ns: std::array::from_fn(|_| AtomicU64::new(0)),
            wall_ns: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Accounting {
    /// Turns CPU-time measurement on or off (call counts are always kept).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Current counters.
    pub fn snapshot(&self) -> AccountingSnapshot {
        AccountingSnapshot {
            handlers: ALL
                .iter()
                .map(|&h| {
                    let i = h as usize;
                    (
                        h,
                        HandlerStats {
                            calls: self.calls[i].load(Ordering::Relaxed),
                            cpu_ns: self.cpu_ns[i].load(Ordering::Relaxed),
                            wall_ns: self.wall_ns[i].load(Ordering::Relaxed),
                        },
                    )
                })
                .collect(),
        }
    }

    /// Resets every counter to zero.
    pub fn reset(&self) {
        for i in 0..HANDLERS {
            self.calls[i].store(0, Ordering::Relaxed);
            self.cpu_ns[i].store(0, Ordering::Relaxed);
            self.wall_ns[i].store(0, Ordering::Relaxed);
        }
    }

    /// Starts accounting a driver call on this thread.
    pub(crate) fn begin(&self, h: Handler) {
        self.calls[h as usize].fetch_add(1, Ordering::Relaxed);
        let on = self.enabled.load(Ordering::Relaxed);
        ctx::push_frame(Frame {
            handler: h,
            cpu_start: if on { ctx::thread_cpu_ns() } else { 0 },
            wall_start: Instant::now(),
            excluded: 0,
        });
    }

    /// Ends the innermost driver call started with [`Accounting::begin`].
    pub(crate) fn end(&self) {
        let Some(f) = ctx::pop_frame() else { return };
        let i = f.handler as usize;
        let wall = f.wall_start.elapsed().as_nanos() as u64;
        self.wall_ns[i].fetch_add(wall, Ordering::Relaxed);
        if f.cpu_start != 0 {
            let total = ctx::thread_cpu_ns().saturating_sub(f.cpu_start);
            self.cpu_ns[i].fetch_add(total.saturating_sub(f.excluded), Ordering::Relaxed);
            // The enclosing driver call (if any) must not count this time again.
            ctx::exclude(total);
        }
    }
}

/// Measures protocol-side work done inside an NDIS call made by the driver and excludes it
/// from the enclosing driver call's CPU time.
pub(crate) struct ProtocolSpan {
    start: u64,
}

impl ProtocolSpan {
    pub(crate) fn begin() -> Self {
        ProtocolSpan {
            start: if ctx::in_driver() {
                ctx::thread_cpu_ns()
            } else {
                0
            },
        }
    }
}

impl Drop for ProtocolSpan {
    fn drop(&mut self) {
        if self.start != 0 {
            ctx::exclude(ctx::thread_cpu_ns().saturating_sub(self.start));
        }
    }
}
