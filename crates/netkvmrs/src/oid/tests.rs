//! Host tests of the OID table: every OID with short, empty and oversized buffers; OID_GEN_SUPPORTED_LIST
//! agreement; output layouts; the set flows with their side effects (a recording [`DeviceControl`]); the
//! control-queue error policy as the OID layer sees it.
//!
//! Expected layouts come from the spec's [COMPUTED] offsets and the DDI pages, not from the code.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::datapath::{DatapathStats, RscStats, RssSettings, RxFilter};
use crate::oid::state::{
    AdapterFacts, ControlError, LinkState, NetAddresses, OidState, ReceiveHash, RssState,
};
use netkvm_core::offload::{
    wanted_features, Features as CoreFeatures, NdisOffload, NdisVersion as CoreVersion,
    OffloadPolicy, OffloadState,
};
use netkvm_core::params::{Config, KeyValueSource};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // a test recorder
enum Call {
    RxFilter(RxFilter),
    Vlan(u16),
    FlushRsc,
    GuestOffloads(u64),
    Offload(OffloadState),
    Indicate(NdisOffload),
    Rss(RssSettings, bool),
    Power(PowerState),
}

#[derive(Default)]
struct Mock {
    calls: Vec<Call>,
    fail_rx: Option<ControlError>,
    fail_guest: Option<ControlError>,
    fail_rss: Option<ControlError>,
    fail_vlan: Option<ControlError>,
    fail_power: Option<ControlError>,
    stats: DatapathStats,
}

impl DeviceControl for Mock {
    fn apply_rx_filter(&mut self, f: &RxFilter) -> Result<(), ControlError> {
        if let Some(e) = self.fail_rx {
            return Err(e);
        }
        self.calls.push(Call::RxFilter(*f));
        Ok(())
    }
    fn apply_vlan(&mut self, f: &RxFilter) -> Result<(), ControlError> {
        if let Some(e) = self.fail_vlan {
            return Err(e);
        }
        self.calls.push(Call::Vlan(f.vlan_id));
        Ok(())
    }
    fn flush_rsc(&mut self) {
        self.calls.push(Call::FlushRsc);
    }
    fn set_guest_offloads(&mut self, mask: u64) -> Result<(), ControlError> {
        if let Some(e) = self.fail_guest {
            return Err(e);
        }
        self.calls.push(Call::GuestOffloads(mask));
        Ok(())
    }
    fn apply_offload(&mut self, s: &OffloadState) {
        self.calls.push(Call::Offload(*s));
    }
    fn indicate_offload_config(&mut self, c: &NdisOffload) {
        self.calls.push(Call::Indicate(*c));
    }
    fn apply_rss(&mut self, r: &RssSettings, device: bool) -> Result<(), ControlError> {
        if let Some(e) = self.fail_rss {
            return Err(e);
        }
        self.calls.push(Call::Rss(*r, device));
        Ok(())
    }
    fn set_power(&mut self, t: PowerState, s: &mut OidState) -> Result<(), ControlError> {
        if let Some(e) = self.fail_power {
            return Err(e);
        }
        self.calls.push(Call::Power(t));
        s.link.connect = if t == PowerState::D0 {
            n::MediaConnectStateConnected
        } else {
            n::MediaConnectStateUnknown
        };
        Ok(())
    }
    fn stats(&self) -> DatapathStats {
        self.stats
    }
}

/// What QEMU offers by default (host coalescing and USO available).
const QEMU: CoreFeatures = CoreFeatures::CSUM
    .union(CoreFeatures::GUEST_CSUM)
    .union(CoreFeatures::CTRL_GUEST_OFFLOADS)
    .union(CoreFeatures::GUEST_TSO4)
    .union(CoreFeatures::GUEST_TSO6)
    .union(CoreFeatures::HOST_TSO4)
    .union(CoreFeatures::HOST_TSO6)
    .union(CoreFeatures::MRG_RXBUF)
    .union(CoreFeatures::CTRL_VQ)
    .union(CoreFeatures::VERSION_1)
    .union(CoreFeatures::HOST_USO);

const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

fn state_with(ndis: n::NdisVersion, keywords: &[(&str, &str)]) -> OidState {
    let config = Config::read(&KeyValueSource::new(keywords)).0;
    let cv = CoreVersion {
        major: ndis.major,
        minor: ndis.minor,
    };
    let neg = wanted_features(QEMU, &config, cv, OffloadPolicy::default());
    OidState {
        facts: AdapterFacts {
            ndis,
            pairs: 2,
            interrupt_messages: 5,
            rx_buffers: 256,
            tx_buffers: 256,
            ctrl_rx: true,
            ctrl_vlan: false,
        },
        config,
        permanent_mac: MAC,
        current_mac: MAC,
        mtu: 1500,
        link: LinkState {
            connect: n::MediaConnectStateConnected,
            duplex: n::MediaDuplexStateFull,
            speed_bps: 10_000_000_000,
        },
        packet_filter: 0,
        multicast: [[0; 6]; MAX_MULTICAST],
        multicast_len: 0,
        vlan_id: config.vlan_id,
        lookahead: 1500,
        offload: OffloadState::new(neg, &config, cv),
        rss: RssState {
            supported: config.rss,
            hash_types: crate::adapter::init::rss_hash_types(ndis),
            queues: 2,
            device: false,
            hash_information: 0,
            base_cpu: 0,
            settings: RssSettings::DISABLED,
            receive_hash: ReceiveHash {
                enabled: false,
                hash_information: 0,
                key: [0; 40],
                key_len: 0,
            },
        },
        power: PowerState::D0,
        wake_up: 0,
        addresses: NetAddresses::default(),
    }
}

fn state() -> OidState {
    state_with(n::NdisVersion::V6_85, &[])
}

fn query(s: &mut OidState, m: &mut Mock, oid: u32, len: usize) -> (Outcome, Vec<u8>) {
    let mut buf = vec![0xAAu8; len];
    let o = dispatch(s, m, oid, Request::Query(&mut buf));
    (o, buf)
}

fn answer(s: &mut OidState, m: &mut Mock, oid: u32) -> Vec<u8> {
    let (o, mut buf) = query(s, m, oid, 4096);
    assert_eq!(o.status, n::NDIS_STATUS_SUCCESS, "{oid:#x}");
    buf.truncate(o.bytes as usize);
    buf
}

fn set(s: &mut OidState, m: &mut Mock, oid: u32, buf: &[u8]) -> Outcome {
    dispatch(s, m, oid, Request::Set(buf))
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Valid set buffers (built by hand from the DDI layouts)
// ---------------------------------------------------------------------------------------------

fn header(ty: u8, rev: u8, size: u16) -> Vec<u8> {
    let mut v = vec![ty, rev];
    v.extend_from_slice(&size.to_le_bytes());
    v
}

/// NDIS_OFFLOAD_PARAMETERS revision 5 (34 bytes), all "no change" except the given (offset, value).
fn offload_params(changes: &[(usize, u8)]) -> Vec<u8> {
    let mut v = header(0x80, 5, 34);
    v.resize(34, 0);
    for &(o, val) in changes {
        v[o] = val;
    }
    v
}

/// NDIS_RECEIVE_SCALE_PARAMETERS revision 2: table of `cpus` at 40, 40-byte key after it.
fn rss_params(flags: u16, hash_info: u32, cpus: &[u8]) -> Vec<u8> {
    let mut v = header(0x89, 2, 40);
    v.extend_from_slice(&flags.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&hash_info.to_le_bytes());
    v.extend_from_slice(&((cpus.len() * 4) as u16).to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&40u32.to_le_bytes());
    v.extend_from_slice(&40u16.to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&((40 + cpus.len() * 4) as u32).to_le_bytes());
    v.extend_from_slice(&[0; 12]);
    assert_eq!(v.len(), 40);
    for &c in cpus {
        v.extend_from_slice(&[0, 0, c, 0]);
    }
    v.extend_from_slice(&netkvm_core::rss::MICROSOFT_TEST_KEY);
    v
}

const TOEPLITZ_TCP_IPV4: u32 = 0x0000_0300 | 0x1;

fn receive_hash(flags: u32, info: u32) -> Vec<u8> {
    let mut v = header(0x80, 1, 20);
    v.extend_from_slice(&flags.to_le_bytes());
    v.extend_from_slice(&info.to_le_bytes());
    v.extend_from_slice(&40u16.to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&20u32.to_le_bytes());
    v.extend_from_slice(&netkvm_core::rss::MICROSOFT_TEST_KEY);
    v
}

fn encapsulation(v4: (u32, u32, u32), v6: (u32, u32, u32)) -> Vec<u8> {
    let mut v = header(0xA8, 1, 28);
    for (a, b, c) in [v4, v6] {
        v.extend_from_slice(&a.to_le_bytes());
        v.extend_from_slice(&b.to_le_bytes());
        v.extend_from_slice(&c.to_le_bytes());
    }
    v
}

fn link_params(duplex: i32, xmit: u64, rcv: u64) -> Vec<u8> {
    let mut v = header(0x80, 1, 32);
    v.extend_from_slice(&duplex.to_le_bytes());
    v.extend_from_slice(&xmit.to_le_bytes());
    v.extend_from_slice(&rcv.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}

/// NETWORK_ADDRESS_LIST with IPv4 entries (NETWORK_ADDRESS_IP: port, address at 4, zero[8]).
fn addresses_v4(ips: &[[u8; 4]]) -> Vec<u8> {
    let mut v = (ips.len() as i32).to_le_bytes().to_vec();
    v.extend_from_slice(&NDIS_PROTOCOL_ID_TCP_IP.to_le_bytes());
    for ip in ips {
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(&NDIS_PROTOCOL_ID_TCP_IP.to_le_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(ip);
        v.extend_from_slice(&[0; 8]);
    }
    v
}

/// (valid set buffer, status it gets, an oversized variant that must succeed the same way).
fn set_sample(oid: u32) -> Option<(Vec<u8>, n::NDIS_STATUS, Vec<u8>)> {
    let pad = |mut v: Vec<u8>, extra: &[u8]| {
        v.extend_from_slice(extra);
        v
    };
    let ok = n::NDIS_STATUS_SUCCESS;
    let (valid, status, oversized) = match oid {
        OID_GEN_CURRENT_LOOKAHEAD => {
            let v = 1000u32.to_le_bytes().to_vec();
            (v.clone(), ok, pad(v, &[0xEE; 12]))
        }
        OID_GEN_CURRENT_PACKET_FILTER => {
            let v = (NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST)
                .to_le_bytes()
                .to_vec();
            (v.clone(), ok, pad(v, &[0xEE; 12]))
        }
        OID_GEN_VLAN_ID => {
            let v = 5u32.to_le_bytes().to_vec();
            (v.clone(), ok, pad(v, &[0xEE; 12]))
        }
        OID_GEN_NETWORK_LAYER_ADDRESSES => {
            let v = addresses_v4(&[[10, 0, 0, 2]]);
            (v.clone(), ok, pad(v, &[0; 16]))
        }
        OID_GEN_LINK_PARAMETERS => {
            let v = link_params(n::MediaDuplexStateUnknown, 0, 0);
            (v.clone(), ok, pad(v, &[0; 16]))
        }
        OID_GEN_INTERRUPT_MODERATION => {
            let mut v = header(0x80, 1, 12);
            v.extend_from_slice(&[0; 8]);
            (v.clone(), n::NDIS_STATUS_INVALID_DATA, pad(v, &[0; 16]))
        }
        OID_GEN_RECEIVE_SCALE_PARAMETERS => {
            let v = rss_params(0, TOEPLITZ_TCP_IPV4, &[0, 1, 2, 3, 0, 1, 2, 3]);
            (v.clone(), ok, pad(v, &[0; 16]))
        }
        OID_GEN_RECEIVE_HASH => {
            let v = receive_hash(n::NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH, TOEPLITZ_TCP_IPV4);
            (v.clone(), ok, pad(v, &[0; 16]))
        }
        OID_TCP_OFFLOAD_PARAMETERS => {
            let v = offload_params(&[]);
            (v.clone(), ok, pad(v, &[0; 16]))
        }
        OID_OFFLOAD_ENCAPSULATION => {
            let v = encapsulation((1, 2, 14), (1, 2, 14));
            (v.clone(), ok, pad(v, &[0; 16]))
        }
        OID_802_3_MULTICAST_LIST => {
            let v = vec![0x01, 0x00, 0x5E, 0, 0, 1];
            (v.clone(), ok, pad(v, &[0x33, 0x33, 0, 0, 0, 1]))
        }
        OID_PNP_QUERY_POWER | OID_PNP_SET_POWER => {
            let v = (n::NdisDeviceStateD0 as u32).to_le_bytes().to_vec();
            (v.clone(), ok, pad(v, &[0xEE; 4]))
        }
        OID_PNP_ENABLE_WAKE_UP => {
            let v = 0u32.to_le_bytes().to_vec();
            (v.clone(), ok, pad(v, &[0xEE; 4]))
        }
        _ => return None,
    };
    Some((valid, status, oversized))
}

// ---------------------------------------------------------------------------------------------
// Table-wide buffer rules
// ---------------------------------------------------------------------------------------------

#[test]
fn every_query_oid_answers_exactly_and_reports_bytes_needed_for_short_and_empty_buffers() {
    for e in TABLE.iter().filter(|e| e.query.is_some()) {
        let mut s = state();
        let mut m = Mock::default();
        // Oversized: the answer, BytesWritten = its length, the rest of the buffer untouched.
        let (o, buf) = query(&mut s, &mut m, e.oid, MAX_ANSWER + 64);
        assert_eq!(o.status, n::NDIS_STATUS_SUCCESS, "{}", e.name);
        let len = o.bytes as usize;
        assert!(
            buf[len..].iter().all(|&b| b == 0xAA),
            "{}: wrote past BytesWritten",
            e.name
        );
        // Empty.
        let (o, _) = query(&mut s, &mut m, e.oid, 0);
        if len == 0 {
            assert_eq!(o.status, n::NDIS_STATUS_SUCCESS, "{}", e.name);
        } else {
            assert_eq!(
                (o.status, o.needed, o.bytes),
                (n::NDIS_STATUS_BUFFER_TOO_SHORT, len as u32, 0),
                "{}: empty buffer",
                e.name
            );
        }
        // One byte short (and the 32-bit form of 64-bit statistics).
        if len > 0 {
            let (o, buf) = query(&mut s, &mut m, e.oid, len - 1);
            if e.stat64 && len == 8 {
                assert_eq!(
                    (o.status, o.bytes, o.needed),
                    (n::NDIS_STATUS_SUCCESS, 4, 8),
                    "{}",
                    e.name
                );
                assert_eq!(&buf[4..], &[0xAA; 3], "{}: only 4 bytes written", e.name);
            } else {
                assert_eq!(
                    (o.status, o.needed, o.bytes),
                    (n::NDIS_STATUS_BUFFER_TOO_SHORT, len as u32, 0),
                    "{}: short buffer",
                    e.name
                );
                assert!(
                    buf.iter().all(|&b| b == 0xAA),
                    "{}: wrote into a short buffer",
                    e.name
                );
            }
        }
    }
}

#[test]
fn every_set_oid_rejects_empty_and_short_buffers_and_accepts_oversized_ones() {
    for e in TABLE.iter().filter(|e| e.set.is_some()) {
        let (valid, status, oversized) = set_sample(e.oid)
            .unwrap_or_else(|| panic!("{}: no sample set buffer in the test", e.name));
        let mut s = state();
        let mut m = Mock::default();
        let o = set(&mut s, &mut m, e.oid, &valid);
        assert_eq!(o.status, status, "{}: valid buffer", e.name);
        if status == n::NDIS_STATUS_SUCCESS {
            assert!(
                o.bytes as usize <= valid.len() && o.bytes > 0,
                "{}: BytesRead {}",
                e.name,
                o.bytes
            );
        }
        let mut s = state();
        let o = set(&mut s, &mut m, e.oid, &oversized);
        assert_eq!(o.status, status, "{}: oversized buffer", e.name);
        // Empty: only an empty multicast list is meaningful (it clears the list).
        let mut s = state();
        let o = set(&mut s, &mut m, e.oid, &[]);
        if e.oid == OID_802_3_MULTICAST_LIST {
            assert_eq!(o.status, n::NDIS_STATUS_SUCCESS);
        } else {
            assert_ne!(
                o.status,
                n::NDIS_STATUS_SUCCESS,
                "{}: empty buffer accepted",
                e.name
            );
            if o.status == n::NDIS_STATUS_INVALID_LENGTH {
                assert!(
                    o.needed > 0,
                    "{}: INVALID_LENGTH without BytesNeeded",
                    e.name
                );
            }
        }
        // Short: the valid buffer minus its last byte.
        let mut s = state();
        let before = s;
        let o = set(&mut s, &mut m, e.oid, &valid[..valid.len() - 1]);
        assert_ne!(
            o.status,
            n::NDIS_STATUS_SUCCESS,
            "{}: short buffer accepted",
            e.name
        );
        if o.status == n::NDIS_STATUS_INVALID_LENGTH {
            assert!(
                o.needed as usize > valid.len() - 1,
                "{}: BytesNeeded {}",
                e.name,
                o.needed
            );
        }
        assert_eq!(s, before, "{}: a failed set changed the state", e.name);
    }
}

#[test]
fn unknown_oids_methods_and_missing_directions_are_not_supported() {
    let mut s = state();
    let mut m = Mock::default();
    for oid in [
        0x0001_0114,
        0xFF01_0201,
        0,
        OID_TCP_OFFLOAD_CURRENT_CONFIG,
        OID_PNP_ADD_WAKE_UP_PATTERN,
    ] {
        assert_eq!(
            query(&mut s, &mut m, oid, 64).0.status,
            n::NDIS_STATUS_NOT_SUPPORTED,
            "{oid:#x}"
        );
        assert_eq!(
            set(&mut s, &mut m, oid, &[0; 64]).status,
            n::NDIS_STATUS_NOT_SUPPORTED
        );
    }
    // Query-only OID set, set-only OID queried, method on anything.
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_LINK_SPEED, &[0; 4]).status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        query(&mut s, &mut m, OID_TCP_OFFLOAD_PARAMETERS, 64)
            .0
            .status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        dispatch(&mut s, &mut m, OID_GEN_STATISTICS, Request::Method).status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    assert!(m.calls.is_empty());
}

#[test]
fn supported_list_is_exactly_the_available_table_entries() {
    for keywords in [&[][..], &[("*RSS", "0"), ("*PriorityVLANTag", "1")][..]] {
        let mut s = state_with(n::NdisVersion::V6_85, keywords);
        let mut m = Mock::default();
        let list = answer(&mut s, &mut m, OID_GEN_SUPPORTED_LIST);
        let listed: Vec<u32> = list.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
        let available: Vec<u32> = TABLE
            .iter()
            .filter(|e| (e.available)(&s))
            .map(|e| e.oid)
            .collect();
        assert_eq!(listed, available);
        let mut no_dups = listed.clone();
        no_dups.sort_unstable();
        no_dups.dedup();
        assert_eq!(no_dups.len(), listed.len(), "duplicate OIDs in the table");
        // supported_oids (the general attributes' list) agrees too.
        let mut arr = [0u32; crate::attributes::MAX_OIDS];
        let n = supported_oids(&s, &mut arr);
        assert_eq!(&arr[..n], &listed[..]);
        // Every table OID not listed answers NOT_SUPPORTED both ways; every listed one does not.
        for e in TABLE {
            let q = query(&mut s, &mut m, e.oid, 4096).0.status;
            let st = set(&mut s.clone(), &mut m, e.oid, &[0; 64]).status;
            if listed.contains(&e.oid) {
                assert!(
                    q != n::NDIS_STATUS_NOT_SUPPORTED || e.query.is_none(),
                    "{} listed but its query is not supported",
                    e.name
                );
            } else {
                assert_eq!(
                    (q, st),
                    (n::NDIS_STATUS_NOT_SUPPORTED, n::NDIS_STATUS_NOT_SUPPORTED),
                    "{}",
                    e.name
                );
            }
        }
        let rss_listed = listed.contains(&OID_GEN_RECEIVE_SCALE_PARAMETERS);
        assert_eq!(rss_listed, s.config.rss);
        assert_eq!(
            listed.contains(&OID_GEN_VLAN_ID),
            s.config.priority_vlan.vlan
        );
    }
}

#[test]
fn the_mandatory_ndis6_oids_are_listed() {
    let mut s = state();
    let list = answer(&mut s, &mut Mock::default(), OID_GEN_SUPPORTED_LIST);
    let listed: Vec<u32> = list.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    for oid in [
        OID_GEN_SUPPORTED_LIST,
        OID_GEN_STATISTICS,
        OID_GEN_CURRENT_PACKET_FILTER,
        OID_802_3_MULTICAST_LIST,
        OID_802_3_CURRENT_ADDRESS,
        OID_GEN_LINK_PARAMETERS,
        OID_GEN_INTERRUPT_MODERATION,
        OID_TCP_OFFLOAD_PARAMETERS,
        OID_OFFLOAD_ENCAPSULATION,
        OID_TCP_RSC_STATISTICS,
        OID_GEN_RECEIVE_SCALE_CAPABILITIES,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        OID_GEN_RECEIVE_HASH,
        OID_PNP_SET_POWER,
        OID_PNP_QUERY_POWER,
        OID_GEN_VLAN_ID,
    ] {
        assert!(listed.contains(&oid), "{oid:#x} missing");
    }
}

// ---------------------------------------------------------------------------------------------
// Query layouts
// ---------------------------------------------------------------------------------------------

#[test]
fn scalar_queries_answer_the_adapter_values() {
    let mut s = state_with(n::NdisVersion::V6_85, &[("*PriorityVLANTag", "3")]);
    let mut m = Mock::default();
    let mut a = |oid| answer(&mut s, &mut m, oid);
    assert_eq!(a(OID_802_3_CURRENT_ADDRESS), MAC);
    assert_eq!(a(OID_802_3_PERMANENT_ADDRESS), MAC);
    assert_eq!(u32_at(&a(OID_GEN_MAXIMUM_FRAME_SIZE), 0), 1500);
    assert_eq!(u32_at(&a(OID_GEN_MAXIMUM_TOTAL_SIZE), 0), 1514);
    assert_eq!(
        u32_at(&a(OID_GEN_LINK_SPEED), 0),
        100_000_000,
        "10 Gb/s in 100 b/s units"
    );
    assert_eq!(u32_at(&a(OID_802_3_MAXIMUM_LIST_SIZE), 0), 32);
    assert_eq!(u32_at(&a(OID_GEN_MEDIA_IN_USE), 0), 0, "NdisMedium802_3");
    assert_eq!(u32_at(&a(OID_GEN_VENDOR_ID), 0), 0x00FF_FFFF);
    assert_eq!(a(OID_GEN_DRIVER_VERSION), [85, 6], "USHORT 0x0655");
    let d = a(OID_GEN_VENDOR_DESCRIPTION);
    assert_eq!(d.last(), Some(&0));
    assert!(d.is_ascii());
    // 2 pairs × 256 buffers × 1514 bytes.
    assert_eq!(u32_at(&a(OID_GEN_RECEIVE_BUFFER_SPACE), 0), 2 * 256 * 1514);
    let opts = u32_at(&a(OID_GEN_MAC_OPTIONS), 0);
    assert_eq!(opts & 0x1, 0x1, "COPY_LOOKAHEAD_DATA");
    assert_eq!(opts & 0x4, 0x4, "TRANSFERS_NOT_PEND");
    assert_eq!(opts & 0x8, 0x8, "NO_LOOPBACK");
    assert_eq!(opts & 0x40, 0x40, "8021P_PRIORITY");
    assert_eq!(opts & 0x200, 0x200, "8021Q_VLAN");
    let mut s = state_with(n::NdisVersion::V6_85, &[("*PriorityVLANTag", "0")]);
    let opts = u32_at(&answer(&mut s, &mut m, OID_GEN_MAC_OPTIONS), 0);
    assert_eq!(opts & 0x240, 0, "no 802.1p/Q without *PriorityVLANTag");
}

#[test]
fn gen_statistics_is_a_full_ndis_statistics_info() {
    let mut s = state();
    let stats = DatapathStats {
        rx_discards: 1,
        rx_errors: 2,
        rx_bytes: 3,
        rx_unicast_frames: 4,
        rx_multicast_frames: 5,
        rx_broadcast_frames: 6,
        tx_bytes: 7,
        tx_unicast_frames: 8,
        tx_multicast_frames: 9,
        tx_broadcast_frames: 10,
        tx_errors: 11,
        tx_discards: 12,
        rx_unicast_bytes: 13,
        rx_multicast_bytes: 14,
        rx_broadcast_bytes: 15,
        tx_unicast_bytes: 16,
        tx_multicast_bytes: 17,
        tx_broadcast_bytes: 18,
        ..Default::default()
    };
    let mut m = Mock {
        stats,
        ..Default::default()
    };
    let b = answer(&mut s, &mut m, OID_GEN_STATISTICS);
    assert_eq!(b.len(), 152);
    assert_eq!((b[0], b[1], u16_at(&b, 2)), (0x80, 1, 152));
    // Every NDIS_STATISTICS_FLAGS_VALID_* bit this driver fills.
    assert_eq!(u32_at(&b, 4), 0x003F_87FF);
    // ifInDiscards at 8, then 17 more ULONG64 counters in DDI order.
    let got: Vec<u64> = (0..18).map(|i| u64_at(&b, 8 + 8 * i)).collect();
    assert_eq!(got, (1..=18).collect::<Vec<u64>>());
}

#[test]
fn statistics_counters_truncate_to_32_bits_for_ulong_buffers() {
    let mut s = state();
    let mut m = Mock::default();
    m.stats.rx_frames = 0x1_0000_0005;
    let (o, b) = query(&mut s, &mut m, OID_GEN_RCV_OK, 4);
    assert_eq!(
        (o.status, o.bytes, o.needed),
        (n::NDIS_STATUS_SUCCESS, 4, 8)
    );
    assert_eq!(u32_at(&b, 0), 5);
    let (o, b) = query(&mut s, &mut m, OID_GEN_RCV_OK, 8);
    assert_eq!((o.bytes, u64_at(&b, 0)), (8, 0x1_0000_0005));
    let (o, _) = query(&mut s, &mut m, OID_GEN_RCV_OK, 3);
    assert_eq!((o.status, o.needed), (n::NDIS_STATUS_BUFFER_TOO_SHORT, 8));
}

#[test]
fn rsc_statistics_layout_has_padding_after_the_header() {
    let mut s = state();
    let mut m = Mock::default();
    m.stats.rsc = RscStats {
        coalesced_packets: 10,
        coalesced_octets: 14480,
        coalesce_events: 3,
        aborts: 1,
    };
    let b = answer(&mut s, &mut m, OID_TCP_RSC_STATISTICS);
    assert_eq!(b.len(), 40);
    assert_eq!((b[0], b[1], u16_at(&b, 2)), (0x80, 1, 40));
    assert_eq!(
        (
            u64_at(&b, 8),
            u64_at(&b, 16),
            u64_at(&b, 24),
            u64_at(&b, 32)
        ),
        (10, 14480, 3, 1)
    );
    // Not offered when the adapter cannot coalesce at all (NDIS 6.30 below: never; here no SoftwareRsc and
    // no host path).
    let mut s = state_with(
        n::NdisVersion::V6_85,
        &[("SoftwareRsc", "0"), ("*RscIPv4", "0"), ("*RscIPv6", "0")],
    );
    s.offload.caps.rsc.ipv4 = false;
    s.offload.caps.rsc.ipv6 = false;
    assert_eq!(
        query(&mut s, &mut m, OID_TCP_RSC_STATISTICS, 64).0.status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
}

#[test]
fn rss_capabilities_advertise_toeplitz_128_entries_and_udp_only_from_680() {
    let mut m = Mock::default();
    let mut s = state();
    let b = answer(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_CAPABILITIES);
    assert_eq!(
        b.len(),
        18,
        "NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2"
    );
    assert_eq!((b[0], b[1], u16_at(&b, 2)), (0x88, 2, 18));
    let flags = u32_at(&b, 4);
    assert_eq!(flags & 0xFF, 1, "NdisHashFunctionToeplitz");
    for bit in [0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000] {
        assert_eq!(flags & bit, bit, "hash type capability {bit:#x}");
    }
    assert_eq!(
        flags & 0x0100_0000,
        0x0100_0000,
        "message-signalled interrupts"
    );
    assert_eq!(u32_at(&b, 8), 5, "interrupt messages");
    assert_eq!(u32_at(&b, 12), 2, "receive queues");
    assert_eq!(u16_at(&b, 16), 128);
    let mut s = state_with(n::NdisVersion::V6_30, &[]);
    let flags = u32_at(
        &answer(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_CAPABILITIES),
        4,
    );
    assert_eq!(flags & 0x3800, 0, "no UDP hash types before NDIS 6.80");
}

#[test]
fn interrupt_moderation_reports_not_supported_and_refuses_sets() {
    let mut s = state();
    let mut m = Mock::default();
    let b = answer(&mut s, &mut m, OID_GEN_INTERRUPT_MODERATION);
    assert_eq!((b.len(), b[0], b[1], u16_at(&b, 2)), (12, 0x80, 1, 12));
    assert_eq!(u32_at(&b, 8), 1, "NdisInterruptModerationNotSupported");
    let mut req = b.clone();
    req[8] = 2;
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_INTERRUPT_MODERATION, &req).status,
        n::NDIS_STATUS_INVALID_DATA
    );
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

#[test]
fn packet_filter_set_programs_the_device_and_rejects_unsupported_bits() {
    let mut s = state();
    let mut m = Mock::default();
    let pf = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE_BROADCAST;
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_GEN_CURRENT_PACKET_FILTER,
            &pf.to_le_bytes()
        )
        .status,
        0
    );
    assert_eq!(s.packet_filter, pf);
    match m.calls.as_slice() {
        [Call::RxFilter(f)] => assert_eq!((f.packet_filter, f.mac), (pf, MAC)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        u32_at(&answer(&mut s, &mut m, OID_GEN_CURRENT_PACKET_FILTER), 0),
        pf
    );
    // Source routing / functional bits are not Ethernet filters this adapter has.
    let before = s;
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_CURRENT_PACKET_FILTER,
        &(pf | 0x10).to_le_bytes(),
    );
    assert_eq!(o.status, n::NDIS_STATUS_NOT_SUPPORTED);
    assert_eq!(s, before);
}

#[test]
fn a_device_refusing_a_filter_fails_that_request_only_and_keeps_the_state() {
    for (err, status) in [
        (ControlError::Rejected, n::NDIS_STATUS_FAILURE),
        (ControlError::DeviceFailed, n::NDIS_STATUS_DEVICE_FAILED),
    ] {
        let mut s = state();
        let mut m = Mock {
            fail_rx: Some(err),
            ..Default::default()
        };
        let before = s;
        let o = set(
            &mut s,
            &mut m,
            OID_GEN_CURRENT_PACKET_FILTER,
            &1u32.to_le_bytes(),
        );
        assert_eq!(o.status, status);
        let o = set(
            &mut s,
            &mut m,
            OID_802_3_MULTICAST_LIST,
            &[1, 0, 0x5E, 0, 0, 1],
        );
        assert_eq!(o.status, status);
        assert_eq!(s, before, "nothing committed");
        // The adapter keeps answering.
        assert_eq!(answer(&mut s, &mut m, OID_802_3_CURRENT_ADDRESS), MAC);
    }
}

#[test]
fn multicast_list_is_bounded_to_32_multicast_addresses() {
    let mut s = state();
    let mut m = Mock::default();
    let entry = |i: u8| [0x01, 0x00, 0x5E, 0, 0, i];
    let list: Vec<u8> = (0..32).flat_map(entry).collect();
    assert_eq!(
        set(&mut s, &mut m, OID_802_3_MULTICAST_LIST, &list).status,
        0
    );
    assert_eq!(s.multicast_len, 32);
    assert_eq!(answer(&mut s, &mut m, OID_802_3_MULTICAST_LIST), list);
    let too_many: Vec<u8> = (0..33).flat_map(entry).collect();
    let o = set(&mut s, &mut m, OID_802_3_MULTICAST_LIST, &too_many);
    assert_eq!(o.status, n::NDIS_STATUS_MULTICAST_FULL);
    assert_eq!(s.multicast_len, 32);
    let o = set(&mut s, &mut m, OID_802_3_MULTICAST_LIST, &list[..7]);
    assert_eq!((o.status, o.needed), (n::NDIS_STATUS_INVALID_LENGTH, 12));
    let o = set(&mut s, &mut m, OID_802_3_MULTICAST_LIST, &MAC);
    assert_eq!(o.status, n::NDIS_STATUS_INVALID_DATA, "a unicast address");
    let Some(Call::RxFilter(f)) = m.calls.first() else {
        panic!("{:?}", m.calls)
    };
    assert_eq!(f.multicast(), &(0..32).map(entry).collect::<Vec<_>>()[..]);
}

#[test]
fn vlan_id_is_bounded_and_pushed_to_the_device() {
    let mut s = state();
    let mut m = Mock::default();
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_VLAN_ID, &4095u32.to_le_bytes()).status,
        n::NDIS_STATUS_INVALID_DATA
    );
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_VLAN_ID, &100u32.to_le_bytes()).status,
        0
    );
    assert_eq!(m.calls, vec![Call::Vlan(100)]);
    assert_eq!(u32_at(&answer(&mut s, &mut m, OID_GEN_VLAN_ID), 0), 100);
    m.fail_vlan = Some(ControlError::Rejected);
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_VLAN_ID, &7u32.to_le_bytes()).status,
        n::NDIS_STATUS_FAILURE
    );
    assert_eq!(s.vlan_id, 100);
}

// ---------------------------------------------------------------------------------------------
// Offloads
// ---------------------------------------------------------------------------------------------

fn indications(m: &Mock) -> Vec<NdisOffload> {
    m.calls
        .iter()
        .filter_map(|c| match c {
            Call::Indicate(o) => Some(*o),
            _ => None,
        })
        .collect()
}

#[test]
fn rsc_off_sends_guest_offloads_without_tso4_flushes_then_indicates_the_new_config() {
    let mut s = state();
    assert!(s.offload.current.rsc.ipv4 && s.offload.current.rsc.ipv6);
    let mut m = Mock::default();
    // RscIPv4 (offset 22) = NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED.
    let o = set(
        &mut s,
        &mut m,
        OID_TCP_OFFLOAD_PARAMETERS,
        &offload_params(&[(22, 1)]),
    );
    assert_eq!(o.status, n::NDIS_STATUS_SUCCESS);
    assert!(!s.offload.current.rsc.ipv4 && s.offload.current.rsc.ipv6);
    // GUEST_CSUM (bit 1) | GUEST_TSO6 (bit 8): TSO4 off so the host stops coalescing IPv4.
    let pos = |want: &dyn Fn(&Call) -> bool| m.calls.iter().position(want);
    let guest = pos(&|c| matches!(c, Call::GuestOffloads(0x102))).expect("guest offloads command");
    let flush = pos(&|c| *c == Call::FlushRsc).expect("flush");
    let ind = pos(&|c| matches!(c, Call::Indicate(_))).expect("indication");
    assert!(guest < ind && flush < ind, "{:?}", m.calls);
    let i = indications(&m);
    assert_eq!(i.len(), 1);
    assert!(!i[0].rsc.ipv4 && i[0].rsc.ipv6);
    assert_eq!(i[0].revision, 7);
    // RSC back on: TSO4 returns to the mask, nothing is flushed.
    let mut m = Mock::default();
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_TCP_OFFLOAD_PARAMETERS,
            &offload_params(&[(22, 2)])
        )
        .status,
        0
    );
    assert!(m.calls.contains(&Call::GuestOffloads(0x182)));
    assert!(!m.calls.contains(&Call::FlushRsc));
    assert!(s.offload.current.rsc.ipv4);
}

#[test]
fn offload_parameters_without_change_still_indicate_the_current_config() {
    let mut s = state();
    let mut m = Mock::default();
    let before = s.offload;
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_TCP_OFFLOAD_PARAMETERS,
            &offload_params(&[])
        )
        .status,
        0
    );
    assert_eq!(s.offload.current, before.current);
    assert_eq!(indications(&m), vec![before.current]);
    assert!(!m.calls.iter().any(|c| matches!(c, Call::GuestOffloads(_))));
}

#[test]
fn refused_guest_offloads_fail_the_oid_without_changing_or_indicating_anything() {
    let mut s = state();
    let mut m = Mock {
        fail_guest: Some(ControlError::Rejected),
        ..Default::default()
    };
    let before = s;
    let o = set(
        &mut s,
        &mut m,
        OID_TCP_OFFLOAD_PARAMETERS,
        &offload_params(&[(23, 1)]),
    );
    assert_eq!(o.status, n::NDIS_STATUS_FAILURE);
    assert_eq!(s, before);
    assert!(indications(&m).is_empty());
}

#[test]
fn offload_parameters_are_validated_against_capabilities_and_the_header() {
    let mut m = Mock::default();
    let mut s = state();
    // Cut short: the declared revision-5 size is needed.
    let o = set(
        &mut s,
        &mut m,
        OID_TCP_OFFLOAD_PARAMETERS,
        &offload_params(&[])[..19],
    );
    assert_eq!((o.status, o.needed), (n::NDIS_STATUS_INVALID_LENGTH, 34));
    // A revision-1 structure of 19 bytes: the revision-1 size.
    let mut rev1 = header(0x80, 1, 20);
    rev1.resize(19, 0);
    let o = set(&mut s, &mut m, OID_TCP_OFFLOAD_PARAMETERS, &rev1);
    assert_eq!((o.status, o.needed), (n::NDIS_STATUS_INVALID_LENGTH, 20));
    // Too short to even hold a header.
    let o = set(&mut s, &mut m, OID_TCP_OFFLOAD_PARAMETERS, &[0x80, 1]);
    assert_eq!((o.status, o.needed), (n::NDIS_STATUS_INVALID_LENGTH, 20));
    let mut bad = offload_params(&[]);
    bad[0] = 0x81;
    assert_eq!(
        set(&mut s, &mut m, OID_TCP_OFFLOAD_PARAMETERS, &bad).status,
        n::NDIS_STATUS_INVALID_DATA
    );
    // LSOv2 IPv4 value 3 is not defined.
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_TCP_OFFLOAD_PARAMETERS,
            &offload_params(&[(11, 3)])
        )
        .status,
        n::NDIS_STATUS_INVALID_DATA
    );
    // USO does not exist before NDIS 6.83: asking for it is not supported.
    let mut s = state_with(n::NdisVersion::V6_80, &[]);
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_TCP_OFFLOAD_PARAMETERS,
            &offload_params(&[(32, 2)])
        )
        .status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    // IPsec is never offered.
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_TCP_OFFLOAD_PARAMETERS,
            &offload_params(&[(10, 2)])
        )
        .status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    assert!(indications(&m).is_empty());
}

#[test]
fn checksum_and_uso_changes_reach_the_datapath_and_the_indication() {
    let mut s = state();
    let mut m = Mock::default();
    // TCPIPv4Checksum (5) = TX on / RX off; UdpSegmentation.IPv6 (33) = disabled.
    let o = set(
        &mut s,
        &mut m,
        OID_TCP_OFFLOAD_PARAMETERS,
        &offload_params(&[(5, 2), (33, 1)]),
    );
    assert_eq!(o.status, 0);
    let applied = m.calls.iter().find_map(|c| match c {
        Call::Offload(o) => Some(*o),
        _ => None,
    });
    let applied = applied.expect("datapath got the new state");
    assert!(applied.current.checksum.ipv4_tx.tcp && !applied.current.checksum.ipv4_rx.tcp);
    assert!(applied.current.uso.ipv6.is_none() && applied.current.uso.ipv4.is_some());
    let i = indications(&m);
    assert_eq!(i, vec![applied.current]);
}

#[test]
fn encapsulation_enables_receive_checksum_reporting_and_is_queryable() {
    let mut s = state();
    let mut m = Mock::default();
    assert_eq!(
        s.offload.rx_checksum(),
        netkvm_core::offload::RxChecksumConfig::default()
    );
    let o = set(
        &mut s,
        &mut m,
        OID_OFFLOAD_ENCAPSULATION,
        &encapsulation((1, 2, 14), (2, 0, 0)),
    );
    assert_eq!(o.status, 0);
    assert!(s.offload.rx_checksum().tcp_ipv4);
    assert!(!s.offload.rx_checksum().tcp_ipv6);
    assert_eq!(
        indications(&m).len(),
        1,
        "mandatory indication after the OID"
    );
    let b = answer(&mut s, &mut m, OID_OFFLOAD_ENCAPSULATION);
    assert_eq!((b.len(), b[0], b[1], u16_at(&b, 2)), (28, 0xA8, 1, 28));
    assert_eq!(
        (u32_at(&b, 4), u32_at(&b, 8), u32_at(&b, 12)),
        (1, 2, 14),
        "IPv4 on, 802.3, 14"
    );
    assert_eq!(u32_at(&b, 16), 2, "IPv6 off");
    // A header size that is no Ethernet encapsulation.
    let o = set(
        &mut s,
        &mut m,
        OID_OFFLOAD_ENCAPSULATION,
        &encapsulation((1, 2, 8), (0, 0, 0)),
    );
    assert_eq!(o.status, n::NDIS_STATUS_INVALID_DATA);
    // LLC/SNAP only: not an encapsulation this adapter offloads.
    let o = set(
        &mut s,
        &mut m,
        OID_OFFLOAD_ENCAPSULATION,
        &encapsulation((1, 0x10, 14), (0, 0, 0)),
    );
    assert_eq!(o.status, n::NDIS_STATUS_NOT_SUPPORTED);
}

// ---------------------------------------------------------------------------------------------
// RSS
// ---------------------------------------------------------------------------------------------

#[test]
fn rss_parameters_map_processors_to_pairs_and_round_trip_through_the_query() {
    let mut s = state();
    s.rss.device = true;
    let mut m = Mock::default();
    let req = rss_params(0, TOEPLITZ_TCP_IPV4, &[0, 1, 2, 3, 0, 1, 2, 3]);
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_PARAMETERS, &req).status,
        0
    );
    let Some(Call::Rss(r, device)) = m.calls.last() else {
        panic!("{:?}", m.calls)
    };
    assert!(*device, "device RSS flag forwarded");
    assert_eq!(r.mode, RssMode::Full);
    assert_eq!(r.table_len, 8);
    // Two pairs: CPU n → pair n % 2.
    assert_eq!(&r.queue_table[..8], &[0, 1, 0, 1, 0, 1, 0, 1]);
    assert_eq!(r.cpu_table[3].Number, 3);
    assert_eq!(&r.key[..], &netkvm_core::rss::MICROSOFT_TEST_KEY[..]);
    let b = answer(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_PARAMETERS);
    assert_eq!((b[0], b[1], u16_at(&b, 2)), (0x89, 2, 40));
    assert_eq!(u16_at(&b, 4), 0, "enabled");
    assert_eq!(u32_at(&b, 8), TOEPLITZ_TCP_IPV4);
    assert_eq!(
        (u16_at(&b, 12), u32_at(&b, 16)),
        (32, 40),
        "table of 8 PROCESSOR_NUMBERs at 40"
    );
    assert_eq!(
        (u16_at(&b, 20), u32_at(&b, 24)),
        (40, 72),
        "key after the table"
    );
    assert_eq!(b[40 + 4 * 3 + 2], 3, "Number of entry 3");
    assert_eq!(&b[72..112], &netkvm_core::rss::MICROSOFT_TEST_KEY[..]);
}

#[test]
fn rss_parameters_are_validated_and_can_disable() {
    let mut m = Mock::default();
    let mut s = state();
    // 6 entries: not a power of two.
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        &rss_params(0, TOEPLITZ_TCP_IPV4, &[0; 6]),
    );
    assert_eq!(o.status, n::NDIS_STATUS_INVALID_PARAMETER);
    // Hash function other than Toeplitz.
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        &rss_params(0, 0x302, &[0; 4]),
    );
    assert_eq!(o.status, n::NDIS_STATUS_NOT_SUPPORTED);
    // Table offset pointing past the buffer.
    let mut bad = rss_params(0, TOEPLITZ_TCP_IPV4, &[0; 4]);
    bad[16..20].copy_from_slice(&1000u32.to_le_bytes());
    let o = set(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_PARAMETERS, &bad);
    assert_eq!((o.status, o.needed), (n::NDIS_STATUS_INVALID_LENGTH, 1016));
    bad[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_ne!(
        set(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_PARAMETERS, &bad).status,
        0
    );
    // Wrong object type.
    let mut bad = rss_params(0, TOEPLITZ_TCP_IPV4, &[0; 4]);
    bad[0] = 0x88;
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_RECEIVE_SCALE_PARAMETERS, &bad).status,
        n::NDIS_STATUS_INVALID_DATA
    );
    assert!(m.calls.is_empty(), "nothing applied");
    // Enable, then DISABLE_RSS.
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_GEN_RECEIVE_SCALE_PARAMETERS,
            &rss_params(0, TOEPLITZ_TCP_IPV4, &[0, 1])
        )
        .status,
        0
    );
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        &rss_params(n::NDIS_RSS_PARAM_FLAG_DISABLE_RSS, 0, &[]),
    );
    assert_eq!(o.status, 0);
    assert_eq!(s.rss.settings.mode, RssMode::Disabled);
    assert!(matches!(m.calls.last(), Some(Call::Rss(r, _)) if r.mode == RssMode::Disabled));
    // Enabling needs table + key: "unchanged" flags on a disabled adapter with nothing set yet fail.
    let mut s = state();
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        &rss_params(
            n::NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED | n::NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED,
            TOEPLITZ_TCP_IPV4,
            &[],
        ),
    );
    assert_eq!(o.status, n::NDIS_STATUS_INVALID_PARAMETER);
}

#[test]
fn every_power_of_two_indirection_table_up_to_128_is_accepted() {
    let mut m = Mock::default();
    for k in 0..=7 {
        let mut s = state();
        let cpus: Vec<u8> = (0..(1u8 << k)).collect();
        let o = set(
            &mut s,
            &mut m,
            OID_GEN_RECEIVE_SCALE_PARAMETERS,
            &rss_params(0, TOEPLITZ_TCP_IPV4, &cpus),
        );
        assert_eq!(o.status, 0, "{} entries", cpus.len());
        assert_eq!(s.rss.settings.table_len as usize, cpus.len());
    }
}

#[test]
fn receive_hash_enables_hash_only_mode_and_round_trips() {
    let mut s = state();
    let mut m = Mock::default();
    let req = receive_hash(n::NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH, TOEPLITZ_TCP_IPV4);
    assert_eq!(set(&mut s, &mut m, OID_GEN_RECEIVE_HASH, &req).status, 0);
    let Some(Call::Rss(r, device)) = m.calls.last() else {
        panic!()
    };
    assert_eq!((r.mode, *device), (RssMode::HashOnly, false));
    assert_eq!(r.hash_types.bits(), 0x300);
    let b = answer(&mut s, &mut m, OID_GEN_RECEIVE_HASH);
    assert_eq!(b, req);
    // Unsupported hash type bits.
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_RECEIVE_HASH,
        &receive_hash(1, 0x0100_0001),
    );
    assert_ne!(o.status, 0);
}

// ---------------------------------------------------------------------------------------------
// Power, wake-up, addresses, link
// ---------------------------------------------------------------------------------------------

#[test]
fn set_power_goes_d3_and_back_to_d0_through_the_device() {
    let mut s = state();
    let mut m = Mock::default();
    let d3 = (n::NdisDeviceStateD3 as u32).to_le_bytes();
    let d0 = (n::NdisDeviceStateD0 as u32).to_le_bytes();
    assert_eq!(set(&mut s, &mut m, OID_PNP_SET_POWER, &d3).status, 0);
    assert_eq!(s.power, PowerState::D3);
    assert_eq!(s.link.connect, n::MediaConnectStateUnknown);
    assert_eq!(
        u32_at(&answer(&mut s, &mut m, OID_GEN_HARDWARE_STATUS), 0),
        NDIS_HARDWARE_STATUS_NOT_READY
    );
    assert_eq!(set(&mut s, &mut m, OID_PNP_SET_POWER, &d0).status, 0);
    assert_eq!(
        m.calls,
        vec![Call::Power(PowerState::D3), Call::Power(PowerState::D0)]
    );
    assert_eq!(s.link.connect, n::MediaConnectStateConnected);
    // Same state again: nothing to do.
    assert_eq!(set(&mut s, &mut m, OID_PNP_SET_POWER, &d0).status, 0);
    assert_eq!(m.calls.len(), 2);
    assert_eq!(
        set(&mut s, &mut m, OID_PNP_SET_POWER, &7u32.to_le_bytes()).status,
        n::NDIS_STATUS_INVALID_DATA
    );
    m.fail_power = Some(ControlError::DeviceFailed);
    let o = set(&mut s, &mut m, OID_PNP_SET_POWER, &d3);
    assert_eq!(o.status, n::NDIS_STATUS_DEVICE_FAILED);
    assert_eq!(s.power, PowerState::D0);
}

#[test]
fn wake_up_cannot_be_enabled_on_an_adapter_without_wake_capabilities() {
    let mut s = state();
    let mut m = Mock::default();
    let o = set(
        &mut s,
        &mut m,
        OID_PNP_ENABLE_WAKE_UP,
        &NDIS_PNP_WAKE_UP_MAGIC_PACKET.to_le_bytes(),
    );
    assert_eq!(o.status, n::NDIS_STATUS_NOT_SUPPORTED);
    assert_eq!(
        set(&mut s, &mut m, OID_PNP_ENABLE_WAKE_UP, &0u32.to_le_bytes()).status,
        0
    );
    let caps = answer(&mut s, &mut m, OID_PNP_CAPABILITIES);
    assert_eq!(caps, vec![0; 16], "every wake-up state Unspecified");
}

#[test]
fn network_layer_addresses_are_remembered_per_family_and_cleared_by_an_empty_list() {
    let mut s = state();
    let mut m = Mock::default();
    let o = set(
        &mut s,
        &mut m,
        OID_GEN_NETWORK_LAYER_ADDRESSES,
        &addresses_v4(&[[10, 0, 0, 2], [192, 168, 1, 9]]),
    );
    assert_eq!(o.status, 0);
    assert_eq!(s.addresses.ipv4(), &[[10, 0, 0, 2], [192, 168, 1, 9]]);
    // IPv6 entry: NETWORK_ADDRESS_IP6 (port 2, flowinfo 4, address at 8, scope 4) = 28 bytes.
    let mut v6 = 1i32.to_le_bytes().to_vec();
    v6.extend_from_slice(&NDIS_PROTOCOL_ID_IP6.to_le_bytes());
    v6.extend_from_slice(&28u16.to_le_bytes());
    v6.extend_from_slice(&NDIS_PROTOCOL_ID_IP6.to_le_bytes());
    v6.extend_from_slice(&[0; 8]);
    let ip6 = [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    v6.extend_from_slice(&ip6);
    v6.extend_from_slice(&[0; 4]);
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_NETWORK_LAYER_ADDRESSES, &v6).status,
        0
    );
    assert_eq!(s.addresses.ipv6(), &[ip6]);
    assert_eq!(s.addresses.ipv4().len(), 2, "IPv4 kept");
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_GEN_NETWORK_LAYER_ADDRESSES,
            &addresses_v4(&[])
        )
        .status,
        0
    );
    assert!(s.addresses.ipv4().is_empty());
    // An entry whose length runs past the buffer.
    let mut bad = addresses_v4(&[[1, 2, 3, 4]]);
    bad[6..8].copy_from_slice(&200u16.to_le_bytes());
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_NETWORK_LAYER_ADDRESSES, &bad).status,
        n::NDIS_STATUS_INVALID_DATA
    );
    let mut neg = addresses_v4(&[]);
    neg[..4].copy_from_slice(&(-1i32).to_le_bytes());
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_NETWORK_LAYER_ADDRESSES, &neg).status,
        n::NDIS_STATUS_INVALID_DATA
    );
}

#[test]
fn link_parameters_accept_the_current_link_and_refuse_changes() {
    let mut s = state();
    let mut m = Mock::default();
    let cur = link_params(n::MediaDuplexStateFull, 10_000_000_000, 10_000_000_000);
    assert_eq!(set(&mut s, &mut m, OID_GEN_LINK_PARAMETERS, &cur).status, 0);
    let slow = link_params(n::MediaDuplexStateFull, 1_000_000_000, 1_000_000_000);
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_LINK_PARAMETERS, &slow).status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    let half = link_params(n::MediaDuplexStateHalf, 0, 0);
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_LINK_PARAMETERS, &half).status,
        n::NDIS_STATUS_NOT_SUPPORTED
    );
    let mut bad = cur.clone();
    bad[0] = 0x81;
    assert_eq!(
        set(&mut s, &mut m, OID_GEN_LINK_PARAMETERS, &bad).status,
        n::NDIS_STATUS_INVALID_DATA
    );
}

#[test]
fn lookahead_cannot_exceed_the_mtu() {
    let mut s = state();
    let mut m = Mock::default();
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_GEN_CURRENT_LOOKAHEAD,
            &1501u32.to_le_bytes()
        )
        .status,
        n::NDIS_STATUS_INVALID_DATA
    );
    assert_eq!(
        set(
            &mut s,
            &mut m,
            OID_GEN_CURRENT_LOOKAHEAD,
            &256u32.to_le_bytes()
        )
        .status,
        0
    );
    assert_eq!(
        u32_at(&answer(&mut s, &mut m, OID_GEN_CURRENT_LOOKAHEAD), 0),
        256
    );
}

// ---------------------------------------------------------------------------------------------
// NDIS_OID_REQUEST decoding
// ---------------------------------------------------------------------------------------------

fn request(ty: n::NDIS_REQUEST_TYPE, oid: u32, buf: &mut [u8]) -> n::NDIS_OID_REQUEST {
    // SAFETY: plain data; all-zero is a valid request skeleton (null pointers, zero lengths).
    let mut r: n::NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
    r.Header = n::NDIS_OBJECT_HEADER::new(0x96, 1, n::NDIS_SIZEOF_OID_REQUEST_REVISION_1);
    r.RequestType = ty;
    r.DATA.QUERY_INFORMATION = n::NDIS_OID_REQUEST_QUERY {
        Oid: oid,
        InformationBuffer: if buf.is_empty() {
            core::ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast()
        },
        InformationBufferLength: buf.len() as u32,
        BytesWritten: 0,
        BytesNeeded: 0,
    };
    r
}

#[test]
fn handle_request_fills_bytes_written_read_and_needed() {
    let mut s = state();
    let mut m = Mock::default();
    let mut buf = [0u8; 8];
    let mut r = request(
        n::NdisRequestQueryInformation,
        OID_802_3_CURRENT_ADDRESS,
        &mut buf,
    );
    // SAFETY: `r` points at `buf`, alive across the call.
    let st = unsafe { handle_request(&mut s, &mut m, &mut r) };
    assert_eq!(st, 0);
    // SAFETY: query view.
    let q = unsafe { r.DATA.QUERY_INFORMATION };
    assert_eq!((q.BytesWritten, q.BytesNeeded), (6, 0));
    assert_eq!(&buf[..6], &MAC);
    let mut small = [0u8; 2];
    let mut r = request(
        n::NdisRequestQueryStatistics,
        OID_GEN_STATISTICS,
        &mut small,
    );
    // SAFETY: as above.
    let st = unsafe { handle_request(&mut s, &mut m, &mut r) };
    // SAFETY: query view.
    let q = unsafe { r.DATA.QUERY_INFORMATION };
    assert_eq!(
        (st, q.BytesWritten, q.BytesNeeded),
        (n::NDIS_STATUS_BUFFER_TOO_SHORT, 0, 152)
    );
    let mut pf = 9u32.to_le_bytes();
    let mut r = request(
        n::NdisRequestSetInformation,
        OID_GEN_CURRENT_PACKET_FILTER,
        &mut pf,
    );
    // SAFETY: as above.
    let st = unsafe { handle_request(&mut s, &mut m, &mut r) };
    // SAFETY: set view (same layout as the query view for these fields).
    let sv = unsafe { r.DATA.SET_INFORMATION };
    assert_eq!((st, sv.BytesRead, sv.BytesNeeded), (0, 4, 0));
    assert_eq!(s.packet_filter, 9);
    let mut r = request(n::NdisRequestMethod, OID_GEN_STATISTICS, &mut []);
    // SAFETY: as above.
    let st = unsafe { handle_request(&mut s, &mut m, &mut r) };
    assert_eq!(st, n::NDIS_STATUS_NOT_SUPPORTED);
    // A null buffer with a non-zero length is treated as empty, never dereferenced.
    let mut r = request(n::NdisRequestQueryInformation, OID_GEN_LINK_SPEED, &mut []);
    r.DATA.QUERY_INFORMATION.InformationBufferLength = 64;
    // SAFETY: as above.
    let st = unsafe { handle_request(&mut s, &mut m, &mut r) };
    assert_eq!(st, n::NDIS_STATUS_BUFFER_TOO_SHORT);
}
