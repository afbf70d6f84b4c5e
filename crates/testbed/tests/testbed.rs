//! Integration tests of the testbed against the real QEMU virtio-net-pci device.
//! They need root, /dev/net/tun, `ip netns` and QEMU ≥ 10: without them they print a skip
//! reason (and fail under CI).

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testbed::machine::{doorbell_gpa, MSI_DATA_BASE};
use testbed::pci::{self, cmd, reg, BarKind};
use testbed::ram::DMA_BASE;
use testbed::tap::{gso, hdr_flags, offload};
use testbed::virtio::{self, common, feature, VirtioRegions};
use testbed::{
    cleanup_stale, require_testbed, Accel, AccelChoice, Machine, MachineConfig, Testbed,
    TestbedConfig, VnetHdr,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn start(cfg: TestbedConfig) -> Testbed {
    Testbed::start(cfg).expect("testbed start")
}

fn kvm_available() -> bool {
    testbed::probe().kvm_usable()
}

fn with_accel(accel: AccelChoice) -> TestbedConfig {
    TestbedConfig {
        machine: MachineConfig {
            accel,
            ..MachineConfig::default()
        },
        guest: None,
        ..TestbedConfig::default()
    }
}

fn virtio_negotiate(m: &Machine, want: u64) -> VirtioRegions {
    let (r, got) = virtio::negotiate(m, want).unwrap();
    assert_eq!(got, want, "device lacks wanted features {:#x}", want & !got);
    r
}

fn driver_ok(m: &Machine, r: &VirtioRegions) {
    virtio::set_driver_ok(m, r).unwrap();
}

/// RFC 1071 ones'-complement sum folded to 16 bits (not inverted).
fn ones_sum(data: &[u8], init: u32) -> u16 {
    let mut s = init;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        s += u32::from(w);
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

fn pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let mut p = Vec::new();
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&len.to_be_bytes());
    u32::from(ones_sum(&p, 0))
}

/// Ethernet + IPv4 + UDP frame. `udp_csum`: Some(v) stores v verbatim, None computes it.
fn udp_frame(
    (dst_mac, src_mac): ([u8; 6], [u8; 6]),
    from: SocketAddrV4,
    to: SocketAddrV4,
    payload: &[u8],
    udp_csum: Option<u16>,
) -> Vec<u8> {
    let (src, dst, sport, dport) = (*from.ip(), *to.ip(), from.port(), to.port());
    let ulen = 8 + payload.len() as u16;
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(20 + ulen).to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = !ones_sum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&ulen.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = match udp_csum {
        Some(v) => v,
        None => {
            let v = !ones_sum(&u, pseudo_sum(src, dst, 17, ulen));
            if v == 0 {
                0xFFFF
            } else {
                v
            }
        }
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&u);
    f
}

/// Pids of processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&c).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// Runs one `#[ignore]`d helper test of this binary in a child process (so it owns the whole
/// process: fd table, mappings) with `env` set; returns its output.
fn run_child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe);
    c.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

// ---------------------------------------------------------------------------------------------
// lifecycle and cleanup

#[test]
fn start_stop_leaves_nothing_behind() {
    require_testbed!();
    let out = run_child(
        "child_start_stop_and_check_for_leftovers",
        &[("NTB_CHILD", "start_stop")],
    );
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("CHILD-CHECKED"),
        "child did not run its checks:\n{text}"
    );
}

#[test]
#[ignore = "helper: run in its own process by start_stop_leaves_nothing_behind"]
fn child_start_stop_and_check_for_leftovers() {
    if std::env::var("NTB_CHILD").as_deref() != Ok("start_stop") {
        return;
    }
    let tb = start(TestbedConfig {
        peer: true,
        ..TestbedConfig::default()
    });
    let names = tb.netns_names();
    let run_dir = tb.run_dir().unwrap().to_path_buf();
    let qemu_pid = tb.machine().qemu_pid();
    let ram_base = tb.machine().ram().base_ptr() as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        maps.contains("ntb-guest-ram"),
        "RAM memfd mapped while running"
    );
    assert_eq!(names.len(), 3);
    for n in &names {
        assert!(netns_exists(n), "{n} exists while running");
    }
    assert!(run_dir.is_dir());
    assert!(testbed::process::pid_exists(qemu_pid));
    assert!(!processes_mentioning(&run_dir.to_string_lossy()).is_empty());
    drop(tb);
    for n in &names {
        assert!(!netns_exists(n), "namespace {n} left behind");
    }
    assert!(
        !run_dir.exists(),
        "run dir {} left behind",
        run_dir.display()
    );
    assert!(
        !testbed::process::pid_exists(qemu_pid),
        "QEMU {qemu_pid} still exists"
    );
    assert_eq!(
        processes_mentioning(&run_dir.to_string_lossy()),
        Vec::<u32>::new(),
        "processes of the run still alive"
    );
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        !maps.contains("ntb-guest-ram"),
        "guest RAM still mapped (was at {ram_base:#x})"
    );
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        assert!(
            !target.to_string_lossy().contains("ntb-guest-ram"),
            "memfd still open as fd {:?}",
            fd.file_name()
        );
    }
    // The TAPs lived inside the namespaces; none may have leaked into the root namespace.
    let links = std::fs::read_to_string("/proc/net/dev").unwrap();
    let tag = names[0].trim_end_matches('h').to_string();
    assert!(
        !links.contains(&tag),
        "interface of {tag} in the root namespace"
    );
    println!("CHILD-CHECKED");
}

#[test]
fn panic_inside_a_test_still_cleans_up() {
    require_testbed!();
    let seen: Mutex<Option<(Vec<String>, std::path::PathBuf, u32)>> = Mutex::new(None);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tb = start(TestbedConfig::default());
        *seen.lock().unwrap() = Some((
            tb.netns_names(),
            tb.run_dir().unwrap().to_path_buf(),
            tb.machine().qemu_pid(),
        ));
        panic!("deliberate panic with a live testbed");
    }));
    assert!(r.is_err(), "the closure must have panicked");
    let (names, dir, pid) = seen.lock().unwrap().clone().unwrap();
    for n in &names {
        assert!(!netns_exists(n), "namespace {n} left behind after panic");
    }
    assert!(!dir.exists(), "run dir left behind after panic");
    assert!(
        !testbed::process::pid_exists(pid),
        "QEMU survived the panic"
    );
}

#[test]
fn stale_leftovers_of_a_killed_process_are_removed() {
    require_testbed!();
    // This process's one automatic cleanup (first Testbed::start of any test thread) must not
    // run between the child's death and the checks below.
    testbed::bed::cleanup_stale_once();
    let out = run_child("child_start_then_sigkill_self", &[("NTB_CHILD", "sigkill")]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "child output:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find_map(|l| l.split_once("LEFTOVERS ").map(|(_, rest)| rest))
        .expect("child printed its names");
    let mut it = line.split_whitespace();
    let qemu_pid: u32 = it.next().unwrap().parse().unwrap();
    let dir = std::path::PathBuf::from(it.next().unwrap());
    let names: Vec<String> = it.map(String::from).collect();
    // QEMU must die with its parent (PR_SET_PDEATHSIG = SIGKILL).
    let t0 = Instant::now();
    while testbed::process::pid_exists(qemu_pid)
        && std::fs::read_to_string(format!("/proc/{qemu_pid}/cmdline"))
            .is_ok_and(|c| c.contains(&*dir.to_string_lossy()))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "QEMU {qemu_pid} outlived its parent"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The namespaces and the run dir are still there: nobody removed them.
    assert!(dir.exists(), "run dir should be left by a SIGKILLed owner");
    for n in &names {
        assert!(netns_exists(n), "{n} should be left by a SIGKILLed owner");
    }
    let report = cleanup_stale();
    for n in &names {
        assert!(!netns_exists(n), "cleanup_stale left {n}");
        assert!(report.netns.contains(n), "{report:?}");
    }
    assert!(!dir.exists(), "cleanup_stale left {}", dir.display());
}

#[test]
#[ignore = "helper: run in its own process by stale_leftovers_of_a_killed_process_are_removed"]
fn child_start_then_sigkill_self() {
    if std::env::var("NTB_CHILD").as_deref() != Ok("sigkill") {
        return;
    }
    let tb = start(TestbedConfig {
        peer: true,
        ..TestbedConfig::default()
    });
    println!(
        "LEFTOVERS {} {} {}",
        tb.machine().qemu_pid(),
        tb.run_dir().unwrap().display(),
        tb.netns_names().join(" ")
    );
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    let me = std::process::id() as libc::pid_t;
    // SAFETY: sending SIGKILL to ourselves; nothing runs after it.
    unsafe { libc::kill(me, libc::SIGKILL) };
    std::thread::sleep(Duration::from_secs(10));
}

#[test]
fn two_testbeds_in_parallel_do_not_collide() {
    require_testbed!();
    let macs = [[0x52, 0x54, 0, 0xaa, 0, 1], [0x52, 0x54, 0, 0xaa, 0, 2]];
    let beds: Vec<Testbed> = std::thread::scope(|s| {
        let hs: Vec<_> = macs
            .iter()
            .map(|mac| {
                s.spawn(move || {
                    start(TestbedConfig {
                        machine: MachineConfig {
                            mac: *mac,
                            ..MachineConfig::default()
                        },
                        ..TestbedConfig::default()
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (a, b) = (&beds[0], &beds[1]);
    let na = a.netns_names();
    assert!(na.iter().all(|n| !b.netns_names().contains(n)), "{na:?}");
    assert_ne!(a.host_tap(), b.host_tap());
    assert_ne!(a.run_dir(), b.run_dir());
    assert_ne!(a.machine().qemu_pid(), b.machine().qemu_pid());
    for (tb, mac) in beds.iter().zip(macs) {
        let m = tb.machine();
        let r = virtio::regions(m).unwrap();
        let got: Vec<u8> = (0..6)
            .map(|i| m.mmio_read8(r.device + i).unwrap())
            .collect();
        assert_eq!(got, mac, "each testbed talks to its own QEMU");
    }
    // Separate guest memory.
    a.machine().ram().write(DMA_BASE, b"AAAA").unwrap();
    b.machine().ram().write(DMA_BASE, b"BBBB").unwrap();
    let mut buf = [0u8; 4];
    a.machine().ram().read(DMA_BASE, &mut buf).unwrap();
    assert_eq!(&buf, b"AAAA");
}

// ---------------------------------------------------------------------------------------------
// PCI and virtio

#[test]
fn pci_scan_finds_virtio_net_and_bars_agree_with_info_pci() {
    require_testbed!();
    let tb = start(TestbedConfig {
        guest: None,
        ..TestbedConfig::default()
    });
    let m = tb.machine();
    let funcs = pci::enumerate(m.qtest(), 0).unwrap();
    let net: Vec<_> = funcs
        .iter()
        .filter(|f| f.vendor == 0x1AF4 && f.device == 0x1041)
        .collect();
    assert_eq!(net.len(), 1, "{funcs:?}");
    assert_eq!(net[0].bdf, m.bdf());
    assert_eq!(m.bdf().dev, 3, "configured slot");
    // The q35 host bridge is always at 00:00.0.
    assert!(funcs.iter().any(|f| f.bdf.dev == 0 && f.vendor == 0x8086));

    let qemu_view = m.info_pci_bars().unwrap();
    assert!(!m.bars().is_empty());
    assert_eq!(
        qemu_view.len(),
        m.bars().len(),
        "{qemu_view:?} vs {:?}",
        m.bars()
    );
    for (ours, theirs) in m.bars().iter().zip(&qemu_view) {
        assert_eq!(ours.index, theirs.index);
        assert_eq!(ours.base, theirs.base, "BAR{}", ours.index);
        assert_eq!(ours.base + ours.len - 1, theirs.last, "BAR{}", ours.index);
        assert_eq!(
            ours.kind == BarKind::Mem64,
            theirs.kind.starts_with("64 bit")
        );
        assert_eq!(ours.prefetchable, theirs.kind.contains("prefetchable"));
        // Naturally aligned, in the 0xE0000000 window, config register holds the base.
        assert_eq!(ours.base % ours.len, 0);
        assert!(ours.base >= pci::MMIO_BASE);
        let lo = m.pci_read32(reg::BAR0 + 4 * u16::from(ours.index)).unwrap();
        assert_eq!(u64::from(lo & !0xF), ours.base & 0xFFFF_FFFF);
    }
    let c = m.pci_read16(reg::COMMAND).unwrap();
    assert_eq!(
        c & (cmd::MEM | cmd::BUS_MASTER | cmd::INTX_DISABLE),
        cmd::MEM | cmd::BUS_MASTER | cmd::INTX_DISABLE
    );
    assert_eq!(m.vendor_id(), m.pci_read16(reg::VENDOR_ID).unwrap());
    // MSI-X: enabled, not function-masked, every entry programmed to its doorbell.
    let msix = m.msix();
    let ctrl = m.pci_read16(msix.cap_offset + 2).unwrap();
    assert_eq!(
        ctrl & 0xC000,
        0x8000,
        "MSI-X enabled and unmasked: {ctrl:#x}"
    );
    assert_eq!(usize::from(msix.table_size), msix.messages.len());
    for v in 0..msix.table_size {
        let e = msix.table_addr + u64::from(v) * 16;
        assert_eq!(u64::from(m.mmio_read32(e).unwrap()), doorbell_gpa(v));
        assert_eq!(m.mmio_read32(e + 4).unwrap(), 0);
        assert_eq!(m.mmio_read32(e + 8).unwrap(), MSI_DATA_BASE | u32::from(v));
        assert_eq!(m.mmio_read32(e + 12).unwrap() & 1, 0, "entry {v} unmasked");
    }
    // MMIO outside every BAR is refused instead of silently reading open bus.
    assert!(m.mmio_read32(0xF000_0000).is_err());
}

#[test]
fn virtio_common_cfg_reports_version_1_and_device_props_pass_through() {
    require_testbed!();
    let mac = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
    let tb = start(TestbedConfig {
        machine: MachineConfig {
            mac,
            ..MachineConfig::default()
        }
        .prop("host_tso4", "off"),
        guest: None,
        ..TestbedConfig::default()
    });
    let m = tb.machine();
    let r = virtio::regions(m).unwrap();
    let f = virtio::device_features(m, &r).unwrap();
    assert_ne!(
        f & (1 << feature::VERSION_1),
        0,
        "VERSION_1 offered: {f:#x}"
    );
    assert_ne!(f & (1 << feature::MAC), 0);
    assert_eq!(
        f & (1 << 11),
        0,
        "host_tso4=off must clear VIRTIO_NET_F_HOST_TSO4: {f:#x}"
    );
    assert_ne!(f & (1 << 7), 0, "GUEST_TSO4 still offered: {f:#x}");
    // One queue pair + control queue.
    assert_eq!(m.mmio_read16(r.common + common::NUM_QUEUES).unwrap(), 3);
    let got: Vec<u8> = (0..6)
        .map(|i| m.mmio_read8(r.device + i).unwrap())
        .collect();
    assert_eq!(got, mac);
    // 64-bit common-cfg field written as two dwords and read back the same way.
    m.mmio_write16(r.common + common::QUEUE_SELECT, 0).unwrap();
    m.mmio_write64_split(r.common + common::QUEUE_DESC, 0x1234_5678_9ABC_D000)
        .unwrap();
    assert_eq!(
        m.mmio_read64_split(r.common + common::QUEUE_DESC).unwrap(),
        0x1234_5678_9ABC_D000
    );
}

// ---------------------------------------------------------------------------------------------
// MSI-X doorbells

fn link_change_fires_config_vector(accel: AccelChoice) {
    let tb = start(with_accel(accel));
    let m = tb.machine();
    let r = virtio_negotiate(m, 1 << feature::VERSION_1 | 1 << feature::STATUS);
    m.mmio_write16(r.common + common::MSIX_CONFIG, 0).unwrap();
    assert_eq!(
        m.mmio_read16(r.common + common::MSIX_CONFIG).unwrap(),
        0,
        "vector accepted"
    );
    driver_ok(m, &r);
    m.clear_interrupts();
    assert_eq!(
        m.mmio_read16(r.device + 6).unwrap() & 1,
        1,
        "link up initially"
    );
    m.set_link(false).unwrap();
    assert!(
        m.wait_interrupt(0, Duration::from_secs(5)),
        "{:?}: config vector did not fire on link down",
        m.accel()
    );
    assert_eq!(m.mmio_read16(r.device + 6).unwrap() & 1, 0, "link down");
    let word = m
        .ram()
        .atomic_u32(doorbell_gpa(0))
        .unwrap()
        .load(Ordering::Acquire);
    assert_eq!(word, 0, "consumed");
    let t0 = Instant::now();
    m.set_link(true).unwrap();
    let fired = m.wait_interrupt(0, Duration::from_secs(5));
    let latency = t0.elapsed();
    assert!(fired, "config vector did not fire on link up");
    assert_eq!(m.mmio_read16(r.device + 6).unwrap() & 1, 1, "link up again");
    assert!(
        m.pending_interrupts().is_empty(),
        "no other vector fired: {:?}",
        m.pending_interrupts()
    );
    println!(
        "{:?}: QMP set_link call + doorbell seen: {latency:?}",
        m.accel()
    );
}

#[test]
fn msix_config_vector_fires_as_memory_write_on_link_change_tcg() {
    require_testbed!();
    link_change_fires_config_vector(AccelChoice::Tcg);
}

#[test]
fn msix_config_vector_fires_as_memory_write_on_link_change_kvm() {
    require_testbed!();
    if !kvm_available() {
        eprintln!("SKIP kvm variant: /dev/kvm unusable (the tcg variant covers the path)");
        return;
    }
    link_change_fires_config_vector(AccelChoice::Kvm);
}

/// Builds transmitq1 with one descriptor holding [vnet hdr | broadcast frame], notifies with a
/// posted write, and waits for the queue's vector: DMA read, posted notify, used-ring write
/// and MSI-X message all have to work.
fn tx_completion_fires_queue_vector(accel: AccelChoice) {
    let tb = start(with_accel(accel));
    let m = tb.machine();
    let before = tb.host_ns().if_stats(tb.host_tap()).unwrap();
    // Broadcast frame of an unused EtherType (the host kernel ignores it).
    let mut frame = vec![0xFF; 6];
    frame.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    frame.extend_from_slice(&0x88B5u16.to_be_bytes());
    frame.extend_from_slice(&[0xA5; 46]);
    let mut tx = virtio::SmokeTx::setup(m, 2, &frame).unwrap();
    m.clear_interrupts();
    let t0 = Instant::now();
    assert_eq!(tx.send(m).unwrap(), 1);
    let fired = m.wait_interrupt(2, Duration::from_secs(5));
    let latency = t0.elapsed();
    assert!(fired, "{:?}: TX queue vector did not fire", m.accel());
    assert_eq!(tx.used_idx(m), 1, "used.idx");
    // QEMU's own view of the queue agrees (x-query-virtio-queue-status).
    let qs = m.virtio_queue_status(1).unwrap();
    assert_eq!(qs["used-idx"], 1, "{qs}");
    assert_eq!(qs["last-avail-idx"], 1, "{qs}");
    let vs = m.virtio_status().unwrap();
    let st = vs["status"]["statuses"].to_string();
    assert!(st.contains("DRIVER_OK"), "{vs}");
    let mut e = [0u8; 4];
    m.ram().read(tx.used + 4, &mut e).unwrap();
    assert_eq!(u32::from_le_bytes(e), 0, "used.ring[0].id");
    assert!(
        m.pending_interrupts().is_empty(),
        "{:?}",
        m.pending_interrupts()
    );
    m.flush_posted().unwrap();
    assert_eq!(m.qtest().stats().posted_failures, 0);
    let after = tb.host_ns().if_stats(tb.host_tap()).unwrap();
    assert_eq!(
        after.rx_packets,
        before.rx_packets + 1,
        "frame reached the host TAP"
    );
    // The vnet header is stripped: the TAP received exactly the frame's bytes.
    assert_eq!(after.rx_bytes - before.rx_bytes, frame.len() as u64);
    println!(
        "{:?}: posted notify -> TX completion doorbell in {latency:?}",
        m.accel()
    );
}

#[test]
fn msix_queue_vector_fires_when_tx_completes_tcg() {
    require_testbed!();
    tx_completion_fires_queue_vector(AccelChoice::Tcg);
}

#[test]
fn msix_queue_vector_fires_when_tx_completes_kvm() {
    require_testbed!();
    if !kvm_available() {
        eprintln!("SKIP kvm variant: /dev/kvm unusable (the tcg variant covers the path)");
        return;
    }
    tx_completion_fires_queue_vector(AccelChoice::Kvm);
}

#[test]
fn accel_auto_picks_kvm_when_available() {
    require_testbed!();
    let tb = start(with_accel(AccelChoice::Auto));
    let want = match std::env::var("NTB_ACCEL").as_deref() {
        Ok("tcg") => Accel::Tcg,
        Ok("kvm") => Accel::Kvm,
        _ if kvm_available() => Accel::Kvm,
        _ => Accel::Tcg,
    };
    assert_eq!(tb.machine().accel(), want);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", tb.machine().qemu_pid())).unwrap();
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let i = args.iter().position(|a| a == "-accel").unwrap();
    assert_eq!(args[i + 1], want.as_str());
}

// ---------------------------------------------------------------------------------------------
// qtest on the real device

#[test]
fn qtest_serves_concurrent_config_pairs_posts_and_reports_posted_failures() {
    require_testbed!();
    let tb = start(with_accel(AccelChoice::Auto));
    let m = tb.machine();
    let r = virtio::regions(m).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..100 {
                    // cf8/cfc pairs from four threads: an interleaving would return another
                    // register's value.
                    assert_eq!(m.pci_read16(reg::VENDOR_ID).unwrap(), 0x1AF4);
                    assert_eq!(m.pci_read16(reg::DEVICE_ID).unwrap(), 0x1041);
                    if i % 4 == t {
                        // Posted writes of the same value to a harmless register.
                        m.mmio_post16(r.common + common::QUEUE_SELECT, 1).unwrap();
                    }
                }
            });
        }
    });
    m.qtest().post("no_such_command 1").unwrap();
    m.flush_posted().unwrap();
    let st = m.qtest().stats();
    assert_eq!(st.sent, st.replies);
    assert_eq!(st.posted_failures, 1, "{st:?}");
    let f = m.qtest().take_posted_failures();
    assert!(f[0].starts_with("FAIL"), "{f:?}");
    assert_eq!(m.mmio_read16(r.common + common::QUEUE_SELECT).unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// namespaces, processes, offload helpers

#[test]
fn namespaces_get_the_configured_sysctls_and_commands_run_inside_them() {
    require_testbed!();
    let tb = start(TestbedConfig {
        tcp_timestamps: true,
        peer: true,
        ..TestbedConfig::default()
    });
    let host = tb.host_ns();
    assert_eq!(host.sysctl_get("net.ipv4.tcp_timestamps").unwrap(), "1");
    assert_eq!(
        host.sysctl_get("net.ipv6.conf.all.disable_ipv6").unwrap(),
        "1"
    );
    assert_eq!(host.sysctl_get("net.ipv4.ip_forward").unwrap(), "1");
    let guest = tb.guest_ns().unwrap();
    assert_eq!(guest.sysctl_get("net.ipv4.tcp_timestamps").unwrap(), "1");
    // Cross-check through iproute2's own namespace entry, independent of our setns code.
    let via_ip = Command::new("ip")
        .args([
            "netns",
            "exec",
            host.name(),
            "cat",
            "/proc/sys/net/ipv6/conf/all/disable_ipv6",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&via_ip.stdout).trim(), "1");
    // Default config: timestamps off, in the namespaces only.
    let tb2 = start(TestbedConfig {
        guest: None,
        ..TestbedConfig::default()
    });
    let via_ip = Command::new("ip")
        .args([
            "netns",
            "exec",
            tb2.host_ns().name(),
            "cat",
            "/proc/sys/net/ipv4/tcp_timestamps",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&via_ip.stdout).trim(), "0");
    drop(tb2);
    // A command inside sees the namespace's interfaces, not the root's.
    let out = host.run_ok("ip", &["-o", "link"]).unwrap();
    assert!(out.contains(tb.host_tap()), "{out}");
    assert!(!out.contains(tb.guest_tap().unwrap().name()), "{out}");
    // A long-running child lives in the namespace and dies by PID.
    let mut child = host
        .spawn(testbed::process::command("sleep", &["60"]))
        .unwrap();
    let pid = child.pid();
    let ns_of = |p: &str| {
        std::fs::metadata(p)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap()
    };
    assert_eq!(
        ns_of(&format!("/proc/{pid}/ns/net")),
        ns_of(&host.path().to_string_lossy())
    );
    child.kill().unwrap();
    assert!(!testbed::process::pid_exists(pid));
    // Peer reachable from the host namespace through the veth.
    let peer_ip = tb.peer_ip().unwrap().to_string();
    let out = host
        .run_ok("ping", &["-c", "1", "-W", "2", &peer_ip])
        .unwrap();
    assert!(out.contains("1 received"), "{out}");
}

#[test]
fn host_tap_offloads_follow_negotiation_then_ethtool() {
    require_testbed!();
    if let Err(e) = &testbed::probe().ethtool {
        assert!(!testbed::probe::in_ci(), "ethtool missing under CI: {e}");
        eprintln!("SKIP: {e}");
        return;
    }
    let tb = start(TestbedConfig {
        guest: None,
        ..TestbedConfig::default()
    });
    let get = |name: &str| {
        tb.host_ns()
            .ethtool_features(tb.host_tap())
            .unwrap()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, on)| on)
    };
    // Before negotiation QEMU has not offered the TAP any offload (TUNSETOFFLOAD 0).
    assert_eq!(get("tcp-segmentation-offload"), Some(false));
    // Negotiating GUEST_CSUM + GUEST_TSO4 makes QEMU enable them on the TAP (pitfall 5:
    // this is why host-side offloads must be changed only after negotiation).
    let m = tb.machine();
    let r = virtio_negotiate(m, 1 << feature::VERSION_1 | 1 << 1 | 1 << 7);
    driver_ok(m, &r);
    assert_eq!(get("tcp-segmentation-offload"), Some(true));
    assert_eq!(get("tx-checksumming"), Some(true));
    tb.set_host_tap_offloads(&[("tso", false)]).unwrap();
    assert_eq!(get("tcp-segmentation-offload"), Some(false));
    tb.set_host_tap_offloads(&[("tso", true)]).unwrap();
    assert_eq!(get("tcp-segmentation-offload"), Some(true));
}

// ---------------------------------------------------------------------------------------------
// guest-side TAP

const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x09];

fn guest_socket(tb: &Testbed, port: u16) -> UdpSocket {
    let ip = tb.guest_ip().unwrap();
    let s = tb
        .guest_ns()
        .unwrap()
        .run_in(move || UdpSocket::bind((ip, port)))
        .unwrap()
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// `Udp: InCsumErrors` of the guest namespace.
fn udp_in_csum_errors(tb: &Testbed) -> u64 {
    let text = tb
        .guest_ns()
        .unwrap()
        .run_in(|| std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap())
        .unwrap();
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next().unwrap().split_whitespace().collect();
    let vals: Vec<&str> = udp.next().unwrap().split_whitespace().collect();
    let i = names.iter().position(|n| *n == "InCsumErrors").unwrap();
    vals[i].parse().unwrap()
}

/// Next UDP frame to `dport` read from the guest TAP (skipping anything else).
fn next_udp(tap: &testbed::GuestTap, dport: u16) -> Option<testbed::TapFrame> {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let f = tap.recv_timeout(Duration::from_millis(200)).unwrap()?;
        let d = &f.data;
        if d.len() >= 42 && d[12..14] == [8, 0] && d[23] == 17 && d[36..38] == dport.to_be_bytes() {
            return Some(f);
        }
    }
    None
}

#[test]
fn guest_tap_passes_frames_both_ways_with_vnet_header() {
    require_testbed!();
    let tb = start(TestbedConfig::default());
    let tap = tb.guest_tap().unwrap();
    assert_eq!(tap.vnet_hdr_size().unwrap(), 12);
    let gip = tb.guest_ip().unwrap();
    let dev_mac = MachineConfig::default().mac;
    let peer: Ipv4Addr = "10.77.0.9".parse().unwrap();
    let sock = guest_socket(&tb, 5555);
    let mut buf = [0u8; 2048];

    // Into the guest stack: the vnet header decides how the checksum is treated.
    let send = |payload: &[u8], csum: Option<u16>, hdr: VnetHdr| {
        let f = udp_frame(
            (dev_mac, PEER_MAC),
            SocketAddrV4::new(peer, 4444),
            SocketAddrV4::new(gip, 5555),
            payload,
            csum,
        );
        tap.send(&hdr, &f).unwrap();
    };
    send(b"full-csum", None, VnetHdr::default());
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"full-csum");
    assert_eq!(from.to_string(), "10.77.0.9:4444");

    // A corrupt checksum without flags is dropped and counted by the guest stack.
    let errs0 = udp_in_csum_errors(&tb);
    send(b"bad-csum", Some(0x1234), VnetHdr::default());
    send(
        b"bad-but-data-valid",
        Some(0x1234),
        VnetHdr {
            flags: hdr_flags::DATA_VALID,
            ..VnetHdr::default()
        },
    );
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let errs = udp_in_csum_errors(&tb) - errs0;
    eprintln!("DATA_VALID on a TAP write: delivered {got:?}, InCsumErrors +{errs}");
    assert!(
        !got.contains(&"bad-csum".to_string()),
        "corrupt datagram delivered"
    );
    assert!(errs >= 1, "corrupt datagram not counted");

    // Partial checksum: the field holds the pseudo-header sum, NEEDS_CSUM says where.
    let ulen = 8 + b"partial".len() as u16;
    let partial = ones_sum(&[], pseudo_sum(peer, gip, 17, ulen));
    send(
        b"partial",
        Some(partial),
        VnetHdr {
            flags: hdr_flags::NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..VnetHdr::default()
        },
    );
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"partial");

    // Out of the guest stack: with TUN_F_CSUM the kernel leaves the checksum to us.
    tb.guest_ns()
        .unwrap()
        .ip(&[
            "neigh",
            "add",
            "10.77.0.9",
            "lladdr",
            "02:00:00:00:00:09",
            "dev",
            tap.name(),
        ])
        .unwrap();
    sock.send_to(b"outbound-1", (peer, 4444)).unwrap();
    let f = next_udp(tap, 4444).expect("frame from the guest stack");
    assert_eq!(f.hdr.flags, hdr_flags::NEEDS_CSUM, "{:?}", f.hdr);
    assert_eq!((f.hdr.csum_start, f.hdr.csum_offset), (34, 6));
    assert_eq!(&f.data[0..6], &PEER_MAC);
    assert_eq!(&f.data[6..12], &dev_mac, "guest TAP uses the device MAC");
    assert_eq!(&f.data[42..], b"outbound-1");

    // Without offloads the kernel completes the checksum itself.
    tap.set_offloads(0).unwrap();
    sock.send_to(b"outbound-2", (peer, 4444)).unwrap();
    let f = next_udp(tap, 4444).expect("frame from the guest stack");
    assert_eq!(f.hdr, VnetHdr::default());
    let udp = &f.data[34..];
    assert_eq!(
        !ones_sum(udp, pseudo_sum(gip, peer, 17, udp.len() as u16)),
        0,
        "complete UDP checksum verifies"
    );
    assert_eq!(&f.data[42..], b"outbound-2");
}

#[test]
fn guest_tap_with_uso4_and_uso6_hands_out_one_udp_l4_gso_frame() {
    require_testbed!();
    let tb = start(TestbedConfig::default());
    let tap = tb.guest_tap().unwrap();
    tb.guest_ns()
        .unwrap()
        .ip(&[
            "neigh",
            "add",
            "10.77.0.9",
            "lladdr",
            "02:00:00:00:00:09",
            "dev",
            tap.name(),
        ])
        .unwrap();
    let sock = guest_socket(&tb, 5556);
    let seg: libc::c_int = 1000;
    // SAFETY: setsockopt(SOL_UDP, UDP_SEGMENT) with a pointer to a live c_int.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&seg as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "UDP_SEGMENT: {}", std::io::Error::last_os_error());
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();

    tap.set_offloads(offload::CSUM | offload::USO4 | offload::USO6)
        .unwrap();
    sock.send_to(&payload, ("10.77.0.9", 4444)).unwrap();
    let f = next_udp(tap, 4444).expect("USO frame");
    assert_eq!(f.hdr.gso_type, gso::UDP_L4, "{:?}", f.hdr);
    assert_eq!(f.hdr.gso_size, 1000);
    assert_eq!(f.hdr.flags, hdr_flags::NEEDS_CSUM);
    assert_eq!(f.data.len(), 42 + 3000);
    assert_eq!(&f.data[42..], &payload[..]);

    // Without USO the kernel segments in software: three datagrams of 1000 bytes.
    tap.set_offloads(offload::CSUM).unwrap();
    sock.send_to(&payload, ("10.77.0.9", 4444)).unwrap();
    for k in 0..3 {
        let f = next_udp(tap, 4444).expect("segment");
        assert_eq!(f.hdr.gso_type, gso::NONE);
        assert_eq!(&f.data[42..], &payload[k * 1000..(k + 1) * 1000]);
    }
}

#[test]
fn multi_queue_device_gets_a_multiqueue_tap_and_2n_plus_2_vectors() {
    require_testbed!();
    let tb = start(TestbedConfig {
        machine: MachineConfig {
            queue_pairs: 4,
            ..MachineConfig::default()
        },
        guest: None,
        ..TestbedConfig::default()
    });
    let m = tb.machine();
    assert_eq!(m.msix_vectors(), 10, "vectors = 2 * 4 + 2");
    let r = virtio::regions(m).unwrap();
    let f = virtio::device_features(m, &r).unwrap();
    assert_ne!(f & (1 << 22), 0, "VIRTIO_NET_F_MQ offered");
    // max_virtqueue_pairs in the device config (offset 8).
    assert_eq!(m.mmio_read16(r.device + 8).unwrap(), 4);
    // QEMU sizes num_queues to one pair + control until MQ is negotiated (a driver must read
    // it after FEATURES_OK).
    assert_eq!(m.mmio_read16(r.common + common::NUM_QUEUES).unwrap(), 3);
    virtio_negotiate(m, 1 << feature::VERSION_1 | 1 << 17 | 1 << 22);
    assert_eq!(m.mmio_read16(r.common + common::NUM_QUEUES).unwrap(), 9);
    let link = tb
        .host_ns()
        .run_ok("ip", &["-d", "link", "show", tb.host_tap()])
        .unwrap();
    assert!(link.contains("multi_queue"), "{link}");
}

#[test]
fn masked_vector_is_held_pending_and_delivered_on_unmask() {
    require_testbed!();
    let tb = start(with_accel(AccelChoice::Auto));
    let m = tb.machine();
    let r = virtio_negotiate(m, 1 << feature::VERSION_1 | 1 << feature::STATUS);
    m.mmio_write16(r.common + common::MSIX_CONFIG, 1).unwrap();
    driver_ok(m, &r);
    m.clear_interrupts();
    m.set_vector_masked(1, true).unwrap();
    m.set_link(false).unwrap();
    // The link change is visible at once; the message is held while masked.
    assert_eq!(m.mmio_read16(r.device + 6).unwrap() & 1, 0);
    assert!(
        !m.wait_interrupt(1, Duration::from_millis(200)),
        "masked vector fired"
    );
    let pba = m.bar(m.msix().pba_bar).unwrap().base + u64::from(m.msix().pba_offset);
    assert_eq!(
        m.mmio_read32(pba).unwrap() & 0b10,
        0b10,
        "pending bit of vector 1"
    );
    m.set_vector_masked(1, false).unwrap();
    assert!(
        m.wait_interrupt(1, Duration::from_secs(5)),
        "delivered on unmask"
    );
    assert_eq!(m.mmio_read32(pba).unwrap() & 0b10, 0, "pending bit cleared");
    assert!(m.set_vector_masked(m.msix_vectors(), true).is_err());
}

#[test]
fn a_qemu_that_refuses_to_start_reports_why_and_leaves_nothing() {
    require_testbed!();
    let out = run_child(
        "child_start_with_bad_device_property",
        &[("NTB_CHILD", "badprop")],
    );
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("CHILD-CHECKED"),
        "child did not run its checks:\n{text}"
    );
}

#[test]
#[ignore = "helper: run in its own process by a_qemu_that_refuses_to_start_reports_why_and_leaves_nothing"]
fn child_start_with_bad_device_property() {
    if std::env::var("NTB_CHILD").as_deref() != Ok("badprop") {
        return;
    }
    let err = Testbed::start(TestbedConfig {
        peer: true,
        ..TestbedConfig::default().prop("no_such_prop", "1")
    })
    .expect_err("QEMU must refuse an unknown property");
    let msg = err.to_string();
    assert!(
        msg.contains("no_such_prop"),
        "QEMU's complaint is in the error: {msg}"
    );
    // Everything this process created is gone again (it owns all ntb<pid>_ names).
    let prefix = format!("ntb{:x}_", std::process::id());
    let ns: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(ns.is_empty(), "namespaces left: {ns:?}");
    let dirs: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(dirs.is_empty(), "run dirs left: {dirs:?}");
    assert!(processes_mentioning(&prefix).is_empty(), "processes left");
    println!("CHILD-CHECKED");
}
