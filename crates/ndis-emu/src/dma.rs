//! DMA: the bus's device-visible memory, shared memory (`NdisMAllocateSharedMemory`), the
//! scatter/gather DMA registration and `NdisMAllocateNetBufferSGList` with bounce buffers.
//!
//! Address translation: every chunk the emulator takes from the bus is entered in a table
//! (CPU address → device address). A buffer inside one chunk is mapped in place (its elements
//! carry its device address); any other buffer (plain heap memory, e.g. NBLs a test or the
//! driver allocated from pools) is copied into a bounce buffer taken from DMA memory — what
//! Windows does with map registers for memory a device cannot reach — and, for device-to-memory
//! lists, copied back when the list is freed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ndis_sys as n;

use crate::accounting::Handler;
use crate::bus::{Bus, DmaChunk};
use crate::checks::{self, Kind};
use crate::handles::{self, Obj};
use crate::nbl;
use crate::ndis::{guard, lock, Ndis};
use crate::track::{Res, ResKind};

/// Page size of the emulated machine.
pub const PAGE: usize = 4096;

/// Size of chunks the small-buffer heap takes from the bus.
const HEAP_CHUNK: usize = 256 * 1024;
/// Granularity / alignment of small-buffer heap allocations.
const HEAP_ALIGN: usize = 64;

struct HeapChunk {
    chunk: DmaChunk,
    /// Free ranges: offset → length.
    free: BTreeMap<usize, usize>,
    /// Allocations: offset → length.
    used: HashMap<usize, usize>,
}

impl HeapChunk {
    fn alloc(&mut self, len: usize) -> Option<usize> {
        let len = len.max(1).div_ceil(HEAP_ALIGN) * HEAP_ALIGN;
        let (&off, &flen) = self.free.iter().find(|(_, &l)| l >= len)?;
        self.free.remove(&off);
        if flen > len {
            self.free.insert(off + len, flen - len);
        }
        self.used.insert(off, len);
        Some(off)
    }

    fn free(&mut self, off: usize) -> bool {
        let Some(mut len) = self.used.remove(&off) else {
            return false;
        };
        let mut start = off;
        if let Some((&ps, &pl)) = self.free.range(..start).next_back() {
            if ps + pl == start {
                self.free.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = self.free.get(&(start + len)) {
            self.free.remove(&(start + len));
            len += nl;
        }
        self.free.insert(start, len);
        true
    }
}

/// The device-visible memory of one emulator.
pub(crate) struct DmaSpace {
    bus: Arc<dyn Bus>,
    /// Every chunk taken from the bus, by CPU address.
    chunks: Mutex<BTreeMap<usize, DmaChunk>>,
    heap: Mutex<Vec<HeapChunk>>,
}

impl DmaSpace {
    pub(crate) fn new(bus: Arc<dyn Bus>) -> Self {
        DmaSpace {
            bus,
            chunks: Mutex::new(BTreeMap::new()),
            heap: Mutex::new(Vec::new()),
        }
    }

    /// Page-aligned DMA memory straight from the bus.
    pub(crate) fn alloc_pages(&self, len: usize) -> Option<DmaChunk> {
        let c = self.bus.dma_alloc(len.max(1))?;
        lock(&self.chunks).insert(c.va as usize, c);
        Some(c)
    }

    /// Returns a chunk from [`DmaSpace::alloc_pages`].
    pub(crate) fn free_pages(&self, va: usize) -> bool {
        let Some(c) = lock(&self.chunks).remove(&va) else {
            return false;
        };
        // SAFETY: `c` was returned by this bus's dma_alloc, is removed from the table (freed once)
        // and its owner gave it back.
        unsafe { self.bus.dma_free(c) };
        true
    }

    /// Device address of `va .. va + len` if the whole range lies in one DMA chunk.
    pub(crate) fn translate(&self, va: usize, len: usize) -> Option<u64> {
        let chunks = lock(&self.chunks);
        let (&start, c) = chunks.range(..=va).next_back()?;
        let off = va - start;
        (off.checked_add(len)? <= c.len).then(|| c.pa + off as u64)
    }

    /// A small DMA-able buffer (64-byte aligned): (CPU address, device address).
    pub(crate) fn alloc_small(&self, len: usize) -> Option<(*mut u8, u64)> {
        let mut heap = lock(&self.heap);
        for h in heap.iter_mut() {
            if let Some(off) = h.alloc(len) {
                // SAFETY: `off` is inside the chunk (the heap allocator keeps within its length).
                let va = unsafe { h.chunk.va.add(off) };
                return Some((va, h.chunk.pa + off as u64));
            }
        }
        let size = len.div_ceil(PAGE).max(1) * PAGE;
        let chunk = self.alloc_pages(size.max(HEAP_CHUNK))?;
        let mut free = BTreeMap::new();
        free.insert(0, chunk.len);
        let mut h = HeapChunk {
            chunk,
            free,
            used: HashMap::new(),
        };
        let off = h.alloc(len)?;
        // SAFETY: as above.
        let va = unsafe { chunk.va.add(off) };
        let pa = chunk.pa + off as u64;
        heap.push(h);
        Some((va, pa))
    }

    /// Frees a buffer from [`DmaSpace::alloc_small`]; chunks that become empty (other than the
    /// first) go back to the bus.
    pub(crate) fn free_small(&self, va: *mut u8) -> bool {
        let mut heap = lock(&self.heap);
        let a = va as usize;
        let Some(i) = heap
            .iter()
            .position(|h| a >= h.chunk.va as usize && a < h.chunk.va as usize + h.chunk.len)
        else {
            return false;
        };
        let base = heap[i].chunk.va as usize;
        let ok = heap[i].free(a - base);
        if ok && i != 0 && heap[i].used.is_empty() {
            let h = heap.swap_remove(i);
            drop(heap);
            self.free_pages(h.chunk.va as usize);
        }
        ok
    }

    /// Bytes currently taken from the bus.
    pub(crate) fn bytes_in_use(&self) -> usize {
        lock(&self.chunks).values().map(|c| c.len).sum()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared memory

struct Shared {
    len: u32,
    cached: u8,
    pa: i64,
}

static SHARED: std::sync::LazyLock<Mutex<HashMap<usize, Shared>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

fn alloc_shared(
    ndis: &Ndis,
    adapter: usize,
    len: u32,
    cached: u8,
    api: &'static str,
) -> Option<DmaChunk> {
    if len == 0 {
        ndis.checks.violation(Kind::BadParameter, api, "Length 0");
        return None;
    }
    if ndis.fail.should_fail() {
        return None;
    }
    let c = ndis.dma.alloc_pages(len as usize)?;
    // Shared memory content is undefined; do not let the driver rely on zeroes.
    // SAFETY: the chunk is fresh DMA memory of at least `len` bytes owned by this allocation.
    unsafe { std::ptr::write_bytes(c.va, crate::memory::UNINIT_FILL, len as usize) };
    ndis.track.add(
        c.va as usize,
        Res {
            kind: ResKind::SharedMemory,
            owner: adapter,
            size: len as usize,
            tag: 0,
            what: api,
        },
    );
    lock(&SHARED).insert(
        c.va as usize,
        Shared {
            len,
            cached,
            pa: c.pa as i64,
        },
    );
    Some(c)
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMAllocateSharedMemory(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    Length: n::ULONG,
    Cached: n::BOOLEAN,
    VirtualAddress: *mut n::PVOID,
    PhysicalAddress: *mut n::NDIS_PHYSICAL_ADDRESS,
) {
    const API: &str = "NdisMAllocateSharedMemory";
    guard(API, (), || {
        if VirtualAddress.is_null() || PhysicalAddress.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL output pointer");
            return;
        }
        // SAFETY: checked non-null; the driver passes writable out-parameters.
        unsafe { *VirtualAddress = std::ptr::null_mut() };
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        if let Some(c) = alloc_shared(&ndis, a.handle(), Length, Cached, API) {
            // SAFETY: checked non-null above.
            unsafe { *VirtualAddress = c.va.cast() };
            // SAFETY: checked non-null above.
            unsafe { *PhysicalAddress = c.pa as i64 };
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMFreeSharedMemory(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    Length: n::ULONG,
    Cached: n::BOOLEAN,
    VirtualAddress: n::PVOID,
    PhysicalAddress: n::NDIS_PHYSICAL_ADDRESS,
) {
    const API: &str = "NdisMFreeSharedMemory";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, _a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        let va = VirtualAddress as usize;
        let Some(s) = lock(&SHARED).remove(&va) else {
            ndis.checks.violation(
                Kind::Dma,
                API,
                format!("{va:#x} is not live shared memory (double free or never allocated)"),
            );
            return;
        };
        if s.len != Length || s.cached != Cached || s.pa != PhysicalAddress {
            ndis.checks.violation(
                Kind::Dma,
                API,
                format!(
                    "arguments differ from the allocation: length {Length} vs {}, cached {Cached} vs {}, physical {PhysicalAddress:#x} vs {:#x}",
                    s.len, s.cached, s.pa
                ),
            );
        }
        ndis.track.remove(ResKind::SharedMemory, va);
        ndis.dma.free_pages(va);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMAllocateSharedMemoryAsyncEx(
    MiniportDmaHandle: n::NDIS_HANDLE,
    Length: n::ULONG,
    Cached: n::BOOLEAN,
    Context: n::PVOID,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMAllocateSharedMemoryAsyncEx";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_at_most(n::DISPATCH_LEVEL, API);
        let Some((ndis, dma)) = handles::dma(MiniportDmaHandle, API) else {
            return n::NDIS_STATUS_FAILURE;
        };
        let Some(complete) = dma.shared_complete else {
            ndis.checks.violation(
                Kind::Dma,
                API,
                "no SharedMemAllocateCompleteHandler was registered in NDIS_SG_DMA_DESCRIPTION",
            );
            return n::NDIS_STATUS_FAILURE;
        };
        let ctx_addr = Context as usize;
        let adapter = dma.adapter;
        ndis.rt.queue_work(Box::new(move |ndis: &Arc<Ndis>| {
            let Some(a) = lock(&ndis.adapter).clone() else {
                return;
            };
            let c = alloc_shared(ndis, adapter, Length, Cached, API);
            let (va, mut pa) =
                c.map_or((std::ptr::null_mut(), 0i64), |c| (c.va.cast(), c.pa as i64));
            ndis.call_driver(Handler::SharedMemoryComplete, adapter, || {
                // SAFETY: the driver's completion handler with its adapter context, the memory
                // (or NULL on failure), a valid physical address slot, the length and its context.
                unsafe { complete(a.context(), va, &mut pa, Length, ctx_addr as n::PVOID) }
            });
        }));
        n::NDIS_STATUS_PENDING
    })
}

// ---------------------------------------------------------------------------------------------
// Scatter/gather DMA

/// A scatter/gather DMA registration (`NdisMRegisterScatterGatherDma`).
pub(crate) struct SgDma {
    pub(crate) adapter: usize,
    flags: u32,
    max_mapping: u32,
    process: n::MINIPORT_PROCESS_SG_LIST_HANDLER,
    shared_complete: n::MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE_HANDLER,
    list_size: u32,
    lists: Mutex<HashMap<usize, SgRecord>>,
    /// A fake PDO passed to `MiniportProcessSGList`.
    pdo: usize,
}

struct Bounce {
    dma: *mut u8,
    len: usize,
    /// Where the data lives in the NB (segments), for the copy back.
    segs: Vec<(usize, usize)>,
}

struct SgRecord {
    nb: usize,
    internal: Option<(usize, usize)>,
    bounces: Vec<Bounce>,
    to_device: bool,
}

// SAFETY: the raw pointers in records are addresses of DMA memory owned by the record.
unsafe impl Send for SgRecord {}

/// Maximum SG elements for a mapping of `len` bytes (one per page, plus a partial page at each
/// end, plus one per bounce split).
fn max_elements(len: u32) -> u32 {
    (len as usize).div_ceil(PAGE) as u32 + 2
}

/// Bytes of SG list storage for a mapping of `max` bytes.
fn list_bytes(max: u32) -> u32 {
    (core::mem::size_of::<n::SCATTER_GATHER_LIST>()
        + core::mem::size_of::<n::SCATTER_GATHER_ELEMENT>() * max_elements(max) as usize) as u32
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMRegisterScatterGatherDma(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    DmaDescription: n::PNDIS_SG_DMA_DESCRIPTION,
    NdisMiniportDmaHandle: *mut n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMRegisterScatterGatherDma";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if DmaDescription.is_null() || NdisMiniportDmaHandle.is_null() {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                "NULL description or handle pointer",
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if !a.in_initialize() {
            ndis.checks
                .violation(Kind::State, API, "must be called from MiniportInitializeEx");
        }
        // SAFETY: non-null; the driver passes a description of at least Header.Size bytes, and
        // the header is always present.
        let hdr = unsafe { (*DmaDescription).Header };
        let registered = a.driver().registered_version();
        let min = match hdr.Revision {
            n::NDIS_SG_DMA_DESCRIPTION_REVISION_1 => n::NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1,
            n::NDIS_SG_DMA_DESCRIPTION_REVISION_2 if registered >= n::NdisVersion::V6_85 => {
                n::NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_2
            }
            r => {
                ndis.checks.violation(
                    Kind::BadHeader,
                    API,
                    format!(
                        "NDIS_SG_DMA_DESCRIPTION revision {r} is not valid for a miniport registered as NDIS {}.{}",
                        registered.major, registered.minor
                    ),
                );
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
        };
        if hdr.Type != n::NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION || hdr.Size < min {
            ndis.checks.violation(
                Kind::BadHeader,
                API,
                format!(
                    "header type {:#x} size {} (need type {:#x}, size >= {min} for revision {})",
                    hdr.Type,
                    hdr.Size,
                    n::NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION,
                    hdr.Revision
                ),
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: the header says the revision-1 part (all fields read here but PdoOverride) is
        // present.
        let d = unsafe { core::ptr::read(DmaDescription) };
        let d_pdo = if hdr.Revision >= n::NDIS_SG_DMA_DESCRIPTION_REVISION_2 {
            d.PdoOverride as usize
        } else {
            0
        };
        if d.ProcessSGListHandler.is_none() {
            ndis.checks
                .violation(Kind::BadParameter, API, "ProcessSGListHandler is NULL");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if d.MaximumPhysicalMapping == 0 {
            ndis.checks
                .violation(Kind::BadParameter, API, "MaximumPhysicalMapping is 0");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if a.attribute_flags() & n::NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER == 0 {
            ndis.checks.warning(
                Kind::Attributes,
                API,
                "scatter/gather DMA registered without NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER",
            );
        }
        if d.Flags & n::NDIS_SG_DMA_64_BIT_ADDRESS == 0 && !ndis.bus.dma_is_32bit() {
            ndis.checks.warning(
                Kind::Dma,
                API,
                "no NDIS_SG_DMA_64_BIT_ADDRESS: DMA memory above 4 GiB cannot be mapped for this device",
            );
        }
        if a.dma().is_some() {
            ndis.checks
                .violation(Kind::State, API, "scatter/gather DMA registered twice");
            return n::NDIS_STATUS_RESOURCE_CONFLICT;
        }
        if ndis.fail.should_fail() {
            return n::NDIS_STATUS_RESOURCES;
        }
        let dma = Arc::new(SgDma {
            adapter: a.handle(),
            flags: d.Flags,
            max_mapping: d.MaximumPhysicalMapping,
            process: d.ProcessSGListHandler,
            shared_complete: d.SharedMemAllocateCompleteHandler,
            list_size: list_bytes(d.MaximumPhysicalMapping),
            lists: Mutex::new(HashMap::new()),
            pdo: if d_pdo != 0 { d_pdo } else { a.pdo() },
        });
        let h = Arc::as_ptr(&dma) as usize;
        handles::insert(&ndis, h, Obj::Dma(dma.clone()));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::DmaRegistration,
                owner: a.handle(),
                size: 0,
                tag: 0,
                what: API,
            },
        );
        a.set_dma(Some(dma.clone()));
        // SAFETY: non-null, writable (checked); ScatterGatherListSize is an out field.
        unsafe { (*DmaDescription).ScatterGatherListSize = dma.list_size };
        // SAFETY: non-null, writable.
        unsafe { *NdisMiniportDmaHandle = h as n::NDIS_HANDLE };
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMDeregisterScatterGatherDma(
    NdisMiniportDmaHandle: n::NDIS_HANDLE,
) {
    const API: &str = "NdisMDeregisterScatterGatherDma";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, dma)) = handles::dma(NdisMiniportDmaHandle, API) else {
            return;
        };
        let outstanding = lock(&dma.lists).len();
        if outstanding != 0 {
            ndis.checks.violation(
                Kind::Leak,
                API,
                format!("{outstanding} scatter/gather list(s) still allocated"),
            );
        }
        let h = NdisMiniportDmaHandle as usize;
        handles::remove(h);
        ndis.track.remove(ResKind::DmaRegistration, h);
        if let Some(a) = handles_adapter(&ndis, dma.adapter) {
            a.set_dma(None);
        }
    })
}

fn handles_adapter(ndis: &Ndis, h: usize) -> Option<Arc<crate::adapter::Adapter>> {
    lock(&ndis.adapter).clone().filter(|a| a.handle() == h)
}

/// One piece of an SG mapping: a device address and a length.
type Element = (u64, u32);

impl SgDma {
    fn map_segments(
        &self,
        ndis: &Ndis,
        segs: &[(usize, usize)],
        to_device: bool,
        bounces: &mut Vec<Bounce>,
    ) -> Result<Vec<Element>, n::NDIS_STATUS> {
        let mut out: Vec<Element> = Vec::new();
        let split = ndis.cfg.sg_split_pages;
        let limit32 = self.flags & n::NDIS_SG_DMA_64_BIT_ADDRESS == 0;
        let push = |pa: u64, len: usize, out: &mut Vec<Element>| {
            let mut pa = pa;
            let mut left = len;
            while left > 0 {
                let take = if split {
                    left.min(PAGE - (pa as usize % PAGE))
                } else {
                    left
                };
                match out.last_mut() {
                    Some((lpa, llen)) if !split && *lpa + u64::from(*llen) == pa => {
                        *llen += take as u32
                    }
                    _ => out.push((pa, take as u32)),
                }
                pa += take as u64;
                left -= take;
            }
        };
        let mut i = 0;
        while i < segs.len() {
            let (va, len) = segs[i];
            if let Some(pa) = ndis
                .dma
                .translate(va, len)
                .filter(|pa| !limit32 || pa + len as u64 <= 1 << 32)
            {
                push(pa, len, &mut out);
                i += 1;
                continue;
            }
            // Bounce this run of unmappable segments into one DMA buffer.
            let mut run = Vec::new();
            let mut total = 0usize;
            while i < segs.len() && ndis.dma.translate(segs[i].0, segs[i].1).is_none() {
                run.push(segs[i]);
                total += segs[i].1;
                i += 1;
            }
            if run.is_empty() {
                // Mappable but above 4 GiB for a 32-bit device: nothing to bounce into.
                return Err(n::NDIS_STATUS_RESOURCES);
            }
            let Some((bva, bpa)) = ndis.dma.alloc_small(total) else {
                return Err(n::NDIS_STATUS_RESOURCES);
            };
            if to_device {
                let mut o = 0;
                for &(sva, slen) in &run {
                    // SAFETY: `sva..sva+slen` is NB data the driver owns during the send (the
                    // segments were validated against the MDL chain); the bounce buffer has
                    // `total` bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(sva as *const u8, bva.wrapping_add(o), slen)
                    };
                    o += slen;
                }
            }
            bounces.push(Bounce {
                dma: bva,
                len: total,
                segs: run,
            });
            push(bpa, total, &mut out);
        }
        Ok(out)
    }

    fn release(&self, ndis: &Ndis, rec: SgRecord) {
        for b in rec.bounces {
            if !rec.to_device {
                let mut o = 0;
                for (dva, dlen) in b.segs {
                    // SAFETY: the bounce buffer holds `b.len` bytes the device wrote; the NB
                    // segments are still owned by the driver (it frees the list before it
                    // completes/returns the NB).
                    unsafe {
                        std::ptr::copy_nonoverlapping(b.dma.wrapping_add(o), dva as *mut u8, dlen)
                    };
                    o += dlen;
                }
            }
            let _ = b.len;
            ndis.dma.free_small(b.dma);
        }
        if let Some((p, size)) = rec.internal {
            if let Ok(l) = std::alloc::Layout::from_size_align(size, 16) {
                // SAFETY: allocated in NdisMAllocateNetBufferSGList with this layout, freed once
                // (the record was removed from the table).
                unsafe { std::alloc::dealloc(p as *mut u8, l) };
            }
        }
    }

    /// SG lists still allocated.
    pub(crate) fn outstanding(&self) -> usize {
        lock(&self.lists).len()
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMAllocateNetBufferSGList(
    NdisMiniportDmaHandle: n::NDIS_HANDLE,
    NetBuffer: *mut n::NET_BUFFER,
    Context: n::PVOID,
    Flags: n::ULONG,
    ScatterGatherListBuffer: n::PVOID,
    ScatterGatherListBufferSize: n::ULONG,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMAllocateNetBufferSGList";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        let Some((ndis, dma)) = handles::dma(NdisMiniportDmaHandle, API) else {
            return n::NDIS_STATUS_FAILURE;
        };
        if NetBuffer.is_null() {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL NET_BUFFER");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if Flags & !n::NDIS_SG_LIST_WRITE_TO_DEVICE != 0 {
            ndis.checks
                .warning(Kind::Dma, API, format!("unknown flags {Flags:#x}"));
        }
        // SAFETY: non-null NB the driver owns while mapping it.
        let segs = match unsafe { nbl::nb_segments(NetBuffer) } {
            Ok(s) => s,
            Err(e) => {
                ndis.checks
                    .violation(Kind::Nbl, API, format!("malformed NET_BUFFER: {e}"));
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
        };
        let total: usize = segs.iter().map(|s| s.1).sum();
        if total == 0 {
            ndis.checks
                .violation(Kind::Dma, API, "NET_BUFFER with DataLength 0");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if total > dma.max_mapping as usize {
            ndis.checks.violation(
                Kind::Dma,
                API,
                format!(
                    "NET_BUFFER of {total} bytes exceeds the registered MaximumPhysicalMapping {}",
                    dma.max_mapping
                ),
            );
            return n::NDIS_STATUS_RESOURCES;
        }
        if ndis.fail.should_fail() {
            return n::NDIS_STATUS_RESOURCES;
        }
        let to_device = Flags & n::NDIS_SG_LIST_WRITE_TO_DEVICE != 0;
        let mut bounces = Vec::new();
        let elems = match dma.map_segments(&ndis, &segs, to_device, &mut bounces) {
            Ok(e) => e,
            Err(st) => {
                for b in bounces {
                    ndis.dma.free_small(b.dma);
                }
                return st;
            }
        };
        let need = core::mem::size_of::<n::SCATTER_GATHER_LIST>()
            + elems.len() * core::mem::size_of::<n::SCATTER_GATHER_ELEMENT>();
        let (list, internal) = if !ScatterGatherListBuffer.is_null()
            && ScatterGatherListBufferSize as usize >= need
        {
            (ScatterGatherListBuffer.cast::<u8>(), None)
        } else {
            if !ScatterGatherListBuffer.is_null() {
                ndis.checks.warning(
                    Kind::Dma,
                    API,
                    format!("caller buffer of {ScatterGatherListBufferSize} bytes < {need} needed; NDIS allocates"),
                );
            }
            let Ok(l) = std::alloc::Layout::from_size_align(need, 16) else {
                return n::NDIS_STATUS_RESOURCES;
            };
            // SAFETY: non-zero size layout.
            let p = unsafe { std::alloc::alloc(l) };
            if p.is_null() {
                return n::NDIS_STATUS_RESOURCES;
            }
            (p, Some((p as usize, need)))
        };
        if !(list as usize).is_multiple_of(8) {
            ndis.checks.violation(
                Kind::Dma,
                API,
                "ScatterGatherListBuffer is not 8-byte aligned",
            );
        }
        let sgl = list.cast::<n::SCATTER_GATHER_LIST>();
        // SAFETY: `list` has room for the header and `elems.len()` elements (checked above or
        // allocated so); unaligned writes cope with a misaligned caller buffer.
        unsafe {
            core::ptr::write_unaligned(
                sgl,
                n::SCATTER_GATHER_LIST {
                    NumberOfElements: elems.len() as u32,
                    Reserved: 0,
                    Elements: [],
                },
            )
        };
        let first = list
            .wrapping_add(core::mem::size_of::<n::SCATTER_GATHER_LIST>())
            .cast::<n::SCATTER_GATHER_ELEMENT>();
        for (i, &(pa, len)) in elems.iter().enumerate() {
            // SAFETY: element `i` is inside the storage sized for `elems.len()` elements.
            unsafe {
                core::ptr::write_unaligned(
                    first.wrapping_add(i),
                    n::SCATTER_GATHER_ELEMENT {
                        Address: pa as i64,
                        Length: len,
                        Reserved: 0,
                    },
                )
            };
        }
        lock(&dma.lists).insert(
            sgl as usize,
            SgRecord {
                nb: NetBuffer as usize,
                internal,
                bounces,
                to_device,
            },
        );
        ndis.track.add(
            sgl as usize,
            Res {
                kind: ResKind::SgList,
                owner: dma.adapter,
                size: total,
                tag: 0,
                what: API,
            },
        );
        let Some(process) = dma.process else {
            return n::NDIS_STATUS_FAILURE;
        };
        let pdo = dma.pdo as n::PDEVICE_OBJECT;
        ndis.call_driver(Handler::ProcessSgList, dma.adapter, || {
            // SAFETY: the driver's registered ProcessSGList handler with the list built above, the
            // PDO, and the caller's context, at DISPATCH_LEVEL as documented.
            unsafe { process(pdo, std::ptr::null_mut(), sgl, Context) }
        });
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMFreeNetBufferSGList(
    NdisMiniportDmaHandle: n::NDIS_HANDLE,
    pSGL: n::PSCATTER_GATHER_LIST,
    NetBuffer: *mut n::NET_BUFFER,
) {
    const API: &str = "NdisMFreeNetBufferSGList";
    guard(API, (), || {
        checks::irql_exactly(n::DISPATCH_LEVEL, API);
        let Some((ndis, dma)) = handles::dma(NdisMiniportDmaHandle, API) else {
            return;
        };
        let Some(rec) = lock(&dma.lists).remove(&(pSGL as usize)) else {
            ndis.checks.violation(
                Kind::Dma,
                API,
                format!(
                    "{pSGL:p} is not a live scatter/gather list of this DMA handle (double free?)"
                ),
            );
            return;
        };
        if rec.nb != NetBuffer as usize {
            ndis.checks.violation(
                Kind::Dma,
                API,
                format!(
                    "list was built for NET_BUFFER {:#x}, freed with {NetBuffer:p}",
                    rec.nb
                ),
            );
        }
        ndis.track.remove(ResKind::SgList, pSGL as usize);
        dma.release(&ndis, rec);
    })
}
