//! The virtio-net device as the control plane drives it: feature selection, bring-up (shared by
//! InitializeEx, ResetEx and D0), the control-queue commands with their error policy, and
//! [`AdapterControl`], the [`DeviceControl`] implementation the OID layer uses.
//!
//! Error policy for control commands (reference §6 #7, #6; NetKVM defects this driver avoids):
//! * `VIRTIO_NET_ERR` / an argument the device's limits refuse → the request fails (logged, counted);
//!   the adapter stays. During bring-up such a failure is logged and bring-up continues (the software
//!   filter in the datapath still applies).
//! * timeout, bogus ack, zero-length completion, ring protocol violation → the device is not trusted:
//!   a reset is requested through NDIS (CheckForHang / NdisMResetMiniport); the request fails with
//!   `NDIS_STATUS_DEVICE_FAILED`. If that reset fails, the adapter reports a hardware error.
//! * the feature a command needs was not negotiated → nothing to program on the host; success.

use core::sync::atomic::Ordering;

use ndis_sys as n;
use netkvm_core::offload::{self as core_offload, NdisVersion as CoreNdisVersion, OffloadPolicy};
use netkvm_core::params::Config;
use netkvm_virtio::ctrl::{
    ControlQueue, CtrlWait, RssConfig, RxMode, VlanFilter, DEFAULT_CTRL_BUFFER,
};
use netkvm_virtio::queue::QueueConfig;
use netkvm_virtio::transport::NO_VECTOR;
use netkvm_virtio::{CtrlError, Features, NetConfig, PciTransport, TransportError};

use super::{Adapter, FLAG_LOW_POWER};
use crate::datapath::{RssMode, RssSettings, RxFilter, MAX_INDIRECTION};
use crate::device::hal::{NdisHal, NdisPci};
use crate::log;
use crate::oid::ids::*;
use crate::oid::state::{ControlError, DeviceControl, LinkState, OidState, PowerState};

/// Feature bits the control plane itself wants (the offload/buffer group comes from netkvm-core).
pub const CONTROL_FEATURES: Features = Features::MAC
    .union(Features::MTU)
    .union(Features::STATUS)
    .union(Features::CTRL_VQ)
    .union(Features::CTRL_RX)
    .union(Features::CTRL_RX_EXTRA)
    .union(Features::GUEST_ANNOUNCE)
    .union(Features::MQ)
    .union(Features::CTRL_MAC_ADDR)
    .union(Features::SPEED_DUPLEX)
    .union(Features::INDIRECT_DESC)
    .union(Features::RING_EVENT_IDX)
    .union(Features::VERSION_1)
    .union(Features::ACCESS_PLATFORM)
    .union(Features::ORDER_PLATFORM);

/// Convert between the two `Features` types (same bit numbers: virtio 1.x §5.1.3).
pub fn to_core(f: Features) -> core_offload::Features {
    core_offload::Features::from_bits_retain(f.bits())
}

/// See [`to_core`].
pub fn from_core(f: core_offload::Features) -> Features {
    Features::from_bits_retain(f.bits())
}

/// The NDIS version as netkvm-core spells it.
pub fn core_version(v: n::NdisVersion) -> CoreNdisVersion {
    CoreNdisVersion {
        major: v.major,
        minor: v.minor,
    }
}

/// The features to ask for, before the transport's dependency sanitising.
///
/// * offloads and buffer layout: netkvm-core `wanted_features` (RSC_EXT not accepted by default);
/// * CTRL_VLAN only when the adapter filters one VLAN (`vlan_id != 0`): passing every VLAN needs no host
///   filter at all, which avoids NetKVM's 4095 `VLAN_ADD` commands (#1392);
/// * RSS only when `*RSS` is on (NetKVM negotiates it regardless, §8); HASH_REPORT never (the datapath
///   hashes in software);
/// * everything the control plane uses ([`CONTROL_FEATURES`]).
pub fn wanted_features(
    offered: Features,
    config: &Config,
    ndis: n::NdisVersion,
    vlan_id: u16,
) -> Features {
    let core = core_offload::wanted_features(
        to_core(offered),
        config,
        core_version(ndis),
        OffloadPolicy::default(),
    );
    let mut want = from_core(core) | CONTROL_FEATURES;
    if vlan_id != 0 {
        want |= Features::CTRL_VLAN;
    }
    if config.rss {
        want |= Features::RSS;
    }
    want & offered
}

/// Device health as CheckForHang / the worker see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// `NEEDS_RESET` in device_status.
    NeedsReset,
    /// device_status reads 0: the device reset itself.
    DeviceReset,
    /// All-ones: the device is gone.
    Gone,
    /// A control command timed out and the device still owns it.
    CtrlStuck,
}

/// Host-side RX mode last programmed (to send only changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RxModeMirror {
    promisc: bool,
    allmulti: bool,
    nouni: bool,
    nomulti: bool,
    nobcast: bool,
    unicast: Option<[u8; 6]>,
    multicast: [[u8; 6]; crate::datapath::MAX_MULTICAST],
    multicast_len: usize,
}

/// Why bring-up failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BringUpError {
    /// Transport-level failure.
    Transport(TransportError),
    /// The control queue could not be created.
    CtrlQueue(netkvm_virtio::QueueSetupError),
    /// A control command showed the device cannot be trusted.
    Ctrl(CtrlError),
    /// The datapath could not attach.
    Datapath(crate::datapath::DatapathError),
    /// After a reset the device negotiated features the datapath was not built for.
    FeaturesChanged {
        /// Features of the first negotiation.
        before: u64,
        /// Features now.
        now: u64,
    },
    /// No datapath / interrupt (bring-up order violated).
    NotReady,
}

impl BringUpError {
    /// The NDIS status InitializeEx fails with.
    pub fn status(&self) -> n::NDIS_STATUS {
        match self {
            BringUpError::Transport(TransportError::Dma(_) | TransportError::NoMemory)
            | BringUpError::Datapath(crate::datapath::DatapathError::NoMemory) => {
                n::NDIS_STATUS_RESOURCES
            }
            BringUpError::Transport(TransportError::NotVirtioNet { .. }) => {
                n::NDIS_STATUS_ADAPTER_NOT_FOUND
            }
            _ => n::NDIS_STATUS_DEVICE_FAILED,
        }
    }
}

impl From<TransportError> for BringUpError {
    fn from(e: TransportError) -> Self {
        BringUpError::Transport(e)
    }
}

/// The virtio-net device (transport, control queue, host-side filter mirrors).
pub struct Device {
    /// The modern PCI transport.
    pub transport: PciTransport<NdisHal>,
    /// The control queue (present with CTRL_VQ once brought up).
    pub ctrl: Option<ControlQueue<NdisHal>>,
    /// Features the device offers.
    pub offered: Features,
    /// Features negotiated (first negotiation; a reset must get the same layout-relevant bits).
    pub negotiated: Features,
    /// Device configuration read after negotiation.
    pub net: NetConfig,
    vlan: VlanFilter,
    rx_mode: Option<RxModeMirror>,
    mac_programmed: Option<[u8; 6]>,
}

/// Bits whose change after a reset would invalidate the datapath's buffers or header layout.
const LAYOUT_FEATURES: Features = Features::MRG_RXBUF
    .union(Features::GUEST_TSO4)
    .union(Features::GUEST_TSO6)
    .union(Features::GUEST_USO4)
    .union(Features::GUEST_USO6)
    .union(Features::HASH_REPORT)
    .union(Features::VERSION_1)
    .union(Features::MQ)
    .union(Features::RSS);

impl Device {
    /// Identifies the function, validates its capabilities and starts initialisation (reset,
    /// ACKNOWLEDGE, DRIVER). PASSIVE_LEVEL.
    pub fn open(hal: NdisHal, pci: &NdisPci) -> Result<Self, TransportError> {
        let mut transport = PciTransport::new(hal, pci)?;
        transport.begin_init()?;
        let offered = transport.device_features();
        Ok(Device {
            transport,
            ctrl: None,
            offered,
            negotiated: Features::empty(),
            net: NetConfig::default(),
            vlan: VlanFilter::new(),
            rx_mode: None,
            mac_programmed: None,
        })
    }

    /// Negotiates `wanted` (sanitised by netkvm-virtio) and reads the device configuration.
    pub fn negotiate(&mut self, wanted: Features) -> Result<Features, TransportError> {
        let got = self.transport.negotiate(wanted)?;
        self.negotiated = got;
        self.net = self.transport.read_net_config()?;
        Ok(got)
    }

    /// Queue pairs the device supports with what was negotiated.
    pub fn max_pairs(&self) -> u16 {
        if self
            .negotiated
            .intersects(Features::MQ.union(Features::RSS))
        {
            self.net.max_virtqueue_pairs.max(1)
        } else {
            1
        }
    }

    /// Index of the control queue (2 × max_virtqueue_pairs, virtio 1.x §5.1.2).
    pub fn ctrl_index(&self) -> u16 {
        self.max_pairs().saturating_mul(2)
    }

    /// Whether device RSS can be used: negotiated, and limits good enough for NDIS (40-byte key,
    /// 128-entry table, IPv4 hashing — NetKVM `ParaNdis6_CheckDeviceRSSCapabilities`).
    pub fn device_rss_usable(&self) -> bool {
        self.negotiated.contains(Features::RSS)
            && self.net.rss_max_key_size.unwrap_or(0) >= 40
            && self.net.rss_max_indirection_table_length.unwrap_or(0) >= MAX_INDIRECTION as u16
            && self.net.supported_hash_types.unwrap_or(0) & 0b11 == 0b11
    }

    /// The device's health (register reads only).
    pub fn health(&self) -> Result<(), Health> {
        match self.transport.check_device() {
            Ok(()) => {}
            Err(TransportError::DeviceGone) => return Err(Health::Gone),
            Err(TransportError::NeedsReset) => return Err(Health::NeedsReset),
            Err(_) => return Err(Health::DeviceReset),
        }
        if self.ctrl.as_ref().is_some_and(ControlQueue::is_stuck) {
            return Err(Health::CtrlStuck);
        }
        Ok(())
    }

    /// Resets the device (stops all DMA) and forgets everything programmed into it. The control queue is
    /// released (its ring memory is freed: PASSIVE_LEVEL).
    pub fn reset(&mut self) -> Result<(), TransportError> {
        let r = self.transport.reset();
        // After the reset (or its timeout: the device is then unusable anyway and is not given the
        // memory again) the control queue's memory can go.
        self.ctrl = None;
        self.vlan.clear();
        self.rx_mode = None;
        self.mac_programmed = None;
        r
    }

    /// Creates the control queue (before DRIVER_OK). It is polled, so it gets no MSI-X vector.
    pub fn create_ctrl(&mut self) -> Result<(), BringUpError> {
        if !self.negotiated.contains(Features::CTRL_VQ) {
            return Ok(());
        }
        let hal = *self.transport.hal();
        let cfg = QueueConfig {
            max_size: 64,
            indirect_max: 0,
            indirect_min: 2,
            event_idx: false,
        };
        let vector = self
            .negotiated
            .contains(Features::VERSION_1)
            .then_some(NO_VECTOR);
        // SAFETY: the queue is dropped only after a device reset (`reset`) or at teardown after the reset.
        let q = unsafe {
            self.transport
                .create_split_queue::<()>(self.ctrl_index(), cfg, vector)
        }
        .map_err(BringUpError::CtrlQueue)?;
        let buf = ControlQueue::<NdisHal>::alloc_buffer(&hal, DEFAULT_CTRL_BUFFER)
            .map_err(|e| BringUpError::CtrlQueue(netkvm_virtio::QueueSetupError::Queue(e)))?;
        self.ctrl = Some(ControlQueue::new(
            q,
            buf,
            self.negotiated,
            self.net,
            CtrlWait::default(),
        ));
        Ok(())
    }

    /// The control queue if the feature `f` (plus CTRL_VQ) was negotiated.
    fn ctrl_for(&mut self, f: Features) -> Option<&mut ControlQueue<NdisHal>> {
        if self.negotiated.contains(f.union(Features::CTRL_VQ)) {
            self.ctrl.as_mut()
        } else {
            None
        }
    }

    /// Host-side receive filtering: CTRL_RX modes (+ CTRL_RX_EXTRA) and the MAC table, sending only what
    /// changed since the last successful programming.
    fn program_rx(&mut self, f: &RxFilter, permanent: [u8; 6]) -> Result<u32, CtrlError> {
        let extra = self.negotiated.contains(Features::CTRL_RX_EXTRA);
        let mac_cmd = self.negotiated.contains(Features::CTRL_MAC_ADDR);
        let pf = f.packet_filter;
        let promisc = pf & NDIS_PACKET_TYPE_PROMISCUOUS != 0;
        let want = RxModeMirror {
            promisc,
            allmulti: pf & NDIS_PACKET_TYPE_ALL_MULTICAST != 0,
            nouni: extra && !promisc && pf & NDIS_PACKET_TYPE_DIRECTED == 0,
            nomulti: extra
                && !promisc
                && pf & (NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE_ALL_MULTICAST) == 0,
            nobcast: extra && !promisc && pf & NDIS_PACKET_TYPE_BROADCAST == 0,
            // Without CTRL_MAC_ADDR an administered address is added to the unicast table instead (the
            // device would otherwise drop frames to it; NetKVM ignores NetworkAddress in this case).
            unicast: (!mac_cmd && f.mac != permanent).then_some(f.mac),
            multicast: f.multicast,
            multicast_len: if pf & NDIS_PACKET_TYPE_MULTICAST != 0 {
                f.multicast_len
            } else {
                0
            },
        };
        let old = self.rx_mode;
        let Some(ctrl) = self.ctrl_for(Features::CTRL_RX) else {
            return Ok(0);
        };
        let mut sent = 0u32;
        let modes = [
            (
                RxMode::Promiscuous,
                want.promisc,
                old.map(|o| o.promisc),
                true,
            ),
            (
                RxMode::AllMulticast,
                want.allmulti,
                old.map(|o| o.allmulti),
                true,
            ),
            (RxMode::NoUnicast, want.nouni, old.map(|o| o.nouni), extra),
            (
                RxMode::NoMulticast,
                want.nomulti,
                old.map(|o| o.nomulti),
                extra,
            ),
            (
                RxMode::NoBroadcast,
                want.nobcast,
                old.map(|o| o.nobcast),
                extra,
            ),
        ];
        for (mode, on, before, available) in modes {
            if available && before != Some(on) {
                ctrl.set_rx_mode(mode, on)?;
                sent += 1;
            }
        }
        let table_changed = old.is_none_or(|o| {
            o.unicast != want.unicast
                || o.multicast_len != want.multicast_len
                || o.multicast.get(..o.multicast_len) != want.multicast.get(..want.multicast_len)
        });
        if table_changed {
            let uc: &[[u8; 6]] = match &want.unicast {
                Some(m) => core::slice::from_ref(m),
                None => &[],
            };
            let mc = want
                .multicast
                .get(..want.multicast_len.min(crate::datapath::MAX_MULTICAST))
                .unwrap_or(&[]);
            ctrl.set_mac_table(uc, mc)?;
            sent += 1;
        }
        self.rx_mode = Some(want);
        Ok(sent)
    }

    /// `CTRL_MAC_ADDR_SET` when the current address differs from what the device uses.
    fn program_mac(&mut self, mac: [u8; 6]) -> Result<u32, CtrlError> {
        let device_mac = self.mac_programmed.or(self.net.mac);
        if device_mac == Some(mac) {
            return Ok(0);
        }
        let Some(ctrl) = self.ctrl_for(Features::CTRL_MAC_ADDR) else {
            return Ok(0);
        };
        ctrl.set_mac_address(mac)?;
        self.mac_programmed = Some(mac);
        Ok(1)
    }

    /// VLAN filter (CTRL_VLAN only): exactly the configured id (+ VID 0 for priority-tagged frames),
    /// programmed as differences. Returns `Ok(None)` when the filter would have to pass every VLAN: that
    /// needs renegotiation without CTRL_VLAN (a reset), not 4095 commands.
    fn program_vlan(&mut self, f: &RxFilter) -> Result<Option<u32>, CtrlError> {
        if !self.negotiated.contains(Features::CTRL_VLAN) {
            return Ok(Some(0));
        }
        if f.vlan_id == 0 {
            return Ok(None);
        }
        // VID 0 too when priority tagging is on: priority-tagged frames carry VID 0.
        let ids = [f.vlan_id, 0];
        let n = if f.priority_vlan.priority { 2 } else { 1 };
        let Some(ctrl) = self.ctrl.as_mut() else {
            return Ok(Some(0));
        };
        self.vlan.sync(ctrl, ids.get(..n).unwrap_or(&[])).map(Some)
    }

    /// Guest offloads (`CTRL_GUEST_OFFLOADS_SET`).
    fn program_guest_offloads(&mut self, mask: u64) -> Result<u32, CtrlError> {
        let Some(ctrl) = self.ctrl_for(Features::CTRL_GUEST_OFFLOADS) else {
            return Ok(0);
        };
        ctrl.set_guest_offloads(Features::from_bits_retain(mask))?;
        Ok(1)
    }

    /// Device-side steering: `MQ_RSS_CONFIG` when device RSS is usable, else `MQ_VQ_PAIRS_SET` for
    /// multiple pairs.
    fn program_steering(&mut self, rss: &RssSettings, pairs: u16) -> Result<u32, CtrlError> {
        if self.device_rss_usable() {
            let supported = self.net.supported_hash_types.unwrap_or(0);
            let (types, table_len) = if rss.mode == RssMode::Full && rss.table_len > 0 {
                (
                    rss.hash_types.to_virtio() & supported,
                    usize::from(rss.table_len),
                )
            } else {
                (0, 1)
            };
            let mut table = [0u16; MAX_INDIRECTION];
            for (dst, src) in table.iter_mut().zip(rss.queue_table.iter()).take(table_len) {
                *dst = (*src).min(pairs.saturating_sub(1));
            }
            let key_len = usize::from(rss.key_len).min(rss.key.len());
            let cfg = RssConfig {
                hash_types: types,
                indirection_table: table.get(..table_len).unwrap_or(&[0]),
                unclassified_queue: rss.default_queue.min(pairs.saturating_sub(1)),
                max_tx_vq: pairs.max(1),
                key: rss.key.get(..key_len).unwrap_or(&[]),
            };
            let Some(ctrl) = self.ctrl.as_mut() else {
                return Ok(0);
            };
            ctrl.set_rss(&cfg)?;
            return Ok(1);
        }
        if pairs > 1 {
            if let Some(ctrl) = self.ctrl_for(Features::MQ) {
                ctrl.set_queue_pairs(pairs)?;
                return Ok(1);
            }
        }
        Ok(0)
    }

    /// `CTRL_ANNOUNCE_ACK`.
    pub fn announce_ack(&mut self) -> Result<u32, CtrlError> {
        let Some(ctrl) = self.ctrl_for(Features::GUEST_ANNOUNCE) else {
            return Ok(0);
        };
        ctrl.announce_ack()?;
        Ok(1)
    }
}

/// Link state from the device configuration (STATUS, SPEED_DUPLEX), NetKVM's defaults otherwise.
pub fn link_from_config(net: &NetConfig) -> LinkState {
    let connected = net.link_up.unwrap_or(true);
    LinkState {
        connect: if connected {
            n::MediaConnectStateConnected
        } else {
            n::MediaConnectStateDisconnected
        },
        duplex: match net.duplex {
            Some(netkvm_virtio::transport::Duplex::Half) => n::MediaDuplexStateHalf,
            _ => n::MediaDuplexStateFull,
        },
        speed_bps: net
            .speed_mbps
            .filter(|&s| s > 0)
            .map_or(LinkState::DEFAULT_SPEED_BPS, |s| u64::from(s) * 1_000_000),
    }
}

/// The [`DeviceControl`] of a live adapter: control queue + datapath + NDIS indications.
pub struct AdapterControl<'a> {
    adapter: &'a Adapter,
    dev: Option<&'a mut Device>,
}

impl<'a> AdapterControl<'a> {
    /// Side effects on `adapter` with its device (None: removed / failed / not brought up).
    pub fn new(adapter: &'a Adapter, dev: Option<&'a mut Device>) -> Self {
        Self { adapter, dev }
    }

    /// The device if it may be programmed now (not removed, failed or in D3).
    fn live(&mut self) -> Option<&mut Device> {
        if !self.adapter.device_usable() || self.adapter.has_flag(FLAG_LOW_POWER) {
            return None;
        }
        self.dev.as_deref_mut()
    }

    /// Applies the error policy to a control command result.
    fn policy<T>(&self, what: &str, r: Result<T, CtrlError>) -> Result<T, ControlError> {
        let c = &self.adapter.counters;
        match r {
            Ok(v) => Ok(v),
            Err(CtrlError::Unsupported { .. }) => Err(ControlError::Rejected),
            Err(e @ (CtrlError::DeviceRejected { .. } | CtrlError::InvalidArgument { .. })) => {
                c.ctrl_rejected.fetch_add(1, Ordering::Relaxed);
                log!(
                    Warn,
                    "{}: device refused ({:?}); request failed, adapter kept",
                    what,
                    e
                );
                Err(ControlError::Rejected)
            }
            Err(e @ CtrlError::TooLarge { .. }) => {
                c.ctrl_rejected.fetch_add(1, Ordering::Relaxed);
                log!(Warn, "{}: {:?}", what, e);
                Err(ControlError::Rejected)
            }
            Err(e) => {
                c.ctrl_failed.fetch_add(1, Ordering::Relaxed);
                log!(
                    Error,
                    "{}: control queue failure {:?}; requesting a reset",
                    what,
                    e
                );
                self.adapter.request_reset();
                Err(ControlError::DeviceFailed)
            }
        }
    }

    fn count(&self, n: u32) {
        self.adapter
            .counters
            .ctrl_commands
            .fetch_add(u64::from(n), Ordering::Relaxed);
    }
}

impl DeviceControl for AdapterControl<'_> {
    fn apply_rx_filter(&mut self, filter: &RxFilter) -> Result<(), ControlError> {
        let permanent = self.adapter.permanent_mac();
        if let Some(dev) = self.live() {
            let r = dev.program_rx(filter, permanent);
            let n = self.policy("receive filter", r)?;
            self.count(n);
        }
        if let Some(dp) = self.adapter.datapath.get() {
            dp.set_rx_filter(filter);
        }
        Ok(())
    }

    fn apply_vlan(&mut self, filter: &RxFilter) -> Result<(), ControlError> {
        if let Some(dev) = self.live() {
            let r = dev.program_vlan(filter);
            match self.policy("VLAN filter", r)? {
                Some(n) => self.count(n),
                None => {
                    log!(
                        Info,
                        "VLAN filter now passes every VLAN: renegotiating without CTRL_VLAN (reset)"
                    );
                    self.adapter.request_reset();
                }
            }
        }
        if let Some(dp) = self.adapter.datapath.get() {
            dp.set_rx_filter(filter);
        }
        Ok(())
    }

    fn flush_rsc(&mut self) {
        if let Some(dp) = self.adapter.datapath.get() {
            dp.flush_rsc();
        }
    }

    fn set_guest_offloads(&mut self, mask: u64) -> Result<(), ControlError> {
        if let Some(dev) = self.live() {
            let r = dev.program_guest_offloads(mask);
            let n = self.policy("guest offloads", r)?;
            self.count(n);
        }
        Ok(())
    }

    fn apply_offload(&mut self, state: &core_offload::OffloadState) {
        if let Some(dp) = self.adapter.datapath.get() {
            dp.set_offload(state);
        }
    }

    fn indicate_offload_config(&mut self, current: &core_offload::NdisOffload) {
        let mut o = crate::offload_ndis::to_ndis(current);
        let size = u32::from(o.Header.Size);
        self.adapter.indicate_status(
            n::NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
            core::ptr::addr_of_mut!(o).cast(),
            size,
        );
    }

    fn apply_rss(&mut self, rss: &RssSettings, device: bool) -> Result<(), ControlError> {
        let pairs = self
            .adapter
            .datapath
            .get()
            .map_or(1, crate::datapath::Datapath::pairs);
        if device {
            if let Some(dev) = self.live() {
                let r = dev.program_steering(rss, pairs);
                let n = self.policy("RSS configuration", r)?;
                self.count(n);
            }
        }
        if let Some(dp) = self.adapter.datapath.get() {
            dp.set_rss(rss);
        }
        Ok(())
    }

    fn set_power(&mut self, target: PowerState, state: &mut OidState) -> Result<(), ControlError> {
        match target {
            PowerState::D3 => {
                self.adapter.power_down(self.dev.as_deref_mut());
                Ok(())
            }
            PowerState::D0 => match self.dev.as_deref_mut() {
                Some(dev) => self.adapter.power_up(dev, state).map_err(|e| {
                    log!(Error, "D0: bring-up failed: {:?}", e);
                    ControlError::DeviceFailed
                }),
                None => Err(ControlError::DeviceFailed),
            },
        }
    }

    fn stats(&self) -> crate::datapath::DatapathStats {
        self.adapter
            .datapath
            .get()
            .map(crate::datapath::Datapath::stats)
            .unwrap_or_default()
    }
}

/// Programs everything the OID state says into a freshly brought-up device (InitializeEx, reset, D0).
/// Refusals are logged and skipped (the software filter still applies); a device that breaks the protocol
/// fails the bring-up.
pub fn restore(adapter: &Adapter, dev: &mut Device, state: &OidState) -> Result<(), BringUpError> {
    let pairs = adapter
        .datapath
        .get()
        .map_or(1, crate::datapath::Datapath::pairs);
    let filter = state.rx_filter();
    let rss = state.effective_rss();
    let guest = state.offload.initial_guest_offloads();
    let mut sent = 0u32;
    let mut step = |what: &str, r: Result<u32, CtrlError>| -> Result<(), BringUpError> {
        match r {
            Ok(n) => {
                sent += n;
                Ok(())
            }
            Err(CtrlError::DeviceRejected { .. } | CtrlError::InvalidArgument { .. })
            | Err(CtrlError::Unsupported { .. } | CtrlError::TooLarge { .. }) => {
                adapter
                    .counters
                    .ctrl_rejected
                    .fetch_add(1, Ordering::Relaxed);
                log!(Warn, "bring-up: device refused {}; continuing", what);
                Ok(())
            }
            Err(e) => {
                adapter.counters.ctrl_failed.fetch_add(1, Ordering::Relaxed);
                log!(Error, "bring-up: {} failed: {:?}", what, e);
                Err(BringUpError::Ctrl(e))
            }
        }
    };
    step("queue steering", dev.program_steering(&rss, pairs))?;
    if let Some(mask) = guest {
        step("guest offloads", dev.program_guest_offloads(mask))?;
    }
    step("MAC address", dev.program_mac(state.current_mac))?;
    step(
        "receive filter",
        dev.program_rx(&filter, state.permanent_mac),
    )?;
    match dev.program_vlan(&filter) {
        Ok(Some(n)) => sent += n,
        Ok(None) => log!(Warn, "bring-up: CTRL_VLAN negotiated without a VLAN id"),
        Err(e) => step("VLAN filter", Err(e))?,
    }
    adapter
        .counters
        .ctrl_commands
        .fetch_add(u64::from(sent), Ordering::Relaxed);
    if let Some(dp) = adapter.datapath.get() {
        dp.set_rx_filter(&filter);
        dp.set_offload(&state.offload);
        dp.set_rss(&rss);
        dp.set_link(state.link.connect == n::MediaConnectStateConnected);
    }
    Ok(())
}

/// Checks that a renegotiation after reset/D0 kept the layout the datapath was built for.
pub fn check_same_layout(before: Features, now: Features) -> Result<(), BringUpError> {
    if before & LAYOUT_FEATURES == now & LAYOUT_FEATURES {
        Ok(())
    } else {
        Err(BringUpError::FeaturesChanged {
            before: before.bits(),
            now: now.bits(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netkvm_core::params::KeyValueSource;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::read(&KeyValueSource::new(pairs)).0
    }

    const QEMU: Features = Features::CSUM
        .union(Features::GUEST_CSUM)
        .union(Features::CTRL_GUEST_OFFLOADS)
        .union(Features::MAC)
        .union(Features::GUEST_TSO4)
        .union(Features::GUEST_TSO6)
        .union(Features::HOST_TSO4)
        .union(Features::HOST_TSO6)
        .union(Features::MRG_RXBUF)
        .union(Features::STATUS)
        .union(Features::CTRL_VQ)
        .union(Features::CTRL_RX)
        .union(Features::CTRL_VLAN)
        .union(Features::CTRL_RX_EXTRA)
        .union(Features::GUEST_ANNOUNCE)
        .union(Features::MQ)
        .union(Features::CTRL_MAC_ADDR)
        .union(Features::INDIRECT_DESC)
        .union(Features::RING_EVENT_IDX)
        .union(Features::VERSION_1)
        .union(Features::HOST_USO)
        .union(Features::RSS)
        .union(Features::HASH_REPORT)
        .union(Features::RSC_EXT);

    #[test]
    fn ctrl_vlan_is_negotiated_only_for_a_specific_vlan_no_4095_command_storm() {
        let v = n::NdisVersion::V6_85;
        let c = cfg(&[]);
        assert!(!wanted_features(QEMU, &c, v, 0).contains(Features::CTRL_VLAN));
        assert!(wanted_features(QEMU, &c, v, 100).contains(Features::CTRL_VLAN));
    }

    #[test]
    fn hash_report_never_wanted_rsc_ext_acked_when_offered_rss_follows_the_keyword() {
        let v = n::NdisVersion::V6_85;
        let w = wanted_features(QEMU, &cfg(&[]), v, 0);
        assert!(!w.contains(Features::HASH_REPORT));
        assert!(
            w.contains(Features::RSC_EXT),
            "core policy: an RSC_EXT offer (guest_rsc_ext=on) is the host's opt-in"
        );
        assert!(w.contains(Features::RSS | Features::MQ | Features::CTRL_RX | Features::STATUS));
        let w = wanted_features(QEMU, &cfg(&[("*RSS", "0")]), v, 0);
        assert!(!w.contains(Features::RSS));
    }

    #[test]
    fn nothing_the_device_does_not_offer_is_wanted() {
        let offered = Features::VERSION_1 | Features::MAC | Features::CSUM;
        let w = wanted_features(offered, &cfg(&[]), n::NdisVersion::V6_85, 7);
        assert_eq!(w & !offered, Features::empty());
        assert!(w.contains(Features::CSUM | Features::MAC));
    }

    #[test]
    fn uso_is_not_wanted_below_ndis_683() {
        let c = cfg(&[]);
        assert!(!wanted_features(QEMU, &c, n::NdisVersion::V6_80, 0).contains(Features::HOST_USO));
        assert!(wanted_features(QEMU, &c, n::NdisVersion::V6_83, 0).contains(Features::HOST_USO));
    }

    #[test]
    fn link_defaults_to_connected_10g_full_and_follows_status_speed_duplex() {
        let l = link_from_config(&NetConfig::default());
        assert_eq!(l.connect, n::MediaConnectStateConnected);
        assert_eq!(l.speed_bps, 10_000_000_000);
        assert_eq!(l.duplex, n::MediaDuplexStateFull);
        let net = NetConfig {
            link_up: Some(false),
            speed_mbps: Some(2500),
            duplex: Some(netkvm_virtio::transport::Duplex::Half),
            ..NetConfig::default()
        };
        let l = link_from_config(&net);
        assert_eq!(l.connect, n::MediaConnectStateDisconnected);
        assert_eq!(l.speed_bps, 2_500_000_000);
        assert_eq!(l.duplex, n::MediaDuplexStateHalf);
        // Disconnected links report unknown speed and duplex to NDIS.
        let ls = l.to_ndis();
        assert_eq!(ls.XmitLinkSpeed, n::NET_IF_LINK_SPEED_UNKNOWN);
        assert_eq!(ls.MediaDuplexState, n::MediaDuplexStateUnknown);
        assert_eq!(
            (ls.Header.Type, ls.Header.Revision, ls.Header.Size),
            (0x80, 1, 40)
        );
    }

    #[test]
    fn a_reset_that_changes_buffer_layout_features_is_refused() {
        let a = Features::VERSION_1 | Features::MRG_RXBUF | Features::CSUM;
        assert!(check_same_layout(a, a | Features::HOST_TSO4).is_ok());
        assert!(check_same_layout(a, a - Features::MRG_RXBUF).is_err());
        assert!(check_same_layout(a, a | Features::GUEST_TSO4).is_err());
    }
}
