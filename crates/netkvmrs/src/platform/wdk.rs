//! Runtime pieces when building on Windows with windows-drivers-rs (feature `wdk`): the panic handler of
//! wdk-panic (bugcheck) and wdk-alloc's pool allocator; `__chkstk` comes from the WDK's ntoskrnl.lib and
//! `_fltused` / `__CxxFrameHandler3` from wdk-sys. Linked only through `extern crate`, nothing else uses them.
//!
//! Note: wdk-alloc imports ExAllocatePool2, so a `wdk` build loads on Windows 10 2004 (NDIS 6.83) and later
//! only; the Linux build resolves ExAllocatePool2 at run time instead (see `pool.rs`).

extern crate wdk_panic;
extern crate wdk_sys;

#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;
