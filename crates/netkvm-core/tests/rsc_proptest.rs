//! Property tests for RX classification + software RSC:
//! * a random large send segmented by core-a's software LSO (`tx`) and coalesced again by
//!   the engine gives back the original payload and the headers an ideal receiver would see;
//! * random flows with reorders, duplicate ACKs, window updates, flag / option / ECN /
//!   timestamp changes never coalesce across a rule break (checked by an independent,
//!   declarative oracle over the engine's output), and every SCU verifies with etherparse.

mod core_b_support;

use core_b_support::*;
use netkvm_core::offload::{Features, PerFamily, RscPath, RxChecksumConfig};
use netkvm_core::params::PriorityVlan;
use netkvm_core::rsc::{RscEngine, RscOutput, RscSegment};
use netkvm_core::rx::{classify, RxConfig, RxFrame, RxInfo, ScuChecksum};
use netkvm_core::tx::{
    self, DeviceCaps, Encapsulation, LsoRequest, LsoVersion, SendInfo, TxAction, TxContext,
    TxLimits, TxOffloadConfig,
};
use netkvm_core::wire::virtio::VirtioNetHdr;
use proptest::prelude::*;

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
        priority_vlan: PriorityVlan {
            priority: true,
            vlan: true,
        },
        vlan_id: 0,
        scu_checksum: ScuChecksum::MarkValueInvalid,
    }
}

/// One indication: bytes and the frames it was built from.
#[derive(Debug)]
struct Ind {
    bytes: Vec<u8>,
    frames: Vec<usize>,
    seg_count: Option<u16>,
    dup_acks: u16,
}

/// Classifies and coalesces `frames` as one batch; materializes the indications.
fn coalesce(mut frames: Vec<Vec<u8>>) -> Vec<Ind> {
    let infos: Vec<RxInfo> = frames
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
        .collect();
    let mut engine = RscEngine::new(frames.len().max(1)).unwrap();
    let (outputs, parts) = {
        let mut segs: Vec<RscSegment<'_>> = frames
            .iter_mut()
            .zip(&infos)
            .map(|(f, i)| RscSegment::from_rx(f, i))
            .collect();
        let outputs: Vec<RscOutput> = engine.process(&mut segs).unwrap().to_vec();
        let parts: Vec<Vec<(usize, usize, usize)>> = outputs
            .iter()
            .map(|o| match o {
                RscOutput::Scu(s) => engine
                    .parts(s)
                    .map(|p| (usize::from(p.frame), p.offset as usize, p.len as usize))
                    .collect(),
                RscOutput::Single(i) => vec![(usize::from(*i), 0, usize::MAX)],
            })
            .collect();
        (outputs, parts)
    };
    let mut seen = vec![0; frames.len()];
    let mut out = Vec::new();
    for (o, ps) in outputs.iter().zip(parts) {
        let mut bytes = Vec::new();
        let mut fr = Vec::new();
        for (j, off, len) in ps {
            seen[j] += 1;
            let d = &frames[j][infos[j].data_offset..];
            let len = len.min(d.len() - off);
            bytes.extend_from_slice(&d[off..off + len]);
            fr.push(j);
        }
        let (seg_count, dup_acks) = match o {
            RscOutput::Scu(s) => (Some(s.rsc.coalesced_seg_count), s.rsc.dup_ack_count),
            RscOutput::Single(_) => (None, 0),
        };
        out.push(Ind {
            bytes,
            frames: fr,
            seg_count,
            dup_acks,
        });
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "each frame exactly once: {seen:?}"
    );
    out
}

struct Tcp {
    seq: u32,
    ack: u32,
    win: u16,
    flags: u16,
    ts: Option<(u32, u32)>,
    opts_other: bool,
    payload: Vec<u8>,
    ecn: u8,
    ttl: u8,
    ports: (u16, u16),
}

fn parse(frame: &[u8]) -> Tcp {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let (ecn, ttl) = match &p.net {
        Some(etherparse::NetSlice::Ipv4(ip)) => (ip.header().ecn().value(), ip.header().ttl()),
        Some(etherparse::NetSlice::Ipv6(ip)) => {
            (ip.header().traffic_class() & 3, ip.header().hop_limit())
        }
        _ => panic!("not IP"),
    };
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    let h = t.to_header();
    let mut ts = None;
    let mut opts_other = false;
    for o in h.options_iterator() {
        match o.unwrap() {
            etherparse::TcpOptionElement::Timestamp(a, b) => ts = Some((a, b)),
            etherparse::TcpOptionElement::Noop => {}
            _ => opts_other = true,
        }
    }
    let flags = u16::from(h.fin)
        | u16::from(h.syn) << 1
        | u16::from(h.rst) << 2
        | u16::from(h.psh) << 3
        | u16::from(h.ack) << 4
        | u16::from(h.urg) << 5
        | u16::from(h.ece) << 6
        | u16::from(h.cwr) << 7;
    Tcp {
        seq: h.sequence_number,
        ack: h.acknowledgment_number,
        win: h.window_size,
        flags,
        ts,
        opts_other,
        payload: t.payload().to_vec(),
        ecn,
        ttl,
        ports: (h.source_port, h.destination_port),
    }
}

// ------------------------------------------------------------------------------------------------
// Software LSO → software RSC round trip
// ------------------------------------------------------------------------------------------------

/// An NDIS LSOv2 template: lengths 0 / pseudo-header sum without the length (spec §3.3).
fn lso_template(s: &Seg) -> Vec<u8> {
    let mut f = build(s);
    let (l3, l4) = if s.v6 { (14, 54) } else { (14, 34) };
    let mut ps = Vec::new();
    if s.v6 {
        f[l3 + 4..l3 + 6].copy_from_slice(&[0, 0]);
        ps.extend_from_slice(&s.src6);
        ps.extend_from_slice(&s.dst6);
        ps.extend_from_slice(&[0, 0, 0, 6]);
    } else {
        f[l3 + 2..l3 + 4].copy_from_slice(&[0, 0]);
        f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        ps.extend_from_slice(&s.src4);
        ps.extend_from_slice(&s.dst4);
        ps.extend_from_slice(&[0, 6]);
    }
    f[l4 + 16..l4 + 18].copy_from_slice(&naive_sum(&ps).to_be_bytes());
    f
}

fn software_lso(s: &Seg, mss: u32) -> Vec<Vec<u8>> {
    let template = lso_template(s);
    let ctx = TxContext {
        config: TxOffloadConfig::ALL,
        encap: Encapsulation::ETHERNET,
        caps: DeviceCaps::default(), // no CSUM / TSO: software segmentation
        limits: TxLimits {
            mtu: 1500,
            lso_max_size: 63488,
            uso_max_size: 34304,
        },
    };
    let info = SendInfo {
        lso: Some(LsoRequest {
            version: LsoVersion::V2,
            mss,
            tcp_header_offset: if s.v6 { 54 } else { 34 },
            ipv6: s.v6,
        }),
        ..SendInfo::default()
    };
    let frags: [&[u8]; 1] = [&template];
    let mut hdr = vec![0u8; tx::TX_HEADER_BUF_LEN];
    let plan = tx::plan(&ctx, &info, &frags, &mut hdr).expect("plan");
    if let TxAction::Device = plan.action {
        // A one-segment send leaves as one frame: header copy + rest of the original.
        assert!(
            plan.vnet_hdr.flags.is_empty(),
            "no device offload without CSUM: {:?}",
            plan.vnet_hdr
        );
        let mut f = hdr[..plan.header_buf_len].to_vec();
        f.extend_from_slice(&template[plan.header_len..]);
        return vec![f];
    }
    assert!(
        matches!(plan.action, TxAction::Segment),
        "{:?}",
        plan.action
    );
    let mut segs = Vec::new();
    let mut seg = plan.segmenter(&hdr, &frags);
    let mut buf = vec![0u8; plan.max_segment_len()];
    while let Some(r) = seg.next_into(&mut buf) {
        let r = r.expect("segment");
        segs.push(buf[..r.len].to_vec());
    }
    segs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn rsc_roundtrip_software_lso_then_coalesce(
        v6 in any::<bool>(),
        len in 1usize..=60000,
        mss in 536u32..=1400,
        ts in proptest::option::of((any::<u32>(), any::<u32>())),
        psh in any::<bool>(),
        fin in any::<bool>(),
        seq in any::<u32>(),
        ip_id in 0u16..0x7000,
        seed in any::<u32>(),
    ) {
        let flags = ACK | if psh { PSH } else { 0 } | if fin { FIN } else { 0 };
        let template = Seg { v6, ts, flags, seq, ip_id, payload: pattern(len, seed), ..Seg::default() };
        let segments = software_lso(&template, mss);
        let n = segments.len();
        prop_assert_eq!(n, len.div_ceil(mss as usize).max(1));
        for s in &segments {
            prop_assert_eq!(oracle_checksums_ok(s), (true, true));
        }
        let out = coalesce(segments);
        // Payload back, in order.
        let all: Vec<u8> = out.iter().flat_map(|i| parse(&i.bytes).payload).collect();
        prop_assert_eq!(&all, &template.payload);
        // Headers: the ideal receiver's view, built independently.
        let (scu_segs, tail_alone) = if fin && n > 1 { (n - 1, true) } else { (n, false) };
        let scu_len = if tail_alone { scu_segs * mss as usize } else { len };
        let scu_flags = if tail_alone { ACK } else { flags };
        let ideal = build(&Seg { flags: scu_flags, payload: template.payload[..scu_len].to_vec(), ..template.clone() });
        prop_assert_eq!(&out[0].bytes, &ideal, "SCU == ideal frame");
        prop_assert_eq!(out[0].seg_count, if scu_segs > 1 { Some(scu_segs as u16) } else { None });
        prop_assert_eq!(out.len(), if tail_alone { 2 } else { 1 });
        if tail_alone {
            let last = build(&Seg {
                seq: seq.wrapping_add(scu_len as u32),
                ip_id: ip_id + (n - 1) as u16,
                payload: template.payload[scu_len..].to_vec(),
                ..template.clone()
            });
            prop_assert_eq!(&out[1].bytes, &last);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Random flows with rule breaks
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Event {
    Data(u16),
    Reorder,
    DupAck,
    WindowUpdate(u16),
    Flag(u16),
    Sack,
    EcnChange,
    TsBack,
    BadChecksum,
    Retransmit,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => (1u16..1400).prop_map(Event::Data),
        1 => Just(Event::Reorder),
        1 => Just(Event::DupAck),
        1 => (1u16..60000).prop_map(Event::WindowUpdate),
        1 => prop::sample::select(vec![FIN, SYN, RST, URG, ECE, CWR, PSH]).prop_map(Event::Flag),
        1 => Just(Event::Sack),
        1 => Just(Event::EcnChange),
        1 => Just(Event::TsBack),
        1 => Just(Event::BadChecksum),
        1 => Just(Event::Retransmit),
    ]
}

/// Turns per-flow events into segments (interleaved round robin over flows).
fn scenario(flows: &[(bool, bool, Vec<Event>)]) -> (Vec<Seg>, Vec<usize>) {
    let mut per_flow: Vec<Vec<Seg>> = Vec::new();
    for (f, (v6, ts_on, evs)) in flows.iter().enumerate() {
        let base = Seg {
            v6: *v6,
            sport: 3000 + f as u16,
            seq: 1_000_000 * (f as u32 + 1),
            ..Seg::default()
        };
        let mut nxt = base.seq;
        let mut ts = 1000u32;
        let mut tos = 0u8;
        let mut win = base.win;
        let mut out: Vec<Seg> = Vec::new();
        for (k, e) in evs.iter().enumerate() {
            ts += 1;
            let tsopt = if *ts_on { Some((ts, 5)) } else { None };
            let data = |len: u16, nxt: u32| Seg {
                seq: nxt,
                ts: tsopt,
                tos,
                win,
                payload: pattern(usize::from(len), k as u32),
                ..base.clone()
            };
            match e {
                Event::Data(len) => {
                    out.push(data(*len, nxt));
                    nxt = nxt.wrapping_add(u32::from(*len));
                }
                Event::Reorder => {
                    let n = out.len();
                    if n >= 2 {
                        out.swap(n - 1, n - 2);
                    }
                }
                Event::DupAck => out.push(Seg {
                    seq: nxt,
                    ts: tsopt,
                    tos,
                    win,
                    ..base.clone()
                }),
                Event::WindowUpdate(w) => {
                    win = *w;
                    out.push(Seg {
                        seq: nxt,
                        ts: tsopt,
                        tos,
                        win,
                        ..base.clone()
                    });
                }
                Event::Flag(fl) => {
                    let mut s = data(100, nxt);
                    s.flags |= fl;
                    out.push(s);
                    nxt = nxt.wrapping_add(100 + u32::from(fl & (SYN | FIN) != 0));
                }
                Event::Sack => {
                    let mut s = data(100, nxt);
                    s.extra_opts = vec![1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
                    out.push(s);
                    nxt = nxt.wrapping_add(100);
                }
                Event::EcnChange => tos ^= 0x02,
                Event::TsBack => ts = ts.wrapping_sub(10),
                Event::BadChecksum => {
                    let mut s = data(100, nxt);
                    s.bad_l4 = true;
                    out.push(s);
                    nxt = nxt.wrapping_add(100);
                }
                Event::Retransmit => {
                    if let Some(s) = out.iter().rev().find(|s| !s.payload.is_empty()).cloned() {
                        out.push(s);
                    }
                }
            }
        }
        per_flow.push(out);
    }
    let mut segs = Vec::new();
    let mut flow_of = Vec::new();
    let mut idx = vec![0; per_flow.len()];
    loop {
        let mut any = false;
        for (f, list) in per_flow.iter().enumerate() {
            if let Some(s) = list.get(idx[f]) {
                segs.push(s.clone());
                flow_of.push(f);
                idx[f] += 1;
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    (segs, flow_of)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn rsc_random_flows_never_coalesce_across_rule_breaks(
        flows in prop::collection::vec((any::<bool>(), any::<bool>(), prop::collection::vec(event(), 1..40)), 1..4)
    ) {
        let (segs, flow_of) = scenario(&flows);
        prop_assume!(!segs.is_empty());
        let frames: Vec<Vec<u8>> = segs.iter().map(build).collect();
        let orig: Vec<Tcp> = frames.iter().map(|f| parse(f)).collect();
        let out = coalesce(frames);
        let mut last_head = vec![None::<usize>; flows.len()];
        for ind in &out {
            // Per-flow arrival order of indications.
            let f = flow_of[ind.frames[0]];
            if let Some(prev) = last_head[f] {
                prop_assert!(ind.frames[0] > prev);
            }
            last_head[f] = Some(ind.frames[0]);
            prop_assert!(ind.frames.windows(2).all(|w| w[0] < w[1]), "parts in arrival order");
            if ind.frames.len() == 1 {
                prop_assert_eq!(ind.seg_count, None);
                continue;
            }
            // An SCU: every rule, checked on the original segments.
            prop_assert_eq!(ind.dup_acks, 0);
            let parts: Vec<&Tcp> = ind.frames.iter().map(|&j| &orig[j]).collect();
            let head = parts[0];
            let mut nxt = head.seq.wrapping_add(head.payload.len() as u32);
            let mut ack = head.ack;
            let mut wnd = head.win;
            let mut ts_last = head.ts.map(|t| t.0);
            let mut psh = false;
            let mut min_ttl = 255;
            let mut data = 0u16;
            for (k, p) in parts.iter().enumerate() {
                prop_assert!(ind.frames.iter().all(|&j| flow_of[j] == f), "one flow per SCU");
                prop_assert_eq!(p.flags & !(ACK | PSH | ECE | CWR), 0, "exception 3");
                prop_assert!(p.flags & ACK != 0);
                prop_assert!(!p.opts_other, "exception 4");
                prop_assert_eq!(p.ecn, head.ecn, "exception 8 (IP ECN)");
                prop_assert_eq!(p.flags & (ECE | CWR), head.flags & (ECE | CWR), "exception 8 (ECE/CWR)");
                prop_assert_eq!(p.ts.is_some(), head.ts.is_some());
                prop_assert_eq!(p.ports, head.ports);
                if let (Some((v, _)), Some(last)) = (p.ts, ts_last) {
                    prop_assert!(v.wrapping_sub(last) as i32 >= 0, "TSval monotonic");
                    ts_last = Some(v);
                }
                psh |= p.flags & PSH != 0;
                min_ttl = min_ttl.min(p.ttl);
                if k == 0 {
                    data += u16::from(!p.payload.is_empty());
                    continue;
                }
                if p.payload.is_empty() {
                    // Only window updates may be absorbed; never a duplicate ACK.
                    prop_assert_eq!(p.seq, nxt);
                    prop_assert_eq!(p.ack, ack);
                    prop_assert!(p.win != wnd, "a duplicate ACK was coalesced");
                } else {
                    prop_assert_eq!(p.seq, nxt, "in-order data only");
                    prop_assert!(!head.payload.is_empty(), "data appended to a pure ACK");
                    prop_assert!(p.ack.wrapping_sub(ack) as i32 >= 0);
                    nxt = nxt.wrapping_add(p.payload.len() as u32);
                    ack = p.ack;
                    data += 1;
                }
                wnd = p.win;
            }
            // The SCU itself.
            prop_assert_eq!(oracle_checksums_ok(&ind.bytes), (true, true));
            let scu = parse(&ind.bytes);
            let payload: Vec<u8> = parts.iter().flat_map(|p| p.payload.clone()).collect();
            prop_assert_eq!(&scu.payload, &payload);
            prop_assert_eq!((scu.seq, scu.ack, scu.win), (head.seq, ack, wnd));
            prop_assert_eq!(scu.flags & PSH != 0, psh);
            prop_assert_eq!(scu.ttl, min_ttl);
            prop_assert_eq!(scu.ts.map(|t| t.0), ts_last);
            prop_assert_eq!(ind.seg_count, Some(data));
            prop_assert!(ind.bytes.len() - 14 <= 65535);
        }
    }
}
