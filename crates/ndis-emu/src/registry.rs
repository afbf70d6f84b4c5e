//! The adapter's registry, kept in a file, and the configuration DDIs over it.
//!
//! File format (one value per line; `#` or `;` start a comment):
//! ```text
//! [adapter]                     # the adapter's key (default section)
//! *RscIPv4 = "1"                # REG_SZ (what INF-installed advanced properties are)
//! *JumboPacket = dword:9014     # REG_DWORD (also a bare 9014 or 0x2336)
//! Names = multi:"a","b"         # REG_MULTI_SZ
//! Blob = hex:01,02,ff           # REG_BINARY
//! [driver]                      # the driver's Parameters key (NdisOpenConfigurationEx with
//!                               # the driver handle)
//! ```
//! Keyword lookup is case-insensitive, as registry value names are.
//!
//! Conversions of `NdisReadConfiguration` (what NDIS does with what is stored):
//! * REG_DWORD read as `NdisParameterInteger` or `NdisParameterHexInteger`: the value, reported as
//!   `NdisParameterInteger`; read as `NdisParameterString`: its decimal text.
//! * REG_SZ read as an integer: `RtlUnicodeStringToInteger` with base 10 (`Integer`) or 16
//!   (`HexInteger`): leading white space skipped, an optional sign, then digits until the first
//!   character that is not a digit of the base — so `"12abc"` is 12, `"abc"` is 0 in base 10
//!   and 0xABC in base 16, and `"0x10"` read as hex is 0 (the prefix is only recognised with
//!   base 0, which NDIS does not use). The result is reported as `NdisParameterInteger`.
//! * REG_MULTI_SZ / REG_BINARY read as anything else than themselves (or a string for multi):
//!   `NDIS_STATUS_FAILURE`.
//!
//! `NdisReadNetworkAddress`: the `NetworkAddress` value must be a REG_SZ of hex digits, two per
//! byte (no separators); anything else is `NDIS_STATUS_FAILURE`. (The exact handling of odd
//! lengths and separators by Windows is not documented; the emulator is strict.)
//!
//! Changing a value and re-initialising the adapter is the equivalent of
//! `Set-NetAdapterAdvancedProperty` (which writes the value and restarts the adapter).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndis_sys as n;

use crate::checks::{self, Kind};
use crate::handles::{self, Obj};
use crate::ndis::{guard, lock, Ndis};
use crate::track::{Res, ResKind};

/// A registry value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegValue {
    /// REG_SZ.
    Sz(String),
    /// REG_DWORD.
    Dword(u32),
    /// REG_MULTI_SZ.
    MultiSz(Vec<String>),
    /// REG_BINARY.
    Binary(Vec<u8>),
}

impl RegValue {
    /// A REG_SZ value.
    pub fn sz(s: impl Into<String>) -> Self {
        RegValue::Sz(s.into())
    }
}

/// A parse error in a registry file: line number and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registry line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for RegistryError {}

/// Which key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// The adapter's instance key.
    Adapter,
    /// The driver's Parameters key.
    Driver,
}

/// The registry of one adapter (and its driver), optionally backed by a file.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    adapter: Vec<(String, RegValue)>,
    driver: Vec<(String, RegValue)>,
    path: Option<PathBuf>,
}

fn find(v: &[(String, RegValue)], key: &str) -> Option<usize> {
    v.iter().position(|(k, _)| k.eq_ignore_ascii_case(key))
}

fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    let mut esc = false;
    for (i, c) in chars {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == '"' {
            return Some((out, &s[i + 1..]));
        } else {
            out.push(c);
        }
    }
    None
}

fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Nothing but white space and perhaps a comment (as after a quoted value).
fn is_comment_or_empty(rest: &str) -> bool {
    let r = rest.trim_start();
    r.is_empty() || r.starts_with('#') || r.starts_with(';')
}

fn parse_value(v: &str) -> Result<RegValue, String> {
    let v = v.trim();
    if v.starts_with('"') {
        let (s, rest) = parse_quoted(v).ok_or("unterminated string")?;
        if !is_comment_or_empty(rest) {
            return Err(format!("text after the string: {rest:?}"));
        }
        return Ok(RegValue::Sz(s));
    }
    if let Some(d) = v.strip_prefix("dword:") {
        return parse_u32(d)
            .map(RegValue::Dword)
            .ok_or_else(|| format!("bad dword {d:?}"));
    }
    if let Some(m) = v.strip_prefix("multi:") {
        let mut out = Vec::new();
        let mut rest = m.trim();
        while !is_comment_or_empty(rest) {
            let (s, r) = parse_quoted(rest).ok_or("multi: expects quoted strings")?;
            out.push(s);
            rest = r.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        }
        return Ok(RegValue::MultiSz(out));
    }
    if let Some(h) = v.strip_prefix("hex:") {
        let bytes: Result<Vec<u8>, _> = h
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|b| u8::from_str_radix(b, 16))
            .collect();
        return bytes
            .map(RegValue::Binary)
            .map_err(|_| format!("bad hex bytes {h:?}"));
    }
    parse_u32(v).map(RegValue::Dword).ok_or_else(|| {
        format!("unquoted value {v:?}: use \"text\", dword:N, multi:\"a\",\"b\" or hex:01,02")
    })
}

fn format_value(v: &RegValue) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    match v {
        RegValue::Sz(s) => q(s),
        RegValue::Dword(d) => format!("dword:{d}"),
        RegValue::MultiSz(m) => format!(
            "multi:{}",
            m.iter().map(|s| q(s)).collect::<Vec<_>>().join(",")
        ),
        RegValue::Binary(b) => format!(
            "hex:{}",
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keywords NDIS requires before it initialises an Ethernet adapter: `*IfType` = 6,
    /// `*MediaType` = 0 (802.3), `*PhysicalMediaType` = 14 (802.3), as an INF writes them.
    pub fn with_mandatory() -> Self {
        let mut r = Self::new();
        r.set("*IfType", RegValue::Dword(6));
        r.set("*MediaType", RegValue::Dword(0));
        r.set("*PhysicalMediaType", RegValue::Dword(14));
        r
    }

    /// Parses the text format described in the module documentation.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let mut r = Registry::new();
        let mut section = Section::Adapter;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let err = |reason: String| RegistryError {
                line: i + 1,
                reason,
            };
            if let Some(h) = section_header(line) {
                section = h.map_err(err)?;
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| err("expected key = value".into()))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(err("empty key".into()));
            }
            // A comment after an unquoted value.
            let v = if v.trim_start().starts_with('"') || v.trim_start().starts_with("multi:") {
                v
            } else {
                v.split(['#', ';']).next().unwrap_or(v)
            };
            let value = parse_value(v).map_err(err)?;
            r.set_in(section, k, value);
        }
        Ok(r)
    }

    /// Reads a registry file (and remembers its path for [`Registry::reload`] / [`Registry::save`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p).map_err(|e| RegistryError {
            line: 0,
            reason: format!("{}: {e}", p.display()),
        })?;
        let mut r = Self::parse(&text)?;
        r.path = Some(p.to_path_buf());
        Ok(r)
    }

    /// Re-reads the backing file (after someone edited it).
    pub fn reload(&mut self) -> Result<(), RegistryError> {
        if let Some(p) = self.path.clone() {
            *self = Self::load(p)?;
        }
        Ok(())
    }

    /// The file text of this registry.
    pub fn to_text(&self) -> String {
        let mut s = String::from("[adapter]\n");
        for (k, v) in &self.adapter {
            s += &format!("{k} = {}\n", format_value(v));
        }
        if !self.driver.is_empty() {
            s += "[driver]\n";
            for (k, v) in &self.driver {
                s += &format!("{k} = {}\n", format_value(v));
            }
        }
        s
    }

    /// Writes the registry to `path` and makes it the backing file.
    pub fn save_to(&mut self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path.as_ref(), self.to_text())?;
        self.path = Some(path.as_ref().to_path_buf());
        Ok(())
    }

    /// Writes back to the backing file, if any.
    pub fn save(&self) -> std::io::Result<()> {
        match &self.path {
            Some(p) => std::fs::write(p, self.to_text()),
            None => Ok(()),
        }
    }

    /// Writes `values` into `section` as the Windows registry keeps a write: in this copy and,
    /// when the registry is backed by a file, in the file at once, so that a later
    /// [`Registry::reload`] (an adapter restart) reads them. The file is read, only these values
    /// are changed in its text (other lines, comments and edits someone made to the file since
    /// it was loaded stay), and it is replaced atomically (temporary file + rename).
    ///
    /// Used for what NDIS itself writes: `NdisWriteConfiguration` and the standardized offload
    /// keywords of an `OID_TCP_OFFLOAD_PARAMETERS` set.
    pub fn write_through(
        &mut self,
        section: Section,
        values: &[(&str, RegValue)],
    ) -> Result<(), RegistryError> {
        for (k, v) in values {
            self.set_in(section, k, v.clone());
        }
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let io_err = |what: &str, e: std::io::Error| RegistryError {
            line: 0,
            reason: format!("{what} {}: {e}", path.display()),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // The file went away: it is recreated from this copy.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.to_text(),
            Err(e) => return Err(io_err("cannot read", e)),
        };
        let mut text = text;
        for (k, v) in values {
            text = update_text(&text, section, k, v)?;
        }
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        std::fs::write(&tmp, &text).map_err(|e| io_err("cannot write", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_err("cannot replace", e))
    }

    /// The backing file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn sec(&self, s: Section) -> &Vec<(String, RegValue)> {
        match s {
            Section::Adapter => &self.adapter,
            Section::Driver => &self.driver,
        }
    }

    fn sec_mut(&mut self, s: Section) -> &mut Vec<(String, RegValue)> {
        match s {
            Section::Adapter => &mut self.adapter,
            Section::Driver => &mut self.driver,
        }
    }

    /// Sets an adapter value.
    pub fn set(&mut self, key: &str, v: RegValue) {
        self.set_in(Section::Adapter, key, v);
    }

    /// Sets a value in `section`.
    pub fn set_in(&mut self, section: Section, key: &str, v: RegValue) {
        let s = self.sec_mut(section);
        match find(s, key) {
            Some(i) => s[i].1 = v,
            None => s.push((key.to_string(), v)),
        }
    }

    /// An adapter value.
    pub fn get(&self, key: &str) -> Option<&RegValue> {
        self.get_in(Section::Adapter, key)
    }

    /// A value of `section`.
    pub fn get_in(&self, section: Section, key: &str) -> Option<&RegValue> {
        let s = self.sec(section);
        find(s, key).map(|i| &s[i].1)
    }

    /// Removes an adapter value.
    pub fn remove(&mut self, key: &str) -> Option<RegValue> {
        let s = self.sec_mut(Section::Adapter);
        find(s, key).map(|i| s.remove(i).1)
    }

    /// Adapter keywords.
    pub fn keys(&self) -> Vec<String> {
        self.adapter.iter().map(|(k, _)| k.clone()).collect()
    }
}

/// The section a header line (`[adapter]` / `[driver]`) opens, if `line` is one.
fn section_header(line: &str) -> Option<Result<Section, String>> {
    let s = line.strip_prefix('[')?;
    Some(
        match s.trim_end_matches(']').trim().to_ascii_lowercase().as_str() {
            "adapter" => Ok(Section::Adapter),
            "driver" => Ok(Section::Driver),
            other => Err(format!("unknown section [{other}]")),
        },
    )
}

/// The key of a `key = value` line (trimmed), if `line` is one.
fn line_key(line: &str) -> Option<&str> {
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') || line.starts_with('[') {
        return None;
    }
    line.split_once('=').map(|(k, _)| k.trim())
}

/// `text` (a registry file) with `key` of `section` set to `v`: every line of that key in the
/// section gets the new value (the last one is what [`Registry::parse`] keeps; all are changed so
/// none contradicts it); without one, a line is added after the section's last line, or a new
/// `[section]` at the end.
fn update_text(
    text: &str,
    section: Section,
    key: &str,
    v: &RegValue,
) -> Result<String, RegistryError> {
    let new_line = format!("{key} = {}", format_value(v));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cur = Section::Adapter;
    let mut found = false;
    // Index after which a new line of the section goes (the section's last key or header line).
    let mut anchor: Option<usize> = None;
    for (i, raw) in lines.iter_mut().enumerate() {
        let line = raw.trim();
        if let Some(h) = section_header(line) {
            cur = h.map_err(|reason| RegistryError {
                line: i + 1,
                reason,
            })?;
            if cur == section {
                anchor = Some(i);
            }
            continue;
        }
        if cur != section {
            continue;
        }
        if let Some(k) = line_key(line) {
            anchor = Some(i);
            if k.eq_ignore_ascii_case(key) {
                *raw = new_line.clone();
                found = true;
            }
        }
    }
    if !found {
        match anchor {
            Some(i) => lines.insert(i + 1, new_line),
            None => {
                lines.push(
                    match section {
                        Section::Adapter => "[adapter]",
                        Section::Driver => "[driver]",
                    }
                    .to_string(),
                );
                lines.push(new_line);
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

/// `RtlUnicodeStringToInteger` (see the module documentation). `None` for an invalid base.
pub fn unicode_to_integer(s: &str, base: u32) -> Option<u32> {
    let mut chars = s
        .chars()
        .skip_while(|c| (*c as u32) <= u32::from(b' '))
        .peekable();
    let mut minus = false;
    if let Some(&c) = chars.peek() {
        if c == '+' || c == '-' {
            minus = c == '-';
            chars.next();
        }
    }
    let base = if base == 0 {
        // Prefix detection only with base 0.
        let v: Vec<char> = chars.clone().take(2).collect();
        match (v.first(), v.get(1)) {
            (Some('0'), Some('x' | 'X')) => {
                chars.next();
                chars.next();
                16
            }
            (Some('0'), Some('o' | 'O')) => {
                chars.next();
                chars.next();
                8
            }
            (Some('0'), Some('b' | 'B')) => {
                chars.next();
                chars.next();
                2
            }
            _ => 10,
        }
    } else {
        base
    };
    if ![2, 8, 10, 16].contains(&base) {
        return None;
    }
    let mut total: u32 = 0;
    for c in chars {
        let Some(d) = c.to_digit(16).filter(|d| *d < base) else {
            break;
        };
        total = total.wrapping_mul(base).wrapping_add(d);
    }
    Some(if minus { total.wrapping_neg() } else { total })
}

/// Parses a `NetworkAddress` value (see the module documentation).
pub fn parse_network_address(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('\0');
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// `NDIS_ENVIRONMENT_TYPE::NdisEnvironmentWindowsNt`.
pub const NDIS_ENVIRONMENT_WINDOWS_NT: u32 = 1;
/// `NDIS_PROCESSOR_TYPE::NdisProcessorAmd64`.
pub const NDIS_PROCESSOR_AMD64: u32 = 4;

/// The conversion `NdisReadConfiguration` applies. `None` = `NDIS_STATUS_FAILURE`.
pub fn convert(stored: &RegValue, ty: n::NDIS_PARAMETER_TYPE) -> Option<RegValue> {
    match (stored, ty) {
        (RegValue::Dword(d), n::NdisParameterInteger | n::NdisParameterHexInteger) => {
            Some(RegValue::Dword(*d))
        }
        (RegValue::Dword(d), n::NdisParameterString | n::NdisParameterMultiString) => {
            Some(RegValue::Sz(d.to_string()))
        }
        (RegValue::Sz(s), n::NdisParameterInteger) => {
            unicode_to_integer(s, 10).map(RegValue::Dword)
        }
        (RegValue::Sz(s), n::NdisParameterHexInteger) => {
            unicode_to_integer(s, 16).map(RegValue::Dword)
        }
        (RegValue::Sz(s), n::NdisParameterString | n::NdisParameterMultiString) => {
            Some(RegValue::Sz(s.clone()))
        }
        (RegValue::MultiSz(m), n::NdisParameterMultiString | n::NdisParameterString) => {
            Some(RegValue::MultiSz(m.clone()))
        }
        (RegValue::Binary(b), n::NdisParameterBinary) => Some(RegValue::Binary(b.clone())),
        _ => None,
    }
}

/// An open configuration handle: owns every parameter it returned until it is closed.
pub(crate) struct ConfigObj {
    section: Section,
    owner: usize,
    blocks: Mutex<Vec<usize>>,
}

fn keyword(k: n::PNDIS_STRING) -> Option<String> {
    if k.is_null() {
        return None;
    }
    // SAFETY: non-null NDIS_STRING from the driver.
    let s = unsafe { k.read() };
    // SAFETY: the driver's string has Length bytes at Buffer.
    let units = unsafe { s.as_slice() }?;
    Some(String::from_utf16_lossy(units))
}

/// Allocates a parameter block holding `v`, owned by `cfg`.
fn make_param(cfg: &ConfigObj, v: &RegValue) -> *mut n::NDIS_CONFIGURATION_PARAMETER {
    let hdr = core::mem::size_of::<n::NDIS_CONFIGURATION_PARAMETER>();
    let (ty, payload): (n::NDIS_PARAMETER_TYPE, Vec<u8>) = match v {
        RegValue::Dword(_) => (n::NdisParameterInteger, Vec::new()),
        RegValue::Sz(s) => (
            n::NdisParameterString,
            s.encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        RegValue::MultiSz(m) => {
            let mut u: Vec<u16> = Vec::new();
            for s in m {
                u.extend(s.encode_utf16());
                u.push(0);
            }
            u.push(0);
            (
                n::NdisParameterMultiString,
                u.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        }
        RegValue::Binary(b) => (n::NdisParameterBinary, b.clone()),
    };
    let p = crate::nbl::raw_alloc(hdr + payload.len());
    if p.is_null() {
        return std::ptr::null_mut();
    }
    let data = p.wrapping_add(hdr);
    // SAFETY: the block has `payload.len()` bytes after the header.
    unsafe { std::ptr::copy_nonoverlapping(payload.as_ptr(), data, payload.len()) };
    let pd = match v {
        RegValue::Dword(d) => n::NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: *d },
        RegValue::Sz(_) | RegValue::MultiSz(_) => {
            // Length excludes the terminating NUL of a REG_SZ; a multi-string's Length covers the
            // whole REG_MULTI_SZ data.
            let len = if matches!(v, RegValue::Sz(_)) {
                payload.len() - 2
            } else {
                payload.len()
            };
            n::NDIS_CONFIGURATION_PARAMETER_DATA {
                StringData: n::UNICODE_STRING {
                    Length: len.min(0xFFFE) as u16,
                    MaximumLength: payload.len().min(0xFFFE) as u16,
                    Buffer: data.cast(),
                },
            }
        }
        RegValue::Binary(b) => n::NDIS_CONFIGURATION_PARAMETER_DATA {
            BinaryData: n::BINARY_DATA {
                Length: b.len().min(0xFFFF) as u16,
                Buffer: data.cast(),
            },
        },
    };
    let param = p.cast::<n::NDIS_CONFIGURATION_PARAMETER>();
    // SAFETY: the block starts with room for the parameter header (align 16).
    unsafe {
        param.write(n::NDIS_CONFIGURATION_PARAMETER {
            ParameterType: ty,
            ParameterData: pd,
        })
    };
    lock(&cfg.blocks).push(p as usize);
    param
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisOpenConfigurationEx(
    ConfigObject: n::PNDIS_CONFIGURATION_OBJECT,
    ConfigurationHandle: *mut n::NDIS_HANDLE,
) -> n::NDIS_STATUS {
    const API: &str = "NdisOpenConfigurationEx";
    guard(API, n::NDIS_STATUS_FAILURE, || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if ConfigObject.is_null() || ConfigurationHandle.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL argument");
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null configuration object from the driver.
        let o = unsafe { ConfigObject.read() };
        if o.Header.Type != n::NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT
            || o.Header.Revision < n::NDIS_CONFIGURATION_OBJECT_REVISION_1
            || o.Header.Size < n::NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1
        {
            checks::violation(Kind::BadHeader, API, format!("header {:?}", o.Header));
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        let Some((ndis, owner)) = handles::owner_of(o.NdisHandle, API) else {
            return n::NDIS_STATUS_INVALID_PARAMETER;
        };
        if o.Flags & n::NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION != 0 {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                "filter-instance configuration from a miniport",
            );
            return n::NDIS_STATUS_INVALID_PARAMETER;
        }
        if ndis.fail.should_fail() {
            return n::NDIS_STATUS_RESOURCES;
        }
        let is_driver = matches!(
            handles::lookup(o.NdisHandle as usize),
            Some((_, Obj::Driver(_)))
        );
        let c = Arc::new(ConfigObj {
            section: if is_driver {
                Section::Driver
            } else {
                Section::Adapter
            },
            owner,
            blocks: Mutex::new(Vec::new()),
        });
        let h = Arc::as_ptr(&c) as usize;
        handles::insert(&ndis, h, Obj::Config(c));
        ndis.track.add(
            h,
            Res {
                kind: ResKind::Config,
                owner,
                size: 0,
                tag: 0,
                what: API,
            },
        );
        // SAFETY: non-null output.
        unsafe { *ConfigurationHandle = h as n::NDIS_HANDLE };
        n::NDIS_STATUS_SUCCESS
    })
}

fn read_value(ndis: &Ndis, cfg: &ConfigObj, key: &str) -> Option<RegValue> {
    match key.to_ascii_lowercase().as_str() {
        "environment" => return Some(RegValue::Dword(NDIS_ENVIRONMENT_WINDOWS_NT)),
        "processortype" => return Some(RegValue::Dword(NDIS_PROCESSOR_AMD64)),
        "ndisversion" => return Some(RegValue::Dword(ndis.version_raw())),
        _ => {}
    }
    lock(&ndis.registry).get_in(cfg.section, key).cloned()
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisReadConfiguration(
    Status: *mut n::NDIS_STATUS,
    ParameterValue: *mut n::PNDIS_CONFIGURATION_PARAMETER,
    ConfigurationHandle: n::NDIS_HANDLE,
    Keyword: n::PNDIS_STRING,
    ParameterType: n::NDIS_PARAMETER_TYPE,
) {
    const API: &str = "NdisReadConfiguration";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if Status.is_null() || ParameterValue.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL Status or ParameterValue");
            return;
        }
        let set = |st: n::NDIS_STATUS, p: *mut n::NDIS_CONFIGURATION_PARAMETER| {
            // SAFETY: both out-parameters checked non-null.
            unsafe { *Status = st };
            // SAFETY: as above.
            unsafe { *ParameterValue = p };
        };
        set(n::NDIS_STATUS_FAILURE, std::ptr::null_mut());
        let Some((ndis, cfg)) = handles::config(ConfigurationHandle, API) else {
            return;
        };
        let Some(key) = keyword(Keyword) else {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL or empty Keyword");
            return;
        };
        if !(n::NdisParameterInteger..=n::NdisParameterBinary).contains(&ParameterType) {
            ndis.checks.violation(
                Kind::BadParameter,
                API,
                format!("ParameterType {ParameterType}"),
            );
            return;
        }
        let Some(stored) = read_value(&ndis, &cfg, &key) else {
            return;
        };
        let Some(v) = convert(&stored, ParameterType) else {
            return;
        };
        let p = make_param(&cfg, &v);
        if p.is_null() {
            set(n::NDIS_STATUS_RESOURCES, p);
        } else {
            set(n::NDIS_STATUS_SUCCESS, p);
        }
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisWriteConfiguration(
    Status: *mut n::NDIS_STATUS,
    ConfigurationHandle: n::NDIS_HANDLE,
    Keyword: n::PNDIS_STRING,
    ParameterValue: n::PNDIS_CONFIGURATION_PARAMETER,
) {
    const API: &str = "NdisWriteConfiguration";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if Status.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL Status");
            return;
        }
        // SAFETY: non-null out-parameter.
        unsafe { *Status = n::NDIS_STATUS_FAILURE };
        let Some((ndis, cfg)) = handles::config(ConfigurationHandle, API) else {
            return;
        };
        let (Some(key), false) = (keyword(Keyword), ParameterValue.is_null()) else {
            ndis.checks
                .violation(Kind::BadParameter, API, "NULL Keyword or ParameterValue");
            return;
        };
        // SAFETY: non-null parameter from the driver.
        let p = unsafe { ParameterValue.read() };
        let v = match p.value() {
            n::ConfigValue::Integer(i) => RegValue::Dword(i),
            n::ConfigValue::String { length, buffer } if !buffer.is_null() => {
                // SAFETY: the driver's string of `length` bytes.
                let units = unsafe { std::slice::from_raw_parts(buffer, usize::from(length) / 2) };
                if p.ParameterType == n::NdisParameterMultiString {
                    RegValue::MultiSz(
                        String::from_utf16_lossy(units)
                            .split('\0')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                    )
                } else {
                    RegValue::Sz(String::from_utf16_lossy(units))
                }
            }
            n::ConfigValue::Binary { length, buffer } if !buffer.is_null() => {
                // SAFETY: the driver's `length` bytes.
                RegValue::Binary(
                    unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), usize::from(length)) }
                        .to_vec(),
                )
            }
            other => {
                ndis.checks
                    .violation(Kind::BadParameter, API, format!("unusable value {other:?}"));
                return;
            }
        };
        // The registry keeps the value: an adapter restart reads it back from the file.
        if let Err(e) = lock(&ndis.registry).write_through(cfg.section, &[(&key, v)]) {
            ndis.checks.warning(
                Kind::Registry,
                API,
                format!("{key} is set for this session only: registry file: {e}"),
            );
        }
        // SAFETY: non-null out-parameter.
        unsafe { *Status = n::NDIS_STATUS_SUCCESS };
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisCloseConfiguration(ConfigurationHandle: n::NDIS_HANDLE) {
    const API: &str = "NdisCloseConfiguration";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        let Some((ndis, cfg)) = handles::config(ConfigurationHandle, API) else {
            return;
        };
        for b in std::mem::take(&mut *lock(&cfg.blocks)) {
            crate::nbl::raw_free(b as *mut u8);
        }
        let _ = cfg.owner;
        handles::remove(ConfigurationHandle as usize);
        ndis.track
            .remove(ResKind::Config, ConfigurationHandle as usize);
    })
}

#[unsafe(no_mangle)]
pub(crate) unsafe extern "system" fn NdisReadNetworkAddress(
    Status: *mut n::NDIS_STATUS,
    NetworkAddress: *mut n::PVOID,
    NetworkAddressLength: *mut n::UINT,
    ConfigurationHandle: n::NDIS_HANDLE,
) {
    const API: &str = "NdisReadNetworkAddress";
    guard(API, (), || {
        checks::irql_exactly(n::PASSIVE_LEVEL, API);
        if Status.is_null() || NetworkAddress.is_null() || NetworkAddressLength.is_null() {
            checks::violation(Kind::BadParameter, API, "NULL out-parameter");
            return;
        }
        // SAFETY: non-null out-parameters.
        unsafe { *Status = n::NDIS_STATUS_FAILURE };
        // SAFETY: as above.
        unsafe { *NetworkAddress = std::ptr::null_mut() };
        // SAFETY: as above.
        unsafe { *NetworkAddressLength = 0 };
        let Some((ndis, cfg)) = handles::config(ConfigurationHandle, API) else {
            return;
        };
        let Some(RegValue::Sz(s)) = read_value(&ndis, &cfg, "NetworkAddress") else {
            return;
        };
        let Some(bytes) = parse_network_address(&s) else {
            return;
        };
        let p = crate::nbl::raw_alloc(bytes.len());
        if p.is_null() {
            // SAFETY: non-null out-parameter.
            unsafe { *Status = n::NDIS_STATUS_RESOURCES };
            return;
        }
        // SAFETY: `p` has bytes.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        lock(&cfg.blocks).push(p as usize);
        // SAFETY: non-null out-parameters.
        unsafe { *NetworkAddress = p.cast() };
        // SAFETY: as above.
        unsafe { *NetworkAddressLength = bytes.len() as u32 };
        // SAFETY: as above.
        unsafe { *Status = n::NDIS_STATUS_SUCCESS };
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtl_unicode_string_to_integer_rules() {
        assert_eq!(unicode_to_integer("  42", 10), Some(42));
        assert_eq!(
            unicode_to_integer("12abc", 10),
            Some(12),
            "stops at the first non-digit"
        );
        assert_eq!(
            unicode_to_integer("abc", 10),
            Some(0),
            "no digits is 0, not an error"
        );
        assert_eq!(unicode_to_integer("abc", 16), Some(0xABC));
        assert_eq!(
            unicode_to_integer("0x10", 16),
            Some(0),
            "prefix only with base 0"
        );
        assert_eq!(unicode_to_integer("0x10", 0), Some(16));
        assert_eq!(unicode_to_integer("-1", 10), Some(u32::MAX));
        assert_eq!(unicode_to_integer("+7", 10), Some(7));
        assert_eq!(unicode_to_integer("1", 7), None, "invalid base");
    }

    #[test]
    fn file_updates_change_only_the_written_keys_in_their_section() {
        let text = "; top\nA = \"1\"\n[driver]\nA = \"d\"\n[adapter]\nB = 2 # two\n";
        // Case-insensitive match; the driver's A and the comments stay.
        let t = update_text(text, Section::Adapter, "a", &RegValue::sz("0")).unwrap();
        assert_eq!(
            t,
            "; top\na = \"0\"\n[driver]\nA = \"d\"\n[adapter]\nB = 2 # two\n"
        );
        // A new adapter key goes after the adapter section's last line, not into [driver].
        let t = update_text(text, Section::Adapter, "C", &RegValue::Dword(3)).unwrap();
        assert!(t.ends_with("B = 2 # two\nC = dword:3\n"), "{t}");
        let t = update_text(text, Section::Driver, "D", &RegValue::sz("x")).unwrap();
        assert!(t.contains("A = \"d\"\nD = \"x\"\n[adapter]"), "{t}");
        // No such section yet: it is created.
        let t = update_text("A = 1\n", Section::Driver, "D", &RegValue::Dword(1)).unwrap();
        assert_eq!(t, "A = 1\n[driver]\nD = dword:1\n");
        // Every line of the key changes (the last one is what a parse keeps).
        let t = update_text("A = 1\nA = 2\n", Section::Adapter, "A", &RegValue::Dword(5)).unwrap();
        assert_eq!(
            Registry::parse(&t).unwrap().get("A"),
            Some(&RegValue::Dword(5))
        );
        assert!(!t.contains("= 1") && !t.contains("= 2"), "{t}");
        assert!(update_text("[bad]\n", Section::Adapter, "A", &RegValue::Dword(1)).is_err());
    }

    #[test]
    fn network_address_needs_an_even_count_of_hex_digits() {
        assert_eq!(
            parse_network_address("02AbCd0F1e2D"),
            Some(vec![2, 0xAB, 0xCD, 0x0F, 0x1E, 0x2D])
        );
        assert_eq!(parse_network_address("02-ab-cd-ef-01-02"), None);
        assert_eq!(parse_network_address("123"), None);
        assert_eq!(parse_network_address(""), None);
        assert_eq!(parse_network_address("zz"), None);
    }
}
