//! Internet checksum throughput: ours vs memcpy and vs smoltcp, etherparse and
//! internet-checksum on the same buffers, in one run (conventions.md: BENCH/RATIO lines).
//!
//! Peers: smoltcp's `checksum::data` is crate-private in 0.14, so it is reached through its
//! public `TcpPacket::verify_checksum`, which is `checksum::data` over the whole buffer plus a
//! 12-byte pseudo-header; etherparse through `checksum::Sum16BitWords::add_slice`;
//! internet-checksum through `checksum`.
//!
//! Built for the x86-64 baseline (SSE2): no target-cpu flags.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use netkvm_core::checksum;
use smoltcp::wire::{IpAddress, Ipv4Address, TcpPacket};

const SIZES: &[(&str, usize)] = &[("1500", 1500), ("64k", 65536)];

fn buffer(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

fn bench(c: &mut Criterion) {
    let src4 = IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1));
    let dst4 = IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2));
    for &(name, len) in SIZES {
        let src = buffer(len);
        let mut dst = vec![0u8; len];
        // All peers must agree before their speed means anything.
        let ours = checksum::sum(&src);
        // etherparse returns the checksum in native byte order (to be written with to_ne_bytes).
        let ep = u16::from_be_bytes(
            etherparse::checksum::Sum16BitWords::new()
                .add_slice(&src)
                .ones_complement()
                .to_ne_bytes(),
        );
        let ic = u16::from_be_bytes(internet_checksum::checksum(&src));
        assert_eq!(!ours, ep, "etherparse disagrees");
        assert_eq!(!ours, ic, "internet-checksum disagrees");

        let mut g = c.benchmark_group(format!("checksum_{name}"));
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            })
        });
        g.bench_function("netkvm", |b| {
            b.iter(|| black_box(checksum::sum(black_box(&src))))
        });
        g.bench_function("netkvm_copy_and_sum", |b| {
            b.iter(|| black_box(checksum::copy_and_sum(&mut dst, black_box(&src))))
        });
        g.bench_function("smoltcp", |b| {
            b.iter(|| {
                black_box(
                    TcpPacket::new_unchecked(black_box(&src[..])).verify_checksum(&src4, &dst4),
                )
            })
        });
        g.bench_function("etherparse", |b| {
            b.iter(|| {
                black_box(
                    etherparse::checksum::Sum16BitWords::new()
                        .add_slice(black_box(&src))
                        .ones_complement(),
                )
            })
        });
        g.bench_function("internet_checksum", |b| {
            b.iter(|| black_box(internet_checksum::checksum(black_box(&src))))
        });
        g.finish();
    }
}

/// Where criterion writes (and this file reads) its estimates: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the workspace `target/criterion`.
fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return h.into();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/criterion"
    ))
}

/// Median time in ns of `<group>/<function>` from criterion's `new/estimates.json`.
fn median_ns(dir: &std::path::Path, group: &str, function: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let median = text.find("\"median\"")?;
    let rest = &text[median..];
    let pe = rest.find("\"point_estimate\"")?;
    let after = rest[pe + "\"point_estimate\"".len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = after.find(|ch: char| !(ch.is_ascii_digit() || ".eE+-".contains(ch)))?;
    after[..end].parse().ok()
}

fn ratio(name: &str, value: f64, op: &str, threshold: f64) {
    let pass = match op {
        ">=" => value >= threshold,
        ">" => value > threshold,
        _ => false,
    };
    println!(
        "RATIO {name} {value:.2}x (target {op} {threshold:.2}) {}",
        if pass { "PASS" } else { "MISS" }
    );
}

fn main() {
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args();
    bench(&mut c);
    c.final_summary();

    for &(name, len) in SIZES {
        let group = format!("checksum_{name}");
        let get = |f: &str| median_ns(&dir, &group, f);
        let (Some(memcpy), Some(ours)) = (get("memcpy"), get("netkvm")) else {
            println!(
                "BENCH checksum_{name} missing estimates in {}",
                dir.display()
            );
            continue;
        };
        let gbs = |ns: f64| len as f64 / ns;
        println!("BENCH checksum_{name} {:.1} GB/s", gbs(ours));
        println!("BENCH memcpy_{name} {:.1} GB/s", gbs(memcpy));
        if let Some(fused) = get("netkvm_copy_and_sum") {
            println!("BENCH copy_and_sum_{name} {:.1} GB/s", gbs(fused));
        }
        let peers: Vec<(&str, f64)> = ["smoltcp", "etherparse", "internet_checksum"]
            .into_iter()
            .filter_map(|p| Some((p, get(p)?)))
            .collect();
        for (peer, ns) in &peers {
            println!("BENCH checksum_{name}_{peer} {:.1} GB/s", gbs(*ns));
        }
        let target = if len >= 65536 { 0.80 } else { 0.45 };
        ratio(
            &format!("checksum_{name}_vs_memcpy"),
            memcpy / ours,
            ">=",
            target,
        );
        for (peer, ns) in &peers {
            ratio(&format!("checksum_{name}_vs_{peer}"), ns / ours, ">", 1.0);
        }
    }
}
