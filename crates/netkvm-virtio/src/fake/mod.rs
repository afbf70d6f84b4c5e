//! A fake virtio-net device for tests (feature `test-utils`), after rust-vmm's mock idea:
//! it plays the device side on plain memory.
//!
//! * [`FakeMemory`] — "physical memory": a DMA allocator whose device address is an
//!   offset into one arena (starting at 4 GiB so that zero/garbage addresses are caught);
//! * [`FakeNetDevice`] — a modern virtio-pci function: PCI config space with the vendor
//!   capabilities and an MSI-X capability, the common-cfg / ISR / device-cfg / notify
//!   register file, feature offer, status machine and queue registers. It implements
//!   [`crate::Hal`] and [`crate::PciConfig`], so a [`crate::PciTransport`] runs on it
//!   unchanged;
//! * the net device logic: [`FakeNetDevice::process_tx`] consumes TX chains and returns
//!   frames with headers, [`FakeNetDevice::deliver_rx`] fills posted RX buffers
//!   (mergeable or big buffers), control commands are answered on notify and recorded
//!   ([`FakeNetDevice::ctrl_log`]), interrupts are counted per MSI-X vector (and reported
//!   through [`FakeNetDevice::set_interrupt_callback`]);
//! * misbehaviour on demand ([`Misbehavior`]): refused FEATURES_OK, endless reset,
//!   refused MSI-X vectors, flipping config generation, bad queue sizes, control commands
//!   never completed / rejected / bogus, one-shot used-ring corruption, status overrides;
//! * [`chaos`] — the driver loop fed by arbitrary bytes for every device-written value
//!   (the fuzz target and a deterministic test use it).
//!
//! Used by this crate's tests, fuzz target and bench, and by the miniport's unit tests.

pub mod chaos;
mod device;
mod mem;

pub use device::{
    CapPlacement, CtrlBehavior, CtrlRecord, FakeConfig, FakeError, FakeNetDevice, Misbehavior,
    TxPacket, UsedCorruption, FAKE_BAR, FAKE_BAR_ADDRESS, FAKE_BAR_LEN, FAKE_MSIX_BAR,
    FAKE_MSIX_BAR_ADDRESS,
};
pub use mem::{BadAddress, FakeMemory};
