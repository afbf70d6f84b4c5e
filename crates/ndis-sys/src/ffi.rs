//! Imported functions, grouped by the module that exports them.
//!
//! On Windows each group is a `raw-dylib` import (`+verbatim` keeps the module names
//! `NDIS.SYS` / `ntoskrnl.exe` / `HAL.dll` exact; no import library is needed). On other targets
//! the same symbols are defined by `ndis-emu`, so every signature here must match the WDK
//! prototype exactly (`ULONG` = `u32`, `UINT` = `u32`, `BOOLEAN` = `u8`, `NDIS_STATUS` = `i32`).
//!
//! Not imported because they are macros or inline functions in the WDK (use the Rust helper
//! named in brackets instead): `NdisMoveMemory`/`NdisZeroMemory`/`NdisEqualMemory` (`core::ptr`),
//! `NdisStallExecution` ([`KeStallExecutionProcessor`]), `NdisGetCurrentSystemTime`
//! (`KeQuerySystemTimePrecise`), `NdisInterlockedIncrement/Decrement` (atomics),
//! `KeInitializeSpinLock` (store 0), `KeAcquireSpinLock` on x64 ([`KeAcquireSpinLockRaiseToDpc`]),
//! `KeGetCurrentIrql` (inline `mov cr8` on x64; ntoskrnl also exports it), all `NET_BUFFER_LIST_*`
//! / `NET_BUFFER_*` accessors (methods in [`crate::nbl`]), `MmGetSystemAddressForMdlSafe`
//! ([`crate::nbl::mdl_system_address_if_mapped`]), `NdisQueryMdl`, `NDIS_INIT_*`/`NDIS_SET_*`
//! flag macros.
//!
//! `NdisAllocateSpinLock`/`NdisFreeSpinLock` (inline) and `NdisAcquire/ReleaseSpinLock`,
//! `NdisDprAcquire/ReleaseSpinLock` (macros over the `Ke*SpinLock*` routines) are macros in the
//! NDIS 6 headers, but NDIS.SYS still exports them for binary compatibility, so importing them
//! is valid; a driver may equally call the `Ke*` routines directly.

use core::ffi::{c_char, c_void};

use crate::attributes::PNDIS_MINIPORT_ADAPTER_ATTRIBUTES;
use crate::basic::*;
use crate::miniport::PNDIS_MINIPORT_DRIVER_CHARACTERISTICS;

// ---------------------------------------------------------------------------------------------
// NDIS.SYS

#[cfg_attr(
    target_os = "windows",
    link(name = "NDIS.SYS", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// `NdisMRegisterMiniportDriver` (PASSIVE_LEVEL, from `DriverEntry`).
    pub fn NdisMRegisterMiniportDriver(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: PUNICODE_STRING,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportDriverCharacteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        NdisMiniportDriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;

    /// `NdisMDeregisterMiniportDriver` (PASSIVE_LEVEL; from `MiniportDriverUnload` or a failed
    /// `DriverEntry`).
    pub fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE);

    /// `NdisMSetMiniportAttributes` (PASSIVE_LEVEL, from `MiniportInitializeEx`).
    pub fn NdisMSetMiniportAttributes(
        NdisMiniportHandle: NDIS_HANDLE,
        MiniportAttributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
    ) -> NDIS_STATUS;

    /// `NdisGetVersion` (<= DISPATCH_LEVEL): `(major << 16) | minor` of the running NDIS.
    pub fn NdisGetVersion() -> UINT;
}

#[cfg_attr(
    target_os = "windows",
    link(name = "NDIS.SYS", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "C" {
    /// `NdisWriteErrorLogEntry` (`__cdecl`, variadic: `NumberOfErrorValues` `ULONG`s follow),
    /// <= DISPATCH_LEVEL. An emulator on stable Rust cannot define a variadic function; on
    /// x86-64 SysV it may define it with fixed trailing `u32` parameters instead.
    pub fn NdisWriteErrorLogEntry(
        NdisAdapterHandle: NDIS_HANDLE,
        ErrorCode: NDIS_ERROR_CODE,
        NumberOfErrorValues: ULONG,
        ...
    );
}

// ---------------------------------------------------------------------------------------------
// ntoskrnl.exe

#[cfg_attr(
    target_os = "windows",
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// `ExAllocatePool2` (Windows 10 2004+; <= DISPATCH_LEVEL for non-paged). Zeroes the
    /// allocation unless `POOL_FLAG_UNINITIALIZED`; returns null on failure.
    pub fn ExAllocatePool2(Flags: POOL_FLAGS, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;

    /// `ExFreePoolWithTag` (<= DISPATCH_LEVEL).
    pub fn ExFreePoolWithTag(P: PVOID, Tag: ULONG);

    /// `KeBugCheckEx` (never returns).
    pub fn KeBugCheckEx(
        BugCheckCode: ULONG,
        BugCheckParameter1: ULONG_PTR,
        BugCheckParameter2: ULONG_PTR,
        BugCheckParameter3: ULONG_PTR,
        BugCheckParameter4: ULONG_PTR,
    ) -> !;
}

#[cfg_attr(
    target_os = "windows",
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "C" {
    /// `DbgPrint` (`__cdecl`, printf-style variadic). Returns an `NTSTATUS` as `ULONG`.
    pub fn DbgPrint(Format: *const c_char, ...) -> ULONG;
}

// ---------------------------------------------------------------------------------------------
// HAL.dll

#[cfg_attr(
    target_os = "windows",
    link(name = "HAL.dll", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// `KeStallExecutionProcessor` (any IRQL): busy-waits `MicroSeconds` (the target of the
    /// `NdisStallExecution` macro).
    pub fn KeStallExecutionProcessor(MicroSeconds: ULONG);
}

/// Keeps `c_void` referenced for signatures added later in this module.
#[allow(dead_code)]
type _Unused = c_void;
