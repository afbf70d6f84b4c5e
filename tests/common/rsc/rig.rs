//! The rig: one end-to-end bench ([`E2e`]) per host path, crafted frames sent into the host TAP
//! in bursts of which each is handled by exactly ONE receive DPC of the miniport, and every
//! indication captured with all its per-NBL info.
//!
//! One DPC per burst, deterministically: every MSI-X vector of the device is masked (QEMU then
//! keeps the message pending instead of writing it), the burst is sent, the rig waits until QEMU
//! has read every frame from the TAP and its RX used index has settled (QEMU's own coalescer
//! flushes after `rsc_interval`), then unmasks: QEMU delivers the pending message, the
//! miniport's DPC finds the whole burst in its ring (≤ 128 frames: one software-RSC round).
//!
//! The receive callback replaces the stand-in's for the bench's lifetime: indications whose
//! source MAC carries the suite's prefix ([`MAC_PREFIX`]) are recorded and NOT handed to the
//! guest kernel (it would answer crafted segments with RSTs); everything else goes to the
//! stand-in as before. A live-stream rule records a TCP port's indications and still forwards
//! them (the guest kernel must ACK a real sender).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ndis_emu::RxView;
use ndis_sys as n;

use crate::harness::{E2e, Opts, Res, GUEST_IP6, HOST_IP6};
use crate::pkt;
use crate::rsc::craft::{Fam, Flow};
use crate::rsc::inject::Injector;
use crate::shape::{slot, RxInfo};
use crate::standin::{RxItem, RxQueue};

/// First four bytes of every crafted frame's source MAC (locally administered, "RSC").
pub const MAC_PREFIX: [u8; 4] = [0x02, 0x52, 0x53, 0x43];

/// The host side's way of delivering TCP to the device (brief: the three paths).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Path {
    /// No `GUEST_TSO4/6`: the host delivers MTU frames, the miniport's software engine coalesces.
    Software,
    /// QEMU's coalescer (`guest_rsc_ext=on`, `rsc_interval`): RSC_INFO frames with segment
    /// counts and a stale IPv4 checksum (spec §7.4), then the miniport.
    HostRscExt,
    /// `GUEST_TSO4/6`: the TAP delivers GSO super-frames (host GRO/TSO), then the miniport.
    HostGso,
}

impl Path {
    /// Every path, table order.
    pub const ALL: [Path; 3] = [Path::Software, Path::HostRscExt, Path::HostGso];

    /// Suffix of the test names.
    pub fn name(self) -> &'static str {
        match self {
            Path::Software => "software",
            Path::HostRscExt => "host_rsc_ext",
            Path::HostGso => "host_gso",
        }
    }

    /// From [`Path::name`].
    pub fn from_name(s: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == s)
    }

    /// QEMU's drain timer on the RSC_EXT path (ns): 1 ms, the HLK RSC run's value (hck/README).
    pub const RSC_INTERVAL_NS: u32 = 1_000_000;

    /// Bench options (IPv6 always on: every rule runs for both families).
    pub fn opts(self) -> Opts {
        let o = Opts::default().ipv6();
        match self {
            Path::Software => o.prop("guest_tso4", "off").prop("guest_tso6", "off"),
            Path::HostRscExt => o.qemu_rsc(Self::RSC_INTERVAL_NS),
            Path::HostGso => o,
        }
    }
}

/// One indicated NBL as the protocol saw it.
#[derive(Clone, Debug)]
pub struct Nbl {
    /// Data of the first NET_BUFFER.
    pub frame: Vec<u8>,
    /// NET_BUFFERs in the NBL.
    pub nbs: usize,
    /// `TcpIpChecksumNetBufferListInfo`.
    pub csum: usize,
    /// `TcpRecvSegCoalesceInfo`.
    pub rsc: usize,
    /// `RscTcpTimestampDelta`.
    pub ts_delta: usize,
}

impl Nbl {
    fn from(v: &RxView<'_>, frame: Vec<u8>) -> Nbl {
        Nbl {
            frame,
            nbs: v.nb_count(),
            csum: v.info(slot::CHECKSUM),
            rsc: v.info(slot::RSC_USO),
            ts_delta: v.info(slot::RSC_TS_DELTA),
        }
    }
    /// `CoalescedSegCount`.
    pub fn count(&self) -> u16 {
        (self.rsc & 0xFFFF) as u16
    }
    /// `DupAckCount`.
    pub fn dup_acks(&self) -> u16 {
        ((self.rsc >> 16) & 0xFFFF) as u16
    }
}

/// `OID_TCP_RSC_STATISTICS` counters (or their change over a run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// CoalescedPkts.
    pub pkts: u64,
    /// CoalescedOctets.
    pub octets: u64,
    /// CoalesceEvents.
    pub events: u64,
    /// Aborts.
    pub aborts: u64,
}

impl Stats {
    fn from(s: &n::NDIS_RSC_STATISTICS_INFO) -> Stats {
        Stats {
            pkts: s.CoalescedPkts,
            octets: s.CoalescedOctets,
            events: s.CoalesceEvents,
            aborts: s.Aborts,
        }
    }
    fn since(self, b: Stats) -> Stats {
        Stats {
            pkts: self.pkts.wrapping_sub(b.pkts),
            octets: self.octets.wrapping_sub(b.octets),
            events: self.events.wrapping_sub(b.events),
            aborts: self.aborts.wrapping_sub(b.aborts),
        }
    }
}

/// A frame to send.
#[derive(Clone, Debug)]
pub enum Tx {
    /// As is.
    Plain(Vec<u8>),
    /// With a virtio-net header (GSO super-frame).
    Vnet(testbed::tap::VnetHdr, Vec<u8>),
}

/// What a run saw.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The run's indications, in indication order.
    pub nbls: Vec<Nbl>,
    /// How many of them had been indicated when each burst's DPC had finished.
    pub after_burst: Vec<usize>,
    /// RSC statistics over the run.
    pub stats: Stats,
    /// `OID_GEN_STATISTICS` ifInErrors + ifInDiscards over the run (frames the miniport dropped).
    pub rx_dropped: u64,
    /// RX ring entries the device used for the run (QEMU's used index): fewer than the frames
    /// sent when the host coalesced.
    pub ring_entries: u64,
}

#[derive(Default)]
struct CapInner {
    /// Recorded indications: (run MAC or stream port key, NBL).
    got: Vec<(u64, Nbl)>,
    stream_port: Option<u16>,
}

/// The receive callback's state.
struct Cap {
    inner: Mutex<CapInner>,
    fwd: Arc<RxQueue>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn mac_key(mac: &[u8]) -> u64 {
    mac.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b))
}

/// TCP ports of a frame (through IPv4/IPv6, extension headers and AH).
pub fn tcp_ports(f: &[u8]) -> Option<(u16, u16)> {
    let ip = pkt::parse(f)?.ip?;
    let l4 = match ip.proto {
        pkt::PROTO_TCP => ip.l4,
        crate::rsc::craft::PROTO_AH if f.get(ip.l4) == Some(&pkt::PROTO_TCP) => {
            ip.l4 + (usize::from(*f.get(ip.l4 + 1)?) + 2) * 4
        }
        _ => return None,
    };
    if ip.later_fragment {
        return None;
    }
    Some((pkt::get16(f, l4)?, pkt::get16(f, l4 + 2)?))
}

impl Cap {
    /// Runs on the indicating (DPC) thread with the NBL's data in the miniport's buffers.
    fn on_nbl(&self, v: &RxView<'_>) {
        let frame = v.nb(0).map(|nb| nb.to_vec()).unwrap_or_default();
        let ours = frame.len() >= 12 && frame[6..10] == MAC_PREFIX;
        let mut forward = !ours;
        {
            let mut g = lock(&self.inner);
            if ours {
                let key = mac_key(&frame[6..12]);
                g.got.push((key, Nbl::from(v, frame)));
            } else if let Some(p) = g.stream_port {
                if tcp_ports(&frame).is_some_and(|(s, d)| s == p || d == p) {
                    g.got.push((u64::from(p), Nbl::from(v, frame)));
                    forward = true;
                }
            }
        }
        if forward {
            self.fwd.push(RxItem {
                frames: v.nbs().map(|nb| nb.to_vec()).collect(),
                info: RxInfo::from_slots(v.info, v.receive_flags),
                cpu: v.cpu,
            });
        }
    }
}

/// A running rig for one path.
pub struct Rig {
    path: Path,
    e: E2e,
    inj: Injector,
    cap: Arc<Cap>,
    guest_mac: [u8; 6],
    run_no: u16,
}

static PORT: AtomicU16 = AtomicU16::new(0);

impl Rig {
    /// Builds the bench for `path` and takes over its receive callback.
    pub fn start(path: Path) -> Res<Rig> {
        let e = E2e::start(path.opts())?;
        let cur = e.oid_query(n::OID_802_3_CURRENT_ADDRESS, 6)?;
        let guest_mac: [u8; 6] = cur
            .data
            .get(..6)
            .and_then(|m| m.try_into().ok())
            .ok_or("OID_802_3_CURRENT_ADDRESS: short answer")?;
        // The bench must be the path it claims to be (virtio features as negotiated).
        let feats = e.negotiated_features()?;
        let has = |f: &str| feats.iter().any(|x| x == f);
        let gso = has("VIRTIO_NET_F_GUEST_TSO4") && has("VIRTIO_NET_F_GUEST_TSO6");
        let ok = match path {
            Path::Software => !has("VIRTIO_NET_F_GUEST_TSO4") && !has("VIRTIO_NET_F_GUEST_TSO6"),
            Path::HostRscExt => gso && has("VIRTIO_NET_F_RSC_EXT"),
            Path::HostGso => gso && !has("VIRTIO_NET_F_RSC_EXT"),
        };
        if !ok {
            return Err(format!("the {} bench negotiated {feats:?}", path.name()));
        }
        let inj = Injector::open(e.host_ns(), e.tb().host_tap())?;
        let cap = Arc::new(Cap {
            inner: Mutex::new(CapInner::default()),
            fwd: e.standin().rx_queue(),
        });
        let c = cap.clone();
        // In place of the stand-in's receive callback (it would hand crafted segments to the
        // guest kernel); what is not ours is forwarded to the stand-in's queue as before.
        e.with_harness(move |h| {
            h.set_receive_callback(None);
            h.set_receive_view_callback(Some(Arc::new(move |v: &RxView<'_>| c.on_nbl(v))));
        })?;
        Ok(Rig {
            path,
            e,
            inj,
            cap,
            guest_mac,
            run_no: 0,
        })
    }

    /// Its path.
    pub fn path(&self) -> Path {
        self.path
    }

    /// The adapter's current MAC as `ip` writes it.
    pub fn guest_mac_text(&self) -> String {
        testbed::tap::format_mac(&self.guest_mac)
    }

    /// The bench.
    pub fn e2e(&self) -> &E2e {
        &self.e
    }

    /// A fresh source MAC for a new run (its frames are told apart by it).
    pub fn next_run_mac(&mut self) -> [u8; 6] {
        self.run_no = self.run_no.wrapping_add(1);
        let [a, b] = self.run_no.to_be_bytes();
        [
            MAC_PREFIX[0],
            MAC_PREFIX[1],
            MAC_PREFIX[2],
            MAC_PREFIX[3],
            a,
            b,
        ]
    }

    /// A flow with fresh ports (never seen before in this process: no state carries over).
    pub fn flow(&self, fam: Fam, src_mac: [u8; 6]) -> Flow {
        let n = PORT.fetch_add(1, Ordering::Relaxed);
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        match fam {
            Fam::V4 => {
                src[..4].copy_from_slice(&self.e.host_ip().octets());
                dst[..4].copy_from_slice(&self.e.guest_ip().octets());
            }
            Fam::V6 => {
                src = HOST_IP6.octets();
                dst = GUEST_IP6.octets();
            }
        }
        Flow {
            fam,
            src_mac,
            dst_mac: self.guest_mac,
            src,
            dst,
            sport: 20000 + (n % 20000),
            dport: 45000 + (n % 15000),
        }
    }

    fn stats(&self) -> Res<Stats> {
        Ok(Stats::from(&self.e.rsc_statistics()?))
    }

    fn rx_drops(&self) -> Res<u64> {
        let s = self.e.statistics()?;
        Ok(s.ifInErrors + s.ifInDiscards)
    }

    fn tap_tx_packets(&self) -> Res<u64> {
        self.e
            .host_ns()
            .if_stats(self.e.tb().host_tap())
            .map(|s| s.tx_packets)
            .map_err(|e| format!("host TAP counters: {e}"))
    }

    fn rx_used_idx(&self) -> Res<u64> {
        let v = self
            .e
            .tb()
            .machine()
            .virtio_queue_status(0)
            .map_err(|e| format!("x-query-virtio-queue-status: {e}"))?;
        v["used-idx"]
            .as_u64()
            .ok_or_else(|| format!("no used-idx in {v}"))
    }

    fn mask_all(&self, masked: bool) -> Res<()> {
        let m = self.e.tb().machine();
        for v in 0..m.msix_vectors() {
            m.set_vector_masked(v, masked)
                .map_err(|e| format!("MSI-X mask {v}: {e}"))?;
        }
        Ok(())
    }

    /// Sends each burst so that one receive DPC handles it (see the module docs) and returns
    /// the indications of frames from `mac`, the per-burst progress and the statistics delta.
    pub fn run(&mut self, mac: [u8; 6], bursts: &[Vec<Tx>]) -> Res<Observed> {
        let key = mac_key(&mac);
        let before = self.stats()?;
        let drops0 = self.rx_drops()?;
        let mut after_burst = Vec::new();
        let mut ring_entries = 0;
        let count = |cap: &Cap| {
            lock(&cap.inner)
                .got
                .iter()
                .filter(|(k, _)| *k == key)
                .count()
        };
        for b in bursts {
            let seen = count(&self.cap);
            let drops = self.rx_drops()?;
            let used0 = self.rx_used_idx()?;
            let r = self.one_burst(b).and_then(|()| self.rx_used_idx());
            if let Ok(used1) = &r {
                ring_entries += used1.wrapping_sub(used0) & 0xFFFF;
            }
            // Never leave the device masked (the next rule, the teardown).
            let unmask = self.mask_all(false);
            r?;
            unmask?;
            // The DPC QEMU's message starts indicates (or drops) at least one of the burst's
            // frames; on a loaded machine that may take a while — wait for it, then for quiet.
            let deadline = Instant::now() + Duration::from_secs(10);
            while count(&self.cap) == seen && self.rx_drops()? == drops {
                if Instant::now() > deadline {
                    break; // nothing came: the checks report what is missing
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            self.settle_driver()?;
            after_burst.push(count(&self.cap));
        }
        let stats = self.stats()?.since(before);
        let rx_dropped = self.rx_drops()?.wrapping_sub(drops0);
        let nbls = {
            let mut g = lock(&self.cap.inner);
            let all = std::mem::take(&mut g.got);
            let (mine, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(k, _)| *k == key);
            g.got = rest;
            mine.into_iter().map(|(_, n)| n).collect()
        };
        let v = self.e.take_violations()?;
        if !v.is_empty() {
            return Err(format!("NDIS contract violations: {}", v.join("; ")));
        }
        Ok(Observed {
            nbls,
            after_burst,
            stats,
            rx_dropped,
            ring_entries,
        })
    }

    fn one_burst(&self, frames: &[Tx]) -> Res<()> {
        self.mask_all(true)?;
        let tx0 = self.tap_tx_packets()?;
        for f in frames {
            match f {
                Tx::Plain(b) => self.inj.send(b)?,
                Tx::Vnet(h, b) => self.inj.send_vnet(h, b)?,
            }
        }
        // QEMU has read every frame (the TAP counts a frame as transmitted when its reader
        // takes it)…
        let want = tx0 + frames.len() as u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.tap_tx_packets()? < want {
            if Instant::now() > deadline {
                return Err(format!(
                    "QEMU read {} of {} frames from the TAP",
                    self.tap_tx_packets()? - tx0,
                    frames.len()
                ));
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        // …and its RX used index stopped moving (on the RSC_EXT path: after QEMU's drain timer).
        let quiet = match self.path {
            Path::HostRscExt => Duration::from_nanos(u64::from(Path::RSC_INTERVAL_NS) * 10),
            _ => Duration::from_millis(2),
        } + Duration::from_millis(2);
        let mut last = self.rx_used_idx()?;
        loop {
            std::thread::sleep(quiet);
            let now = self.rx_used_idx()?;
            if now == last {
                return Ok(());
            }
            last = now;
            if Instant::now() > deadline {
                return Err("QEMU's RX used index does not settle".into());
            }
        }
    }

    /// Waits until the message QEMU delivered on unmask ran the DPC and the DPCs are idle.
    fn settle_driver(&self) -> Res<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut idle_rounds = 0;
        let mut last = self.e.with_harness(|h| h.datapath_stats().indicated)?;
        while idle_rounds < 3 {
            if Instant::now() > deadline {
                return Err("the miniport's DPCs did not go idle".into());
            }
            std::thread::sleep(Duration::from_millis(3));
            let (idle, ind) = self.e.with_harness(|h| {
                (
                    h.wait_idle(Duration::from_millis(500)),
                    h.datapath_stats().indicated,
                )
            })?;
            if idle && ind == last {
                idle_rounds += 1;
            } else {
                idle_rounds = 0;
                last = ind;
            }
        }
        Ok(())
    }

    /// Records (and still forwards) indications of TCP port `port` from now on (`None` stops);
    /// returns what was recorded so far for the previous port.
    pub fn stream_capture(&self, port: Option<u16>) -> Vec<Nbl> {
        let mut g = lock(&self.cap.inner);
        let old = g.stream_port.take();
        g.stream_port = port;
        let Some(p) = old else {
            return Vec::new();
        };
        let all = std::mem::take(&mut g.got);
        let (mine, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(k, _)| *k == u64::from(p));
        g.got = rest;
        mine.into_iter().map(|(_, n)| n).collect()
    }

    /// `OID_TCP_OFFLOAD_PARAMETERS` with RSC per family (`None` = no change).
    pub fn set_rsc(&self, v4: Option<bool>, v6: Option<bool>) -> Res<()> {
        let val = |x: Option<bool>| match x {
            None => 0,
            Some(true) => n::NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED,
            Some(false) => n::NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED,
        };
        let p = n::NDIS_OFFLOAD_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NDIS_OFFLOAD_PARAMETERS_REVISION_5,
                n::NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_5,
            ),
            RscIPv4: val(v4),
            RscIPv6: val(v6),
            ..Default::default()
        };
        let r = self.e.set_offload_parameters(&p)?;
        if !r.ok() {
            return Err(format!("OID_TCP_OFFLOAD_PARAMETERS: {:#x}", r.status));
        }
        Ok(())
    }
}
