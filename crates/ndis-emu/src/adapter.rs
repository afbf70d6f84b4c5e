//! One miniport adapter: the NDIS state machine (Halted → Initializing → Paused ⇄ Running,
//! Pausing / Restarting, Halting, resets, PnP events, shutdown), the translated PCI resources
//! built from the bus, `NdisMSetMiniportAttributes` with the checks NDIS makes, status
//! indications, `NdisMGetDeviceProperty`, and the leak checks at Halt.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ndis_sys as n;

use crate::accounting::Handler;
use crate::bus::BarKind;
use crate::checks::{self, Kind};
use crate::ctx::{self, DIRQL};
use crate::datapath::Datapath;
use crate::dma::SgDma;
use crate::driver::DriverBlock;
use crate::handles::{self, Obj};
use crate::interrupt::InterruptObj;
use crate::ndis::{guard, lock, Ndis};
use crate::oid::OidState;
use crate::track::ResKind;

/// Where the adapter is in the NDIS state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterState {
    /// Not initialised (also after Halt).
    Halted,
    /// Inside `MiniportInitializeEx`.
    Initializing,
    /// Initialised, no data flow.
    Paused,
    /// `MiniportRestart` called, not yet complete.
    Restarting,
    /// Data flows.
    Running,
    /// `MiniportPause` called, not yet complete.
    Pausing,
    /// Inside `MiniportHaltEx`.
    Halting,
    /// `MiniportShutdownEx` was called; nothing else will be.
    ShutDown,
}

/// An operation NDIS waits for the driver to complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    Pause,
    Restart,
    Reset,
}

pub(crate) struct StateBox {
    pub(crate) state: AdapterState,
    pub(crate) pending: Option<Pending>,
    /// Completion status of the pending operation, once completed.
    pub(crate) done: Option<(n::NDIS_STATUS, bool)>,
    pub(crate) reset_in_progress: bool,
    pub(crate) surprise_removed: bool,
    pub(crate) low_power: bool,
}

/// A decoded copy of the attributes the driver set.
#[derive(Clone, Default)]
pub struct Attributes {
    /// Registration attributes (`None` until set).
    pub registration: Option<n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES>,
    /// General attributes (pointers in it are not valid any more: use the decoded fields).
    pub general: Option<n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES>,
    /// `SupportedOidList` of the general attributes.
    pub supported_oids: Vec<n::NDIS_OID>,
    /// `RecvScaleCapabilities` of the general attributes.
    pub rss_caps: Option<n::NDIS_RECEIVE_SCALE_CAPABILITIES>,
    /// `PowerManagementCapabilitiesEx`.
    pub pm_caps: Option<n::NDIS_PM_CAPABILITIES>,
    /// `DefaultOffloadConfiguration` of the offload attributes.
    pub offload_default: Option<n::NDIS_OFFLOAD>,
    /// `HardwareOffloadCapabilities` of the offload attributes.
    pub offload_hardware: Option<n::NDIS_OFFLOAD>,
    /// Hardware-assist attributes header, when set.
    pub hardware_assist: Option<n::NDIS_OBJECT_HEADER>,
}

/// A recorded status indication.
#[derive(Clone, Debug)]
pub struct StatusRecord {
    /// `StatusCode`.
    pub code: n::NDIS_STATUS,
    /// Port.
    pub port: n::NDIS_PORT_NUMBER,
    /// Flags.
    pub flags: u32,
    /// `StatusBuffer` bytes.
    pub buffer: Vec<u8>,
    /// When (since the emulator started).
    pub at: Duration,
    /// IRQL of the indicating thread.
    pub irql: u8,
}

impl StatusRecord {
    /// Decodes an `NDIS_STATUS_LINK_STATE` payload.
    pub fn link_state(&self) -> Option<n::NDIS_LINK_STATE> {
        decode::<n::NDIS_LINK_STATE>(&self.buffer)
    }

    /// Decodes an `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` / `..._HARDWARE_CAPABILITIES` payload.
    pub fn offload(&self) -> Option<n::NDIS_OFFLOAD> {
        decode_padded::<n::NDIS_OFFLOAD>(&self.buffer)
    }
}

/// Reads a `T` from `b` if it is long enough.
pub(crate) fn decode<T: Copy>(b: &[u8]) -> Option<T> {
    (b.len() >= core::mem::size_of::<T>()).then(|| {
        // SAFETY: `b` holds at least size_of::<T>() bytes; T is a plain-data NDIS structure for
        // which every bit pattern is valid; read_unaligned copes with the Vec's alignment.
        unsafe { core::ptr::read_unaligned(b.as_ptr().cast::<T>()) }
    })
}

/// Reads a `T` from `b`, zero-filling what is missing (structures with revision-dependent
/// sizes).
pub(crate) fn decode_padded<T: Copy>(b: &[u8]) -> Option<T> {
    if b.len() < 4 {
        return None;
    }
    let mut buf = vec![0u8; core::mem::size_of::<T>()];
    let k = b.len().min(buf.len());
    buf[..k].copy_from_slice(&b[..k]);
    decode(&buf)
}

/// Copies `len` bytes at `p`.
///
/// # Safety
/// `p` is null or has `len` readable bytes.
pub(crate) unsafe fn bytes_at(p: *const u8, len: usize) -> Vec<u8> {
    if p.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: caller contract.
    unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
}

struct Resources {
    /// Translated partial list for MiniportInitializeEx (8-byte aligned storage).
    translated_partial: Vec<u64>,
    /// CM_RESOURCE_LIST, raw and translated, for NdisMGetDeviceProperty.
    raw_full: Vec<u64>,
    translated_full: Vec<u64>,
    messages: u16,
    line: bool,
}

/// Fake device objects (opaque to the driver).
struct DeviceObjects {
    pdo: Vec<u64>,
    fdo: Vec<u64>,
    next: Vec<u64>,
}

/// One miniport adapter.
pub(crate) struct Adapter {
    driver: Arc<DriverBlock>,
    pub(crate) st: Mutex<StateBox>,
    pub(crate) cv: Condvar,
    ctx: AtomicUsize,
    attrs: Mutex<Attributes>,
    res: Resources,
    devs: DeviceObjects,
    interrupt: Mutex<Option<Arc<InterruptObj>>>,
    dma: Mutex<Option<Arc<SgDma>>>,
    in_init: AtomicBool,
    /// Serialises PnP-type operations (NDIS never overlaps them).
    pub(crate) op: Mutex<()>,
    pub(crate) oid: OidState,
    pub(crate) dp: Datapath,
    statuses: Mutex<Vec<StatusRecord>>,
    status_cv: Condvar,
    hang_gen: AtomicU32,
    pub(crate) resets: AtomicU32,
    pub(crate) hang_checks: AtomicU32,
}

// SAFETY: the raw pointers inside (fake objects, resource lists) are owned by the adapter and
// only handed to the driver; every mutable state is behind locks or atomics.
unsafe impl Send for Adapter {}
// SAFETY: as above.
unsafe impl Sync for Adapter {}

fn words(bytes: usize) -> Vec<u64> {
    vec![0u64; bytes.div_ceil(8)]
}

/// Writes descriptor `i` of a partial list that starts at byte `base` of `buf`.
fn put_desc(buf: &mut [u64], base: usize, i: usize, d: n::CM_PARTIAL_RESOURCE_DESCRIPTOR) {
    let off = base
        + n::CM_PARTIAL_RESOURCE_LIST::DESCRIPTORS_OFFSET
        + i * core::mem::size_of::<n::CM_PARTIAL_RESOURCE_DESCRIPTOR>();
    let bytes = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: callers size `buf` for every descriptor they write; the list is 4-byte packed,
    // hence the unaligned write.
    unsafe { core::ptr::write_unaligned(bytes.wrapping_add(off).cast(), d) };
}

fn put_list_header(buf: &mut [u64], base: usize, count: u32) {
    let bytes = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: `buf` holds at least the 8-byte header at `base`.
    unsafe { core::ptr::write_unaligned(bytes.wrapping_add(base).cast::<u16>(), 1) };
    // SAFETY: as above (Revision at +2).
    unsafe { core::ptr::write_unaligned(bytes.wrapping_add(base + 2).cast::<u16>(), 1) };
    // SAFETY: as above (Count at +4).
    unsafe { core::ptr::write_unaligned(bytes.wrapping_add(base + 4).cast::<u32>(), count) };
}

fn build_resources(ndis: &Ndis) -> Resources {
    let cpus = ndis.cpu_count();
    let all_cpus = if cpus >= usize::BITS {
        usize::MAX
    } else {
        (1usize << cpus) - 1
    };
    let messages = if ndis.cfg.msix {
        let table = ndis.bus.msix_vectors();
        ndis.cfg.msix_messages.map_or(table, |m| m.min(table))
    } else {
        0
    };
    let mut descs: Vec<(
        n::CM_PARTIAL_RESOURCE_DESCRIPTOR,
        n::CM_PARTIAL_RESOURCE_DESCRIPTOR,
    )> = Vec::new();
    for b in ndis.bus.bars() {
        let (ty, flags) = match b.kind {
            BarKind::Io => (n::CmResourceTypePort, n::CM_RESOURCE_PORT_IO),
            _ => (
                n::CmResourceTypeMemory,
                n::CM_RESOURCE_MEMORY_READ_WRITE
                    | if b.prefetchable {
                        n::CM_RESOURCE_MEMORY_PREFETCHABLE
                    } else {
                        0
                    },
            ),
        };
        let d = n::CM_PARTIAL_RESOURCE_DESCRIPTOR {
            Type: ty,
            ShareDisposition: n::CmResourceShareDeviceExclusive,
            Flags: flags,
            u: n::CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
                Memory: n::CM_RESOURCE_RANGE {
                    Start: b.base as i64,
                    Length: b.len.min(u64::from(u32::MAX)) as u32,
                },
            },
        };
        descs.push((d, d));
    }
    let line = messages == 0;
    if line {
        let d = n::CM_PARTIAL_RESOURCE_DESCRIPTOR {
            Type: n::CmResourceTypeInterrupt,
            ShareDisposition: n::CmResourceShareShared,
            Flags: n::CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE,
            u: n::CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
                Interrupt: n::CM_RESOURCE_INTERRUPT {
                    Level: u16::from(DIRQL),
                    Group: 0,
                    Vector: 0x30,
                    Affinity: all_cpus,
                },
            },
        };
        descs.push((d, d));
    }
    for m in 0..messages {
        let flags = n::CM_RESOURCE_INTERRUPT_LATCHED | n::CM_RESOURCE_INTERRUPT_MESSAGE;
        let cpu = u32::from(m) % cpus;
        let raw = n::CM_PARTIAL_RESOURCE_DESCRIPTOR {
            Type: n::CmResourceTypeInterrupt,
            ShareDisposition: n::CmResourceShareDeviceExclusive,
            Flags: flags,
            u: n::CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
                MessageInterruptRaw: n::CM_RESOURCE_MESSAGE_INTERRUPT_RAW {
                    Group: 0,
                    MessageCount: messages,
                    Vector: 0x50 + u32::from(m),
                    Affinity: 1usize << cpu,
                },
            },
        };
        let tr = n::CM_PARTIAL_RESOURCE_DESCRIPTOR {
            Type: n::CmResourceTypeInterrupt,
            ShareDisposition: n::CmResourceShareDeviceExclusive,
            Flags: flags,
            u: n::CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
                MessageInterruptTranslated: n::CM_RESOURCE_INTERRUPT {
                    Level: u16::from(DIRQL),
                    Group: 0,
                    Vector: 0x50 + u32::from(m),
                    Affinity: 1usize << cpu,
                },
            },
        };
        descs.push((raw, tr));
    }
    let dsz = core::mem::size_of::<n::CM_PARTIAL_RESOURCE_DESCRIPTOR>();
    let count = descs.len();
    let mut partial = words(n::CM_PARTIAL_RESOURCE_LIST::DESCRIPTORS_OFFSET + count.max(1) * dsz);
    put_list_header(&mut partial, 0, count as u32);
    // CM_RESOURCE_LIST: Count (4) + CM_FULL_RESOURCE_DESCRIPTOR (InterfaceType 4, BusNumber 4,
    // partial list).
    let full_base = 12;
    let mut raw_full =
        words(full_base + n::CM_PARTIAL_RESOURCE_LIST::DESCRIPTORS_OFFSET + count.max(1) * dsz);
    let mut tr_full = raw_full.clone();
    for buf in [&mut raw_full, &mut tr_full] {
        let bytes = buf.as_mut_ptr().cast::<u8>();
        // SAFETY: the buffer holds the 12-byte CM_RESOURCE_LIST / full-descriptor prefix.
        unsafe { core::ptr::write_unaligned(bytes.cast::<u32>(), 1) };
        // SAFETY: as above (InterfaceType at +4).
        unsafe { core::ptr::write_unaligned(bytes.wrapping_add(4).cast::<i32>(), n::PCIBus) };
        put_list_header(buf, full_base, count as u32);
    }
    for (i, (raw, tr)) in descs.into_iter().enumerate() {
        put_desc(&mut partial, 0, i, tr);
        put_desc(&mut raw_full, full_base, i, raw);
        put_desc(&mut tr_full, full_base, i, tr);
    }
    Resources {
        translated_partial: partial,
        raw_full,
        translated_full: tr_full,
        messages,
        line,
    }
}

/// Lifecycle failures the harness reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    /// The operation is not allowed in this state.
    WrongState(AdapterState),
    /// The driver failed it with this status.
    Failed(n::NDIS_STATUS),
    /// The driver never completed a pending operation.
    Timeout(&'static str),
    /// NDIS would not even call the driver (missing keyword, no driver …).
    Refused(String),
}

impl std::fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LifecycleError::WrongState(s) => write!(f, "not allowed in state {s:?}"),
            LifecycleError::Failed(s) => write!(f, "failed with status {:#010x}", *s as u32),
            LifecycleError::Timeout(w) => write!(f, "{w} never completed"),
            LifecycleError::Refused(w) => write!(f, "refused: {w}"),
        }
    }
}

impl std::error::Error for LifecycleError {}

impl Adapter {
    pub(crate) fn new(ndis: &Arc<Ndis>, driver: Arc<DriverBlock>) -> Arc<Adapter> {
        let a = Arc::new(Adapter {
            driver,
            st: Mutex::new(StateBox {
                state: AdapterState::Halted,
                pending: None,
                done: None,
                reset_in_progress: false,
                surprise_removed: false,
                low_power: false,
            }),
            cv: Condvar::new(),
            ctx: AtomicUsize::new(0),
            attrs: Mutex::new(Attributes::default()),
            res: build_resources(ndis),
            devs: DeviceObjects {
                pdo: words(0x150),
                fdo: words(0x150),
                next: words(0x150),
            },
            interrupt: Mutex::new(None),
            dma: Mutex::new(None),
            in_init: AtomicBool::new(false),
            op: Mutex::new(()),
            oid: OidState::default(),
            dp: Datapath::default(),
            statuses: Mutex::new(Vec::new()),
            status_cv: Condvar::new(),
            hang_gen: AtomicU32::new(0),
            resets: AtomicU32::new(0),
            hang_checks: AtomicU32::new(0),
        });
        handles::insert(ndis, a.handle(), Obj::Adapter(a.clone()));
        a
    }

    /// `MiniportAdapterHandle` (NDIS's handle for the adapter).
    pub(crate) fn handle(&self) -> usize {
        self as *const Adapter as usize
    }

    /// `MiniportAdapterContext` from the registration attributes.
    pub(crate) fn context(&self) -> n::NDIS_HANDLE {
        self.ctx.load(Ordering::SeqCst) as n::NDIS_HANDLE
    }

    pub(crate) fn driver(&self) -> &Arc<DriverBlock> {
        &self.driver
    }

    pub(crate) fn in_initialize(&self) -> bool {
        self.in_init.load(Ordering::SeqCst)
    }

    pub(crate) fn attribute_flags(&self) -> u32 {
        lock(&self.attrs)
            .registration
            .map_or(0, |r| r.AttributeFlags)
    }

    /// Copy of the attributes.
    pub(crate) fn attributes(&self) -> Attributes {
        lock(&self.attrs).clone()
    }

    pub(crate) fn interrupt(&self) -> Option<Arc<InterruptObj>> {
        lock(&self.interrupt).clone()
    }

    pub(crate) fn set_interrupt(&self, i: Option<Arc<InterruptObj>>) {
        *lock(&self.interrupt) = i;
    }

    pub(crate) fn dma(&self) -> Option<Arc<SgDma>> {
        lock(&self.dma).clone()
    }

    pub(crate) fn set_dma(&self, d: Option<Arc<SgDma>>) {
        *lock(&self.dma) = d;
    }

    pub(crate) fn pdo(&self) -> usize {
        self.devs.pdo.as_ptr() as usize
    }

    pub(crate) fn message_count(&self) -> u16 {
        self.res.messages
    }

    pub(crate) fn has_line_interrupt(&self) -> bool {
        self.res.line
    }

    /// The current state.
    pub(crate) fn state(&self) -> AdapterState {
        lock(&self.st).state
    }

    pub(crate) fn is_halted(&self) -> bool {
        matches!(self.state(), AdapterState::Halted | AdapterState::ShutDown)
    }

    pub(crate) fn set_state(&self, s: AdapterState) {
        lock(&self.st).state = s;
        self.cv.notify_all();
    }

    /// Status indications so far.
    pub(crate) fn statuses(&self) -> Vec<StatusRecord> {
        lock(&self.statuses).clone()
    }

    /// Waits for a status indication with `code` after the first `skip` records.
    pub(crate) fn wait_status(
        &self,
        code: n::NDIS_STATUS,
        skip: usize,
        timeout: Duration,
    ) -> Option<StatusRecord> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.statuses);
        loop {
            if let Some(r) = s.iter().skip(skip).find(|r| r.code == code) {
                return Some(r.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = self
                .status_cv
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Stops background activity (CheckForHang) — emulator shutdown.
    pub(crate) fn stop_background(&self) {
        self.hang_gen.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until the pending operation completes; returns its status.
    fn wait_pending(
        &self,
        ndis: &Ndis,
        what: &'static str,
    ) -> Result<(n::NDIS_STATUS, bool), LifecycleError> {
        let deadline = Instant::now() + ndis.cfg.op_timeout;
        let mut st = lock(&self.st);
        loop {
            if let Some(d) = st.done.take() {
                st.pending = None;
                return Ok(d);
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                ndis.checks.violation(
                    Kind::State,
                    what,
                    format!(
                        "pending operation not completed within {:?}",
                        ndis.cfg.op_timeout
                    ),
                );
                return Err(LifecycleError::Timeout(what));
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Records the completion of a pending operation (from NdisM*Complete).
    fn complete(
        &self,
        ndis: &Ndis,
        which: Pending,
        status: n::NDIS_STATUS,
        flag: bool,
        api: &'static str,
    ) {
        let mut st = lock(&self.st);
        if st.pending != Some(which) || st.done.is_some() {
            drop(st);
            ndis.checks.violation(
                Kind::State,
                api,
                format!("no {which:?} is pending (or it was already completed)"),
            );
            return;
        }
        st.done = Some((status, flag));
        drop(st);
        self.cv.notify_all();
    }

    // -----------------------------------------------------------------------------------------
    // Lifecycle (called by the harness on a PASSIVE thread)

    /// `MiniportInitializeEx`.
    pub(crate) fn initialize(self: &Arc<Self>, ndis: &Arc<Ndis>) -> Result<(), LifecycleError> {
        let _op = lock(&self.op);
        if self.state() != AdapterState::Halted {
            return Err(LifecycleError::WrongState(self.state()));
        }
        if ndis.cfg.require_mandatory_keywords {
            let reg = lock(&ndis.registry);
            for k in ["*IfType", "*MediaType", "*PhysicalMediaType"] {
                if reg.get(k).is_none() {
                    return Err(LifecycleError::Refused(format!(
                        "registry lacks the mandatory keyword {k}: NDIS does not call MiniportInitializeEx"
                    )));
                }
            }
        }
        let Some(init) = self.driver.chars.InitializeHandlerEx else {
            return Err(LifecycleError::Refused("no InitializeHandlerEx".into()));
        };
        *lock(&self.attrs) = Attributes::default();
        self.ctx.store(0, Ordering::SeqCst);
        self.set_state(AdapterState::Initializing);
        let mut params = n::NDIS_MINIPORT_INIT_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS,
                n::NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1,
                n::NDIS_SIZEOF_MINIPORT_INIT_PARAMETER_REVISION_1,
            ),
            Flags: 0,
            AllocatedResources: self.res.translated_partial.as_ptr() as n::PNDIS_RESOURCE_LIST,
            IMDeviceInstanceContext: std::ptr::null_mut(),
            MiniportAddDeviceContext: std::ptr::null_mut(),
            IfIndex: 7,
            NetLuid: n::NET_LUID {
                Value: (6u64 << 48) | (1u64 << 24),
            },
            DefaultPortAuthStates: std::ptr::null_mut(),
            PciDeviceCustomProperties: std::ptr::null_mut(),
        };
        self.in_init.store(true, Ordering::SeqCst);
        let h = self.handle();
        let dctx = self.driver.context as n::NDIS_HANDLE;
        let st = ndis.call_driver(Handler::Initialize, h, || {
            // SAFETY: the driver's InitializeEx with NDIS's adapter handle, its driver context and
            // init parameters valid for the call, at PASSIVE_LEVEL.
            unsafe { init(h as n::NDIS_HANDLE, dctx, &mut params) }
        });
        self.in_init.store(false, Ordering::SeqCst);
        const API: &str = "MiniportInitializeEx";
        if st == n::NDIS_STATUS_PENDING {
            ndis.checks.violation(
                Kind::State,
                API,
                "returned NDIS_STATUS_PENDING (InitializeEx must complete synchronously)",
            );
        }
        if st == n::NDIS_STATUS_SUCCESS {
            let a = lock(&self.attrs).clone();
            if a.registration.is_none() || a.general.is_none() {
                ndis.checks.violation(
                    Kind::Attributes,
                    API,
                    "returned success without setting registration and general attributes",
                );
            }
            self.set_state(AdapterState::Paused);
            self.start_check_for_hang(ndis);
            return Ok(());
        }
        // A failed initialisation must leave nothing behind.
        self.leak_check(ndis, "MiniportInitializeEx (failed)");
        self.set_state(AdapterState::Halted);
        Err(LifecycleError::Failed(st))
    }

    /// `MiniportRestart`.
    pub(crate) fn restart(&self, ndis: &Arc<Ndis>) -> Result<(), LifecycleError> {
        let _op = lock(&self.op);
        self.restart_locked(ndis)
    }

    fn restart_locked(&self, ndis: &Arc<Ndis>) -> Result<(), LifecycleError> {
        if self.state() != AdapterState::Paused {
            return Err(LifecycleError::WrongState(self.state()));
        }
        let Some(f) = self.driver.chars.RestartHandler else {
            return Err(LifecycleError::Refused("no RestartHandler".into()));
        };
        {
            let mut st = lock(&self.st);
            st.state = AdapterState::Restarting;
            st.pending = Some(Pending::Restart);
            st.done = None;
        }
        let mut params = n::NDIS_MINIPORT_RESTART_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1,
                n::NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1,
            ),
            RestartAttributes: std::ptr::null_mut(),
            Flags: 0,
        };
        let c = self.context();
        let st = ndis.call_driver(Handler::Restart, self.handle(), || {
            // SAFETY: the driver's MiniportRestart with its context and parameters valid for the
            // call, at PASSIVE_LEVEL.
            unsafe { f(c, &mut params) }
        });
        let st = if st == n::NDIS_STATUS_PENDING {
            self.wait_pending(ndis, "MiniportRestart")?.0
        } else {
            let mut b = lock(&self.st);
            if b.done.is_some() {
                drop(b);
                ndis.checks.violation(
                    Kind::State,
                    "NdisMRestartComplete",
                    "called although MiniportRestart did not return NDIS_STATUS_PENDING",
                );
                b = lock(&self.st);
            }
            b.pending = None;
            b.done = None;
            st
        };
        if st == n::NDIS_STATUS_SUCCESS {
            self.set_state(AdapterState::Running);
            Ok(())
        } else {
            self.set_state(AdapterState::Paused);
            Err(LifecycleError::Failed(st))
        }
    }

    /// `MiniportPause` (returns once the pause completed, with the completion checks done).
    pub(crate) fn pause(&self, ndis: &Arc<Ndis>, reason: u32) -> Result<(), LifecycleError> {
        let _op = lock(&self.op);
        self.pause_locked(ndis, reason)
    }

    fn pause_locked(&self, ndis: &Arc<Ndis>, reason: u32) -> Result<(), LifecycleError> {
        if self.state() != AdapterState::Running {
            return Err(LifecycleError::WrongState(self.state()));
        }
        let Some(f) = self.driver.chars.PauseHandler else {
            return Err(LifecycleError::Refused("no PauseHandler".into()));
        };
        {
            // Protocol-edge sends in the driver's send handler finish first.
            let _gate = self.dp.send_gate.write().unwrap_or_else(|e| e.into_inner());
            let mut st = lock(&self.st);
            st.state = AdapterState::Pausing;
            st.pending = Some(Pending::Pause);
            st.done = None;
        }
        // The protocols above are paused first; they return what they hold.
        self.dp.on_pausing(ndis, self);
        let mut params = n::NDIS_MINIPORT_PAUSE_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
                n::NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
            ),
            Flags: 0,
            PauseReason: reason,
        };
        let c = self.context();
        let st = ndis.call_driver(Handler::Pause, self.handle(), || {
            // SAFETY: the driver's MiniportPause with its context and parameters valid for the
            // call, at PASSIVE_LEVEL.
            unsafe { f(c, &mut params) }
        });
        if st == n::NDIS_STATUS_PENDING {
            self.wait_pending(ndis, "MiniportPause")?;
        } else {
            if st != n::NDIS_STATUS_SUCCESS {
                ndis.checks.violation(
                    Kind::State,
                    "MiniportPause",
                    format!("returned {:#010x}: a pause cannot fail", st as u32),
                );
            }
            let mut b = lock(&self.st);
            if b.done.is_some() {
                drop(b);
                ndis.checks.violation(
                    Kind::State,
                    "NdisMPauseComplete",
                    "called although MiniportPause did not return NDIS_STATUS_PENDING",
                );
                b = lock(&self.st);
            }
            b.pending = None;
            b.done = None;
        }
        self.dp.check_paused(ndis, self);
        self.set_state(AdapterState::Paused);
        Ok(())
    }

    /// `MiniportHaltEx` (the adapter must be paused), then the leak check.
    pub(crate) fn halt(
        &self,
        ndis: &Arc<Ndis>,
        action: n::NDIS_HALT_ACTION,
    ) -> Result<(), LifecycleError> {
        let _op = lock(&self.op);
        self.halt_locked(ndis, action)
    }

    fn halt_locked(
        &self,
        ndis: &Arc<Ndis>,
        action: n::NDIS_HALT_ACTION,
    ) -> Result<(), LifecycleError> {
        if self.state() != AdapterState::Paused {
            return Err(LifecycleError::WrongState(self.state()));
        }
        let Some(f) = self.driver.chars.HaltHandlerEx else {
            return Err(LifecycleError::Refused("no HaltHandlerEx".into()));
        };
        self.stop_background();
        self.set_state(AdapterState::Halting);
        let c = self.context();
        ndis.call_driver(Handler::Halt, self.handle(), || {
            // SAFETY: the driver's MiniportHaltEx with its context, at PASSIVE_LEVEL, once.
            unsafe { f(c, action) }
        });
        self.oid.check_idle(ndis, "MiniportHaltEx");
        self.dp.check_halted(ndis, self);
        self.leak_check(ndis, "MiniportHaltEx");
        self.set_state(AdapterState::Halted);
        handles::remove(self.handle());
        Ok(())
    }

    /// Reports every resource still charged to this adapter.
    fn leak_check(&self, ndis: &Ndis, api: &'static str) {
        let h = self.handle();
        let wi = crate::sched::busy_work_items(ndis, h);
        if wi != 0 {
            ndis.checks.violation(
                Kind::Leak,
                api,
                format!("{wi} IO work item(s) still queued or running"),
            );
        }
        let tm = crate::sched::armed_timers(ndis, h);
        if tm != 0 {
            ndis.checks
                .violation(Kind::Leak, api, format!("{tm} timer(s) still set"));
        }
        for p in crate::nbl::pool_usage(ndis, h) {
            ndis.checks
                .violation(Kind::Leak, api, format!("{p} not freed"));
        }
        let left = ndis.track.owned_by(Some(h));
        for (addr, r) in &left {
            if matches!(r.kind, ResKind::NblPool | ResKind::NbPool) {
                continue;
            }
            ndis.checks
                .violation(Kind::Leak, api, format!("{r} at {addr:#x} not released"));
        }
        if let Some(i) = self.interrupt() {
            crate::interrupt::disconnect(ndis, &i, api);
            self.set_interrupt(None);
        }
        for (addr, r) in left {
            if matches!(
                r.kind,
                ResKind::Interrupt
                    | ResKind::DmaRegistration
                    | ResKind::Timer
                    | ResKind::WorkItem
                    | ResKind::NblPool
                    | ResKind::NbPool
                    | ResKind::Config
                    | ResKind::RwLock
            ) {
                handles::remove(addr);
            }
        }
        ndis.track.forget_owner(h);
        self.set_dma(None);
    }

    /// `MiniportResetEx` (and the address restoration NDIS does after an addressing reset).
    pub(crate) fn reset(&self, ndis: &Arc<Ndis>) -> Result<bool, LifecycleError> {
        let _op = lock(&self.op);
        self.reset_locked(ndis)
    }

    fn reset_locked(&self, ndis: &Arc<Ndis>) -> Result<bool, LifecycleError> {
        let s = self.state();
        if !matches!(s, AdapterState::Running | AdapterState::Paused) {
            return Err(LifecycleError::WrongState(s));
        }
        let Some(f) = self.driver.chars.ResetHandlerEx else {
            return Err(LifecycleError::Refused("no ResetHandlerEx".into()));
        };
        {
            let mut st = lock(&self.st);
            st.pending = Some(Pending::Reset);
            st.done = None;
            st.reset_in_progress = true;
        }
        self.record_status(ndis, n::NDIS_STATUS_RESET_START, Vec::new(), 0, 0);
        self.resets.fetch_add(1, Ordering::SeqCst);
        let mut addressing: n::BOOLEAN = n::FALSE;
        let c = self.context();
        let st = ndis.call_driver(Handler::Reset, self.handle(), || {
            // SAFETY: the driver's MiniportResetEx with its context and a valid out-parameter.
            unsafe { f(c, &mut addressing) }
        });
        let (st, addr) = if st == n::NDIS_STATUS_PENDING {
            let r = self.wait_pending(ndis, "MiniportResetEx");
            lock(&self.st).reset_in_progress = false;
            r?
        } else {
            let mut b = lock(&self.st);
            b.pending = None;
            b.done = None;
            b.reset_in_progress = false;
            (st, addressing != 0)
        };
        self.record_status(ndis, n::NDIS_STATUS_RESET_END, Vec::new(), 0, 0);
        if st != n::NDIS_STATUS_SUCCESS {
            return Err(LifecycleError::Failed(st));
        }
        if addr {
            // NDIS restores the addressing information the protocols set.
            self.oid.replay_addressing(ndis, self);
        }
        Ok(addr)
    }

    /// `MiniportDevicePnPEventNotify`.
    pub(crate) fn pnp_event(
        &self,
        ndis: &Arc<Ndis>,
        event: n::NDIS_DEVICE_PNP_EVENT,
        info: &mut [u8],
    ) {
        let Some(f) = self.driver.chars.DevicePnPEventNotifyHandler else {
            return;
        };
        let mut e = n::NET_DEVICE_PNP_EVENT {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NET_DEVICE_PNP_EVENT_REVISION_1,
                n::NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1,
            ),
            PortNumber: 0,
            DevicePnPEvent: event,
            InformationBuffer: if info.is_empty() {
                std::ptr::null_mut()
            } else {
                info.as_mut_ptr().cast()
            },
            InformationBufferLength: info.len() as u32,
            NdisReserved: [0; 16],
        };
        if event == n::NdisDevicePnPEventSurpriseRemoved {
            lock(&self.st).surprise_removed = true;
        }
        let c = self.context();
        ndis.call_driver(Handler::PnPEvent, self.handle(), || {
            // SAFETY: the driver's PnP event handler with its context and an event valid for the
            // call, at PASSIVE_LEVEL.
            unsafe { f(c, &mut e) }
        });
    }

    /// Surprise removal as NDIS sequences it: the PnP event, then pause (if running) and halt.
    pub(crate) fn surprise_remove(&self, ndis: &Arc<Ndis>) -> Result<(), LifecycleError> {
        let _op = lock(&self.op);
        ndis.bus.surprise_remove();
        self.pnp_event(ndis, n::NdisDevicePnPEventSurpriseRemoved, &mut []);
        if self.state() == AdapterState::Running {
            self.pause_locked(ndis, n::NDIS_PAUSE_MINIPORT_DEVICE_REMOVE)?;
        }
        self.halt_locked(ndis, n::NdisHaltDeviceSurpriseRemoved)
    }

    /// What NDIS does after `NdisMRemoveMiniport`: pause (if running) and halt as failed.
    pub(crate) fn remove(&self, ndis: &Arc<Ndis>) -> Result<(), LifecycleError> {
        let _op = lock(&self.op);
        if self.state() == AdapterState::Running {
            self.pause_locked(ndis, n::NDIS_PAUSE_MINIPORT_DEVICE_REMOVE)?;
        }
        self.halt_locked(ndis, n::NdisHaltDeviceFailed)
    }

    /// `MiniportShutdownEx`.
    pub(crate) fn shutdown(&self, ndis: &Arc<Ndis>, action: n::NDIS_SHUTDOWN_ACTION) {
        let _op = lock(&self.op);
        self.stop_background();
        let Some(f) = self.driver.chars.ShutdownHandlerEx else {
            return;
        };
        let c = self.context();
        let old = ctx::irql();
        if action == n::NdisShutdownBugCheck {
            ctx::set_irql_raw(n::HIGH_LEVEL);
        }
        ndis.call_driver(Handler::Shutdown, self.handle(), || {
            // SAFETY: the driver's MiniportShutdownEx with its context (PASSIVE for power-off,
            // HIGH_LEVEL for a bugcheck).
            unsafe { f(c, action) }
        });
        ctx::set_irql_raw(old);
        self.set_state(AdapterState::ShutDown);
    }

    // -----------------------------------------------------------------------------------------
    // CheckForHang and driver-requested resets / removal

    fn hang_period(&self, ndis: &Ndis) -> Option<Duration> {
        match ndis.cfg.check_for_hang {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None => {
                let s = lock(&self.attrs)
                    .registration
                    .map_or(0, |r| r.CheckForHangTimeInSeconds);
                Some(Duration::from_secs(if s == 0 { 2 } else { u64::from(s) }))
            }
        }
    }

    fn start_check_for_hang(self: &Arc<Self>, ndis: &Arc<Ndis>) {
        if self.driver.chars.CheckForHangHandlerEx.is_none() {
            return;
        }
        let Some(p) = self.hang_period(ndis) else {
            return;
        };
        let gen = self.hang_gen.fetch_add(1, Ordering::SeqCst) + 1;
        self.schedule_hang(ndis, gen, p);
    }

    fn schedule_hang(self: &Arc<Self>, ndis: &Ndis, gen: u32, p: Duration) {
        let me = Arc::downgrade(self);
        ndis.rt.at(
            Instant::now() + p,
            Box::new(move |ndis: &Arc<Ndis>| {
                let Some(a) = me.upgrade() else { return };
                if a.hang_gen.load(Ordering::SeqCst) != gen {
                    return;
                }
                let a2 = a.clone();
                ndis.rt.queue_work(Box::new(move |ndis: &Arc<Ndis>| {
                    a2.check_for_hang(ndis, gen)
                }));
                a.schedule_hang(ndis, gen, p);
            }),
        );
    }

    fn check_for_hang(&self, ndis: &Arc<Ndis>, gen: u32) {
        // NDIS does not overlap CheckForHang with other PnP operations.
        let Ok(_op) = self.op.try_lock() else { return };
        if self.hang_gen.load(Ordering::SeqCst) != gen {
            return;
        }
        if !matches!(self.state(), AdapterState::Running | AdapterState::Paused) {
            return;
        }
        let Some(f) = self.driver.chars.CheckForHangHandlerEx else {
            return;
        };
        self.hang_checks.fetch_add(1, Ordering::SeqCst);
        let c = self.context();
        let hung = ndis.call_driver(Handler::CheckForHang, self.handle(), || {
            // SAFETY: the driver's CheckForHangEx with its context, at PASSIVE_LEVEL.
            unsafe { f(c) }
        });
        if hung != n::FALSE {
            let _ = self.reset_locked(ndis);
        }
    }

    /// `NdisMResetMiniport`: NDIS resets the adapter soon, from a worker thread.
    pub(crate) fn request_reset(self: &Arc<Self>, ndis: &Ndis) {
        let me = self.clone();
        ndis.rt.queue_work(Box::new(move |ndis: &Arc<Ndis>| {
            let _ = me.reset(ndis);
        }));
    }

    /// `NdisMRemoveMiniport`: NDIS removes the adapter soon, from a worker thread.
    pub(crate) fn request_remove(self: &Arc<Self>, ndis: &Ndis) {
        let me = self.clone();
        ndis.rt.queue_work(Box::new(move |ndis: &Arc<Ndis>| {
            let _ = me.remove(ndis);
        }));
    }

    // -----------------------------------------------------------------------------------------
    // Status indications

    pub(crate) fn record_status(
        &self,
        ndis: &Ndis,
        code: n::NDIS_STATUS,
        buffer: Vec<u8>,
        port: u32,
        flags: u32,
    ) {
        lock(&self.statuses).push(StatusRecord {
            code,
            port,
            flags,
            buffer,
            at: ndis.uptime(),
            irql: ctx::irql(),
        });
        self.status_cv.notify_all();
    }

    // -----------------------------------------------------------------------------------------
    // Attributes

    fn set_attributes(
        &self,
        ndis: &Ndis,
        p: n::PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
    ) -> n::NDIS_STATUS {
        const API: &str = "NdisMSetMiniportAttributes";
        // SAFETY: non-null (checked by the caller); every attribute structure starts with the header.
        let hdr = unsafe { p.cast::<n::NDIS_OBJECT_HEADER>().read() };
        let registered = self.driver.registered_version();
        let bad = |m: String| {
            ndis.checks.violation(Kind::BadHeader, API, m);
            n::NDIS_STATUS_INVALID_PARAMETER
        };
        let mut a = lock(&self.attrs);
        match hdr.Type {
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES => {
                let ok = match hdr.Revision {
                    1 => {
                        hdr.Size
                            >= n::NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1
                    }
                    2 => registered >= n::NdisVersion::V6_30
                        && hdr.Size
                            >= n::NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
                    _ => false,
                };
                if !ok {
                    return bad(format!("registration attributes header {hdr:?}"));
                }
                if a.registration.is_some() {
                    ndis.checks.violation(
                        Kind::Attributes,
                        API,
                        "registration attributes set twice",
                    );
                    return n::NDIS_STATUS_FAILURE;
                }
                // SAFETY: the header says the registration attributes are complete.
                let r = unsafe {
                    p.cast::<n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES>()
                        .read()
                };
                self.ctx
                    .store(r.MiniportAdapterContext as usize, Ordering::SeqCst);
                a.registration = Some(r);
            }
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES => {
                if a.registration.is_none() {
                    ndis.checks.violation(
                        Kind::Attributes,
                        API,
                        "general attributes before the registration attributes",
                    );
                    return n::NDIS_STATUS_FAILURE;
                }
                let ok = match hdr.Revision {
                    1 => hdr.Size >= n::NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1,
                    2 => {
                        registered >= n::NdisVersion::V6_20
                            && hdr.Size
                                >= n::NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2
                    }
                    _ => false,
                };
                if !ok {
                    return bad(format!("general attributes header {hdr:?}"));
                }
                // SAFETY: the header says at least revision 1 is present; a revision-1 structure
                // lacks only PowerManagementCapabilitiesEx, which is cleared below.
                let mut g = unsafe {
                    std::ptr::read(p.cast::<n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES>())
                };
                if hdr.Revision < 2 {
                    g.PowerManagementCapabilitiesEx = std::ptr::null_mut();
                }
                if let Err(m) = self.check_general(&g) {
                    ndis.checks.violation(Kind::Attributes, API, m);
                    return n::NDIS_STATUS_INVALID_PARAMETER;
                }
                let count = g.SupportedOidListLength as usize / 4;
                // SAFETY: SupportedOidList has SupportedOidListLength bytes (checked non-null).
                a.supported_oids = (0..count)
                    .map(|i| unsafe { g.SupportedOidList.wrapping_add(i).read_unaligned() })
                    .collect();
                a.rss_caps = if g.RecvScaleCapabilities.is_null() {
                    None
                } else {
                    // SAFETY: non-null capabilities (header validated in check_general); the
                    // revision-1 size is the smallest, the rest zero-filled.
                    let size = usize::from(unsafe { (*g.RecvScaleCapabilities).Header.Size });
                    // SAFETY: `size` readable bytes (header validated).
                    decode_padded(&unsafe { bytes_at(g.RecvScaleCapabilities.cast(), size) })
                };
                a.pm_caps = if g.PowerManagementCapabilitiesEx.is_null() {
                    None
                } else {
                    // SAFETY: non-null, header validated in check_general.
                    let size =
                        usize::from(unsafe { (*g.PowerManagementCapabilitiesEx).Header.Size });
                    // SAFETY: `size` readable bytes.
                    decode_padded(&unsafe {
                        bytes_at(g.PowerManagementCapabilitiesEx.cast(), size)
                    })
                };
                a.general = Some(g);
            }
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES => {
                if a.registration.is_none() {
                    ndis.checks.violation(
                        Kind::Attributes,
                        API,
                        "offload attributes before the registration attributes",
                    );
                    return n::NDIS_STATUS_FAILURE;
                }
                if hdr.Revision < n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1
                    || hdr.Size < n::NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1
                {
                    return bad(format!("offload attributes header {hdr:?}"));
                }
                // SAFETY: complete revision-1 offload attributes.
                let o = unsafe {
                    p.cast::<n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES>()
                        .read()
                };
                let def = match read_offload(o.DefaultOffloadConfiguration, registered) {
                    Ok(v) => v,
                    Err(m) => return bad(format!("DefaultOffloadConfiguration: {m}")),
                };
                let hw = match read_offload(o.HardwareOffloadCapabilities, registered) {
                    Ok(v) => v,
                    Err(m) => return bad(format!("HardwareOffloadCapabilities: {m}")),
                };
                if !o.DefaultTcpConnectionOffloadConfiguration.is_null()
                    || !o.TcpConnectionOffloadHardwareCapabilities.is_null()
                {
                    ndis.checks.warning(
                        Kind::Attributes,
                        API,
                        "TCP chimney offload pointers set (chimney is gone since Windows 10)",
                    );
                }
                a.offload_default = Some(def);
                a.offload_hardware = Some(hw);
            }
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES => {
                let min = match hdr.Revision {
                    1 => n::NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_1,
                    2 => n::NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2,
                    3 => n::NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
                    4 => n::NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_4,
                    _ => u16::MAX,
                };
                if hdr.Size < min {
                    return bad(format!("hardware assist attributes header {hdr:?}"));
                }
                a.hardware_assist = Some(hdr);
            }
            n::NDIS_OBJECT_TYPE_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES => {
                ndis.checks.violation(
                    Kind::Attributes,
                    API,
                    "add-device attributes belong in MiniportAddDevice",
                );
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
            t => return bad(format!("unknown attributes type {t:#x}")),
        }
        n::NDIS_STATUS_SUCCESS
    }

    fn check_general(&self, g: &n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES) -> Result<(), String> {
        if g.MediaType == n::NdisMedium802_3 && g.MacAddressLength != 6 {
            return Err(format!("MacAddressLength {} for 802.3", g.MacAddressLength));
        }
        if usize::from(g.MacAddressLength) > n::NDIS_MAX_PHYS_ADDRESS_LENGTH {
            return Err(format!("MacAddressLength {}", g.MacAddressLength));
        }
        if g.MtuSize == 0 {
            return Err("MtuSize 0".into());
        }
        if g.SupportedOidList.is_null()
            || g.SupportedOidListLength == 0
            || !g.SupportedOidListLength.is_multiple_of(4)
        {
            return Err(format!(
                "SupportedOidList {:p} / length {} (a non-empty list of ULONGs is required)",
                g.SupportedOidList, g.SupportedOidListLength
            ));
        }
        if !g.RecvScaleCapabilities.is_null() {
            // SAFETY: non-null capabilities from the driver; the header is always present.
            let h = unsafe { (*g.RecvScaleCapabilities).Header };
            let min = match h.Revision {
                1 => n::NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_1,
                2 => n::NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
                3 => n::NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_3,
                _ => u16::MAX,
            };
            if h.Type != n::NDIS_OBJECT_TYPE_RSS_CAPABILITIES || h.Size < min {
                return Err(format!("RecvScaleCapabilities header {h:?}"));
            }
        }
        if !g.PowerManagementCapabilitiesEx.is_null() {
            // SAFETY: non-null capabilities from the driver.
            let h = unsafe { (*g.PowerManagementCapabilitiesEx).Header };
            let min = match h.Revision {
                1 => n::NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_1,
                2 => n::NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_2,
                _ => u16::MAX,
            };
            if h.Type != n::NDIS_OBJECT_TYPE_DEFAULT || h.Size < min {
                return Err(format!("PowerManagementCapabilitiesEx header {h:?}"));
            }
        }
        Ok(())
    }

    /// Device objects and resource lists (`NdisMGetDeviceProperty`).
    fn device_property(&self) -> [usize; 5] {
        [
            self.devs.pdo.as_ptr() as usize,
            self.devs.fdo.as_ptr() as usize,
            self.devs.next.as_ptr() as usize,
            self.res.raw_full.as_ptr() as usize,
            self.res.translated_full.as_ptr() as usize,
        ]
    }
}

/// Reads an `NDIS_OFFLOAD` passed in attributes, checking its header against the version the
/// driver registered with.
fn read_offload(
    p: *mut n::NDIS_OFFLOAD,
    registered: n::NdisVersion,
) -> Result<n::NDIS_OFFLOAD, String> {
    if p.is_null() {
        return Err("NULL".into());
    }
    // SAFETY: non-null NDIS_OFFLOAD from the driver; the header is always present.
    let h = unsafe { (*p).Header };
    let sizes = [
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6,
        n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7,
    ];
    if h.Type != n::NDIS_OBJECT_TYPE_OFFLOAD {
        return Err(format!(
            "header type {:#x}, want {:#x}",
            h.Type,
            n::NDIS_OBJECT_TYPE_OFFLOAD
        ));
    }
    let Some(&min) = sizes.get(usize::from(h.Revision).wrapping_sub(1)) else {
        return Err(format!("unknown NDIS_OFFLOAD revision {}", h.Revision));
    };
    if h.Size < min {
        return Err(format!(
            "revision {} needs Size >= {min}, got {}",
            h.Revision, h.Size
        ));
    }
    let max = n::ndis_offload_revision_for(registered).map_or(0, |r| r.0);
    if h.Revision > max {
        return Err(format!(
            "revision {} is newer than NDIS {}.{} (the registered version) defines (max {max})",
            h.Revision, registered.major, registered.minor
        ));
    }
    let size = usize::from(h.Size).min(core::mem::size_of::<n::NDIS_OFFLOAD>());
    // SAFETY: the driver provides Header.Size readable bytes.
    decode_padded(&unsafe { bytes_at(p.cast(), size) }).ok_or_else(|| "too short".into())
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMSetMiniportAttributes(
    NdisMiniportHandle: n::NDIS_HANDLE,
    MiniportAttributes: n::PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMSetMiniportAttributes";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(NdisMiniportHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if MiniportAttributes.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL attributes");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if !a.in_initialize() {
            ndis.checks
                .violation(Kind::State, API, "only allowed inside MiniportInitializeEx");
            return n::NDIS_STATUS_FAILURE;
        }
        a.set_attributes(&ndis, MiniportAttributes)
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMIndicateStatusEx(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    StatusIndication: n::PNDIS_STATUS_INDICATION,
) {
    const API: &str = "NdisMIndicateStatusEx";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        if StatusIndication.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL indication");
            return;
        }
        // SAFETY: non-null indication from the driver; the header is present.
        let hdr = unsafe { (*StatusIndication).Header };
        if hdr.Type != n::NDIS_OBJECT_TYPE_STATUS_INDICATION
            || hdr.Revision < n::NDIS_STATUS_INDICATION_REVISION_1
            || hdr.Size < n::NDIS_SIZEOF_STATUS_INDICATION_REVISION_1
        {
            ndis.checks
                .violation(Kind::BadHeader, API, format!("header {hdr:?}"));
            return;
        }
        // SAFETY: complete revision-1 indication.
        let s = unsafe { StatusIndication.read() };
        if s.SourceHandle as usize != a.handle() {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                format!(
                    "SourceHandle {:p} is not the miniport adapter handle",
                    s.SourceHandle
                ),
            );
        }
        if a.state() == AdapterState::Halted {
            ndis.checks
                .violation(Kind::State, API, "status indication from a halted adapter");
        }
        let _span = crate::accounting::ProtocolSpan::begin();
        // SAFETY: StatusBuffer holds StatusBufferSize bytes (or is NULL).
        let buf = unsafe { bytes_at(s.StatusBuffer.cast(), s.StatusBufferSize as usize) };
        match s.StatusCode {
            n::NDIS_STATUS_LINK_STATE => {
                let valid = decode::<n::NDIS_LINK_STATE>(&buf).is_some_and(|l| {
                    l.Header.Type == n::NDIS_OBJECT_TYPE_DEFAULT
                        && l.Header.Size >= n::NDIS_SIZEOF_LINK_STATE_REVISION_1
                });
                if !valid {
                    ndis.checks.violation(
                        Kind::BadParameter,
                        API,
                        "NDIS_STATUS_LINK_STATE without a valid NDIS_LINK_STATE",
                    );
                }
            }
            n::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG
            | n::NDIS_STATUS_TASK_OFFLOAD_HARDWARE_CAPABILITIES => {
                match read_offload(s.StatusBuffer.cast(), a.driver.registered_version()) {
                    Ok(o) => {
                        let mut at = lock(&a.attrs);
                        if s.StatusCode == n::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG {
                            at.offload_default = Some(o);
                        } else {
                            at.offload_hardware = Some(o);
                        }
                    }
                    Err(m) => ndis.checks.violation(
                        Kind::BadParameter,
                        API,
                        format!("offload indication: {m}"),
                    ),
                }
            }
            _ => {}
        }
        a.record_status(&ndis, s.StatusCode, buf, s.PortNumber, s.Flags);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMPauseComplete(MiniportAdapterHandle: n::NDIS_HANDLE) {
    const API: &str = "NdisMPauseComplete";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) {
            a.complete(&ndis, Pending::Pause, n::NDIS_STATUS_SUCCESS, false, API);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMRestartComplete(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    Status: n::NDIS_STATUS,
) {
    const API: &str = "NdisMRestartComplete";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) {
            a.complete(&ndis, Pending::Restart, Status, false, API);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMResetComplete(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    Status: n::NDIS_STATUS,
    AddressingReset: n::BOOLEAN,
) {
    const API: &str = "NdisMResetComplete";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) {
            a.complete(&ndis, Pending::Reset, Status, AddressingReset != 0, API);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMResetMiniport(MiniportAdapterHandle: n::NDIS_HANDLE) {
    const API: &str = "NdisMResetMiniport";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) {
            a.request_reset(&ndis);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMRemoveMiniport(
    MiniportHandle: n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMRemoveMiniport";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        match handles::adapter(MiniportHandle, API) {
            Some((ndis, a)) => {
                a.request_remove(&ndis);
                n::NDIS_STATUS_SUCCESS
            }
            None => n::NDIS_STATUS_INVALID_PARAMETER,
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMNetPnPEvent(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    NetPnPEventNotification: n::PNET_PNP_EVENT_NOTIFICATION,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMNetPnPEvent";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if NetPnPEventNotification.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL notification");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null notification from the driver.
        let e = unsafe { NetPnPEventNotification.read() };
        a.record_status(
            &ndis,
            e.NetPnPEvent.NetEvent,
            Vec::new(),
            e.PortNumber,
            e.Flags,
        );
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMGetDeviceProperty(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    PhysicalDeviceObject: *mut n::PDEVICE_OBJECT,
    FunctionalDeviceObject: *mut n::PDEVICE_OBJECT,
    NextDeviceObject: *mut n::PDEVICE_OBJECT,
    AllocatedResources: *mut n::PCM_RESOURCE_LIST,
    AllocatedResourcesTranslated: *mut n::PCM_RESOURCE_LIST,
) {
    const API: &str = "NdisMGetDeviceProperty";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((_ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        let [pdo, fdo, next, raw, tr] = a.device_property();
        let put = |p: *mut n::PDEVICE_OBJECT, v: usize| {
            if !p.is_null() {
                // SAFETY: non-null out-parameter.
                unsafe { *p = v as n::PDEVICE_OBJECT };
            }
        };
        put(PhysicalDeviceObject, pdo);
        put(FunctionalDeviceObject, fdo);
        put(NextDeviceObject, next);
        if !AllocatedResources.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *AllocatedResources = raw as n::PCM_RESOURCE_LIST };
        }
        if !AllocatedResourcesTranslated.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *AllocatedResourcesTranslated = tr as n::PCM_RESOURCE_LIST };
        }
    })
}

/// What NDIS knows an NBL is doing (for NdisFreeNetBufferList checks): sent to the miniport or
/// indicated to the protocol.
pub(crate) fn nbl_in_flight(ndis: &Ndis, nbl: usize) -> Option<&'static str> {
    let a = lock(&ndis.adapter).clone()?;
    a.dp.in_flight(nbl)
}
