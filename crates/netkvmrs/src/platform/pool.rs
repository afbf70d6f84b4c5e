//! Kernel pool allocator behind `alloc` (Windows build without the WDK).
//!
//! Why OS-specific: kernel memory comes from the pool. ExAllocatePool2 is the current API but exists only on
//! Windows 10 2004+ (NDIS 6.83); importing it would stop the driver from loading on the older systems it
//! registers for (NDIS 6.30/6.80). So — as the WDK's own `ExAllocatePoolZero` helper does for down-level
//! drivers — [`init`] resolves it with MmGetSystemRoutineAddress and the allocator falls back to
//! ExAllocatePoolWithTag(NonPagedPoolNx) when it is absent. Both are freed with ExFreePoolWithTag.
//!
//! Alignment: pool blocks are 16-byte aligned on x64 (ExAllocatePool2 docs); larger alignments are refused
//! (null) rather than silently misaligned.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

use ndis_sys::{
    ExAllocatePoolWithTag, ExFreePoolWithTag, MmGetSystemRoutineAddress, NonPagedPoolNx,
    POOL_FLAG_NON_PAGED, POOL_FLAG_UNINITIALIZED, UNICODE_STRING,
};

/// Pool tag shown by `!pool` / poolmon: "NkRs".
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"NkRs");
/// Guaranteed alignment of pool allocations on x64.
pub const POOL_ALIGNMENT: usize = 16;

/// `ExAllocatePool2` (resolved at run time, see the module docs).
type ExAllocatePool2Fn =
    unsafe extern "system" fn(flags: u64, size: usize, tag: u32) -> *mut c_void;

const fn utf16<const N: usize>(s: &[u8; N]) -> [u16; N] {
    let mut out = [0u16; N];
    // Walk both arrays by slice patterns (const fn: no iterators, and no indexing).
    let mut dst: &mut [u16] = &mut out;
    let mut src: &[u8] = s;
    while let ([d, dst_rest @ ..], [c, src_rest @ ..]) = (dst, src) {
        *d = *c as u16;
        dst = dst_rest;
        src = src_rest;
    }
    out
}

/// UTF-16 "ExAllocatePool2" plus a terminating NUL: UNICODE_STRING does not need it (Length counts the
/// 15 characters), but routines that treat the buffer as a C string (debuggers, emulators) stay in bounds.
static EX_ALLOCATE_POOL2_NAME: [u16; 16] = utf16(b"ExAllocatePool2\0");

/// Address of ExAllocatePool2, 0 if the OS lacks it (or before [`init`]).
static EX_ALLOCATE_POOL2: AtomicUsize = AtomicUsize::new(0);

/// Resolve optional kernel routines. Call first in DriverEntry (PASSIVE_LEVEL), before any allocation;
/// allocations before it simply use the fallback.
pub fn init() {
    let mut name = UNICODE_STRING {
        // Bytes, without the terminator.
        Length: ((EX_ALLOCATE_POOL2_NAME.len() - 1) * 2) as u16,
        MaximumLength: (EX_ALLOCATE_POOL2_NAME.len() * 2) as u16,
        Buffer: EX_ALLOCATE_POOL2_NAME.as_ptr().cast_mut(),
    };
    // SAFETY: DriverEntry runs at PASSIVE_LEVEL as MmGetSystemRoutineAddress requires; `name` is a valid
    // UNICODE_STRING whose buffer (a static) the routine only reads.
    let f = unsafe { MmGetSystemRoutineAddress(&mut name) };
    EX_ALLOCATE_POOL2.store(f as usize, Ordering::Release);
}

/// Whether ExAllocatePool2 was found (for the load-time log line).
pub fn has_pool2() -> bool {
    EX_ALLOCATE_POOL2.load(Ordering::Acquire) != 0
}

pub struct PoolAllocator;

impl PoolAllocator {
    fn allocate(layout: Layout, zeroed: bool) -> *mut u8 {
        if layout.align() > POOL_ALIGNMENT {
            return core::ptr::null_mut();
        }
        let size = layout.size().max(1);
        let f = EX_ALLOCATE_POOL2.load(Ordering::Acquire);
        if f != 0 {
            // SAFETY: `f` is the address MmGetSystemRoutineAddress returned for ExAllocatePool2, whose
            // prototype is `PVOID ExAllocatePool2(POOL_FLAGS, SIZE_T, ULONG)`.
            let alloc2: ExAllocatePool2Fn =
                unsafe { core::mem::transmute::<usize, ExAllocatePool2Fn>(f) };
            // ExAllocatePool2 zeroes unless POOL_FLAG_UNINITIALIZED.
            let flags = if zeroed {
                POOL_FLAG_NON_PAGED
            } else {
                POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED
            };
            // SAFETY: valid flags, non-zero size, non-zero tag; callable at IRQL <= DISPATCH_LEVEL.
            return unsafe { alloc2(flags, size, POOL_TAG) }.cast();
        }
        // SAFETY: NonPagedPoolNx, non-zero size and tag; callable at IRQL <= DISPATCH_LEVEL.
        let p: *mut u8 = unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, size, POOL_TAG) }.cast();
        if zeroed && !p.is_null() {
            // SAFETY: `p` points to `size` freshly allocated bytes.
            unsafe { core::ptr::write_bytes(p, 0, size) };
        }
        p
    }
}

// SAFETY: blocks come from the kernel pool, are at least `layout.size()` bytes, 16-byte aligned (larger
// alignments are refused), and are released only through `dealloc` with the same tag.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::allocate(layout, false)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::allocate(layout, true)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`alloc_zeroed` (GlobalAlloc contract), i.e. from the pool with
        // POOL_TAG.
        unsafe { ExFreePoolWithTag(ptr.cast(), POOL_TAG) }
    }
}
