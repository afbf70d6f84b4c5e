//! Device registers: `NdisMMapIoSpace` hands out addresses in a reserved, inaccessible
//! (`PROT_NONE`) range of the process — a driver that dereferences one directly segfaults at
//! once instead of reading garbage — and the seam's `READ_REGISTER_*` / `WRITE_REGISTER_*`
//! translate such an address back to the BAR's physical address and go to the bus.
//! Also PCI configuration space (`NdisMGetBusData` / `NdisMSetBusData`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use ndis_sys as n;

use crate::bus::Bus;
use crate::checks::{self, Kind};
use crate::handles;
use crate::ndis::{guard, Ndis};
use crate::track::{Res, ResKind};

/// Size of the reserved address range (virtual only; nothing is committed).
const REGION_LEN: usize = 64 << 30;

struct Region {
    base: usize,
    next: AtomicUsize,
}

static REGION: OnceLock<Option<Region>> = OnceLock::new();

fn region() -> Option<&'static Region> {
    REGION
        .get_or_init(|| {
            // SAFETY: an anonymous PROT_NONE reservation; the result is checked.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    REGION_LEN,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            (p != libc::MAP_FAILED).then(|| Region {
                base: p as usize,
                next: AtomicUsize::new(0),
            })
        })
        .as_ref()
}

struct Mapping {
    va: usize,
    len: usize,
    pa: u64,
    bus: Arc<dyn Bus>,
    ndis: *const Ndis,
    adapter: usize,
}

// SAFETY: `ndis` is only compared, never dereferenced.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

static MAPPINGS: RwLock<Vec<Mapping>> = RwLock::new(Vec::new());

/// Reserves `len` bytes of the region for physical `pa` (the page offset is kept, as
/// MmMapIoSpace does) and records the mapping.
fn map(ndis: &Ndis, adapter: usize, pa: u64, len: usize) -> Option<usize> {
    let r = region()?;
    let page_off = (pa % 4096) as usize;
    // A guard page between mappings, never reused: a stale pointer faults.
    let span = (page_off + len).div_ceil(4096) * 4096 + 4096;
    let off = r.next.fetch_add(span, Ordering::SeqCst);
    if off + span > REGION_LEN {
        return None;
    }
    let va = r.base + off + page_off;
    MAPPINGS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .push(Mapping {
            va,
            len,
            pa,
            bus: ndis.bus.clone(),
            ndis,
            adapter,
        });
    Some(va)
}

/// Removes every mapping of `ndis`.
pub(crate) fn unmap_all(ndis: &Ndis) {
    MAPPINGS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|m| !std::ptr::eq(m.ndis, ndis));
}

/// Whether `va` is inside the reserved register range (for diagnostics).
pub fn is_register_address(va: usize) -> bool {
    region().is_some_and(|r| va >= r.base && va < r.base + REGION_LEN)
}

fn lookup(va: usize, width: usize) -> Option<(Arc<dyn Bus>, u64)> {
    let m = MAPPINGS.read().unwrap_or_else(|p| p.into_inner());
    let e = m
        .iter()
        .find(|m| va >= m.va && va + width <= m.va + m.len)?;
    Some((e.bus.clone(), e.pa + (va - e.va) as u64))
}

fn read(api: &'static str, va: usize, width: u8) -> u64 {
    let all_ones = u64::MAX >> (64 - 8 * u32::from(width));
    if !va.is_multiple_of(usize::from(width)) {
        checks::violation(
            Kind::Mmio,
            api,
            format!("misaligned register address {va:#x}"),
        );
        return all_ones;
    }
    let Some((bus, pa)) = lookup(va, width.into()) else {
        checks::violation(
            Kind::Mmio,
            api,
            format!("{va:#x} is not inside any range mapped with NdisMMapIoSpace"),
        );
        return all_ones;
    };
    match bus.mmio_read(pa, width) {
        Ok(v) => v,
        Err(e) => {
            checks::violation(Kind::Mmio, api, format!("bus error: {e}"));
            all_ones
        }
    }
}

fn write(api: &'static str, va: usize, width: u8, v: u64) {
    if !va.is_multiple_of(usize::from(width)) {
        checks::violation(
            Kind::Mmio,
            api,
            format!("misaligned register address {va:#x}"),
        );
        return;
    }
    let Some((bus, pa)) = lookup(va, width.into()) else {
        checks::violation(
            Kind::Mmio,
            api,
            format!("{va:#x} is not inside any range mapped with NdisMMapIoSpace"),
        );
        return;
    };
    if let Err(e) = bus.mmio_write(pa, width, v) {
        checks::violation(Kind::Mmio, api, format!("bus error: {e}"));
    }
}

// The seam's register functions (crates/netkvmrs/src/platform/regs.rs declares them).

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn READ_REGISTER_UCHAR(register: *const u8) -> u8 {
    guard("READ_REGISTER_UCHAR", 0xFF, || {
        read("READ_REGISTER_UCHAR", register as usize, 1) as u8
    })
}
#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn READ_REGISTER_USHORT(register: *const u16) -> u16 {
    guard("READ_REGISTER_USHORT", 0xFFFF, || {
        read("READ_REGISTER_USHORT", register as usize, 2) as u16
    })
}
#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn READ_REGISTER_ULONG(register: *const u32) -> u32 {
    guard("READ_REGISTER_ULONG", u32::MAX, || {
        read("READ_REGISTER_ULONG", register as usize, 4) as u32
    })
}
#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn WRITE_REGISTER_UCHAR(register: *mut u8, value: u8) {
    guard("WRITE_REGISTER_UCHAR", (), || {
        write("WRITE_REGISTER_UCHAR", register as usize, 1, value.into())
    })
}
#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn WRITE_REGISTER_USHORT(register: *mut u16, value: u16) {
    guard("WRITE_REGISTER_USHORT", (), || {
        write("WRITE_REGISTER_USHORT", register as usize, 2, value.into())
    })
}
#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn WRITE_REGISTER_ULONG(register: *mut u32, value: u32) {
    guard("WRITE_REGISTER_ULONG", (), || {
        write("WRITE_REGISTER_ULONG", register as usize, 4, value.into())
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMMapIoSpace(
    VirtualAddress: *mut n::PVOID,
    MiniportAdapterHandle: n::NDIS_HANDLE,
    PhysicalAddress: n::NDIS_PHYSICAL_ADDRESS,
    Length: n::UINT,
) -> n::NDIS_STATUS {
    const API: &str = "NdisMMapIoSpace";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if VirtualAddress.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL VirtualAddress");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null out-parameter.
        unsafe { *VirtualAddress = std::ptr::null_mut() };
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return n::NDIS_STATUS_FAILURE;
        };
        let pa = PhysicalAddress as u64;
        let inside =
            ndis.bus.bars().into_iter().any(|b| {
                b.kind != crate::bus::BarKind::Io && b.contains(pa, u64::from(Length.max(1)))
            });
        if !inside || Length == 0 {
            ndis.checks.violation(
                Kind::Mmio,
                API,
                format!("{pa:#x}+{Length:#x} is not inside one of the adapter's memory BARs"),
            );
            return n::NDIS_STATUS_RESOURCE_CONFLICT;
        }
        if ndis.fail.should_fail() {
            return n::NDIS_STATUS_RESOURCES;
        }
        let Some(va) = map(&ndis, a.handle(), pa, Length as usize) else {
            return n::NDIS_STATUS_RESOURCES;
        };
        ndis.track.add(
            va,
            Res {
                kind: ResKind::IoMapping,
                owner: a.handle(),
                size: Length as usize,
                tag: 0,
                what: API,
            },
        );
        // SAFETY: non-null out-parameter.
        unsafe { *VirtualAddress = va as n::PVOID };
        n::NDIS_STATUS_SUCCESS
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMUnmapIoSpace(
    MiniportAdapterHandle: n::NDIS_HANDLE,
    VirtualAddress: n::PVOID,
    Length: n::UINT,
) {
    const API: &str = "NdisMUnmapIoSpace";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, a)) = handles::adapter(MiniportAdapterHandle, API) else {
            return;
        };
        let va = VirtualAddress as usize;
        let mut maps = MAPPINGS.write().unwrap_or_else(|p| p.into_inner());
        let Some(i) = maps
            .iter()
            .position(|m| m.va == va && std::ptr::eq(m.ndis, &*ndis) && m.adapter == a.handle())
        else {
            drop(maps);
            ndis.checks.violation(
                Kind::Mmio,
                API,
                format!("{va:#x} is not an address NdisMMapIoSpace returned (or already unmapped)"),
            );
            return;
        };
        let m = maps.remove(i);
        drop(maps);
        if m.len != Length as usize {
            ndis.checks.violation(
                Kind::Mmio,
                API,
                format!("Length {Length} differs from the mapped length {}", m.len),
            );
        }
        ndis.track.remove(ResKind::IoMapping, va);
    })
}

fn bus_data(
    api: &'static str,
    handle: n::NDIS_HANDLE,
    which: n::ULONG,
    offset: n::ULONG,
    buffer: n::PVOID,
    length: n::ULONG,
    write: bool,
) -> n::ULONG {
    checks::irql_at_most(n::DISPATCH_LEVEL, api);
    let Some((ndis, _a)) = handles::adapter(handle, api) else {
        return 0;
    };
    if which != n::PCI_WHICHSPACE_CONFIG {
        ndis.checks.warning(
            Kind::BadParameter,
            api,
            format!("WhichSpace {which:#x} is not supported"),
        );
        return 0;
    }
    if buffer.is_null() || length == 0 {
        ndis.checks
            .violation(Kind::BadParameter, api, "NULL buffer or zero length");
        return 0;
    }
    if write {
        // SAFETY: the driver passes `length` readable bytes at `buffer` (non-null).
        let data = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), length as usize) };
        ndis.bus.pci_write(offset, data) as u32
    } else {
        // SAFETY: the driver passes `length` writable bytes at `buffer` (non-null).
        let buf = unsafe { std::slice::from_raw_parts_mut(buffer.cast::<u8>(), length as usize) };
        ndis.bus.pci_read(offset, buf) as u32
    }
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMGetBusData(
    NdisMiniportHandle: n::NDIS_HANDLE,
    WhichSpace: n::ULONG,
    Offset: n::ULONG,
    Buffer: n::PVOID,
    Length: n::ULONG,
) -> n::ULONG {
    guard("NdisMGetBusData", 0, || {
        bus_data(
            "NdisMGetBusData",
            NdisMiniportHandle,
            WhichSpace,
            Offset,
            Buffer,
            Length,
            false,
        )
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisMSetBusData(
    NdisMiniportHandle: n::NDIS_HANDLE,
    WhichSpace: n::ULONG,
    Offset: n::ULONG,
    Buffer: n::PVOID,
    Length: n::ULONG,
) -> n::ULONG {
    guard("NdisMSetBusData", 0, || {
        bus_data(
            "NdisMSetBusData",
            NdisMiniportHandle,
            WhichSpace,
            Offset,
            Buffer,
            Length,
            true,
        )
    })
}
