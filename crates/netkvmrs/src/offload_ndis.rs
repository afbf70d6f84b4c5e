//! netkvm-core's abstract offload description → `NDIS_OFFLOAD` (spec §5.1) at the revision and size of
//! the registered NDIS version (core's `NdisVersion::offload_revision`: 3 at 6.30/6.80, 6 at 6.83/6.84,
//! 7 at 6.85). Used for `HardwareOffloadCapabilities`, `DefaultOffloadConfiguration` and the
//! `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indication.
//!
//! An offload that is not supported / not enabled is written as `NDIS_ENCAPSULATION_NOT_SUPPORTED` with
//! zero sizes (NetKVM's practice); supported ones carry `NDIS_ENCAPSULATION_IEEE_802_3`, the only
//! encapsulation advertised. Fields beyond the revision's size are left zero.

use ndis_sys as n;
use netkvm_core::offload::{Ipv4Checksum, Ipv6Checksum, NdisOffload};

const ON: u32 = n::NDIS_OFFLOAD_SUPPORTED;
const OFF: u32 = n::NDIS_OFFLOAD_NOT_SUPPORTED;

fn flag(b: bool) -> u32 {
    if b {
        ON
    } else {
        OFF
    }
}

fn encap(any: bool) -> u32 {
    if any {
        n::NDIS_ENCAPSULATION_IEEE_802_3
    } else {
        n::NDIS_ENCAPSULATION_NOT_SUPPORTED
    }
}

fn v4(c: &Ipv4Checksum) -> n::NDIS_CHECKSUM_OFFLOAD_IPV4 {
    let mut o = n::NDIS_CHECKSUM_OFFLOAD_IPV4 {
        Encapsulation: encap(c.ip || c.tcp || c.udp),
        Bits: 0,
    };
    o.set_ip_options_supported(flag(c.ip_options));
    o.set_tcp_options_supported(flag(c.tcp_options));
    o.set_tcp_checksum(flag(c.tcp));
    o.set_udp_checksum(flag(c.udp));
    o.set_ip_checksum(flag(c.ip));
    o
}

fn v6(c: &Ipv6Checksum) -> n::NDIS_CHECKSUM_OFFLOAD_IPV6 {
    let mut o = n::NDIS_CHECKSUM_OFFLOAD_IPV6 {
        Encapsulation: encap(c.tcp || c.udp),
        Bits: 0,
    };
    o.set_ip_extension_headers_supported(flag(c.ext_headers));
    o.set_tcp_options_supported(flag(c.tcp_options));
    o.set_tcp_checksum(flag(c.tcp));
    o.set_udp_checksum(flag(c.udp));
    o
}

/// `NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_n` for a revision netkvm-core picks.
pub const fn size_for_revision(revision: u8) -> u16 {
    match revision {
        7 => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7,
        6 => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6,
        5 => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_5,
        4 => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_4,
        3 => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
        2 => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2,
        _ => n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1,
    }
}

/// The `NDIS_OFFLOAD` for `o`.
pub fn to_ndis(o: &NdisOffload) -> n::NDIS_OFFLOAD {
    let mut out = n::NDIS_OFFLOAD {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_OFFLOAD,
            o.revision,
            size_for_revision(o.revision),
        ),
        ..Default::default()
    };
    out.Checksum = n::NDIS_TCP_IP_CHECKSUM_OFFLOAD {
        IPv4Transmit: v4(&o.checksum.ipv4_tx),
        IPv4Receive: v4(&o.checksum.ipv4_rx),
        IPv6Transmit: v6(&o.checksum.ipv6_tx),
        IPv6Receive: v6(&o.checksum.ipv6_rx),
    };
    if let Some(l) = o.lso_v1 {
        out.LsoV1.IPv4.Encapsulation = n::NDIS_ENCAPSULATION_IEEE_802_3;
        out.LsoV1.IPv4.MaxOffLoadSize = l.max_offload_size;
        out.LsoV1.IPv4.MinSegmentCount = l.min_segment_count;
        out.LsoV1.IPv4.set_tcp_options(flag(l.tcp_options));
        out.LsoV1.IPv4.set_ip_options(flag(l.ip_options));
    }
    if let Some(l) = o.lso_v2_ipv4 {
        out.LsoV2.IPv4 = n::NDIS_LSOV2_IPV4 {
            Encapsulation: n::NDIS_ENCAPSULATION_IEEE_802_3,
            MaxOffLoadSize: l.max_offload_size,
            MinSegmentCount: l.min_segment_count,
        };
    }
    if let Some(l) = o.lso_v2_ipv6 {
        out.LsoV2.IPv6.Encapsulation = n::NDIS_ENCAPSULATION_IEEE_802_3;
        out.LsoV2.IPv6.MaxOffLoadSize = l.max_offload_size;
        out.LsoV2.IPv6.MinSegmentCount = l.min_segment_count;
        out.LsoV2
            .IPv6
            .set_ip_extension_headers_supported(flag(l.ext_headers));
        out.LsoV2
            .IPv6
            .set_tcp_options_supported(flag(l.tcp_options));
    }
    if o.revision >= n::NDIS_OFFLOAD_REVISION_3 {
        out.Rsc.IPv4Enabled = u8::from(o.rsc.ipv4);
        out.Rsc.IPv6Enabled = u8::from(o.rsc.ipv6);
    }
    if o.revision >= n::NDIS_OFFLOAD_REVISION_6 {
        if let Some(u) = o.uso.ipv4 {
            let v = &mut out.UdpSegmentation.IPv4;
            v.Encapsulation = n::NDIS_ENCAPSULATION_IEEE_802_3;
            v.MaxOffLoadSize = u.max_offload_size;
            v.set_min_segment_count(u.min_segment_count);
            v.set_sub_mss_final_segment_supported(flag(u.sub_mss_final_segment));
        }
        if let Some(u) = o.uso.ipv6 {
            let v = &mut out.UdpSegmentation.IPv6;
            v.Encapsulation = n::NDIS_ENCAPSULATION_IEEE_802_3;
            v.MaxOffLoadSize = u.max_offload_size;
            v.set_min_segment_count(u.min_segment_count);
            v.set_sub_mss_final_segment_supported(flag(u.sub_mss_final_segment));
            v.set_ip_extension_headers_supported(flag(u.ext_headers));
        }
    }
    out
}

/// The bytes NDIS reads: the first `Header.Size` bytes of the structure (x64 layout).
pub fn to_bytes(o: &n::NDIS_OFFLOAD) -> ([u8; core::mem::size_of::<n::NDIS_OFFLOAD>()], usize) {
    let mut b = [0u8; core::mem::size_of::<n::NDIS_OFFLOAD>()];
    // SAFETY: NDIS_OFFLOAD is plain data of exactly this size (asserted in ndis-sys); copying its bytes
    // (including zeroed padding: the value was built from `Default`) is a read of initialised memory.
    let src = unsafe {
        core::slice::from_raw_parts(
            (o as *const n::NDIS_OFFLOAD).cast::<u8>(),
            core::mem::size_of::<n::NDIS_OFFLOAD>(),
        )
    };
    b.copy_from_slice(src);
    (b, usize::from(o.Header.Size).min(b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netkvm_core::offload::{
        wanted_features, Features, NdisVersion, OffloadPolicy, OffloadState,
    };
    use netkvm_core::params::{Config, KeyValueSource};

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }

    const QEMU: Features = Features::CSUM
        .union(Features::GUEST_CSUM)
        .union(Features::CTRL_GUEST_OFFLOADS)
        .union(Features::GUEST_TSO4)
        .union(Features::GUEST_TSO6)
        .union(Features::HOST_TSO4)
        .union(Features::HOST_TSO6)
        .union(Features::MRG_RXBUF)
        .union(Features::CTRL_VQ)
        .union(Features::VERSION_1)
        .union(Features::HOST_USO);

    fn state(ndis: NdisVersion, pairs: &[(&str, &str)]) -> OffloadState {
        let c = Config::read(&KeyValueSource::new(pairs)).0;
        let neg = wanted_features(QEMU, &c, ndis, OffloadPolicy::default());
        OffloadState::new(neg, &c, ndis)
    }

    // Offsets below are the spec's [COMPUTED] x64 layout (§0.1/§5.1), independent of ndis-sys.
    const RSC: usize = 144;
    const USO: usize = 188;

    #[test]
    fn ndis_630_reports_revision_3_size_156_with_rsc_and_no_uso() {
        let s = state(NdisVersion::V6_30, &[]);
        let (b, len) = to_bytes(&to_ndis(&s.caps));
        assert_eq!(
            (b[0], b[1], u16::from_le_bytes([b[2], b[3]])),
            (0xA7, 3, 156)
        );
        assert_eq!(len, 156);
        assert_eq!((b[RSC], b[RSC + 1]), (1, 1), "RSC IPv4/IPv6 capability");
        assert!(b[USO..].iter().all(|&x| x == 0), "no USO before 6.83");
    }

    #[test]
    fn ndis_683_reports_revision_6_with_uso_and_no_submss() {
        let s = state(NdisVersion::V6_83, &[]);
        let (b, len) = to_bytes(&to_ndis(&s.caps));
        assert_eq!((b[1], len), (6, 216));
        assert_eq!(u32_at(&b, USO), n::NDIS_ENCAPSULATION_IEEE_802_3);
        assert_eq!(u32_at(&b, USO + 4), 536 * 64, "MaxOffLoadSize");
        let bits = u32_at(&b, USO + 8);
        assert_eq!(bits & 0x3F, 2, "MinSegmentCount");
        assert_eq!(bits & 0x40, 0, "SubMssFinalSegmentSupported needs 6.84");
        assert_eq!(
            u32_at(&b, USO + 12),
            n::NDIS_ENCAPSULATION_IEEE_802_3,
            "IPv6"
        );
    }

    #[test]
    fn ndis_684_sets_submss_and_685_uses_revision_7_same_size() {
        let s = state(NdisVersion::V6_84, &[]);
        let (b, _) = to_bytes(&to_ndis(&s.caps));
        assert_eq!(b[1], 6);
        assert_eq!(u32_at(&b, USO + 8) & 0x40, 0x40);
        let s = state(NdisVersion::V6_85, &[]);
        let (b, len) = to_bytes(&to_ndis(&s.caps));
        assert_eq!((b[1], len), (7, 216));
        assert_eq!(u32_at(&b, USO + 20) & 0x40, 0x40, "IPv6 SubMss too");
    }

    #[test]
    fn checksum_and_lso_fields_land_at_the_documented_offsets() {
        let s = state(NdisVersion::V6_85, &[]);
        let (b, _) = to_bytes(&to_ndis(&s.caps));
        // Checksum.IPv4Transmit at 4: encapsulation, then bits IpOptions 0..2 … IpChecksum 8..10.
        assert_eq!(u32_at(&b, 4), n::NDIS_ENCAPSULATION_IEEE_802_3);
        assert_eq!(u32_at(&b, 8), 0b01_01_01_01_01);
        // IPv6Transmit at 20: ext headers, tcp options, tcp, udp.
        assert_eq!(u32_at(&b, 24), 0b01_01_01_01);
        // LsoV1.IPv4 at 36: encapsulation, 63488, 2, TcpOptions|IpOptions.
        assert_eq!(
            (
                u32_at(&b, 36),
                u32_at(&b, 40),
                u32_at(&b, 44),
                u32_at(&b, 48)
            ),
            (2, 63488, 2, 0b0101)
        );
        // LsoV2.IPv4 at 80, IPv6 at 92.
        assert_eq!(
            (u32_at(&b, 80), u32_at(&b, 84), u32_at(&b, 88)),
            (2, 63488, 2)
        );
        assert_eq!((u32_at(&b, 92), u32_at(&b, 96)), (2, 63488));
        assert_eq!(u32_at(&b, 104), 0b0101, "IPv6 ext headers + TCP options");
    }

    #[test]
    fn disabled_offloads_are_encapsulation_not_supported_with_zero_sizes() {
        let s = state(
            NdisVersion::V6_85,
            &[
                ("*LsoV2IPv4", "0"),
                ("*LsoV1IPv4", "0"),
                ("*UsoIPv6", "0"),
                ("*RscIPv4", "0"),
                ("*TCPChecksumOffloadIPv4", "0"),
                ("*UDPChecksumOffloadIPv4", "0"),
                ("*IPChecksumOffloadIPv4", "2"),
            ],
        );
        let (b, _) = to_bytes(&to_ndis(&s.current));
        assert_eq!((u32_at(&b, 36), u32_at(&b, 40)), (0, 0), "LSOv1 off");
        assert_eq!((u32_at(&b, 80), u32_at(&b, 84)), (0, 0), "LSOv2 IPv4 off");
        assert_eq!(u32_at(&b, 4), 0, "IPv4 TX checksum: nothing on");
        assert_eq!(u32_at(&b, 12), 2, "IPv4 RX: IP checksum on");
        assert_eq!(b[RSC], 0);
        assert_eq!(b[RSC + 1], 1);
        assert_eq!(
            (u32_at(&b, USO + 12), u32_at(&b, USO + 16)),
            (0, 0),
            "USO IPv6 off"
        );
        assert_eq!(u32_at(&b, USO), 2, "USO IPv4 still on");
    }

    #[test]
    fn size_table_matches_the_spec() {
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 7].map(size_for_revision),
            [112, 144, 156, 177, 188, 216, 216]
        );
    }
}
