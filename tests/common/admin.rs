//! What a Windows admin would see: tables in the shape of `Get-NetAdapterRsc`,
//! `Get-NetAdapterUso`, `Get-NetAdapterLso`, `Get-NetAdapterChecksumOffload`,
//! `Get-NetAdapterAdvancedProperty` and the RSC part of `Get-NetAdapterStatistics`, derived the
//! way Windows derives them: from the offload configuration and capabilities the driver
//! reported (`OID_TCP_OFFLOAD_CURRENT_CONFIG` / `_HARDWARE_CAPABILITIES`, which NDIS answers
//! from the miniport's attributes and `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indications),
//! the registry (the `*` keywords, displayed through the driver's advanced-property table) and
//! `OID_TCP_RSC_STATISTICS`.

use ndis_emu::RegValue;
use ndis_sys as n;
use netkvm_core::params::{Domain, ParamType, PARAMS};

use crate::harness::{E2e, Res};

/// The adapter name the tables show.
pub const ADAPTER: &str = "Ethernet";

/// Everything the tables are made from.
#[derive(Clone, Debug)]
pub struct AdminView {
    /// Current offload configuration.
    pub current: n::NDIS_OFFLOAD,
    /// Hardware capabilities.
    pub hardware: n::NDIS_OFFLOAD,
    /// Registry values of the adapter.
    pub keywords: Vec<(String, RegValue)>,
    /// RSC statistics (if the driver answers the OID).
    pub rsc_stats: Option<n::NDIS_RSC_STATISTICS_INFO>,
}

/// `MSFT_NetAdapterRscSettingData.IPv*FailureReason` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RscFailure {
    /// Operational.
    NoFailure,
    /// `*RscIPvX` = 0.
    NicPropertyDisabled,
    /// The adapter reports no RSC capability for that IP version.
    Capability,
    /// Enabled and capable, but the current configuration has it off.
    Unknown,
}

/// One IP version's RSC state as `Get-NetAdapterRsc` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RscState {
    /// `IPvXEnabled` (the configured setting: the keyword).
    pub enabled: bool,
    /// `IPvXSupported` (hardware capability).
    pub supported: bool,
    /// `IPvXOperationalState`.
    pub operational: bool,
    /// `IPvXFailureReason`.
    pub failure: RscFailure,
}

fn keyword_value(kw: &[(String, RegValue)], key: &str) -> Option<u32> {
    kw.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| match v {
            RegValue::Dword(d) => Some(*d),
            RegValue::Sz(s) => s.trim().parse().ok(),
            _ => None,
        })
}

fn on(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn eth(encap: u32) -> bool {
    encap & n::NDIS_ENCAPSULATION_IEEE_802_3 != 0
}

/// Renders a Format-Table style table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.len());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:<width$}", c, width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::new();
    out += &line(headers.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    out += &line(headers.iter().map(|h| "-".repeat(h.len())).collect());
    out.push('\n');
    for r in rows {
        out += &line(r.clone());
        out.push('\n');
    }
    out
}

impl AdminView {
    /// Collects the view from a running bench (the driver's OID answers and the registry).
    pub fn collect(e: &E2e) -> Res<AdminView> {
        Ok(AdminView {
            current: e.offload_current()?,
            hardware: e.offload_hardware()?,
            keywords: e.keywords()?,
            rsc_stats: e.rsc_statistics().ok(),
        })
    }

    /// RSC state per IP version (`v6` = false: IPv4).
    pub fn rsc(&self, v6: bool) -> RscState {
        let kw = if v6 { "*RscIPv6" } else { "*RscIPv4" };
        let enabled = keyword_value(&self.keywords, kw).unwrap_or(1) != 0;
        let pick = |o: &n::NDIS_OFFLOAD| {
            o.Header.Revision >= 3
                && if v6 {
                    o.Rsc.IPv6Enabled != 0
                } else {
                    o.Rsc.IPv4Enabled != 0
                }
        };
        let supported = pick(&self.hardware);
        let operational = enabled && pick(&self.current);
        let failure = if operational {
            RscFailure::NoFailure
        } else if !enabled {
            RscFailure::NicPropertyDisabled
        } else if !supported {
            RscFailure::Capability
        } else {
            RscFailure::Unknown
        };
        RscState {
            enabled,
            supported,
            operational,
            failure,
        }
    }

    /// `Get-NetAdapterRsc`.
    pub fn rsc_table(&self) -> String {
        let a = self.rsc(false);
        let b = self.rsc(true);
        table(
            &[
                "Name",
                "IPv4Enabled",
                "IPv6Enabled",
                "IPv4Supported",
                "IPv6Supported",
                "IPv4OperationalState",
                "IPv6OperationalState",
                "IPv4FailureReason",
                "IPv6FailureReason",
            ],
            &[vec![
                ADAPTER.into(),
                on(a.enabled).into(),
                on(b.enabled).into(),
                on(a.supported).into(),
                on(b.supported).into(),
                on(a.operational).into(),
                on(b.operational).into(),
                format!("{:?}", a.failure),
                format!("{:?}", b.failure),
            ]],
        )
    }

    /// USO of the current configuration: `(ipv4, ipv6)` as (enabled, max, min segments, sub-MSS).
    pub fn uso(&self) -> [(bool, u32, u32, bool); 2] {
        let o = &self.current;
        if o.Header.Revision < 6 {
            return [(false, 0, 0, false); 2];
        }
        let u = &o.UdpSegmentation;
        [
            (
                eth(u.IPv4.Encapsulation) && u.IPv4.MaxOffLoadSize > 0,
                u.IPv4.MaxOffLoadSize,
                u.IPv4.min_segment_count(),
                u.IPv4.sub_mss_final_segment_supported() == 1,
            ),
            (
                eth(u.IPv6.Encapsulation) && u.IPv6.MaxOffLoadSize > 0,
                u.IPv6.MaxOffLoadSize,
                u.IPv6.min_segment_count(),
                u.IPv6.sub_mss_final_segment_supported() == 1,
            ),
        ]
    }

    /// `Get-NetAdapterUso` (with the `Format-List *` details as columns).
    pub fn uso_table(&self) -> String {
        let [a, b] = self.uso();
        table(
            &[
                "Name",
                "IPv4Enabled",
                "IPv6Enabled",
                "IPv4MaxOffloadSize",
                "IPv6MaxOffloadSize",
                "MinSegmentCount",
                "SubMssFinalSegmentSupported",
            ],
            &[vec![
                ADAPTER.into(),
                on(a.0).into(),
                on(b.0).into(),
                a.1.to_string(),
                b.1.to_string(),
                a.2.to_string(),
                on(a.3).into(),
            ]],
        )
    }

    /// LSO of the current configuration: (v1 IPv4, v2 IPv4, v2 IPv6) enabled and max sizes.
    pub fn lso(&self) -> [(bool, u32); 3] {
        let o = &self.current;
        let v1 = &o.LsoV1.IPv4;
        let v2 = &o.LsoV2;
        [
            (
                eth(v1.Encapsulation) && v1.MaxOffLoadSize > 0,
                v1.MaxOffLoadSize,
            ),
            (
                eth(v2.IPv4.Encapsulation) && v2.IPv4.MaxOffLoadSize > 0,
                v2.IPv4.MaxOffLoadSize,
            ),
            (
                eth(v2.IPv6.Encapsulation) && v2.IPv6.MaxOffLoadSize > 0,
                v2.IPv6.MaxOffLoadSize,
            ),
        ]
    }

    /// `Get-NetAdapterLso`.
    pub fn lso_table(&self) -> String {
        let [v1, v4, v6] = self.lso();
        table(
            &[
                "Name",
                "Version",
                "V1IPv4Enabled",
                "IPv4Enabled",
                "IPv6Enabled",
                "IPv4MaxOffloadSize",
                "IPv6MaxOffloadSize",
            ],
            &[vec![
                ADAPTER.into(),
                "LSO Version 2".into(),
                on(v1.0).into(),
                on(v4.0).into(),
                on(v6.0).into(),
                v4.1.to_string(),
                v6.1.to_string(),
            ]],
        )
    }

    /// Checksum offload states (`RxTxEnabled` …) for IpIPv4, TcpIPv4, TcpIPv6, UdpIPv4, UdpIPv6.
    pub fn checksum(&self) -> [&'static str; 5] {
        let c = &self.current.Checksum;
        let st = |tx: bool, rx: bool| match (tx, rx) {
            (true, true) => "RxTxEnabled",
            (true, false) => "TxEnabled",
            (false, true) => "RxEnabled",
            (false, false) => "Disabled",
        };
        let s = n::NDIS_OFFLOAD_SUPPORTED;
        let (t4, r4) = (&c.IPv4Transmit, &c.IPv4Receive);
        let (t6, r6) = (&c.IPv6Transmit, &c.IPv6Receive);
        let e4t = eth(t4.Encapsulation);
        let e4r = eth(r4.Encapsulation);
        let e6t = eth(t6.Encapsulation);
        let e6r = eth(r6.Encapsulation);
        [
            st(e4t && t4.ip_checksum() == s, e4r && r4.ip_checksum() == s),
            st(e4t && t4.tcp_checksum() == s, e4r && r4.tcp_checksum() == s),
            st(e6t && t6.tcp_checksum() == s, e6r && r6.tcp_checksum() == s),
            st(e4t && t4.udp_checksum() == s, e4r && r4.udp_checksum() == s),
            st(e6t && t6.udp_checksum() == s, e6r && r6.udp_checksum() == s),
        ]
    }

    /// `Get-NetAdapterChecksumOffload`.
    pub fn checksum_table(&self) -> String {
        let c = self.checksum();
        let mut row = vec![ADAPTER.to_string()];
        row.extend(c.iter().map(|s| s.to_string()));
        table(
            &[
                "Name",
                "IpIPv4Enabled",
                "TcpIPv4Enabled",
                "TcpIPv6Enabled",
                "UdpIPv4Enabled",
                "UdpIPv6Enabled",
            ],
            &[row],
        )
    }

    /// `Get-NetAdapterAdvancedProperty` rows: (DisplayName, DisplayValue, RegistryKeyword,
    /// RegistryValue) for every keyword the INF shows, in INF order. A keyword missing from
    /// the registry shows its INF default (the INF writes it at install).
    pub fn advanced_properties(&self) -> Vec<[String; 4]> {
        PARAMS
            .iter()
            .filter(|p| p.shown)
            .map(|p| {
                let stored = self
                    .keywords
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(p.keyword))
                    .map(|(_, v)| v.clone());
                let raw = match &stored {
                    Some(RegValue::Sz(s)) => Some(s.clone()),
                    Some(RegValue::Dword(d)) => Some(d.to_string()),
                    Some(other) => Some(format!("{other:?}")),
                    None => p.domain.default_value().map(|d| d.to_string()),
                };
                let display = match (&p.domain, &raw) {
                    (Domain::Enum { choices, .. }, Some(r)) => r
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .and_then(|v| choices.iter().find(|c| c.value == v))
                        .map_or_else(|| r.clone(), |c| c.text.to_string()),
                    (_, Some(r)) => r.clone(),
                    (_, None) => String::new(),
                };
                let regv = match (&raw, p.ty) {
                    (Some(r), _) => format!("{{{r}}}"),
                    (None, ParamType::Edit) => "{}".into(),
                    (None, _) => "{}".into(),
                };
                [p.desc.to_string(), display, p.keyword.to_string(), regv]
            })
            .collect()
    }

    /// `Get-NetAdapterAdvancedProperty`.
    pub fn advanced_properties_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .advanced_properties()
            .into_iter()
            .map(|[a, b, c, d]| vec![ADAPTER.to_string(), a, b, c, d])
            .collect();
        table(
            &[
                "Name",
                "DisplayName",
                "DisplayValue",
                "RegistryKeyword",
                "RegistryValue",
            ],
            &rows,
        )
    }

    /// The RSC part of `Get-NetAdapterStatistics` (`RscStatistics`).
    pub fn rsc_statistics_table(&self) -> String {
        let Some(s) = self.rsc_stats else {
            return "RscStatistics: (OID_TCP_RSC_STATISTICS not answered)\n".into();
        };
        table(
            &[
                "Name",
                "CoalescedBytes",
                "CoalescedPackets",
                "CoalescingEvents",
                "CoalescingExceptions",
            ],
            &[vec![
                ADAPTER.into(),
                s.CoalescedOctets.to_string(),
                s.CoalescedPkts.to_string(),
                s.CoalesceEvents.to_string(),
                s.Aborts.to_string(),
            ]],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offload(rsc4: bool, rsc6: bool, rev: u8) -> n::NDIS_OFFLOAD {
        // SAFETY: NDIS_OFFLOAD is plain data; all-zero is a valid value.
        let mut o: n::NDIS_OFFLOAD = unsafe { std::mem::zeroed() };
        o.Header.Revision = rev;
        o.Rsc.IPv4Enabled = u8::from(rsc4);
        o.Rsc.IPv6Enabled = u8::from(rsc6);
        o
    }

    fn view(cur: n::NDIS_OFFLOAD, hw: n::NDIS_OFFLOAD, kw: &[(&str, &str)]) -> AdminView {
        AdminView {
            current: cur,
            hardware: hw,
            keywords: kw
                .iter()
                .map(|(k, v)| (k.to_string(), RegValue::sz(*v)))
                .collect(),
            rsc_stats: None,
        }
    }

    #[test]
    fn rsc_failure_reasons_follow_keyword_capability_and_current_state() {
        let v = view(offload(true, false, 6), offload(true, true, 6), &[]);
        assert_eq!(v.rsc(false).failure, RscFailure::NoFailure);
        assert!(v.rsc(false).operational);
        // Capable, enabled, but the current configuration has IPv6 off.
        assert_eq!(v.rsc(true).failure, RscFailure::Unknown);
        let v = view(
            offload(false, false, 6),
            offload(true, true, 6),
            &[("*RscIPv4", "0")],
        );
        let s = v.rsc(false);
        assert_eq!(
            (s.enabled, s.operational, s.failure),
            (false, false, RscFailure::NicPropertyDisabled)
        );
        // The host gives no RSC capability (virtio-win wiki: "Capability").
        let v = view(offload(false, false, 6), offload(false, false, 6), &[]);
        assert_eq!(v.rsc(false).failure, RscFailure::Capability);
        // An NDIS_OFFLOAD below revision 3 has no Rsc member at all.
        let v = view(offload(true, true, 2), offload(true, true, 2), &[]);
        assert_eq!(v.rsc(false).failure, RscFailure::Capability);
        assert!(
            v.rsc_table().contains("NicPropertyDisabled") || v.rsc_table().contains("Capability")
        );
    }

    #[test]
    fn checksum_states_combine_tx_and_rx() {
        let mut o = offload(false, false, 6);
        o.Checksum.IPv4Transmit.Encapsulation = n::NDIS_ENCAPSULATION_IEEE_802_3;
        o.Checksum.IPv4Receive.Encapsulation = n::NDIS_ENCAPSULATION_IEEE_802_3;
        o.Checksum.IPv4Transmit.set_tcp_checksum(1);
        o.Checksum.IPv4Receive.set_tcp_checksum(1);
        o.Checksum.IPv4Receive.set_udp_checksum(1);
        o.Checksum.IPv4Transmit.set_ip_checksum(1);
        let v = view(o, o, &[]);
        assert_eq!(
            v.checksum(),
            [
                "TxEnabled",
                "RxTxEnabled",
                "Disabled",
                "RxEnabled",
                "Disabled"
            ]
        );
    }

    #[test]
    fn advanced_properties_show_choice_texts_and_defaults() {
        let v = view(
            offload(true, true, 6),
            offload(true, true, 6),
            &[("*RscIPv4", "0"), ("*JumboPacket", "9014")],
        );
        let rows = v.advanced_properties();
        let row = |kw: &str| rows.iter().find(|r| r[2] == kw).cloned().unwrap();
        assert_eq!(row("*RscIPv4")[1], "Disabled");
        assert_eq!(row("*RscIPv4")[3], "{0}");
        assert_eq!(
            row("*RscIPv6")[1],
            "Enabled",
            "absent keyword shows the default"
        );
        assert_eq!(row("*JumboPacket")[1], "9014");
        assert_eq!(row("NetworkAddress")[1], "");
        assert!(
            rows.iter().all(|r| r[2] != "*LsoV1IPv4"),
            "hidden keyword not listed"
        );
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "Long"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    Long\n-    ----\nxyz  1\n");
    }
}
