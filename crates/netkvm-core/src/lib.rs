//! Portable packet and offload logic of the netkvm-rs miniport.
//!
//! Everything here is `no_std` + `alloc` and free of `unsafe`: it decides what the driver
//! puts into virtio headers, how it segments and checksums when the host cannot, how it
//! classifies and coalesces received frames, and how the advanced properties are read.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(missing_docs))]
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

extern crate alloc;

pub mod checksum;
pub mod offload;
pub mod params;
pub mod rsc;
pub mod rss;
pub mod rx;
pub mod tx;
pub mod wire;
