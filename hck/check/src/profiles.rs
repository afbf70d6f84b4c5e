//! Profiles (`hck/profiles/*.psd1|*.json`): the files Configure.ps1 applies and Verify.ps1
//! checks. This module validates them the way `Resolve-HckKeywordValue` in
//! `hck/lib/NetKvmRs.Hck.psm1` does, but against `PARAMS` directly.

use netkvm_core::params::{spec_by_keyword, Domain};

use crate::keywords::value_allowed;
use crate::psd1::{self, Value};

/// A profile reduced to what the scripts use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// `Advanced`: keyword -> value text, in file order.
    pub advanced: Vec<(String, String)>,
    /// `Operational.Rsc`.
    pub rsc_operational: Option<bool>,
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn json_to_value(j: &serde_json::Value) -> Result<Value, String> {
    Ok(match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Int(
            n.as_i64()
                .ok_or_else(|| format!("number {n} is not an integer"))?,
        ),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => {
            Value::Array(a.iter().map(json_to_value).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(o) => Value::Table(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), json_to_value(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Parses a profile file's text; `json` selects the format.
pub fn parse(text: &str, json: bool) -> Result<Profile, String> {
    let root = if json {
        let j: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        json_to_value(&j)?
    } else {
        psd1::parse(text).map_err(|e| e.to_string())?
    };
    let entries = root.as_table().ok_or("the profile is not a table")?;
    let mut advanced = Vec::new();
    let mut rsc_operational = None;
    for (section, v) in entries {
        match section.to_ascii_lowercase().as_str() {
            "description" => {
                v.as_str().ok_or("Description is not a string")?;
            }
            "advanced" => {
                for (k, val) in v.as_table().ok_or("Advanced is not a table")? {
                    let text = scalar_text(val)
                        .ok_or_else(|| format!("Advanced.{k}: not a string or integer"))?;
                    advanced.push((k.clone(), text));
                }
            }
            "operational" => {
                for (k, val) in v.as_table().ok_or("Operational is not a table")? {
                    if !k.eq_ignore_ascii_case("Rsc") {
                        return Err(format!("Operational.{k}: unknown (allowed: Rsc)"));
                    }
                    rsc_operational =
                        Some(val.as_bool().ok_or("Operational.Rsc is not a boolean")?);
                }
            }
            _ => {
                return Err(format!(
                    "unknown section `{section}` (allowed: Description, Advanced, Operational)"
                ))
            }
        }
    }
    Ok(Profile {
        advanced,
        rsc_operational,
    })
}

/// Every problem of a parsed profile: unknown keywords, keywords given twice, disallowed values.
/// Enum values may be the registry value or the display text, as Configure.ps1 accepts.
pub fn problems(p: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (k, v)) in p.advanced.iter().enumerate() {
        if p.advanced[..i]
            .iter()
            .any(|(prev, _)| prev.eq_ignore_ascii_case(k))
        {
            out.push(format!("{k}: given twice"));
        }
        let Some(spec) = spec_by_keyword(k) else {
            out.push(format!("{k}: not a driver keyword"));
            continue;
        };
        let by_text = match spec.domain {
            Domain::Enum { choices, .. } => choices.iter().any(|c| c.text.eq_ignore_ascii_case(v)),
            _ => false,
        };
        if !by_text {
            if let Err(e) = value_allowed(spec, v.trim()) {
                out.push(format!("{k} = {v:?}: {e}"));
            }
        }
    }
    out
}
