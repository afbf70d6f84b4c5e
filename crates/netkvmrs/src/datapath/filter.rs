//! The software receive filter (`OID_GEN_CURRENT_PACKET_FILTER`, `OID_802_3_MULTICAST_LIST`): applied to
//! every frame whatever the device filters (a device without `CTRL_RX` delivers everything; NetKVM
//! `ShallPassPacket`). VLAN membership is checked by netkvm-core's classification.

use ndis_sys as n;

use super::RxFilter;

/// How a frame was addressed (destination MAC), for filtering and the per-cast statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cast {
    /// Individual address.
    Unicast,
    /// Group address other than broadcast.
    Multicast,
    /// `ff:ff:ff:ff:ff:ff`.
    Broadcast,
}

/// The cast of a destination MAC.
pub(crate) fn cast_of(dst: &[u8; 6]) -> Cast {
    if *dst == [0xFF; 6] {
        Cast::Broadcast
    } else if dst[0] & 1 != 0 {
        Cast::Multicast
    } else {
        Cast::Unicast
    }
}

/// The destination MAC at the start of a frame (zeros if the frame is shorter).
pub(crate) fn dst_mac(frame: &[u8]) -> [u8; 6] {
    frame
        .get(..6)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 6])
}

/// Whether a frame to `dst` passes `f` (NDIS packet filter semantics).
pub(crate) fn accept(f: &RxFilter, dst: &[u8; 6]) -> bool {
    let pf = f.packet_filter;
    if pf & n::NDIS_PACKET_TYPE_PROMISCUOUS != 0 {
        return true;
    }
    match cast_of(dst) {
        Cast::Unicast => pf & n::NDIS_PACKET_TYPE_DIRECTED != 0 && *dst == f.mac,
        Cast::Broadcast => pf & n::NDIS_PACKET_TYPE_BROADCAST != 0,
        Cast::Multicast => {
            pf & n::NDIS_PACKET_TYPE_ALL_MULTICAST != 0
                || (pf & n::NDIS_PACKET_TYPE_MULTICAST != 0 && f.multicast().contains(dst))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datapath::MAX_MULTICAST;
    use netkvm_core::params::PriorityVlan;

    const ME: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
    const OTHER: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x57];
    const GROUP: [u8; 6] = [0x01, 0x00, 0x5e, 0, 0, 1];
    const GROUP2: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
    const BCAST: [u8; 6] = [0xFF; 6];

    fn filter(pf: u32) -> RxFilter {
        let mut multicast = [[0; 6]; MAX_MULTICAST];
        multicast[0] = GROUP;
        RxFilter {
            packet_filter: pf,
            mac: ME,
            multicast,
            multicast_len: 1,
            vlan_id: 0,
            priority_vlan: PriorityVlan {
                priority: true,
                vlan: true,
            },
        }
    }

    #[test]
    fn no_filter_bits_pass_nothing() {
        let f = filter(0);
        for d in [ME, OTHER, GROUP, BCAST] {
            assert!(!accept(&f, &d), "{d:x?}");
        }
    }

    #[test]
    fn directed_passes_only_the_station_address() {
        let f = filter(n::NDIS_PACKET_TYPE_DIRECTED);
        assert!(accept(&f, &ME));
        assert!(!accept(&f, &OTHER));
        assert!(!accept(&f, &BCAST));
        assert!(!accept(&f, &GROUP));
    }

    #[test]
    fn multicast_passes_listed_groups_only_all_multicast_every_group() {
        let f = filter(n::NDIS_PACKET_TYPE_MULTICAST);
        assert!(accept(&f, &GROUP));
        assert!(!accept(&f, &GROUP2));
        assert!(
            !accept(&f, &BCAST),
            "broadcast is not a multicast for the filter"
        );
        let f = filter(n::NDIS_PACKET_TYPE_ALL_MULTICAST);
        assert!(accept(&f, &GROUP) && accept(&f, &GROUP2));
        assert!(!accept(&f, &ME));
    }

    #[test]
    fn broadcast_and_promiscuous() {
        let f = filter(n::NDIS_PACKET_TYPE_BROADCAST);
        assert!(accept(&f, &BCAST));
        assert!(!accept(&f, &ME));
        let f = filter(n::NDIS_PACKET_TYPE_PROMISCUOUS);
        for d in [ME, OTHER, GROUP, GROUP2, BCAST] {
            assert!(accept(&f, &d), "{d:x?}");
        }
    }

    #[test]
    fn entries_beyond_the_list_length_are_ignored() {
        let mut f = filter(n::NDIS_PACKET_TYPE_MULTICAST);
        f.multicast[1] = GROUP2;
        assert!(!accept(&f, &GROUP2));
        f.multicast_len = 2;
        assert!(accept(&f, &GROUP2));
    }

    #[test]
    fn casts() {
        assert_eq!(cast_of(&ME), Cast::Unicast);
        assert_eq!(cast_of(&GROUP), Cast::Multicast);
        assert_eq!(cast_of(&BCAST), Cast::Broadcast);
        assert_eq!(dst_mac(&[1, 2, 3]), [0; 6]);
    }
}
