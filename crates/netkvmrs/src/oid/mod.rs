//! The OID layer: one table ([`TABLE`]) of every OID the miniport answers, each with its query and/or set
//! handler. Handlers are plain functions over the adapter state ([`OidState`]) and a [`DeviceControl`]
//! for side effects, so the table is exercised on the host without NDIS (see the tests at the end).
//!
//! Buffer rules enforced in one place ([`dispatch`]):
//! * queries build their whole answer first; a buffer shorter than the answer gets
//!   `NDIS_STATUS_BUFFER_TOO_SHORT` with `BytesNeeded` = answer length and nothing written; a longer one
//!   gets the answer and `BytesWritten` = its length. 64-bit statistics counters answer a 4-byte buffer
//!   with the low 32 bits (`BytesNeeded` = 8), as NDIS allows for statistics OIDs;
//! * sets shorter than the entry's minimum get `NDIS_STATUS_INVALID_LENGTH` with `BytesNeeded`; handlers
//!   validate the contents (`NDIS_STATUS_INVALID_DATA` / `INVALID_PARAMETER` / `NOT_SUPPORTED`) and change
//!   the state only when every side effect succeeded;
//! * an OID not in the table, not available on this adapter (e.g. RSS OIDs with `*RSS` = 0), a method
//!   request, or a direction the OID does not have → `NDIS_STATUS_NOT_SUPPORTED`.
//!
//! OID_GEN_SUPPORTED_LIST is generated from the same table and the same availability predicate, so the
//! two cannot disagree.

pub mod ids;
pub mod rss;
pub mod state;

use ndis_sys as n;
use netkvm_core::offload::{EncapsulationRequest, OffloadParamError, OffloadParameters};

use crate::datapath::{RssMode, MAX_MULTICAST};
use ids::*;
use state::{DeviceControl, OidState, PowerState, MAX_ANNOUNCE_ADDRESSES};

/// Largest query answer (RSS parameters: 40 + 128 × 4 + 40 bytes; the supported list: 4 × entries).
pub const MAX_ANSWER: usize = 1024;

/// A query answer under construction (fixed buffer: no allocation on the OID path).
pub struct Out {
    buf: [u8; MAX_ANSWER],
    len: usize,
    overflow: bool,
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

impl Out {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_ANSWER],
            len: 0,
            overflow: false,
        }
    }
    /// Appends bytes (sets the overflow flag instead of writing past the buffer).
    pub fn put_bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
            None => self.overflow = true,
        }
    }
    /// Appends a byte.
    pub fn put_u8(&mut self, v: u8) {
        self.put_bytes(&[v]);
    }
    /// Appends a little-endian u16.
    pub fn put_u16(&mut self, v: u16) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian u32.
    pub fn put_u32(&mut self, v: u32) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian u64.
    pub fn put_u64(&mut self, v: u64) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends the raw bytes of a plain-data NDIS structure (its first `size` bytes).
    pub fn put_struct<T: Copy>(&mut self, v: &T, size: usize) {
        let size = size.min(core::mem::size_of::<T>());
        // SAFETY: `v` is a live plain-data value (NDIS structures from ndis-sys: integers and arrays,
        // built from `Default`/zero so padding bytes are initialised); reading `size` <= size_of::<T>()
        // bytes stays inside it.
        let bytes = unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size) };
        self.put_bytes(bytes);
    }
    /// The answer so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// A failed set: status and, for length errors, the bytes needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetError {
    /// NDIS status.
    pub status: n::NDIS_STATUS,
    /// `BytesNeeded` (0 unless a length error).
    pub needed: u32,
}

impl SetError {
    /// A plain status.
    pub const fn status(status: n::NDIS_STATUS) -> Self {
        Self { status, needed: 0 }
    }
    /// `NDIS_STATUS_INVALID_LENGTH` needing `needed` bytes.
    pub const fn length(needed: u32) -> Self {
        Self {
            status: n::NDIS_STATUS_INVALID_LENGTH,
            needed,
        }
    }
    /// `NDIS_STATUS_INVALID_DATA`.
    pub const fn invalid_data() -> Self {
        Self::status(n::NDIS_STATUS_INVALID_DATA)
    }
}

impl From<state::ControlError> for SetError {
    fn from(e: state::ControlError) -> Self {
        SetError::status(e.status())
    }
}

type QueryFn = fn(&OidState, &mut dyn DeviceControl, &mut Out) -> Result<(), n::NDIS_STATUS>;
type SetFn = fn(&mut OidState, &mut dyn DeviceControl, &[u8]) -> Result<u32, SetError>;
type AvailFn = fn(&OidState) -> bool;

/// One row of the OID table.
pub struct OidEntry {
    /// OID number.
    pub oid: u32,
    /// Name (logs, tests).
    pub name: &'static str,
    /// Query handler.
    pub query: Option<QueryFn>,
    /// Set handler.
    pub set: Option<SetFn>,
    /// Minimum set buffer (0 = the handler checks a variable length).
    pub set_len: u32,
    /// 64-bit statistics counter (4-byte buffers get the low half).
    pub stat64: bool,
    /// Whether this adapter supports the OID (and lists it in OID_GEN_SUPPORTED_LIST).
    pub available: AvailFn,
}

fn always(_: &OidState) -> bool {
    true
}
fn vlan_enabled(s: &OidState) -> bool {
    s.config.priority_vlan.vlan
}
fn rss_supported(s: &OidState) -> bool {
    s.rss.supported
}
fn rsc_capable(s: &OidState) -> bool {
    s.offload.caps.rsc.ipv4 || s.offload.caps.rsc.ipv6
}

macro_rules! entry {
    ($oid:ident, q: $q:expr, s: $s:expr, len: $len:expr, stat: $stat:expr, avail: $a:expr) => {
        OidEntry {
            oid: $oid,
            name: stringify!($oid),
            query: $q,
            set: $s,
            set_len: $len,
            stat64: $stat,
            available: $a,
        }
    };
}

macro_rules! q {
    ($oid:ident, $f:expr) => {
        entry!($oid, q: Some($f), s: None, len: 0, stat: false, avail: always)
    };
    ($oid:ident, $f:expr, $a:expr) => {
        entry!($oid, q: Some($f), s: None, len: 0, stat: false, avail: $a)
    };
}

macro_rules! stat {
    ($oid:ident, $field:ident) => {
        entry!($oid, q: Some(|_, dc, out| {
            out.put_u64(dc.stats().$field);
            Ok(())
        }), s: None, len: 0, stat: true, avail: always)
    };
}

macro_rules! zero32 {
    ($oid:ident) => {
        entry!($oid, q: Some(|_, _, out| {
            out.put_u32(0);
            Ok(())
        }), s: None, len: 0, stat: false, avail: always)
    };
}

/// Every OID this miniport answers. NDIS handles `OID_TCP_OFFLOAD_CURRENT_CONFIG` and
/// `OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES` itself (from the offload attributes and indications).
pub static TABLE: &[OidEntry] = &[
    // ---- general ----
    q!(OID_GEN_SUPPORTED_LIST, query_supported_list),
    q!(OID_GEN_HARDWARE_STATUS, |s, _, out| {
        out.put_u32(if s.power == PowerState::D0 {
            NDIS_HARDWARE_STATUS_READY
        } else {
            NDIS_HARDWARE_STATUS_NOT_READY
        });
        Ok(())
    }),
    q!(OID_GEN_MEDIA_SUPPORTED, |_, _, out| {
        out.put_u32(n::NdisMedium802_3 as u32);
        Ok(())
    }),
    q!(OID_GEN_MEDIA_IN_USE, |_, _, out| {
        out.put_u32(n::NdisMedium802_3 as u32);
        Ok(())
    }),
    q!(OID_GEN_PHYSICAL_MEDIUM, |_, _, out| {
        // The INF's *PhysicalMediaType (14): a virtual Ethernet NIC.
        out.put_u32(n::NdisPhysicalMedium802_3 as u32);
        Ok(())
    }),
    q!(OID_GEN_MAXIMUM_LOOKAHEAD, |s, _, out| {
        out.put_u32(s.mtu);
        Ok(())
    }),
    entry!(OID_GEN_CURRENT_LOOKAHEAD, q: Some(|s, _, out| {
        out.put_u32(s.lookahead);
        Ok(())
    }), s: Some(set_lookahead), len: 4, stat: false, avail: always),
    q!(OID_GEN_MAXIMUM_FRAME_SIZE, |s, _, out| {
        out.put_u32(s.mtu);
        Ok(())
    }),
    q!(OID_GEN_MAXIMUM_TOTAL_SIZE, |s, _, out| {
        out.put_u32(s.max_frame());
        Ok(())
    }),
    q!(OID_GEN_LINK_SPEED, |s, _, out| {
        // Units of 100 bit/s.
        out.put_u32(u32::try_from(s.link.speed_bps / 100).unwrap_or(u32::MAX));
        Ok(())
    }),
    q!(OID_GEN_TRANSMIT_BUFFER_SPACE, |s, _, out| {
        out.put_u32(buffer_space(s, s.facts.tx_buffers));
        Ok(())
    }),
    q!(OID_GEN_RECEIVE_BUFFER_SPACE, |s, _, out| {
        out.put_u32(buffer_space(s, s.facts.rx_buffers));
        Ok(())
    }),
    q!(OID_GEN_TRANSMIT_BLOCK_SIZE, |s, _, out| {
        out.put_u32(s.max_frame());
        Ok(())
    }),
    q!(OID_GEN_RECEIVE_BLOCK_SIZE, |s, _, out| {
        out.put_u32(s.max_frame());
        Ok(())
    }),
    q!(OID_GEN_VENDOR_ID, |_, _, out| {
        // No IEEE OUI of our own: 0xFFFFFF as the DDI says (NetKVM does the same).
        out.put_u32(0x00FF_FFFF);
        Ok(())
    }),
    q!(OID_GEN_VENDOR_DESCRIPTION, |_, _, out| {
        out.put_bytes(VENDOR_DESCRIPTION);
        Ok(())
    }),
    q!(OID_GEN_DRIVER_VERSION, |s, _, out| {
        out.put_u16((u16::from(s.facts.ndis.major) << 8) | u16::from(s.facts.ndis.minor));
        Ok(())
    }),
    q!(OID_GEN_VENDOR_DRIVER_VERSION, |_, _, out| {
        let (maj, min) = crate::driver::DRIVER_VERSION;
        out.put_u32((u32::from(maj) << 16) | u32::from(min));
        Ok(())
    }),
    q!(OID_GEN_MAC_OPTIONS, |s, _, out| {
        out.put_u32(mac_options(s));
        Ok(())
    }),
    q!(OID_GEN_MAXIMUM_SEND_PACKETS, |s, _, out| {
        out.put_u32(s.facts.tx_buffers.max(1));
        Ok(())
    }),
    q!(OID_GEN_SUPPORTED_GUIDS, |_, _, _| Ok(())),
    entry!(OID_GEN_CURRENT_PACKET_FILTER, q: Some(|s, _, out| {
        out.put_u32(s.packet_filter);
        Ok(())
    }), s: Some(set_packet_filter), len: 4, stat: false, avail: always),
    entry!(OID_GEN_VLAN_ID, q: Some(|s, _, out| {
        out.put_u32(u32::from(s.vlan_id));
        Ok(())
    }), s: Some(set_vlan_id), len: 4, stat: false, avail: vlan_enabled),
    entry!(OID_GEN_NETWORK_LAYER_ADDRESSES, q: None, s: Some(set_network_addresses), len: 6, stat: false, avail: always),
    entry!(OID_GEN_LINK_PARAMETERS, q: None, s: Some(set_link_parameters),
        len: n::NDIS_SIZEOF_LINK_PARAMETERS_REVISION_1 as u32, stat: false, avail: always),
    entry!(OID_GEN_INTERRUPT_MODERATION, q: Some(|_, _, out| {
        let p = n::NDIS_INTERRUPT_MODERATION_PARAMETERS {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_DEFAULT,
                n::NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1,
                n::NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1,
            ),
            Flags: 0,
            InterruptModeration: n::NdisInterruptModerationNotSupported,
        };
        out.put_struct(&p, usize::from(p.Header.Size));
        Ok(())
    }), s: Some(set_interrupt_moderation),
        len: n::NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1 as u32, stat: false, avail: always),
    // ---- RSS ----
    q!(
        OID_GEN_RECEIVE_SCALE_CAPABILITIES,
        |s, _, out| {
            let c = rss_capabilities(s);
            out.put_struct(&c, usize::from(c.Header.Size));
            Ok(())
        },
        rss_supported
    ),
    entry!(OID_GEN_RECEIVE_SCALE_PARAMETERS, q: Some(|s, _, out| {
        rss::write_scale_parameters(&s.rss, out);
        Ok(())
    }), s: Some(set_rss_parameters), len: 0, stat: false, avail: rss_supported),
    entry!(OID_GEN_RECEIVE_HASH, q: Some(|s, _, out| {
        rss::write_receive_hash(&s.rss.receive_hash, out);
        Ok(())
    }), s: Some(set_receive_hash), len: 0, stat: false, avail: always),
    // ---- offloads ----
    entry!(OID_TCP_OFFLOAD_PARAMETERS, q: None, s: Some(set_offload_parameters), len: 0, stat: false, avail: always),
    entry!(OID_OFFLOAD_ENCAPSULATION, q: Some(query_encapsulation), s: Some(set_encapsulation),
        len: 0, stat: false, avail: always),
    // ---- 802.3 ----
    q!(OID_802_3_PERMANENT_ADDRESS, |s, _, out| {
        out.put_bytes(&s.permanent_mac);
        Ok(())
    }),
    q!(OID_802_3_CURRENT_ADDRESS, |s, _, out| {
        out.put_bytes(&s.current_mac);
        Ok(())
    }),
    entry!(OID_802_3_MULTICAST_LIST, q: Some(|s, _, out| {
        for m in s.multicast() {
            out.put_bytes(m);
        }
        Ok(())
    }), s: Some(set_multicast_list), len: 0, stat: false, avail: always),
    q!(OID_802_3_MAXIMUM_LIST_SIZE, |_, _, out| {
        out.put_u32(MAX_MULTICAST as u32);
        Ok(())
    }),
    zero32!(OID_802_3_RCV_ERROR_ALIGNMENT),
    zero32!(OID_802_3_XMIT_ONE_COLLISION),
    zero32!(OID_802_3_XMIT_MORE_COLLISIONS),
    zero32!(OID_802_3_XMIT_DEFERRED),
    zero32!(OID_802_3_XMIT_MAX_COLLISIONS),
    zero32!(OID_802_3_RCV_OVERRUN),
    zero32!(OID_802_3_XMIT_UNDERRUN),
    zero32!(OID_802_3_XMIT_HEARTBEAT_FAILURE),
    zero32!(OID_802_3_XMIT_TIMES_CRS_LOST),
    zero32!(OID_802_3_XMIT_LATE_COLLISIONS),
    // ---- statistics ----
    stat!(OID_GEN_XMIT_OK, tx_frames),
    stat!(OID_GEN_RCV_OK, rx_frames),
    stat!(OID_GEN_XMIT_ERROR, tx_errors),
    stat!(OID_GEN_RCV_ERROR, rx_errors),
    stat!(OID_GEN_RCV_NO_BUFFER, rx_no_buffer),
    stat!(OID_GEN_DIRECTED_BYTES_XMIT, tx_unicast_bytes),
    stat!(OID_GEN_DIRECTED_FRAMES_XMIT, tx_unicast_frames),
    stat!(OID_GEN_MULTICAST_BYTES_XMIT, tx_multicast_bytes),
    stat!(OID_GEN_MULTICAST_FRAMES_XMIT, tx_multicast_frames),
    stat!(OID_GEN_BROADCAST_BYTES_XMIT, tx_broadcast_bytes),
    stat!(OID_GEN_BROADCAST_FRAMES_XMIT, tx_broadcast_frames),
    stat!(OID_GEN_DIRECTED_BYTES_RCV, rx_unicast_bytes),
    stat!(OID_GEN_DIRECTED_FRAMES_RCV, rx_unicast_frames),
    stat!(OID_GEN_MULTICAST_BYTES_RCV, rx_multicast_bytes),
    stat!(OID_GEN_MULTICAST_FRAMES_RCV, rx_multicast_frames),
    stat!(OID_GEN_BROADCAST_BYTES_RCV, rx_broadcast_bytes),
    stat!(OID_GEN_BROADCAST_FRAMES_RCV, rx_broadcast_frames),
    stat!(OID_GEN_BYTES_RCV, rx_bytes),
    stat!(OID_GEN_BYTES_XMIT, tx_bytes),
    stat!(OID_GEN_RCV_DISCARDS, rx_discards),
    stat!(OID_GEN_XMIT_DISCARDS, tx_discards),
    entry!(OID_GEN_RCV_CRC_ERROR, q: Some(|_, _, out| {
        // The virtual device never delivers frames with a bad FCS.
        out.put_u64(0);
        Ok(())
    }), s: None, len: 0, stat: true, avail: always),
    q!(OID_GEN_TRANSMIT_QUEUE_LENGTH, |_, dc, out| {
        out.put_u32(u32::try_from(dc.stats().tx_queued).unwrap_or(u32::MAX));
        Ok(())
    }),
    q!(OID_GEN_STATISTICS, |_, dc, out| {
        let st = statistics_info(&dc.stats());
        out.put_struct(&st, usize::from(st.Header.Size));
        Ok(())
    }),
    q!(
        OID_TCP_RSC_STATISTICS,
        |_, dc, out| {
            let r = dc.stats().rsc;
            let info = n::NDIS_RSC_STATISTICS_INFO {
                Header: n::NDIS_OBJECT_HEADER::new(
                    n::NDIS_OBJECT_TYPE_DEFAULT,
                    n::NDIS_RSC_STATISTICS_REVISION_1,
                    n::NDIS_SIZEOF_RSC_STATISTICS_REVISION_1,
                ),
                CoalescedPkts: r.coalesced_packets,
                CoalescedOctets: r.coalesced_octets,
                CoalesceEvents: r.coalesce_events,
                Aborts: r.aborts,
            };
            out.put_struct(&info, usize::from(info.Header.Size));
            Ok(())
        },
        rsc_capable
    ),
    // ---- PnP / power ----
    q!(OID_PNP_CAPABILITIES, |_, _, out| {
        // Honest: no wake-up of any kind (all Unspecified), as NetKVM.
        let c = n::NDIS_PNP_CAPABILITIES::default();
        out.put_struct(&c, core::mem::size_of::<n::NDIS_PNP_CAPABILITIES>());
        Ok(())
    }),
    entry!(OID_PNP_QUERY_POWER, q: None, s: Some(set_query_power), len: 4, stat: false, avail: always),
    entry!(OID_PNP_SET_POWER, q: None, s: Some(set_power), len: 4, stat: false, avail: always),
    entry!(OID_PNP_ENABLE_WAKE_UP, q: Some(|s, _, out| {
        out.put_u32(s.wake_up);
        Ok(())
    }), s: Some(set_enable_wake_up), len: 4, stat: false, avail: always),
];

/// `OID_GEN_VENDOR_DESCRIPTION` (NUL-terminated ASCII).
pub const VENDOR_DESCRIPTION: &[u8] = b"netkvm-rs virtio-net adapter\0";

/// `NDIS_PACKET_TYPE_*` filters the adapter supports.
pub const SUPPORTED_PACKET_FILTERS: u32 = NDIS_PACKET_TYPE_DIRECTED
    | NDIS_PACKET_TYPE_MULTICAST
    | NDIS_PACKET_TYPE_ALL_MULTICAST
    | NDIS_PACKET_TYPE_BROADCAST
    | NDIS_PACKET_TYPE_PROMISCUOUS;

/// `OID_GEN_MAC_OPTIONS` / general attributes `MacOptions`.
pub fn mac_options(s: &OidState) -> u32 {
    let mut o = NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA
        | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND
        | NDIS_MAC_OPTION_NO_LOOPBACK;
    if s.config.priority_vlan.priority {
        o |= NDIS_MAC_OPTION_8021P_PRIORITY;
    }
    if s.config.priority_vlan.vlan {
        o |= NDIS_MAC_OPTION_8021Q_VLAN;
    }
    o
}

fn buffer_space(s: &OidState, per_queue: u32) -> u32 {
    per_queue
        .saturating_mul(u32::from(s.facts.pairs))
        .saturating_mul(s.max_frame())
}

/// `NDIS_RECEIVE_SCALE_CAPABILITIES` (revision 2 from NDIS 6.30: 128-entry indirection table).
pub fn rss_capabilities(s: &OidState) -> n::NDIS_RECEIVE_SCALE_CAPABILITIES {
    let messages = s.facts.interrupt_messages;
    let mut flags = s.rss.hash_types.to_caps_flags()
        | n::NdisHashFunctionToeplitz
        | n::NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC;
    if messages > 0 {
        flags |= n::NDIS_RSS_CAPS_MESSAGE_SIGNALED_INTERRUPTS
            | n::NDIS_RSS_CAPS_SUPPORTS_MSI_X
            | n::NDIS_RSS_CAPS_USING_MSI_X;
    }
    n::NDIS_RECEIVE_SCALE_CAPABILITIES {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_RSS_CAPABILITIES,
            n::NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
            n::NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
        ),
        CapabilitiesFlags: flags,
        NumberOfInterruptMessages: messages.max(1),
        NumberOfReceiveQueues: u32::from(s.rss.queues.max(1)),
        NumberOfIndirectionTableEntries: crate::datapath::MAX_INDIRECTION as u16,
    }
}

/// `NDIS_STATISTICS_INFO` from a datapath snapshot (every field valid).
pub fn statistics_info(st: &crate::datapath::DatapathStats) -> n::NDIS_STATISTICS_INFO {
    n::NDIS_STATISTICS_INFO {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_DEFAULT,
            n::NDIS_STATISTICS_INFO_REVISION_1,
            n::NDIS_SIZEOF_STATISTICS_INFO_REVISION_1,
        ),
        SupportedStatistics: STATISTICS_FLAGS_VALID,
        ifInDiscards: st.rx_discards,
        ifInErrors: st.rx_errors,
        ifHCInOctets: st.rx_bytes,
        ifHCInUcastPkts: st.rx_unicast_frames,
        ifHCInMulticastPkts: st.rx_multicast_frames,
        ifHCInBroadcastPkts: st.rx_broadcast_frames,
        ifHCOutOctets: st.tx_bytes,
        ifHCOutUcastPkts: st.tx_unicast_frames,
        ifHCOutMulticastPkts: st.tx_multicast_frames,
        ifHCOutBroadcastPkts: st.tx_broadcast_frames,
        ifOutErrors: st.tx_errors,
        ifOutDiscards: st.tx_discards,
        ifHCInUcastOctets: st.rx_unicast_bytes,
        ifHCInMulticastOctets: st.rx_multicast_bytes,
        ifHCInBroadcastOctets: st.rx_broadcast_bytes,
        ifHCOutUcastOctets: st.tx_unicast_bytes,
        ifHCOutMulticastOctets: st.tx_multicast_bytes,
        ifHCOutBroadcastOctets: st.tx_broadcast_bytes,
    }
}

/// `NDIS_STATISTICS_FLAGS_VALID_*`: every field of [`statistics_info`].
pub const STATISTICS_FLAGS_VALID: u32 = n::NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS
    | n::NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR
    | n::NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT
    | n::NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT
    | n::NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT
    | n::NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT
    | n::NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR
    | n::NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS
    | n::NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV
    | n::NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT
    | n::NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT
    | n::NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT;

/// `NDIS_STATISTICS_*_SUPPORTED` for the general attributes (the statistics OIDs of [`TABLE`]).
pub const SUPPORTED_STATISTICS: u32 = n::NDIS_STATISTICS_XMIT_OK_SUPPORTED
    | n::NDIS_STATISTICS_RCV_OK_SUPPORTED
    | n::NDIS_STATISTICS_XMIT_ERROR_SUPPORTED
    | n::NDIS_STATISTICS_RCV_ERROR_SUPPORTED
    | n::NDIS_STATISTICS_RCV_NO_BUFFER_SUPPORTED
    | n::NDIS_STATISTICS_DIRECTED_BYTES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_DIRECTED_FRAMES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_MULTICAST_BYTES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_MULTICAST_FRAMES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_BROADCAST_BYTES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_BROADCAST_FRAMES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_DIRECTED_BYTES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_MULTICAST_BYTES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_MULTICAST_FRAMES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_BROADCAST_BYTES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_BROADCAST_FRAMES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_RCV_CRC_ERROR_SUPPORTED
    | n::NDIS_STATISTICS_TRANSMIT_QUEUE_LENGTH_SUPPORTED
    | n::NDIS_STATISTICS_BYTES_RCV_SUPPORTED
    | n::NDIS_STATISTICS_BYTES_XMIT_SUPPORTED
    | n::NDIS_STATISTICS_RCV_DISCARDS_SUPPORTED
    | n::NDIS_STATISTICS_GEN_STATISTICS_SUPPORTED
    | n::NDIS_STATISTICS_XMIT_DISCARDS_SUPPORTED;

/// The OIDs this adapter supports (same order as [`TABLE`]); returns how many were written.
pub fn supported_oids(s: &OidState, out: &mut [u32]) -> usize {
    let mut n = 0;
    for e in TABLE.iter().filter(|e| (e.available)(s)) {
        if let Some(slot) = out.get_mut(n) {
            *slot = e.oid;
            n += 1;
        }
    }
    n
}

fn query_supported_list(
    s: &OidState,
    _: &mut dyn DeviceControl,
    out: &mut Out,
) -> Result<(), n::NDIS_STATUS> {
    for e in TABLE.iter().filter(|e| (e.available)(s)) {
        out.put_u32(e.oid);
    }
    Ok(())
}

/// The little-endian `u16` at `off`, if the buffer holds it.
fn le16_at(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..)
        .and_then(<[u8]>::first_chunk)
        .map(|x| u16::from_le_bytes(*x))
}

fn read_u32(buf: &[u8]) -> Option<u32> {
    buf.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
}

fn set_lookahead(s: &mut OidState, _: &mut dyn DeviceControl, b: &[u8]) -> Result<u32, SetError> {
    let v = read_u32(b).ok_or(SetError::length(4))?;
    if v > s.mtu {
        return Err(SetError::invalid_data());
    }
    s.lookahead = v;
    Ok(4)
}

fn set_packet_filter(
    s: &mut OidState,
    dc: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    let v = read_u32(b).ok_or(SetError::length(4))?;
    if v & !SUPPORTED_PACKET_FILTERS != 0 {
        return Err(SetError::status(n::NDIS_STATUS_NOT_SUPPORTED));
    }
    let mut next = *s;
    next.packet_filter = v;
    dc.apply_rx_filter(&next.rx_filter())?;
    *s = next;
    Ok(4)
}

fn set_multicast_list(
    s: &mut OidState,
    dc: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    if !b.len().is_multiple_of(6) {
        let needed = u32::try_from(b.len().div_ceil(6) * 6).unwrap_or(u32::MAX);
        return Err(SetError::length(needed));
    }
    let count = b.len() / 6;
    if count > MAX_MULTICAST {
        return Err(SetError::status(n::NDIS_STATUS_MULTICAST_FULL));
    }
    let mut next = *s;
    next.multicast = [[0; 6]; MAX_MULTICAST];
    for (slot, m) in next.multicast.iter_mut().zip(b.as_chunks::<6>().0) {
        if m[0] & 1 == 0 {
            // A unicast address is not a multicast list entry.
            return Err(SetError::invalid_data());
        }
        *slot = *m;
    }
    next.multicast_len = count;
    dc.apply_rx_filter(&next.rx_filter())?;
    *s = next;
    Ok(u32::try_from(b.len()).unwrap_or(u32::MAX))
}

fn set_vlan_id(s: &mut OidState, dc: &mut dyn DeviceControl, b: &[u8]) -> Result<u32, SetError> {
    let v = read_u32(b).ok_or(SetError::length(4))?;
    if v > 4094 {
        return Err(SetError::invalid_data());
    }
    let mut next = *s;
    next.vlan_id = v as u16;
    dc.apply_vlan(&next.rx_filter())?;
    *s = next;
    Ok(4)
}

/// `NETWORK_ADDRESS_LIST`: `LONG AddressCount; USHORT AddressType;` then `NETWORK_ADDRESS` entries
/// (`USHORT AddressLength; USHORT AddressType; UCHAR Address[AddressLength]`). IPv4 entries are
/// `NETWORK_ADDRESS_IP` (address at offset 4), IPv6 entries `NETWORK_ADDRESS_IP6` (address at offset 8).
fn set_network_addresses(
    s: &mut OidState,
    _: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    let count = b
        .get(..4)
        .and_then(|x| x.try_into().ok())
        .map(i32::from_le_bytes)
        .ok_or(SetError::length(6))?;
    let list_type = le16_at(b, 4).ok_or(SetError::length(6))?;
    if count < 0 {
        return Err(SetError::invalid_data());
    }
    let mut next = s.addresses;
    if count == 0 {
        // An empty list removes every address of that protocol.
        match list_type {
            NDIS_PROTOCOL_ID_TCP_IP => next.ipv4_len = 0,
            NDIS_PROTOCOL_ID_IP6 => next.ipv6_len = 0,
            _ => {}
        }
    } else {
        let mut v4 = 0usize;
        let mut v6 = 0usize;
        let mut pos = 6usize;
        for _ in 0..count {
            let &[l0, l1, t0, t1] = b
                .get(pos..)
                .and_then(<[u8]>::first_chunk::<4>)
                .ok_or_else(SetError::invalid_data)?;
            let len = usize::from(u16::from_le_bytes([l0, l1]));
            let ty = u16::from_le_bytes([t0, t1]);
            let addr = b
                .get(pos + 4..pos + 4 + len)
                .ok_or_else(SetError::invalid_data)?;
            match ty {
                NDIS_PROTOCOL_ID_TCP_IP if len >= 8 => {
                    if let (Some(slot), Some(ip)) = (next.ipv4.get_mut(v4), addr.get(4..8)) {
                        slot.copy_from_slice(ip);
                        v4 += 1;
                    }
                }
                NDIS_PROTOCOL_ID_IP6 if len >= 24 => {
                    if let (Some(slot), Some(ip)) = (next.ipv6.get_mut(v6), addr.get(8..24)) {
                        slot.copy_from_slice(ip);
                        v6 += 1;
                    }
                }
                _ => {}
            }
            pos += 4 + len;
        }
        if v4 > 0 || list_type == NDIS_PROTOCOL_ID_TCP_IP {
            next.ipv4_len = v4.min(MAX_ANNOUNCE_ADDRESSES);
        }
        if v6 > 0 || list_type == NDIS_PROTOCOL_ID_IP6 {
            next.ipv6_len = v6.min(MAX_ANNOUNCE_ADDRESSES);
        }
    }
    s.addresses = next;
    Ok(u32::try_from(b.len()).unwrap_or(u32::MAX))
}

/// A structure whose `Header.Size` claims more bytes than the buffer holds is cut short: the request is
/// refused with `NDIS_STATUS_INVALID_LENGTH` and the declared size as `BytesNeeded` (rather than
/// silently reading an older revision).
fn check_declared_size(b: &[u8]) -> Result<(), SetError> {
    if let Some(size) = le16_at(b, 2) {
        if usize::from(size) > b.len() {
            return Err(SetError::length(u32::from(size)));
        }
    }
    Ok(())
}

fn check_header(b: &[u8], ty: u8, min_size: usize) -> Result<(), SetError> {
    check_declared_size(b)?;
    let size = le16_at(b, 2).map_or(0, usize::from);
    if b.first() != Some(&ty) || b.get(1).is_none_or(|&r| r == 0) || size < min_size {
        return Err(SetError::invalid_data());
    }
    Ok(())
}

fn set_link_parameters(
    s: &mut OidState,
    _: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    let size = usize::from(n::NDIS_SIZEOF_LINK_PARAMETERS_REVISION_1);
    check_header(b, n::NDIS_OBJECT_TYPE_DEFAULT, size)?;
    let i32_at = |o: usize| {
        b.get(o..)
            .and_then(<[u8]>::first_chunk)
            .map_or(0, |x| i32::from_le_bytes(*x))
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|x| x.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let duplex = i32_at(4);
    let (xmit, rcv) = (u64_at(8), u64_at(16));
    // A virtual link cannot be renegotiated: asking for what it already is (or "auto") succeeds,
    // anything else is not supported (NetKVM answers NOT_ACCEPTED to everything).
    let speed_ok = |v: u64| v == 0 || v == n::NET_IF_LINK_SPEED_UNKNOWN || v == s.link.speed_bps;
    let duplex_ok = duplex == n::MediaDuplexStateUnknown || duplex == s.link.duplex;
    if speed_ok(xmit) && speed_ok(rcv) && duplex_ok {
        Ok(size as u32)
    } else {
        Err(SetError::status(n::NDIS_STATUS_NOT_SUPPORTED))
    }
}

fn set_interrupt_moderation(
    _: &mut OidState,
    _: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    check_header(
        b,
        n::NDIS_OBJECT_TYPE_DEFAULT,
        usize::from(n::NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1),
    )?;
    // Moderation is not supported (the query says so); the DDI's answer to a set is INVALID_DATA.
    Err(SetError::invalid_data())
}

fn set_rss_parameters(
    s: &mut OidState,
    dc: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    check_declared_size(b)?;
    let mut next = *s;
    next.rss = rss::apply_scale_parameters(b, &s.rss, s.facts.pairs)?;
    dc.apply_rss(&next.effective_rss(), next.rss.device)?;
    *s = next;
    Ok(u32::try_from(b.len()).unwrap_or(u32::MAX))
}

fn set_receive_hash(
    s: &mut OidState,
    dc: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    check_declared_size(b)?;
    let mut next = *s;
    next.rss.receive_hash = rss::apply_receive_hash(b, &s.rss.receive_hash, s.rss.hash_types)?;
    if next.rss.settings.mode != RssMode::Full {
        dc.apply_rss(&next.effective_rss(), false)?;
    }
    *s = next;
    Ok(u32::try_from(b.len()).unwrap_or(u32::MAX))
}

fn offload_error(e: OffloadParamError) -> SetError {
    match e {
        OffloadParamError::BufferTooShort { needed } => {
            SetError::length(u32::try_from(needed).unwrap_or(u32::MAX))
        }
        OffloadParamError::InvalidData(_) => SetError::invalid_data(),
        OffloadParamError::NotSupported(_) => SetError::status(n::NDIS_STATUS_NOT_SUPPORTED),
    }
}

/// OID_TCP_OFFLOAD_PARAMETERS: validate against the capabilities (netkvm-core), switch host RSC with
/// `CTRL_GUEST_OFFLOADS_SET`, hand the new state to the datapath, flush held SCUs when RSC went off (before
/// the OID completes, spec §1.2), commit, and indicate `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`
/// (mandatory after this OID, even without a change).
fn set_offload_parameters(
    s: &mut OidState,
    dc: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    check_declared_size(b)?;
    let p = OffloadParameters::from_bytes(b).map_err(offload_error)?;
    let change = s.offload.apply_parameters(&p).map_err(offload_error)?;
    if let Some(mask) = change.guest_offloads {
        dc.set_guest_offloads(mask)?;
    }
    let mut next = s.offload;
    next.commit(&change);
    dc.apply_offload(&next);
    if change.rsc_disabled.ipv4 || change.rsc_disabled.ipv6 {
        dc.flush_rsc();
    }
    s.offload = next;
    dc.indicate_offload_config(&s.offload.current);
    Ok(u32::try_from(b.len()).unwrap_or(u32::MAX))
}

fn query_encapsulation(
    s: &OidState,
    _: &mut dyn DeviceControl,
    out: &mut Out,
) -> Result<(), n::NDIS_STATUS> {
    let fam = |e: Option<u16>| n::NDIS_OFFLOAD_ENCAPSULATION_IP {
        Enabled: if e.is_some() {
            n::NDIS_OFFLOAD_SET_ON
        } else {
            n::NDIS_OFFLOAD_SET_OFF
        },
        EncapsulationType: if e.is_some() {
            n::NDIS_ENCAPSULATION_IEEE_802_3
        } else {
            n::NDIS_ENCAPSULATION_NOT_SUPPORTED
        },
        HeaderSize: e.map_or(0, u32::from),
    };
    let v = n::NDIS_OFFLOAD_ENCAPSULATION {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION,
            n::NDIS_OFFLOAD_ENCAPSULATION_REVISION_1,
            n::NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1,
        ),
        IPv4: fam(s.offload.encapsulation.ipv4),
        IPv6: fam(s.offload.encapsulation.ipv6),
    };
    out.put_struct(&v, usize::from(v.Header.Size));
    Ok(())
}

/// OID_OFFLOAD_ENCAPSULATION: receive checksum reporting starts only now (spec §4.1); the current
/// configuration is indicated afterwards (mandatory, spec §5.1).
fn set_encapsulation(
    s: &mut OidState,
    dc: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    check_declared_size(b)?;
    let req = EncapsulationRequest::from_bytes(b).map_err(offload_error)?;
    let mut next = s.offload;
    next.apply_encapsulation(&req).map_err(offload_error)?;
    dc.apply_offload(&next);
    s.offload = next;
    dc.indicate_offload_config(&s.offload.current);
    Ok(u32::from(n::NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1))
}

fn power_state(b: &[u8]) -> Result<PowerState, SetError> {
    let v = read_u32(b).ok_or(SetError::length(4))? as i32;
    match v {
        n::NdisDeviceStateD0 => Ok(PowerState::D0),
        n::NdisDeviceStateD1 | n::NdisDeviceStateD2 | n::NdisDeviceStateD3 => Ok(PowerState::D3),
        _ => Err(SetError::invalid_data()),
    }
}

fn set_query_power(_: &mut OidState, _: &mut dyn DeviceControl, b: &[u8]) -> Result<u32, SetError> {
    power_state(b)?;
    Ok(4)
}

/// OID_PNP_SET_POWER (PASSIVE): D3 quiesces and resets the device; D0 re-initialises it and restores
/// filters, MAC, VLAN, RSS and offloads from the state.
fn set_power(s: &mut OidState, dc: &mut dyn DeviceControl, b: &[u8]) -> Result<u32, SetError> {
    let target = power_state(b)?;
    if target == s.power {
        return Ok(4);
    }
    let mut next = *s;
    next.power = target;
    dc.set_power(target, &mut next)?;
    *s = next;
    Ok(4)
}

fn set_enable_wake_up(
    s: &mut OidState,
    _: &mut dyn DeviceControl,
    b: &[u8],
) -> Result<u32, SetError> {
    let v = read_u32(b).ok_or(SetError::length(4))?;
    if v != 0 {
        // No wake-up capability is advertised; accepting flags would promise what the device cannot do.
        return Err(SetError::status(n::NDIS_STATUS_NOT_SUPPORTED));
    }
    s.wake_up = 0;
    Ok(4)
}

/// Kind of request with its buffer.
pub enum Request<'a> {
    /// Query / query statistics: the output buffer.
    Query(&'a mut [u8]),
    /// Set: the input buffer.
    Set(&'a [u8]),
    /// Method: not supported by this miniport.
    Method,
}

/// Result of [`dispatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Status.
    pub status: n::NDIS_STATUS,
    /// `BytesWritten` (query) / `BytesRead` (set).
    pub bytes: u32,
    /// `BytesNeeded`.
    pub needed: u32,
}

impl Outcome {
    const fn status(status: n::NDIS_STATUS) -> Self {
        Self {
            status,
            bytes: 0,
            needed: 0,
        }
    }
}

/// The table entry of `oid`.
pub fn entry(oid: u32) -> Option<&'static OidEntry> {
    TABLE.iter().find(|e| e.oid == oid)
}

/// Answers one request.
pub fn dispatch(
    state: &mut OidState,
    dc: &mut dyn DeviceControl,
    oid: u32,
    req: Request<'_>,
) -> Outcome {
    let Some(e) = entry(oid).filter(|e| (e.available)(state)) else {
        return Outcome::status(n::NDIS_STATUS_NOT_SUPPORTED);
    };
    match req {
        Request::Method => Outcome::status(n::NDIS_STATUS_NOT_SUPPORTED),
        Request::Query(buf) => {
            let Some(q) = e.query else {
                return Outcome::status(n::NDIS_STATUS_NOT_SUPPORTED);
            };
            let mut out = Out::new();
            if let Err(st) = q(state, dc, &mut out) {
                return Outcome::status(st);
            }
            if out.overflow {
                return Outcome::status(n::NDIS_STATUS_FAILURE);
            }
            let answer = out.as_bytes();
            let need = answer.len();
            if e.stat64 && need == 8 && buf.len() >= 4 && buf.len() < 8 {
                if let (Some(dst), Some(src)) = (buf.get_mut(..4), answer.get(..4)) {
                    dst.copy_from_slice(src);
                }
                return Outcome {
                    status: n::NDIS_STATUS_SUCCESS,
                    bytes: 4,
                    needed: 8,
                };
            }
            match buf.get_mut(..need) {
                Some(dst) => {
                    dst.copy_from_slice(answer);
                    Outcome {
                        status: n::NDIS_STATUS_SUCCESS,
                        bytes: need as u32,
                        needed: 0,
                    }
                }
                None => Outcome {
                    status: n::NDIS_STATUS_BUFFER_TOO_SHORT,
                    bytes: 0,
                    needed: need as u32,
                },
            }
        }
        Request::Set(buf) => {
            let Some(f) = e.set else {
                return Outcome::status(n::NDIS_STATUS_NOT_SUPPORTED);
            };
            if (buf.len() as u64) < u64::from(e.set_len) {
                return Outcome {
                    status: n::NDIS_STATUS_INVALID_LENGTH,
                    bytes: 0,
                    needed: e.set_len,
                };
            }
            match f(state, dc, buf) {
                Ok(read) => Outcome {
                    status: n::NDIS_STATUS_SUCCESS,
                    bytes: read.min(u32::try_from(buf.len()).unwrap_or(u32::MAX)),
                    needed: 0,
                },
                Err(err) => Outcome {
                    status: err.status,
                    bytes: 0,
                    needed: err.needed,
                },
            }
        }
    }
}

/// Decodes an `NDIS_OID_REQUEST`, dispatches it and writes `BytesWritten`/`BytesRead`/`BytesNeeded`.
///
/// # Safety
/// `request` is a live request whose `InformationBuffer` holds `InformationBufferLength` bytes (NDIS).
pub unsafe fn handle_request(
    state: &mut OidState,
    dc: &mut dyn DeviceControl,
    request: *mut n::NDIS_OID_REQUEST,
) -> n::NDIS_STATUS {
    // SAFETY: per the function contract.
    let Some(r) = (unsafe { request.as_mut() }) else {
        return n::NDIS_STATUS_INVALID_PARAMETER;
    };
    match r.RequestType {
        n::NdisRequestQueryInformation | n::NdisRequestQueryStatistics => {
            // SAFETY: the QUERY_INFORMATION view is the one NDIS filled for query requests.
            let q = unsafe { &mut r.DATA.QUERY_INFORMATION };
            let len = q.InformationBufferLength as usize;
            let buf: &mut [u8] = if q.InformationBuffer.is_null() || len == 0 {
                &mut []
            } else {
                // SAFETY: NDIS guarantees `len` writable bytes at InformationBuffer for the request.
                unsafe { core::slice::from_raw_parts_mut(q.InformationBuffer.cast::<u8>(), len) }
            };
            let o = dispatch(state, dc, q.Oid, Request::Query(buf));
            q.BytesWritten = o.bytes;
            q.BytesNeeded = o.needed;
            o.status
        }
        n::NdisRequestSetInformation => {
            // SAFETY: the SET_INFORMATION view is the one NDIS filled for set requests.
            let s = unsafe { &mut r.DATA.SET_INFORMATION };
            let len = s.InformationBufferLength as usize;
            let buf: &[u8] = if s.InformationBuffer.is_null() || len == 0 {
                &[]
            } else {
                // SAFETY: NDIS guarantees `len` readable bytes at InformationBuffer for the request.
                unsafe { core::slice::from_raw_parts(s.InformationBuffer.cast::<u8>(), len) }
            };
            let o = dispatch(state, dc, s.Oid, Request::Set(buf));
            s.BytesRead = o.bytes;
            s.BytesNeeded = o.needed;
            o.status
        }
        _ => n::NDIS_STATUS_NOT_SUPPORTED,
    }
}

#[cfg(test)]
mod tests;
