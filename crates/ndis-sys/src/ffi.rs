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

use core::ffi::c_char;

use crate::attributes::PNDIS_MINIPORT_ADAPTER_ATTRIBUTES;
use crate::basic::*;
use crate::config::{
    NDIS_PARAMETER_TYPE, PNDIS_CONFIGURATION_OBJECT, PNDIS_CONFIGURATION_PARAMETER,
};
use crate::dma::{PNDIS_SG_DMA_DESCRIPTION, PSCATTER_GATHER_LIST};
use crate::general::PNDIS_STATUS_INDICATION;
use crate::miniport::{
    MINIPORT_SYNCHRONIZE_INTERRUPT_HANDLER, NDIS_IO_WORKITEM_ROUTINE,
    PNDIS_MINIPORT_DRIVER_CHARACTERISTICS, PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    PNDIS_TIMER_CHARACTERISTICS, PNET_PNP_EVENT_NOTIFICATION,
};
use crate::nbl::{
    MDL, NET_BUFFER, NET_BUFFER_ALLOCATE_MDL, NET_BUFFER_FREE_MDL, NET_BUFFER_LIST,
    NET_BUFFER_LIST_POOL_PARAMETERS, NET_BUFFER_POOL_PARAMETERS,
};
use crate::oid::PNDIS_OID_REQUEST;
use crate::resources::PCM_RESOURCE_LIST;

// ---------------------------------------------------------------------------------------------
// NDIS.SYS

#[cfg_attr(
    target_os = "windows",
    link(name = "NDIS.SYS", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    // ---- registration, attributes, lifecycle completions ----

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
    /// `NdisSetOptionalHandlers` (PASSIVE_LEVEL, from `MiniportSetOptions`).
    /// `OptionalHandlers` is a `PNDIS_DRIVER_OPTIONAL_HANDLERS` (a header-led union).
    pub fn NdisSetOptionalHandlers(NdisHandle: NDIS_HANDLE, OptionalHandlers: PVOID)
        -> NDIS_STATUS;
    /// `NdisMSetMiniportAttributes` (PASSIVE_LEVEL, from `MiniportInitializeEx`).
    pub fn NdisMSetMiniportAttributes(
        NdisMiniportHandle: NDIS_HANDLE,
        MiniportAttributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
    ) -> NDIS_STATUS;
    /// `NdisMPauseComplete` (<= DISPATCH_LEVEL), after `MiniportPause` returned pending.
    pub fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE);
    /// `NdisMRestartComplete` (<= DISPATCH_LEVEL).
    pub fn NdisMRestartComplete(MiniportAdapterHandle: NDIS_HANDLE, Status: NDIS_STATUS);
    /// `NdisMResetComplete` (<= DISPATCH_LEVEL).
    pub fn NdisMResetComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        Status: NDIS_STATUS,
        AddressingReset: BOOLEAN,
    );
    /// `NdisMOidRequestComplete` (<= DISPATCH_LEVEL).
    pub fn NdisMOidRequestComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        OidRequest: PNDIS_OID_REQUEST,
        Status: NDIS_STATUS,
    );
    /// `NdisMDirectOidRequestComplete` (<= DISPATCH_LEVEL).
    pub fn NdisMDirectOidRequestComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        OidRequest: PNDIS_OID_REQUEST,
        Status: NDIS_STATUS,
    );
    /// `NdisMIndicateStatusEx` (<= DISPATCH_LEVEL).
    pub fn NdisMIndicateStatusEx(
        MiniportAdapterHandle: NDIS_HANDLE,
        StatusIndication: PNDIS_STATUS_INDICATION,
    );
    /// `NdisMNetPnPEvent` (PASSIVE_LEVEL).
    pub fn NdisMNetPnPEvent(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetPnPEventNotification: PNET_PNP_EVENT_NOTIFICATION,
    ) -> NDIS_STATUS;
    /// `NdisMResetMiniport` (<= DISPATCH_LEVEL): asks NDIS to call `MiniportResetEx`.
    pub fn NdisMResetMiniport(MiniportAdapterHandle: NDIS_HANDLE);
    /// `NdisMRemoveMiniport` (PASSIVE_LEVEL): unrecoverable hardware error; NDIS halts the adapter.
    pub fn NdisMRemoveMiniport(MiniportHandle: NDIS_HANDLE) -> NDIS_STATUS;
    /// `NdisGetVersion` (<= DISPATCH_LEVEL): `(major << 16) | minor` of the running NDIS.
    pub fn NdisGetVersion() -> UINT;
    /// `NdisGetRoutineAddress` (PASSIVE_LEVEL).
    pub fn NdisGetRoutineAddress(NdisRoutineName: PNDIS_STRING) -> PVOID;
    /// `NdisMGetDeviceProperty` (PASSIVE_LEVEL). Any out pointer may be null.
    pub fn NdisMGetDeviceProperty(
        MiniportAdapterHandle: NDIS_HANDLE,
        PhysicalDeviceObject: *mut PDEVICE_OBJECT,
        FunctionalDeviceObject: *mut PDEVICE_OBJECT,
        NextDeviceObject: *mut PDEVICE_OBJECT,
        AllocatedResources: *mut PCM_RESOURCE_LIST,
        AllocatedResourcesTranslated: *mut PCM_RESOURCE_LIST,
    );
    /// `NdisWriteEventLogEntry` (<= DISPATCH_LEVEL). `LogHandle` is the driver object.
    pub fn NdisWriteEventLogEntry(
        LogHandle: PVOID,
        EventCode: NDIS_STATUS,
        UniqueEventValue: ULONG,
        NumStrings: USHORT,
        StringsList: PVOID,
        DataSize: ULONG,
        Data: PVOID,
    ) -> NDIS_STATUS;

    // ---- configuration ----

    /// `NdisOpenConfigurationEx` (PASSIVE_LEVEL).
    pub fn NdisOpenConfigurationEx(
        ConfigObject: PNDIS_CONFIGURATION_OBJECT,
        ConfigurationHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// `NdisReadConfiguration` (PASSIVE_LEVEL). `*ParameterValue` stays owned by NDIS until
    /// `NdisCloseConfiguration`.
    pub fn NdisReadConfiguration(
        Status: *mut NDIS_STATUS,
        ParameterValue: *mut PNDIS_CONFIGURATION_PARAMETER,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: PNDIS_STRING,
        ParameterType: NDIS_PARAMETER_TYPE,
    );
    /// `NdisWriteConfiguration` (PASSIVE_LEVEL).
    pub fn NdisWriteConfiguration(
        Status: *mut NDIS_STATUS,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: PNDIS_STRING,
        ParameterValue: PNDIS_CONFIGURATION_PARAMETER,
    );
    /// `NdisCloseConfiguration` (PASSIVE_LEVEL).
    pub fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE);
    /// `NdisReadNetworkAddress` (PASSIVE_LEVEL): the `NetworkAddress` keyword, parsed.
    pub fn NdisReadNetworkAddress(
        Status: *mut NDIS_STATUS,
        NetworkAddress: *mut PVOID,
        NetworkAddressLength: *mut UINT,
        ConfigurationHandle: NDIS_HANDLE,
    );

    // ---- bus, I/O space, interrupts, DPCs ----

    /// `NdisMGetBusData` (PASSIVE_LEVEL per header; reads PCI config space). Returns bytes read.
    pub fn NdisMGetBusData(
        NdisMiniportHandle: NDIS_HANDLE,
        WhichSpace: ULONG,
        Offset: ULONG,
        Buffer: PVOID,
        Length: ULONG,
    ) -> ULONG;
    /// `NdisMSetBusData`. Returns bytes written.
    pub fn NdisMSetBusData(
        NdisMiniportHandle: NDIS_HANDLE,
        WhichSpace: ULONG,
        Offset: ULONG,
        Buffer: PVOID,
        Length: ULONG,
    ) -> ULONG;
    /// `NdisMMapIoSpace` (PASSIVE_LEVEL): maps a translated memory BAR.
    pub fn NdisMMapIoSpace(
        VirtualAddress: *mut PVOID,
        MiniportAdapterHandle: NDIS_HANDLE,
        PhysicalAddress: NDIS_PHYSICAL_ADDRESS,
        Length: UINT,
    ) -> NDIS_STATUS;
    /// `NdisMUnmapIoSpace` (PASSIVE_LEVEL).
    pub fn NdisMUnmapIoSpace(
        MiniportAdapterHandle: NDIS_HANDLE,
        VirtualAddress: PVOID,
        Length: UINT,
    );
    /// `NdisMRegisterInterruptEx` (PASSIVE_LEVEL).
    pub fn NdisMRegisterInterruptEx(
        MiniportAdapterHandle: NDIS_HANDLE,
        MiniportInterruptContext: NDIS_HANDLE,
        MiniportInterruptCharacteristics: PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
        NdisInterruptHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// `NdisMDeregisterInterruptEx` (PASSIVE_LEVEL).
    pub fn NdisMDeregisterInterruptEx(NdisInterruptHandle: NDIS_HANDLE);
    /// `NdisMQueueDpcEx` (<= DISPATCH_LEVEL, NDIS 6.20): returns the processors a DPC was queued on.
    pub fn NdisMQueueDpcEx(
        NdisInterruptHandle: NDIS_HANDLE,
        MessageId: ULONG,
        TargetProcessors: *mut GROUP_AFFINITY,
        MiniportDpcContext: PVOID,
    ) -> KAFFINITY;
    /// `NdisMQueueDpc` (NDIS 6.0 form; `TargetProcessors` is a 32-bit mask of group 0).
    pub fn NdisMQueueDpc(
        NdisInterruptHandle: NDIS_HANDLE,
        MessageId: ULONG,
        TargetProcessors: ULONG,
        MiniportDpcContext: PVOID,
    ) -> ULONG;
    /// `NdisMSynchronizeWithInterruptEx` (<= DIRQL): runs `SynchronizeFunction` under the
    /// interrupt lock of `MessageId`.
    pub fn NdisMSynchronizeWithInterruptEx(
        NdisInterruptHandle: NDIS_HANDLE,
        MessageId: ULONG,
        SynchronizeFunction: MINIPORT_SYNCHRONIZE_INTERRUPT_HANDLER,
        SynchronizeContext: PVOID,
    ) -> BOOLEAN;

    // ---- DMA ----

    /// `NdisMRegisterScatterGatherDma` (PASSIVE_LEVEL).
    pub fn NdisMRegisterScatterGatherDma(
        MiniportAdapterHandle: NDIS_HANDLE,
        DmaDescription: PNDIS_SG_DMA_DESCRIPTION,
        NdisMiniportDmaHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// `NdisMDeregisterScatterGatherDma` (PASSIVE_LEVEL).
    pub fn NdisMDeregisterScatterGatherDma(NdisMiniportDmaHandle: NDIS_HANDLE);
    /// `NdisMAllocateNetBufferSGList` (DISPATCH_LEVEL): builds an SG list for `NetBuffer` and
    /// calls `MiniportProcessSGList` (possibly before returning).
    pub fn NdisMAllocateNetBufferSGList(
        NdisMiniportDmaHandle: NDIS_HANDLE,
        NetBuffer: *mut NET_BUFFER,
        Context: PVOID,
        Flags: ULONG,
        ScatterGatherListBuffer: PVOID,
        ScatterGatherListBufferSize: ULONG,
    ) -> NDIS_STATUS;
    /// `NdisMFreeNetBufferSGList` (DISPATCH_LEVEL).
    pub fn NdisMFreeNetBufferSGList(
        NdisMiniportDmaHandle: NDIS_HANDLE,
        pSGL: PSCATTER_GATHER_LIST,
        NetBuffer: *mut NET_BUFFER,
    );
    /// `NdisMAllocateSharedMemory` (PASSIVE_LEVEL): DMA-able common buffer. On failure
    /// `*VirtualAddress` is null.
    pub fn NdisMAllocateSharedMemory(
        MiniportAdapterHandle: NDIS_HANDLE,
        Length: ULONG,
        Cached: BOOLEAN,
        VirtualAddress: *mut PVOID,
        PhysicalAddress: *mut NDIS_PHYSICAL_ADDRESS,
    );
    /// `NdisMFreeSharedMemory` (PASSIVE_LEVEL); arguments must match the allocation.
    pub fn NdisMFreeSharedMemory(
        MiniportAdapterHandle: NDIS_HANDLE,
        Length: ULONG,
        Cached: BOOLEAN,
        VirtualAddress: PVOID,
        PhysicalAddress: NDIS_PHYSICAL_ADDRESS,
    );
    /// `NdisMAllocateSharedMemoryAsyncEx` (<= DISPATCH_LEVEL); completes through
    /// `MiniportSharedMemoryAllocateComplete`.
    pub fn NdisMAllocateSharedMemoryAsyncEx(
        MiniportDmaHandle: NDIS_HANDLE,
        Length: ULONG,
        Cached: BOOLEAN,
        Context: PVOID,
    ) -> NDIS_STATUS;

    // ---- NBL / NB / MDL ----

    /// `NdisAllocateNetBufferListPool` (<= DISPATCH_LEVEL). Null on failure.
    pub fn NdisAllocateNetBufferListPool(
        NdisHandle: NDIS_HANDLE,
        Parameters: *const NET_BUFFER_LIST_POOL_PARAMETERS,
    ) -> NDIS_HANDLE;
    /// `NdisFreeNetBufferListPool` (<= DISPATCH_LEVEL).
    pub fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE);
    /// `NdisAllocateNetBufferPool` (<= DISPATCH_LEVEL).
    pub fn NdisAllocateNetBufferPool(
        NdisHandle: NDIS_HANDLE,
        Parameters: *const NET_BUFFER_POOL_PARAMETERS,
    ) -> NDIS_HANDLE;
    /// `NdisFreeNetBufferPool` (<= DISPATCH_LEVEL).
    pub fn NdisFreeNetBufferPool(PoolHandle: NDIS_HANDLE);
    /// `NdisAllocateNetBufferAndNetBufferList` (<= DISPATCH_LEVEL; pool created with
    /// `fAllocateNetBuffer`). `MdlChain` may be null.
    pub fn NdisAllocateNetBufferAndNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: USHORT,
        ContextBackFill: USHORT,
        MdlChain: *mut MDL,
        DataOffset: ULONG,
        DataLength: SIZE_T,
    ) -> *mut NET_BUFFER_LIST;
    /// `NdisAllocateNetBufferList` (<= DISPATCH_LEVEL).
    pub fn NdisAllocateNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: USHORT,
        ContextBackFill: USHORT,
    ) -> *mut NET_BUFFER_LIST;
    /// `NdisFreeNetBufferList` (<= DISPATCH_LEVEL).
    pub fn NdisFreeNetBufferList(NetBufferList: *mut NET_BUFFER_LIST);
    /// `NdisAllocateNetBuffer` (<= DISPATCH_LEVEL).
    pub fn NdisAllocateNetBuffer(
        PoolHandle: NDIS_HANDLE,
        MdlChain: *mut MDL,
        DataOffset: ULONG,
        DataLength: SIZE_T,
    ) -> *mut NET_BUFFER;
    /// `NdisFreeNetBuffer` (<= DISPATCH_LEVEL).
    pub fn NdisFreeNetBuffer(NetBuffer: *mut NET_BUFFER);
    /// `NdisAllocateNetBufferMdlAndData` (<= DISPATCH_LEVEL; pool with `DataSize`).
    pub fn NdisAllocateNetBufferMdlAndData(PoolHandle: NDIS_HANDLE) -> *mut NET_BUFFER;
    /// `NdisAllocateMdl` (<= DISPATCH_LEVEL): MDL for non-paged memory.
    pub fn NdisAllocateMdl(
        NdisHandle: NDIS_HANDLE,
        VirtualAddress: PVOID,
        Length: ULONG,
    ) -> *mut MDL;
    /// `NdisFreeMdl` (<= DISPATCH_LEVEL).
    pub fn NdisFreeMdl(Mdl: *mut MDL);
    /// `NdisRetreatNetBufferDataStart` (<= DISPATCH_LEVEL).
    pub fn NdisRetreatNetBufferDataStart(
        NetBuffer: *mut NET_BUFFER,
        DataOffsetDelta: ULONG,
        DataBackFill: ULONG,
        AllocateMdlHandler: NET_BUFFER_ALLOCATE_MDL,
    ) -> NDIS_STATUS;
    /// `NdisAdvanceNetBufferDataStart` (<= DISPATCH_LEVEL).
    pub fn NdisAdvanceNetBufferDataStart(
        NetBuffer: *mut NET_BUFFER,
        DataOffsetDelta: ULONG,
        FreeMdl: BOOLEAN,
        FreeMdlHandler: NET_BUFFER_FREE_MDL,
    );
    /// `NdisGetDataBuffer` (<= DISPATCH_LEVEL): pointer to `BytesNeeded` contiguous bytes at the
    /// data start, either in place or copied to `Storage`; null if the NB is shorter or the
    /// data cannot be mapped.
    pub fn NdisGetDataBuffer(
        NetBuffer: *mut NET_BUFFER,
        BytesNeeded: ULONG,
        Storage: PVOID,
        AlignMultiple: ULONG,
        AlignOffset: ULONG,
    ) -> PVOID;
    /// `NdisQueryNetBufferPhysicalCount` (<= DISPATCH_LEVEL).
    pub fn NdisQueryNetBufferPhysicalCount(NetBuffer: *mut NET_BUFFER) -> ULONG;
    /// `NdisCopyFromNetBufferToNetBuffer` (<= DISPATCH_LEVEL).
    pub fn NdisCopyFromNetBufferToNetBuffer(
        Destination: *mut NET_BUFFER,
        DestinationOffset: ULONG,
        BytesToCopy: ULONG,
        Source: *const NET_BUFFER,
        SourceOffset: ULONG,
        BytesCopied: *mut ULONG,
    ) -> NDIS_STATUS;
    /// `NdisAllocateNetBufferListContext` (<= DISPATCH_LEVEL).
    pub fn NdisAllocateNetBufferListContext(
        NetBufferList: *mut NET_BUFFER_LIST,
        ContextSize: USHORT,
        ContextBackFill: USHORT,
        PoolTag: ULONG,
    ) -> NDIS_STATUS;
    /// `NdisFreeNetBufferListContext` (<= DISPATCH_LEVEL).
    pub fn NdisFreeNetBufferListContext(NetBufferList: *mut NET_BUFFER_LIST, ContextSize: USHORT);
    /// `NdisAllocateCloneNetBufferList` (<= DISPATCH_LEVEL).
    pub fn NdisAllocateCloneNetBufferList(
        OriginalNetBufferList: *mut NET_BUFFER_LIST,
        NetBufferListPoolHandle: NDIS_HANDLE,
        NetBufferPoolHandle: NDIS_HANDLE,
        AllocateCloneFlags: ULONG,
    ) -> *mut NET_BUFFER_LIST;
    /// `NdisFreeCloneNetBufferList` (<= DISPATCH_LEVEL).
    pub fn NdisFreeCloneNetBufferList(
        CloneNetBufferList: *mut NET_BUFFER_LIST,
        FreeCloneFlags: ULONG,
    );

    // ---- datapath ----

    /// `NdisMIndicateReceiveNetBufferLists` (<= DISPATCH_LEVEL; set
    /// `NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL` when at DISPATCH).
    pub fn NdisMIndicateReceiveNetBufferLists(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: ULONG,
        ReceiveFlags: ULONG,
    );
    /// `NdisMSendNetBufferListsComplete` (<= DISPATCH_LEVEL).
    pub fn NdisMSendNetBufferListsComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        SendCompleteFlags: ULONG,
    );

    // ---- memory ----

    /// `NdisAllocateMemoryWithTagPriority` (<= DISPATCH_LEVEL): non-paged; null on failure.
    pub fn NdisAllocateMemoryWithTagPriority(
        NdisHandle: NDIS_HANDLE,
        Length: UINT,
        Tag: ULONG,
        Priority: EX_POOL_PRIORITY,
    ) -> PVOID;
    /// `NdisFreeMemory` (`MemoryFlags` 0 for non-paged pool).
    pub fn NdisFreeMemory(VirtualAddress: PVOID, Length: UINT, MemoryFlags: UINT);
    /// `NdisFreeMemoryWithTagPriority` (<= DISPATCH_LEVEL).
    pub fn NdisFreeMemoryWithTagPriority(
        NdisHandle: NDIS_HANDLE,
        VirtualAddress: PVOID,
        Tag: ULONG,
    );

    // ---- locks (NDIS.SYS keeps exporting the spin-lock routines the headers turned into
    //      macros; see the module docs) ----

    /// `NdisAllocateSpinLock` (inline `KeInitializeSpinLock` in NDIS 6 headers; exported).
    pub fn NdisAllocateSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// `NdisFreeSpinLock` (no-op; exported).
    pub fn NdisFreeSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// `NdisAcquireSpinLock` (<= DISPATCH_LEVEL; raises to DISPATCH, saves `OldIrql`).
    pub fn NdisAcquireSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// `NdisReleaseSpinLock`.
    pub fn NdisReleaseSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// `NdisDprAcquireSpinLock` (DISPATCH_LEVEL only).
    pub fn NdisDprAcquireSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// `NdisDprReleaseSpinLock` (DISPATCH_LEVEL only).
    pub fn NdisDprReleaseSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    /// `NdisAllocateRWLock` (<= DISPATCH_LEVEL). Null on failure.
    pub fn NdisAllocateRWLock(NdisHandle: NDIS_HANDLE) -> *mut NDIS_RW_LOCK_EX;
    /// `NdisFreeRWLock`.
    pub fn NdisFreeRWLock(Lock: *mut NDIS_RW_LOCK_EX);
    /// `NdisAcquireRWLockRead` (raises to DISPATCH_LEVEL).
    pub fn NdisAcquireRWLockRead(
        Lock: *mut NDIS_RW_LOCK_EX,
        LockState: *mut LOCK_STATE_EX,
        Flags: UCHAR,
    );
    /// `NdisAcquireRWLockWrite` (raises to DISPATCH_LEVEL).
    pub fn NdisAcquireRWLockWrite(
        Lock: *mut NDIS_RW_LOCK_EX,
        LockState: *mut LOCK_STATE_EX,
        Flags: UCHAR,
    );
    /// `NdisReleaseRWLock` (restores the IRQL saved in `LockState`).
    pub fn NdisReleaseRWLock(Lock: *mut NDIS_RW_LOCK_EX, LockState: *mut LOCK_STATE_EX);
    /// `NdisInitializeEvent`.
    pub fn NdisInitializeEvent(Event: PNDIS_EVENT);
    /// `NdisSetEvent` (<= DISPATCH_LEVEL).
    pub fn NdisSetEvent(Event: PNDIS_EVENT);
    /// `NdisResetEvent` (<= DISPATCH_LEVEL).
    pub fn NdisResetEvent(Event: PNDIS_EVENT);
    /// `NdisWaitEvent` (PASSIVE_LEVEL; `MsToWait` 0 = forever). `TRUE` if signalled.
    pub fn NdisWaitEvent(Event: PNDIS_EVENT, MsToWait: UINT) -> BOOLEAN;

    // ---- timers and work items ----

    /// `NdisAllocateTimerObject` (PASSIVE_LEVEL).
    pub fn NdisAllocateTimerObject(
        NdisHandle: NDIS_HANDLE,
        TimerCharacteristics: PNDIS_TIMER_CHARACTERISTICS,
        pTimerObject: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// `NdisSetTimerObject` (<= DISPATCH_LEVEL). `DueTime` in 100 ns units, negative = relative.
    /// `TRUE` if the timer was already queued.
    pub fn NdisSetTimerObject(
        TimerObject: NDIS_HANDLE,
        DueTime: LARGE_INTEGER,
        MillisecondsPeriod: LONG,
        FunctionContext: PVOID,
    ) -> BOOLEAN;
    /// `NdisCancelTimerObject` (<= DISPATCH_LEVEL). `TRUE` if a pending timer was cancelled.
    pub fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    /// `NdisFreeTimerObject` (PASSIVE_LEVEL; cancel first).
    pub fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE);
    /// `NdisAllocateIoWorkItem` (<= DISPATCH_LEVEL). Null on failure.
    pub fn NdisAllocateIoWorkItem(NdisObjectHandle: NDIS_HANDLE) -> NDIS_HANDLE;
    /// `NdisQueueIoWorkItem` (<= DISPATCH_LEVEL).
    pub fn NdisQueueIoWorkItem(
        NdisIoWorkItemHandle: NDIS_HANDLE,
        Routine: NDIS_IO_WORKITEM_ROUTINE,
        WorkItemContext: PVOID,
    );
    /// `NdisFreeIoWorkItem` (<= DISPATCH_LEVEL).
    pub fn NdisFreeIoWorkItem(NdisIoWorkItemHandle: NDIS_HANDLE);

    // ---- time, processors ----

    /// `NdisMSleep` (PASSIVE_LEVEL).
    pub fn NdisMSleep(MicrosecondsToSleep: ULONG);
    /// `NdisGetSystemUpTimeEx` (any IRQL): milliseconds since boot.
    pub fn NdisGetSystemUpTimeEx(pSystemUpTime: *mut LARGE_INTEGER);
    /// `NdisGroupActiveProcessorCount` (any IRQL).
    pub fn NdisGroupActiveProcessorCount(Group: USHORT) -> ULONG;
    /// `NdisGroupMaxProcessorCount`.
    pub fn NdisGroupMaxProcessorCount(Group: USHORT) -> ULONG;
    /// `NdisGroupActiveProcessorMask`.
    pub fn NdisGroupActiveProcessorMask(Group: USHORT) -> KAFFINITY;
    /// `NdisCurrentGroupAndProcessor` (returns a 4-byte struct by value).
    pub fn NdisCurrentGroupAndProcessor() -> PROCESSOR_NUMBER;
    /// `NdisSystemActiveProcessorCount` (`ActiveProcessors` may be null).
    pub fn NdisSystemActiveProcessorCount(ActiveProcessors: *mut KAFFINITY) -> ULONG;
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
    /// `ExAllocatePoolWithTag` (deprecated; the fallback before Windows 10 2004, where
    /// `ExAllocatePool2` does not exist: resolve that one with `MmGetSystemRoutineAddress`).
    /// `PoolType` is a `POOL_TYPE` (`NonPagedPoolNx` = 512). Does not zero.
    pub fn ExAllocatePoolWithTag(PoolType: i32, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;
    /// `MmGetSystemRoutineAddress` (PASSIVE_LEVEL).
    pub fn MmGetSystemRoutineAddress(SystemRoutineName: PUNICODE_STRING) -> PVOID;
    /// `KeBugCheckEx` (never returns).
    pub fn KeBugCheckEx(
        BugCheckCode: ULONG,
        BugCheckParameter1: ULONG_PTR,
        BugCheckParameter2: ULONG_PTR,
        BugCheckParameter3: ULONG_PTR,
        BugCheckParameter4: ULONG_PTR,
    ) -> !;
    /// `KeAcquireSpinLockRaiseToDpc` (<= DISPATCH_LEVEL; what `KeAcquireSpinLock` expands to on
    /// x64). Returns the previous IRQL.
    pub fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut KSPIN_LOCK) -> KIRQL;
    /// `KeReleaseSpinLock`.
    pub fn KeReleaseSpinLock(SpinLock: *mut KSPIN_LOCK, NewIrql: KIRQL);
    /// `KeAcquireSpinLockAtDpcLevel` (DISPATCH_LEVEL).
    pub fn KeAcquireSpinLockAtDpcLevel(SpinLock: *mut KSPIN_LOCK);
    /// `KeReleaseSpinLockFromDpcLevel` (DISPATCH_LEVEL).
    pub fn KeReleaseSpinLockFromDpcLevel(SpinLock: *mut KSPIN_LOCK);
    /// `KeGetCurrentProcessorNumberEx` (any IRQL): index across groups; fills `ProcNumber` if
    /// non-null.
    pub fn KeGetCurrentProcessorNumberEx(ProcNumber: *mut PROCESSOR_NUMBER) -> ULONG;
    /// `KeQueryActiveProcessorCountEx` (`ALL_PROCESSOR_GROUPS` = 0xFFFF).
    pub fn KeQueryActiveProcessorCountEx(GroupNumber: USHORT) -> ULONG;
    /// `KeQuerySystemTimePrecise` (Windows 8+): 100 ns units since 1601 (what
    /// `NdisGetCurrentSystemTime` should use instead of the KUSER_SHARED_DATA macro).
    pub fn KeQuerySystemTimePrecise(CurrentTime: *mut LARGE_INTEGER);
    /// `KeFlushQueuedDpcs` (PASSIVE_LEVEL).
    pub fn KeFlushQueuedDpcs();
    /// `MmMapLockedPagesSpecifyCache` (<= DISPATCH_LEVEL): the slow path of
    /// `MmGetSystemAddressForMdlSafe` (`AccessMode` `KernelMode`, `CacheType` `MmCached`,
    /// `RequestedAddress` null, `BugCheckOnFailure` 0, `Priority` a `MM_PAGE_PRIORITY`).
    pub fn MmMapLockedPagesSpecifyCache(
        MemoryDescriptorList: *mut MDL,
        AccessMode: KPROCESSOR_MODE,
        CacheType: MEMORY_CACHING_TYPE,
        RequestedAddress: PVOID,
        BugCheckOnFailure: ULONG,
        Priority: ULONG,
    ) -> PVOID;
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
    /// `KeQueryPerformanceCounter` (any IRQL). `PerformanceFrequency` may be null. Exported by
    /// HAL.dll on every version (forwarded to ntoskrnl on Windows 8+).
    pub fn KeQueryPerformanceCounter(PerformanceFrequency: *mut LARGE_INTEGER) -> LARGE_INTEGER;
}

/// `PCI_WHICHSPACE_CONFIG` (`WhichSpace` of `NdisMGetBusData`).
pub const PCI_WHICHSPACE_CONFIG: ULONG = 0x0;
/// `PCI_WHICHSPACE_ROM`.
pub const PCI_WHICHSPACE_ROM: ULONG = 0x5269_6350;
/// `NonPagedPoolNx` (`POOL_TYPE` for `ExAllocatePoolWithTag`).
pub const NonPagedPoolNx: i32 = 512;
/// `ALL_PROCESSOR_GROUPS`.
pub const ALL_PROCESSOR_GROUPS: USHORT = 0xFFFF;

/// `MmGetSystemAddressForMdlSafe` (an inline function in `wdm.h`, not an export): the mapped
/// system VA if the MDL already has one ([`crate::nbl::mdl_system_address_if_mapped`]),
/// otherwise maps it with [`MmMapLockedPagesSpecifyCache`] (`KernelMode`, `MmCached`, no
/// bugcheck). Returns null if mapping fails. `Priority` is a `MM_PAGE_PRIORITY`, optionally
/// OR-ed with `MdlMappingNoExecute`.
///
/// # Safety
/// `mdl` must point to a valid MDL describing locked (or non-paged) pages; IRQL <= DISPATCH.
pub unsafe fn MmGetSystemAddressForMdlSafe(mdl: *mut MDL, Priority: MM_PAGE_PRIORITY) -> PVOID {
    // SAFETY: the caller guarantees `mdl` is valid for reads.
    let m = unsafe { &*mdl };
    if let Some(va) = crate::nbl::mdl_system_address_if_mapped(m) {
        return va;
    }
    // SAFETY: valid locked MDL (caller); the arguments are the ones the WDK inline passes.
    unsafe {
        MmMapLockedPagesSpecifyCache(
            mdl,
            KernelMode,
            MmCached,
            core::ptr::null_mut(),
            0,
            Priority,
        )
    }
}
