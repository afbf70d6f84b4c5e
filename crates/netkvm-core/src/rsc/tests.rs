//! Every RSC rule with its own test (spec §1.4–§1.9).

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::offload::{Features, PerFamily, RscPath, RxChecksumConfig};
use crate::params::PriorityVlan;
use crate::rx::{classify, RxConfig, RxFrame, ScuChecksum};
use crate::wire::virtio::VirtioNetHdr;

use crate::rx::tests::support::*;

const MSS: usize = 1448;

fn rx_cfg() -> RxConfig {
    RxConfig {
        features: Features::CSUM | Features::GUEST_CSUM | Features::VERSION_1 | Features::MRG_RXBUF,
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
        mtu: 9000,
        priority_vlan: PriorityVlan {
            priority: true,
            vlan: true,
        },
        vlan_id: 0,
        scu_checksum: ScuChecksum::MarkValueInvalid,
    }
}

/// One indication, materialized.
#[derive(Debug)]
struct Ind {
    bytes: Vec<u8>,
    rsc: Option<RscNblInfo>,
    frames: Vec<u16>,
    scu: bool,
}

fn run_engine(engine: &mut RscEngine, segs: &[Seg]) -> Vec<Ind> {
    let mut frames: Vec<Vec<u8>> = segs.iter().map(build).collect();
    let mut infos = Vec::new();
    for f in frames.iter_mut() {
        let info = classify(
            &VirtioNetHdr::default(),
            RxFrame {
                first: f,
                rest: &[],
            },
            &rx_cfg(),
            None,
        )
        .unwrap();
        infos.push(info);
    }
    let outputs: Vec<RscOutput>;
    let mut parts: Vec<Vec<Part>> = Vec::new();
    {
        let mut rs: Vec<RscSegment<'_>> = frames
            .iter_mut()
            .zip(&infos)
            .map(|(f, i)| RscSegment::from_rx(f, i))
            .collect();
        outputs = engine.process(&mut rs).unwrap().to_vec();
        for o in &outputs {
            parts.push(match o {
                RscOutput::Scu(s) => engine.parts(s).collect(),
                RscOutput::Single(_) => Vec::new(),
            });
        }
    }
    let mut seen = vec![0u32; segs.len()];
    let mut out = Vec::new();
    for (o, p) in outputs.iter().zip(parts) {
        match o {
            RscOutput::Single(i) => {
                let i = usize::from(*i);
                seen[i] += 1;
                out.push(Ind {
                    bytes: frames[i][infos[i].data_offset..].to_vec(),
                    rsc: None,
                    frames: vec![i as u16],
                    scu: false,
                });
            }
            RscOutput::Scu(s) => {
                let mut bytes = Vec::new();
                let mut fr = Vec::new();
                for part in &p {
                    let j = usize::from(part.frame);
                    seen[j] += 1;
                    let d = &frames[j][infos[j].data_offset..];
                    bytes.extend_from_slice(
                        &d[part.offset as usize..(part.offset + part.len) as usize],
                    );
                    fr.push(part.frame);
                }
                assert_eq!(p.len(), usize::from(s.frames));
                assert_eq!(bytes.len(), s.len as usize);
                assert_eq!(
                    s.checksum,
                    RxChecksumFlags::IP_SUCCEEDED | RxChecksumFlags::TCP_SUCCEEDED
                );
                out.push(Ind {
                    bytes,
                    rsc: Some(s.rsc),
                    frames: fr,
                    scu: true,
                });
            }
        }
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "every frame exactly once: {seen:?}"
    );
    out
}

fn run(segs: &[Seg]) -> (Vec<Ind>, RscStats) {
    let mut e = RscEngine::new(1024).unwrap();
    let out = run_engine(&mut e, segs);
    (out, e.stats())
}

/// `n` in-order data segments of `len` bytes starting at `seq`.
fn stream(base: &Seg, n: usize, len: usize) -> Vec<Seg> {
    (0..n)
        .map(|k| Seg {
            seq: base.seq.wrapping_add((k * len) as u32),
            payload: pattern(len, k as u32),
            ..base.clone()
        })
        .collect()
}

fn tcp_payload(frame: &[u8]) -> Vec<u8> {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    match p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => t.payload().to_vec(),
        _ => panic!("not TCP"),
    }
}

fn tcp_hdr(frame: &[u8]) -> etherparse::TcpHeader {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    match p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => t.to_header(),
        _ => panic!("not TCP"),
    }
}

fn ipv4_hdr(frame: &[u8]) -> etherparse::Ipv4Header {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    match p.net {
        Some(etherparse::NetSlice::Ipv4(ip)) => ip.header().to_header(),
        _ => panic!("not IPv4"),
    }
}

fn concat_payloads(segs: &[Seg]) -> Vec<u8> {
    segs.iter().flat_map(|s| s.payload.clone()).collect()
}

fn assert_scu(ind: &Ind, segs: &[Seg]) {
    assert!(ind.scu);
    assert!(
        oracle_checksums_ok(&ind.bytes).0,
        "SCU IPv4 header checksum verifies"
    );
    assert!(
        oracle_checksums_ok(&ind.bytes).1,
        "SCU TCP checksum verifies"
    );
    assert_eq!(tcp_payload(&ind.bytes), concat_payloads(segs));
    let data_segs = segs.iter().filter(|s| !s.payload.is_empty()).count();
    assert_eq!(ind.rsc.unwrap().coalesced_seg_count as usize, data_segs);
    assert_eq!(ind.rsc.unwrap().dup_ack_count, 0);
}

// --- the basic algorithm ----------------------------------------------------------------------

#[test]
fn rsc_in_order_data_coalesced_into_one_scu() {
    let segs = stream(&Seg::default(), 10, MSS);
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_scu(&out[0], &segs);
    let ip = ipv4_hdr(&out[0].bytes);
    assert_eq!(usize::from(ip.total_len), 40 + 10 * MSS);
    assert_eq!(
        st,
        RscStats {
            coalesced_pkts: 10,
            coalesced_octets: 10 * MSS as u64,
            coalesce_events: 1,
            aborts: 0
        }
    );
}

#[test]
fn rsc_single_segment_indicated_unchanged_without_rsc_info() {
    let segs = stream(&Seg::default(), 1, 100);
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 1);
    assert!(!out[0].scu && out[0].rsc.is_none());
    assert_eq!(out[0].bytes, build(&segs[0]));
    assert_eq!(st, RscStats::default());
}

#[test]
fn rsc_scu_checksums_verify_with_oracle_for_odd_lengths_v4_and_v6() {
    for v6 in [false, true] {
        let base = Seg {
            v6,
            ts: Some((100, 200)),
            ..Seg::default()
        };
        let lens = [1usize, 3, 1447, 2, 999, 1448, 7];
        let mut segs = Vec::new();
        let mut seq = base.seq;
        for (k, &l) in lens.iter().enumerate() {
            segs.push(Seg {
                seq,
                payload: pattern(l, 31 * k as u32),
                ts: Some((100 + k as u32, 200)),
                ..base.clone()
            });
            seq = seq.wrapping_add(l as u32);
        }
        let (out, _) = run(&segs);
        assert_eq!(out.len(), 1, "v6={v6}");
        assert_scu(&out[0], &segs);
    }
}

#[test]
fn rsc_scu_headers_seq_of_first_ack_and_wnd_of_last() {
    let mut segs = stream(&Seg::default(), 4, MSS);
    for (k, s) in segs.iter_mut().enumerate() {
        s.ack = 1000 + 10 * k as u32;
        s.win = 300 + k as u16;
    }
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    let t = tcp_hdr(&out[0].bytes);
    assert_eq!(
        (t.sequence_number, t.acknowledgment_number, t.window_size),
        (segs[0].seq, 1030, 303)
    );
}

#[test]
fn rsc_psh_is_ored() {
    let mut segs = stream(&Seg::default(), 3, MSS);
    segs[1].flags |= PSH;
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    assert!(tcp_hdr(&out[0].bytes).psh);
    let (out, _) = run(&stream(&Seg::default(), 3, MSS));
    assert!(!tcp_hdr(&out[0].bytes).psh);
}

#[test]
fn rsc_ipv4_ttl_is_minimum() {
    let mut segs = stream(&Seg::default(), 3, MSS);
    segs[0].ttl = 64;
    segs[1].ttl = 61;
    segs[2].ttl = 63;
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_eq!(ipv4_hdr(&out[0].bytes).time_to_live, 61);
    assert!(oracle_checksums_ok(&out[0].bytes).0);
}

#[test]
fn rsc_ipv6_hop_limit_is_minimum_and_payload_length_recomputed() {
    let mut segs = stream(
        &Seg {
            v6: true,
            ..Seg::default()
        },
        3,
        MSS,
    );
    segs[2].ttl = 30;
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    let b = &out[0].bytes;
    assert_eq!(b[14 + 7], 30);
    assert_eq!(
        usize::from(u16::from_be_bytes([b[18], b[19]])),
        20 + 3 * MSS
    );
}

#[test]
fn rsc_ipv4_ip_id_of_first_segment() {
    let mut segs = stream(&Seg::default(), 3, MSS);
    for (k, s) in segs.iter_mut().enumerate() {
        s.ip_id = 0x100 + k as u16;
    }
    let (out, _) = run(&segs);
    assert_eq!(ipv4_hdr(&out[0].bytes).identification, 0x100);
}

#[test]
fn rsc_arrival_order_preserved_with_interleaved_flows() {
    let a = stream(&Seg::default(), 3, 500);
    let b = stream(
        &Seg {
            sport: 6000,
            seq: 9_000_000,
            ..Seg::default()
        },
        3,
        500,
    );
    let segs = vec![
        a[0].clone(),
        b[0].clone(),
        a[1].clone(),
        b[1].clone(),
        a[2].clone(),
        b[2].clone(),
    ];
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].frames, vec![0, 2, 4]);
    assert_eq!(out[1].frames, vec![1, 3, 5]);
    assert_scu(&out[0], &a);
    assert_scu(&out[1], &b);
}

#[test]
fn rsc_vlan_tags_never_mixed_in_one_scu() {
    let mut segs = stream(
        &Seg {
            vlan: Some(5),
            ..Seg::default()
        },
        4,
        500,
    );
    segs[2].vlan = Some(6);
    segs[3].vlan = Some(6);
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].frames, vec![0, 1]);
    assert_eq!(out[1].frames, vec![2, 3]);
}

#[test]
fn rsc_flush_at_batch_end_nothing_held_across_batches() {
    let segs = stream(&Seg::default(), 6, MSS);
    let mut e = RscEngine::new(64).unwrap();
    let o1 = run_engine(&mut e, &segs[..3]);
    let o2 = run_engine(&mut e, &segs[3..]);
    assert_eq!((o1.len(), o2.len()), (1, 1));
    assert_scu(&o1[0], &segs[..3]);
    assert_scu(&o2[0], &segs[3..]);
}

#[test]
fn rsc_batch_larger_than_capacity_rejected() {
    let mut e = RscEngine::new(2).unwrap();
    let mut frames: Vec<Vec<u8>> = stream(&Seg::default(), 3, 10).iter().map(build).collect();
    let mut rs: Vec<RscSegment<'_>> = frames
        .iter_mut()
        .map(|f| {
            let lay = crate::wire::parse_frame(f, crate::wire::LenMode::Strict).unwrap();
            RscSegment {
                frame: f,
                layout: lay,
                checksum_ok: true,
                host_rsc: None,
                vlan_tci: 0,
            }
        })
        .collect();
    assert_eq!(
        e.process(&mut rs),
        Err(RscError::BatchTooLarge {
            len: 3,
            capacity: 2
        })
    );
}

#[test]
fn rsc_non_tcp_and_disabled_families_pass_through() {
    let udp = Seg {
        udp: true,
        payload: pattern(100, 1),
        ..Seg::default()
    };
    let v6 = stream(
        &Seg {
            v6: true,
            ..Seg::default()
        },
        3,
        100,
    );
    let mut segs = vec![udp.clone(), udp];
    segs.extend(v6);
    let mut e = RscEngine::new(16).unwrap();
    e.set_enabled(PerFamily {
        ipv4: true,
        ipv6: false,
    });
    let out = run_engine(&mut e, &segs);
    assert_eq!(out.len(), 5);
    assert!(out.iter().all(|i| !i.scu));
    assert_eq!(e.stats(), RscStats::default());
}

#[test]
fn rsc_exception_1_flow_table_full_indicates_new_flow_alone() {
    // MAX_FLOWS + 1 flows, two segments each, round robin: the table holds the first
    // MAX_FLOWS (all recently active, none evicted), the extra flow's segments go alone.
    let n = MAX_FLOWS + 1;
    let flows: Vec<Vec<Seg>> = (0..n)
        .map(|f| {
            stream(
                &Seg {
                    sport: 1000 + f as u16,
                    ..Seg::default()
                },
                2,
                100,
            )
        })
        .collect();
    let mut segs = Vec::new();
    for k in 0..2 {
        for f in &flows {
            segs.push(f[k].clone());
        }
    }
    let (out, st) = run(&segs);
    assert_eq!(out.iter().filter(|i| i.scu).count(), MAX_FLOWS);
    assert_eq!(out.len(), MAX_FLOWS + 2);
    assert_eq!(st.coalesce_events as usize, MAX_FLOWS);
    assert_eq!(st.aborts, 2, "resource exceptions count as aborts");
}

#[test]
fn rsc_flow_table_evicts_stale_flows() {
    // MAX_FLOWS flows with one segment each that never come back, then a long stream: once
    // the stale SCUs are old enough they are finalized and the stream coalesces.
    let mut segs: Vec<Seg> = (0..MAX_FLOWS)
        .map(|f| Seg {
            sport: 2000 + f as u16,
            payload: pattern(10, 0),
            ..Seg::default()
        })
        .collect();
    let long = stream(&Seg::default(), 200, 100);
    segs.extend(long.iter().cloned());
    let (out, st) = run(&segs);
    let scus: Vec<&Ind> = out.iter().filter(|i| i.scu).collect();
    assert_eq!(scus.len(), 1);
    assert!(scus[0].frames.len() > 100, "{}", scus[0].frames.len());
    assert_eq!(st.aborts as usize, 200 - scus[0].frames.len());
}

#[test]
fn rsc_host_coalesced_frame_flushes_its_flow_first() {
    let segs = stream(&Seg::default(), 3, 500);
    let mut frames: Vec<Vec<u8>> = segs.iter().map(build).collect();
    let mut rs: Vec<RscSegment<'_>> = frames
        .iter_mut()
        .enumerate()
        .map(|(k, f)| {
            let lay = crate::wire::parse_frame(f, crate::wire::LenMode::Strict).unwrap();
            RscSegment {
                frame: f,
                layout: lay,
                checksum_ok: true,
                host_rsc: (k == 2).then_some(RscNblInfo {
                    coalesced_seg_count: 3,
                    dup_ack_count: 0,
                    timestamp_delta: None,
                }),
                vlan_tci: 0,
            }
        })
        .collect();
    let mut e = RscEngine::new(8).unwrap();
    let out = e.process(&mut rs).unwrap();
    assert_eq!(out.len(), 2);
    assert!(matches!(out[0], RscOutput::Scu(s) if s.head == 0 && s.frames == 2));
    assert_eq!(out[1], RscOutput::Single(2));
    // The host SCU is counted in the statistics too.
    assert_eq!(
        e.stats(),
        RscStats {
            coalesced_pkts: 2 + 3,
            coalesced_octets: 3 * 500,
            coalesce_events: 2,
            aborts: 0
        }
    );
}

// --- exceptions -------------------------------------------------------------------------------

/// Data stream with segment `bad` altered: returns the indications.
fn with_exception(
    n: usize,
    bad: usize,
    alter: impl Fn(&mut Seg),
) -> (Vec<Ind>, RscStats, Vec<Seg>) {
    let mut segs = stream(&Seg::default(), n, 500);
    alter(&mut segs[bad]);
    let (o, s) = run(&segs);
    (o, s, segs)
}

fn expect_alone(out: &[Ind], segs: &[Seg], bad: usize) {
    // SCU of the segments before, the exception alone, then a new SCU of those after.
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0].frames, (0..bad as u16).collect::<Vec<_>>());
    assert_scu(&out[0], &segs[..bad]);
    assert_eq!(out[1].frames, vec![bad as u16]);
    assert!(!out[1].scu);
    assert_eq!(
        out[2].frames,
        ((bad + 1) as u16..segs.len() as u16).collect::<Vec<_>>()
    );
}

#[test]
fn rsc_exception_2_bad_checksum_not_coalesced() {
    let (out, st, segs) = with_exception(5, 2, |s| s.bad_l4 = true);
    expect_alone(&out, &segs, 2);
    assert_eq!(st.aborts, 1);
    let (out, _, segs) = with_exception(5, 2, |s| s.bad_ip = true);
    expect_alone(&out, &segs, 2);
}

#[test]
fn rsc_exception_3_syn_not_coalesced() {
    let (out, st, segs) = with_exception(5, 2, |s| s.flags |= SYN);
    expect_alone(&out, &segs, 2);
    assert_eq!(st.aborts, 1);
}

#[test]
fn rsc_exception_3_fin_rst_urg_and_missing_ack_not_coalesced() {
    for f in [FIN | ACK, RST | ACK, URG | ACK, PSH] {
        let (out, _, segs) = with_exception(5, 2, |s| s.flags = f);
        expect_alone(&out, &segs, 2);
    }
}

#[test]
fn rsc_exception_4_options_other_than_timestamp_not_coalesced() {
    // SACK block, window scale, MSS.
    let sack = vec![1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    for opt in [sack, vec![1, 3, 3, 7], vec![2, 4, 5, 0xb4]] {
        let (out, st, segs) = with_exception(5, 2, |s| s.extra_opts = opt.clone());
        expect_alone(&out, &segs, 2);
        assert_eq!(st.aborts, 1);
    }
}

#[test]
fn rsc_exception_4_timestamp_with_nop_padding_variants_allowed() {
    // TS at offset 0 followed by two NOPs, and TS + EOL padding.
    let mut segs = stream(&Seg::default(), 3, 500);
    for (k, s) in segs.iter_mut().enumerate() {
        let mut o = vec![8, 10];
        o.extend_from_slice(&(10 + k as u32).to_be_bytes());
        o.extend_from_slice(&7u32.to_be_bytes());
        o.extend_from_slice(&[1, 1]);
        s.extra_opts = o;
    }
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_scu(&out[0], &segs);
    assert_eq!(out[0].rsc.unwrap().timestamp_delta, Some(2));
}

#[test]
fn rsc_exception_5_ipv4_options_not_coalesced() {
    let (out, st, segs) = with_exception(5, 2, |s| s.ip_options = vec![1, 1, 1, 0]);
    expect_alone(&out, &segs, 2);
    assert_eq!(st.aborts, 1);
}

#[test]
fn rsc_exception_5_ipv6_extension_headers_not_coalesced() {
    let mut segs = stream(
        &Seg {
            v6: true,
            ..Seg::default()
        },
        5,
        500,
    );
    segs[2].ext_header = true;
    let (out, st) = run(&segs);
    expect_alone(&out, &segs, 2);
    assert_eq!(st.aborts, 1);
}

#[test]
fn rsc_exception_6_ipv4_fragment_not_coalesced() {
    let (out, st, segs) = with_exception(5, 2, |s| s.mf = true);
    expect_alone(&out, &segs, 2);
    assert_eq!(st.aborts, 1);
}

#[test]
fn rsc_exception_7_datagram_length_starts_new_scu() {
    // 20 + 20 + 45 × 1448 = 65200 fits; the 46th segment would not.
    let segs = stream(&Seg::default(), 50, MSS);
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].frames.len(), 45);
    assert_eq!(out[1].frames.len(), 5);
    assert_scu(&out[0], &segs[..45]);
    assert_scu(&out[1], &segs[45..]);
    assert_eq!(st.aborts, 0, "exception 7 is not an abort");
}

#[test]
fn rsc_exception_7_ipv6_payload_length_bound() {
    // IPv6: 20 + n × 1448 ≤ 65535 → 45 segments.
    let segs = stream(
        &Seg {
            v6: true,
            ..Seg::default()
        },
        46,
        MSS,
    );
    let (out, _) = run(&segs);
    assert_eq!(out[0].frames.len(), 45);
}

#[test]
fn rsc_exception_8_ecn_change_starts_new_scu() {
    let mut segs = stream(&Seg::default(), 5, 500);
    for s in &mut segs[2..] {
        s.tos = 0x01; // ECT(1)
    }
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].frames, vec![0, 1]);
    assert_eq!(out[1].frames, vec![2, 3, 4]);
    assert_scu(&out[1], &segs[2..]);
    assert_eq!(st.aborts, 1);
    // TCP ECE / CWR changes too.
    for flag in [ECE, CWR] {
        let mut segs = stream(&Seg::default(), 4, 500);
        segs[2].flags |= flag;
        let (out, st) = run(&segs);
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].frames, vec![2]);
        assert_eq!(st.aborts, 2);
    }
}

#[test]
fn rsc_ce_marked_segments_coalesce_only_with_equal_codepoint() {
    let mut segs = stream(&Seg::default(), 4, 500);
    for s in &mut segs {
        s.tos = 0x03; // CE on all
    }
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_eq!(ipv4_hdr(&out[0].bytes).ecn.value(), 3);
}

// --- other conditions that start a new SCU ---------------------------------------------------------

#[test]
fn rsc_out_of_order_segment_starts_new_scu() {
    let mut segs = stream(&Seg::default(), 4, 500);
    segs.swap(2, 3);
    let (out, st) = run(&segs);
    assert_eq!(
        out.iter().map(|i| i.frames.clone()).collect::<Vec<_>>(),
        vec![vec![0, 1], vec![2], vec![3]]
    );
    assert_eq!(st.aborts, 0);
}

#[test]
fn rsc_retransmission_not_coalesced() {
    let mut segs = stream(&Seg::default(), 3, 500);
    segs.push(segs[1].clone());
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].frames, vec![3]);
}

#[test]
fn rsc_ack_going_backwards_starts_new_scu() {
    let mut segs = stream(
        &Seg {
            ack: 5000,
            ..Seg::default()
        },
        3,
        500,
    );
    segs[2].ack = 4000;
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 2);
}

#[test]
fn rsc_piggybacked_ack_coalesced_scu_carries_last_ack() {
    // Learn example 4: 3 data + 2 data with a higher ACK → one SCU.
    let mut segs = stream(&Seg::default(), 5, 500);
    for s in &mut segs[3..] {
        s.ack = 9999;
    }
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_eq!(tcp_hdr(&out[0].bytes).acknowledgment_number, 9999);
    assert_scu(&out[0], &segs);
}

#[test]
fn rsc_df_or_dscp_change_starts_new_scu() {
    let (out, st, _) = with_exception(4, 2, |s| s.df = false);
    assert_eq!(out.len(), 3);
    assert_eq!(st.aborts, 0);
    let (out, _, _) = with_exception(4, 2, |s| s.tos = 0x10 << 2);
    assert_eq!(out.len(), 3);
    let mut segs = stream(
        &Seg {
            v6: true,
            ..Seg::default()
        },
        4,
        500,
    );
    segs[3].flow_label = 77;
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 2);
}

// --- pure ACKs ------------------------------------------------------------------------------------

fn pure_ack(seq: u32, ack: u32, win: u16) -> Seg {
    Seg {
        seq,
        ack,
        win,
        ..Seg::default()
    }
}

#[test]
fn rsc_window_updates_absorbed_into_scu() {
    // Learn example 3: 5 data + 2 window updates → one SCU, WND of the last update.
    let mut segs = stream(&Seg::default(), 5, 500);
    let nxt = segs[0].seq + 2500;
    segs.push(pure_ack(nxt, 77, 1000));
    segs.push(pure_ack(nxt, 77, 2000));
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].frames.len(), 7);
    assert_eq!(tcp_hdr(&out[0].bytes).window_size, 2000);
    assert_scu(&out[0], &segs);
    assert_eq!(
        st.coalesced_pkts, 5,
        "window updates are not counted as coalesced segments"
    );
}

#[test]
fn rsc_dup_ack_never_coalesced_indicated_alone() {
    // Learn example 2 shape: 5 data + dup ACK + 2 data → 3 indications in arrival order.
    let mut segs = stream(&Seg::default(), 5, 500);
    let nxt = segs[0].seq + 2500;
    segs.push(pure_ack(nxt, 77, 512)); // same ACK, same WND: duplicate ACK
    segs.extend(stream(
        &Seg {
            seq: nxt,
            ..Seg::default()
        },
        2,
        500,
    ));
    let (out, st) = run(&segs);
    assert_eq!(
        out.iter().map(|i| i.frames.clone()).collect::<Vec<_>>(),
        vec![vec![0, 1, 2, 3, 4], vec![5], vec![6, 7]]
    );
    assert!(!out[1].scu && out[1].rsc.is_none());
    assert_eq!(out[1].bytes, build(&segs[5]));
    assert_eq!(st.aborts, 0);
}

#[test]
fn rsc_dup_ack_count_is_zero_on_every_scu() {
    // Several dup ACKs in a row after data, then more data: DupAckCount reported is the real
    // number of duplicate ACKs folded into each SCU — always 0 because none ever is.
    let mut segs = stream(&Seg::default(), 3, 500);
    let nxt = segs[0].seq + 1500;
    for _ in 0..3 {
        segs.push(pure_ack(nxt, 77, 512));
    }
    segs.extend(stream(
        &Seg {
            seq: nxt,
            ..Seg::default()
        },
        3,
        500,
    ));
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 5);
    for i in &out {
        if let Some(r) = i.rsc {
            assert_eq!(r.dup_ack_count, 0);
        }
    }
    assert_eq!(out.iter().filter(|i| i.scu).count(), 2);
}

#[test]
fn rsc_cumulative_pure_acks_never_coalesced_together() {
    let segs = vec![
        pure_ack(1000, 100, 512),
        pure_ack(1000, 200, 512),
        pure_ack(1000, 300, 512),
    ];
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|i| !i.scu));
    assert_eq!(st, RscStats::default());
}

#[test]
fn rsc_data_after_pure_ack_starts_new_scu() {
    // H.LEN > 0 is required to append data.
    let mut segs = vec![pure_ack(1000, 77, 512)];
    segs.extend(stream(
        &Seg {
            seq: 1000,
            ..Seg::default()
        },
        2,
        500,
    ));
    let (out, _) = run(&segs);
    assert_eq!(
        out.iter().map(|i| i.frames.clone()).collect::<Vec<_>>(),
        vec![vec![0], vec![1, 2]]
    );
}

#[test]
fn rsc_pure_ack_head_absorbs_window_updates_without_seg_count() {
    let segs = vec![
        pure_ack(1000, 77, 512),
        pure_ack(1000, 77, 600),
        pure_ack(1000, 77, 700),
    ];
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].rsc.unwrap().coalesced_seg_count, 0);
    assert_eq!(tcp_hdr(&out[0].bytes).window_size, 700);
    assert!(oracle_checksums_ok(&out[0].bytes).1);
    assert_eq!(st.coalesce_events, 0);
}

// --- timestamps ------------------------------------------------------------------------------------

#[test]
fn rsc_timestamps_latest_carried_and_delta_reported() {
    let mut segs = stream(&Seg::default(), 4, 500);
    for (k, s) in segs.iter_mut().enumerate() {
        s.ts = Some(((u32::MAX - 1).wrapping_add(k as u32), 50 + k as u32)); // wraps around 2^32
    }
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 1);
    let b = &out[0].bytes;
    let ts = &b[54 + 4..54 + 12];
    assert_eq!(u32::from_be_bytes(ts[..4].try_into().unwrap()), 1);
    assert_eq!(u32::from_be_bytes(ts[4..].try_into().unwrap()), 53);
    assert_eq!(out[0].rsc.unwrap().timestamp_delta, Some(3));
    assert_scu(&out[0], &segs);
}

#[test]
fn rsc_timestamp_going_backwards_starts_new_scu() {
    let mut segs = stream(&Seg::default(), 4, 500);
    for (k, s) in segs.iter_mut().enumerate() {
        s.ts = Some((if k == 2 { 5 } else { 10 + k as u32 }, 1));
    }
    let (out, _) = run(&segs);
    assert_eq!(
        out.iter().map(|i| i.frames.len()).collect::<Vec<_>>(),
        vec![2, 2]
    );
}

#[test]
fn rsc_timestamp_presence_change_starts_new_scu() {
    let mut segs = stream(&Seg::default(), 4, 500);
    segs[2].ts = Some((1, 1));
    segs[3].ts = Some((2, 1));
    let (out, _) = run(&segs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].rsc.unwrap().timestamp_delta, Some(1));
    assert_eq!(out[0].rsc.unwrap().timestamp_delta, None);
}

// --- statistics ------------------------------------------------------------------------------------

#[test]
fn rsc_statistics_counting_rules() {
    // 3-segment SCU, a SYN (abort), a lone segment (no stats), 2-segment SCU.
    let mut segs = stream(&Seg::default(), 3, 100);
    segs.push(Seg {
        sport: 7,
        flags: SYN,
        ..Seg::default()
    });
    segs.push(Seg {
        sport: 8,
        payload: pattern(50, 0),
        ..Seg::default()
    });
    segs.extend(stream(
        &Seg {
            sport: 9,
            ..Seg::default()
        },
        2,
        70,
    ));
    let (out, st) = run(&segs);
    assert_eq!(out.len(), 4);
    assert_eq!(
        st,
        RscStats {
            coalesced_pkts: 5,
            coalesced_octets: 300 + 140,
            coalesce_events: 2,
            aborts: 1
        }
    );
}

#[test]
fn rsc_timestamp_offset_parser_rules() {
    let mut h = vec![0u8; 20];
    assert_eq!(timestamp_offset(&h), Some(0));
    h.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    assert_eq!(timestamp_offset(&h), Some(24));
    let mut h2 = vec![0u8; 20];
    h2.extend_from_slice(&[8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]);
    assert_eq!(timestamp_offset(&h2), Some(22));
    let mut bad = vec![0u8; 20];
    bad.extend_from_slice(&[8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1]); // junk after EOL
    assert_eq!(timestamp_offset(&bad), None);
    let mut two = vec![0u8; 20];
    two.extend_from_slice(&[
        8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 1, 1,
    ]);
    assert_eq!(timestamp_offset(&two), None);
    let mut trunc = vec![0u8; 20];
    trunc.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1]);
    assert_eq!(timestamp_offset(&trunc), None);
}
