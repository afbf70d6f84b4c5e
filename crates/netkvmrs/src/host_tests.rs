//! Host test of the load path: a minimal stand-in for NDIS (the symbols the user-mode NDIS of crates/ndis-emu
//! provides in real runs) records what the driver does, so DriverEntry → NdisMRegisterMiniportDriver →
//! InitializeEx → Unload is checked on Linux with the same code the .sys runs.
//!
//! One test drives the whole sequence because the driver keeps a global registration handle.

extern crate std;

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use ndis_sys as n;

static OS_VERSION: AtomicU32 = AtomicU32::new(0);
static REGISTERED: Mutex<Option<n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS>> = Mutex::new(None);
static DEREGISTERED: AtomicUsize = AtomicUsize::new(0);
static LOG: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
const DRIVER_HANDLE: usize = 0xD00D;

// The stand-in NDIS: same names and signatures as the ndis-sys declarations.
#[unsafe(no_mangle)]
extern "system" fn NdisGetVersion() -> n::UINT {
    OS_VERSION.load(Ordering::SeqCst)
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMRegisterMiniportDriver(
    _driver: n::PDRIVER_OBJECT,
    _registry: n::PUNICODE_STRING,
    _context: n::NDIS_HANDLE,
    chars: n::PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    handle: *mut n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    // SAFETY: the driver passes a valid characteristics structure and a writable handle.
    let copy = unsafe { core::ptr::read(chars) };
    *REGISTERED.lock().unwrap() = Some(copy);
    // SAFETY: see above.
    unsafe { handle.write(DRIVER_HANDLE as n::NDIS_HANDLE) };
    n::NDIS_STATUS_SUCCESS
}

#[unsafe(no_mangle)]
extern "system" fn NdisMDeregisterMiniportDriver(handle: n::NDIS_HANDLE) {
    assert_eq!(
        handle as usize, DRIVER_HANDLE,
        "deregistered with the handle NDIS returned"
    );
    DEREGISTERED.fetch_add(1, Ordering::SeqCst);
}

#[unsafe(no_mangle)]
unsafe extern "C" fn NetkvmHostLog(level: u32, msg: *const u8, len: usize) {
    // SAFETY: the seam passes a valid byte slice.
    let bytes = unsafe { core::slice::from_raw_parts(msg, len) };
    LOG.lock()
        .unwrap()
        .push((level, String::from_utf8_lossy(bytes).into_owned()));
}

fn logged(needle: &str) -> bool {
    LOG.lock().unwrap().iter().any(|(_, m)| m.contains(needle))
}

#[test]
fn load_register_refuse_hardware_and_unload_on_the_host() {
    // An OS older than 6.30 is refused before registering.
    OS_VERSION.store((6 << 16) | 20, Ordering::SeqCst);
    // SAFETY: the stand-in NDIS accepts null driver object / registry path.
    let st = unsafe { crate::driver_entry(core::ptr::null_mut(), core::ptr::null_mut()) };
    assert_eq!(st, n::NDIS_STATUS_BAD_VERSION);
    assert!(REGISTERED.lock().unwrap().is_none());
    assert!(logged("older than 6.30"));

    // NDIS 6.84 (Server 2022): registers as 6.83.
    OS_VERSION.store((6 << 16) | 84, Ordering::SeqCst);
    // SAFETY: as above.
    let st = unsafe { crate::driver_entry(core::ptr::null_mut(), core::ptr::null_mut()) };
    assert_eq!(st, n::STATUS_SUCCESS);
    let chars = REGISTERED.lock().unwrap().take().expect("registered");
    assert_eq!((chars.MajorNdisVersion, chars.MinorNdisVersion), (6, 83));
    assert!(logged("registering as 6.83"));

    // InitializeEx without resources: clean failure.
    let init = chars.InitializeHandlerEx.expect("InitializeEx");
    let mut params: n::NDIS_MINIPORT_INIT_PARAMETERS =
        // SAFETY: plain-data structure; all-zero is a valid (empty) value: header 0, NULL pointers.
        unsafe { core::mem::zeroed() };
    // SAFETY: valid parameter block, AllocatedResources NULL.
    let st = unsafe { init(0xAD0 as *mut c_void, core::ptr::null_mut(), &mut params) };
    assert_eq!(st, n::NDIS_STATUS_ADAPTER_NOT_FOUND);
    // SAFETY: NULL parameters are tolerated too.
    let st = unsafe {
        init(
            0xAD0 as *mut c_void,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
    };
    assert_eq!(st, n::NDIS_STATUS_ADAPTER_NOT_FOUND);
    assert!(logged("NoResourceList"));

    // Unload deregisters exactly once, even if called again.
    let unload = chars.UnloadHandler.expect("Unload");
    // SAFETY: the stand-in ignores the driver object.
    unsafe { unload(core::ptr::null_mut()) };
    // SAFETY: as above.
    unsafe { unload(core::ptr::null_mut()) };
    assert_eq!(DEREGISTERED.load(Ordering::SeqCst), 1);
}

#[unsafe(no_mangle)]
extern "system" fn NdisMSendNetBufferListsComplete(
    _adapter: n::NDIS_HANDLE,
    _nbls: n::PNET_BUFFER_LIST,
    _flags: n::ULONG,
) {
    panic!("no send can reach the driver while InitializeEx always fails");
}
