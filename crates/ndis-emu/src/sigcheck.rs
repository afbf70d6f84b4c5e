//! Compile-time proof that every function this crate defines has exactly the signature
//! ndis-sys declares: an array of the declaration and the definition only type-checks when both
//! function items coerce to one function-pointer type (same ABI, safety, parameters, return).
//! The two variadic imports (`DbgPrint`, `NdisWriteErrorLogEntry`) cannot be defined with their
//! C signature on stable Rust and are defined with fixed trailing parameters instead.

use ndis_sys as n;

#[allow(dead_code)]
fn signatures_match_ndis_sys() {
    let _ = [
        n::NdisMRegisterMiniportDriver,
        crate::driver::NdisMRegisterMiniportDriver,
    ];
    let _ = [
        n::NdisMDeregisterMiniportDriver,
        crate::driver::NdisMDeregisterMiniportDriver,
    ];
    let _ = [
        n::NdisSetOptionalHandlers,
        crate::driver::NdisSetOptionalHandlers,
    ];
    let _ = [
        n::NdisMSetMiniportAttributes,
        crate::adapter::NdisMSetMiniportAttributes,
    ];
    let _ = [n::NdisMPauseComplete, crate::adapter::NdisMPauseComplete];
    let _ = [
        n::NdisMRestartComplete,
        crate::adapter::NdisMRestartComplete,
    ];
    let _ = [n::NdisMResetComplete, crate::adapter::NdisMResetComplete];
    let _ = [
        n::NdisMOidRequestComplete,
        crate::oid::NdisMOidRequestComplete,
    ];
    let _ = [
        n::NdisMDirectOidRequestComplete,
        crate::oid::NdisMDirectOidRequestComplete,
    ];
    let _ = [
        n::NdisMIndicateStatusEx,
        crate::adapter::NdisMIndicateStatusEx,
    ];
    let _ = [n::NdisMNetPnPEvent, crate::adapter::NdisMNetPnPEvent];
    let _ = [n::NdisMResetMiniport, crate::adapter::NdisMResetMiniport];
    let _ = [n::NdisMRemoveMiniport, crate::adapter::NdisMRemoveMiniport];
    let _ = [n::NdisGetVersion, crate::driver::NdisGetVersion];
    let _ = [
        n::NdisGetRoutineAddress,
        crate::driver::NdisGetRoutineAddress,
    ];
    let _ = [
        n::NdisMGetDeviceProperty,
        crate::adapter::NdisMGetDeviceProperty,
    ];
    let _ = [
        n::NdisWriteEventLogEntry,
        crate::driver::NdisWriteEventLogEntry,
    ];
    let _ = [
        n::NdisOpenConfigurationEx,
        crate::registry::NdisOpenConfigurationEx,
    ];
    let _ = [
        n::NdisReadConfiguration,
        crate::registry::NdisReadConfiguration,
    ];
    let _ = [
        n::NdisWriteConfiguration,
        crate::registry::NdisWriteConfiguration,
    ];
    let _ = [
        n::NdisCloseConfiguration,
        crate::registry::NdisCloseConfiguration,
    ];
    let _ = [
        n::NdisReadNetworkAddress,
        crate::registry::NdisReadNetworkAddress,
    ];
    let _ = [n::NdisMGetBusData, crate::mmio::NdisMGetBusData];
    let _ = [n::NdisMSetBusData, crate::mmio::NdisMSetBusData];
    let _ = [n::NdisMMapIoSpace, crate::mmio::NdisMMapIoSpace];
    let _ = [n::NdisMUnmapIoSpace, crate::mmio::NdisMUnmapIoSpace];
    let _ = [
        n::NdisMRegisterInterruptEx,
        crate::interrupt::NdisMRegisterInterruptEx,
    ];
    let _ = [
        n::NdisMDeregisterInterruptEx,
        crate::interrupt::NdisMDeregisterInterruptEx,
    ];
    let _ = [n::NdisMQueueDpcEx, crate::interrupt::NdisMQueueDpcEx];
    let _ = [n::NdisMQueueDpc, crate::interrupt::NdisMQueueDpc];
    let _ = [
        n::NdisMSynchronizeWithInterruptEx,
        crate::interrupt::NdisMSynchronizeWithInterruptEx,
    ];
    let _ = [
        n::NdisMRegisterScatterGatherDma,
        crate::dma::NdisMRegisterScatterGatherDma,
    ];
    let _ = [
        n::NdisMDeregisterScatterGatherDma,
        crate::dma::NdisMDeregisterScatterGatherDma,
    ];
    let _ = [
        n::NdisMAllocateNetBufferSGList,
        crate::dma::NdisMAllocateNetBufferSGList,
    ];
    let _ = [
        n::NdisMFreeNetBufferSGList,
        crate::dma::NdisMFreeNetBufferSGList,
    ];
    let _ = [
        n::NdisMAllocateSharedMemory,
        crate::dma::NdisMAllocateSharedMemory,
    ];
    let _ = [n::NdisMFreeSharedMemory, crate::dma::NdisMFreeSharedMemory];
    let _ = [
        n::NdisMAllocateSharedMemoryAsyncEx,
        crate::dma::NdisMAllocateSharedMemoryAsyncEx,
    ];
    let _ = [
        n::NdisAllocateNetBufferListPool,
        crate::nbl::NdisAllocateNetBufferListPool,
    ];
    let _ = [
        n::NdisFreeNetBufferListPool,
        crate::nbl::NdisFreeNetBufferListPool,
    ];
    let _ = [
        n::NdisAllocateNetBufferPool,
        crate::nbl::NdisAllocateNetBufferPool,
    ];
    let _ = [n::NdisFreeNetBufferPool, crate::nbl::NdisFreeNetBufferPool];
    let _ = [
        n::NdisAllocateNetBufferAndNetBufferList,
        crate::nbl::NdisAllocateNetBufferAndNetBufferList,
    ];
    let _ = [
        n::NdisAllocateNetBufferList,
        crate::nbl::NdisAllocateNetBufferList,
    ];
    let _ = [n::NdisFreeNetBufferList, crate::nbl::NdisFreeNetBufferList];
    let _ = [n::NdisAllocateNetBuffer, crate::nbl::NdisAllocateNetBuffer];
    let _ = [n::NdisFreeNetBuffer, crate::nbl::NdisFreeNetBuffer];
    let _ = [
        n::NdisAllocateNetBufferMdlAndData,
        crate::nbl::NdisAllocateNetBufferMdlAndData,
    ];
    let _ = [n::NdisAllocateMdl, crate::nbl::NdisAllocateMdl];
    let _ = [n::NdisFreeMdl, crate::nbl::NdisFreeMdl];
    let _ = [
        n::NdisRetreatNetBufferDataStart,
        crate::nbl::NdisRetreatNetBufferDataStart,
    ];
    let _ = [
        n::NdisAdvanceNetBufferDataStart,
        crate::nbl::NdisAdvanceNetBufferDataStart,
    ];
    let _ = [n::NdisGetDataBuffer, crate::nbl::NdisGetDataBuffer];
    let _ = [
        n::NdisQueryNetBufferPhysicalCount,
        crate::nbl::NdisQueryNetBufferPhysicalCount,
    ];
    let _ = [
        n::NdisCopyFromNetBufferToNetBuffer,
        crate::nbl::NdisCopyFromNetBufferToNetBuffer,
    ];
    let _ = [
        n::NdisAllocateNetBufferListContext,
        crate::nbl::NdisAllocateNetBufferListContext,
    ];
    let _ = [
        n::NdisFreeNetBufferListContext,
        crate::nbl::NdisFreeNetBufferListContext,
    ];
    let _ = [
        n::NdisAllocateCloneNetBufferList,
        crate::nbl::NdisAllocateCloneNetBufferList,
    ];
    let _ = [
        n::NdisFreeCloneNetBufferList,
        crate::nbl::NdisFreeCloneNetBufferList,
    ];
    let _ = [
        n::NdisMIndicateReceiveNetBufferLists,
        crate::datapath::NdisMIndicateReceiveNetBufferLists,
    ];
    let _ = [
        n::NdisMSendNetBufferListsComplete,
        crate::datapath::NdisMSendNetBufferListsComplete,
    ];
    let _ = [
        n::NdisAllocateMemoryWithTagPriority,
        crate::memory::NdisAllocateMemoryWithTagPriority,
    ];
    let _ = [n::NdisFreeMemory, crate::memory::NdisFreeMemory];
    let _ = [
        n::NdisFreeMemoryWithTagPriority,
        crate::memory::NdisFreeMemoryWithTagPriority,
    ];
    let _ = [n::NdisAllocateSpinLock, crate::sched::NdisAllocateSpinLock];
    let _ = [n::NdisFreeSpinLock, crate::sched::NdisFreeSpinLock];
    let _ = [n::NdisAcquireSpinLock, crate::sched::NdisAcquireSpinLock];
    let _ = [n::NdisReleaseSpinLock, crate::sched::NdisReleaseSpinLock];
    let _ = [
        n::NdisDprAcquireSpinLock,
        crate::sched::NdisDprAcquireSpinLock,
    ];
    let _ = [
        n::NdisDprReleaseSpinLock,
        crate::sched::NdisDprReleaseSpinLock,
    ];
    let _ = [n::NdisAllocateRWLock, crate::sched::NdisAllocateRWLock];
    let _ = [n::NdisFreeRWLock, crate::sched::NdisFreeRWLock];
    let _ = [
        n::NdisAcquireRWLockRead,
        crate::sched::NdisAcquireRWLockRead,
    ];
    let _ = [
        n::NdisAcquireRWLockWrite,
        crate::sched::NdisAcquireRWLockWrite,
    ];
    let _ = [n::NdisReleaseRWLock, crate::sched::NdisReleaseRWLock];
    let _ = [n::NdisInitializeEvent, crate::sched::NdisInitializeEvent];
    let _ = [n::NdisSetEvent, crate::sched::NdisSetEvent];
    let _ = [n::NdisResetEvent, crate::sched::NdisResetEvent];
    let _ = [n::NdisWaitEvent, crate::sched::NdisWaitEvent];
    let _ = [
        n::NdisAllocateTimerObject,
        crate::sched::NdisAllocateTimerObject,
    ];
    let _ = [n::NdisSetTimerObject, crate::sched::NdisSetTimerObject];
    let _ = [
        n::NdisCancelTimerObject,
        crate::sched::NdisCancelTimerObject,
    ];
    let _ = [n::NdisFreeTimerObject, crate::sched::NdisFreeTimerObject];
    let _ = [
        n::NdisAllocateIoWorkItem,
        crate::sched::NdisAllocateIoWorkItem,
    ];
    let _ = [n::NdisQueueIoWorkItem, crate::sched::NdisQueueIoWorkItem];
    let _ = [n::NdisFreeIoWorkItem, crate::sched::NdisFreeIoWorkItem];
    let _ = [n::NdisMSleep, crate::sched::NdisMSleep];
    let _ = [
        n::NdisGetSystemUpTimeEx,
        crate::sched::NdisGetSystemUpTimeEx,
    ];
    let _ = [
        n::NdisGroupActiveProcessorCount,
        crate::sched::NdisGroupActiveProcessorCount,
    ];
    let _ = [
        n::NdisGroupMaxProcessorCount,
        crate::sched::NdisGroupMaxProcessorCount,
    ];
    let _ = [
        n::NdisGroupActiveProcessorMask,
        crate::sched::NdisGroupActiveProcessorMask,
    ];
    let _ = [
        n::NdisCurrentGroupAndProcessor,
        crate::sched::NdisCurrentGroupAndProcessor,
    ];
    let _ = [
        n::NdisSystemActiveProcessorCount,
        crate::sched::NdisSystemActiveProcessorCount,
    ];
    let _ = [n::ExAllocatePool2, crate::memory::ExAllocatePool2];
    let _ = [n::ExFreePoolWithTag, crate::memory::ExFreePoolWithTag];
    let _ = [n::KeBugCheckEx, crate::driver::KeBugCheckEx];
    let _ = [
        n::KeAcquireSpinLockRaiseToDpc,
        crate::sched::KeAcquireSpinLockRaiseToDpc,
    ];
    let _ = [n::KeReleaseSpinLock, crate::sched::KeReleaseSpinLock];
    let _ = [
        n::KeAcquireSpinLockAtDpcLevel,
        crate::sched::KeAcquireSpinLockAtDpcLevel,
    ];
    let _ = [
        n::KeReleaseSpinLockFromDpcLevel,
        crate::sched::KeReleaseSpinLockFromDpcLevel,
    ];
    let _ = [
        n::KeGetCurrentProcessorNumberEx,
        crate::sched::KeGetCurrentProcessorNumberEx,
    ];
    let _ = [
        n::KeQueryActiveProcessorCountEx,
        crate::sched::KeQueryActiveProcessorCountEx,
    ];
    let _ = [
        n::KeQuerySystemTimePrecise,
        crate::sched::KeQuerySystemTimePrecise,
    ];
    let _ = [n::KeFlushQueuedDpcs, crate::sched::KeFlushQueuedDpcs];
    let _ = [
        n::MmMapLockedPagesSpecifyCache,
        crate::nbl::MmMapLockedPagesSpecifyCache,
    ];
    let _ = [
        n::KeStallExecutionProcessor,
        crate::sched::KeStallExecutionProcessor,
    ];
    let _ = [
        n::KeQueryPerformanceCounter,
        crate::sched::KeQueryPerformanceCounter,
    ];
    let _ = [
        n::ExAllocatePoolWithTag,
        crate::memory::ExAllocatePoolWithTag,
    ];
    let _ = [
        n::MmGetSystemRoutineAddress,
        crate::driver::MmGetSystemRoutineAddress,
    ];
}
