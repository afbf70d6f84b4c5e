//! `hck/keywords.psd1`: the driver's advanced-property table as the PowerShell scripts read it.
//!
//! [`render`] writes the file from `netkvm_core::params::PARAMS` (the driver's single source of
//! truth); `cargo run -p hck-check --bin hck-keywords -- --write` regenerates it. [`read`] parses
//! the file back into [`Entry`]s without using the renderer, and [`compare`] checks those
//! entries against `PARAMS` field by field — so a renderer bug cannot hide behind a
//! byte-identical file.

use std::fmt::Write as _;

use netkvm_core::params::{Domain, ParamSpec, ParamType};

use crate::psd1::{self, Value};

/// Repository-relative path of the table.
pub const TABLE_PATH: &str = "hck/keywords.psd1";

/// The command that regenerates the table (printed in its header and in failures).
pub const REGENERATE: &str = "cargo run -p hck-check --bin hck-keywords -- --write";

/// Quotes `s` as a PowerShell single-quoted string.
pub fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ps_bool(b: bool) -> &'static str {
    if b {
        "$true"
    } else {
        "$false"
    }
}

/// Renders the table file for `params`.
pub fn render(params: &[ParamSpec]) -> String {
    let mut o = String::new();
    o.push_str("# netkvmrs advanced-property keywords, as the hck/ scripts validate them.\n");
    o.push_str("#\n");
    o.push_str(
        "# GENERATED from crates/netkvm-core/src/params.rs (PARAMS), the table the driver itself\n",
    );
    o.push_str("# reads the registry with. Do not edit: regenerate with\n");
    let _ = writeln!(o, "#     {REGENERATE}");
    o.push_str("# hck-check's tests fail while this file and PARAMS differ.\n");
    o.push_str("#\n");
    o.push_str("# Values are strings because the registry stores them as REG_SZ and\n");
    o.push_str("# Set-NetAdapterAdvancedProperty -RegistryValue takes strings. Shown = $false: the INF has no\n");
    o.push_str("# Ndi\\params entry (the driver still reads the value; set it with New-NetAdapterAdvancedProperty).\n");
    o.push_str("@{\n");
    o.push_str("    Driver   = 'netkvmrs'\n");
    o.push_str("    Keywords = @(\n");
    for (i, p) in params.iter().enumerate() {
        o.push_str("        @{\n");
        let _ = writeln!(o, "            Keyword     = {}", ps_quote(p.keyword));
        let _ = writeln!(o, "            DisplayName = {}", ps_quote(p.desc));
        let _ = writeln!(o, "            Type        = {}", ps_quote(p.ty.inf_name()));
        let _ = writeln!(o, "            Shown       = {}", ps_bool(p.shown));
        let _ = writeln!(o, "            Optional    = {}", ps_bool(p.optional));
        match p.domain {
            Domain::Enum { choices, default } => {
                let _ = writeln!(o, "            Default     = '{default}'");
                o.push_str("            Choices     = @(\n");
                for (i, c) in choices.iter().enumerate() {
                    let sep = if i + 1 < choices.len() { "," } else { "" };
                    let _ = writeln!(
                        o,
                        "                @{{ Value = '{}'; Text = {} }}{sep}",
                        c.value,
                        ps_quote(c.text)
                    );
                }
                o.push_str("            )\n");
            }
            Domain::Range {
                min,
                max,
                step,
                default,
            } => {
                let _ = writeln!(o, "            Default     = '{default}'");
                let _ = writeln!(o, "            Min         = {min}");
                let _ = writeln!(o, "            Max         = {max}");
                let _ = writeln!(o, "            Step        = {step}");
            }
            Domain::Text { limit, upper_case } => {
                o.push_str("            Default     = $null\n");
                let _ = writeln!(o, "            LimitText   = {limit}");
                let _ = writeln!(o, "            UpperCase   = {}", ps_bool(upper_case));
            }
        }
        // Comma-separated items: one array literal, the most conservative form for
        // Import-PowerShellDataFile.
        o.push_str(if i + 1 < params.len() {
            "        },\n"
        } else {
            "        }\n"
        });
    }
    o.push_str("    )\n");
    o.push_str("}\n");
    o
}

/// One keyword as the file states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Registry keyword.
    pub keyword: String,
    /// `ParamDesc` text.
    pub display_name: String,
    /// INF type name (`enum`, `int`, `long`, `dword`, `edit`).
    pub ty: String,
    /// Has an `Ndi\params` entry.
    pub shown: bool,
    /// INF `Optional`.
    pub optional: bool,
    /// Default value (`None` for edit keywords).
    pub default: Option<String>,
    /// Enum choices `(value, text)` (`Choices`; not `Values`, which would shadow the
    /// Hashtable.Values property in PowerShell); empty for non-enum keywords.
    pub values: Vec<(String, String)>,
    /// `(min, max, step)` of numeric keywords.
    pub range: Option<(i64, i64, i64)>,
    /// `(LimitText, UpperCase)` of edit keywords.
    pub text: Option<(i64, bool)>,
}

fn field<'a>(t: &'a Value, key: &str, kw: &str) -> Result<&'a Value, String> {
    t.get(key)
        .ok_or_else(|| format!("keyword {kw}: field `{key}` missing"))
}

fn str_field(t: &Value, key: &str, kw: &str) -> Result<String, String> {
    field(t, key, kw)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("keyword {kw}: `{key}` is not a string"))
}

fn bool_field(t: &Value, key: &str, kw: &str) -> Result<bool, String> {
    field(t, key, kw)?
        .as_bool()
        .ok_or_else(|| format!("keyword {kw}: `{key}` is not $true/$false"))
}

fn int_field(t: &Value, key: &str, kw: &str) -> Result<i64, String> {
    field(t, key, kw)?
        .as_int()
        .ok_or_else(|| format!("keyword {kw}: `{key}` is not an integer"))
}

/// Parses the table file into entries (without consulting `PARAMS`).
pub fn read(text: &str) -> Result<Vec<Entry>, String> {
    let root = psd1::parse(text).map_err(|e| format!("{TABLE_PATH}: {e}"))?;
    let list = root
        .get("Keywords")
        .and_then(Value::as_array)
        .ok_or("`Keywords = @( … )` missing")?;
    let mut out = Vec::new();
    for t in list {
        let keyword = t
            .get("Keyword")
            .and_then(Value::as_str)
            .ok_or("an entry without a string `Keyword`")?
            .to_string();
        let kw = keyword.as_str();
        let ty = str_field(t, "Type", kw)?;
        let default = match field(t, "Default", kw)? {
            Value::Null => None,
            Value::Str(s) => Some(s.clone()),
            _ => {
                return Err(format!(
                    "keyword {kw}: `Default` is neither a string nor $null"
                ))
            }
        };
        let mut values = Vec::new();
        if let Some(v) = t.get("Choices") {
            for c in v
                .as_array()
                .ok_or_else(|| format!("keyword {kw}: `Choices` is not an array"))?
            {
                values.push((str_field(c, "Value", kw)?, str_field(c, "Text", kw)?));
            }
        }
        let range = if t.get("Min").is_some() {
            Some((
                int_field(t, "Min", kw)?,
                int_field(t, "Max", kw)?,
                int_field(t, "Step", kw)?,
            ))
        } else {
            None
        };
        let text = if t.get("LimitText").is_some() {
            Some((
                int_field(t, "LimitText", kw)?,
                bool_field(t, "UpperCase", kw)?,
            ))
        } else {
            None
        };
        out.push(Entry {
            display_name: str_field(t, "DisplayName", kw)?,
            shown: bool_field(t, "Shown", kw)?,
            optional: bool_field(t, "Optional", kw)?,
            keyword,
            ty,
            default,
            values,
            range,
            text,
        });
    }
    Ok(out)
}

/// Every difference between the file's entries and the driver's table, one message each.
pub fn compare(entries: &[Entry], params: &[ParamSpec]) -> Vec<String> {
    let mut out = Vec::new();
    for p in params {
        // Exact case: the scripts print these names and the table is the reference spelling.
        let Some(e) = entries.iter().find(|e| e.keyword == p.keyword) else {
            out.push(format!("{}: in PARAMS but not in {TABLE_PATH}", p.keyword));
            continue;
        };
        let kw = p.keyword;
        if e.display_name != p.desc {
            out.push(format!(
                "{kw}: DisplayName {:?} != ParamDesc {:?}",
                e.display_name, p.desc
            ));
        }
        if e.ty != p.ty.inf_name() {
            out.push(format!("{kw}: Type {:?} != {:?}", e.ty, p.ty.inf_name()));
        }
        if e.shown != p.shown {
            out.push(format!("{kw}: Shown {} != {}", e.shown, p.shown));
        }
        if e.optional != p.optional {
            out.push(format!("{kw}: Optional {} != {}", e.optional, p.optional));
        }
        let want_default = p.domain.default_value().map(|d| d.to_string());
        if e.default != want_default {
            out.push(format!("{kw}: Default {:?} != {want_default:?}", e.default));
        }
        let (want_values, want_range, want_text) = match p.domain {
            Domain::Enum { choices, .. } => (
                choices
                    .iter()
                    .map(|c| (c.value.to_string(), c.text.to_string()))
                    .collect(),
                None,
                None,
            ),
            Domain::Range { min, max, step, .. } => (
                Vec::new(),
                Some((i64::from(min), i64::from(max), i64::from(step))),
                None,
            ),
            Domain::Text { limit, upper_case } => {
                (Vec::new(), None, Some((i64::from(limit), upper_case)))
            }
        };
        if e.values != want_values {
            out.push(format!("{kw}: Choices {:?} != {want_values:?}", e.values));
        }
        if e.range != want_range {
            out.push(format!(
                "{kw}: Min/Max/Step {:?} != {want_range:?}",
                e.range
            ));
        }
        if e.text != want_text {
            out.push(format!(
                "{kw}: LimitText/UpperCase {:?} != {want_text:?}",
                e.text
            ));
        }
        if p.ty == ParamType::Edit && !e.values.is_empty() {
            out.push(format!("{kw}: an edit keyword must not list Choices"));
        }
    }
    for e in entries {
        if !params.iter().any(|p| p.keyword == e.keyword) {
            out.push(format!(
                "{}: in {TABLE_PATH} but not in PARAMS (or spelled differently)",
                e.keyword
            ));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for e in entries {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&e.keyword)) {
            out.push(format!("{}: listed twice", e.keyword));
        }
        seen.push(&e.keyword);
    }
    out
}

/// Whether `value` is a value Configure.ps1 may write for `p` (mirrors the driver's reader:
/// numbers must be allowed by the domain, `NetworkAddress` must parse as an administered MAC;
/// an empty string for an optional keyword means "remove").
pub fn value_allowed(p: &ParamSpec, value: &str) -> Result<(), String> {
    match p.domain {
        Domain::Text { limit, .. } => {
            if value.is_empty() && p.optional {
                return Ok(());
            }
            if value.len() > limit as usize + 5 {
                return Err(format!("longer than {limit} digits plus separators"));
            }
            netkvm_core::params::MacAddress::parse_network_address(value.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        _ => {
            let v = netkvm_core::params::parse_decimal(value)
                .ok_or_else(|| format!("`{value}` is not a decimal integer"))?;
            if p.domain.allows(v) {
                Ok(())
            } else {
                Err(format!("`{value}` is not an allowed value"))
            }
        }
    }
}
