//! The registry reader: netkvm-core's [`ConfigSource`] over `NdisOpenConfigurationEx` +
//! `NdisReadConfiguration` (`NdisParameterInteger` for numbers, `NdisParameterString` for text) and
//! `NdisReadNetworkAddress` for `NetworkAddress` (NDIS parses the value; it comes back as bytes and is
//! re-validated by netkvm-core: unicast, non-zero, locally administered). Every keyword of netkvm-core's
//! table is read ([`Config::read`]); bad values fall back to the default and each produces a log line.
//!
//! PASSIVE_LEVEL only (InitializeEx).

use core::ptr;

use ndis_sys as n;
use netkvm_core::params::{parse_decimal, Config, ConfigSource, RegInt, RegStr};

use crate::log;

/// Longest keyword this reader handles (the table's longest is `NumberOfHandledRXPacketsInDPC`).
const MAX_KEYWORD: usize = 64;

/// An open configuration handle of the adapter's registry key; closed on drop.
pub struct NdisRegistry {
    handle: n::NDIS_HANDLE,
}

impl NdisRegistry {
    /// `NdisOpenConfigurationEx` for the adapter (PASSIVE_LEVEL).
    pub fn open(miniport: n::NDIS_HANDLE) -> Result<Self, n::NDIS_STATUS> {
        let mut obj = n::NDIS_CONFIGURATION_OBJECT {
            Header: n::NDIS_OBJECT_HEADER::new(
                n::NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
                n::NDIS_CONFIGURATION_OBJECT_REVISION_1,
                n::NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
            ),
            NdisHandle: miniport,
            Flags: 0,
        };
        let mut handle: n::NDIS_HANDLE = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL; `obj` is a complete revision-1 object naming our adapter; `handle` is
        // writable.
        let st = unsafe { n::NdisOpenConfigurationEx(&mut obj, &mut handle) };
        if st != n::NDIS_STATUS_SUCCESS || handle.is_null() {
            return Err(if st == n::NDIS_STATUS_SUCCESS {
                n::NDIS_STATUS_FAILURE
            } else {
                st
            });
        }
        Ok(Self { handle })
    }

    /// `NdisReadConfiguration`: the parameter (owned by NDIS until close) or `None` if absent.
    fn read(&self, keyword: &str, ty: n::NDIS_PARAMETER_TYPE) -> Option<n::ConfigValue> {
        let mut units = [0u16; MAX_KEYWORD];
        let len = keyword.len();
        if len > MAX_KEYWORD || !keyword.is_ascii() {
            return None;
        }
        for (d, s) in units.iter_mut().zip(keyword.bytes()) {
            *d = u16::from(s);
        }
        let bytes = (len * 2) as u16;
        let mut name = n::NDIS_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: units.as_mut_ptr(),
        };
        let mut status: n::NDIS_STATUS = n::NDIS_STATUS_FAILURE;
        let mut param: n::PNDIS_CONFIGURATION_PARAMETER = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL; the handle is open; `name` describes `len` UTF-16 units in `units`, which
        // outlives the call; out-parameters are writable.
        unsafe { n::NdisReadConfiguration(&mut status, &mut param, self.handle, &mut name, ty) };
        if status != n::NDIS_STATUS_SUCCESS {
            return None;
        }
        // SAFETY: on success NDIS returns a parameter valid until NdisCloseConfiguration (our drop).
        unsafe { param.as_ref() }.map(n::NDIS_CONFIGURATION_PARAMETER::value)
    }

    fn network_address(&self, buf: &mut [u8]) -> RegStr {
        let mut status: n::NDIS_STATUS = n::NDIS_STATUS_FAILURE;
        let mut addr: n::PVOID = ptr::null_mut();
        let mut len: n::UINT = 0;
        // SAFETY: PASSIVE_LEVEL; the handle is open; out-parameters are writable.
        unsafe { n::NdisReadNetworkAddress(&mut status, &mut addr, &mut len, self.handle) };
        if status != n::NDIS_STATUS_SUCCESS || addr.is_null() {
            // NDIS fails the call both for "absent" and for an unparsable value; the latter cannot be
            // told apart here, and either way no override applies.
            return RegStr::Absent;
        }
        if len != 6 {
            return RegStr::Invalid;
        }
        // SAFETY: NDIS returned `len` (= 6) bytes at `addr`, valid until the configuration is closed.
        let mac = unsafe { core::slice::from_raw_parts(addr.cast::<u8>(), 6) };
        format_mac(mac, buf)
    }
}

/// Writes a MAC as 12 hex digits (the registry form netkvm-core parses).
fn format_mac(mac: &[u8], buf: &mut [u8]) -> RegStr {
    // A nibble (0..=15) as an upper-case hex digit.
    let hex = |n: u8| if n < 10 { b'0' + n } else { b'A' + (n - 10) };
    let Some(out) = buf.get_mut(..12) else {
        return RegStr::Invalid;
    };
    for (pair, b) in out.as_chunks_mut::<2>().0.iter_mut().zip(mac) {
        *pair = [hex(b >> 4), hex(b & 0xF)];
    }
    RegStr::Len(12)
}

/// Copies a UTF-16 registry string as ASCII into `buf`.
fn utf16_to_ascii(units: &[u16], buf: &mut [u8]) -> RegStr {
    // REG_SZ values may carry their terminating NUL inside Length.
    let units = match units.iter().position(|&u| u == 0) {
        Some(end) => units.get(..end).unwrap_or(&[]),
        None => units,
    };
    let Some(dst) = buf.get_mut(..units.len()) else {
        return RegStr::Invalid;
    };
    for (d, &u) in dst.iter_mut().zip(units) {
        match u8::try_from(u) {
            Ok(b) if b.is_ascii() => *d = b,
            _ => return RegStr::Invalid,
        }
    }
    RegStr::Len(units.len())
}

impl Drop for NdisRegistry {
    fn drop(&mut self) {
        // SAFETY: opened by NdisOpenConfigurationEx, closed once.
        unsafe { n::NdisCloseConfiguration(self.handle) };
    }
}

impl ConfigSource for NdisRegistry {
    fn read_int(&self, keyword: &str) -> RegInt {
        match self.read(keyword, n::NdisParameterInteger) {
            None => RegInt::Absent,
            Some(n::ConfigValue::Integer(v)) => RegInt::Value(i64::from(v)),
            // NDIS hands back the string when it could not convert it: parse it ourselves (a
            // negative or blank-padded value still gets the right diagnosis).
            Some(n::ConfigValue::String { length, buffer }) => {
                if buffer.is_null() {
                    return RegInt::Invalid;
                }
                // SAFETY: NDIS owns `length` bytes of UTF-16 at `buffer` until the configuration closes.
                let units = unsafe { core::slice::from_raw_parts(buffer, usize::from(length) / 2) };
                let mut ascii = [0u8; 32];
                match utf16_to_ascii(units, &mut ascii) {
                    RegStr::Len(len) => core::str::from_utf8(ascii.get(..len).unwrap_or(&[]))
                        .ok()
                        .and_then(parse_decimal)
                        .map_or(RegInt::Invalid, RegInt::Value),
                    _ => RegInt::Invalid,
                }
            }
            Some(_) => RegInt::Invalid,
        }
    }

    fn read_str(&self, keyword: &str, buf: &mut [u8]) -> RegStr {
        if keyword.eq_ignore_ascii_case("NetworkAddress") {
            return self.network_address(buf);
        }
        match self.read(keyword, n::NdisParameterString) {
            None => RegStr::Absent,
            Some(n::ConfigValue::String { length, buffer }) => {
                if buffer.is_null() {
                    return RegStr::Len(0);
                }
                // SAFETY: as in `read_int`.
                let units = unsafe { core::slice::from_raw_parts(buffer, usize::from(length) / 2) };
                utf16_to_ascii(units, buf)
            }
            Some(_) => RegStr::Invalid,
        }
    }
}

/// Reads the adapter's configuration; a registry that cannot be opened gives the table defaults (logged).
pub fn read_config(miniport: n::NDIS_HANDLE) -> Config {
    let (config, warnings) = match NdisRegistry::open(miniport) {
        Ok(reg) => Config::read(&reg),
        Err(st) => {
            log!(
                Error,
                "NdisOpenConfigurationEx failed ({:#010x}): using defaults",
                st as u32
            );
            return Config::default();
        }
    };
    for w in warnings.iter() {
        log!(Warn, "{}", w);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_address_bytes_are_formatted_as_twelve_hex_digits() {
        let mut buf = [0u8; 64];
        assert_eq!(
            format_mac(&[0x02, 0xAB, 0, 1, 0xFE, 0x10], &mut buf),
            RegStr::Len(12)
        );
        assert_eq!(&buf[..12], b"02AB0001FE10");
        assert_eq!(format_mac(&[1; 6], &mut [0u8; 11]), RegStr::Invalid);
    }

    #[test]
    fn utf16_strings_convert_to_ascii_and_stop_at_nul() {
        let mut buf = [0u8; 8];
        let w: [u16; 5] = [b'1' as u16, b'5' as u16, b'1' as u16, b'4' as u16, 0];
        assert_eq!(utf16_to_ascii(&w, &mut buf), RegStr::Len(4));
        assert_eq!(&buf[..4], b"1514");
        assert_eq!(
            utf16_to_ascii(&[0x20AC], &mut buf),
            RegStr::Invalid,
            "non-ASCII"
        );
        assert_eq!(
            utf16_to_ascii(&[b'1' as u16; 9], &mut buf),
            RegStr::Invalid,
            "too long"
        );
    }

    #[test]
    fn a_formatted_network_address_round_trips_through_core_validation() {
        let mut buf = [0u8; 64];
        let RegStr::Len(n) = format_mac(&[0x02, 0x11, 0x22, 0x33, 0x44, 0x55], &mut buf) else {
            panic!()
        };
        let mac = netkvm_core::params::MacAddress::parse_network_address(&buf[..n]).unwrap();
        assert_eq!(mac.0, [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        // A universally administered address NDIS hands back is still refused by core.
        let RegStr::Len(n) = format_mac(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55], &mut buf) else {
            panic!()
        };
        assert!(netkvm_core::params::MacAddress::parse_network_address(&buf[..n]).is_err());
    }
}
