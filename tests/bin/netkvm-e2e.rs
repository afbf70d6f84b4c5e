//! `netkvm-e2e demo|bench|admin` — the end-to-end bench as a program (run by `cargo xtask demo`
//! and `cargo xtask bench e2e`; root and QEMU ≥ 10 needed).
//!
//! * `demo [--secs N]` — what a Windows admin would see for the running driver (Get-NetAdapter*
//!   tables from its OID answers and registry), then the reference measurements: RSC and LSO on
//!   vs off, the USO reference table and the UDP_SEGMENT sender. Exit status 1 if anything
//!   failed (a run, a checksum lie, a contract violation, a leak).
//! * `bench [--secs N] [--only SUBSTR]` — every figure of issue 7 §6 as `BENCH`/`RATIO` lines.
//! * `admin` — only the tables.

use std::process::ExitCode;

use netkvm_e2e::admin::AdminView;
use netkvm_e2e::bench::{self, lines, ratio, ratio_line, Measure, Way};
use netkvm_e2e::harness::Res;
use netkvm_e2e::{E2e, Opts};

struct Args {
    cmd: String,
    secs: u32,
    only: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_else(|| "demo".into());
    let mut a = Args {
        secs: if cmd == "bench" { 5 } else { 3 },
        cmd,
        only: None,
    };
    while let Some(x) = it.next() {
        match x.as_str() {
            "--secs" => {
                a.secs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--secs needs a number")?
            }
            "--only" => a.only = Some(it.next().ok_or("--only needs a name")?),
            "--" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "netkvm-e2e: {e}\nusage: netkvm-e2e demo|bench|admin [--secs N] [--only NAME]"
            );
            return ExitCode::from(2);
        }
    };
    if let Err(e) = testbed::probe().required() {
        eprintln!("netkvm-e2e: this machine cannot run the bench: {e}");
        return ExitCode::FAILURE;
    }
    let r = match a.cmd.as_str() {
        "demo" => demo(&a),
        "bench" => bench_all(&a),
        "admin" => admin(),
        other => Err(vec![format!("unknown command {other}")]),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(problems) => {
            eprintln!("\nnetkvm-e2e: FAILED");
            for p in problems {
                eprintln!("  - {p}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Collects problems instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check<T>(&mut self, what: &str, r: Res<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("!! {what}: {e}");
                self.0.push(format!("{what}: {e}"));
                None
            }
        }
    }
    fn finish(&mut self, what: &str, e: E2e) {
        match e.finish() {
            Ok(f) => {
                for (w, n) in &f.warnings {
                    println!("# {what}: NDIS warning ×{n}: {w}");
                }
                self.0
                    .extend(f.problems.into_iter().map(|p| format!("{what}: {p}")))
            }
            Err(x) => self.0.push(format!("{what}: {x}")),
        }
    }
    fn result(self) -> Result<(), Vec<String>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn header(t: &str) {
    println!("\n=== {t} ===");
}

fn start(p: &mut Problems, what: &str, o: Opts) -> Option<E2e> {
    let e = p.check(what, E2e::start(o))?;
    bench::settle();
    Some(e)
}

fn print_admin(e: &E2e) -> Res<()> {
    let v = AdminView::collect(e)?;
    println!("PS> Get-NetAdapterRsc\n{}", v.rsc_table());
    println!("PS> Get-NetAdapterUso\n{}", v.uso_table());
    println!("PS> Get-NetAdapterLso\n{}", v.lso_table());
    println!("PS> Get-NetAdapterChecksumOffload\n{}", v.checksum_table());
    println!(
        "PS> Get-NetAdapterAdvancedProperty\n{}",
        v.advanced_properties_table()
    );
    Ok(())
}

fn describe_bench(e: &E2e) {
    let m = e.tb().machine();
    println!(
        "QEMU virtio-net-pci ({}), driver netkvmrs in ndis-emu; negotiated: {}",
        m.accel().as_str(),
        e.negotiated_features()
            .unwrap_or_default()
            .iter()
            .map(|f| f
                .trim_start_matches("VIRTIO_NET_F_")
                .trim_start_matches("VIRTIO_"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

fn admin() -> Result<(), Vec<String>> {
    let mut p = Problems::default();
    if let Some(e) = start(&mut p, "bench", Opts::default()) {
        describe_bench(&e);
        p.check("admin tables", print_admin(&e));
        p.finish("bench", e);
    }
    p.result()
}

/// A row of the on/off table.
struct Row {
    what: String,
    on: Option<Measure>,
    off: Option<Measure>,
    unit_note: &'static str,
}

fn print_rows(title: &str, on: &str, off: &str, rows: &[Row]) {
    let data: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let g = |m: &Option<Measure>| {
                m.as_ref().map_or("failed".into(), |m| match m.loss {
                    Some(l) => format!("{:.2} ({:.0}% lost)", m.gbps, l * 100.0),
                    None => format!("{:.2}", m.gbps),
                })
            };
            vec![
                r.what.clone(),
                g(&r.on),
                g(&r.off),
                match (&r.on, &r.off) {
                    (Some(a), Some(b)) => format!("{:.2}x", ratio(a.gbps, b.gbps)),
                    _ => "-".into(),
                },
                r.unit_note.to_string(),
            ]
        })
        .collect();
    println!(
        "{title}\n{}",
        netkvm_e2e::admin::table(&["Test", on, off, "Ratio", "Notes"], &data)
    );
    for r in rows {
        for (k, m) in [("on", &r.on), ("off", &r.off)] {
            if let Some(m) = m {
                println!("  {} ({k}): cpu {}; {}", r.what, m.cpu.describe(), m.note);
            }
        }
    }
}

fn demo(a: &Args) -> Result<(), Vec<String>> {
    let mut p = Problems::default();
    let secs = a.secs;
    header("netkvm-rs on a real QEMU virtio-net-pci: what Windows would show");
    let Some(e) = start(&mut p, "bench", Opts::default()) else {
        return p.result();
    };
    describe_bench(&e);
    p.check("admin tables", print_admin(&e));

    header("RSC: TCP host → guest (iperf3), RSC on vs off");
    let on = p.check("RSC on", bench::tcp(&e, Way::HostToGuest, secs, 5401));
    let stats = netkvm_e2e::admin::AdminView::collect(&e).map(|v| v.rsc_statistics_table());
    p.check(
        "RSC off",
        e.set_keywords(&[("*RscIPv4", "0"), ("*RscIPv6", "0")]),
    );
    bench::settle();
    let off = p.check("RSC off run", bench::tcp(&e, Way::HostToGuest, secs, 5402));
    p.check(
        "RSC back on",
        e.set_keywords(&[("*RscIPv4", "1"), ("*RscIPv6", "1")]),
    );
    print_rows(
        "",
        "RSC on Gbit/s",
        "RSC off Gbit/s",
        &[Row {
            what: "TCP host->guest".into(),
            on,
            off,
            unit_note: "iperf3, host GRO super-frames",
        }],
    );
    if let Some(s) = p.check("RSC statistics", stats) {
        println!("PS> Get-NetAdapterStatistics | Select -Expand RscStatistics (after the RSC-on run)\n{s}");
    }

    header("LSO: TCP guest → host (iperf3), LSO on vs off");
    bench::settle();
    let on = p.check("LSO on", bench::tcp(&e, Way::GuestToHost, secs, 5403));
    p.check(
        "LSO off",
        e.set_keywords(&[
            ("*LsoV2IPv4", "0"),
            ("*LsoV1IPv4", "0"),
            ("*LsoV2IPv6", "0"),
        ]),
    );
    bench::settle();
    let off = p.check("LSO off run", bench::tcp(&e, Way::GuestToHost, secs, 5404));
    p.check(
        "LSO back on",
        e.set_keywords(&[
            ("*LsoV2IPv4", "1"),
            ("*LsoV1IPv4", "1"),
            ("*LsoV2IPv6", "1"),
        ]),
    );
    print_rows(
        "",
        "LSO on Gbit/s",
        "LSO off Gbit/s",
        &[Row {
            what: "TCP guest->host".into(),
            on,
            off,
            unit_note: "iperf3",
        }],
    );

    header("USO: UDP guest → host, USO on vs off (the USO reference measurement)");
    bench::settle();
    let mut rows = Vec::new();
    let gso_on = p.check(
        "GSO sender, USO on",
        bench::udp_gso(&e, 1472, 44, secs, 5405),
    );
    let i1472_on = p.check(
        "iperf3 1472, USO on",
        bench::udp_iperf(&e, 1472, secs, 5406),
    );
    let i65507_on = p.check(
        "iperf3 65507, USO on",
        bench::udp_iperf(&e, 65507, secs, 5407),
    );
    p.check(
        "USO off",
        e.set_keywords(&[("*UsoIPv4", "0"), ("*UsoIPv6", "0")]),
    );
    bench::settle();
    let gso_off = p.check(
        "GSO sender, USO off",
        bench::udp_gso(&e, 1472, 44, secs, 5408),
    );
    let i1472_off = p.check(
        "iperf3 1472, USO off",
        bench::udp_iperf(&e, 1472, secs, 5409),
    );
    let i65507_off = p.check(
        "iperf3 65507, USO off",
        bench::udp_iperf(&e, 65507, secs, 5410),
    );
    p.finish("bench", e);
    rows.push(Row {
        what: "UDP_SEGMENT sender 44 x 1472 B".into(),
        on: gso_on,
        off: gso_off,
        unit_note: "setsockopt(UDP_SEGMENT)",
    });
    rows.push(Row {
        what: "iperf3 -u -l 1472 (MTU 1500)".into(),
        on: i1472_on,
        off: i1472_off,
        unit_note: "iperf3 -b 0: goodput under overload",
    });
    rows.push(Row {
        what: "iperf3 -u -l 65507 (MTU 1500)".into(),
        on: i65507_on,
        off: i65507_off,
        unit_note: "IP fragments",
    });
    if let Some(e9) = start(&mut p, "bench at MTU 9000", Opts::default().mtu(9000)) {
        let on = p.check(
            "iperf3 8972, USO on",
            bench::udp_iperf(&e9, 8972, secs, 5411),
        );
        p.check(
            "USO off",
            e9.set_keywords(&[("*UsoIPv4", "0"), ("*UsoIPv6", "0")]),
        );
        bench::settle();
        let off = p.check(
            "iperf3 8972, USO off",
            bench::udp_iperf(&e9, 8972, secs, 5412),
        );
        p.finish("bench at MTU 9000", e9);
        rows.push(Row {
            what: "iperf3 -u -l 8972 (MTU 9000)".into(),
            on,
            off,
            unit_note: "jumbo frames",
        });
    }
    print_rows("", "USO on Gbit/s", "USO off Gbit/s", &rows);
    p.result()
}

fn wanted(a: &Args, name: &str) -> bool {
    a.only.as_deref().is_none_or(|o| name.contains(o))
}

fn emit(v: &[String]) {
    for l in v {
        println!("{l}");
    }
}

const RSC_OFF: &[(&str, &str)] = &[("*RscIPv4", "0"), ("*RscIPv6", "0")];
const RSC_ON: &[(&str, &str)] = &[("*RscIPv4", "1"), ("*RscIPv6", "1")];
const LSO_OFF: &[(&str, &str)] = &[
    ("*LsoV2IPv4", "0"),
    ("*LsoV1IPv4", "0"),
    ("*LsoV2IPv6", "0"),
];
const LSO_ON: &[(&str, &str)] = &[
    ("*LsoV2IPv4", "1"),
    ("*LsoV1IPv4", "1"),
    ("*LsoV2IPv6", "1"),
];
const USO_OFF: &[(&str, &str)] = &[("*UsoIPv4", "0"), ("*UsoIPv6", "0")];
const USO_ON: &[(&str, &str)] = &[("*UsoIPv4", "1"), ("*UsoIPv6", "1")];

type Run = dyn Fn(&E2e, u16) -> Res<Measure>;

/// The run with the median throughput (its CPU figures come with it).
fn median(mut v: Vec<Measure>) -> Option<Measure> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.gbps.total_cmp(&b.gbps));
    let m = v.len() / 2;
    Some(v.swap_remove(m))
}

/// One figure: the driver with the offload on and off and (if given) the pass-through ceiling,
/// measured in `rounds` interleaved rounds (on, off, ceiling, on, off, ceiling …) so that the
/// noise of a shared machine hits all three alike; the medians are reported.
#[allow(clippy::too_many_arguments)]
fn figure(
    p: &mut Problems,
    name: &str,
    drv: &E2e,
    ceil: Option<&E2e>,
    off_kw: &[(&str, &str)],
    on_kw: &[(&str, &str)],
    target: Option<f64>,
    run: &Run,
    rounds: usize,
    port: u16,
) -> Option<Measure> {
    let (mut on, mut off, mut ce) = (Vec::new(), Vec::new(), Vec::new());
    let mut port = port;
    for r in 0..rounds {
        port += 3;
        if let Some(m) = p.check(&format!("{name} on #{r}"), run(drv, port)) {
            println!("# {name}_on #{r}: {:.2} Gbit/s", m.gbps);
            on.push(m);
        }
        p.check(&format!("{name}: offload off"), drv.set_keywords(off_kw));
        bench::settle();
        if let Some(m) = p.check(&format!("{name} off #{r}"), run(drv, port + 1)) {
            println!("# {name}_off #{r}: {:.2} Gbit/s", m.gbps);
            off.push(m);
        }
        p.check(&format!("{name}: offload back on"), drv.set_keywords(on_kw));
        bench::settle();
        if let Some(c) = ceil {
            if let Some(m) = p.check(&format!("{name} ceiling #{r}"), run(c, port + 2)) {
                println!("# ceiling_{name} #{r}: {:.2} Gbit/s", m.gbps);
                ce.push(m);
            }
        }
    }
    let on = median(on);
    let off = median(off);
    let ce = median(ce);
    if let Some(m) = &on {
        emit(&lines(&format!("{name}_on"), m));
    }
    if let Some(m) = &off {
        emit(&lines(&format!("{name}_off"), m));
    }
    if let (Some(a), Some(b)) = (&on, &off) {
        let r = ratio(a.gbps, b.gbps);
        match target {
            Some(t) => println!("{}", ratio_line(&format!("{name}_on_vs_off"), r, t)),
            // No target: iperf3 never uses UDP_SEGMENT, so USO cannot change these.
            None => println!("# {name}_on_vs_off {r:.2}x (informational)"),
        }
    }
    if let Some(c) = &ce {
        emit(&lines(&format!("ceiling_{name}"), c));
        if let Some(d) = &on {
            println!(
                "{}",
                ratio_line(
                    &format!("driver_vs_ceiling_{name}"),
                    ratio(d.gbps, c.gbps),
                    0.9
                )
            );
        }
    }
    on
}

fn bench_all(a: &Args) -> Result<(), Vec<String>> {
    let mut p = Problems::default();
    let s = a.secs;
    let rounds = 3;
    let rx = move |e: &E2e, port: u16| bench::tcp(e, Way::HostToGuest, s, port);
    let tx = move |e: &E2e, port: u16| bench::tcp(e, Way::GuestToHost, s, port);
    let gso = move |e: &E2e, port: u16| bench::udp_gso(e, 1472, 44, s, port);

    // RSC in the three host modes; the ceiling is the pass-through on the same device settings
    // (it passes host super-frames up as SCUs, but cannot coalesce MTU frames).
    let modes: [(&str, Opts); 3] = [
        ("rsc_gro", Opts::default()),
        ("rsc_ext", Opts::default().qemu_rsc(300_000)),
        (
            "rsc_sw",
            Opts::default()
                .prop("guest_tso4", "off")
                .prop("guest_tso6", "off"),
        ),
    ];
    for (i, (name, o)) in modes.into_iter().enumerate() {
        if !wanted(a, name) {
            continue;
        }
        header(name);
        let co = o.clone().passthrough();
        let Some(e) = start(&mut p, name, o) else {
            continue;
        };
        if name == "rsc_ext" {
            let f = e.negotiated_features().unwrap_or_default();
            if !f.iter().any(|x| x == "VIRTIO_NET_F_RSC_EXT") {
                println!(
                    "# rsc_ext: the driver did not negotiate VIRTIO_NET_F_RSC_EXT: QEMU's \
                     coalescer is off and these figures are host-GRO figures"
                );
            }
        }
        let c = start(&mut p, &format!("{name} ceiling"), co);
        figure(
            &mut p,
            name,
            &e,
            c.as_ref(),
            RSC_OFF,
            RSC_ON,
            Some(3.0),
            &rx,
            rounds,
            5500 + 20 * i as u16,
        );
        if let Some(c) = c {
            p.finish(&format!("{name} ceiling"), c);
        }
        p.finish(name, e);
    }

    // LSO and USO on the default device.
    if wanted(a, "lso") || wanted(a, "uso") {
        header("lso / uso");
        let e = start(&mut p, "lso/uso", Opts::default());
        let c = start(&mut p, "lso/uso ceiling", Opts::default().passthrough());
        if let Some(e) = e {
            if wanted(a, "lso") {
                figure(
                    &mut p,
                    "lso",
                    &e,
                    c.as_ref(),
                    LSO_OFF,
                    LSO_ON,
                    Some(2.5),
                    &tx,
                    rounds,
                    5600,
                );
            }
            if wanted(a, "uso") {
                figure(
                    &mut p,
                    "uso_gso",
                    &e,
                    c.as_ref(),
                    USO_OFF,
                    USO_ON,
                    Some(5.0),
                    &gso,
                    rounds,
                    5620,
                );
                for (i, size) in [1472usize, 65507].into_iter().enumerate() {
                    let name = format!("uso_iperf3_{size}");
                    let run = move |e: &E2e, port: u16| bench::udp_iperf(e, size, s, port);
                    figure(
                        &mut p,
                        &name,
                        &e,
                        None,
                        USO_OFF,
                        USO_ON,
                        None,
                        &run,
                        1,
                        5640 + 10 * i as u16,
                    );
                }
            }
            p.finish("lso/uso", e);
        }
        if let Some(c) = c {
            p.finish("lso/uso ceiling", c);
        }
    }
    p.result()
}
