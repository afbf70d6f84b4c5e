//! A complete testbed: namespaces, TAPs, QEMU with a brought-up virtio-net, guest-side TAP.
//!
//! ```text
//!  ns <id>g ("guest", stand-in for Windows)       ns <id>h ("host")                 ns <id>p (optional peer)
//!  TAP <id>u 10.77.0.2 ── read/write by the ──>  QEMU virtio-net ── TAP <id>t ──  veth <id>v 10.78.0.1 ── <id>w 10.78.0.2
//!  (IFF_VNET_HDR, this process)   test process    (qtest, shared RAM)  10.77.0.1
//!                                 (ndis-emu + miniport in between)
//! ```
//!
//! Everything is removed when the [`Testbed`] is dropped — also while unwinding from a panic:
//! QEMU (QMP `quit`, then SIGKILL by PID), the guest TAP fd, the namespaces (with their TAPs
//! and veths), the run directory. Guest RAM is a memfd and vanishes with its last mapping. If
//! the whole process dies (SIGKILL, abort) QEMU and helpers die through PDEATHSIG, and
//! [`crate::cleanup_stale`] (run automatically once per process by [`Testbed::start`]) removes the
//! namespaces and run directory later.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Once};

use crate::error::{Error, Result};
use crate::instance::{self, role, InstanceId, RunDir};
use crate::machine::{LaunchSpec, Machine, MachineConfig};
use crate::netns::NetNs;
use crate::tap::{GuestTap, GuestTapConfig};

/// Testbed settings. `Default` gives: auto accel, 256 MiB, one queue pair, host TAP
/// 10.77.0.1/24, guest TAP 10.77.0.2/24 with csum+TSO offloads, no peer, IPv6 off, TCP
/// timestamps off (as Windows by default, and required by QEMU's RSC).
#[derive(Debug, Clone)]
pub struct TestbedConfig {
    /// QEMU and device settings.
    pub machine: MachineConfig,
    /// Host TAP address with prefix.
    pub host_ipv4: String,
    /// Host TAP MTU (None: kernel default 1500).
    pub host_mtu: Option<u32>,
    /// Enable IPv6 in every namespace (off: no router solicitations/DAD noise on the wire).
    pub ipv6: bool,
    /// `net.ipv4.tcp_timestamps` in every namespace.
    pub tcp_timestamps: bool,
    /// Further sysctls applied in every namespace (dotted keys).
    pub sysctls: Vec<(String, String)>,
    /// The guest-side TAP (None: no guest namespace).
    pub guest: Option<GuestTapConfig>,
    /// Create the peer namespace behind a veth (frames from the device are segmented and
    /// checksummed in software on the way there, so captures show what a wire would carry).
    pub peer: bool,
    /// Host-side veth address with prefix.
    pub host_veth_ipv4: String,
    /// Peer-side veth address with prefix.
    pub peer_ipv4: String,
}

impl Default for TestbedConfig {
    fn default() -> Self {
        TestbedConfig {
            machine: MachineConfig::default(),
            host_ipv4: "10.77.0.1/24".into(),
            host_mtu: None,
            ipv6: false,
            tcp_timestamps: false,
            sysctls: Vec::new(),
            guest: Some(GuestTapConfig::default()),
            peer: false,
            host_veth_ipv4: "10.78.0.1/24".into(),
            peer_ipv4: "10.78.0.2/24".into(),
        }
    }
}

impl TestbedConfig {
    /// Adds a virtio-net-pci property (builder style).
    pub fn prop(mut self, key: &str, value: &str) -> Self {
        self.machine = self.machine.prop(key, value);
        self
    }
}

/// A running testbed (see the module docs). Not `Clone`; share [`Testbed::machine`] (an
/// `Arc`) with other threads.
#[derive(Debug)]
pub struct Testbed {
    id: InstanceId,
    machine: Option<Arc<Machine>>,
    guest_tap: Option<GuestTap>,
    host_ns: Option<NetNs>,
    guest_ns: Option<NetNs>,
    peer_ns: Option<NetNs>,
    run_dir: Option<RunDir>,
    host_tap: String,
    host_ip: Ipv4Addr,
    guest_ip: Option<Ipv4Addr>,
    peer_ip: Option<Ipv4Addr>,
    host_veth: Option<String>,
}

fn addr_of(cidr: &str) -> Result<Ipv4Addr> {
    let ip = cidr.split('/').next().unwrap_or("");
    ip.parse()
        .map_err(|_| Error::Invalid(format!("bad IPv4 address {cidr:?}")))
}

fn setup_sysctls(ns: &NetNs, cfg: &TestbedConfig, forward: bool) -> Result<()> {
    // Before interfaces exist, so they inherit the defaults.
    let v6 = if cfg.ipv6 { "0" } else { "1" };
    ns.sysctl_set("net.ipv6.conf.all.disable_ipv6", v6)?;
    ns.sysctl_set("net.ipv6.conf.default.disable_ipv6", v6)?;
    ns.sysctl_set(
        "net.ipv4.tcp_timestamps",
        if cfg.tcp_timestamps { "1" } else { "0" },
    )?;
    if forward {
        ns.sysctl_set("net.ipv4.ip_forward", "1")?;
    }
    for (k, v) in &cfg.sysctls {
        ns.sysctl_set(k, v)?;
    }
    Ok(())
}

static STALE_ONCE: Once = Once::new();

/// [`instance::cleanup_stale`] once per process (what [`Testbed::start`] does first). A test that
/// makes leftovers on purpose calls it before, so that no other thread's first start removes them
/// under its feet.
pub fn cleanup_stale_once() {
    STALE_ONCE.call_once(|| {
        let r = instance::cleanup_stale();
        if !r.is_empty() {
            eprintln!("testbed: removed leftovers of dead runs: {r:?}");
        }
    });
}

impl Testbed {
    /// Builds everything; on error whatever was already created is removed again.
    pub fn start(cfg: TestbedConfig) -> Result<Testbed> {
        crate::probe::probe()
            .required()
            .map_err(Error::Prerequisite)?;
        cleanup_stale_once();
        let id = InstanceId::next();
        let mut tb = Testbed {
            id,
            machine: None,
            guest_tap: None,
            host_ns: None,
            guest_ns: None,
            peer_ns: None,
            run_dir: None,
            host_tap: id.name(role::HOST_TAP),
            host_ip: addr_of(&cfg.host_ipv4)?,
            guest_ip: None,
            peer_ip: None,
            host_veth: None,
        };
        // From here on, an early return drops `tb`, whose Drop removes what exists.
        let mut run_dir = RunDir::create(id)?;
        if std::env::var("NTB_KEEP_RUNDIR").is_ok_and(|v| v == "1") {
            run_dir.keep();
        }
        tb.run_dir = Some(run_dir);

        let host = NetNs::create(&id.name(role::HOST_NS))?;
        setup_sysctls(&host, &cfg, cfg.peer)?;
        let mut tuntap: Vec<String> = [
            "tuntap",
            "add",
            "dev",
            &tb.host_tap,
            "mode",
            "tap",
            "vnet_hdr",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if cfg.machine.queue_pairs > 1 {
            tuntap.push("multi_queue".into());
        }
        host.ip(&tuntap)?;
        host.ip(&["addr", "add", &cfg.host_ipv4, "dev", &tb.host_tap])?;
        if let Some(mtu) = cfg.host_mtu {
            host.ip(&["link", "set", "dev", &tb.host_tap, "mtu", &mtu.to_string()])?;
        }
        host.ip(&["link", "set", "dev", &tb.host_tap, "up"])?;
        tb.host_ns = Some(host);

        if let Some(gcfg) = &cfg.guest {
            let guest = NetNs::create(&id.name(role::GUEST_NS))?;
            setup_sysctls(&guest, &cfg, false)?;
            let mut g = gcfg.clone();
            if g.mac.is_none() {
                g.mac = Some(cfg.machine.mac);
            }
            let tap = GuestTap::open(&guest, &id.name(role::GUEST_TAP), &g)?;
            if cfg.peer {
                guest.ip(&["route", "add", "default", "via", &tb.host_ip.to_string()])?;
            }
            tb.guest_ip = if g.ipv4.is_empty() {
                None
            } else {
                Some(addr_of(&g.ipv4)?)
            };
            tb.guest_tap = Some(tap);
            tb.guest_ns = Some(guest);
        }

        if cfg.peer {
            let peer = NetNs::create(&id.name(role::PEER_NS))?;
            setup_sysctls(&peer, &cfg, false)?;
            let hv = id.name(role::VETH_HOST);
            let pv = id.name(role::VETH_PEER);
            let host = tb
                .host_ns
                .as_ref()
                .ok_or_else(|| Error::Setup("no host ns".into()))?;
            host.ip(&[
                "link",
                "add",
                &hv,
                "type",
                "veth",
                "peer",
                "name",
                &pv,
                "netns",
                peer.name(),
            ])?;
            host.ip(&["addr", "add", &cfg.host_veth_ipv4, "dev", &hv])?;
            peer.ip(&["addr", "add", &cfg.peer_ipv4, "dev", &pv])?;
            host.ip(&["link", "set", "dev", &hv, "up"])?;
            peer.ip(&["link", "set", "dev", &pv, "up"])?;
            peer.ip(&[
                "route",
                "add",
                "default",
                "via",
                &addr_of(&cfg.host_veth_ipv4)?.to_string(),
            ])?;
            // Software segmentation/checksumming towards the peer: captures there show wire frames.
            host.ethtool_set(
                &hv,
                &[
                    ("tso", false),
                    ("gso", false),
                    ("gro", false),
                    ("tx", false),
                ],
            )?;
            peer.ethtool_set(&pv, &[("gro", false)])?;
            tb.peer_ip = Some(addr_of(&cfg.peer_ipv4)?);
            tb.host_veth = Some(hv);
            tb.peer_ns = Some(peer);
        }

        let host_path = tb
            .host_ns
            .as_ref()
            .map(NetNs::path)
            .ok_or_else(|| Error::Setup("no host ns".into()))?;
        let run_path = tb
            .run_dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .ok_or_else(|| Error::Setup("no run dir".into()))?;
        let machine = Machine::launch(&LaunchSpec {
            config: &cfg.machine,
            run_dir: &run_path,
            netns: Some(&host_path),
            tap: &tb.host_tap,
        })?;
        tb.machine = Some(Arc::new(machine));
        Ok(tb)
    }

    /// The device handle (share it: `Arc::clone`).
    pub fn machine(&self) -> &Arc<Machine> {
        // Invariant: `start` returns a Testbed only with a machine; Drop takes it last.
        self.machine
            .as_ref()
            .unwrap_or_else(|| unreachable!("testbed without machine"))
    }

    /// Instance id (names are `<tag><role>`).
    pub fn id(&self) -> InstanceId {
        self.id
    }

    /// The run directory (sockets, `qemu.log`).
    pub fn run_dir(&self) -> Option<&Path> {
        self.run_dir.as_ref().map(RunDir::path)
    }

    /// The host namespace (QEMU and its TAP).
    pub fn host_ns(&self) -> &NetNs {
        self.host_ns
            .as_ref()
            .unwrap_or_else(|| unreachable!("testbed without host ns"))
    }
    /// Name of the TAP QEMU uses (in the host namespace).
    pub fn host_tap(&self) -> &str {
        &self.host_tap
    }
    /// Address of the host TAP.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.host_ip
    }
    /// The guest namespace, if configured.
    pub fn guest_ns(&self) -> Option<&NetNs> {
        self.guest_ns.as_ref()
    }
    /// The guest-side TAP, if configured.
    pub fn guest_tap(&self) -> Option<&GuestTap> {
        self.guest_tap.as_ref()
    }
    /// The guest TAP's address.
    pub fn guest_ip(&self) -> Option<Ipv4Addr> {
        self.guest_ip
    }
    /// The peer namespace, if configured.
    pub fn peer_ns(&self) -> Option<&NetNs> {
        self.peer_ns.as_ref()
    }
    /// The peer's address.
    pub fn peer_ip(&self) -> Option<Ipv4Addr> {
        self.peer_ip
    }
    /// The host-side veth name, if a peer exists.
    pub fn host_veth(&self) -> Option<&str> {
        self.host_veth.as_deref()
    }
    /// Names of every namespace this testbed created.
    pub fn netns_names(&self) -> Vec<String> {
        [&self.host_ns, &self.guest_ns, &self.peer_ns]
            .into_iter()
            .flatten()
            .map(|n| n.name().to_string())
            .collect()
    }

    /// `ethtool -K` on the host TAP. Call after the driver reached DRIVER_OK: QEMU rewrites
    /// the TAP's offloads (TUNSETOFFLOAD) during feature negotiation.
    pub fn set_host_tap_offloads(&self, features: &[(&str, bool)]) -> Result<()> {
        self.host_ns().ethtool_set(&self.host_tap, features)
    }

    /// Stops everything now (what Drop does), reporting the first error.
    pub fn stop(mut self) -> Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        let mut first: Option<Error> = None;
        if let Some(m) = self.machine.take() {
            if let Err(e) = m.shutdown() {
                first.get_or_insert(e);
            }
        }
        self.guest_tap = None;
        for ns in [
            self.peer_ns.take(),
            self.guest_ns.take(),
            self.host_ns.take(),
        ]
        .into_iter()
        .flatten()
        {
            if let Err(e) = ns.delete() {
                first.get_or_insert(e);
            }
        }
        self.run_dir = None;
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("testbed {}: cleanup: {e}", self.id.tag());
        }
    }
}
