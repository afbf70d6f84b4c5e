//! Hand-written NDIS 6.30–6.85 / WDM declarations for the netkvm-rs miniport.
//!
//! `wdk-sys` has no NDIS bindings, so the miniport (`netkvmrs`) and the user-mode NDIS emulator
//! (`ndis-emu`) share these. Every structure is `#[repr(C)]` with the x64 layout of the WDK
//! headers (`ndis.h`, `ntddndis.h`, `ndis/*.h`, `wdm.h`), checked at compile time by size and
//! offset assertions on 64-bit targets. WDK macros and inline functions (NBL accessors, per-NBL
//! info unions, `NdisAcquireSpinLock`, …) are provided as small safe helpers or `unsafe fn`s.
//!
//! Functions are declared in [`ffi`]: on Windows they are `raw-dylib` imports of `NDIS.SYS`,
//! `ntoskrnl.exe` and `HAL.dll`; on other targets they are plain extern symbols that `ndis-emu`
//! defines with the same names and signatures.
//!
//! Conventions:
//! * C names are kept (`NET_BUFFER_LIST`, `Header.Size`, `NdisMRegisterMiniportDriver`).
//! * C enums are `i32` type aliases with constants (a Rust `enum` would be UB for values NDIS
//!   adds later); `BOOLEAN` is `u8`; `LARGE_INTEGER` / `PHYSICAL_ADDRESS` are `i64`.
//! * Bit-fields are kept as their storage word with getter/setter pairs (setters truncate like a
//!   C bit-field store). Per-NBL info unions are `usize` wrappers in [`nblinfo`].
//! * `Header.Size` must be the `NDIS_SIZEOF_*_REVISION_n` constant, which is smaller than
//!   `size_of` when the structure has tail padding.
//! * Structures whose size depends on the NDIS version compiled for are declared for NDIS 6.85
//!   (e.g. `NDIS_SG_DMA_DESCRIPTION` is 48 bytes); register older revisions with their smaller
//!   `Header.Size`.
//! * Sources: the WDK headers as published in microsoft/xdp-for-windows
//!   (`published/wdkdeps`, commit 20d5106e), `wdm.h`/`ntstatus.h` values for the few types not
//!   in them; many x64 layouts were also cross-checked against PDB-derived structure dumps
//!   (NET_BUFFER, NET_BUFFER_LIST header part, NDIS_OID_REQUEST, characteristics, general
//!   attributes, interrupt characteristics, status indication, NDIS_OFFLOAD, SG DMA
//!   description rev 1, RSS parameters, init parameters, NET_PNP_EVENT(_NOTIFICATION),
//!   IO_INTERRUPT_MESSAGE_INFO_ENTRY, CM_PARTIAL_RESOURCE_DESCRIPTOR).
#![no_std]
// Code that ends up in the driver image never panics (unit tests may).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]
// The crate mirrors the WDK's C names (NET_BUFFER_LIST, NdisMRegisterMiniportDriver, Header.Size)
// so that code reads like the DDI documentation and grepping for a DDI name finds its binding.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

/// Compile-time layout check (x64 / 64-bit targets only): size and field offsets.
macro_rules! assert_layout {
    ($t:ty, size = $s:expr $(, $($f:ident).+ = $o:expr)* $(,)?) => {
        #[cfg(target_pointer_width = "64")]
        const _: () = {
            assert!(::core::mem::size_of::<$t>() == $s);
            $( assert!(::core::mem::offset_of!($t, $($f).+) == $o); )*
        };
    };
}

/// Getter/setter pairs for C bit-fields packed into one `u32` word (MSVC allocates bit-fields from
/// the least significant bit). Setters discard bits above the field width, as a C bit-field
/// assignment does.
macro_rules! bitfields {
    ($word:ident { $( $(#[$m:meta])* $get:ident, $set:ident : $lo:expr, $width:expr; )* }) => {
        $(
            $(#[$m])*
            #[inline]
            pub const fn $get(&self) -> u32 {
                (self.$word >> $lo) & ((1u32 << $width) - 1)
            }
            #[doc = concat!("Sets the field read by [`Self::", stringify!($get), "`] (", stringify!($width), " bits at bit ", stringify!($lo), ").")]
            #[inline]
            pub fn $set(&mut self, v: u32) {
                let mask = ((1u32 << $width) - 1) << $lo;
                self.$word = (self.$word & !mask) | ((v << $lo) & mask);
            }
        )*
    };
}

pub mod attributes;
pub mod basic;
pub mod config;
pub mod dma;
pub mod ffi;
pub mod general;
pub mod miniport;
pub mod nbl;
pub mod nblinfo;
pub mod object;
pub mod offload;
pub mod oid;
pub mod resources;
pub mod rss;
pub mod status;
pub mod version;

pub use attributes::*;
pub use basic::*;
pub use config::*;
pub use dma::*;
pub use ffi::*;
pub use general::*;
pub use miniport::*;
pub use nbl::*;
pub use nblinfo::*;
pub use object::*;
pub use offload::*;
pub use oid::*;
pub use resources::*;
pub use rss::*;
pub use status::*;
pub use version::*;

#[cfg(all(test, target_pointer_width = "64"))]
mod revision_size_tests {
    //! The tail-padding table of ndis-offload-rules.md ("Notes for writing the bindings", 1):
    //! `Header.Size` (NDIS_SIZEOF) is smaller than `size_of` for these structures.
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn revision_sizes_differ_from_size_of_where_the_spec_says() {
        let table: [(&str, usize, usize); 7] = [
            (
                "NDIS_OFFLOAD_PARAMETERS rev5",
                NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5.into(),
                size_of::<NDIS_OFFLOAD_PARAMETERS>(),
            ),
            (
                "NDIS_RECEIVE_SCALE_CAPABILITIES rev2",
                NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2.into(),
                size_of::<NDIS_RECEIVE_SCALE_CAPABILITIES>(),
            ),
            (
                "NDIS_OFFLOAD rev4",
                NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4.into(),
                offset_of!(NDIS_OFFLOAD, Rfc6877Xlat),
            ),
            (
                "NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES",
                NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1.into(),
                size_of::<NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES>(),
            ),
            (
                "NDIS_CONFIGURATION_OBJECT",
                NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1.into(),
                size_of::<NDIS_CONFIGURATION_OBJECT>(),
            ),
            (
                "NDIS_MINIPORT_RESTART_PARAMETERS",
                NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1.into(),
                size_of::<NDIS_MINIPORT_RESTART_PARAMETERS>(),
            ),
            // Pre-6.85 sizeof = where PdoOverride starts.
            (
                "NDIS_SG_DMA_DESCRIPTION rev1",
                NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1.into(),
                offset_of!(NDIS_SG_DMA_DESCRIPTION, PdoOverride),
            ),
        ];
        // Expected values written out from the spec table, not computed from the code.
        let expected: [(usize, usize); 7] = [
            (34, 36),
            (18, 20),
            (177, 180),
            (28, 32),
            (20, 24),
            (20, 24),
            (36, 40),
        ];
        for ((name, rev, sz), (er, es)) in table.iter().zip(expected) {
            assert_eq!((*rev, *sz), (er, es), "{name}");
        }
        // 6.85 grows the SG DMA description to 48.
        assert_eq!(size_of::<NDIS_SG_DMA_DESCRIPTION>(), 48);
        assert_eq!(NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_2, 48);
    }

    #[test]
    fn offload_offsets_and_sizes_from_the_spec() {
        // §5.1 table, §1.1 (Rsc at 144), §2.1 (UdpSegmentation at 188), rev-6 size 216.
        assert_eq!(offset_of!(NDIS_OFFLOAD, Checksum), 4);
        assert_eq!(offset_of!(NDIS_OFFLOAD, LsoV1), 36);
        assert_eq!(offset_of!(NDIS_OFFLOAD, LsoV2), 80);
        assert_eq!(offset_of!(NDIS_OFFLOAD, Rsc), 144);
        assert_eq!(offset_of!(NDIS_OFFLOAD, UdpSegmentation), 188);
        assert_eq!(size_of::<NDIS_OFFLOAD>(), 216);
        let revs = [
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7,
        ];
        assert_eq!(revs, [112, 144, 156, 177, 188, 216, 216]);
        // §5.2 parameter offsets and revision sizes.
        assert_eq!(offset_of!(NDIS_OFFLOAD_PARAMETERS, Flags), 16);
        assert_eq!(offset_of!(NDIS_OFFLOAD_PARAMETERS, RscIPv4), 22);
        assert_eq!(
            offset_of!(NDIS_OFFLOAD_PARAMETERS, EncapsulationProtocolParameters),
            28
        );
        assert_eq!(offset_of!(NDIS_OFFLOAD_PARAMETERS, UdpSegmentationIPv4), 32);
        let prevs = [
            NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2,
            NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3,
            NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_4,
            NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5,
        ];
        assert_eq!(prevs, [20, 22, 26, 32, 34]);
        // Notes 3: RSC statistics, 4 bytes of padding after Header.
        assert_eq!(offset_of!(NDIS_RSC_STATISTICS_INFO, CoalescedPkts), 8);
        assert_eq!(size_of::<NDIS_RSC_STATISTICS_INFO>(), 40);
        // RSS capability revisions 1/2/3 = 16/18/18 (§6.1).
        assert_eq!(
            [
                NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_1,
                NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
                NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_3
            ],
            [16, 18, 18]
        );
        // The recipe's emulator expects characteristics revision 2 = 152 bytes.
        assert_eq!(NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2, 152);
        assert_eq!(size_of::<NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD>(), 2);
        assert_eq!(size_of::<NDIS_UDP_SEGMENTATION_OFFLOAD>(), 28);
    }
}
