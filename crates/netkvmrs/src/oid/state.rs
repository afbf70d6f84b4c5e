//! The adapter state the OID layer reads and changes ([`OidState`]) and the side effects it may ask for
//! ([`DeviceControl`]). Both are plain Rust: the OID handlers are functions over them, so the whole OID
//! table is unit-tested on the host without NDIS (see `oid::tests`).

use ndis_sys as n;
use netkvm_core::offload::{NdisOffload, OffloadState};
use netkvm_core::params::Config;
use netkvm_core::rss::HashTypes;

use crate::datapath::{DatapathStats, RssMode, RssSettings, RxFilter, MAX_MULTICAST};

/// Largest number of network-layer addresses remembered for guest announcements.
pub const MAX_ANNOUNCE_ADDRESSES: usize = 8;

/// Link state as reported to NDIS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// `MediaConnectState*`.
    pub connect: n::NDIS_MEDIA_CONNECT_STATE,
    /// `MediaDuplexState*`.
    pub duplex: n::NDIS_MEDIA_DUPLEX_STATE,
    /// Bits per second (transmit = receive).
    pub speed_bps: u64,
}

impl LinkState {
    /// NetKVM's default when the device reports nothing: 10 Gb/s full duplex.
    pub const DEFAULT_SPEED_BPS: u64 = 10_000_000_000;

    /// `NDIS_LINK_STATE` for `NDIS_STATUS_LINK_STATE` (speeds unknown when not connected).
    pub fn to_ndis(&self) -> n::NDIS_LINK_STATE {
        let connected = self.connect == n::MediaConnectStateConnected;
        let speed = if connected {
            self.speed_bps
        } else {
            n::NET_IF_LINK_SPEED_UNKNOWN
        };
        n::NDIS_LINK_STATE {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NDIS_LINK_STATE_REVISION_1,
                n::NDIS_SIZEOF_LINK_STATE_REVISION_1,
            ),
            MediaConnectState: self.connect,
            MediaDuplexState: if connected {
                self.duplex
            } else {
                n::MediaDuplexStateUnknown
            },
            XmitLinkSpeed: speed,
            RcvLinkSpeed: speed,
            PauseFunctions: n::NdisPauseFunctionsUnsupported,
            AutoNegotiationFlags: 0,
        }
    }
}

/// Device power state set through OID_PNP_SET_POWER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    /// Working.
    D0,
    /// Any low-power state (D1–D3 are all handled as D3: the device is reset).
    D3,
}

/// `OID_GEN_RECEIVE_HASH` state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiveHash {
    /// `NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH`.
    pub enabled: bool,
    /// Hash function (Toeplitz) | types, as set.
    pub hash_information: u32,
    /// Key.
    pub key: [u8; 40],
    /// Key length.
    pub key_len: u8,
}

/// RSS: what the adapter can do and what NDIS configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RssState {
    /// `*RSS` = 1 and the adapter advertised RSS capabilities.
    pub supported: bool,
    /// Hash types advertised.
    pub hash_types: HashTypes,
    /// Receive queues advertised (`NumberOfReceiveQueues`).
    pub queues: u16,
    /// The device does RSS itself (`VIRTIO_NET_F_RSS` negotiated): settings are also sent to it.
    pub device: bool,
    /// `HashInformation` of the last OID_GEN_RECEIVE_SCALE_PARAMETERS (for the query).
    pub hash_information: u32,
    /// `BaseCpuNumber` of the last parameters.
    pub base_cpu: u16,
    /// The current settings (also pushed to the datapath).
    pub settings: RssSettings,
    /// OID_GEN_RECEIVE_HASH.
    pub receive_hash: ReceiveHash,
}

/// Static facts the OID answers need (set at InitializeEx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterFacts {
    /// NDIS version registered.
    pub ndis: n::NdisVersion,
    /// Queue pairs in use.
    pub pairs: u16,
    /// Interrupt messages granted (0 = line based).
    pub interrupt_messages: u32,
    /// Receive buffers per queue.
    pub rx_buffers: u32,
    /// Transmit descriptors per queue.
    pub tx_buffers: u32,
    /// CTRL_RX negotiated (host-side filtering).
    pub ctrl_rx: bool,
    /// CTRL_VLAN negotiated.
    pub ctrl_vlan: bool,
}

/// Network-layer addresses from OID_GEN_NETWORK_LAYER_ADDRESSES (for guest announcements).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetAddresses {
    /// IPv4 addresses (network byte order).
    pub ipv4: [[u8; 4]; MAX_ANNOUNCE_ADDRESSES],
    /// Entries of `ipv4` in use.
    pub ipv4_len: usize,
    /// IPv6 addresses.
    pub ipv6: [[u8; 16]; MAX_ANNOUNCE_ADDRESSES],
    /// Entries of `ipv6` in use.
    pub ipv6_len: usize,
}

impl NetAddresses {
    /// The IPv4 addresses in use.
    pub fn ipv4(&self) -> &[[u8; 4]] {
        self.ipv4.get(..self.ipv4_len).unwrap_or(&[])
    }
    /// The IPv6 addresses in use.
    pub fn ipv6(&self) -> &[[u8; 16]] {
        self.ipv6.get(..self.ipv6_len).unwrap_or(&[])
    }
}

/// The OID-visible adapter state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidState {
    /// Static facts.
    pub facts: AdapterFacts,
    /// Registry configuration.
    pub config: Config,
    /// Permanent address (device MAC or generated).
    pub permanent_mac: [u8; 6],
    /// Current address (`NetworkAddress` override or permanent).
    pub current_mac: [u8; 6],
    /// MTU (L3 bytes).
    pub mtu: u32,
    /// Link state.
    pub link: LinkState,
    /// `OID_GEN_CURRENT_PACKET_FILTER`.
    pub packet_filter: u32,
    /// `OID_802_3_MULTICAST_LIST`.
    pub multicast: [[u8; 6]; MAX_MULTICAST],
    /// Entries of `multicast` in use.
    pub multicast_len: usize,
    /// `OID_GEN_VLAN_ID` (starts as the `VlanID` keyword).
    pub vlan_id: u16,
    /// `OID_GEN_CURRENT_LOOKAHEAD`.
    pub lookahead: u32,
    /// Offload capabilities, configuration and encapsulation.
    pub offload: OffloadState,
    /// RSS.
    pub rss: RssState,
    /// Power state.
    pub power: PowerState,
    /// `OID_PNP_ENABLE_WAKE_UP` (always 0: no wake-up capability is advertised).
    pub wake_up: u32,
    /// Addresses for announcements.
    pub addresses: NetAddresses,
}

impl OidState {
    /// Largest frame without VLAN tag (MTU + Ethernet header).
    pub fn max_frame(&self) -> u32 {
        self.mtu.saturating_add(14)
    }

    /// The multicast entries in use.
    pub fn multicast(&self) -> &[[u8; 6]] {
        self.multicast
            .get(..self.multicast_len.min(MAX_MULTICAST))
            .unwrap_or(&[])
    }

    /// The datapath's receive filter for this state.
    pub fn rx_filter(&self) -> RxFilter {
        RxFilter {
            packet_filter: self.packet_filter,
            mac: self.current_mac,
            multicast: self.multicast,
            multicast_len: self.multicast_len.min(MAX_MULTICAST),
            vlan_id: self.vlan_id,
            priority_vlan: self.config.priority_vlan,
        }
    }

    /// The RSS settings in effect (receive-hash-only mode when RSS is off but hashing was enabled).
    pub fn effective_rss(&self) -> RssSettings {
        if self.rss.settings.mode == RssMode::Full {
            return self.rss.settings;
        }
        if self.rss.receive_hash.enabled {
            return super::rss::hash_only(&self.rss.receive_hash);
        }
        RssSettings::DISABLED
    }
}

/// Why a side effect failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The device answered `VIRTIO_NET_ERR` (or refused a value): the request fails, the device is fine
    /// (NetKVM removed the adapter here — cloud-hypervisor #7925; this driver does not).
    Rejected,
    /// The device broke the protocol or timed out: a reset was requested through NDIS.
    DeviceFailed,
    /// Memory could not be allocated.
    NoResources,
}

impl ControlError {
    /// The NDIS status an OID fails with.
    pub const fn status(self) -> n::NDIS_STATUS {
        match self {
            ControlError::Rejected => n::NDIS_STATUS_FAILURE,
            ControlError::DeviceFailed => n::NDIS_STATUS_DEVICE_FAILED,
            ControlError::NoResources => n::NDIS_STATUS_RESOURCES,
        }
    }
}

/// Side effects of OID sets. The adapter implements it over the control queue and the datapath; tests
/// implement it with a recorder. Every method is called with the new state **before** it is committed:
/// an `Err` leaves [`OidState`] unchanged.
pub trait DeviceControl {
    /// Program host-side receive filtering (CTRL_RX modes, MAC table) and the datapath's software filter.
    fn apply_rx_filter(&mut self, filter: &RxFilter) -> Result<(), ControlError>;
    /// Program the VLAN the adapter belongs to (CTRL_VLAN filter when negotiated; software filter always).
    fn apply_vlan(&mut self, filter: &RxFilter) -> Result<(), ControlError>;
    /// Indicate every SCU the software RSC engine holds (before RSC is reported disabled).
    fn flush_rsc(&mut self);
    /// `VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET` with this mask.
    fn set_guest_offloads(&mut self, mask: u64) -> Result<(), ControlError>;
    /// Hand the new offload state to the datapath.
    fn apply_offload(&mut self, state: &OffloadState);
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` with `current`.
    fn indicate_offload_config(&mut self, current: &NdisOffload);
    /// RSS / receive hash settings (device RSS command when negotiated; datapath always).
    fn apply_rss(&mut self, rss: &RssSettings, device: bool) -> Result<(), ControlError>;
    /// Power transition (D3: quiesce and reset the device; D0: bring it up and restore `state`, updating
    /// what the device reports, e.g. the link).
    fn set_power(&mut self, target: PowerState, state: &mut OidState) -> Result<(), ControlError>;
    /// Statistics snapshot.
    fn stats(&self) -> DatapathStats;
}
