//! [`Harness`]: load a miniport into an emulated NDIS and drive it like Windows does.
//!
//! ```ignore
//! let (mut h, bus) = Harness::fake(FakeConfig::default(), Registry::with_mandatory());
//! h.load(netkvmrs::driver_entry)?;      // DriverEntry → NdisMRegisterMiniportDriver
//! h.initialize()?;                      // MiniportInitializeEx with the PCI resources
//! h.bind()?;                            // the OIDs TCP/IP issues when it binds
//! h.restart()?;                         // MiniportRestart → Running
//! let nbl = h.nbl(&NblSpec::frames(&[&frame]))?;
//! h.send(vec![nbl])?;
//! let done = h.wait_completions(1, Duration::from_secs(1));
//! let rx = h.recv(Duration::from_secs(1));
//! h.pause()?; h.halt()?; h.unload()?;   // with leak checks at Halt and Unload
//! ```
//!
//! Every contract violation the emulator detects is printed when it happens and makes the next
//! harness call panic (or the harness's drop), unless the test takes them with
//! [`Harness::take_violations`] — which is how tests that provoke a violation on purpose check
//! the detector fired. Dropping the harness pauses, halts and unloads what is still up, with
//! all checks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use ndis_sys as n;

use crate::accounting::{AccountingSnapshot, Handler};
use crate::adapter::{Adapter, AdapterState, Attributes, LifecycleError, StatusRecord};
use crate::bus::Bus;
use crate::checks::{Kind, Violation, WarningSummary};
use crate::datapath::{Completion, DatapathStats, RxNbl, RxView, SendOpts};
use crate::ndis::{lock, EmuConfig, LogLine, Ndis};
use crate::oid::{
    default_bind_sequence, BindReport, BindStep, OidPath, OidRequest, OidResult, OidTicket,
};
use crate::protocol::{BuildError, NblSpec, ProtoNbl};
use crate::registry::Registry;
use crate::track::Res;

/// A protocol receive callback (gets a copy of each received NBL).
pub type ReceiveCallback = Arc<dyn Fn(&RxNbl) + Send + Sync>;

/// A protocol receive callback that sees each received NBL in place, without a copy
/// ([`RxView`]).
pub type ReceiveViewCallback = Arc<dyn Fn(&RxView<'_>) + Send + Sync>;

/// `DRIVER_INITIALIZE`: the driver's `DriverEntry` (e.g. `netkvmrs::driver_entry`).
pub type DriverEntryFn =
    unsafe extern "system" fn(n::PDRIVER_OBJECT, n::PUNICODE_STRING) -> n::NTSTATUS;

/// Device power states for [`Harness::set_power`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    /// D0 (working).
    D0,
    /// D3 (off).
    D3,
}

/// Loads a driver into an emulated NDIS and drives one adapter.
pub struct Harness {
    ndis: Arc<Ndis>,
    adapter: Option<Arc<Adapter>>,
    driver_object: Vec<u64>,
    registry_path: Vec<u16>,
    registry_path_us: Box<n::UNICODE_STRING>,
    loaded: bool,
    cpu: u32,
    next_nbl: Arc<AtomicU64>,
    /// In `drop`: violations are collected, not raised.
    dropping: bool,
}

impl Harness {
    /// An emulator with default settings over `bus`, with `registry` as the adapter's registry.
    pub fn new(bus: Arc<dyn Bus>, registry: Registry) -> Harness {
        Self::with_config(bus, registry, EmuConfig::default())
    }

    /// As [`Harness::new`] with explicit settings.
    pub fn with_config(bus: Arc<dyn Bus>, registry: Registry, cfg: EmuConfig) -> Harness {
        let ndis = Ndis::new(bus, registry, cfg);
        let path: Vec<u16> = "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\netkvmrs"
            .encode_utf16()
            .chain([0])
            .collect();
        let mut h = Harness {
            ndis,
            adapter: None,
            driver_object: vec![0u64; 0x150 / 8],
            registry_path_us: Box::new(n::UNICODE_STRING::EMPTY),
            registry_path: path,
            loaded: false,
            cpu: 0,
            next_nbl: Arc::new(AtomicU64::new(0)),
            dropping: false,
        };
        let len = ((h.registry_path.len() - 1) * 2) as u16;
        *h.registry_path_us = n::UNICODE_STRING {
            Length: len,
            MaximumLength: len + 2,
            Buffer: h.registry_path.as_mut_ptr(),
        };
        h.enter();
        h
    }

    /// A harness over a new fake virtio-net device (netkvm-virtio `test-utils`).
    #[cfg(feature = "fake")]
    pub fn fake(
        cfg: netkvm_virtio::fake::FakeConfig,
        registry: Registry,
    ) -> (Harness, Arc<crate::bus::fake::FakeBus>) {
        Self::fake_with(cfg, registry, EmuConfig::default())
    }

    /// As [`Harness::fake`] with explicit emulator settings.
    #[cfg(feature = "fake")]
    pub fn fake_with(
        cfg: netkvm_virtio::fake::FakeConfig,
        registry: Registry,
        emu: EmuConfig,
    ) -> (Harness, Arc<crate::bus::fake::FakeBus>) {
        let bus = crate::bus::fake::FakeBus::new(cfg);
        (Self::with_config(bus.clone(), registry, emu), bus)
    }

    fn enter(&self) {
        self.ndis.attach_thread(self.cpu);
    }

    /// Panics if violations are pending (called by every driving method).
    pub fn check(&self) {
        self.enter();
        if self.dropping {
            return;
        }
        let v = self.ndis.checks.take_violations();
        if !v.is_empty() {
            let list: Vec<String> = v.iter().map(|v| format!("  {v}")).collect();
            panic!(
                "ndis-emu: {} contract violation(s):\n{}",
                v.len(),
                list.join("\n")
            );
        }
    }

    /// The emulator.
    pub fn ndis(&self) -> &Arc<Ndis> {
        &self.ndis
    }

    /// Runs the harness's calls on emulated processor `cpu` from now on.
    pub fn set_cpu(&mut self, cpu: u32) {
        self.cpu = cpu % self.ndis.cpu_count();
        self.enter();
    }

    fn adapter(&self) -> Result<&Arc<Adapter>, LifecycleError> {
        self.adapter
            .as_ref()
            .ok_or(LifecycleError::WrongState(AdapterState::Halted))
    }

    // -----------------------------------------------------------------------------------------
    // Driver load / unload

    /// Calls `DriverEntry` with a fake driver object and registry path.
    pub fn load(&mut self, entry: DriverEntryFn) -> Result<(), LifecycleError> {
        self.check();
        if self.loaded {
            return Err(LifecycleError::Refused("a driver is already loaded".into()));
        }
        let dobj = self.driver_object.as_mut_ptr().cast::<n::DRIVER_OBJECT>();
        let path: *mut n::UNICODE_STRING = &mut *self.registry_path_us;
        let st = self.ndis.call_driver(Handler::DriverEntry, 0, || {
            // SAFETY: the driver's DriverEntry with a driver object (zeroed storage of the x64
            // DRIVER_OBJECT size) and a registry path string valid for the call, at PASSIVE_LEVEL.
            unsafe { entry(dobj, path) }
        });
        if st < 0 {
            return Err(LifecycleError::Failed(st));
        }
        if self.ndis.driver_block().is_none() {
            self.ndis.checks.violation(
                Kind::State,
                "DriverEntry",
                "returned success without registering a miniport driver",
            );
            return Err(LifecycleError::Refused(
                "no NdisMRegisterMiniportDriver".into(),
            ));
        }
        self.loaded = true;
        Ok(())
    }

    /// Calls the driver's Unload handler, then checks it deregistered and freed everything.
    pub fn unload(&mut self) -> Result<(), LifecycleError> {
        self.check();
        if !self.loaded {
            return Ok(());
        }
        if let Some(a) = &self.adapter {
            if a.state() == AdapterState::ShutDown {
                // The system went down: nothing is unloaded or checked any more.
                *lock(&self.ndis.driver) = None;
                self.loaded = false;
                return Ok(());
            }
            if !a.is_halted() {
                return Err(LifecycleError::WrongState(a.state()));
            }
        }
        let Some(d) = self.ndis.driver_block() else {
            return Ok(());
        };
        if let Some(u) = d.chars.UnloadHandler {
            let dobj = d.driver_object as n::PDRIVER_OBJECT;
            self.ndis.call_driver(Handler::Unload, 0, || {
                // SAFETY: the driver's unload routine with the driver object DriverEntry got.
                unsafe { u(dobj) }
            });
        }
        if !d.deregistered.load(std::sync::atomic::Ordering::SeqCst) {
            self.ndis.checks.violation(
                Kind::State,
                "MiniportDriverUnload",
                "did not call NdisMDeregisterMiniportDriver",
            );
        }
        for (addr, r) in self.ndis.track.owned_by(None) {
            self.ndis.checks.violation(
                Kind::Leak,
                "MiniportDriverUnload",
                format!("{r} at {addr:#x} not released"),
            );
        }
        *lock(&self.ndis.driver) = None;
        self.loaded = false;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Adapter lifecycle

    /// `MiniportInitializeEx` for the bus's device (a new adapter).
    pub fn initialize(&mut self) -> Result<(), LifecycleError> {
        self.check();
        let Some(d) = self.ndis.driver_block() else {
            return Err(LifecycleError::Refused("no driver loaded".into()));
        };
        if let Some(a) = &self.adapter {
            if !a.is_halted() {
                return Err(LifecycleError::WrongState(a.state()));
            }
        }
        let a = Adapter::new(&self.ndis, d);
        *lock(&self.ndis.adapter) = Some(a.clone());
        self.adapter = Some(a.clone());
        a.initialize(&self.ndis)
    }

    /// The default bind sequence ([`default_bind_sequence`]); fails if a required step fails.
    pub fn bind(&mut self) -> Result<BindReport, LifecycleError> {
        let a = self.adapter()?.clone();
        let rss = a
            .attributes()
            .rss_caps
            .map(|_| (128usize, self.ndis.cpu_count()));
        self.bind_with(&default_bind_sequence(rss))
    }

    /// Runs a bind sequence; fails with the first step that did not meet its expectation.
    pub fn bind_with(&mut self, steps: &[BindStep]) -> Result<BindReport, LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        let rep = crate::oid::run_bind(&self.ndis, &a, steps)?;
        if let Some((oid, st)) = rep.failures().first() {
            return Err(LifecycleError::Refused(format!(
                "bind step OID {oid:#010x} failed with {:#010x}",
                *st as u32
            )));
        }
        Ok(rep)
    }

    /// `MiniportRestart` (waits for `NdisMRestartComplete` when it pends).
    pub fn restart(&mut self) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.restart(&self.ndis)
    }

    /// `MiniportPause` (reason: protocol unbind), with the completion checks.
    pub fn pause(&mut self) -> Result<(), LifecycleError> {
        self.pause_for(n::NDIS_PAUSE_BIND_PROTOCOL)
    }

    /// `MiniportPause` with a reason.
    pub fn pause_for(&mut self, reason: u32) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.pause(&self.ndis, reason)
    }

    /// `MiniportHaltEx` (`NdisHaltDeviceDisabled`), with the leak checks.
    pub fn halt(&mut self) -> Result<(), LifecycleError> {
        self.halt_with(n::NdisHaltDeviceDisabled)
    }

    /// `MiniportHaltEx` with an action.
    pub fn halt_with(&mut self, action: n::NDIS_HALT_ACTION) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.halt(&self.ndis, action)
    }

    /// load → initialize → bind → restart.
    pub fn up(&mut self, entry: DriverEntryFn) -> Result<BindReport, LifecycleError> {
        self.load(entry)?;
        self.initialize()?;
        let r = self.bind()?;
        self.restart()?;
        Ok(r)
    }

    /// pause (if running) → halt → unload.
    pub fn down(&mut self) -> Result<(), LifecycleError> {
        if self.state() == AdapterState::Running {
            self.pause()?;
        }
        if self.state() == AdapterState::Paused {
            self.halt()?;
        }
        self.unload()
    }

    /// `Set-NetAdapterAdvancedProperty`: re-reads the registry file, then pause → halt →
    /// initialize → bind → restart.
    pub fn reinitialize(&mut self) -> Result<BindReport, LifecycleError> {
        if self.state() == AdapterState::Running {
            self.pause()?;
        }
        if self.state() == AdapterState::Paused {
            self.halt()?;
        }
        lock(&self.ndis.registry)
            .reload()
            .map_err(|e| LifecycleError::Refused(e.to_string()))?;
        self.initialize()?;
        let r = self.bind()?;
        self.restart()?;
        Ok(r)
    }

    /// `MiniportResetEx` (waits for `NdisMResetComplete`); returns AddressingReset.
    pub fn reset(&mut self) -> Result<bool, LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.reset(&self.ndis)
    }

    /// Surprise removal: the device disappears, `NdisDevicePnPEventSurpriseRemoved`, pause,
    /// `MiniportHaltEx(NdisHaltDeviceSurpriseRemoved)`.
    pub fn surprise_remove(&mut self) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.surprise_remove(&self.ndis)
    }

    /// `MiniportDevicePnPEventNotify` with any event.
    pub fn pnp_event(
        &mut self,
        event: n::NDIS_DEVICE_PNP_EVENT,
        info: &mut [u8],
    ) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.pnp_event(&self.ndis, event, info);
        Ok(())
    }

    /// `MiniportShutdownEx` (nothing is called afterwards; no leak check).
    pub fn shutdown(&mut self, action: n::NDIS_SHUTDOWN_ACTION) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.shutdown(&self.ndis, action);
        Ok(())
    }

    /// Power transitions as NDIS sequences them: D3 = pause + `OID_PNP_SET_POWER(D3)`;
    /// D0 = `OID_PNP_SET_POWER(D0)` + restart.
    pub fn set_power(&mut self, p: PowerState) -> Result<OidResult, LifecycleError> {
        match p {
            PowerState::D3 => {
                if self.state() == AdapterState::Running {
                    self.pause_for(n::NDIS_PAUSE_LOW_POWER)?;
                }
                let r = self.oid(OidRequest::set_u32(
                    n::OID_PNP_SET_POWER,
                    n::NdisDeviceStateD3 as u32,
                ))?;
                if let Ok(a) = self.adapter() {
                    lock(&a.st).low_power = r.ok();
                }
                Ok(r)
            }
            PowerState::D0 => {
                let r = self.oid(OidRequest::set_u32(
                    n::OID_PNP_SET_POWER,
                    n::NdisDeviceStateD0 as u32,
                ))?;
                if let Ok(a) = self.adapter() {
                    lock(&a.st).low_power = false;
                }
                if r.ok() && self.state() == AdapterState::Paused {
                    self.restart()?;
                }
                Ok(r)
            }
        }
    }

    /// The adapter state.
    pub fn state(&self) -> AdapterState {
        self.adapter
            .as_ref()
            .map_or(AdapterState::Halted, |a| a.state())
    }

    /// The attributes the driver set in its last initialisation (offload attributes updated
    /// by `NDIS_STATUS_TASK_OFFLOAD_*` indications, as NDIS keeps them).
    pub fn attributes(&self) -> Attributes {
        self.adapter
            .as_ref()
            .map(|a| a.attributes())
            .unwrap_or_default()
    }

    /// How many times CheckForHang ran and resets happened on the current adapter.
    pub fn hang_checks_and_resets(&self) -> (u32, u32) {
        self.adapter.as_ref().map_or((0, 0), |a| {
            (
                a.hang_checks.load(std::sync::atomic::Ordering::SeqCst),
                a.resets.load(std::sync::atomic::Ordering::SeqCst),
            )
        })
    }

    // -----------------------------------------------------------------------------------------
    // OIDs

    /// An OID request through `MiniportOidRequest`, waited for.
    pub fn oid(&mut self, req: OidRequest) -> Result<OidResult, LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.oid.request(&self.ndis, &a, &req, OidPath::Normal)
    }

    /// A query with an `len`-byte buffer.
    pub fn oid_query(&mut self, oid: n::NDIS_OID, len: u32) -> Result<OidResult, LifecycleError> {
        self.oid(OidRequest::query(oid, len))
    }

    /// A set.
    pub fn oid_set(&mut self, oid: n::NDIS_OID, data: &[u8]) -> Result<OidResult, LifecycleError> {
        self.oid(OidRequest::set(oid, data.to_vec()))
    }

    /// An OID request through the direct or synchronous path.
    pub fn oid_via(&mut self, req: OidRequest, path: OidPath) -> Result<OidResult, LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.oid.request(&self.ndis, &a, &req, path)
    }

    /// Starts an OID request and returns once the handler returned (it may be pending).
    pub fn oid_start(&mut self, req: OidRequest) -> Result<OidTicket, LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.oid.start(&self.ndis, &a, &req, OidPath::Normal)
    }

    /// Waits for a started OID request.
    pub fn oid_wait(&mut self, t: OidTicket) -> Result<OidResult, LifecycleError> {
        self.enter();
        let a = self.adapter()?.clone();
        a.oid.wait(&self.ndis, t)
    }

    /// `MiniportCancelOidRequest` for a started request.
    pub fn oid_cancel(&mut self, t: OidTicket) -> Result<(), LifecycleError> {
        self.enter();
        let a = self.adapter()?.clone();
        a.oid.cancel(&self.ndis, &a, t);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Datapath

    /// Builds a protocol NBL.
    pub fn nbl(&mut self, spec: &NblSpec) -> Result<ProtoNbl, BuildError> {
        let id = self.next_nbl.fetch_add(1, Ordering::Relaxed) + 1;
        ProtoNbl::build(&self.ndis, spec, id)
    }

    /// A protocol-edge handle to the current adapter's datapath that other threads can use
    /// (e.g. a sender thread next to a receiving one in a bench). See [`Protocol`].
    pub fn protocol(&self) -> Result<Protocol, LifecycleError> {
        Ok(Protocol {
            ndis: self.ndis.clone(),
            adapter: self.adapter()?.clone(),
            next_nbl: self.next_nbl.clone(),
            cpu: self.cpu,
        })
    }

    /// Sends NBLs as one chain (`MiniportSendNetBufferLists`, IRQL per the emulator policy).
    pub fn send(&mut self, nbls: Vec<ProtoNbl>) -> Result<(), LifecycleError> {
        self.send_with(nbls, SendOpts::default())
    }

    /// Sends with explicit options.
    pub fn send_with(&mut self, nbls: Vec<ProtoNbl>, opts: SendOpts) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.dp.send(&self.ndis, &a, nbls, opts)
    }

    /// `MiniportCancelSend` with a cancel id.
    pub fn cancel_send(&mut self, cancel_id: usize) -> Result<(), LifecycleError> {
        self.check();
        let a = self.adapter()?.clone();
        a.dp.cancel_send(&self.ndis, &a, cancel_id);
        Ok(())
    }

    /// Waits until `n` sends completed (or `timeout`); returns the completions so far.
    pub fn wait_completions(&mut self, n: usize, timeout: Duration) -> Vec<Completion> {
        self.enter();
        self.adapter
            .as_ref()
            .map(|a| a.dp.wait_completions(n, timeout))
            .unwrap_or_default()
    }

    /// Sent NBLs the miniport has not completed yet.
    pub fn outstanding_sends(&self) -> usize {
        self.adapter
            .as_ref()
            .map_or(0, |a| a.dp.outstanding_sends())
    }

    /// Indicated NBLs not yet returned to the miniport.
    pub fn outstanding_receives(&self) -> usize {
        self.adapter
            .as_ref()
            .map_or(0, |a| a.dp.outstanding_receives())
    }

    /// The next received NBL (waits up to `timeout`).
    pub fn recv(&mut self, timeout: Duration) -> Option<RxNbl> {
        self.enter();
        self.adapter.as_ref().and_then(|a| a.dp.recv(timeout))
    }

    /// Every received NBL captured so far.
    pub fn drain_received(&mut self) -> Vec<RxNbl> {
        self.adapter
            .as_ref()
            .map(|a| a.dp.drain_received())
            .unwrap_or_default()
    }

    /// Manual return mode: indicated NBLs stay with the protocol until
    /// [`Harness::return_received`] (or a pause).
    pub fn set_manual_return(&mut self, on: bool) {
        if let Some(a) = &self.adapter {
            a.dp.set_manual_return(on);
        }
    }

    /// Returns held NBLs (by `RxNbl::nbl`; `None` = all).
    pub fn return_received(&mut self, which: Option<&[usize]>) {
        self.enter();
        if let Some(a) = &self.adapter {
            a.dp.return_held(&self.ndis, a, which);
        }
    }

    /// Called (on the indicating thread, at its IRQL — do not block) for every received NBL.
    pub fn set_receive_callback(&mut self, f: Option<ReceiveCallback>) {
        if let Some(a) = &self.adapter {
            a.dp.set_callback(f);
        }
    }

    /// Called (on the indicating thread, at its IRQL — do not block) for every received NBL,
    /// with a view of its data in the miniport's buffers while the indication runs: no copy is
    /// made for it (with receive capture off and no [`Harness::set_receive_callback`], none at
    /// all). The contract checks run before it; it is called before the copying callback.
    pub fn set_receive_view_callback(&mut self, f: Option<ReceiveViewCallback>) {
        if let Some(a) = &self.adapter {
            a.dp.set_view_callback(f);
        }
    }

    /// Keep received NBLs for [`Harness::recv`] (default) or only count them.
    pub fn set_receive_capture(&mut self, on: bool) {
        if let Some(a) = &self.adapter {
            a.dp.set_capture(on);
        }
    }

    /// Datapath counters.
    pub fn datapath_stats(&self) -> DatapathStats {
        self.adapter
            .as_ref()
            .map(|a| a.dp.stats())
            .unwrap_or_default()
    }

    /// Delivers MSI-X message `m` as if the device had fired it (test hook); false without a
    /// registered interrupt or when `m` is not a granted message (a line interrupt takes any `m`).
    pub fn fire_interrupt(&mut self, m: u32) -> bool {
        let Some(a) = self.adapter.clone() else {
            return false;
        };
        let r = a.fire_interrupt(&self.ndis, m);
        self.enter();
        r
    }

    /// ISR calls made so far for the current adapter's interrupt.
    pub fn isr_calls(&self) -> u32 {
        self.adapter
            .as_ref()
            .and_then(|a| a.interrupt())
            .map_or(0, |i| i.isr_calls())
    }

    // -----------------------------------------------------------------------------------------
    // Observation

    /// Status indications of the current adapter.
    pub fn statuses(&self) -> Vec<StatusRecord> {
        self.adapter
            .as_ref()
            .map(|a| a.statuses())
            .unwrap_or_default()
    }

    /// Waits for a status indication with `code` (among all so far).
    pub fn wait_status(&self, code: n::NDIS_STATUS, timeout: Duration) -> Option<StatusRecord> {
        self.adapter
            .as_ref()
            .and_then(|a| a.wait_status(code, 0, timeout))
    }

    /// Waits for a status indication with `code` after the first `skip` ones.
    pub fn wait_status_after(
        &self,
        code: n::NDIS_STATUS,
        skip: usize,
        timeout: Duration,
    ) -> Option<StatusRecord> {
        self.adapter
            .as_ref()
            .and_then(|a| a.wait_status(code, skip, timeout))
    }

    /// Per-handler calls and CPU time.
    pub fn accounting(&self) -> AccountingSnapshot {
        self.ndis.acct.snapshot()
    }

    /// Resets the accounting counters.
    pub fn reset_accounting(&self) {
        self.ndis.acct.reset();
    }

    /// Takes the violations recorded so far (they no longer fail the test).
    pub fn take_violations(&self) -> Vec<Violation> {
        self.ndis.checks.take_violations()
    }

    /// Takes the violations and asserts one of `kind` is among them; returns it.
    pub fn expect_violation(&self, kind: Kind) -> Violation {
        let v = self.take_violations();
        match v.iter().find(|v| v.kind == kind) {
            Some(x) => x.clone(),
            None => panic!("expected a {kind:?} violation, got {v:#?}"),
        }
    }

    /// The first occurrence of each distinct warning so far (at most
    /// [`crate::checks::DISTINCT_WARNINGS`]; counts in [`Harness::warning_summary`]).
    pub fn warnings(&self) -> Vec<Violation> {
        self.ndis.checks.warnings()
    }

    /// Warning counts: total, per kind, per distinct warning.
    pub fn warning_summary(&self) -> WarningSummary {
        self.ndis.checks.warning_summary()
    }

    /// Do not print violations as they happen (for tests that provoke them).
    pub fn quiet(&self, on: bool) {
        self.ndis.checks.set_quiet(on);
    }

    /// What the driver logged.
    pub fn log(&self) -> Vec<LogLine> {
        lock(&self.ndis.log).clone()
    }

    /// The registry (edit it, then [`Harness::reinitialize`] or save it to its file).
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.ndis.registry)
    }

    /// Resources the driver holds now, with their owners (0 = driver).
    pub fn live_resources(&self) -> Vec<(usize, Res)> {
        self.ndis.track.owned_by(None)
    }

    /// Waits until no DPC and no work item is queued or running (timers may still be set);
    /// false on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let start = std::time::Instant::now();
        loop {
            if self.ndis.rt.dpcs_idle() && self.ndis.rt.work_idle() {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Bytes of DMA memory the emulator took from the bus (shared memory, protocol buffers,
    /// bounce buffers).
    pub fn dma_bytes_in_use(&self) -> usize {
        self.ndis.dma.bytes_in_use()
    }

    /// Scatter/gather lists the driver has not freed.
    pub fn outstanding_sg_lists(&self) -> usize {
        self.adapter
            .as_ref()
            .and_then(|a| a.dma())
            .map_or(0, |d| d.outstanding())
    }

    /// Handles (driver, adapter, pools, timers …) the emulator has given out and not released.
    pub fn live_handles(&self) -> usize {
        crate::handles::count(&self.ndis)
    }

    /// Makes the `nth` resource allocation from now on fail (`None` disarms); see
    /// [`crate::ndis::FailInjector`].
    pub fn fail_nth_allocation(&self, nth: Option<u64>) {
        self.ndis.fail.fail_nth(nth);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.enter();
        self.dropping = true;
        if !std::thread::panicking() {
            // Bring down what is still up, with every check.
            let _ = self.down();
        }
        let left = self.ndis.checks.take_violations();
        // Repeats that were counted inside the print interval are not lost from the output.
        self.ndis.checks.print_unprinted_summary();
        self.ndis.shutdown();
        crate::ctx::leave();
        if !left.is_empty() && !std::thread::panicking() {
            let list: Vec<String> = left.iter().map(|v| format!("  {v}")).collect();
            panic!(
                "ndis-emu: {} contract violation(s):\n{}",
                left.len(),
                list.join("\n")
            );
        }
    }
}

/// A `Clone + Send + Sync` handle to one adapter's datapath, as a protocol bound above the
/// miniport sees it: build NBLs, send them, collect completions and receives, from any thread.
///
/// Unlike [`Harness::send`], which hands NBLs to the miniport in any started state (so tests can
/// check it completes sends with `NDIS_STATUS_PAUSED` while paused), [`Protocol::send`] behaves
/// like NDIS's protocol edge: it only reaches the miniport while the adapter is Running and
/// returns [`LifecycleError::WrongState`] otherwise. A send that is in the miniport's send
/// handler when a pause starts finishes first (the pause waits for it), so a sender thread can
/// run across pauses without provoking violations.
///
/// Violations found while a `Protocol` is used are reported by the harness (its next call or its
/// drop). Completions and receives are per adapter: several threads waiting on them share one
/// queue. The handle keeps the adapter's bookkeeping alive, not the adapter: after a halt every
/// call returns `WrongState(Halted)`.
#[derive(Clone)]
pub struct Protocol {
    ndis: Arc<Ndis>,
    adapter: Arc<Adapter>,
    next_nbl: Arc<AtomicU64>,
    cpu: u32,
}

impl Protocol {
    fn enter(&self) {
        self.ndis.attach_thread(self.cpu);
    }

    /// Makes calls from this thread run on emulated CPU `cpu` (default: the harness's).
    pub fn on_cpu(mut self, cpu: u32) -> Protocol {
        self.cpu = cpu;
        self
    }

    /// Builds a protocol NBL (data in DMA-able memory unless the spec says otherwise).
    pub fn nbl(&self, spec: &NblSpec) -> Result<ProtoNbl, BuildError> {
        self.enter();
        let id = self.next_nbl.fetch_add(1, Ordering::Relaxed) + 1;
        ProtoNbl::build(&self.ndis, spec, id)
    }

    /// Sends NBLs as one chain if the adapter is Running.
    pub fn send(&self, nbls: Vec<ProtoNbl>) -> Result<(), LifecycleError> {
        self.send_with(nbls, SendOpts::default())
    }

    /// As [`Protocol::send`] with explicit options.
    pub fn send_with(&self, nbls: Vec<ProtoNbl>, opts: SendOpts) -> Result<(), LifecycleError> {
        self.enter();
        self.adapter
            .dp
            .send_running(&self.ndis, &self.adapter, nbls, opts)
    }

    /// Waits until `n` sends completed (or `timeout`); returns the completions taken.
    pub fn wait_completions(&self, n: usize, timeout: Duration) -> Vec<Completion> {
        self.enter();
        self.adapter.dp.wait_completions(n, timeout)
    }

    /// The next received NBL (needs receive capture, the default; waits up to `timeout`).
    pub fn recv(&self, timeout: Duration) -> Option<RxNbl> {
        self.enter();
        self.adapter.dp.recv(timeout)
    }

    /// Returns held receives (manual return mode; `None` = all).
    pub fn return_received(&self, which: Option<&[usize]>) {
        self.enter();
        self.adapter
            .dp
            .return_held(&self.ndis, &self.adapter, which);
    }

    /// Sent NBLs the miniport has not completed yet.
    pub fn outstanding_sends(&self) -> usize {
        self.adapter.dp.outstanding_sends()
    }

    /// Datapath counters.
    pub fn stats(&self) -> DatapathStats {
        self.adapter.dp.stats()
    }

    /// The adapter's state.
    pub fn state(&self) -> AdapterState {
        self.adapter.state()
    }
}
