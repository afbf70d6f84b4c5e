//! virtio 1.x for the netkvm-rs miniport: the modern PCI transport, split virtqueues and
//! the virtio-net control queue, over a small platform trait ([`Hal`], [`PciConfig`]).
//!
//! Layers, bottom up:
//! * [`hal`] — what the platform provides: BAR register access, DMA memory, barriers, delay;
//! * [`pci`] — device identification, vendor-capability walk, BAR decoding;
//! * [`transport`] — status handshake, features, queue registers, MSI-X, device config;
//! * [`queue`] — the driver side of a split virtqueue (the only code touching ring memory);
//! * [`ctrl`] — control-queue commands and the VLAN filter mirror;
//! * `fake` (feature `test-utils`) — a fake virtio-net PCI function and device for tests.
//!
//! The device is not trusted: every value it writes (used ring, registers, config space,
//! control acks) is checked and a violation is a typed error, never a panic or an
//! out-of-bounds access. Datapath code does not allocate, block or panic.
#![no_std]
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
#[cfg(any(test, feature = "test-utils"))]
extern crate std;

pub mod ctrl;
pub mod error;
pub mod features;
pub mod hal;
pub mod pci;
pub mod queue;
pub mod transport;

#[cfg(any(test, feature = "test-utils"))]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    reason = "test support (feature test-utils): never built into the driver"
)]
pub mod fake;

pub use error::{CtrlError, QueueError, QueueSetupError, TransportError, UsedFault};
pub use features::Features;
pub use hal::{DmaRegion, Hal, PciConfig};
pub use queue::{Buffer, QueueConfig, SplitQueue, Used, Virtqueue};
pub use transport::{NetConfig, PciTransport};
