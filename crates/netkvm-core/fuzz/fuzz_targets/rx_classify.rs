//! Arbitrary virtio header + frame (split into up to three chunks) through `rx::classify`
//! under fuzzer-chosen negotiated features and configuration: no panic, and the result obeys
//! the classification invariants — above all, a checksum reported as succeeded really
//! verifies (unless the device vouched for it with DATA_VALID / NEEDS_CSUM or the frame is an
//! SCU whose value is flagged invalid).
//!
//! Input: `[cfg, mtu_sel, vlan_sel, split1, split2, virtio header (12 or 20 bytes), frame…]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkvm_core::offload::{Features, PerFamily, RscPath, RxChecksumConfig};
use netkvm_core::params::PriorityVlan;
use netkvm_core::rsc::{RscEngine, RscSegment};
use netkvm_core::rss::{HashTypes, Toeplitz, MICROSOFT_TEST_KEY};
use netkvm_core::rx::{
    classify, RssParams, RxChecksumFlags, RxConfig, RxFrame, ScuChecksum, Verdict,
};
use netkvm_core::wire::virtio::{HdrFlags, HdrFormat, VirtioNetHdr};

/// Textbook one's-complement sum (independent of the crate's).
fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut i = 0;
    while i + 1 < data.len() {
        acc += (u64::from(data[i]) << 8) | u64::from(data[i + 1]);
        i += 2;
    }
    if i < data.len() {
        acc += u64::from(data[i]) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Does the L4 checksum of the (indicated) frame verify?
fn l4_verifies(f: &[u8], l: &netkvm_core::wire::FrameLayout, proto: u8) -> bool {
    let seg = &f[l.l4_offset..l.l3_end()];
    let mut acc = 0u64;
    if l.is_ipv4() {
        acc = sum(&f[l.l3_offset + 12..l.l3_offset + 20], acc);
    } else {
        acc = sum(&f[l.l3_offset + 8..l.l3_offset + 40], acc);
    }
    acc += u64::from(proto) + seg.len() as u64;
    fold(sum(seg, acc)) == 0xffff
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (c, mtu_sel, vlan_sel, s1, s2) = (data[0], data[1], data[2], data[3], data[4]);
    let mut features = Features::VERSION_1 | Features::GUEST_CSUM | Features::CSUM;
    if c & 1 != 0 {
        features |= Features::RSC_EXT;
    }
    let format = if c & 2 != 0 {
        features |= Features::HASH_REPORT;
        HdrFormat::V1Hash
    } else {
        HdrFormat::V1
    };
    if c & 4 != 0 {
        features |= Features::GUEST_TSO4;
    }
    if c & 8 != 0 {
        features |= Features::GUEST_TSO6;
    }
    let rsc = RscPath {
        host: c & 0x20 != 0,
        software: c & 0x10 != 0,
    };
    let cfg = RxConfig {
        features,
        csum: if c & 0x40 != 0 {
            RxChecksumConfig::ALL
        } else {
            RxChecksumConfig::default()
        },
        rsc: PerFamily {
            ipv4: rsc,
            ipv6: rsc,
        },
        mtu: [1500, 9000, 576, 65486][usize::from(mtu_sel & 3)],
        priority_vlan: PriorityVlan {
            priority: vlan_sel & 1 != 0,
            vlan: vlan_sel & 2 != 0,
        },
        vlan_id: u16::from(vlan_sel >> 2),
        scu_checksum: if c & 0x80 != 0 {
            ScuChecksum::Recompute
        } else {
            ScuChecksum::MarkValueInvalid
        },
    };
    let rest = &data[5..];
    let Ok(hdr) = VirtioNetHdr::parse(rest, format) else {
        return;
    };
    let frame = &rest[format.len()..];
    let original = frame.to_vec();
    let mut buf = frame.to_vec();
    let n = buf.len();
    let a = (usize::from(s1) * n / 256).max(1).min(n);
    let b = (a + usize::from(s2) * (n - a) / 256).min(n);
    let (first_len, tail) = (a, buf.split_off(a));
    let (mid, last) = tail.split_at(b - a);
    let chunks: [&[u8]; 2] = [mid, last];
    let toeplitz = Toeplitz::new(&MICROSOFT_TEST_KEY).unwrap();
    let rss = RssParams {
        toeplitz: &toeplitz,
        types: HashTypes::all(),
    };
    let res = classify(
        &hdr,
        RxFrame {
            first: &mut buf,
            rest: &chunks,
        },
        &cfg,
        Some(rss),
    );
    let Ok(info) = res else {
        return;
    };
    // Layout and lengths stay inside the frame.
    assert!(info.data_offset <= 4 && info.data_offset <= first_len);
    assert_eq!(info.frame_len, n - info.data_offset);
    let l = &info.layout;
    assert!(l.payload_offset + l.payload_len <= info.frame_len);
    // Never succeeded and failed for the same protocol.
    let k = info.checksum;
    for (ok, bad) in [
        (RxChecksumFlags::TCP_SUCCEEDED, RxChecksumFlags::TCP_FAILED),
        (RxChecksumFlags::UDP_SUCCEEDED, RxChecksumFlags::UDP_FAILED),
        (RxChecksumFlags::IP_SUCCEEDED, RxChecksumFlags::IP_FAILED),
    ] {
        assert!(!(k.contains(ok) && k.contains(bad)));
    }
    if info.l4_verdict == Verdict::Bad {
        assert!(!k.intersects(RxChecksumFlags::TCP_SUCCEEDED | RxChecksumFlags::UDP_SUCCEEDED));
    }
    // Reassemble what is indicated and check that a succeeded L4 checksum really verifies.
    let mut whole = buf[info.data_offset..].to_vec();
    whole.extend_from_slice(mid);
    whole.extend_from_slice(last);
    assert_eq!(whole.len(), info.frame_len);
    // The device vouches for DATA_VALID frames, and for NEEDS_CSUM frames it promises the
    // field holds the pseudo-header sum (the completion is only as right as that promise).
    let trusted = hdr
        .flags
        .intersects(HdrFlags::DATA_VALID | HdrFlags::NEEDS_CSUM)
        || k.contains(RxChecksumFlags::TCP_VALUE_INVALID);
    if !trusted && !l.is_fragment() {
        if k.contains(RxChecksumFlags::TCP_SUCCEEDED) {
            assert!(
                l4_verifies(&whole, l, 6),
                "TCP reported succeeded but does not verify"
            );
        }
        if k.contains(RxChecksumFlags::UDP_SUCCEEDED)
            && whole[l.l4_offset + 6..l.l4_offset + 8] != [0, 0]
        {
            assert!(
                l4_verifies(&whole, l, 17),
                "UDP reported succeeded but does not verify"
            );
        }
    }
    if k.contains(RxChecksumFlags::IP_SUCCEEDED) && l.is_ipv4() {
        assert_eq!(
            fold(sum(&whole[l.l3_offset..l.l3_offset + l.l3_header_len], 0)),
            0xffff
        );
    }
    // Bytes outside the checksum field / IPv4 header / stripped tag are never changed.
    if info.data_offset == 0 && !info.completed_partial && !info.host_coalesced {
        assert_eq!(&whole[..], &original[..]);
    }
    // The frame can go through the RSC engine.
    let mut e = RscEngine::new(1).unwrap();
    let mut segs = [RscSegment::from_rx(&mut buf, &info)];
    let out = e.process(&mut segs).unwrap();
    assert_eq!(out.len(), 1);
});
