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
#![no_std]
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
