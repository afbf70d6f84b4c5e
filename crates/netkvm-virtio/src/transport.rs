//! Modern virtio-pci transport (virtio 1.x §4.1): status handshake, feature negotiation,
//! queue registers, MSI-X vectors, configuration generation, ISR, and the virtio-net
//! device configuration (§5.1.4).

use crate::error::{ConfigField, TransportError};
use crate::features::{sanitize, Features};
use crate::hal::{Hal, PciConfig};
use crate::pci::{check_device_id, find_capabilities, Region, VirtioCaps};

// Common configuration layout (§4.1.4.3).
const DEVICE_FEATURE_SELECT: u64 = 0x00;
const DEVICE_FEATURE: u64 = 0x04;
const DRIVER_FEATURE_SELECT: u64 = 0x08;
const DRIVER_FEATURE: u64 = 0x0C;
const CONFIG_MSIX_VECTOR: u64 = 0x10;
const NUM_QUEUES: u64 = 0x12;
const DEVICE_STATUS: u64 = 0x14;
const CONFIG_GENERATION: u64 = 0x15;
const QUEUE_SELECT: u64 = 0x16;
const QUEUE_SIZE: u64 = 0x18;
const QUEUE_MSIX_VECTOR: u64 = 0x1A;
const QUEUE_ENABLE: u64 = 0x1C;
const QUEUE_NOTIFY_OFF: u64 = 0x1E;
const QUEUE_DESC: u64 = 0x20;
const QUEUE_DRIVER: u64 = 0x28;
const QUEUE_DEVICE: u64 = 0x30;

/// `VIRTIO_MSI_NO_VECTOR`: no MSI-X vector / the device refused one.
pub const NO_VECTOR: u16 = 0xFFFF;
/// Largest split-ring size (§2.7: queue size ≤ 32768).
pub const MAX_QUEUE_SIZE: u16 = 32768;
/// Polls of `device_status` after a reset write (each followed by a 10 µs stall): 100 ms.
pub const RESET_POLLS: u32 = 10_000;
/// Attempts of a multi-field configuration read before giving up.
pub const CONFIG_READ_ATTEMPTS: u32 = 16;

bitflags::bitflags! {
    /// `device_status` bits (§2.1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct DeviceStatus: u8 {
        /// Guest found the device.
        const ACKNOWLEDGE = 1;
        /// Guest has a driver for it.
        const DRIVER = 2;
        /// Driver is ready.
        const DRIVER_OK = 4;
        /// Feature negotiation complete.
        const FEATURES_OK = 8;
        /// Device hit an error it cannot recover from without a reset.
        const NEEDS_RESET = 0x40;
        /// Driver gave up on the device.
        const FAILED = 0x80;
    }
}

bitflags::bitflags! {
    /// ISR status bits (§4.1.4.5), read-to-clear; only meaningful with INTx.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct IsrStatus: u8 {
        /// A virtqueue has used buffers.
        const QUEUE = 1;
        /// Configuration changed.
        const CONFIG = 2;
    }
}

/// Where to write a queue's notification (a 16-bit write of the queue index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyAddr {
    /// BAR of the notify structure.
    pub bar: u8,
    /// Offset inside the BAR, validated to lie inside the notify capability.
    pub offset: u64,
}

/// A queue selected and sized by [`PciTransport::setup_queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSetup {
    /// Queue index.
    pub index: u16,
    /// Negotiated size (power of two, ≤ the driver's maximum and the device's size).
    pub size: u16,
    /// Notification address.
    pub notify: NotifyAddr,
}

/// Device addresses of a split queue's three areas (§2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAddresses {
    /// Descriptor table.
    pub desc: u64,
    /// Driver area (available ring).
    pub driver: u64,
    /// Device area (used ring).
    pub device: u64,
}

/// Duplex from `struct virtio_net_config` (with SPEED_DUPLEX).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplex {
    /// 0x00.
    Half,
    /// 0x01.
    Full,
}

/// virtio-net device configuration as read consistently by
/// [`PciTransport::read_net_config`]. A field is `None` when its feature was not
/// negotiated (the field does not exist) or, for speed/duplex, when the device reports
/// "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetConfig {
    /// Permanent MAC (with MAC).
    pub mac: Option<[u8; 6]>,
    /// Link up (with STATUS; `None` means "assume up", §5.1.4).
    pub link_up: Option<bool>,
    /// `VIRTIO_NET_S_ANNOUNCE` set (with STATUS).
    pub announce: bool,
    /// `max_virtqueue_pairs` (with MQ or RSS; else 1), validated 1..=0x8000.
    pub max_virtqueue_pairs: u16,
    /// MTU (with MTU), validated ≥ 68.
    pub mtu: Option<u16>,
    /// Speed in Mb/s (with SPEED_DUPLEX; `None` = unknown or out of range).
    pub speed_mbps: Option<u32>,
    /// Duplex (with SPEED_DUPLEX; `None` = unknown).
    pub duplex: Option<Duplex>,
    /// Largest RSS key (with RSS or HASH_REPORT).
    pub rss_max_key_size: Option<u8>,
    /// Largest indirection table (with RSS).
    pub rss_max_indirection_table_length: Option<u16>,
    /// `VIRTIO_NET_HASH_TYPE_*` mask (with RSS or HASH_REPORT).
    pub supported_hash_types: Option<u32>,
}

/// Modern virtio-pci transport over a [`Hal`].
///
/// Not `Sync`-sensitive: every method takes `&self` but the transport assumes one caller
/// at a time for queue setup (queue_select is a shared register); the miniport calls
/// setup methods at PASSIVE_LEVEL during initialisation only.
#[derive(Debug)]
pub struct PciTransport<H: Hal> {
    hal: H,
    caps: VirtioCaps,
    num_queues: u16,
    features: Features,
}

impl<H: Hal> PciTransport<H> {
    /// Identifies the function, walks its capabilities and validates them against the
    /// mapped BARs. Does not touch the device state.
    pub fn new(hal: H, cfg: &impl PciConfig) -> Result<Self, TransportError> {
        check_device_id(cfg)?;
        let caps = find_capabilities(cfg, &hal)?;
        let mut t = PciTransport {
            hal,
            caps,
            num_queues: 0,
            features: Features::empty(),
        };
        t.num_queues = t.common_read16(NUM_QUEUES);
        Ok(t)
    }

    /// The platform this transport uses.
    pub fn hal(&self) -> &H {
        &self.hal
    }

    /// The validated capability layout.
    pub fn caps(&self) -> &VirtioCaps {
        &self.caps
    }

    /// `num_queues` as last read: at construction, after a reset and after FEATURES_OK (QEMU's
    /// virtio-net adds its extra queue pairs only when MQ or RSS is accepted).
    pub fn num_queues(&self) -> u16 {
        self.num_queues
    }

    /// The negotiated features (empty before [`PciTransport::negotiate`]).
    pub fn features(&self) -> Features {
        self.features
    }

    // ---- register access on validated regions -------------------------------------

    fn common_read8(&self, off: u64) -> u8 {
        let r = self.caps.common;
        // SAFETY: `r` was validated at construction: offset+len ≤ bar_len and len ≥ 0x38;
        // every `off` used here is a constant < 0x38.
        unsafe { self.hal.read8(r.bar, r.offset + off) }
    }
    fn common_read16(&self, off: u64) -> u16 {
        let r = self.caps.common;
        // SAFETY: as `common_read8`; constant offsets are 2-aligned and r.offset 4-aligned.
        unsafe { self.hal.read16(r.bar, r.offset + off) }
    }
    fn common_read32(&self, off: u64) -> u32 {
        let r = self.caps.common;
        // SAFETY: as `common_read8`; constant offsets are 4-aligned.
        unsafe { self.hal.read32(r.bar, r.offset + off) }
    }
    fn common_write8(&self, off: u64, v: u8) {
        let r = self.caps.common;
        // SAFETY: as `common_read8`.
        unsafe { self.hal.write8(r.bar, r.offset + off, v) }
    }
    fn common_write16(&self, off: u64, v: u16) {
        let r = self.caps.common;
        // SAFETY: as `common_read16`.
        unsafe { self.hal.write16(r.bar, r.offset + off, v) }
    }
    fn common_write32(&self, off: u64, v: u32) {
        let r = self.caps.common;
        // SAFETY: as `common_read32`.
        unsafe { self.hal.write32(r.bar, r.offset + off, v) }
    }
    fn common_write64(&self, off: u64, v: u64) {
        // Two 32-bit writes, low first: QEMU rejects 8-byte common-cfg accesses.
        self.common_write32(off, v as u32);
        self.common_write32(off + 4, (v >> 32) as u32);
    }

    fn device_region(&self, off: u32, width: u32) -> Result<Region, TransportError> {
        let r = self
            .caps
            .device
            .ok_or(TransportError::DeviceConfigTooShort {
                offset: off,
                width,
                length: 0,
            })?;
        if u64::from(off) + u64::from(width) > r.len {
            return Err(TransportError::DeviceConfigTooShort {
                offset: off,
                width,
                length: r.len as u32,
            });
        }
        Ok(r)
    }

    /// Reads one byte of device-specific configuration (bounds-checked).
    pub fn device_read8(&self, off: u32) -> Result<u8, TransportError> {
        let r = self.device_region(off, 1)?;
        // SAFETY: off+1 ≤ r.len and r lies inside its BAR (validated at construction).
        Ok(unsafe { self.hal.read8(r.bar, r.offset + u64::from(off)) })
    }
    /// Reads a 16-bit device configuration field (bounds-checked, `off` 2-aligned).
    pub fn device_read16(&self, off: u32) -> Result<u16, TransportError> {
        let r = self.device_region(off & !1, 2)?;
        // SAFETY: as `device_read8`; r.offset is 4-aligned and the offset is 2-aligned.
        Ok(unsafe { self.hal.read16(r.bar, r.offset + u64::from(off & !1)) })
    }
    /// Reads a 32-bit device configuration field (bounds-checked, `off` 4-aligned).
    pub fn device_read32(&self, off: u32) -> Result<u32, TransportError> {
        let r = self.device_region(off & !3, 4)?;
        // SAFETY: as `device_read8`; 4-aligned.
        Ok(unsafe { self.hal.read32(r.bar, r.offset + u64::from(off & !3)) })
    }

    // ---- status ------------------------------------------------------------------

    /// Reads `device_status`.
    pub fn status(&self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.common_read8(DEVICE_STATUS))
    }

    /// ORs `bits` into `device_status`.
    pub fn add_status(&self, bits: DeviceStatus) {
        let s = self.status();
        self.common_write8(DEVICE_STATUS, s.union(bits).bits());
    }

    /// Resets the device (§4.1.4.3.1: write 0, then wait until it reads 0), bounded by
    /// [`RESET_POLLS`] × 10 µs. After a reset every queue must be set up again.
    pub fn reset(&mut self) -> Result<(), TransportError> {
        self.common_write8(DEVICE_STATUS, 0);
        let mut last = 0xFF;
        for _ in 0..RESET_POLLS {
            last = self.common_read8(DEVICE_STATUS);
            if last == 0 {
                self.features = Features::empty();
                self.num_queues = self.common_read16(NUM_QUEUES);
                return Ok(());
            }
            self.hal.stall_us(10);
        }
        Err(TransportError::ResetTimeout { status: last })
    }

    /// Marks the device FAILED (the driver gave up on it).
    pub fn fail(&self) {
        self.add_status(DeviceStatus::FAILED);
    }

    /// Reset + ACKNOWLEDGE + DRIVER: the start of initialisation (§3.1.1 steps 1–3).
    pub fn begin_init(&mut self) -> Result<(), TransportError> {
        self.reset()?;
        self.common_write8(DEVICE_STATUS, DeviceStatus::ACKNOWLEDGE.bits());
        self.common_write8(
            DEVICE_STATUS,
            DeviceStatus::ACKNOWLEDGE.union(DeviceStatus::DRIVER).bits(),
        );
        Ok(())
    }

    /// The device's 64-bit feature offer.
    pub fn device_features(&self) -> Features {
        self.common_write32(DEVICE_FEATURE_SELECT, 0);
        let lo = self.common_read32(DEVICE_FEATURE);
        self.common_write32(DEVICE_FEATURE_SELECT, 1);
        let hi = self.common_read32(DEVICE_FEATURE);
        Features::from_bits_retain(u64::from(lo) | (u64::from(hi) << 32))
    }

    /// Feature negotiation (§3.1.1 steps 4–6): writes [`sanitize`]`(wanted, offered)`,
    /// sets FEATURES_OK and re-reads the status to check the device accepted. VERSION_1
    /// must be offered (legacy devices are not supported) and is always accepted.
    /// Call after [`PciTransport::begin_init`].
    pub fn negotiate(&mut self, wanted: Features) -> Result<Features, TransportError> {
        let offered = self.device_features();
        if !offered.contains(Features::VERSION_1) {
            return Err(TransportError::Version1NotOffered);
        }
        let set = sanitize(wanted.union(Features::VERSION_1), offered);
        self.common_write32(DRIVER_FEATURE_SELECT, 0);
        self.common_write32(DRIVER_FEATURE, set.bits() as u32);
        self.common_write32(DRIVER_FEATURE_SELECT, 1);
        self.common_write32(DRIVER_FEATURE, (set.bits() >> 32) as u32);
        self.add_status(DeviceStatus::FEATURES_OK);
        if !self.status().contains(DeviceStatus::FEATURES_OK) {
            return Err(TransportError::FeaturesNotAccepted {
                driver_features: set.bits(),
            });
        }
        self.features = set;
        // The queue count may depend on the features: QEMU's virtio-net reports one pair +
        // control until MQ/RSS is accepted, then adds the other pairs (seen end to end: the
        // second pair's queues were "out of range" with the count read at probe time).
        self.num_queues = self.common_read16(NUM_QUEUES);
        Ok(set)
    }

    /// Sets DRIVER_OK (§3.1.1 step 8): the device may now use the queues.
    pub fn driver_ok(&self) {
        self.add_status(DeviceStatus::DRIVER_OK);
    }

    /// Health check for the DPC / CheckForHang path: a status of 0 after initialisation
    /// means the device reset itself; NEEDS_RESET means it wants a reset; all-ones means
    /// it is gone.
    pub fn check_device(&self) -> Result<(), TransportError> {
        let raw = self.common_read8(DEVICE_STATUS);
        if raw == 0xFF {
            return Err(TransportError::DeviceGone);
        }
        let s = DeviceStatus::from_bits_retain(raw);
        if s.contains(DeviceStatus::NEEDS_RESET) {
            return Err(TransportError::NeedsReset);
        }
        if raw == 0 {
            return Err(TransportError::DeviceReset);
        }
        Ok(())
    }

    /// Reads (and thereby clears) the ISR status. Only meaningful with INTx: with MSI-X
    /// the vector says which queue fired.
    pub fn read_isr(&self) -> IsrStatus {
        let r = self.caps.isr;
        // SAFETY: the ISR region was validated (len ≥ 1, inside its BAR) at construction.
        IsrStatus::from_bits_retain(unsafe { self.hal.read8(r.bar, r.offset) })
    }

    // ---- MSI-X -------------------------------------------------------------------

    /// Assigns the configuration-change MSI-X vector (or [`NO_VECTOR`]) and checks the
    /// device accepted it (§4.1.5.1.2.1: it reads back `NO_VECTOR` when out of resources).
    pub fn set_config_vector(&self, vector: u16) -> Result<(), TransportError> {
        self.common_write16(CONFIG_MSIX_VECTOR, vector);
        let read_back = self.common_read16(CONFIG_MSIX_VECTOR);
        if read_back != vector {
            return Err(TransportError::MsixVectorRejected {
                queue: None,
                vector,
                read_back,
            });
        }
        Ok(())
    }

    fn select(&self, index: u16) -> Result<(), TransportError> {
        if index >= self.num_queues {
            return Err(TransportError::QueueIndexOutOfRange {
                index,
                num_queues: self.num_queues,
            });
        }
        self.common_write16(QUEUE_SELECT, index);
        Ok(())
    }

    /// Assigns a queue's MSI-X vector and checks the read-back.
    pub fn set_queue_vector(&self, index: u16, vector: u16) -> Result<(), TransportError> {
        self.select(index)?;
        self.common_write16(QUEUE_MSIX_VECTOR, vector);
        let read_back = self.common_read16(QUEUE_MSIX_VECTOR);
        if read_back != vector {
            return Err(TransportError::MsixVectorRejected {
                queue: Some(index),
                vector,
                read_back,
            });
        }
        Ok(())
    }

    // ---- queues ------------------------------------------------------------------

    /// Selects queue `index`, validates the device's size (non-zero, power of two,
    /// ≤ 32768), shrinks it to `max_size` (rounded down to a power of two), writes it,
    /// and computes the queue's notify address (validated inside the notify capability).
    pub fn setup_queue(&self, index: u16, max_size: u16) -> Result<QueueSetup, TransportError> {
        self.select(index)?;
        let dev_size = self.common_read16(QUEUE_SIZE);
        if dev_size == 0 {
            return Err(TransportError::QueueSizeZero { index });
        }
        if !dev_size.is_power_of_two() {
            return Err(TransportError::QueueSizeNotPowerOfTwo {
                index,
                size: dev_size,
            });
        }
        if dev_size > MAX_QUEUE_SIZE || max_size == 0 {
            return Err(TransportError::QueueSizeTooLarge {
                index,
                size: dev_size,
            });
        }
        if self.common_read16(QUEUE_ENABLE) != 0 {
            return Err(TransportError::QueueAlreadyEnabled { index });
        }
        // Largest power of two ≤ max_size.
        let driver_max = 1u16 << (15 - max_size.leading_zeros().min(15));
        let size = dev_size.min(driver_max);
        if size != dev_size {
            self.common_write16(QUEUE_SIZE, size);
        }
        let notify_off = self.common_read16(QUEUE_NOTIFY_OFF);
        let rel = u64::from(notify_off) * u64::from(self.caps.notify_off_multiplier);
        if rel + 2 > self.caps.notify.len {
            return Err(TransportError::NotifyOutsideCapability { index, notify_off });
        }
        Ok(QueueSetup {
            index,
            size,
            notify: NotifyAddr {
                bar: self.caps.notify.bar,
                offset: self.caps.notify.offset + rel,
            },
        })
    }

    /// Programs a queue's ring addresses and optional MSI-X vector, then enables it
    /// (§4.1.5.1.3). Call after [`PciTransport::setup_queue`] and before DRIVER_OK.
    pub fn activate_queue(
        &self,
        index: u16,
        addrs: QueueAddresses,
        vector: Option<u16>,
    ) -> Result<(), TransportError> {
        if let Some(v) = vector {
            self.set_queue_vector(index, v)?;
        } else {
            self.select(index)?;
        }
        self.common_write64(QUEUE_DESC, addrs.desc);
        self.common_write64(QUEUE_DRIVER, addrs.driver);
        self.common_write64(QUEUE_DEVICE, addrs.device);
        self.common_write16(QUEUE_ENABLE, 1);
        Ok(())
    }

    /// Creates a split queue on `index` and activates it: size negotiation, ring
    /// allocation, addresses, MSI-X vector, enable. INDIRECT_DESC and RING_EVENT_IDX are
    /// used only if negotiated (`config.indirect_max` is forced to 0 otherwise).
    ///
    /// # Safety
    ///
    /// As [`crate::queue::SplitQueue::new`]: the returned queue must not be dropped while
    /// the device may still access it (reset the device first).
    pub unsafe fn create_split_queue<T: Copy>(
        &self,
        index: u16,
        mut config: crate::queue::QueueConfig,
        vector: Option<u16>,
    ) -> Result<crate::queue::SplitQueue<H, T>, crate::error::QueueSetupError>
    where
        H: Clone,
    {
        let setup = self.setup_queue(index, config.max_size)?;
        if !self.features.contains(Features::INDIRECT_DESC) {
            config.indirect_max = 0;
        }
        config.event_idx = self.features.contains(Features::RING_EVENT_IDX);
        // SAFETY: forwarded to our caller.
        let q = unsafe { crate::queue::SplitQueue::new(self.hal.clone(), setup, config)? };
        self.activate_queue(index, q.addresses(), vector)?;
        Ok(q)
    }

    // ---- configuration space -----------------------------------------------------

    /// `config_generation`.
    pub fn config_generation(&self) -> u8 {
        self.common_read8(CONFIG_GENERATION)
    }

    /// Runs `read` until `config_generation` is the same before and after (§4.1.4.3.1),
    /// at most [`CONFIG_READ_ATTEMPTS`] times.
    pub fn read_config_consistent<T>(
        &self,
        mut read: impl FnMut(&Self) -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        for _ in 0..CONFIG_READ_ATTEMPTS {
            let before = self.config_generation();
            let value = read(self)?;
            if self.config_generation() == before {
                return Ok(value);
            }
        }
        Err(TransportError::ConfigGenerationUnstable {
            attempts: CONFIG_READ_ATTEMPTS,
        })
    }

    /// Reads the virtio-net configuration, each field only when the negotiated features
    /// say it exists (§5.1.4), consistently (generation loop), and validates the values
    /// the spec bounds.
    pub fn read_net_config(&self) -> Result<NetConfig, TransportError> {
        let f = self.features;
        let cfg = self.read_config_consistent(|t| {
            let mut c = NetConfig {
                max_virtqueue_pairs: 1,
                ..NetConfig::default()
            };
            if f.contains(Features::MAC) {
                let mut mac = [0u8; 6];
                for (i, b) in mac.iter_mut().enumerate() {
                    *b = t.device_read8(i as u32)?;
                }
                c.mac = Some(mac);
            }
            if f.contains(Features::STATUS) {
                let s = t.device_read16(6)?;
                c.link_up = Some(s & 1 != 0);
                c.announce = s & 2 != 0;
            }
            if f.intersects(Features::MQ.union(Features::RSS)) {
                c.max_virtqueue_pairs = t.device_read16(8)?;
            }
            if f.contains(Features::MTU) {
                c.mtu = Some(t.device_read16(10)?);
            }
            if f.contains(Features::SPEED_DUPLEX) {
                let speed = t.device_read32(12)?;
                // 0..=0x7fffffff Mb/s, 0xffffffff unknown; anything else is treated as unknown.
                c.speed_mbps = (speed <= 0x7FFF_FFFF).then_some(speed);
                c.duplex = match t.device_read8(16)? {
                    0 => Some(Duplex::Half),
                    1 => Some(Duplex::Full),
                    _ => None,
                };
            }
            if f.intersects(Features::RSS.union(Features::HASH_REPORT)) {
                c.rss_max_key_size = Some(t.device_read8(17)?);
                c.supported_hash_types = Some(t.device_read32(20)?);
            }
            if f.contains(Features::RSS) {
                c.rss_max_indirection_table_length = Some(t.device_read16(18)?);
            }
            Ok(c)
        })?;
        if !(1..=0x8000).contains(&cfg.max_virtqueue_pairs) {
            return Err(TransportError::InvalidConfigValue {
                field: ConfigField::MaxVirtqueuePairs,
                value: u32::from(cfg.max_virtqueue_pairs),
            });
        }
        if let Some(mtu) = cfg.mtu {
            if mtu < 68 {
                return Err(TransportError::InvalidConfigValue {
                    field: ConfigField::Mtu,
                    value: u32::from(mtu),
                });
            }
        }
        Ok(cfg)
    }
}
