//! One test per transmit rule (spec §2 USO, §3 LSO, §4 checksum, §7 virtio; testbed §8).

mod tx_util;

use netkvm_core::tx::{
    self, ChecksumRequest, Ieee8021Q, LsoRequest, LsoVersion, Offload, SendInfo, TxAction, TxError,
    UsoRequest,
};
use netkvm_core::wire::virtio::{GsoType, HdrFlags};
use netkvm_core::wire::{parse_frame, LenMode};
use tx_util::*;

fn lso2(spec: &Spec, mss: u32) -> SendInfo {
    SendInfo {
        lso: Some(LsoRequest {
            version: LsoVersion::V2,
            mss,
            tcp_header_offset: spec.l4_offset() as u16,
            ipv6: spec.v6,
        }),
        ..Default::default()
    }
}

fn uso(spec: &Spec, mss: u32) -> SendInfo {
    SendInfo {
        uso: Some(UsoRequest {
            mss,
            udp_header_offset: spec.l4_offset() as u16,
            ipv6: spec.v6,
        }),
        ..Default::default()
    }
}

fn cso(spec: &Spec) -> SendInfo {
    SendInfo {
        checksum: ChecksumRequest {
            is_ipv4: !spec.v6,
            is_ipv6: spec.v6,
            tcp: !spec.udp,
            udp: spec.udp,
            ip_header: !spec.v6,
            tcp_header_offset: if spec.udp { 0 } else { spec.l4_offset() as u16 },
        },
        ..Default::default()
    }
}

fn lso_spec(v6: bool, payload_len: usize) -> Spec {
    Spec {
        v6,
        payload: payload(payload_len, 7),
        zero_len: true,
        pseudo: Pseudo::NoLen,
        ..Default::default()
    }
}

fn uso_spec(v6: bool, payload_len: usize) -> Spec {
    Spec {
        v6,
        udp: true,
        payload: payload(payload_len, 3),
        zero_len: true,
        pseudo: Pseudo::NoLen,
        ..Default::default()
    }
}

// ---------------------------------------------------------------- NBL info decoding ----

#[test]
fn nbl_info_checksum_bits_decode_per_spec_4_2() {
    let r = ChecksumRequest::from_raw(0x1 | 0x4 | 0x10 | (34 << 16));
    assert!(r.is_ipv4 && r.tcp && r.ip_header && !r.is_ipv6 && !r.udp);
    assert_eq!(r.tcp_header_offset, 34);
    // No IsIPv4/IsIPv6: no checksum work even with TcpChecksum set.
    assert!(!ChecksumRequest::from_raw(0x4).any());
}

#[test]
fn nbl_info_lso_and_uso_bits_decode_per_spec_2_2_and_3_2() {
    let v = 1448 | (54 << 20) | (1 << 30) | (1 << 31);
    assert_eq!(
        LsoRequest::from_raw(v),
        Some(LsoRequest {
            version: LsoVersion::V2,
            mss: 1448,
            tcp_header_offset: 54,
            ipv6: true
        })
    );
    // V1: bit 31 is Reserved2, not IPVersion.
    let v1 = LsoRequest::from_raw(536 | (34 << 20) | (1 << 31)).unwrap();
    assert_eq!((v1.version, v1.ipv6, v1.mss), (LsoVersion::V1, false, 536));
    assert_eq!(LsoRequest::from_raw(0), None);
    assert_eq!(
        UsoRequest::from_raw(1400 | (34 << 20)),
        Some(UsoRequest {
            mss: 1400,
            udp_header_offset: 34,
            ipv6: false
        })
    );
    assert_eq!(
        Ieee8021Q::from_raw(5 | (100 << 4)),
        Ieee8021Q {
            priority: 5,
            cfi: false,
            vlan_id: 100
        }
    );
    assert!(Ieee8021Q::from_raw(8).cfi);
}

// ---------------------------------------------------------------- checksum offload ----

#[test]
fn cso_tcp_goes_to_device_as_partial_checksum() {
    let s = Spec {
        payload: payload(500, 1),
        ..Default::default()
    };
    let f = s.build();
    let (p, hb) = run(&ctx_all(), &cso(&s), &[&f]).unwrap();
    assert_eq!(p.action, TxAction::Device);
    assert_eq!(p.vnet_hdr.flags, HdrFlags::NEEDS_CSUM);
    assert_eq!((p.vnet_hdr.csum_start, p.vnet_hdr.csum_offset), (34, 16));
    assert_eq!(p.vnet_hdr.gso_type, GsoType::None);
    // The stack's full pseudo-header sum is left for the device to complete.
    assert_eq!(u16::from_be_bytes([hb[50], hb[51]]), s.pseudo_field(520));
    assert_eq!(p.header_len, 54);
}

#[test]
fn cso_udp_csum_offset_is_6() {
    let s = Spec {
        udp: true,
        payload: payload(100, 1),
        ..Default::default()
    };
    let f = s.build();
    let (p, _) = run(&ctx_all(), &cso(&s), &[&f]).unwrap();
    assert_eq!((p.vnet_hdr.csum_start, p.vnet_hdr.csum_offset), (34, 6));
}

#[test]
fn cso_ipv4_header_checksum_computed_in_software_field_ignored() {
    let s = Spec {
        payload: payload(40, 1),
        ..Default::default()
    };
    let mut f = s.build();
    f[24..26].copy_from_slice(&[0xde, 0xad]); // stale value in the field: must be ignored
    let (p, hb) = run(&ctx_all(), &cso(&s), &[&f]).unwrap();
    let wire = device_wire(&p, &hb, &f);
    let ip = etherparse::Ipv4HeaderSlice::from_slice(&wire[14..]).unwrap();
    assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
    // The protocol's buffer is untouched.
    assert_eq!(&f[24..26], &[0xde, 0xad]);
}

#[test]
fn cso_software_when_device_lacks_csum_tcp_udp_v4_v6() {
    for (v6, udp) in [(false, false), (false, true), (true, false), (true, true)] {
        let s = Spec {
            v6,
            udp,
            payload: payload(777, 2),
            tcp_opts: ts_opts(1, 2),
            ..Default::default()
        };
        let f = s.build();
        // Split the payload over three fragments: summing must cross them.
        let frags = split(&f, &[s.headers_len() + 100, s.headers_len() + 401]);
        let (p, hb) = run(&ctx_bare(), &cso(&s), &frags).unwrap();
        assert_eq!(p.action, TxAction::Device);
        assert_eq!(p.vnet_hdr.flags, HdrFlags::empty(), "v6={v6} udp={udp}");
        let seen = verify_wire(&device_wire(&p, &hb, &f), false);
        assert_eq!(seen.payload, s.payload);
    }
}

#[test]
fn cso_padding_after_datagram_is_checksummed_in_software() {
    let s = Spec {
        payload: payload(10, 1),
        padding: 6,
        ..Default::default()
    };
    let f = s.build();
    let (p, hb) = run(&ctx_all(), &cso(&s), &[&f]).unwrap();
    assert_eq!(p.vnet_hdr.flags, HdrFlags::empty());
    let wire = device_wire(&p, &hb, &f);
    let d = &wire[..wire.len() - 6];
    verify_wire(d, false);
}

#[test]
fn cso_request_ip_version_must_match_frame() {
    let s = Spec {
        payload: payload(10, 1),
        ..Default::default()
    };
    let f = s.build();
    let mut info = cso(&s);
    info.checksum.is_ipv4 = false;
    info.checksum.is_ipv6 = true;
    assert_eq!(
        run(&ctx_all(), &info, &[&f]).unwrap_err(),
        TxError::IpVersionMismatch
    );
    info.checksum.is_ipv4 = true;
    assert_eq!(
        run(&ctx_all(), &info, &[&f]).unwrap_err(),
        TxError::IpVersionMismatch
    );
}

#[test]
fn cso_tcp_requested_on_udp_frame_and_offset_mismatch_fail() {
    let s = Spec {
        udp: true,
        payload: payload(10, 1),
        ..Default::default()
    };
    let f = s.build();
    let mut info = cso(&s);
    info.checksum.udp = false;
    info.checksum.tcp = true;
    assert_eq!(run(&ctx_all(), &info, &[&f]).unwrap_err(), TxError::NotTcp);
    let t = Spec {
        payload: payload(10, 1),
        ..Default::default()
    };
    let f = t.build();
    let mut info = cso(&t);
    info.checksum.tcp_header_offset = 38;
    assert_eq!(
        run(&ctx_all(), &info, &[&f]).unwrap_err(),
        TxError::OffsetMismatch {
            requested: 38,
            parsed: 34
        }
    );
}

#[test]
fn cso_request_on_ip_fragment_fails() {
    let s = Spec {
        udp: true,
        payload: payload(16, 1),
        ..Default::default()
    };
    let mut f = s.build();
    f[20] |= 0x20; // MF
    assert_eq!(
        run(&ctx_all(), &cso(&s), &[&f]).unwrap_err(),
        TxError::IpFragment
    );
}

#[test]
fn cso_honoured_even_when_checksum_offload_turned_off() {
    let s = Spec {
        payload: payload(64, 1),
        ..Default::default()
    };
    let f = s.build();
    let mut ctx = ctx_bare();
    ctx.config.tcp4_checksum = false;
    ctx.config.ipv4_checksum = false;
    let (p, hb) = run(&ctx, &cso(&s), &[&f]).unwrap();
    verify_wire(&device_wire(&p, &hb, &f), false);
}

#[test]
fn cso_headers_split_across_fragments_are_gathered() {
    let s = Spec {
        payload: payload(300, 9),
        ip_opts: 8,
        tcp_opts: ts_opts(5, 6),
        ..Default::default()
    };
    let f = s.build();
    let whole = run(&ctx_bare(), &cso(&s), &[&f]).unwrap();
    for cuts in [
        vec![1],
        vec![13, 20],
        vec![30, 31, 32, 33, 70],
        vec![s.headers_len() - 1],
    ] {
        let frags = split(&f, &cuts);
        let (p, hb) = run(&ctx_bare(), &cso(&s), &frags).unwrap();
        assert_eq!(p, whole.0, "cuts {cuts:?}");
        assert_eq!(
            device_wire(&p, &hb, &f),
            device_wire(&whole.0, &whole.1, &f)
        );
    }
}

// ---------------------------------------------------------------- VLAN ----

#[test]
fn vlan_tag_inserted_in_band_and_offsets_shift_by_4() {
    let s = Spec {
        payload: payload(100, 1),
        ..Default::default()
    };
    let f = s.build();
    let mut info = cso(&s);
    info.ieee8021q = Some(Ieee8021Q {
        priority: 3,
        cfi: false,
        vlan_id: 42,
    });
    let (p, hb) = run(&ctx_all(), &info, &[&f]).unwrap();
    assert_eq!((p.header_len, p.header_buf_len), (54, 58));
    assert_eq!(&hb[12..16], &[0x81, 0x00, 0x60, 42]);
    assert_eq!(
        (p.vnet_hdr.csum_start, p.layout.l4_offset, p.layout.l2_len),
        (38, 38, 18)
    );
    let wire = device_wire(&p, &hb, &f);
    let lay = parse_frame(&wire, LenMode::Strict).unwrap();
    assert_eq!(lay.vlan.unwrap().vid, 42);
    // Everything after the tag is the original frame except the recomputed IP checksum.
    assert_eq!(&wire[18..28], &f[14..24]);
    assert_eq!(&wire[30..], &f[26..]);
}

#[test]
fn vlan_tag_inserted_into_every_software_lso_segment() {
    let s = lso_spec(false, 5000);
    let f = s.build();
    let mut info = lso2(&s, 1448);
    info.ieee8021q = Some(Ieee8021Q {
        priority: 0,
        cfi: false,
        vlan_id: 7,
    });
    let (p, hb) = run(&ctx_bare(), &info, &[&f]).unwrap();
    for (_, seg) in segments(&p, &hb, &[&f]) {
        assert_eq!(verify_wire(&seg, false).vlan, Some(7));
    }
}

#[test]
fn vlan_cfi_set_or_frame_already_tagged_fails() {
    let s = Spec {
        payload: payload(10, 1),
        ..Default::default()
    };
    let f = s.build();
    let mut info = cso(&s);
    info.ieee8021q = Some(Ieee8021Q {
        priority: 0,
        cfi: true,
        vlan_id: 1,
    });
    assert_eq!(run(&ctx_all(), &info, &[&f]).unwrap_err(), TxError::BadVlan);
    let t = Spec {
        tagged: true,
        payload: payload(10, 1),
        ..Default::default()
    };
    let g = t.build();
    let mut info = cso(&t);
    info.ieee8021q = Some(Ieee8021Q {
        priority: 1,
        cfi: false,
        vlan_id: 0,
    });
    assert_eq!(run(&ctx_all(), &info, &[&g]).unwrap_err(), TxError::BadVlan);
}

// ---------------------------------------------------------------- LSO, device ----

#[test]
fn lso_device_header_matches_what_linux_gso_needs() {
    // Testbed §8: NEEDS_CSUM, TCPV4, hdr_len 54, gso_size 1460, csum_start 34, csum_offset 16,
    // and the pseudo-header sum including the full TCP length.
    let s = lso_spec(false, 43800);
    let f = s.build();
    let (p, hb) = run(&ctx_all(), &lso2(&s, 1460), &[&f]).unwrap();
    assert_eq!(p.action, TxAction::Device);
    let h = p.vnet_hdr;
    assert_eq!(h.flags, HdrFlags::NEEDS_CSUM);
    assert_eq!(h.gso_type, GsoType::TcpV4);
    assert_eq!(
        (h.hdr_len, h.gso_size, h.csum_start, h.csum_offset),
        (54, 1460, 34, 16)
    );
    assert_eq!(p.segments, 30);
    let l4_len = 20 + 43800;
    assert_eq!(
        u16::from_be_bytes([hb[50], hb[51]]),
        linux_gso_pseudo(&s, l4_len)
    );
    // LSOv2 Total Length 0 filled in, header checksum valid.
    let ip = etherparse::Ipv4HeaderSlice::from_slice(&hb[14..34]).unwrap();
    assert_eq!(usize::from(ip.total_len()), 20 + l4_len);
    assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
}

#[test]
fn lso_ipv6_device_fills_payload_length() {
    let s = Spec {
        ext: true,
        ..lso_spec(true, 20000)
    };
    let f = s.build();
    let (p, hb) = run(&ctx_all(), &lso2(&s, 1400), &[&f]).unwrap();
    assert_eq!(p.vnet_hdr.gso_type, GsoType::TcpV6);
    assert_eq!(p.vnet_hdr.csum_start as usize, s.l4_offset());
    assert_eq!(p.vnet_hdr.hdr_len as usize, s.headers_len());
    assert_eq!(
        u16::from_be_bytes([hb[18], hb[19]]) as usize,
        8 + 20 + 20000
    );
    let off = s.l4_offset() + 16;
    assert_eq!(
        u16::from_be_bytes([hb[off], hb[off + 1]]),
        linux_gso_pseudo(&s, 20 + 20000)
    );
}

#[test]
fn lso_cwr_without_host_ecn_is_segmented_in_software() {
    let s = Spec {
        tcp_flags: 0x80 | 0x10,
        ..lso_spec(false, 4000)
    };
    let f = s.build();
    let (p, _) = run(&ctx_all(), &lso2(&s, 1000), &[&f]).unwrap();
    assert_eq!(p.action, TxAction::Segment);
    let mut ctx = ctx_all();
    ctx.caps.tso_ecn = true;
    let (p, _) = run(&ctx, &lso2(&s, 1000), &[&f]).unwrap();
    assert_eq!(p.action, TxAction::Device);
    assert!(p.vnet_hdr.ecn);
    assert_eq!(p.vnet_hdr.gso_type_raw(), 0x81);
}

#[test]
fn lso_more_segments_than_host_accepts_is_segmented_in_software() {
    let s = lso_spec(false, 10000);
    let f = s.build();
    let mut ctx = ctx_all();
    ctx.caps.max_tso_segments = 5;
    let (p, _) = run(&ctx, &lso2(&s, 1000), &[&f]).unwrap();
    assert_eq!((p.action, p.segments), (TxAction::Segment, 10));
}

#[test]
fn lso_payload_within_one_mss_is_sent_as_one_checksummed_frame() {
    let s = lso_spec(false, 900);
    let f = s.build();
    let (p, hb) = run(&ctx_all(), &lso2(&s, 1448), &[&f]).unwrap();
    assert_eq!(
        (p.action, p.segments, p.vnet_hdr.gso_type),
        (TxAction::Device, 1, GsoType::None)
    );
    assert_eq!(p.vnet_hdr.flags, HdrFlags::NEEDS_CSUM);
    let (p, hb2) = run(&ctx_bare(), &lso2(&s, 1448), &[&f]).unwrap();
    verify_wire(&device_wire(&p, &hb2, &f), false);
    let _ = hb;
}

#[test]
fn lso_v1_completion_reports_tcp_payload() {
    let s = Spec {
        zero_len: false,
        ..lso_spec(false, 12345)
    };
    let f = s.build();
    let info = SendInfo {
        lso: Some(LsoRequest {
            version: LsoVersion::V1,
            mss: 1460,
            tcp_header_offset: 34,
            ipv6: false,
        }),
        ..Default::default()
    };
    let (p, _) = run(&ctx_all(), &info, &[&f]).unwrap();
    assert_eq!(p.lso_v1_tcp_payload, 12345);
    let (p, _) = run(&ctx_all(), &lso2(&s, 1460), &[&f]).unwrap();
    assert_eq!(p.lso_v1_tcp_payload, 0);
}

// ---------------------------------------------------------------- LSO, software ----

#[test]
fn lso_software_segments_replicate_headers_and_follow_spec_3_3() {
    let s = Spec {
        ip_opts: 4,
        tcp_opts: ts_opts(0xAABBCCDD, 0x11223344),
        tcp_flags: 0x80 | 0x10 | 0x08 | 0x01, // CWR ACK PSH FIN
        ..lso_spec(false, 10_000)
    };
    let f = s.build();
    let frags = split(&f, &[s.headers_len(), s.headers_len() + 1, 3000, 7001]);
    // 24 bytes of IP and 32 of TCP header leave 1444 of a 1500 MTU.
    let mss = 1436;
    let (p, hb) = run(&ctx_bare(), &lso2(&s, mss), &frags).unwrap();
    assert_eq!(p.action, TxAction::Segment);
    let segs = segments(&p, &hb, &frags);
    assert_eq!(segs.len(), 7); // ceil(10000 / 1436)
    let mut all = Vec::new();
    for (i, (meta, bytes)) in segs.iter().enumerate() {
        let seen = verify_wire(bytes, false);
        let t = seen.tcp.unwrap();
        let last = i == segs.len() - 1;
        assert_eq!(
            meta.payload_len,
            if last {
                10_000 - 6 * mss as usize
            } else {
                mss as usize
            }
        );
        assert_eq!(t.sequence_number, s.seq.wrapping_add(mss * i as u32));
        assert_eq!(
            (t.psh, t.fin),
            (last, last),
            "PSH/FIN only on the last segment"
        );
        assert_eq!(t.cwr, i == 0, "CWR only on the first segment");
        assert!(t.ack);
        assert_eq!(seen.ip_id, Some(0x1234 + i as u16));
        assert!(seen.df);
        assert_eq!(seen.ip_options, vec![1, 1, 1, 1], "IP options copied");
        assert_eq!(
            t.options.as_slice(),
            &ts_opts(0xAABBCCDD, 0x11223344)[..],
            "timestamps unchanged"
        );
        assert_eq!(meta.vnet_hdr.flags, HdrFlags::empty());
        all.extend_from_slice(&seen.payload);
    }
    assert_eq!(all, s.payload);
}

#[test]
fn lso_zero_copy_segments_put_the_same_bytes_on_the_wire() {
    let s = Spec {
        tcp_opts: ts_opts(3, 4),
        ..lso_spec(false, 7000)
    };
    let f = s.build();
    let frags = split(&f, &[100, 1000, 5000]);
    let (p, hb) = run(&ctx_bare(), &lso2(&s, 1448), &frags).unwrap();
    let copied = segments(&p, &hb, &frags);
    let zc = segments_zero_copy(&p, &hb, &frags, &f);
    assert_eq!(copied.len(), 5);
    for ((a, x), (b, y)) in copied.iter().zip(&zc) {
        assert_eq!(x, y);
        assert_eq!(b.len, s.headers_len());
        assert_eq!(b.payload_offset, s.headers_len() + 1448 * a.index as usize);
    }
    // Header-only output needs just the header bytes.
    let mut seg = p.segmenter(&hb, &frags);
    let mut small = vec![0u8; s.headers_len() - 1];
    assert!(matches!(
        seg.next_header_into(&mut small),
        Some(Err(TxError::OutputTooSmall { .. }))
    ));
}

#[test]
fn lso_software_segments_use_device_checksum_when_csum_negotiated() {
    for (v6, udp) in [(false, false), (true, false), (false, true), (true, true)] {
        let s = if udp {
            uso_spec(v6, 5000)
        } else {
            lso_spec(v6, 5000)
        };
        let f = s.build();
        let info = if udp { uso(&s, 1200) } else { lso2(&s, 1200) };
        let (p, hb) = run(&ctx_csum_only(), &info, &[&f]).unwrap();
        assert_eq!(
            (p.action, p.segment_checksum),
            (TxAction::Segment, tx::SegmentChecksum::Device)
        );
        let copied = segments(&p, &hb, &[&f]);
        let zc = segments_zero_copy(&p, &hb, &[&f], &f);
        let mut all = Vec::new();
        for ((m, mut b), (_, z)) in copied.into_iter().zip(zc) {
            assert_eq!(b, z, "both forms send the same bytes");
            assert_eq!(m.vnet_hdr.flags, HdrFlags::NEEDS_CSUM);
            assert_eq!(m.vnet_hdr.csum_start as usize, s.l4_offset());
            assert_eq!(m.vnet_hdr.csum_offset, if udp { 6 } else { 16 });
            // The field holds the pseudo-header sum with this segment's L4 length.
            let at = s.l4_offset() + m.vnet_hdr.csum_offset as usize;
            let l4_len = s.l4_header_len() + m.payload_len;
            assert_eq!(
                u16::from_be_bytes([b[at], b[at + 1]]),
                linux_gso_pseudo(&s, l4_len)
            );
            complete_partial(&mut b, &m.vnet_hdr, udp);
            all.extend(verify_wire(&b, false).payload);
        }
        assert_eq!(all, s.payload);
    }
    // IPv4 USO with checksum 0: no checksum, no NEEDS_CSUM.
    let s = Spec {
        pseudo: Pseudo::Zero,
        ..uso_spec(false, 3000)
    };
    let f = s.build();
    let (p, _) = run(&ctx_csum_only(), &uso(&s, 1000), &[&f]).unwrap();
    assert_eq!(p.segment_checksum, tx::SegmentChecksum::Software);
}

#[test]
fn lso_v2_ip_id_wraps_within_0000_7fff() {
    let s = Spec {
        id: 0x7FFE,
        ..lso_spec(false, 4000)
    };
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &lso2(&s, 1000), &[&f]).unwrap();
    let ids: Vec<u16> = segments(&p, &hb, &[&f])
        .iter()
        .map(|(_, b)| verify_wire(b, false).ip_id.unwrap())
        .collect();
    assert_eq!(ids, [0x7FFE, 0x7FFF, 0x0000, 0x0001]);
}

#[test]
fn lso_ipv6_software_segments_with_extension_header_verify() {
    let s = Spec {
        ext: true,
        tcp_opts: ts_opts(9, 9),
        ..lso_spec(true, 9000)
    };
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &lso2(&s, 1200), &[&f]).unwrap();
    let mut all = Vec::new();
    for (_, b) in segments(&p, &hb, &[&f]) {
        all.extend(verify_wire(&b, false).payload);
    }
    assert_eq!(all, s.payload);
}

#[test]
fn lso_output_buffer_too_small_is_an_error_not_a_panic() {
    let s = lso_spec(false, 4000);
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &lso2(&s, 1000), &[&f]).unwrap();
    let frags = [&f[..]];
    let mut seg = p.segmenter(&hb, &frags);
    let mut small = vec![0u8; 100];
    assert!(matches!(
        seg.next_into(&mut small),
        Some(Err(TxError::OutputTooSmall { required: 1054, .. }))
    ));
    assert!(seg.next_into(&mut small).is_none());
}

// ---------------------------------------------------------------- LSO, errors ----

#[test]
fn lso_malformed_requests_are_typed_errors() {
    let s = lso_spec(false, 4000);
    let f = s.build();
    let ctx = ctx_all();
    let e = |info: SendInfo| run(&ctx, &info, &[&f]).unwrap_err();
    assert_eq!(e(lso2(&s, 0)), TxError::MssZero);
    assert_eq!(
        e(lso2(&s, 1461)),
        TxError::MssTooLarge {
            mss: 1461,
            max: 1460
        }
    );
    let mut i = lso2(&s, 1000);
    i.lso.as_mut().unwrap().tcp_header_offset = 40;
    assert_eq!(
        e(i),
        TxError::OffsetMismatch {
            requested: 40,
            parsed: 34
        }
    );
    let mut i = lso2(&s, 1000);
    i.lso.as_mut().unwrap().ipv6 = true;
    assert_eq!(e(i), TxError::IpVersionMismatch);
    let mut i = lso2(&s, 1000);
    i.uso = Some(UsoRequest {
        mss: 1000,
        udp_header_offset: 34,
        ipv6: false,
    });
    assert_eq!(e(i), TxError::LsoAndUso);
}

#[test]
fn lso_v1_on_ipv6_is_a_version_mismatch() {
    let s = lso_spec(true, 4000);
    let f = s.build();
    let info = SendInfo {
        lso: Some(LsoRequest {
            version: LsoVersion::V1,
            mss: 1000,
            tcp_header_offset: 54,
            ipv6: false,
        }),
        ..Default::default()
    };
    assert_eq!(
        run(&ctx_all(), &info, &[&f]).unwrap_err(),
        TxError::IpVersionMismatch
    );
}

#[test]
fn lso_unknown_ip_version_in_packet_is_a_parse_error() {
    let s = lso_spec(false, 4000);
    let mut f = s.build();
    f[14] = 0x75; // EtherType IPv4 but version nibble 7
    assert!(matches!(
        run(&ctx_all(), &lso2(&s, 1000), &[&f]).unwrap_err(),
        TxError::Parse(netkvm_core::wire::ParseError::Invalid {
            what: netkvm_core::wire::Invalid::IpVersion(7),
            offset: 14,
            ..
        })
    ));
}

#[test]
fn lso_with_fewer_segments_than_min_segment_count_is_still_performed() {
    // MinSegmentCount only tells the stack when to offload; a smaller send is harmless.
    let s = lso_spec(false, 1500);
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &lso2(&s, 1000), &[&f]).unwrap();
    assert_eq!(p.segments, 2);
    assert_eq!(segments(&p, &hb, &[&f]).len(), 2);
}

#[test]
fn lso_headers_over_128_bytes_rejected() {
    // IPv4 with 40 bytes of options and 40 bytes of TCP options: 14 + 60 + 60 = 134.
    let mut opts = vec![1u8; 28];
    opts.extend(ts_opts(1, 1));
    let s = Spec {
        ip_opts: 40,
        tcp_opts: opts,
        ..lso_spec(false, 4000)
    };
    let f = s.build();
    assert_eq!(
        run(&ctx_all(), &lso2(&s, 1000), &[&f]).unwrap_err(),
        TxError::HeadersTooLong { len: 134, max: 128 }
    );
}

#[test]
fn lso_on_udp_and_uso_on_tcp_rejected() {
    let u = uso_spec(false, 4000);
    let f = u.build();
    let info = SendInfo {
        lso: Some(LsoRequest {
            version: LsoVersion::V2,
            mss: 1000,
            tcp_header_offset: 34,
            ipv6: false,
        }),
        ..Default::default()
    };
    assert_eq!(run(&ctx_all(), &info, &[&f]).unwrap_err(), TxError::NotTcp);
    let t = lso_spec(false, 4000);
    let g = t.build();
    assert_eq!(
        run(&ctx_all(), &uso(&t, 1000), &[&g]).unwrap_err(),
        TxError::NotUdp
    );
}

#[test]
fn lso_over_max_offload_size_rejected() {
    let s = lso_spec(false, 63489);
    let f = s.build();
    assert_eq!(
        run(&ctx_all(), &lso2(&s, 1460), &[&f]).unwrap_err(),
        TxError::TooLarge {
            len: 63489,
            max: 63488
        }
    );
}

#[test]
fn lso_on_ipv4_fragment_rejected() {
    let s = lso_spec(false, 4000);
    let mut f = s.build();
    f[20] |= 0x20;
    assert_eq!(
        run(&ctx_all(), &lso2(&s, 1000), &[&f]).unwrap_err(),
        TxError::IpFragment
    );
}

#[test]
fn lso_after_offload_turned_off_or_before_encapsulation_rejected() {
    let s = lso_spec(false, 4000);
    let f = s.build();
    let mut ctx = ctx_all();
    ctx.config.lso_v2_ipv4 = false;
    assert_eq!(
        run(&ctx, &lso2(&s, 1000), &[&f]).unwrap_err(),
        TxError::OffloadDisabled(Offload::LsoV2Ipv4)
    );
    let mut ctx = ctx_all();
    ctx.encap.ipv4 = false;
    assert_eq!(
        run(&ctx, &lso2(&s, 1000), &[&f]).unwrap_err(),
        TxError::EncapsulationDisabled
    );
    let u = uso_spec(true, 4000);
    let g = u.build();
    let mut ctx = ctx_all();
    ctx.config.uso_ipv6 = false;
    assert_eq!(
        run(&ctx, &uso(&u, 1000), &[&g]).unwrap_err(),
        TxError::OffloadDisabled(Offload::UsoIpv6)
    );
}

#[test]
fn lso_template_with_syn_rst_or_urg_rejected() {
    for fl in [0x02u8, 0x04, 0x20] {
        let s = Spec {
            tcp_flags: 0x10 | fl,
            ..lso_spec(false, 4000)
        };
        let f = s.build();
        assert_eq!(
            run(&ctx_all(), &lso2(&s, 1000), &[&f]).unwrap_err(),
            TxError::LsoTcpFlags
        );
    }
}

// ---------------------------------------------------------------- USO ----

#[test]
fn uso_device_header_and_udp_length_and_pseudo_header() {
    // Testbed §8: NEEDS_CSUM, UDP_L4, 42, 1400, 34, 6 with the full UDP length in the sum.
    let s = uso_spec(false, 14000);
    let f = s.build();
    let (p, hb) = run(&ctx_all(), &uso(&s, 1400), &[&f]).unwrap();
    let h = p.vnet_hdr;
    assert_eq!(
        (p.action, h.flags, h.gso_type),
        (TxAction::Device, HdrFlags::NEEDS_CSUM, GsoType::UdpL4)
    );
    assert_eq!(
        (h.hdr_len, h.gso_size, h.csum_start, h.csum_offset),
        (42, 1400, 34, 6)
    );
    assert_eq!(u16::from_be_bytes([hb[38], hb[39]]), 14008);
    assert_eq!(
        u16::from_be_bytes([hb[40], hb[41]]),
        linux_gso_pseudo(&s, 14008)
    );
    assert_eq!(p.segments, 10);
}

#[test]
fn uso_software_ip_id_wraps_through_ffff_and_sub_mss_last_segment() {
    let s = Spec {
        id: 0xFFFE,
        ..uso_spec(false, 3500)
    };
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &uso(&s, 1000), &[&f]).unwrap();
    let segs = segments(&p, &hb, &[&f]);
    let ids: Vec<u16> = segs
        .iter()
        .map(|(_, b)| verify_wire(b, false).ip_id.unwrap())
        .collect();
    assert_eq!(ids, [0xFFFE, 0xFFFF, 0x0000, 0x0001]);
    let lens: Vec<usize> = segs.iter().map(|(m, _)| m.payload_len).collect();
    assert_eq!(lens, [1000, 1000, 1000, 500]);
    let all: Vec<u8> = segs
        .iter()
        .flat_map(|(_, b)| verify_wire(b, false).payload)
        .collect();
    assert_eq!(all, s.payload);
}

#[test]
fn uso_ipv4_zero_checksum_means_segments_without_checksum() {
    let s = Spec {
        pseudo: Pseudo::Zero,
        ..uso_spec(false, 3000)
    };
    let f = s.build();
    // Even with device USO: a device would compute a checksum, so segment here.
    let (p, hb) = run(&ctx_all(), &uso(&s, 1000), &[&f]).unwrap();
    assert_eq!(p.action, TxAction::Segment);
    for (_, b) in segments(&p, &hb, &[&f]) {
        assert_eq!(verify_wire(&b, true).udp.unwrap().checksum, 0);
    }
}

#[test]
fn uso_ipv6_software_segments_verify() {
    let s = Spec {
        ext: true,
        ..uso_spec(true, 5000)
    };
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &uso(&s, 1200), &[&f]).unwrap();
    let all: Vec<u8> = segments(&p, &hb, &[&f])
        .iter()
        .flat_map(|(_, b)| verify_wire(b, false).payload)
        .collect();
    assert_eq!(all, s.payload);
}

#[test]
fn uso_ipv6_with_zero_checksum_field_still_gets_a_checksum() {
    let s = Spec {
        pseudo: Pseudo::Zero,
        ..uso_spec(true, 3000)
    };
    let f = s.build();
    let (p, hb) = run(&ctx_bare(), &uso(&s, 1000), &[&f]).unwrap();
    for (_, b) in segments(&p, &hb, &[&f]) {
        verify_wire(&b, false);
    }
}

#[test]
fn uso_more_segments_than_host_udp_max_segments_is_segmented_in_software() {
    let s = uso_spec(false, 20000);
    let f = s.build();
    let mut ctx = ctx_all();
    ctx.caps.max_uso_segments = 64;
    let (p, _) = run(&ctx, &uso(&s, 100), &[&f]).unwrap();
    assert_eq!((p.action, p.segments), (TxAction::Segment, 200));
}

#[test]
fn uso_over_max_offload_size_rejected() {
    let s = uso_spec(false, 34305);
    let f = s.build();
    assert_eq!(
        run(&ctx_all(), &uso(&s, 1400), &[&f]).unwrap_err(),
        TxError::TooLarge {
            len: 34305,
            max: 34304
        }
    );
}

// ---------------------------------------------------------------- framing ----

#[test]
fn zero_length_frame_rejected() {
    assert_eq!(
        run(&ctx_all(), &SendInfo::default(), &[]).unwrap_err(),
        TxError::EmptyFrame
    );
    assert_eq!(
        run(&ctx_all(), &SendInfo::default(), &[&[], &[]]).unwrap_err(),
        TxError::EmptyFrame
    );
}

#[test]
fn frame_longer_than_mtu_without_lso_rejected() {
    let s = Spec {
        payload: payload(1461, 1),
        ..Default::default()
    };
    let f = s.build();
    assert_eq!(
        run(&ctx_all(), &SendInfo::default(), &[&f]).unwrap_err(),
        TxError::FrameTooLong {
            len: 1515,
            max: 1514
        }
    );
    let s = Spec {
        payload: payload(1460, 1),
        ..Default::default()
    };
    assert!(run(&ctx_all(), &SendInfo::default(), &[&s.build()]).is_ok());
}

#[test]
fn unparseable_frame_without_offload_passes_through_but_fails_with_offload() {
    let mut f = Spec {
        payload: payload(20, 1),
        ..Default::default()
    }
    .build();
    f[14] = 0x41; // IHL 1: not a valid IPv4 header
    let (p, hb) = run(&ctx_all(), &SendInfo::default(), &[&f]).unwrap();
    assert_eq!(p.action, TxAction::Device);
    assert_eq!(device_wire(&p, &hb, &f), f);
    let info = SendInfo {
        checksum: ChecksumRequest::from_raw(0x1 | 0x10),
        ..Default::default()
    };
    assert!(matches!(
        run(&ctx_all(), &info, &[&f]).unwrap_err(),
        TxError::Parse(_)
    ));
}

#[test]
fn header_buffer_smaller_than_required_rejected() {
    let f = Spec::default().build();
    let mut hb = [0u8; 64];
    assert_eq!(
        tx::plan(&ctx_all(), &SendInfo::default(), &[&f], &mut hb).unwrap_err(),
        TxError::HeaderBufferTooSmall {
            required: tx::TX_HEADER_BUF_LEN,
            available: 64
        }
    );
}

#[test]
fn ip_total_length_beyond_frame_rejected_for_plain_sends() {
    let s = Spec {
        payload: payload(100, 1),
        ..Default::default()
    };
    let mut f = s.build();
    f[16..18].copy_from_slice(&500u16.to_be_bytes());
    assert!(matches!(
        run(&ctx_all(), &cso(&s), &[&f]).unwrap_err(),
        TxError::Parse(_)
    ));
}
