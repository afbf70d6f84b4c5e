//! The host-side scripts in hck/qemu: syntax, shellcheck, the QEMU command lines they build,
//! and a real bridge/TAP/QEMU run inside a private network namespace.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hck_check::kit_dir;

fn qemu_dir() -> PathBuf {
    kit_dir().join("qemu")
}

fn scripts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(qemu_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    v.sort();
    v
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skips (with a printed reason) outside CI; fails under CI, where everything must run.
fn skip_or_fail(test: &str, reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {reason} (CI must provide it: cargo xtask installs the prerequisites)");
    }
    eprintln!("SKIP {test}: {reason}");
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn qemu_scripts_exist_and_pass_bash_n() {
    let s = scripts();
    for name in [
        "common.sh",
        "net-up.sh",
        "net-down.sh",
        "check-tap.sh",
        "check-host.sh",
        "start-guest.sh",
    ] {
        assert!(
            s.iter().any(|p| p.ends_with(name)),
            "hck/qemu/{name} missing"
        );
    }
    for p in &s {
        let o = run(Command::new("bash").arg("-n").arg(p));
        assert!(o.status.success(), "{}: {}", p.display(), text(&o));
        let body = std::fs::read_to_string(p).unwrap();
        if !p.ends_with("common.sh") {
            assert!(
                body.contains("set -euo pipefail"),
                "{}: no set -euo pipefail",
                p.display()
            );
        }
    }
}

#[test]
fn qemu_scripts_are_shellcheck_clean() {
    if !on_path("shellcheck") {
        skip_or_fail(
            "qemu_scripts_are_shellcheck_clean",
            "shellcheck not installed (Debian package shellcheck)",
        );
        return;
    }
    let o = run(Command::new("shellcheck")
        .arg("-x")
        .args(scripts())
        .current_dir(qemu_dir()));
    assert!(o.status.success(), "{}", text(&o));
}

/// `start-guest.sh --dry-run ARGS` -> (exit code, argv lines, output).
fn dry_run(args: &[&str]) -> (i32, Vec<String>, String) {
    let o = run(Command::new(qemu_dir().join("start-guest.sh"))
        .arg("--dry-run")
        .args(args));
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (o.status.code().unwrap_or(-1), lines, text(&o))
}

fn arg_after<'a>(argv: &'a [String], flag: &str, starts: &str) -> &'a str {
    argv.windows(2)
        .find(|w| w[0] == flag && w[1].starts_with(starts))
        .map(|w| w[1].as_str())
        .unwrap_or_else(|| panic!("no `{flag} {starts}...` in {argv:?}"))
}

#[test]
fn start_guest_normal_run_uses_vhost_and_no_rsc_ext() {
    let (code, argv, out) = dry_run(&["win.qcow2"]);
    assert_eq!(code, 0, "{out}");
    let dev = arg_after(&argv, "-device", "virtio-net-pci");
    let net = arg_after(&argv, "-netdev", "tap,");
    assert!(
        net.contains("vhost=on") && net.contains("ifname=hcktap0"),
        "{net}"
    );
    assert!(
        net.contains("script=no") && net.contains("downscript=no"),
        "{net}"
    );
    assert!(
        !dev.contains("guest_rsc_ext") && !dev.contains("rsc_interval"),
        "{dev}"
    );
    assert!(dev.contains("netdev=hcknet0"), "{dev}");
    assert!(
        argv.iter().any(|a| a.starts_with("file=win.qcow2")),
        "{argv:?}"
    );

    let (_, argv, _) = dry_run(&["--vhost", "off", "--tap", "tapx", "win.qcow2"]);
    let net = arg_after(&argv, "-netdev", "tap,");
    assert!(
        net.contains("vhost=off") && net.contains("ifname=tapx"),
        "{net}"
    );
}

#[test]
fn start_guest_rsc_test_run_adds_rsc_ext_and_forces_vhost_off() {
    let (code, argv, out) = dry_run(&["--rsc-test", "win.qcow2"]);
    assert_eq!(code, 0, "{out}");
    let dev = arg_after(&argv, "-device", "virtio-net-pci");
    assert!(
        dev.contains(",guest_rsc_ext=on,rsc_interval=1000000"),
        "{dev}"
    );
    assert!(arg_after(&argv, "-netdev", "tap,").contains("vhost=off"));

    let (code, _, out) = dry_run(&["--rsc-test", "--vhost", "on", "win.qcow2"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("vhost-net bypasses"), "{out}");
}

#[test]
fn start_guest_multiqueue_and_usage_errors() {
    let (code, argv, out) = dry_run(&["--queues", "4", "w.qcow2"]);
    assert_eq!(code, 0, "{out}");
    assert!(arg_after(&argv, "-netdev", "tap,").contains("queues=4"));
    assert!(arg_after(&argv, "-device", "virtio-net-pci").contains("mq=on,vectors=10"));
    for bad in [
        &[][..],
        &["--queues", "0", "w.qcow2"][..],
        &["--vhost", "maybe", "w.qcow2"][..],
        &["--mac", "52:54:00:12:34", "w.qcow2"][..],
        &["--tap", "a-name-longer-than-15", "w.qcow2"][..],
        &["a.qcow2", "b.qcow2"][..],
        &["--bogus", "w.qcow2"][..],
    ] {
        let (code, _, out) = dry_run(bad);
        assert_eq!(code, 2, "{bad:?}: {out}");
        assert!(out.contains("error:"), "{bad:?}: {out}");
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn qmp_command(
    stream: &mut UnixStream,
    reader: &mut BufReader<UnixStream>,
    cmd: &str,
) -> serde_json::Value {
    stream.write_all(cmd.as_bytes()).unwrap();
    stream.write_all(b"\n").unwrap();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "QMP closed");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v.get("event").is_some() {
            continue;
        }
        return v;
    }
}

fn in_ns(ns: &str, program: &Path, args: &[&str]) -> Output {
    run(Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args))
}

#[test]
fn qemu_scripts_in_a_network_namespace_with_real_qemu() {
    const TEST: &str = "qemu_scripts_in_a_network_namespace_with_real_qemu";
    let uid = run(Command::new("id").arg("-u"));
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return skip_or_fail(TEST, "needs root");
    }
    if !Path::new("/dev/net/tun").exists() {
        return skip_or_fail(TEST, "no /dev/net/tun");
    }
    for tool in ["ip", "ethtool", "qemu-system-x86_64"] {
        if !on_path(tool) {
            return skip_or_fail(TEST, &format!("{tool} not installed"));
        }
    }
    let name = format!("hckc{}", std::process::id());
    let ns = testbed::NetNs::create(&name).unwrap();
    let q = qemu_dir();

    // net-up: bridge + vnet_hdr TAP with the requested MTU.
    let o = in_ns(
        &name,
        &q.join("net-up.sh"),
        &[
            "--bridge",
            "hbr",
            "--tap",
            "htap",
            "--mtu",
            "9000",
            "--addr",
            "10.99.0.1/24",
        ],
    );
    assert!(o.status.success(), "net-up: {}", text(&o));
    let link = String::from_utf8_lossy(
        &run(Command::new("ip").args(["-n", &name, "-o", "link", "show", "htap"])).stdout,
    )
    .into_owned();
    assert!(
        link.contains("master hbr") && link.contains("mtu 9000"),
        "{link}"
    );
    let addr = String::from_utf8_lossy(
        &run(Command::new("ip").args(["-n", &name, "-o", "addr", "show", "hbr"])).stdout,
    )
    .into_owned();
    assert!(addr.contains("10.99.0.1/24"), "{addr}");
    let again = in_ns(
        &name,
        &q.join("net-up.sh"),
        &["--bridge", "hbr", "--tap", "htap"],
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "second net-up on the same TAP: {}",
        text(&again)
    );

    // Before any guest negotiated offloads, check-tap must fail and say why.
    let o = in_ns(&name, &q.join("check-tap.sh"), &["htap"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("tx-checksumming is off"), "{}", text(&o));

    // The RSC-test device line from start-guest.sh, run by the real QEMU on that TAP.
    let (code, argv, out) = dry_run(&["--rsc-test", "--tap", "htap", "unused.qcow2"]);
    assert_eq!(code, 0, "{out}");
    let netdev = arg_after(&argv, "-netdev", "tap,").to_string();
    let device = arg_after(&argv, "-device", "virtio-net-pci").to_string();
    let sock = std::env::temp_dir().join(format!("{name}.qmp"));
    let _ = std::fs::remove_file(&sock);
    let child = Command::new("ip")
        .args(["netns", "exec", &name, "qemu-system-x86_64"])
        .args([
            "-machine",
            "q35,accel=tcg",
            "-m",
            "128",
            "-nodefaults",
            "-display",
            "none",
            "-S",
        ])
        .args(["-netdev", &netdev, "-device", &device])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut qemu = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            break s;
        }
        if let Ok(Some(status)) = qemu.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = qemu.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("QEMU rejected the start-guest.sh device line ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "no QMP socket");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.contains("QMP"), "{greeting}");
    qmp_command(
        &mut stream,
        &mut reader,
        r#"{"execute":"qmp_capabilities"}"#,
    );
    let get = |s: &mut UnixStream, r: &mut BufReader<UnixStream>, prop: &str| {
        qmp_command(s, r, &format!(r#"{{"execute":"qom-get","arguments":{{"path":"/machine/peripheral/hcknic0","property":"{prop}"}}}}"#))["return"].clone()
    };
    assert_eq!(
        get(&mut stream, &mut reader, "guest_rsc_ext"),
        serde_json::json!(true)
    );
    assert_eq!(
        get(&mut stream, &mut reader, "rsc_interval"),
        serde_json::json!(1_000_000)
    );
    assert_eq!(
        get(&mut stream, &mut reader, "rx_queue_size"),
        serde_json::json!(1024)
    );
    let _ = qmp_command(&mut stream, &mut reader, r#"{"execute":"quit"}"#);
    let _ = qemu.0.wait();
    drop(qemu);
    let _ = std::fs::remove_file(&sock);

    // What QEMU does when the guest negotiates GUEST_CSUM/GUEST_TSO4/GUEST_TSO6: TUNSETOFFLOAD
    // on the TAP. Done here through a vnet_hdr handle; check-tap must now pass.
    let cfg = testbed::GuestTapConfig {
        ipv4: String::new(),
        mac: None,
        mtu: 9000,
        offloads: testbed::tap::offload::CSUM
            | testbed::tap::offload::TSO4
            | testbed::tap::offload::TSO6,
    };
    let tap = testbed::GuestTap::open(&ns, "htap", &cfg).unwrap();
    // Checksum alone is not enough: RSC needs TSO frames from the host.
    tap.set_offloads(testbed::tap::offload::CSUM).unwrap();
    let o = in_ns(&name, &q.join("check-tap.sh"), &["htap"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("tcp-segmentation-offload is off"),
        "{}",
        text(&o)
    );
    tap.set_offloads(cfg.offloads).unwrap();
    let o = in_ns(&name, &q.join("check-tap.sh"), &["htap", "--wait", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("tx-checksumming: on") && t.contains("tcp-segmentation-offload: on"),
        "{t}"
    );
    drop(tap);

    // net-down removes the TAP, then the bridge once it has no port left.
    let o = in_ns(
        &name,
        &q.join("net-down.sh"),
        &["--tap", "htap", "--bridge", "hbr"],
    );
    assert!(o.status.success(), "{}", text(&o));
    for dev in ["htap", "hbr"] {
        let o = run(Command::new("ip").args(["-n", &name, "link", "show", dev]));
        assert!(!o.status.success(), "{dev} still exists after net-down");
    }
    drop(ns);
}
