//! netkvmrs — the NDIS 6.x miniport for virtio-net devices (the Windows driver `netkvmrs.sys`).
//!
//! Layout:
//! - [`driver`] — `DriverEntry` / Unload: registration with NDIS, NDIS version selection;
//! - `miniport` — the `extern "system"` handlers of `NDIS_MINIPORT_DRIVER_CHARACTERISTICS`, thin
//!   trampolines into [`adapter`];
//! - [`adapter`] — the adapter context, its state machine, InitializeEx/Halt/Pause/Restart/Reset/PnP/power,
//!   the virtio device bring-up and the control worker;
//! - [`oid`] — the table-driven OID layer (host-testable without NDIS);
//! - [`datapath`] — the seam to the per-queue TX/RX code (issue 6);
//! - [`attributes`], [`offload_ndis`], [`config`], [`announce`], [`interrupt`], [`resources`];
//! - [`device`] — the netkvm-virtio platform implementation (BARs, DMA, PCI config through NDIS);
//! - [`sync`] — spin lock and PASSIVE-level lock wrappers;
//! - [`platform`] — the one place with OS-specific code (logging sink, register access, kernel runtime,
//!   pool allocator), so everything else compiles for Windows and for the Linux host alike.
//!
//! Builds: `cargo xtask package` cross-builds the .sys on Linux (Debian rustc-web + build-std + lld-link-22);
//! on Windows `cargo make` builds with windows-drivers-rs (feature `wdk`). On the host the crate is an rlib
//! the user-mode NDIS (crates/ndis-emu) links; it provides the Ndis*/Ke*/Ex* functions and the seam's host
//! symbols.
#![no_std]
// The driver image must not panic or index out of bounds (project standard); tests may.
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

// The host build links std's panic handler and allocator (and the tests use std); the kernel build
// supplies its own in `platform`.
#[cfg(not(target_os = "windows"))]
extern crate std;

extern crate alloc;

pub mod adapter;
pub mod announce;
pub mod attributes;
pub mod config;
pub mod datapath;
pub mod device;
pub mod driver;
pub mod interrupt;
mod miniport;
pub mod offload_ndis;
pub mod oid;
pub mod platform;
pub mod resources;
pub mod sync;

pub use driver::driver_entry;

#[cfg(test)]
mod test_link;
