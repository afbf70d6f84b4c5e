//! The miniport handlers registered in `NDIS_MINIPORT_DRIVER_CHARACTERISTICS`.
//!
//! Skeleton stage (issue 2): `MiniportInitializeEx` allocates the adapter context, validates the hardware
//! resources and — since virtio device bring-up arrives with the miniport issue — fails cleanly: with no
//! usable memory BAR it returns `NDIS_STATUS_ADAPTER_NOT_FOUND`, with one it returns
//! `NDIS_STATUS_NOT_SUPPORTED`; either way everything it allocated is freed. Because InitializeEx never
//! succeeds yet, NDIS never calls the per-adapter handlers below; they still behave correctly for an adapter
//! context (complete sends with a failure status, fail OIDs, release the context on Halt) so the table is
//! honest and later work replaces them one by one.

use alloc::boxed::Box;
use core::ptr;

use ndis_sys as n;

use crate::log;
use crate::resources::{self, PciResources, ResourceError};

// Declared here until ndis-sys's ffi declares it (same signature as ndis.h); then use `n::` and drop this.
#[cfg_attr(
    target_os = "windows",
    link(name = "NDIS.SYS", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// `NdisMSendNetBufferListsComplete` (<= DISPATCH_LEVEL).
    fn NdisMSendNetBufferListsComplete(
        MiniportAdapterHandle: n::NDIS_HANDLE,
        NetBufferLists: n::PNET_BUFFER_LIST,
        SendCompleteFlags: n::ULONG,
    );
}

/// Per-adapter state (`MiniportAdapterContext`).
pub struct Adapter {
    /// `NdisMiniportHandle` given to InitializeEx; identifies the adapter in every Ndis* call.
    pub miniport_handle: n::NDIS_HANDLE,
    pub resources: PciResources,
}

/// Allocate without aborting on failure (`Box::new` would abort = bugcheck in the kernel).
fn try_box<T>(value: T) -> Option<Box<T>> {
    let layout = core::alloc::Layout::new::<T>();
    if layout.size() == 0 {
        return Some(Box::new(value));
    }
    // SAFETY: non-zero-sized layout of T.
    let p = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is a fresh, suitably aligned allocation for one T.
    unsafe { p.write(value) };
    // SAFETY: `p` was allocated by the global allocator with T's layout and holds an initialised T.
    Some(unsafe { Box::from_raw(p) })
}

/// Map a resource problem to the NDIS status InitializeEx returns.
pub fn init_status_for(e: ResourceError) -> n::NDIS_STATUS {
    match e {
        // No resource list or no BAR: this is not a device we can drive.
        ResourceError::NoResourceList | ResourceError::NoMemoryBar => {
            n::NDIS_STATUS_ADAPTER_NOT_FOUND
        }
        // A list we cannot make sense of: the resources are unusable, not missing.
        ResourceError::TooManyDescriptors { .. }
        | ResourceError::TooManyMemoryRanges
        | ResourceError::BadMemoryDescriptor { .. } => n::NDIS_STATUS_RESOURCE_CONFLICT,
    }
}

/// `MiniportSetOptions` (PASSIVE_LEVEL): no optional services yet.
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
    let Some(mut adapter) = try_box(Adapter {
        miniport_handle,
        resources: PciResources::default(),
    }) else {
        log!(Error, "InitializeEx: cannot allocate the adapter context");
        return n::NDIS_STATUS_RESOURCES;
    };
    // SAFETY: NDIS passes NULL or a valid parameter block; we only read AllocatedResources.
    let list = unsafe { params.as_ref() }.map_or(ptr::null_mut(), |p| p.AllocatedResources);
    // SAFETY: AllocatedResources is NULL or a resource list valid during InitializeEx.
    match unsafe { resources::from_list(list) } {
        Err(e) => {
            log!(Error, "InitializeEx: unusable hardware resources: {:?}", e);
            init_status_for(e)
        }
        Ok(r) => {
            adapter.resources = r;
            log!(
                Warn,
                "InitializeEx: {} memory BAR(s), {} MSI message(s); virtio bring-up not implemented yet",
                r.memory_count,
                r.message_interrupts
            );
            n::NDIS_STATUS_NOT_SUPPORTED
        }
    }
    // `adapter` is dropped here: a failed InitializeEx must leave nothing allocated.
}

/// Recover the adapter from `MiniportAdapterContext`.
///
/// # Safety
/// `context` must be the pointer InitializeEx handed to NDIS (`Box::into_raw` of an [`Adapter`]) and the
/// adapter must not be halted yet.
unsafe fn adapter<'a>(context: n::NDIS_HANDLE) -> Option<&'a Adapter> {
    // SAFETY: per the function contract.
    unsafe { context.cast::<Adapter>().as_ref() }
}

/// `MiniportHaltEx` (PASSIVE_LEVEL): release the adapter context.
///
/// # Safety
/// `context` is NULL or the adapter context InitializeEx returned; NDIS calls Halt once per adapter.
pub unsafe extern "system" fn halt_ex(context: n::NDIS_HANDLE, _action: n::NDIS_HALT_ACTION) {
    if !context.is_null() {
        // SAFETY: NDIS calls Halt once per successfully initialised adapter with the context from
        // InitializeEx, which was a leaked Box<Adapter>.
        drop(unsafe { Box::from_raw(context.cast::<Adapter>()) });
    }
}

/// `MiniportPause`: nothing in flight yet, so pausing completes synchronously.
///
/// # Safety
/// `context` is an adapter context from InitializeEx (NDIS).
pub unsafe extern "system" fn pause(
    _context: n::NDIS_HANDLE,
    _params: n::PNDIS_MINIPORT_PAUSE_PARAMETERS,
) -> n::NDIS_STATUS {
    n::NDIS_STATUS_SUCCESS
}

/// `MiniportRestart`: no datapath yet; restarting is immediate.
///
/// # Safety
/// `context` is an adapter context from InitializeEx (NDIS).
pub unsafe extern "system" fn restart(
    _context: n::NDIS_HANDLE,
    _params: n::PNDIS_MINIPORT_RESTART_PARAMETERS,
) -> n::NDIS_STATUS {
    n::NDIS_STATUS_SUCCESS
}

/// `MiniportOidRequest`: no OID is supported yet.
///
/// # Safety
/// `context` is an adapter context from InitializeEx and `request` a valid OID request (NDIS).
pub unsafe extern "system" fn oid_request(
    _context: n::NDIS_HANDLE,
    _request: n::PNDIS_OID_REQUEST,
) -> n::NDIS_STATUS {
    n::NDIS_STATUS_NOT_SUPPORTED
}

/// `MiniportSendNetBufferLists`: no transmit path yet — every NBL is completed at once with a failure
/// status, as NDIS requires (a miniport must complete every NBL it is given).
///
/// # Safety
/// `nbls` is a valid NBL chain owned by the miniport until completed (NDIS).
pub unsafe extern "system" fn send_net_buffer_lists(
    context: n::NDIS_HANDLE,
    nbls: n::PNET_BUFFER_LIST,
    _port: n::NDIS_PORT_NUMBER,
    send_flags: n::ULONG,
) {
    // SAFETY: NDIS passes our adapter context.
    let Some(adapter) = (unsafe { adapter(context) }) else {
        return;
    };
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: `nbl` is an element of the chain NDIS handed us; we own it until completion.
        let nbl_ref = unsafe { &mut *nbl };
        nbl_ref.set_status(n::NDIS_STATUS_FAILURE);
        nbl = nbl_ref.next_nbl();
    }
    let complete_flags = if send_flags & n::NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0 {
        n::NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    // SAFETY: completing the whole chain we were given, once, with the adapter's miniport handle.
    unsafe { NdisMSendNetBufferListsComplete(adapter.miniport_handle, nbls, complete_flags) };
}

/// `MiniportReturnNetBufferLists`: the driver indicates no receives yet, so there is nothing to return.
///
/// # Safety
/// `nbls` are NBLs this driver indicated (NDIS).
pub unsafe extern "system" fn return_net_buffer_lists(
    _context: n::NDIS_HANDLE,
    _nbls: n::PNET_BUFFER_LIST,
    _flags: n::ULONG,
) {
}

/// `MiniportCancelSend`: sends are completed synchronously, nothing is ever pending.
///
/// # Safety
/// `context` is an adapter context from InitializeEx (NDIS).
pub unsafe extern "system" fn cancel_send(_context: n::NDIS_HANDLE, _cancel_id: n::PVOID) {}

/// `MiniportCheckForHangEx`: nothing can hang yet.
///
/// # Safety
/// `context` is an adapter context from InitializeEx (NDIS).
pub unsafe extern "system" fn check_for_hang_ex(_context: n::NDIS_HANDLE) -> n::BOOLEAN {
    n::FALSE
}

/// `MiniportResetEx`: no device state to reset; no addressing reset needed.
///
/// # Safety
/// `addressing_reset` is NULL or writable (NDIS).
pub unsafe extern "system" fn reset_ex(
    _context: n::NDIS_HANDLE,
    addressing_reset: *mut n::BOOLEAN,
) -> n::NDIS_STATUS {
    // SAFETY: NDIS passes a valid out-parameter (or NULL, which we tolerate).
    if let Some(a) = unsafe { addressing_reset.as_mut() } {
        *a = n::FALSE;
    }
    n::NDIS_STATUS_SUCCESS
}

/// `MiniportDevicePnPEventNotify`: surprise removal and power-profile events need no action yet.
///
/// # Safety
/// `event` is a valid PnP event for the duration of the call (NDIS).
pub unsafe extern "system" fn device_pnp_event_notify(
    _context: n::NDIS_HANDLE,
    _event: n::PNET_DEVICE_PNP_EVENT,
) {
}

/// `MiniportShutdownEx`: no device to quiesce yet.
///
/// # Safety
/// May run at high IRQL on bugcheck shutdown: must not block or allocate (it does nothing).
pub unsafe extern "system" fn shutdown_ex(
    _context: n::NDIS_HANDLE,
    _action: n::NDIS_SHUTDOWN_ACTION,
) {
}

/// `MiniportCancelOidRequest`: OIDs complete synchronously, nothing is ever pending.
///
/// # Safety
/// `context` is an adapter context from InitializeEx (NDIS).
pub unsafe extern "system" fn cancel_oid_request(_context: n::NDIS_HANDLE, _request_id: n::PVOID) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_resources_mean_adapter_not_found_and_garbled_ones_a_conflict() {
        assert_eq!(
            init_status_for(ResourceError::NoResourceList),
            n::NDIS_STATUS_ADAPTER_NOT_FOUND
        );
        assert_eq!(
            init_status_for(ResourceError::NoMemoryBar),
            n::NDIS_STATUS_ADAPTER_NOT_FOUND
        );
        assert_eq!(
            init_status_for(ResourceError::TooManyMemoryRanges),
            n::NDIS_STATUS_RESOURCE_CONFLICT
        );
        // Every mapping is an error status (severity bits 11).
        for e in [
            ResourceError::NoResourceList,
            ResourceError::TooManyDescriptors { count: 9999 },
            ResourceError::TooManyMemoryRanges,
            ResourceError::BadMemoryDescriptor { index: 0 },
            ResourceError::NoMemoryBar,
        ] {
            assert_eq!((init_status_for(e) as u32) >> 30, 0b11, "{e:?}");
        }
    }
}
