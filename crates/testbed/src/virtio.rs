//! Just enough virtio-pci knowledge to check the testbed and to diagnose a driver: the
//! vendor capabilities that locate the register blocks (virtio 1.x §4.1.4), common-config
//! offsets (§4.1.4.3), a few feature and status bits. The real driver lives in netkvm-virtio.

use crate::error::{Error, Result};
use crate::machine::Machine;
use crate::pci::CAP_ID_VENDOR;

/// `cfg_type` values of virtio PCI capabilities.
pub mod cap_type {
    /// Common configuration.
    pub const COMMON: u8 = 1;
    /// Notifications.
    pub const NOTIFY: u8 = 2;
    /// ISR status.
    pub const ISR: u8 = 3;
    /// Device-specific configuration.
    pub const DEVICE: u8 = 4;
    /// PCI configuration access window.
    pub const PCI_CFG: u8 = 5;
}

/// Offsets in `virtio_pci_common_cfg`. QEMU accepts only ≤ 4-byte accesses here: 64-bit
/// fields take two 32-bit accesses (low dword first).
pub mod common {
    /// device_feature_select (u32).
    pub const DEVICE_FEATURE_SELECT: u64 = 0x00;
    /// device_feature (u32).
    pub const DEVICE_FEATURE: u64 = 0x04;
    /// driver_feature_select (u32).
    pub const DRIVER_FEATURE_SELECT: u64 = 0x08;
    /// driver_feature (u32).
    pub const DRIVER_FEATURE: u64 = 0x0C;
    /// config_msix_vector (u16).
    pub const MSIX_CONFIG: u64 = 0x10;
    /// num_queues (u16).
    pub const NUM_QUEUES: u64 = 0x12;
    /// device_status (u8).
    pub const DEVICE_STATUS: u64 = 0x14;
    /// config_generation (u8).
    pub const CONFIG_GENERATION: u64 = 0x15;
    /// queue_select (u16).
    pub const QUEUE_SELECT: u64 = 0x16;
    /// queue_size (u16).
    pub const QUEUE_SIZE: u64 = 0x18;
    /// queue_msix_vector (u16).
    pub const QUEUE_MSIX_VECTOR: u64 = 0x1A;
    /// queue_enable (u16).
    pub const QUEUE_ENABLE: u64 = 0x1C;
    /// queue_notify_off (u16).
    pub const QUEUE_NOTIFY_OFF: u64 = 0x1E;
    /// queue_desc (u64).
    pub const QUEUE_DESC: u64 = 0x20;
    /// queue_driver (u64).
    pub const QUEUE_DRIVER: u64 = 0x28;
    /// queue_device (u64).
    pub const QUEUE_DEVICE: u64 = 0x30;
}

/// Device status bits (§2.1).
pub mod status {
    /// ACKNOWLEDGE.
    pub const ACKNOWLEDGE: u8 = 1;
    /// DRIVER.
    pub const DRIVER: u8 = 2;
    /// DRIVER_OK.
    pub const DRIVER_OK: u8 = 4;
    /// FEATURES_OK.
    pub const FEATURES_OK: u8 = 8;
    /// DEVICE_NEEDS_RESET.
    pub const NEEDS_RESET: u8 = 64;
    /// FAILED.
    pub const FAILED: u8 = 128;
}

/// A few feature bit numbers (§5.1.3, §6).
pub mod feature {
    /// VIRTIO_NET_F_MAC.
    pub const MAC: u32 = 5;
    /// VIRTIO_NET_F_STATUS.
    pub const STATUS: u32 = 16;
    /// VIRTIO_F_VERSION_1.
    pub const VERSION_1: u32 = 32;
}

/// `VIRTIO_MSI_NO_VECTOR`.
pub const NO_VECTOR: u16 = 0xFFFF;

/// One virtio vendor capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioCap {
    /// Offset in config space.
    pub cap_offset: u16,
    /// [`cap_type`].
    pub cfg_type: u8,
    /// BAR index.
    pub bar: u8,
    /// Offset within the BAR.
    pub offset: u32,
    /// Length of the region.
    pub length: u32,
    /// For NOTIFY: `notify_off_multiplier`; else 0.
    pub notify_off_multiplier: u32,
}

/// Reads every virtio vendor capability of the machine's function.
pub fn virtio_caps(m: &Machine) -> Result<Vec<VirtioCap>> {
    let mut out = Vec::new();
    for c in m.capabilities()? {
        if c.id != CAP_ID_VENDOR {
            continue;
        }
        let cfg_type = m.pci_read8(c.offset + 3)?;
        let bar = m.pci_read8(c.offset + 4)?;
        let offset = m.pci_read32(c.offset + 8)?;
        let length = m.pci_read32(c.offset + 12)?;
        let notify_off_multiplier = if cfg_type == cap_type::NOTIFY {
            m.pci_read32(c.offset + 16)?
        } else {
            0
        };
        out.push(VirtioCap {
            cap_offset: c.offset,
            cfg_type,
            bar,
            offset,
            length,
            notify_off_multiplier,
        });
    }
    Ok(out)
}

/// Guest-physical addresses of the register blocks (first capability of each type wins,
/// §4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioRegions {
    /// Common configuration.
    pub common: u64,
    /// Notification area base.
    pub notify: u64,
    /// Notify offset multiplier.
    pub notify_off_multiplier: u32,
    /// ISR status byte.
    pub isr: u64,
    /// Device configuration.
    pub device: u64,
}

/// Locates the register blocks through the capabilities and the assigned BARs.
pub fn regions(m: &Machine) -> Result<VirtioRegions> {
    let caps = virtio_caps(m)?;
    let addr = |t: u8| -> Result<(u64, u32)> {
        let c = caps
            .iter()
            .find(|c| c.cfg_type == t)
            .ok_or_else(|| Error::Setup(format!("no virtio capability of type {t}")))?;
        let bar = m.bar(c.bar).ok_or_else(|| {
            Error::Setup(format!("virtio cap type {t} in unassigned BAR{}", c.bar))
        })?;
        Ok((bar.base + u64::from(c.offset), c.notify_off_multiplier))
    };
    let (notify, mult) = addr(cap_type::NOTIFY)?;
    Ok(VirtioRegions {
        common: addr(cap_type::COMMON)?.0,
        notify,
        notify_off_multiplier: mult,
        isr: addr(cap_type::ISR)?.0,
        device: addr(cap_type::DEVICE)?.0,
    })
}

/// Reads the 64 device feature bits through the select/window registers.
pub fn device_features(m: &Machine, r: &VirtioRegions) -> Result<u64> {
    let mut f = 0u64;
    for sel in 0..2u32 {
        m.mmio_write32(r.common + common::DEVICE_FEATURE_SELECT, sel)?;
        f |= u64::from(m.mmio_read32(r.common + common::DEVICE_FEATURE)?) << (32 * sel);
    }
    Ok(f)
}

/// Virtio 1.x §3.1.1 steps 1–6 for diagnostics and smoke tests: reset (waiting for status 0),
/// ACKNOWLEDGE, DRIVER, write `want ∩ offered`, FEATURES_OK and check it stuck. Returns the
/// regions and the negotiated features.
pub fn negotiate(m: &Machine, want: u64) -> Result<(VirtioRegions, u64)> {
    let r = regions(m)?;
    let st = r.common + common::DEVICE_STATUS;
    m.mmio_write8(st, 0)?;
    let t0 = std::time::Instant::now();
    while m.mmio_read8(st)? != 0 {
        if t0.elapsed() > std::time::Duration::from_secs(2) {
            return Err(Error::Timeout("virtio reset did not complete".into()));
        }
    }
    m.mmio_write8(st, status::ACKNOWLEDGE)?;
    m.mmio_write8(st, status::ACKNOWLEDGE | status::DRIVER)?;
    let feats = device_features(m, &r)? & want;
    for sel in 0..2u32 {
        m.mmio_write32(r.common + common::DRIVER_FEATURE_SELECT, sel)?;
        m.mmio_write32(
            r.common + common::DRIVER_FEATURE,
            (feats >> (32 * sel)) as u32,
        )?;
    }
    m.mmio_write8(
        st,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    )?;
    if m.mmio_read8(st)? & status::FEATURES_OK == 0 {
        return Err(Error::Setup(format!("device refused features {feats:#x}")));
    }
    Ok((r, feats))
}

/// Sets DRIVER_OK (after [`negotiate`] and queue setup).
pub fn set_driver_ok(m: &Machine, r: &VirtioRegions) -> Result<()> {
    let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK;
    m.mmio_write8(r.common + common::DEVICE_STATUS, s)?;
    let got = m.mmio_read8(r.common + common::DEVICE_STATUS)?;
    if got != s {
        return Err(Error::Setup(format!(
            "device status {got:#x} after DRIVER_OK"
        )));
    }
    Ok(())
}

/// A minimal transmitq1 for smoke tests and latency measurements: one descriptor holding
/// `[12-byte zero vnet header | frame]`, resubmitted on every [`SmokeTx::send`]; used-buffer
/// notifications go to MSI-X `vector`. Lives at the start of the DMA range. Negotiates only
/// VERSION_1 (no EVENT_IDX: every completion interrupts).
#[derive(Debug)]
pub struct SmokeTx {
    /// Register blocks.
    pub regions: VirtioRegions,
    /// Guest-physical address of the descriptor table, avail ring, used ring and buffer.
    pub desc: u64,
    /// Avail ring.
    pub avail: u64,
    /// Used ring.
    pub used: u64,
    /// Notify address of the queue.
    pub notify: u64,
    /// MSI-X vector of the queue.
    pub vector: u16,
    size: u16,
    next: u16,
}

impl SmokeTx {
    /// Queue entries.
    pub const SIZE: u16 = 16;

    /// Resets the device and sets up transmitq1 carrying `frame` (≤ 4 KiB).
    pub fn setup(m: &Machine, vector: u16, frame: &[u8]) -> Result<SmokeTx> {
        use crate::ram::DMA_BASE;
        if frame.len() > 4096 - 12 {
            return Err(Error::Invalid("smoke frame too long".into()));
        }
        let (r, _) = negotiate(m, 1 << feature::VERSION_1)?;
        let ram = m.ram();
        let size = Self::SIZE;
        let desc = DMA_BASE;
        let avail = desc + 16 * u64::from(size);
        let used = DMA_BASE + 0x1000;
        let buf = DMA_BASE + 0x2000;
        ram.fill(DMA_BASE, 0x3000, 0)?;
        ram.write(buf + 12, frame)?;
        let len = 12 + frame.len() as u32;
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&buf.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        ram.write(desc, &d)?;
        m.mmio_write16(r.common + common::QUEUE_SELECT, 1)?;
        if m.mmio_read16(r.common + common::QUEUE_SIZE)? < size {
            return Err(Error::Setup("transmitq1 smaller than 16".into()));
        }
        m.mmio_write16(r.common + common::QUEUE_SIZE, size)?;
        m.mmio_write64_split(r.common + common::QUEUE_DESC, desc)?;
        m.mmio_write64_split(r.common + common::QUEUE_DRIVER, avail)?;
        m.mmio_write64_split(r.common + common::QUEUE_DEVICE, used)?;
        m.mmio_write16(r.common + common::QUEUE_MSIX_VECTOR, vector)?;
        if m.mmio_read16(r.common + common::QUEUE_MSIX_VECTOR)? != vector {
            return Err(Error::Setup(format!(
                "device refused MSI-X vector {vector}"
            )));
        }
        let noff = m.mmio_read16(r.common + common::QUEUE_NOTIFY_OFF)?;
        m.mmio_write16(r.common + common::QUEUE_ENABLE, 1)?;
        set_driver_ok(m, &r)?;
        Ok(SmokeTx {
            notify: r.notify + u64::from(noff) * u64::from(r.notify_off_multiplier),
            regions: r,
            desc,
            avail,
            used,
            vector,
            size,
            next: 0,
        })
    }

    /// Publishes the descriptor once more (single 16-bit store of avail.idx after the ring
    /// entry, then a full fence) and notifies with a posted write. Returns the new avail index.
    pub fn send(&mut self, m: &Machine) -> Result<u16> {
        use std::sync::atomic::{fence, Ordering};
        let ram = m.ram();
        let slot = self.avail + 4 + 2 * u64::from(self.next % self.size);
        let bad = || Error::Setup("ring outside RAM".into());
        ram.atomic_u16(slot)
            .ok_or_else(bad)?
            .store(0, Ordering::Relaxed);
        self.next = self.next.wrapping_add(1);
        ram.atomic_u16(self.avail + 2)
            .ok_or_else(bad)?
            .store(self.next, Ordering::Release);
        fence(Ordering::SeqCst);
        m.mmio_post16(self.notify, 1)?;
        Ok(self.next)
    }

    /// The device's used.idx.
    pub fn used_idx(&self, m: &Machine) -> u16 {
        m.ram()
            .atomic_u16(self.used + 2)
            .map_or(0, |a| a.load(std::sync::atomic::Ordering::Acquire))
    }
}
