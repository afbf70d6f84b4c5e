//! One emulated NDIS instance ("the kernel" a driver is loaded into): configuration, the
//! execution runtime, contract checks, resource tracking, DMA space, the loaded driver and its
//! adapter.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ndis_sys as n;

use crate::accounting::{Accounting, Handler};
use crate::adapter::Adapter;
use crate::bus::Bus;
use crate::checks::{Checks, Kind};
use crate::ctx::{self, Role};
use crate::dma::DmaSpace;
use crate::driver::DriverBlock;
use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::track::Tracker;

/// How `MiniportSendNetBufferLists` is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendIrql {
    /// At PASSIVE_LEVEL.
    Passive,
    /// At DISPATCH_LEVEL with `NDIS_SEND_FLAGS_DISPATCH_LEVEL` (as TCP/IP mostly does).
    Dispatch,
    /// Alternating between the two.
    Alternate,
}

/// When the protocol side returns indicated receive NBLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnPolicy {
    /// From a separate thread, batched, soon after the indication (like TCP/IP).
    Deferred,
    /// From inside the indication call (allowed: NDIS passes the return straight down).
    Inline,
    /// Only when the test calls [`crate::Harness::return_received`] (or at Pause).
    Manual,
}

/// How interrupts reach the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptMode {
    /// Doorbells when the bus has them, polling otherwise.
    Auto,
    /// Call the ISR of every message periodically, whether or not it fired.
    Polling(Duration),
}

/// Settings of an emulator instance.
#[derive(Clone, Debug)]
pub struct EmuConfig {
    /// Emulated processors (each with a DPC thread). Default 2.
    pub cpus: u32,
    /// Worker threads for IO work items and NDIS's own work. Default 2.
    pub workers: u32,
    /// What `NdisGetVersion` reports. Default 6.85.
    pub ndis_version: n::NdisVersion,
    /// Period of `MiniportCheckForHangEx` calls: `None` = the adapter's registration attribute
    /// (2 s when 0); `Some(Duration::ZERO)` = never.
    pub check_for_hang: Option<Duration>,
    /// How long the harness waits for a pending operation (pause, restart, OID, reset …).
    pub op_timeout: Duration,
    /// IRQL of send calls.
    pub send_irql: SendIrql,
    /// Receive return policy.
    pub return_policy: ReturnPolicy,
    /// Deferred returns: maximum delay before a batch is returned.
    pub return_delay: Duration,
    /// Scatter/gather lists: one element per physical page (like the HAL for non-contiguous
    /// pages) instead of merging contiguous runs.
    pub sg_split_pages: bool,
    /// Interrupt delivery.
    pub interrupt_mode: InterruptMode,
    /// `MaxNblsToIndicate` passed to interrupt DPCs (`NDIS_INDICATE_ALL_NBLS` by default).
    pub dpc_max_nbls: u32,
    /// Measure driver CPU time.
    pub accounting: bool,
    /// Print the driver's log lines to stderr as they come.
    pub echo_driver_log: bool,
    /// Expose the device as MSI-X when the bus has vectors (else a line interrupt).
    pub msix: bool,
    /// Grant at most this many MSI-X messages (the device's table may be larger), like the
    /// `MessageNumberLimit` registry value or a system short of vectors; `None` = one per table
    /// entry. `Some(0)` = a line interrupt.
    pub msix_messages: Option<u16>,
    /// Require the mandatory `*IfType`, `*MediaType`, `*PhysicalMediaType` keywords (NDIS does
    /// not call MiniportInitializeEx without them).
    pub require_mandatory_keywords: bool,
}

impl Default for EmuConfig {
    fn default() -> Self {
        EmuConfig {
            cpus: 2,
            workers: 2,
            ndis_version: n::NdisVersion::V6_85,
            check_for_hang: None,
            op_timeout: Duration::from_secs(30),
            send_irql: SendIrql::Dispatch,
            return_policy: ReturnPolicy::Deferred,
            return_delay: Duration::from_micros(200),
            sg_split_pages: true,
            interrupt_mode: InterruptMode::Auto,
            dpc_max_nbls: n::NDIS_INDICATE_ALL_NBLS,
            accounting: true,
            echo_driver_log: false,
            msix: true,
            msix_messages: None,
            require_mandatory_keywords: true,
        }
    }
}

/// Failure injection: make the N-th resource allocation fail (to prove error paths unwind).
#[derive(Default)]
pub struct FailInjector {
    counter: AtomicU64,
    fail_at: AtomicU64,
    failed: AtomicU64,
}

impl FailInjector {
    /// Arms: the `nth` (0-based) resource allocation from now on fails; `None` disarms.
    pub fn fail_nth(&self, nth: Option<u64>) {
        self.counter.store(0, Ordering::SeqCst);
        self.failed.store(0, Ordering::SeqCst);
        self.fail_at
            .store(nth.map_or(0, |v| v + 1), Ordering::SeqCst);
    }

    /// Counts one allocation; true if it must fail.
    pub(crate) fn should_fail(&self) -> bool {
        let at = self.fail_at.load(Ordering::SeqCst);
        let c = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        if at != 0 && c == at {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        false
    }

    /// Allocations counted since the last [`FailInjector::fail_nth`].
    pub fn allocations(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Whether the armed failure happened.
    pub fn triggered(&self) -> bool {
        self.failed.load(Ordering::SeqCst) != 0
    }
}

/// A line the driver logged (through the seam's `NetkvmHostLog`, `DbgPrint` or an event-log
/// entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Seam level (0 error … 3 trace); 0 for DbgPrint / error-log entries.
    pub level: u32,
    /// Text.
    pub text: String,
}

/// The emulated NDIS.
pub struct Ndis {
    pub(crate) cfg: EmuConfig,
    version: AtomicU32,
    pub(crate) rt: Arc<Runtime>,
    /// Violations and warnings.
    pub checks: Checks,
    pub(crate) acct: Accounting,
    pub(crate) track: Tracker,
    pub(crate) dma: DmaSpace,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) driver: Mutex<Option<Arc<DriverBlock>>>,
    pub(crate) adapter: Mutex<Option<Arc<Adapter>>>,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) log: Mutex<Vec<LogLine>>,
    /// Failure injection.
    pub fail: FailInjector,
    pub(crate) started: Instant,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ndis {
    /// A new emulator instance with its threads running.
    pub fn new(bus: Arc<dyn Bus>, registry: Registry, cfg: EmuConfig) -> Arc<Ndis> {
        let ndis = Arc::new(Ndis {
            version: AtomicU32::new(cfg.ndis_version.runtime()),
            rt: Arc::new(Runtime::new(cfg.cpus as usize, cfg.workers as usize)),
            checks: Checks::default(),
            acct: Accounting::default(),
            track: Tracker::default(),
            dma: DmaSpace::new(bus.clone()),
            bus,
            driver: Mutex::new(None),
            adapter: Mutex::new(None),
            registry: Mutex::new(registry),
            log: Mutex::new(Vec::new()),
            fail: FailInjector::default(),
            started: Instant::now(),
            cfg,
        });
        ndis.acct.set_enabled(ndis.cfg.accounting);
        ndis.rt.start(&ndis);
        ndis
    }

    /// `NdisGetVersion`'s answer.
    pub fn version(&self) -> n::NdisVersion {
        n::NdisVersion::from_runtime(self.version.load(Ordering::Relaxed))
            .unwrap_or(n::NdisVersion::V6_85)
    }

    /// Changes what `NdisGetVersion` reports (before loading the driver).
    pub fn set_version(&self, v: n::NdisVersion) {
        self.version.store(v.runtime(), Ordering::Relaxed);
    }

    pub(crate) fn version_raw(&self) -> u32 {
        self.version.load(Ordering::Relaxed)
    }

    /// Number of emulated processors.
    pub fn cpu_count(&self) -> u32 {
        self.rt.cpu_count()
    }

    /// The bus.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Calls into the driver with accounting and with the checks every handler return gets:
    /// the IRQL and the set of held spin locks must be what they were at the call.
    pub(crate) fn call_driver<R>(&self, h: Handler, adapter: usize, f: impl FnOnce() -> R) -> R {
        let irql = ctx::irql();
        let locks = ctx::locks_held();
        let prev_adapter = ctx::set_adapter(adapter);
        self.acct.begin(h);
        let r = f();
        self.acct.end();
        ctx::set_adapter(prev_adapter);
        let now = ctx::irql();
        if now != irql {
            self.checks.violation(
                Kind::Irql,
                handler_name(h),
                format!("returned at IRQL {now}, was called at IRQL {irql}"),
            );
            // Put the thread back where the caller expects it.
            if now > irql {
                ctx::lower(irql);
            } else {
                ctx::raise(irql);
            }
        }
        let held = ctx::locks_held();
        if held != locks {
            self.checks.violation(
                Kind::SpinLock,
                handler_name(h),
                format!(
                    "returned holding {} spin lock(s) it acquired",
                    held.saturating_sub(locks)
                ),
            );
            ctx::forget_locks(locks);
        }
        r
    }

    /// Records a driver log line.
    pub(crate) fn log_line(&self, level: u32, text: String) {
        if self.cfg.echo_driver_log {
            eprintln!("[driver {level}] {text}");
        }
        lock(&self.log).push(LogLine { level, text });
    }

    /// Milliseconds since the emulator started (`NdisGetSystemUpTimeEx`).
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Makes the calling (test) thread an emulator thread at PASSIVE_LEVEL on processor `cpu`.
    pub fn attach_thread(self: &Arc<Self>, cpu: u32) {
        ctx::enter(self, Role::Passive, cpu % self.cpu_count());
    }

    /// Stops the emulator's threads and releases its handles. The driver is not called.
    pub fn shutdown(&self) {
        self.rt.stop();
        if let Some(a) = lock(&self.adapter).as_ref() {
            a.stop_background();
        }
        crate::mmio::unmap_all(self);
        crate::handles::purge(self);
    }
}

impl Drop for Ndis {
    fn drop(&mut self) {
        self.rt.stop();
    }
}

/// Name of a handler for messages.
pub(crate) fn handler_name(h: Handler) -> &'static str {
    match h {
        Handler::DriverEntry => "DriverEntry",
        Handler::SetOptions => "MiniportSetOptions",
        Handler::Unload => "MiniportDriverUnload",
        Handler::Initialize => "MiniportInitializeEx",
        Handler::Halt => "MiniportHaltEx",
        Handler::Pause => "MiniportPause",
        Handler::Restart => "MiniportRestart",
        Handler::OidRequest => "MiniportOidRequest",
        Handler::DirectOidRequest => "MiniportDirectOidRequest",
        Handler::SynchronousOidRequest => "MiniportSynchronousOidRequest",
        Handler::CancelOidRequest => "MiniportCancelOidRequest",
        Handler::Send => "MiniportSendNetBufferLists",
        Handler::Return => "MiniportReturnNetBufferLists",
        Handler::CancelSend => "MiniportCancelSend",
        Handler::CheckForHang => "MiniportCheckForHangEx",
        Handler::Reset => "MiniportResetEx",
        Handler::PnPEvent => "MiniportDevicePnPEventNotify",
        Handler::Shutdown => "MiniportShutdownEx",
        Handler::Isr => "MiniportMessageInterrupt",
        Handler::InterruptDpc => "MiniportMessageInterruptDPC",
        Handler::SynchronizeInterrupt => "MiniportSynchronizeInterrupt",
        Handler::InterruptControl => "MiniportEnable/DisableInterrupt",
        Handler::Timer => "NDIS_TIMER_FUNCTION",
        Handler::WorkItem => "NDIS_IO_WORKITEM_FUNCTION",
        Handler::ProcessSgList => "MiniportProcessSGList",
        Handler::SharedMemoryComplete => "MiniportSharedMemoryAllocateComplete",
    }
}

/// Runs the body of an exported function; an emulator panic becomes a violation and `default`
/// (a panic must not unwind into the driver's `extern "system"` frames).
pub(crate) fn guard<R>(api: &'static str, default: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "?".into());
            crate::checks::violation(Kind::Crash, api, format!("emulator panic: {msg}"));
            default
        }
    }
}
