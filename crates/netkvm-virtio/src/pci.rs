//! PCI side of the modern virtio transport (virtio 1.x §4.1.4): identification, the
//! vendor-capability walk, and BAR decoding for matching BARs to the miniport's mapped
//! resources.

use crate::error::TransportError;
use crate::hal::{BarIndex, Hal, PciConfig};

/// Red Hat / virtio PCI vendor id.
pub const VIRTIO_VENDOR_ID: u16 = 0x1AF4;
/// Modern (virtio 1.x only) network device id: 0x1040 + device type 1.
pub const VIRTIO_NET_MODERN_DEVICE_ID: u16 = 0x1041;
/// Transitional network device id (subsystem device id 1).
pub const VIRTIO_NET_TRANSITIONAL_DEVICE_ID: u16 = 0x1000;

const PCI_VENDOR_ID: u16 = 0x00;
const PCI_DEVICE_ID: u16 = 0x02;
const PCI_STATUS: u16 = 0x06;
const PCI_STATUS_CAP_LIST: u16 = 1 << 4;
const PCI_CAP_PTR: u16 = 0x34;
const PCI_BAR0: u16 = 0x10;
const PCI_SUBSYSTEM_ID: u16 = 0x2E;
const PCI_CAP_ID_VNDR: u8 = 0x09;
/// Standard config space is 256 bytes; capabilities live above the 64-byte header, each
/// at least 4 bytes: at most 48 of them.
const MAX_CAPS: usize = 48;

/// The virtio structure a vendor capability describes (`cfg_type`, §4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapKind {
    /// `VIRTIO_PCI_CAP_COMMON_CFG` (1).
    Common,
    /// `VIRTIO_PCI_CAP_NOTIFY_CFG` (2).
    Notify,
    /// `VIRTIO_PCI_CAP_ISR_CFG` (3).
    Isr,
    /// `VIRTIO_PCI_CAP_DEVICE_CFG` (4).
    Device,
}

/// A validated structure location: `bar`, `offset`, `len`, with `offset + len` inside the
/// BAR's mapped length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// BAR holding the structure.
    pub bar: BarIndex,
    /// Offset of the structure inside the BAR.
    pub offset: u64,
    /// Length of the structure.
    pub len: u64,
}

/// The four virtio structures found by [`find_capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioCaps {
    /// Common configuration.
    pub common: Region,
    /// Notification area.
    pub notify: Region,
    /// `notify_off_multiplier` (0 or an even power of two).
    pub notify_off_multiplier: u32,
    /// ISR status byte.
    pub isr: Region,
    /// Device-specific configuration, if present.
    pub device: Option<Region>,
}

/// Minimum common-config length: everything up to `queue_device` (0x30 + 8).
pub const COMMON_CFG_MIN_LEN: u64 = 0x38;

/// Checks vendor and device id: modern virtio-net (0x1041) or transitional 0x1000 with
/// subsystem id 1 (network).
pub fn check_device_id(cfg: &impl PciConfig) -> Result<(), TransportError> {
    let vendor = cfg.read16(PCI_VENDOR_ID);
    let device = cfg.read16(PCI_DEVICE_ID);
    if vendor == 0xFFFF {
        return Err(TransportError::DeviceGone);
    }
    let ok = vendor == VIRTIO_VENDOR_ID
        && (device == VIRTIO_NET_MODERN_DEVICE_ID
            || (device == VIRTIO_NET_TRANSITIONAL_DEVICE_ID && cfg.read16(PCI_SUBSYSTEM_ID) == 1));
    if ok {
        Ok(())
    } else {
        Err(TransportError::NotVirtioNet { vendor, device })
    }
}

struct RawCap {
    bar: u8,
    offset: u32,
    length: u32,
    cap_pos: u16,
    cap_len: u8,
}

/// Walks the capability list and returns the first vendor capability of each virtio
/// type whose BAR index is valid (0..=5; other values are reserved and skipped, §4.1.4).
/// Each found structure is validated against the mapped BAR length ([`Hal::bar_len`]);
/// a capability pointing outside its BAR, at an unmapped BAR, too short or misaligned
/// is a typed error (the device is not trusted).
pub fn find_capabilities(
    cfg: &impl PciConfig,
    hal: &impl Hal,
) -> Result<VirtioCaps, TransportError> {
    if cfg.read16(PCI_STATUS) & PCI_STATUS_CAP_LIST == 0 {
        return Err(TransportError::NoCapabilityList);
    }
    let mut found: [Option<RawCap>; 4] = [None, None, None, None];
    let mut pos = u16::from(cfg.read8(PCI_CAP_PTR) & 0xFC);
    let mut walked = 0usize;
    while pos != 0 {
        if walked >= MAX_CAPS || pos < 0x40 {
            return Err(TransportError::CapabilityLoop);
        }
        walked += 1;
        let id = cfg.read8(pos);
        let next = u16::from(cfg.read8(pos + 1) & 0xFC);
        if id == PCI_CAP_ID_VNDR {
            let cap_len = cfg.read8(pos + 2);
            let cfg_type = cfg.read8(pos + 3);
            let bar = cfg.read8(pos + 4);
            let slot = match cfg_type {
                1 => Some(0),
                2 => Some(1),
                3 => Some(2),
                4 => Some(3),
                _ => None,
            };
            if let Some(entry) = slot.and_then(|s| found.get_mut(s)) {
                // cap_len must cover the 16-byte virtio_pci_cap; bars 6+ are reserved.
                if bar <= 5 && cap_len >= 16 && entry.is_none() {
                    *entry = Some(RawCap {
                        bar,
                        offset: cfg.read32(pos + 8),
                        length: cfg.read32(pos + 12),
                        cap_pos: pos,
                        cap_len,
                    });
                }
            }
        }
        pos = next;
    }
    let [common, notify, isr, device] = found;
    let common = validate(hal, CapKind::Common, common, COMMON_CFG_MIN_LEN, 4)?;
    let notify_raw = notify.ok_or(TransportError::MissingCapability(CapKind::Notify))?;
    let notify_off_multiplier = if notify_raw.cap_len >= 20 {
        cfg.read32(notify_raw.cap_pos + 16)
    } else {
        return Err(TransportError::CapabilityInvalid {
            kind: CapKind::Notify,
            offset: notify_raw.offset,
            length: notify_raw.length,
        });
    };
    // §4.1.4.4: "an even power of 2, or 0".
    if notify_off_multiplier != 0
        && (!notify_off_multiplier.is_power_of_two() || notify_off_multiplier == 1)
    {
        return Err(TransportError::CapabilityInvalid {
            kind: CapKind::Notify,
            offset: notify_raw.offset,
            length: notify_raw.length,
        });
    }
    let notify = validate(hal, CapKind::Notify, Some(notify_raw), 2, 2)?;
    let isr = validate(hal, CapKind::Isr, isr, 1, 1)?;
    let device = match device {
        Some(d) => Some(validate(hal, CapKind::Device, Some(d), 0, 4)?),
        None => None,
    };
    Ok(VirtioCaps {
        common,
        notify,
        notify_off_multiplier,
        isr,
        device,
    })
}

fn validate(
    hal: &impl Hal,
    kind: CapKind,
    raw: Option<RawCap>,
    min_len: u64,
    align: u32,
) -> Result<Region, TransportError> {
    let raw = raw.ok_or(TransportError::MissingCapability(kind))?;
    let bar_len = hal
        .bar_len(raw.bar)
        .ok_or(TransportError::CapabilityBarUnmapped { kind, bar: raw.bar })?;
    let end = u64::from(raw.offset) + u64::from(raw.length);
    if end > bar_len {
        return Err(TransportError::CapabilityOutsideBar {
            kind,
            bar: raw.bar,
            offset: raw.offset,
            length: raw.length,
            bar_len,
        });
    }
    if u64::from(raw.length) < min_len || raw.offset % align != 0 {
        return Err(TransportError::CapabilityInvalid {
            kind,
            offset: raw.offset,
            length: raw.length,
        });
    }
    Ok(Region {
        bar: raw.bar,
        offset: u64::from(raw.offset),
        len: u64::from(raw.length),
    })
}

/// Kind of a decoded BAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// 32-bit memory BAR.
    Mem32,
    /// 64-bit memory BAR (consumes the next BAR register too).
    Mem64,
    /// I/O port BAR.
    Io,
}

/// A BAR's programmed address as read from configuration space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarInfo {
    /// Base address (bus address; what the translated resource list reports as start for
    /// memory BARs on x64).
    pub address: u64,
    /// Memory or I/O, 32 or 64 bit.
    pub kind: BarKind,
    /// Prefetchable memory.
    pub prefetchable: bool,
}

/// Reads the six BAR registers (without sizing them: sizing writes config space; the
/// miniport gets sizes from its resource list). `None` for unprogrammed (0) BARs and for
/// the upper half of a 64-bit BAR.
///
/// The miniport matches each memory resource's start address against these addresses to
/// build the `bar index → mapped region` table that its [`Hal::bar_len`] and accessors use.
pub fn read_bars(cfg: &impl PciConfig) -> [Option<BarInfo>; 6] {
    let mut out = [None; 6];
    let mut i = 0usize;
    while i < 6 {
        let reg = PCI_BAR0 + 4 * i as u16;
        let lo = cfg.read32(reg);
        // The BAR and how many registers it takes.
        let (bar, width) = if lo & 1 == 1 {
            let bar = BarInfo {
                address: u64::from(lo & !0x3),
                kind: BarKind::Io,
                prefetchable: false,
            };
            (bar, 1)
        } else {
            let prefetchable = lo & 0x8 != 0;
            let is64 = (lo >> 1) & 3 == 2;
            if is64 && i < 5 {
                let hi = cfg.read32(reg + 4);
                let bar = BarInfo {
                    address: u64::from(lo & !0xF) | (u64::from(hi) << 32),
                    kind: BarKind::Mem64,
                    prefetchable,
                };
                (bar, 2)
            } else {
                let bar = BarInfo {
                    address: u64::from(lo & !0xF),
                    kind: BarKind::Mem32,
                    prefetchable,
                };
                (bar, 1)
            }
        };
        if let Some(o) = out.get_mut(i).filter(|_| bar.address != 0) {
            *o = Some(bar);
        }
        i += width;
    }
    out
}

/// Finds the memory BAR whose programmed address equals `start` (a translated memory
/// resource's start from `NdisMQueryAdapterResources`).
pub fn bar_for_address(bars: &[Option<BarInfo>; 6], start: u64) -> Option<BarIndex> {
    bars.iter().enumerate().find_map(|(i, b)| match b {
        Some(b) if b.kind != BarKind::Io && b.address == start => Some(i as BarIndex),
        _ => None,
    })
}
