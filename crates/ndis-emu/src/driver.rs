//! Driver registration (`NdisMRegisterMiniportDriver` with the characteristics checks NDIS
//! makes), deregistration, `MiniportSetOptions`, version and routine queries, logging sinks
//! (`NetkvmHostLog`, `DbgPrint`, event/error log entries) and `KeBugCheckEx`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ndis_sys as n;

use crate::accounting::Handler;
use crate::checks::{self, Kind};
use crate::ctx;
use crate::handles::{self, Obj};
use crate::ndis::{guard, lock, Ndis};

/// Minor NDIS 6 versions a miniport can register with.
pub const KNOWN_MINORS: [u8; 20] = [
    0, 1, 20, 30, 40, 50, 51, 52, 60, 70, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,
];

/// A registered miniport driver.
pub(crate) struct DriverBlock {
    pub(crate) chars: n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    pub(crate) context: usize,
    registered: n::NdisVersion,
    pub(crate) driver_object: usize,
    pub(crate) deregistered: AtomicBool,
    pub(crate) optional: Mutex<Vec<u8>>,
}

// SAFETY: the characteristics are function pointers and plain data, usable from any thread.
unsafe impl Send for DriverBlock {}
// SAFETY: as above.
unsafe impl Sync for DriverBlock {}

impl DriverBlock {
    /// The NDIS version the driver registered with.
    pub(crate) fn registered_version(&self) -> n::NdisVersion {
        self.registered
    }
}

thread_local! {
    static IN_SET_OPTIONS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Validates characteristics as NDIS does; `Err(status)` with a violation recorded.
fn validate(
    ndis: &Ndis,
    c: &n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    api: &'static str,
) -> Result<n::NdisVersion, n::NDIS_STATUS> {
    let h = c.Header;
    let running = ndis.version();
    let bad = |m: String| {
        ndis.checks.violation(Kind::BadHeader, api, m);
        Err(n::NDIS_STATUS_BAD_CHARACTERISTICS)
    };
    if h.Type != n::NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS {
        return bad(format!(
            "header type {:#x}, want {:#x}",
            h.Type,
            n::NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS
        ));
    }
    let min = match h.Revision {
        n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1 => {
            n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1
        }
        n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 => {
            n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2
        }
        n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3 => {
            n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3
        }
        r => return bad(format!("unknown characteristics revision {r}")),
    };
    if h.Size < min {
        return bad(format!(
            "revision {} needs Header.Size >= {min}, got {}",
            h.Revision, h.Size
        ));
    }
    let v = n::NdisVersion {
        major: c.MajorNdisVersion,
        minor: c.MinorNdisVersion,
    };
    if v.major != 6 || !KNOWN_MINORS.contains(&v.minor) {
        ndis.checks.violation(
            Kind::BadParameter,
            api,
            format!(
                "NDIS version {}.{} is not a miniport version",
                v.major, v.minor
            ),
        );
        return Err(n::NDIS_STATUS_BAD_VERSION);
    }
    if v > running {
        ndis.checks.warning(
            Kind::BadParameter,
            api,
            format!(
                "registering as NDIS {}.{} on an NDIS {}.{} system fails with NDIS_STATUS_BAD_VERSION",
                v.major, v.minor, running.major, running.minor
            ),
        );
        return Err(n::NDIS_STATUS_BAD_VERSION);
    }
    if h.Revision >= n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2
        && v < (n::NdisVersion { major: 6, minor: 1 })
    {
        return bad("characteristics revision 2 needs NDIS 6.1 or later".into());
    }
    if h.Revision >= n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3 && v < n::NdisVersion::V6_80
    {
        return bad("characteristics revision 3 needs NDIS 6.80 or later".into());
    }
    let mut missing = Vec::new();
    let req: [(&str, bool); 12] = [
        ("InitializeHandlerEx", c.InitializeHandlerEx.is_some()),
        ("HaltHandlerEx", c.HaltHandlerEx.is_some()),
        ("UnloadHandler", c.UnloadHandler.is_some()),
        ("PauseHandler", c.PauseHandler.is_some()),
        ("RestartHandler", c.RestartHandler.is_some()),
        ("OidRequestHandler", c.OidRequestHandler.is_some()),
        (
            "SendNetBufferListsHandler",
            c.SendNetBufferListsHandler.is_some(),
        ),
        (
            "ReturnNetBufferListsHandler",
            c.ReturnNetBufferListsHandler.is_some(),
        ),
        ("CancelSendHandler", c.CancelSendHandler.is_some()),
        (
            "DevicePnPEventNotifyHandler",
            c.DevicePnPEventNotifyHandler.is_some(),
        ),
        ("ShutdownHandlerEx", c.ShutdownHandlerEx.is_some()),
        (
            "CancelOidRequestHandler",
            c.CancelOidRequestHandler.is_some(),
        ),
    ];
    for (name, ok) in req {
        if !ok {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return bad(format!(
            "mandatory handler(s) missing: {}",
            missing.join(", ")
        ));
    }
    if h.Revision >= n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2
        && c.DirectOidRequestHandler.is_some() != c.CancelDirectOidRequestHandler.is_some()
    {
        return bad(
            "DirectOidRequestHandler and CancelDirectOidRequestHandler must be set together".into(),
        );
    }
    if c.Flags & n::NDIS_INTERMEDIATE_DRIVER != 0 {
        return bad("NDIS_INTERMEDIATE_DRIVER: the emulator loads NIC miniports only".into());
    }
    Ok(v)
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMRegisterMiniportDriver(
    DriverObject: n::PDRIVER_OBJECT,
    _RegistryPath: n::PUNICODE_STRING,
    MiniportDriverContext: n::NDIS_HANDLE,
    MiniportDriverCharacteristics: n::PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    NdisMiniportDriverHandle: *mut n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMRegisterMiniportDriver";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some(ndis) = ctx::current_ndis() else {
            checks::violation(
                Kind::State,
                API,
                "called outside DriverEntry of an emulator",
            );
            return n::NDIS_STATUS_FAILURE;
        };
        if MiniportDriverCharacteristics.is_null() || NdisMiniportDriverHandle.is_null() {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                "NULL characteristics or handle pointer",
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null; the header is always present.
        let hdr = unsafe { (*MiniportDriverCharacteristics).Header };
        // Copy only what the header says is there (a revision-2 driver may pass a shorter struct).
        let mut c = n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS::revision2();
        let size = usize::from(hdr.Size)
            .min(core::mem::size_of::<n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS>());
        // SAFETY: the driver provides Header.Size readable bytes; `c` has room for `size` bytes;
        // every bit pattern of the copied fields is valid (nullable fn pointers and integers).
        unsafe {
            std::ptr::copy_nonoverlapping(
                MiniportDriverCharacteristics.cast::<u8>(),
                (&mut c as *mut n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS).cast::<u8>(),
                size,
            )
        };
        if hdr.Revision < n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3 {
            c.SynchronousOidRequestHandler = None;
        }
        if hdr.Revision < n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 {
            c.DirectOidRequestHandler = None;
            c.CancelDirectOidRequestHandler = None;
        }
        let v = match validate(&ndis, &c, API) {
            Ok(v) => v,
            Err(st) => return st,
        };
        if lock(&ndis.driver).is_some() {
            ndis.checks
                .violation(Kind::State, API, "a miniport driver is already registered");
            return n::NDIS_STATUS_FAILURE;
        }
        let d = Arc::new(DriverBlock {
            chars: c,
            context: MiniportDriverContext as usize,
            registered: v,
            driver_object: DriverObject as usize,
            deregistered: AtomicBool::new(false),
            optional: Mutex::new(Vec::new()),
        });
        let h = Arc::as_ptr(&d) as usize;
        handles::insert(&ndis, h, Obj::Driver(d.clone()));
        if let Some(so) = c.SetOptionsHandler {
            IN_SET_OPTIONS.with(|f| f.set(true));
            let st = ndis.call_driver(Handler::SetOptions, 0, || {
                // SAFETY: the driver's MiniportSetOptions with its driver handle and context, at
                // PASSIVE_LEVEL inside NdisMRegisterMiniportDriver, as NDIS calls it.
                unsafe { so(h as n::NDIS_HANDLE, MiniportDriverContext) }
            });
            IN_SET_OPTIONS.with(|f| f.set(false));
            if st != n::NDIS_STATUS_SUCCESS {
                handles::remove(h);
                return st;
            }
        }
        *lock(&ndis.driver) = Some(d);
        // SAFETY: non-null output.
        unsafe { *NdisMiniportDriverHandle = h as n::NDIS_HANDLE };
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMDeregisterMiniportDriver(
    NdisMiniportDriverHandle: n::NDIS_HANDLE,
) {
    const API: &str = "NdisMDeregisterMiniportDriver";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, d)) = handles::driver(NdisMiniportDriverHandle, API) else {
            return;
        };
        if lock(&ndis.adapter).as_ref().is_some_and(|a| !a.is_halted()) {
            ndis.checks.violation(
                Kind::State,
                API,
                "deregistered while an adapter is still initialised",
            );
        }
        d.deregistered.store(true, Ordering::SeqCst);
        handles::remove(NdisMiniportDriverHandle as usize);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisSetOptionalHandlers(
    NdisHandle: n::NDIS_HANDLE,
    OptionalHandlers: n::PVOID,
) -> n::NDIS_STATUS {
    const API: &str = "NdisSetOptionalHandlers";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, d)) = handles::driver(NdisHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if !IN_SET_OPTIONS.with(|f| f.get()) {
            ndis.checks
                .violation(Kind::State, API, "must be called from MiniportSetOptions");
        }
        if OptionalHandlers.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL OptionalHandlers");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: every optional-handler structure starts with an NDIS_OBJECT_HEADER.
        let hdr = unsafe { OptionalHandlers.cast::<n::NDIS_OBJECT_HEADER>().read() };
        lock(&d.optional).push(hdr.Type);
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGetVersion() -> n::UINT {
    guard("NdisGetVersion", n::NdisVersion::V6_85.runtime(), || {
        ctx::current_ndis().map_or(n::NdisVersion::V6_85.runtime(), |n| n.version_raw())
    })
}

macro_rules! routine_table {
    ($($name:ident),* $(,)?) => {
        /// Address of an emulated export by name (`NdisGetRoutineAddress`).
        fn routine(name: &str) -> Option<usize> {
            match name {
                $(stringify!($name) => Some(n::$name as *const () as usize),)*
                _ => None,
            }
        }
    };
}

routine_table!(
    NdisGetVersion,
    NdisMRegisterMiniportDriver,
    NdisMDeregisterMiniportDriver,
    NdisMSetMiniportAttributes,
    NdisAllocateMemoryWithTagPriority,
    NdisFreeMemory,
    ExAllocatePool2,
    ExAllocatePoolWithTag,
    ExFreePoolWithTag,
    NdisMIndicateReceiveNetBufferLists,
    NdisMSendNetBufferListsComplete,
    NdisMIndicateStatusEx,
    NdisMAllocateNetBufferSGList,
    NdisMFreeNetBufferSGList,
    NdisGetSystemUpTimeEx,
    KeQueryPerformanceCounter,
    KeGetCurrentProcessorNumberEx,
    KeQueryActiveProcessorCountEx,
    NdisMQueueDpcEx,
);

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGetRoutineAddress(
    NdisRoutineName: n::PNDIS_STRING,
) -> n::PVOID {
    const API: &str = "NdisGetRoutineAddress";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if NdisRoutineName.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL name");
            return std::ptr::null_mut();
        }
        // SAFETY: non-null NDIS_STRING from the driver.
        let s = unsafe { NdisRoutineName.read() };
        // SAFETY: the driver's string of Length bytes.
        let Some(units) = (unsafe { s.as_slice() }) else {
            return std::ptr::null_mut();
        };
        let name = String::from_utf16_lossy(units);
        routine(&name).map_or(std::ptr::null_mut(), |p| p as n::PVOID)
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn MmGetSystemRoutineAddress(
    SystemRoutineName: n::PUNICODE_STRING,
) -> n::PVOID {
    const API: &str = "MmGetSystemRoutineAddress";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if SystemRoutineName.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL name");
            return std::ptr::null_mut();
        }
        // SAFETY: non-null UNICODE_STRING from the driver.
        let s = unsafe { SystemRoutineName.read() };
        // SAFETY: the driver's string of Length bytes.
        let Some(units) = (unsafe { s.as_slice() }) else {
            return std::ptr::null_mut();
        };
        routine(&String::from_utf16_lossy(units)).map_or(std::ptr::null_mut(), |p| p as n::PVOID)
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisWriteEventLogEntry(
    _LogHandle: n::PVOID,
    EventCode: n::NDIS_STATUS,
    UniqueEventValue: n::ULONG,
    NumStrings: n::USHORT,
    _StringsList: n::PVOID,
    DataSize: n::ULONG,
    _Data: n::PVOID,
) -> n::NDIS_STATUS {
    const API: &str = "NdisWriteEventLogEntry";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if let Some(ndis) = ctx::current_ndis() {
            ndis.log_line(
                0,
                format!(
                    "event log: code {:#010x} value {UniqueEventValue:#x} ({NumStrings} strings, {DataSize} data bytes)",
                    EventCode as u32
                ),
            );
        }
        n::NDIS_STATUS_SUCCESS
    })
}

/// `NdisWriteErrorLogEntry` is variadic cdecl; on x86-64 SysV the first error values arrive in
/// the registers / stack slots of these fixed parameters, so up to eight are read.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "C" fn NdisWriteErrorLogEntry(
    _NdisAdapterHandle: n::NDIS_HANDLE,
    ErrorCode: n::NDIS_ERROR_CODE,
    NumberOfErrorValues: n::ULONG,
    v0: n::ULONG,
    v1: n::ULONG,
    v2: n::ULONG,
    v3: n::ULONG,
    v4: n::ULONG,
    v5: n::ULONG,
    v6: n::ULONG,
    v7: n::ULONG,
) {
    guard("NdisWriteErrorLogEntry", (), || {
        let vals = [v0, v1, v2, v3, v4, v5, v6, v7];
        let k = (NumberOfErrorValues as usize).min(vals.len());
        if let Some(ndis) = ctx::current_ndis() {
            ndis.log_line(
                0,
                format!("error log: code {ErrorCode:#010x} values {:x?}", &vals[..k]),
            );
        }
    })
}

/// The seam's log sink (crates/netkvmrs/src/platform/log.rs).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn NetkvmHostLog(level: u32, msg: *const u8, len: usize) {
    guard("NetkvmHostLog", (), || {
        if msg.is_null() {
            return;
        }
        // SAFETY: the seam passes `len` readable bytes at `msg` for the duration of the call.
        let bytes = unsafe { std::slice::from_raw_parts(msg, len) };
        let text = String::from_utf8_lossy(bytes).into_owned();
        match ctx::current_ndis() {
            Some(ndis) => ndis.log_line(level, text),
            None => eprintln!("[driver {level}, no emulator] {text}"),
        }
    })
}

/// Minimal printf for `DbgPrint` (integer and string conversions; arguments beyond the fifth
/// are not read). On x86-64 SysV a variadic call passes these in the same registers.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn DbgPrint(
    Format: *const core::ffi::c_char,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
) -> n::ULONG {
    guard("DbgPrint", 0, || {
        if Format.is_null() {
            return 0;
        }
        // SAFETY: the format is a NUL-terminated C string from the driver.
        let fmt = unsafe { std::ffi::CStr::from_ptr(Format) }
            .to_string_lossy()
            .into_owned();
        let args = [a0, a1, a2, a3, a4];
        let text = printf(&fmt, &args);
        match ctx::current_ndis() {
            Some(ndis) => ndis.log_line(0, text.trim_end().to_string()),
            None => eprint!("{text}"),
        }
        0
    })
}

fn printf(fmt: &str, args: &[usize]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut ai = 0;
    let mut next = || {
        let v = args.get(ai).copied().unwrap_or(0);
        ai += 1;
        v
    };
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Flags, width and length modifiers are skipped.
        let mut conv = None;
        while let Some(&d) = it.peek() {
            it.next();
            if d.is_ascii_alphabetic() && !matches!(d, 'l' | 'h' | 'I' | 'z') || d == '%' {
                conv = Some(d);
                break;
            }
        }
        match conv {
            Some('%') => out.push('%'),
            Some('d' | 'i') => out += &(next() as i32).to_string(),
            Some('u') => out += &(next() as u32).to_string(),
            Some('x') => out += &format!("{:x}", next()),
            Some('X') => out += &format!("{:X}", next()),
            Some('p') => out += &format!("{:#x}", next()),
            Some('c') => out.push((next() as u8) as char),
            Some('s') => {
                let p = next() as *const core::ffi::c_char;
                if p.is_null() {
                    out += "(null)";
                } else {
                    // SAFETY: a %s argument is a NUL-terminated C string.
                    out += &unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy();
                }
            }
            _ => out.push('?'),
        }
    }
    out
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn KeBugCheckEx(
    BugCheckCode: n::ULONG,
    BugCheckParameter1: n::ULONG_PTR,
    BugCheckParameter2: n::ULONG_PTR,
    BugCheckParameter3: n::ULONG_PTR,
    BugCheckParameter4: n::ULONG_PTR,
) -> ! {
    let msg = format!(
        "KeBugCheckEx({BugCheckCode:#x}, {BugCheckParameter1:#x}, {BugCheckParameter2:#x}, {BugCheckParameter3:#x}, {BugCheckParameter4:#x})"
    );
    checks::violation(Kind::Crash, "KeBugCheckEx", msg.clone());
    eprintln!(
        "ndis-emu: the driver bugchecked: {msg}\n{}",
        std::backtrace::Backtrace::force_capture()
    );
    // A bugcheck stops the machine; unwinding through the driver's frames is not possible.
    std::process::abort()
}

impl Ndis {
    /// The registered driver.
    pub(crate) fn driver_block(&self) -> Option<Arc<DriverBlock>> {
        lock(&self.driver).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::printf;

    #[test]
    fn printf_formats_integers_and_strings() {
        let s = std::ffi::CString::new("abc").unwrap();
        let out = printf(
            "%d %u %x %s %% %lu",
            &[(-5i32) as u32 as usize, 7, 255, s.as_ptr() as usize, 9],
        );
        assert_eq!(out, "-5 7 ff abc % 9");
    }
}
