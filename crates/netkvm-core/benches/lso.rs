//! Software LSO throughput: a 64 KiB TCP send (IPv4, timestamps) cut into 1448-byte segments
//! with every IP/TCP checksum computed, against memcpy of the same 64 KiB in the same run
//! (conventions.md BENCH/RATIO lines). Includes planning and header fix-ups per segment.
//! Two forms: bounce-buffer segments (payload copied and summed: `Segmenter::next_into`) and
//! zero-copy segments (headers written, payload summed in place: `next_header_into`).
//! Built for the x86-64 baseline (SSE2).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use netkvm_core::tx::{self, LsoRequest, LsoVersion, SendInfo, TxAction, TxContext};

const PAYLOAD: usize = 65536;
const MSS: u32 = 1448;

/// Ethernet + IPv4 (Total Length 0, LSOv2) + TCP with a timestamp option, then the payload.
fn frame() -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[
        0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&[
        0x13, 0x88, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0x18, 0xff, 0xff, 0x12, 0x34, 0, 0,
    ]);
    f.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    f.extend((0..PAYLOAD as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8));
    f
}

fn bench(c: &mut Criterion) {
    let f = frame();
    let frags: [&[u8]; 1] = [&f];
    let ctx = TxContext {
        config: tx::TxOffloadConfig::ALL,
        encap: tx::Encapsulation::ETHERNET,
        caps: tx::DeviceCaps::default(), // no TSO: software segmentation
        limits: tx::TxLimits {
            lso_max_size: 65536,
            ..Default::default()
        },
    };
    let info = SendInfo {
        lso: Some(LsoRequest {
            version: LsoVersion::V2,
            mss: MSS,
            tcp_header_offset: 34,
            ipv6: false,
        }),
        ..Default::default()
    };
    let mut hb = vec![0u8; tx::TX_HEADER_BUF_LEN];
    let p = tx::plan(&ctx, &info, &frags, &mut hb).expect("plan");
    assert_eq!(p.action, TxAction::Segment);
    let slot = p.max_segment_len();
    let nseg = p.segments as usize;
    let mut out = vec![0u8; slot * nseg];
    let src = f[f.len() - PAYLOAD..].to_vec();
    let mut dst = vec![0u8; PAYLOAD];

    let mut g = c.benchmark_group("lso_64k");
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
    // The floor: only the fused payload copy+checksum into the same segment slots.
    g.bench_function("payload_copy_and_sum", |b| {
        b.iter(|| {
            let h = p.layout.payload_offset;
            for (chunk, s) in out.chunks_mut(slot).zip(src.chunks(MSS as usize)) {
                let mut c = netkvm_core::checksum::Checksum::new();
                c.copy_and_add(&mut chunk[h..], black_box(s));
                black_box(c.sum());
            }
            black_box(&out);
        })
    });
    g.bench_function("netkvm_software_lso", |b| {
        b.iter(|| {
            let p = tx::plan(&ctx, &info, black_box(&frags), &mut hb).expect("plan");
            let mut s = p.segmenter(&hb, &frags);
            let mut n = 0;
            for chunk in out.chunks_mut(slot) {
                match s.next_into(chunk) {
                    Some(Ok(seg)) => n += seg.payload_len,
                    _ => break,
                }
            }
            assert_eq!(n, PAYLOAD);
            black_box(&out);
        })
    });
    // Zero-copy form: per-segment headers into driver memory, payload summed in place.
    let mut hdrs = vec![0u8; p.layout.payload_offset * nseg];
    g.bench_function("netkvm_software_lso_zero_copy", |b| {
        b.iter(|| {
            let p = tx::plan(&ctx, &info, black_box(&frags), &mut hb).expect("plan");
            let h = p.layout.payload_offset;
            let mut s = p.segmenter(&hb, &frags);
            let mut n = 0;
            for chunk in hdrs.chunks_mut(h) {
                match s.next_header_into(chunk) {
                    Some(Ok(seg)) => n += seg.payload_len,
                    _ => break,
                }
            }
            assert_eq!(n, PAYLOAD);
            black_box(&hdrs);
        })
    });
    g.finish();
}

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

fn median_ns(dir: &std::path::Path, group: &str, function: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let rest = &text[text.find("\"median\"")?..];
    let pe = rest.find("\"point_estimate\"")?;
    let after = rest[pe + "\"point_estimate\"".len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = after.find(|ch: char| !(ch.is_ascii_digit() || ".eE+-".contains(ch)))?;
    after[..end].parse().ok()
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
    let (Some(memcpy), Some(lso)) = (
        median_ns(&dir, "lso_64k", "memcpy"),
        median_ns(&dir, "lso_64k", "netkvm_software_lso"),
    ) else {
        println!("BENCH lso_64k missing estimates in {}", dir.display());
        return;
    };
    println!("BENCH lso_64k_1448 {:.1} GB/s", PAYLOAD as f64 / lso);
    println!("BENCH lso_64k_memcpy {:.1} GB/s", PAYLOAD as f64 / memcpy);
    if let Some(floor) = median_ns(&dir, "lso_64k", "payload_copy_and_sum") {
        println!(
            "BENCH lso_64k_payload_copy_and_sum_only {:.1} GB/s",
            PAYLOAD as f64 / floor
        );
    }
    let r = memcpy / lso;
    println!(
        "RATIO lso_64k_vs_memcpy {r:.2}x (target >= 0.50) {}",
        if r >= 0.5 { "PASS" } else { "MISS" }
    );
    if let Some(zc) = median_ns(&dir, "lso_64k", "netkvm_software_lso_zero_copy") {
        println!(
            "BENCH lso_64k_1448_zero_copy {:.1} GB/s",
            PAYLOAD as f64 / zc
        );
        let r = memcpy / zc;
        println!(
            "RATIO lso_64k_zero_copy_vs_memcpy {r:.2}x (target >= 0.50) {}",
            if r >= 0.5 { "PASS" } else { "MISS" }
        );
    }
}
