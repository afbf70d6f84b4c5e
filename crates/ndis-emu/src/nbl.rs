//! NET_BUFFER_LIST / NET_BUFFER / MDL: pools, allocation, contexts, data-start moves,
//! `NdisGetDataBuffer`, copies and clones — with the real Windows x64 layouts from ndis-sys.
//!
//! MDLs are built as NDIS builds them for non-paged memory (`IoAllocateMdl` +
//! `MmBuildMdlForNonPagedPool`): `MappedSystemVa` = the buffer, `MDL_SOURCE_IS_NONPAGED_POOL`,
//! `StartVa` page aligned, `ByteOffset` the offset in the first page, followed by the PFN array
//! (device page numbers where the memory is DMA-able).

use std::alloc::Layout;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use ndis_sys as n;

use crate::checks::{self, Kind};
use crate::ctx;
use crate::handles::{self, Obj};
use crate::ndis::{guard, lock, Ndis};
use crate::track::{Res, ResKind};

/// `MEMORY_ALLOCATION_ALIGNMENT` (x64).
pub const MEMORY_ALLOCATION_ALIGNMENT: usize = 16;

/// Upper bound on MDLs walked in one chain (a loop in a chain is a driver bug).
const MAX_CHAIN: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Raw blocks (NBLs, NBs, MDLs, contexts, data) with their layouts remembered for the free.

static BLOCKS: LazyLock<Mutex<HashMap<usize, Layout>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A zeroed block of `size` bytes (align 16); null on failure.
pub(crate) fn raw_alloc(size: usize) -> *mut u8 {
    let Ok(l) = Layout::from_size_align(size.max(1), MEMORY_ALLOCATION_ALIGNMENT) else {
        return std::ptr::null_mut();
    };
    // SAFETY: non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(l) };
    if !p.is_null() {
        lock(&BLOCKS).insert(p as usize, l);
    }
    p
}

/// Freed blocks kept poisoned (`0xDD`) for a while before they really go back to the
/// allocator, so a double free or a use after free reads poison instead of someone else's data.
static QUARANTINE: LazyLock<Mutex<std::collections::VecDeque<(usize, Layout)>>> =
    LazyLock::new(|| Mutex::new(std::collections::VecDeque::new()));
/// Blocks kept in quarantine.
const QUARANTINE_BLOCKS: usize = 4096;

/// The pointer-sized value freed memory reads as.
pub(crate) const FREED_WORD: usize = usize::from_ne_bytes([crate::memory::FREED_FILL; 8]);

/// Frees a block from [`raw_alloc`]; false if `p` is not one.
pub(crate) fn raw_free(p: *mut u8) -> bool {
    let Some(l) = lock(&BLOCKS).remove(&(p as usize)) else {
        return false;
    };
    // SAFETY: `p` came from raw_alloc with layout `l` (the entry proves it, now removed).
    unsafe { std::ptr::write_bytes(p, crate::memory::FREED_FILL, l.size()) };
    let old = {
        let mut q = lock(&QUARANTINE);
        q.push_back((p as usize, l));
        if q.len() > QUARANTINE_BLOCKS {
            q.pop_front()
        } else {
            None
        }
    };
    if let Some((op, ol)) = old {
        // SAFETY: a block that left quarantine: allocated by raw_alloc with layout `ol`, freed
        // once (it was in BLOCKS until raw_free removed it).
        unsafe { std::alloc::dealloc(op as *mut u8, ol) };
    }
    true
}

/// Builds an MDL for `len` bytes at `va` (non-paged, mapped), with PFNs from `dma` when the
/// range is DMA-able.
pub(crate) fn build_mdl(va: *mut u8, len: u32, ndis: Option<&Ndis>) -> *mut n::MDL {
    let start = (va as usize) & !0xFFF;
    let off = (va as usize) & 0xFFF;
    let pages = (off + len as usize).div_ceil(4096).max(1);
    let size = core::mem::size_of::<n::MDL>() + pages * 8;
    let p = raw_alloc(size).cast::<n::MDL>();
    if p.is_null() {
        return p;
    }
    // SAFETY: `p` is a fresh, zeroed, suitably aligned block of `size` >= sizeof(MDL) bytes.
    unsafe {
        p.write(n::MDL {
            Next: std::ptr::null_mut(),
            Size: size.min(i16::MAX as usize) as i16,
            MdlFlags: n::MDL_SOURCE_IS_NONPAGED_POOL | n::MDL_ALLOCATED_FIXED_SIZE,
            Process: std::ptr::null_mut(),
            MappedSystemVa: va.cast(),
            StartVa: start as n::PVOID,
            ByteCount: len,
            ByteOffset: off as u32,
        })
    };
    if let Some(ndis) = ndis {
        let pfns = p
            .cast::<u8>()
            .wrapping_add(core::mem::size_of::<n::MDL>())
            .cast::<u64>();
        for i in 0..pages {
            let page_va = start + i * 4096;
            let pfn = ndis
                .dma
                .translate(page_va.max(va as usize), 1)
                .map_or(0, |pa| pa >> 12);
            // SAFETY: PFN slot `i` is inside the block (pages slots were allocated).
            unsafe { pfns.wrapping_add(i).write(pfn) };
        }
    }
    p
}

/// Data pointer of an MDL as NDIS would map it.
///
/// # Safety
/// `mdl` must point to a valid MDL.
pub(crate) unsafe fn mdl_va(mdl: *const n::MDL) -> *mut u8 {
    // SAFETY: caller guarantees a valid MDL.
    let m = unsafe { &*mdl };
    match n::mdl_system_address_if_mapped(m) {
        Some(v) => v.cast(),
        None => m.virtual_address() as *mut u8,
    }
}

/// The data of a NET_BUFFER as (address, length) segments, from its current MDL and offset for
/// `DataLength` bytes. Errors describe a malformed buffer.
///
/// # Safety
/// `nb` must point to a NET_BUFFER whose MDL pointers are valid (NDIS trusts them too).
pub(crate) unsafe fn nb_segments(nb: *const n::NET_BUFFER) -> Result<Vec<(usize, usize)>, String> {
    let mut out = Vec::new();
    // SAFETY: forwarded contract.
    unsafe { nb_segments_into(nb, &mut out) }.map(|()| out)
}

/// [`nb_segments`] appending to `out` (on error `out` may hold part of the segments).
///
/// # Safety
/// As for [`nb_segments`].
pub(crate) unsafe fn nb_segments_into(
    nb: *const n::NET_BUFFER,
    out: &mut Vec<(usize, usize)>,
) -> Result<(), String> {
    // SAFETY: caller guarantees a valid NB.
    let b = unsafe { &*nb };
    let mut left = b.data_length() as usize;
    let mut mdl = b.current_mdl();
    let mut off = b.current_mdl_offset() as usize;
    let mut walked = 0;
    while left > 0 {
        if mdl.is_null() {
            return Err(format!(
                "MDL chain ends {left} bytes short of DataLength {}",
                b.data_length()
            ));
        }
        walked += 1;
        if walked > MAX_CHAIN {
            return Err("MDL chain longer than 4096 (loop?)".into());
        }
        // SAFETY: non-null MDL of the chain (caller guarantees the chain is valid).
        let m = unsafe { &*mdl };
        let count = m.ByteCount as usize;
        if off > count {
            return Err(format!(
                "CurrentMdlOffset {off} beyond the MDL's ByteCount {count}"
            ));
        }
        let take = (count - off).min(left);
        if take > 0 {
            // SAFETY: valid MDL (see above).
            let va = unsafe { mdl_va(mdl) } as usize;
            out.push((va + off, take));
        }
        left -= take;
        off = 0;
        mdl = m.Next;
    }
    Ok(())
}

/// Checks that `DataOffset` and `CurrentMdl`/`CurrentMdlOffset` agree and the chain covers the
/// data; appends the data segments ([`nb_segments`]) of a well-formed buffer to `out` (on error
/// `out` is as it was).
///
/// # Safety
/// As for [`nb_segments`].
pub(crate) unsafe fn nb_check_segments(
    nb: *const n::NET_BUFFER,
    out: &mut Vec<(usize, usize)>,
) -> Result<(), String> {
    // SAFETY: caller guarantees a valid NB.
    let b = unsafe { &*nb };
    let mut mdl = b.first_mdl();
    let mut skip = b.data_offset() as usize;
    let mut walked = 0;
    loop {
        if mdl.is_null() {
            return Err(format!(
                "DataOffset {} is beyond the MDL chain",
                b.data_offset()
            ));
        }
        walked += 1;
        if walked > MAX_CHAIN {
            return Err("MDL chain longer than 4096 (loop?)".into());
        }
        // SAFETY: non-null MDL of the chain.
        let m = unsafe { &*mdl };
        let count = m.ByteCount as usize;
        if skip < count || (skip == count && m.Next.is_null()) {
            break;
        }
        skip -= count;
        mdl = m.Next;
    }
    if mdl != b.current_mdl() || skip != b.current_mdl_offset() as usize {
        // NDIS tolerates CurrentMdl pointing at the *next* MDL when the offset is at an end.
        return Err(format!(
            "DataOffset {} points into MDL {mdl:p} at {skip}, but CurrentMdl is {:p} at {}",
            b.data_offset(),
            b.current_mdl(),
            b.current_mdl_offset()
        ));
    }
    let start = out.len();
    // SAFETY: same NB.
    let r = unsafe { nb_segments_into(nb, out) };
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Copies the data of `nb` (all of it).
///
/// # Safety
/// As for [`nb_segments`]; the data must be readable.
pub(crate) unsafe fn nb_bytes(nb: *const n::NET_BUFFER) -> Result<Vec<u8>, String> {
    // SAFETY: forwarded contract.
    let segs = unsafe { nb_segments(nb) }?;
    let mut v = Vec::with_capacity(segs.iter().map(|s| s.1).sum());
    for (va, len) in segs {
        // SAFETY: the segment is NB data the caller may read.
        v.extend_from_slice(unsafe { std::slice::from_raw_parts(va as *const u8, len) });
    }
    Ok(v)
}

/// Recomputes `CurrentMdl` / `CurrentMdlOffset` from `MdlChain` and `DataOffset`.
///
/// # Safety
/// `nb` is a valid, exclusively accessed NET_BUFFER with a valid chain.
unsafe fn set_current_from_offset(nb: *mut n::NET_BUFFER) {
    // SAFETY: caller contract.
    let b = unsafe { &mut *nb };
    let mut mdl = b.first_mdl();
    let mut skip = b.data_offset() as usize;
    let mut walked = 0;
    while !mdl.is_null() && walked < MAX_CHAIN {
        walked += 1;
        // SAFETY: valid chain (caller).
        let m = unsafe { &*mdl };
        let count = m.ByteCount as usize;
        if skip < count || m.Next.is_null() {
            break;
        }
        skip -= count;
        mdl = m.Next;
    }
    // SAFETY: the data view of the header union is the live one for an NB in use.
    let d = unsafe { &mut b.NetBufferHeader.NetBufferData };
    d.CurrentMdl = mdl;
    d.CurrentMdlOffset = skip as u32;
}

/// Total bytes described by an MDL chain.
///
/// # Safety
/// `mdl` is null or a valid chain.
pub(crate) unsafe fn chain_len(mut mdl: *const n::MDL) -> usize {
    let mut total = 0usize;
    let mut walked = 0;
    while !mdl.is_null() && walked < MAX_CHAIN {
        walked += 1;
        // SAFETY: valid chain (caller).
        let m = unsafe { &*mdl };
        total += m.ByteCount as usize;
        mdl = m.Next;
    }
    total
}

/// Initialises the data part of a fresh NB.
///
/// # Safety
/// `nb` is a fresh, exclusively owned NET_BUFFER; `chain` null or a valid chain.
pub(crate) unsafe fn init_nb(
    nb: *mut n::NET_BUFFER,
    chain: *mut n::MDL,
    offset: u32,
    len: u32,
    pool: usize,
) {
    // SAFETY: caller contract.
    let b = unsafe { &mut *nb };
    b.NdisPoolHandle = pool as n::NDIS_HANDLE;
    // SAFETY: the data view of the header union.
    let d = unsafe { &mut b.NetBufferHeader.NetBufferData };
    d.Next = std::ptr::null_mut();
    d.MdlChain = chain;
    d.DataOffset = offset;
    d.NbDataLength.stDataLength = 0;
    d.NbDataLength.DataLength = len;
    // SAFETY: same NB, fully initialised now.
    unsafe { set_current_from_offset(nb) };
}

// ---------------------------------------------------------------------------------------------
// Pools

struct NblMeta {
    /// NB allocated together with the NBL (fAllocateNetBuffer pools).
    own_nb: usize,
    /// Data buffer and MDL NDIS allocated for the NB (pool DataSize).
    data: Option<(usize, usize)>,
    /// Context header at allocation (must be back in place at free).
    ctx0: usize,
    ctx0_offset: u16,
}

/// An NBL pool.
pub(crate) struct NblPool {
    owner: usize,
    params: n::NET_BUFFER_LIST_POOL_PARAMETERS,
    live: Mutex<HashMap<usize, NblMeta>>,
}

struct NbMeta {
    data: Option<(usize, usize)>,
}

/// An NB pool.
pub(crate) struct NbPool {
    owner: usize,
    params: n::NET_BUFFER_POOL_PARAMETERS,
    live: Mutex<HashMap<usize, NbMeta>>,
}

impl NblPool {
    /// NBLs allocated and not freed.
    pub(crate) fn outstanding(&self) -> usize {
        lock(&self.live).len()
    }
}

impl NbPool {
    /// NBs allocated and not freed.
    pub(crate) fn outstanding(&self) -> usize {
        lock(&self.live).len()
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBufferListPool(
    NdisHandle: n::NDIS_HANDLE,
    Parameters: *const n::NET_BUFFER_LIST_POOL_PARAMETERS,
) -> n::NDIS_HANDLE {
    const API: &str = "NdisAllocateNetBufferListPool";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisHandle, API) else {
            return std::ptr::null_mut();
        };
        if Parameters.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL Parameters");
            return std::ptr::null_mut();
        }
        // SAFETY: non-null parameters from the driver.
        let p = unsafe { Parameters.read() };
        if p.Header.Type != n::NDIS_OBJECT_TYPE_DEFAULT
            || p.Header.Revision < n::NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1
            || p.Header.Size < n::NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1
        {
            ndis.checks
                .violation(Kind::BadHeader, API, format!("header {:?}", p.Header));
            return std::ptr::null_mut();
        }
        if !usize::from(p.ContextSize).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT) {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                format!(
                    "ContextSize {} is not a multiple of MEMORY_ALLOCATION_ALIGNMENT",
                    p.ContextSize
                ),
            );
            return std::ptr::null_mut();
        }
        if p.fAllocateNetBuffer == 0 && p.DataSize != 0 {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                "DataSize without fAllocateNetBuffer",
            );
            return std::ptr::null_mut();
        }
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let pool = Arc::new(NblPool {
            owner,
            params: p,
            live: Mutex::new(HashMap::new()),
        });
        let h = Arc::as_ptr(&pool) as usize;
        handles::insert(&ndis, h, Obj::NblPool(pool));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::NblPool,
                owner,
                size: 0,
                tag: p.PoolTag,
                what: API,
            },
        );
        h as n::NDIS_HANDLE
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeNetBufferListPool(PoolHandle: n::NDIS_HANDLE) {
    const API: &str = "NdisFreeNetBufferListPool";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, pool)) = handles::nbl_pool(PoolHandle, API) else {
            return;
        };
        let out = pool.outstanding();
        if out != 0 {
            ndis.checks.violation(
                Kind::Leak,
                API,
                format!(
                    "pool freed with {out} NET_BUFFER_LIST(s) still allocated (they are leaked)"
                ),
            );
        }
        handles::remove(PoolHandle as usize);
        ndis.track.remove(ResKind::NblPool, PoolHandle as usize);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBufferPool(
    NdisHandle: n::NDIS_HANDLE,
    Parameters: *const n::NET_BUFFER_POOL_PARAMETERS,
) -> n::NDIS_HANDLE {
    const API: &str = "NdisAllocateNetBufferPool";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisHandle, API) else {
            return std::ptr::null_mut();
        };
        if Parameters.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL Parameters");
            return std::ptr::null_mut();
        }
        // SAFETY: non-null parameters from the driver.
        let p = unsafe { Parameters.read() };
        if p.Header.Type != n::NDIS_OBJECT_TYPE_DEFAULT
            || p.Header.Revision < n::NET_BUFFER_POOL_PARAMETERS_REVISION_1
            || p.Header.Size < n::NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1
        {
            ndis.checks
                .violation(Kind::BadHeader, API, format!("header {:?}", p.Header));
            return std::ptr::null_mut();
        }
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let pool = Arc::new(NbPool {
            owner,
            params: p,
            live: Mutex::new(HashMap::new()),
        });
        let h = Arc::as_ptr(&pool) as usize;
        handles::insert(&ndis, h, Obj::NbPool(pool));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::NbPool,
                owner,
                size: 0,
                tag: p.PoolTag,
                what: API,
            },
        );
        h as n::NDIS_HANDLE
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeNetBufferPool(PoolHandle: n::NDIS_HANDLE) {
    const API: &str = "NdisFreeNetBufferPool";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, pool)) = handles::nb_pool(PoolHandle, API) else {
            return;
        };
        let out = pool.outstanding();
        if out != 0 {
            ndis.checks.violation(
                Kind::Leak,
                API,
                format!("pool freed with {out} NET_BUFFER(s) still allocated (they are leaked)"),
            );
        }
        handles::remove(PoolHandle as usize);
        ndis.track.remove(ResKind::NbPool, PoolHandle as usize);
    })
}

/// Allocates a context block with `size` data bytes, used part `used` at its end.
fn alloc_context(
    size: usize,
    used: usize,
    next: *mut n::NET_BUFFER_LIST_CONTEXT,
) -> *mut n::NET_BUFFER_LIST_CONTEXT {
    let p = raw_alloc(core::mem::size_of::<n::NET_BUFFER_LIST_CONTEXT>() + size)
        .cast::<n::NET_BUFFER_LIST_CONTEXT>();
    if p.is_null() {
        return p;
    }
    // SAFETY: fresh, aligned block large enough for the header.
    unsafe {
        p.write(n::NET_BUFFER_LIST_CONTEXT {
            Next: next,
            Size: size as u16,
            Offset: (size - used) as u16,
        })
    };
    p
}

/// Allocates an NBL with its context (pool defaults + caller request).
fn new_nbl(
    pool_h: usize,
    pool_ctx: u16,
    ctx_size: u16,
    backfill: u16,
) -> Option<*mut n::NET_BUFFER_LIST> {
    let nbl = raw_alloc(core::mem::size_of::<n::NET_BUFFER_LIST>()).cast::<n::NET_BUFFER_LIST>();
    if nbl.is_null() {
        return None;
    }
    let want = usize::from(ctx_size) + usize::from(backfill);
    let size = want.max(usize::from(pool_ctx));
    if size > 0 {
        let c = alloc_context(size, usize::from(ctx_size), std::ptr::null_mut());
        if c.is_null() {
            raw_free(nbl.cast());
            return None;
        }
        // SAFETY: fresh NBL owned here.
        unsafe { (*nbl).Context = c };
    }
    // SAFETY: fresh NBL owned here.
    unsafe { (*nbl).NdisPoolHandle = pool_h as n::NDIS_HANDLE };
    Some(nbl)
}

fn check_ctx_args(ndis: &Ndis, api: &'static str, size: u16, backfill: u16) -> bool {
    if !usize::from(size).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)
        || !usize::from(backfill).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)
    {
        ndis.checks.violation(
            Kind::BadParameter,
            api,
            format!("context size {size} / backfill {backfill} not multiples of MEMORY_ALLOCATION_ALIGNMENT"),
        );
        return false;
    }
    true
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBufferList(
    PoolHandle: n::NDIS_HANDLE,
    ContextSize: n::USHORT,
    ContextBackFill: n::USHORT,
) -> *mut n::NET_BUFFER_LIST {
    const API: &str = "NdisAllocateNetBufferList";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, pool)) = handles::nbl_pool(PoolHandle, API) else {
            return std::ptr::null_mut();
        };
        if !check_ctx_args(&ndis, API, ContextSize, ContextBackFill) || ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let Some(nbl) = new_nbl(
            PoolHandle as usize,
            pool.params.ContextSize,
            ContextSize,
            ContextBackFill,
        ) else {
            return std::ptr::null_mut();
        };
        // SAFETY: fresh NBL.
        let c0 = unsafe { (*nbl).Context };
        let (c, off) = (c0 as usize, context_offset(c0));
        lock(&pool.live).insert(
            nbl as usize,
            NblMeta {
                own_nb: 0,
                data: None,
                ctx0: c,
                ctx0_offset: off,
            },
        );
        nbl
    })
}

fn context_offset(c: *mut n::NET_BUFFER_LIST_CONTEXT) -> u16 {
    if c.is_null() {
        0
    } else {
        // SAFETY: non-null context header of an NBL (allocated by NDIS).
        unsafe { (*c).Offset }
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBufferAndNetBufferList(
    PoolHandle: n::NDIS_HANDLE,
    ContextSize: n::USHORT,
    ContextBackFill: n::USHORT,
    MdlChain: *mut n::MDL,
    DataOffset: n::ULONG,
    DataLength: n::SIZE_T,
) -> *mut n::NET_BUFFER_LIST {
    const API: &str = "NdisAllocateNetBufferAndNetBufferList";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, pool)) = handles::nbl_pool(PoolHandle, API) else {
            return std::ptr::null_mut();
        };
        if pool.params.fAllocateNetBuffer == 0 {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                "pool was not created with fAllocateNetBuffer",
            );
            return std::ptr::null_mut();
        }
        if !check_ctx_args(&ndis, API, ContextSize, ContextBackFill) || ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let Ok(len32) = u32::try_from(DataLength) else {
            ndis.checks
                .violation(Kind::BadParameter, API, "DataLength beyond 4 GiB");
            return std::ptr::null_mut();
        };
        let mut chain = MdlChain;
        let mut data = None;
        if chain.is_null() && pool.params.DataSize != 0 {
            let buf = raw_alloc(pool.params.DataSize as usize);
            if buf.is_null() {
                return std::ptr::null_mut();
            }
            chain = build_mdl(buf, pool.params.DataSize, Some(&ndis));
            data = Some((chain as usize, buf as usize));
        }
        // SAFETY: `chain` is null or the caller's valid chain / ours.
        let have = unsafe { chain_len(chain) };
        if !chain.is_null() && DataOffset as usize + DataLength > have {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("DataOffset {DataOffset} + DataLength {DataLength} exceed the MDL chain ({have} bytes)"),
            );
        }
        let Some(nbl) = new_nbl(
            PoolHandle as usize,
            pool.params.ContextSize,
            ContextSize,
            ContextBackFill,
        ) else {
            return std::ptr::null_mut();
        };
        let nb = raw_alloc(core::mem::size_of::<n::NET_BUFFER>()).cast::<n::NET_BUFFER>();
        if nb.is_null() {
            free_nbl_blocks(nbl);
            return std::ptr::null_mut();
        }
        // SAFETY: fresh NB, valid (or null) chain.
        unsafe { init_nb(nb, chain, DataOffset, len32, PoolHandle as usize) };
        // SAFETY: fresh NBL.
        unsafe { (*nbl).set_first_nb(nb) };
        // SAFETY: fresh NBL.
        let c0 = unsafe { (*nbl).Context };
        let (c, off) = (c0 as usize, context_offset(c0));
        lock(&pool.live).insert(
            nbl as usize,
            NblMeta {
                own_nb: nb as usize,
                data,
                ctx0: c,
                ctx0_offset: off,
            },
        );
        nbl
    })
}

/// Frees an NBL block and its whole context stack.
fn free_nbl_blocks(nbl: *mut n::NET_BUFFER_LIST) {
    // SAFETY: the NBL is owned by the caller and about to be freed.
    let mut c = unsafe { (*nbl).Context };
    let mut guard_n = 0;
    while !c.is_null() && guard_n < 1024 {
        guard_n += 1;
        // SAFETY: NDIS-allocated context header.
        let next = unsafe { (*c).Next };
        raw_free(c.cast());
        c = next;
    }
    raw_free(nbl.cast());
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeNetBufferList(NetBufferList: *mut n::NET_BUFFER_LIST) {
    const API: &str = "NdisFreeNetBufferList";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBufferList.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER_LIST");
            return;
        }
        // SAFETY: non-null NBL from the driver; the pool handle field is read to find its pool
        // (a freed NBL is still readable: it sits poisoned in quarantine).
        let pool_h = unsafe { (*NetBufferList).NdisPoolHandle };
        if pool_h as usize == FREED_WORD {
            checks::violation(
                Kind::Nbl,
                API,
                format!("{NetBufferList:p} was already freed (double free)"),
            );
            return;
        }
        let Some((ndis, pool)) = handles::nbl_pool(pool_h, API) else {
            return;
        };
        let Some(meta) = lock(&pool.live).remove(&(NetBufferList as usize)) else {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("{NetBufferList:p} is not a live NBL of its pool (double free?)"),
            );
            return;
        };
        if let Some(what) = crate::adapter::nbl_in_flight(&ndis, NetBufferList as usize) {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("{NetBufferList:p} is freed while {what}"),
            );
        }
        // SAFETY: live NBL of this pool, now owned by this call.
        let l = unsafe { &*NetBufferList };
        let (first, ctx, child) = (l.first_nb(), l.Context, l.ChildRefCount);
        if child != 0 {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("NBL has {child} outstanding clone(s)"),
            );
        }
        if ctx as usize != meta.ctx0 || context_offset(ctx) != meta.ctx0_offset {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                "NBL context not restored: every NdisAllocateNetBufferListContext needs its NdisFreeNetBufferListContext",
            );
        }
        if meta.own_nb != 0 {
            if first as usize != meta.own_nb {
                ndis.checks.violation(
                    Kind::Nbl,
                    API,
                    "FirstNetBuffer is not the NET_BUFFER allocated with this NBL",
                );
            }
            raw_free(meta.own_nb as *mut u8);
        } else if !first.is_null() {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                "NBL freed with NET_BUFFERs attached (free them with NdisFreeNetBuffer first)",
            );
        }
        if let Some((mdl, buf)) = meta.data {
            raw_free(mdl as *mut u8);
            raw_free(buf as *mut u8);
        }
        free_nbl_blocks(NetBufferList);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBuffer(
    PoolHandle: n::NDIS_HANDLE,
    MdlChain: *mut n::MDL,
    DataOffset: n::ULONG,
    DataLength: n::SIZE_T,
) -> *mut n::NET_BUFFER {
    const API: &str = "NdisAllocateNetBuffer";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, pool)) = handles::nb_pool(PoolHandle, API) else {
            return std::ptr::null_mut();
        };
        let Ok(len32) = u32::try_from(DataLength) else {
            ndis.checks
                .violation(Kind::BadParameter, API, "DataLength beyond 4 GiB");
            return std::ptr::null_mut();
        };
        // SAFETY: null or the driver's valid chain.
        let have = unsafe { chain_len(MdlChain) };
        if !MdlChain.is_null() && DataOffset as usize + DataLength > have {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("DataOffset {DataOffset} + DataLength {DataLength} exceed the MDL chain ({have} bytes)"),
            );
        }
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let nb = raw_alloc(core::mem::size_of::<n::NET_BUFFER>()).cast::<n::NET_BUFFER>();
        if nb.is_null() {
            return nb;
        }
        // SAFETY: fresh NB; chain valid or null.
        unsafe { init_nb(nb, MdlChain, DataOffset, len32, PoolHandle as usize) };
        lock(&pool.live).insert(nb as usize, NbMeta { data: None });
        nb
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBufferMdlAndData(
    PoolHandle: n::NDIS_HANDLE,
) -> *mut n::NET_BUFFER {
    const API: &str = "NdisAllocateNetBufferMdlAndData";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, pool)) = handles::nb_pool(PoolHandle, API) else {
            return std::ptr::null_mut();
        };
        let size = pool.params.DataSize;
        if size == 0 {
            ndis.checks.violation(Kind::Nbl, API, "pool has DataSize 0");
            return std::ptr::null_mut();
        }
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let buf = raw_alloc(size as usize);
        let nb = raw_alloc(core::mem::size_of::<n::NET_BUFFER>()).cast::<n::NET_BUFFER>();
        if buf.is_null() || nb.is_null() {
            raw_free(buf);
            raw_free(nb.cast());
            return std::ptr::null_mut();
        }
        let mdl = build_mdl(buf, size, Some(&ndis));
        // SAFETY: fresh NB with our MDL.
        unsafe { init_nb(nb, mdl, 0, size, PoolHandle as usize) };
        lock(&pool.live).insert(
            nb as usize,
            NbMeta {
                data: Some((mdl as usize, buf as usize)),
            },
        );
        nb
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeNetBuffer(NetBuffer: *mut n::NET_BUFFER) {
    const API: &str = "NdisFreeNetBuffer";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBuffer.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER");
            return;
        }
        // SAFETY: non-null NB from the driver (a freed one sits poisoned in quarantine).
        let pool_h = unsafe { (*NetBuffer).NdisPoolHandle };
        if pool_h as usize == FREED_WORD {
            checks::violation(
                Kind::Nbl,
                API,
                format!("{NetBuffer:p} was already freed (double free)"),
            );
            return;
        }
        let Some((ndis, pool)) = handles::nb_pool(pool_h, API) else {
            return;
        };
        let Some(meta) = lock(&pool.live).remove(&(NetBuffer as usize)) else {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("{NetBuffer:p} is not a live NET_BUFFER of its pool (double free?)"),
            );
            return;
        };
        if let Some((mdl, buf)) = meta.data {
            raw_free(mdl as *mut u8);
            raw_free(buf as *mut u8);
        }
        raw_free(NetBuffer.cast());
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateMdl(
    NdisHandle: n::NDIS_HANDLE,
    VirtualAddress: n::PVOID,
    Length: n::ULONG,
) -> *mut n::MDL {
    const API: &str = "NdisAllocateMdl";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, owner)) = handles::owner_of(NdisHandle, API) else {
            return std::ptr::null_mut();
        };
        if VirtualAddress.is_null() || Length == 0 {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL address or zero length");
            return std::ptr::null_mut();
        }
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let m = build_mdl(VirtualAddress.cast(), Length, Some(&ndis));
        if !m.is_null() {
            ndis.track.add(
                m as usize,
                Res {
                    kind: ResKind::Mdl,
                    owner,
                    size: Length as usize,
                    tag: 0,
                    what: API,
                },
            );
        }
        m
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeMdl(Mdl: *mut n::MDL) {
    const API: &str = "NdisFreeMdl";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some(ndis) = ctx::current_ndis() else {
            return;
        };
        if ndis.track.remove(ResKind::Mdl, Mdl as usize).is_none() {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("{Mdl:p} is not an MDL from NdisAllocateMdl (or freed twice)"),
            );
            return;
        }
        raw_free(Mdl.cast());
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn MmMapLockedPagesSpecifyCache(
    MemoryDescriptorList: *mut n::MDL,
    _AccessMode: n::KPROCESSOR_MODE,
    _CacheType: n::MEMORY_CACHING_TYPE,
    RequestedAddress: n::PVOID,
    _BugCheckOnFailure: n::ULONG,
    _Priority: n::ULONG,
) -> n::PVOID {
    const API: &str = "MmMapLockedPagesSpecifyCache";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if MemoryDescriptorList.is_null() || !RequestedAddress.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL MDL or a RequestedAddress");
            return std::ptr::null_mut();
        }
        // SAFETY: non-null MDL from the driver.
        let m = unsafe { &mut *MemoryDescriptorList };
        let va = m.virtual_address() as n::PVOID;
        m.MappedSystemVa = va;
        m.MdlFlags |= n::MDL_MAPPED_TO_SYSTEM_VA;
        va
    })
}

// ---------------------------------------------------------------------------------------------
// Data start moves and access

/// MDLs NDIS allocated in NdisRetreatNetBufferDataStart (freed by Advance with FreeMdl):
/// MDL → data buffer (0 when the driver's allocate handler made it).
static RETREAT_MDLS: LazyLock<Mutex<HashMap<usize, (usize, n::NET_BUFFER_FREE_MDL)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisRetreatNetBufferDataStart(
    NetBuffer: *mut n::NET_BUFFER,
    DataOffsetDelta: n::ULONG,
    DataBackFill: n::ULONG,
    AllocateMdlHandler: n::NET_BUFFER_ALLOCATE_MDL,
) -> n::NDIS_STATUS {
    const API: &str = "NdisRetreatNetBufferDataStart";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBuffer.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null NB owned by the caller.
        let b = unsafe { &mut *NetBuffer };
        let off = b.data_offset();
        if DataOffsetDelta <= off {
            // SAFETY: the data view of the header union.
            let d = unsafe { &mut b.NetBufferHeader.NetBufferData };
            d.DataOffset = off - DataOffsetDelta;
            // SAFETY: integer view of the length union.
            let len = unsafe { d.NbDataLength.DataLength };
            d.NbDataLength.DataLength = len + DataOffsetDelta;
            // SAFETY: valid NB with its chain.
            unsafe { set_current_from_offset(NetBuffer) };
            return n::NDIS_STATUS_SUCCESS;
        }
        if b.current_mdl_offset() != 0 {
            checks::warning(
                Kind::Nbl,
                API,
                "retreat beyond the unused space with the data start inside an MDL is not emulated",
            );
            return n::NDIS_STATUS_RESOURCES;
        }
        let size = DataOffsetDelta + DataBackFill;
        let (mdl, buf, free_h): (*mut n::MDL, usize, n::NET_BUFFER_FREE_MDL) =
            match AllocateMdlHandler {
                Some(alloc) => {
                    let mut sz = size;
                    // SAFETY: the driver's allocate-MDL callback with an in/out size.
                    let m = unsafe { alloc(&mut sz) };
                    if m.is_null() || sz < size {
                        return n::NDIS_STATUS_RESOURCES;
                    }
                    (m, 0, None)
                }
                None => {
                    let buf = raw_alloc(size as usize);
                    if buf.is_null() {
                        return n::NDIS_STATUS_RESOURCES;
                    }
                    (build_mdl(buf, size, None), buf as usize, None)
                }
            };
        if mdl.is_null() {
            return n::NDIS_STATUS_RESOURCES;
        }
        lock(&RETREAT_MDLS).insert(mdl as usize, (buf, free_h));
        // SAFETY: fresh (or driver-provided) MDL exclusively owned by the NB from now on.
        let msize = unsafe { (*mdl).ByteCount };
        // SAFETY: as above; link before the current data start.
        unsafe { (*mdl).Next = b.current_mdl() };
        // SAFETY: data view of the header union.
        let d = unsafe { &mut b.NetBufferHeader.NetBufferData };
        d.MdlChain = mdl;
        d.DataOffset = msize - DataOffsetDelta;
        // SAFETY: integer view.
        let len = unsafe { d.NbDataLength.DataLength };
        d.NbDataLength.DataLength = len + DataOffsetDelta;
        // SAFETY: valid NB with its new chain.
        unsafe { set_current_from_offset(NetBuffer) };
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAdvanceNetBufferDataStart(
    NetBuffer: *mut n::NET_BUFFER,
    DataOffsetDelta: n::ULONG,
    FreeMdl: n::BOOLEAN,
    FreeMdlHandler: n::NET_BUFFER_FREE_MDL,
) {
    const API: &str = "NdisAdvanceNetBufferDataStart";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBuffer.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER");
            return;
        }
        // SAFETY: non-null NB owned by the caller.
        let b = unsafe { &mut *NetBuffer };
        let len = b.data_length();
        if DataOffsetDelta > len {
            checks::violation(
                Kind::Nbl,
                API,
                format!("advance by {DataOffsetDelta} beyond DataLength {len}"),
            );
            return;
        }
        {
            // SAFETY: data view of the header union.
            let d = unsafe { &mut b.NetBufferHeader.NetBufferData };
            d.DataOffset += DataOffsetDelta;
            d.NbDataLength.DataLength = len - DataOffsetDelta;
        }
        if FreeMdl != 0 {
            // Free retreat-allocated MDLs that now lie entirely before the data start.
            loop {
                let first = b.first_mdl();
                if first.is_null() {
                    break;
                }
                let Some((buf, _)) = lock(&RETREAT_MDLS).get(&(first as usize)).copied() else {
                    break;
                };
                // SAFETY: an MDL of this NB's chain.
                let fm = unsafe { &*first };
                let (count, next) = (fm.ByteCount, fm.Next);
                if b.data_offset() < count {
                    break;
                }
                lock(&RETREAT_MDLS).remove(&(first as usize));
                // SAFETY: data view.
                let d = unsafe { &mut b.NetBufferHeader.NetBufferData };
                d.MdlChain = next;
                d.DataOffset -= count;
                match FreeMdlHandler {
                    // SAFETY: the driver's free callback for an MDL its allocate callback made.
                    Some(f) if buf == 0 => unsafe { f(first) },
                    _ => {
                        raw_free(first.cast());
                        raw_free(buf as *mut u8);
                    }
                }
            }
        }
        // SAFETY: valid NB.
        unsafe { set_current_from_offset(NetBuffer) };
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisGetDataBuffer(
    NetBuffer: *mut n::NET_BUFFER,
    BytesNeeded: n::ULONG,
    Storage: n::PVOID,
    AlignMultiple: n::ULONG,
    AlignOffset: n::ULONG,
) -> n::PVOID {
    const API: &str = "NdisGetDataBuffer";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBuffer.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER");
            return std::ptr::null_mut();
        }
        if AlignMultiple > 1 && !AlignMultiple.is_power_of_two() {
            checks::violation(
                Kind::BadParameter,
                API,
                format!("AlignMultiple {AlignMultiple} is not a power of two"),
            );
            return std::ptr::null_mut();
        }
        // SAFETY: non-null NB the caller owns.
        let b = unsafe { &*NetBuffer };
        if BytesNeeded == 0 || b.data_length() < BytesNeeded {
            return std::ptr::null_mut();
        }
        let cur = b.current_mdl();
        if cur.is_null() {
            checks::violation(Kind::Nbl, API, "NET_BUFFER without a current MDL");
            return std::ptr::null_mut();
        }
        // SAFETY: the current MDL of a valid NB.
        let count = unsafe { (*cur).ByteCount };
        // SAFETY: as above.
        let va = unsafe { mdl_va(cur) };
        let off = b.current_mdl_offset();
        let p = va.wrapping_add(off as usize);
        let aligned =
            AlignMultiple <= 1 || (p as usize) % AlignMultiple as usize == AlignOffset as usize;
        if count.saturating_sub(off) >= BytesNeeded && aligned {
            return p.cast();
        }
        if Storage.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: valid NB (its chain covers DataLength >= BytesNeeded).
        let segs = match unsafe { nb_segments(NetBuffer) } {
            Ok(s) => s,
            Err(e) => {
                checks::violation(Kind::Nbl, API, format!("malformed NET_BUFFER: {e}"));
                return std::ptr::null_mut();
            }
        };
        let mut o = 0usize;
        for (sva, slen) in segs {
            let take = slen.min(BytesNeeded as usize - o);
            // SAFETY: the segment is readable NB data; Storage has BytesNeeded bytes (DDI
            // contract) and does not overlap NB data.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    sva as *const u8,
                    Storage.cast::<u8>().wrapping_add(o),
                    take,
                )
            };
            o += take;
            if o == BytesNeeded as usize {
                break;
            }
        }
        Storage
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisQueryNetBufferPhysicalCount(
    NetBuffer: *mut n::NET_BUFFER,
) -> n::ULONG {
    const API: &str = "NdisQueryNetBufferPhysicalCount";
    guard(API, 0, || {
        if NetBuffer.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER");
            return 0;
        }
        // SAFETY: non-null NB the caller owns.
        match unsafe { nb_segments(NetBuffer) } {
            Ok(segs) => segs
                .iter()
                .map(|&(va, len)| ((va % 4096) + len).div_ceil(4096) as u32)
                .sum(),
            Err(e) => {
                checks::violation(Kind::Nbl, API, format!("malformed NET_BUFFER: {e}"));
                0
            }
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisCopyFromNetBufferToNetBuffer(
    Destination: *mut n::NET_BUFFER,
    DestinationOffset: n::ULONG,
    BytesToCopy: n::ULONG,
    Source: *const n::NET_BUFFER,
    SourceOffset: n::ULONG,
    BytesCopied: *mut n::ULONG,
) -> n::NDIS_STATUS {
    const API: &str = "NdisCopyFromNetBufferToNetBuffer";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if Destination.is_null() || Source.is_null() || BytesCopied.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL argument");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: valid NBs owned by the caller.
        let src = unsafe { nb_segments(Source) };
        // SAFETY: as above.
        let dst = unsafe { nb_segments(Destination) };
        let (src, dst) = match (src, dst) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => {
                checks::violation(Kind::Nbl, API, format!("malformed NET_BUFFER: {e}"));
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
        };
        let flat = |segs: &[(usize, usize)], skip: usize| -> Vec<(usize, usize)> {
            let mut out = Vec::new();
            let mut skip = skip;
            for &(va, len) in segs {
                if skip >= len {
                    skip -= len;
                    continue;
                }
                out.push((va + skip, len - skip));
                skip = 0;
            }
            out
        };
        let s = flat(&src, SourceOffset as usize);
        let d = flat(&dst, DestinationOffset as usize);
        let mut want = BytesToCopy as usize;
        let (mut si, mut so, mut di, mut dof, mut done) = (0, 0, 0, 0, 0usize);
        while want > 0 && si < s.len() && di < d.len() {
            let take = (s[si].1 - so).min(d[di].1 - dof).min(want);
            // SAFETY: both ranges are inside NB data (readable source, writable destination) and
            // the NBs are distinct per the DDI.
            unsafe {
                std::ptr::copy(
                    (s[si].0 + so) as *const u8,
                    (d[di].0 + dof) as *mut u8,
                    take,
                )
            };
            so += take;
            dof += take;
            want -= take;
            done += take;
            if so == s[si].1 {
                si += 1;
                so = 0;
            }
            if dof == d[di].1 {
                di += 1;
                dof = 0;
            }
        }
        // SAFETY: non-null out-parameter.
        unsafe { *BytesCopied = done as u32 };
        n::NDIS_STATUS_SUCCESS
    })
}

// ---------------------------------------------------------------------------------------------
// NBL contexts

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateNetBufferListContext(
    NetBufferList: *mut n::NET_BUFFER_LIST,
    ContextSize: n::USHORT,
    ContextBackFill: n::USHORT,
    _PoolTag: n::ULONG,
) -> n::NDIS_STATUS {
    const API: &str = "NdisAllocateNetBufferListContext";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBufferList.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER_LIST");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if !usize::from(ContextSize).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)
            || !usize::from(ContextBackFill).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)
        {
            checks::violation(
                Kind::BadParameter,
                API,
                format!("ContextSize {ContextSize} / backfill {ContextBackFill} not multiples of MEMORY_ALLOCATION_ALIGNMENT"),
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if ctx::current_ndis().is_some_and(|n| n.fail.should_fail()) {
            return n::NDIS_STATUS_RESOURCES;
        }
        // SAFETY: non-null NBL the caller owns.
        let nbl = unsafe { &mut *NetBufferList };
        let c = nbl.Context;
        if !c.is_null() {
            // SAFETY: NDIS-allocated context header.
            let off = unsafe { (*c).Offset };
            if off >= ContextSize {
                // SAFETY: as above; the used area grows downwards into the backfill.
                unsafe { (*c).Offset = off - ContextSize };
                return n::NDIS_STATUS_SUCCESS;
            }
        }
        let size = usize::from(ContextSize) + usize::from(ContextBackFill);
        let nc = alloc_context(size, usize::from(ContextSize), c);
        if nc.is_null() {
            return n::NDIS_STATUS_RESOURCES;
        }
        nbl.Context = nc;
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeNetBufferListContext(
    NetBufferList: *mut n::NET_BUFFER_LIST,
    ContextSize: n::USHORT,
) {
    const API: &str = "NdisFreeNetBufferListContext";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if NetBufferList.is_null() {
            checks::violation(Kind::Nbl, API, "NULL NET_BUFFER_LIST");
            return;
        }
        // SAFETY: non-null NBL the caller owns.
        let nbl = unsafe { &mut *NetBufferList };
        let c = nbl.Context;
        if c.is_null() {
            checks::violation(Kind::Nbl, API, "NBL has no context to free");
            return;
        }
        // SAFETY: NDIS-allocated context header.
        let h = unsafe { &*c };
        let (off, size, next) = (h.Offset, h.Size, h.Next);
        let new_off = off.saturating_add(ContextSize);
        if new_off > size {
            checks::violation(
                Kind::Nbl,
                API,
                format!(
                    "freeing {ContextSize} context bytes, only {} in use in this block",
                    size - off
                ),
            );
            return;
        }
        // A block that NdisAllocateNetBufferListContext pushed goes away when empty; the
        // NBL's own (pool) context stays.
        if new_off == size && !next.is_null() {
            nbl.Context = next;
            raw_free(c.cast());
        } else {
            // SAFETY: as above.
            unsafe { (*c).Offset = new_off };
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Clones

struct CloneMeta {
    nbs: Vec<usize>,
    mdls: Vec<usize>,
}

static CLONES: LazyLock<Mutex<HashMap<usize, CloneMeta>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisAllocateCloneNetBufferList(
    OriginalNetBufferList: *mut n::NET_BUFFER_LIST,
    NetBufferListPoolHandle: n::NDIS_HANDLE,
    NetBufferPoolHandle: n::NDIS_HANDLE,
    AllocateCloneFlags: n::ULONG,
) -> *mut n::NET_BUFFER_LIST {
    const API: &str = "NdisAllocateCloneNetBufferList";
    guard(API, std::ptr::null_mut(), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        if OriginalNetBufferList.is_null() {
            checks::violation(Kind::Nbl, API, "NULL original");
            return std::ptr::null_mut();
        }
        let Some((ndis, pool)) = handles::nbl_pool(NetBufferListPoolHandle, API) else {
            return std::ptr::null_mut();
        };
        if !NetBufferPoolHandle.is_null() && handles::nb_pool(NetBufferPoolHandle, API).is_none() {
            return std::ptr::null_mut();
        }
        if ndis.fail.should_fail() {
            return std::ptr::null_mut();
        }
        let Some(clone) = new_nbl(
            NetBufferListPoolHandle as usize,
            pool.params.ContextSize,
            0,
            0,
        ) else {
            return std::ptr::null_mut();
        };
        let mut meta = CloneMeta {
            nbs: Vec::new(),
            mdls: Vec::new(),
        };
        let mut prev: *mut n::NET_BUFFER = std::ptr::null_mut();
        // SAFETY: the caller's valid original NBL and its NB chain.
        for nb in unsafe { n::NbChain::new(OriginalNetBufferList) } {
            // SAFETY: valid NB of the original.
            let b = unsafe { &*nb };
            let cnb = raw_alloc(core::mem::size_of::<n::NET_BUFFER>()).cast::<n::NET_BUFFER>();
            if cnb.is_null() {
                break;
            }
            if AllocateCloneFlags & n::NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS != 0 {
                // SAFETY: fresh NB referencing the original's MDLs from the data start.
                unsafe {
                    init_nb(
                        cnb,
                        b.current_mdl(),
                        b.current_mdl_offset(),
                        b.data_length(),
                        NetBufferPoolHandle as usize,
                    )
                };
            } else {
                // New MDLs describing the same data.
                // SAFETY: valid NB.
                let segs = unsafe { nb_segments(nb) }.unwrap_or_default();
                let mut head: *mut n::MDL = std::ptr::null_mut();
                let mut tail: *mut n::MDL = std::ptr::null_mut();
                for (va, len) in segs {
                    let m = build_mdl(va as *mut u8, len as u32, Some(&ndis));
                    if m.is_null() {
                        continue;
                    }
                    meta.mdls.push(m as usize);
                    if tail.is_null() {
                        head = m;
                    } else {
                        // SAFETY: our own MDL.
                        unsafe { (*tail).Next = m };
                    }
                    tail = m;
                }
                // SAFETY: fresh NB with our chain.
                unsafe { init_nb(cnb, head, 0, b.data_length(), NetBufferPoolHandle as usize) };
            }
            meta.nbs.push(cnb as usize);
            if prev.is_null() {
                // SAFETY: fresh clone NBL.
                unsafe { (*clone).set_first_nb(cnb) };
            } else {
                // SAFETY: the previous clone NB.
                unsafe { (*prev).set_next_nb(cnb) };
            }
            prev = cnb;
        }
        // SAFETY: fresh clone and the caller's original.
        unsafe {
            (*clone).ParentNetBufferList = OriginalNetBufferList;
        }
        // SAFETY: the original is valid; ChildRefCount is an NDIS-maintained counter.
        unsafe { (*OriginalNetBufferList).ChildRefCount += 1 };
        // SAFETY: fresh clone.
        let c0 = unsafe { (*clone).Context };
        let (c, off) = (c0 as usize, context_offset(c0));
        lock(&pool.live).insert(
            clone as usize,
            NblMeta {
                own_nb: 0,
                data: None,
                ctx0: c,
                ctx0_offset: off,
            },
        );
        lock(&CLONES).insert(clone as usize, meta);
        ndis.track.add(
            clone as usize,
            Res {
                kind: ResKind::Clone,
                owner: pool.owner,
                size: 0,
                tag: 0,
                what: API,
            },
        );
        clone
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisFreeCloneNetBufferList(
    CloneNetBufferList: *mut n::NET_BUFFER_LIST,
    _FreeCloneFlags: n::ULONG,
) {
    const API: &str = "NdisFreeCloneNetBufferList";
    guard(API, (), || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some(ndis) = ctx::current_ndis() else {
            return;
        };
        let Some(meta) = lock(&CLONES).remove(&(CloneNetBufferList as usize)) else {
            ndis.checks.violation(
                Kind::Nbl,
                API,
                format!("{CloneNetBufferList:p} is not a live clone (double free?)"),
            );
            return;
        };
        ndis.track
            .remove(ResKind::Clone, CloneNetBufferList as usize);
        // SAFETY: live clone owned by the caller.
        let cl = unsafe { &*CloneNetBufferList };
        let (parent, pool_h) = (cl.ParentNetBufferList, cl.NdisPoolHandle);
        if !parent.is_null() {
            // SAFETY: the original outlives its clones (DDI contract).
            unsafe { (*parent).ChildRefCount -= 1 };
        }
        for nb in meta.nbs {
            raw_free(nb as *mut u8);
        }
        for m in meta.mdls {
            raw_free(m as *mut u8);
        }
        // SAFETY: the clone's NB chain was freed above.
        unsafe { (*CloneNetBufferList).set_first_nb(std::ptr::null_mut()) };
        if let Some((_, pool)) = handles::nbl_pool(pool_h, API) {
            lock(&pool.live).remove(&(CloneNetBufferList as usize));
        }
        free_nbl_blocks(CloneNetBufferList);
    })
}

/// Pools of `owner` still allocated and the NBLs/NBs in them (Halt check).
pub(crate) fn pool_usage(ndis: &Ndis, owner: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (h, r) in ndis.track.owned_by(Some(owner)) {
        match (r.kind, handles::lookup(h)) {
            (ResKind::NblPool, Some((_, Obj::NblPool(p)))) if p.owner == owner => out.push(
                format!("NBL pool {h:#x} with {} NBL(s) allocated", p.outstanding()),
            ),
            (ResKind::NbPool, Some((_, Obj::NbPool(p)))) if p.owner == owner => out.push(format!(
                "NB pool {h:#x} with {} NB(s) allocated",
                p.outstanding()
            )),
            _ => {}
        }
    }
    out
}
