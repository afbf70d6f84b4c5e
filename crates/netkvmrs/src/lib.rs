//! netkvmrs — the NDIS 6.x miniport for virtio-net devices (the Windows driver `netkvmrs.sys`).
//!
//! Layout:
//! - [`driver`] — `DriverEntry` / Unload: registration with NDIS, NDIS version selection;
//! - `miniport` — the handlers in `NDIS_MINIPORT_DRIVER_CHARACTERISTICS` (skeleton stage: InitializeEx fails
//!   cleanly until virtio bring-up lands);
//! - [`resources`] — validation of the PCI resources NDIS assigns;
//! - [`platform`] — the one place with OS-specific code (logging sink, register access, kernel runtime,
//!   pool allocator), so everything else compiles for Windows and for the Linux host alike.
//!
//! Builds: `cargo xtask package` cross-builds the .sys on Linux (Debian rustc-web + build-std + lld-link-22);
//! on Windows `cargo make` builds with windows-drivers-rs (feature `wdk`). On the host the crate is an rlib
//! the user-mode NDIS (crates/ndis-emu) links; it provides the Ndis*/Ke*/Ex* functions and the seam's host
//! symbols.
#![no_std]

// The host build links std's panic handler and allocator (and the tests use std); the kernel build
// supplies its own in `platform`.
#[cfg(not(target_os = "windows"))]
extern crate std;

extern crate alloc;

pub mod driver;
mod miniport;
pub mod platform;
pub mod resources;

pub use driver::driver_entry;

#[cfg(test)]
mod host_tests;
