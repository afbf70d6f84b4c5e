//! Driver load and unload: `DriverEntry` registers the miniport with NDIS (`NdisMRegisterMiniportDriver`),
//! the Unload handler deregisters it.
//!
//! NDIS version: like NetKVM's `SetRuntimeNdisVersion`, the driver registers with the OS's NDIS version
//! (`NdisGetVersion`) clamped down to the highest version it implements: 6.85, 6.83, 6.80 or 6.30. Registering
//! with a version newer than the OS would fail; registering lower than necessary would hide features
//! (USO needs 6.83, `NDIS_OFFLOAD` revision 7 needs 6.85). Older than 6.30 (Windows 7) is refused.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use ndis_sys as n;
use ndis_sys::NdisVersion;

use crate::log;
use crate::miniport;

/// Versions the driver can register with, highest first.
pub const SUPPORTED_NDIS_VERSIONS: [NdisVersion; 4] = [
    NdisVersion::V6_85,
    NdisVersion::V6_83,
    NdisVersion::V6_80,
    NdisVersion::V6_30,
];

/// The version to register with on an OS whose `NdisGetVersion` returned `os_runtime_version`;
/// `None` if the OS is older than every supported version or the value is malformed.
pub fn registration_version(os_runtime_version: u32) -> Option<NdisVersion> {
    let os = NdisVersion::from_runtime(os_runtime_version)?;
    SUPPORTED_NDIS_VERSIONS.into_iter().find(|v| *v <= os)
}

const fn parse_u8(s: &str) -> u8 {
    let mut b = s.as_bytes();
    let mut v: u32 = 0;
    while let [digit, rest @ ..] = b {
        v = v * 10 + (*digit - b'0') as u32;
        b = rest;
    }
    if v > 255 {
        255
    } else {
        v as u8
    }
}

/// Driver version reported in the characteristics (crate major.minor).
pub const DRIVER_VERSION: (u8, u8) = (
    parse_u8(env!("CARGO_PKG_VERSION_MAJOR")),
    parse_u8(env!("CARGO_PKG_VERSION_MINOR")),
);

/// The characteristics passed to `NdisMRegisterMiniportDriver` (revision 2: valid for every NDIS 6.30+
/// version; revision 3 only adds the optional synchronous-OID handler).
pub fn characteristics(version: NdisVersion) -> n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: version.major,
        MinorNdisVersion: version.minor,
        MajorDriverVersion: DRIVER_VERSION.0,
        MinorDriverVersion: DRIVER_VERSION.1,
        Flags: 0,
        SetOptionsHandler: Some(miniport::set_options),
        InitializeHandlerEx: Some(miniport::initialize_ex),
        HaltHandlerEx: Some(miniport::halt_ex),
        UnloadHandler: Some(driver_unload),
        PauseHandler: Some(miniport::pause),
        RestartHandler: Some(miniport::restart),
        OidRequestHandler: Some(miniport::oid_request),
        SendNetBufferListsHandler: Some(miniport::send_net_buffer_lists),
        ReturnNetBufferListsHandler: Some(miniport::return_net_buffer_lists),
        CancelSendHandler: Some(miniport::cancel_send),
        CheckForHangHandlerEx: Some(miniport::check_for_hang_ex),
        ResetHandlerEx: Some(miniport::reset_ex),
        DevicePnPEventNotifyHandler: Some(miniport::device_pnp_event_notify),
        ShutdownHandlerEx: Some(miniport::shutdown_ex),
        CancelOidRequestHandler: Some(miniport::cancel_oid_request),
        // No direct OID path: NDIS then sends every OID through OidRequestHandler.
        DirectOidRequestHandler: None,
        CancelDirectOidRequestHandler: None,
        // Not part of revision 2 (Header.Size excludes it); NDIS does not read it.
        SynchronousOidRequestHandler: None,
    }
}

/// `NdisMiniportDriverHandle` from registration, needed to deregister.
static DRIVER_HANDLE: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// `DriverEntry`: the image's entry point (PASSIVE_LEVEL, once per load).
///
/// # Safety
/// Called by the I/O manager with a valid driver object and registry path (or, on the host, by the
/// user-mode NDIS with equivalent fakes).
// Exported by name only in the driver image: on the host the user-mode NDIS calls `driver_entry`
// directly, and an exported symbol would keep every handler (and every NDIS import) alive in test
// binaries that never load the driver.
#[cfg_attr(target_os = "windows", unsafe(export_name = "DriverEntry"))]
pub unsafe extern "system" fn driver_entry(
    driver_object: n::PDRIVER_OBJECT,
    registry_path: n::PUNICODE_STRING,
) -> n::NTSTATUS {
    crate::platform::init();
    // SAFETY: NdisGetVersion has no preconditions.
    let os_version = unsafe { n::NdisGetVersion() };
    let Some(version) = registration_version(os_version) else {
        log!(
            Error,
            "NDIS {}.{} is older than 6.30; not loading",
            os_version >> 16,
            os_version & 0xFFFF
        );
        return n::NDIS_STATUS_BAD_VERSION;
    };
    log!(
        Info,
        "netkvmrs {} loading: OS NDIS {}.{}, registering as {}.{}, pool via {}",
        env!("CARGO_PKG_VERSION"),
        os_version >> 16,
        os_version & 0xFFFF,
        version.major,
        version.minor,
        crate::platform::allocator_name()
    );

    miniport::set_registered_version(version);
    let mut chars = characteristics(version);
    let mut handle: n::NDIS_HANDLE = ptr::null_mut();
    // SAFETY: driver object and registry path come from our caller unchanged; `chars` is a fully
    // initialised revision-2 characteristics structure NDIS copies during the call; `handle` is writable.
    let status = unsafe {
        n::NdisMRegisterMiniportDriver(
            driver_object,
            registry_path,
            ptr::null_mut(),
            &mut chars,
            &mut handle,
        )
    };
    if status != n::NDIS_STATUS_SUCCESS {
        log!(
            Error,
            "NdisMRegisterMiniportDriver failed: {:#010x}",
            status as u32
        );
        return status;
    }
    DRIVER_HANDLE.store(handle, Ordering::Release);
    n::STATUS_SUCCESS
}

/// `MiniportDriverUnload`: undo DriverEntry.
///
/// # Safety
/// Called by the I/O manager (PASSIVE_LEVEL) after every adapter was halted.
pub unsafe extern "system" fn driver_unload(_driver_object: n::PDRIVER_OBJECT) {
    let handle = DRIVER_HANDLE.swap(ptr::null_mut(), Ordering::AcqRel);
    if handle.is_null() {
        return;
    }
    log!(Info, "unloading");
    // SAFETY: `handle` is the handle NdisMRegisterMiniportDriver returned; swapping it out guarantees a
    // single deregistration.
    unsafe { n::NdisMDeregisterMiniportDriver(handle) };
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn rt(minor: u32) -> u32 {
        (6 << 16) | minor
    }

    #[test]
    fn os_version_is_clamped_down_to_a_supported_version() {
        let v = |minor| registration_version(rt(minor));
        assert_eq!(v(30), Some(NdisVersion::V6_30));
        assert_eq!(v(50), Some(NdisVersion::V6_30));
        assert_eq!(v(79), Some(NdisVersion::V6_30));
        assert_eq!(v(80), Some(NdisVersion::V6_80));
        assert_eq!(v(82), Some(NdisVersion::V6_80));
        assert_eq!(v(83), Some(NdisVersion::V6_83));
        assert_eq!(v(84), Some(NdisVersion::V6_83));
        assert_eq!(v(85), Some(NdisVersion::V6_85));
        assert_eq!(v(89), Some(NdisVersion::V6_85));
        assert_eq!(
            registration_version(7 << 16),
            Some(NdisVersion::V6_85),
            "a future major version"
        );
    }

    #[test]
    fn os_older_than_ndis_630_or_malformed_is_refused() {
        assert_eq!(registration_version(rt(20)), None);
        assert_eq!(registration_version(5 << 16 | 99), None);
        assert_eq!(
            registration_version(0x0006_0100),
            None,
            "minor does not fit a UCHAR"
        );
    }

    #[test]
    fn characteristics_header_matches_revision_2_and_all_mandatory_handlers_are_set() {
        let c = characteristics(NdisVersion::V6_83);
        assert_eq!(c.Header.Type, 0x8A);
        assert_eq!(c.Header.Revision, 2);
        assert_eq!(
            c.Header.Size, 152,
            "revision-2 size on x64 (through CancelDirectOidRequestHandler)"
        );
        assert_eq!((c.MajorNdisVersion, c.MinorNdisVersion), (6, 83));
        let crate_version = (
            env!("CARGO_PKG_VERSION_MAJOR").parse::<u8>().unwrap(),
            env!("CARGO_PKG_VERSION_MINOR").parse::<u8>().unwrap(),
        );
        assert_eq!((c.MajorDriverVersion, c.MinorDriverVersion), crate_version);
        assert!(
            c.InitializeHandlerEx.is_some()
                && c.HaltHandlerEx.is_some()
                && c.UnloadHandler.is_some()
        );
        assert!(
            c.PauseHandler.is_some() && c.RestartHandler.is_some() && c.OidRequestHandler.is_some()
        );
        assert!(c.SendNetBufferListsHandler.is_some() && c.ReturnNetBufferListsHandler.is_some());
        assert!(c.CancelSendHandler.is_some() && c.DevicePnPEventNotifyHandler.is_some());
        assert!(c.ShutdownHandlerEx.is_some() && c.CancelOidRequestHandler.is_some());
        // A direct OID handler without its cancel handler (or vice versa) is rejected by NDIS.
        assert_eq!(
            c.DirectOidRequestHandler.is_some(),
            c.CancelDirectOidRequestHandler.is_some()
        );
    }

    #[test]
    fn parse_u8_reads_decimal_and_saturates() {
        assert_eq!(parse_u8("0"), 0);
        assert_eq!(parse_u8("17"), 17);
        assert_eq!(parse_u8("300"), 255);
    }
}
