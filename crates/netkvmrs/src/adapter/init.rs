//! InitializeEx, HaltEx and the device bring-up they share with ResetEx and D0.
//!
//! InitializeEx order (every step undone by [`teardown`] on failure, so a failed InitializeEx leaves
//! nothing allocated):
//! 1. validate the translated resources (no NDIS call before: without hardware the driver fails cleanly);
//! 2. read the registry (every keyword of netkvm-core's table; bad values → default + log line);
//! 3. allocate the adapter, set the **registration attributes** (must precede every other attribute,
//!    the interrupt and the DMA registration);
//! 4. map the memory BARs (matched to the virtio capabilities through the BAR addresses in PCI
//!    configuration space), open the transport, negotiate features, read the device configuration;
//! 5. control worker, scatter-gather DMA registration;
//! 6. register the interrupt (message-signalled preferred); from here on handlers may run and the adapter
//!    is only used through `&Adapter`;
//! 7. vector plan and queue-pair count = min(device pairs, CPUs, messages, `*NumRssQueues`);
//! 8. datapath, queues, control queue, DRIVER_OK, control commands (steering, guest offloads, MAC,
//!    filters, VLAN);
//! 9. general and offload attributes; state Paused.

use alloc::boxed::Box;
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

use ndis_sys as n;
use netkvm_core::offload::{self as core_offload, OffloadState};
use netkvm_core::params::Config;
use netkvm_virtio::transport::NO_VECTOR;
use netkvm_virtio::Features;

use super::device::{
    check_same_layout, core_version, link_from_config, restore, to_core, wanted_features,
    BringUpError, Device,
};
use super::worker::WorkItem;
use super::{
    Adapter, AdapterState, Control, Counters, FastRegs, InterruptState, FLAG_FAILED, FLAG_HALTING,
    FLAG_LOW_POWER, FLAG_NEEDS_RESET, FLAG_REMOVED, FLAG_RESETTING,
};
use crate::datapath::{Datapath, DatapathEnv, DatapathParams, RssSettings, MAX_PAIRS};
use crate::device::hal::{BarMappings, MapError, NdisPci};
use crate::interrupt::{self, VectorPlan};
use crate::log;
use crate::oid::state::{
    AdapterFacts, LinkState, NetAddresses, OidState, PowerState, ReceiveHash, RssState,
};
use crate::resources::{self, ResourceError};
use crate::sync::{PassiveMutex, SetOnce, SpinLock};

/// CheckForHang period (NetKVM uses 4 s).
pub const CHECK_FOR_HANG_SECONDS: u32 = 4;
/// Largest single DMA mapping the datapath requests (a 64 KiB LSO send plus headers).
pub const MAX_PHYSICAL_MAPPING: u32 = 0x1_0000 + 0x1000;

/// Map a resource problem to the NDIS status InitializeEx returns.
pub fn init_status_for(e: ResourceError) -> n::NDIS_STATUS {
    match e {
        // No resource list or no BAR: this is not a device we can drive.
        ResourceError::NoResourceList | ResourceError::NoMemoryBar => {
            n::NDIS_STATUS_ADAPTER_NOT_FOUND
        }
        // A list we cannot make sense of: the resources are unusable, not missing.
        ResourceError::TooManyDescriptors { .. }
        | ResourceError::TooManyMemoryRanges
        | ResourceError::BadMemoryDescriptor { .. } => n::NDIS_STATUS_RESOURCE_CONFLICT,
    }
}

/// Allocate without aborting on failure (`Box::new` would abort = bugcheck in the kernel).
pub fn try_box<T>(value: T) -> Option<Box<T>> {
    let layout = core::alloc::Layout::new::<T>();
    if layout.size() == 0 {
        return Some(Box::new(value));
    }
    // SAFETY: non-zero-sized layout of T.
    let p = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is a fresh, suitably aligned allocation for one T.
    unsafe { p.write(value) };
    // SAFETY: `p` was allocated by the global allocator with T's layout and holds an initialised T.
    Some(unsafe { Box::from_raw(p) })
}

/// Generated station address when the device has none (NetKVM's pattern, locally administered):
/// 02:50:F2:00:01:(0x80 | n).
static GENERATED_MAC_SEQ: AtomicU8 = AtomicU8::new(0);

fn permanent_mac(device_mac: Option<[u8; 6]>) -> [u8; 6] {
    match device_mac {
        Some(m) if m != [0; 6] && m[0] & 1 == 0 => m,
        _ => {
            let n = GENERATED_MAC_SEQ.fetch_add(1, Ordering::Relaxed) & 0x7F;
            [0x02, 0x50, 0xF2, 0x00, 0x01, 0x80 | n]
        }
    }
}

/// The OID state before the device is known.
fn initial_state(ndis: n::NdisVersion, config: &Config) -> OidState {
    OidState {
        facts: AdapterFacts {
            ndis,
            pairs: 1,
            interrupt_messages: 0,
            rx_buffers: u32::from(config.rx_capacity),
            tx_buffers: u32::from(config.tx_capacity),
            ctrl_rx: false,
            ctrl_vlan: false,
        },
        config: *config,
        permanent_mac: [0; 6],
        current_mac: [0; 6],
        mtu: config.mtu(),
        link: LinkState {
            connect: n::MediaConnectStateUnknown,
            duplex: n::MediaDuplexStateUnknown,
            speed_bps: LinkState::DEFAULT_SPEED_BPS,
        },
        packet_filter: 0,
        multicast: [[0; 6]; crate::datapath::MAX_MULTICAST],
        multicast_len: 0,
        vlan_id: config.vlan_id,
        lookahead: config.mtu(),
        offload: OffloadState::new(core_offload::Features::empty(), config, core_version(ndis)),
        rss: RssState {
            supported: false,
            hash_types: netkvm_core::rss::HashTypes::empty(),
            queues: 1,
            device: false,
            hash_information: 0,
            base_cpu: 0,
            settings: RssSettings::DISABLED,
            receive_hash: ReceiveHash {
                enabled: false,
                hash_information: 0,
                key: [0; 40],
                key_len: 0,
            },
        },
        power: PowerState::D0,
        wake_up: 0,
        addresses: NetAddresses::default(),
    }
}

/// Hash types advertised for RSS (software Toeplitz supports all; UDP types need NDIS 6.80).
pub fn rss_hash_types(ndis: n::NdisVersion) -> netkvm_core::rss::HashTypes {
    use netkvm_core::rss::HashTypes as H;
    let mut t = H::IPV4 | H::TCP_IPV4 | H::IPV6 | H::TCP_IPV6 | H::IPV6_EX | H::TCP_IPV6_EX;
    if ndis >= n::NdisVersion::V6_80 {
        t |= H::UDP_IPV4 | H::UDP_IPV6 | H::UDP_IPV6_EX;
    }
    t
}

fn active_cpus() -> u32 {
    // SAFETY: callable at any IRQL.
    unsafe { n::NdisGroupActiveProcessorCount(n::ALL_PROCESSOR_GROUPS) }.max(1)
}

/// `MiniportInitializeEx` body. Returns the adapter context or the status to fail with (everything
/// released).
///
/// # Safety
/// `params` is NULL or a valid `NDIS_MINIPORT_INIT_PARAMETERS` for the duration of the call.
pub unsafe fn initialize(
    handle: n::NDIS_HANDLE,
    ndis: n::NdisVersion,
    params: n::PNDIS_MINIPORT_INIT_PARAMETERS,
) -> Result<*mut Adapter, n::NDIS_STATUS> {
    // 1. Resources first: without hardware nothing else is attempted.
    // SAFETY: NDIS passes NULL or a valid parameter block; only AllocatedResources is read.
    let list = unsafe { params.as_ref() }.map_or(ptr::null_mut(), |p| p.AllocatedResources);
    // SAFETY: AllocatedResources is NULL or a resource list valid during InitializeEx.
    let res = match unsafe { resources::from_list(list) } {
        Ok(r) => r,
        Err(e) => {
            log!(Error, "InitializeEx: unusable hardware resources: {:?}", e);
            return Err(init_status_for(e));
        }
    };

    // 2. Registry.
    let config = crate::config::read_config(handle);

    // 3. Adapter + registration attributes.
    let Some(mut boxed) = try_box(Adapter {
        handle,
        ndis,
        config,
        permanent_mac: [0; 6],
        state: AtomicU8::new(AdapterState::Initializing as u8),
        flags: core::sync::atomic::AtomicU32::new(0),
        control: PassiveMutex::new(Control {
            device: None,
            state: initial_state(ndis, &config),
        }),
        datapath: SetOnce::new(),
        interrupt: SetOnce::new(),
        fast: None,
        isr_bits: AtomicU8::new(0),
        seen_generation: core::sync::atomic::AtomicU16::new(0x100),
        pause_pending: core::sync::atomic::AtomicBool::new(false),
        pending_oid: core::sync::atomic::AtomicPtr::new(ptr::null_mut()),
        gate_lock: SpinLock::new(()),
        work: WorkItem::new(),
        dma: ptr::null_mut(),
        sg_list_size: 0,
        bars: None,
        counters: Counters::default(),
    }) else {
        log!(Error, "InitializeEx: cannot allocate the adapter context");
        return Err(n::NDIS_STATUS_RESOURCES);
    };
    if let Err(st) = crate::attributes::set_registration(&boxed) {
        log!(
            Error,
            "registration attributes refused: {:#010x}",
            st as u32
        );
        // SAFETY: nothing registered yet; the box is exclusively ours.
        unsafe { teardown(Box::into_raw(boxed), false) };
        return Err(st);
    }

    // 4..5 with exclusive access (no callback can run yet).
    if let Err(st) = prepare(&mut boxed, &res) {
        // SAFETY: as above.
        unsafe { teardown(Box::into_raw(boxed), false) };
        return Err(st);
    }

    // 6. Interrupt: from now on only `&Adapter`.
    let ptr = Box::into_raw(boxed);
    // SAFETY: `ptr` is a live adapter until teardown.
    let adapter = unsafe { &*ptr };
    let reg = match interrupt::register(handle, adapter.as_context()) {
        Ok(r) => r,
        Err(st) => {
            log!(
                Error,
                "NdisMRegisterInterruptEx failed: {:#010x}",
                st as u32
            );
            // SAFETY: the interrupt is not registered; nothing else references the adapter.
            unsafe { teardown(ptr, false) };
            return Err(st);
        }
    };
    match finish(adapter, reg) {
        Ok(()) => {
            log!(Info, "InitializeEx complete");
            Ok(ptr)
        }
        Err(st) => {
            // SAFETY: the interrupt is registered (deregistered by teardown); NDIS never saw the context.
            unsafe { teardown(ptr, true) };
            Err(st)
        }
    }
}

/// Steps 4–5: BARs, transport, negotiation, worker, SG DMA.
fn prepare(a: &mut Adapter, res: &resources::PciResources) -> Result<(), n::NDIS_STATUS> {
    let handle = a.handle;
    let pci = NdisPci::new(handle);
    let bars = BarMappings::map(handle, &pci, res).map_err(|e| {
        log!(Error, "BAR mapping failed: {:?}", e);
        match e {
            MapError::NoBarMatched => n::NDIS_STATUS_ADAPTER_NOT_FOUND,
            MapError::TooLarge { .. } => n::NDIS_STATUS_RESOURCE_CONFLICT,
            MapError::MapFailed { status, .. } => status,
        }
    })?;
    let hal = bars.hal();
    log!(
        Info,
        "{} BAR(s) mapped, {} MSI message(s) in the resource list",
        bars.count(),
        res.message_interrupts
    );
    a.bars = Some(bars);

    let mut dev = Device::open(hal, &pci).map_err(|e| {
        log!(Error, "virtio transport: {:?}", e);
        BringUpError::Transport(e).status()
    })?;
    let wanted = wanted_features(dev.offered, &a.config, a.ndis, a.config.vlan_id);
    if let Err(e) = dev.negotiate(wanted) {
        log!(Error, "feature negotiation failed: {:?}", e);
        dev.transport.fail();
        return Err(BringUpError::Transport(e).status());
    }
    log!(
        Info,
        "features offered {:#018x}, negotiated {:#018x}",
        dev.offered.bits(),
        dev.negotiated.bits()
    );
    let caps = *dev.transport.caps();
    a.fast = Some(FastRegs {
        hal,
        isr: (caps.isr.bar, caps.isr.offset),
        status: (caps.common.bar, caps.common.offset + 0x14),
        generation: (caps.common.bar, caps.common.offset + 0x15),
    });
    a.permanent_mac = permanent_mac(dev.net.mac);

    // Control state from what was negotiated.
    {
        let ctl = a.control.get_mut();
        let s = &mut ctl.state;
        let neg = dev.negotiated;
        s.permanent_mac = a.permanent_mac;
        s.current_mac = a.config.network_address.map_or(a.permanent_mac, |m| m.0);
        let cfg_mtu = a.config.mtu();
        s.mtu = match dev.net.mtu {
            // The device's MTU is what the backend supports; a smaller *JumboPacket still wins.
            Some(dev_mtu) if neg.contains(Features::MTU) => cfg_mtu.min(u32::from(dev_mtu)),
            _ => cfg_mtu,
        };
        s.lookahead = s.mtu;
        s.link = link_from_config(&dev.net);
        s.offload = OffloadState::new(to_core(neg), &a.config, core_version(a.ndis));
        s.facts.ctrl_rx = neg.contains(Features::CTRL_RX | Features::CTRL_VQ);
        s.facts.ctrl_vlan = neg.contains(Features::CTRL_VLAN | Features::CTRL_VQ);
        s.rss.supported = a.config.rss;
        s.rss.hash_types = rss_hash_types(a.ndis);
        s.rss.device = dev.device_rss_usable();
        ctl.device = Some(dev);
    }

    if !a.work.allocate(handle) {
        log!(Error, "NdisAllocateIoWorkItem failed");
        return Err(n::NDIS_STATUS_RESOURCES);
    }
    let (dma, sg_size) = register_sg_dma(handle, a.ndis)?;
    a.dma = dma;
    a.sg_list_size = sg_size;
    Ok(())
}

/// `NdisMRegisterScatterGatherDma` with the description revision of the registered NDIS version.
fn register_sg_dma(
    handle: n::NDIS_HANDLE,
    ndis: n::NdisVersion,
) -> Result<(n::NDIS_HANDLE, u32), n::NDIS_STATUS> {
    let (rev, size) = if ndis >= n::NdisVersion::V6_85 {
        (
            n::NDIS_SG_DMA_DESCRIPTION_REVISION_2,
            n::NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_2,
        )
    } else {
        (
            n::NDIS_SG_DMA_DESCRIPTION_REVISION_1,
            n::NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1,
        )
    };
    let mut desc = n::NDIS_SG_DMA_DESCRIPTION {
        Header: n::NDIS_OBJECT_HEADER::new(n::NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION, rev, size),
        Flags: n::NDIS_SG_DMA_64_BIT_ADDRESS,
        MaximumPhysicalMapping: MAX_PHYSICAL_MAPPING,
        ProcessSGListHandler: Some(crate::datapath::process_sg_list),
        SharedMemAllocateCompleteHandler: None,
        ScatterGatherListSize: 0,
        PdoOverride: ptr::null_mut(),
    };
    let mut dma: n::NDIS_HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL; `desc` is a complete description of the revision named in its header (NDIS
    // reads Header.Size bytes) and receives ScatterGatherListSize; `dma` is writable.
    let st = unsafe { n::NdisMRegisterScatterGatherDma(handle, &mut desc, &mut dma) };
    if st != n::NDIS_STATUS_SUCCESS || dma.is_null() {
        log!(
            Error,
            "NdisMRegisterScatterGatherDma failed: {:#010x}",
            st as u32
        );
        return Err(if st == n::NDIS_STATUS_SUCCESS {
            n::NDIS_STATUS_RESOURCES
        } else {
            st
        });
    }
    Ok((dma, desc.ScatterGatherListSize))
}

/// Steps 7–9 (interrupt registered: shared access only).
fn finish(a: &Adapter, reg: interrupt::Registered) -> Result<(), n::NDIS_STATUS> {
    let mut ctl = a.control.lock();
    let ctl = &mut *ctl;
    let Some(dev) = ctl.device.as_mut() else {
        return Err(n::NDIS_STATUS_FAILURE);
    };
    let c = &a.config;
    let cpus = active_cpus();
    let rss_queues = if c.rss { c.num_rss_queues.max(1) } else { 1 };
    let wanted_pairs = dev
        .max_pairs()
        .min(u16::try_from(cpus).unwrap_or(u16::MAX))
        .min(rss_queues)
        .min(MAX_PAIRS as u16)
        .max(1);
    let plan = VectorPlan::new(reg.messages, wanted_pairs);
    log!(
        Info,
        "interrupt: {} message(s); {} queue pair(s) (device {}, CPUs {}, *NumRssQueues {}){}",
        reg.messages,
        plan.pairs,
        dev.max_pairs(),
        cpus,
        rss_queues,
        if plan.split {
            ", separate TX/RX vectors"
        } else {
            ""
        }
    );
    if a.interrupt
        .set(InterruptState {
            handle: reg.handle,
            plan,
        })
        .is_err()
    {
        return Err(n::NDIS_STATUS_FAILURE);
    }

    let neg = dev.negotiated;
    let mtu = ctl.state.mtu;
    let hdr_len = neg.net_hdr_len() as u16;
    let params = DatapathParams {
        ndis: core_version(a.ndis),
        pairs: plan.pairs,
        negotiated: neg,
        hdr_len,
        rx_layout: core_offload::rx_buffer_layout(to_core(neg), mtu, u32::from(hdr_len)),
        mtu,
        rx_capacity: c.rx_capacity,
        tx_capacity: c.tx_capacity,
        rx_budget: c.rx_packets_per_dpc,
        min_rx_buffer_percent: c.min_rx_buffer_percent,
    };
    log!(
        Info,
        "MTU {}, virtio header {} bytes, RX buffers {:?}",
        mtu,
        hdr_len,
        params.rx_layout
    );
    let env = DatapathEnv {
        miniport: a.handle,
        dma: a.dma,
        sg_list_size: a.sg_list_size,
        hal: *dev.transport.hal(),
        interrupt: reg.handle,
    };
    let dp = Datapath::new(env, &params).map_err(|e| {
        log!(Error, "datapath: {:?}", e);
        n::NDIS_STATUS_RESOURCES
    })?;
    let (rx_buffers, tx_buffers) = dp.capacities();
    if a.datapath.set(dp).is_err() {
        return Err(n::NDIS_STATUS_FAILURE);
    }

    {
        let s = &mut ctl.state;
        s.facts.pairs = plan.pairs;
        s.facts.interrupt_messages = reg.messages;
        s.facts.rx_buffers = rx_buffers;
        s.facts.tx_buffers = tx_buffers;
        s.rss.queues = u16::try_from(cpus)
            .unwrap_or(u16::MAX)
            .min(rss_queues)
            .max(1);
    }
    if let Err(e) = bring_up_queues(a, dev, &mut ctl.state) {
        log!(Error, "device bring-up failed: {:?}", e);
        return Err(e.status());
    }

    crate::attributes::set_general(a, &ctl.state)?;
    crate::attributes::set_offload(a, &ctl.state)?;
    a.set_state(AdapterState::Paused);
    a.refresh_gate();
    Ok(())
}

/// Queue creation, DRIVER_OK and the control commands (after negotiation). Shared by InitializeEx, the
/// reset worker and D0.
pub fn bring_up_queues(
    a: &Adapter,
    dev: &mut Device,
    state: &mut OidState,
) -> Result<(), BringUpError> {
    let irq = a.interrupt.get().ok_or(BringUpError::NotReady)?;
    let dp = a.datapath.get().ok_or(BringUpError::NotReady)?;
    if irq.plan.messages > 0 {
        dev.transport
            .set_config_vector(irq.plan.config.unwrap_or(NO_VECTOR))?;
    }
    dp.attach(&dev.transport, irq.plan.pair_vectors())
        .map_err(BringUpError::Datapath)?;
    if let Err(e) = dev.create_ctrl() {
        let _ = dev.reset();
        dp.detach(n::NDIS_STATUS_RESET_IN_PROGRESS);
        return Err(e);
    }
    dev.transport.driver_ok();
    state.link = link_from_config(&dev.net);
    restore(a, dev, state)
}

/// Full re-initialisation of the device with the saved state (reset worker, D0): reset, renegotiate the
/// same layout, queues, DRIVER_OK, restore filters / MAC / VLAN / RSS / offloads.
pub fn reinit(a: &Adapter, dev: &mut Device, state: &mut OidState) -> Result<(), BringUpError> {
    dev.transport.begin_init()?;
    dev.offered = dev.transport.device_features();
    let before = dev.negotiated;
    let wanted = wanted_features(dev.offered, &a.config, a.ndis, state.vlan_id);
    dev.negotiate(wanted)?;
    check_same_layout(before, dev.negotiated)?;
    if dev.negotiated != before {
        log!(
            Warn,
            "renegotiated features {:#018x} (were {:#018x})",
            dev.negotiated.bits(),
            before.bits()
        );
        state.offload.negotiated = to_core(dev.negotiated);
        state.facts.ctrl_vlan = dev
            .negotiated
            .contains(Features::CTRL_VLAN | Features::CTRL_VQ);
    }
    bring_up_queues(a, dev, state)
}

impl Adapter {
    /// D3 (OID_PNP_SET_POWER, PASSIVE, control lock held): stop traffic, report the link unknown, reset
    /// the device, take every buffer back.
    pub fn power_down(&self, dev: Option<&mut Device>) {
        self.set_flag(FLAG_LOW_POWER);
        self.refresh_gate();
        self.indicate_link(&LinkState {
            connect: n::MediaConnectStateUnknown,
            duplex: n::MediaDuplexStateUnknown,
            speed_bps: 0,
        });
        if let Some(dev) = dev {
            if self.device_usable() {
                if let Err(e) = dev.reset() {
                    log!(Warn, "D3: device reset: {:?}", e);
                }
            }
        }
        if let Some(dp) = self.datapath.get() {
            dp.detach(n::NDIS_STATUS_LOW_POWER_STATE);
        }
        self.poll_pause();
    }

    /// D0 (PASSIVE, control lock held): full re-initialisation with the saved state.
    pub fn power_up(&self, dev: &mut Device, state: &mut OidState) -> Result<(), BringUpError> {
        if !self.device_usable() {
            self.clear_flag(FLAG_LOW_POWER);
            return Ok(());
        }
        let r = reinit(self, dev, state);
        self.clear_flag(FLAG_LOW_POWER);
        match r {
            Ok(()) => {
                self.refresh_gate();
                self.indicate_link(&state.link);
                Ok(())
            }
            Err(e) => {
                let _ = dev.reset();
                if let Some(dp) = self.datapath.get() {
                    dp.detach(n::NDIS_STATUS_HARD_ERRORS);
                }
                self.mark_failed();
                Err(e)
            }
        }
    }

    /// The reset worker (PASSIVE, control lock held): re-initialise and complete the reset.
    pub fn do_reset(&self, ctl: &mut Control) {
        let status = if self.has_flag(FLAG_REMOVED) {
            n::NDIS_STATUS_SUCCESS
        } else if let Some(dev) = ctl.device.as_mut() {
            let _ = dev.reset();
            if let Some(dp) = self.datapath.get() {
                dp.detach(n::NDIS_STATUS_RESET_IN_PROGRESS);
            }
            if self.has_flag(FLAG_LOW_POWER) {
                // Re-initialised at D0.
                n::NDIS_STATUS_SUCCESS
            } else {
                match reinit(self, dev, &mut ctl.state) {
                    Ok(()) => {
                        self.counters.resets_done.fetch_add(1, Ordering::Relaxed);
                        self.clear_flag(FLAG_NEEDS_RESET | FLAG_FAILED);
                        log!(Info, "reset: device re-initialised");
                        n::NDIS_STATUS_SUCCESS
                    }
                    Err(e) => {
                        self.counters.resets_failed.fetch_add(1, Ordering::Relaxed);
                        log!(Error, "reset failed: {:?}; reporting a hardware error", e);
                        dev.transport.fail();
                        let _ = dev.reset();
                        if let Some(dp) = self.datapath.get() {
                            dp.detach(n::NDIS_STATUS_HARD_ERRORS);
                        }
                        n::NDIS_STATUS_HARD_ERRORS
                    }
                }
            }
        } else {
            n::NDIS_STATUS_HARD_ERRORS
        };
        self.clear_flag(FLAG_RESETTING);
        if status == n::NDIS_STATUS_HARD_ERRORS {
            self.mark_failed();
        } else {
            self.clear_flag(FLAG_NEEDS_RESET);
            self.refresh_gate();
            if !self.has_flag(FLAG_REMOVED | FLAG_LOW_POWER) {
                self.indicate_link(&ctl.state.link);
            }
        }
        // SAFETY: ResetEx returned NDIS_STATUS_PENDING; completed once here.
        unsafe { n::NdisMResetComplete(self.handle, status, n::FALSE) };
        self.poll_pause();
    }
}

/// Releases everything an adapter holds, in reverse order of acquisition. Used by HaltEx and by a failed
/// InitializeEx (with whatever was allocated so far).
///
/// # Safety
/// `ptr` came from `Box::into_raw` of an adapter; after this call it is freed. With `interrupt_registered`
/// the interrupt in `adapter.interrupt` is deregistered here; NDIS calls no other handler concurrently
/// (Halt contract / failed InitializeEx).
pub unsafe fn teardown(ptr: *mut Adapter, interrupt_registered: bool) {
    {
        // SAFETY: live until the Box::from_raw below.
        let a = unsafe { &*ptr };
        a.set_flag(FLAG_HALTING);
        a.refresh_gate();
        // No new work is queued from now on; wait for what runs.
        a.work.wait_idle();
        let removed = a.has_flag(FLAG_REMOVED);
        {
            let mut ctl = a.control.lock();
            if let Some(dev) = ctl.device.as_mut() {
                if removed {
                    // The device is gone: no register access; its memory can simply go.
                    dev.ctrl = None;
                } else if let Err(e) = dev.reset() {
                    log!(Warn, "halt: device reset: {:?}", e);
                }
            }
        }
        if interrupt_registered {
            if let Some(irq) = a.interrupt.get() {
                interrupt::deregister(irq.handle);
            }
        }
    }
    // SAFETY: no handler runs any more (interrupt deregistered, NDIS serialises Halt); the pointer came
    // from Box::into_raw and is reclaimed once.
    let mut boxed = unsafe { Box::from_raw(ptr) };
    if let Some(dp) = boxed.datapath.take() {
        dp.detach(n::NDIS_STATUS_SEND_ABORTED);
        drop(dp);
    }
    boxed.interrupt.take();
    if let Some(dev) = boxed.control.get_mut().device.take() {
        drop(dev);
    }
    boxed.work.free();
    if !boxed.dma.is_null() {
        // SAFETY: the handle came from NdisMRegisterScatterGatherDma; every SG list was freed by the
        // datapath (dropped above). PASSIVE_LEVEL.
        unsafe { n::NdisMDeregisterScatterGatherDma(boxed.dma) };
        boxed.dma = ptr::null_mut();
    }
    boxed.bars.take();
    drop(boxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_resources_mean_adapter_not_found_and_garbled_ones_a_conflict() {
        assert_eq!(
            init_status_for(ResourceError::NoResourceList),
            n::NDIS_STATUS_ADAPTER_NOT_FOUND
        );
        assert_eq!(
            init_status_for(ResourceError::NoMemoryBar),
            n::NDIS_STATUS_ADAPTER_NOT_FOUND
        );
        assert_eq!(
            init_status_for(ResourceError::TooManyMemoryRanges),
            n::NDIS_STATUS_RESOURCE_CONFLICT
        );
        // Every mapping is an error status (severity bits 11).
        for e in [
            ResourceError::NoResourceList,
            ResourceError::TooManyDescriptors { count: 9999 },
            ResourceError::TooManyMemoryRanges,
            ResourceError::BadMemoryDescriptor { index: 0 },
            ResourceError::NoMemoryBar,
        ] {
            assert_eq!((init_status_for(e) as u32) >> 30, 0b11, "{e:?}");
        }
    }

    #[test]
    fn device_mac_is_kept_unless_missing_zero_or_multicast() {
        let m = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        assert_eq!(permanent_mac(Some(m)), m);
        for bad in [None, Some([0; 6]), Some([0x01, 0, 0x5E, 0, 0, 1])] {
            let g = permanent_mac(bad);
            assert_eq!(&g[..5], &[0x02, 0x50, 0xF2, 0x00, 0x01]);
            assert_eq!(g[5] & 0x80, 0x80);
            assert_eq!(g[0] & 0x03, 0x02, "locally administered unicast");
        }
    }

    #[test]
    fn udp_rss_hash_types_need_ndis_680() {
        use netkvm_core::rss::HashTypes as H;
        assert!(!rss_hash_types(n::NdisVersion::V6_30).contains(H::UDP_IPV4));
        assert!(rss_hash_types(n::NdisVersion::V6_80).contains(H::UDP_IPV4 | H::UDP_IPV6_EX));
        assert!(rss_hash_types(n::NdisVersion::V6_30).contains(H::TCP_IPV4 | H::IPV6));
    }
}
