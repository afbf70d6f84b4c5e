//! Decoding of `OID_GEN_RECEIVE_SCALE_PARAMETERS` and `OID_GEN_RECEIVE_HASH` sets (spec §6.3), and the
//! encoding of their queries. Everything is read from the byte buffer with bounds checks: offsets and
//! sizes come from the caller and are not trusted.

use ndis_sys as n;
use netkvm_core::rss::{parse_hash_information, HashTypes, IndirectionTable, RssError};

use super::state::{ReceiveHash, RssState};
use super::{Out, SetError};
use crate::datapath::{RssMode, RssSettings, MAX_INDIRECTION};

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..)
        .and_then(<[u8]>::first_chunk)
        .map_or(0, |s| u16::from_le_bytes(*s))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Status for a netkvm-core RSS error.
pub fn rss_error(e: RssError) -> SetError {
    SetError::status(match e {
        RssError::UnsupportedHashFunction(_) | RssError::UnsupportedHashType(_) => {
            n::NDIS_STATUS_NOT_SUPPORTED
        }
        RssError::OutOfMemory => n::NDIS_STATUS_RESOURCES,
        RssError::BadKeyLength(_) | RssError::BadTableLength(_) | RssError::UnknownHashType(_) => {
            n::NDIS_STATUS_INVALID_PARAMETER
        }
    })
}

/// `[offset, offset + size)` inside `buf`, or the error for it.
fn region(buf: &[u8], offset: u32, size: usize) -> Result<&[u8], SetError> {
    let start = usize::try_from(offset).map_err(|_| SetError::invalid_data())?;
    let end = start.checked_add(size).ok_or_else(SetError::invalid_data)?;
    if end > buf.len() {
        let needed = u32::try_from(end).map_err(|_| SetError::invalid_data())?;
        return Err(SetError::length(needed));
    }
    buf.get(start..end).ok_or_else(SetError::invalid_data)
}

/// Processor index used for queue selection (single-group view: group × 64 + number).
pub fn cpu_index(p: n::PROCESSOR_NUMBER) -> u32 {
    u32::from(p.Group) * 64 + u32::from(p.Number)
}

/// Queue pair serving `cpu` when `pairs` pairs exist (NetKVM `FillCPUMappingArray`: round robin).
pub fn queue_for_cpu(cpu: n::PROCESSOR_NUMBER, pairs: u16) -> u16 {
    (cpu_index(cpu) % u32::from(pairs.max(1))) as u16
}

/// Applies an `NDIS_RECEIVE_SCALE_PARAMETERS` buffer to `cur`, returning the new RSS state.
pub fn apply_scale_parameters(
    buf: &[u8],
    cur: &RssState,
    pairs: u16,
) -> Result<RssState, SetError> {
    let min = usize::from(n::NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_1);
    let (Some(&[ty, rev, ..]), true) = (buf.first_chunk::<2>(), buf.len() >= min) else {
        return Err(SetError::length(min as u32));
    };
    let size = usize::from(u16_at(buf, 2));
    if ty != n::NDIS_OBJECT_TYPE_RSS_PARAMETERS || rev == 0 || size < min || size > buf.len() {
        return Err(SetError::invalid_data());
    }
    let rev = if rev >= n::NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_3
        && size >= usize::from(n::NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_3)
    {
        3
    } else if rev >= n::NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2
        && size >= usize::from(n::NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2)
    {
        2
    } else {
        1
    };
    let flags = u16_at(buf, 4);
    let mut next = *cur;
    next.base_cpu = u16_at(buf, 6);
    let mut s = cur.settings;
    if flags & n::NDIS_RSS_PARAM_FLAG_DISABLE_RSS != 0 {
        s.mode = RssMode::Disabled;
        next.settings = s;
        next.hash_information = 0;
        return Ok(next);
    }
    if flags & n::NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED == 0 {
        let info = u32_at(buf, 8);
        if info & 0xFF == 0 {
            // Hash function 0: disable RSS and return to the initial state (spec §6.3).
            s.mode = RssMode::Disabled;
            next.settings = s;
            next.hash_information = 0;
            return Ok(next);
        }
        let (_, types) = parse_hash_information(info, cur.hash_types).map_err(rss_error)?;
        s.hash_types = types;
        next.hash_information = info;
    }
    if flags & n::NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED == 0 {
        let entry = if rev >= 2 { 4 } else { 1 };
        let tsize = usize::from(u16_at(buf, 12));
        if tsize % entry != 0 {
            return Err(SetError::invalid_data());
        }
        let table = region(buf, u32_at(buf, 16), tsize)?;
        let count = tsize / entry;
        let mut queues = [0u16; MAX_INDIRECTION];
        let mut cpus = [n::PROCESSOR_NUMBER::default(); MAX_INDIRECTION];
        if count > MAX_INDIRECTION {
            return Err(rss_error(RssError::BadTableLength(count)));
        }
        for (i, raw) in table.chunks_exact(entry).enumerate() {
            // chunks_exact(entry) yields `entry` bytes: a PROCESSOR_NUMBER (revision 2+) or a
            // CCHAR processor number (revision 1).
            let p = match *raw {
                [g0, g1, number, _] => n::PROCESSOR_NUMBER {
                    Group: u16::from_le_bytes([g0, g1]),
                    Number: number,
                    Reserved: 0,
                },
                [number] => n::PROCESSOR_NUMBER {
                    Group: 0,
                    Number: number,
                    Reserved: 0,
                },
                _ => continue,
            };
            if let (Some(c), Some(q)) = (cpus.get_mut(i), queues.get_mut(i)) {
                *c = p;
                *q = queue_for_cpu(p, pairs);
            }
        }
        // Power of two 1..=128 (every power of two must be accepted, spec §6.3).
        IndirectionTable::new(queues.get(..count).unwrap_or(&[])).map_err(rss_error)?;
        s.table_len = count as u16;
        s.queue_table = queues;
        s.cpu_table = cpus;
    }
    if flags & n::NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED == 0 {
        let ksize = usize::from(u16_at(buf, 20));
        if ksize == 0 || ksize > s.key.len() {
            return Err(rss_error(RssError::BadKeyLength(ksize)));
        }
        let key = region(buf, u32_at(buf, 24), ksize)?;
        s.key = [0; 40];
        s.key
            .get_mut(..ksize)
            .ok_or_else(SetError::invalid_data)?
            .copy_from_slice(key);
        s.key_len = ksize as u8;
    }
    if rev >= 3 && flags & n::NDIS_RSS_PARAM_FLAG_DEFAULT_PROCESSOR_UNCHANGED == 0 {
        let p = n::PROCESSOR_NUMBER {
            Group: u16_at(buf, 40),
            Number: buf.get(42).copied().unwrap_or(0),
            Reserved: 0,
        };
        s.default_processor = p;
        s.default_queue = queue_for_cpu(p, pairs);
    }
    if s.table_len == 0 || s.key_len == 0 || s.hash_types.is_empty() {
        // Enabling RSS needs a table, a key and hash types (from this request or an earlier one).
        return Err(SetError::status(n::NDIS_STATUS_INVALID_PARAMETER));
    }
    s.mode = RssMode::Full;
    next.settings = s;
    Ok(next)
}

/// The query answer of `OID_GEN_RECEIVE_SCALE_PARAMETERS` (revision 2 layout: table of
/// `PROCESSOR_NUMBER`s at 40, then the key).
pub fn write_scale_parameters(rss: &RssState, out: &mut Out) {
    let s = &rss.settings;
    let enabled = s.mode == RssMode::Full;
    let head = usize::from(n::NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2);
    let tlen = if enabled { usize::from(s.table_len) } else { 0 };
    let klen = if enabled { usize::from(s.key_len) } else { 0 };
    out.put_u8(n::NDIS_OBJECT_TYPE_RSS_PARAMETERS);
    out.put_u8(n::NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2);
    out.put_u16(n::NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2);
    out.put_u16(if enabled {
        0
    } else {
        n::NDIS_RSS_PARAM_FLAG_DISABLE_RSS
    });
    out.put_u16(rss.base_cpu);
    out.put_u32(if enabled { rss.hash_information } else { 0 });
    out.put_u16((tlen * 4) as u16);
    out.put_u16(0);
    out.put_u32(head as u32);
    out.put_u16(klen as u16);
    out.put_u16(0);
    out.put_u32((head + tlen * 4) as u32);
    out.put_u32(0);
    out.put_u32(0);
    out.put_u32(0);
    for p in s.cpu_table.iter().take(tlen) {
        out.put_u16(p.Group);
        out.put_u8(p.Number);
        out.put_u8(0);
    }
    out.put_bytes(s.key.get(..klen).unwrap_or(&[]));
}

/// Applies an `NDIS_RECEIVE_HASH_PARAMETERS` set.
pub fn apply_receive_hash(
    buf: &[u8],
    cur: &ReceiveHash,
    supported: HashTypes,
) -> Result<ReceiveHash, SetError> {
    let min = usize::from(n::NDIS_SIZEOF_RECEIVE_HASH_PARAMETERS_REVISION_1);
    let (Some(&[ty, rev, ..]), true) = (buf.first_chunk::<2>(), buf.len() >= min) else {
        return Err(SetError::length(min as u32));
    };
    let size = usize::from(u16_at(buf, 2));
    if ty != n::NDIS_OBJECT_TYPE_DEFAULT || rev == 0 || size < min {
        return Err(SetError::invalid_data());
    }
    let flags = u32_at(buf, 4);
    let mut next = *cur;
    next.enabled = flags & n::NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH != 0;
    if flags & n::NDIS_RECEIVE_HASH_FLAG_HASH_INFO_UNCHANGED == 0 {
        let info = u32_at(buf, 8);
        if next.enabled || info != 0 {
            parse_hash_information(info, supported).map_err(rss_error)?;
        }
        next.hash_information = info;
    }
    if flags & n::NDIS_RECEIVE_HASH_FLAG_HASH_KEY_UNCHANGED == 0 {
        let ksize = usize::from(u16_at(buf, 12));
        if ksize > next.key.len() {
            return Err(rss_error(RssError::BadKeyLength(ksize)));
        }
        let key = region(buf, u32_at(buf, 16), ksize)?;
        next.key = [0; 40];
        if let Some(dst) = next.key.get_mut(..ksize) {
            dst.copy_from_slice(key);
        }
        next.key_len = ksize as u8;
    }
    if next.enabled && (next.key_len == 0 || next.hash_information & 0xFF == 0) {
        return Err(SetError::status(n::NDIS_STATUS_INVALID_PARAMETER));
    }
    Ok(next)
}

/// The query answer of `OID_GEN_RECEIVE_HASH` (structure, key at offset 20).
pub fn write_receive_hash(h: &ReceiveHash, out: &mut Out) {
    let klen = usize::from(h.key_len).min(h.key.len());
    out.put_u8(n::NDIS_OBJECT_TYPE_DEFAULT);
    out.put_u8(n::NDIS_RECEIVE_HASH_PARAMETERS_REVISION_1);
    out.put_u16(n::NDIS_SIZEOF_RECEIVE_HASH_PARAMETERS_REVISION_1);
    out.put_u32(if h.enabled {
        n::NDIS_RECEIVE_HASH_FLAG_ENABLE_HASH
    } else {
        0
    });
    out.put_u32(h.hash_information);
    out.put_u16(klen as u16);
    out.put_u16(0);
    out.put_u32(u32::from(n::NDIS_SIZEOF_RECEIVE_HASH_PARAMETERS_REVISION_1));
    out.put_bytes(h.key.get(..klen).unwrap_or(&[]));
}

/// Settings for a fresh RSS state that only enables hashing (used by tests and `effective_rss`).
pub fn hash_only(h: &ReceiveHash) -> RssSettings {
    let mut s = RssSettings::DISABLED;
    s.mode = RssMode::HashOnly;
    s.hash_types = HashTypes::from_bits_truncate(h.hash_information & 0x00FF_FF00);
    s.key = h.key;
    s.key_len = h.key_len;
    s
}
