//! [`E2e`]: one end-to-end bench — testbed (QEMU virtio-net-pci in namespaces) → ndis-emu with
//! the QEMU backend and a registry file → netkvmrs (DriverEntry, InitializeEx, the bind OIDs,
//! Restart) → the Windows-stack stand-in on the guest TAP. Or, with [`Backend::Passthrough`],
//! the pass-through ceiling in place of NDIS + miniport.
//!
//! The driver is a process-wide singleton (one image, one registration), so miniport benches in
//! one process run one at a time: [`E2e::start`] takes a global lock for the bench's lifetime
//! (pass-through benches do not need it and may run next to one).
//! Everything is torn down on drop (stand-in, adapter with NDIS's leak checks, QEMU,
//! namespaces), also while a failing test unwinds.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ndis_emu::bus::qemu::QemuBus;
use ndis_emu::{
    AdapterState, EmuConfig, Harness, OidRequest, OidResult, RegValue, Registry, StatusRecord,
};
use ndis_sys as n;
use testbed::{Testbed, TestbedConfig};

use crate::ndis_port::{NdisPort, SendHarness};
use crate::passthrough::PassPort;
use crate::shape::{RxOffloads, TxOffloads};
use crate::standin::{Port, Standin};

/// What sits between the stand-in and QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// ndis-emu + the netkvmrs miniport (the real thing).
    Miniport,
    /// The pass-through ceiling: netkvm-virtio rings driven directly, no NDIS.
    Passthrough,
}

/// How to build a bench.
#[derive(Clone, Debug)]
pub struct Opts {
    /// `-device virtio-net-pci` properties (`guest_tso4`, `host_uso`, `guest_rsc_ext`, …).
    pub props: Vec<(String, String)>,
    /// Registry keywords (REG_SZ, as an INF writes them) on top of the mandatory ones.
    pub keywords: Vec<(String, String)>,
    /// L3 MTU of both TAPs (and `host_mtu` + `*JumboPacket` when not 1500).
    pub mtu: u32,
    /// Queue pairs of the device.
    pub queue_pairs: u16,
    /// Guest RAM (MiB).
    pub ram_mib: u32,
    /// A peer namespace behind the host (wire captures).
    pub peer: bool,
    /// Emulator settings.
    pub emu: EmuConfig,
    /// Backend.
    pub backend: Backend,
    /// Extra sysctls in every namespace.
    pub sysctls: Vec<(String, String)>,
    /// IPv6 on: host TAP `fd00:77::1/64`, guest TAP `fd00:77::2/64` (besides IPv4).
    pub ipv6: bool,
    /// `ethtool -K` on the host TAP, applied after every feature negotiation / guest-offload
    /// change (QEMU rewrites the TAP's offloads then). E.g. for QEMU's RSC_EXT coalescer to see
    /// MTU segments (and count them) the host must not hand it GSO frames or partial checksums.
    pub host_tap_offloads: Vec<(String, bool)>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            props: Vec::new(),
            keywords: Vec::new(),
            mtu: 1500,
            queue_pairs: 1,
            ram_mib: 512,
            peer: false,
            emu: EmuConfig::default(),
            // Development aid: run the suite's traffic checks on the ceiling to validate the bench
            // itself (OID-based checks then fail with "not a miniport bench").
            ipv6: false,
            host_tap_offloads: Vec::new(),
            backend: if std::env::var("NETKVM_E2E_BACKEND").is_ok_and(|v| v == "passthrough") {
                Backend::Passthrough
            } else {
                Backend::Miniport
            },
            sysctls: Vec::new(),
        }
    }
}

impl Opts {
    /// Adds a device property.
    pub fn prop(mut self, k: &str, v: &str) -> Self {
        self.props.push((k.into(), v.into()));
        self
    }
    /// Adds a registry keyword.
    pub fn kw(mut self, k: &str, v: &str) -> Self {
        self.keywords.push((k.into(), v.into()));
        self
    }
    /// Sets the MTU.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = mtu;
        self
    }
    /// Uses the pass-through ceiling.
    pub fn passthrough(mut self) -> Self {
        self.backend = Backend::Passthrough;
        self
    }
    /// QEMU's RSC_EXT coalescer on (`guest_rsc_ext=on`, `rsc_interval`), fed with MTU segments
    /// it can count (host TAP without TSO/GSO/partial checksums: recipe §8), a 1024-entry RX ring
    /// (its defect 3 drops a cached segment when the ring is full).
    pub fn qemu_rsc(self, interval_ns: u32) -> Self {
        let mut o = self
            .prop("guest_rsc_ext", "on")
            .prop("rsc_interval", &interval_ns.to_string())
            .prop("rx_queue_size", "1024");
        o.host_tap_offloads = ["tso", "gso", "tx"]
            .iter()
            .map(|f| (f.to_string(), false))
            .collect();
        o
    }

    /// Turns IPv6 on (addresses [`HOST_IP6`] / [`GUEST_IP6`]).
    pub fn ipv6(mut self) -> Self {
        self.ipv6 = true;
        self
    }
    /// Adds a sysctl in every namespace.
    pub fn sysctl(mut self, k: &str, v: &str) -> Self {
        self.sysctls.push((k.into(), v.into()));
        self
    }
}

static BENCH_LOCK: Mutex<()> = Mutex::new(());

/// The host TAP's IPv6 address with [`Opts::ipv6`].
pub const HOST_IP6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 1);
/// The guest's IPv6 address with [`Opts::ipv6`].
pub const GUEST_IP6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 2);

enum Be {
    Ndis(Arc<NdisPort>),
    Pass(Arc<PassPort>),
}

/// A running end-to-end bench.
pub struct E2e {
    standin: Option<Standin>,
    be: Option<Be>,
    reg_path: PathBuf,
    opts: Opts,
    tb: Option<Testbed>,
    /// Held by miniport benches: the driver is a process-wide singleton (pass-through benches
    /// may run next to one).
    _serial: Option<MutexGuard<'static, ()>>,
}

/// Result type of the bench.
pub type Res<T> = Result<T, String>;

fn lifecycle<T>(r: Result<T, ndis_emu::LifecycleError>, what: &str) -> Res<T> {
    r.map_err(|e| format!("{what}: {e:?}"))
}

impl E2e {
    /// Builds the bench (see the module docs).
    pub fn start(opts: Opts) -> Res<E2e> {
        let serial = (opts.backend == Backend::Miniport)
            .then(|| BENCH_LOCK.lock().unwrap_or_else(|p| p.into_inner()));
        let mut tcfg = TestbedConfig {
            host_mtu: (opts.mtu != 1500).then_some(opts.mtu),
            peer: opts.peer,
            sysctls: opts.sysctls.clone(),
            ipv6: opts.ipv6,
            ..TestbedConfig::default()
        };
        tcfg.machine.ram_mib = opts.ram_mib;
        tcfg.machine.queue_pairs = opts.queue_pairs;
        for (k, v) in &opts.props {
            tcfg.machine = tcfg.machine.clone().prop(k, v);
        }
        if opts.mtu != 1500 && !opts.props.iter().any(|(k, _)| k == "host_mtu") {
            tcfg.machine = tcfg.machine.clone().prop("host_mtu", &opts.mtu.to_string());
        }
        if let Some(g) = tcfg.guest.as_mut() {
            g.mtu = opts.mtu;
            // The stand-in sets the real offloads once it knows the miniport's.
            g.offloads = 0;
        }
        let tb = Testbed::start(tcfg).map_err(|e| format!("testbed: {e}"))?;
        if opts.ipv6 {
            let add = |ns: &testbed::NetNs, dev: &str, ip: std::net::Ipv6Addr| {
                ns.ip(&[
                    "-6",
                    "addr",
                    "add",
                    &format!("{ip}/64"),
                    "dev",
                    dev,
                    "nodad",
                ])
                .map_err(|e| format!("IPv6 address: {e}"))
            };
            add(tb.host_ns(), tb.host_tap(), HOST_IP6)?;
            if let (Some(ns), Some(tap)) = (tb.guest_ns(), tb.guest_tap()) {
                add(ns, tap.name(), GUEST_IP6)?;
            }
        }
        // The guest TAP's queue is the stand-in's send queue: room for bursts (a UDP_SEGMENT
        // send with USO off is 44 frames at once) so that losses are never the bench's.
        if let (Some(ns), Some(tap)) = (tb.guest_ns(), tb.guest_tap()) {
            ns.ip(&["link", "set", "dev", tap.name(), "txqueuelen", "10000"])
                .map_err(|e| format!("txqueuelen: {e}"))?;
        }
        let reg_path = tb
            .run_dir()
            .map(|d| d.join("registry.txt"))
            .unwrap_or_else(|| std::env::temp_dir().join("netkvm-e2e-registry.txt"));
        let mut me = E2e {
            standin: None,
            be: None,
            reg_path,
            opts: opts.clone(),
            tb: Some(tb),
            _serial: serial,
        };
        match opts.backend {
            Backend::Miniport => me.start_miniport()?,
            Backend::Passthrough => me.start_passthrough()?,
        }
        me.apply_host_tap_offloads()?;
        Ok(me)
    }

    fn start_miniport(&mut self) -> Res<()> {
        let tb = self.tb();
        let mut reg = Registry::with_mandatory();
        if self.opts.mtu != 1500 {
            reg.set(
                "*JumboPacket",
                RegValue::sz((self.opts.mtu + 14).to_string()),
            );
        }
        for (k, v) in &self.opts.keywords {
            reg.set(k, RegValue::sz(v.clone()));
        }
        reg.save_to(&self.reg_path)
            .map_err(|e| format!("registry file: {e}"))?;
        let bus = QemuBus::new(tb.machine().clone());
        let mut h = Harness::with_config(bus, reg, self.opts.emu.clone());
        // Violations and warnings are collected and reported by `finish` (summarised: the
        // emulator prints one line per occurrence otherwise, e.g. per NBL).
        h.quiet(true);
        lifecycle(h.load(netkvmrs::driver_entry), "DriverEntry")?;
        lifecycle(h.initialize(), "MiniportInitializeEx")?;
        lifecycle(h.bind(), "bind")?;
        lifecycle(h.restart(), "MiniportRestart")?;
        let off = h
            .attributes()
            .offload_default
            .map(|o| TxOffloads::from_ndis(&o))
            .unwrap_or_default();
        // Windows's stack sends from the adapter's current address (NetworkAddress may have
        // replaced the permanent one): give the guest TAP that MAC.
        let cur = lifecycle(
            h.oid_query(n::OID_802_3_CURRENT_ADDRESS, 6),
            "current address",
        )?;
        if cur.ok() && cur.data.len() == 6 {
            let mac = testbed::tap::format_mac(&cur.data[..6].try_into().unwrap_or([0; 6]));
            let ns = tb.guest_ns().ok_or("no guest namespace")?;
            let tapname = tb.guest_tap().ok_or("no guest TAP")?.name().to_string();
            ns.ip(&["link", "set", "dev", &tapname, "address", &mac])
                .map_err(|e| format!("guest TAP MAC: {e}"))?;
        }
        set_gso_max(tb, &off)?;
        let port = NdisPort::new(h);
        let tap = tb.guest_tap().ok_or("no guest TAP")?;
        let s = Standin::start(
            tap,
            port.clone() as Arc<dyn Port>,
            off,
            self.opts.mtu as usize,
        )
        .map_err(|e| format!("stand-in: {e}"))?;
        port.connect_rx(s.rx_queue());
        self.standin = Some(s);
        self.be = Some(Be::Ndis(port));
        Ok(())
    }

    fn start_passthrough(&mut self) -> Res<()> {
        let tb = self.tb();
        let port = PassPort::start(tb.machine().clone(), self.opts.mtu)?;
        set_gso_max(tb, &port.tx_offloads())?;
        let tap = tb.guest_tap().ok_or("no guest TAP")?;
        let s = Standin::start(
            tap,
            port.clone() as Arc<dyn Port>,
            port.tx_offloads(),
            self.opts.mtu as usize,
        )
        .map_err(|e| format!("stand-in: {e}"))?;
        port.connect_rx(s.rx_queue());
        self.standin = Some(s);
        self.be = Some(Be::Pass(port));
        Ok(())
    }

    /// The testbed.
    pub fn tb(&self) -> &Testbed {
        // Invariant: set in `start`, taken only in Drop.
        self.tb
            .as_ref()
            .unwrap_or_else(|| unreachable!("bench without testbed"))
    }

    /// The stand-in.
    pub fn standin(&self) -> &Standin {
        self.standin
            .as_ref()
            .unwrap_or_else(|| unreachable!("bench without stand-in"))
    }

    /// The options it was built with.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// The host namespace (QEMU's TAP side).
    pub fn host_ns(&self) -> &testbed::NetNs {
        self.tb().host_ns()
    }

    /// The guest namespace (the stand-in's side).
    pub fn guest_ns(&self) -> &testbed::NetNs {
        self.tb()
            .guest_ns()
            .unwrap_or_else(|| unreachable!("bench without guest namespace"))
    }

    /// Host TAP address.
    pub fn host_ip(&self) -> std::net::Ipv4Addr {
        self.tb().host_ip()
    }

    /// Guest (device) address.
    pub fn guest_ip(&self) -> std::net::Ipv4Addr {
        self.tb()
            .guest_ip()
            .unwrap_or(std::net::Ipv4Addr::new(10, 77, 0, 2))
    }

    /// The pass-through port, if that is the backend.
    pub fn passthrough(&self) -> Option<&Arc<PassPort>> {
        match &self.be {
            Some(Be::Pass(p)) => Some(p),
            _ => None,
        }
    }

    fn port(&self) -> Res<&Arc<NdisPort>> {
        match &self.be {
            Some(Be::Ndis(p)) => Ok(p),
            _ => Err("not a miniport bench".into()),
        }
    }

    /// Runs `f` with the harness locked (the stand-in's sends wait meanwhile).
    pub fn with_harness<R>(&self, f: impl FnOnce(&mut Harness) -> R) -> Res<R> {
        let p = self.port()?;
        let mut g = p.harness();
        let SendHarness(h) = &mut *g;
        Ok(f(h))
    }

    /// An OID query with an `len`-byte buffer.
    pub fn oid_query(&self, oid: n::NDIS_OID, len: u32) -> Res<OidResult> {
        self.with_harness(|h| h.oid_query(oid, len))?
            .map_err(|e| format!("OID {oid:#010x}: {e:?}"))
    }

    /// An OID request.
    pub fn oid(&self, req: OidRequest) -> Res<OidResult> {
        let oid = req.oid;
        self.with_harness(|h| h.oid(req))?
            .map_err(|e| format!("OID {oid:#010x}: {e:?}"))
    }

    /// The current offload configuration as NDIS keeps it (`OID_TCP_OFFLOAD_CURRENT_CONFIG`,
    /// which NDIS answers itself from the attributes and the `TASK_OFFLOAD_CURRENT_CONFIG`
    /// indications).
    pub fn offload_current(&self) -> Res<n::NDIS_OFFLOAD> {
        self.with_harness(|h| h.attributes().offload_default)?
            .ok_or_else(|| "no offload attributes".into())
    }

    /// The hardware offload capabilities (`OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES`).
    pub fn offload_hardware(&self) -> Res<n::NDIS_OFFLOAD> {
        self.with_harness(|h| h.attributes().offload_hardware)?
            .ok_or_else(|| "no offload attributes".into())
    }

    /// Applies [`Opts::host_tap_offloads`] (again: QEMU rewrites them at every negotiation).
    pub fn apply_host_tap_offloads(&self) -> Res<()> {
        if self.opts.host_tap_offloads.is_empty() {
            return Ok(());
        }
        let f: Vec<(&str, bool)> = self
            .opts
            .host_tap_offloads
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        self.tb()
            .set_host_tap_offloads(&f)
            .map_err(|e| format!("host TAP offloads: {e}"))
    }

    /// Re-reads the miniport's offloads into the stand-in (after any reconfiguration).
    pub fn refresh_offloads(&self) -> Res<TxOffloads> {
        self.apply_host_tap_offloads()?;
        if let Some(p) = self.passthrough() {
            return Ok(p.tx_offloads());
        }
        let o = self.offload_current()?;
        let t = TxOffloads::from_ndis(&o);
        self.standin()
            .set_offloads(t)
            .map_err(|e| format!("TUNSETOFFLOAD: {e}"))?;
        set_gso_max(self.tb(), &t)?;
        Ok(t)
    }

    /// Receive offload state (RSC) of the current configuration.
    pub fn rx_offloads(&self) -> Res<RxOffloads> {
        Ok(RxOffloads::from_ndis(&self.offload_current()?))
    }

    /// `Set-NetAdapterAdvancedProperty`: writes `keyword = value` to the registry file and
    /// restarts the adapter (pause → halt → initialize → bind → restart).
    pub fn set_keyword(&self, keyword: &str, value: &str) -> Res<()> {
        self.set_keywords(&[(keyword, value)])
    }

    /// Several keywords, one restart.
    pub fn set_keywords(&self, kv: &[(&str, &str)]) -> Res<()> {
        self.with_harness(|h| -> Res<()> {
            {
                let mut r = h.registry();
                for (k, v) in kv {
                    r.set(k, RegValue::sz(*v));
                }
                r.save().map_err(|e| format!("registry file: {e}"))?;
            }
            lifecycle(h.reinitialize(), "restart after keyword change")?;
            Ok(())
        })??;
        self.reattach()?;
        self.refresh_offloads()?;
        Ok(())
    }

    /// Re-binds the stand-in's port to the current adapter (after a re-initialisation).
    pub fn reattach(&self) -> Res<()> {
        let p = self.port()?.clone();
        self.with_harness(|h| p.attach(h))
    }

    /// Re-initialises the adapter (halt + initialize + bind + restart) without registry changes.
    pub fn reinitialize(&self) -> Res<()> {
        self.with_harness(|h| lifecycle(h.reinitialize(), "re-initialise"))??;
        self.reattach()?;
        self.refresh_offloads()?;
        Ok(())
    }

    /// A registry keyword as stored.
    pub fn keyword(&self, keyword: &str) -> Res<Option<RegValue>> {
        self.with_harness(|h| h.registry().get(keyword).cloned())
    }

    /// Every adapter keyword in the registry.
    pub fn keywords(&self) -> Res<Vec<(String, RegValue)>> {
        self.with_harness(|h| {
            let r = h.registry();
            r.keys()
                .into_iter()
                .filter_map(|k| r.get(&k).cloned().map(|v| (k, v)))
                .collect()
        })
    }

    /// `OID_TCP_OFFLOAD_PARAMETERS` (no restart); NDIS (ndis-emu) writes the keywords to the
    /// registry file unless the flags say otherwise.
    pub fn set_offload_parameters(&self, p: &n::NDIS_OFFLOAD_PARAMETERS) -> Res<OidResult> {
        let mut bytes = ndis_emu::oid::struct_bytes(p);
        bytes.truncate(usize::from(p.Header.Size));
        let r = self.oid(OidRequest::set(n::OID_TCP_OFFLOAD_PARAMETERS, bytes))?;
        self.refresh_offloads()?;
        Ok(r)
    }

    /// Pause then restart (NBLs in flight must all come back).
    pub fn pause_restart(&self) -> Res<()> {
        self.with_harness(|h| -> Res<()> {
            lifecycle(h.pause(), "pause")?;
            lifecycle(h.restart(), "restart")
        })?
    }

    /// `MiniportResetEx`.
    pub fn reset(&self) -> Res<bool> {
        self.with_harness(|h| lifecycle(h.reset(), "reset"))?
    }

    /// Adapter state.
    pub fn state(&self) -> Res<AdapterState> {
        self.with_harness(|h| h.state())
    }

    /// QMP `set_link`.
    pub fn set_link(&self, up: bool) -> Res<()> {
        self.tb()
            .machine()
            .set_link(up)
            .map_err(|e| format!("set_link: {e}"))
    }

    /// Status indications so far.
    pub fn statuses(&self) -> Res<Vec<StatusRecord>> {
        self.with_harness(|h| h.statuses())
    }

    /// Waits for a status indication with `code` after the first `skip`.
    pub fn wait_status(
        &self,
        code: n::NDIS_STATUS,
        skip: usize,
        timeout: Duration,
    ) -> Res<Option<StatusRecord>> {
        // Not under the harness lock for the whole wait: the stand-in must keep sending.
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .with_harness(|h| h.statuses().into_iter().skip(skip).find(|s| s.code == code))?;
            if found.is_some() || Instant::now() >= deadline {
                return Ok(found);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Negotiated virtio features by name (QMP `x-query-virtio-status`, `guest-features`).
    pub fn negotiated_features(&self) -> Res<Vec<String>> {
        let v = self
            .tb()
            .machine()
            .virtio_status()
            .map_err(|e| format!("x-query-virtio-status: {e}"))?;
        Ok(feature_names(&v["guest-features"]))
    }

    /// Offered virtio features by name.
    pub fn offered_features(&self) -> Res<Vec<String>> {
        let v = self
            .tb()
            .machine()
            .virtio_status()
            .map_err(|e| format!("x-query-virtio-status: {e}"))?;
        Ok(feature_names(&v["host-features"]))
    }

    /// The registry file.
    pub fn registry_path(&self) -> &std::path::Path {
        &self.reg_path
    }

    /// Contract violations recorded so far (taken: they no longer fail the bench at drop).
    pub fn take_violations(&self) -> Res<Vec<String>> {
        self.with_harness(|h| h.take_violations().iter().map(|v| v.to_string()).collect())
    }

    /// Stops the stand-in, brings the adapter down (pause, halt with NDIS's leak checks,
    /// unload) and reports every problem seen: stand-in errors, checksum lies, contract
    /// violations.
    pub fn finish(mut self) -> Res<Finish> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Res<Finish> {
        let mut problems = Vec::new();
        let mut fin = Finish::default();
        let mut standin = self.standin.take();
        if let Some(s) = standin.as_mut() {
            s.stop();
        }
        match self.be.take() {
            Some(Be::Ndis(p)) => {
                p.disconnect_rx();
                let mut g = p.harness();
                let SendHarness(h) = &mut *g;
                problems.extend(safe_down(h));
                let ws = h.warning_summary();
                fin.warnings = ws
                    .distinct
                    .iter()
                    .map(|w| (w.first.to_string(), w.count))
                    .collect();
                if ws.not_kept > 0 {
                    fin.warnings.push((
                        format!(
                            "(warnings beyond the first {} distinct ones)",
                            ndis_emu::checks::DISTINCT_WARNINGS
                        ),
                        ws.not_kept,
                    ));
                }
            }
            Some(Be::Pass(p)) => {
                fin.passthrough = Some(p.stats());
                p.stop();
            }
            None => {}
        }
        if let Some(s) = standin {
            // Sends completed during the final pause count too.
            s.reap_final();
            fin.tx = s.tx_stats();
            fin.rx = s.rx_stats();
            problems.extend(s.errors());
            if fin.rx.lies() != 0 {
                problems.push(format!(
                    "the miniport claimed checksum success for {} bad frame(s) (ip {}, l4 {})",
                    fin.rx.lies(),
                    fin.rx.lie_ip,
                    fin.rx.lie_l4
                ));
            }
        }
        fin.problems = problems;
        Ok(fin)
    }
}

/// The guest kernel may build super-frames up to its default 64 KiB; the stand-in cuts them at
/// the miniport's `MaxOffLoadSize` as Windows's stack sizes its large sends
/// ([`crate::shape::shape_tx`]). Capping the TAP's `gso_max_size` instead would make Linux
/// segment every larger UDP_SEGMENT send in software (it drops GSO for any skb above the
/// cap), which Windows's stack would not do.
fn set_gso_max(_tb: &Testbed, _t: &TxOffloads) -> Res<()> {
    Ok(())
}

impl E2e {
    /// `OID_GEN_STATISTICS`.
    pub fn statistics(&self) -> Res<n::NDIS_STATISTICS_INFO> {
        let r = self.oid_query(
            n::OID_GEN_STATISTICS,
            core::mem::size_of::<n::NDIS_STATISTICS_INFO>() as u32,
        )?;
        if !r.ok() {
            return Err(format!("OID_GEN_STATISTICS: {:#010x}", r.status as u32));
        }
        r.decode()
            .ok_or_else(|| "OID_GEN_STATISTICS: short answer".into())
    }

    /// `OID_TCP_RSC_STATISTICS`.
    pub fn rsc_statistics(&self) -> Res<n::NDIS_RSC_STATISTICS_INFO> {
        let r = self.oid_query(
            n::OID_TCP_RSC_STATISTICS,
            core::mem::size_of::<n::NDIS_RSC_STATISTICS_INFO>() as u32,
        )?;
        if !r.ok() {
            return Err(format!("OID_TCP_RSC_STATISTICS: {:#010x}", r.status as u32));
        }
        r.decode()
            .ok_or_else(|| "OID_TCP_RSC_STATISTICS: short answer".into())
    }

    /// Frames the host TAP has dropped so far because the device did not read them in time
    /// (guest rings full): lost before the driver could see them.
    pub fn host_tap_drops(&self) -> Res<u64> {
        self.host_ns()
            .if_stats(self.tb().host_tap())
            .map(|s| s.tx_dropped)
            .map_err(|e| format!("host TAP counters: {e}"))
    }

    /// `ethtool -k` of the host TAP: what QEMU accepts from the host kernel, i.e. the
    /// device's current guest offloads (QEMU applies them with TUNSETOFFLOAD).
    pub fn host_tap_features(&self) -> Res<Vec<(String, bool)>> {
        self.host_ns()
            .ethtool_features(self.tb().host_tap())
            .map_err(|e| format!("ethtool -k: {e}"))
    }

    /// One feature of [`E2e::host_tap_features`] (e.g. `tcp-segmentation-offload`).
    pub fn host_tap_feature(&self, name: &str) -> Res<bool> {
        self.host_tap_features()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("no feature {name}"))
    }

    /// The guest TAP's name.
    pub fn guest_tap(&self) -> String {
        self.tb()
            .guest_tap()
            .map(|t| t.name().to_string())
            .unwrap_or_default()
    }
}

/// Pause → halt → unload, collecting contract violations step by step instead of letting the
/// harness panic on them — safe while a failing test unwinds (a second panic would abort the
/// whole test binary), and it always leaves the driver unloaded for the next bench.
fn safe_down(h: &mut Harness) -> Vec<String> {
    let mut out = Vec::new();
    let take = |h: &mut Harness, out: &mut Vec<String>| {
        out.extend(
            h.take_violations()
                .iter()
                .map(|v| format!("NDIS contract: {v}")),
        );
    };
    take(h, &mut out);
    if h.state() == AdapterState::Running {
        if let Err(e) = h.pause() {
            out.push(format!("pause: {e:?}"));
        }
        take(h, &mut out);
    }
    if h.state() == AdapterState::Paused {
        if let Err(e) = h.halt() {
            out.push(format!("halt: {e:?}"));
        }
        take(h, &mut out);
    }
    if let Err(e) = h.unload() {
        out.push(format!("unload: {e:?}"));
    }
    take(h, &mut out);
    out
}

/// What [`E2e::finish`] found.
#[derive(Debug, Default, Clone)]
pub struct Finish {
    /// Every problem: stand-in errors, lies, leaks, contract violations.
    pub problems: Vec<String>,
    /// NDIS warnings (not failures), distinct messages with their counts.
    pub warnings: Vec<(String, u64)>,
    /// Final send counters.
    pub tx: crate::shape::TxSnap,
    /// Final receive counters.
    pub rx: crate::shape::RxSnap,
    /// Pass-through counters (that backend only).
    pub passthrough: Option<crate::passthrough::PassStats>,
}

impl Finish {
    /// Panics with every problem (for tests).
    pub fn assert_clean(&self) {
        assert!(
            self.problems.is_empty(),
            "end-to-end bench problems:\n  {}",
            self.problems.join("\n  ")
        );
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        if self.standin.is_some() || self.be.is_some() {
            match self.shutdown() {
                Ok(f) if !f.problems.is_empty() => {
                    eprintln!("e2e teardown: {}", f.problems.join("; "))
                }
                _ => {}
            }
        }
        // The testbed (QEMU, namespaces) goes after the adapter is down.
        self.tb = None;
    }
}

/// Feature names from a QMP `x-query-virtio-status` features object: `dev-features` and
/// `transports` entries look like `"VIRTIO_NET_F_CSUM: Device handles …"`.
pub fn feature_names(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["dev-features", "transports"] {
        if let Some(a) = v[key].as_array() {
            for s in a.iter().filter_map(|x| x.as_str()) {
                out.push(s.split(':').next().unwrap_or(s).trim().to_string());
            }
        }
    }
    out
}
