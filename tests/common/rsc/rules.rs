//! The catalogue: every rule of spec §1 that can be exercised from the wire, what is sent, what
//! must be indicated, and how the rule applies on each host path.
//!
//! Expectations are written from the spec (§1.4 exceptions and their handling, §1.5 flowcharts
//! and examples, §1.6 header rules), never taken from the driver. On the host RSC_EXT path
//! QEMU's coalescer runs first; its behaviour (spec §7.4, and QEMU's `hw/net/virtio-net.c`
//! read for this suite) decides some outcomes — those rules are run there in
//! [`Mode::Guarantees`]: what the miniport itself guarantees is checked, the rule is reported
//! n/a with the reason.

use crate::rsc::craft::{ext, tf, Fam, Seg};
use crate::rsc::model::{Aborts, Exp, Scenario};

/// How a rule applies on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The miniport decides: the full expectation is checked.
    Full,
    /// The host decides the grouping (reason); the miniport's guarantees are checked; `order`:
    /// per-flow arrival order is still the miniport's to keep.
    Guarantees(&'static str, bool),
    /// Not run on this path (reason).
    Na(&'static str),
    /// Per family: `[IPv4, IPv6]` (neither may be `Fams`).
    Fams(&'static [Mode; 2]),
}

impl Mode {
    /// The mode for family `fam`.
    pub fn for_fam(self, fam: Fam) -> Mode {
        match self {
            Mode::Fams(m) => m[usize::from(fam == Fam::V6)],
            m => m,
        }
    }
}

/// How a rule's run is built.
#[derive(Clone, Copy)]
pub enum Build {
    /// A crafted scenario with this many flows of the family (plus, for rules that mix
    /// families, as the builder says).
    Scenario(usize, fn(&mut Scenario)),
    /// Custom (OID changes, resource limits, live streams): see `crate::rsc::custom`.
    Custom,
}

/// One rule.
#[derive(Clone, Copy)]
pub struct Rule {
    /// Test-name stem: `rsc_<id>_<path>`.
    pub id: &'static str,
    /// Spec section.
    pub sec: &'static str,
    /// Short text.
    pub text: &'static str,
    /// Families it is run for.
    pub fams: &'static [Fam],
    /// Per path: software, host RSC_EXT, host GSO.
    pub modes: [Mode; 3],
    /// What is sent and expected.
    pub build: Build,
}

const BOTH: &[Fam] = &[Fam::V4, Fam::V6];
const V4: &[Fam] = &[Fam::V4];
const V6: &[Fam] = &[Fam::V6];

/// Why most rules are not run on the host GSO path.
const GSO_NA: &str = "MTU segments on this bench are coalesced by the same software engine as on \
                      the software path (checked there); the host's super-frames are covered by \
                      the host_super_frame rules";
const QEMU_BYPASS: &str = "QEMU delivers bypassed segments (SYN, IPv4 options, DF clear, IPv6 \
                           extension headers, fragments) at once without flushing the flow's \
                           cached segments: they overtake them (spec §7.4)";
const QEMU_NO_CSUM: &str =
    "QEMU's coalescer checks no checksum: the bad segment is merged before the miniport sees it \
     (spec §7.4)";
const QEMU_ACKS: &str = "QEMU merges a pure ACK that follows data into the SCU as a zero-length \
                         segment and counts it (virtio-net.c coalesce_data)";
const QEMU_V6_TC: &str = "QEMU reads the IPv6 ECN field from the wrong bits (the top of the \
                          traffic class, i.e. DSCP): ECN-marked IPv6 segments are merged across \
                          an ECN change, segments with a high DSCP bypass it and overtake cached \
                          ones (virtio-net.c sanity_check6)";
const FULL2: [Mode; 3] = [Mode::Full, Mode::Full, Mode::Na(GSO_NA)];

/// Default payload of a data segment (leaves room for options at MTU 1500).
pub const L: usize = 1000;

fn exc_mid(sc: &mut Scenario, mk: impl FnOnce(&Scenario) -> Seg, aborts: u64) {
    let a = sc.data(0, 2, L);
    let x = mk(sc);
    let x = sc.push_exception(0, x);
    let b = sc.data(0, 2, L);
    sc.expect([Exp::Scu(a), Exp::One(x), Exp::Scu(b)]);
    sc.aborts = Aborts::Exactly(aborts);
}

fn with_flags(flags: u8) -> impl FnOnce(&Scenario) -> Seg {
    move |sc| Seg {
        flags: tf::ACK | flags,
        urg: if flags & tf::URG != 0 { 5 } else { 0 },
        ..sc.next(0, L)
    }
}

fn with_opts(opts: Vec<u8>) -> impl FnOnce(&Scenario) -> Seg {
    move |sc| Seg {
        opts,
        ..sc.next(0, L)
    }
}

/// Two SCUs of two segments each; the pairs differ in the one field `with(segment, pair)` sets,
/// which the rule says must not be coalesced across.
fn two_pairs_differing(sc: &mut Scenario, with: impl Fn(Seg, usize) -> Seg) {
    let mut e = Vec::new();
    for pair in 0..2 {
        let g: Vec<usize> = (0..2)
            .map(|_| {
                let s = with(sc.next(0, L), pair);
                sc.push(0, s)
            })
            .collect();
        e.push(Exp::Scu(g));
    }
    sc.expect(e);
}

/// Every rule, in table order.
pub static RULES: &[Rule] = &[
    // ---- §1.2 -----------------------------------------------------------------------------
    Rule {
        id: "disabled_by_oid_not_coalesced",
        sec: "§1.2",
        text: "no SCU while RSC is disabled (OID_TCP_OFFLOAD_PARAMETERS), for that family only; SCUs again once enabled",
        fams: BOTH,
        modes: [
            Mode::Full,
            Mode::Full,
            Mode::Na("the host turns GSO off with RSC (covered by tests/runtime.rs); MTU segments as on the software path"),
        ],
        build: Build::Custom,
    },
    // ---- §1.3 -----------------------------------------------------------------------------
    Rule {
        id: "ipsec_ah_not_coalesced",
        sec: "§1.3",
        text: "IPsec (AH) protected segments are never coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(2, |sc| {
            let a = sc.data(0, 2, L);
            let mut e = vec![Exp::Scu(a)];
            for _ in 0..3 {
                let s = Seg { ah: true, ..sc.next(1, L) };
                e.push(Exp::One(sc.push(1, s)));
            }
            sc.expect(e);
            sc.aborts = Aborts::Any;
        }),
    },
    Rule {
        id: "forwarded_traffic_not_coalesced",
        sec: "§1.3",
        text: "forwarded (not locally destined) traffic is not coalesced",
        fams: BOTH,
        modes: [Mode::Na("the OS turns RSC off by OID when forwarding is on (the §1.2 rule); a miniport cannot tell forwarded traffic apart"); 3],
        build: Build::Custom,
    },
    // ---- §1.4 exceptions ------------------------------------------------------------------
    Rule {
        id: "exception_1_resource_limit_alone_and_counted",
        sec: "§1.4 exc. 1",
        text: "segments the engine cannot track (more flows than it holds in one DPC) are indicated alone and counted in Aborts; nothing lost or reordered",
        fams: BOTH,
        modes: [
            Mode::Full,
            Mode::Guarantees("QEMU's coalescer has no flow limit: it merges every flow itself", true),
            Mode::Na(GSO_NA),
        ],
        build: Build::Custom,
    },
    Rule {
        id: "exception_2_bad_tcp_checksum_not_coalesced",
        sec: "§1.4 exc. 2",
        text: "a segment with a bad TCP checksum is not coalesced (indicated alone, never claimed good)",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees(QEMU_NO_CSUM, true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            exc_mid(sc, |sc| Seg { bad_tcp_csum: true, ..sc.next(0, L) }, 1)
        }),
    },
    Rule {
        id: "exception_2_bad_ipv4_header_checksum_not_coalesced",
        sec: "§1.4 exc. 2",
        text: "a segment with a bad IPv4 header checksum is not coalesced",
        fams: V4,
        modes: [Mode::Full, Mode::Guarantees(QEMU_NO_CSUM, true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            exc_mid(sc, |sc| Seg { bad_ip_csum: true, ..sc.next(0, L) }, 1)
        }),
    },
    Rule {
        id: "exception_3_syn_not_coalesced",
        sec: "§1.4 exc. 3",
        text: "a segment with SYN is not coalesced",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees(QEMU_BYPASS, false), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| exc_mid(sc, with_flags(tf::SYN), 1)),
    },
    Rule {
        id: "exception_3_fin_not_coalesced",
        sec: "§1.4 exc. 3",
        text: "a segment with FIN is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| exc_mid(sc, with_flags(tf::FIN), 1)),
    },
    Rule {
        id: "exception_3_rst_not_coalesced",
        sec: "§1.4 exc. 3",
        text: "a segment with RST is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| exc_mid(sc, with_flags(tf::RST), 1)),
    },
    Rule {
        id: "exception_3_urg_not_coalesced",
        sec: "§1.4 exc. 3",
        text: "a segment with URG is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| exc_mid(sc, with_flags(tf::URG), 1)),
    },
    Rule {
        id: "exception_4_mss_option_not_coalesced",
        sec: "§1.4 exc. 4",
        text: "a segment with a TCP option other than Timestamp (MSS) is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| exc_mid(sc, with_opts(vec![2, 4, 0x05, 0xb4]), 1)),
    },
    Rule {
        id: "exception_4_window_scale_option_not_coalesced",
        sec: "§1.4 exc. 4",
        text: "a segment with the window-scale option is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| exc_mid(sc, with_opts(vec![1, 3, 3, 7]), 1)),
    },
    Rule {
        id: "exception_4_sack_option_not_coalesced",
        sec: "§1.4 exc. 4",
        text: "a data segment with a SACK option is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let ack = sc.next(0, 0).ack;
            let mut o = vec![1, 1, 5, 10];
            o.extend_from_slice(&ack.wrapping_add(3000).to_be_bytes());
            o.extend_from_slice(&ack.wrapping_add(4000).to_be_bytes());
            exc_mid(sc, with_opts(o), 1)
        }),
    },
    Rule {
        id: "exception_5_ipv4_options_not_coalesced",
        sec: "§1.4 exc. 5",
        text: "a segment with IPv4 options is not coalesced",
        fams: V4,
        modes: [Mode::Full, Mode::Guarantees(QEMU_BYPASS, false), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            exc_mid(sc, |sc| Seg { ip_opts: vec![148, 4, 0, 0], ..sc.next(0, L) }, 1)
        }),
    },
    Rule {
        id: "exception_5_ipv6_extension_headers_not_coalesced",
        sec: "§1.4 exc. 5",
        text: "segments with IPv6 extension headers (hop-by-hop, destination options) are not coalesced",
        fams: V6,
        modes: [Mode::Full, Mode::Guarantees(QEMU_BYPASS, false), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let s = Seg { ext: vec![(ext::HOP_BY_HOP, vec![1, 4, 0, 0, 0, 0])], ..sc.next(0, L) };
            let x = sc.push_exception(0, s);
            let b = sc.data(0, 2, L);
            let s = Seg { ext: vec![(ext::DEST_OPTS, vec![1, 4, 0, 0, 0, 0])], ..sc.next(0, L) };
            let y = sc.push_exception(0, s);
            let c = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::One(x), Exp::Scu(b), Exp::One(y), Exp::Scu(c)]);
            sc.aborts = Aborts::Exactly(2);
        }),
    },
    Rule {
        id: "exception_6_ipv4_fragments_not_coalesced",
        sec: "§1.4 exc. 6",
        text: "IPv4 fragments (MF set; offset ≠ 0) are not coalesced",
        fams: V4,
        modes: [Mode::Full, Mode::Guarantees(QEMU_BYPASS, false), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let whole = Seg { df: false, ..sc.next(0, 600) };
            let full = crate::rsc::craft::build(&sc.flows[0], &whole);
            let first = Seg { mf: true, frag_bytes: 224, ..whole.clone() };
            let f1 = sc.push_exception(0, first);
            let l4 = &full[crate::pkt::ETH_HLEN + 20..];
            let later = crate::rsc::craft::ipv4_later_fragment(&sc.flows[0], whole.ip_id, 28, &l4[224..]);
            let f2 = sc.push_raw(0, later, true);
            let b = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::One(f1), Exp::One(f2), Exp::Scu(b)]);
            // Whether a non-first fragment (no TCP header) counts as an exception is open.
            sc.aborts = Aborts::Between(1, 2);
        }),
    },
    Rule {
        id: "exception_6_ipv6_fragment_header_not_coalesced",
        sec: "§1.4 exc. 5/6",
        text: "an IPv6 fragment (fragment header) is not coalesced",
        fams: V6,
        modes: [Mode::Full, Mode::Guarantees(QEMU_BYPASS, false), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            exc_mid(sc, |sc| Seg { ext: vec![(ext::FRAGMENT, vec![0, 0, 0, 0, 0x12, 0x34])], ..sc.next(0, L) }, 1)
        }),
    },
    Rule {
        id: "exception_7_datagram_length_limit_starts_new_scu",
        sec: "§1.4 exc. 7",
        text: "an SCU grows to exactly the largest legal datagram (65535); the segment that would exceed it starts a new SCU (not an Abort)",
        fams: BOTH,
        modes: [
            Mode::Full,
            Mode::Guarantees("QEMU caps IPv4 SCUs at 65515 bytes and delivers the overflowing segment alone instead of starting a new SCU with it (spec §7.4)", true),
            Mode::Na(GSO_NA),
        ],
        build: Build::Scenario(1, |sc| {
            let fam = sc.fam(0);
            let mss = fam.mss();
            // IPv4: 20 + 20 + payload ≤ 65535; IPv6: payload length 20 + payload ≤ 65535.
            let room = match fam {
                Fam::V4 => 65535 - 40,
                Fam::V6 => 65535 - 20,
            };
            let full = room / mss;
            let mut first = sc.data(0, full, mss);
            first.extend(sc.data(0, 1, room - full * mss));
            // One byte more would already exceed the limit. (QEMU's coalescer appends after a
            // cached frame's Ethernet padding — a 1-byte IPv4 segment is padded to 60 bytes —
            // and corrupts the SCU: there the first byte count fills the frame instead.)
            let small = match (sc.path, fam) {
                (crate::rsc::rig::Path::HostRscExt, Fam::V4) => 6,
                _ => 1,
            };
            let mut second = sc.data(0, 1, small);
            second.extend(sc.data(0, 1, mss));
            sc.expect([Exp::Scu(first), Exp::Scu(second)]);
            sc.aborts = Aborts::Exactly(0);
        }),
    },
    Rule {
        id: "exception_8_ip_ecn_change_starts_new_scu",
        sec: "§1.4 exc. 8",
        text: "a change of the IP ECN codepoint starts a new SCU with the segment (an Abort)",
        fams: BOTH,
        modes: [
            Mode::Full,
            Mode::Fams(&[Mode::Full, Mode::Guarantees(QEMU_V6_TC, true)]),
            Mode::Na(GSO_NA),
        ],
        build: Build::Scenario(1, |sc| {
            two_pairs_differing(sc, |s, pair| Seg {
                ecn: [2u8, 3][pair],
                ..s
            });
            sc.aborts = Aborts::Exactly(1);
        }),
    },
    Rule {
        id: "exception_8_tcp_ece_cwr_change_starts_new_scu",
        sec: "§1.4 exc. 8",
        text: "a change of the TCP ECE/CWR flags starts a new SCU with the segment (an Abort each)",
        fams: BOTH,
        modes: [
            Mode::Full,
            Mode::Guarantees("QEMU ignores ECE/CWR (its TCP flag mask is 0x3F) and merges across the change, keeping the last segment's flags", true),
            Mode::Na(GSO_NA),
        ],
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let s = Seg { flags: tf::ACK | tf::CWR, ..sc.next(0, L) };
            let c = sc.push(0, s);
            let b = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::One(c), Exp::Scu(b)]);
            sc.aborts = Aborts::Exactly(2);
        }),
    },
    // ---- §1.5 coalescing algorithm --------------------------------------------------------
    Rule {
        id: "in_order_data_coalesced_into_one_scu",
        sec: "§1.5",
        text: "in-order data segments form one SCU (example 1: 10 segments → 1 NBL)",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let mss = sc.fam(0).mss();
            let d = sc.data(0, 10, mss);
            sc.expect([Exp::Scu(d)]);
            if sc.path == crate::rsc::rig::Path::HostRscExt {
                // QEMU's own SCU (one frame, ≤ 4 ring buffers), not ten MTU frames.
                sc.host_merges = Some(4);
            }
        }),
    },
    Rule {
        id: "out_of_order_segment_not_coalesced",
        sec: "§1.5 step 4",
        text: "a segment with SEQ ≠ H.NXT ends the SCU (out of order)",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let s3 = sc.next(0, L);
            let mut s4 = Seg { seq: s3.nxt(), ..s3.clone() };
            sc.repayload(0, &mut s4);
            let nxt = s4.nxt();
            let i4 = sc.push(0, s4);
            let i3 = sc.push(0, s3);
            sc.set_seq(0, nxt);
            let i5 = sc.data(0, 1, L);
            sc.expect([Exp::Scu(a), Exp::One(i4), Exp::One(i3), Exp::One(i5[0])]);
        }),
    },
    Rule {
        id: "retransmission_not_coalesced",
        sec: "§1.5 step 4",
        text: "a retransmitted segment (SEQ < H.NXT) is not coalesced",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 3, L);
            let again = sc.sent[a[1]].seg.clone().map(|s| Seg { ip_id: 999, ..s });
            let r = sc.push(0, again.unwrap_or_default());
            let b = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::One(r), Exp::Scu(b)]);
        }),
    },
    Rule {
        id: "piggybacked_ack_coalesced_with_last_ack",
        sec: "§1.5 step 4",
        text: "data with a larger ACK is coalesced; the SCU carries the last ACK (example 4)",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let mut a = sc.data(0, 3, L);
            let ack = sc.next(0, 0).ack.wrapping_add(5000);
            sc.set_ack(0, ack);
            a.extend(sc.data(0, 2, L));
            sc.expect([Exp::Scu(a)]);
        }),
    },
    Rule {
        id: "cumulative_pure_acks_never_coalesced",
        sec: "§1.5 step 3",
        text: "a pure ACK that is neither a window update nor a duplicate ACK ends the SCU; cumulative pure ACKs are never coalesced together",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees(QEMU_ACKS, true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let mut e = vec![Exp::Scu(a)];
            for k in 1..=2u32 {
                let p = sc.pure_ack(0);
                let p = Seg { ack: p.ack.wrapping_add(100 * k), ..p };
                e.push(Exp::One(sc.push(0, p)));
            }
            let b = sc.data(0, 2, L);
            e.push(Exp::Scu(b));
            sc.expect(e);
        }),
    },
    Rule {
        id: "window_update_absorbed_and_not_counted",
        sec: "§1.5 flowchart 2",
        text: "window updates (same ACK, new window) are absorbed: SCU carries the last window, CoalescedSegCount counts data only (example 3)",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees("QEMU counts an absorbed window update as a segment (virtio-net.c coalesce_data)", true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            let mut m = sc.data(0, 5, L);
            for wnd in [2000u16, 3000] {
                let w = Seg { wnd, ..sc.pure_ack(0) };
                m.push(sc.push(0, w));
            }
            let d = Seg { wnd: 3000, ..sc.next(0, L) };
            m.push(sc.push(0, d));
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "duplicate_ack_indicated_alone_dup_ack_count_zero",
        sec: "§1.5 dup ACKs",
        text: "a duplicate ACK ends the SCU and is indicated on its own; DupAckCount stays 0 (recommended behaviour)",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees(QEMU_ACKS, true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let d1 = sc.pure_ack(0);
            let d1 = sc.push(0, d1);
            let d2 = sc.pure_ack(0);
            let d2 = sc.push(0, d2);
            let b = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::One(d1), Exp::One(d2), Exp::Scu(b)]);
        }),
    },
    Rule {
        id: "dup_ack_with_sack_splits_scu",
        sec: "§1.5 example 2",
        text: "5 data + dup ACK with SACK + 2 data → 3 NBLs in arrival order",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 5, L);
            let p = sc.pure_ack(0);
            let mut o = vec![1, 1, 5, 10];
            o.extend_from_slice(&p.seq.wrapping_add(5000).to_be_bytes());
            o.extend_from_slice(&p.seq.wrapping_add(6000).to_be_bytes());
            let d = sc.push_exception(0, Seg { opts: o, ..p });
            let b = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::One(d), Exp::Scu(b)]);
            sc.aborts = Aborts::Exactly(1);
        }),
    },
    Rule {
        id: "timestamps_latest_value_and_delta",
        sec: "§1.5 Timestamp",
        text: "Timestamp segments (TSval ≥ H.TSval, equal included) coalesce; the SCU carries the latest TSval/TSecr and RscTcpTimestampDelta = latest − earliest",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let ts = [(100u32, 50u32), (101, 50), (101, 51), (105, 52), (105, 52), (110, 53)];
            let m: Vec<usize> = ts
                .iter()
                .map(|&t| {
                    let s = Seg { ts: Some(t), ..sc.next(0, L) };
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "timestamp_older_tsval_starts_new_scu",
        sec: "§1.5 Timestamp",
        text: "a segment whose TSval is older than the SCU's starts a new SCU",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let mut g = Vec::new();
            for t in [100u32, 101, 90, 91] {
                let s = Seg { ts: Some((t, 7)), ..sc.next(0, L) };
                g.push(sc.push(0, s));
            }
            sc.expect([Exp::Scu(g[..2].to_vec()), Exp::Scu(g[2..].to_vec())]);
        }),
    },
    Rule {
        id: "timestamp_compared_modulo_2_32",
        sec: "§1.5 Timestamp",
        text: "TSval is compared modulo 2^32 (a wrapping TSval is newer); delta across the wrap",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let m: Vec<usize> = [0xFFFF_FFF0u32, 0xFFFF_FFFC, 0x0000_0004, 0x10]
                .iter()
                .map(|&t| {
                    let s = Seg { ts: Some((t, 9)), ..sc.next(0, L) };
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "not_held_across_dpcs",
        sec: "§1.5 Timing",
        text: "segments are not held from one DPC to the next: each DPC's SCU is indicated in that DPC",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            sc.new_burst();
            let b = sc.data(0, 2, L);
            sc.new_burst();
            let c = sc.data(0, 1, L);
            sc.expect([Exp::Scu(a), Exp::Scu(b), Exp::One(c[0])]);
        }),
    },
    Rule {
        id: "flows_interleaved_coalesced_separately_in_arrival_order",
        sec: "§1.5",
        text: "interleaved flows are coalesced per flow; each flow's indications keep arrival order",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(2, |sc| {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for k in 0..4 {
                a.extend(sc.data(0, 1, L));
                if k < 3 {
                    b.extend(sc.data(1, 1, L + 100));
                }
            }
            sc.expect([Exp::Scu(a), Exp::Scu(b)]);
        }),
    },
    // ---- §1.6 SCU headers -----------------------------------------------------------------
    Rule {
        id: "scu_ip_length_and_ipv4_header_checksum_valid",
        sec: "§1.6",
        text: "SCU IPv4 Total Length / IPv6 Payload Length recomputed, IPv4 header checksum valid (odd segment sizes)",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let mss = sc.fam(0).mss();
            let m: Vec<usize> = [1000, mss, 7, 1200, 333, 1]
                .iter()
                .map(|&n| {
                    let s = sc.next(0, n);
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "scu_ipv4_id_of_first_segment",
        sec: "§1.6",
        text: "SCU IPv4 Identification is the first segment's",
        fams: V4,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let m: Vec<usize> = [0x1111u16, 0x2345, 0x0007, 0xFFFF]
                .iter()
                .map(|&id| {
                    let s = Seg { ip_id: id, ..sc.next(0, L) };
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "scu_ttl_is_minimum",
        sec: "§1.6",
        text: "SCU TTL / hop limit is the minimum of the segments'",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees("QEMU keeps the first segment's IP header (TTL of the first)", true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            let m: Vec<usize> = [64u8, 30, 50, 31]
                .iter()
                .map(|&ttl| {
                    let s = Seg { ttl, ..sc.next(0, L) };
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "scu_seq_of_first_ack_and_window_of_last",
        sec: "§1.6",
        text: "SCU SEQ is the first segment's, ACK and window the last segment's",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let base = sc.next(0, 0).ack;
            let m: Vec<usize> = [(0u32, 1000u16), (10, 900), (20, 1200), (30, 800)]
                .iter()
                .map(|&(d, wnd)| {
                    let s = Seg { ack: base.wrapping_add(d), wnd, ..sc.next(0, L) };
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    Rule {
        id: "scu_psh_is_or_of_segments",
        sec: "§1.6",
        text: "SCU PSH is the OR of the segments' PSH (set when only a middle segment has it; clear when none has)",
        fams: BOTH,
        modes: [Mode::Full, Mode::Guarantees("QEMU copies the last segment's flags: PSH of the last segment, not an OR (spec §7.4)", true), Mode::Na(GSO_NA)],
        build: Build::Scenario(2, |sc| {
            let mut e = Vec::new();
            for (f, psh) in [(0usize, [false, true, false, false]), (1, [false; 4])] {
                let g: Vec<usize> = psh
                    .iter()
                    .map(|&p| {
                        let s = Seg { flags: tf::ACK | if p { tf::PSH } else { 0 }, ..sc.next(f, L) };
                        sc.push(f, s)
                    })
                    .collect();
                e.push(Exp::Scu(g));
            }
            sc.expect(e);
        }),
    },
    Rule {
        id: "scu_dscp_differs_not_coalesced",
        sec: "§1.6",
        text: "segments with different DSCP are not coalesced together",
        fams: BOTH,
        modes: [
            Mode::Full,
            Mode::Fams(&[
                Mode::Guarantees("QEMU ignores DSCP and keeps the first segment's", true),
                Mode::Guarantees(QEMU_V6_TC, false),
            ]),
            Mode::Na(GSO_NA),
        ],
        build: Build::Scenario(1, |sc| {
            two_pairs_differing(sc, |s, pair| Seg {
                dscp: [0u8, 46][pair],
                ..s
            });
            sc.aborts = Aborts::Any;
        }),
    },
    Rule {
        id: "scu_df_differs_not_coalesced",
        sec: "§1.6",
        text: "IPv4 segments with different DF are not coalesced together",
        fams: V4,
        modes: [Mode::Full, Mode::Guarantees(QEMU_BYPASS, false), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            two_pairs_differing(sc, |s, pair| Seg {
                df: [true, false][pair],
                ..s
            });
            sc.aborts = Aborts::Any;
        }),
    },
    Rule {
        id: "scu_ipv6_flow_label_differs_not_coalesced",
        sec: "§1.6",
        text: "IPv6 segments with different flow labels are not coalesced together",
        fams: V6,
        modes: [Mode::Full, Mode::Guarantees("QEMU ignores the flow label", true), Mode::Na(GSO_NA)],
        build: Build::Scenario(1, |sc| {
            two_pairs_differing(sc, |s, pair| Seg {
                flow_label: [0x12345u32, 0x54321][pair],
                ..s
            });
            sc.aborts = Aborts::Any;
        }),
    },
    Rule {
        id: "scu_ecn_bits_equal_to_segments",
        sec: "§1.6",
        text: "SCU IP ECN codepoint and TCP ECE equal those of the segments",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let m: Vec<usize> = (0..4)
                .map(|_| {
                    let s = Seg { ecn: 1, flags: tf::ACK | tf::ECE, ..sc.next(0, L) };
                    sc.push(0, s)
                })
                .collect();
            sc.expect([Exp::Scu(m)]);
        }),
    },
    // ---- §1.7–§1.9 ------------------------------------------------------------------------
    Rule {
        id: "scu_checksum_info_succeeded_and_value_invalid",
        sec: "§1.7",
        text: "an SCU carries IpChecksumSucceeded + TcpChecksumSucceeded and a valid TCP checksum or TcpChecksumValueInvalid; ValueInvalid bits never on other NBLs",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 4, 777);
            let f = Seg { flags: tf::ACK | tf::FIN, ..sc.next(0, 10) };
            let f = sc.push_exception(0, f);
            sc.expect([Exp::Scu(a), Exp::One(f)]);
            sc.aborts = Aborts::Exactly(1);
        }),
    },
    Rule {
        id: "coalesced_seg_count_data_segments_and_zero_otherwise",
        sec: "§1.8",
        text: "CoalescedSegCount = data segments merged; 0 on non-RSC NBLs; one NET_BUFFER per NBL",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 3, 500);
            let x = Seg { opts: vec![2, 4, 0x05, 0xb4], ..sc.next(0, 10) };
            let x = sc.push_exception(0, x);
            let b = sc.data(0, 2, 700);
            sc.expect([Exp::Scu(a), Exp::One(x), Exp::Scu(b)]);
            sc.aborts = Aborts::Exactly(1);
        }),
    },
    Rule {
        id: "statistics_coalesced_pkts_octets_events_aborts",
        sec: "§1.9",
        text: "OID_TCP_RSC_STATISTICS: CoalescedPkts/Octets per merged segment, CoalesceEvents per SCU, Aborts per exception",
        fams: BOTH,
        modes: FULL2,
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 4, 1000);
            let x = Seg { opts: vec![2, 4, 0x05, 0xb4], ..sc.next(0, 100) };
            let x = sc.push_exception(0, x);
            let b = sc.data(0, 3, 777);
            let f = Seg { flags: tf::ACK | tf::FIN, ..sc.next(0, 10) };
            let f = sc.push_exception(0, f);
            sc.expect([Exp::Scu(a), Exp::One(x), Exp::Scu(b), Exp::One(f)]);
            sc.aborts = Aborts::Exactly(2);
        }),
    },
    // ---- host super-frames (§1.6–§1.8 via spec §7.5) --------------------------------------
    Rule {
        id: "host_super_frame_indicated_as_scu",
        sec: "§1.6–1.8, §7.5",
        text: "a host GSO super-frame is indicated as one SCU: CoalescedSegCount = ⌈payload/gso_size⌉, IPv4 header checksum fixed, checksum info of an SCU",
        fams: BOTH,
        modes: [
            Mode::Na("the device delivers no super-frames without GUEST_TSO"),
            Mode::Na("the host TAP has TSO off on this bench (QEMU's coalescer needs MTU segments); QEMU's own SCUs are checked by every rule there"),
            Mode::Full,
        ],
        build: Build::Scenario(1, |sc| {
            let g1 = sc.next(0, 20 * 1400);
            let g1 = sc.push_gso(0, g1, 1400);
            let g2 = Seg { flags: tf::ACK | tf::PSH, ..sc.next(0, 7 * 1400 + 99) };
            let g2 = sc.push_gso(0, g2, 1400);
            sc.expect([Exp::Host(g1), Exp::Host(g2)]);
        }),
    },
    Rule {
        id: "host_super_frame_keeps_flow_order_with_mtu_segments",
        sec: "§1.5, §7.5",
        text: "MTU segments around a host super-frame: the flow's SCU is indicated first, the super-frame next, arrival order kept",
        fams: BOTH,
        modes: [
            Mode::Na("the device delivers no super-frames without GUEST_TSO"),
            Mode::Na("the host TAP has TSO off on this bench"),
            Mode::Full,
        ],
        build: Build::Scenario(1, |sc| {
            let a = sc.data(0, 2, L);
            let g = sc.next(0, 10 * 1400);
            let g = sc.push_gso(0, g, 1400);
            let b = sc.data(0, 2, L);
            sc.expect([Exp::Scu(a), Exp::Host(g), Exp::Scu(b)]);
        }),
    },
    Rule {
        id: "host_gso_stream_counts_every_wire_segment",
        sec: "§1.6–1.9",
        text: "a live TCP stream (host kernel sender): every SCU valid, Σ CoalescedSegCount + lone segments = segments on the wire, statistics agree, data intact",
        fams: BOTH,
        modes: [
            Mode::Na("crafted rules cover this path completely"),
            Mode::Na("crafted rules cover this path completely"),
            Mode::Full,
        ],
        build: Build::Custom,
    },
];

/// A rule by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}
