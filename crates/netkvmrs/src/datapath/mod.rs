//! The datapath seam: everything between `MiniportSendNetBufferLists` / the interrupt DPCs /
//! `MiniportReturnNetBufferLists` and the virtio rings lives behind [`Datapath`]. The control plane
//! (crate::adapter) creates it, attaches it to the device, pushes configuration into it and calls it from
//! the NDIS handlers listed below; it owns nothing of the datapath's memory.
//!
//! The implementation lives in the submodules: `tx` (send path), `rx` (receive path), `steer` (RSS
//! steering and transmit queue selection), `config` (configuration snapshots), `filter` (software
//! receive filter), `stats` (per-queue counters), `mem` (DMA memory), `nbl` (every raw NDIS
//! structure access). The signatures and the contract below are what the control plane relies on —
//! changing them is a change to both sides.
//!
//! # Design in brief
//! * **Per pair, no shared hot state.** Each queue pair has its own TX and RX state behind its own spin
//!   locks; configuration reaches the DPCs as generation-numbered snapshots (`config`) that a DPC copies
//!   once per round, and counters are single-writer per queue (`stats`), summed only when asked.
//! * **DPC round** ([`Datapath::process`]): steered NBLs queued for this processor first, then TX
//!   completions, then up to `budget` receives in rounds of `rx::RX_BATCH` used buffers (one lock
//!   hold to pop a round, one to refill; software RSC across the round; one indication per round).
//!   A ring's interrupts are re-enabled when it is found empty and it is checked once more afterwards
//!   (no lost wake-up); a DPC that finds the pair's receive ring busy on another processor leaves a
//!   note for that one to go again instead of spinning.
//! * **No allocation per packet.** RX buffers, MDLs (one per page) and NBLs, TX slots, SG-list storage
//!   and the bounce buffer are allocated at the first attach and survive reset/D3 (indicated NBLs may be
//!   outstanding).
//! * **TX**: small frames are copied into a pre-mapped 2 KiB slot (one descriptor); large ones are
//!   mapped with `NdisMAllocateNetBufferSGList` into the driver's own list storage and go out zero-copy
//!   (GSO on the device, or software segmentation with headers in slots); see `tx`.
//! * **RX**: mergeable buffers of 4 KiB, or 16 KiB when the host may deliver coalesced frames, plus a
//!   reserve beyond the ring so that buffers the stack holds do not starve the ring; see `rx`.
//! * **RSS**: the device picks the queue; the datapath makes sure each frame is indicated on the
//!   processor NDIS's indirection table names and picks transmit queues by the NBL hash; see `steer`.
//!
//! # Contract
//!
//! ## Lifecycle (who calls what, at which IRQL)
//!
//! | call | caller (handler) | IRQL | device state |
//! |---|---|---|---|
//! | [`Datapath::new`] | InitializeEx | PASSIVE | features negotiated, no queue created |
//! | [`Datapath::attach`] | InitializeEx, reset worker, D0 | PASSIVE | after negotiation and config vector, **before** DRIVER_OK |
//! | [`Datapath::start`] | RestartEx, reset worker / D0 if the adapter was running | PASSIVE | after DRIVER_OK |
//! | [`Datapath::set_gate`] | PauseEx, ResetEx, surprise removal, D3, Halt | <= DISPATCH | any |
//! | [`Datapath::detach`] | reset worker, D3, Halt, failed init | PASSIVE | the device was **reset** (no DMA any more) or is gone |
//! | drop | Halt, failed InitializeEx | PASSIVE | detached; every indicated receive NBL returned (NDIS guarantees this at Halt) |
//!
//! `attach` → (`start` → running → `set_gate(Paused)` → drained)* → `detach` may repeat any number of times
//! on one `Datapath` (reset, D3/D0): memory that holds data the stack still owns (indicated receives) must
//! survive `detach`/`attach`.
//!
//! ## Per-packet entry points
//!
//! | call | caller | IRQL | notes |
//! |---|---|---|---|
//! | [`Datapath::send`] | MiniportSendNetBufferLists | <= DISPATCH (`NDIS_SEND_FLAGS_DISPATCH_LEVEL`) | every NBL completed exactly once with `NdisMSendNetBufferListsComplete`; while the gate is not [`Gate::Running`] complete at once with [`Gate::send_status`] |
//! | [`Datapath::return_nbls`] | MiniportReturnNetBufferLists | <= DISPATCH | recycle, refill, kick |
//! | [`Datapath::cancel_send`] | MiniportCancelSend | <= DISPATCH | complete queued (not yet posted) NBLs with that cancel id with `NDIS_STATUS_SEND_ABORTED` |
//! | [`Datapath::on_interrupt`] | MiniportMessageInterrupt / MiniportInterrupt | DIRQL | may only touch ring memory of that queue (suppress further interrupts); no locks, no NDIS calls |
//! | [`Datapath::process`] | MiniportMessageInterruptDPC / MiniportInterruptDPC | DISPATCH | TX completions + RX indications of one pair, at most `budget` receive NBLs; re-enable interrupts when done |
//! | [`Datapath::abort_all`] | surprise removal, reset, Halt | <= DISPATCH | complete every NBL the datapath still owns and that is not in the rings |
//! | [`Datapath::send_internal`] | control worker (guest announce) | <= DISPATCH | one frame built by the control plane (gratuitous ARP / NS) |
//!
//! The control plane guarantees: `process(pair)` is never called concurrently for the same pair (one
//! message per pair, NDIS serialises a message's DPC); `send`/`return_nbls` may run concurrently with
//! everything and on several CPUs; `attach`/`detach`/`start`/drop are serialised with each other by the
//! control plane and never run concurrently with `process` of an attached pair **only** in the sense that
//! the device was reset first (no new interrupts) — a DPC already queued may still run, so `detach` must
//! synchronise with a `process` in flight (per-pair lock).
//!
//! ## Pause / drain
//! PauseEx calls `set_gate(Paused)` and then polls [`Datapath::is_drained`] (after every `process`,
//! `return_nbls` and `send` it handled) until every send NBL the datapath was given has been completed and
//! every receive NBL it indicated has been returned; then it completes the pause with
//! `NdisMPauseComplete`. The datapath must not indicate receives while the gate is not `Running`.
//!
//! ## Device faults
//! A typed error from netkvm-virtio on a ring (hostile device: used id out of range, length beyond the
//! buffer, index jump …) is returned in [`ProcessOutcome::fault`]: the control plane requests a reset
//! through NDIS (`NdisMResetMiniport`) and the datapath keeps the stopped queue untouched until `detach`.
//! Per-packet anomalies (bad header, bad GSO fields, mergeable count too large, RSC count 0) are dropped and
//! counted by the datapath itself and are not faults.
//!
//! ## Memory ownership
//! * The datapath owns: RX buffers and their MDL/NBL pools, TX descriptors/header pages, SG list storage,
//!   the virtqueues of the data pairs (created by `attach` with [`PciTransport::create_split_queue`], dropped
//!   by `detach` after the device reset or reused).
//! * The control plane owns: the transport, the control queue, BAR mappings, the interrupt and the SG DMA
//!   registration (handles passed in [`DatapathEnv`], valid from `new` until drop).
//! * NBLs handed to `send` belong to the datapath until completed; NBLs indicated up belong to NDIS until
//!   `return_nbls` (unless indicated with `NDIS_RECEIVE_FLAGS_RESOURCES`).
//!
//! ## Configuration pushed by the control plane (any time, <= DISPATCH, from the OID path / worker)
//! [`Datapath::set_rx_filter`], [`Datapath::set_offload`], [`Datapath::set_rss`], [`Datapath::set_link`];
//! [`Datapath::flush_rsc`] before an `OID_TCP_OFFLOAD_PARAMETERS` that disables RSC completes (spec §1.2).
//! The datapath copies what it needs; the arguments do not outlive the call.
//!
//! ## Statistics
//! [`Datapath::stats`] returns a snapshot summed over all pairs (NDIS_STATISTICS_INFO + RSC counters); the
//! control plane answers OID_GEN_STATISTICS, the OID_GEN_* counters and OID_TCP_RSC_STATISTICS from it.

mod config;
mod filter;
mod mem;
mod nbl;
mod rx;
mod stats;
mod steer;
#[cfg(test)]
mod test_stubs;
mod tx;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use ndis_sys as n;
use netkvm_core::offload::{Features as CoreFeatures, NdisVersion, OffloadState, RxBufferLayout};
use netkvm_core::params::PriorityVlan;
use netkvm_core::rss::HashTypes;
use netkvm_virtio::{Features, PciTransport, QueueError, QueueSetupError};

use crate::device::hal::NdisHal;
use crate::interrupt::InterruptHandle;
use crate::log;

use config::SharedConfig;
use nbl::NblList;
use rx::{RxParams, RxQueue};
use steer::Steering;
use tx::{TxParams, TxQueue};

/// Largest multicast list ([`RxFilter::multicast`]); `OID_802_3_MAXIMUM_LIST_SIZE`.
pub const MAX_MULTICAST: usize = 32;
/// Largest RSS indirection table.
pub const MAX_INDIRECTION: usize = 128;
/// Largest number of queue pairs the driver uses (`*NumRssQueues` maximum).
pub const MAX_PAIRS: usize = 64;

/// NDIS handles and platform access the datapath may keep (valid until the datapath is dropped).
#[derive(Clone, Copy, Debug)]
pub struct DatapathEnv {
    /// `MiniportAdapterHandle` (for `NdisMIndicateReceiveNetBufferLists`, `NdisMSendNetBufferListsComplete`,
    /// pool allocation).
    pub miniport: n::NDIS_HANDLE,
    /// `NdisMRegisterScatterGatherDma` handle (null when SG DMA could not be registered: then only copy
    /// into pre-mapped buffers is possible).
    pub dma: n::NDIS_HANDLE,
    /// `ScatterGatherListSize` NDIS returned at registration (bytes of SG-list storage per call).
    pub sg_list_size: u32,
    /// Shared-memory allocation (PASSIVE only) and device register access of the queues.
    pub hal: NdisHal,
    /// The registered interrupt, for re-queuing DPCs on other processors (RSS steering).
    pub interrupt: InterruptHandle,
}

/// Sizing decided by the control plane from the negotiated features and the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatapathParams {
    /// NDIS version registered (per-NBL info layout choices, USO availability).
    pub ndis: NdisVersion,
    /// Queue pairs to create (1..=[`MAX_PAIRS`]); pair `j` uses virtqueues `2j` (RX) and `2j + 1` (TX).
    pub pairs: u16,
    /// Negotiated virtio features.
    pub negotiated: Features,
    /// virtio-net header length for the negotiated features (12 or 20).
    pub hdr_len: u16,
    /// RX buffer layout computed from what was **negotiated** (core `rx_buffer_layout`), never 64 KiB
    /// buffers unless GUEST_TSO/USO was acked without mergeable buffers.
    pub rx_layout: RxBufferLayout,
    /// MTU (L3 payload bytes).
    pub mtu: u32,
    /// `RxCapacity`: receive buffers per queue (capped by the ring size the device offers).
    pub rx_capacity: u16,
    /// `TxCapacity`: transmit descriptors per queue (capped by the ring size).
    pub tx_capacity: u16,
    /// `NumberOfHandledRXPacketsInDPC`: default per-DPC receive budget.
    pub rx_budget: u16,
    /// `MinRxBufferPercent`: below this share of free buffers indicate with `NDIS_RECEIVE_FLAGS_RESOURCES`.
    pub min_rx_buffer_percent: u8,
}

/// MSI-X vectors of one pair's queues (virtio `queue_msix_vector`); `None` = no vector (INTx).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairVectors {
    /// Receive queue (2j).
    pub rx: Option<u16>,
    /// Transmit queue (2j + 1).
    pub tx: Option<u16>,
}

/// Which queue of a pair raised an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// Receive queue.
    Rx,
    /// Transmit queue.
    Tx,
    /// Both / unknown (shared vector or INTx).
    Both,
}

/// Whether sends are accepted, and if not, the status they complete with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Gate {
    /// Sends go to the device; receives are indicated.
    Running = 0,
    /// MiniportPause in progress or done.
    Paused = 1,
    /// MiniportResetEx in progress.
    Resetting = 2,
    /// The device is in D3.
    LowPower = 3,
    /// Surprise removal or Halt: nothing reaches the device any more.
    Removed = 4,
    /// The device failed and could not be reset.
    Failed = 5,
}

impl Gate {
    /// Status an NBL sent while the gate is in this state completes with.
    pub const fn send_status(self) -> n::NDIS_STATUS {
        match self {
            Gate::Running => n::NDIS_STATUS_SUCCESS,
            Gate::Paused => n::NDIS_STATUS_PAUSED,
            Gate::Resetting => n::NDIS_STATUS_RESET_IN_PROGRESS,
            Gate::LowPower => n::NDIS_STATUS_LOW_POWER_STATE,
            Gate::Removed => n::NDIS_STATUS_SEND_ABORTED,
            Gate::Failed => n::NDIS_STATUS_HARD_ERRORS,
        }
    }

    const fn from_u8(v: u8) -> Self {
        match v {
            0 => Gate::Running,
            1 => Gate::Paused,
            2 => Gate::Resetting,
            3 => Gate::LowPower,
            4 => Gate::Removed,
            _ => Gate::Failed,
        }
    }
}

/// Receive filtering state (packet filter, addresses, VLAN), applied in software by the datapath whatever
/// the device filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxFilter {
    /// `NDIS_PACKET_TYPE_*` bits.
    pub packet_filter: u32,
    /// Current station address (directed frames).
    pub mac: [u8; 6],
    /// Multicast list (first `multicast_len` entries valid).
    pub multicast: [[u8; 6]; MAX_MULTICAST],
    /// Entries of `multicast` in use.
    pub multicast_len: usize,
    /// VLAN the adapter belongs to; 0 = any.
    pub vlan_id: u16,
    /// `*PriorityVLANTag`: which 802.1Q information is honoured on send and reported on receive.
    pub priority_vlan: PriorityVlan,
}

impl RxFilter {
    /// The multicast entries in use.
    pub fn multicast(&self) -> &[[u8; 6]] {
        self.multicast
            .get(..self.multicast_len.min(MAX_MULTICAST))
            .unwrap_or(&[])
    }
}

/// RSS mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RssMode {
    /// No hashing, everything on pair 0.
    Disabled,
    /// `OID_GEN_RECEIVE_HASH`: compute and report the hash, no steering.
    HashOnly,
    /// `OID_GEN_RECEIVE_SCALE_PARAMETERS`: hash, report and steer.
    Full,
}

/// RSS configuration (OID_GEN_RECEIVE_SCALE_PARAMETERS / OID_GEN_RECEIVE_HASH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RssSettings {
    /// Mode.
    pub mode: RssMode,
    /// Enabled hash types.
    pub hash_types: HashTypes,
    /// Toeplitz key (first `key_len` bytes).
    pub key: [u8; 40],
    /// Key length.
    pub key_len: u8,
    /// Indirection table entries in use (power of two, 0 in `HashOnly`/`Disabled`).
    pub table_len: u16,
    /// Indirection entry → queue pair.
    pub queue_table: [u16; MAX_INDIRECTION],
    /// Indirection entry → processor NDIS asked for (DPC steering).
    pub cpu_table: [n::PROCESSOR_NUMBER; MAX_INDIRECTION],
    /// Pair for packets that are not hashed.
    pub default_queue: u16,
    /// Processor for packets that are not hashed.
    pub default_processor: n::PROCESSOR_NUMBER,
}

impl RssSettings {
    /// RSS off.
    pub const DISABLED: RssSettings = RssSettings {
        mode: RssMode::Disabled,
        hash_types: HashTypes::empty(),
        key: [0; 40],
        key_len: 0,
        table_len: 0,
        queue_table: [0; MAX_INDIRECTION],
        cpu_table: [n::PROCESSOR_NUMBER {
            Group: 0,
            Number: 0,
            Reserved: 0,
        }; MAX_INDIRECTION],
        default_queue: 0,
        default_processor: n::PROCESSOR_NUMBER {
            Group: 0,
            Number: 0,
            Reserved: 0,
        },
    };
}

/// RSC counters of `OID_TCP_RSC_STATISTICS` (spec §1.9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RscStats {
    /// Segments added to SCUs.
    pub coalesced_packets: u64,
    /// TCP payload bytes of those segments.
    pub coalesced_octets: u64,
    /// SCUs indicated.
    pub coalesce_events: u64,
    /// Exceptions other than "datagram too long".
    pub aborts: u64,
}

/// Counters summed over all pairs (the `NDIS_STATISTICS_INFO` fields, plus what the OIDs need).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatapathStats {
    /// Frames indicated (`OID_GEN_RCV_OK`; coalesced frames count their segments).
    pub rx_frames: u64,
    /// Bytes indicated.
    pub rx_bytes: u64,
    /// Directed frames / bytes received.
    pub rx_unicast_frames: u64,
    /// See `rx_unicast_frames`.
    pub rx_unicast_bytes: u64,
    /// Multicast frames / bytes received.
    pub rx_multicast_frames: u64,
    /// See `rx_multicast_frames`.
    pub rx_multicast_bytes: u64,
    /// Broadcast frames / bytes received.
    pub rx_broadcast_frames: u64,
    /// See `rx_broadcast_frames`.
    pub rx_broadcast_bytes: u64,
    /// Malformed / hostile frames dropped (`ifInErrors`).
    pub rx_errors: u64,
    /// Frames filtered or dropped for lack of NBLs (`ifInDiscards`).
    pub rx_discards: u64,
    /// Frames dropped because no receive buffer was free (`OID_GEN_RCV_NO_BUFFER`).
    pub rx_no_buffer: u64,
    /// Frames sent (`OID_GEN_XMIT_OK`; LSO/USO count their segments).
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Directed frames / bytes sent.
    pub tx_unicast_frames: u64,
    /// See `tx_unicast_frames`.
    pub tx_unicast_bytes: u64,
    /// Multicast frames / bytes sent.
    pub tx_multicast_frames: u64,
    /// See `tx_multicast_frames`.
    pub tx_multicast_bytes: u64,
    /// Broadcast frames / bytes sent.
    pub tx_broadcast_frames: u64,
    /// See `tx_broadcast_frames`.
    pub tx_broadcast_bytes: u64,
    /// Sends failed (`ifOutErrors`: SG mapping failures, device errors).
    pub tx_errors: u64,
    /// Sends dropped as malformed (`ifOutDiscards`).
    pub tx_discards: u64,
    /// NBLs queued in the driver, not yet in a ring (`OID_GEN_TRANSMIT_QUEUE_LENGTH`).
    pub tx_queued: u64,
    /// RSC counters.
    pub rsc: RscStats,
}

/// Why the datapath could not be built or attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatapathError {
    /// Host memory or an NBL/NB pool could not be allocated.
    NoMemory,
    /// Invalid parameters (0 pairs, more than [`MAX_PAIRS`], vectors missing).
    BadParams,
    /// A virtqueue could not be created (device refused size/vector, DMA allocation failed).
    Queue {
        /// Pair index.
        pair: u16,
        /// Receive (true) or transmit queue.
        rx: bool,
        /// What failed.
        error: QueueSetupError,
    },
    /// The datapath is not attached to a device (`send_internal` while in reset / D3).
    NotAttached,
    /// The operation is not implemented yet.
    NotBuilt,
}

/// A protocol violation by the device on a data queue: the control plane resets the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatapathFault {
    /// Pair index.
    pub pair: u16,
    /// Receive (true) or transmit queue.
    pub rx: bool,
    /// The sticky queue error.
    pub error: QueueError,
}

/// Result of one [`Datapath::process`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessOutcome {
    /// The budget ran out with work left: the DPC must be queued again (or `MoreNblsPending` set).
    pub more_work: bool,
    /// A device fault stopped a queue of the pair.
    pub fault: Option<DatapathFault>,
}

/// One queue pair.
struct Pair {
    rx: RxQueue,
    tx: TxQueue,
}

/// The datapath of one adapter: every queue pair plus shared configuration.
pub struct Datapath {
    env: DatapathEnv,
    params: DatapathParams,
    pairs: Vec<Pair>,
    gate: AtomicU8,
    link_up: AtomicBool,
    shared: SharedConfig,
    steering: Steering,
}

impl Datapath {
    /// Allocates the host-side resources of `params.pairs` pairs (PASSIVE_LEVEL): per-queue state, the
    /// Toeplitz tables and RSC engines, the steering lists. Buffers, slots and NBL pools come with the
    /// first [`Datapath::attach`], when the ring sizes are known.
    pub fn new(env: DatapathEnv, params: &DatapathParams) -> Result<Self, DatapathError> {
        let count = usize::from(params.pairs);
        if count == 0 || count > MAX_PAIRS {
            return Err(DatapathError::BadParams);
        }
        let negotiated = CoreFeatures::from_bits_retain(params.negotiated.bits());
        let rx_cfg = config::rx_config(None, negotiated, params.mtu, None);
        let mut pairs = Vec::new();
        pairs
            .try_reserve_exact(count)
            .map_err(|_| DatapathError::NoMemory)?;
        for j in 0..params.pairs {
            let rx = RxQueue::new(
                RxParams {
                    pair: j,
                    miniport: env.miniport,
                    hal: env.hal,
                    hdr_len: params.hdr_len,
                    layout: params.rx_layout,
                    capacity: params.rx_capacity,
                    negotiated,
                    mtu: params.mtu,
                    min_percent: params.min_rx_buffer_percent,
                },
                rx_cfg,
            )?;
            let tx = TxQueue::new(TxParams {
                pair: j,
                miniport: env.miniport,
                dma: env.dma,
                sg_size: env.sg_list_size,
                hal: env.hal,
                hdr_len: params.hdr_len,
                capacity: params.tx_capacity,
                negotiated,
                mtu: params.mtu,
                ndis: params.ndis,
                indirect: params.negotiated.contains(Features::INDIRECT_DESC),
            })?;
            pairs.push(Pair { rx, tx });
        }
        let steering = Steering::new(env.interrupt, params.pairs).ok_or(DatapathError::NoMemory)?;
        Ok(Datapath {
            env,
            params: *params,
            pairs,
            gate: AtomicU8::new(Gate::Paused as u8),
            link_up: AtomicBool::new(true),
            shared: SharedConfig::new(),
            steering,
        })
    }

    /// Number of pairs.
    pub fn pairs(&self) -> u16 {
        self.params.pairs
    }

    /// The parameters the datapath was built with.
    pub fn params(&self) -> &DatapathParams {
        &self.params
    }

    /// Creates (or re-activates) the virtqueues of every pair on `transport` with the given MSI-X vectors
    /// and posts the receive buffers that are not held by NDIS (PASSIVE_LEVEL, before DRIVER_OK; must not
    /// notify the device). On error everything this call created is released again.
    pub fn attach(
        &self,
        transport: &PciTransport<NdisHal>,
        vectors: &[PairVectors],
    ) -> Result<(), DatapathError> {
        if vectors.len() != self.pairs.len() {
            return Err(DatapathError::BadParams);
        }
        for (p, v) in self.pairs.iter().zip(vectors) {
            let r =
                p.rx.attach(transport, v.rx)
                    .and_then(|()| p.tx.attach(transport, v.tx));
            if let Err(e) = r {
                log!(Error, "datapath attach: {:?}", e);
                // The device has not seen DRIVER_OK: nothing was used, taking the queues back is safe.
                self.detach(n::NDIS_STATUS_RESET_IN_PROGRESS);
                return Err(e);
            }
        }
        Ok(())
    }

    /// After the device was reset (or is gone): takes every buffer back from the rings, completes the sends
    /// that were in the rings or queued with `status`, and releases the virtqueues; buffers, slots and NBLs
    /// are kept for the next [`Datapath::attach`] (PASSIVE_LEVEL).
    pub fn detach(&self, status: n::NDIS_STATUS) {
        for p in &self.pairs {
            p.tx.detach(status);
            p.rx.detach();
        }
        self.recycle_steered();
    }

    /// Starts traffic after DRIVER_OK: opens the gate, kicks the receive queues.
    pub fn start(&self) {
        self.set_gate(Gate::Running);
        for p in &self.pairs {
            p.rx.kick();
        }
    }

    /// Sets the gate (any IRQL <= DISPATCH). Closing it completes every send not yet in a ring with the
    /// gate's status (in-ring sends complete through the device, or now if the device is gone) and takes
    /// back receives waiting on steering lists.
    pub fn set_gate(&self, gate: Gate) {
        self.gate.store(gate as u8, Ordering::Release);
        if gate == Gate::Running {
            for p in &self.pairs {
                p.tx.set_closed(None, false);
            }
            return;
        }
        let abandon = matches!(gate, Gate::Removed | Gate::Failed);
        for p in &self.pairs {
            p.tx.set_closed(Some(gate.send_status()), abandon);
        }
        self.recycle_steered();
    }

    /// The current gate.
    pub fn gate(&self) -> Gate {
        Gate::from_u8(self.gate.load(Ordering::Acquire))
    }

    /// Whether every sent NBL has been completed and every indicated NBL returned.
    pub fn is_drained(&self) -> bool {
        self.pairs
            .iter()
            .all(|p| p.tx.owned() == 0 && p.rx.held() == 0)
    }

    /// `MiniportSendNetBufferLists` for the adapter.
    ///
    /// # Safety
    /// `nbls` is the NBL chain NDIS passed (owned by the miniport until completed); `flags` are its
    /// `SendFlags`.
    pub unsafe fn send(&self, nbls: n::PNET_BUFFER_LIST, _port: n::NDIS_PORT_NUMBER, flags: u32) {
        if nbls.is_null() {
            return;
        }
        let dispatch = flags & n::NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
        let gate = self.gate();
        let refuse = if gate != Gate::Running {
            Some(gate.send_status())
        } else if !self.link_up.load(Ordering::Acquire) {
            Some(n::NDIS_STATUS_MEDIA_DISCONNECTED)
        } else {
            None
        };
        if let Some(status) = refuse {
            // SAFETY: the chain NDIS handed us, completed once.
            unsafe { nbl::complete_chain(self.env.miniport, nbls, status, dispatch) };
            return;
        }
        if self.pairs.len() == 1 {
            let mut list = NblList::new();
            // SAFETY: the chain is ours; `push` relinks after the iterator moved on.
            for l in unsafe { n::NblChain::new(nbls) } {
                // SAFETY: as above.
                unsafe { list.push(l) };
            }
            if let Some(p) = self.pairs.first() {
                // SAFETY: forwarded ownership of send NBLs.
                unsafe { p.tx.send(list, &self.shared, dispatch) };
            }
            return;
        }
        let mut lists: [NblList; MAX_PAIRS] = [const { NblList::new() }; MAX_PAIRS];
        // SAFETY: the chain is ours.
        for l in unsafe { n::NblChain::new(nbls) } {
            // SAFETY: an NBL of the chain.
            let r = unsafe { &*l };
            let (hash, ty) = (r.hash_value(), r.hash_info().hash_type());
            let q = usize::from(self.steering.tx_queue(hash, ty));
            if let Some(list) = lists.get_mut(q) {
                // SAFETY: as above.
                unsafe { list.push(l) };
            }
        }
        for (p, list) in self.pairs.iter().zip(lists.iter_mut()) {
            if !list.is_empty() {
                // SAFETY: forwarded ownership of send NBLs.
                unsafe { p.tx.send(list.take(), &self.shared, dispatch) };
            }
        }
    }

    /// `MiniportReturnNetBufferLists`.
    ///
    /// # Safety
    /// `nbls` is a chain of NBLs this datapath indicated.
    pub unsafe fn return_nbls(&self, nbls: n::PNET_BUFFER_LIST, _flags: u32) {
        let mut lists: [NblList; MAX_PAIRS] = [const { NblList::new() }; MAX_PAIRS];
        // SAFETY: NDIS hands the chain back to us.
        for l in unsafe { n::NblChain::new(nbls) } {
            // SAFETY: a receive NBL of ours (caller).
            let (_, owner) = unsafe { nbl::rx_tags(l) };
            let pair = owner & 0xFFFF;
            match (self.pairs.get(pair), lists.get_mut(pair)) {
                (Some(p), Some(list)) if p.rx.owns(owner, l) => {
                    // SAFETY: as above.
                    unsafe { list.push(l) };
                }
                _ => log!(Error, "return of an NBL that is not ours: {:p}", l),
            }
        }
        for (p, list) in self.pairs.iter().zip(lists.iter_mut()) {
            if !list.is_empty() {
                // SAFETY: NBLs this queue indicated, returned by NDIS.
                unsafe { p.rx.take_back(list.take()) };
            }
        }
    }

    /// `MiniportCancelSend`.
    pub fn cancel_send(&self, cancel_id: n::PVOID) {
        for p in &self.pairs {
            p.tx.cancel(cancel_id);
        }
    }

    /// Interrupt-time hook (DIRQL): the queue(s) of `pair` fired. Nothing to do: interrupts are
    /// suppressed by the DPC through the ring (no lock may be taken here).
    pub fn on_interrupt(&self, _pair: u16, _which: QueueKind) {}

    /// DPC work of one pair (DISPATCH_LEVEL): frames other processors steered here, TX completions and
    /// posting of waiting sends, then receives (at most `budget` NBLs indicated).
    pub fn process(&self, pair: u16, budget: u32) -> ProcessOutcome {
        let mut out = ProcessOutcome::default();
        let budget = budget.max(1);
        let (steered, more_steered) = self.indicate_steered(budget);
        out.more_work = more_steered;
        let Some(p) = self.pairs.get(usize::from(pair)) else {
            return out;
        };
        if let Some(f) = p.tx.process(&self.shared) {
            out.fault = Some(f);
        }
        let left = budget.saturating_sub(steered);
        if left == 0 {
            out.more_work = true;
            return out;
        }
        let running = self.gate() == Gate::Running;
        let r = p.rx.process(&self.shared, &self.steering, running, left);
        out.more_work |= r.more;
        if out.fault.is_none() {
            out.fault = r.fault;
        }
        out
    }

    /// Indicates up to `budget` NBLs other processors steered to this one (DISPATCH_LEVEL); returns how
    /// many, and whether more wait.
    fn indicate_steered(&self, budget: u32) -> (u32, bool) {
        if self.gate() != Gate::Running {
            let (list, more) = self.steering.take_local(budget);
            let count = list.len();
            if count > 0 {
                self.give_back(list);
            }
            return (count, more);
        }
        self.steering.indicate_local(self.env.miniport, budget)
    }

    /// Takes back (to their queues) every receive NBL waiting on a steering list.
    fn recycle_steered(&self) {
        let list = self.steering.take_all();
        self.give_back(list);
    }

    /// Returns never-indicated receive NBLs to their queues.
    fn give_back(&self, list: NblList) {
        if list.is_empty() {
            return;
        }
        let head = list.head();
        // SAFETY: receive NBLs of this datapath that NDIS never saw: the same as a return.
        unsafe { self.return_nbls(head, 0) };
    }

    /// Completes every NBL the datapath owns outside the rings with `status` (surprise removal, reset);
    /// when the device is gone (gate `Removed` / `Failed`) also those in the rings.
    pub fn abort_all(&self, status: n::NDIS_STATUS) {
        let abandon = matches!(self.gate(), Gate::Removed | Gate::Failed);
        for p in &self.pairs {
            p.tx.set_closed(Some(status), abandon);
        }
        if self.gate() == Gate::Running {
            for p in &self.pairs {
                p.tx.set_closed(None, false);
            }
        }
        self.recycle_steered();
    }

    /// Receive-ring diagnostics summed over the pairs: times a refill found the ring empty (the device
    /// had run out of buffers), and notifications sent because the device asked for buffers.
    pub fn rx_ring_events(&self) -> (u64, u64) {
        self.pairs.iter().fold((0, 0), |(e, k), p| {
            (e + p.rx.stats.ring_empty.get(), k + p.rx.stats.kicks.get())
        })
    }

    /// Statistics snapshot, summed over the pairs (NDIS_STATISTICS_INFO + RSC counters).
    pub fn stats(&self) -> DatapathStats {
        let mut s = DatapathStats::default();
        for p in &self.pairs {
            stats::accumulate(&mut s, &p.rx.stats, &p.tx.stats);
        }
        s
    }

    /// Receive-filter state.
    ///
    /// Returns once no receive batch still runs with the previous filter (a DPC in flight is waited for),
    /// so the OID that changed it completes with the new filter in force.
    pub fn set_rx_filter(&self, filter: &RxFilter) {
        let f = *filter;
        self.shared.update(|d| d.filter = Some(f));
        self.sync_dpcs();
    }

    /// Offload configuration (current NDIS config, encapsulation, RSC paths); like
    /// [`Datapath::set_rx_filter`] it returns when no batch runs with the old configuration.
    pub fn set_offload(&self, offload: &OffloadState) {
        let o = *offload;
        self.shared.update(|d| d.offload = Some(o));
        self.sync_dpcs();
    }

    /// Waits for receive DPCs in flight (they re-read the configuration per batch).
    fn sync_dpcs(&self) {
        for p in &self.pairs {
            p.rx.sync_dpc();
        }
    }

    /// RSS configuration.
    pub fn set_rss(&self, rss: &RssSettings) {
        let r = *rss;
        self.steering.set(&r);
        self.shared.update(|d| d.rss = r);
    }

    /// Link state (sends while down complete with `NDIS_STATUS_MEDIA_DISCONNECTED`).
    pub fn set_link(&self, up: bool) {
        self.link_up.store(up, Ordering::Release);
    }

    /// Indicates every SCU the software RSC engine holds (before RSC is reported disabled). The engine
    /// never holds segments across DPCs; what remains is a DPC in flight that started before the new
    /// configuration (waited for here) and NBLs waiting on steering lists (indicated now).
    pub fn flush_rsc(&self) {
        for p in &self.pairs {
            p.rx.sync_dpc();
        }
        let list = self.steering.take_all();
        if list.is_empty() {
            return;
        }
        if self.gate() != Gate::Running {
            self.give_back(list);
            return;
        }
        let count = list.len();
        let flags = if nbl::current_irql() == n::DISPATCH_LEVEL {
            n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
        // SAFETY: built receive NBLs of this adapter (counted as held); flags match the IRQL.
        unsafe {
            n::NdisMIndicateReceiveNetBufferLists(self.env.miniport, list.head(), 0, count, flags)
        };
    }

    /// Sends one frame built by the control plane (gratuitous ARP / IPv6 NA for GUEST_ANNOUNCE).
    pub fn send_internal(&self, frame: &[u8]) -> Result<(), DatapathError> {
        match self.pairs.first() {
            Some(p) => p.tx.send_internal(frame),
            None => Err(DatapathError::NotAttached),
        }
    }

    /// Receive buffers and transmit descriptors per queue (for the buffer-space OIDs).
    pub fn capacities(&self) -> (u32, u32) {
        (
            u32::from(self.params.rx_capacity),
            u32::from(self.params.tx_capacity),
        )
    }

    /// The environment (handles) the datapath was built with.
    pub fn env(&self) -> &DatapathEnv {
        &self.env
    }

    /// Receive buffers of pair `pair`: (total, free in the driver, posted to the ring); the rest are held
    /// by NDIS. Diagnostics and tests.
    pub fn rx_buffers(&self, pair: u16) -> Option<(usize, usize, usize)> {
        self.pairs
            .get(usize::from(pair))
            .map(|p| p.rx.buffer_counts())
    }

    /// Transmit slots of pair `pair`: (total, free). Diagnostics and tests.
    pub fn tx_slots(&self, pair: u16) -> Option<(usize, usize)> {
        self.pairs
            .get(usize::from(pair))
            .map(|p| p.tx.slot_counts())
    }
}

/// `MiniportProcessSGList` registered with `NdisMRegisterScatterGatherDma` (DISPATCH_LEVEL). `context` is
/// the NET_BUFFER the datapath asked a list for: the list is stored in it; if the request already
/// returned (asynchronous mapping), the queue that waits for it is resumed.
///
/// # Safety
/// Called by NDIS with the SG list it built for a request of this datapath.
pub unsafe extern "system" fn process_sg_list(
    _device_object: n::PDEVICE_OBJECT,
    _reserved: n::PVOID,
    sgl: n::PSCATTER_GATHER_LIST,
    context: n::PVOID,
) {
    let nb: n::PNET_BUFFER = context.cast();
    if nb.is_null() {
        return;
    }
    // SAFETY: `context` is the send NB the datapath passed; it stays owned until this callback ran.
    unsafe { nbl::nb_word(nb, nbl::nbw::SGL) }.store(sgl as usize, Ordering::Release);
    // SAFETY: as above.
    let prev =
        unsafe { nbl::nb_word(nb, nbl::nbw::STATE) }.swap(nbl::map_state::MAPPED, Ordering::AcqRel);
    if prev == nbl::map_state::WAITING {
        // SAFETY: as above.
        let q =
            unsafe { nbl::nb_word(nb, nbl::nbw::QUEUE) }.load(Ordering::Acquire) as *const TxQueue;
        // SAFETY: the queue that requested the mapping; queues live as long as the datapath, which
        // outlives every mapping it requested (Halt comes after every send completed).
        if let Some(q) = unsafe { q.as_ref() } {
            q.resume();
        }
    }
}
