//! Rules of `rx::classify`, one test per rule.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::offload::{Features, PerFamily, RscPath, RxChecksumConfig};
use crate::params::PriorityVlan;
use crate::rss::{HashTypes, Toeplitz, MICROSOFT_TEST_KEY};
use crate::wire::virtio::{GsoType, HdrFlags, VirtioNetHdr};

#[path = "../../tests/core_b_support/mod.rs"]
pub(crate) mod support;
use support::*;

const FEATS: Features = Features::CSUM
    .union(Features::GUEST_CSUM)
    .union(Features::GUEST_TSO4)
    .union(Features::GUEST_TSO6)
    .union(Features::MRG_RXBUF)
    .union(Features::VERSION_1);

fn cfg() -> RxConfig {
    RxConfig {
        features: FEATS,
        csum: RxChecksumConfig::ALL,
        rsc: PerFamily {
            ipv4: RscPath {
                host: true,
                software: true,
            },
            ipv6: RscPath {
                host: true,
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

fn hdr() -> VirtioNetHdr {
    VirtioNetHdr::default()
}

fn run(h: &VirtioNetHdr, f: &mut [u8], c: &RxConfig) -> Result<RxInfo, RxError> {
    classify(
        h,
        RxFrame {
            first: f,
            rest: &[],
        },
        c,
        None,
    )
}

fn data(len: usize) -> Seg {
    Seg {
        payload: pattern(len, 7),
        ..Seg::default()
    }
}

fn ok_bits() -> RxChecksumFlags {
    RxChecksumFlags::IP_SUCCEEDED | RxChecksumFlags::TCP_SUCCEEDED
}

// --- checksum verdicts ------------------------------------------------------------------------

#[test]
fn rx_software_verified_good_reported_succeeded() {
    let mut f = build(&data(100));
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.checksum, ok_bits());
    assert_eq!((i.ip_verdict, i.l4_verdict), (Verdict::Good, Verdict::Good));
    assert!(i.rsc_candidate && !i.host_coalesced && i.rsc.is_none());
}

#[test]
fn rx_bad_tcp_checksum_never_reported_succeeded() {
    let mut f = build(&Seg {
        bad_l4: true,
        ..data(100)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(
        i.checksum,
        RxChecksumFlags::IP_SUCCEEDED | RxChecksumFlags::TCP_FAILED
    );
    assert!(!i.rsc_candidate);
}

#[test]
fn rx_bad_ipv4_header_checksum_reported_failed() {
    let mut f = build(&Seg {
        bad_ip: true,
        ..data(10)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert!(i.checksum.contains(RxChecksumFlags::IP_FAILED));
    assert!(!i.checksum.contains(RxChecksumFlags::IP_SUCCEEDED));
    assert!(!i.rsc_candidate);
}

#[test]
fn rx_data_valid_trusted_only_with_guest_csum() {
    let h = VirtioNetHdr {
        flags: HdrFlags::DATA_VALID,
        ..hdr()
    };
    let mut f = build(&Seg {
        bad_l4: true,
        ..data(50)
    });
    // DATA_VALID: the device validated it (our corrupted field is not re-checked).
    let i = run(&h, &mut f, &cfg()).unwrap();
    assert!(i.checksum.contains(RxChecksumFlags::TCP_SUCCEEDED));
    // Without GUEST_CSUM negotiated the flag is meaningless: verified in software.
    let c = RxConfig {
        features: FEATS - Features::GUEST_CSUM,
        ..cfg()
    };
    let i = run(&h, &mut f, &c).unwrap();
    assert!(i.checksum.contains(RxChecksumFlags::TCP_FAILED));
}

#[test]
fn rx_needs_csum_completed_in_frame_and_reported_succeeded() {
    let s = Seg {
        partial: true,
        ..data(333)
    };
    let mut f = build(&s);
    assert!(!oracle_checksums_ok(&f).1);
    let h = VirtioNetHdr {
        flags: HdrFlags::NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..hdr()
    };
    let i = run(&h, &mut f, &cfg()).unwrap();
    assert!(i.completed_partial);
    assert_eq!(i.checksum, ok_bits());
    assert_eq!(oracle_checksums_ok(&f), (true, true));
    assert_eq!(f, build(&data(333)));
}

#[test]
fn rx_needs_csum_udp_completed_zero_becomes_ffff() {
    // Find a payload whose UDP checksum computes to 0 → must be sent as 0xFFFF.
    let mut s = Seg {
        udp: true,
        partial: true,
        payload: vec![0; 2],
        ..Seg::default()
    };
    let mut found = false;
    for v in 0..=0xFFFFu16 {
        s.payload = v.to_be_bytes().to_vec();
        let full = build(&Seg {
            partial: false,
            ..s.clone()
        });
        if full[40..42] == [0xff, 0xff] {
            found = true;
            break;
        }
    }
    assert!(found);
    let mut f = build(&s);
    let h = VirtioNetHdr {
        flags: HdrFlags::NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..hdr()
    };
    let i = run(&h, &mut f, &cfg()).unwrap();
    assert_eq!(&f[40..42], &[0xff, 0xff]);
    assert!(i.checksum.contains(RxChecksumFlags::UDP_SUCCEEDED));
}

#[test]
fn rx_reporting_disabled_reports_nothing_but_still_completes_partial() {
    let c = RxConfig {
        csum: RxChecksumConfig::default(),
        rsc: PerFamily::default(),
        ..cfg()
    };
    let mut f = build(&Seg {
        partial: true,
        ..data(64)
    });
    let h = VirtioNetHdr {
        flags: HdrFlags::NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..hdr()
    };
    let i = run(&h, &mut f, &c).unwrap();
    assert!(i.checksum.is_empty());
    assert_eq!(oracle_checksums_ok(&f), (true, true));
    // Nothing verified in software either (left to the stack).
    let mut f = build(&Seg {
        bad_l4: true,
        ..data(64)
    });
    let i = run(&hdr(), &mut f, &c).unwrap();
    assert!(i.checksum.is_empty());
    assert_eq!(i.l4_verdict, Verdict::NotChecked);
}

#[test]
fn rx_software_rsc_verifies_even_when_reporting_is_off() {
    let c = RxConfig {
        csum: RxChecksumConfig::default(),
        ..cfg()
    };
    let mut f = build(&data(64));
    let i = run(&hdr(), &mut f, &c).unwrap();
    assert!(i.checksum.is_empty());
    assert_eq!(i.l4_verdict, Verdict::Good);
    assert!(i.rsc_candidate);
}

#[test]
fn rx_fragments_skip_l4() {
    let mut f = build(&Seg {
        mf: true,
        bad_l4: true,
        ..data(64)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.checksum, RxChecksumFlags::IP_SUCCEEDED);
    assert_eq!(i.l4_verdict, Verdict::NotChecked);
    assert!(!i.rsc_candidate);
}

#[test]
fn rx_udp_ipv4_zero_checksum_not_reported() {
    let mut f = build(&Seg {
        udp: true,
        ..data(20)
    });
    f[40] = 0;
    f[41] = 0;
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.checksum, RxChecksumFlags::IP_SUCCEEDED);
}

#[test]
fn rx_ipv6_tcp_and_udp_verified() {
    let mut f = build(&Seg {
        v6: true,
        ..data(200)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.checksum, RxChecksumFlags::TCP_SUCCEEDED);
    let mut f = build(&Seg {
        v6: true,
        udp: true,
        bad_l4: true,
        ..data(200)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.checksum, RxChecksumFlags::UDP_FAILED);
}

#[test]
fn rx_checksum_across_chunks_with_odd_split() {
    let s = data(3001);
    let full = build(&s);
    for split in [60usize, 61, 99, 1000, 1501] {
        let mut first = full[..split].to_vec();
        let (a, b) = full[split..].split_at(777.min(full.len() - split));
        let rest: [&[u8]; 2] = [a, b];
        let c = RxConfig { mtu: 9000, ..cfg() };
        let i = classify(
            &hdr(),
            RxFrame {
                first: &mut first,
                rest: &rest,
            },
            &c,
            None,
        )
        .unwrap();
        assert_eq!(i.checksum, ok_bits(), "split {split}");
        assert_eq!(i.frame_len, full.len());
        let mut bad = full.clone();
        *bad.last_mut().unwrap() ^= 1;
        let mut first = bad[..split].to_vec();
        let (a, b) = bad[split..].split_at(777.min(bad.len() - split));
        let rest: [&[u8]; 2] = [a, b];
        let i = classify(
            &hdr(),
            RxFrame {
                first: &mut first,
                rest: &rest,
            },
            &c,
            None,
        )
        .unwrap();
        assert!(
            i.checksum.contains(RxChecksumFlags::TCP_FAILED),
            "split {split}"
        );
    }
}

#[test]
fn rx_partial_completion_across_chunks() {
    let s = Seg {
        partial: true,
        ..data(2500)
    };
    let full = build(&s);
    let mut first = full[..1001].to_vec();
    let rest: [&[u8]; 1] = [&full[1001..]];
    let h = VirtioNetHdr {
        flags: HdrFlags::NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..hdr()
    };
    let c = RxConfig { mtu: 9000, ..cfg() };
    let i = classify(
        &h,
        RxFrame {
            first: &mut first,
            rest: &rest,
        },
        &c,
        None,
    )
    .unwrap();
    assert!(i.completed_partial);
    let mut whole = first.clone();
    whole.extend_from_slice(&full[1001..]);
    assert_eq!(oracle_checksums_ok(&whole), (true, true));
}

// --- frame-size sanity --------------------------------------------------------------------------

#[test]
fn rx_runt_frame_rejected() {
    let mut f = [0u8; 13];
    assert_eq!(run(&hdr(), &mut f, &cfg()), Err(RxError::Runt { len: 13 }));
}

#[test]
fn rx_frame_longer_than_negotiated_maximum_rejected() {
    let c = RxConfig {
        features: Features::VERSION_1,
        ..cfg()
    };
    let mut f = vec![0u8; 1500 + 18 + 1];
    assert_eq!(
        run(&hdr(), &mut f, &c),
        Err(RxError::TooLong {
            len: 1519,
            max: 1518
        })
    );
}

#[test]
fn rx_used_len_beyond_buffer_rejected() {
    assert_eq!(
        validate_used_len(4097, 4096, 12, true),
        Err(RxError::UsedLenBeyondBuffer {
            used: 4097,
            capacity: 4096
        })
    );
    assert_eq!(
        validate_used_len(11, 4096, 12, true),
        Err(RxError::Runt { len: 11 })
    );
    assert_eq!(validate_used_len(4096, 4096, 12, true), Ok(4084));
    assert_eq!(validate_used_len(100, 4096, 12, false), Ok(100));
    assert_eq!(
        validate_num_buffers(0, 17),
        Err(RxError::BadNumBuffers {
            num_buffers: 0,
            max: 17
        })
    );
    assert_eq!(
        validate_num_buffers(18, 17),
        Err(RxError::BadNumBuffers {
            num_buffers: 18,
            max: 17
        })
    );
    assert_eq!(validate_num_buffers(17, 17), Ok(17));
}

#[test]
fn rx_ip_length_beyond_chunks_rejected() {
    let full = build(&data(2000));
    let mut first = full[..1000].to_vec();
    let rest: [&[u8]; 1] = [&full[1000..full.len() - 1]];
    let c = RxConfig { mtu: 9000, ..cfg() };
    let e = classify(
        &hdr(),
        RxFrame {
            first: &mut first,
            rest: &rest,
        },
        &c,
        None,
    )
    .unwrap_err();
    assert!(matches!(e, RxError::Parse(ParseError::Len(_))), "{e:?}");
}

#[test]
fn rx_headers_split_across_chunks_rejected() {
    let full = build(&data(100));
    let mut first = full[..40].to_vec();
    let rest: [&[u8]; 1] = [&full[40..]];
    assert_eq!(
        classify(
            &hdr(),
            RxFrame {
                first: &mut first,
                rest: &rest
            },
            &cfg(),
            None
        ),
        Err(RxError::HeadersSplit)
    );
}

#[test]
fn rx_malformed_ip_is_a_parse_error() {
    let mut f = build(&data(10));
    f[14] = 0x45 ^ 0x10; // version 5
    assert!(matches!(
        run(&hdr(), &mut f, &cfg()),
        Err(RxError::Parse(_))
    ));
}

#[test]
fn rx_non_ip_frames_pass_without_checksum_info() {
    let mut f = vec![0u8; 60];
    f[12] = 0x08;
    f[13] = 0x06; // ARP
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert!(i.checksum.is_empty() && !i.rsc_candidate);
}

#[test]
fn rx_short_frames_report_padding_needed() {
    let mut f = build(&data(0)); // 54 bytes
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.short_by, 6);
}

#[test]
fn rx_csum_start_out_of_frame_rejected() {
    let mut f = build(&Seg {
        partial: true,
        ..data(10)
    });
    let len = f.len() as u16;
    for (s, o) in [(len - 1, 0u16), (34, len), (2, 16), (0xffff, 0xffff)] {
        let h = VirtioNetHdr {
            flags: HdrFlags::NEEDS_CSUM,
            csum_start: s,
            csum_offset: o,
            ..hdr()
        };
        assert_eq!(
            run(&h, &mut f, &cfg()),
            Err(RxError::CsumOutOfFrame {
                start: s,
                offset: o
            }),
            "{s} {o}"
        );
    }
}

#[test]
fn rx_csum_start_inside_the_ip_header_is_rejected_not_completed() {
    // Found by the rx_classify fuzz target: NEEDS_CSUM with csum_start inside the IPv4 header
    // made the completion overwrite header bytes after the header checksum had been verified,
    // so IpChecksumSucceeded was reported for a header that no longer verified.
    let mut f = build(&Seg {
        partial: true,
        ..data(10)
    });
    let l4 = 14 + 20;
    for (s, o) in [(21u16, 0u16), (14, 10), (14, 0), ((l4 - 2) as u16, 0)] {
        let h = VirtioNetHdr {
            flags: HdrFlags::NEEDS_CSUM,
            csum_start: s,
            csum_offset: o,
            ..hdr()
        };
        let before = f.clone();
        assert_eq!(
            run(&h, &mut f, &cfg()),
            Err(RxError::CsumInsideL3Header {
                start: s,
                offset: o
            }),
            "{s} {o}"
        );
        assert_eq!(f, before, "nothing written for a rejected frame");
    }
}

#[test]
fn rx_csum_fields_ignored_with_rsc_info() {
    // virtio §5.1.6.4: csum_start/offset mean counts when RSC_INFO is set.
    let c = RxConfig {
        features: FEATS | Features::RSC_EXT,
        ..cfg()
    };
    let mut f = build(&data(3000));
    let h = VirtioNetHdr {
        flags: HdrFlags::RSC_INFO,
        gso_type: GsoType::TcpV4,
        csum_start: 3,
        csum_offset: 0xffff,
        ..hdr()
    };
    let i = run(&h, &mut f, &RxConfig { mtu: 9000, ..c }).unwrap();
    assert_eq!(i.rsc.unwrap().coalesced_seg_count, 3);
}

// --- GSO consistency -----------------------------------------------------------------------------

fn gso4() -> VirtioNetHdr {
    VirtioNetHdr {
        flags: HdrFlags::NEEDS_CSUM,
        gso_type: GsoType::TcpV4,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
        ..hdr()
    }
}

#[test]
fn rx_gso_without_checksum_flags_rejected() {
    let mut f = build(&data(4000));
    let h = VirtioNetHdr {
        flags: HdrFlags::empty(),
        ..gso4()
    };
    assert_eq!(run(&h, &mut f, &cfg()), Err(RxError::GsoWithoutChecksum));
}

#[test]
fn rx_gso_on_non_tcp_or_wrong_family_rejected() {
    let mut f = build(&Seg {
        udp: true,
        ..data(4000)
    });
    let h = VirtioNetHdr {
        csum_offset: 6,
        ..gso4()
    };
    assert_eq!(
        run(&h, &mut f, &cfg()),
        Err(RxError::GsoMismatch { gso_type: 1 })
    );
    let mut f = build(&Seg {
        v6: true,
        ..data(4000)
    });
    assert_eq!(
        run(&gso4(), &mut f, &cfg()),
        Err(RxError::GsoMismatch { gso_type: 1 })
    );
}

#[test]
fn rx_gso_types_not_negotiated_rejected() {
    let mut f = build(&data(4000));
    let c = RxConfig {
        features: FEATS - Features::GUEST_TSO4,
        ..cfg()
    };
    assert_eq!(
        run(&gso4(), &mut f, &c),
        Err(RxError::GsoNotNegotiated { gso_type: 1 })
    );
    let h = VirtioNetHdr {
        gso_type: GsoType::UdpL4,
        ..gso4()
    };
    assert_eq!(
        run(&h, &mut f, &cfg()),
        Err(RxError::GsoNotNegotiated { gso_type: 5 })
    );
    let h = VirtioNetHdr {
        ecn: true,
        ..gso4()
    };
    assert_eq!(
        run(&h, &mut f, &cfg()),
        Err(RxError::GsoNotNegotiated { gso_type: 0x81 })
    );
}

#[test]
fn rx_gso_hdr_len_beyond_frame_rejected() {
    let mut f = build(&data(100));
    let h = VirtioNetHdr {
        hdr_len: 5000,
        ..gso4()
    };
    assert_eq!(
        run(&h, &mut f, &cfg()),
        Err(RxError::HdrLenBeyondFrame {
            hdr_len: 5000,
            len: f.len()
        })
    );
}

#[test]
fn rx_gso_csum_not_at_tcp_checksum_rejected() {
    let mut f = build(&data(4000));
    let h = VirtioNetHdr {
        csum_offset: 6,
        ..gso4()
    };
    assert_eq!(
        run(&h, &mut f, &cfg()),
        Err(RxError::CsumNotTcp {
            start: 34,
            offset: 6
        })
    );
}

#[test]
fn rx_rsc_info_without_rsc_ext_rejected() {
    let mut f = build(&data(4000));
    let h = VirtioNetHdr {
        flags: HdrFlags::RSC_INFO,
        csum_start: 3,
        csum_offset: 0,
        ..gso4()
    };
    assert_eq!(run(&h, &mut f, &cfg()), Err(RxError::RscInfoNotNegotiated));
    let c = RxConfig {
        features: FEATS | Features::RSC_EXT,
        ..cfg()
    };
    let h = VirtioNetHdr {
        gso_type: GsoType::None,
        ..h
    };
    assert_eq!(run(&h, &mut f, &c), Err(RxError::RscInfoWithoutGso));
}

#[test]
fn rx_rsc_info_zero_segments_rejected() {
    let c = RxConfig {
        features: FEATS | Features::RSC_EXT,
        ..cfg()
    };
    let mut f = build(&data(4000));
    let h = VirtioNetHdr {
        flags: HdrFlags::RSC_INFO,
        csum_start: 0,
        csum_offset: 0,
        gso_size: 0,
        ..gso4()
    };
    assert_eq!(run(&h, &mut f, &c), Err(RxError::RscZeroSegments));
}

#[test]
fn rx_coalesced_frame_while_rsc_disabled_rejected() {
    let mut f = build(&data(4000));
    let c = RxConfig {
        rsc: PerFamily {
            ipv4: RscPath::OFF,
            ..cfg().rsc
        },
        ..cfg()
    };
    assert_eq!(
        run(&gso4(), &mut f, &c),
        Err(RxError::CoalescedWhileRscDisabled)
    );
}

// --- host-coalesced frames --------------------------------------------------------------------

#[test]
fn rx_rsc_info_counts_passed_through_and_ip_checksum_recomputed() {
    let c = RxConfig {
        features: FEATS | Features::RSC_EXT,
        ..cfg()
    };
    let s = data(44 * 1448);
    let mut f = build(&s);
    // QEMU updates the total length but not the header checksum (defect 1).
    f[24] ^= 0x55;
    assert!(!oracle_checksums_ok(&f).0);
    let h = VirtioNetHdr {
        flags: HdrFlags::RSC_INFO,
        gso_type: GsoType::TcpV4,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 44,
        csum_offset: 2,
        ..hdr()
    };
    let big = RxConfig { mtu: 1500, ..c };
    let i = run(&h, &mut f, &big).unwrap();
    assert_eq!(
        i.rsc,
        Some(RscNblInfo {
            coalesced_seg_count: 44,
            dup_ack_count: 2,
            timestamp_delta: None
        })
    );
    assert_eq!(i.checksum, ok_bits() | RxChecksumFlags::TCP_VALUE_INVALID);
    assert!(i.host_coalesced && !i.rsc_candidate);
    assert!(oracle_checksums_ok(&f).0, "IPv4 header checksum rewritten");
}

#[test]
fn rx_gso_segment_count_estimated_from_gso_size() {
    let mut f = build(&data(43800));
    let i = run(
        &VirtioNetHdr {
            gso_size: 1460,
            ..gso4()
        },
        &mut f,
        &cfg(),
    )
    .unwrap();
    assert_eq!(i.rsc.unwrap().coalesced_seg_count, 30);
    assert_eq!(i.rsc.unwrap().dup_ack_count, 0);
    // gso_size 0 or above what the MTU allows: MSS = 1500 - 20 - 20.
    let mut f = build(&data(43800));
    let i = run(
        &VirtioNetHdr {
            gso_size: 0,
            ..gso4()
        },
        &mut f,
        &cfg(),
    )
    .unwrap();
    assert_eq!(i.rsc.unwrap().coalesced_seg_count, 30);
    let mut f = build(&data(43800));
    let i = run(
        &VirtioNetHdr {
            gso_size: 9000,
            ..gso4()
        },
        &mut f,
        &cfg(),
    )
    .unwrap();
    assert_eq!(i.rsc.unwrap().coalesced_seg_count, 30);
    let mut f = build(&data(1000));
    let i = run(
        &VirtioNetHdr {
            gso_size: 100,
            ..gso4()
        },
        &mut f,
        &cfg(),
    )
    .unwrap();
    assert_eq!(i.rsc.unwrap().coalesced_seg_count, 10);
}

#[test]
fn rx_host_scu_always_reports_ip_and_tcp_succeeded() {
    // Even with checksum reporting disabled by the protocol (spec §1.7).
    let c = RxConfig {
        csum: RxChecksumConfig::default(),
        ..cfg()
    };
    let mut f = build(&Seg {
        partial: true,
        ..data(5000)
    });
    let i = run(&gso4(), &mut f, &c).unwrap();
    assert!(i.checksum.contains(ok_bits()));
}

#[test]
fn rx_host_scu_tcp_checksum_recomputed_when_asked() {
    let c = RxConfig {
        scu_checksum: ScuChecksum::Recompute,
        ..cfg()
    };
    let mut f = build(&Seg {
        partial: true,
        ..data(20000)
    });
    let i = run(&gso4(), &mut f, &c).unwrap();
    assert_eq!(i.checksum, ok_bits());
    assert_eq!(oracle_checksums_ok(&f), (true, true));
    // IPv6 too.
    let mut f = build(&Seg {
        v6: true,
        partial: true,
        ..data(20000)
    });
    let h = VirtioNetHdr {
        gso_type: GsoType::TcpV6,
        csum_start: 54,
        ..gso4()
    };
    let i = run(&h, &mut f, &c).unwrap();
    assert_eq!(i.checksum, ok_bits());
    assert_eq!(oracle_checksums_ok(&f), (true, true));
}

#[test]
fn rx_gso_with_data_valid_accepted_as_scu() {
    let mut f = build(&data(8000));
    let h = VirtioNetHdr {
        flags: HdrFlags::DATA_VALID,
        ..gso4()
    };
    let i = run(&h, &mut f, &cfg()).unwrap();
    assert!(i.host_coalesced);
    assert_eq!(i.rsc.unwrap().coalesced_seg_count, 6);
}

// --- QEMU defect 2: above-MTU frames marked GSO_NONE ------------------------------------------

#[test]
fn rx_qemu_defect2_partial_checksum_above_mtu_completed_as_scu() {
    let mut f = build(&Seg {
        partial: true,
        ..data(60000)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert!(i.host_coalesced && i.completed_partial);
    assert_eq!(i.checksum, ok_bits());
    assert_eq!(
        i.rsc.unwrap().coalesced_seg_count,
        60000usize.div_ceil(1460) as u16
    );
    assert_eq!(oracle_checksums_ok(&f), (true, true));
}

#[test]
fn rx_qemu_defect2_valid_checksum_above_mtu_is_scu() {
    let mut f = build(&data(20000));
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert!(i.host_coalesced && !i.completed_partial);
    assert_eq!(i.checksum, ok_bits());
}

#[test]
fn rx_qemu_defect2_garbage_checksum_above_mtu_reported_failed() {
    let mut f = build(&Seg {
        bad_l4: true,
        ..data(20000)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert!(!i.host_coalesced && i.rsc.is_none());
    assert!(i.checksum.contains(RxChecksumFlags::TCP_FAILED));
    assert!(!i.checksum.contains(RxChecksumFlags::TCP_SUCCEEDED));
}

#[test]
fn rx_above_mtu_without_rsc_or_not_tcp_dropped() {
    let c = RxConfig {
        rsc: PerFamily::default(),
        ..cfg()
    };
    let mut f = build(&data(20000));
    assert_eq!(
        run(&hdr(), &mut f, &c),
        Err(RxError::ExceedsMtu {
            len: 20040,
            mtu: 1500
        })
    );
    let mut f = build(&Seg {
        udp: true,
        ..data(20000)
    });
    assert_eq!(
        run(&hdr(), &mut f, &cfg()),
        Err(RxError::ExceedsMtu {
            len: 20028,
            mtu: 1500
        })
    );
}

// --- 802.1Q ---------------------------------------------------------------------------------------

#[test]
fn rx_vlan_tag_stripped_and_reported() {
    let s = Seg {
        vlan: Some((5 << 13) | 42),
        ..data(100)
    };
    let mut f = build(&s);
    let untagged = build(&data(100));
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.data_offset, 4);
    assert_eq!(&f[4..], &untagged[..]);
    assert_eq!(
        i.ieee8021q,
        Some(Ieee8021Q {
            priority: 5,
            vlan_id: 42
        })
    );
    assert_eq!(i.layout.l3_offset, 14);
    assert_eq!(i.layout.l4_offset, 34);
    assert_eq!(i.frame_len, untagged.len());
    assert_eq!(i.checksum, ok_bits());
}

#[test]
fn rx_vlan_reporting_follows_priority_vlan_tag() {
    let c = RxConfig {
        priority_vlan: PriorityVlan {
            priority: true,
            vlan: false,
        },
        ..cfg()
    };
    // Priority-tagged (VID 0) frames pass; priority reported.
    let mut f = build(&Seg {
        vlan: Some(3 << 13),
        ..data(10)
    });
    let i = run(&hdr(), &mut f, &c).unwrap();
    assert_eq!(
        i.ieee8021q,
        Some(Ieee8021Q {
            priority: 3,
            vlan_id: 0
        })
    );
    // VLAN tagging off: a frame of some VLAN is not ours.
    let mut f = build(&Seg {
        vlan: Some(7),
        ..data(10)
    });
    assert_eq!(
        run(&hdr(), &mut f, &c),
        Err(RxError::VlanFiltered { vid: 7 })
    );
    // Nothing enabled: tag still stripped, nothing reported.
    let c = RxConfig {
        priority_vlan: PriorityVlan::default(),
        ..cfg()
    };
    let mut f = build(&Seg {
        vlan: Some(3 << 13),
        ..data(10)
    });
    let i = run(&hdr(), &mut f, &c).unwrap();
    assert_eq!((i.data_offset, i.ieee8021q), (4, None));
}

#[test]
fn rx_vlan_id_filter() {
    let c = RxConfig {
        vlan_id: 42,
        ..cfg()
    };
    let mut f = build(&Seg {
        vlan: Some(43),
        ..data(10)
    });
    assert_eq!(
        run(&hdr(), &mut f, &c),
        Err(RxError::VlanFiltered { vid: 43 })
    );
    let mut f = build(&Seg {
        vlan: Some(42),
        ..data(10)
    });
    assert!(run(&hdr(), &mut f, &c).is_ok());
    let mut f = build(&data(10));
    assert!(run(&hdr(), &mut f, &c).is_ok());
}

// --- RSS ------------------------------------------------------------------------------------------

#[test]
fn rx_rss_hash_is_the_4_tuple_toeplitz() {
    let t = Toeplitz::new(&MICROSOFT_TEST_KEY).unwrap();
    let s = Seg {
        src4: [66, 9, 149, 187],
        dst4: [161, 142, 100, 80],
        sport: 2794,
        dport: 1766,
        ..data(10)
    };
    let mut f = build(&s);
    let p = RssParams {
        toeplitz: &t,
        types: HashTypes::all(),
    };
    let i = classify(
        &hdr(),
        RxFrame {
            first: &mut f,
            rest: &[],
        },
        &cfg(),
        Some(p),
    )
    .unwrap();
    assert_eq!(
        i.hash,
        Some(crate::rss::RssHash {
            value: 0x51ccc178,
            hash_type: HashTypes::TCP_IPV4
        })
    );
    // Fragment: 2-tuple (Microsoft vector).
    let mut f = build(&Seg {
        mf: true,
        ..s.clone()
    });
    let i = classify(
        &hdr(),
        RxFrame {
            first: &mut f,
            rest: &[],
        },
        &cfg(),
        Some(p),
    )
    .unwrap();
    assert_eq!(
        i.hash,
        Some(crate::rss::RssHash {
            value: 0x323e8fc2,
            hash_type: HashTypes::IPV4
        })
    );
    // Hash report cross-check.
    let c = RxConfig {
        features: FEATS | Features::HASH_REPORT,
        ..cfg()
    };
    let mut f = build(&s);
    let h = VirtioNetHdr {
        hash_value: 0x51ccc178,
        hash_report: 2,
        ..hdr()
    };
    let i = classify(
        &h,
        RxFrame {
            first: &mut f,
            rest: &[],
        },
        &c,
        Some(p),
    )
    .unwrap();
    assert_eq!(i.hash_check, HashCheck::Match);
    let mut f = build(&s);
    let h = VirtioNetHdr {
        hash_value: 1,
        hash_report: 2,
        ..hdr()
    };
    let i = classify(
        &h,
        RxFrame {
            first: &mut f,
            rest: &[],
        },
        &c,
        Some(p),
    )
    .unwrap();
    assert_eq!(i.hash_check, HashCheck::Mismatch);
    // Tagged frame: hash unaffected by stripping.
    let mut f = build(&Seg { vlan: Some(9), ..s });
    let i = classify(
        &hdr(),
        RxFrame {
            first: &mut f,
            rest: &[],
        },
        &cfg(),
        Some(p),
    )
    .unwrap();
    assert_eq!(i.hash.unwrap().value, 0x51ccc178);
}

#[test]
fn rx_ipv6_with_extension_headers_verified_but_not_rsc_candidate_material() {
    let mut f = build(&Seg {
        v6: true,
        ext_header: true,
        ..data(100)
    });
    let i = run(&hdr(), &mut f, &cfg()).unwrap();
    assert_eq!(i.checksum, RxChecksumFlags::TCP_SUCCEEDED);
    assert!(i.layout.ipv6_ext_headers);
}

#[test]
fn rx_never_panics_on_truncations_of_valid_frames() {
    let full = build(&Seg {
        ts: Some((1, 2)),
        vlan: Some(5),
        ..data(300)
    });
    for n in 0..full.len() {
        let mut f: Vec<u8> = full[..n].to_vec();
        let _ = run(&hdr(), &mut f, &cfg());
        let mut f: Vec<u8> = full[..n].to_vec();
        let _ = run(&gso4(), &mut f, &cfg());
    }
}

#[test]
fn rx_config_from_offload_state() {
    use crate::offload::{NdisVersion, OffloadState};
    use crate::params::{Config, KeyValueSource};
    let (c, _) = Config::read(&KeyValueSource::new(&[("*RscIPv6", "0"), ("VlanID", "5")]));
    let st = OffloadState::new(FEATS, &c, NdisVersion::V6_85);
    let r = RxConfig::new(&st, &c, c.mtu());
    assert_eq!(r.mtu, 1500);
    assert_eq!(r.vlan_id, 5);
    assert!(r.rsc.ipv4.software && !r.rsc.ipv6.enabled());
    // No OID_OFFLOAD_ENCAPSULATION yet: nothing may be reported.
    assert_eq!(r.csum, RxChecksumConfig::default());
}
