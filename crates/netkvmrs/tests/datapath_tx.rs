//! The send path through the real handlers (ndis-emu) and the fake virtio device: descriptor layouts
//! (copy / scatter-gather / bounce), device offloads and their software fallbacks checked frame by frame
//! with etherparse and independent checksum arithmetic, completion rules, ordering, backpressure,
//! cancellation, queue selection.

mod datapath_support;

use std::time::Duration;

use datapath_support::*;
use ndis_emu::{EmuConfig, NbSpec, NblSpec, SendIrql};
use ndis_sys as n;
use netkvm_virtio::fake::{FakeConfig, TxPacket};
use netkvm_virtio::Features;

const T: Duration = Duration::from_secs(10);

fn send_one(h: &mut ndis_emu::Harness, spec: NblSpec) {
    let nbl = h.nbl(&spec).unwrap();
    h.send(vec![nbl]).unwrap();
}

fn sent(bus: &ndis_emu::bus::fake::FakeBus, n_frames: usize) -> Vec<TxPacket> {
    bus.wait_tx(n_frames, T)
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

#[test]
fn small_frames_are_copied_into_one_descriptor_large_ones_use_the_sg_list() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    // Headers and payload in separate MDLs: still one descriptor (copied).
    let small = udp4_out(&pattern(400, 1));
    send_one(
        &mut h,
        NblSpec::default().nb(NbSpec::new(&small).split_at(&[14, 42])),
    );
    // An LSO send is mapped: header descriptor + payload descriptors.
    let big = lso_template4(&pattern(30_000, 2), true);
    send_one(
        &mut h,
        NblSpec::frames(&[&big]).info(n::TcpLargeSendNetBufferListInfo, lso_v2(1448, 34, false)),
    );
    let p = sent(&bus, 2);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].frame, small);
    assert_eq!(p[0].descriptors, 1, "copied into the slot");
    assert!(
        p[1].descriptors >= 2,
        "scatter/gather: {}",
        p[1].descriptors
    );
    assert!(p[1].indirect, "long chains go through the indirect table");
    assert_eq!(h.wait_completions(2, T).len(), 2);
    wait_for("SG lists freed", T, || h.outstanding_sg_lists() == 0);
    down(&mut h);
}

#[test]
fn lso_v2_goes_to_the_device_as_one_gso_frame_with_the_pseudo_header_fixed() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    let payload = pattern(43_800, 7);
    for v6 in [false, true] {
        // The largest MSS the 1500-byte MTU allows per family.
        let (tmpl, l4, mss) = if v6 {
            (lso_template6(&payload), 54, 1440)
        } else {
            (lso_template4(&payload, true), 34, 1460)
        };
        send_one(
            &mut h,
            NblSpec::frames(&[&tmpl]).info(n::TcpLargeSendNetBufferListInfo, lso_v2(mss, l4, v6)),
        );
        let p = sent(&bus, 1);
        assert_eq!(p.len(), 1, "one super-frame");
        let hd = tx_hdr(&p[0]);
        assert_eq!(hd.flags, F_NEEDS_CSUM);
        assert_eq!(hd.gso, if v6 { GSO_TCPV6 } else { GSO_TCPV4 });
        assert_eq!(u32::from(hd.gso_size), mss);
        assert_eq!(usize::from(hd.hdr_len), l4 as usize + 20);
        assert_eq!((hd.csum_start, hd.csum_offset), (l4 as u16, 16));
        // Lengths filled in, checksum verifies once the device completes it.
        let f = completed(&p[0]);
        assert!(checksums_ok(&f), "v6={v6}");
        assert_eq!(l4_payload(&f), payload);
        let c = h.wait_completions(1, T);
        assert_eq!(c[0].status, n::NDIS_STATUS_SUCCESS);
        // LSOv2 completion: Reserved = 0, Type = V2.
        assert_eq!(c[0].nbl.info(n::TcpLargeSendNetBufferListInfo), 1 << 30);
    }
    down(&mut h);
}

#[test]
fn lso_v1_completion_reports_the_tcp_payload_sent() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    let payload = pattern(20_000, 3);
    let tmpl = lso_template4(&payload, false);
    send_one(
        &mut h,
        NblSpec::frames(&[&tmpl]).info(n::TcpLargeSendNetBufferListInfo, lso_v1(1448, 34)),
    );
    let p = sent(&bus, 1);
    assert!(checksums_ok(&completed(&p[0])));
    let c = h.wait_completions(1, T);
    assert_eq!(c[0].status, n::NDIS_STATUS_SUCCESS);
    let v = c[0].nbl.info(n::TcpLargeSendNetBufferListInfo);
    assert_eq!(v >> 30 & 1, 0, "Type stays V1");
    assert_eq!(v & 0x3FFF_FFFF, 20_000, "TcpPayload");
    down(&mut h);
}

/// Checks that `frames` are the software segmentation of a TCP send of `payload` starting at sequence
/// 1000 with segments of at most `mss`, each a valid, at most MTU-sized frame.
fn check_tcp_segments(frames: &[Vec<u8>], payload: &[u8], mss: usize, mtu: usize) {
    let mut got = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        assert!(checksums_ok(f), "segment {i} checksums");
        assert!(f.len() - 14 <= mtu, "segment {i}: {} bytes", f.len());
        let pl = l4_payload(f);
        assert!(pl.len() <= mss);
        assert_eq!(tcp_seq(f), 1000 + got.len() as u32, "segment {i} sequence");
        got.extend(pl);
    }
    assert_eq!(got, payload);
}

#[test]
fn without_host_tso_lso_is_segmented_in_software_and_every_segment_verifies() {
    let _s = serial();
    for (strip, label) in [
        (
            Features::HOST_TSO4 | Features::HOST_TSO6,
            "device checksums",
        ),
        (
            Features::HOST_TSO4 | Features::HOST_TSO6 | Features::HOST_USO | Features::CSUM,
            "software checksums",
        ),
    ] {
        let (mut h, bus) = harness(fake_without(strip), &[], emu());
        up(&mut h);
        bus.start_tx_pump();
        let payload = pattern(30_000, 9);
        // IPv4 (MSS 1448, 21 segments), then IPv6 (MSS 1440, ⌈30000 / 1440⌉ = 21 segments).
        for v6 in [false, true] {
            let (tmpl, l4, mss) = if v6 {
                (lso_template6(&payload), 54, 1440)
            } else {
                (lso_template4(&payload, true), 34, 1448)
            };
            send_one(
                &mut h,
                NblSpec::frames(&[&tmpl])
                    .info(n::TcpLargeSendNetBufferListInfo, lso_v2(mss, l4, v6)),
            );
            let p = sent(&bus, 21);
            assert_eq!(p.len(), 21, "{label} v6={v6}: segment count");
            for x in &p {
                let hd = tx_hdr(x);
                assert_eq!(hd.gso, GSO_NONE, "{label}");
                if strip.contains(Features::CSUM) {
                    assert_eq!(hd.flags, 0, "{label}: complete checksums");
                }
            }
            let frames: Vec<Vec<u8>> = p.iter().map(completed).collect();
            check_tcp_segments(&frames, &payload, mss as usize, 1500);
            let c = h.wait_completions(1, T);
            assert_eq!(c.len(), 1, "{label}: one completion after the last segment");
            assert_eq!(c[0].status, n::NDIS_STATUS_SUCCESS);
        }
        let st = statistics(&mut h);
        assert_eq!(
            st.ifHCOutUcastPkts, 42,
            "{label}: statistics count segments"
        );
        down(&mut h);
    }
}

#[test]
fn jumbo_software_lso_uses_zero_copy_segments_over_the_sg_list() {
    let _s = serial();
    let mut cfg = fake_without(Features::HOST_TSO4 | Features::HOST_TSO6);
    cfg.mtu = 9000;
    let (mut h, bus) = harness(cfg, &[("*JumboPacket", "9014")], emu());
    up(&mut h);
    bus.start_tx_pump();
    let payload = pattern(60_000, 4);
    let tmpl = lso_template4(&payload, true);
    send_one(
        &mut h,
        NblSpec::frames(&[&tmpl]).info(n::TcpLargeSendNetBufferListInfo, lso_v2(8948, 34, false)),
    );
    let p = sent(&bus, 7);
    assert_eq!(p.len(), 7);
    assert!(
        p.iter().all(|x| x.descriptors >= 2),
        "headers in the slot, payload from the NB"
    );
    let frames: Vec<Vec<u8>> = p.iter().map(completed).collect();
    check_tcp_segments(&frames, &payload, 8948, 9000);
    assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_SUCCESS);
    wait_for("SG list freed after the last segment", T, || {
        h.outstanding_sg_lists() == 0
    });
    down(&mut h);
}

#[test]
fn uso_goes_to_the_device_or_is_segmented_exactly() {
    let _s = serial();
    for host_uso in [true, false] {
        let cfg = if host_uso {
            FakeConfig::default()
        } else {
            fake_without(Features::HOST_USO)
        };
        let (mut h, bus) = harness(cfg, &[], emu());
        up(&mut h);
        bus.start_tx_pump();
        for v6 in [false, true] {
            let payload = pattern(14_000 - if v6 { 700 } else { 0 }, 5);
            let (tmpl, l4) = if v6 {
                (uso_template6(&payload), 54)
            } else {
                (uso_template4(&payload), 34)
            };
            send_one(
                &mut h,
                NblSpec::frames(&[&tmpl]).info(n::UdpSegmentationOffloadInfo, uso(1400, l4, v6)),
            );
            let want = payload.len().div_ceil(1400);
            let p = sent(&bus, if host_uso { 1 } else { want });
            if host_uso {
                assert_eq!(p.len(), 1);
                let hd = tx_hdr(&p[0]);
                assert_eq!(
                    (hd.flags, hd.gso, hd.gso_size),
                    (F_NEEDS_CSUM, GSO_UDP_L4, 1400)
                );
                assert_eq!((hd.csum_start, hd.csum_offset), (l4 as u16, 6));
                let f = completed(&p[0]);
                assert!(checksums_ok(&f));
                assert_eq!(l4_payload(&f), payload);
            } else {
                assert_eq!(p.len(), want, "v6={v6}: datagram count");
                let mut all = Vec::new();
                for (i, x) in p.iter().enumerate() {
                    let f = completed(x);
                    assert!(checksums_ok(&f), "datagram {i}");
                    let d = l4_payload(&f);
                    let expect = if i + 1 < want {
                        1400
                    } else {
                        payload.len() - 1400 * (want - 1)
                    };
                    assert_eq!(d.len(), expect, "datagram {i} size");
                    all.extend(d);
                }
                assert_eq!(all, payload);
            }
            assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_SUCCESS);
        }
        down(&mut h);
    }
}

#[test]
fn checksum_offload_requests_are_honoured_by_the_device_or_in_software() {
    let _s = serial();
    for host_csum in [true, false] {
        let cfg = if host_csum {
            FakeConfig::default()
        } else {
            fake_without(
                Features::CSUM | Features::HOST_TSO4 | Features::HOST_TSO6 | Features::HOST_USO,
            )
        };
        let (mut h, bus) = harness(cfg, &[], emu());
        up(&mut h);
        bus.start_tx_pump();
        // The stack's form: IPv4 checksum field zero, L4 field = full pseudo-header sum.
        let mut f = udp4_out(&pattern(900, 8));
        f[24] = 0;
        f[25] = 0;
        let mut ps = vec![];
        ps.extend_from_slice(&f[26..34]);
        ps.extend_from_slice(&[0, 17]);
        ps.extend_from_slice(&((f.len() - 34) as u16).to_be_bytes());
        let p = ones_sum(&ps);
        f[40..42].copy_from_slice(&p.to_be_bytes());
        // IsIPv4 | UdpChecksum | IpHeaderChecksum.
        send_one(
            &mut h,
            NblSpec::frames(&[&f]).info(n::TcpIpChecksumNetBufferListInfo, 0x1 | 0x8 | 0x10),
        );
        let x = &sent(&bus, 1)[0];
        let hd = tx_hdr(x);
        if host_csum {
            assert_eq!(
                (hd.flags, hd.csum_start, hd.csum_offset),
                (F_NEEDS_CSUM, 34, 6)
            );
        } else {
            assert_eq!(hd.flags, 0);
        }
        assert!(checksums_ok(&completed(x)), "host_csum={host_csum}");
        assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_SUCCESS);
        down(&mut h);
    }
}

#[test]
fn the_8021q_tag_is_inserted_in_band() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    let f = udp4_out(b"tagged");
    // UserPriority 5, VlanId 0 (priority tagging).
    send_one(
        &mut h,
        NblSpec::frames(&[&f]).info(n::Ieee8021QNetBufferListInfo, 5),
    );
    let x = &sent(&bus, 1)[0];
    let mut want = f[..12].to_vec();
    want.extend_from_slice(&[0x81, 0x00, 0xA0, 0x00]);
    want.extend_from_slice(&f[12..]);
    assert_eq!(x.frame, want);
    h.wait_completions(1, T);
    down(&mut h);
}

#[test]
fn malformed_sends_fail_are_counted_and_never_reach_the_wire() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let udp = udp4_out(&pattern(3000, 1)[..1000]);
    let tcp = lso_template4(&pattern(5000, 2), true);
    let specs = [
        // LSO on a UDP frame.
        NblSpec::frames(&[&udp]).info(n::TcpLargeSendNetBufferListInfo, lso_v2(1448, 34, false)),
        // LSO with two NET_BUFFERs.
        NblSpec::frames(&[&tcp, &tcp])
            .info(n::TcpLargeSendNetBufferListInfo, lso_v2(1448, 34, false)),
        // Longer than the MTU without LSO.
        NblSpec::frames(&[&udp4_out(&pattern(3000, 3))]),
        // CanonicalFormatId set.
        NblSpec::frames(&[&udp]).info(n::Ieee8021QNetBufferListInfo, 8),
        // LSO and USO at once.
        NblSpec::frames(&[&tcp])
            .info(n::TcpLargeSendNetBufferListInfo, lso_v2(1448, 34, false))
            .info(n::UdpSegmentationOffloadInfo, uso(1400, 34, false)),
    ];
    let nbls: Vec<_> = specs.iter().map(|s| h.nbl(s).unwrap()).collect();
    let count = nbls.len();
    h.send(nbls).unwrap();
    let c = h.wait_completions(count, T);
    assert_eq!(c.len(), count);
    for x in &c {
        assert_ne!(x.status, n::NDIS_STATUS_SUCCESS, "{:?}", x.nbl);
    }
    std::thread::sleep(Duration::from_millis(20));
    assert!(bus.pump_tx_once().is_empty(), "nothing was posted");
    let st = statistics(&mut h);
    assert_eq!(st.ifOutDiscards, count as u64);
    assert_eq!(st.ifHCOutUcastPkts, 0);
    down(&mut h);
}

#[test]
fn an_nbl_with_several_nbs_completes_once_after_its_last_nb_and_chains_keep_order() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| udp4_out(&pattern(100 + i, i as u8)))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let multi = h.nbl(&NblSpec::frames(&refs)).unwrap();
    let singles: Vec<_> = (0..20)
        .map(|i| {
            h.nbl(&NblSpec::frames(&[&udp4_out(&[i as u8; 64])]))
                .unwrap()
        })
        .collect();
    let mut chain = vec![multi];
    chain.extend(singles);
    h.send(chain).unwrap();
    // Nothing completes before the device consumed the frames.
    std::thread::sleep(Duration::from_millis(20));
    assert!(h.wait_completions(1, Duration::from_millis(1)).is_empty());
    let out: Vec<TxPacket> = bus.pump_tx_once().into_iter().map(|(_, p)| p).collect();
    assert_eq!(out.len(), 25);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(&out[i].frame, f, "NB {i} of the first NBL in order");
    }
    for i in 0..20 {
        assert_eq!(
            out[5 + i].frame,
            udp4_out(&[i as u8; 64]),
            "chain order {i}"
        );
    }
    let c = h.wait_completions(21, T);
    assert_eq!(c.len(), 21, "one completion per NBL");
    assert!(c.iter().all(|x| x.status == n::NDIS_STATUS_SUCCESS));
    down(&mut h);
}

#[test]
fn a_full_ring_queues_sends_in_order_and_the_completion_dpc_resumes_them() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("TxCapacity", "16")], emu());
    up(&mut h);
    let nbls: Vec<_> = (0..100u32)
        .map(|i| {
            h.nbl(&NblSpec::frames(&[&udp4_out(&i.to_be_bytes())]))
                .unwrap()
        })
        .collect();
    h.send(nbls).unwrap();
    let mut got = Vec::new();
    let first = bus.pump_tx_once();
    assert_eq!(first.len(), 16, "the ring holds 16");
    got.extend(first);
    let mut rounds = 0;
    while got.len() < 100 && rounds < 1000 {
        std::thread::sleep(Duration::from_millis(2));
        got.extend(bus.pump_tx_once());
        rounds += 1;
    }
    assert_eq!(got.len(), 100, "nothing dropped");
    for (i, (_, p)) in got.iter().enumerate() {
        assert_eq!(
            l4_payload(&p.frame),
            (i as u32).to_be_bytes(),
            "order at {i}"
        );
    }
    let c = h.wait_completions(100, T);
    assert_eq!(c.len(), 100);
    assert!(c.iter().all(|x| x.status == n::NDIS_STATUS_SUCCESS));
    down(&mut h);
}

#[test]
fn cancel_send_aborts_the_queued_nbls_with_that_id_only() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("TxCapacity", "16")], emu());
    up(&mut h);
    let mk = |h: &mut ndis_emu::Harness, i: u32, id: usize| {
        h.nbl(&NblSpec::frames(&[&udp4_out(&i.to_be_bytes())]).info(n::NetBufferListCancelId, id))
            .unwrap()
    };
    let mut nbls = Vec::new();
    for i in 0..16 {
        nbls.push(mk(&mut h, i, 0x77));
    }
    for i in 16..26 {
        nbls.push(mk(&mut h, i, 0x99));
    }
    for i in 26..31 {
        nbls.push(mk(&mut h, i, 0x55));
    }
    h.send(nbls).unwrap();
    // The first 16 are in the ring (id 0x77 too, but posted: not cancellable).
    h.cancel_send(0x77).unwrap();
    h.cancel_send(0x99).unwrap();
    let c = h.wait_completions(10, T);
    assert_eq!(c.len(), 10);
    assert!(c.iter().all(|x| x.status == n::NDIS_STATUS_SEND_ABORTED));
    assert!(c
        .iter()
        .all(|x| x.nbl.info(n::NetBufferListCancelId) == 0x99));
    let mut got = Vec::new();
    for _ in 0..1000 {
        got.extend(bus.pump_tx_once());
        if got.len() >= 21 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let ids: Vec<u32> = got
        .iter()
        .map(|(_, p)| u32::from_be_bytes(l4_payload(&p.frame).try_into().unwrap()))
        .collect();
    let want: Vec<u32> = (0..16).chain(26..31).collect();
    assert_eq!(ids, want);
    let c = h.wait_completions(21, T);
    assert!(c.iter().all(|x| x.status == n::NDIS_STATUS_SUCCESS));
    down(&mut h);
}

#[test]
fn sends_at_passive_and_dispatch_complete_with_the_matching_flag() {
    let _s = serial();
    let cfg = EmuConfig {
        send_irql: SendIrql::Alternate,
        ..emu()
    };
    let (mut h, bus) = harness(FakeConfig::default(), &[], cfg);
    up(&mut h);
    bus.start_tx_pump();
    for i in 0..40u32 {
        send_one(&mut h, NblSpec::frames(&[&udp4_out(&i.to_be_bytes())]));
    }
    // ndis-emu fails the test if NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL does not match the IRQL.
    let c = h.wait_completions(40, T);
    assert_eq!(c.len(), 40);
    down(&mut h);
}

#[test]
fn sends_while_paused_or_with_the_link_down_complete_with_the_right_status() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    h.pause().unwrap();
    send_one(&mut h, NblSpec::frames(&[&udp4_out(b"paused")]));
    let c = h.wait_completions(1, T);
    assert_eq!(c[0].status, n::NDIS_STATUS_PAUSED);
    h.restart().unwrap();
    let before = h.statuses().len();
    bus.device().set_link(false);
    assert!(h
        .wait_status_after(n::NDIS_STATUS_LINK_STATE, before, T)
        .is_some());
    send_one(&mut h, NblSpec::frames(&[&udp4_out(b"down")]));
    let c = h.wait_completions(1, T);
    assert_eq!(c[0].status, n::NDIS_STATUS_MEDIA_DISCONNECTED);
    let before = h.statuses().len();
    bus.device().set_link(true);
    assert!(h
        .wait_status_after(n::NDIS_STATUS_LINK_STATE, before, T)
        .is_some());
    bus.start_tx_pump();
    send_one(&mut h, NblSpec::frames(&[&udp4_out(b"up again")]));
    assert_eq!(sent(&bus, 1).len(), 1);
    assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_SUCCESS);
    down(&mut h);
}

#[test]
fn sends_are_spread_over_the_queues_by_the_nbl_hash() {
    let _s = serial();
    // Four pairs of receive buffers (4 MiB each) need more than the fake's default 16 MiB arena.
    let cfg = FakeConfig {
        pairs: 4,
        memory: 64 << 20,
        ..FakeConfig::default()
    };
    let (mut h, bus) = harness(cfg, &[], EmuConfig { cpus: 4, ..emu() });
    up(&mut h);
    bus.start_tx_pump();
    // The bind's table maps entry i → processor i % 4 → queue i % 4.
    let nbls: Vec<_> = (0..16u32)
        .map(|i| {
            h.nbl(
                &NblSpec::frames(&[&udp4_out(&i.to_be_bytes())])
                    .info(n::NetBufferListHashValue, i as usize)
                    .info(
                        n::NetBufferListHashInfo,
                        (n::NDIS_HASH_TCP_IPV4 | 1) as usize,
                    ),
            )
            .unwrap()
        })
        .collect();
    h.send(nbls).unwrap();
    let got = bus.wait_tx(16, T);
    assert_eq!(got.len(), 16);
    for (q, p) in &got {
        let i = u32::from_be_bytes(l4_payload(&p.frame).try_into().unwrap());
        assert_eq!(*q, 2 * (i % 4) as u16 + 1, "frame {i} on TX queue {q}");
    }
    assert_eq!(h.wait_completions(16, T).len(), 16);
    down(&mut h);
}

#[test]
fn a_net_buffer_with_too_many_fragments_is_linearised_through_the_bounce_buffer() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    let payload = pattern(30_000, 6);
    let tmpl = lso_template4(&payload, true);
    // 100 MDLs: more than a chain may have.
    let cuts: Vec<usize> = (1..100).map(|i| 54 + i * 290).collect();
    send_one(
        &mut h,
        NblSpec::default()
            .nb(NbSpec::new(&tmpl).split_at(&cuts))
            .info(n::TcpLargeSendNetBufferListInfo, lso_v2(1448, 34, false)),
    );
    let p = sent(&bus, 1);
    assert_eq!(p.len(), 1);
    let f = completed(&p[0]);
    assert!(checksums_ok(&f));
    assert_eq!(l4_payload(&f), payload);
    assert!(
        p[0].descriptors <= 3,
        "header + bounce: {}",
        p[0].descriptors
    );
    assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_SUCCESS);
    down(&mut h);
}

#[test]
fn a_net_buffer_of_many_short_mdls_is_mapped_into_the_drivers_own_sg_storage() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.start_tx_pump();
    let payload = pattern(30_000, 8);
    let tmpl = lso_template4(&payload, true);
    // 48 MDLs: more SG elements than ScatterGatherListSize (sized for a page-wise mapping of
    // MaximumPhysicalMapping) holds, fewer than a descriptor chain may have.
    let cuts: Vec<usize> = (1..48).map(|i| 54 + i * 620).collect();
    for _ in 0..3 {
        send_one(
            &mut h,
            NblSpec::default()
                .nb(NbSpec::new(&tmpl).split_at(&cuts))
                .info(n::TcpLargeSendNetBufferListInfo, lso_v2(1448, 34, false)),
        );
    }
    let p = sent(&bus, 3);
    assert_eq!(p.len(), 3);
    for x in &p {
        let f = completed(x);
        assert!(checksums_ok(&f));
        assert_eq!(l4_payload(&f), payload);
        assert!(
            x.descriptors > 40,
            "zero copy: {} descriptors",
            x.descriptors
        );
    }
    assert_eq!(h.wait_completions(3, T).len(), 3);
    let w = h.warnings();
    assert!(
        !w.iter().any(|w| w.message.contains("NDIS allocates")),
        "{w:#?}"
    );
    down(&mut h);
}

#[test]
fn jumbo_frames_and_data_the_device_cannot_reach_are_sent_intact() {
    let _s = serial();
    let cfg = FakeConfig {
        mtu: 9000,
        ..FakeConfig::default()
    };
    let (mut h, bus) = harness(cfg, &[("*JumboPacket", "9014")], emu());
    up(&mut h);
    bus.start_tx_pump();
    let f = udp4_out(&pattern(8972, 2));
    send_one(&mut h, NblSpec::frames(&[&f]));
    // Heap memory the device cannot reach: NDIS bounces it for the SG list.
    send_one(&mut h, NblSpec::default().nb(NbSpec::new(&f).non_dma()));
    let p = sent(&bus, 2);
    assert_eq!(p.len(), 2);
    for x in &p {
        assert_eq!(x.frame, f);
        assert!(x.descriptors >= 2);
    }
    assert_eq!(h.wait_completions(2, T).len(), 2);
    down(&mut h);
}
