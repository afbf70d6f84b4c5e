//! The handlers registered in `NDIS_MINIPORT_DRIVER_CHARACTERISTICS`: `extern "system"` trampolines that
//! recover the adapter from `MiniportAdapterContext` and call into [`crate::adapter`]. No logic lives here;
//! the IRQL and what each handler may call are documented on the adapter methods (table in
//! `adapter`'s module docs).

use core::sync::atomic::{AtomicU32, Ordering};

use ndis_sys as n;

use crate::adapter::{init, Adapter};
use crate::log;

/// The NDIS version DriverEntry registered with (`major << 16 | minor`), for InitializeEx.
static REGISTERED_VERSION: AtomicU32 = AtomicU32::new(0);

/// Remembers the registered version (DriverEntry).
pub fn set_registered_version(v: n::NdisVersion) {
    REGISTERED_VERSION.store(v.runtime(), Ordering::Release);
}

fn registered_version() -> n::NdisVersion {
    n::NdisVersion::from_runtime(REGISTERED_VERSION.load(Ordering::Acquire))
        .filter(|v| v.major == 6)
        .unwrap_or(n::NdisVersion::V6_30)
}

/// Recover the adapter from `MiniportAdapterContext`.
///
/// # Safety
/// `context` is null or the pointer InitializeEx handed to NDIS, not yet halted.
unsafe fn adapter<'a>(context: n::NDIS_HANDLE) -> Option<&'a Adapter> {
    // SAFETY: per the function contract.
    unsafe { Adapter::from_context(context) }
}

/// `MiniportSetOptions` (PASSIVE_LEVEL): no optional services (no direct OID path, no RSSv2).
///
/// # Safety
/// NDIS calls it once from NdisMRegisterMiniportDriver with its driver handle.
pub unsafe extern "system" fn set_options(
    _driver: n::NDIS_HANDLE,
    _context: n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    n::NDIS_STATUS_SUCCESS
}

/// `MiniportInitializeEx` (PASSIVE_LEVEL).
///
/// # Safety
/// `params` is NULL or a valid `NDIS_MINIPORT_INIT_PARAMETERS` for the duration of the call (NDIS).
pub unsafe extern "system" fn initialize_ex(
    miniport_handle: n::NDIS_HANDLE,
    _driver_context: n::NDIS_HANDLE,
    params: n::PNDIS_MINIPORT_INIT_PARAMETERS,
) -> n::NDIS_STATUS {
    // SAFETY: forwarded contract.
    match unsafe { init::initialize(miniport_handle, registered_version(), params) } {
        Ok(_) => n::NDIS_STATUS_SUCCESS,
        Err(st) => st,
    }
}

/// `MiniportHaltEx` (PASSIVE_LEVEL): release everything.
///
/// # Safety
/// NDIS calls it once per initialised adapter with its context.
pub unsafe extern "system" fn halt_ex(context: n::NDIS_HANDLE, action: n::NDIS_HALT_ACTION) {
    if context.is_null() {
        return;
    }
    log!(Info, "HaltEx (action {})", action);
    // SAFETY: the context is the adapter InitializeEx created (a leaked Box); Halt is its last use.
    unsafe { init::teardown(context.cast::<Adapter>(), true) };
}

/// `MiniportPause` (PASSIVE_LEVEL).
///
/// # Safety
/// NDIS passes the adapter context.
pub unsafe extern "system" fn pause(
    context: n::NDIS_HANDLE,
    _params: n::PNDIS_MINIPORT_PAUSE_PARAMETERS,
) -> n::NDIS_STATUS {
    // SAFETY: forwarded.
    unsafe { adapter(context) }.map_or(n::NDIS_STATUS_SUCCESS, Adapter::pause)
}

/// `MiniportRestart` (PASSIVE_LEVEL).
///
/// # Safety
/// NDIS passes the adapter context.
pub unsafe extern "system" fn restart(
    context: n::NDIS_HANDLE,
    _params: n::PNDIS_MINIPORT_RESTART_PARAMETERS,
) -> n::NDIS_STATUS {
    // SAFETY: forwarded.
    unsafe { adapter(context) }.map_or(n::NDIS_STATUS_FAILURE, Adapter::restart)
}

/// `MiniportOidRequest` (<= DISPATCH_LEVEL).
///
/// # Safety
/// NDIS passes the adapter context and a live request.
pub unsafe extern "system" fn oid_request(
    context: n::NDIS_HANDLE,
    request: n::PNDIS_OID_REQUEST,
) -> n::NDIS_STATUS {
    // SAFETY: forwarded.
    match unsafe { adapter(context) } {
        // SAFETY: forwarded.
        Some(a) => unsafe { a.oid_request(request) },
        None => n::NDIS_STATUS_FAILURE,
    }
}

/// `MiniportSendNetBufferLists` (<= DISPATCH_LEVEL).
///
/// # Safety
/// `nbls` is a valid NBL chain owned by the miniport until completed (NDIS).
pub unsafe extern "system" fn send_net_buffer_lists(
    context: n::NDIS_HANDLE,
    nbls: n::PNET_BUFFER_LIST,
    port: n::NDIS_PORT_NUMBER,
    send_flags: n::ULONG,
) {
    // SAFETY: forwarded.
    if let Some(a) = unsafe { adapter(context) } {
        // SAFETY: forwarded.
        unsafe { a.send(nbls, port, send_flags) };
    }
}

/// `MiniportReturnNetBufferLists` (<= DISPATCH_LEVEL).
///
/// # Safety
/// `nbls` is a chain this miniport indicated.
pub unsafe extern "system" fn return_net_buffer_lists(
    context: n::NDIS_HANDLE,
    nbls: n::PNET_BUFFER_LIST,
    flags: n::ULONG,
) {
    // SAFETY: forwarded.
    if let Some(a) = unsafe { adapter(context) } {
        // SAFETY: forwarded.
        unsafe { a.return_nbls(nbls, flags) };
    }
}

/// `MiniportCancelSend` (<= DISPATCH_LEVEL).
///
/// # Safety
/// NDIS passes the adapter context.
pub unsafe extern "system" fn cancel_send(context: n::NDIS_HANDLE, cancel_id: n::PVOID) {
    // SAFETY: forwarded.
    if let Some(a) = unsafe { adapter(context) } {
        a.cancel_send(cancel_id);
    }
}

/// `MiniportCheckForHangEx` (PASSIVE_LEVEL).
///
/// # Safety
/// NDIS passes the adapter context.
pub unsafe extern "system" fn check_for_hang_ex(context: n::NDIS_HANDLE) -> n::BOOLEAN {
    // SAFETY: forwarded.
    n::BOOLEAN::from(unsafe { adapter(context) }.is_some_and(Adapter::check_for_hang))
}

/// `MiniportResetEx` (<= DISPATCH_LEVEL).
///
/// # Safety
/// `addressing_reset` is NULL or writable (NDIS).
pub unsafe extern "system" fn reset_ex(
    context: n::NDIS_HANDLE,
    addressing_reset: *mut n::BOOLEAN,
) -> n::NDIS_STATUS {
    let mut scratch = n::FALSE;
    // SAFETY: NDIS passes a valid out-parameter (or NULL, which we tolerate).
    let out = unsafe { addressing_reset.as_mut() }.unwrap_or(&mut scratch);
    // SAFETY: forwarded.
    match unsafe { adapter(context) } {
        Some(a) => a.reset(out),
        None => {
            *out = n::FALSE;
            n::NDIS_STATUS_SUCCESS
        }
    }
}

/// `MiniportDevicePnPEventNotify` (PASSIVE_LEVEL).
///
/// # Safety
/// `event` is NULL or a valid event structure.
pub unsafe extern "system" fn device_pnp_event_notify(
    context: n::NDIS_HANDLE,
    event: n::PNET_DEVICE_PNP_EVENT,
) {
    // SAFETY: NDIS passes a valid event or NULL.
    let Some(ev) = (unsafe { event.as_ref() }) else {
        return;
    };
    // SAFETY: forwarded.
    if let Some(a) = unsafe { adapter(context) } {
        a.pnp_event(ev.DevicePnPEvent);
    }
}

/// `MiniportShutdownEx` (PASSIVE_LEVEL or HIGH_LEVEL during a bugcheck: one register write only).
///
/// # Safety
/// NDIS passes the adapter context.
pub unsafe extern "system" fn shutdown_ex(
    context: n::NDIS_HANDLE,
    action: n::NDIS_SHUTDOWN_ACTION,
) {
    // SAFETY: forwarded.
    if let Some(a) = unsafe { adapter(context) } {
        a.shutdown(action);
    }
}

/// `MiniportCancelOidRequest` (<= DISPATCH_LEVEL).
///
/// # Safety
/// NDIS passes the adapter context.
pub unsafe extern "system" fn cancel_oid_request(context: n::NDIS_HANDLE, request_id: n::PVOID) {
    // SAFETY: forwarded.
    if let Some(a) = unsafe { adapter(context) } {
        a.cancel_oid(request_id);
    }
}
