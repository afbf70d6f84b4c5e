//! Checked, zero-copy views over the headers the driver touches, and [`parse_frame`].
//!
//! # The contract (smoltcp's, stated once)
//! * A view (`EthernetFrame`, `Ipv4Packet`, `Ipv6Packet`, `TcpSegment`, `UdpDatagram`) is
//!   only obtainable through `new_checked`, which validates every length and length field
//!   the view relies on. **After that no accessor or setter can panic**, whatever the bytes
//!   are: accessors read through zerocopy header layouts and bounds-checked `get`, and fall
//!   back to zero values on the (unreachable) short path instead of indexing.
//! * Views work over `&[u8]`, `&mut [u8]` or any `T: AsRef<[u8]>` (setters need
//!   `AsMut<[u8]>`). Fixed header layouts are `zerocopy` structs with big-endian fields.
//! * Errors ([`ParseError`]) are small `Copy` values that say which layer, which length ran
//!   short, where (byte offset from the start of what was parsed), how much was required and
//!   how much was available — etherparse's `LenError` idea — so a malformed frame from the
//!   stack or the host turns into one useful trace line.
//! * Nothing here allocates. [`parse_frame`] walks Ethernet → IP → TCP/UDP once and returns
//!   a plain [`FrameLayout`] (offsets and lengths) that tx, rx, rss and rsc share.
//!
//! Host-side layouts are in [`virtio`] (`virtio_net_hdr` and friends).

mod ethernet;
mod frame;
mod ipv4;
mod ipv6;
mod tcp;
mod udp;
pub mod virtio;

pub use ethernet::{
    ethertype, insert_vlan_tag, strip_vlan_tag, EthernetFrame, EthernetHeader, VlanTag,
    ETH_HEADER_LEN, MAC_LEN, VLAN_TAG_LEN,
};
pub use frame::{ip_length_field, parse_frame, FragmentInfo, FrameLayout, L3Kind, L4Kind, LenMode};
pub use ipv4::{Ipv4Header, Ipv4Packet, IPV4_MIN_HEADER_LEN};
pub use ipv6::{
    walk_extension_headers, ExtWalk, Ipv6Header, Ipv6Packet, IPV6_HEADER_LEN, IPV6_MAX_EXT_BYTES,
    IPV6_MAX_EXT_HEADERS,
};
pub use tcp::{TcpFlags, TcpHeader, TcpOption, TcpOptions, TcpSegment, TCP_MIN_HEADER_LEN};
pub use udp::{UdpDatagram, UdpHeader, UDP_HEADER_LEN};

/// IP protocol / IPv6 next-header numbers used by the parsers (IANA "Assigned Internet
/// Protocol Numbers").
pub mod ip_proto {
    /// IPv6 Hop-by-Hop Options.
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 Routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload (opaque: ends the walk).
    pub const ESP: u8 = 50;
    /// Authentication Header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// No Next Header.
    pub const NO_NEXT_HEADER: u8 = 59;
    /// IPv6 Destination Options.
    pub const DEST_OPTIONS: u8 = 60;
}

/// The header a length or field error was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// `virtio_net_hdr` (any of its sizes).
    VirtioNetHdr,
    /// Ethernet II header (MACs + EtherType).
    Ethernet,
    /// An 802.1Q / 802.1ad tag.
    Vlan,
    /// IPv4 header or datagram.
    Ipv4,
    /// IPv6 fixed header or datagram.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Ext,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
}

/// What limited the length that ran short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LenSource {
    /// The buffer (slice) itself.
    Buffer,
    /// The IPv4 Total Length field.
    Ipv4TotalLength,
    /// The IPv6 Payload Length field.
    Ipv6PayloadLength,
    /// The UDP Length field.
    UdpLength,
}

/// A length ran short: `required` bytes were needed at `offset` but only `available` were
/// there (limited by `source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LenError {
    /// Layer being parsed.
    pub layer: Layer,
    /// Start of that layer, in bytes from the start of the parsed buffer.
    pub offset: usize,
    /// Bytes the layer needs from `offset`.
    pub required: usize,
    /// Bytes available from `offset`.
    pub available: usize,
    /// What bounded `available`.
    pub source: LenSource,
}

/// A header field holds a value the parser cannot accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invalid {
    /// IP version nibble is not the expected one.
    IpVersion(u8),
    /// IPv4 IHL below 5 (value in 32-bit words).
    Ipv4HeaderLength(u8),
    /// IPv4 Total Length smaller than the header.
    Ipv4TotalLength(u16),
    /// TCP data offset below 5 (value in 32-bit words).
    TcpDataOffset(u8),
    /// UDP Length below 8.
    UdpLength(u16),
    /// More extension headers or bytes than [`IPV6_MAX_EXT_HEADERS`] /
    /// [`IPV6_MAX_EXT_BYTES`].
    Ipv6ExtChainTooLong,
    /// A Hop-by-Hop header that is not the first one (RFC 8200 §4.3).
    Ipv6HopByHopNotFirst,
    /// Unknown `gso_type` in a `virtio_net_hdr`.
    GsoType(u8),
}

/// Why a buffer is not a valid header / frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// A length ran short.
    Len(LenError),
    /// A field is invalid.
    Invalid {
        /// Layer of the field.
        layer: Layer,
        /// Start of that layer, in bytes from the start of the parsed buffer.
        offset: usize,
        /// The offending value.
        what: Invalid,
    },
}

impl ParseError {
    /// The layer the error was found in.
    pub const fn layer(&self) -> Layer {
        match self {
            ParseError::Len(l) => l.layer,
            ParseError::Invalid { layer, .. } => *layer,
        }
    }

    /// Rebases the error's offset by `base` (a nested parser reports offsets relative to its
    /// own start; the caller knows where that start is).
    #[must_use]
    pub const fn add_offset(self, base: usize) -> Self {
        match self {
            ParseError::Len(mut l) => {
                l.offset = l.offset.saturating_add(base);
                ParseError::Len(l)
            }
            ParseError::Invalid {
                layer,
                offset,
                what,
            } => ParseError::Invalid {
                layer,
                offset: offset.saturating_add(base),
                what,
            },
        }
    }
}

impl From<LenError> for ParseError {
    fn from(e: LenError) -> Self {
        ParseError::Len(e)
    }
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Len(l) => write!(
                f,
                "{:?} at offset {}: needs {} bytes, {} available ({:?})",
                l.layer, l.offset, l.required, l.available, l.source
            ),
            ParseError::Invalid {
                layer,
                offset,
                what,
            } => write!(f, "{layer:?} at offset {offset}: invalid {what:?}"),
        }
    }
}

/// `Err(LenError)` unless `available >= required` (offset 0, source = buffer).
#[inline]
pub(crate) const fn need(
    layer: Layer,
    required: usize,
    available: usize,
) -> Result<(), ParseError> {
    if available >= required {
        Ok(())
    } else {
        Err(ParseError::Len(LenError {
            layer,
            offset: 0,
            required,
            available,
            source: LenSource::Buffer,
        }))
    }
}

/// Big-endian `u16` at `off`, 0 if out of bounds (only reachable for unchecked buffers).
#[inline]
pub(crate) fn be16(buf: &[u8], off: usize) -> u16 {
    buf.get(off..)
        .and_then(<[u8]>::first_chunk::<2>)
        .map_or(0, |b| u16::from_be_bytes(*b))
}

/// Big-endian `u32` at `off`, 0 if out of bounds.
#[inline]
pub(crate) fn be32(buf: &[u8], off: usize) -> u32 {
    buf.get(off..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map_or(0, |b| u32::from_be_bytes(*b))
}

/// Writes a big-endian `u16` at `off` if it fits (no-op otherwise).
#[inline]
pub(crate) fn put_be16(buf: &mut [u8], off: usize, v: u16) {
    if let Some(b) = buf.get_mut(off..).and_then(<[u8]>::first_chunk_mut::<2>) {
        *b = v.to_be_bytes();
    }
}

/// Writes a big-endian `u32` at `off` if it fits (no-op otherwise).
#[inline]
pub(crate) fn put_be32(buf: &mut [u8], off: usize, v: u32) {
    if let Some(b) = buf.get_mut(off..).and_then(<[u8]>::first_chunk_mut::<4>) {
        *b = v.to_be_bytes();
    }
}

/// Byte at `off`, 0 if out of bounds.
#[inline]
pub(crate) fn byte(buf: &[u8], off: usize) -> u8 {
    buf.get(off).copied().unwrap_or(0)
}

/// Copy of `N` bytes at `off`, zeros if out of bounds.
#[inline]
pub(crate) fn array<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    buf.get(off..)
        .and_then(<[u8]>::first_chunk::<N>)
        .copied()
        .unwrap_or([0; N])
}
