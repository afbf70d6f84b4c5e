//! The adapter: `MiniportAdapterContext`, its state machine and every per-adapter handler.
//!
//! # States
//! `Initializing` → (InitializeEx succeeded) `Paused` ⇄ `Running` (RestartEx / PauseEx through `Pausing`)
//! → `Halted`. Orthogonal flags: `RESETTING` (ResetEx until NdisMResetComplete), `LOW_POWER` (D3),
//! `REMOVED` (surprise removal: the device is never touched again), `FAILED` (the device could not be
//! brought back: hardware-error status), `NEEDS_RESET` (a fault asks CheckForHang / NdisMResetMiniport for
//! a reset). The datapath [`Gate`] is derived from state + flags in one place ([`Adapter::refresh_gate`]).
//!
//! # Concurrency
//! * NDIS serialises InitializeEx, Halt, Pause, Restart, Reset, PnP and OIDs with each other except that
//!   OIDs may arrive while a reset worker or an interrupt DPC runs; sends, returns and DPCs run any time on
//!   any CPU once the interrupt is registered.
//! * `control` ([`PassiveMutex`]) owns the device (transport, control queue, mirrors) and the OID state.
//!   Holders may allocate shared memory and wait on the device, so it is taken at PASSIVE_LEVEL only
//!   (InitializeEx, Halt, the control worker, OID_PNP_SET_POWER); the OID path and CheckForHang only
//!   *try* it and pend / skip when it is busy. Nothing at DISPATCH_LEVEL waits for it.
//! * Interrupt-time code (ISR, DPC) never takes `control`: the ISR reads the virtio ISR register through a
//!   pre-computed address; configuration changes are handed to the control worker.
//! * The datapath has its own locks (see `datapath`). Lock order: `control` → datapath internals →
//!   `gate_lock`.
//!
//! # IRQL of each handler (what it may call)
//! | handler | IRQL | notes |
//! |---|---|---|
//! | InitializeEx, HaltEx, PauseEx, RestartEx, DevicePnPEventNotify, CheckForHangEx, OID_PNP_SET_POWER | PASSIVE | may allocate, wait (bounded) |
//! | OidRequest, CancelOidRequest, ResetEx, SendNetBufferLists, ReturnNetBufferLists, CancelSend | <= DISPATCH | no waits, no shared-memory allocation; work that needs PASSIVE goes to the control worker |
//! | interrupt DPCs | DISPATCH | datapath work, schedule the worker |
//! | ISRs | DIRQL | register reads, atomics only |
//! | ShutdownEx | PASSIVE (power off) or HIGH_LEVEL (bugcheck) | one register write, nothing else |

pub mod device;
pub mod init;
pub mod worker;

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};

use ndis_sys as n;
use netkvm_core::params::Config;

use crate::datapath::{Datapath, Gate};
use crate::device::hal::{BarMappings, NdisHal};
use crate::interrupt::{InterruptHandle, VectorPlan};
use crate::log;
use crate::oid::state::OidState;
use crate::sync::{PassiveMutex, SetOnce, SpinLock};

use device::Device;
use worker::WorkItem;

/// Adapter life-cycle state (`state` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AdapterState {
    /// InitializeEx running.
    Initializing = 0,
    /// Initialized or paused: no traffic.
    Paused = 1,
    /// Restarted: traffic flows.
    Running = 2,
    /// PauseEx returned pending; waiting for the datapath to drain.
    Pausing = 3,
    /// HaltEx ran.
    Halted = 4,
}

impl AdapterState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => AdapterState::Initializing,
            1 => AdapterState::Paused,
            2 => AdapterState::Running,
            3 => AdapterState::Pausing,
            _ => AdapterState::Halted,
        }
    }
}

/// ResetEx is in progress.
pub const FLAG_RESETTING: u32 = 1 << 0;
/// The device is in D3.
pub const FLAG_LOW_POWER: u32 = 1 << 1;
/// Surprise removal: never touch the device again.
pub const FLAG_REMOVED: u32 = 1 << 2;
/// The device failed and could not be reset.
pub const FLAG_FAILED: u32 = 1 << 3;
/// A fault wants a reset (CheckForHang returns TRUE).
pub const FLAG_NEEDS_RESET: u32 = 1 << 4;
/// HaltEx started: the worker must not start new work.
pub const FLAG_HALTING: u32 = 1 << 5;

/// Diagnostic counters (the vendor "Diag" view NetKVM exposes over WMI; here for logs and tests).
#[derive(Debug, Default)]
pub struct Counters {
    /// Control commands sent.
    pub ctrl_commands: AtomicU64,
    /// Control commands the device answered `VIRTIO_NET_ERR`.
    pub ctrl_rejected: AtomicU64,
    /// Control commands that timed out or broke the protocol.
    pub ctrl_failed: AtomicU64,
    /// Resets requested (CheckForHang TRUE or NdisMResetMiniport).
    pub resets_requested: AtomicU64,
    /// Resets completed successfully.
    pub resets_done: AtomicU64,
    /// Resets that failed (hardware error reported).
    pub resets_failed: AtomicU64,
    /// Configuration-change interrupts.
    pub config_interrupts: AtomicU64,
    /// Link-state indications.
    pub link_indications: AtomicU64,
    /// Guest announcements acknowledged.
    pub announcements: AtomicU64,
    /// OIDs pended to the worker because the control lock was busy.
    pub oids_pended: AtomicU64,
    /// Interrupt DPCs run.
    pub dpcs: AtomicU64,
}

/// Register addresses interrupt- and bugcheck-time code uses without the control lock.
#[derive(Clone, Copy, Debug)]
pub struct FastRegs {
    hal: NdisHal,
    /// BAR and offset of the virtio ISR status byte.
    isr: (u8, u64),
    /// BAR and offset of `device_status` in the common configuration.
    status: (u8, u64),
    /// BAR and offset of `config_generation` in the common configuration.
    generation: (u8, u64),
}

impl FastRegs {
    /// Reads (and clears) the ISR status byte (DIRQL-safe: one register read).
    fn read_isr(&self) -> u8 {
        // SAFETY: the ISR region was validated inside its mapped BAR by the transport at initialisation;
        // the mapping lives as long as the adapter.
        unsafe { netkvm_virtio::Hal::read8(&self.hal, self.isr.0, self.isr.1) }
    }

    /// Reads `config_generation` (one register read; changes whenever the device configuration does).
    fn read_generation(&self) -> u8 {
        // SAFETY: as `read_isr`, for the common configuration's `config_generation` byte.
        unsafe { netkvm_virtio::Hal::read8(&self.hal, self.generation.0, self.generation.1) }
    }

    /// Writes 0 to `device_status`: the device stops all DMA (virtio 1.x §4.1.4.3.1). Any IRQL.
    fn reset_device(&self) {
        // SAFETY: as `read_isr`, for the common configuration's `device_status` byte.
        unsafe { netkvm_virtio::Hal::write8(&self.hal, self.status.0, self.status.1, 0) };
    }
}

/// Everything the interrupt path needs once the interrupt is registered.
pub struct InterruptState {
    /// The NDIS interrupt.
    pub handle: InterruptHandle,
    /// Which message serves what.
    pub plan: VectorPlan,
}

/// The control plane's exclusive part: the device and the OID-visible state.
pub struct Control {
    /// The virtio device; `None` once it failed for good or was removed and torn down.
    pub device: Option<Device>,
    /// OID-visible state.
    pub state: OidState,
}

/// `MiniportAdapterContext`.
pub struct Adapter {
    /// `MiniportAdapterHandle`.
    pub handle: n::NDIS_HANDLE,
    /// NDIS version the driver registered with.
    pub ndis: n::NdisVersion,
    /// Registry configuration of this InitializeEx.
    pub config: Config,
    /// Permanent station address (device MAC, or generated when the device has none).
    pub permanent_mac: [u8; 6],
    state: AtomicU8,
    flags: AtomicU32,
    /// Device + OID state (see module docs for the locking rules).
    pub control: PassiveMutex<Control>,
    /// The datapath (set during InitializeEx, after the interrupt is registered).
    pub datapath: SetOnce<Datapath>,
    /// The interrupt (set during InitializeEx).
    pub interrupt: SetOnce<InterruptState>,
    fast: Option<FastRegs>,
    /// INTx: ISR bits read by the ISR, consumed by the DPC.
    isr_bits: AtomicU8,
    /// `config_generation` when the worker last read the configuration (0x100 = never): a DPC of a
    /// vector shared between queues and configuration changes schedules the worker only when it moved.
    seen_generation: core::sync::atomic::AtomicU16,
    pause_pending: AtomicBool,
    pending_oid: AtomicPtr<n::NDIS_OID_REQUEST>,
    gate_lock: SpinLock<()>,
    /// The control worker (NDIS IO work item).
    pub work: WorkItem,
    /// SG DMA registration (`NdisMRegisterScatterGatherDma`), null if not registered.
    dma: n::NDIS_HANDLE,
    /// `ScatterGatherListSize` from the DMA registration.
    sg_list_size: u32,
    /// Mapped BARs; dropped last.
    bars: Option<BarMappings>,
    /// Diagnostics.
    pub counters: Counters,
}

// SAFETY: every field shared between CPUs is an atomic, a lock, a set-once cell or immutable after
// InitializeEx; the raw NDIS handles are valid from any CPU.
unsafe impl Send for Adapter {}
// SAFETY: as above.
unsafe impl Sync for Adapter {}

impl Adapter {
    /// The adapter behind `MiniportAdapterContext` / an interrupt context.
    ///
    /// # Safety
    /// `context` is null or the pointer InitializeEx registered (a live `Adapter` until Halt frees it).
    pub unsafe fn from_context<'a>(context: n::NDIS_HANDLE) -> Option<&'a Adapter> {
        // SAFETY: per the function contract.
        unsafe { context.cast::<Adapter>().cast_const().as_ref() }
    }

    /// The pointer NDIS hands back to every handler.
    pub fn as_context(&self) -> *const c_void {
        (self as *const Adapter).cast()
    }

    /// Current life-cycle state.
    pub fn state(&self) -> AdapterState {
        AdapterState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, s: AdapterState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Current flags (`FLAG_*`).
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Acquire)
    }

    /// Whether any of `f` is set.
    pub fn has_flag(&self, f: u32) -> bool {
        self.flags() & f != 0
    }

    /// Sets `f`; returns whether it was already set.
    pub fn set_flag(&self, f: u32) -> bool {
        self.flags.fetch_or(f, Ordering::AcqRel) & f != 0
    }

    /// Clears `f`.
    pub fn clear_flag(&self, f: u32) {
        self.flags.fetch_and(!f, Ordering::AcqRel);
    }

    /// Whether the device may be touched (not removed, not failed for good).
    pub fn device_usable(&self) -> bool {
        !self.has_flag(FLAG_REMOVED | FLAG_FAILED)
    }

    /// The gate the datapath must apply for the current state and flags.
    pub fn gate_for(state: AdapterState, flags: u32) -> Gate {
        if flags & FLAG_REMOVED != 0 || flags & FLAG_HALTING != 0 {
            Gate::Removed
        } else if flags & FLAG_FAILED != 0 {
            Gate::Failed
        } else if flags & FLAG_RESETTING != 0 {
            Gate::Resetting
        } else if flags & FLAG_LOW_POWER != 0 {
            Gate::LowPower
        } else if state == AdapterState::Running {
            Gate::Running
        } else {
            Gate::Paused
        }
    }

    /// Recomputes the datapath gate from state and flags and applies it (starting traffic when it opens).
    pub fn refresh_gate(&self) {
        let Some(dp) = self.datapath.get() else {
            return;
        };
        let _g = self.gate_lock.lock();
        let gate = Self::gate_for(self.state(), self.flags());
        if gate == Gate::Running {
            if dp.gate() != Gate::Running {
                dp.start();
            }
        } else {
            dp.set_gate(gate);
        }
    }

    // ---- pause / restart -------------------------------------------------------------------------

    /// MiniportPause (PASSIVE): stop sends and indications, complete when the datapath is drained.
    pub fn pause(&self) -> n::NDIS_STATUS {
        self.set_state(AdapterState::Pausing);
        self.refresh_gate();
        self.pause_pending.store(true, Ordering::Release);
        if self.drained() && self.pause_pending.swap(false, Ordering::AcqRel) {
            self.set_state(AdapterState::Paused);
            return n::NDIS_STATUS_SUCCESS;
        }
        n::NDIS_STATUS_PENDING
    }

    fn drained(&self) -> bool {
        self.datapath.get().is_none_or(Datapath::is_drained)
    }

    /// Completes a pending pause once the datapath drained (called after every datapath call that can
    /// complete sends or take returns back).
    pub fn poll_pause(&self) {
        if !self.pause_pending.load(Ordering::Acquire) || !self.drained() {
            return;
        }
        if self.pause_pending.swap(false, Ordering::AcqRel) {
            self.set_state(AdapterState::Paused);
            // SAFETY: a pause returned NDIS_STATUS_PENDING and is completed exactly once (the swap).
            unsafe { n::NdisMPauseComplete(self.handle) };
        }
    }

    /// MiniportRestart (PASSIVE).
    pub fn restart(&self) -> n::NDIS_STATUS {
        self.set_state(AdapterState::Running);
        self.refresh_gate();
        n::NDIS_STATUS_SUCCESS
    }

    // ---- datapath entry points ------------------------------------------------------------------

    /// MiniportSendNetBufferLists (<= DISPATCH).
    ///
    /// # Safety
    /// `nbls` is the chain NDIS passed.
    pub unsafe fn send(&self, nbls: n::PNET_BUFFER_LIST, port: n::NDIS_PORT_NUMBER, flags: u32) {
        match self.datapath.get() {
            // SAFETY: forwarded.
            Some(dp) => unsafe { dp.send(nbls, port, flags) },
            // No datapath (cannot happen after a successful InitializeEx): complete everything.
            // SAFETY: forwarded.
            None => unsafe { complete_all(self.handle, nbls, n::NDIS_STATUS_FAILURE, flags) },
        }
        self.poll_pause();
    }

    /// MiniportReturnNetBufferLists (<= DISPATCH).
    ///
    /// # Safety
    /// `nbls` is a chain this adapter indicated.
    pub unsafe fn return_nbls(&self, nbls: n::PNET_BUFFER_LIST, flags: u32) {
        if let Some(dp) = self.datapath.get() {
            // SAFETY: forwarded.
            unsafe { dp.return_nbls(nbls, flags) };
        }
        self.poll_pause();
    }

    /// MiniportCancelSend (<= DISPATCH).
    pub fn cancel_send(&self, cancel_id: n::PVOID) {
        if let Some(dp) = self.datapath.get() {
            dp.cancel_send(cancel_id);
        }
        self.poll_pause();
    }

    // ---- interrupts -------------------------------------------------------------------------------

    /// MiniportMessageInterrupt (DIRQL): every message is ours (MSI-X is not shared).
    pub fn on_message_interrupt(&self, message_id: u32) -> bool {
        if let (Some(irq), Some(dp)) = (self.interrupt.get(), self.datapath.get()) {
            if let Some(role) = irq.plan.role(message_id) {
                for p in role.first_pair..role.first_pair.saturating_add(role.pair_count) {
                    dp.on_interrupt(p, role.kind);
                }
            }
        }
        true
    }

    /// MiniportInterrupt (line based, DIRQL): read and clear the ISR status; not ours when 0 (shared
    /// line) or all-ones (device gone).
    pub fn on_line_interrupt(&self) -> bool {
        if self.has_flag(FLAG_REMOVED) {
            return false;
        }
        let Some(fast) = self.fast.as_ref() else {
            return false;
        };
        let bits = fast.read_isr();
        if bits == 0 || bits == 0xFF {
            return false;
        }
        self.isr_bits.fetch_or(bits, Ordering::AcqRel);
        if bits & 1 != 0 {
            if let Some(dp) = self.datapath.get() {
                for p in 0..dp.pairs() {
                    dp.on_interrupt(p, crate::datapath::QueueKind::Both);
                }
            }
        }
        true
    }

    /// Interrupt DPC (DISPATCH): datapath work of the message's pairs, configuration changes to the
    /// worker, faults to a reset request, pause completion.
    ///
    /// # Safety
    /// `throttle` is null or the `NDIS_RECEIVE_THROTTLE_PARAMETERS` NDIS passed to the DPC.
    pub unsafe fn on_dpc(
        &self,
        message_id: Option<u32>,
        throttle: *mut n::NDIS_RECEIVE_THROTTLE_PARAMETERS,
    ) {
        self.counters.dpcs.fetch_add(1, Ordering::Relaxed);
        let Some(irq) = self.interrupt.get() else {
            return;
        };
        let (first, count, config) = match message_id {
            Some(m) => match irq.plan.role(m) {
                Some(r) => (r.first_pair, r.pair_count, r.config),
                None => return,
            },
            None => {
                let bits = self.isr_bits.swap(0, Ordering::AcqRel);
                let queues = if bits & 1 != 0 { irq.plan.pairs } else { 0 };
                (0, queues, bits & 2 != 0)
            }
        };
        // SAFETY: NDIS passes a valid throttle structure (or null) for the duration of the DPC.
        let throttle = unsafe { throttle.as_mut() };
        let ndis_limit = throttle
            .as_ref()
            .map(|t| t.MaxNblsToIndicate)
            .filter(|&m| m != n::NDIS_INDICATE_ALL_NBLS);
        let budget = ndis_limit.unwrap_or(u32::from(self.config.rx_packets_per_dpc).max(1));
        let mut more = false;
        if let Some(dp) = self.datapath.get() {
            for p in first..first.saturating_add(count) {
                let out = dp.process(p, budget);
                more |= out.more_work;
                if let Some(f) = out.fault {
                    log!(
                        Error,
                        "device fault on pair {} ({}): {:?}; requesting a reset",
                        f.pair,
                        if f.rx { "rx" } else { "tx" },
                        f.error
                    );
                    self.request_reset();
                }
            }
        }
        // A dedicated configuration vector (no queues) or the INTx ISR bit says "configuration
        // changed"; a vector shared with queues only does when `config_generation` moved.
        if config && (count == 0 || message_id.is_none() || self.config_generation_moved()) {
            self.counters
                .config_interrupts
                .fetch_add(1, Ordering::Relaxed);
            self.work.schedule(self, worker::WORK_CONFIG);
        }
        if let Some(t) = throttle {
            // With an NDIS limit, NDIS calls the DPC again when MoreNblsPending is set; with "all", the
            // driver limits itself and re-queues its own DPC.
            t.set_more_nbls_pending(more && ndis_limit.is_some());
        }
        if more && ndis_limit.is_none() {
            let _ = irq.handle.queue_dpc(message_id.unwrap_or(0), None);
        }
        self.poll_pause();
    }

    /// Whether `config_generation` differs from what the worker last read (true when unknown).
    fn config_generation_moved(&self) -> bool {
        let Some(fast) = self.fast else {
            return true;
        };
        u16::from(fast.read_generation()) != self.seen_generation.load(Ordering::Acquire)
    }

    /// The worker read the configuration at `generation`.
    pub fn note_generation(&self, generation: u8) {
        self.seen_generation
            .store(u16::from(generation), Ordering::Release);
    }

    // ---- faults and reset --------------------------------------------------------------------------

    /// A fault wants a reset: CheckForHang will return TRUE, and NDIS is asked right away
    /// (`NdisMResetMiniport`, <= DISPATCH).
    pub fn request_reset(&self) {
        if self.has_flag(FLAG_REMOVED | FLAG_HALTING) {
            return;
        }
        if self.set_flag(FLAG_NEEDS_RESET) {
            return;
        }
        self.counters
            .resets_requested
            .fetch_add(1, Ordering::Relaxed);
        // SAFETY: the adapter handle is valid; callable at <= DISPATCH_LEVEL.
        unsafe { n::NdisMResetMiniport(self.handle) };
    }

    /// MiniportCheckForHangEx (PASSIVE): TRUE when a fault asked for a reset or the device reports
    /// NEEDS_RESET / reset itself / the control queue is stuck.
    pub fn check_for_hang(&self) -> bool {
        let flags = self.flags();
        if flags & (FLAG_REMOVED | FLAG_FAILED | FLAG_RESETTING | FLAG_HALTING | FLAG_LOW_POWER)
            != 0
        {
            return false;
        }
        if flags & FLAG_NEEDS_RESET != 0 {
            return true;
        }
        // Never wait here: if the worker holds the device, it is doing exactly this kind of work.
        let Some(mut ctl) = self.control.try_lock() else {
            return false;
        };
        let Some(dev) = ctl.device.as_mut() else {
            return false;
        };
        match dev.health() {
            Ok(()) => false,
            Err(device::Health::Gone) => {
                drop(ctl);
                log!(Error, "device reads all-ones: gone; stopping");
                self.mark_failed();
                false
            }
            Err(h) => {
                log!(Warn, "CheckForHang: {:?}; asking NDIS for a reset", h);
                self.set_flag(FLAG_NEEDS_RESET);
                self.counters
                    .resets_requested
                    .fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    /// MiniportResetEx (<= DISPATCH): the re-initialisation runs in the worker (PASSIVE) and completes with
    /// NdisMResetComplete.
    pub fn reset(&self, addressing_reset: &mut n::BOOLEAN) -> n::NDIS_STATUS {
        *addressing_reset = n::FALSE;
        if self.has_flag(FLAG_REMOVED) {
            return n::NDIS_STATUS_SUCCESS;
        }
        self.set_flag(FLAG_RESETTING);
        self.refresh_gate();
        if let Some(dp) = self.datapath.get() {
            dp.abort_all(n::NDIS_STATUS_RESET_IN_PROGRESS);
        }
        self.work.schedule(self, worker::WORK_RESET);
        n::NDIS_STATUS_PENDING
    }

    /// The device is unusable: stop traffic, report link down, never touch it again.
    pub fn mark_failed(&self) {
        if self.set_flag(FLAG_FAILED) {
            return;
        }
        self.refresh_gate();
        if let Some(dp) = self.datapath.get() {
            dp.abort_all(n::NDIS_STATUS_HARD_ERRORS);
        }
        // SAFETY: <= DISPATCH_LEVEL; the error-log entry has no extra values.
        unsafe {
            n::NdisWriteErrorLogEntry(
                self.handle,
                n::error_code::NDIS_ERROR_CODE_HARDWARE_FAILURE,
                0,
            )
        };
        let down = crate::oid::state::LinkState {
            connect: n::MediaConnectStateDisconnected,
            duplex: n::MediaDuplexStateUnknown,
            speed_bps: 0,
        };
        self.indicate_link(&down);
    }

    /// `NDIS_STATUS_LINK_STATE` (<= DISPATCH).
    pub fn indicate_link(&self, link: &crate::oid::state::LinkState) {
        let mut ls = link.to_ndis();
        self.counters
            .link_indications
            .fetch_add(1, Ordering::Relaxed);
        self.indicate_status(
            n::NDIS_STATUS_LINK_STATE,
            ptr::addr_of_mut!(ls).cast(),
            core::mem::size_of::<n::NDIS_LINK_STATE>() as u32,
        );
    }

    /// `NdisMIndicateStatusEx` with a buffer that lives across the call (<= DISPATCH).
    pub fn indicate_status(&self, code: n::NDIS_STATUS, buffer: n::PVOID, size: u32) {
        let mut ind = n::NDIS_STATUS_INDICATION::new(self.handle, code, buffer, size);
        // SAFETY: `ind` and `buffer` are valid for the call; NDIS copies what it keeps.
        unsafe { n::NdisMIndicateStatusEx(self.handle, &mut ind) };
    }

    // ---- PnP, shutdown -------------------------------------------------------------------------------

    /// MiniportDevicePnPEventNotify (PASSIVE).
    pub fn pnp_event(&self, event: n::NDIS_DEVICE_PNP_EVENT) {
        match event {
            n::NdisDevicePnPEventSurpriseRemoved => {
                log!(
                    Warn,
                    "surprise removal: aborting sends, device no longer touched"
                );
                self.set_flag(FLAG_REMOVED);
                self.refresh_gate();
                if let Some(dp) = self.datapath.get() {
                    dp.abort_all(n::NDIS_STATUS_SEND_ABORTED);
                }
                self.poll_pause();
            }
            n::NdisDevicePnPEventPowerProfileChanged => {
                log!(Info, "power profile changed");
            }
            other => log!(Trace, "PnP event {}", other),
        }
    }

    /// MiniportShutdownEx: stop the device's DMA with one register write (the only thing allowed at
    /// HIGH_LEVEL during a bugcheck).
    pub fn shutdown(&self, _action: n::NDIS_SHUTDOWN_ACTION) {
        if !self.has_flag(FLAG_REMOVED) {
            if let Some(fast) = self.fast.as_ref() {
                fast.reset_device();
            }
        }
    }

    // ---- OIDs ------------------------------------------------------------------------------------------

    /// MiniportOidRequest (<= DISPATCH): answered synchronously when the control lock is free, else pended
    /// to the worker.
    ///
    /// # Safety
    /// `request` is the request NDIS passed (valid until completed).
    pub unsafe fn oid_request(&self, request: *mut n::NDIS_OID_REQUEST) -> n::NDIS_STATUS {
        if request.is_null() {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if let Some(mut ctl) = self.control.try_lock() {
            // SAFETY: forwarded.
            return unsafe { self.process_oid(&mut ctl, request) };
        }
        if self
            .pending_oid
            .compare_exchange(
                ptr::null_mut(),
                request,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // NDIS serialises OIDs; a second one while one is pending is a caller bug.
            return n::NDIS_STATUS_RESOURCES;
        }
        self.counters.oids_pended.fetch_add(1, Ordering::Relaxed);
        self.work.schedule(self, worker::WORK_OID);
        n::NDIS_STATUS_PENDING
    }

    /// Runs one OID with the control lock held.
    ///
    /// # Safety
    /// `request` is a live NDIS_OID_REQUEST.
    unsafe fn process_oid(
        &self,
        ctl: &mut Control,
        request: *mut n::NDIS_OID_REQUEST,
    ) -> n::NDIS_STATUS {
        let mut dc = device::AdapterControl::new(self, ctl.device.as_mut());
        // SAFETY: forwarded.
        let status = unsafe { crate::oid::handle_request(&mut ctl.state, &mut dc, request) };
        self.poll_pause();
        status
    }

    /// The worker's part of a pended OID.
    pub fn run_pending_oid(&self, ctl: &mut Control) {
        let req = self.pending_oid.swap(ptr::null_mut(), Ordering::AcqRel);
        if req.is_null() {
            return;
        }
        // SAFETY: `req` was handed to us by NDIS and not completed yet (the swap makes us its only owner).
        let status = unsafe { self.process_oid(ctl, req) };
        // SAFETY: completing a request we returned NDIS_STATUS_PENDING for, exactly once.
        unsafe { n::NdisMOidRequestComplete(self.handle, req, status) };
    }

    /// MiniportCancelOidRequest (<= DISPATCH).
    pub fn cancel_oid(&self, request_id: n::PVOID) {
        let req = self.pending_oid.load(Ordering::Acquire);
        if req.is_null() {
            return;
        }
        // SAFETY: a pending request stays valid until we complete it.
        let id = unsafe { (*req).RequestId };
        if id != request_id {
            return;
        }
        if self
            .pending_oid
            .compare_exchange(req, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: we own the pending request (the exchange) and complete it once.
            unsafe { n::NdisMOidRequestComplete(self.handle, req, n::NDIS_STATUS_REQUEST_ABORTED) };
        }
    }

    /// The permanent station address.
    pub fn permanent_mac(&self) -> [u8; 6] {
        self.permanent_mac
    }

    /// The SG DMA handle (null if not registered).
    pub fn dma_handle(&self) -> n::NDIS_HANDLE {
        self.dma
    }

    /// BAR mappings (present from InitializeEx to Halt).
    pub fn bars(&self) -> Option<&BarMappings> {
        self.bars.as_ref()
    }
}

/// Completes a whole chain (no datapath).
///
/// # Safety
/// `nbls` is a chain owned by the miniport.
unsafe fn complete_all(
    handle: n::NDIS_HANDLE,
    nbls: n::PNET_BUFFER_LIST,
    status: n::NDIS_STATUS,
    send_flags: u32,
) {
    if nbls.is_null() {
        return;
    }
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: element of a chain we own.
        let r = unsafe { &mut *nbl };
        r.set_status(status);
        nbl = r.next_nbl();
    }
    let flags = if send_flags & n::NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0 {
        n::NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    // SAFETY: the chain is completed once.
    unsafe { n::NdisMSendNetBufferListsComplete(handle, nbls, flags) };
}
