//! Link stubs for the unit-test binary (cfg(test) only) for the NDIS functions only the datapath imports;
//! the rest are in `crate::test_link`. Unit tests exercise pure logic; the datapath against NDIS is
//! tested through the user-mode NDIS in `tests/datapath_*.rs`. Every stub fails the test if reached.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use ndis_sys::*;

fn unreachable_in_unit_tests(api: &str) -> ! {
    panic!("{api} called from a unit test: use the ndis-emu integration tests")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisAllocateNetBufferListPool(
    _h: NDIS_HANDLE,
    _p: *const NET_BUFFER_LIST_POOL_PARAMETERS,
) -> NDIS_HANDLE {
    unreachable_in_unit_tests("NdisAllocateNetBufferListPool")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisFreeNetBufferListPool(_h: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisFreeNetBufferListPool")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisAllocateNetBufferAndNetBufferList(
    _h: NDIS_HANDLE,
    _c: USHORT,
    _b: USHORT,
    _m: *mut MDL,
    _o: ULONG,
    _l: SIZE_T,
) -> *mut NET_BUFFER_LIST {
    unreachable_in_unit_tests("NdisAllocateNetBufferAndNetBufferList")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisFreeNetBufferList(_l: *mut NET_BUFFER_LIST) {
    unreachable_in_unit_tests("NdisFreeNetBufferList")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisAllocateMdl(_h: NDIS_HANDLE, _va: PVOID, _len: ULONG) -> *mut MDL {
    unreachable_in_unit_tests("NdisAllocateMdl")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisFreeMdl(_m: *mut MDL) {
    unreachable_in_unit_tests("NdisFreeMdl")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMAllocateNetBufferSGList(
    _h: NDIS_HANDLE,
    _nb: *mut NET_BUFFER,
    _c: PVOID,
    _f: ULONG,
    _b: PVOID,
    _s: ULONG,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisMAllocateNetBufferSGList")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMFreeNetBufferSGList(
    _h: NDIS_HANDLE,
    _sgl: PSCATTER_GATHER_LIST,
    _nb: *mut NET_BUFFER,
) {
    unreachable_in_unit_tests("NdisMFreeNetBufferSGList")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMIndicateReceiveNetBufferLists(
    _h: NDIS_HANDLE,
    _l: *mut NET_BUFFER_LIST,
    _p: NDIS_PORT_NUMBER,
    _n: ULONG,
    _f: ULONG,
) {
    unreachable_in_unit_tests("NdisMIndicateReceiveNetBufferLists")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn MmMapLockedPagesSpecifyCache(
    _m: *mut MDL,
    _a: KPROCESSOR_MODE,
    _c: MEMORY_CACHING_TYPE,
    _r: PVOID,
    _b: ULONG,
    _p: ULONG,
) -> PVOID {
    unreachable_in_unit_tests("MmMapLockedPagesSpecifyCache")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeGetCurrentIrql() -> KIRQL {
    unreachable_in_unit_tests("KeGetCurrentIrql")
}
