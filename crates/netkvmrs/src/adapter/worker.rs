//! The control worker: one NDIS IO work item (PASSIVE_LEVEL) that does everything the control plane
//! cannot do at DISPATCH_LEVEL — the ResetEx re-initialisation, configuration-change handling (link state,
//! guest announce, NEEDS_RESET) and OIDs that arrived while the control lock was busy.
//!
//! Work is requested with [`WorkItem::schedule`] (any IRQL <= DISPATCH): a bit in `pending`, and the item
//! queued unless it already is. The routine clears `queued` first, then drains `pending` until empty, so
//! a request made while it runs re-queues the item and is never lost. Two instances serialise on the
//! adapter's control lock.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use ndis_sys as n;

use super::device::{link_from_config, Health};
use super::{Adapter, Control, FLAG_HALTING, FLAG_LOW_POWER, FLAG_NEEDS_RESET, FLAG_REMOVED};
use crate::log;

/// ResetEx asked for a re-initialisation.
pub const WORK_RESET: u32 = 1 << 0;
/// An OID is pending (`Adapter::pending_oid`).
pub const WORK_OID: u32 = 1 << 1;
/// A configuration-change interrupt arrived.
pub const WORK_CONFIG: u32 = 1 << 2;

/// The adapter's work item and its request bits.
pub struct WorkItem {
    handle: AtomicPtr<core::ffi::c_void>,
    pending: AtomicU32,
    queued: AtomicBool,
    running: AtomicBool,
}

impl WorkItem {
    /// Not allocated yet.
    pub const fn new() -> Self {
        Self {
            handle: AtomicPtr::new(ptr::null_mut()),
            pending: AtomicU32::new(0),
            queued: AtomicBool::new(false),
            running: AtomicBool::new(false),
        }
    }

    /// `NdisAllocateIoWorkItem` (InitializeEx). False on failure.
    #[allow(clippy::not_unsafe_ptr_arg_deref)] // opaque NDIS handle, passed through only
    pub fn allocate(&self, miniport: n::NDIS_HANDLE) -> bool {
        // SAFETY: a valid miniport adapter handle; callable at <= DISPATCH_LEVEL.
        let h = unsafe { n::NdisAllocateIoWorkItem(miniport) };
        self.handle.store(h, Ordering::Release);
        !h.is_null()
    }

    /// Requests `what` (`WORK_*`). <= DISPATCH_LEVEL. Ignored once the adapter is halting.
    pub fn schedule(&self, adapter: &Adapter, what: u32) {
        self.pending.fetch_or(what, Ordering::AcqRel);
        if adapter.has_flag(FLAG_HALTING) {
            return;
        }
        let h = self.handle.load(Ordering::Acquire);
        if h.is_null() || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: `h` is an allocated work item not currently queued (the swap above); the context is the
        // adapter, which outlives the item (Halt waits for it before freeing either).
        unsafe { n::NdisQueueIoWorkItem(h, Some(work_routine), adapter.as_context().cast_mut()) };
    }

    /// Requests still pending (tests and diagnostics).
    pub fn pending(&self) -> u32 {
        self.pending.load(Ordering::Acquire)
    }

    /// Waits (PASSIVE) until the item is neither queued nor running.
    pub fn wait_idle(&self) {
        while self.queued.load(Ordering::Acquire) || self.running.load(Ordering::Acquire) {
            // SAFETY: PASSIVE_LEVEL (Halt / failed InitializeEx).
            unsafe { n::NdisMSleep(1000) };
        }
    }

    /// `NdisFreeIoWorkItem` (after [`WorkItem::wait_idle`]).
    pub fn free(&self) {
        let h = self.handle.swap(ptr::null_mut(), Ordering::AcqRel);
        if !h.is_null() {
            // SAFETY: allocated by `allocate`, idle, freed once (swapped out).
            unsafe { n::NdisFreeIoWorkItem(h) };
        }
    }
}

impl Default for WorkItem {
    fn default() -> Self {
        Self::new()
    }
}

/// `NDIS_IO_WORKITEM_ROUTINE` (PASSIVE_LEVEL).
///
/// # Safety
/// Called by NDIS with the adapter as context.
unsafe extern "system" fn work_routine(context: n::PVOID, _item: n::NDIS_HANDLE) {
    // SAFETY: the context is the adapter; Halt waits for the routine before freeing it.
    let Some(adapter) = (unsafe { Adapter::from_context(context) }) else {
        return;
    };
    let w = &adapter.work;
    w.running.store(true, Ordering::Release);
    w.queued.store(false, Ordering::Release);
    loop {
        let what = w.pending.swap(0, Ordering::AcqRel);
        if what == 0 {
            break;
        }
        let mut ctl = adapter.control.lock();
        if what & WORK_RESET != 0 {
            adapter.do_reset(&mut ctl);
        }
        if what & WORK_OID != 0 {
            adapter.run_pending_oid(&mut ctl);
        }
        if what & WORK_CONFIG != 0 && !adapter.has_flag(FLAG_HALTING) {
            config_changed(adapter, &mut ctl);
        }
    }
    w.running.store(false, Ordering::Release);
}

/// Configuration change (PASSIVE, control lock held): re-read the device configuration, indicate a link
/// change, answer a guest-announce request, detect NEEDS_RESET.
pub fn config_changed(adapter: &Adapter, ctl: &mut Control) {
    if !adapter.device_usable() || adapter.has_flag(FLAG_LOW_POWER | FLAG_REMOVED) {
        return;
    }
    let Some(dev) = ctl.device.as_mut() else {
        return;
    };
    match dev.health() {
        Ok(()) => {}
        Err(Health::Gone) => {
            log!(Error, "configuration change: device gone");
            adapter.mark_failed();
            return;
        }
        Err(h) => {
            log!(Warn, "configuration change: {:?}; requesting a reset", h);
            adapter.request_reset();
            return;
        }
    }
    if adapter.has_flag(FLAG_NEEDS_RESET) {
        return;
    }
    adapter.note_generation(dev.transport.config_generation());
    let net = match dev.transport.read_net_config() {
        Ok(c) => c,
        Err(e) => {
            log!(
                Error,
                "configuration read failed: {:?}; requesting a reset",
                e
            );
            adapter.request_reset();
            return;
        }
    };
    dev.net = net;
    let link = link_from_config(&net);
    if link != ctl.state.link {
        log!(
            Info,
            "link {} ({} Mb/s)",
            if link.connect == n::MediaConnectStateConnected {
                "up"
            } else {
                "down"
            },
            link.speed_bps / 1_000_000
        );
        ctl.state.link = link;
        if let Some(dp) = adapter.datapath.get() {
            dp.set_link(link.connect == n::MediaConnectStateConnected);
        }
        adapter.indicate_link(&link);
    }
    if net.announce {
        crate::announce::announce(adapter, dev, &ctl.state);
    }
}
