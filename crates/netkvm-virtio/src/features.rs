//! Feature bits (virtio 1.x §6 reserved bits, §5.1.3 network device bits) and the
//! dependency rules between them (§5.1.3.1).

bitflags::bitflags! {
    /// 64-bit virtio feature set (device offer, driver wish, or the negotiated result).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Features: u64 {
        /// Device handles packets with partial checksum (TX checksum offload).
        const CSUM = 1 << 0;
        /// Driver handles packets with partial checksum (RX).
        const GUEST_CSUM = 1 << 1;
        /// Guest offloads can be reconfigured through the control queue.
        const CTRL_GUEST_OFFLOADS = 1 << 2;
        /// `mtu` config field is valid.
        const MTU = 1 << 3;
        /// `mac` config field is valid.
        const MAC = 1 << 5;
        /// Legacy: any GSO type (never negotiated by modern drivers).
        const GSO = 1 << 6;
        /// Driver can receive TSOv4.
        const GUEST_TSO4 = 1 << 7;
        /// Driver can receive TSOv6.
        const GUEST_TSO6 = 1 << 8;
        /// Driver can receive TSO with ECN.
        const GUEST_ECN = 1 << 9;
        /// Driver can receive UFO.
        const GUEST_UFO = 1 << 10;
        /// Device can receive TSOv4 (TX LSO).
        const HOST_TSO4 = 1 << 11;
        /// Device can receive TSOv6.
        const HOST_TSO6 = 1 << 12;
        /// Device can receive TSO with ECN.
        const HOST_ECN = 1 << 13;
        /// Device can receive UFO.
        const HOST_UFO = 1 << 14;
        /// Driver can merge receive buffers (`num_buffers`).
        const MRG_RXBUF = 1 << 15;
        /// `status` config field is valid.
        const STATUS = 1 << 16;
        /// Control virtqueue present.
        const CTRL_VQ = 1 << 17;
        /// Control-queue RX mode (promiscuous, all-multicast).
        const CTRL_RX = 1 << 18;
        /// Control-queue VLAN filtering.
        const CTRL_VLAN = 1 << 19;
        /// Control-queue extra RX modes (all-unicast, no-multicast, no-unicast, no-broadcast).
        const CTRL_RX_EXTRA = 1 << 20;
        /// Driver sends gratuitous packets on `VIRTIO_NET_S_ANNOUNCE`.
        const GUEST_ANNOUNCE = 1 << 21;
        /// Multiqueue with automatic receive steering.
        const MQ = 1 << 22;
        /// MAC address set through the control queue.
        const CTRL_MAC_ADDR = 1 << 23;
        /// Transport: notify on empty (legacy).
        const NOTIFY_ON_EMPTY = 1 << 24;
        /// Transport: arbitrary descriptor layout (legacy; implied by VERSION_1).
        const ANY_LAYOUT = 1 << 27;
        /// Transport: indirect descriptors (§2.7.5.3).
        const INDIRECT_DESC = 1 << 28;
        /// Transport: `used_event` / `avail_event` notification suppression (§2.7.7, §2.7.10).
        const RING_EVENT_IDX = 1 << 29;
        /// Transport: compliant with virtio 1.x (modern interface).
        const VERSION_1 = 1 << 32;
        /// Transport: device accesses memory through the platform's IOMMU/translation.
        const ACCESS_PLATFORM = 1 << 33;
        /// Transport: packed virtqueue layout.
        const RING_PACKED = 1 << 34;
        /// Transport: buffers used in the order they were made available.
        const IN_ORDER = 1 << 35;
        /// Transport: memory ordering as the platform requires for real hardware.
        const ORDER_PLATFORM = 1 << 36;
        /// Transport: single-root I/O virtualisation.
        const SR_IOV = 1 << 37;
        /// Transport: driver passes extra data in notifications.
        const NOTIFICATION_DATA = 1 << 38;
        /// Transport: per-queue reset.
        const RING_RESET = 1 << 40;
        /// Virtqueue notification coalescing.
        const VQ_NOTF_COAL = 1 << 52;
        /// Notification coalescing.
        const NOTF_COAL = 1 << 53;
        /// Driver can receive USOv4.
        const GUEST_USO4 = 1 << 54;
        /// Driver can receive USOv6.
        const GUEST_USO6 = 1 << 55;
        /// Device can receive USO (TX UDP segmentation).
        const HOST_USO = 1 << 56;
        /// Device reports per-packet hash (20-byte header).
        const HASH_REPORT = 1 << 57;
        /// Driver provides exact `hdr_len`.
        const GUEST_HDRLEN = 1 << 59;
        /// Device-side RSS with Toeplitz hashing.
        const RSS = 1 << 60;
        /// Device reports coalesced segments and duplicate ACKs (RSC).
        const RSC_EXT = 1 << 61;
        /// Device may be a failover standby.
        const STANDBY = 1 << 62;
        /// `speed` and `duplex` config fields are valid.
        const SPEED_DUPLEX = 1 << 63;
    }
}

impl Features {
    /// Transport features this crate implements; everything else of the transport range
    /// (bits 24..=41) is never negotiated (packed ring, in-order, notification data,
    /// per-queue reset are not implemented).
    pub const TRANSPORT_SUPPORTED: Features = Features::INDIRECT_DESC
        .union(Features::RING_EVENT_IDX)
        .union(Features::VERSION_1)
        .union(Features::ACCESS_PLATFORM)
        .union(Features::ORDER_PLATFORM)
        .union(Features::ANY_LAYOUT);

    /// Bits of the transport range (virtio §6: 24 to 41).
    pub const TRANSPORT_RANGE: u64 = ((1u64 << 42) - 1) & !((1u64 << 24) - 1);

    /// Guest offloads that `VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET` may switch (§5.1.6.5.6.1):
    /// the RX offload bits, plus RSC_EXT which QEMU accepts (and strips) in the mask.
    pub const GUEST_OFFLOADS: Features = Features::GUEST_CSUM
        .union(Features::GUEST_TSO4)
        .union(Features::GUEST_TSO6)
        .union(Features::GUEST_ECN)
        .union(Features::GUEST_UFO)
        .union(Features::GUEST_USO4)
        .union(Features::GUEST_USO6)
        .union(Features::RSC_EXT);

    /// Size of the virtio-net header for these negotiated features (§5.1.6.1):
    /// 20 bytes with HASH_REPORT, 12 with VERSION_1 or MRG_RXBUF, else 10 (legacy).
    pub const fn net_hdr_len(self) -> usize {
        if self.contains(Features::HASH_REPORT) {
            20
        } else if self.intersects(Features::VERSION_1.union(Features::MRG_RXBUF)) {
            12
        } else {
            10
        }
    }
}

/// One dependency rule: `feature` may only be negotiated together with every bit of
/// `all` and at least one bit of `any` (when `any` is non-empty).
#[derive(Debug, Clone, Copy)]
pub struct Dependency {
    /// The dependent feature.
    pub feature: Features,
    /// All of these are required.
    pub all: Features,
    /// At least one of these is required (ignored when empty).
    pub any: Features,
}

const fn dep(feature: Features, all: Features, any: Features) -> Dependency {
    Dependency { feature, all, any }
}

/// The dependency rules of virtio 1.x §5.1.3.1 ("Feature bit requirements"), plus the
/// ones implied by the config layout (§5.1.4) and control-queue rules:
/// * GUEST_ANNOUNCE additionally needs STATUS, because `VIRTIO_NET_S_ANNOUNCE` is a bit of the
///   `status` field, which exists only with STATUS (NetKVM acks it only with STATUS + CTRL_VQ).
/// * CTRL_RX_EXTRA needs CTRL_RX (its commands are class `VIRTIO_NET_CTRL_RX`) and CTRL_VQ.
/// * CTRL_GUEST_OFFLOADS and HASH_REPORT are configured through the control queue
///   (`GUEST_OFFLOADS_SET`, `MQ_HASH_CONFIG`), so they need CTRL_VQ; the spec says a
///   device SHOULD NOT offer HASH_REPORT without CTRL_VQ.
/// * Every device-specific feature of a modern device needs VERSION_1 only in the sense
///   that this crate drives modern devices only; that is enforced by
///   [`crate::transport::PciTransport::negotiate`], not here.
pub const DEPENDENCIES: &[Dependency] = &[
    dep(
        Features::GUEST_TSO4,
        Features::GUEST_CSUM,
        Features::empty(),
    ),
    dep(
        Features::GUEST_TSO6,
        Features::GUEST_CSUM,
        Features::empty(),
    ),
    dep(
        Features::GUEST_ECN,
        Features::empty(),
        Features::GUEST_TSO4.union(Features::GUEST_TSO6),
    ),
    dep(Features::GUEST_UFO, Features::GUEST_CSUM, Features::empty()),
    dep(
        Features::GUEST_USO4,
        Features::GUEST_CSUM,
        Features::empty(),
    ),
    dep(
        Features::GUEST_USO6,
        Features::GUEST_CSUM,
        Features::empty(),
    ),
    dep(Features::HOST_TSO4, Features::CSUM, Features::empty()),
    dep(Features::HOST_TSO6, Features::CSUM, Features::empty()),
    dep(
        Features::HOST_ECN,
        Features::empty(),
        Features::HOST_TSO4.union(Features::HOST_TSO6),
    ),
    dep(Features::HOST_UFO, Features::CSUM, Features::empty()),
    dep(Features::HOST_USO, Features::CSUM, Features::empty()),
    dep(Features::CTRL_RX, Features::CTRL_VQ, Features::empty()),
    dep(
        Features::CTRL_RX_EXTRA,
        Features::CTRL_VQ.union(Features::CTRL_RX),
        Features::empty(),
    ),
    dep(Features::CTRL_VLAN, Features::CTRL_VQ, Features::empty()),
    dep(
        Features::GUEST_ANNOUNCE,
        Features::CTRL_VQ.union(Features::STATUS),
        Features::empty(),
    ),
    dep(Features::MQ, Features::CTRL_VQ, Features::empty()),
    dep(
        Features::CTRL_MAC_ADDR,
        Features::CTRL_VQ,
        Features::empty(),
    ),
    dep(
        Features::CTRL_GUEST_OFFLOADS,
        Features::CTRL_VQ,
        Features::empty(),
    ),
    dep(Features::NOTF_COAL, Features::CTRL_VQ, Features::empty()),
    dep(Features::VQ_NOTF_COAL, Features::CTRL_VQ, Features::empty()),
    dep(
        Features::RSC_EXT,
        Features::empty(),
        Features::HOST_TSO4.union(Features::HOST_TSO6),
    ),
    dep(Features::RSS, Features::CTRL_VQ, Features::empty()),
    dep(Features::HASH_REPORT, Features::CTRL_VQ, Features::empty()),
];

/// Returns the largest subset of `wanted & offered` that satisfies [`DEPENDENCIES`] and
/// contains only transport bits this crate implements ([`Features::TRANSPORT_SUPPORTED`]).
///
/// A bit whose prerequisites are missing is dropped, repeatedly, until nothing changes
/// (dropping CSUM drops HOST_TSO4, which then drops HOST_ECN and RSC_EXT, …).
pub fn sanitize(wanted: Features, offered: Features) -> Features {
    let transport_unsupported = Features::from_bits_retain(Features::TRANSPORT_RANGE)
        .difference(Features::TRANSPORT_SUPPORTED);
    let mut set = wanted
        .intersection(offered)
        .difference(transport_unsupported);
    loop {
        let mut next = set;
        for d in DEPENDENCIES {
            if next.intersects(d.feature)
                && (!next.contains(d.all) || (!d.any.is_empty() && !next.intersects(d.any)))
            {
                next.remove(d.feature);
            }
        }
        if next == set {
            return set;
        }
        set = next;
    }
}

/// True when `set` satisfies every rule of [`DEPENDENCIES`].
pub fn dependencies_hold(set: Features) -> bool {
    DEPENDENCIES.iter().all(|d| {
        !set.intersects(d.feature)
            || (set.contains(d.all) && (d.any.is_empty() || set.intersects(d.any)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_csum_drops_host_offloads_transitively() {
        let wanted = Features::all();
        let offered = Features::all() - Features::CSUM;
        let s = sanitize(wanted, offered);
        // HOST_TSO4/6 and HOST_USO need CSUM; HOST_ECN and RSC_EXT need HOST_TSO4/6.
        for f in [
            Features::HOST_TSO4,
            Features::HOST_TSO6,
            Features::HOST_USO,
            Features::HOST_UFO,
            Features::HOST_ECN,
            Features::RSC_EXT,
        ] {
            assert!(!s.contains(f), "{f:?}");
        }
        assert!(s.contains(Features::GUEST_TSO4 | Features::MRG_RXBUF));
    }

    #[test]
    fn control_features_need_ctrl_vq() {
        let s = sanitize(Features::all() - Features::CTRL_VQ, Features::all());
        for f in [
            Features::CTRL_RX,
            Features::CTRL_RX_EXTRA,
            Features::CTRL_VLAN,
            Features::GUEST_ANNOUNCE,
            Features::MQ,
            Features::CTRL_MAC_ADDR,
            Features::CTRL_GUEST_OFFLOADS,
            Features::RSS,
            Features::HASH_REPORT,
        ] {
            assert!(!s.contains(f), "{f:?}");
        }
    }

    #[test]
    fn guest_offloads_need_guest_csum_and_announce_needs_status() {
        let s = sanitize(
            Features::all() - (Features::GUEST_CSUM | Features::STATUS),
            Features::all(),
        );
        for f in [
            Features::GUEST_TSO4,
            Features::GUEST_TSO6,
            Features::GUEST_UFO,
            Features::GUEST_USO4,
            Features::GUEST_USO6,
            Features::GUEST_ECN,
            Features::GUEST_ANNOUNCE,
        ] {
            assert!(!s.contains(f), "{f:?}");
        }
    }

    #[test]
    fn unimplemented_transport_features_are_never_negotiated() {
        let s = sanitize(Features::all(), Features::all());
        assert!(!s.intersects(
            Features::RING_PACKED
                | Features::IN_ORDER
                | Features::NOTIFICATION_DATA
                | Features::RING_RESET
                | Features::SR_IOV
                | Features::NOTIFY_ON_EMPTY
        ));
        assert!(s.contains(Features::TRANSPORT_SUPPORTED));
    }

    #[test]
    fn header_length_follows_features() {
        assert_eq!(Features::empty().net_hdr_len(), 10);
        assert_eq!(Features::MRG_RXBUF.net_hdr_len(), 12);
        assert_eq!(Features::VERSION_1.net_hdr_len(), 12);
        assert_eq!(
            (Features::VERSION_1 | Features::HASH_REPORT).net_hdr_len(),
            20
        );
    }

    proptest::proptest! {
        /// The result is within wanted ∩ offered, satisfies every rule, is a fixed point,
        /// and is maximal: re-adding any dropped bit that was wanted and offered breaks a
        /// rule or is an unimplemented transport bit.
        #[test]
        fn sanitize_is_a_maximal_consistent_subset(w in proptest::num::u64::ANY, o in proptest::num::u64::ANY) {
            let (w, o) = (Features::from_bits_retain(w), Features::from_bits_retain(o));
            let s = sanitize(w, o);
            proptest::prop_assert!(w.intersection(o).contains(s));
            proptest::prop_assert!(dependencies_hold(s));
            proptest::prop_assert_eq!(sanitize(s, s), s);
            let unsupported = Features::from_bits_retain(Features::TRANSPORT_RANGE) - Features::TRANSPORT_SUPPORTED;
            for bit in 0..64 {
                let f = Features::from_bits_retain(1 << bit);
                if w.intersection(o).contains(f) && !s.contains(f) && !unsupported.contains(f) {
                    proptest::prop_assert!(!dependencies_hold(s | f), "bit {} could have stayed", bit);
                }
            }
        }
    }
}
