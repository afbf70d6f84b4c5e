//! qtest and interrupt-path rates of the testbed, per accelerator, measured side by side in
//! one run (`cargo bench -p testbed --bench qtest_rates`; needs root + QEMU, else it says why
//! and exits 0). `NTB_BENCH_N` sets the iteration count (default 5000).
//!
//! Figures (compare with the Python prototype's table in the QEMU recipe, §9):
//! * round trip: one synchronous `readw` of the common cfg;
//! * pipelined: 100 `readw` in one write, cost per command;
//! * notify sync / posted: a queue-notify `writew` waiting for its `OK`, or fire-and-forget
//!   (replies reaped opportunistically, drained at the end, included in the time);
//! * TX completion: publish one descriptor + posted notify → device sends the frame on the
//!   TAP, writes the used ring and the MSI-X doorbell → we see the doorbell (full datapath
//!   latency of one kick, interrupt included).

use std::time::{Duration, Instant};

use testbed::machine::Machine;
use testbed::virtio::{self, common, SmokeTx};
use testbed::{AccelChoice, MachineConfig, Testbed, TestbedConfig};

fn per_op(t: Duration, n: usize) -> f64 {
    t.as_secs_f64() * 1e6 / n as f64
}

fn bench(m: &Machine, n: usize, tag: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let r = virtio::regions(m).expect("regions");
    let a = r.common + common::NUM_QUEUES;
    let q = m.qtest();
    for _ in 0..200 {
        q.readw(a).unwrap();
    }
    let t = Instant::now();
    for _ in 0..n {
        q.readw(a).unwrap();
    }
    out.push((format!("qtest_roundtrip_{tag}"), per_op(t.elapsed(), n)));

    let cmds: Vec<String> = (0..100).map(|_| format!("readw {a:#x}")).collect();
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let rounds = (n / 100).max(1);
    let t = Instant::now();
    for _ in 0..rounds {
        q.pipeline_ok(&refs).unwrap();
    }
    out.push((
        format!("qtest_pipelined_per_cmd_{tag}"),
        per_op(t.elapsed(), rounds * 100),
    ));

    let frame = {
        let mut f = vec![0xFF; 6];
        f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        f.extend_from_slice(&0x88B5u16.to_be_bytes());
        f.extend_from_slice(&[0; 46]);
        f
    };
    let mut tx = SmokeTx::setup(m, 2, &frame).expect("smoke TX queue");
    // Notify with nothing new published: the cost of one kick as the device sees it.
    let t = Instant::now();
    for _ in 0..n {
        q.writew(tx.notify, 1).unwrap();
    }
    out.push((format!("notify_sync_{tag}"), per_op(t.elapsed(), n)));
    let t = Instant::now();
    for _ in 0..n {
        m.mmio_post16(tx.notify, 1).unwrap();
    }
    q.drain().unwrap();
    out.push((format!("notify_posted_{tag}"), per_op(t.elapsed(), n)));

    m.clear_interrupts();
    let k = (n / 5).max(100);
    let t = Instant::now();
    for _ in 0..k {
        let want = tx.send(m).unwrap();
        assert!(
            m.wait_interrupt(tx.vector, Duration::from_secs(5)),
            "no TX interrupt"
        );
        assert_eq!(tx.used_idx(m), want);
    }
    out.push((format!("tx_kick_to_doorbell_{tag}"), per_op(t.elapsed(), k)));
    assert_eq!(q.stats().posted_failures, 0);
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Err(why) = testbed::probe().required() {
        println!("SKIP qtest_rates: {why}");
        return;
    }
    let n: usize = std::env::var("NTB_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let mut accels = vec![("tcg", AccelChoice::Tcg)];
    if testbed::probe().kvm_usable() {
        accels.push(("kvm", AccelChoice::Kvm));
    } else {
        println!("note: /dev/kvm unusable, kvm figures skipped");
    }
    let mut all = Vec::new();
    for (tag, accel) in accels {
        let tb = Testbed::start(TestbedConfig {
            machine: MachineConfig {
                accel,
                ..MachineConfig::default()
            },
            guest: None,
            ..TestbedConfig::default()
        })
        .expect("testbed");
        all.extend(bench(tb.machine(), n, tag));
    }
    for (name, us) in &all {
        println!("BENCH {name} {us:.2} us");
    }
    let get = |name: &str| all.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    for tag in ["tcg", "kvm"] {
        if let (Some(p), Some(s)) = (
            get(&format!("notify_posted_{tag}")),
            get(&format!("notify_sync_{tag}")),
        ) {
            let r = p / s;
            println!(
                "RATIO notify_posted_vs_sync_{tag} {r:.3}x (target <= 0.50) {}",
                if r <= 0.5 { "PASS" } else { "MISS" }
            );
        }
        if let (Some(p), Some(s)) = (
            get(&format!("qtest_pipelined_per_cmd_{tag}")),
            get(&format!("qtest_roundtrip_{tag}")),
        ) {
            let r = p / s;
            println!(
                "RATIO qtest_pipelined_vs_roundtrip_{tag} {r:.3}x (target <= 0.50) {}",
                if r <= 0.5 { "PASS" } else { "MISS" }
            );
        }
    }
}
