//! A user-mode NDIS for Linux that loads the real netkvmrs miniport.
//!
//! On Linux the miniport crate declares every NDIS.SYS / ntoskrnl.exe / HAL.dll function through
//! ndis-sys's `extern "system"` blocks; this crate *defines* them (`#[no_mangle]`, exactly the
//! ndis-sys signatures — checked at compile time, see `sigcheck`), plus the host symbols of the
//! miniport's platform seam (`READ_/WRITE_REGISTER_*`, `NetkvmHostLog`). A test binary that
//! links the miniport and this crate calls the driver's `DriverEntry` through a [`Harness`]
//! and drives the real NDIS state machine with the real Windows x64 structure layouts.
//!
//! Pieces:
//! * [`ndis::Ndis`] — one emulated kernel: [`ndis::EmuConfig`] (processors, NDIS version,
//!   policies), contract checks ([`checks`]), resource tracking for leak checks ([`track`]),
//!   CPU accounting of the driver ([`accounting`]).
//! * Execution model ([`ctx`], `runtime`): emulated processors with a DPC thread each, a
//!   thread-local IRQL kept by spin locks / DPCs / ISRs, processor gates that make
//!   DISPATCH-level code of one processor exclusive, an interrupt thread per adapter that turns
//!   MSI-X doorbells into ISR calls at DIRQL, timers, work items.
//! * [`bus`] — the device: [`bus::fake::FakeBus`] (netkvm-virtio's fake virtio-net) or
//!   [`bus::qemu::QemuBus`] (a QEMU virtio-net-pci from crates/testbed).
//! * [`registry`] — the adapter's registry as a file, with NDIS's conversion rules.
//! * [`Harness`] — load, initialize, bind, restart, send/receive, OIDs, pause, halt, reset,
//!   PnP, power, unload, with every check on.
//!
//! What a violation is and how it fails a test: [`checks`].

// Exported functions keep the WDK parameter names, so their code reads like the DDI pages.
#![allow(non_snake_case)]

pub mod accounting;
mod adapter;
pub mod bus;
pub mod checks;
pub mod ctx;
mod datapath;
mod dma;
mod driver;
mod handles;
mod harness;
mod interrupt;
mod memory;
mod mmio;
mod nbl;
pub mod ndis;
pub mod oid;
mod protocol;
pub mod registry;
mod runtime;
mod sched;
mod sigcheck;
pub mod track;

pub use accounting::{AccountingSnapshot, Handler, HandlerStats};
pub use adapter::{AdapterState, Attributes, LifecycleError, StatusRecord};
pub use checks::{Kind, Violation, WarningCount, WarningSummary};
pub use datapath::{Completion, DatapathStats, RxNbView, RxNbl, RxView, SendOpts};
pub use harness::{
    DriverEntryFn, Harness, PowerState, Protocol, ReceiveCallback, ReceiveViewCallback,
};
pub use interrupt::Connection;
pub use mmio::is_register_address;
pub use ndis::{EmuConfig, InterruptMode, LogLine, Ndis, ReturnPolicy, SendIrql};
pub use oid::{BindReport, BindStep, Expect, OidKind, OidPath, OidRequest, OidResult, OidTicket};
pub use protocol::{BuildError, NbSpec, NblSpec, ProtoNbl};
pub use registry::{RegValue, Registry};
pub use sched::{in_dpc, QPC_FREQUENCY};
