//! The QEMU machine and the handle a user-mode NDIS gets: PCI config space, translated BARs,
//! MMIO (synchronous and posted), guest RAM for DMA, MSI-X doorbells, QMP.
//!
//! # Thread safety
//! [`Machine`] is `Send + Sync`; share it as `Arc<Machine>`. Every method takes `&self`:
//! MMIO, config and port accesses go through the pipelined [`QTest`] (safe from any number of
//! threads; config accesses are atomic address+data pairs), QMP is behind a mutex, RAM and
//! doorbells are shared memory read with atomics. Posted writes never wait for QEMU.
//!
//! # Interrupts
//! Every MSI-X table entry `v` is programmed with address [`Machine::doorbell_address`]`(v)`
//! (a 64-byte slot in guest RAM, see [`crate::ram`]) and data [`MSI_DATA_BASE`]` | v`. With
//! vhost off, QEMU's virtio-pci delivers an MSI-X message as a plain 32-bit memory write by the
//! device (`msix_notify` → `pci_msi_trigger` → `address_space_stl_le` on the bus-master
//! address space), under KVM as under TCG — the testbed's tests check this for both. So a
//! fired vector is a non-zero doorbell; [`Machine::take_interrupt`] consumes it with an atomic
//! swap. Several messages between two checks coalesce into one (like a latched edge).

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::bios;
use crate::error::{Error, Result};
use crate::pci::{self, Bar, BarKind, Bdf, Capability, MsixInfo};
use crate::probe;
use crate::process::{self, ChildProc, SpawnOptions};
use crate::qmp::{self, Qmp, VIRTIO_NET_QOM_PATH};
use crate::qtest::QTest;
use crate::ram::{self, GuestRam};

/// Data word of MSI-X vector `v` is `MSI_DATA_BASE | v` (non-zero, recognisable).
pub const MSI_DATA_BASE: u32 = 0x4E54_0000;
/// Red Hat / virtio PCI vendor ID.
pub const VIRTIO_VENDOR: u16 = 0x1AF4;
/// Modern virtio-net device ID.
pub const VIRTIO_NET_MODERN: u16 = 0x1041;
/// Transitional virtio-net device ID.
pub const VIRTIO_NET_TRANSITIONAL: u16 = 0x1000;
/// QEMU `-netdev` id.
pub const NETDEV_ID: &str = "n0";
/// QEMU `-device` id (also the `set_link` name).
pub const DEVICE_ID: &str = "net0";
/// How long QEMU may take to connect to the qtest socket.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Accelerator in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation (/dev/kvm).
    Kvm,
    /// QEMU's software emulation.
    Tcg,
}

impl Accel {
    /// QEMU's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// Accelerator wish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccelChoice {
    /// KVM when /dev/kvm is usable, else TCG. `NTB_ACCEL=kvm|tcg` overrides.
    #[default]
    Auto,
    /// Require KVM.
    Kvm,
    /// Force TCG.
    Tcg,
}

/// What QEMU to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineConfig {
    /// Accelerator.
    pub accel: AccelChoice,
    /// Guest RAM in MiB (16..=2048, even).
    pub ram_mib: u32,
    /// Device MAC.
    pub mac: [u8; 6],
    /// PCI slot on bus 0.
    pub pci_slot: u8,
    /// Queue pairs: > 1 sets `queues=N` on the netdev (multi-queue TAP) and `mq=on,vectors=2N+2`
    /// on the device (unless `vectors` is given in `device_props`).
    pub queue_pairs: u16,
    /// `vhost=on` on the netdev (off by default: RSC and MSI-as-memory-write need userspace
    /// virtio-net).
    pub vhost: bool,
    /// Extra `-device virtio-net-pci` properties, passed through verbatim:
    /// `guest_tso4`, `host_tso4`, `host_uso`, `guest_rsc_ext`, `rsc_interval`, `mq`, `vectors`,
    /// `rss`, `rx_queue_size`, `tx_queue_size`, `csum`, `guest_csum`, `mrg_rxbuf`, `event_idx`,
    /// `indirect_desc`, `host_mtu`, `speed`, `duplex` … (commas in values are escaped).
    pub device_props: Vec<(String, String)>,
    /// Extra QEMU arguments appended at the end.
    pub extra_args: Vec<String>,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            accel: AccelChoice::Auto,
            ram_mib: 256,
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            pci_slot: 3,
            queue_pairs: 1,
            vhost: false,
            device_props: Vec::new(),
            extra_args: Vec::new(),
        }
    }
}

impl MachineConfig {
    /// Adds a `-device virtio-net-pci` property (builder style).
    pub fn prop(mut self, key: &str, value: &str) -> Self {
        self.device_props.push((key.to_string(), value.to_string()));
        self
    }

    /// Resolves [`AccelChoice`] against the machine and `NTB_ACCEL`.
    pub fn resolve_accel(&self) -> Result<Accel> {
        let env = std::env::var("NTB_ACCEL").ok();
        let choice = match (self.accel, env.as_deref()) {
            (AccelChoice::Auto, Some("kvm")) => AccelChoice::Kvm,
            (AccelChoice::Auto, Some("tcg")) => AccelChoice::Tcg,
            (c, _) => c,
        };
        match choice {
            AccelChoice::Tcg => Ok(Accel::Tcg),
            AccelChoice::Kvm if probe::probe().kvm_usable() => Ok(Accel::Kvm),
            AccelChoice::Kvm => Err(Error::Prerequisite(format!(
                "KVM requested but {}",
                probe::probe().kvm.clone().err().unwrap_or_default()
            ))),
            AccelChoice::Auto if probe::probe().kvm_usable() => Ok(Accel::Kvm),
            AccelChoice::Auto => Ok(Accel::Tcg),
        }
    }

    /// The `-device` argument.
    pub fn device_arg(&self) -> String {
        let mut s = format!(
            "virtio-net-pci,netdev={NETDEV_ID},id={DEVICE_ID},addr={:02x}.0,disable-legacy=on,mac={}",
            self.pci_slot,
            crate::tap::format_mac(&self.mac)
        );
        let has = |k: &str| self.device_props.iter().any(|(key, _)| key == k);
        if self.queue_pairs > 1 {
            if !has("mq") {
                s.push_str(",mq=on");
            }
            if !has("vectors") {
                s.push_str(&format!(",vectors={}", 2 * u32::from(self.queue_pairs) + 2));
            }
        }
        for (k, v) in &self.device_props {
            s.push(',');
            s.push_str(&k.replace(',', ",,"));
            s.push('=');
            s.push_str(&v.replace(',', ",,"));
        }
        s
    }

    /// The `-netdev` argument for TAP `tap`.
    pub fn netdev_arg(&self, tap: &str) -> String {
        let mut s = format!(
            "tap,id={NETDEV_ID},ifname={tap},script=no,downscript=no,vhost={}",
            if self.vhost { "on" } else { "off" }
        );
        if self.queue_pairs > 1 {
            s.push_str(&format!(",queues={}", self.queue_pairs));
        }
        s
    }
}

/// Where and how to start QEMU (filled in by [`crate::Testbed`]).
#[derive(Debug, Clone)]
pub struct LaunchSpec<'a> {
    /// Machine settings.
    pub config: &'a MachineConfig,
    /// Run directory (sockets, BIOS, log); socket paths must fit `sun_path`.
    pub run_dir: &'a Path,
    /// Network namespace handle to start QEMU in (`/run/netns/NAME`), or None.
    pub netns: Option<&'a Path>,
    /// The TAP (persistent, `vnet_hdr`, in that namespace) the netdev attaches to.
    pub tap: &'a str,
}

/// A running QEMU with a brought-up virtio-net PCI function. See the module docs.
pub struct Machine {
    qtest: QTest,
    qmp: Mutex<Qmp>,
    ram: GuestRam,
    bdf: Bdf,
    vendor: u16,
    device: u16,
    bars: Vec<Bar>,
    msix: MsixInfo,
    accel: Accel,
    qemu_pid: u32,
    child: Mutex<Option<ChildProc>>,
    log_path: PathBuf,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("accel", &self.accel)
            .field("qemu_pid", &self.qemu_pid)
            .field("bdf", &self.bdf)
            .field("bars", &self.bars)
            .field("msix_vectors", &self.msix.table_size)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Machine {
    /// Starts QEMU, connects qtest and QMP, and brings the PCI function up (BARs, bus master,
    /// MSI-X to doorbells). On error everything started so far is stopped.
    pub fn launch(spec: &LaunchSpec<'_>) -> Result<Machine> {
        let cfg = spec.config;
        let accel = cfg.resolve_accel()?;
        let ram = GuestRam::new(u64::from(cfg.ram_mib) << 20)?;
        let bios_path = spec.run_dir.join("bios.bin");
        bios::write_halting_bios(&bios_path)?;
        let qtest_path = spec.run_dir.join("qtest.sock");
        let qmp_path = spec.run_dir.join("qmp.sock");
        let log_path = spec.run_dir.join("qemu.log");
        // qtest's chardev connects to us: listen before QEMU starts.
        let listener = UnixListener::bind(&qtest_path)
            .map_err(|e| Error::io(format!("bind {}", qtest_path.display()), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("qtest listener non-blocking", e))?;
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Error::io(format!("create {}", log_path.display()), e))?;
        let log2 = log.try_clone().map_err(|e| Error::io("clone log fd", e))?;
        let mem = cfg.ram_mib;
        let args: Vec<String> = vec![
            "-machine".into(),
            "q35,memory-backend=ntbram".into(),
            "-accel".into(),
            accel.as_str().into(),
            "-smp".into(),
            "1".into(),
            "-bios".into(),
            bios_path.display().to_string(),
            "-qtest".into(),
            format!("unix:{}", qtest_path.display()),
            "-qtest-log".into(),
            "none".into(),
            "-m".into(),
            format!("{mem}M"),
            "-object".into(),
            format!(
                "memory-backend-file,id=ntbram,size={mem}M,mem-path=/proc/self/fd/{},share=on",
                ram.raw_fd()
            ),
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-display".into(),
            "none".into(),
            "-serial".into(),
            "none".into(),
            "-monitor".into(),
            "none".into(),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", qmp_path.display()),
            "-netdev".into(),
            cfg.netdev_arg(spec.tap),
            "-device".into(),
            cfg.device_arg(),
        ]
        .into_iter()
        .chain(cfg.extra_args.iter().cloned())
        .collect();
        let mut cmd = process::command("qemu-system-x86_64", &args);
        cmd.stdout(log).stderr(log2);
        let keep = [ram.raw_fd()];
        let mut child = process::spawn(
            cmd,
            SpawnOptions {
                netns: spec.netns,
                keep_fds: &keep,
                capture: false,
            },
        )?;
        let qemu_pid = child.pid();
        std::fs::write(spec.run_dir.join("qemu.pid"), format!("{qemu_pid}\n"))
            .map_err(|e| Error::io("write qemu.pid", e))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let conn: UnixStream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(st) = child.try_wait()? {
                        return Err(Error::Setup(format!(
                            "QEMU exited ({st}) before connecting qtest:\n{}",
                            log_tail(&log_path)
                        )));
                    }
                    if Instant::now() > deadline {
                        return Err(Error::Timeout(format!(
                            "QEMU did not connect to {} within {START_TIMEOUT:?}:\n{}",
                            qtest_path.display(),
                            log_tail(&log_path)
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(Error::io("accept qtest connection", e)),
            }
        };
        drop(listener);
        let _ = std::fs::remove_file(&qtest_path);
        conn.set_nonblocking(false)
            .map_err(|e| Error::io("qtest socket blocking", e))?;
        let qtest = QTest::new(conn)?;
        let qmp = Qmp::connect(&qmp_path, START_TIMEOUT)
            .map_err(|e| Error::Setup(format!("QMP: {e}\n{}", log_tail(&log_path))))?;
        let mut m = Machine {
            qtest,
            qmp: Mutex::new(qmp),
            ram,
            bdf: Bdf {
                bus: 0,
                dev: cfg.pci_slot,
                func: 0,
            },
            vendor: 0,
            device: 0,
            bars: Vec::new(),
            msix: MsixInfo {
                cap_offset: 0,
                table_size: 0,
                table_bar: 0,
                table_offset: 0,
                table_addr: 0,
                pba_bar: 0,
                pba_offset: 0,
                messages: Vec::new(),
            },
            accel,
            qemu_pid,
            child: Mutex::new(Some(child)),
            log_path,
        };
        m.bring_up(cfg.pci_slot)?;
        Ok(m)
    }

    /// PnP/firmware part: find the function, assign BARs, enable decoding + bus master,
    /// program MSI-X.
    fn bring_up(&mut self, slot: u8) -> Result<()> {
        let funcs = pci::enumerate(&self.qtest, 0)?;
        let f = funcs
            .iter()
            .find(|f| {
                f.bdf.dev == slot
                    && f.vendor == VIRTIO_VENDOR
                    && (f.device == VIRTIO_NET_MODERN || f.device == VIRTIO_NET_TRANSITIONAL)
            })
            .ok_or_else(|| {
                Error::Setup(format!(
                    "no virtio-net (1af4:1041/1000) at 00:{slot:02x}.0; bus 0 has {:?}",
                    funcs
                        .iter()
                        .map(|f| format!("{} {:04x}:{:04x}", f.bdf, f.vendor, f.device))
                        .collect::<Vec<_>>()
                ))
            })?;
        self.bdf = f.bdf;
        self.vendor = f.vendor;
        self.device = f.device;
        self.bars = pci::assign_bars(&self.qtest, self.bdf)?;
        self.msix = pci::program_msix(&self.qtest, self.bdf, &self.bars, |v| {
            (doorbell_gpa(v), MSI_DATA_BASE | u32::from(v))
        })?;
        if u64::from(self.msix.table_size) > ram::DOORBELL_MAX_VECTORS {
            return Err(Error::Setup(format!(
                "{} MSI-X vectors exceed the doorbell area",
                self.msix.table_size
            )));
        }
        self.clear_interrupts();
        Ok(())
    }

    /// Stops QEMU: QMP `quit`, wait up to 3 s, then SIGKILL by PID. Idempotent; later MMIO
    /// calls fail with [`Error::QtestDead`]. The RAM mapping stays valid until the `Machine`
    /// is dropped.
    pub fn shutdown(&self) -> Result<()> {
        let Some(mut child) = lock(&self.child).take() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            let mut q = lock(&self.qmp);
            q.set_timeout(Duration::from_secs(3));
            let _ = q.quit();
        }
        self.qtest.mark_dead("machine shut down");
        if child.wait_timeout(Duration::from_secs(3))?.is_none() {
            child.kill()?;
        }
        Ok(())
    }

    /// True until [`Machine::shutdown`] ran or QEMU exited by itself.
    pub fn is_running(&self) -> bool {
        match lock(&self.child).as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    // ---- identity -----------------------------------------------------------------------

    /// Accelerator in use.
    pub fn accel(&self) -> Accel {
        self.accel
    }
    /// QEMU's PID.
    pub fn qemu_pid(&self) -> u32 {
        self.qemu_pid
    }
    /// QEMU's stdout/stderr log (in the run dir).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// Location of the virtio-net function.
    pub fn bdf(&self) -> Bdf {
        self.bdf
    }
    /// Vendor ID (0x1AF4).
    pub fn vendor_id(&self) -> u16 {
        self.vendor
    }
    /// Device ID (0x1041 modern, 0x1000 transitional).
    pub fn device_id(&self) -> u16 {
        self.device
    }

    // ---- PCI configuration space ---------------------------------------------------------

    /// Config read, 8 bits.
    pub fn pci_read8(&self, off: u16) -> Result<u8> {
        Ok(pci::config_read(&self.qtest, self.bdf, off, 1)? as u8)
    }
    /// Config read, 16 bits (2-aligned).
    pub fn pci_read16(&self, off: u16) -> Result<u16> {
        Ok(pci::config_read(&self.qtest, self.bdf, off, 2)? as u16)
    }
    /// Config read, 32 bits (4-aligned).
    pub fn pci_read32(&self, off: u16) -> Result<u32> {
        pci::config_read(&self.qtest, self.bdf, off, 4)
    }
    /// Config write, 8 bits.
    pub fn pci_write8(&self, off: u16, v: u8) -> Result<()> {
        pci::config_write(&self.qtest, self.bdf, off, 1, u32::from(v))
    }
    /// Config write, 16 bits.
    pub fn pci_write16(&self, off: u16, v: u16) -> Result<()> {
        pci::config_write(&self.qtest, self.bdf, off, 2, u32::from(v))
    }
    /// Config write, 32 bits.
    pub fn pci_write32(&self, off: u16, v: u32) -> Result<()> {
        pci::config_write(&self.qtest, self.bdf, off, 4, v)
    }
    /// Reads `buf.len()` bytes of config space from `off` (dword by dword; 256 bytes max).
    pub fn pci_read_block(&self, off: u16, buf: &mut [u8]) -> Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let o = off
                .checked_add(u16::try_from(i).map_err(|_| Error::Invalid("block".into()))?)
                .ok_or_else(|| Error::Invalid("config offset overflow".into()))?;
            *b = self.pci_read8(o)?;
        }
        Ok(())
    }
    /// The capability list.
    pub fn capabilities(&self) -> Result<Vec<Capability>> {
        pci::capabilities(&self.qtest, self.bdf)
    }

    // ---- resources ----------------------------------------------------------------------

    /// The assigned BARs: the translated resources (CmResourceTypeMemory) of the function.
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }
    /// The BAR with this index, if assigned.
    pub fn bar(&self, index: u8) -> Option<&Bar> {
        self.bars.iter().find(|b| b.index == index)
    }

    fn check_mmio(&self, addr: u64, width: u64) -> Result<()> {
        if self
            .bars
            .iter()
            .any(|b| b.is_memory() && b.contains(addr, width))
        {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "MMIO {addr:#x}+{width} is outside every memory BAR {:?}",
                self.bars
            )))
        }
    }

    // ---- MMIO -----------------------------------------------------------------------------

    /// MMIO read, 8 bits (synchronous round trip).
    pub fn mmio_read8(&self, addr: u64) -> Result<u8> {
        self.check_mmio(addr, 1)?;
        self.qtest.readb(addr)
    }
    /// MMIO read, 16 bits.
    pub fn mmio_read16(&self, addr: u64) -> Result<u16> {
        self.check_mmio(addr, 2)?;
        self.qtest.readw(addr)
    }
    /// MMIO read, 32 bits.
    pub fn mmio_read32(&self, addr: u64) -> Result<u32> {
        self.check_mmio(addr, 4)?;
        self.qtest.readl(addr)
    }
    /// MMIO read, one 64-bit access.
    pub fn mmio_read64(&self, addr: u64) -> Result<u64> {
        self.check_mmio(addr, 8)?;
        self.qtest.readq(addr)
    }
    /// 64-bit read as two 32-bit reads (low dword first) in one pipeline — for registers that
    /// accept only ≤ 4-byte accesses (virtio common cfg). Not atomic with respect to the device.
    pub fn mmio_read64_split(&self, addr: u64) -> Result<u64> {
        self.check_mmio(addr, 8)?;
        let lo = format!("readl {addr:#x}");
        let hi = format!("readl {:#x}", addr + 4);
        let v = self.qtest.pipeline_ok(&[&lo, &hi])?;
        let get = |i: usize| v.get(i).copied().flatten().unwrap_or(0) & 0xFFFF_FFFF;
        Ok(get(0) | get(1) << 32)
    }
    /// MMIO write, 8 bits, waiting for QEMU to have performed it.
    pub fn mmio_write8(&self, addr: u64, v: u8) -> Result<()> {
        self.check_mmio(addr, 1)?;
        self.qtest.writeb(addr, v)
    }
    /// MMIO write, 16 bits, synchronous.
    pub fn mmio_write16(&self, addr: u64, v: u16) -> Result<()> {
        self.check_mmio(addr, 2)?;
        self.qtest.writew(addr, v)
    }
    /// MMIO write, 32 bits, synchronous.
    pub fn mmio_write32(&self, addr: u64, v: u32) -> Result<()> {
        self.check_mmio(addr, 4)?;
        self.qtest.writel(addr, v)
    }
    /// MMIO write, one 64-bit access, synchronous.
    pub fn mmio_write64(&self, addr: u64, v: u64) -> Result<()> {
        self.check_mmio(addr, 8)?;
        self.qtest.writeq(addr, v)
    }
    /// 64-bit write as two 32-bit writes (low dword first) in one pipeline, synchronous.
    pub fn mmio_write64_split(&self, addr: u64, v: u64) -> Result<()> {
        self.check_mmio(addr, 8)?;
        let lo = format!("writel {addr:#x} {:#x}", v & 0xFFFF_FFFF);
        let hi = format!("writel {:#x} {:#x}", addr + 4, v >> 32);
        self.qtest.pipeline_ok(&[&lo, &hi]).map(|_| ())
    }
    /// Posted MMIO write, 8 bits: returns without waiting for QEMU. Ordered with every later
    /// qtest access (same stream), so a following read observes it.
    pub fn mmio_post8(&self, addr: u64, v: u8) -> Result<()> {
        self.check_mmio(addr, 1)?;
        self.qtest.post_writeb(addr, v)
    }
    /// Posted MMIO write, 16 bits — the queue-notify path.
    pub fn mmio_post16(&self, addr: u64, v: u16) -> Result<()> {
        self.check_mmio(addr, 2)?;
        self.qtest.post_writew(addr, v)
    }
    /// Posted MMIO write, 32 bits (also notifies with VIRTIO_F_NOTIFICATION_DATA).
    pub fn mmio_post32(&self, addr: u64, v: u32) -> Result<()> {
        self.check_mmio(addr, 4)?;
        self.qtest.post_writel(addr, v)
    }
    /// Waits until every posted write has been performed by QEMU.
    pub fn flush_posted(&self) -> Result<()> {
        self.qtest.drain()
    }
    /// Port read (I/O BARs), `width` 1, 2 or 4.
    pub fn port_read(&self, port: u16, width: u8) -> Result<u32> {
        match width {
            1 => self.qtest.inb(port).map(u32::from),
            2 => self.qtest.inw(port).map(u32::from),
            4 => self.qtest.inl(port),
            _ => Err(Error::Invalid(format!("port width {width}"))),
        }
    }
    /// Port write (I/O BARs), `width` 1, 2 or 4.
    pub fn port_write(&self, port: u16, width: u8, v: u32) -> Result<()> {
        match width {
            1 => self.qtest.outb(port, v as u8),
            2 => self.qtest.outw(port, v as u16),
            4 => self.qtest.outl(port, v),
            _ => Err(Error::Invalid(format!("port width {width}"))),
        }
    }
    /// The qtest connection itself (raw commands, stats, posted failures).
    pub fn qtest(&self) -> &QTest {
        &self.qtest
    }

    // ---- guest RAM --------------------------------------------------------------------------

    /// Guest RAM (guest-physical address == offset; layout in [`crate::ram`]).
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    // ---- MSI-X doorbells --------------------------------------------------------------------

    /// The MSI-X capability as programmed.
    pub fn msix(&self) -> &MsixInfo {
        &self.msix
    }
    /// Number of MSI-X vectors (table entries).
    pub fn msix_vectors(&self) -> u16 {
        self.msix.table_size
    }
    /// Guest-physical address vector `v` writes to.
    pub fn doorbell_address(&self, v: u16) -> Option<u64> {
        (v < self.msix.table_size).then(|| doorbell_gpa(v))
    }
    /// The doorbell word of vector `v` (non-zero = fired since last cleared).
    pub fn doorbell(&self, v: u16) -> Option<&AtomicU32> {
        self.ram.atomic_u32(self.doorbell_address(v)?)
    }
    /// Consumes vector `v`'s doorbell: true if it fired since the last call.
    pub fn take_interrupt(&self, v: u16) -> bool {
        self.doorbell(v)
            .is_some_and(|d| d.swap(0, Ordering::AcqRel) != 0)
    }
    /// Vectors whose doorbell is set, without consuming them.
    pub fn pending_interrupts(&self) -> Vec<u16> {
        (0..self.msix.table_size)
            .filter(|&v| {
                self.doorbell(v)
                    .is_some_and(|d| d.load(Ordering::Acquire) != 0)
            })
            .collect()
    }
    /// Masks or unmasks MSI-X table entry `v` (Vector Control bit 0). While masked the device
    /// sets the pending bit instead of writing the doorbell, and delivers on unmask.
    pub fn set_vector_masked(&self, v: u16, masked: bool) -> Result<()> {
        if v >= self.msix.table_size {
            return Err(Error::Invalid(format!(
                "MSI-X vector {v} of {}",
                self.msix.table_size
            )));
        }
        let ctl = self.msix.table_addr + u64::from(v) * 16 + 12;
        self.qtest.writel(ctl, u32::from(masked))
    }

    /// Clears every doorbell.
    pub fn clear_interrupts(&self) {
        for v in 0..self.msix.table_size {
            if let Some(d) = self.doorbell(v) {
                d.store(0, Ordering::Release);
            }
        }
    }
    /// Waits up to `timeout` for vector `v` and consumes it. Spins briefly, then sleeps in
    /// short steps (the device cannot wake us: an MSI here is only a memory write).
    pub fn wait_interrupt(&self, v: u16, timeout: Duration) -> bool {
        wait_poll(timeout, || self.take_interrupt(v).then_some(())).is_some()
    }
    /// Waits up to `timeout` for any vector; consumes and returns the lowest that fired.
    pub fn wait_any_interrupt(&self, timeout: Duration) -> Option<u16> {
        wait_poll(timeout, || {
            (0..self.msix.table_size).find(|&v| self.take_interrupt(v))
        })
    }

    // ---- QMP --------------------------------------------------------------------------------

    /// Exclusive access to the QMP connection.
    pub fn qmp(&self) -> MutexGuard<'_, Qmp> {
        lock(&self.qmp)
    }
    /// Link up/down as the device reports it (QMP `set_link net0`).
    pub fn set_link(&self, up: bool) -> Result<()> {
        self.qmp().set_link(DEVICE_ID, up)
    }
    /// `x-query-virtio-status` of the virtio-net backend.
    pub fn virtio_status(&self) -> Result<serde_json::Value> {
        self.qmp().virtio_status(VIRTIO_NET_QOM_PATH)
    }
    /// `x-query-virtio-queue-status` of queue `q`.
    pub fn virtio_queue_status(&self, q: u16) -> Result<serde_json::Value> {
        self.qmp().virtio_queue_status(VIRTIO_NET_QOM_PATH, q)
    }
    /// HMP `info pci` text.
    pub fn info_pci(&self) -> Result<String> {
        self.qmp().hmp("info pci")
    }
    /// The function's BARs as QEMU's `info pci` reports them (cross-check of [`Machine::bars`]).
    pub fn info_pci_bars(&self) -> Result<Vec<qmp::InfoPciBar>> {
        let text = self.info_pci()?;
        Ok(qmp::parse_info_pci_bars(
            &text,
            self.bdf.bus,
            self.bdf.dev,
            self.bdf.func,
        ))
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("testbed: stopping QEMU {}: {e}", self.qemu_pid);
        }
    }
}

/// Doorbell slot of vector `v`.
pub fn doorbell_gpa(v: u16) -> u64 {
    ram::DOORBELL_BASE + u64::from(v) * ram::DOORBELL_STRIDE
}

/// Polls `f` until it yields or `timeout` passes: ~20 µs of spinning, then yields, then
/// sleeps of 20–200 µs.
pub fn wait_poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let mut round = 0u32;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let el = start.elapsed();
        if el >= timeout {
            return None;
        }
        round += 1;
        if el < Duration::from_micros(20) {
            std::hint::spin_loop();
        } else if !round.is_multiple_of(64) && el < Duration::from_micros(200) {
            std::thread::yield_now();
        } else {
            let nap = Duration::from_micros(20 * u64::from(round.min(10)));
            std::thread::sleep(nap.min(timeout - el));
        }
    }
}

impl BarKind {
    /// Short name for messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            BarKind::Mem32 => "mem32",
            BarKind::Mem64 => "mem64",
            BarKind::Io => "io",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_and_netdev_args_pass_properties_through() {
        let cfg = MachineConfig {
            queue_pairs: 4,
            ..MachineConfig::default()
        }
        .prop("guest_rsc_ext", "on")
        .prop("rsc_interval", "500000")
        .prop("odd", "a,b");
        let d = cfg.device_arg();
        assert!(d.starts_with("virtio-net-pci,netdev=n0,id=net0,addr=03.0,disable-legacy=on,mac=52:54:00:12:34:56"), "{d}");
        assert!(d.contains(",mq=on,vectors=10,"), "{d}");
        assert!(
            d.ends_with(",guest_rsc_ext=on,rsc_interval=500000,odd=a,,b"),
            "{d}"
        );
        assert_eq!(
            cfg.netdev_arg("ntb1_0t"),
            "tap,id=n0,ifname=ntb1_0t,script=no,downscript=no,vhost=off,queues=4"
        );
        let one = MachineConfig::default().prop("vectors", "3");
        assert!(!one.device_arg().contains("mq=on"));
    }

    #[test]
    fn machine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Machine>();
        check::<QTest>();
        check::<GuestRam>();
    }

    #[test]
    fn doorbells_are_one_cache_line_apart_from_1mib() {
        assert_eq!(doorbell_gpa(0), 0x10_0000);
        assert_eq!(doorbell_gpa(3), 0x10_00C0);
        assert!(doorbell_gpa(2047) + 4 <= ram::DMA_BASE);
    }

    #[test]
    fn wait_poll_returns_value_or_times_out() {
        let mut n = 0;
        assert_eq!(
            wait_poll(Duration::from_secs(5), || {
                n += 1;
                (n == 1000).then_some(n)
            }),
            Some(1000)
        );
        let t = Instant::now();
        assert_eq!(wait_poll(Duration::from_millis(30), || None::<()>), None);
        assert!(t.elapsed() >= Duration::from_millis(30));
    }
}
