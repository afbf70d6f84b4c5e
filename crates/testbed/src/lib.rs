//! QEMU virtio-net testbed: a real `virtio-net-pci` device driven from a Linux process.
//!
//! What Windows's PnP manager and the hardware give a miniport, this crate gives a user-mode
//! NDIS (`ndis-emu`): PCI configuration space, the assigned BARs (translated resources), MMIO
//! (synchronous reads/writes and posted writes for queue notifies), guest-physical memory for
//! DMA, and MSI-X interrupts delivered to doorbells in that memory. Around it, network
//! namespaces and TAPs so that real Linux stacks talk through the device.
//!
//! How it works (details in each module):
//! * QEMU 10 runs `-machine q35` with a generated halting BIOS ([`bios`]) under KVM or TCG,
//!   controlled through the `-qtest` socket ([`qtest`], pipelined) and QMP ([`qmp`]).
//! * Guest RAM is a memfd shared with QEMU ([`ram`]); guest-physical address == offset.
//! * [`pci`] sizes and assigns the BARs, enables memory decoding and bus mastering, and points
//!   every MSI-X vector at a doorbell slot in guest RAM ([`machine::Machine::wait_interrupt`]).
//! * [`bed::Testbed`] builds the namespaces (host with QEMU's TAP, guest with a TAP this
//!   process reads and writes with vnet headers ([`tap`]), optional peer behind a veth) and
//!   tears everything down on drop, on panic too; [`instance::cleanup_stale`] removes what a
//!   killed process left.
//!
//! Tests that need the testbed start with [`require_testbed!`]: without root, `/dev/net/tun`,
//! `ip netns` or QEMU ≥ 10 they print a skip reason — and fail under `CI`.
//!
//! Linux only; needs root at run time.

#![cfg(target_os = "linux")]

pub mod bed;
pub mod bios;
pub mod error;
pub mod instance;
pub mod machine;
pub mod netns;
pub mod pci;
pub mod probe;
pub mod process;
pub mod qmp;
pub mod qtest;
pub mod ram;
pub mod tap;
pub mod virtio;

pub use bed::{Testbed, TestbedConfig};
pub use error::{Error, Result};
pub use instance::{cleanup_stale, InstanceId, StaleReport};
pub use machine::{Accel, AccelChoice, Machine, MachineConfig};
pub use netns::{IfStats, NetNs};
pub use pci::{Bar, BarKind, Bdf};
pub use probe::{probe, ready_or_skip, Prereqs};
pub use process::{ChildProc, CmdOutput};
pub use qtest::QTest;
pub use tap::{GuestTap, GuestTapConfig, TapFrame, VnetHdr};
