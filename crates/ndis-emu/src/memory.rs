//! Non-paged pool: `NdisAllocateMemoryWithTagPriority`, `ExAllocatePool2` and their frees.
//!
//! Every allocation is tracked with its length, tag and owner (the adapter whose handle was
//! passed, or the adapter whose handler was running for `ExAllocatePool2`), so double frees,
//! frees with the wrong tag or length, and leaks at Halt / Unload are reported. Memory that is
//! not zeroed by contract is filled with `0xCD` (uninitialised reads show up) and freed memory
//! with `0xDD` before it goes back to the allocator.

use std::alloc::Layout;
use std::sync::Arc;

use ndis_sys as n;

use crate::checks::{self, Kind};
use crate::ctx;
use crate::handles;
use crate::ndis::{guard, Ndis};
use crate::track::{Res, ResKind};

/// Alignment of pool allocations (`MEMORY_ALLOCATION_ALIGNMENT` on x64).
pub const POOL_ALIGN: usize = 16;

/// Fill pattern of allocations whose content is undefined by contract.
pub const UNINIT_FILL: u8 = 0xCD;
/// Fill pattern of freed memory.
pub const FREED_FILL: u8 = 0xDD;

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len.max(1), POOL_ALIGN).ok()
}

/// Allocates `len` bytes charged to `owner`; null on (injected) failure.
pub(crate) fn alloc(
    ndis: &Ndis,
    len: usize,
    tag: u32,
    zero: bool,
    owner: usize,
    what: &'static str,
) -> *mut u8 {
    if ndis.fail.should_fail() {
        return std::ptr::null_mut();
    }
    let Some(l) = layout(len) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `l` has a non-zero size.
    let p = unsafe { std::alloc::alloc(l) };
    if p.is_null() {
        return p;
    }
    let fill = if zero { 0 } else { UNINIT_FILL };
    // SAFETY: `p` is a fresh allocation of `l.size()` bytes.
    unsafe { std::ptr::write_bytes(p, fill, l.size()) };
    ndis.track.add(
        p as usize,
        Res {
            kind: ResKind::Memory,
            owner,
            size: len,
            tag,
            what,
        },
    );
    p
}

/// Frees `p` after checking it is live; `len`/`tag` are checked when given.
pub(crate) fn free(
    ndis: &Ndis,
    p: *mut u8,
    len: Option<usize>,
    tag: Option<u32>,
    api: &'static str,
) {
    if p.is_null() {
        ndis.checks
            .violation(Kind::Memory, api, "free of a NULL pointer");
        return;
    }
    let Some(r) = ndis.track.remove(ResKind::Memory, p as usize) else {
        ndis.checks.violation(
            Kind::Memory,
            api,
            format!("{p:p} is not a live pool allocation (double free, or not from NDIS/ExAllocatePool2)"),
        );
        return;
    };
    if let Some(l) = len {
        if l != r.size {
            ndis.checks.violation(
                Kind::Memory,
                api,
                format!("freed {p:p} with length {l}, allocated with {}", r.size),
            );
        }
    }
    if let Some(t) = tag {
        if t != r.tag {
            ndis.checks.violation(
                Kind::Memory,
                api,
                format!(
                    "freed {p:p} with tag {t:#010x}, allocated with tag {:#010x}",
                    r.tag
                ),
            );
        }
    }
    if let Some(l) = layout(r.size) {
        // SAFETY: `p` is a live allocation of `r.size` bytes made by `alloc` with this layout
        // (the tracker entry proves it and was just removed, so it is freed once).
        unsafe { std::ptr::write_bytes(p, FREED_FILL, l.size()) };
        // SAFETY: as above.
        unsafe { std::alloc::dealloc(p, l) };
    }
}

fn current() -> Option<Arc<Ndis>> {
    let n = ctx::current_ndis();
    if n.is_none() {
        checks::violation(
            Kind::Memory,
            "pool",
            "pool allocation from a thread that belongs to no emulator",
        );
    }
    n
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateMemoryWithTagPriority(
    NdisHandle: n::NDIS_HANDLE,
    Length: n::UINT,
    Tag: n::ULONG,
    _Priority: n::EX_POOL_PRIORITY,
) -> n::PVOID {
    const API: &str = "NdisAllocateMemoryWithTagPriority";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisHandle, API) else {
            return std::ptr::null_mut();
        };
        alloc(&ndis, Length as usize, Tag, false, owner, API).cast()
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeMemory(
    VirtualAddress: n::PVOID,
    Length: n::UINT,
    MemoryFlags: n::UINT,
) {
    const API: &str = "NdisFreeMemory";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some(ndis) = current() else { return };
        if MemoryFlags != 0 {
            ndis.checks.violation(
                Kind::Memory,
                API,
                format!(
                    "MemoryFlags {MemoryFlags:#x}: NDIS 6 memory is non-paged, flags must be 0"
                ),
            );
        }
        // The documented rule is "the length allocated"; whether NDIS 6 checks it is not known,
        // so a mismatch is a warning.
        if let Some(r) = ndis.track.get(ResKind::Memory, VirtualAddress as usize) {
            if Length as usize != r.size {
                ndis.checks.warning(
                    Kind::Memory,
                    API,
                    format!("Length {Length} for an allocation of {} bytes", r.size),
                );
            }
        }
        free(&ndis, VirtualAddress.cast(), None, None, API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeMemoryWithTagPriority(
    NdisHandle: n::NDIS_HANDLE,
    VirtualAddress: n::PVOID,
    Tag: n::ULONG,
) {
    const API: &str = "NdisFreeMemoryWithTagPriority";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, _)) = handles::owner_of(NdisHandle, API) else {
            return;
        };
        free(&ndis, VirtualAddress.cast(), None, Some(Tag), API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn ExAllocatePool2(
    Flags: n::POOL_FLAGS,
    NumberOfBytes: n::SIZE_T,
    Tag: n::ULONG,
) -> n::PVOID {
    const API: &str = "ExAllocatePool2";
    guard(API, std::ptr::null_mut(), || {
        let Some(ndis) = current() else {
            return std::ptr::null_mut();
        };
        let paged = Flags & n::POOL_FLAG_PAGED != 0;
        let max = if paged {
            n::APC_LEVEL
        } else {
            n::DISPATCH_LEVEL
        };
        checks::irql_at_most(max, API);
        let kinds =
            Flags & (n::POOL_FLAG_PAGED | n::POOL_FLAG_NON_PAGED | n::POOL_FLAG_NON_PAGED_EXECUTE);
        if kinds.count_ones() != 1 {
            ndis.checks.violation(
                Kind::Memory,
                API,
                format!("Flags {Flags:#x}: exactly one of POOL_FLAG_PAGED / NON_PAGED / NON_PAGED_EXECUTE is required"),
            );
            return std::ptr::null_mut();
        }
        if Flags & n::POOL_FLAG_RAISE_ON_FAILURE != 0 {
            ndis.checks
                .warning(Kind::Memory, API, "POOL_FLAG_RAISE_ON_FAILURE in a driver");
        }
        if Tag == 0 {
            ndis.checks.violation(Kind::Memory, API, "pool tag 0");
        }
        let zero = Flags & n::POOL_FLAG_UNINITIALIZED == 0;
        alloc(&ndis, NumberOfBytes, Tag, zero, ctx::adapter(), API).cast()
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn ExFreePoolWithTag(P: n::PVOID, Tag: n::ULONG) {
    const API: &str = "ExFreePoolWithTag";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some(ndis) = current() else { return };
        free(&ndis, P.cast(), None, Some(Tag), API);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn ExAllocatePoolWithTag(
    PoolType: i32,
    NumberOfBytes: n::SIZE_T,
    Tag: n::ULONG,
) -> n::PVOID {
    const API: &str = "ExAllocatePoolWithTag";
    guard(API, std::ptr::null_mut(), || {
        let Some(ndis) = current() else {
            return std::ptr::null_mut();
        };
        // POOL_TYPE: odd values are paged pools.
        let paged = PoolType & 1 != 0;
        checks::irql_at_most(
            if paged {
                n::APC_LEVEL
            } else {
                n::DISPATCH_LEVEL
            },
            API,
        );
        if PoolType == 0 {
            ndis.checks.warning(
                Kind::Memory,
                API,
                "NonPagedPool (executable): use NonPagedPoolNx",
            );
        }
        if Tag == 0 {
            ndis.checks.violation(Kind::Memory, API, "pool tag 0");
        }
        alloc(&ndis, NumberOfBytes, Tag, false, ctx::adapter(), API).cast()
    })
}
