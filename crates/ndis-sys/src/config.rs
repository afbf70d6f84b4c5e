//! Registry configuration (`ndis.h`): `NdisOpenConfigurationEx` / `NdisReadConfiguration`
//! structures.

use crate::basic::{NDIS_HANDLE, NDIS_STRING, PVOID, UCHAR, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_CONFIGURATION_OBJECT_REVISION_1`.
pub const NDIS_CONFIGURATION_OBJECT_REVISION_1: UCHAR = 1;
/// `NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1` (20; `size_of` is 24).
pub const NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1: USHORT = 20;
/// `NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION`.
pub const NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION: ULONG = 0x1;

/// `NDIS_CONFIGURATION_OBJECT` for `NdisOpenConfigurationEx` (header type
/// `NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT`, revision 1, size 20).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_CONFIGURATION_OBJECT {
    /// Header.
    pub Header: NDIS_OBJECT_HEADER,
    /// The miniport adapter handle (adapter key) or driver handle.
    pub NdisHandle: NDIS_HANDLE,
    /// `NDIS_CONFIG_FLAG_*`.
    pub Flags: ULONG,
}
assert_layout!(
    NDIS_CONFIGURATION_OBJECT,
    size = 24,
    Header = 0,
    NdisHandle = 8,
    Flags = 16
);
/// `PNDIS_CONFIGURATION_OBJECT`.
pub type PNDIS_CONFIGURATION_OBJECT = *mut NDIS_CONFIGURATION_OBJECT;

/// `NDIS_PARAMETER_TYPE` (C enum).
pub type NDIS_PARAMETER_TYPE = i32;
/// `NdisParameterInteger` (REG_DWORD or decimal string).
pub const NdisParameterInteger: NDIS_PARAMETER_TYPE = 0;
/// `NdisParameterHexInteger` (REG_DWORD or hexadecimal string).
pub const NdisParameterHexInteger: NDIS_PARAMETER_TYPE = 1;
/// `NdisParameterString`.
pub const NdisParameterString: NDIS_PARAMETER_TYPE = 2;
/// `NdisParameterMultiString`.
pub const NdisParameterMultiString: NDIS_PARAMETER_TYPE = 3;
/// `NdisParameterBinary`.
pub const NdisParameterBinary: NDIS_PARAMETER_TYPE = 4;

/// `BINARY_DATA`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BINARY_DATA {
    /// Bytes.
    pub Length: USHORT,
    /// Data.
    pub Buffer: PVOID,
}
assert_layout!(BINARY_DATA, size = 16, Length = 0, Buffer = 8);

/// `NDIS_CONFIGURATION_PARAMETER.ParameterData`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_CONFIGURATION_PARAMETER_DATA {
    /// `NdisParameterInteger` / `NdisParameterHexInteger`.
    pub IntegerData: ULONG,
    /// `NdisParameterString` / `NdisParameterMultiString`.
    pub StringData: NDIS_STRING,
    /// `NdisParameterBinary`.
    pub BinaryData: BINARY_DATA,
}

/// `NDIS_CONFIGURATION_PARAMETER` (returned by `NdisReadConfiguration`, owned by NDIS until
/// `NdisCloseConfiguration`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_CONFIGURATION_PARAMETER {
    /// Which union member is valid.
    pub ParameterType: NDIS_PARAMETER_TYPE,
    /// The value.
    pub ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA,
}
assert_layout!(
    NDIS_CONFIGURATION_PARAMETER,
    size = 24,
    ParameterType = 0,
    ParameterData = 8
);
/// `PNDIS_CONFIGURATION_PARAMETER`.
pub type PNDIS_CONFIGURATION_PARAMETER = *mut NDIS_CONFIGURATION_PARAMETER;

/// A decoded configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigValue {
    /// `NdisParameterInteger` / `NdisParameterHexInteger`.
    Integer(ULONG),
    /// `NdisParameterString` / `NdisParameterMultiString`: the raw `NDIS_STRING` parts
    /// (`Length` in bytes, buffer pointer).
    String {
        /// Bytes.
        length: USHORT,
        /// UTF-16 buffer.
        buffer: *mut u16,
    },
    /// `NdisParameterBinary`.
    Binary {
        /// Bytes.
        length: USHORT,
        /// Data.
        buffer: PVOID,
    },
    /// An unknown `ParameterType` (never trust the registry).
    Unknown(NDIS_PARAMETER_TYPE),
}

impl NDIS_CONFIGURATION_PARAMETER {
    /// Reads the union member selected by `ParameterType`.
    pub fn value(&self) -> ConfigValue {
        match self.ParameterType {
            NdisParameterInteger | NdisParameterHexInteger => {
                // SAFETY: integer view of a plain-data union.
                ConfigValue::Integer(unsafe { self.ParameterData.IntegerData })
            }
            NdisParameterString | NdisParameterMultiString => {
                // SAFETY: string view; the union is plain data, any bit pattern is valid.
                let s = unsafe { self.ParameterData.StringData };
                ConfigValue::String {
                    length: s.Length,
                    buffer: s.Buffer,
                }
            }
            NdisParameterBinary => {
                // SAFETY: binary view of a plain-data union.
                let b = unsafe { self.ParameterData.BinaryData };
                ConfigValue::Binary {
                    length: b.Length,
                    buffer: b.Buffer,
                }
            }
            other => ConfigValue::Unknown(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_value_selects_the_member_by_type() {
        let mut p = NDIS_CONFIGURATION_PARAMETER {
            ParameterType: NdisParameterInteger,
            ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: 1 },
        };
        assert_eq!(p.value(), ConfigValue::Integer(1));
        p.ParameterType = 99;
        assert_eq!(p.value(), ConfigValue::Unknown(99));
        static TEXT: [u16; 3] = [0x31, 0x32, 0x33];
        p.ParameterType = NdisParameterString;
        p.ParameterData = NDIS_CONFIGURATION_PARAMETER_DATA {
            StringData: crate::basic::UNICODE_STRING::from_static(&TEXT).unwrap(),
        };
        assert_eq!(
            p.value(),
            ConfigValue::String {
                length: 6,
                buffer: TEXT.as_ptr() as *mut u16
            }
        );
    }
}
