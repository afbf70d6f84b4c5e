//! Receive-side scaling: Toeplitz hash, NDIS hash types, indirection table, virtio mapping.
//!
//! The Toeplitz hash (Learn "RSS hashing functions", spec §6.2) is computed with a per-key
//! table `[byte position][byte value] → u32` (36 × 256 × 4 B = 36 KiB) built when the key is
//! set (`OID_GEN_RECEIVE_SCALE_PARAMETERS`): hashing an input is then one lookup and XOR per
//! byte instead of 8 conditional XORs and shifts. [`toeplitz_bitwise`] is the textbook
//! bit-serial definition, kept as the reference for tests and benchmarks.
//!
//! The lookups are XORed in four independent chains (byte positions modulo 4), so that the
//! chain of dependent XORs is a quarter as long. LLVM reassociates plain XOR chains back into
//! one (36 dependent XORs, ~10 ns for IPv6), so each chain's rows are stored rotated left by
//! 8 × chain bits and the chains are rotated back before they are combined: rotations of XOR
//! chains of loaded values are not folded together.
//!
//! Which bytes are hashed follows the NDIS hash types (spec §6.2): 4-tuples for TCP/UDP when
//! the type is enabled, the 2-tuple for fragments (including the first fragment), for other
//! protocols and when only the IP type is enabled, `_EX` variants replacing the IPv6 source
//! with the Home Address option and the destination with the type-2 routing header address
//! when present, and no hash at all when nothing enabled applies.

use alloc::boxed::Box;
use alloc::vec::Vec;

use bitflags::bitflags;

/// Maximum Toeplitz key length (`NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_*`).
pub const KEY_LEN: usize = 40;
/// Longest hash input: IPv6 source + destination + two ports.
pub const MAX_INPUT: usize = 36;
/// Largest indirection table (`NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_2` entries).
pub const MAX_INDIRECTION_ENTRIES: usize = 128;
/// `NdisHashFunctionToeplitz`.
pub const HASH_FUNCTION_TOEPLITZ: u32 = 0x1;
/// `NDIS_HASH_FUNCTION_MASK`.
pub const HASH_FUNCTION_MASK: u32 = 0xFF;
/// `NDIS_HASH_TYPE_MASK`.
pub const HASH_TYPE_MASK: u32 = 0x00FF_FF00;

/// The Microsoft verification key (Learn "Verifying the RSS hash calculation").
pub const MICROSOFT_TEST_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

bitflags! {
    /// `NDIS_HASH_*` hash types (as in `HashInformation` and the NBL hash info).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct HashTypes: u32 {
        /// `NDIS_HASH_IPV4`.
        const IPV4 = 0x100;
        /// `NDIS_HASH_TCP_IPV4`.
        const TCP_IPV4 = 0x200;
        /// `NDIS_HASH_IPV6`.
        const IPV6 = 0x400;
        /// `NDIS_HASH_IPV6_EX`.
        const IPV6_EX = 0x800;
        /// `NDIS_HASH_TCP_IPV6`.
        const TCP_IPV6 = 0x1000;
        /// `NDIS_HASH_TCP_IPV6_EX`.
        const TCP_IPV6_EX = 0x2000;
        /// `NDIS_HASH_UDP_IPV4` (NDIS 6.80).
        const UDP_IPV4 = 0x4000;
        /// `NDIS_HASH_UDP_IPV6` (NDIS 6.80).
        const UDP_IPV6 = 0x8000;
        /// `NDIS_HASH_UDP_IPV6_EX` (NDIS 6.80).
        const UDP_IPV6_EX = 0x10000;
    }
}

/// `NDIS_RSS_CAPS_HASH_TYPE_*` bits of `NDIS_RECEIVE_SCALE_CAPABILITIES.CapabilitiesFlags`
/// (different numbers from [`HashTypes`]; the IP-only types have no capability bit).
const CAPS_MAP: [(HashTypes, u32); 6] = [
    (HashTypes::TCP_IPV4, 0x100),
    (HashTypes::TCP_IPV6, 0x200),
    (HashTypes::TCP_IPV6_EX, 0x400),
    (HashTypes::UDP_IPV4, 0x800),
    (HashTypes::UDP_IPV6, 0x1000),
    (HashTypes::UDP_IPV6_EX, 0x2000),
];

/// virtio `VIRTIO_NET_HASH_TYPE_*` bit for each NDIS type (virtio 1.x §5.1.6.4.3; spec §6.5),
/// in `VIRTIO_NET_HASH_REPORT_*` order (report value = index + 1).
const VIRTIO_MAP: [HashTypes; 9] = [
    HashTypes::IPV4,
    HashTypes::TCP_IPV4,
    HashTypes::UDP_IPV4,
    HashTypes::IPV6,
    HashTypes::TCP_IPV6,
    HashTypes::UDP_IPV6,
    HashTypes::IPV6_EX,
    HashTypes::TCP_IPV6_EX,
    HashTypes::UDP_IPV6_EX,
];

impl HashTypes {
    /// The `NDIS_RSS_CAPS_HASH_TYPE_*` flags advertising these types.
    pub fn to_caps_flags(self) -> u32 {
        CAPS_MAP
            .iter()
            .filter(|(t, _)| self.contains(*t))
            .fold(0, |a, (_, c)| a | c)
    }

    /// virtio `hash_types` bits (for `VIRTIO_NET_CTRL_MQ_RSS_CONFIG` / `HASH_CONFIG`).
    pub fn to_virtio(self) -> u32 {
        VIRTIO_MAP
            .iter()
            .enumerate()
            .filter(|(_, t)| self.contains(**t))
            .fold(0, |a, (i, _)| a | (1 << i))
    }

    /// NDIS types for virtio `supported_hash_types` bits (unknown bits ignored).
    pub fn from_virtio(bits: u32) -> Self {
        VIRTIO_MAP
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .fold(Self::empty(), |a, (_, t)| a | *t)
    }

    /// The NDIS type of a `VIRTIO_NET_HASH_REPORT_*` value (`None` for NONE and unknown).
    pub fn from_virtio_report(report: u16) -> Option<Self> {
        usize::from(report)
            .checked_sub(1)
            .and_then(|i| VIRTIO_MAP.get(i))
            .copied()
    }
}

/// Splits `HashInformation` into function and types, validating both.
pub fn parse_hash_information(
    info: u32,
    supported: HashTypes,
) -> Result<(u32, HashTypes), RssError> {
    let function = info & HASH_FUNCTION_MASK;
    let types = info & HASH_TYPE_MASK;
    if info & !(HASH_FUNCTION_MASK | HASH_TYPE_MASK) != 0 {
        return Err(RssError::UnknownHashType(info));
    }
    let Some(t) = HashTypes::from_bits(types) else {
        return Err(RssError::UnknownHashType(types));
    };
    if function != 0 && function != HASH_FUNCTION_TOEPLITZ {
        return Err(RssError::UnsupportedHashFunction(function));
    }
    if !supported.contains(t) {
        return Err(RssError::UnsupportedHashType(t));
    }
    Ok((function, t))
}

/// RSS configuration errors (the miniport answers `NDIS_STATUS_INVALID_PARAMETER` /
/// `NOT_SUPPORTED` / `RESOURCES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RssError {
    /// Key length not in 1..=40.
    BadKeyLength(usize),
    /// Indirection table length not a power of two in 1..=128.
    BadTableLength(usize),
    /// Hash function other than Toeplitz.
    UnsupportedHashFunction(u32),
    /// Bits outside the defined hash types.
    UnknownHashType(u32),
    /// Defined but not advertised hash types.
    UnsupportedHashType(HashTypes),
    /// The per-key table could not be allocated.
    OutOfMemory,
}

// ---------------------------------------------------------------------------------------------
// Toeplitz
// ---------------------------------------------------------------------------------------------

/// The 32-bit key window starting at bit `bit` (bits past the key are zero).
fn key_window(key: &[u8; KEY_LEN], bit: usize) -> u32 {
    let byte = bit / 8;
    let shift = bit % 8;
    let b = |i: usize| u64::from(key.get(byte + i).copied().unwrap_or(0));
    let w = (b(0) << 32) | (b(1) << 24) | (b(2) << 16) | (b(3) << 8) | b(4);
    // w holds 40 bits starting at `byte`; take 32 of them starting `shift` bits in.
    ((w >> (8 - shift)) & 0xFFFF_FFFF) as u32
}

/// Textbook bit-serial Toeplitz (Learn "RSS hashing functions"): for every input bit, MSB of
/// byte 0 first, XOR the leftmost 32 bits of the key into the result when the bit is set, then
/// shift the key left by one bit. Keys shorter than 40 bytes are zero-extended. The reference
/// implementation for tests and benchmarks.
pub fn toeplitz_bitwise(key: &[u8], input: &[u8]) -> u32 {
    let mut k = [0u8; KEY_LEN];
    for (d, s) in k.iter_mut().zip(key) {
        *d = *s;
    }
    // `window` = key bits [n, n+32); the next bit shifted in is key bit n + 32.
    let mut window = u32::from_be_bytes([k[0], k[1], k[2], k[3]]);
    let mut next_bit = 32usize;
    let mut result = 0u32;
    for &byte in input {
        for bit in (0..8).rev() {
            if byte & (1 << bit) != 0 {
                result ^= window;
            }
            let incoming = k
                .get(next_bit / 8)
                .map_or(0, |b| (b >> (7 - next_bit % 8)) & 1);
            window = (window << 1) | u32::from(incoming);
            next_bit += 1;
        }
    }
    result
}

/// A Toeplitz hasher with its per-key lookup table.
pub struct Toeplitz {
    key: [u8; KEY_LEN],
    key_len: usize,
    table: Box<[[u32; 256]; MAX_INPUT]>,
}

impl core::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Toeplitz")
            .field("key", &self.key())
            .finish_non_exhaustive()
    }
}

/// Left rotation of the rows of byte position `pos` (its chain: `pos % 4`).
const fn chain_rotation(pos: usize) -> u32 {
    8 * (pos % 4) as u32
}

/// One table lookup: a byte indexes a 256-entry row, so it cannot be out of range.
#[inline(always)]
#[expect(
    clippy::indexing_slicing,
    reason = "the index is a u8 into a [u32; 256] row (LLVM drops the bounds check too)"
)]
fn lut(row: &[u32; 256], byte: u8) -> u32 {
    row[usize::from(byte)]
}

/// Combines the four chains (rotating each back).
#[inline(always)]
fn combine_chains(c: [u32; 4]) -> u32 {
    let [c0, c1, c2, c3] = c;
    c0 ^ c1.rotate_right(8) ^ c2.rotate_right(16) ^ c3.rotate_right(24)
}

impl Toeplitz {
    /// Allocates the 36 KiB table (fallibly: `RssError::OutOfMemory`) and builds it for `key`.
    pub fn new(key: &[u8]) -> Result<Self, RssError> {
        check_key(key)?;
        let mut rows: Vec<[u32; 256]> = Vec::new();
        rows.try_reserve_exact(MAX_INPUT)
            .map_err(|_| RssError::OutOfMemory)?;
        rows.resize(MAX_INPUT, [0; 256]);
        let table: Box<[[u32; 256]; MAX_INPUT]> = rows
            .into_boxed_slice()
            .try_into()
            .map_err(|_| RssError::OutOfMemory)?;
        let mut t = Toeplitz {
            key: [0; KEY_LEN],
            key_len: 0,
            table,
        };
        t.set_key(key)?;
        Ok(t)
    }

    /// Rebuilds the table for a new key, without allocating. Keys shorter than 40 bytes are
    /// zero-extended.
    pub fn set_key(&mut self, key: &[u8]) -> Result<(), RssError> {
        check_key(key)?;
        self.key = [0; KEY_LEN];
        self.key
            .get_mut(..key.len())
            .ok_or(RssError::BadKeyLength(key.len()))?
            .copy_from_slice(key);
        self.key_len = key.len();
        for (pos, row) in self.table.iter_mut().enumerate() {
            let mut windows = [0u32; 8];
            for (j, w) in windows.iter_mut().enumerate() {
                // Input bit j of this byte (j = 0 is the MSB) selects the window at 8·pos + j,
                // stored rotated for the byte's chain (rotation distributes over XOR).
                *w = key_window(&self.key, pos * 8 + j).rotate_left(chain_rotation(pos));
            }
            // row[b] is the XOR of the windows of b's set bits (bit i, LSB = 0, is input bit
            // 7 - i). Built by doubling: with row[..2^i] done, row[2^i + m] = row[m] ^ window.
            row[0] = 0;
            for (i, window) in windows.iter().rev().enumerate() {
                let half = 1usize << i;
                let Some((lo, hi)) = row
                    .get_mut(..2 * half)
                    .and_then(|r| r.split_at_mut_checked(half))
                else {
                    continue; // not reached: 2 * half <= 256
                };
                for (h, l) in hi.iter_mut().zip(lo.iter()) {
                    *h = *l ^ window;
                }
            }
        }
        Ok(())
    }

    /// The current key.
    pub fn key(&self) -> &[u8] {
        // key_len <= KEY_LEN (set_key checks it).
        self.key.get(..self.key_len).unwrap_or(&self.key)
    }

    /// Hash of `input` (at most [`MAX_INPUT`] bytes are used).
    #[inline]
    pub fn hash(&self, input: &[u8]) -> u32 {
        let mut c = [0u32; 4];
        let (quads, rest) = input.as_chunks::<4>();
        let (rows, rest_rows) = self.table.as_chunks::<4>();
        for (q, r) in quads.iter().zip(rows) {
            for ((c, b), row) in c.iter_mut().zip(q).zip(r) {
                *c ^= lut(row, *b);
            }
        }
        // A partial last group (input length not a multiple of 4), if within MAX_INPUT.
        if let Some(r) = rows.get(quads.len()).or(rest_rows.first_chunk::<4>()) {
            for ((c, b), row) in c.iter_mut().zip(rest).zip(r) {
                *c ^= lut(row, *b);
            }
        }
        combine_chains(c)
    }

    /// Hash of an IPv4 2-tuple (source, destination).
    #[inline]
    pub fn hash_ipv4(&self, src: [u8; 4], dst: [u8; 4]) -> u32 {
        combine_chains(self.chains_ipv4(src, dst))
    }

    /// The four chains of an IPv4 2-tuple (byte positions 0..8).
    #[inline(always)]
    fn chains_ipv4(&self, src: [u8; 4], dst: [u8; 4]) -> [u32; 4] {
        let [r0, r1, r2, r3, r4, r5, r6, r7, ..] = &*self.table;
        let [s0, s1, s2, s3] = src;
        let [d0, d1, d2, d3] = dst;
        [
            lut(r0, s0) ^ lut(r4, d0),
            lut(r1, s1) ^ lut(r5, d1),
            lut(r2, s2) ^ lut(r6, d2),
            lut(r3, s3) ^ lut(r7, d3),
        ]
    }

    /// Hash of an IPv4 4-tuple (source, destination, source port, destination port).
    #[inline]
    pub fn hash_ipv4_ports(&self, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> u32 {
        let [_, _, _, _, _, _, _, _, r8, r9, r10, r11, ..] = &*self.table;
        let [s0, s1] = sport.to_be_bytes();
        let [d0, d1] = dport.to_be_bytes();
        let [c0, c1, c2, c3] = self.chains_ipv4(src, dst);
        combine_chains([
            c0 ^ lut(r8, s0),
            c1 ^ lut(r9, s1),
            c2 ^ lut(r10, d0),
            c3 ^ lut(r11, d1),
        ])
    }

    /// The four chains of an IPv6 2-tuple (byte positions 0..32).
    #[inline(always)]
    fn chains_ipv6(&self, src: &[u8; 16], dst: &[u8; 16]) -> [u32; 4] {
        // Rows in groups of four (one row per chain): groups 0..4 hash the source, 4..8 the
        // destination.
        let (groups, _) = self.table.as_chunks::<4>();
        let (src_groups, dst_groups) = groups.split_at_checked(4).unwrap_or((groups, &[]));
        let mut c = [0u32; 4];
        for (((s, d), rs), rd) in src
            .as_chunks::<4>()
            .0
            .iter()
            .zip(dst.as_chunks::<4>().0)
            .zip(src_groups)
            .zip(dst_groups)
        {
            for ((((c, &s), &d), rs), rd) in c.iter_mut().zip(s).zip(d).zip(rs).zip(rd) {
                *c ^= lut(rs, s) ^ lut(rd, d);
            }
        }
        c
    }

    /// Hash of an IPv6 2-tuple.
    #[inline]
    pub fn hash_ipv6(&self, src: &[u8; 16], dst: &[u8; 16]) -> u32 {
        combine_chains(self.chains_ipv6(src, dst))
    }

    /// Hash of an IPv6 4-tuple.
    #[inline]
    pub fn hash_ipv6_ports(&self, src: &[u8; 16], dst: &[u8; 16], sport: u16, dport: u16) -> u32 {
        let [.., r32, r33, r34, r35] = &*self.table;
        let [s0, s1] = sport.to_be_bytes();
        let [d0, d1] = dport.to_be_bytes();
        let [c0, c1, c2, c3] = self.chains_ipv6(src, dst);
        combine_chains([
            c0 ^ lut(r32, s0),
            c1 ^ lut(r33, s1),
            c2 ^ lut(r34, d0),
            c3 ^ lut(r35, d1),
        ])
    }
}

fn check_key(key: &[u8]) -> Result<(), RssError> {
    if key.is_empty() || key.len() > KEY_LEN {
        Err(RssError::BadKeyLength(key.len()))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Packet → hash input
// ---------------------------------------------------------------------------------------------

/// Network-layer fields of a received packet, as the RX classifier found them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3Fields {
    /// IPv4 (options skipped).
    V4 {
        /// Source address.
        src: [u8; 4],
        /// Destination address.
        dst: [u8; 4],
    },
    /// IPv6 (extension headers walked).
    V6 {
        /// Source address of the IPv6 header.
        src: [u8; 16],
        /// Destination address of the IPv6 header.
        dst: [u8; 16],
        /// Home Address option (Destination Options header, type 201), if present.
        home_address: Option<[u8; 16]>,
        /// Address of a type-2 routing header, if present.
        routing_dst: Option<[u8; 16]>,
    },
}

/// Transport ports, if the L4 header was found and parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Fields {
    /// TCP header present.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// UDP header present.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// Another protocol, or an L4 header that could not be parsed.
    None,
}

/// What RSS hashes of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashFields {
    /// L3 addresses.
    pub l3: L3Fields,
    /// L4 ports.
    pub l4: L4Fields,
    /// The packet is a fragment (any, including the first): only the 2-tuple may be used.
    pub fragment: bool,
}

/// A computed RSS hash for `NET_BUFFER_LIST_SET_HASH_VALUE` / `_SET_HASH_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RssHash {
    /// 32-bit Toeplitz value.
    pub value: u32,
    /// Exactly one `NDIS_HASH_*` bit: what was hashed.
    pub hash_type: HashTypes,
}

/// Chooses the hash type and input for `fields` under the enabled `types` (spec §6.2).
pub fn select_input(
    types: HashTypes,
    fields: &HashFields,
) -> Option<(HashTypes, [u8; MAX_INPUT], usize)> {
    let mut buf = [0u8; MAX_INPUT];
    let ports = if fields.fragment {
        L4Fields::None
    } else {
        fields.l4
    };
    match fields.l3 {
        L3Fields::V4 { src, dst } => {
            buf[..4].copy_from_slice(&src);
            buf[4..8].copy_from_slice(&dst);
            let (ty, sp, dp) = match ports {
                L4Fields::Tcp { src_port, dst_port } if types.contains(HashTypes::TCP_IPV4) => {
                    (HashTypes::TCP_IPV4, src_port, dst_port)
                }
                L4Fields::Udp { src_port, dst_port } if types.contains(HashTypes::UDP_IPV4) => {
                    (HashTypes::UDP_IPV4, src_port, dst_port)
                }
                _ if types.contains(HashTypes::IPV4) => return Some((HashTypes::IPV4, buf, 8)),
                _ => return None,
            };
            buf[8..10].copy_from_slice(&sp.to_be_bytes());
            buf[10..12].copy_from_slice(&dp.to_be_bytes());
            Some((ty, buf, 12))
        }
        L3Fields::V6 {
            src,
            dst,
            home_address,
            routing_dst,
        } => {
            let (l4_types, sp, dp) = match ports {
                L4Fields::Tcp { src_port, dst_port } => (
                    (HashTypes::TCP_IPV6_EX, HashTypes::TCP_IPV6),
                    src_port,
                    dst_port,
                ),
                L4Fields::Udp { src_port, dst_port } => (
                    (HashTypes::UDP_IPV6_EX, HashTypes::UDP_IPV6),
                    src_port,
                    dst_port,
                ),
                L4Fields::None => ((HashTypes::empty(), HashTypes::empty()), 0, 0),
            };
            // Preference: L4 _EX, L4, IP _EX, IP (the _EX type wins when both are enabled).
            let (ty, ex, with_ports) = if !l4_types.0.is_empty() && types.contains(l4_types.0) {
                (l4_types.0, true, true)
            } else if !l4_types.1.is_empty() && types.contains(l4_types.1) {
                (l4_types.1, false, true)
            } else if types.contains(HashTypes::IPV6_EX) {
                (HashTypes::IPV6_EX, true, false)
            } else if types.contains(HashTypes::IPV6) {
                (HashTypes::IPV6, false, false)
            } else {
                return None;
            };
            let s = if ex { home_address.unwrap_or(src) } else { src };
            let d = if ex { routing_dst.unwrap_or(dst) } else { dst };
            buf[..16].copy_from_slice(&s);
            buf[16..32].copy_from_slice(&d);
            if with_ports {
                buf[32..34].copy_from_slice(&sp.to_be_bytes());
                buf[34..36].copy_from_slice(&dp.to_be_bytes());
                Some((ty, buf, 36))
            } else {
                Some((ty, buf, 32))
            }
        }
    }
}

/// Hashes a packet: `None` (no hash, default CPU, hash type cleared) when no enabled type
/// applies.
pub fn hash_packet(t: &Toeplitz, types: HashTypes, fields: &HashFields) -> Option<RssHash> {
    let (hash_type, buf, len) = select_input(types, fields)?;
    Some(RssHash {
        value: t.hash(buf.get(..len).unwrap_or(&buf)),
        hash_type,
    })
}

/// Result of comparing the software hash with the device's hash report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashCheck {
    /// No device report (NONE, or HASH_REPORT not negotiated).
    NotReported,
    /// Same type and value.
    Match,
    /// The device disagrees (different key/types programmed, or a device bug): the software
    /// hash is used and the miniport counts the event (NetKVM `framesRSSError`).
    Mismatch,
}

/// Cross-checks a software hash with a `virtio_net_hdr_v1_hash` report.
pub fn check_device_hash(ours: Option<RssHash>, hash_value: u32, hash_report: u16) -> HashCheck {
    match (ours, HashTypes::from_virtio_report(hash_report)) {
        (_, None) => HashCheck::NotReported,
        (Some(h), Some(t)) if h.hash_type == t && h.value == hash_value => HashCheck::Match,
        _ => HashCheck::Mismatch,
    }
}

// ---------------------------------------------------------------------------------------------
// Indirection table
// ---------------------------------------------------------------------------------------------

/// The RSS indirection table: hash low-order bits → target (queue or CPU index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndirectionTable {
    entries: [u16; MAX_INDIRECTION_ENTRIES],
    mask: u32,
}

impl IndirectionTable {
    /// From NDIS's table: any power-of-two length 1..=128 (spec §6.3: every power of two up
    /// to the maximum must be accepted).
    pub fn new(entries: &[u16]) -> Result<Self, RssError> {
        let n = entries.len();
        if n == 0 || n > MAX_INDIRECTION_ENTRIES || !n.is_power_of_two() {
            return Err(RssError::BadTableLength(n));
        }
        let mut t = IndirectionTable {
            entries: [0; MAX_INDIRECTION_ENTRIES],
            mask: (n - 1) as u32,
        };
        t.entries
            .get_mut(..n)
            .ok_or(RssError::BadTableLength(n))?
            .copy_from_slice(entries);
        Ok(t)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.mask as usize + 1
    }

    /// Never empty (at least one entry).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The entries.
    pub fn entries(&self) -> &[u16] {
        // len() <= MAX_INDIRECTION_ENTRIES (new() checks it).
        self.entries.get(..self.len()).unwrap_or(&self.entries)
    }

    /// Target for `hash` (its low-order bits index the table).
    #[inline]
    pub fn lookup(&self, hash: u32) -> u16 {
        // Masked into the table: the fallback is never taken (and compiles away).
        let i = (hash & self.mask) as usize & (MAX_INDIRECTION_ENTRIES - 1);
        self.entries.get(i).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> [u8; 4] {
        let mut o = [0u8; 4];
        for (d, p) in o.iter_mut().zip(s.split('.')) {
            *d = p.parse().unwrap();
        }
        o
    }

    /// Minimal IPv6 text parser for the test vectors (supports one `::`).
    fn v6(s: &str) -> [u8; 16] {
        let (head, tail) = match s.split_once("::") {
            Some((h, t)) => (h, Some(t)),
            None => (s, None),
        };
        let groups = |p: &str| -> alloc::vec::Vec<u16> {
            if p.is_empty() {
                alloc::vec![]
            } else {
                p.split(':')
                    .map(|g| u16::from_str_radix(g, 16).unwrap())
                    .collect()
            }
        };
        let h = groups(head);
        let t = tail.map(groups).unwrap_or_default();
        let mut words = [0u16; 8];
        words[..h.len()].copy_from_slice(&h);
        words[8 - t.len()..].copy_from_slice(&t);
        let mut o = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            o[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
        }
        o
    }

    // (destination, dport, source, sport, IPv4 only, with TCP) — Learn "Verifying the RSS
    // hash calculation".
    const V4_VECTORS: [(&str, u16, &str, u16, u32, u32); 5] = [
        (
            "161.142.100.80",
            1766,
            "66.9.149.187",
            2794,
            0x323e8fc2,
            0x51ccc178,
        ),
        (
            "65.69.140.83",
            4739,
            "199.92.111.2",
            14230,
            0xd718262a,
            0xc626b0ea,
        ),
        (
            "12.22.207.184",
            38024,
            "24.19.198.95",
            12898,
            0xd2d0a5de,
            0x5c2b394a,
        ),
        (
            "209.142.163.6",
            2217,
            "38.27.205.30",
            48228,
            0x82989176,
            0xafc7327f,
        ),
        (
            "202.188.127.2",
            1303,
            "153.39.163.191",
            44251,
            0x5d1809c5,
            0x10e828a2,
        ),
    ];
    const V6_VECTORS: [(&str, u16, &str, u16, u32, u32); 3] = [
        (
            "3ffe:2501:200:3::1",
            1766,
            "3ffe:2501:200:1fff::7",
            2794,
            0x2cc18cd5,
            0x40207d3d,
        ),
        (
            "ff02::1",
            4739,
            "3ffe:501:8::260:97ff:fe40:efab",
            14230,
            0x0f0c461c,
            0xdde51bbf,
        ),
        (
            "fe80::200:f8ff:fe21:67cf",
            38024,
            "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
            44251,
            0x4b61e985,
            0x02d1feef,
        ),
    ];

    fn ms() -> Toeplitz {
        Toeplitz::new(&MICROSOFT_TEST_KEY).unwrap()
    }

    #[test]
    fn rss_microsoft_vectors_ipv4_table_and_bitwise() {
        let t = ms();
        for (dst, dport, src, sport, h2, h4) in V4_VECTORS {
            let (s, d) = (v4(src), v4(dst));
            assert_eq!(t.hash_ipv4(s, d), h2, "{src}->{dst}");
            assert_eq!(t.hash_ipv4_ports(s, d, sport, dport), h4, "{src}->{dst}");
            let mut input = [0u8; 12];
            input[..4].copy_from_slice(&s);
            input[4..8].copy_from_slice(&d);
            input[8..10].copy_from_slice(&sport.to_be_bytes());
            input[10..].copy_from_slice(&dport.to_be_bytes());
            assert_eq!(toeplitz_bitwise(&MICROSOFT_TEST_KEY, &input[..8]), h2);
            assert_eq!(toeplitz_bitwise(&MICROSOFT_TEST_KEY, &input), h4);
            assert_eq!(t.hash(&input), h4);
        }
    }

    #[test]
    fn rss_microsoft_vectors_ipv6_table_and_bitwise() {
        let t = ms();
        for (dst, dport, src, sport, h2, h4) in V6_VECTORS {
            let (s, d) = (v6(src), v6(dst));
            assert_eq!(t.hash_ipv6(&s, &d), h2, "{src}->{dst}");
            assert_eq!(t.hash_ipv6_ports(&s, &d, sport, dport), h4, "{src}->{dst}");
            let mut input = [0u8; 36];
            input[..16].copy_from_slice(&s);
            input[16..32].copy_from_slice(&d);
            input[32..34].copy_from_slice(&sport.to_be_bytes());
            input[34..].copy_from_slice(&dport.to_be_bytes());
            assert_eq!(toeplitz_bitwise(&MICROSOFT_TEST_KEY, &input[..32]), h2);
            assert_eq!(toeplitz_bitwise(&MICROSOFT_TEST_KEY, &input), h4);
        }
    }

    #[test]
    fn rss_hash_packet_uses_4_tuple_for_tcp_and_udp() {
        let t = ms();
        let (dst, dport, src, sport, _, h4) = V4_VECTORS[0];
        let l3 = L3Fields::V4 {
            src: v4(src),
            dst: v4(dst),
        };
        let tcp = HashFields {
            l3,
            l4: L4Fields::Tcp {
                src_port: sport,
                dst_port: dport,
            },
            fragment: false,
        };
        let all = HashTypes::all();
        assert_eq!(
            hash_packet(&t, all, &tcp),
            Some(RssHash {
                value: h4,
                hash_type: HashTypes::TCP_IPV4
            })
        );
        // UDP hashes the same bytes under its own type.
        let udp = HashFields {
            l4: L4Fields::Udp {
                src_port: sport,
                dst_port: dport,
            },
            ..tcp
        };
        assert_eq!(
            hash_packet(&t, all, &udp),
            Some(RssHash {
                value: h4,
                hash_type: HashTypes::UDP_IPV4
            })
        );
    }

    #[test]
    fn rss_fragments_use_2_tuple() {
        let t = ms();
        let (dst, dport, src, sport, h2, _) = V4_VECTORS[1];
        let f = HashFields {
            l3: L3Fields::V4 {
                src: v4(src),
                dst: v4(dst),
            },
            l4: L4Fields::Tcp {
                src_port: sport,
                dst_port: dport,
            },
            fragment: true,
        };
        assert_eq!(
            hash_packet(&t, HashTypes::all(), &f),
            Some(RssHash {
                value: h2,
                hash_type: HashTypes::IPV4
            })
        );
        // A fragment with only the TCP type enabled gets no hash at all.
        assert_eq!(hash_packet(&t, HashTypes::TCP_IPV4, &f), None);
    }

    #[test]
    fn rss_falls_back_to_2_tuple_when_l4_type_disabled_or_missing() {
        let t = ms();
        let (dst, dport, src, sport, h2, _) = V4_VECTORS[2];
        let l3 = L3Fields::V4 {
            src: v4(src),
            dst: v4(dst),
        };
        let udp = HashFields {
            l3,
            l4: L4Fields::Udp {
                src_port: sport,
                dst_port: dport,
            },
            fragment: false,
        };
        // UDP hashing not enabled (pre-6.80 stacks): IPv4 2-tuple.
        let types = HashTypes::IPV4 | HashTypes::TCP_IPV4;
        assert_eq!(
            hash_packet(&t, types, &udp),
            Some(RssHash {
                value: h2,
                hash_type: HashTypes::IPV4
            })
        );
        let other = HashFields {
            l4: L4Fields::None,
            ..udp
        };
        assert_eq!(
            hash_packet(&t, types, &other),
            Some(RssHash {
                value: h2,
                hash_type: HashTypes::IPV4
            })
        );
        // Nothing applicable enabled: no hash.
        assert_eq!(hash_packet(&t, HashTypes::TCP_IPV4, &other), None);
        assert_eq!(
            hash_packet(&t, HashTypes::IPV6 | HashTypes::TCP_IPV6, &udp),
            None
        );
    }

    #[test]
    fn rss_ipv6_ex_uses_home_address_and_routing_header() {
        let t = ms();
        let (dst, dport, src, sport, _, h4) = V6_VECTORS[0];
        let (ha, rd) = (v6(V6_VECTORS[2].2), v6(V6_VECTORS[2].0));
        let f = HashFields {
            l3: L3Fields::V6 {
                src: v6(src),
                dst: v6(dst),
                home_address: Some(ha),
                routing_dst: Some(rd),
            },
            l4: L4Fields::Tcp {
                src_port: sport,
                dst_port: dport,
            },
            fragment: false,
        };
        // _EX: the option addresses replace src/dst.
        let got = hash_packet(&t, HashTypes::all(), &f).unwrap();
        assert_eq!(got.hash_type, HashTypes::TCP_IPV6_EX);
        let mut input = [0u8; 36];
        input[..16].copy_from_slice(&ha);
        input[16..32].copy_from_slice(&rd);
        input[32..34].copy_from_slice(&sport.to_be_bytes());
        input[34..].copy_from_slice(&dport.to_be_bytes());
        assert_eq!(got.value, toeplitz_bitwise(&MICROSOFT_TEST_KEY, &input));
        // Without the _EX type the header addresses are used: the published vector.
        let got = hash_packet(&t, HashTypes::TCP_IPV6 | HashTypes::IPV6, &f).unwrap();
        assert_eq!(
            got,
            RssHash {
                value: h4,
                hash_type: HashTypes::TCP_IPV6
            }
        );
        // _EX enabled but no options present: the header addresses, type still _EX.
        let plain = HashFields {
            l3: L3Fields::V6 {
                src: v6(src),
                dst: v6(dst),
                home_address: None,
                routing_dst: None,
            },
            ..f
        };
        assert_eq!(
            hash_packet(&t, HashTypes::all(), &plain),
            Some(RssHash {
                value: h4,
                hash_type: HashTypes::TCP_IPV6_EX
            })
        );
    }

    #[test]
    fn rss_ipv6_2_tuple_vector_and_ex_ip_only() {
        let t = ms();
        let (dst, _, src, _, h2, _) = V6_VECTORS[1];
        let f = HashFields {
            l3: L3Fields::V6 {
                src: v6(src),
                dst: v6(dst),
                home_address: None,
                routing_dst: None,
            },
            l4: L4Fields::None,
            fragment: false,
        };
        assert_eq!(
            hash_packet(&t, HashTypes::IPV6, &f),
            Some(RssHash {
                value: h2,
                hash_type: HashTypes::IPV6
            })
        );
        assert_eq!(
            hash_packet(&t, HashTypes::IPV6 | HashTypes::IPV6_EX, &f)
                .unwrap()
                .hash_type,
            HashTypes::IPV6_EX
        );
    }

    #[test]
    fn rss_table_equals_bitwise_for_arbitrary_keys_and_inputs() {
        // xorshift pseudo-random keys of every length and inputs of every length.
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for klen in 1..=KEY_LEN {
            let key: alloc::vec::Vec<u8> = (0..klen).map(|_| next() as u8).collect();
            let t = Toeplitz::new(&key).unwrap();
            for ilen in 0..=MAX_INPUT {
                let input: alloc::vec::Vec<u8> = (0..ilen).map(|_| next() as u8).collect();
                assert_eq!(
                    t.hash(&input),
                    toeplitz_bitwise(&key, &input),
                    "klen {klen} ilen {ilen}"
                );
            }
        }
    }

    #[test]
    fn rss_table_hash_equals_bitwise_for_every_input_length() {
        // Lengths that are not a multiple of the four XOR chains, and past MAX_INPUT (only
        // the first 36 bytes count).
        let key: alloc::vec::Vec<u8> = (0..40u32).map(|i| (i * 89 + 17) as u8).collect();
        let input: alloc::vec::Vec<u8> = (0..44u32).map(|i| (i * 53 + 201) as u8).collect();
        let t = Toeplitz::new(&key).unwrap();
        for len in 0..=input.len() {
            let want = toeplitz_bitwise(&key, &input[..len.min(MAX_INPUT)]);
            assert_eq!(t.hash(&input[..len]), want, "len {len}");
        }
    }

    #[test]
    fn rss_set_key_rebuilds_table() {
        let mut t = Toeplitz::new(&[0xff; 40]).unwrap();
        let before = t.hash_ipv4(v4("1.2.3.4"), v4("5.6.7.8"));
        t.set_key(&MICROSOFT_TEST_KEY).unwrap();
        assert_ne!(before, t.hash_ipv4(v4("1.2.3.4"), v4("5.6.7.8")));
        assert_eq!(
            t.hash_ipv4(v4(V4_VECTORS[0].2), v4(V4_VECTORS[0].0)),
            V4_VECTORS[0].4
        );
        assert_eq!(t.key(), &MICROSOFT_TEST_KEY[..]);
    }

    #[test]
    fn rss_key_length_validated() {
        assert_eq!(Toeplitz::new(&[]).unwrap_err(), RssError::BadKeyLength(0));
        assert_eq!(
            Toeplitz::new(&[0; 41]).unwrap_err(),
            RssError::BadKeyLength(41)
        );
        let mut t = ms();
        assert_eq!(t.set_key(&[0; 52]), Err(RssError::BadKeyLength(52)));
        assert_eq!(t.key(), &MICROSOFT_TEST_KEY[..]); // unchanged
    }

    #[test]
    fn rss_indirection_table_power_of_two_low_bits() {
        for n in [1usize, 2, 4, 8, 16, 32, 64, 128] {
            let entries: alloc::vec::Vec<u16> = (0..n as u16).collect();
            let t = IndirectionTable::new(&entries).unwrap();
            assert_eq!(t.len(), n);
            for h in [0u32, 1, 5, 127, 128, 0xdead_beef, u32::MAX] {
                assert_eq!(usize::from(t.lookup(h)), (h as usize) % n);
            }
        }
        for n in [0usize, 3, 6, 100, 129, 256] {
            assert_eq!(
                IndirectionTable::new(&alloc::vec![0u16; n]),
                Err(RssError::BadTableLength(n))
            );
        }
    }

    #[test]
    fn rss_virtio_hash_type_mapping() {
        // virtio bits: IPv4 0, TCPv4 1, UDPv4 2, IPv6 3, TCPv6 4, UDPv6 5, IP_EX 6, TCP_EX 7, UDP_EX 8.
        assert_eq!(HashTypes::IPV4.to_virtio(), 1 << 0);
        assert_eq!(HashTypes::TCP_IPV4.to_virtio(), 1 << 1);
        assert_eq!(HashTypes::UDP_IPV4.to_virtio(), 1 << 2);
        assert_eq!(HashTypes::IPV6.to_virtio(), 1 << 3);
        assert_eq!(HashTypes::TCP_IPV6.to_virtio(), 1 << 4);
        assert_eq!(HashTypes::UDP_IPV6.to_virtio(), 1 << 5);
        assert_eq!(HashTypes::IPV6_EX.to_virtio(), 1 << 6);
        assert_eq!(HashTypes::TCP_IPV6_EX.to_virtio(), 1 << 7);
        assert_eq!(HashTypes::UDP_IPV6_EX.to_virtio(), 1 << 8);
        assert_eq!(HashTypes::from_virtio(0x1ff), HashTypes::all());
        assert_eq!(
            HashTypes::from_virtio(0x12 | 0x8000_0000),
            HashTypes::TCP_IPV4 | HashTypes::TCP_IPV6
        );
        // Report values: NONE 0, IPv4 1 … UDPv6_EX 9.
        assert_eq!(HashTypes::from_virtio_report(0), None);
        assert_eq!(HashTypes::from_virtio_report(2), Some(HashTypes::TCP_IPV4));
        assert_eq!(
            HashTypes::from_virtio_report(8),
            Some(HashTypes::TCP_IPV6_EX)
        );
        assert_eq!(
            HashTypes::from_virtio_report(9),
            Some(HashTypes::UDP_IPV6_EX)
        );
        assert_eq!(HashTypes::from_virtio_report(10), None);
    }

    #[test]
    fn rss_caps_flags_differ_from_hash_types() {
        assert_eq!(HashTypes::TCP_IPV4.to_caps_flags(), 0x100);
        assert_eq!(
            (HashTypes::TCP_IPV6 | HashTypes::TCP_IPV6_EX).to_caps_flags(),
            0x600
        );
        assert_eq!(
            (HashTypes::UDP_IPV4 | HashTypes::UDP_IPV6 | HashTypes::UDP_IPV6_EX).to_caps_flags(),
            0x3800
        );
        assert_eq!((HashTypes::IPV4 | HashTypes::IPV6).to_caps_flags(), 0);
    }

    #[test]
    fn rss_hash_information_validation() {
        let sup = HashTypes::all();
        assert_eq!(
            parse_hash_information(0x201, sup),
            Ok((1, HashTypes::TCP_IPV4))
        );
        assert_eq!(
            parse_hash_information(0x0, sup),
            Ok((0, HashTypes::empty()))
        );
        assert_eq!(
            parse_hash_information(0x202, sup),
            Err(RssError::UnsupportedHashFunction(2))
        );
        assert_eq!(
            parse_hash_information(0x0100_0001, sup),
            Err(RssError::UnknownHashType(0x0100_0001))
        );
        assert_eq!(
            parse_hash_information(0x20_0001, sup),
            Err(RssError::UnknownHashType(0x20_0000))
        );
        assert_eq!(
            parse_hash_information(0x4001, HashTypes::TCP_IPV4),
            Err(RssError::UnsupportedHashType(HashTypes::UDP_IPV4))
        );
    }

    #[test]
    fn rss_device_hash_cross_check() {
        let ours = Some(RssHash {
            value: 7,
            hash_type: HashTypes::TCP_IPV4,
        });
        assert_eq!(check_device_hash(ours, 7, 2), HashCheck::Match);
        assert_eq!(check_device_hash(ours, 8, 2), HashCheck::Mismatch);
        assert_eq!(check_device_hash(ours, 7, 1), HashCheck::Mismatch);
        assert_eq!(check_device_hash(ours, 7, 0), HashCheck::NotReported);
        assert_eq!(check_device_hash(None, 7, 2), HashCheck::Mismatch);
    }
}
