//! `inf/netkvmrs.inx` and the advanced-property table (`netkvm_core::params::PARAMS`) must
//! agree on keyword set, INF type, range / enum values and texts, default and `ParamDesc`.
//!
//! A small INF reader (sections, `;` comments outside quotes, `\` continuation, quoted strings,
//! `%strkey%` substitution from `[Strings]`, `%%` escapes) follows the model → DDInstall →
//! `AddReg` chain from `[Manufacturer]`, collects the `HKR, Ndi\params\...` lines of the
//! referenced sections, and compares them with the table. The comparator is itself tested
//! against mutated copies of the INF so that a disagreement cannot pass unnoticed.

use std::collections::BTreeMap;

use netkvm_core::params::{Domain, ParamSpec, PARAMS};

fn inf_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../inf/netkvmrs.inx");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

// ------------------------------------------------------------------------------------------
// INF reader
// ------------------------------------------------------------------------------------------

/// One token of a line: its text after unquoting and string substitution.
type Fields = Vec<String>;

#[derive(Debug, Default)]
struct Inf {
    /// Section name (lower case) → lines, each split into (key, fields).
    sections: BTreeMap<String, Vec<(Option<String>, Fields)>>,
    /// `%strkey%` tokens that did not resolve.
    unresolved: Vec<String>,
}

/// Splits `s` at `sep` outside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_q = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' {
            in_q = !in_q;
        } else if c == sep && !in_q {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn strip_comment(line: &str) -> &str {
    let mut in_q = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_q = !in_q,
            ';' if !in_q => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Logical lines: comments removed, `\` continuations joined, blank lines dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut acc = String::new();
    for raw in text.lines() {
        let l = strip_comment(raw).trim_end();
        if let Some(head) = l.strip_suffix('\\') {
            acc.push_str(head);
            continue;
        }
        acc.push_str(l);
        if !acc.trim().is_empty() {
            out.push(acc.trim().to_string());
        }
        acc.clear();
    }
    out
}

/// Turns a raw token into its value: quoted → contents (`""` → `"`, `%%` → `%`);
/// unquoted `%key%` → the `[Strings]` value.
fn token_value(
    raw: &str,
    strings: &BTreeMap<String, String>,
    unresolved: &mut Vec<String>,
) -> String {
    let t = raw.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        return t[1..t.len() - 1].replace("\"\"", "\"").replace("%%", "%");
    }
    // Unquoted: substitute every %key% (a lone "%%" is a literal percent).
    let mut out = String::new();
    let mut rest = t;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        match after.find('%') {
            Some(0) => {
                out.push('%');
                rest = &after[1..];
            }
            Some(q) => {
                let key = &after[..q];
                // %13% etc. are DIRIDs, kept verbatim.
                if key.chars().all(|c| c.is_ascii_digit()) {
                    out.push('%');
                    out.push_str(key);
                    out.push('%');
                } else if let Some(v) = strings.get(&key.to_ascii_lowercase()) {
                    out.push_str(v);
                } else {
                    unresolved.push(key.to_string());
                }
                rest = &after[q + 1..];
            }
            None => {
                out.push_str(&rest[p..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_inf(text: &str) -> Inf {
    let lines = logical_lines(text);
    // First pass: [Strings].
    let mut strings = BTreeMap::new();
    let mut current = String::new();
    for l in &lines {
        if l.starts_with('[') && l.ends_with(']') {
            current = l[1..l.len() - 1].trim().to_ascii_lowercase();
        } else if current == "strings" {
            let parts = split_outside_quotes(l, '=');
            if parts.len() == 2 {
                let v = parts[1].trim();
                let v = if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
                    v[1..v.len() - 1].replace("%%", "%")
                } else {
                    v.to_string()
                };
                strings.insert(parts[0].trim().to_ascii_lowercase(), v);
            }
        }
    }
    let mut inf = Inf::default();
    let mut current = String::new();
    for l in &lines {
        if l.starts_with('[') && l.ends_with(']') {
            current = l[1..l.len() - 1].trim().to_ascii_lowercase();
            inf.sections.entry(current.clone()).or_default();
            continue;
        }
        if current == "strings" {
            continue;
        }
        let eq = split_outside_quotes(l, '=');
        let (key, rest) = if eq.len() >= 2 && !eq[0].contains(',') {
            (Some(eq[0].trim().to_string()), eq[1..].join("="))
        } else {
            (None, l.clone())
        };
        let fields = split_outside_quotes(&rest, ',')
            .into_iter()
            .map(|f| token_value(f, &strings, &mut inf.unresolved))
            .collect();
        inf.sections
            .entry(current.clone())
            .or_default()
            .push((key, fields));
    }
    inf
}

impl Inf {
    fn section(&self, name: &str) -> &[(Option<String>, Fields)] {
        self.sections
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Values of `key = ...` directives in a section (first field of each).
    fn directive(&self, section: &str, key: &str) -> Vec<&Fields> {
        self.section(section)
            .iter()
            .filter(|(k, _)| k.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key)))
            .map(|(_, f)| f)
            .collect()
    }

    /// The DDInstall sections of every model (base name with the `.NT` decoration Windows
    /// prefers, falling back to the undecorated name).
    fn install_sections(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in self
            .section("Manufacturer")
            .iter()
            .filter_map(|(k, f)| k.as_ref().map(|_| f))
        {
            let Some(base) = f.first() else { continue };
            let models: Vec<String> = if f.len() == 1 {
                vec![base.clone()]
            } else {
                f[1..]
                    .iter()
                    .map(|d| format!("{}.{}", base, d.trim()))
                    .collect()
            };
            for m in models {
                for (_, mf) in self.section(&m) {
                    let Some(install) = mf.first() else { continue };
                    let install = install.trim().to_string();
                    let chosen = [format!("{install}.NT"), install.clone()]
                        .into_iter()
                        .find(|s| self.sections.contains_key(&s.to_ascii_lowercase()))
                        .unwrap_or(install);
                    if !out.contains(&chosen) {
                        out.push(chosen);
                    }
                }
            }
        }
        out
    }

    /// AddReg sections referenced from the install sections (software key).
    fn addreg_sections(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.install_sections() {
            for f in self.directive(&s, "AddReg") {
                for name in f {
                    let name = name.trim().to_string();
                    if !name.is_empty() && !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        out
    }
}

// ------------------------------------------------------------------------------------------
// Ndi\params extraction and comparison
// ------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct InfParam {
    /// Value name (lower case) → data.
    values: BTreeMap<String, String>,
    /// Enum entries in INF order.
    enum_entries: Vec<(String, String)>,
}

/// Collects every `HKR, Ndi\params\<kw>[\enum], name, flags, data` line. Returns the params of
/// referenced AddReg sections and the sections with params lines that nothing references.
fn ndi_params(inf: &Inf) -> (BTreeMap<String, InfParam>, Vec<String>) {
    let referenced: Vec<String> = inf
        .addreg_sections()
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let mut params: BTreeMap<String, InfParam> = BTreeMap::new();
    let mut orphan_sections = Vec::new();
    for (name, lines) in &inf.sections {
        for (key, f) in lines {
            if key.is_some() || f.len() < 5 || !f[0].trim().eq_ignore_ascii_case("HKR") {
                continue;
            }
            let subkey = f[1].trim();
            let Some(rest) = subkey
                .get(..11)
                .filter(|p| p.eq_ignore_ascii_case("Ndi\\params\\"))
                .map(|_| &subkey[11..])
            else {
                continue;
            };
            if !referenced.contains(name) {
                if !orphan_sections.contains(name) {
                    orphan_sections.push(name.clone());
                }
                continue;
            }
            let (kw, is_enum) = match rest.rsplit_once('\\') {
                Some((kw, e)) if e.eq_ignore_ascii_case("enum") => (kw.to_string(), true),
                _ => (rest.to_string(), false),
            };
            let entry = params.entry(kw).or_default();
            let (vname, data) = (f[2].trim().to_string(), f[4].to_string());
            if is_enum {
                entry.enum_entries.push((vname, data));
            } else {
                entry.values.insert(vname.to_ascii_lowercase(), data);
            }
        }
    }
    (params, orphan_sections)
}

const KNOWN_VALUE_NAMES: &[&str] = &[
    "paramdesc",
    "type",
    "default",
    "optional",
    "min",
    "max",
    "step",
    "limittext",
    "uppercase",
];

fn expect_value(out: &mut Vec<String>, kw: &str, p: &InfParam, name: &str, want: Option<&str>) {
    let got = p.values.get(name).map(String::as_str);
    if got != want {
        out.push(format!(
            "{kw}: {name} is {got:?} in the INF, table says {want:?}"
        ));
    }
}

/// Every disagreement between `inf_text` and the table, as readable lines.
fn compare(inf_text: &str, table: &[ParamSpec]) -> Vec<String> {
    let inf = parse_inf(inf_text);
    let (params, orphans) = ndi_params(&inf);
    let mut out = Vec::new();
    for o in orphans {
        out.push(format!(
            "section [{o}] holds Ndi\\params lines but no install section references it"
        ));
    }
    for u in &inf.unresolved {
        out.push(format!("%{u}% has no [Strings] entry"));
    }
    for spec in table {
        let found = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(spec.keyword));
        let Some((inf_kw, p)) = found else {
            if spec.shown {
                out.push(format!(
                    "{}: shown in the table but missing from the INF",
                    spec.keyword
                ));
            }
            continue;
        };
        if !spec.shown {
            out.push(format!(
                "{}: hidden in the table but present in the INF",
                spec.keyword
            ));
            continue;
        }
        let kw = spec.keyword;
        if inf_kw != kw {
            out.push(format!("{kw}: spelled {inf_kw} in the INF"));
        }
        for name in p.values.keys() {
            if !KNOWN_VALUE_NAMES.contains(&name.as_str()) {
                out.push(format!("{kw}: unexpected value name {name}"));
            }
        }
        expect_value(&mut out, kw, p, "paramdesc", Some(spec.desc));
        let ty = p.values.get("type").map(|t| t.to_ascii_lowercase());
        if ty.as_deref() != Some(spec.ty.inf_name()) {
            out.push(format!(
                "{kw}: Type {ty:?} in the INF, table says {}",
                spec.ty.inf_name()
            ));
        }
        let optional = p.values.get("optional").map_or("0", String::as_str);
        if optional != if spec.optional { "1" } else { "0" } {
            out.push(format!(
                "{kw}: Optional {optional} in the INF, table says {}",
                spec.optional
            ));
        }
        match spec.domain {
            Domain::Enum { choices, default } => {
                expect_value(&mut out, kw, p, "default", Some(&default.to_string()));
                for n in ["min", "max", "step", "limittext", "uppercase"] {
                    expect_value(&mut out, kw, p, n, None);
                }
                let want: Vec<(String, String)> = choices
                    .iter()
                    .map(|c| (c.value.to_string(), c.text.to_string()))
                    .collect();
                if p.enum_entries != want {
                    out.push(format!(
                        "{kw}: enum entries {:?} in the INF, table says {want:?}",
                        p.enum_entries
                    ));
                }
            }
            Domain::Range {
                min,
                max,
                step,
                default,
            } => {
                expect_value(&mut out, kw, p, "default", Some(&default.to_string()));
                expect_value(&mut out, kw, p, "min", Some(&min.to_string()));
                expect_value(&mut out, kw, p, "max", Some(&max.to_string()));
                expect_value(&mut out, kw, p, "step", Some(&step.to_string()));
                if !p.enum_entries.is_empty() {
                    out.push(format!("{kw}: numeric keyword with enum entries"));
                }
            }
            Domain::Text { limit, upper_case } => {
                if p.values
                    .get("default")
                    .is_some_and(|d| !d.trim().is_empty())
                {
                    out.push(format!("{kw}: text keyword with a non-empty default"));
                }
                expect_value(&mut out, kw, p, "limittext", Some(&limit.to_string()));
                expect_value(
                    &mut out,
                    kw,
                    p,
                    "uppercase",
                    Some(if upper_case { "1" } else { "0" }),
                );
                if !p.enum_entries.is_empty() {
                    out.push(format!("{kw}: text keyword with enum entries"));
                }
            }
        }
    }
    for kw in params.keys() {
        if !table.iter().any(|s| s.keyword.eq_ignore_ascii_case(kw)) {
            out.push(format!(
                "{kw}: in the INF but not in the table (the driver never reads it)"
            ));
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[test]
fn inf_params_agree_with_table() {
    let mismatches = compare(&inf_text(), PARAMS);
    assert!(
        mismatches.is_empty(),
        "INF and params table disagree:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn inf_shows_every_shown_keyword_and_only_those() {
    let inf = parse_inf(&inf_text());
    let (params, orphans) = ndi_params(&inf);
    assert!(orphans.is_empty());
    let shown: Vec<&str> = PARAMS
        .iter()
        .filter(|p| p.shown)
        .map(|p| p.keyword)
        .collect();
    assert_eq!(params.len(), shown.len());
    for kw in shown {
        assert!(params.contains_key(kw), "{kw}");
    }
    assert!(!params.contains_key("*LsoV1IPv4"));
}

/// Applies `from → to` to the real INF (asserting it matched) and returns the mismatches.
fn mutated(from: &str, to: &str) -> Vec<String> {
    let text = inf_text();
    assert!(
        text.contains(from),
        "mutation anchor {from:?} not in the INF"
    );
    compare(&text.replacen(from, to, 1), PARAMS)
}

fn assert_caught(m: Vec<String>, needle: &str) {
    assert!(!m.is_empty(), "mutation not detected");
    assert!(
        m.iter().any(|l| l.contains(needle)),
        "expected a mismatch mentioning {needle:?}, got {m:?}"
    );
}

#[test]
fn inf_agreement_detects_changed_default() {
    assert_caught(
        mutated(
            "HKR, Ndi\\params\\*RscIPv4,               Default,   0, \"1\"",
            "HKR, Ndi\\params\\*RscIPv4, Default, 0, \"0\"",
        ),
        "*RscIPv4: default",
    );
}

#[test]
fn inf_agreement_detects_changed_max() {
    assert_caught(
        mutated("Max,       0, \"65500\"", "Max,       0, \"9014\""),
        "*JumboPacket: max",
    );
}

#[test]
fn inf_agreement_detects_missing_enum_value() {
    assert_caught(
        mutated(
            "HKR, Ndi\\params\\RxCapacity\\enum,        \"4096\",    0, \"4096\"\n",
            "",
        ),
        "RxCapacity: enum",
    );
}

#[test]
fn inf_agreement_detects_changed_enum_text_via_strings() {
    assert_caught(
        mutated(
            "TxEnabled            = \"Tx Enabled\"",
            "TxEnabled = \"Transmit Enabled\"",
        ),
        "enum entries",
    );
}

#[test]
fn inf_agreement_detects_changed_param_desc() {
    assert_caught(
        mutated(
            "JumboPacket          = \"Jumbo Packet\"",
            "JumboPacket = \"Jumbo Frame\"",
        ),
        "*JumboPacket: paramdesc",
    );
}

#[test]
fn inf_agreement_detects_changed_type() {
    assert_caught(
        mutated(
            "HKR, Ndi\\params\\*NumRssQueues,          Type,      0, \"int\"",
            "HKR, Ndi\\params\\*NumRssQueues, Type, 0, \"long\"",
        ),
        "*NumRssQueues: Type",
    );
}

#[test]
fn inf_agreement_detects_missing_keyword() {
    let text = inf_text();
    let filtered: String = text
        .lines()
        .filter(|l| !l.contains("Ndi\\params\\*UsoIPv6"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(filtered, text);
    assert_caught(
        compare(&filtered, PARAMS),
        "*UsoIPv6: shown in the table but missing",
    );
}

#[test]
fn inf_agreement_detects_unknown_keyword() {
    assert_caught(
        mutated(
            "[Netkvmrs.Params]\n",
            "[Netkvmrs.Params]\nHKR, Ndi\\params\\*FlowControl, ParamDesc, 0, \"Flow Control\"\n",
        ),
        "*FlowControl: in the INF but not in the table",
    );
}

#[test]
fn inf_agreement_detects_hidden_keyword_shown() {
    assert_caught(
        mutated(
            "[Netkvmrs.Params]\n",
            "[Netkvmrs.Params]\nHKR, Ndi\\params\\*LsoV1IPv4, ParamDesc, 0, \"LSOv1\"\n",
        ),
        "*LsoV1IPv4: hidden in the table but present",
    );
}

#[test]
fn inf_agreement_detects_unreferenced_params_section() {
    assert_caught(
        mutated(
            "AddReg             = Netkvmrs.Reg, Netkvmrs.Params",
            "AddReg = Netkvmrs.Reg",
        ),
        "no install section references",
    );
}

#[test]
fn inf_agreement_detects_unresolved_string_key() {
    assert_caught(
        mutated("ParamDesc, 0, %RSS%", "ParamDesc, 0, %RSSx%"),
        "%RSSx% has no [Strings] entry",
    );
}

#[test]
fn inf_agreement_detects_optional_flag_change() {
    assert_caught(
        mutated(
            "HKR, Ndi\\params\\NetworkAddress,         Optional,  0, \"1\"",
            "HKR, Ndi\\params\\NetworkAddress, Optional, 0, \"0\"",
        ),
        "NetworkAddress: Optional",
    );
}

#[test]
fn inf_agreement_detects_table_change() {
    // The other direction: a table that differs from the INF is caught as well.
    let mut table: Vec<ParamSpec> = PARAMS.to_vec();
    let i = table.iter().position(|p| p.keyword == "VlanID").unwrap();
    if let Domain::Range { ref mut max, .. } = table[i].domain {
        *max = 4095;
    }
    assert_caught(compare(&inf_text(), &table), "VlanID: max");
}

// ------------------------------------------------------------------------------------------
// INF structure (what Windows needs beyond the params)
// ------------------------------------------------------------------------------------------

fn first(inf: &Inf, section: &str, key: &str) -> String {
    inf.directive(section, key)
        .first()
        .map(|f| f.join(","))
        .unwrap_or_default()
}

#[test]
fn inf_version_section_and_stamping_placeholder() {
    let text = inf_text();
    let inf = parse_inf(&text);
    assert_eq!(first(&inf, "Version", "Class"), "Net");
    assert_eq!(
        first(&inf, "Version", "ClassGUID"),
        "{4d36e972-e325-11ce-bfc1-08002be10318}"
    );
    assert_eq!(first(&inf, "Version", "CatalogFile"), "netkvmrs.cat");
    assert_eq!(
        first(&inf, "Version", "Signature").to_ascii_uppercase(),
        "$WINDOWS NT$"
    );
    // The packager replaces exactly this line (agreed with helper "build").
    assert!(text
        .lines()
        .any(|l| l == "DriverVer   = 01/01/2000,0.0.0.0"));
    assert!(inf.unresolved.is_empty(), "{:?}", inf.unresolved);
}

#[test]
fn inf_models_cover_transitional_and_modern_virtio_net() {
    let inf = parse_inf(&inf_text());
    let manu = first(&inf, "Manufacturer", "%Vendor%");
    assert!(manu.contains("NT$ARCH$.10.0...16299"), "{manu}");
    let models = inf.section("Netkvmrs.NT$ARCH$.10.0...16299");
    let ids: Vec<String> = models
        .iter()
        .flat_map(|(_, f)| f[1..].iter().map(|s| s.trim().to_string()))
        .collect();
    for id in ["PCI\\VEN_1AF4&DEV_1000", "PCI\\VEN_1AF4&DEV_1041"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    assert_eq!(inf.install_sections(), vec!["Netkvmrs.ndi.NT".to_string()]);
}

#[test]
fn inf_install_section_has_mandatory_ndis_keywords() {
    let inf = parse_inf(&inf_text());
    let s = "Netkvmrs.ndi.NT";
    assert_eq!(first(&inf, s, "Characteristics"), "0x84"); // NCF_PHYSICAL | NCF_HAS_UI
    assert_eq!(first(&inf, s, "BusType"), "5"); // PCIBus
    assert_eq!(first(&inf, s, "*IfType"), "6"); // IF_TYPE_ETHERNET_CSMACD
    assert_eq!(first(&inf, s, "*MediaType"), "0"); // NdisMedium802_3
    assert_eq!(first(&inf, s, "*PhysicalMediaType"), "14"); // NdisPhysicalMedium802_3
    let reg = inf.section("Netkvmrs.Reg");
    let has = |sub: &str, name: &str, val: &str| {
        reg.iter().any(|(_, f)| {
            f.len() >= 5
                && f[1].trim().eq_ignore_ascii_case(sub)
                && f[2].trim() == name
                && f[4] == val
        })
    };
    assert!(has("Ndi", "Service", "netkvmrs"));
    assert!(has("Ndi\\Interfaces", "UpperRange", "ndis5"));
    assert!(has("Ndi\\Interfaces", "LowerRange", "ethernet"));
}

#[test]
fn inf_service_is_a_demand_start_ndis_kernel_driver() {
    let inf = parse_inf(&inf_text());
    let add = first(&inf, "Netkvmrs.ndi.NT.Services", "AddService");
    assert!(add.starts_with("netkvmrs,2,Netkvmrs.Service"), "{add}");
    let s = "Netkvmrs.Service";
    assert_eq!(first(&inf, s, "ServiceType"), "1");
    assert_eq!(first(&inf, s, "StartType"), "3");
    assert_eq!(first(&inf, s, "ErrorControl"), "1");
    assert_eq!(first(&inf, s, "LoadOrderGroup"), "NDIS");
    assert_eq!(first(&inf, s, "ServiceBinary"), "%13%\\netkvmrs.sys");
    assert_eq!(first(&inf, "SourceDisksFiles", "netkvmrs.sys"), "1,,");
}

#[test]
fn inf_enables_msi() {
    let inf = parse_inf(&inf_text());
    assert_eq!(
        first(&inf, "Netkvmrs.ndi.NT.HW", "AddReg"),
        "Netkvmrs.Interrupts"
    );
    let msi = inf.section("Netkvmrs.Interrupts");
    let val = |name: &str| {
        msi.iter()
            .find(|(_, f)| f.len() >= 5 && f[2].trim() == name)
            .map(|(_, f)| (f[3].trim().to_string(), f[4].trim().to_string()))
    };
    assert_eq!(val("MSISupported"), Some(("0x00010001".into(), "1".into())));
    let (ty, limit) = val("MessageNumberLimit").unwrap();
    assert_eq!(ty, "0x00010001");
    // Enough for 2 messages per queue pair at the largest *NumRssQueues plus config/control.
    assert!(limit.parse::<u32>().unwrap() > 2 * netkvm_core::params::MAX_RSS_QUEUES);
}

#[test]
fn inf_reader_handles_quotes_comments_continuations_and_escapes() {
    let inf = parse_inf(
        "[Strings]\nA = \"x;y\"\nP = \"50%%\"\n[S]\nk = %A%, \"q;\"\"r\" ; comment\nHKR, a\\\n b, n, 0, %P%\n",
    );
    let s = inf.section("s");
    assert_eq!(s[0].0.as_deref(), Some("k"));
    assert_eq!(s[0].1, vec!["x;y".to_string(), "q;\"r".to_string()]);
    assert_eq!(s[1].1, vec!["HKR", "a b", "n", "0", "50%"]);
}
