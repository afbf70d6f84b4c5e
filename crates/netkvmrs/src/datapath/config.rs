//! Configuration the control plane pushes (filter, offloads, RSS) and how the hot paths see it without
//! taking a shared lock per packet: the master copy sits behind a spin lock with a generation counter;
//! each queue keeps its own copy and re-reads the master only when the generation moved (one relaxed load
//! of a read-mostly word per batch).
//!
//! Also the pure translations from the control plane's offload state to what netkvm-core's transmit
//! planner and receive classifier take.

use core::sync::atomic::{AtomicU32, Ordering};

use netkvm_core::offload::RxChecksumConfig;
use netkvm_core::offload::{
    Features as CoreFeatures, OffloadState, PerFamily, RscPath, LSO_MAX_OFFLOAD_SIZE,
    USO_MAX_OFFLOAD_SIZE,
};
use netkvm_core::params::PriorityVlan;
use netkvm_core::rx::{RxConfig, ScuChecksum};
use netkvm_core::tx::{DeviceCaps, Encapsulation, TxContext, TxLimits, TxOffloadConfig};

use super::{RssSettings, RxFilter};
use crate::sync::SpinLock;

/// `VIRTIO_NET_F_HOST_ECN` (not named by netkvm-core's feature set; bits pass through).
const HOST_ECN: u64 = 1 << 13;

/// Linux `UDP_MAX_SEGMENTS` on the kernels that still limit UDP GSO to 64 segments (a host with 128
/// accepts these too); sends needing more are segmented in software.
pub(crate) const HOST_MAX_USO_SEGMENTS: u32 = 64;

/// Everything the control plane configured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConfigData {
    /// Receive filter (`None` until the first `set_rx_filter`: nothing passes).
    pub(crate) filter: Option<RxFilter>,
    /// Offload state (`None` until the first `set_offload`: no offload is honoured).
    pub(crate) offload: Option<OffloadState>,
    /// RSS.
    pub(crate) rss: RssSettings,
}

/// The master copy with its generation.
pub(crate) struct SharedConfig {
    data: SpinLock<ConfigData>,
    gen: AtomicU32,
}

impl SharedConfig {
    /// Nothing configured yet.
    pub(crate) fn new() -> Self {
        SharedConfig {
            data: SpinLock::new(ConfigData {
                filter: None,
                offload: None,
                rss: RssSettings::DISABLED,
            }),
            gen: AtomicU32::new(1),
        }
    }

    /// The current generation (queues compare it with the one they copied).
    #[inline]
    pub(crate) fn generation(&self) -> u32 {
        self.gen.load(Ordering::Acquire)
    }

    /// Changes the configuration (<= DISPATCH_LEVEL).
    pub(crate) fn update(&self, f: impl FnOnce(&mut ConfigData)) {
        let mut d = self.data.lock();
        f(&mut d);
        self.gen.fetch_add(1, Ordering::AcqRel);
    }

    /// A consistent copy and its generation.
    pub(crate) fn snapshot(&self) -> (u32, ConfigData) {
        let d = self.data.lock();
        (self.gen.load(Ordering::Acquire), *d)
    }
}

/// The transmit planner's view of the adapter: enabled offloads and encapsulation from the current NDIS
/// configuration, what the device can do from the negotiated features, the advertised limits.
pub(crate) fn tx_context(
    offload: Option<&OffloadState>,
    negotiated: CoreFeatures,
    mtu: u32,
) -> TxContext {
    let caps = DeviceCaps {
        csum: negotiated.contains(CoreFeatures::CSUM),
        tso4: negotiated.contains(CoreFeatures::HOST_TSO4),
        tso6: negotiated.contains(CoreFeatures::HOST_TSO6),
        tso_ecn: negotiated.bits() & HOST_ECN != 0,
        uso: negotiated.contains(CoreFeatures::HOST_USO),
        max_tso_segments: 0,
        max_uso_segments: HOST_MAX_USO_SEGMENTS,
    };
    let limits = TxLimits {
        mtu,
        lso_max_size: LSO_MAX_OFFLOAD_SIZE,
        uso_max_size: USO_MAX_OFFLOAD_SIZE,
    };
    let Some(o) = offload else {
        return TxContext {
            config: TxOffloadConfig::default(),
            encap: Encapsulation::default(),
            caps,
            limits,
        };
    };
    let c = &o.current;
    let config = TxOffloadConfig {
        ipv4_checksum: c.checksum.ipv4_tx.ip,
        tcp4_checksum: c.checksum.ipv4_tx.tcp,
        udp4_checksum: c.checksum.ipv4_tx.udp,
        tcp6_checksum: c.checksum.ipv6_tx.tcp,
        udp6_checksum: c.checksum.ipv6_tx.udp,
        lso_v1: c.lso_v1.is_some(),
        lso_v2_ipv4: c.lso_v2_ipv4.is_some(),
        lso_v2_ipv6: c.lso_v2_ipv6.is_some(),
        uso_ipv4: c.uso.ipv4.is_some(),
        uso_ipv6: c.uso.ipv6.is_some(),
    };
    let e = &o.encapsulation;
    let encap = Encapsulation {
        ipv4: e.ipv4.is_some(),
        ipv6: e.ipv6.is_some(),
        header_size: e.ipv4.or(e.ipv6).unwrap_or(14),
    };
    TxContext {
        config,
        encap,
        caps,
        limits,
    }
}

/// The receive classifier's view: negotiated features, which checksums may be reported, which RSC
/// engines run, VLAN settings of the filter.
pub(crate) fn rx_config(
    offload: Option<&OffloadState>,
    negotiated: CoreFeatures,
    mtu: u32,
    filter: Option<&RxFilter>,
) -> RxConfig {
    RxConfig {
        features: negotiated,
        csum: offload.map_or(RxChecksumConfig::default(), OffloadState::rx_checksum),
        rsc: offload.map_or(
            PerFamily {
                ipv4: RscPath::OFF,
                ipv6: RscPath::OFF,
            },
            OffloadState::rsc_path,
        ),
        mtu,
        priority_vlan: filter.map_or(
            PriorityVlan {
                priority: true,
                vlan: true,
            },
            |f| f.priority_vlan,
        ),
        vlan_id: filter.map_or(0, |f| f.vlan_id),
        // Host SCUs: report TcpChecksumValueInvalid rather than summing up to 64 KiB again (spec §1.7
        // allows it; the host validated or built the segments).
        scu_checksum: ScuChecksum::MarkValueInvalid,
    }
}

/// Families the software RSC engine coalesces under `cfg`.
pub(crate) fn software_rsc(cfg: &RxConfig) -> PerFamily<bool> {
    PerFamily {
        ipv4: cfg.rsc.ipv4.software,
        ipv6: cfg.rsc.ipv6.software,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netkvm_core::offload::NdisVersion;
    use netkvm_core::params::Config;

    fn state(neg: CoreFeatures) -> OffloadState {
        OffloadState::new(neg, &Config::default(), NdisVersion::V6_85)
    }

    #[test]
    fn without_offload_state_no_offload_is_enabled_but_device_caps_are_known() {
        let ctx = tx_context(None, CoreFeatures::CSUM | CoreFeatures::HOST_TSO4, 1500);
        assert_eq!(ctx.config, TxOffloadConfig::default());
        assert!(!ctx.encap.ipv4 && !ctx.encap.ipv6);
        assert!(ctx.caps.csum && ctx.caps.tso4 && !ctx.caps.tso6 && !ctx.caps.uso);
        assert_eq!(ctx.limits.mtu, 1500);
        assert_eq!(ctx.limits.lso_max_size, 63488);
        assert_eq!(ctx.limits.uso_max_size, 34304);
    }

    #[test]
    fn current_configuration_and_encapsulation_reach_the_planner() {
        let neg =
            CoreFeatures::CSUM | CoreFeatures::HOST_USO | CoreFeatures::from_bits_retain(HOST_ECN);
        let mut s = state(neg);
        let ctx = tx_context(Some(&s), neg, 9000);
        // Defaults: everything on (capabilities do not depend on the host), encapsulation not set yet.
        assert!(ctx.config.lso_v2_ipv4 && ctx.config.lso_v2_ipv6 && ctx.config.uso_ipv4);
        assert!(ctx.config.tcp4_checksum && ctx.config.udp6_checksum);
        assert!(!ctx.encap.ipv4);
        assert!(ctx.caps.tso_ecn && ctx.caps.uso && !ctx.caps.tso4);
        assert_eq!(ctx.caps.max_uso_segments, HOST_MAX_USO_SEGMENTS);
        s.encapsulation.ipv4 = Some(14);
        s.current.lso_v2_ipv4 = None;
        s.current.uso.ipv6 = None;
        let ctx = tx_context(Some(&s), neg, 9000);
        assert!(ctx.encap.ipv4 && !ctx.encap.ipv6);
        assert_eq!(ctx.encap.header_size, 14);
        assert!(!ctx.config.lso_v2_ipv4 && ctx.config.lso_v2_ipv6);
        assert!(ctx.config.uso_ipv4 && !ctx.config.uso_ipv6);
    }

    #[test]
    fn receive_checksums_need_the_encapsulation_and_rsc_follows_the_paths() {
        let neg = CoreFeatures::GUEST_CSUM;
        let mut s = state(neg);
        let cfg = rx_config(Some(&s), neg, 1500, None);
        assert_eq!(
            cfg.csum,
            RxChecksumConfig::default(),
            "no OID_OFFLOAD_ENCAPSULATION yet"
        );
        // Software RSC is on by default (SoftwareRsc=1), the host path needs GUEST_TSO + ctrl.
        assert!(cfg.rsc.ipv4.software && !cfg.rsc.ipv4.host);
        assert_eq!(software_rsc(&cfg).ipv6, cfg.rsc.ipv6.software);
        s.encapsulation.ipv4 = Some(14);
        let cfg = rx_config(Some(&s), neg, 1500, None);
        assert!(cfg.csum.tcp_ipv4 && cfg.csum.ipv4_header && !cfg.csum.tcp_ipv6);
        let none = rx_config(None, neg, 1500, None);
        assert!(!none.rsc.ipv4.enabled() && !none.rsc.ipv6.enabled());
    }
}
