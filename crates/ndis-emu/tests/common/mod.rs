//! A tiny miniport written against ndis-sys, to test the emulator: every DDI it calls resolves to
//! ndis-emu's definitions, exactly as the real miniport's do.
//!
//! Behaviour is chosen per test with [`Cfg`] (set before `Harness::load` through [`driver`]);
//! what the driver saw and did is recorded in [`Shared`]. The datapath is a loopback: sent
//! frames are optionally mapped with `NdisMAllocateNetBufferSGList`, then indicated back as
//! receives from the driver's own NBL pool (at DISPATCH_LEVEL, from the send path), and the send
//! is completed.
#![allow(dead_code, non_snake_case)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use ndis_emu::DriverEntryFn;
use ndis_sys as n;

/// How the send path completes NBLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendMode {
    /// Complete at once with NDIS_STATUS_SUCCESS (PAUSED when paused).
    Complete,
    /// Keep them; complete when [`Shared::complete_held`] is called (or at pause).
    Hold,
    /// Never complete (a bug).
    Never,
    /// Complete twice (a bug).
    Twice,
    /// Complete with SUCCESS even when paused (a bug).
    IgnorePause,
}

/// Per-test behaviour of the test miniport.
#[derive(Clone, Debug)]
pub struct Cfg {
    pub ndis_major: u8,
    pub ndis_minor: u8,
    pub chars_revision: u8,
    /// Leave these handlers out of the characteristics.
    pub omit_pause_handler: bool,
    pub set_registration: bool,
    pub set_general: bool,
    pub set_offload: Option<(u8, u16)>,
    pub registration_size: u16,
    pub init_status: n::NDIS_STATUS,
    pub map_bars: bool,
    pub interrupts: bool,
    pub sg_dma: Option<u8>,
    pub rx_pool: bool,
    pub keywords: Vec<(&'static str, n::NDIS_PARAMETER_TYPE)>,
    pub read_network_address: bool,
    pub alloc_memory: bool,
    pub leak_memory: bool,
    pub leak_timer: bool,
    pub pause_pending: bool,
    pub restart_pending: bool,
    pub reset_pending: bool,
    pub addressing_reset: bool,
    pub pause_ignores_outstanding: bool,
    pub send_mode: SendMode,
    pub loopback: bool,
    pub loopback_resources: bool,
    pub sg_on_send: bool,
    pub oid_pending: bool,
    /// Register the Direct and Synchronous OID handlers (needs characteristics revision 3).
    pub direct_oids: bool,
    /// Complete pending Direct requests with NdisMOidRequestComplete (wrong).
    pub direct_wrong_completion: bool,
    pub oid_overrun: bool,
    pub oid_bad_needed: bool,
    pub check_for_hang: bool,
    pub check_for_hang_secs: u32,
    pub attribute_flags: u32,
    pub queue_default_dpc: bool,
    pub dpc_targets: u32,
}

impl Default for Cfg {
    fn default() -> Self {
        Cfg {
            ndis_major: 6,
            ndis_minor: 85,
            chars_revision: n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            omit_pause_handler: false,
            set_registration: true,
            set_general: true,
            set_offload: None,
            registration_size: n::NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
            init_status: n::NDIS_STATUS_SUCCESS,
            map_bars: false,
            interrupts: false,
            sg_dma: None,
            rx_pool: false,
            keywords: Vec::new(),
            read_network_address: false,
            alloc_memory: false,
            leak_memory: false,
            leak_timer: false,
            pause_pending: false,
            restart_pending: false,
            reset_pending: false,
            addressing_reset: false,
            pause_ignores_outstanding: false,
            send_mode: SendMode::Complete,
            loopback: false,
            loopback_resources: false,
            sg_on_send: false,
            oid_pending: false,
            direct_oids: false,
            direct_wrong_completion: false,
            oid_overrun: false,
            oid_bad_needed: false,
            check_for_hang: false,
            check_for_hang_secs: 0,
            attribute_flags: n::NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE
                | n::NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER,
            queue_default_dpc: true,
            dpc_targets: 0,
        }
    }
}

/// A keyword read result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult {
    Failed(n::NDIS_STATUS),
    Integer(u32, n::NDIS_PARAMETER_TYPE),
    String(String, n::NDIS_PARAMETER_TYPE),
    Binary(Vec<u8>),
}

/// What the test driver observed.
#[derive(Default)]
pub struct Shared {
    pub cfg: Mutex<Cfg>,
    pub events: Mutex<Vec<String>>,
    pub driver_handle: AtomicUsize,
    pub adapter_handle: AtomicUsize,
    pub adapter_ctx: AtomicUsize,
    pub resources: Mutex<Vec<(u8, u16, i64, u32)>>,
    pub bars: Mutex<Vec<(usize, u32, i64)>>,
    pub interrupt: AtomicUsize,
    pub interrupt_type: AtomicU32,
    pub message_table: Mutex<Vec<(u64, usize)>>,
    pub dma: AtomicUsize,
    pub sg_list_size: AtomicU32,
    pub rx_pool: AtomicUsize,
    pub reads: Mutex<Vec<(String, ReadResult)>>,
    pub network_address: Mutex<Option<Vec<u8>>>,
    pub isr: Mutex<Vec<(u32, u32, u8)>>,
    pub dpc: Mutex<Vec<(u32, u32, u8)>>,
    pub sg_lists: Mutex<Vec<Vec<(u64, u32)>>>,
    pub held: Mutex<Vec<usize>>,
    pub paused: AtomicBool,
    pub outstanding_rx: AtomicUsize,
    pub pending_pause: AtomicBool,
    pub pending_oid: AtomicUsize,
    pub returned: AtomicUsize,
    pub hang_answer: AtomicBool,
    pub hang_calls: AtomicU32,
    pub memory: AtomicUsize,
    pub timer: AtomicUsize,
    pub lock: Mutex<Box<n::NDIS_SPIN_LOCK>>,
    pub pnp_events: Mutex<Vec<n::NDIS_DEVICE_PNP_EVENT>>,
    pub shutdowns: Mutex<Vec<(n::NDIS_SHUTDOWN_ACTION, u8)>>,
    pub halts: Mutex<Vec<n::NDIS_HALT_ACTION>>,
    pub pauses: Mutex<Vec<u32>>,
    pub oids: Mutex<Vec<(i32, u32)>>,
    pub power: Mutex<Vec<u32>>,
}

// SAFETY: the Box<NDIS_SPIN_LOCK> inside is only used through the NDIS spin-lock DDIs, which
// are thread-safe.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    pub fn event(&self, e: impl Into<String>) {
        self.events.lock().unwrap().push(e.into());
    }
    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
    pub fn cfg(&self) -> Cfg {
        self.cfg.lock().unwrap().clone()
    }
    pub fn adapter(&self) -> n::NDIS_HANDLE {
        self.adapter_handle.load(Ordering::SeqCst) as n::NDIS_HANDLE
    }
    /// Completes the held sends (SendMode::Hold) from this (test) thread at PASSIVE_LEVEL.
    pub fn complete_held(&self, status: n::NDIS_STATUS) -> usize {
        let held: Vec<usize> = std::mem::take(&mut *self.held.lock().unwrap());
        complete_chain(self, &held, status, false);
        held.len()
    }
}

thread_local! {
    static NEXT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

static BY_DRIVER_OBJECT: LazyLock<Mutex<HashMap<usize, Arc<Shared>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The test driver's DriverEntry with `cfg` (for the next `Harness::load` on this thread).
pub fn driver(cfg: Cfg) -> (DriverEntryFn, Arc<Shared>) {
    let s = Arc::new(Shared {
        cfg: Mutex::new(cfg),
        lock: Mutex::new(Box::default()),
        ..Default::default()
    });
    NEXT.with(|n| *n.borrow_mut() = Some(s.clone()));
    (driver_entry, s)
}

fn shared_of(ctx: n::NDIS_HANDLE) -> &'static Shared {
    // SAFETY: every context the driver hands NDIS is `Arc::into_raw` of a Shared that is kept
    // alive in BY_DRIVER_OBJECT for the whole process.
    unsafe { &*(ctx as *const Shared) }
}

unsafe extern "system" fn driver_entry(
    dobj: n::PDRIVER_OBJECT,
    _path: n::PUNICODE_STRING,
) -> n::NTSTATUS {
    let Some(s) = NEXT.with(|n| n.borrow_mut().take()) else {
        return n::STATUS_UNSUCCESSFUL;
    };
    BY_DRIVER_OBJECT
        .lock()
        .unwrap()
        .insert(dobj as usize, s.clone());
    let cfg = s.cfg();
    let mut c = n::NDIS_MINIPORT_DRIVER_CHARACTERISTICS::revision2();
    c.Header.Revision = cfg.chars_revision;
    c.Header.Size = match cfg.chars_revision {
        1 => n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1,
        3 => n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3,
        _ => n::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
    };
    c.MajorNdisVersion = cfg.ndis_major;
    c.MinorNdisVersion = cfg.ndis_minor;
    c.SetOptionsHandler = Some(set_options);
    c.InitializeHandlerEx = Some(initialize);
    c.HaltHandlerEx = Some(halt);
    c.UnloadHandler = Some(unload);
    c.PauseHandler = if cfg.omit_pause_handler {
        None
    } else {
        Some(pause)
    };
    c.RestartHandler = Some(restart);
    c.OidRequestHandler = Some(oid_request);
    c.SendNetBufferListsHandler = Some(send);
    c.ReturnNetBufferListsHandler = Some(return_nbls);
    c.CancelSendHandler = Some(cancel_send);
    c.CheckForHangHandlerEx = if cfg.check_for_hang {
        Some(check_for_hang)
    } else {
        None
    };
    c.ResetHandlerEx = Some(reset);
    c.DevicePnPEventNotifyHandler = Some(pnp);
    c.ShutdownHandlerEx = Some(shutdown);
    c.CancelOidRequestHandler = Some(cancel_oid);
    if cfg.direct_oids {
        c.DirectOidRequestHandler = Some(direct_oid_request);
        c.CancelDirectOidRequestHandler = Some(cancel_direct_oid);
        c.SynchronousOidRequestHandler = Some(synchronous_oid_request);
    }
    let ctx = Arc::into_raw(s.clone()) as n::NDIS_HANDLE;
    let mut h: n::NDIS_HANDLE = std::ptr::null_mut();
    // SAFETY: valid characteristics, driver object and out-parameter.
    let st =
        unsafe { n::NdisMRegisterMiniportDriver(dobj, std::ptr::null_mut(), ctx, &mut c, &mut h) };
    s.driver_handle.store(h as usize, Ordering::SeqCst);
    s.event(format!("DriverEntry: register {:#x}", st as u32));
    st
}

unsafe extern "system" fn set_options(_h: n::NDIS_HANDLE, ctx: n::NDIS_HANDLE) -> n::NDIS_STATUS {
    shared_of(ctx).event("SetOptions");
    n::NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn unload(dobj: n::PDRIVER_OBJECT) {
    let s = BY_DRIVER_OBJECT
        .lock()
        .unwrap()
        .get(&(dobj as usize))
        .cloned();
    if let Some(s) = s {
        s.event("Unload");
        let h = s.driver_handle.swap(0, Ordering::SeqCst);
        // SAFETY: the handle registration returned.
        unsafe { n::NdisMDeregisterMiniportDriver(h as n::NDIS_HANDLE) };
    }
}

/// Supported OIDs reported in the general attributes.
pub static SUPPORTED_OIDS: [n::NDIS_OID; 6] = [
    n::OID_GEN_SUPPORTED_LIST,
    n::OID_GEN_MAXIMUM_FRAME_SIZE,
    n::OID_GEN_CURRENT_PACKET_FILTER,
    n::OID_802_3_CURRENT_ADDRESS,
    n::OID_802_3_MULTICAST_LIST,
    n::OID_PNP_SET_POWER,
];

pub const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

fn ndis_str(s: &str) -> (Vec<u16>, n::NDIS_STRING) {
    let mut v: Vec<u16> = s.encode_utf16().collect();
    let us = n::UNICODE_STRING {
        Length: (v.len() * 2) as u16,
        MaximumLength: (v.len() * 2) as u16,
        Buffer: v.as_mut_ptr(),
    };
    (v, us)
}

fn read_keywords(s: &Shared, h: n::NDIS_HANDLE, cfg: &Cfg) {
    if cfg.keywords.is_empty() && !cfg.read_network_address {
        return;
    }
    let mut obj = n::NDIS_CONFIGURATION_OBJECT {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            n::NDIS_CONFIGURATION_OBJECT_REVISION_1,
            n::NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: h,
        Flags: 0,
    };
    let mut ch: n::NDIS_HANDLE = std::ptr::null_mut();
    // SAFETY: valid object and out-parameter.
    if unsafe { n::NdisOpenConfigurationEx(&mut obj, &mut ch) } != n::NDIS_STATUS_SUCCESS {
        s.event("open configuration failed");
        return;
    }
    for (k, ty) in &cfg.keywords {
        let (_keep, mut us) = ndis_str(k);
        let mut st: n::NDIS_STATUS = 0;
        let mut p: n::PNDIS_CONFIGURATION_PARAMETER = std::ptr::null_mut();
        // SAFETY: valid out-parameters, handle and keyword.
        unsafe { n::NdisReadConfiguration(&mut st, &mut p, ch, &mut us, *ty) };
        let r = if st != n::NDIS_STATUS_SUCCESS || p.is_null() {
            ReadResult::Failed(st)
        } else {
            // SAFETY: NDIS returned a parameter valid until NdisCloseConfiguration.
            let v = unsafe { p.read() };
            match v.value() {
                n::ConfigValue::Integer(i) => ReadResult::Integer(i, v.ParameterType),
                n::ConfigValue::String { length, buffer } => {
                    // SAFETY: the string NDIS returned.
                    let u = unsafe { std::slice::from_raw_parts(buffer, usize::from(length) / 2) };
                    ReadResult::String(String::from_utf16_lossy(u), v.ParameterType)
                }
                n::ConfigValue::Binary { length, buffer } => {
                    // SAFETY: the data NDIS returned.
                    ReadResult::Binary(
                        unsafe {
                            std::slice::from_raw_parts(buffer.cast::<u8>(), usize::from(length))
                        }
                        .to_vec(),
                    )
                }
                n::ConfigValue::Unknown(t) => ReadResult::Failed(t),
            }
        };
        s.reads.lock().unwrap().push((k.to_string(), r));
    }
    if cfg.read_network_address {
        let mut st: n::NDIS_STATUS = 0;
        let mut p: n::PVOID = std::ptr::null_mut();
        let mut len: u32 = 0;
        // SAFETY: valid out-parameters.
        unsafe { n::NdisReadNetworkAddress(&mut st, &mut p, &mut len, ch) };
        *s.network_address.lock().unwrap() = (st == n::NDIS_STATUS_SUCCESS)
            // SAFETY: NDIS returned `len` bytes at `p`.
            .then(|| unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len as usize) }.to_vec());
    }
    // SAFETY: the handle opened above.
    unsafe { n::NdisCloseConfiguration(ch) };
}

unsafe extern "system" fn initialize(
    h: n::NDIS_HANDLE,
    dctx: n::NDIS_HANDLE,
    params: n::PNDIS_MINIPORT_INIT_PARAMETERS,
) -> n::NDIS_STATUS {
    let s = shared_of(dctx);
    let cfg = s.cfg();
    s.adapter_handle.store(h as usize, Ordering::SeqCst);
    s.adapter_ctx.store(dctx as usize, Ordering::SeqCst);
    s.paused.store(true, Ordering::SeqCst);
    s.event("Initialize");
    // Resources.
    // SAFETY: NDIS passes valid parameters with a valid translated resource list.
    let list = unsafe { (*params).AllocatedResources };
    // SAFETY: as above.
    let descs = unsafe { n::CM_PARTIAL_RESOURCE_LIST::descriptors(list) };
    for d in descs {
        // SAFETY: plain-integer union views.
        let r = unsafe { d.u.Memory };
        s.resources
            .lock()
            .unwrap()
            .push((d.Type, d.Flags, r.Start, r.Length));
    }
    read_keywords(s, h, &cfg);
    let fail = |what: &str, st: n::NDIS_STATUS| {
        s.event(format!("init step {what} failed {:#x}", st as u32));
        st
    };
    if cfg.set_registration {
        let mut r = n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
                n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
                cfg.registration_size,
            ),
            MiniportAdapterContext: dctx,
            AttributeFlags: cfg.attribute_flags,
            CheckForHangTimeInSeconds: cfg.check_for_hang_secs,
            InterfaceType: n::NdisInterfacePci,
        };
        // SAFETY: valid attributes, cast to the union pointer type as the DDI expects.
        let st = unsafe {
            n::NdisMSetMiniportAttributes(
                h,
                (&mut r as *mut n::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES).cast(),
            )
        };
        if st != n::NDIS_STATUS_SUCCESS {
            return fail("registration", st);
        }
    }
    if cfg.set_general {
        // SAFETY: plain-data structure, all-zero is valid before filling.
        let mut g: n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES = unsafe { std::mem::zeroed() };
        g.Header = n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            n::NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
        );
        g.MediaType = n::NdisMedium802_3;
        g.PhysicalMediumType = n::NdisPhysicalMedium802_3;
        g.MtuSize = 1500;
        g.MaxXmitLinkSpeed = 10_000_000_000;
        g.XmitLinkSpeed = 10_000_000_000;
        g.MaxRcvLinkSpeed = 10_000_000_000;
        g.RcvLinkSpeed = 10_000_000_000;
        g.MediaConnectState = n::MediaConnectStateConnected;
        g.MediaDuplexState = n::MediaDuplexStateFull;
        g.LookaheadSize = 1500;
        g.MacAddressLength = 6;
        g.PermanentMacAddress[..6].copy_from_slice(&MAC);
        g.CurrentMacAddress[..6].copy_from_slice(&MAC);
        g.SupportedOidList = SUPPORTED_OIDS.as_ptr() as *mut n::NDIS_OID;
        g.SupportedOidListLength = (SUPPORTED_OIDS.len() * 4) as u32;
        g.IfType = n::IF_TYPE_ETHERNET_CSMACD;
        g.AccessType = n::NET_IF_ACCESS_BROADCAST;
        g.ConnectionType = n::NET_IF_CONNECTION_DEDICATED;
        // SAFETY: valid attributes.
        let st = unsafe {
            n::NdisMSetMiniportAttributes(
                h,
                (&mut g as *mut n::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES).cast(),
            )
        };
        if st != n::NDIS_STATUS_SUCCESS {
            return fail("general", st);
        }
    }
    if let Some((rev, size)) = cfg.set_offload {
        // SAFETY: plain data.
        let mut o: n::NDIS_OFFLOAD = unsafe { std::mem::zeroed() };
        o.Header = n::NDIS_OBJECT_HEADER::new(n::NDIS_OBJECT_TYPE_OFFLOAD, rev, size);
        let mut hw = o;
        let mut a = n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
                n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
                n::NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
            ),
            DefaultOffloadConfiguration: &mut o,
            HardwareOffloadCapabilities: &mut hw,
            DefaultTcpConnectionOffloadConfiguration: std::ptr::null_mut(),
            TcpConnectionOffloadHardwareCapabilities: std::ptr::null_mut(),
        };
        // SAFETY: valid attributes.
        let st = unsafe {
            n::NdisMSetMiniportAttributes(
                h,
                (&mut a as *mut n::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES).cast(),
            )
        };
        if st != n::NDIS_STATUS_SUCCESS {
            return fail("offload", st);
        }
    }
    if cfg.alloc_memory {
        // SAFETY: valid adapter handle.
        let p = unsafe {
            n::NdisAllocateMemoryWithTagPriority(
                h,
                128,
                u32::from_le_bytes(*b"tst1"),
                n::NormalPoolPriority,
            )
        };
        if p.is_null() {
            return fail("memory", n::NDIS_STATUS_RESOURCES);
        }
        s.memory.store(p as usize, Ordering::SeqCst);
    }
    {
        let mut l = s.lock.lock().unwrap();
        // SAFETY: storage for an NDIS_SPIN_LOCK owned by Shared.
        unsafe { n::NdisAllocateSpinLock(&mut **l) };
    }
    if cfg.map_bars {
        for d in descs.iter().filter(|d| d.Type == n::CmResourceTypeMemory) {
            // SAFETY: plain-integer union view.
            let r = unsafe { d.u.Memory };
            let mut va: n::PVOID = std::ptr::null_mut();
            // SAFETY: valid out-parameter, a BAR of our resources.
            let st = unsafe { n::NdisMMapIoSpace(&mut va, h, r.Start, r.Length) };
            if st != n::NDIS_STATUS_SUCCESS {
                release(s, h, false);
                return fail("map", st);
            }
            s.bars
                .lock()
                .unwrap()
                .push((va as usize, r.Length, r.Start));
        }
    }
    if cfg.interrupts {
        // SAFETY: plain data.
        let mut ic: n::NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS = unsafe { std::mem::zeroed() };
        ic.Header = n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT,
            n::NDIS_MINIPORT_INTERRUPT_REVISION_1,
            n::NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1,
        );
        ic.InterruptHandler = Some(line_isr);
        ic.InterruptDpcHandler = Some(line_dpc);
        ic.MsiSupported = n::TRUE;
        ic.MessageInterruptHandler = Some(msg_isr);
        ic.MessageInterruptDpcHandler = Some(msg_dpc);
        let mut ih: n::NDIS_HANDLE = std::ptr::null_mut();
        // SAFETY: valid characteristics and out-parameter; the interrupt context is Shared.
        let st = unsafe { n::NdisMRegisterInterruptEx(h, dctx, &mut ic, &mut ih) };
        if st != n::NDIS_STATUS_SUCCESS {
            release(s, h, false);
            return fail("interrupt", st);
        }
        s.interrupt.store(ih as usize, Ordering::SeqCst);
        s.interrupt_type
            .store(ic.InterruptType as u32, Ordering::SeqCst);
        if !ic.MessageInfoTable.is_null() {
            // SAFETY: NDIS's message table, valid while the interrupt is registered.
            let count = unsafe { (*ic.MessageInfoTable).MessageCount };
            let first = ic
                .MessageInfoTable
                .cast::<u8>()
                .wrapping_add(8)
                .cast::<n::IO_INTERRUPT_MESSAGE_INFO_ENTRY>();
            for i in 0..count as usize {
                // SAFETY: entry `i` of the table NDIS built.
                let e = unsafe { first.wrapping_add(i).read() };
                s.message_table
                    .lock()
                    .unwrap()
                    .push((e.MessageAddress as u64, e.TargetProcessorSet));
            }
        }
    }
    if let Some(rev) = cfg.sg_dma {
        let mut d = n::NDIS_SG_DMA_DESCRIPTION {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION,
                rev,
                if rev >= 2 {
                    n::NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_2
                } else {
                    n::NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1
                },
            ),
            Flags: n::NDIS_SG_DMA_64_BIT_ADDRESS,
            MaximumPhysicalMapping: 65536,
            ProcessSGListHandler: Some(process_sg),
            SharedMemAllocateCompleteHandler: None,
            ScatterGatherListSize: 0,
            PdoOverride: std::ptr::null_mut(),
        };
        let mut dh: n::NDIS_HANDLE = std::ptr::null_mut();
        // SAFETY: valid description and out-parameter.
        let st = unsafe { n::NdisMRegisterScatterGatherDma(h, &mut d, &mut dh) };
        if st != n::NDIS_STATUS_SUCCESS {
            release(s, h, false);
            return fail("dma", st);
        }
        s.dma.store(dh as usize, Ordering::SeqCst);
        s.sg_list_size
            .store(d.ScatterGatherListSize, Ordering::SeqCst);
    }
    if cfg.rx_pool {
        let p = n::NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                n::NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: n::NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: n::TRUE,
            ContextSize: 0,
            PoolTag: u32::from_le_bytes(*b"tsrx"),
            DataSize: 2048,
        };
        // SAFETY: valid parameters.
        let pool = unsafe { n::NdisAllocateNetBufferListPool(h, &p) };
        if pool.is_null() {
            release(s, h, false);
            return fail("rx pool", n::NDIS_STATUS_RESOURCES);
        }
        s.rx_pool.store(pool as usize, Ordering::SeqCst);
    }
    if cfg.leak_timer {
        let mut tc = n::NDIS_TIMER_CHARACTERISTICS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
                n::NDIS_TIMER_CHARACTERISTICS_REVISION_1,
                n::NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
            ),
            AllocationTag: u32::from_le_bytes(*b"tstm"),
            TimerFunction: Some(noop_timer),
            FunctionContext: std::ptr::null_mut(),
        };
        let mut t: n::NDIS_HANDLE = std::ptr::null_mut();
        // SAFETY: valid characteristics.
        let st = unsafe { n::NdisAllocateTimerObject(h, &mut tc, &mut t) };
        if st != n::NDIS_STATUS_SUCCESS {
            release(s, h, false);
            return fail("timer", st);
        }
        s.timer.store(t as usize, Ordering::SeqCst);
    }
    if cfg.init_status != n::NDIS_STATUS_SUCCESS {
        release(s, h, false);
        return cfg.init_status;
    }
    n::NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn noop_timer(_a: n::PVOID, _b: n::PVOID, _c: n::PVOID, _d: n::PVOID) {}

/// Releases what initialize allocated (Halt, or a failed initialize).
fn release(s: &Shared, h: n::NDIS_HANDLE, halting: bool) {
    let cfg = s.cfg();
    let t = s.timer.swap(0, Ordering::SeqCst);
    if t != 0 && !(halting && cfg.leak_timer) {
        // SAFETY: our timer.
        unsafe { n::NdisFreeTimerObject(t as n::NDIS_HANDLE) };
    }
    let p = s.rx_pool.swap(0, Ordering::SeqCst);
    if p != 0 {
        // SAFETY: our pool.
        unsafe { n::NdisFreeNetBufferListPool(p as n::NDIS_HANDLE) };
    }
    let d = s.dma.swap(0, Ordering::SeqCst);
    if d != 0 {
        // SAFETY: our DMA handle.
        unsafe { n::NdisMDeregisterScatterGatherDma(d as n::NDIS_HANDLE) };
    }
    let i = s.interrupt.swap(0, Ordering::SeqCst);
    if i != 0 {
        // SAFETY: our interrupt.
        unsafe { n::NdisMDeregisterInterruptEx(i as n::NDIS_HANDLE) };
    }
    for (va, len, _) in std::mem::take(&mut *s.bars.lock().unwrap()) {
        // SAFETY: our mapping.
        unsafe { n::NdisMUnmapIoSpace(h, va as n::PVOID, len) };
    }
    let m = s.memory.swap(0, Ordering::SeqCst);
    if m != 0 && !(halting && cfg.leak_memory) {
        // SAFETY: our allocation.
        unsafe { n::NdisFreeMemoryWithTagPriority(h, m as n::PVOID, u32::from_le_bytes(*b"tst1")) };
    }
    let mut l = s.lock.lock().unwrap();
    // SAFETY: our spin lock.
    unsafe { n::NdisFreeSpinLock(&mut **l) };
}

unsafe extern "system" fn halt(ctx: n::NDIS_HANDLE, action: n::NDIS_HALT_ACTION) {
    let s = shared_of(ctx);
    s.event("Halt");
    s.halts.lock().unwrap().push(action);
    release(s, s.adapter(), true);
}

fn try_finish_pause(s: &Shared) {
    if s.pending_pause.load(Ordering::SeqCst)
        && s.outstanding_rx.load(Ordering::SeqCst) == 0
        && s.held.lock().unwrap().is_empty()
        && s.pending_pause.swap(false, Ordering::SeqCst)
    {
        s.event("PauseComplete");
        // SAFETY: our adapter handle; a pause is pending.
        unsafe { n::NdisMPauseComplete(s.adapter()) };
    }
}

unsafe extern "system" fn pause(
    ctx: n::NDIS_HANDLE,
    p: n::PNDIS_MINIPORT_PAUSE_PARAMETERS,
) -> n::NDIS_STATUS {
    let s = shared_of(ctx);
    // SAFETY: valid parameters.
    s.pauses.lock().unwrap().push(unsafe { (*p).PauseReason });
    s.paused.store(true, Ordering::SeqCst);
    let cfg = s.cfg();
    s.event("Pause");
    if cfg.send_mode == SendMode::Hold {
        s.complete_held(n::NDIS_STATUS_PAUSED);
    }
    if cfg.pause_ignores_outstanding {
        return n::NDIS_STATUS_SUCCESS;
    }
    if cfg.pause_pending || s.outstanding_rx.load(Ordering::SeqCst) != 0 {
        s.pending_pause.store(true, Ordering::SeqCst);
        try_finish_pause(s);
        return n::NDIS_STATUS_PENDING;
    }
    n::NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn restart(
    ctx: n::NDIS_HANDLE,
    _p: n::PNDIS_MINIPORT_RESTART_PARAMETERS,
) -> n::NDIS_STATUS {
    let s = shared_of(ctx);
    s.event("Restart");
    s.paused.store(false, Ordering::SeqCst);
    if s.cfg().restart_pending {
        let h = s.adapter() as usize;
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            // SAFETY: the adapter handle; a restart is pending. (A thread outside the emulator:
            // legal at PASSIVE_LEVEL.)
            unsafe { n::NdisMRestartComplete(h as n::NDIS_HANDLE, n::NDIS_STATUS_SUCCESS) };
        });
        return n::NDIS_STATUS_PENDING;
    }
    n::NDIS_STATUS_SUCCESS
}

fn oid_of(r: &n::NDIS_OID_REQUEST) -> (i32, u32) {
    (r.RequestType, r.oid())
}

unsafe extern "system" fn oid_request(
    ctx: n::NDIS_HANDLE,
    req: n::PNDIS_OID_REQUEST,
) -> n::NDIS_STATUS {
    let s = shared_of(ctx);
    let cfg = s.cfg();
    // SAFETY: NDIS's request, valid until completed.
    let r = unsafe { &mut *req };
    s.oids.lock().unwrap().push(oid_of(r));
    let st = handle_oid(s, r, &cfg);
    if cfg.oid_pending {
        s.pending_oid.store(req as usize, Ordering::SeqCst);
        let (h, rq) = (s.adapter() as usize, req as usize);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            // SAFETY: the adapter handle and the pending request.
            unsafe {
                n::NdisMOidRequestComplete(h as n::NDIS_HANDLE, rq as n::PNDIS_OID_REQUEST, st)
            };
        });
        return n::NDIS_STATUS_PENDING;
    }
    st
}

unsafe extern "system" fn direct_oid_request(
    ctx: n::NDIS_HANDLE,
    req: n::PNDIS_OID_REQUEST,
) -> n::NDIS_STATUS {
    let s = shared_of(ctx);
    let cfg = s.cfg();
    // SAFETY: NDIS's request, valid until completed.
    let r = unsafe { &mut *req };
    s.event(format!("direct {:#x}", r.oid()));
    let st = handle_oid(s, r, &cfg);
    if cfg.oid_pending {
        let (h, rq, wrong) = (
            s.adapter() as usize,
            req as usize,
            cfg.direct_wrong_completion,
        );
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let (h, rq) = (h as n::NDIS_HANDLE, rq as n::PNDIS_OID_REQUEST);
            if wrong {
                // SAFETY: the adapter handle and the pending request.
                unsafe { n::NdisMOidRequestComplete(h, rq, st) };
            } else {
                // SAFETY: the adapter handle and the pending request.
                unsafe { n::NdisMDirectOidRequestComplete(h, rq, st) };
            }
        });
        return n::NDIS_STATUS_PENDING;
    }
    st
}

unsafe extern "system" fn cancel_direct_oid(ctx: n::NDIS_HANDLE, _id: n::PVOID) {
    shared_of(ctx).event("CancelDirectOid");
}

unsafe extern "system" fn synchronous_oid_request(
    ctx: n::NDIS_HANDLE,
    req: n::PNDIS_OID_REQUEST,
) -> n::NDIS_STATUS {
    let s = shared_of(ctx);
    let cfg = s.cfg();
    // SAFETY: NDIS's request, valid for the call.
    let r = unsafe { &mut *req };
    s.event(format!("synchronous {:#x}", r.oid()));
    if cfg.oid_pending {
        return n::NDIS_STATUS_PENDING;
    }
    handle_oid(s, r, &cfg)
}

/// A vendor method OID of the test miniport: MethodId 7 answers the input reversed.
pub const OID_TEST_REVERSE: n::NDIS_OID = 0xFF01_0001;

fn handle_oid(s: &Shared, r: &mut n::NDIS_OID_REQUEST, cfg: &Cfg) -> n::NDIS_STATUS {
    let oid = r.oid();
    match r.RequestType {
        n::NdisRequestQueryInformation | n::NdisRequestQueryStatistics => {
            // SAFETY: query view of a query request.
            let q = unsafe { &mut r.DATA.QUERY_INFORMATION };
            let out: Vec<u8> = match oid {
                n::OID_GEN_SUPPORTED_LIST => SUPPORTED_OIDS
                    .iter()
                    .flat_map(|o| o.to_le_bytes())
                    .collect(),
                n::OID_GEN_MAXIMUM_FRAME_SIZE => 1500u32.to_le_bytes().to_vec(),
                n::OID_GEN_MAXIMUM_TOTAL_SIZE => 1514u32.to_le_bytes().to_vec(),
                n::OID_GEN_MEDIA_SUPPORTED | n::OID_GEN_MEDIA_IN_USE => {
                    (n::NdisMedium802_3 as u32).to_le_bytes().to_vec()
                }
                n::OID_GEN_LINK_SPEED => 100_000_000u32.to_le_bytes().to_vec(),
                n::OID_802_3_MAXIMUM_LIST_SIZE => 32u32.to_le_bytes().to_vec(),
                n::OID_802_3_CURRENT_ADDRESS | n::OID_802_3_PERMANENT_ADDRESS => MAC.to_vec(),
                n::OID_GEN_STATISTICS => vec![0u8; 152],
                _ => return n::NDIS_STATUS_NOT_SUPPORTED,
            };
            let len = if cfg.oid_overrun {
                out.len() + 8
            } else {
                out.len()
            };
            if (q.InformationBufferLength as usize) < out.len() {
                q.BytesNeeded = if cfg.oid_bad_needed {
                    0
                } else {
                    out.len() as u32
                };
                return n::NDIS_STATUS_BUFFER_TOO_SHORT;
            }
            let mut buf = out.clone();
            buf.resize(len, 0xEE);
            // SAFETY: the buffer has InformationBufferLength bytes (the overrun case writes past
            // it on purpose into the emulator's canary area, which exists after every buffer).
            unsafe {
                std::ptr::copy_nonoverlapping(buf.as_ptr(), q.InformationBuffer.cast::<u8>(), len)
            };
            q.BytesWritten = out.len() as u32;
            n::NDIS_STATUS_SUCCESS
        }
        n::NdisRequestSetInformation => {
            // SAFETY: set view of a set request.
            let st = unsafe { &mut r.DATA.SET_INFORMATION };
            match oid {
                n::OID_GEN_CURRENT_PACKET_FILTER
                | n::OID_GEN_CURRENT_LOOKAHEAD
                | n::OID_PNP_SET_POWER => {
                    if st.InformationBufferLength < 4 {
                        st.BytesNeeded = 4;
                        return n::NDIS_STATUS_INVALID_LENGTH;
                    }
                    // SAFETY: at least 4 bytes.
                    let v = unsafe { st.InformationBuffer.cast::<u32>().read_unaligned() };
                    if oid == n::OID_PNP_SET_POWER {
                        s.power.lock().unwrap().push(v);
                    }
                    s.event(format!("set {oid:#x} = {v:#x}"));
                    st.BytesRead = 4;
                    n::NDIS_STATUS_SUCCESS
                }
                n::OID_802_3_MULTICAST_LIST
                | n::OID_OFFLOAD_ENCAPSULATION
                | n::OID_TCP_OFFLOAD_PARAMETERS => {
                    st.BytesRead = st.InformationBufferLength;
                    s.event(format!(
                        "set {oid:#x} ({} bytes)",
                        st.InformationBufferLength
                    ));
                    n::NDIS_STATUS_SUCCESS
                }
                _ => n::NDIS_STATUS_NOT_SUPPORTED,
            }
        }
        n::NdisRequestMethod if oid == OID_TEST_REVERSE => {
            // SAFETY: method view of a method request.
            let m = unsafe { &mut r.DATA.METHOD_INFORMATION };
            if m.MethodId != 7 {
                return n::NDIS_STATUS_INVALID_PARAMETER;
            }
            let n_in = m.InputBufferLength as usize;
            if (m.OutputBufferLength as usize) < n_in {
                m.BytesNeeded = n_in as u32;
                return n::NDIS_STATUS_BUFFER_TOO_SHORT;
            }
            let buf = m.InformationBuffer.cast::<u8>();
            // SAFETY: the in/out buffer holds max(input, output) bytes.
            let v = unsafe { std::slice::from_raw_parts_mut(buf, n_in) };
            v.reverse();
            m.BytesRead = n_in as u32;
            m.BytesWritten = n_in as u32;
            n::NDIS_STATUS_SUCCESS
        }
        _ => n::NDIS_STATUS_NOT_SUPPORTED,
    }
}

unsafe extern "system" fn cancel_oid(ctx: n::NDIS_HANDLE, _id: n::PVOID) {
    shared_of(ctx).event("CancelOid");
}

unsafe extern "system" fn process_sg(
    _pdo: n::PDEVICE_OBJECT,
    _r: n::PVOID,
    sgl: n::PSCATTER_GATHER_LIST,
    ctx: n::PVOID,
) {
    let s = shared_of(ctx);
    // SAFETY: the list NDIS built, valid until freed.
    let els = unsafe { n::SCATTER_GATHER_LIST::elements(sgl) };
    s.sg_lists
        .lock()
        .unwrap()
        .push(els.iter().map(|e| (e.Address as u64, e.Length)).collect());
    let d = s.dma.load(Ordering::SeqCst) as n::NDIS_HANDLE;
    PENDING_SGL.with(|c| c.set(sgl as usize));
    let _ = d;
}

thread_local! {
    static PENDING_SGL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Completes `nbls` (our send chain elements).
fn complete_chain(s: &Shared, nbls: &[usize], status: n::NDIS_STATUS, dispatch: bool) {
    if nbls.is_empty() {
        return;
    }
    for (i, &p) in nbls.iter().enumerate() {
        let next = nbls.get(i + 1).copied().unwrap_or(0);
        // SAFETY: NBLs NDIS gave us to send; we own them until completion.
        let l = unsafe { &mut *(p as *mut n::NET_BUFFER_LIST) };
        l.set_next_nbl(next as *mut n::NET_BUFFER_LIST);
        l.set_status(status);
    }
    let flags = if dispatch {
        n::NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    // SAFETY: our adapter, the chain we own.
    unsafe {
        n::NdisMSendNetBufferListsComplete(s.adapter(), nbls[0] as *mut n::NET_BUFFER_LIST, flags)
    };
}

/// Indicates a copy of `frame` from the rx pool (at DISPATCH_LEVEL).
fn loopback(s: &Shared, frame: &[u8], resources: bool) {
    let pool = s.rx_pool.load(Ordering::SeqCst) as n::NDIS_HANDLE;
    if pool.is_null() || frame.len() > 2048 {
        return;
    }
    // SAFETY: our pool; NDIS allocates the NB with a data buffer of the pool's DataSize.
    let nbl = unsafe {
        n::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, std::ptr::null_mut(), 0, frame.len())
    };
    if nbl.is_null() {
        return;
    }
    // SAFETY: our fresh NBL.
    let l = unsafe { &mut *nbl };
    let nb = l.first_nb();
    // SAFETY: our NB with NDIS's MDL.
    let mdl = unsafe { (*nb).current_mdl() };
    // SAFETY: NDIS's MDL, mapped non-paged memory of DataSize bytes.
    let va = n::mdl_system_address_if_mapped(unsafe { &*mdl }).unwrap_or(std::ptr::null_mut());
    // SAFETY: DataSize >= frame.len() bytes.
    unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), va.cast::<u8>(), frame.len()) };
    l.SourceHandle = s.adapter();
    let mut flags = n::NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL;
    if resources {
        flags |= n::NDIS_RECEIVE_FLAGS_RESOURCES;
    } else {
        s.outstanding_rx.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: our adapter and NBL, at DISPATCH_LEVEL (the caller holds a spin lock).
    unsafe { n::NdisMIndicateReceiveNetBufferLists(s.adapter(), nbl, 0, 1, flags) };
    if resources {
        // SAFETY: with NDIS_RECEIVE_FLAGS_RESOURCES the NBL is ours again.
        unsafe { n::NdisFreeNetBufferList(nbl) };
    }
}

unsafe extern "system" fn send(
    ctx: n::NDIS_HANDLE,
    nbls: n::PNET_BUFFER_LIST,
    _port: n::NDIS_PORT_NUMBER,
    flags: u32,
) {
    let s = shared_of(ctx);
    let cfg = s.cfg();
    let dispatch = flags & n::NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
    // SAFETY: the chain NDIS handed us.
    let list: Vec<usize> = unsafe { n::NblChain::new(nbls) }
        .map(|p| p as usize)
        .collect();
    let lockp: *mut n::NDIS_SPIN_LOCK = &mut **s.lock.lock().unwrap();
    // Datapath work at DISPATCH_LEVEL under the adapter lock.
    // SAFETY: our spin lock.
    unsafe { n::NdisAcquireSpinLock(lockp) };
    let paused = s.paused.load(Ordering::SeqCst);
    if !paused {
        for &p in &list {
            // SAFETY: NBLs we own until completion.
            for nb in unsafe { n::NbChain::new(p as *mut n::NET_BUFFER_LIST) } {
                if cfg.sg_on_send {
                    let d = s.dma.load(Ordering::SeqCst) as n::NDIS_HANDLE;
                    let ctxp = s.adapter_ctx.load(Ordering::SeqCst) as n::PVOID;
                    // SAFETY: our DMA handle, an NB we own, at DISPATCH_LEVEL.
                    let st = unsafe {
                        n::NdisMAllocateNetBufferSGList(
                            d,
                            nb,
                            ctxp,
                            n::NDIS_SG_LIST_WRITE_TO_DEVICE,
                            std::ptr::null_mut(),
                            0,
                        )
                    };
                    if st == n::NDIS_STATUS_SUCCESS {
                        let sgl = PENDING_SGL.with(|c| c.replace(0));
                        // SAFETY: the list ProcessSGList received, for this NB.
                        unsafe {
                            n::NdisMFreeNetBufferSGList(d, sgl as n::PSCATTER_GATHER_LIST, nb)
                        };
                    }
                }
                if cfg.loopback {
                    // SAFETY: an NB we own.
                    let mut buf = vec![0u8; unsafe { (*nb).data_length() } as usize];
                    // SAFETY: NB we own; storage of DataLength bytes.
                    let p = unsafe {
                        n::NdisGetDataBuffer(nb, buf.len() as u32, buf.as_mut_ptr().cast(), 1, 0)
                    };
                    if !p.is_null() {
                        // SAFETY: NDIS returned DataLength readable bytes.
                        let data = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), buf.len()) }
                            .to_vec();
                        loopback(s, &data, cfg.loopback_resources);
                    }
                }
            }
        }
    }
    // SAFETY: our spin lock, held.
    unsafe { n::NdisReleaseSpinLock(lockp) };
    let status = if paused && cfg.send_mode != SendMode::IgnorePause {
        n::NDIS_STATUS_PAUSED
    } else {
        n::NDIS_STATUS_SUCCESS
    };
    match cfg.send_mode {
        SendMode::Complete | SendMode::IgnorePause => complete_chain(s, &list, status, dispatch),
        SendMode::Hold => s.held.lock().unwrap().extend(list),
        SendMode::Never => {}
        SendMode::Twice => {
            complete_chain(s, &list, status, dispatch);
            complete_chain(s, &list, status, dispatch);
        }
    }
}

unsafe extern "system" fn return_nbls(ctx: n::NDIS_HANDLE, nbls: n::PNET_BUFFER_LIST, _flags: u32) {
    let s = shared_of(ctx);
    // SAFETY: the NBLs we indicated, back from NDIS.
    let list: Vec<usize> = unsafe { n::NblChain::new(nbls) }
        .map(|p| p as usize)
        .collect();
    for p in list {
        // SAFETY: our NBL from our pool.
        unsafe { n::NdisFreeNetBufferList(p as *mut n::NET_BUFFER_LIST) };
        s.outstanding_rx.fetch_sub(1, Ordering::SeqCst);
        s.returned.fetch_add(1, Ordering::SeqCst);
    }
    try_finish_pause(s);
}

unsafe extern "system" fn cancel_send(ctx: n::NDIS_HANDLE, _id: n::PVOID) {
    shared_of(ctx).event("CancelSend");
}

unsafe extern "system" fn check_for_hang(ctx: n::NDIS_HANDLE) -> n::BOOLEAN {
    let s = shared_of(ctx);
    s.hang_calls.fetch_add(1, Ordering::SeqCst);
    n::BOOLEAN::from(s.hang_answer.swap(false, Ordering::SeqCst))
}

unsafe extern "system" fn reset(
    ctx: n::NDIS_HANDLE,
    addressing: *mut n::BOOLEAN,
) -> n::NDIS_STATUS {
    let s = shared_of(ctx);
    let cfg = s.cfg();
    s.event("Reset");
    if cfg.reset_pending {
        let (h, a) = (s.adapter() as usize, cfg.addressing_reset);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            // SAFETY: our adapter; a reset is pending.
            unsafe {
                n::NdisMResetComplete(
                    h as n::NDIS_HANDLE,
                    n::NDIS_STATUS_SUCCESS,
                    n::BOOLEAN::from(a),
                )
            };
        });
        return n::NDIS_STATUS_PENDING;
    }
    // SAFETY: NDIS's out-parameter.
    unsafe { *addressing = n::BOOLEAN::from(cfg.addressing_reset) };
    n::NDIS_STATUS_SUCCESS
}

unsafe extern "system" fn pnp(ctx: n::NDIS_HANDLE, e: n::PNET_DEVICE_PNP_EVENT) {
    let s = shared_of(ctx);
    // SAFETY: NDIS's event.
    s.pnp_events
        .lock()
        .unwrap()
        .push(unsafe { (*e).DevicePnPEvent });
}

unsafe extern "system" fn shutdown(ctx: n::NDIS_HANDLE, action: n::NDIS_SHUTDOWN_ACTION) {
    let s = shared_of(ctx);
    // SAFETY: KeGetCurrentIrql is exported by the emulator.
    let irql = unsafe { KeGetCurrentIrql() };
    s.shutdowns.lock().unwrap().push((action, irql));
}

unsafe extern "system" {
    /// Exported by ntoskrnl (and the emulator); inline on real x64 builds.
    pub fn KeGetCurrentIrql() -> n::KIRQL;
}

fn cpu_now() -> u32 {
    // SAFETY: null out-parameter is allowed.
    unsafe { n::KeGetCurrentProcessorNumberEx(std::ptr::null_mut()) }
}

unsafe extern "system" fn msg_isr(
    ctx: n::NDIS_HANDLE,
    m: u32,
    qd: *mut n::BOOLEAN,
    targets: *mut u32,
) -> n::BOOLEAN {
    let s = shared_of(ctx);
    // SAFETY: emulator export.
    let irql = unsafe { KeGetCurrentIrql() };
    s.isr.lock().unwrap().push((m, cpu_now(), irql));
    let cfg = s.cfg();
    // SAFETY: NDIS's out-parameters.
    unsafe { *qd = n::BOOLEAN::from(cfg.queue_default_dpc) };
    // SAFETY: as above.
    unsafe { *targets = cfg.dpc_targets };
    n::TRUE
}

unsafe extern "system" fn msg_dpc(
    ctx: n::NDIS_HANDLE,
    m: u32,
    _dctx: n::PVOID,
    _t: n::PVOID,
    _r: n::PVOID,
) {
    let s = shared_of(ctx);
    // SAFETY: emulator export.
    let irql = unsafe { KeGetCurrentIrql() };
    s.dpc.lock().unwrap().push((m, cpu_now(), irql));
}

unsafe extern "system" fn line_isr(
    ctx: n::NDIS_HANDLE,
    qd: *mut n::BOOLEAN,
    _t: *mut u32,
) -> n::BOOLEAN {
    let s = shared_of(ctx);
    // SAFETY: emulator export.
    let irql = unsafe { KeGetCurrentIrql() };
    s.isr.lock().unwrap().push((u32::MAX, cpu_now(), irql));
    // SAFETY: NDIS's out-parameter.
    unsafe { *qd = n::TRUE };
    n::TRUE
}

unsafe extern "system" fn line_dpc(
    ctx: n::NDIS_HANDLE,
    _dctx: n::PVOID,
    _t: n::PVOID,
    _r: n::PVOID,
) {
    let s = shared_of(ctx);
    // SAFETY: emulator export.
    let irql = unsafe { KeGetCurrentIrql() };
    s.dpc.lock().unwrap().push((u32::MAX, cpu_now(), irql));
}

/// Registry every test starts from (the mandatory keywords).
pub fn registry() -> ndis_emu::Registry {
    ndis_emu::Registry::with_mandatory()
}

/// A fake device with default settings.
pub fn fake() -> netkvm_virtio::fake::FakeConfig {
    netkvm_virtio::fake::FakeConfig::default()
}
