//! Receive side scaling (`ntddndis.h`, `ndis/hashtypes.h`): capabilities, parameters
//! (`OID_GEN_RECEIVE_SCALE_PARAMETERS`), receive hash (`OID_GEN_RECEIVE_HASH`), hash type and
//! function bits.
//!
//! Note the capability hash-type bits (`NDIS_RSS_CAPS_HASH_TYPE_*`) differ from the `NDIS_HASH_*`
//! bits used in parameters and NBL hash info (e.g. TCP/IPv4 is 0x100 vs 0x200).

use crate::basic::{PROCESSOR_NUMBER, UCHAR, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_1`.
pub const NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_1: UCHAR = 1;
/// `NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2` (6.30: `NumberOfIndirectionTableEntries`).
pub const NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2: UCHAR = 2;
/// `NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_3` (6.60).
pub const NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_3: UCHAR = 3;
/// `NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_1`.
pub const NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_1: USHORT = 16;
/// `NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2` (18; `size_of` is 20).
pub const NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2: USHORT = 18;
/// `NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_3` (same as 2).
pub const NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_3: USHORT = 18;

/// `NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4`.
pub const NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4: ULONG = 0x0000_0100;
/// `NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6`.
pub const NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6: ULONG = 0x0000_0200;
/// `NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6_EX`.
pub const NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6_EX: ULONG = 0x0000_0400;
/// `NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV4` (6.80).
pub const NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV4: ULONG = 0x0000_0800;
/// `NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6` (6.80).
pub const NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6: ULONG = 0x0000_1000;
/// `NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6_EX` (6.80).
pub const NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6_EX: ULONG = 0x0000_2000;
/// `NDIS_RSS_CAPS_MESSAGE_SIGNALED_INTERRUPTS`.
pub const NDIS_RSS_CAPS_MESSAGE_SIGNALED_INTERRUPTS: ULONG = 0x0100_0000;
/// `NDIS_RSS_CAPS_CLASSIFICATION_AT_ISR`.
pub const NDIS_RSS_CAPS_CLASSIFICATION_AT_ISR: ULONG = 0x0200_0000;
/// `NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC`.
pub const NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC: ULONG = 0x0400_0000;
/// `NDIS_RSS_CAPS_USING_MSI_X` (6.20).
pub const NDIS_RSS_CAPS_USING_MSI_X: ULONG = 0x0800_0000;
/// `NDIS_RSS_CAPS_RSS_AVAILABLE_ON_PORTS` (6.30).
pub const NDIS_RSS_CAPS_RSS_AVAILABLE_ON_PORTS: ULONG = 0x1000_0000;
/// `NDIS_RSS_CAPS_SUPPORTS_MSI_X` (6.30).
pub const NDIS_RSS_CAPS_SUPPORTS_MSI_X: ULONG = 0x2000_0000;
/// `NDIS_RSS_CAPS_SUPPORTS_INDEPENDENT_ENTRY_MOVE` (6.80).
pub const NDIS_RSS_CAPS_SUPPORTS_INDEPENDENT_ENTRY_MOVE: ULONG = 0x4000_0000;

/// `NDIS_RECEIVE_SCALE_CAPABILITIES` (header type `NDIS_OBJECT_TYPE_RSS_CAPABILITIES`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_RECEIVE_SCALE_CAPABILITIES {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RSS_CAPS_*` | `NdisHashFunctionToeplitz`.
    pub CapabilitiesFlags: ULONG,
    /// MSI-X messages available (1 for line-based).
    pub NumberOfInterruptMessages: ULONG,
    /// Hardware receive queues.
    pub NumberOfReceiveQueues: ULONG,
    /// Max indirection table entries (power of two; revision 2).
    pub NumberOfIndirectionTableEntries: USHORT,
}
assert_layout!(
    NDIS_RECEIVE_SCALE_CAPABILITIES,
    size = 20,
    CapabilitiesFlags = 4,
    NumberOfInterruptMessages = 8,
    NumberOfReceiveQueues = 12,
    NumberOfIndirectionTableEntries = 16
);
/// `PNDIS_RECEIVE_SCALE_CAPABILITIES`.
pub type PNDIS_RECEIVE_SCALE_CAPABILITIES = *mut NDIS_RECEIVE_SCALE_CAPABILITIES;

/// `NdisHashFunctionToeplitz`.
pub const NdisHashFunctionToeplitz: ULONG = 0x0000_0001;
/// `NdisHashFunctionReserved1`.
pub const NdisHashFunctionReserved1: ULONG = 0x0000_0002;
/// `NdisHashFunctionReserved2`.
pub const NdisHashFunctionReserved2: ULONG = 0x0000_0004;
/// `NdisHashFunctionReserved3`.
pub const NdisHashFunctionReserved3: ULONG = 0x0000_0008;
/// `NDIS_HASH_FUNCTION_MASK`.
pub const NDIS_HASH_FUNCTION_MASK: ULONG = 0x0000_00FF;
/// `NDIS_HASH_TYPE_MASK`.
pub const NDIS_HASH_TYPE_MASK: ULONG = 0x00FF_FF00;
/// `NDIS_HASH_IPV4`.
pub const NDIS_HASH_IPV4: ULONG = 0x0000_0100;
/// `NDIS_HASH_TCP_IPV4`.
pub const NDIS_HASH_TCP_IPV4: ULONG = 0x0000_0200;
/// `NDIS_HASH_IPV6`.
pub const NDIS_HASH_IPV6: ULONG = 0x0000_0400;
/// `NDIS_HASH_IPV6_EX`.
pub const NDIS_HASH_IPV6_EX: ULONG = 0x0000_0800;
/// `NDIS_HASH_TCP_IPV6`.
pub const NDIS_HASH_TCP_IPV6: ULONG = 0x0000_1000;
/// `NDIS_HASH_TCP_IPV6_EX`.
pub const NDIS_HASH_TCP_IPV6_EX: ULONG = 0x0000_2000;
/// `NDIS_HASH_UDP_IPV4` (6.80).
pub const NDIS_HASH_UDP_IPV4: ULONG = 0x0000_4000;
/// `NDIS_HASH_UDP_IPV6` (6.80).
pub const NDIS_HASH_UDP_IPV6: ULONG = 0x0000_8000;
/// `NDIS_HASH_UDP_IPV6_EX` (6.80).
pub const NDIS_HASH_UDP_IPV6_EX: ULONG = 0x0001_0000;

/// `NDIS_RSS_HASH_FUNC_FROM_HASH_INFO` (inline in the WDK).
pub const fn NDIS_RSS_HASH_FUNC_FROM_HASH_INFO(hash_info: ULONG) -> ULONG {
    hash_info & NDIS_HASH_FUNCTION_MASK
}
/// `NDIS_RSS_HASH_TYPE_FROM_HASH_INFO` (inline in the WDK).
pub const fn NDIS_RSS_HASH_TYPE_FROM_HASH_INFO(hash_info: ULONG) -> ULONG {
    hash_info & NDIS_HASH_TYPE_MASK
}
/// `NDIS_RSS_HASH_INFO_FROM_TYPE_AND_FUNC` (inline in the WDK).
pub const fn NDIS_RSS_HASH_INFO_FROM_TYPE_AND_FUNC(
    hash_type: ULONG,
    hash_function: ULONG,
) -> ULONG {
    hash_type | hash_function
}

/// `NDIS_RSS_PARAM_FLAG_BASE_CPU_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_BASE_CPU_UNCHANGED: USHORT = 0x0001;
/// `NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED: USHORT = 0x0002;
/// `NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED: USHORT = 0x0004;
/// `NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED: USHORT = 0x0008;
/// `NDIS_RSS_PARAM_FLAG_DISABLE_RSS`.
pub const NDIS_RSS_PARAM_FLAG_DISABLE_RSS: USHORT = 0x0010;
/// `NDIS_RSS_PARAM_FLAG_DEFAULT_PROCESSOR_UNCHANGED` (6.60).
pub const NDIS_RSS_PARAM_FLAG_DEFAULT_PROCESSOR_UNCHANGED: USHORT = 0x0020;

/// `NDIS_RSS_INDIRECTION_TABLE_SIZE_REVISION_1`.
pub const NDIS_RSS_INDIRECTION_TABLE_SIZE_REVISION_1: usize = 128;
/// `NDIS_RSS_HASH_SECRET_KEY_SIZE_REVISION_1`.
pub const NDIS_RSS_HASH_SECRET_KEY_SIZE_REVISION_1: usize = 40;
/// `NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_1` (bytes of `CCHAR` entries).
pub const NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_1: usize = 128;
/// `NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_2` (bytes of `PROCESSOR_NUMBER` entries).
pub const NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_2: usize = 128 * 4;
/// `NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_3`.
pub const NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_3: usize = 128 * 4;
/// `NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1` (= `_2` = `_3` = 40).
pub const NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1: usize = 40;

/// `NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_1`.
pub const NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2` (6.20: `PROCESSOR_NUMBER` table, processor masks).
pub const NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2: UCHAR = 2;
/// `NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_3` (6.60: `DefaultProcessorNumber`).
pub const NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_3: UCHAR = 3;
/// `NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_1` (through `HashSecretKeyOffset`).
pub const NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_1: USHORT = 28;
/// `NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2` (through `ProcessorMasksEntrySize`).
pub const NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2: USHORT = 40;
/// `NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_3` (through `DefaultProcessorNumber`).
pub const NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_3: USHORT = 44;

/// `NDIS_RECEIVE_SCALE_PARAMETERS` (`OID_GEN_RECEIVE_SCALE_PARAMETERS`, header type 0x89). The
/// indirection table and key follow in the same buffer at the given offsets; validate every
/// offset/size against the OID buffer length before use.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_RECEIVE_SCALE_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RSS_PARAM_FLAG_*`.
    pub Flags: USHORT,
    /// Not used.
    pub BaseCpuNumber: USHORT,
    /// Hash type | function.
    pub HashInformation: ULONG,
    /// Bytes of indirection table.
    pub IndirectionTableSize: USHORT,
    /// Offset of the table from the start of this structure.
    pub IndirectionTableOffset: ULONG,
    /// Bytes of secret key.
    pub HashSecretKeySize: USHORT,
    /// Offset of the key.
    pub HashSecretKeyOffset: ULONG,
    /// Offset of the `GROUP_AFFINITY` array (revision 2).
    pub ProcessorMasksOffset: ULONG,
    /// Number of masks (revision 2).
    pub NumberOfProcessorMasks: ULONG,
    /// Size of one mask entry (revision 2).
    pub ProcessorMasksEntrySize: ULONG,
    /// Default processor (revision 3).
    pub DefaultProcessorNumber: PROCESSOR_NUMBER,
}
assert_layout!(
    NDIS_RECEIVE_SCALE_PARAMETERS,
    size = 44,
    Header = 0,
    Flags = 4,
    BaseCpuNumber = 6,
    HashInformation = 8,
    IndirectionTableSize = 12,
    IndirectionTableOffset = 16,
    HashSecretKeySize = 20,
    HashSecretKeyOffset = 24,
    ProcessorMasksOffset = 28,
    NumberOfProcessorMasks = 32,
    ProcessorMasksEntrySize = 36,
    DefaultProcessorNumber = 40
);

/// `NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH`.
pub const NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH: ULONG = 0x1;
/// `NDIS_RECEIVE_HASH_FLAG_HASH_INFO_UNCHANGED`.
pub const NDIS_RECEIVE_HASH_FLAG_HASH_INFO_UNCHANGED: ULONG = 0x2;
/// `NDIS_RECEIVE_HASH_FLAG_HASH_KEY_UNCHANGED`.
pub const NDIS_RECEIVE_HASH_FLAG_HASH_KEY_UNCHANGED: ULONG = 0x4;
/// `NDIS_RECEIVE_HASH_PARAMETERS_REVISION_1`.
pub const NDIS_RECEIVE_HASH_PARAMETERS_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_RECEIVE_HASH_PARAMETERS_REVISION_1` (through `HashSecretKeyOffset`).
pub const NDIS_SIZEOF_RECEIVE_HASH_PARAMETERS_REVISION_1: USHORT = 20;

/// `NDIS_RECEIVE_HASH_PARAMETERS` (`OID_GEN_RECEIVE_HASH`); the key follows at
/// `HashSecretKeyOffset`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NDIS_RECEIVE_HASH_PARAMETERS {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RECEIVE_HASH_FLAG_*`.
    pub Flags: ULONG,
    /// Hash type | function.
    pub HashInformation: ULONG,
    /// Key bytes.
    pub HashSecretKeySize: USHORT,
    /// Key offset.
    pub HashSecretKeyOffset: ULONG,
}
assert_layout!(
    NDIS_RECEIVE_HASH_PARAMETERS,
    size = 20,
    Flags = 4,
    HashInformation = 8,
    HashSecretKeySize = 12,
    HashSecretKeyOffset = 16
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_info_splits_into_type_and_function() {
        let info = NDIS_RSS_HASH_INFO_FROM_TYPE_AND_FUNC(
            NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV4,
            NdisHashFunctionToeplitz,
        );
        assert_eq!(info, 0x301);
        assert_eq!(NDIS_RSS_HASH_FUNC_FROM_HASH_INFO(info), 1);
        assert_eq!(NDIS_RSS_HASH_TYPE_FROM_HASH_INFO(info), 0x300);
        // Capability bits are not the same numbers as the NDIS_HASH_* type bits.
        assert_ne!(NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4, NDIS_HASH_TCP_IPV4);
    }
}
