//! PCI bring-up as firmware and the PnP manager would do it, over qtest.
//!
//! Configuration space is reached with configuration mechanism #1 (`0xCF8` address, `0xCFC`
//! data; PCI Local Bus 3.0 §3.2.2.3.2). q35's ECAM stays disabled until firmware programs the
//! MCH PCIEXBAR, which nobody does here. Each access is an adjacent `outl 0xcf8` + data-port
//! pair sent in one qtest pipeline, so concurrent callers cannot interleave between them.
//!
//! Nothing ran before us (halting BIOS): every BAR is unassigned, decoding is off. We size
//! and place the BARs, enable memory decoding and bus mastering, and program MSI-X
//! (PCI Local Bus 3.0 §6.8.2) so every vector writes to a doorbell slot in guest RAM.

use crate::error::{Error, Result};
use crate::qtest::QTest;

/// CONFIG_ADDRESS port.
pub const CONFIG_ADDRESS: u16 = 0xCF8;
/// CONFIG_DATA port.
pub const CONFIG_DATA: u16 = 0xCFC;
/// Where memory BARs are placed: the 32-bit hole libqos uses on pc/q35.
pub const MMIO_BASE: u64 = 0xE000_0000;
/// End (exclusive) of the window for memory BARs (below the IOAPIC/LAPIC area).
pub const MMIO_END: u64 = 0xFE00_0000;
/// Where I/O BARs are placed.
pub const IO_BASE: u32 = 0xC000;

/// Standard config register offsets.
pub mod reg {
    /// Vendor ID (u16).
    pub const VENDOR_ID: u16 = 0x00;
    /// Device ID (u16).
    pub const DEVICE_ID: u16 = 0x02;
    /// Command (u16).
    pub const COMMAND: u16 = 0x04;
    /// Status (u16).
    pub const STATUS: u16 = 0x06;
    /// Revision ID (u8).
    pub const REVISION: u16 = 0x08;
    /// Header type (u8); bit 7 = multi-function.
    pub const HEADER_TYPE: u16 = 0x0E;
    /// BAR0 (u32); BARn at `BAR0 + 4n`.
    pub const BAR0: u16 = 0x10;
    /// Subsystem vendor ID (u16).
    pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2C;
    /// Subsystem ID (u16).
    pub const SUBSYSTEM_ID: u16 = 0x2E;
    /// Capabilities pointer (u8).
    pub const CAP_PTR: u16 = 0x34;
}

/// COMMAND register bits.
pub mod cmd {
    /// I/O space decoding.
    pub const IO: u16 = 0x1;
    /// Memory space decoding.
    pub const MEM: u16 = 0x2;
    /// Bus master: without it the device's DMA (and MSI writes) silently go nowhere.
    pub const BUS_MASTER: u16 = 0x4;
    /// INTx disable.
    pub const INTX_DISABLE: u16 = 0x400;
}

/// STATUS bit: capability list present.
pub const STATUS_CAP_LIST: u16 = 0x10;
/// Capability ID of MSI-X.
pub const CAP_ID_MSIX: u8 = 0x11;
/// Capability ID of vendor-specific capabilities (virtio uses them).
pub const CAP_ID_VENDOR: u8 = 0x09;

/// Bus/device/function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bdf {
    /// Bus.
    pub bus: u8,
    /// Device (slot) 0..32.
    pub dev: u8,
    /// Function 0..8.
    pub func: u8,
}

impl Bdf {
    /// The CONFIG_ADDRESS value for register `off` (dword aligned, enable bit set).
    pub fn config_address(&self, off: u16) -> u32 {
        0x8000_0000
            | u32::from(self.bus) << 16
            | u32::from(self.dev & 0x1F) << 11
            | u32::from(self.func & 0x7) << 8
            | u32::from(off & 0xFC)
    }
}

impl std::fmt::Display for Bdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.dev, self.func)
    }
}

fn check_off(off: u16, width: u16) -> Result<()> {
    if off > 0xFF || !off.is_multiple_of(width) || off + width > 0x100 {
        return Err(Error::Invalid(format!(
            "config offset {off:#x} width {width} (mechanism #1 reaches 256 bytes, aligned)"
        )));
    }
    Ok(())
}

/// Reads `width` (1, 2, 4) bytes of config space at `off`.
pub fn config_read(qt: &QTest, bdf: Bdf, off: u16, width: u16) -> Result<u32> {
    check_off(off, width)?;
    let sel = format!("outl {CONFIG_ADDRESS:#x} {:#x}", bdf.config_address(off));
    let port = CONFIG_DATA + (off & 3);
    let rd = match width {
        1 => format!("inb {port:#x}"),
        2 => format!("inw {port:#x}"),
        _ => format!("inl {port:#x}"),
    };
    let v = qt.pipeline_ok(&[&sel, &rd])?;
    v.get(1)
        .copied()
        .flatten()
        .map(|x| x as u32)
        .ok_or_else(|| Error::QtestFail {
            command: rd,
            reply: "OK without a value".into(),
        })
}

/// Writes `width` (1, 2, 4) bytes of config space at `off`.
pub fn config_write(qt: &QTest, bdf: Bdf, off: u16, width: u16, value: u32) -> Result<()> {
    check_off(off, width)?;
    let sel = format!("outl {CONFIG_ADDRESS:#x} {:#x}", bdf.config_address(off));
    let port = CONFIG_DATA + (off & 3);
    let wr = match width {
        1 => format!("outb {port:#x} {:#x}", value & 0xFF),
        2 => format!("outw {port:#x} {:#x}", value & 0xFFFF),
        _ => format!("outl {port:#x} {value:#x}"),
    };
    qt.pipeline_ok(&[&sel, &wr]).map(|_| ())
}

/// A present function on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Location.
    pub bdf: Bdf,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
}

/// Enumerates every function on `bus` (slots 0..32, functions 1..8 only on multi-function
/// devices).
pub fn enumerate(qt: &QTest, bus: u8) -> Result<Vec<Function>> {
    let mut out = Vec::new();
    for dev in 0..32u8 {
        for func in 0..8u8 {
            let bdf = Bdf { bus, dev, func };
            let id = config_read(qt, bdf, reg::VENDOR_ID, 4)?;
            if id & 0xFFFF == 0xFFFF {
                if func == 0 {
                    break;
                }
                continue;
            }
            out.push(Function {
                bdf,
                vendor: (id & 0xFFFF) as u16,
                device: (id >> 16) as u16,
            });
            if func == 0 && config_read(qt, bdf, reg::HEADER_TYPE, 1)? & 0x80 == 0 {
                break;
            }
        }
    }
    Ok(out)
}

/// What kind of BAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// 32-bit memory BAR.
    Mem32,
    /// 64-bit memory BAR (occupies this and the next BAR register).
    Mem64,
    /// I/O port BAR.
    Io,
}

/// An assigned BAR: the "translated resource" a miniport receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// BAR index 0..6 (a 64-bit BAR uses `index` and `index + 1`).
    pub index: u8,
    /// Memory (32/64-bit) or I/O.
    pub kind: BarKind,
    /// Prefetchable memory.
    pub prefetchable: bool,
    /// Assigned guest-physical (or port) base.
    pub base: u64,
    /// Length in bytes (a power of two).
    pub len: u64,
}

impl Bar {
    /// True for memory BARs.
    pub fn is_memory(&self) -> bool {
        self.kind != BarKind::Io
    }
    /// True when `addr .. addr + width` lies inside this BAR.
    pub fn contains(&self, addr: u64, width: u64) -> bool {
        addr >= self.base
            && addr
                .checked_add(width)
                .is_some_and(|e| e <= self.base + self.len)
    }
}

/// Size of a memory BAR from the value read back after writing all ones (`probe` holds both
/// dwords for a 64-bit BAR). None for an unimplemented BAR.
pub fn mem_bar_size(probe: u64, is64: bool) -> Option<u64> {
    let mask = if is64 {
        probe & !0xF
    } else {
        (probe & 0xFFFF_FFF0) | 0xFFFF_FFFF_0000_0000
    };
    if mask == 0 || (!is64 && probe & 0xFFFF_FFF0 == 0) {
        return None;
    }
    Some((!mask).wrapping_add(1))
}

/// Size of an I/O BAR from its all-ones readback (upper 16 bits may read as zero).
pub fn io_bar_size(probe: u32) -> Option<u32> {
    let mask = (probe & 0xFFFF_FFFC) | 0xFFFF_0000;
    if probe & 0xFFFC == 0 {
        return None;
    }
    Some((!mask).wrapping_add(1))
}

/// Sizes every BAR (save, write all ones, read back, restore — with decoding off) and places
/// them naturally aligned from [`MMIO_BASE`] / [`IO_BASE`]. Returns the assigned BARs.
pub fn assign_bars(qt: &QTest, bdf: Bdf) -> Result<Vec<Bar>> {
    let command = config_read(qt, bdf, reg::COMMAND, 2)? as u16;
    config_write(
        qt,
        bdf,
        reg::COMMAND,
        2,
        u32::from(command & !(cmd::MEM | cmd::IO)),
    )?;
    let mut bars = Vec::new();
    let mut mmio = MMIO_BASE;
    let mut io = IO_BASE;
    let mut i = 0u8;
    while i < 6 {
        let off = reg::BAR0 + 4 * u16::from(i);
        let orig = config_read(qt, bdf, off, 4)?;
        config_write(qt, bdf, off, 4, 0xFFFF_FFFF)?;
        let probe = config_read(qt, bdf, off, 4)?;
        config_write(qt, bdf, off, 4, orig)?;
        if probe == 0 {
            i += 1;
            continue;
        }
        if probe & 1 == 1 {
            let Some(size) = io_bar_size(probe) else {
                i += 1;
                continue;
            };
            io = io.next_multiple_of(size);
            config_write(qt, bdf, off, 4, io)?;
            bars.push(Bar {
                index: i,
                kind: BarKind::Io,
                prefetchable: false,
                base: u64::from(io),
                len: u64::from(size),
            });
            io += size;
            i += 1;
            continue;
        }
        let is64 = (probe >> 1) & 3 == 2;
        let prefetchable = probe & 8 != 0;
        let mut full = u64::from(probe);
        if is64 {
            if i == 5 {
                return Err(Error::Setup(format!(
                    "{bdf}: 64-bit BAR5 has no upper half"
                )));
            }
            let hi_off = off + 4;
            let orig_hi = config_read(qt, bdf, hi_off, 4)?;
            config_write(qt, bdf, hi_off, 4, 0xFFFF_FFFF)?;
            let probe_hi = config_read(qt, bdf, hi_off, 4)?;
            config_write(qt, bdf, hi_off, 4, orig_hi)?;
            full |= u64::from(probe_hi) << 32;
        }
        let Some(size) = mem_bar_size(full, is64) else {
            i += if is64 { 2 } else { 1 };
            continue;
        };
        let base = mmio.next_multiple_of(size);
        if base + size > MMIO_END {
            return Err(Error::Setup(format!(
                "{bdf}: BAR{i} of {size:#x} bytes does not fit below {MMIO_END:#x}"
            )));
        }
        config_write(qt, bdf, off, 4, (base & 0xFFFF_FFFF) as u32)?;
        if is64 {
            config_write(qt, bdf, off + 4, 4, (base >> 32) as u32)?;
        }
        bars.push(Bar {
            index: i,
            kind: if is64 { BarKind::Mem64 } else { BarKind::Mem32 },
            prefetchable,
            base,
            len: size,
        });
        mmio = base + size;
        i += if is64 { 2 } else { 1 };
    }
    let mut enable = cmd::MEM | cmd::BUS_MASTER | cmd::INTX_DISABLE;
    if bars.iter().any(|b| b.kind == BarKind::Io) {
        enable |= cmd::IO;
    }
    config_write(qt, bdf, reg::COMMAND, 2, u32::from(command | enable))?;
    Ok(bars)
}

/// One entry of the capability list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Offset in config space.
    pub offset: u16,
    /// Capability ID.
    pub id: u8,
}

/// Walks the capability list (bounded: a looping list cannot hang us).
pub fn capabilities(qt: &QTest, bdf: Bdf) -> Result<Vec<Capability>> {
    let mut out = Vec::new();
    if config_read(qt, bdf, reg::STATUS, 2)? as u16 & STATUS_CAP_LIST == 0 {
        return Ok(out);
    }
    let mut p = (config_read(qt, bdf, reg::CAP_PTR, 1)? & 0xFC) as u16;
    while p >= 0x40 && out.len() < 48 {
        let hdr = config_read(qt, bdf, p, 2)?;
        out.push(Capability {
            offset: p,
            id: (hdr & 0xFF) as u8,
        });
        p = ((hdr >> 8) & 0xFC) as u16;
    }
    Ok(out)
}

/// The MSI-X capability as found and programmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsixInfo {
    /// Config offset of the capability.
    pub cap_offset: u16,
    /// Number of table entries (= vectors).
    pub table_size: u16,
    /// BAR index holding the table, and its offset in that BAR.
    pub table_bar: u8,
    /// Table offset within the BAR.
    pub table_offset: u32,
    /// Guest-physical address of the table.
    pub table_addr: u64,
    /// BAR index holding the pending-bit array.
    pub pba_bar: u8,
    /// PBA offset within its BAR.
    pub pba_offset: u32,
    /// Per vector: the message address (doorbell) and data programmed.
    pub messages: Vec<(u64, u32)>,
}

/// MSI-X Message Control bits.
pub mod msix_ctrl {
    /// MSI-X Enable.
    pub const ENABLE: u16 = 0x8000;
    /// Function Mask.
    pub const FUNCTION_MASK: u16 = 0x4000;
    /// Table Size field (N−1).
    pub const TABLE_SIZE: u16 = 0x07FF;
}

/// Finds MSI-X, programs entry `v` with `message(v)` = (address, data), unmasks every
/// entry and sets MSI-X Enable (with the function mask cleared).
pub fn program_msix(
    qt: &QTest,
    bdf: Bdf,
    bars: &[Bar],
    message: impl Fn(u16) -> (u64, u32),
) -> Result<MsixInfo> {
    let cap = capabilities(qt, bdf)?
        .into_iter()
        .find(|c| c.id == CAP_ID_MSIX)
        .ok_or_else(|| Error::Setup(format!("{bdf}: no MSI-X capability")))?;
    let ctrl = config_read(qt, bdf, cap.offset + 2, 2)? as u16;
    let table_size = (ctrl & msix_ctrl::TABLE_SIZE) + 1;
    let table = config_read(qt, bdf, cap.offset + 4, 4)?;
    let pba = config_read(qt, bdf, cap.offset + 8, 4)?;
    let table_bar = (table & 7) as u8;
    let table_offset = table & !7;
    let bar = bars
        .iter()
        .find(|b| b.index == table_bar && b.is_memory())
        .ok_or_else(|| Error::Setup(format!("{bdf}: MSI-X table BAR{table_bar} not assigned")))?;
    let table_addr = bar.base + u64::from(table_offset);
    if !bar.contains(table_addr, u64::from(table_size) * 16) {
        return Err(Error::Setup(format!(
            "{bdf}: MSI-X table ({table_size} entries at +{table_offset:#x}) exceeds BAR{table_bar}"
        )));
    }
    // Enable with the function masked while the entries are written (§6.8.2.3).
    config_write(
        qt,
        bdf,
        cap.offset + 2,
        2,
        u32::from(msix_ctrl::ENABLE | msix_ctrl::FUNCTION_MASK),
    )?;
    let mut messages = Vec::with_capacity(table_size.into());
    for v in 0..table_size {
        let (addr, data) = message(v);
        let e = table_addr + u64::from(v) * 16;
        let cmds = [
            format!("writel {e:#x} {:#x}", addr & 0xFFFF_FFFF),
            format!("writel {:#x} {:#x}", e + 4, addr >> 32),
            format!("writel {:#x} {data:#x}", e + 8),
            format!("writel {:#x} 0x0", e + 12), // vector control: unmasked
            format!("readl {:#x}", e + 8),
        ];
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        let r = qt.pipeline_ok(&refs)?;
        if r.get(4).copied().flatten() != Some(u64::from(data)) {
            return Err(Error::Setup(format!(
                "{bdf}: MSI-X entry {v} data did not stick: {r:?}"
            )));
        }
        messages.push((addr, data));
    }
    config_write(qt, bdf, cap.offset + 2, 2, u32::from(msix_ctrl::ENABLE))?;
    Ok(MsixInfo {
        cap_offset: cap.offset,
        table_size,
        table_bar,
        table_offset,
        table_addr,
        pba_bar: (pba & 7) as u8,
        pba_offset: pba & !7,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_address_follows_mechanism_1() {
        let bdf = Bdf {
            bus: 0,
            dev: 3,
            func: 0,
        };
        assert_eq!(bdf.config_address(0), 0x8000_1800);
        assert_eq!(bdf.config_address(0x06), 0x8000_1804, "dword aligned");
        let bdf = Bdf {
            bus: 2,
            dev: 31,
            func: 7,
        };
        assert_eq!(bdf.config_address(0xFC), 0x8002_FFFC);
        assert_eq!(bdf.to_string(), "02:1f.7");
    }

    #[test]
    fn bar_sizes_come_from_the_all_ones_readback() {
        // 4 KiB 32-bit non-prefetchable: low bits 0000.
        assert_eq!(mem_bar_size(0xFFFF_F000, false), Some(0x1000));
        // 16 KiB 64-bit prefetchable: type bits 10, prefetch bit 1 (0xC), upper dword all ones.
        assert_eq!(mem_bar_size(0xFFFF_FFFF_FFFF_C00C, true), Some(0x4000));
        // 8 GiB 64-bit BAR: size lives in the upper dword.
        assert_eq!(
            mem_bar_size(0xFFFF_FFFE_0000_000C, true),
            Some(0x2_0000_0000)
        );
        assert_eq!(mem_bar_size(0, false), None);
        // 32-byte I/O BAR whose upper 16 bits read as zero.
        assert_eq!(io_bar_size(0x0000_FFE1), Some(0x20));
        assert_eq!(io_bar_size(0xFFFF_FFE1), Some(0x20));
        assert_eq!(io_bar_size(0x1), None);
    }

    #[test]
    fn bar_contains_checks_both_ends() {
        let b = Bar {
            index: 4,
            kind: BarKind::Mem64,
            prefetchable: true,
            base: 0xE000_4000,
            len: 0x4000,
        };
        assert!(b.contains(0xE000_4000, 4));
        assert!(b.contains(0xE000_7FFC, 4));
        assert!(!b.contains(0xE000_7FFE, 4));
        assert!(!b.contains(0xE000_3FFF, 1));
        assert!(!b.contains(u64::MAX, 2));
    }

    #[test]
    fn config_offsets_outside_256_bytes_or_unaligned_are_rejected() {
        assert!(check_off(0x100, 1).is_err());
        assert!(check_off(0xFE, 4).is_err());
        assert!(check_off(0x3, 2).is_err());
        assert!(check_off(0xFC, 4).is_ok());
    }
}
