//! Rules that need more than one crafted burst: RSC switched off by OID (§1.2), the engine's
//! resource limit (§1.4 exception 1), and a live TCP stream from the host kernel.

use std::time::Duration;

use crate::capture::{Capture, Dir};
use crate::harness::{Res, GUEST_IP6};
use crate::pkt::{self, IpVer};
use crate::rsc::craft::Fam;
use crate::rsc::model::{check_expected, check_guarantees, Aborts, Exp, Scenario};
use crate::rsc::rig::{Nbl, Rig};
use crate::rsc::rules::{Mode, L};
use crate::shape::csum;
use crate::traffic::tcp_transfer;

/// Runs custom rule `id` for `fam`; returns the rule violations found.
pub fn run(rig: &mut Rig, id: &str, fam: Fam, mode: Mode) -> Res<Vec<String>> {
    match id {
        "disabled_by_oid_not_coalesced" => disabled_by_oid(rig, fam),
        "exception_1_resource_limit_alone_and_counted" => resource_limit(rig, fam, mode),
        "host_gso_stream_counts_every_wire_segment" => stream(rig, fam),
        other => Err(format!("no custom rule {other}")),
    }
}

fn other(fam: Fam) -> Fam {
    match fam {
        Fam::V4 => Fam::V6,
        Fam::V6 => Fam::V4,
    }
}

/// §1.2: with RSC of `fam` disabled through OID_TCP_OFFLOAD_PARAMETERS, that family's segments
/// are indicated one by one while the other family is still coalesced; enabled again, both
/// coalesce.
fn disabled_by_oid(rig: &mut Rig, fam: Fam) -> Res<Vec<String>> {
    let (v4, v6) = match fam {
        Fam::V4 => (Some(false), None),
        Fam::V6 => (None, Some(false)),
    };
    rig.set_rsc(v4, v6)?;
    let r = (|| -> Res<Vec<String>> {
        let mac = rig.next_run_mac();
        let mut sc = Scenario::new(mac);
        sc.add_flow(rig.flow(fam, mac));
        sc.add_flow(rig.flow(other(fam), mac));
        let a = sc.data(0, 4, L);
        let b = sc.data(1, 4, L);
        sc.expect(a.into_iter().map(Exp::One));
        sc.expect([Exp::Scu(b)]);
        let obs = rig.run(mac, &sc.bursts())?;
        Ok(check_expected(&sc, &obs)
            .into_iter()
            .map(|e| format!("RSC {} disabled: {e}", fam.name()))
            .collect())
    })();
    let back = rig.set_rsc(v4.map(|_| true), v6.map(|_| true));
    let mut errs = r?;
    back?;
    let mac = rig.next_run_mac();
    let mut sc = Scenario::new(mac);
    sc.add_flow(rig.flow(fam, mac));
    let a = sc.data(0, 4, L);
    sc.expect([Exp::Scu(a)]);
    let obs = rig.run(mac, &sc.bursts())?;
    errs.extend(
        check_expected(&sc, &obs)
            .into_iter()
            .map(|e| format!("RSC {} enabled again: {e}", fam.name())),
    );
    Ok(errs)
}

/// §1.4 exception 1: 40 flows × 3 in-order segments, round robin, in one DPC — more flows than
/// an engine can reasonably track at once. Whatever the engine's limit: every byte indicated
/// once and in order, SCUs valid, some flows still coalesced, and each segment indicated alone
/// (all were coalescible, so only the resource limit can be why) counted in Aborts.
fn resource_limit(rig: &mut Rig, fam: Fam, mode: Mode) -> Res<Vec<String>> {
    const FLOWS: usize = 40;
    let mac = rig.next_run_mac();
    let mut sc = Scenario::new(mac);
    for _ in 0..FLOWS {
        sc.add_flow(rig.flow(fam, mac));
    }
    for _ in 0..3 {
        for f in 0..FLOWS {
            sc.data(f, 1, 600);
        }
    }
    sc.aborts = Aborts::Any;
    let obs = rig.run(mac, &sc.bursts())?;
    let (mut errs, found) = check_guarantees(&sc, &obs, true);
    if mode == Mode::Full {
        if found.scus == 0 {
            errs.push("no flow was coalesced at all".into());
        }
        if obs.stats.aborts != found.alone_data as u64 {
            errs.push(format!(
                "{} coalescible segments indicated alone but Aborts +{} (§1.9: resource \
                 shortage counts)",
                found.alone_data, obs.stats.aborts
            ));
        }
    }
    Ok(errs)
}

/// A live TCP transfer from the host namespace's kernel (GSO super-frames through the TAP).
fn stream(rig: &mut Rig, fam: Fam) -> Res<Vec<String>> {
    static PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(5700);
    let port = PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let e = rig.e2e();
    let before = e.rsc_statistics()?;
    let cap = Capture::start(e.host_ns(), e.tb().host_tap(), Dir::ToDevice, 1500)?;
    rig.stream_capture(Some(port));
    let to: std::net::IpAddr = match fam {
        Fam::V4 => e.guest_ip().into(),
        Fam::V6 => {
            // The host's neighbour solicitation goes to the guest's solicited-node multicast
            // group, which the stand-in never programs into the miniport's multicast list:
            // resolve the guest statically (the guest→host direction resolves by itself).
            let mac = rig.guest_mac_text();
            e.host_ns()
                .ip(&[
                    "-6",
                    "neigh",
                    "replace",
                    &GUEST_IP6.to_string(),
                    "lladdr",
                    &mac,
                    "dev",
                    e.tb().host_tap(),
                ])
                .map_err(|x| format!("static IPv6 neighbour: {x}"))?;
            GUEST_IP6.into()
        }
    };
    let r = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        to,
        port,
        8 << 20,
        Duration::from_secs(60),
    );
    // Late indications of the stream's last frames.
    std::thread::sleep(Duration::from_millis(50));
    let nbls = rig.stream_capture(None);
    let c = cap.stop();
    let after = rig.e2e().rsc_statistics()?;
    let r = r?;
    let mut errs = Vec::new();
    if !r.intact() {
        errs.push(format!("data lost or changed: {r:?}"));
    }
    let mut segs = 0u64;
    let (mut pkts, mut octets, mut events) = (0u64, 0u64, 0u64);
    let mut scus = 0;
    for (k, n) in nbls.iter().enumerate() {
        let Some(p) = pkt::parse(&n.frame) else {
            continue;
        };
        let Some(ip) = p.ip else { continue };
        let end = pkt::ip_end(&n.frame, &ip).unwrap_or(n.frame.len());
        let thl = pkt::tcp_hlen(&n.frame, ip.l4).unwrap_or(20);
        let payload = end.saturating_sub(ip.l4 + thl) as u64;
        if n.count() == 0 {
            if payload > 0 {
                segs += 1;
            }
            continue;
        }
        scus += 1;
        segs += u64::from(n.count());
        pkts += u64::from(n.count());
        octets += payload;
        events += 1;
        errs.extend(scu_problems(k, n, &p, &ip, payload));
        if errs.len() > 8 {
            break;
        }
    }
    if scus == 0 {
        errs.push("no SCU in the stream".into());
    }
    if segs != c.tcp_segments {
        errs.push(format!(
            "Σ CoalescedSegCount + lone segments = {segs}, the host sent {} segments",
            c.tcp_segments
        ));
    }
    let d = (
        after.CoalescedPkts - before.CoalescedPkts,
        after.CoalescedOctets - before.CoalescedOctets,
        after.CoalesceEvents - before.CoalesceEvents,
    );
    if d != (pkts, octets, events) {
        errs.push(format!(
            "OID_TCP_RSC_STATISTICS delta {d:?}, the indicated SCUs add up to {:?}",
            (pkts, octets, events)
        ));
    }
    Ok(errs)
}

fn scu_problems(k: usize, n: &Nbl, p: &pkt::Frame, ip: &pkt::Ip, payload: u64) -> Vec<String> {
    let mut errs = Vec::new();
    let what = format!("SCU {k}");
    if n.nbs != 1 {
        errs.push(format!("{what}: {} NET_BUFFERs", n.nbs));
    }
    if n.dup_acks() != 0 {
        errs.push(format!("{what}: DupAckCount {}", n.dup_acks()));
    }
    if n.csum & csum::RX_IP_OK == 0 || n.csum & csum::RX_TCP_OK == 0 {
        errs.push(format!(
            "{what}: no Ip/TcpChecksumSucceeded ({:#x})",
            n.csum
        ));
    }
    let want_len = match ip.ver {
        IpVer::V4 => n.frame.len() - p.l3,
        IpVer::V6 => n.frame.len() - p.l3 - 40,
    };
    if usize::from(ip.len_field) != want_len {
        errs.push(format!("{what}: IP length {} for {want_len}", ip.len_field));
    }
    if ip.ver == IpVer::V4
        && n.csum & csum::RX_IP_VALUE_INVALID == 0
        && !pkt::ipv4_header_ok(&n.frame, p.l3, ip.hlen)
    {
        errs.push(format!("{what}: IPv4 header checksum invalid"));
    }
    if n.csum & csum::RX_TCP_VALUE_INVALID == 0 && !pkt::l4_ok(&n.frame, ip) {
        errs.push(format!(
            "{what}: TCP checksum invalid without TcpChecksumValueInvalid"
        ));
    }
    if u64::from(n.count()) > payload {
        errs.push(format!(
            "{what}: CoalescedSegCount {} for {payload} bytes",
            n.count()
        ));
    }
    errs
}
