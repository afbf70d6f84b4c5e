//! Structure-aware RSC fuzzing: the input describes a batch of TCP segments over a few flows
//! (sequence jumps, flags, payload sizes, timestamps, ECN, window, options, corruption); they
//! are built with valid checksums, classified by `rx::classify` and coalesced by the engine.
//! Invariants: every frame is indicated exactly once, parts are in arrival order, every SCU
//! verifies (IPv4 header and TCP checksum, recomputed here independently), fits 65535 bytes,
//! carries DupAckCount 0 and holds exactly the payload of its parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkvm_core::offload::{Features, PerFamily, RscPath, RxChecksumConfig};
use netkvm_core::params::PriorityVlan;
use netkvm_core::rsc::{RscEngine, RscOutput, RscSegment};
use netkvm_core::rx::{classify, RxConfig, RxFrame, RxInfo, ScuChecksum};
use netkvm_core::wire::virtio::VirtioNetHdr;

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

fn l4_ok(f: &[u8], v6: bool) -> bool {
    let (l3, l4) = (14, if v6 { 54 } else { 34 });
    let mut acc = if v6 {
        sum(&f[l3 + 8..l3 + 40], 0)
    } else {
        sum(&f[l3 + 12..l3 + 20], 0)
    };
    acc += 6 + (f.len() - l4) as u64;
    fold(sum(&f[l4..], acc)) == 0xffff
}

struct Rd<'a>(&'a [u8]);

impl Rd<'_> {
    fn u8(&mut self) -> u8 {
        let (b, r) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = r;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    v6: bool,
    sport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    tos: u8,
    ttl: u8,
    ts: Option<u32>,
    sack: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut opts = Vec::new();
    if let Some(t) = ts {
        opts.extend_from_slice(&[1, 1, 8, 10]);
        opts.extend_from_slice(&t.to_be_bytes());
        opts.extend_from_slice(&9u32.to_be_bytes());
    }
    if sack {
        opts.extend_from_slice(&[1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&80u16.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push((((20 + opts.len()) / 4) << 4) as u8);
    t.push(flags);
    t.extend_from_slice(&win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&opts);
    t.extend_from_slice(payload);
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    let (src, dst): (&[u8], &[u8]) = if v6 {
        (
            &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        )
    } else {
        (&[10, 0, 0, 1], &[10, 0, 0, 2])
    };
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd, 0x60 | (tos >> 4), tos << 4, 0, 0]);
        f.extend_from_slice(&(t.len() as u16).to_be_bytes());
        f.extend_from_slice(&[6, ttl]);
        f.extend_from_slice(src);
        f.extend_from_slice(dst);
    } else {
        f.extend_from_slice(&[0x08, 0x00, 0x45, tos]);
        f.extend_from_slice(&((20 + t.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, ttl, 6, 0, 0]);
        f.extend_from_slice(src);
        f.extend_from_slice(dst);
        let c = !fold(sum(&f[14..34], 0));
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
    let c = !fold(sum(&t, sum(src, 0) + sum(dst, 0) + 6 + t.len() as u64));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&t);
    f
}

fn rx_cfg() -> RxConfig {
    RxConfig {
        features: Features::VERSION_1 | Features::GUEST_CSUM | Features::CSUM,
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
        priority_vlan: PriorityVlan::default(),
        vlan_id: 0,
        scu_checksum: ScuChecksum::MarkValueInvalid,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Rd(data);
    let count = usize::from(r.u8() % 96) + 1;
    let mut nxt = [1000u32, 5000, 9000, 13000];
    let mut ts = [100u32; 4];
    let mut frames = Vec::new();
    let mut flows = Vec::new();
    for _ in 0..count {
        if r.0.is_empty() {
            break;
        }
        let a = r.u8();
        let b = r.u8();
        let f = usize::from(a & 3);
        let v6 = f >= 2;
        let len = if b & 0x80 != 0 {
            0
        } else {
            usize::from(r.u16() % 2000)
        };
        let seq = if a & 0x04 != 0 {
            nxt[f].wrapping_add(u32::from(r.u8()))
        } else {
            nxt[f]
        };
        let flags = if a & 0x08 != 0 {
            r.u8()
        } else {
            0x10 | (a & 0x08)
        };
        let win = if b & 0x40 != 0 { r.u16() } else { 512 };
        let tos = if b & 0x20 != 0 { r.u8() & 0x03 } else { 0 };
        let ttl = 64 - (b & 0x07);
        ts[f] = if b & 0x10 != 0 {
            ts[f].wrapping_sub(u32::from(r.u8()))
        } else {
            ts[f].wrapping_add(1)
        };
        let payload: Vec<u8> = (0..len).map(|i| (i as u8) ^ a).collect();
        let mut fr = build(
            v6,
            2000 + f as u16,
            seq,
            7,
            flags,
            win,
            tos,
            ttl,
            (b & 0x08 != 0).then_some(ts[f]),
            a & 0x40 != 0,
            &payload,
        );
        if a & 0x80 != 0 && b & 0x01 != 0 {
            let at = usize::from(r.u16()) % fr.len();
            fr[at] ^= 1 << (b >> 5); // corruption
        }
        nxt[f] = seq.wrapping_add(len as u32);
        frames.push(fr);
        flows.push(f);
    }
    let mut kept = Vec::new();
    let mut infos: Vec<RxInfo> = Vec::new();
    for mut fr in frames {
        if let Ok(i) = classify(
            &VirtioNetHdr::default(),
            RxFrame {
                first: &mut fr,
                rest: &[],
            },
            &rx_cfg(),
            None,
        ) {
            infos.push(i);
            kept.push(fr);
        }
    }
    let originals = kept.clone();
    let mut e = RscEngine::new(kept.len().max(1)).unwrap();
    let mut segs: Vec<RscSegment<'_>> = kept
        .iter_mut()
        .zip(&infos)
        .map(|(f, i)| RscSegment::from_rx(f, i))
        .collect();
    let outputs: Vec<RscOutput> = e.process(&mut segs).unwrap().to_vec();
    let mut seen = vec![0u32; segs.len()];
    let mut scus = Vec::new();
    for o in &outputs {
        match o {
            RscOutput::Single(i) => seen[usize::from(*i)] += 1,
            RscOutput::Scu(s) => {
                let parts: Vec<_> = e.parts(s).collect();
                assert_eq!(parts.len(), usize::from(s.frames));
                assert!(parts.windows(2).all(|w| w[0].frame < w[1].frame));
                assert_eq!(s.rsc.dup_ack_count, 0);
                for p in &parts {
                    seen[usize::from(p.frame)] += 1;
                }
                scus.push((*s, parts));
            }
        }
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    drop(segs);
    for (s, parts) in scus {
        let mut bytes = Vec::new();
        let mut payload = Vec::new();
        for p in &parts {
            let j = usize::from(p.frame);
            let d = &kept[j][infos[j].data_offset..];
            bytes.extend_from_slice(&d[p.offset as usize..(p.offset + p.len) as usize]);
            let o = &originals[j][infos[j].data_offset..];
            let l = &infos[j].layout;
            payload.extend_from_slice(&o[l.payload_offset..l.payload_offset + l.payload_len]);
        }
        assert_eq!(bytes.len(), s.len as usize);
        assert!(bytes.len() - 14 <= 65535);
        let v6 = infos[usize::from(s.head)].layout.is_ipv6();
        if !v6 {
            assert_eq!(
                fold(sum(&bytes[14..34], 0)),
                0xffff,
                "SCU IPv4 header checksum"
            );
        }
        assert!(l4_ok(&bytes, v6), "SCU TCP checksum");
        let hl = infos[usize::from(s.head)].layout.payload_offset;
        assert_eq!(&bytes[hl..], &payload[..], "SCU payload = parts' payloads");
    }
    let _ = flows;
});
