//! Software RSC: cost per coalesced 1448-byte segment, excluding any payload copy (there is
//! none: the engine only reads headers and rewrites the SCU head in place). Target (issue 3):
//! ≤ 25 ns per segment, where a memcpy of the 1448-byte payload it avoids takes ~15 ns on the
//! reference machine — judged here as the same-run ratio to that memcpy (≤ 1.65×).
//! Also reported: RX classification of the same segment with software checksum verification
//! (what the engine's input costs when the host gives no DATA_VALID).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use netkvm_core::offload::{Features, PerFamily, RscPath, RxChecksumConfig};
use netkvm_core::params::PriorityVlan;
use netkvm_core::rsc::{RscEngine, RscOutput, RscSegment};
use netkvm_core::rx::{classify, RxConfig, RxFrame, RxInfo, ScuChecksum};
use netkvm_core::wire::virtio::VirtioNetHdr;

mod core_b_util;
use core_b_util::{bench_line, median_ns, ratio_line};

const MSS: usize = 1448;
const BATCH: usize = 64;
const HDR: usize = 14 + 20 + 32; // Ethernet + IPv4 + TCP with timestamps

fn sum16(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|c| (u32::from(c[0]) << 8) | u32::from(*c.get(1).unwrap_or(&0)))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// A TCP/IPv4 segment with timestamps and valid checksums (built by hand for the bench).
fn segment(flow: u16, seq: u32, ts: u32) -> Vec<u8> {
    let mut f = vec![
        0x52, 0x54, 0, 0x12, 0x34, 0x56, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
    ];
    let total = 20 + 32 + MSS;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let c = !fold(sum16(&f[14..34]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let mut t = Vec::new();
    t.extend_from_slice(&(5000 + flow).to_be_bytes());
    t.extend_from_slice(&80u16.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&1u32.to_be_bytes());
    t.extend_from_slice(&[0x80, 0x10, 0x01, 0xf5, 0, 0, 0, 0, 1, 1, 8, 10]);
    t.extend_from_slice(&ts.to_be_bytes());
    t.extend_from_slice(&7u32.to_be_bytes());
    t.extend((0..MSS).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1]));
    let mut ps = Vec::new();
    ps.extend_from_slice(&f[26..34]);
    ps.extend_from_slice(&[0, 6]);
    ps.extend_from_slice(&(t.len() as u16).to_be_bytes());
    let c = !fold(sum16(&ps) + sum16(&t));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&t);
    f
}

fn rx_cfg() -> RxConfig {
    RxConfig {
        features: Features::CSUM | Features::GUEST_CSUM | Features::VERSION_1,
        csum: RxChecksumConfig::ALL,
        rsc: PerFamily {
            ipv4: RscPath {
                host: false,
                software: true,
            },
            ipv6: RscPath {
                host: false,
                software: true,
            },
        },
        mtu: 1500,
        priority_vlan: PriorityVlan::default(),
        vlan_id: 0,
        scu_checksum: ScuChecksum::MarkValueInvalid,
    }
}

fn batch(flows: u16) -> Vec<Vec<u8>> {
    (0..BATCH)
        .map(|k| {
            let flow = k as u16 % flows;
            let n = (k as u16 / flows) as u32;
            segment(flow, 1000 + n * MSS as u32, 100 + n)
        })
        .collect()
}

fn classify_all(frames: &mut [Vec<u8>]) -> Vec<RxInfo> {
    frames
        .iter_mut()
        .map(|f| {
            classify(
                &VirtioNetHdr::default(),
                RxFrame {
                    first: f,
                    rest: &[],
                },
                &rx_cfg(),
                None,
            )
            .unwrap()
        })
        .collect()
}

fn bench_engine(c: &mut Criterion, name: &str, flows: u16) {
    let mut frames = batch(flows);
    let infos = classify_all(&mut frames);
    let originals: Vec<Vec<u8>> = frames.iter().map(|f| f[..HDR].to_vec()).collect();
    let mut engine = RscEngine::new(BATCH).unwrap();
    let mut segs: Vec<RscSegment<'_>> = frames
        .iter_mut()
        .zip(&infos)
        .map(|(f, i)| RscSegment::from_rx(f, i))
        .collect();
    let heads: Vec<usize> = engine
        .process(&mut segs)
        .unwrap()
        .iter()
        .map(|o| match o {
            RscOutput::Scu(s) => usize::from(s.head),
            RscOutput::Single(i) => usize::from(*i),
        })
        .collect();
    let coalesced: usize = engine.stats().coalesced_pkts as usize;
    assert_eq!(
        coalesced, BATCH,
        "every segment of the bench batch coalesces"
    );
    let mut g = c.benchmark_group("rsc");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    g.bench_function(name, |b| {
        b.iter(|| {
            // Put back the few head headers the previous run rewrote (a ~66-byte copy per SCU).
            for &h in &heads {
                segs[h].frame[..HDR].copy_from_slice(&originals[h]);
            }
            black_box(engine.process(black_box(&mut segs)).unwrap().len())
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_engine(c, "coalesce_64x1448_1flow", 1);
    bench_engine(c, "coalesce_64x1448_8flows", 8);
    let payload = vec![0xA5u8; MSS];
    let mut dst = vec![0u8; MSS];
    let mut g = c.benchmark_group("rsc");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    g.bench_function("memcpy_1448", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&payload));
            black_box(dst[7])
        })
    });
    let template = segment(0, 1000, 5);
    let mut frame = template.clone();
    g.bench_function("rx_classify_1448_sw_verify", |b| {
        b.iter(|| {
            let i = classify(
                &VirtioNetHdr::default(),
                RxFrame {
                    first: black_box(&mut frame),
                    rest: &[],
                },
                &rx_cfg(),
                None,
            );
            black_box(i.is_ok())
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    let one = median_ns("rsc", "coalesce_64x1448_1flow").map(|v| v / BATCH as f64);
    let eight = median_ns("rsc", "coalesce_64x1448_8flows").map(|v| v / BATCH as f64);
    let mem = median_ns("rsc", "memcpy_1448");
    let cls = median_ns("rsc", "rx_classify_1448_sw_verify");
    if let (Some(one), Some(eight), Some(mem)) = (one, eight, mem) {
        bench_line("rsc_per_coalesced_1448B_segment", one, "ns");
        bench_line("rsc_per_coalesced_1448B_segment_8flows", eight, "ns");
        bench_line("memcpy_1448B", mem, "ns");
        ratio_line("rsc_segment_cost_vs_memcpy_1448B", one / mem, "<=", 1.65);
    } else {
        println!("BENCH rsc: criterion estimates not found (filtered run?)");
    }
    if let Some(cls) = cls {
        bench_line("rx_classify_1448B_sw_checksum", cls, "ns");
    }
}
