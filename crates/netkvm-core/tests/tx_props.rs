//! Property tests for software LSO/USO and the device-offload plan: every segment verifies
//! with an independent oracle (etherparse), payloads concatenate to the original, and the
//! header rules of spec §2.3/§3.3 hold; the device plan carries the pseudo-header Linux GSO
//! expects (computed by hand from the addresses).

mod tx_util;

use netkvm_core::tx::{Ieee8021Q, LsoRequest, LsoVersion, SendInfo, TxAction, UsoRequest};
use netkvm_core::wire::virtio::{GsoType, HdrFlags};
use proptest::prelude::*;
use tx_util::*;

#[derive(Clone, Debug)]
struct Case {
    spec: Spec,
    mss: u32,
    vlan: Option<u16>,
    cuts: Vec<usize>,
    v1: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            0usize..=2,
            any::<bool>(),
            any::<bool>(),
        ),
        1usize..=20_000,
        1u32..=1400,
        // Bias toward the IP ID wrap points of the LSO (0x7FFF) and USO (0xFFFF) rules.
        prop_oneof![any::<u16>(), 0x7FF0u16..=0x7FFF, 0xFFF0u16..=0xFFFF],
        any::<u32>(),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::option::of(0u16..4095),
        proptest::collection::vec(0usize..21_000, 0..6),
        any::<bool>(),
    )
        .prop_map(
            |((v6, udp, ip_opts, ext, ts), len, mss, id, seq, (psh, fin, cwr), vlan, cuts, v1)| {
                let tcp_flags = 0x10
                    | if psh { 0x08 } else { 0 }
                    | if fin { 0x01 } else { 0 }
                    | if cwr { 0x80 } else { 0 };
                let spec = Spec {
                    v6,
                    udp,
                    ip_opts: if v6 { 0 } else { ip_opts * 4 },
                    ext: v6 && ext,
                    tcp_opts: if ts && !udp {
                        ts_opts(id as u32, seq)
                    } else {
                        Vec::new()
                    },
                    payload: payload(len, seq),
                    tcp_flags,
                    seq,
                    id,
                    zero_len: !v1 || udp,
                    pseudo: Pseudo::NoLen,
                    ..Default::default()
                };
                Case {
                    spec,
                    mss,
                    vlan,
                    cuts,
                    v1: v1 && !v6 && !udp,
                }
            },
        )
}

fn info(c: &Case) -> SendInfo {
    let s = &c.spec;
    let off = s.l4_offset() as u16;
    let mut i = if s.udp {
        SendInfo {
            uso: Some(UsoRequest {
                mss: c.mss,
                udp_header_offset: off,
                ipv6: s.v6,
            }),
            ..Default::default()
        }
    } else {
        let version = if c.v1 { LsoVersion::V1 } else { LsoVersion::V2 };
        SendInfo {
            lso: Some(LsoRequest {
                version,
                mss: c.mss,
                tcp_header_offset: off,
                ipv6: s.v6,
            }),
            ..Default::default()
        }
    };
    i.ieee8021q = c.vlan.map(|v| Ieee8021Q {
        priority: 0,
        cfi: false,
        vlan_id: v,
    });
    i
}

fn expected_id(c: &Case, i: usize) -> u16 {
    let step = c.spec.id.wrapping_add(i as u16);
    if c.spec.udp {
        step
    } else {
        (c.spec.id & 0x8000) | (step & 0x7FFF)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn software_segments_verify_and_follow_the_rules(c in case()) {
        let s = &c.spec;
        let f = s.build();
        let frags = split(&f, &c.cuts);
        let (p, hb) = run(&ctx_bare(), &info(&c), &frags).unwrap();
        let mss = c.mss as usize;
        let n = s.payload.len().div_ceil(mss);
        prop_assert_eq!(p.segments as usize, n);
        if n == 1 {
            prop_assert_eq!(p.action, TxAction::Device);
            let seen = verify_wire(&device_wire(&p, &hb, &f), false);
            prop_assert_eq!(&seen.payload, &s.payload);
            return Ok(());
        }
        prop_assert_eq!(p.action, TxAction::Segment);
        let segs = segments(&p, &hb, &frags);
        prop_assert_eq!(segs.len(), n);
        let mut all = Vec::new();
        for (i, (meta, bytes)) in segs.iter().enumerate() {
            let seen = verify_wire(bytes, false);
            let last = i + 1 == n;
            prop_assert_eq!(meta.payload_len, if last { s.payload.len() - mss * (n - 1) } else { mss });
            prop_assert_eq!(meta.vnet_hdr.flags, HdrFlags::empty());
            prop_assert_eq!(seen.vlan, c.vlan);
            if !s.v6 {
                prop_assert_eq!(seen.ip_id, Some(expected_id(&c, i)));
                prop_assert_eq!(seen.ip_options.len(), s.ip_opts);
            }
            if let Some(t) = seen.tcp {
                prop_assert_eq!(t.sequence_number, s.seq.wrapping_add((mss * i) as u32));
                prop_assert_eq!(t.psh, last && s.tcp_flags & 0x08 != 0);
                prop_assert_eq!(t.fin, last && s.tcp_flags & 0x01 != 0);
                prop_assert_eq!(t.cwr, i == 0 && s.tcp_flags & 0x80 != 0);
                prop_assert_eq!(t.options.as_slice(), &s.tcp_opts[..]);
            }
            all.extend_from_slice(&seen.payload);
        }
        prop_assert_eq!(all, s.payload.clone());
        // The zero-copy form produces the same bytes on the wire.
        let zc = segments_zero_copy(&p, &hb, &frags, &f);
        prop_assert_eq!(zc.len(), segs.len());
        for ((a, x), (b, y)) in segs.iter().zip(&zc) {
            prop_assert_eq!(x, y);
            prop_assert_eq!((a.payload_len, a.payload_offset, a.index, a.last), (b.payload_len, b.payload_offset, b.index, b.last));
        }
    }

    #[test]
    fn software_segments_with_device_checksum_complete_to_valid_frames(c in case()) {
        let s = &c.spec;
        let f = s.build();
        let frags = split(&f, &c.cuts);
        let (p, hb) = run(&ctx_csum_only(), &info(&c), &frags).unwrap();
        if p.action != TxAction::Segment {
            return Ok(());
        }
        let mut all = Vec::new();
        for (m, mut b) in segments_zero_copy(&p, &hb, &frags, &f) {
            prop_assert_eq!(m.vnet_hdr.flags, HdrFlags::NEEDS_CSUM);
            complete_partial(&mut b, &m.vnet_hdr, s.udp);
            all.extend(verify_wire(&b, false).payload);
        }
        prop_assert_eq!(all, s.payload.clone());
    }

    #[test]
    fn device_plan_pseudo_header_is_what_linux_gso_expects(c in case()) {
        let s = &c.spec;
        let f = s.build();
        let frags = split(&f, &c.cuts);
        let mut ctx = ctx_all();
        ctx.caps.tso_ecn = true;
        let (p, hb) = run(&ctx, &info(&c), &frags).unwrap();
        let tag = if c.vlan.is_some() { 4 } else { 0 };
        let l4 = s.l4_offset() + tag;
        let l4_len = s.l4_header_len() + s.payload.len();
        prop_assert_eq!(p.action, TxAction::Device);
        let csum_at = l4 + if s.udp { 6 } else { 16 };
        let field = u16::from_be_bytes([hb[csum_at], hb[csum_at + 1]]);
        if p.segments > 1 {
            let h = p.vnet_hdr;
            prop_assert_eq!(h.flags, HdrFlags::NEEDS_CSUM);
            prop_assert_eq!(h.gso_type, match (s.udp, s.v6) {
                (true, _) => GsoType::UdpL4,
                (false, false) => GsoType::TcpV4,
                (false, true) => GsoType::TcpV6,
            });
            prop_assert_eq!(h.gso_size as u32, c.mss);
            prop_assert_eq!(h.csum_start as usize, l4);
            prop_assert_eq!(h.hdr_len as usize, s.headers_len() + tag);
            prop_assert_eq!(field, linux_gso_pseudo(s, l4_len));
            // The IP length fields describe the whole GSO frame.
            let l3 = s.l2_len() + tag;
            let ip_len = if s.v6 {
                u16::from_be_bytes([hb[l3 + 4], hb[l3 + 5]]) as usize + 40
            } else {
                u16::from_be_bytes([hb[l3 + 2], hb[l3 + 3]]) as usize
            };
            prop_assert_eq!(ip_len, s.l3_header_len() + l4_len);
        } else {
            // One segment: a complete frame with a partial checksum over the full length.
            prop_assert_eq!(field, linux_gso_pseudo(s, l4_len));
            prop_assert_eq!(p.vnet_hdr.gso_type, GsoType::None);
        }
    }
}
