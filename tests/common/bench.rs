//! Measurements for `cargo xtask bench e2e` and `cargo xtask demo`: throughput runs on a bench
//! with the CPU they cost — QEMU's main loop (the device model: one thread does every tap
//! read/write and ring access), the miniport (ndis-emu's per-handler accounting), and per
//! thread of this process (stand-in, emulator DPCs) — so that what bounds a figure is visible.
//!
//! Output follows /work/notes/conventions.md: `BENCH <name> <value> <unit>` and
//! `RATIO <name> <x>x (target >= <t>) <PASS|MISS>`; ratios come from runs in the same process.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::harness::{E2e, Res};
use crate::traffic::{iperf3, udp_transfer, UdpSpec};

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// `(comm, utime + stime ticks)` from a `/proc/…/stat` line.
pub fn parse_stat(s: &str) -> Option<(String, u64)> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = s.get(close + 2..)?.split_whitespace().collect();
    // Fields after comm: state(3) … utime(14) stime(15): indexes 11 and 12 here.
    let ut: u64 = rest.get(11)?.parse().ok()?;
    let st: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, ut + st))
}

fn task_ticks(pid: u32) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return m;
    };
    for e in rd.flatten() {
        let p = e.path().join("stat");
        if let Some((comm, t)) = std::fs::read_to_string(p)
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            // Group numbered threads (ndis-dpc0, ndis-dpc1 …) under one name.
            let key = comm
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string();
            *m.entry(key).or_insert(0) += t;
        }
    }
    m
}

fn main_thread_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/stat"))
        .ok()
        .as_deref()
        .and_then(parse_stat)
        .map_or(0, |x| x.1)
}

/// `(busy, total)` jiffies of all CPUs from `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(l) = s.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = l
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// A CPU snapshot: QEMU's main loop and all its threads, this process's threads by name, the
/// whole machine.
#[derive(Clone, Debug)]
pub struct CpuSnap {
    at: Instant,
    machine: (u64, u64),
    qemu_main: u64,
    qemu_all: u64,
    me: BTreeMap<String, u64>,
}

impl CpuSnap {
    /// Takes a snapshot (`qemu_pid` from the testbed).
    pub fn take(qemu_pid: u32) -> CpuSnap {
        CpuSnap {
            at: Instant::now(),
            machine: machine_ticks(),
            qemu_main: main_thread_ticks(qemu_pid),
            qemu_all: task_ticks(qemu_pid).values().sum(),
            me: task_ticks(std::process::id()),
        }
    }
}

/// CPU used between two snapshots, in cores (1.0 = one core busy).
#[derive(Clone, Debug, Default)]
pub struct CpuUse {
    /// Wall time.
    pub secs: f64,
    /// QEMU main loop.
    pub qemu_main: f64,
    /// All QEMU threads.
    pub qemu_all: f64,
    /// The whole machine, in cores busy (softirq and every process included).
    pub machine: f64,
    /// Cores in the machine.
    pub cores: f64,
    /// This process's threads, by name.
    pub threads: Vec<(String, f64)>,
}

impl CpuUse {
    /// `later - earlier`.
    pub fn between(a: &CpuSnap, b: &CpuSnap) -> CpuUse {
        let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-6);
        let t = clk_tck();
        let c = |x: u64, y: u64| y.saturating_sub(x) as f64 / t / secs;
        let mut threads: Vec<(String, f64)> =
            b.me.iter()
                .map(|(k, v)| (k.clone(), c(a.me.get(k).copied().unwrap_or(0), *v)))
                .filter(|(_, v)| *v >= 0.02)
                .collect();
        threads.sort_by(|x, y| y.1.total_cmp(&x.1));
        let (busy, total) = (
            b.machine.0.saturating_sub(a.machine.0),
            b.machine.1.saturating_sub(a.machine.1),
        );
        let cores = total as f64 / t / secs;
        CpuUse {
            secs,
            machine: if total > 0 {
                cores * busy as f64 / total as f64
            } else {
                0.0
            },
            cores,
            qemu_main: c(a.qemu_main, b.qemu_main),
            qemu_all: c(a.qemu_all, b.qemu_all),
            threads,
        }
    }

    /// One line: who used how much of a core.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "machine {:.0}% of {:.0} cores, qemu-main {:.0}%",
            self.machine * 100.0,
            self.cores.round(),
            self.qemu_main * 100.0
        );
        for (k, v) in self.threads.iter().take(6) {
            s += &format!(", {k} {:.0}%", v * 100.0);
        }
        s
    }

    /// The busiest single-threaded component (≥ 85 % of a core), if any: the likely bound.
    pub fn bound(&self) -> Option<String> {
        let mut cands: Vec<(String, f64)> = vec![("QEMU main loop".into(), self.qemu_main)];
        cands.extend(
            self.threads
                .iter()
                .filter(|(k, _)| !k.starts_with("ndis-dpc") && !k.starts_with("ndis-worker"))
                .cloned(),
        );
        let one = cands
            .into_iter()
            .filter(|(_, v)| *v >= 0.85)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, v)| format!("{k} at {:.0}% of a core", v * 100.0));
        one.or_else(|| {
            (self.cores > 0.0 && self.machine >= 0.9 * self.cores).then(|| {
                format!(
                    "the machine's CPUs ({:.0}% of {:.0} cores busy)",
                    self.machine * 100.0,
                    self.cores.round()
                )
            })
        })
    }
}

/// One throughput run.
#[derive(Clone, Debug, Default)]
pub struct Measure {
    /// Payload throughput (Gbit/s).
    pub gbps: f64,
    /// Seconds measured.
    pub secs: f64,
    /// CPU used meanwhile.
    pub cpu: CpuUse,
    /// Miniport CPU time (ns) from ndis-emu's accounting (0 on the pass-through).
    pub driver_ns: u64,
    /// NBLs through the miniport (sent + indicated).
    pub nbls: u64,
    /// Free text (datagrams, retransmits …).
    pub note: String,
    /// Share of datagrams lost (UDP runs without pacing).
    pub loss: Option<f64>,
}

impl Measure {
    /// QEMU main-loop CPU per Gbit of payload (ms of CPU per Gbit).
    pub fn qemu_ms_per_gbit(&self) -> f64 {
        let gbit = self.gbps * self.secs;
        if gbit > 0.0 {
            self.cpu.qemu_main * self.secs * 1000.0 / gbit
        } else {
            0.0
        }
    }
    /// Miniport CPU per Gbit (ms/Gbit).
    pub fn driver_ms_per_gbit(&self) -> f64 {
        let gbit = self.gbps * self.secs;
        if gbit > 0.0 {
            self.driver_ns as f64 / 1e6 / gbit
        } else {
            0.0
        }
    }
    /// Miniport CPU per NBL (ns).
    pub fn driver_ns_per_nbl(&self) -> f64 {
        if self.nbls > 0 {
            self.driver_ns as f64 / self.nbls as f64
        } else {
            0.0
        }
    }
}

fn driver_ns(e: &E2e) -> u64 {
    e.with_harness(|h| h.accounting().total_cpu_ns())
        .unwrap_or(0)
}

/// Runs `f` and measures around it.
pub fn measure(e: &E2e, f: impl FnOnce() -> Res<(f64, f64, String)>) -> Res<Measure> {
    measure_loss(e, || f().map(|(a, b, c)| (a, b, c, None)))
}

/// As [`measure`], with a loss share.
pub fn measure_loss(
    e: &E2e,
    f: impl FnOnce() -> Res<(f64, f64, String, Option<f64>)>,
) -> Res<Measure> {
    let pid = e.tb().machine().qemu_pid();
    let d0 = driver_ns(e);
    let t0 = e.standin().tx_stats();
    let r0 = e.standin().rx_stats();
    let p0 = e.standin().tx_phases();
    let a = CpuSnap::take(pid);
    let (gbps, secs, note, loss) = f()?;
    let b = CpuSnap::take(pid);
    let p1 = e.standin().tx_phases();
    let ph: Vec<f64> = (0..4)
        .map(|i| p1[i].saturating_sub(p0[i]) as f64 / 1e9 / secs.max(1e-6))
        .collect();
    let note = format!(
        "{note}; stand-in send thread: wait {:.0}% read+shape {:.0}% send {:.0}% reap {:.0}%",
        ph[0] * 100.0,
        ph[1] * 100.0,
        ph[2] * 100.0,
        ph[3] * 100.0
    );
    let d1 = driver_ns(e);
    let tx = e.standin().tx_stats().since(&t0);
    let rx = e.standin().rx_stats().since(&r0);
    Ok(Measure {
        gbps,
        secs,
        cpu: CpuUse::between(&a, &b),
        driver_ns: d1.saturating_sub(d0),
        nbls: tx.nbls + rx.nbls,
        note,
        loss,
    })
}

/// Direction of a TCP run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Host → guest (receive path, RSC).
    HostToGuest,
    /// Guest → host (send path, LSO).
    GuestToHost,
}

/// iperf3 TCP for `secs`.
pub fn tcp(e: &E2e, way: Way, secs: u32, port: u16) -> Res<Measure> {
    measure(e, || {
        let r = match way {
            Way::HostToGuest => iperf3(e.guest_ns(), e.host_ns(), e.guest_ip(), port, secs, &[]),
            Way::GuestToHost => iperf3(e.host_ns(), e.guest_ns(), e.host_ip(), port, secs, &[]),
        }?;
        Ok((
            r.bps / 1e9,
            f64::from(secs),
            format!("retransmits {}", r.retransmits),
        ))
    })
}

/// iperf3 UDP guest→host with `size`-byte datagrams, unlimited rate (`-b 0`), for `secs`:
/// goodput and loss, as a user running the reference command would see them.
pub fn udp_iperf(e: &E2e, size: usize, secs: u32, port: u16) -> Res<Measure> {
    measure_loss(e, || {
        let l = size.to_string();
        let r = iperf3(
            e.host_ns(),
            e.guest_ns(),
            e.host_ip(),
            port,
            secs,
            &["-u", "-b", "0", "-l", &l],
        )?;
        // By bytes: iperf3's own loss count misses datagrams of which nothing arrived (a lost
        // IP fragment loses the whole datagram).
        let loss = (r.sender_bps > 0.0).then(|| (1.0 - r.bps / r.sender_bps).clamp(0.0, 1.0));
        Ok((
            r.bps / 1e9,
            f64::from(secs),
            format!(
                "{} datagrams sent, {} lost, sender CPU {:.0}%",
                r.packets, r.lost, r.cpu_client
            ),
            loss,
        ))
    })
}

/// The `UDP_SEGMENT` sender guest→host (`segs` datagrams of `size` per send), lossless by
/// receiver pacing, for `secs`.
pub fn udp_gso(e: &E2e, size: usize, segs: usize, secs: u32, port: u16) -> Res<Measure> {
    measure(e, || {
        let spec = UdpSpec {
            size,
            count: None,
            duration: Duration::from_secs(u64::from(secs)),
            gso_segments: (segs > 1).then_some(segs),
            // ~1.5 MiB in flight: enough to keep the path busy, below the socket buffers.
            window: ((4 << 20) / size.max(1)).max(2 * segs) as u64,
        };
        let r = udp_transfer(e.guest_ns(), e.host_ns(), e.host_ip(), port, spec)?;
        if r.bad != 0 || r.duplicates != 0 {
            return Err(format!("UDP transfer damaged: {r:?}"));
        }
        Ok((
            r.gbps(size),
            r.secs,
            format!(
                "{} of {} datagrams arrived, {} sends, {} ENOBUFS, {} paced",
                r.received, r.sent, r.sends, r.enobufs, r.paced
            ),
        ))
    })
}

/// A `BENCH` line.
pub fn bench_line(name: &str, value: f64, unit: &str) -> String {
    format!("BENCH {name} {value:.3} {unit}")
}

/// A `RATIO` line (`target` is a lower bound).
pub fn ratio_line(name: &str, ratio: f64, target: f64) -> String {
    format!(
        "RATIO {name} {ratio:.2}x (target >= {target:.2}) {}",
        if ratio >= target { "PASS" } else { "MISS" }
    )
}

/// The lines of one measurement: throughput, QEMU main-loop CPU per Gbit/s, miniport CPU.
pub fn lines(name: &str, m: &Measure) -> Vec<String> {
    let mut v = vec![
        bench_line(name, m.gbps, "Gbit/s"),
        bench_line(&format!("{name}_qemu_cpu"), m.qemu_ms_per_gbit(), "ms/Gbit"),
    ];
    if m.driver_ns > 0 {
        v.push(bench_line(
            &format!("{name}_driver_cpu"),
            m.driver_ms_per_gbit(),
            "ms/Gbit",
        ));
        v.push(bench_line(
            &format!("{name}_driver_cpu_per_nbl"),
            m.driver_ns_per_nbl(),
            "ns/NBL",
        ));
    }
    v.push(format!(
        "# {name}: {:.2} Gbit/s over {:.1} s; cpu: {}; {}{}",
        m.gbps,
        m.secs,
        m.cpu.describe(),
        m.note,
        m.cpu
            .bound()
            .map(|b| format!("; bound: {b}"))
            .unwrap_or_default()
    ));
    v
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Waits for the link to settle after a restart (ARP, the first segments).
pub fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_utime_stime_parse_with_spaces_in_comm() {
        let s = "1234 (ndis dpc0) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(s), Some(("ndis dpc0".into(), 300)));
    }

    #[test]
    fn ratio_lines_follow_the_convention() {
        assert_eq!(
            ratio_line("rsc_on_vs_off", 3.456, 3.0),
            "RATIO rsc_on_vs_off 3.46x (target >= 3.00) PASS"
        );
        assert!(ratio_line("x", 0.5, 0.9).ends_with("MISS"));
        assert_eq!(bench_line("lso", 2.5, "Gbit/s"), "BENCH lso 2.500 Gbit/s");
    }

    #[test]
    fn per_gbit_figures_scale_with_time_and_rate() {
        let m = Measure {
            gbps: 2.0,
            secs: 5.0,
            cpu: CpuUse {
                qemu_main: 0.5,
                ..CpuUse::default()
            },
            driver_ns: 1_000_000_000,
            nbls: 1000,
            ..Measure::default()
        };
        // 0.5 core × 5 s = 2500 ms for 10 Gbit.
        assert!((m.qemu_ms_per_gbit() - 250.0).abs() < 1e-9);
        assert!((m.driver_ms_per_gbit() - 100.0).abs() < 1e-9);
        assert!((m.driver_ns_per_nbl() - 1e6).abs() < 1e-9);
    }
}
