//! Arbitrary send request + frame + scatter split + device capabilities → plan, then the full
//! software segmentation into bounded buffers. No panic; output invariants asserted.
//!
//! Input layout: bytes 0..32 describe the request and the adapter, the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkvm_core::tx::{
    self, ChecksumRequest, DeviceCaps, Encapsulation, Ieee8021Q, LsoRequest, SendInfo, TxAction,
    TxContext, TxLimits, TxOffloadConfig, UsoRequest,
};
use netkvm_core::wire::virtio::{GsoType, HdrFlags};
use netkvm_core::wire::{parse_frame, LenMode};

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (h, frame) = data.split_at(32);
    let sel = h[16];
    let info = SendInfo {
        checksum: ChecksumRequest::from_raw(le32(&h[0..4])),
        lso: if sel & 1 != 0 {
            LsoRequest::from_raw(le32(&h[4..8]))
        } else {
            None
        },
        uso: if sel & 2 != 0 {
            UsoRequest::from_raw(le32(&h[8..12]))
        } else {
            None
        },
        ieee8021q: if sel & 4 != 0 {
            Some(Ieee8021Q::from_raw(le32(&h[12..16])))
        } else {
            None
        },
    };
    let c = h[17];
    let caps = DeviceCaps {
        csum: c & 1 != 0,
        tso4: c & 2 != 0,
        tso6: c & 4 != 0,
        tso_ecn: c & 8 != 0,
        uso: c & 16 != 0,
        max_tso_segments: u32::from(h[18]),
        max_uso_segments: u32::from(h[19]),
    };
    let o = u16::from_le_bytes([h[20], h[21]]);
    let config = TxOffloadConfig {
        ipv4_checksum: o & 1 != 0,
        tcp4_checksum: o & 2 != 0,
        udp4_checksum: o & 4 != 0,
        tcp6_checksum: o & 8 != 0,
        udp6_checksum: o & 16 != 0,
        lso_v1: o & 32 != 0,
        lso_v2_ipv4: o & 64 != 0,
        lso_v2_ipv6: o & 128 != 0,
        uso_ipv4: o & 256 != 0,
        uso_ipv6: o & 512 != 0,
    };
    let encap = Encapsulation {
        ipv4: h[22] & 1 != 0,
        ipv6: h[22] & 2 != 0,
        header_size: 14,
    };
    let limits = TxLimits {
        mtu: 576 + u32::from(u16::from_le_bytes([h[23], h[24]])) % 9000,
        lso_max_size: 1 + u32::from(u16::from_le_bytes([h[25], h[26]])) * 2,
        uso_max_size: 1 + u32::from(u16::from_le_bytes([h[27], h[28]])),
    };
    let ctx = TxContext {
        config,
        encap,
        caps,
        limits,
    };
    // Up to three cut points split the frame into a scatter list.
    let mut cuts = [
        usize::from(h[29]) * 2,
        usize::from(h[30]) * 8,
        usize::from(h[31]) * 64,
    ];
    cuts.sort_unstable();
    let mut frags: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    for cut in cuts {
        let cut = cut.clamp(at, frame.len());
        frags.push(&frame[at..cut]);
        at = cut;
    }
    frags.push(&frame[at..]);

    let mut hb = vec![0u8; tx::TX_HEADER_BUF_LEN];
    let Ok(plan) = tx::plan(&ctx, &info, &frags, &mut hb) else {
        return;
    };
    assert!(plan.header_len <= frame.len());
    assert!(plan.header_buf_len <= hb.len());
    assert_eq!(plan.frame_len, frame.len());
    match plan.action {
        TxAction::Device => {
            let mut wire = hb[..plan.header_buf_len].to_vec();
            wire.extend_from_slice(&frame[plan.header_len..]);
            let v = plan.vnet_hdr;
            if v.flags.contains(HdrFlags::NEEDS_CSUM) {
                assert!(usize::from(v.csum_start) + usize::from(v.csum_offset) + 2 <= wire.len());
                assert!(caps.csum);
            }
            if v.gso_type != GsoType::None {
                assert!(v.gso_size > 0 && usize::from(v.hdr_len) <= wire.len());
                assert!(plan.segments > 1);
                match v.gso_type {
                    GsoType::TcpV4 => assert!(caps.tso4),
                    GsoType::TcpV6 => assert!(caps.tso6),
                    GsoType::UdpL4 => assert!(caps.uso),
                    _ => panic!("unexpected gso type"),
                }
                if v.ecn {
                    assert!(caps.tso_ecn);
                }
            }
            if info.lso.is_none() && info.uso.is_none() {
                assert!(wire.len() <= limits.mtu as usize + 22 + 4);
            }
        }
        TxAction::Segment => {
            let max = plan.max_segment_len();
            assert!(max <= tx::TX_HEADER_BUF_LEN + 65535);
            let mut buf = vec![0u8; max];
            let mut seg = plan.segmenter(&hb, &frags);
            let (mut n, mut payload) = (0u32, 0usize);
            while let Some(r) = seg.next_into(&mut buf) {
                let s = r.expect("segment fits max_segment_len");
                assert!(s.len <= max && s.payload_len <= plan.mss as usize);
                if s.vnet_hdr.flags.contains(HdrFlags::NEEDS_CSUM) {
                    assert!(caps.csum);
                    assert!(
                        usize::from(s.vnet_hdr.csum_start)
                            + usize::from(s.vnet_hdr.csum_offset)
                            + 2
                            <= s.len
                    );
                }
                assert_eq!(s.index, n);
                let l =
                    parse_frame(&buf[..s.len], LenMode::Strict).expect("segment parses strictly");
                assert_eq!(l.payload_len, s.payload_len);
                assert_eq!(l.l4, plan.layout.l4);
                assert!(l.l2_len + l.l3_header_len + l.l4_header_len + s.payload_len == s.len);
                n += 1;
                payload += s.payload_len;
                assert!(n <= plan.segments);
            }
            assert_eq!(n, plan.segments);
            assert_eq!(payload, plan.layout.payload_len);
            // The zero-copy form yields the same headers and payload ranges.
            let mut seg = plan.segmenter(&hb, &frags);
            let mut copied = plan.segmenter(&hb, &frags);
            let mut hdr = vec![0u8; plan.layout.payload_offset];
            while let Some(r) = seg.next_header_into(&mut hdr) {
                let s = r.expect("header fits");
                let c = copied
                    .next_into(&mut buf)
                    .expect("same count")
                    .expect("fits");
                assert_eq!(&buf[..s.header_len], &hdr[..s.header_len]);
                assert_eq!(
                    &buf[s.header_len..c.len],
                    &frame[s.payload_offset..s.payload_offset + s.payload_len]
                );
            }
            assert!(copied.next_into(&mut buf).is_none());
        }
    }
});
