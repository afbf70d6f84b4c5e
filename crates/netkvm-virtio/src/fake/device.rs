//! The fake modern virtio-net PCI function: PCI config space with the vendor
//! capabilities, the common-cfg / notify / ISR / device-cfg register file, and the net
//! device logic on [`FakeMemory`].

use std::boxed::Box;
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec;
use std::vec::Vec;

use super::mem::{BadAddress, FakeMemory};
use crate::features::Features;
use crate::hal::{BarIndex, DmaAllocError, DmaRegion, Hal, PciConfig};
use crate::queue::{need_event, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE};
use crate::transport::NO_VECTOR;

/// BAR holding every virtio structure in the default layout (64-bit, like QEMU's BAR4).
pub const FAKE_BAR: BarIndex = 4;
/// Programmed address of [`FAKE_BAR`].
pub const FAKE_BAR_ADDRESS: u64 = 0xFE00_4000;
/// Length of [`FAKE_BAR`].
pub const FAKE_BAR_LEN: u64 = 0x4000;
/// MSI-X table BAR (32-bit) as QEMU lays it out.
pub const FAKE_MSIX_BAR: BarIndex = 1;
/// Programmed address of [`FAKE_MSIX_BAR`].
pub const FAKE_MSIX_BAR_ADDRESS: u64 = 0xFE00_0000;

/// Location of one virtio structure: `(bar, offset, length)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapPlacement {
    /// BAR index written in the capability.
    pub bar: u8,
    /// Offset in the BAR.
    pub offset: u32,
    /// Length.
    pub length: u32,
}

/// What the fake function looks like.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Features offered.
    pub features: Features,
    /// Queue pairs (`max_virtqueue_pairs`); queues = 2 × pairs (+1 with CTRL_VQ).
    pub pairs: u16,
    /// Maximum queue size reported for every queue.
    pub queue_size: u16,
    /// MAC in config space.
    pub mac: [u8; 6],
    /// Link state.
    pub link_up: bool,
    /// MTU field.
    pub mtu: u16,
    /// Speed (Mb/s) and duplex fields.
    pub speed: u32,
    /// Duplex byte.
    pub duplex: u8,
    /// RSS limits.
    pub rss_max_key_size: u8,
    /// RSS indirection table limit.
    pub rss_max_indirection_table_length: u16,
    /// Supported hash types.
    pub supported_hash_types: u32,
    /// MSI-X vectors available (vector numbers ≥ this are refused).
    pub msix_vectors: u16,
    /// Common / notify / ISR / device placement (hostile tests move them).
    pub common: CapPlacement,
    /// Notify structure placement.
    pub notify: CapPlacement,
    /// `notify_off_multiplier`.
    pub notify_multiplier: u32,
    /// ISR placement.
    pub isr: CapPlacement,
    /// Device config placement.
    pub device: CapPlacement,
    /// Arena size of the fake physical memory.
    pub memory: usize,
}

impl Default for FakeConfig {
    /// QEMU-like: BAR4 with common 0x0000, ISR 0x1000, device 0x2000, notify 0x3000 ×4,
    /// MAC 52:54:00:12:34:56, link up, 256-entry queues, one pair, QEMU's default offer
    /// plus RSS/HASH_REPORT/MTU/SPEED_DUPLEX so every config field exists.
    fn default() -> Self {
        let f = Features::CSUM
            | Features::GUEST_CSUM
            | Features::CTRL_GUEST_OFFLOADS
            | Features::MTU
            | Features::MAC
            | Features::GUEST_TSO4
            | Features::GUEST_TSO6
            | Features::HOST_TSO4
            | Features::HOST_TSO6
            | Features::MRG_RXBUF
            | Features::STATUS
            | Features::CTRL_VQ
            | Features::CTRL_RX
            | Features::CTRL_VLAN
            | Features::CTRL_RX_EXTRA
            | Features::GUEST_ANNOUNCE
            | Features::MQ
            | Features::CTRL_MAC_ADDR
            | Features::INDIRECT_DESC
            | Features::RING_EVENT_IDX
            | Features::VERSION_1
            | Features::GUEST_USO4
            | Features::GUEST_USO6
            | Features::HOST_USO
            | Features::RSS
            | Features::HASH_REPORT
            | Features::RSC_EXT
            | Features::SPEED_DUPLEX;
        FakeConfig {
            features: f,
            pairs: 1,
            queue_size: 256,
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            link_up: true,
            mtu: 1500,
            speed: 10_000,
            duplex: 1,
            rss_max_key_size: 40,
            rss_max_indirection_table_length: 128,
            supported_hash_types: 0x1FF,
            msix_vectors: 8,
            common: CapPlacement {
                bar: FAKE_BAR,
                offset: 0,
                length: 0x1000,
            },
            isr: CapPlacement {
                bar: FAKE_BAR,
                offset: 0x1000,
                length: 0x1000,
            },
            device: CapPlacement {
                bar: FAKE_BAR,
                offset: 0x2000,
                length: 0x1000,
            },
            notify: CapPlacement {
                bar: FAKE_BAR,
                offset: 0x3000,
                length: 0x1000,
            },
            notify_multiplier: 4,
            memory: 16 << 20,
        }
    }
}

/// How the device answers control commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CtrlBehavior {
    /// `VIRTIO_NET_OK` (or what [`FakeNetDevice::set_ctrl_reply`] says).
    #[default]
    Normal,
    /// Never completes commands.
    NeverComplete,
    /// Completes only after this many `stall_us` calls.
    CompleteAfterStalls(u32),
    /// Completes with used length 0 (ack not written).
    ZeroLength,
    /// Completes with a used id that is not the command's head.
    WrongId,
}

/// A one-shot corruption applied to the next used-ring write of any queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedCorruption {
    /// Writes `id` = queue size + 5.
    IdOutOfRange,
    /// Also completes the same chain a second time.
    DuplicateCompletion,
    /// Reports `len` = posted writable length + extra.
    LengthTooLarge(u32),
    /// Advances `used->idx` by this much extra.
    IndexJump(u16),
    /// Moves `used->idx` backwards by one after the write.
    IndexBackwards,
}

/// Misbehaviour switches (all off by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Misbehavior {
    /// Clears FEATURES_OK when the driver sets it.
    pub refuse_features_ok: bool,
    /// A write of 0 to `device_status` does not reset (reads keep the old value).
    pub reset_never_completes: bool,
    /// MSI-X vector writes read back `NO_VECTOR`.
    pub refuse_msix: bool,
    /// `config_generation` changes on every read.
    pub flip_generation: bool,
    /// Reported queue size overrides [`FakeConfig::queue_size`] (0, non power of two …).
    pub queue_size: Option<u16>,
    /// `queue_notify_off` override.
    pub notify_off: Option<u16>,
    /// Control-queue behaviour.
    pub ctrl: CtrlBehavior,
    /// One-shot used-ring corruption.
    pub used: Option<UsedCorruption>,
    /// `device_status` reads this instead of the real status (0 = reset itself,
    /// 0x40 bits = NEEDS_RESET, 0xFF = gone).
    pub status_override: Option<u8>,
    /// QEMU's virtio-net: `num_queues` counts one pair (+ control) until FEATURES_OK with MQ or
    /// RSS, then all pairs; the count stays through a reset until the next FEATURES_OK.
    pub queues_added_at_features_ok: bool,
}

/// One recorded control command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtrlRecord {
    /// Class.
    pub class: u8,
    /// Command.
    pub cmd: u8,
    /// Command-specific data.
    pub data: Vec<u8>,
}

/// A transmitted frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPacket {
    /// The virtio-net header (`net_hdr_len` bytes).
    pub hdr: Vec<u8>,
    /// The frame after the header.
    pub frame: Vec<u8>,
    /// Descriptors in the chain (after resolving an indirect table).
    pub descriptors: usize,
    /// The chain used an indirect table.
    pub indirect: bool,
}

/// Device-side errors (a buggy driver, not a hostile device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeError {
    /// The queue index does not exist or is not enabled.
    QueueNotReady(u16),
    /// Not enough posted RX buffers.
    NoBuffers,
    /// A descriptor points outside fake memory.
    BadAddress(BadAddress),
    /// Descriptor chain loops, is too long, or breaks the rules (readable after
    /// writable, nested indirect).
    BadChain,
}

impl From<BadAddress> for FakeError {
    fn from(e: BadAddress) -> Self {
        FakeError::BadAddress(e)
    }
}

#[derive(Debug, Clone, Default)]
struct FakeQueue {
    size: u16,
    vector: u16,
    enabled: bool,
    desc: u64,
    driver: u64,
    device: u64,
    last_avail: u16,
    used_idx: u16,
    notifications: u64,
}

struct Chain {
    head: u16,
    readable: Vec<(u64, u32)>,
    writable: Vec<(u64, u32)>,
    indirect: bool,
}

type IrqCallback = Box<dyn Fn(u16) + Send + Sync>;

struct State {
    cfg: FakeConfig,
    pci: [u8; 256],
    dev_feature_sel: u32,
    drv_feature_sel: u32,
    driver_features: u64,
    status: u8,
    generation: u8,
    config_vector: u16,
    queue_sel: u16,
    queues: Vec<FakeQueue>,
    devcfg: [u8; 64],
    interrupts: Vec<u64>,
    isr: u8,
    ctrl_log: Vec<CtrlRecord>,
    ctrl_reply: u8,
    pending_ctrl_stalls: Option<u32>,
    mis: Misbehavior,
    /// With [`Misbehavior::queues_added_at_features_ok`]: MQ/RSS accepted at the last FEATURES_OK.
    mq_accepted: bool,
    stalls: u64,
    notifies: u64,
    last_error: Option<FakeError>,
}

struct Shared {
    mem: FakeMemory,
    state: Mutex<State>,
    irq: Mutex<Option<IrqCallback>>,
}

/// The fake virtio-net PCI function. Cheap to clone (shared state); implements [`Hal`]
/// (BAR registers, DMA from its [`FakeMemory`], barriers, stall) and [`PciConfig`].
#[derive(Clone)]
pub struct FakeNetDevice {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for FakeNetDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FakeNetDevice")
    }
}

const COMMON_LEN: u64 = 0x3C;

fn build_pci(cfg: &FakeConfig) -> [u8; 256] {
    let mut p = [0u8; 256];
    let w16 = |p: &mut [u8; 256], o: usize, v: u16| p[o..o + 2].copy_from_slice(&v.to_le_bytes());
    let w32 = |p: &mut [u8; 256], o: usize, v: u32| p[o..o + 4].copy_from_slice(&v.to_le_bytes());
    w16(&mut p, 0x00, crate::pci::VIRTIO_VENDOR_ID);
    w16(&mut p, 0x02, crate::pci::VIRTIO_NET_MODERN_DEVICE_ID);
    w16(&mut p, 0x06, 0x0010); // capability list
    p[0x08] = 1; // revision ≥ 1 for modern devices
    p[0x0B] = 0x02; // class: network
    w32(
        &mut p,
        0x10 + 4 * usize::from(FAKE_MSIX_BAR),
        FAKE_MSIX_BAR_ADDRESS as u32,
    );
    // BAR4: 64-bit prefetchable memory.
    w32(
        &mut p,
        0x10 + 4 * usize::from(FAKE_BAR),
        (FAKE_BAR_ADDRESS as u32) | 0xC,
    );
    w32(
        &mut p,
        0x14 + 4 * usize::from(FAKE_BAR),
        (FAKE_BAR_ADDRESS >> 32) as u32,
    );
    w16(&mut p, 0x2C, 0x1AF4);
    w16(&mut p, 0x2E, 1);
    p[0x34] = 0x40;
    // Vendor caps at 0x40, 0x50, 0x60, 0x70 (notify, 20 bytes), MSI-X at 0x98.
    let caps = [
        (0x40usize, 1u8, cfg.common, 16u8, 0x50u8),
        (0x50, 3, cfg.isr, 16, 0x60),
        (0x60, 4, cfg.device, 16, 0x70),
        (0x70, 2, cfg.notify, 20, 0x98),
    ];
    for (pos, ty, place, len, next) in caps {
        p[pos] = 0x09;
        p[pos + 1] = next;
        p[pos + 2] = len;
        p[pos + 3] = ty;
        p[pos + 4] = place.bar;
        w32(&mut p, pos + 8, place.offset);
        w32(&mut p, pos + 12, place.length);
    }
    w32(&mut p, 0x70 + 16, cfg.notify_multiplier);
    p[0x98] = 0x11; // MSI-X
    p[0x99] = 0;
    w16(&mut p, 0x9A, cfg.msix_vectors.saturating_sub(1) | 0x8000);
    w32(&mut p, 0x9C, u32::from(FAKE_MSIX_BAR));
    w32(&mut p, 0xA0, 0x800 | u32::from(FAKE_MSIX_BAR));
    p
}

fn build_devcfg(cfg: &FakeConfig) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..6].copy_from_slice(&cfg.mac);
    d[6..8].copy_from_slice(&u16::from(cfg.link_up).to_le_bytes());
    d[8..10].copy_from_slice(&cfg.pairs.to_le_bytes());
    d[10..12].copy_from_slice(&cfg.mtu.to_le_bytes());
    d[12..16].copy_from_slice(&cfg.speed.to_le_bytes());
    d[16] = cfg.duplex;
    d[17] = cfg.rss_max_key_size;
    d[18..20].copy_from_slice(&cfg.rss_max_indirection_table_length.to_le_bytes());
    d[20..24].copy_from_slice(&cfg.supported_hash_types.to_le_bytes());
    d
}

impl State {
    fn num_queues(&self) -> u16 {
        let ctrl = u16::from(self.cfg.features.contains(Features::CTRL_VQ));
        let pairs = if self.mis.queues_added_at_features_ok && !self.mq_accepted {
            self.cfg.pairs.min(1)
        } else {
            self.cfg.pairs
        };
        pairs.saturating_mul(2).saturating_add(ctrl)
    }

    fn reset(&mut self) {
        self.status = 0;
        self.driver_features = 0;
        self.config_vector = NO_VECTOR;
        self.queue_sel = 0;
        self.isr = 0;
        let n = usize::from(self.num_queues());
        self.queues = vec![self.fresh_queue(); n];
    }

    /// A queue as the device presents it after reset: the maximum size, no vector.
    fn fresh_queue(&self) -> FakeQueue {
        FakeQueue {
            size: self.cfg.queue_size,
            vector: NO_VECTOR,
            ..FakeQueue::default()
        }
    }

    fn negotiated(&self) -> Features {
        Features::from_bits_retain(self.driver_features)
    }

    fn sel(&mut self) -> Option<&mut FakeQueue> {
        let i = usize::from(self.queue_sel);
        self.queues.get_mut(i)
    }

    fn common_read(&mut self, off: u64, width: u8) -> u32 {
        match (off, width) {
            (0x00, 4) => self.dev_feature_sel,
            (0x04, 4) => match self.dev_feature_sel {
                0 => self.cfg.features.bits() as u32,
                1 => (self.cfg.features.bits() >> 32) as u32,
                _ => 0,
            },
            (0x08, 4) => self.drv_feature_sel,
            (0x0C, 4) => match self.drv_feature_sel {
                0 => self.driver_features as u32,
                1 => (self.driver_features >> 32) as u32,
                _ => 0,
            },
            (0x10, 2) => u32::from(self.config_vector),
            (0x12, 2) => u32::from(self.num_queues()),
            (0x14, 1) => u32::from(self.mis.status_override.unwrap_or(self.status)),
            (0x15, 1) => {
                if self.mis.flip_generation {
                    self.generation = self.generation.wrapping_add(1);
                }
                u32::from(self.generation)
            }
            (0x16, 2) => u32::from(self.queue_sel),
            (0x18, 2) => {
                let over = self.mis.queue_size;
                self.sel().map_or(0, |q| u32::from(over.unwrap_or(q.size)))
            }
            (0x1A, 2) => self
                .sel()
                .map_or(u32::from(NO_VECTOR), |q| u32::from(q.vector)),
            (0x1C, 2) => self.sel().map_or(0, |q| u32::from(q.enabled)),
            (0x1E, 2) => {
                let sel = self.queue_sel;
                u32::from(self.mis.notify_off.unwrap_or(sel))
            }
            (0x20..=0x37, 4) => {
                let Some(q) = self.sel() else { return 0 };
                let (base, field) = match off {
                    0x20..=0x27 => (0x20, q.desc),
                    0x28..=0x2F => (0x28, q.driver),
                    _ => (0x30, q.device),
                };
                if off == base {
                    field as u32
                } else {
                    (field >> 32) as u32
                }
            }
            _ => 0,
        }
    }

    fn vector_ok(&self, v: u16) -> u16 {
        if self.mis.refuse_msix || (v != NO_VECTOR && v >= self.cfg.msix_vectors) {
            NO_VECTOR
        } else {
            v
        }
    }

    fn common_write(&mut self, off: u64, width: u8, v: u32) {
        match (off, width) {
            (0x00, 4) => self.dev_feature_sel = v,
            (0x08, 4) => self.drv_feature_sel = v,
            (0x0C, 4) => match self.drv_feature_sel {
                0 => self.driver_features = (self.driver_features & !0xFFFF_FFFF) | u64::from(v),
                1 => {
                    self.driver_features =
                        (self.driver_features & 0xFFFF_FFFF) | (u64::from(v) << 32)
                }
                _ => {}
            },
            (0x10, 2) => self.config_vector = self.vector_ok(v as u16),
            (0x14, 1) => {
                let v = v as u8;
                if v == 0 {
                    if !self.mis.reset_never_completes {
                        self.reset();
                    }
                    return;
                }
                let mut v = v;
                if v & 0x08 != 0 && self.status & 0x08 == 0 {
                    // FEATURES_OK: refuse features we never offered (like QEMU).
                    let extra = self.driver_features & !self.cfg.features.bits();
                    if extra != 0 || self.mis.refuse_features_ok {
                        v &= !0x08;
                    } else if self.mis.queues_added_at_features_ok {
                        let f = Features::from_bits_retain(self.driver_features);
                        self.mq_accepted = f.intersects(Features::MQ.union(Features::RSS));
                        let n = usize::from(self.num_queues());
                        let q = self.fresh_queue();
                        self.queues.resize(n, q);
                    }
                }
                self.status = v;
            }
            (0x16, 2) => self.queue_sel = v as u16,
            (0x18, 2) => {
                let max = self.cfg.queue_size;
                if let Some(q) = self.sel() {
                    let v = v as u16;
                    if v != 0 && v <= max {
                        q.size = v;
                    }
                }
            }
            (0x1A, 2) => {
                let v = self.vector_ok(v as u16);
                if let Some(q) = self.sel() {
                    q.vector = v;
                }
            }
            (0x1C, 2) => {
                if let Some(q) = self.sel() {
                    q.enabled = v == 1;
                }
            }
            (0x20..=0x37, 4) => {
                let Some(q) = self.sel() else { return };
                let field = match off {
                    0x20..=0x27 => &mut q.desc,
                    0x28..=0x2F => &mut q.driver,
                    _ => &mut q.device,
                };
                if off.is_multiple_of(8) {
                    *field = (*field & !0xFFFF_FFFF) | u64::from(v);
                } else {
                    *field = (*field & 0xFFFF_FFFF) | (u64::from(v) << 32);
                }
            }
            _ => {}
        }
    }
}

/// Header length the device uses for the negotiated features.
fn hdr_len(f: Features) -> usize {
    f.net_hdr_len()
}

impl FakeNetDevice {
    /// A device in reset state.
    pub fn new(cfg: FakeConfig) -> Self {
        let mem = FakeMemory::new(cfg.memory, 0x1_0000_0000);
        let pci = build_pci(&cfg);
        let devcfg = build_devcfg(&cfg);
        let vectors = usize::from(cfg.msix_vectors);
        let mut st = State {
            cfg,
            pci,
            dev_feature_sel: 0,
            drv_feature_sel: 0,
            driver_features: 0,
            status: 0,
            generation: 0,
            config_vector: NO_VECTOR,
            queue_sel: 0,
            queues: Vec::new(),
            devcfg,
            interrupts: vec![0; vectors],
            isr: 0,
            ctrl_log: Vec::new(),
            ctrl_reply: crate::ctrl::VIRTIO_NET_OK,
            pending_ctrl_stalls: None,
            mis: Misbehavior::default(),
            mq_accepted: false,
            stalls: 0,
            notifies: 0,
            last_error: None,
        };
        st.reset();
        FakeNetDevice {
            shared: Arc::new(Shared {
                mem,
                state: Mutex::new(st),
                irq: Mutex::new(None),
            }),
        }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        match self.shared.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The fake physical memory (allocate packet buffers from it via [`Hal::dma_alloc`]).
    pub fn memory(&self) -> &FakeMemory {
        &self.shared.mem
    }

    /// Sets misbehaviour switches.
    pub fn set_misbehavior(&self, m: Misbehavior) {
        self.st().mis = m;
    }

    /// Changes misbehaviour in place.
    pub fn update_misbehavior(&self, f: impl FnOnce(&mut Misbehavior)) {
        f(&mut self.st().mis);
    }

    /// Ack byte for subsequent control commands (`VIRTIO_NET_OK`, `VIRTIO_NET_ERR`, …).
    pub fn set_ctrl_reply(&self, ack: u8) {
        self.st().ctrl_reply = ack;
    }

    /// Control commands received so far.
    pub fn ctrl_log(&self) -> Vec<CtrlRecord> {
        self.st().ctrl_log.clone()
    }

    /// Clears the control log.
    pub fn clear_ctrl_log(&self) {
        self.st().ctrl_log.clear();
    }

    /// Interrupts raised per MSI-X vector.
    pub fn interrupts(&self) -> Vec<u64> {
        self.st().interrupts.clone()
    }

    /// Calls `f(vector)` whenever the device raises an MSI-X interrupt (for the
    /// user-mode NDIS's interrupt emulation). Called without the device lock held.
    pub fn set_interrupt_callback(&self, f: impl Fn(u16) + Send + Sync + 'static) {
        if let Ok(mut g) = self.shared.irq.lock() {
            *g = Some(Box::new(f));
        }
    }

    /// Device status as the driver last wrote it.
    pub fn status(&self) -> u8 {
        self.st().status
    }

    /// Features the driver wrote.
    pub fn driver_features(&self) -> Features {
        self.st().negotiated()
    }

    /// Notifications received for queue `q`.
    pub fn notifications(&self, q: u16) -> u64 {
        self.st()
            .queues
            .get(usize::from(q))
            .map_or(0, |x| x.notifications)
    }

    /// Queue size the driver configured for queue `q`.
    pub fn queue_size(&self, q: u16) -> Option<u16> {
        self.st().queues.get(usize::from(q)).map(|x| x.size)
    }

    /// MSI-X vector assigned to queue `q`.
    pub fn queue_vector(&self, q: u16) -> Option<u16> {
        self.st().queues.get(usize::from(q)).map(|x| x.vector)
    }

    /// Last device-side error (a driver bug seen by the device).
    pub fn last_error(&self) -> Option<FakeError> {
        self.st().last_error
    }

    /// Changes the link state (and bumps the generation, raises a config interrupt).
    pub fn set_link(&self, up: bool) {
        let v = {
            let mut st = self.st();
            st.devcfg[6] = (st.devcfg[6] & !1) | u8::from(up);
            self.config_changed(&mut st)
        };
        self.fire(v);
    }

    /// Sets `VIRTIO_NET_S_ANNOUNCE` (cleared when the driver sends ANNOUNCE_ACK).
    pub fn request_announce(&self) {
        let v = {
            let mut st = self.st();
            st.devcfg[6] |= 2;
            self.config_changed(&mut st)
        };
        self.fire(v);
    }

    fn config_changed(&self, st: &mut State) -> Option<u16> {
        st.generation = st.generation.wrapping_add(1);
        st.isr |= 2;
        let v = st.config_vector;
        if v != NO_VECTOR {
            if let Some(c) = st.interrupts.get_mut(usize::from(v)) {
                *c += 1;
            }
            Some(v)
        } else {
            None
        }
    }

    fn fire(&self, v: Option<u16>) {
        if let Some(v) = v {
            if let Ok(g) = self.shared.irq.lock() {
                if let Some(f) = g.as_ref() {
                    f(v);
                }
            }
        }
    }

    // ---- ring walking ------------------------------------------------------------

    fn next_chain(&self, st: &mut State, qi: u16) -> Result<Option<Chain>, FakeError> {
        let mem = &self.shared.mem;
        let q = st
            .queues
            .get(usize::from(qi))
            .filter(|q| q.enabled)
            .ok_or(FakeError::QueueNotReady(qi))?
            .clone();
        let avail_idx = mem.load16(q.driver + 2)?;
        if avail_idx == q.last_avail {
            return Ok(None);
        }
        let slot = u64::from(q.last_avail % q.size);
        let head = mem.load16(q.driver + 4 + 2 * slot)?;
        if head >= q.size {
            return Err(FakeError::BadChain);
        }
        let mut chain = Chain {
            head,
            readable: Vec::new(),
            writable: Vec::new(),
            indirect: false,
        };
        let mut table = q.desc;
        let mut table_len = q.size;
        let mut i = head;
        let mut steps = 0u32;
        loop {
            if i >= table_len || steps > u32::from(q.size) {
                return Err(FakeError::BadChain);
            }
            steps += 1;
            let base = table + 16 * u64::from(i);
            let addr = mem.read_u64(base)?;
            let mut b = [0u8; 8];
            mem.read(base + 8, &mut b)?;
            let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let flags = u16::from_le_bytes([b[4], b[5]]);
            let next = u16::from_le_bytes([b[6], b[7]]);
            if flags & DESC_F_INDIRECT != 0 {
                if chain.indirect || flags & DESC_F_NEXT != 0 || len % 16 != 0 || len == 0 {
                    return Err(FakeError::BadChain);
                }
                chain.indirect = true;
                table = addr;
                table_len = (len / 16) as u16;
                i = 0;
                continue;
            }
            if flags & DESC_F_WRITE != 0 {
                chain.writable.push((addr, len));
            } else {
                if !chain.writable.is_empty() {
                    return Err(FakeError::BadChain);
                }
                chain.readable.push((addr, len));
            }
            if flags & DESC_F_NEXT == 0 {
                break;
            }
            i = next;
        }
        if let Some(q) = st.queues.get_mut(usize::from(qi)) {
            q.last_avail = q.last_avail.wrapping_add(1);
        }
        // Like QEMU with EVENT_IDX: publish how far we consumed.
        if st.negotiated().contains(Features::RING_EVENT_IDX) {
            let last = st.queues.get(usize::from(qi)).map_or(0, |q| q.last_avail);
            mem.store16(q.device + 4 + 8 * u64::from(q.size), last)?;
        }
        Ok(Some(chain))
    }

    fn push_used(
        &self,
        st: &mut State,
        qi: u16,
        id: u16,
        len: u32,
    ) -> Result<Option<u16>, FakeError> {
        let mem = &self.shared.mem;
        let q = st
            .queues
            .get(usize::from(qi))
            .ok_or(FakeError::QueueNotReady(qi))?
            .clone();
        let corruption = st.mis.used.take();
        let (mut id, mut len) = (u32::from(id), len);
        match corruption {
            Some(UsedCorruption::IdOutOfRange) => id = u32::from(q.size) + 5,
            Some(UsedCorruption::LengthTooLarge(extra)) => len = len.saturating_add(extra),
            _ => {}
        }
        let mut idx = q.used_idx;
        let write = |idx: &mut u16, id: u32, len: u32| -> Result<(), FakeError> {
            let e = q.device + 4 + 8 * u64::from(*idx % q.size);
            mem.store32(e, id)?;
            mem.store32(e + 4, len)?;
            *idx = idx.wrapping_add(1);
            Ok(())
        };
        write(&mut idx, id, len)?;
        if corruption == Some(UsedCorruption::DuplicateCompletion) {
            write(&mut idx, id, len)?;
        }
        let mut published = idx;
        match corruption {
            Some(UsedCorruption::IndexJump(n)) => published = idx.wrapping_add(n),
            Some(UsedCorruption::IndexBackwards) => published = q.used_idx.wrapping_sub(1),
            _ => {}
        }
        mem.store16(q.device + 2, published)?;
        if let Some(qq) = st.queues.get_mut(usize::from(qi)) {
            qq.used_idx = idx;
        }
        // Interrupt decision (§2.7.7.2).
        let old = q.used_idx;
        let fire = if st.negotiated().contains(Features::RING_EVENT_IDX) {
            let ev = mem.load16(q.driver + 4 + 2 * u64::from(q.size))?;
            need_event(ev, idx, old)
        } else {
            mem.load16(q.driver)? & 1 == 0
        };
        if !fire {
            return Ok(None);
        }
        st.isr |= 1;
        if q.vector != NO_VECTOR {
            if let Some(c) = st.interrupts.get_mut(usize::from(q.vector)) {
                *c += 1;
            }
            return Ok(Some(q.vector));
        }
        Ok(None)
    }

    fn gather(&self, parts: &[(u64, u32)]) -> Result<Vec<u8>, FakeError> {
        let total: usize = parts.iter().map(|p| p.1 as usize).sum();
        if total > (1 << 20) {
            return Err(FakeError::BadChain);
        }
        let mut out = vec![0u8; total];
        let mut o = 0;
        for &(a, l) in parts {
            self.shared.mem.read(a, &mut out[o..o + l as usize])?;
            o += l as usize;
        }
        Ok(out)
    }

    fn record<T>(&self, st: &mut State, r: Result<T, FakeError>) -> Result<T, FakeError> {
        if let Err(e) = &r {
            st.last_error = Some(*e);
        }
        r
    }

    // ---- net device logic ---------------------------------------------------------

    /// Consumes every available TX chain of queue `q` and completes it (used len 0);
    /// returns the frames with their virtio headers.
    pub fn process_tx(&self, q: u16) -> Result<Vec<TxPacket>, FakeError> {
        let mut fired = Vec::new();
        let r = {
            let mut st = self.st();
            let r = self.process_tx_locked(&mut st, q, &mut fired);
            self.record(&mut st, r)
        };
        for v in fired {
            self.fire(Some(v));
        }
        r
    }

    fn process_tx_locked(
        &self,
        st: &mut State,
        q: u16,
        fired: &mut Vec<u16>,
    ) -> Result<Vec<TxPacket>, FakeError> {
        let hl = hdr_len(st.negotiated());
        let mut out = Vec::new();
        while let Some(chain) = self.next_chain(st, q)? {
            let bytes = self.gather(&chain.readable)?;
            let split = hl.min(bytes.len());
            out.push(TxPacket {
                hdr: bytes[..split].to_vec(),
                frame: bytes[split..].to_vec(),
                descriptors: chain.readable.len() + chain.writable.len(),
                indirect: chain.indirect,
            });
            if let Some(v) = self.push_used(st, q, chain.head, 0)? {
                fired.push(v);
            }
        }
        Ok(out)
    }

    /// Delivers one frame to RX queue `q`: `hdr` is the virtio-net header (its
    /// `num_buffers` field is filled by the device). With MRG_RXBUF the frame spreads
    /// over as many posted buffers as needed; otherwise it must fit one chain. Returns
    /// the number of buffers used.
    pub fn deliver_rx(&self, q: u16, hdr: &[u8], frame: &[u8]) -> Result<u16, FakeError> {
        let mut fired = Vec::new();
        let r = {
            let mut st = self.st();
            let r = self.deliver_rx_locked(&mut st, q, hdr, frame, &mut fired);
            self.record(&mut st, r)
        };
        for v in fired {
            self.fire(Some(v));
        }
        r
    }

    fn deliver_rx_locked(
        &self,
        st: &mut State,
        q: u16,
        hdr: &[u8],
        frame: &[u8],
        fired: &mut Vec<u16>,
    ) -> Result<u16, FakeError> {
        let f = st.negotiated();
        let hl = hdr_len(f);
        let mut data = vec![0u8; hl];
        let n = hdr.len().min(hl);
        data[..n].copy_from_slice(&hdr[..n]);
        data.extend_from_slice(frame);
        let mrg = f.contains(Features::MRG_RXBUF);
        // Check there is room first (don't consume buffers for a frame we drop).
        let saved = st.queues.get(usize::from(q)).map(|x| x.last_avail);
        let mut chains = Vec::new();
        let mut room = 0usize;
        while room < data.len() {
            match self.next_chain(st, q) {
                Ok(Some(c)) => {
                    room += c.writable.iter().map(|w| w.1 as usize).sum::<usize>();
                    chains.push(c);
                    if !mrg {
                        break;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        if room < data.len() || chains.is_empty() || chains.len() > usize::from(u16::MAX) {
            if let (Some(s), Some(qq)) = (saved, st.queues.get_mut(usize::from(q))) {
                qq.last_avail = s;
            }
            return Err(FakeError::NoBuffers);
        }
        if hl >= 12 {
            let nb = (chains.len() as u16).to_le_bytes();
            data[10] = nb[0];
            data[11] = nb[1];
        }
        let mut o = 0usize;
        let count = chains.len() as u16;
        for c in chains {
            let mut written = 0u32;
            for &(a, l) in &c.writable {
                if o >= data.len() {
                    break;
                }
                let take = (l as usize).min(data.len() - o);
                self.shared.mem.write(a, &data[o..o + take])?;
                o += take;
                written += take as u32;
            }
            if let Some(v) = self.push_used(st, q, c.head, written)? {
                fired.push(v);
            }
        }
        Ok(count)
    }

    /// Processes pending control commands on the control queue (index 2 × pairs).
    /// Called automatically on notify unless the control behaviour delays it.
    pub fn process_ctrl(&self) -> Result<usize, FakeError> {
        let mut fired = Vec::new();
        let r = {
            let mut st = self.st();
            let r = self.process_ctrl_locked(&mut st, &mut fired);
            self.record(&mut st, r)
        };
        for v in fired {
            self.fire(Some(v));
        }
        r
    }

    fn ctrl_index(st: &State) -> u16 {
        st.cfg.pairs.saturating_mul(2)
    }

    fn process_ctrl_locked(
        &self,
        st: &mut State,
        fired: &mut Vec<u16>,
    ) -> Result<usize, FakeError> {
        let qi = Self::ctrl_index(st);
        let mut n = 0;
        while let Some(chain) = self.next_chain(st, qi)? {
            let bytes = self.gather(&chain.readable)?;
            if bytes.len() >= 2 {
                let rec = CtrlRecord {
                    class: bytes[0],
                    cmd: bytes[1],
                    data: bytes[2..].to_vec(),
                };
                if rec.class == crate::ctrl::cmd::CLASS_ANNOUNCE
                    && st.ctrl_reply == crate::ctrl::VIRTIO_NET_OK
                {
                    st.devcfg[6] &= !2;
                }
                st.ctrl_log.push(rec);
            }
            let ack = st.ctrl_reply;
            let (id, len) = match st.mis.ctrl {
                CtrlBehavior::ZeroLength => (chain.head, 0),
                CtrlBehavior::WrongId => ((chain.head + 1) % st.cfg.queue_size.max(1), 1),
                _ => (chain.head, 1),
            };
            if let Some(&(a, _)) = chain.writable.first() {
                if len > 0 {
                    self.shared.mem.write(a, &[ack])?;
                }
            }
            if let Some(v) = self.push_used(st, qi, id, len)? {
                fired.push(v);
            }
            n += 1;
        }
        Ok(n)
    }

    fn on_notify(&self, queue: u16) {
        let mut fired = Vec::new();
        {
            let mut st = self.st();
            st.notifies += 1;
            if let Some(q) = st.queues.get_mut(usize::from(queue)) {
                q.notifications += 1;
            }
            let is_ctrl =
                st.negotiated().contains(Features::CTRL_VQ) && queue == Self::ctrl_index(&st);
            if is_ctrl {
                match st.mis.ctrl {
                    CtrlBehavior::NeverComplete => {}
                    CtrlBehavior::CompleteAfterStalls(n) => st.pending_ctrl_stalls = Some(n),
                    _ => {
                        let r = self.process_ctrl_locked(&mut st, &mut fired);
                        let _ = self.record(&mut st, r);
                    }
                }
            }
        }
        for v in fired {
            self.fire(Some(v));
        }
    }

    fn on_stall(&self) {
        let mut fired = Vec::new();
        {
            let mut st = self.st();
            st.stalls += 1;
            if let Some(n) = st.pending_ctrl_stalls {
                if n == 0 {
                    st.pending_ctrl_stalls = None;
                    let r = self.process_ctrl_locked(&mut st, &mut fired);
                    let _ = self.record(&mut st, r);
                } else {
                    st.pending_ctrl_stalls = Some(n - 1);
                }
            }
        }
        for v in fired {
            self.fire(Some(v));
        }
    }

    /// `stall_us` calls seen (bounded-wait tests).
    pub fn stalls(&self) -> u64 {
        self.st().stalls
    }

    fn reg_read(&self, bar: BarIndex, off: u64, width: u8) -> u32 {
        let mut st = self.st();
        let c = st.cfg.clone();
        let inside = |p: CapPlacement, len: u64| {
            p.bar == bar && off >= u64::from(p.offset) && off < u64::from(p.offset) + len
        };
        if inside(c.common, COMMON_LEN.min(u64::from(c.common.length))) {
            return st.common_read(off - u64::from(c.common.offset), width);
        }
        if inside(c.isr, 1) {
            let v = st.isr;
            st.isr = 0;
            return u32::from(v);
        }
        if inside(c.device, st.devcfg.len() as u64) {
            let o = (off - u64::from(c.device.offset)) as usize;
            let mut v = 0u32;
            for i in 0..usize::from(width) {
                v |= u32::from(st.devcfg.get(o + i).copied().unwrap_or(0)) << (8 * i);
            }
            return v;
        }
        0
    }

    fn reg_write(&self, bar: BarIndex, off: u64, width: u8, v: u32) {
        let notify = {
            let mut st = self.st();
            let c = st.cfg.clone();
            let inside = |p: CapPlacement, len: u64| {
                p.bar == bar && off >= u64::from(p.offset) && off < u64::from(p.offset) + len
            };
            if inside(c.common, COMMON_LEN.min(u64::from(c.common.length))) {
                st.common_write(off - u64::from(c.common.offset), width, v);
                None
            } else if inside(c.notify, u64::from(c.notify.length)) && width == 2 {
                Some(v as u16)
            } else {
                None
            }
        };
        if let Some(q) = notify {
            self.on_notify(q);
        }
    }
}

// SAFETY: register accesses are emulated (bounds irrelevant: unknown offsets read 0 and
// ignore writes); DMA memory comes from the fake arena, which is valid, page aligned and
// not aliased until freed; barriers use the default fences; device accesses to the arena
// are bounds-checked.
unsafe impl Hal for FakeNetDevice {
    fn bar_len(&self, bar: BarIndex) -> Option<u64> {
        match bar {
            FAKE_BAR => Some(FAKE_BAR_LEN),
            FAKE_MSIX_BAR => Some(0x1000),
            _ => None,
        }
    }
    unsafe fn read8(&self, bar: BarIndex, offset: u64) -> u8 {
        self.reg_read(bar, offset, 1) as u8
    }
    unsafe fn read16(&self, bar: BarIndex, offset: u64) -> u16 {
        self.reg_read(bar, offset, 2) as u16
    }
    unsafe fn read32(&self, bar: BarIndex, offset: u64) -> u32 {
        self.reg_read(bar, offset, 4)
    }
    unsafe fn write8(&self, bar: BarIndex, offset: u64, value: u8) {
        self.reg_write(bar, offset, 1, u32::from(value))
    }
    unsafe fn write16(&self, bar: BarIndex, offset: u64, value: u16) {
        self.reg_write(bar, offset, 2, u32::from(value))
    }
    unsafe fn write32(&self, bar: BarIndex, offset: u64, value: u32) {
        self.reg_write(bar, offset, 4, value)
    }
    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        self.shared.mem.alloc(len)
    }
    unsafe fn dma_free(&self, region: DmaRegion) {
        if !self.shared.mem.free(region) {
            self.st().last_error = Some(FakeError::BadAddress(BadAddress {
                addr: region.paddr,
                len: region.len,
            }));
        }
    }
    fn stall_us(&self, _us: u32) {
        self.on_stall();
    }
}

impl PciConfig for FakeNetDevice {
    fn read8(&self, offset: u16) -> u8 {
        self.st()
            .pci
            .get(usize::from(offset))
            .copied()
            .unwrap_or(0xFF)
    }
    fn write8(&self, offset: u16, value: u8) {
        // Only COMMAND (0x04..0x06) is writable; BARs are pre-programmed.
        if (0x04..0x06).contains(&offset) {
            if let Some(b) = self.st().pci.get_mut(usize::from(offset)) {
                *b = value;
            }
        }
    }
}

impl FakeNetDevice {
    /// A copy of the PCI configuration space.
    pub fn pci_snapshot(&self) -> [u8; 256] {
        self.st().pci
    }

    /// Overwrites raw PCI config bytes (hostile capability tests).
    pub fn poke_pci(&self, offset: u8, bytes: &[u8]) {
        let mut st = self.st();
        for (i, b) in bytes.iter().enumerate() {
            if let Some(p) = st.pci.get_mut(usize::from(offset) + i) {
                *p = *b;
            }
        }
    }

    /// Overwrites device-config bytes (hostile config values), bumping the generation.
    pub fn poke_config(&self, offset: u8, bytes: &[u8]) {
        let mut st = self.st();
        for (i, b) in bytes.iter().enumerate() {
            if let Some(p) = st.devcfg.get_mut(usize::from(offset) + i) {
                *p = *b;
            }
        }
        st.generation = st.generation.wrapping_add(1);
    }
}
