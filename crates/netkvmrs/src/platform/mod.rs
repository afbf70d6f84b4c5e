//! The platform seam: everything that differs between the Windows kernel and the Linux host lives here, so
//! the miniport's handlers, OID code and datapath compile unchanged for both. On the host the user-mode
//! NDIS (crates/ndis-emu) links this crate and defines the host-side symbols listed below.
//!
//! | item | Windows (kernel) | host (Linux, user-mode NDIS) | why it differs |
//! |---|---|---|---|
//! | [`log`] sink | `DbgPrint("%s\n", line)` | `NetkvmHostLog(level, ptr, len)` | no kernel debugger on the host |
//! | [`regs`] register access | inline volatile access + fences (as the WDK's inline `READ_/WRITE_REGISTER_*`) | `READ_REGISTER_*` / `WRITE_REGISTER_*` externs | host BARs are emulated, not mapped |
//! | `pool` global allocator | ExAllocatePool2 (resolved at run time) / ExAllocatePoolWithTag | std's allocator | kernel pool vs. libc heap |
//! | `rt` runtime | `__chkstk`, `_fltused`, `__CxxFrameHandler3`, panic → KeBugCheckEx | std provides them | no CRT in a kernel image |
//! | `wdk` | wdk-panic + wdk-alloc (feature `wdk`, Windows with the WDK) | — | windows-drivers-rs supplies the runtime |
//!
//! NDIS/kernel *functions* are not part of the seam: they are declared once in ndis-sys (raw-dylib imports on
//! Windows, plain externs the user-mode NDIS defines on the host).

pub mod log;
pub mod regs;

#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod pool;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod rt;
#[cfg(all(target_os = "windows", feature = "wdk"))]
mod wdk;

#[cfg(all(target_os = "windows", not(target_arch = "x86_64")))]
compile_error!("netkvmrs supports x86_64 Windows only (the runtime's __chkstk is x64 assembly)");

/// One-time platform setup; the first thing DriverEntry does.
pub fn init() {
    #[cfg(all(target_os = "windows", not(feature = "wdk")))]
    pool::init();
}

/// Which pool allocation routine the driver uses (for the load-time log line).
pub fn allocator_name() -> &'static str {
    #[cfg(all(target_os = "windows", not(feature = "wdk")))]
    {
        if pool::has_pool2() {
            "ExAllocatePool2"
        } else {
            "ExAllocatePoolWithTag(NonPagedPoolNx)"
        }
    }
    #[cfg(all(target_os = "windows", feature = "wdk"))]
    {
        "wdk-alloc (ExAllocatePool2)"
    }
    #[cfg(not(target_os = "windows"))]
    {
        "host allocator"
    }
}
