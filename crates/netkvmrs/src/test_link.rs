//! Link stubs for the unit-test binary (cfg(test) only).
//!
//! The unit tests exercise pure logic (OID table, offload encoding, vector plan, registry parsing …), but
//! the test binary still links functions that reference NDIS (e.g. the characteristics table points at
//! every handler). On the host those symbols normally come from the user-mode NDIS (crates/ndis-emu),
//! which the integration tests under `tests/` link instead; here every one of them fails the test loudly
//! if a unit test ever reaches it. Signatures are ndis-sys's (generated from `ffi.rs`).
#![allow(non_snake_case, clippy::missing_safety_doc)]

use ndis_sys::*;

fn unreachable_in_unit_tests(api: &str) -> ! {
    panic!("{api} called from a unit test: use the ndis-emu integration tests for code that needs NDIS")
}

/// `NdisWriteErrorLogEntry` is variadic in the WDK; the fixed-argument form is ABI-compatible on x86-64
/// SysV for the three arguments the driver passes.
#[unsafe(no_mangle)]
unsafe extern "C" fn NdisWriteErrorLogEntry(_h: NDIS_HANDLE, _code: NDIS_ERROR_CODE, _n: ULONG) {
    unreachable_in_unit_tests("NdisWriteErrorLogEntry")
}

/// The seam's host log sink: printed, so failing tests show the driver's log lines.
#[unsafe(no_mangle)]
unsafe extern "C" fn NetkvmHostLog(level: u32, msg: *const u8, len: usize) {
    // SAFETY: the seam passes a valid byte slice.
    let bytes = unsafe { core::slice::from_raw_parts(msg, len) };
    std::eprintln!("[{level}] {}", std::string::String::from_utf8_lossy(bytes));
}

macro_rules! reg_stub {
    ($r:ident, $w:ident, $t:ty) => {
        #[unsafe(no_mangle)]
        unsafe extern "system" fn $r(_reg: *const $t) -> $t {
            unreachable_in_unit_tests(stringify!($r))
        }
        #[unsafe(no_mangle)]
        unsafe extern "system" fn $w(_reg: *mut $t, _v: $t) {
            unreachable_in_unit_tests(stringify!($w))
        }
    };
}
reg_stub!(READ_REGISTER_UCHAR, WRITE_REGISTER_UCHAR, u8);
reg_stub!(READ_REGISTER_USHORT, WRITE_REGISTER_USHORT, u16);
reg_stub!(READ_REGISTER_ULONG, WRITE_REGISTER_ULONG, u32);

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMRegisterMiniportDriver(
    _DriverObject: PDRIVER_OBJECT,
    _RegistryPath: PUNICODE_STRING,
    _MiniportDriverContext: NDIS_HANDLE,
    _MiniportDriverCharacteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    _NdisMiniportDriverHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisMRegisterMiniportDriver")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMDeregisterMiniportDriver(_NdisMiniportDriverHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisMDeregisterMiniportDriver")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMSetMiniportAttributes(
    _NdisMiniportHandle: NDIS_HANDLE,
    _MiniportAttributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisMSetMiniportAttributes")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMPauseComplete(_MiniportAdapterHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisMPauseComplete")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMResetComplete(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _Status: NDIS_STATUS,
    _AddressingReset: BOOLEAN,
) {
    unreachable_in_unit_tests("NdisMResetComplete")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMOidRequestComplete(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _OidRequest: PNDIS_OID_REQUEST,
    _Status: NDIS_STATUS,
) {
    unreachable_in_unit_tests("NdisMOidRequestComplete")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMIndicateStatusEx(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _StatusIndication: PNDIS_STATUS_INDICATION,
) {
    unreachable_in_unit_tests("NdisMIndicateStatusEx")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMResetMiniport(_MiniportAdapterHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisMResetMiniport")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisGetVersion() -> UINT {
    unreachable_in_unit_tests("NdisGetVersion")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisOpenConfigurationEx(
    _ConfigObject: PNDIS_CONFIGURATION_OBJECT,
    _ConfigurationHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisOpenConfigurationEx")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisReadConfiguration(
    _Status: *mut NDIS_STATUS,
    _ParameterValue: *mut PNDIS_CONFIGURATION_PARAMETER,
    _ConfigurationHandle: NDIS_HANDLE,
    _Keyword: PNDIS_STRING,
    _ParameterType: NDIS_PARAMETER_TYPE,
) {
    unreachable_in_unit_tests("NdisReadConfiguration")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisCloseConfiguration(_ConfigurationHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisCloseConfiguration")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisReadNetworkAddress(
    _Status: *mut NDIS_STATUS,
    _NetworkAddress: *mut PVOID,
    _NetworkAddressLength: *mut UINT,
    _ConfigurationHandle: NDIS_HANDLE,
) {
    unreachable_in_unit_tests("NdisReadNetworkAddress")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMGetBusData(
    _NdisMiniportHandle: NDIS_HANDLE,
    _WhichSpace: ULONG,
    _Offset: ULONG,
    _Buffer: PVOID,
    _Length: ULONG,
) -> ULONG {
    unreachable_in_unit_tests("NdisMGetBusData")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMSetBusData(
    _NdisMiniportHandle: NDIS_HANDLE,
    _WhichSpace: ULONG,
    _Offset: ULONG,
    _Buffer: PVOID,
    _Length: ULONG,
) -> ULONG {
    unreachable_in_unit_tests("NdisMSetBusData")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMMapIoSpace(
    _VirtualAddress: *mut PVOID,
    _MiniportAdapterHandle: NDIS_HANDLE,
    _PhysicalAddress: NDIS_PHYSICAL_ADDRESS,
    _Length: UINT,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisMMapIoSpace")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMUnmapIoSpace(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _VirtualAddress: PVOID,
    _Length: UINT,
) {
    unreachable_in_unit_tests("NdisMUnmapIoSpace")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMRegisterInterruptEx(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _MiniportInterruptContext: NDIS_HANDLE,
    _MiniportInterruptCharacteristics: PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    _NdisInterruptHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisMRegisterInterruptEx")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMDeregisterInterruptEx(_NdisInterruptHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisMDeregisterInterruptEx")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMQueueDpcEx(
    _NdisInterruptHandle: NDIS_HANDLE,
    _MessageId: ULONG,
    _TargetProcessors: *mut GROUP_AFFINITY,
    _MiniportDpcContext: PVOID,
) -> KAFFINITY {
    unreachable_in_unit_tests("NdisMQueueDpcEx")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMRegisterScatterGatherDma(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _DmaDescription: PNDIS_SG_DMA_DESCRIPTION,
    _NdisMiniportDmaHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    unreachable_in_unit_tests("NdisMRegisterScatterGatherDma")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMDeregisterScatterGatherDma(_NdisMiniportDmaHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisMDeregisterScatterGatherDma")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMAllocateSharedMemory(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _Length: ULONG,
    _Cached: BOOLEAN,
    _VirtualAddress: *mut PVOID,
    _PhysicalAddress: *mut NDIS_PHYSICAL_ADDRESS,
) {
    unreachable_in_unit_tests("NdisMAllocateSharedMemory")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMFreeSharedMemory(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _Length: ULONG,
    _Cached: BOOLEAN,
    _VirtualAddress: PVOID,
    _PhysicalAddress: NDIS_PHYSICAL_ADDRESS,
) {
    unreachable_in_unit_tests("NdisMFreeSharedMemory")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMSendNetBufferListsComplete(
    _MiniportAdapterHandle: NDIS_HANDLE,
    _NetBufferList: *mut NET_BUFFER_LIST,
    _SendCompleteFlags: ULONG,
) {
    unreachable_in_unit_tests("NdisMSendNetBufferListsComplete")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisAllocateIoWorkItem(_NdisObjectHandle: NDIS_HANDLE) -> NDIS_HANDLE {
    unreachable_in_unit_tests("NdisAllocateIoWorkItem")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisQueueIoWorkItem(
    _NdisIoWorkItemHandle: NDIS_HANDLE,
    _Routine: NDIS_IO_WORKITEM_ROUTINE,
    _WorkItemContext: PVOID,
) {
    unreachable_in_unit_tests("NdisQueueIoWorkItem")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisFreeIoWorkItem(_NdisIoWorkItemHandle: NDIS_HANDLE) {
    unreachable_in_unit_tests("NdisFreeIoWorkItem")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisMSleep(_MicrosecondsToSleep: ULONG) {
    unreachable_in_unit_tests("NdisMSleep")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn NdisGroupActiveProcessorCount(_Group: USHORT) -> ULONG {
    unreachable_in_unit_tests("NdisGroupActiveProcessorCount")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeAcquireSpinLockRaiseToDpc(_SpinLock: *mut KSPIN_LOCK) -> KIRQL {
    unreachable_in_unit_tests("KeAcquireSpinLockRaiseToDpc")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeReleaseSpinLock(_SpinLock: *mut KSPIN_LOCK, _NewIrql: KIRQL) {
    unreachable_in_unit_tests("KeReleaseSpinLock")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeAcquireSpinLockAtDpcLevel(_SpinLock: *mut KSPIN_LOCK) {
    unreachable_in_unit_tests("KeAcquireSpinLockAtDpcLevel")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeReleaseSpinLockFromDpcLevel(_SpinLock: *mut KSPIN_LOCK) {
    unreachable_in_unit_tests("KeReleaseSpinLockFromDpcLevel")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeGetCurrentProcessorNumberEx(
    _ProcNumber: *mut PROCESSOR_NUMBER,
) -> ULONG {
    unreachable_in_unit_tests("KeGetCurrentProcessorNumberEx")
}

#[unsafe(no_mangle)]
unsafe extern "system" fn KeStallExecutionProcessor(_MicroSeconds: ULONG) {
    unreachable_in_unit_tests("KeStallExecutionProcessor")
}
