//! NDIS version numbers (`ndis.h`: `NDIS_RUNTIME_VERSION_*`, `NDIS_MINIPORT_MAJOR/MINOR_VERSION`).
//!
//! Two encodings exist: the characteristics structure carries major and minor as two `UCHAR`s;
//! `NdisGetVersion` returns `(major << 16) | minor` (e.g. 6.30 = `0x0006_001E`), which is what the
//! `NDIS_RUNTIME_VERSION_*` constants encode. Note: this is *not* `0xMMmm`.

use crate::basic::{UCHAR, UINT};

/// An NDIS version as (major, minor), e.g. `NdisVersion { major: 6, minor: 85 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NdisVersion {
    /// Major version (6).
    pub major: UCHAR,
    /// Minor version (30, 80, 83, 85, …).
    pub minor: UCHAR,
}

impl NdisVersion {
    /// NDIS 6.0 (Windows Vista).
    pub const V6_0: Self = Self { major: 6, minor: 0 };
    /// NDIS 6.20 (Windows 7).
    pub const V6_20: Self = Self {
        major: 6,
        minor: 20,
    };
    /// NDIS 6.30 (Windows 8 / Server 2012): RSC.
    pub const V6_30: Self = Self {
        major: 6,
        minor: 30,
    };
    /// NDIS 6.50 (Windows 10 1507).
    pub const V6_50: Self = Self {
        major: 6,
        minor: 50,
    };
    /// NDIS 6.60 (Windows 10 1607 / Server 2016).
    pub const V6_60: Self = Self {
        major: 6,
        minor: 60,
    };
    /// NDIS 6.80 (Windows 10 1809 / Server 2019): synchronous OID interface.
    pub const V6_80: Self = Self {
        major: 6,
        minor: 80,
    };
    /// NDIS 6.82 (Windows 10 1903).
    pub const V6_82: Self = Self {
        major: 6,
        minor: 82,
    };
    /// NDIS 6.83 (Windows 10 2004): USO.
    pub const V6_83: Self = Self {
        major: 6,
        minor: 83,
    };
    /// NDIS 6.84 (Windows Server 2022): `SubMssFinalSegmentSupported`.
    pub const V6_84: Self = Self {
        major: 6,
        minor: 84,
    };
    /// NDIS 6.85 (Windows 11 21H2): `NDIS_OFFLOAD_REVISION_7`, `NDIS_SG_DMA_DESCRIPTION` rev 2.
    pub const V6_85: Self = Self {
        major: 6,
        minor: 85,
    };

    /// The `NdisGetVersion` encoding, `(major << 16) | minor`.
    pub const fn runtime(self) -> UINT {
        ((self.major as UINT) << 16) | self.minor as UINT
    }

    /// Decodes an `NdisGetVersion` value. `None` if either half does not fit a `UCHAR`.
    pub const fn from_runtime(v: UINT) -> Option<Self> {
        let major = v >> 16;
        let minor = v & 0xFFFF;
        if major > 0xFF || minor > 0xFF {
            return None;
        }
        Some(Self {
            major: major as UCHAR,
            minor: minor as UCHAR,
        })
    }
}

/// `NDIS_RUNTIME_VERSION_60`.
pub const NDIS_RUNTIME_VERSION_60: UINT = 6 << 16;
/// `NDIS_RUNTIME_VERSION_620`.
pub const NDIS_RUNTIME_VERSION_620: UINT = (6 << 16) | 20;
/// `NDIS_RUNTIME_VERSION_630`.
pub const NDIS_RUNTIME_VERSION_630: UINT = (6 << 16) | 30;
/// `NDIS_RUNTIME_VERSION_650`.
pub const NDIS_RUNTIME_VERSION_650: UINT = (6 << 16) | 50;
/// `NDIS_RUNTIME_VERSION_660`.
pub const NDIS_RUNTIME_VERSION_660: UINT = (6 << 16) | 60;
/// `NDIS_RUNTIME_VERSION_670`.
pub const NDIS_RUNTIME_VERSION_670: UINT = (6 << 16) | 70;
/// `NDIS_RUNTIME_VERSION_680`.
pub const NDIS_RUNTIME_VERSION_680: UINT = (6 << 16) | 80;
/// `NDIS_RUNTIME_VERSION_681`.
pub const NDIS_RUNTIME_VERSION_681: UINT = (6 << 16) | 81;
/// `NDIS_RUNTIME_VERSION_682`.
pub const NDIS_RUNTIME_VERSION_682: UINT = (6 << 16) | 82;
/// `NDIS_RUNTIME_VERSION_683`.
pub const NDIS_RUNTIME_VERSION_683: UINT = (6 << 16) | 83;
/// `NDIS_RUNTIME_VERSION_684`.
pub const NDIS_RUNTIME_VERSION_684: UINT = (6 << 16) | 84;
/// `NDIS_RUNTIME_VERSION_685`.
pub const NDIS_RUNTIME_VERSION_685: UINT = (6 << 16) | 85;
/// `NDIS_RUNTIME_VERSION_686`.
pub const NDIS_RUNTIME_VERSION_686: UINT = (6 << 16) | 86;
/// `NDIS_RUNTIME_VERSION_687`.
pub const NDIS_RUNTIME_VERSION_687: UINT = (6 << 16) | 87;

/// The NDIS version these bindings describe (structure sizes that depend on the compile-time
/// NDIS version, e.g. `NDIS_SG_DMA_DESCRIPTION`, follow 6.85).
pub const NDIS_BINDINGS_VERSION: NdisVersion = NdisVersion::V6_85;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_encoding_is_major_shl_16_or_minor() {
        assert_eq!(NdisVersion::V6_30.runtime(), 0x0006_001E);
        assert_eq!(NdisVersion::V6_85.runtime(), 0x0006_0055);
        assert_eq!(NdisVersion::V6_83.runtime(), NDIS_RUNTIME_VERSION_683);
        assert_eq!(
            NdisVersion::from_runtime(NDIS_RUNTIME_VERSION_680),
            Some(NdisVersion::V6_80)
        );
        assert_eq!(NdisVersion::from_runtime(0x0106_0000), None);
        assert_eq!(NdisVersion::from_runtime(0x0006_0100), None);
    }

    #[test]
    fn versions_order_numerically() {
        assert!(NdisVersion::V6_30 < NdisVersion::V6_83);
        assert!(NdisVersion::V6_83 < NdisVersion::V6_85);
        assert!(NdisVersion { major: 7, minor: 0 } > NdisVersion::V6_85);
    }
}
