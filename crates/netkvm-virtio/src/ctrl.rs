//! virtio-net control virtqueue (virtio 1.x §5.1.6.5).
//!
//! One command at a time: header + data are built in a preallocated DMA buffer (one
//! device-readable descriptor; VERSION_1 implies free message framing, §2.6.4), the ack
//! byte sits in the same buffer (one device-writable descriptor). Completion is polled
//! with a bounded wait. The device is not trusted: a wrong completion, a bogus ack or
//! no completion at all are typed errors, and a command the device still owns blocks
//! further commands until [`ControlQueue::recover_after_reset`].

use crate::error::{CtrlError, QueueError};
use crate::features::Features;
use crate::hal::{DmaRegion, Hal};
use crate::queue::{Buffer, SplitQueue};
use crate::transport::NetConfig;

/// `VIRTIO_NET_OK`.
pub const VIRTIO_NET_OK: u8 = 0;
/// `VIRTIO_NET_ERR`.
pub const VIRTIO_NET_ERR: u8 = 1;

/// Command classes and commands (§5.1.6.5).
pub mod cmd {
    /// RX mode class.
    pub const CLASS_RX: u8 = 0;
    /// Promiscuous on/off.
    pub const RX_PROMISC: u8 = 0;
    /// All-multicast on/off.
    pub const RX_ALLMULTI: u8 = 1;
    /// All-unicast on/off (CTRL_RX_EXTRA).
    pub const RX_ALLUNI: u8 = 2;
    /// No-multicast on/off (CTRL_RX_EXTRA).
    pub const RX_NOMULTI: u8 = 3;
    /// No-unicast on/off (CTRL_RX_EXTRA).
    pub const RX_NOUNI: u8 = 4;
    /// No-broadcast on/off (CTRL_RX_EXTRA).
    pub const RX_NOBCAST: u8 = 5;
    /// MAC class.
    pub const CLASS_MAC: u8 = 1;
    /// Unicast + multicast filter tables.
    pub const MAC_TABLE_SET: u8 = 0;
    /// Current (default) MAC address.
    pub const MAC_ADDR_SET: u8 = 1;
    /// VLAN class.
    pub const CLASS_VLAN: u8 = 2;
    /// Add a VLAN id to the filter.
    pub const VLAN_ADD: u8 = 0;
    /// Remove a VLAN id from the filter.
    pub const VLAN_DEL: u8 = 1;
    /// Announce class.
    pub const CLASS_ANNOUNCE: u8 = 3;
    /// Acknowledge `VIRTIO_NET_S_ANNOUNCE`.
    pub const ANNOUNCE_ACK: u8 = 0;
    /// Multiqueue class.
    pub const CLASS_MQ: u8 = 4;
    /// Number of queue pairs in use.
    pub const MQ_VQ_PAIRS_SET: u8 = 0;
    /// RSS configuration.
    pub const MQ_RSS_CONFIG: u8 = 1;
    /// Hash-report configuration.
    pub const MQ_HASH_CONFIG: u8 = 2;
    /// Guest offloads class.
    pub const CLASS_GUEST_OFFLOADS: u8 = 5;
    /// Set the active guest offloads.
    pub const GUEST_OFFLOADS_SET: u8 = 0;
}

/// RX filtering modes (class `VIRTIO_NET_CTRL_RX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxMode {
    /// Receive everything.
    Promiscuous,
    /// Receive all multicast.
    AllMulticast,
    /// Receive all unicast (CTRL_RX_EXTRA).
    AllUnicast,
    /// Receive no multicast (CTRL_RX_EXTRA).
    NoMulticast,
    /// Receive no unicast (CTRL_RX_EXTRA).
    NoUnicast,
    /// Receive no broadcast (CTRL_RX_EXTRA).
    NoBroadcast,
}

impl RxMode {
    fn cmd(self) -> u8 {
        match self {
            RxMode::Promiscuous => cmd::RX_PROMISC,
            RxMode::AllMulticast => cmd::RX_ALLMULTI,
            RxMode::AllUnicast => cmd::RX_ALLUNI,
            RxMode::NoMulticast => cmd::RX_NOMULTI,
            RxMode::NoUnicast => cmd::RX_NOUNI,
            RxMode::NoBroadcast => cmd::RX_NOBCAST,
        }
    }
    fn needs_extra(self) -> bool {
        !matches!(self, RxMode::Promiscuous | RxMode::AllMulticast)
    }
}

/// Parameters of `VIRTIO_NET_CTRL_MQ_RSS_CONFIG` (`struct virtio_net_rss_config`, §5.1.6.5.7).
#[derive(Debug, Clone, Copy)]
pub struct RssConfig<'a> {
    /// `VIRTIO_NET_HASH_TYPE_*` mask (⊆ `supported_hash_types`).
    pub hash_types: u32,
    /// Receive queue numbers (`rss_rq_id`: 0-based, i.e. virtqueue index / 2); length a
    /// power of two ≤ `rss_max_indirection_table_length`; every entry below
    /// `max_virtqueue_pairs` (the caller keeps them below the pairs it enabled).
    pub indirection_table: &'a [u16],
    /// Receive queue for unclassified packets.
    pub unclassified_queue: u16,
    /// Transmit queues the device may use (1..=max_virtqueue_pairs).
    pub max_tx_vq: u16,
    /// Toeplitz key (≤ `rss_max_key_size`).
    pub key: &'a [u8],
}

/// Limits of the control queue's polling wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtrlWait {
    /// Polls before [`CtrlError::Timeout`].
    pub polls: u32,
    /// Stall between polls, µs.
    pub interval_us: u32,
}

impl Default for CtrlWait {
    /// NetKVM waits ~0.5 s (500 000 × 1 µs); this waits the same time with coarser steps.
    fn default() -> Self {
        CtrlWait {
            polls: 50_000,
            interval_us: 10,
        }
    }
}

/// Default command buffer size: a page holds a 128-entry RSS table with a 40-byte key, or
/// a MAC table of ~680 addresses.
pub const DEFAULT_CTRL_BUFFER: usize = 4096;

/// Sequential writer into the command buffer, bounded by the command length.
struct CmdWriter<'a> {
    buf: DmaRegion,
    pos: usize,
    limit: usize,
    _life: core::marker::PhantomData<&'a mut ()>,
}

impl CmdWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if end > self.limit {
            // Caller computed the length wrongly: mark overflow, `send_with` rejects it.
            self.pos = usize::MAX;
            return;
        }
        // SAFETY: pos..end ≤ limit < buf.len lies in the command buffer, which the device
        // does not own while a command is being built.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.buf.vaddr.as_ptr().wrapping_add(self.pos),
                bytes.len(),
            )
        };
        self.pos = end;
    }
}

/// The control virtqueue and its preallocated command buffer.
pub struct ControlQueue<H: Hal> {
    queue: SplitQueue<H, ()>,
    buf: DmaRegion,
    features: Features,
    limits: NetConfig,
    wait: CtrlWait,
    stuck: bool,
}

impl<H: Hal> core::fmt::Debug for ControlQueue<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ControlQueue")
            .field("queue", &self.queue)
            .field("stuck", &self.stuck)
            .finish()
    }
}

impl<H: Hal> ControlQueue<H> {
    /// Allocates the command buffer (`capacity` bytes, at least 64; see
    /// [`DEFAULT_CTRL_BUFFER`]) from `hal`.
    pub fn alloc_buffer(hal: &H, capacity: usize) -> Result<DmaRegion, QueueError> {
        Ok(hal.dma_alloc(capacity.max(64))?)
    }

    /// Wraps an activated split queue (the control queue's index is `2 × max_pairs`, or 2
    /// without MQ) and a command buffer from [`ControlQueue::alloc_buffer`] (owned from
    /// now on, freed on drop). `features` are the negotiated features, `limits` the device
    /// config (RSS limits, pairs) used to validate arguments before sending.
    pub fn new(
        queue: SplitQueue<H, ()>,
        buf: DmaRegion,
        features: Features,
        limits: NetConfig,
        wait: CtrlWait,
    ) -> Self {
        ControlQueue {
            queue,
            buf,
            features,
            limits,
            wait,
            stuck: false,
        }
    }

    /// The underlying queue (index, addresses for re-activation).
    pub fn queue(&self) -> &SplitQueue<H, ()> {
        &self.queue
    }

    /// Whether a timed-out command is still owned by the device.
    pub fn is_stuck(&self) -> bool {
        self.stuck
    }

    /// After a device reset: takes the outstanding command back and resets the ring so
    /// the queue can be activated again.
    ///
    /// # Safety
    ///
    /// The device was reset (it no longer accesses the queue or the command buffer).
    pub unsafe fn recover_after_reset(&mut self) {
        // SAFETY: forwarded contract.
        unsafe { self.queue.detach_unused(|()| {}) };
        self.stuck = false;
    }

    /// Updates the limits used to validate commands (after a config change).
    pub fn set_limits(&mut self, features: Features, limits: NetConfig) {
        self.features = features;
        self.limits = limits;
    }

    fn require(&self, f: Features, class: u8, c: u8) -> Result<(), CtrlError> {
        if self.features.contains(f.union(Features::CTRL_VQ)) {
            Ok(())
        } else {
            Err(CtrlError::Unsupported { class, cmd: c })
        }
    }

    /// Sends one command: `data` parts are concatenated after the 2-byte header.
    fn send(&mut self, class: u8, c: u8, data: &[&[u8]]) -> Result<(), CtrlError> {
        let len = data.iter().map(|d| d.len()).sum::<usize>();
        self.send_with(class, c, len, |w| {
            for d in data {
                w.put(d);
            }
        })
    }

    /// Sends one command whose `len` data bytes `fill` writes into the command buffer
    /// (no intermediate copy, no large stack buffers: kernel stacks are small).
    fn send_with(
        &mut self,
        class: u8,
        c: u8,
        len: usize,
        fill: impl FnOnce(&mut CmdWriter<'_>),
    ) -> Result<(), CtrlError> {
        if self.stuck {
            return Err(CtrlError::Stuck);
        }
        let total = len.saturating_add(2);
        // Command at 0, ack byte at the end of the buffer (its own descriptor).
        let capacity = self.buf.len.saturating_sub(1);
        if total > capacity {
            return Err(CtrlError::TooLarge {
                len: total,
                capacity,
            });
        }
        let mut w = CmdWriter {
            buf: self.buf,
            pos: 0,
            limit: total,
            _life: core::marker::PhantomData,
        };
        w.put(&[class, c]);
        fill(&mut w);
        if w.pos != total {
            return Err(CtrlError::InvalidArgument { class, cmd: c });
        }
        let ack_ptr = self.buf.vaddr.as_ptr().wrapping_add(capacity);
        // SAFETY: `capacity` = buf.len - 1 is inside the buffer, which the device does not
        // own now; sentinel 0xFF shows an ack the device never wrote.
        unsafe { ack_ptr.write_volatile(0xFF) };
        let bufs = [
            Buffer::readable(self.buf.paddr, total as u32),
            Buffer::writable(self.buf.paddr + capacity as u64, 1),
        ];
        // SAFETY: both buffers lie in our DMA allocation, which lives as long as `self`
        // and is not touched by the CPU until the command is popped or recovered.
        unsafe { self.queue.add(bufs, ())? };
        self.queue.publish_and_notify();
        let mut polls = 0u32;
        let used = loop {
            if let Some(u) = self.queue.pop_used()? {
                break u;
            }
            if polls >= self.wait.polls {
                self.stuck = true;
                return Err(CtrlError::Timeout { class, cmd: c });
            }
            polls += 1;
            self.queue.hal().stall_us(self.wait.interval_us);
        };
        if used.len == 0 {
            return Err(CtrlError::BogusCompletion { len: used.len });
        }
        // SAFETY: the device returned the buffer (popped), so reading the ack is ours.
        let ack = unsafe { ack_ptr.read_volatile() };
        match ack {
            VIRTIO_NET_OK => Ok(()),
            VIRTIO_NET_ERR => Err(CtrlError::DeviceRejected { class, cmd: c }),
            other => Err(CtrlError::BogusReply {
                class,
                cmd: c,
                ack: other,
            }),
        }
    }

    /// `VIRTIO_NET_CTRL_RX_*`: switch an RX mode on or off (CTRL_RX; extra modes need
    /// CTRL_RX_EXTRA).
    pub fn set_rx_mode(&mut self, mode: RxMode, on: bool) -> Result<(), CtrlError> {
        let need = if mode.needs_extra() {
            Features::CTRL_RX.union(Features::CTRL_RX_EXTRA)
        } else {
            Features::CTRL_RX
        };
        self.require(need, cmd::CLASS_RX, mode.cmd())?;
        self.send(cmd::CLASS_RX, mode.cmd(), &[&[u8::from(on)]])
    }

    /// `VIRTIO_NET_CTRL_MAC_TABLE_SET`: unicast and multicast filter tables
    /// (two `struct virtio_net_ctrl_mac`, §5.1.6.5.2). Needs CTRL_RX.
    pub fn set_mac_table(
        &mut self,
        unicast: &[[u8; 6]],
        multicast: &[[u8; 6]],
    ) -> Result<(), CtrlError> {
        self.require(Features::CTRL_RX, cmd::CLASS_MAC, cmd::MAC_TABLE_SET)?;
        let uc_n = (unicast.len() as u32).to_le_bytes();
        let mc_n = (multicast.len() as u32).to_le_bytes();
        let uc = unicast.as_flattened();
        let mc = multicast.as_flattened();
        self.send(cmd::CLASS_MAC, cmd::MAC_TABLE_SET, &[&uc_n, uc, &mc_n, mc])
    }

    /// `VIRTIO_NET_CTRL_MAC_ADDR_SET` (CTRL_MAC_ADDR).
    pub fn set_mac_address(&mut self, mac: [u8; 6]) -> Result<(), CtrlError> {
        self.require(Features::CTRL_MAC_ADDR, cmd::CLASS_MAC, cmd::MAC_ADDR_SET)?;
        self.send(cmd::CLASS_MAC, cmd::MAC_ADDR_SET, &[&mac])
    }

    /// `VIRTIO_NET_CTRL_VLAN_ADD` / `_DEL` for one id 0..=4095 (CTRL_VLAN).
    pub fn vlan(&mut self, vid: u16, add: bool) -> Result<(), CtrlError> {
        let c = if add { cmd::VLAN_ADD } else { cmd::VLAN_DEL };
        self.require(Features::CTRL_VLAN, cmd::CLASS_VLAN, c)?;
        if vid > 4095 {
            return Err(CtrlError::InvalidArgument {
                class: cmd::CLASS_VLAN,
                cmd: c,
            });
        }
        self.send(cmd::CLASS_VLAN, c, &[&vid.to_le_bytes()])
    }

    /// `VIRTIO_NET_CTRL_ANNOUNCE_ACK` (GUEST_ANNOUNCE), after sending the gratuitous
    /// packets for `VIRTIO_NET_S_ANNOUNCE`.
    pub fn announce_ack(&mut self) -> Result<(), CtrlError> {
        self.require(
            Features::GUEST_ANNOUNCE,
            cmd::CLASS_ANNOUNCE,
            cmd::ANNOUNCE_ACK,
        )?;
        self.send(cmd::CLASS_ANNOUNCE, cmd::ANNOUNCE_ACK, &[])
    }

    /// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET` (MQ): 1..=`max_virtqueue_pairs`.
    pub fn set_queue_pairs(&mut self, pairs: u16) -> Result<(), CtrlError> {
        self.require(Features::MQ, cmd::CLASS_MQ, cmd::MQ_VQ_PAIRS_SET)?;
        if pairs == 0 || pairs > self.limits.max_virtqueue_pairs {
            return Err(CtrlError::InvalidArgument {
                class: cmd::CLASS_MQ,
                cmd: cmd::MQ_VQ_PAIRS_SET,
            });
        }
        self.send(cmd::CLASS_MQ, cmd::MQ_VQ_PAIRS_SET, &[&pairs.to_le_bytes()])
    }

    /// `VIRTIO_NET_CTRL_MQ_RSS_CONFIG` (RSS), validated against the device's limits:
    /// table length a power of two ≤ `rss_max_indirection_table_length`, key ≤
    /// `rss_max_key_size`, hash types ⊆ `supported_hash_types`, queue numbers <
    /// `max_virtqueue_pairs`, `max_tx_vq` in 1..=`max_virtqueue_pairs`.
    pub fn set_rss(&mut self, rss: &RssConfig<'_>) -> Result<(), CtrlError> {
        const C: u8 = cmd::MQ_RSS_CONFIG;
        self.require(Features::RSS, cmd::CLASS_MQ, C)?;
        let bad = CtrlError::InvalidArgument {
            class: cmd::CLASS_MQ,
            cmd: C,
        };
        let pairs = self.limits.max_virtqueue_pairs;
        let n = rss.indirection_table.len();
        let max_n = usize::from(self.limits.rss_max_indirection_table_length.unwrap_or(0));
        let max_key = usize::from(self.limits.rss_max_key_size.unwrap_or(0));
        let supported = self.limits.supported_hash_types.unwrap_or(0);
        if n == 0
            || !n.is_power_of_two()
            || n > max_n
            || rss.key.len() > max_key
            || rss.hash_types & !supported != 0
            || rss.unclassified_queue >= pairs
            || rss.max_tx_vq == 0
            || rss.max_tx_vq > pairs
            || rss.indirection_table.iter().any(|&q| q >= pairs)
        {
            return Err(bad);
        }
        let len = 8 + 2 * n + 3 + rss.key.len();
        self.send_with(cmd::CLASS_MQ, C, len, |w| {
            w.put(&rss.hash_types.to_le_bytes());
            w.put(&((n - 1) as u16).to_le_bytes());
            w.put(&rss.unclassified_queue.to_le_bytes());
            for q in rss.indirection_table {
                w.put(&q.to_le_bytes());
            }
            w.put(&rss.max_tx_vq.to_le_bytes());
            w.put(&[rss.key.len() as u8]);
            w.put(rss.key);
        })
    }

    /// `VIRTIO_NET_CTRL_MQ_HASH_CONFIG` (HASH_REPORT): hash types and key for reporting.
    pub fn set_hash_config(&mut self, hash_types: u32, key: &[u8]) -> Result<(), CtrlError> {
        const C: u8 = cmd::MQ_HASH_CONFIG;
        self.require(Features::HASH_REPORT, cmd::CLASS_MQ, C)?;
        let max_key = usize::from(self.limits.rss_max_key_size.unwrap_or(0));
        let supported = self.limits.supported_hash_types.unwrap_or(0);
        if key.len() > max_key || hash_types & !supported != 0 {
            return Err(CtrlError::InvalidArgument {
                class: cmd::CLASS_MQ,
                cmd: C,
            });
        }
        let mut head = [0u8; 13];
        head[..4].copy_from_slice(&hash_types.to_le_bytes());
        // reserved[4] stay zero.
        head[12] = key.len() as u8;
        self.send(cmd::CLASS_MQ, C, &[&head, key])
    }

    /// `VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET` (CTRL_GUEST_OFFLOADS): the 64-bit mask of
    /// guest offloads to enable; must be a subset of the negotiated
    /// [`Features::GUEST_OFFLOADS`] bits (this is how RSC is switched at run time).
    pub fn set_guest_offloads(&mut self, offloads: Features) -> Result<(), CtrlError> {
        const C: u8 = cmd::GUEST_OFFLOADS_SET;
        self.require(Features::CTRL_GUEST_OFFLOADS, cmd::CLASS_GUEST_OFFLOADS, C)?;
        let allowed = self.features.intersection(Features::GUEST_OFFLOADS);
        if !allowed.contains(offloads) {
            return Err(CtrlError::InvalidArgument {
                class: cmd::CLASS_GUEST_OFFLOADS,
                cmd: C,
            });
        }
        self.send(
            cmd::CLASS_GUEST_OFFLOADS,
            C,
            &[&offloads.bits().to_le_bytes()],
        )
    }
}

impl<H: Hal> Drop for ControlQueue<H> {
    fn drop(&mut self) {
        // SAFETY: `buf` came from the queue's hal; the same contract as the queue's own
        // drop applies (the device no longer uses it once the queue may be dropped).
        unsafe { self.queue.hal().dma_free(self.buf) };
    }
}

/// A mirror of the device's VLAN filter table that programs only differences.
///
/// Why this exists (NetKVM #1392): with CTRL_VLAN negotiated QEMU starts with an empty
/// table and drops every tagged frame whose id is not in it; NetKVM then sends 4095
/// `VLAN_ADD` commands to pass everything. Without CTRL_VLAN the device passes all VLANs.
/// So: negotiate CTRL_VLAN only when the driver filters on specific ids
/// ([`VlanFilter::wants_ctrl_vlan`]); when every VLAN must pass, leave it out and send no
/// VLAN command at all. If the configuration later switches to "all" on a device that
/// negotiated CTRL_VLAN, [`VlanFilter::sync`] still works (it would add every id), but
/// the better answer is to renegotiate on the next reset; [`VlanFilter::commands_needed`]
/// tells the caller the cost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanFilter {
    bits: [u64; 64],
}

impl Default for VlanFilter {
    fn default() -> Self {
        VlanFilter { bits: [0; 64] }
    }
}

impl VlanFilter {
    /// Empty table (the device's state after reset with CTRL_VLAN).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether CTRL_VLAN should be negotiated for a driver that filters on `ids`
    /// (`None` = pass every VLAN). Passing every VLAN needs no filter at all.
    pub fn wants_ctrl_vlan(ids: Option<&[u16]>) -> bool {
        ids.is_some()
    }

    /// Whether `vid` is in the table.
    pub fn contains(&self, vid: u16) -> bool {
        let v = usize::from(vid & 0xFFF);
        // v / 64 < 64 = bits.len(): the lookup always succeeds.
        self.bits
            .get(v / 64)
            .is_some_and(|w| w & (1 << (v % 64)) != 0)
    }

    fn set(&mut self, vid: u16, on: bool) {
        let v = usize::from(vid & 0xFFF);
        // v / 64 < 64 = bits.len(): the lookup always succeeds.
        if let Some(w) = self.bits.get_mut(v / 64) {
            if on {
                *w |= 1 << (v % 64);
            } else {
                *w &= !(1 << (v % 64));
            }
        }
    }

    fn target(ids: &[u16]) -> VlanFilter {
        let mut t = VlanFilter::new();
        for &v in ids {
            if v <= 4095 {
                t.set(v, true);
            }
        }
        t
    }

    /// Number of ADD/DEL commands [`VlanFilter::sync`] would send to reach `ids`.
    pub fn commands_needed(&self, ids: &[u16]) -> u32 {
        let t = Self::target(ids);
        self.bits
            .iter()
            .zip(t.bits.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Sends only the ADD/DEL commands that turn the device table into `ids` (ids above
    /// 4095 are ignored), updating the mirror after each acknowledged command so that a
    /// failure leaves the mirror equal to the device.
    pub fn sync<H: Hal>(
        &mut self,
        ctrl: &mut ControlQueue<H>,
        ids: &[u16],
    ) -> Result<u32, CtrlError> {
        let t = Self::target(ids);
        let mut sent = 0u32;
        for vid in 0u16..4096 {
            let want = t.contains(vid);
            if want != self.contains(vid) {
                ctrl.vlan(vid, want)?;
                self.set(vid, want);
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Forgets the mirror (after a device reset the device's table is empty again).
    pub fn clear(&mut self) {
        self.bits = [0; 64];
    }
}
