//! The runtime a kernel image needs when built on Linux WITHOUT the WDK (feature `wdk` off, Windows target).
//! With the WDK these come from `ntoskrnl.lib` (`__chkstk`), wdk-sys (`_fltused`, `__CxxFrameHandler3`),
//! wdk-panic and wdk-alloc instead — see `wdk.rs`.
//!
//! | item | why the image needs it |
//! |---|---|
//! | `__chkstk` | LLVM calls it for frames > 4 KiB; MSVC-flavoured targets expect it from the CRT/ntoskrnl.lib |
//! | `_fltused` | referenced by MSVC-ABI objects that touch floating point |
//! | `__CxxFrameHandler3` | referenced from unwind info even with `panic = "abort"` (rust-lang/rust#101134) |
//! | panic handler | `no_std`; a panic in a driver is a bugcheck |
//! | global allocator | `alloc` over the kernel pool ([`super::pool`]) |

use core::panic::PanicInfo;

// MSVC `__chkstk` contract on x64: RAX = bytes about to be allocated; probe every 4 KiB page below the
// caller's RSP (touching guard pages in order), leave RSP and RAX unchanged; R10/R11/flags may be clobbered
// (LLVM's Win64 stack-probe call models exactly those clobbers).
core::arch::global_asm!(
    ".text",
    ".globl __chkstk",
    "__chkstk:",
    "lea r10, [rsp + 8]", // caller's RSP before the call pushed the return address
    "mov r11, rax",       // bytes still to probe
    "2:",
    "cmp r11, 0x1000",
    "jb 3f",
    "sub r10, 0x1000",
    "test qword ptr [r10], r10", // read-touch the page
    "sub r11, 0x1000",
    "jmp 2b",
    "3:",
    "sub r10, r11",
    "test qword ptr [r10], r10",
    "ret",
);

/// Tells the MSVC-ABI linker model that floating point is used; the value is irrelevant.
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
#[used]
pub static _fltused: i32 = 0;

/// SEH personality referenced from unwind tables. Rust frames never handle SEH exceptions (panics abort),
/// so it answers `ExceptionContinueSearch` (1): let the dispatcher look further up the stack.
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub extern "C" fn __CxxFrameHandler3(
    _record: *mut core::ffi::c_void,
    _frame: *mut core::ffi::c_void,
    _context: *mut core::ffi::c_void,
    _dispatcher: *mut core::ffi::c_void,
) -> i32 {
    1
}

// LLVM lowers struct copies and fills to calls of the C memory functions, and liballoc references strlen
// (CStr); ntoskrnl.exe exports all of them (the WDK links the same exports), so they are imported, not
// reimplemented. Nothing in Rust calls them by name: they are link-time targets only.
#[allow(dead_code)]
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    pub fn memcpy(
        dest: *mut core::ffi::c_void,
        src: *const core::ffi::c_void,
        n: usize,
    ) -> *mut core::ffi::c_void;
    pub fn memmove(
        dest: *mut core::ffi::c_void,
        src: *const core::ffi::c_void,
        n: usize,
    ) -> *mut core::ffi::c_void;
    pub fn memset(dest: *mut core::ffi::c_void, c: i32, n: usize) -> *mut core::ffi::c_void;
    pub fn memcmp(a: *const core::ffi::c_void, b: *const core::ffi::c_void, n: usize) -> i32;
    pub fn strlen(s: *const core::ffi::c_char) -> usize;
}

/// Bugcheck code of a Rust panic: ASCII "RPNC" (as wdk-panic), recognisable in crash dumps.
pub const RUST_PANIC_BUGCHECK: u32 = u32::from_be_bytes(*b"RPNC");

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    crate::log!(Error, "panic: {}", info);
    let line = info.location().map_or(0, |l| l.line() as usize);
    // SAFETY: KeBugCheckEx may be called at any IRQL and does not return; parameter 1 carries the source
    // line of the panic for the crash dump.
    unsafe { ndis_sys::KeBugCheckEx(RUST_PANIC_BUGCHECK, line, 0, 0, 0) }
}

#[global_allocator]
static ALLOCATOR: super::pool::PoolAllocator = super::pool::PoolAllocator;
