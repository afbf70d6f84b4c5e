//! The end-to-end bench of netkvm-rs (issue 7 §3–§6), shared by the tests in `tests/*.rs`,
//! `cargo xtask demo` and `cargo xtask bench e2e` (binary `netkvm-e2e`).
//!
//! ```text
//!  ns guest (stand-in for Windows's TCP/IP)          this process                       ns host
//!  iperf3/sockets → guest kernel → TAP ──> standin ──> ndis-emu + netkvmrs ──> QEMU virtio-net ──> TAP → host kernel
//!                                  (vnet hdr)  (NBLs shaped as Windows does)   (virtio rings, qtest, shared RAM)
//! ```
//!
//! * [`pkt`] — independent packet parsing/building and Internet checksums;
//! * [`shape`] — the stand-in's translation and verification rules (pure functions);
//! * [`standin`] — the stand-in's threads around the guest TAP, generic over a [`standin::Port`];
//! * [`ndis_port`] — the port to the real miniport in ndis-emu;
//! * [`passthrough`] — the ceiling: netkvm-virtio rings driven directly, no NDIS;
//! * [`harness`] — [`harness::E2e`]: build, drive, observe and tear down one bench;
//! * [`traffic`] — TCP/UDP/GSO senders and receivers in the namespaces, iperf3, ping;
//! * [`capture`] — AF_PACKET capture on the host TAP with vnet headers;
//! * [`admin`] — what `Get-NetAdapter*` would show, from the driver's OID answers;
//! * [`bench`] — the measurements of `cargo xtask bench e2e` and the demo.

pub mod admin;
pub mod bench;
pub mod capture;
pub mod harness;
pub mod ndis_port;
pub mod passthrough;
pub mod pkt;
pub mod rsc;
pub mod shape;
pub mod standin;
pub mod traffic;

pub use harness::{Backend, E2e, Finish, Opts, GUEST_IP6, HOST_IP6};
