//! PowerShell checks without PowerShell: the tree-sitter grammar for syntax, plus the kit's
//! rules (a subset of what PSScriptAnalyzer enforces, and things it cannot know: the driver's
//! keywords and the kit module's functions).
//!
//! Rules (each message names its rule):
//! * `syntax`: the file parses without ERROR/MISSING nodes;
//! * `ascii`: ASCII only — Windows PowerShell 5.1 reads a BOM-less file in the ANSI code page;
//! * `script-help`: a `.ps1` starts with comment-based help having .SYNOPSIS, .DESCRIPTION,
//!   .EXAMPLE, .NOTES with the exit codes, and a .PARAMETER for exactly the declared parameters;
//! * `cmdletbinding`: the script's `param()` carries `[CmdletBinding(...)]`;
//! * `strict`: `Set-StrictMode -Version Latest` and `$ErrorActionPreference = 'Stop'`;
//! * `exit-codes`: a script maps errors to exit codes through `Write-HckFailure`;
//! * `function-help` / `approved-verb` / `should-process`: every function has .SYNOPSIS help,
//!   an approved verb, and `SupportsShouldProcess` when its verb changes state;
//! * `alias`, `forbidden-command`: no command aliases, no Invoke-Expression or Write-Host;
//! * `null-comparison`: `$null` goes on the left of `-eq`/`-ne`;
//! * `ps51`: no PowerShell 7-only syntax (`&&`, `||`, `??`, `?.`, `-AsHashtable`, `-Parallel`);
//! * `scoped-variable`: no `"$name:"` in expandable strings (parsed as a drive/scope reference);
//! * `unknown-command`: every Verb-Noun command is defined in the file, exported by the kit
//!   module, or a known Windows cmdlet;
//! * `unknown-parameter`: calls to the kit's own functions use only their declared parameters;
//! * `keyword`: every driver keyword the file names exists in the driver's table.

use std::collections::BTreeMap;

use tree_sitter::{Node, Tree};

/// Parses PowerShell source.
pub fn parse_tree(text: &str) -> Option<Tree> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .ok()?;
    parser.parse(text, None)
}

fn node_text<'a>(n: Node<'_>, src: &'a str) -> &'a str {
    src.get(n.byte_range()).unwrap_or("")
}

fn line(n: Node<'_>) -> usize {
    n.start_position().row + 1
}

/// Every node of the tree in document order.
fn all_nodes(tree: &Tree) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    'outer: loop {
        out.push(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                break 'outer;
            }
        }
    }
    out
}

/// Syntax errors as `line N: ...` messages.
pub fn syntax_errors(text: &str) -> Vec<String> {
    let Some(tree) = parse_tree(text) else {
        return vec!["syntax: the parser gave up".into()];
    };
    all_nodes(&tree)
        .into_iter()
        .filter(|n| n.is_error() || n.is_missing())
        .map(|n| {
            let snippet: String = node_text(n, text).chars().take(60).collect();
            format!(
                "syntax: line {}: {} near {:?}",
                line(n),
                if n.is_missing() {
                    format!("missing `{}`", n.kind())
                } else {
                    "cannot parse".to_string()
                },
                snippet
            )
        })
        .collect()
}

/// A function defined in a file: name, declared parameters, whether it has help with .SYNOPSIS,
/// whether its `[CmdletBinding()]` enables ShouldProcess.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// `Verb-Noun`.
    pub name: String,
    /// Declared parameter names (without `$`).
    pub params: Vec<String>,
    /// Has a help comment with `.SYNOPSIS` right before its `param()` block or at the top of its body.
    pub has_help: bool,
    /// `SupportsShouldProcess` is set.
    pub should_process: bool,
    /// `[CmdletBinding(...)]` is present.
    pub cmdlet_binding: bool,
    /// 1-based line.
    pub line: usize,
}

fn param_names(param_block: Node<'_>, src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut c = param_block.walk();
    for list in param_block.children(&mut c) {
        if list.kind() != "parameter_list" {
            continue;
        }
        let mut c2 = list.walk();
        for p in list.children(&mut c2) {
            if p.kind() != "script_parameter" {
                continue;
            }
            if let Some(v) = first_child_of_kind(p, "variable") {
                out.push(node_text(v, src).trim_start_matches('$').to_string());
            }
        }
    }
    out
}

fn first_child_of_kind<'t>(n: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut c = n.walk();
    let found = n.children(&mut c).find(|x| x.kind() == kind);
    found
}

/// Functions defined in the file.
pub fn functions(text: &str) -> Vec<Function> {
    let Some(tree) = parse_tree(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in all_nodes(&tree) {
        if n.kind() != "function_statement" {
            continue;
        }
        let name = first_child_of_kind(n, "function_name")
            .map(|x| node_text(x, text).to_string())
            .unwrap_or_default();
        let has_help = {
            let mut c = n.walk();
            let found = n
                .children(&mut c)
                .any(|x| x.kind() == "comment" && node_text(x, text).contains(".SYNOPSIS"));
            found
        };
        let block = first_child_of_kind(n, "script_block");
        let pb = block.and_then(|b| first_child_of_kind(b, "param_block"));
        let pb_text = pb.map(|p| node_text(p, text).to_ascii_lowercase());
        out.push(Function {
            params: pb.map(|p| param_names(p, text)).unwrap_or_default(),
            has_help,
            should_process: pb_text
                .as_deref()
                .is_some_and(|t| t.contains("supportsshouldprocess")),
            cmdlet_binding: pb_text
                .as_deref()
                .is_some_and(|t| t.trim_start().starts_with("[cmdletbinding(")),
            line: line(n),
            name,
        });
    }
    out
}

/// The script-level `param()` block's parameter names and whether it has `[CmdletBinding(`.
pub fn script_params(text: &str) -> Option<(Vec<String>, bool)> {
    let tree = parse_tree(text)?;
    let root = tree.root_node();
    let pb = first_child_of_kind(root, "param_block")?;
    let t = node_text(pb, text).trim_start().to_ascii_lowercase();
    Some((param_names(pb, text), t.starts_with("[cmdletbinding(")))
}

/// A command invocation: name, named parameters used, line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Command name as written.
    pub name: String,
    /// Named parameters (without `-` and a trailing `:`).
    pub params: Vec<String>,
    /// 1-based line.
    pub line: usize,
}

/// Every command invocation with a plain name (not `& $x`).
pub fn calls(text: &str) -> Vec<Call> {
    let Some(tree) = parse_tree(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in all_nodes(&tree) {
        if n.kind() != "command" {
            continue;
        }
        let Some(cn) = n.child_by_field_name("command_name") else {
            continue;
        };
        // `& name.exe args` has a command_name_expr; keep it when it is a plain word.
        let name = node_text(cn, text);
        if cn.kind() != "command_name"
            && !(cn.kind() == "command_name_expr"
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            continue;
        }
        let mut params = Vec::new();
        if let Some(el) = n.child_by_field_name("command_elements") {
            let mut c = el.walk();
            for p in el.children(&mut c) {
                if p.kind() == "command_parameter" {
                    params.push(
                        node_text(p, text)
                            .trim()
                            .trim_start_matches('-')
                            .trim_end_matches(':')
                            .to_string(),
                    );
                }
            }
        }
        out.push(Call {
            name: name.to_string(),
            params,
            line: line(n),
        });
    }
    out
}

/// Single- and double-quoted string literals with their line (quotes removed, `''` unescaped).
pub fn string_literals(text: &str) -> Vec<(usize, String, bool)> {
    let Some(tree) = parse_tree(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in all_nodes(&tree) {
        let expandable = match n.kind() {
            "verbatim_string_characters" => false,
            "expandable_string_literal" | "expandable_here_string_literal" => true,
            _ => continue,
        };
        let raw = node_text(n, text);
        let inner = if expandable {
            raw.trim_start_matches('@').trim_matches('"').to_string()
        } else {
            raw.strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .unwrap_or(raw)
                .replace("''", "'")
        };
        out.push((line(n), inner, expandable));
    }
    out
}

/// The source with comments and string literals blanked (newlines kept), for token searches.
fn code_only(text: &str) -> String {
    let Some(tree) = parse_tree(text) else {
        return text.to_string();
    };
    let mut bytes = text.as_bytes().to_vec();
    for n in all_nodes(&tree) {
        if matches!(n.kind(), "comment" | "string_literal") {
            for b in bytes.get_mut(n.byte_range()).into_iter().flatten() {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `Get-Verb` verbs the kit may use (a subset of PowerShell's approved list).
pub const APPROVED_VERBS: &[&str] = &[
    "Add",
    "Assert",
    "Clear",
    "Compare",
    "Confirm",
    "ConvertFrom",
    "ConvertTo",
    "Disable",
    "Enable",
    "Exit",
    "Export",
    "Find",
    "Format",
    "Get",
    "Import",
    "Install",
    "Invoke",
    "Measure",
    "New",
    "Read",
    "Register",
    "Remove",
    "Reset",
    "Resolve",
    "Restart",
    "Select",
    "Set",
    "Show",
    "Start",
    "Stop",
    "Test",
    "Update",
    "Wait",
    "Write",
];

/// Verbs PSScriptAnalyzer's UseShouldProcessForStateChangingFunctions applies to.
pub const STATE_CHANGING_VERBS: &[&str] = &[
    "New", "Set", "Remove", "Start", "Stop", "Restart", "Reset", "Update",
];

/// Aliases of common cmdlets (PSAvoidUsingCmdletAliases).
pub const ALIASES: &[&str] = &[
    "%", "?", "ac", "cat", "cd", "chdir", "clc", "clear", "cls", "copy", "cp", "curl", "del",
    "dir", "echo", "erase", "fl", "foreach", "ft", "fw", "gc", "gci", "gcm", "gi", "gm", "gp",
    "group", "gps", "gsv", "gwmi", "h", "history", "icm", "iex", "ii", "ipmo", "irm", "iwr",
    "kill", "ls", "man", "md", "measure", "mi", "mkdir", "move", "mv", "ni", "nv", "ogv", "popd",
    "ps", "pushd", "pwd", "r", "rd", "ren", "ri", "rm", "rmdir", "sajb", "sal", "saps", "sc",
    "select", "set", "sl", "sleep", "sort", "sp", "start", "sv", "tee", "type", "where", "wget",
    "write",
];

/// Windows cmdlets and external programs the kit calls (checked by `unknown-command` so a typo
/// cannot hide until the script runs on Windows).
pub const KNOWN_COMMANDS: &[&str] = &[
    // Microsoft.PowerShell.*
    "ConvertFrom-Json",
    "Export-ModuleMember",
    "ForEach-Object",
    "Format-List",
    "Format-Table",
    "Get-ChildItem",
    "Get-Command",
    "Get-Content",
    "Get-Date",
    "Get-ItemProperty",
    "Get-Location",
    "Import-Module",
    "Import-PowerShellDataFile",
    "Join-Path",
    "New-FileCatalog",
    "New-Object",
    "Out-Null",
    "Out-String",
    "Resolve-Path",
    "Select-Object",
    "Set-AuthenticodeSignature",
    "Set-StrictMode",
    "Sort-Object",
    "Split-Path",
    "Start-Sleep",
    "Test-Connection",
    "Test-Path",
    "Where-Object",
    "Write-Information",
    "Write-Output",
    "Write-Verbose",
    "Write-Warning",
    "Measure-Object",
    "Get-Item",
    // NetAdapter, PnpDevice, PKI, SecureBoot, NetTCPIP
    "Get-NetAdapter",
    "Get-NetAdapterAdvancedProperty",
    "Set-NetAdapterAdvancedProperty",
    "New-NetAdapterAdvancedProperty",
    "Remove-NetAdapterAdvancedProperty",
    "Restart-NetAdapter",
    "Get-NetAdapterRsc",
    "Get-NetAdapterUso",
    "Get-NetAdapterLso",
    "Get-NetAdapterChecksumOffload",
    "Get-NetAdapterStatistics",
    "Get-NetAdapterBinding",
    "Get-NetOffloadGlobalSetting",
    "Get-NetIPInterface",
    "Get-PnpDevice",
    "Get-PnpDeviceProperty",
    "New-SelfSignedCertificate",
    "Export-Certificate",
    "Import-Certificate",
    "Confirm-SecureBootUEFI",
    // PSScriptAnalyzer (Test-HckKit.ps1)
    "Invoke-ScriptAnalyzer",
    "Get-Module",
];

/// Parameters every advanced function and cmdlet accepts.
pub const COMMON_PARAMETERS: &[&str] = &[
    "Verbose",
    "Debug",
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "ErrorVariable",
    "WarningVariable",
    "InformationVariable",
    "OutVariable",
    "OutBuffer",
    "PipelineVariable",
    "WhatIf",
    "Confirm",
];

/// What a file may call besides its own functions: the kit module's exported functions with
/// their parameters.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Exported module functions: name -> parameters.
    pub module_functions: BTreeMap<String, Vec<String>>,
    /// Driver keywords (exact spelling).
    pub keywords: Vec<String>,
}

fn is_verb_noun(name: &str) -> Option<(&str, &str)> {
    let (v, n) = name.split_once('-')?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    (ok(v) && ok(n) && v.starts_with(|c: char| c.is_ascii_uppercase())).then_some((v, n))
}

/// Rule `keyword`: driver keywords the file names that the table does not have. A string
/// literal names a keyword when it is `*` followed by letters/digits, or when it follows
/// `-RegistryKeyword`, or when it is a key of an `Advanced = @{ }` profile section.
pub fn keyword_problems(text: &str, keywords: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let known = |k: &str| keywords.iter().any(|x| x == k);
    for (ln, s, _) in string_literals(text) {
        let star = s.strip_prefix('*').is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if star && !known(&s) {
            let hint = keywords
                .iter()
                .find(|k| k.eq_ignore_ascii_case(&s))
                .map(|k| format!(" (the table spells it {k})"))
                .unwrap_or_default();
            out.push(format!(
                "keyword: line {ln}: '{s}' is not a driver keyword{hint}"
            ));
        }
    }
    // `-RegistryKeyword <literal>`.
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let mut rest = *l;
        while let Some(pos) = rest.find("-RegistryKeyword") {
            rest = &rest[pos + "-RegistryKeyword".len()..];
            let arg = rest.trim_start();
            if let Some(q) = arg.strip_prefix('\'') {
                if let Some(end) = q.find('\'') {
                    let k = &q[..end];
                    if !known(k) {
                        out.push(format!(
                            "keyword: line {}: -RegistryKeyword '{k}' is not a driver keyword",
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    out
}

/// All rule violations of one file. `file_name` selects the rule set (`.ps1`, `.psm1`, `.psd1`).
pub fn lint(file_name: &str, text: &str, ctx: &Context) -> Vec<String> {
    let mut out = syntax_errors(text);
    for (i, l) in text.lines().enumerate() {
        if let Some(c) = l.chars().find(|c| !c.is_ascii()) {
            out.push(format!("ascii: line {}: non-ASCII character {c:?}", i + 1));
        }
    }
    if file_name.ends_with(".psd1") {
        match crate::psd1::parse(text) {
            Err(e) => out.push(format!("psd1: {e}")),
            Ok(v) => shadowing_keys(&v, &mut out),
        }
        out.extend(keyword_problems(text, &ctx.keywords));
        return out;
    }
    let is_script = file_name.ends_with(".ps1");
    let code = code_only(text);

    if is_script {
        script_rules(text, &mut out);
    }
    if !code.contains("Set-StrictMode -Version Latest") {
        out.push("strict: no `Set-StrictMode -Version Latest`".into());
    }
    if !text
        .lines()
        .any(|l| l.trim() == "$ErrorActionPreference = 'Stop'")
    {
        out.push("strict: no top-level `$ErrorActionPreference = 'Stop'`".into());
    }

    let own = functions(text);
    for f in &own {
        let Some((verb, _)) = is_verb_noun(&f.name) else {
            out.push(format!(
                "approved-verb: line {}: `{}` is not Verb-Noun",
                f.line, f.name
            ));
            continue;
        };
        if !APPROVED_VERBS.contains(&verb) {
            out.push(format!(
                "approved-verb: line {}: `{}` uses the unapproved verb `{verb}`",
                f.line, f.name
            ));
        }
        if !f.has_help {
            out.push(format!(
                "function-help: line {}: `{}` has no .SYNOPSIS help",
                f.line, f.name
            ));
        }
        if !f.cmdlet_binding {
            out.push(format!(
                "function-help: line {}: `{}` has no [CmdletBinding()] param block",
                f.line, f.name
            ));
        }
        if STATE_CHANGING_VERBS.contains(&verb) && !f.should_process {
            out.push(format!(
                "should-process: line {}: `{}` changes state but lacks SupportsShouldProcess",
                f.line, f.name
            ));
        }
    }

    for c in calls(text) {
        let lower = c.name.to_ascii_lowercase();
        if ALIASES.contains(&lower.as_str()) {
            out.push(format!(
                "alias: line {}: alias `{}`; write the cmdlet name",
                c.line, c.name
            ));
            continue;
        }
        if lower == "invoke-expression" || lower == "write-host" {
            out.push(format!("forbidden-command: line {}: `{}`", c.line, c.name));
            continue;
        }
        if lower.ends_with(".exe") {
            continue;
        }
        if is_verb_noun(&c.name).is_none() {
            continue;
        }
        let local = own.iter().find(|f| f.name.eq_ignore_ascii_case(&c.name));
        let module = ctx
            .module_functions
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&c.name));
        let declared: Option<&Vec<String>> = local.map(|f| &f.params).or(module.map(|(_, p)| p));
        match declared {
            Some(params) => {
                for p in &c.params {
                    let ok = params.iter().any(|d| d.eq_ignore_ascii_case(p))
                        || COMMON_PARAMETERS.iter().any(|d| d.eq_ignore_ascii_case(p));
                    if !ok {
                        out.push(format!(
                            "unknown-parameter: line {}: `{}` has no parameter -{p} (declared: {})",
                            c.line,
                            c.name,
                            params.join(", ")
                        ));
                    }
                }
            }
            None => {
                if !KNOWN_COMMANDS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&c.name))
                {
                    out.push(format!(
                        "unknown-command: line {}: `{}` is neither defined here, exported by the kit module, nor a known Windows cmdlet",
                        c.line, c.name
                    ));
                }
            }
        }
    }

    for (i, l) in code.lines().enumerate() {
        let ll = l.to_ascii_lowercase();
        for (needle, what) in [
            ("-eq $null", "`-eq $null`: put $null on the left"),
            ("-ne $null", "`-ne $null`: put $null on the left"),
        ] {
            if ll.contains(needle) {
                out.push(format!("null-comparison: line {}: {what}", i + 1));
            }
        }
        for (needle, what) in [
            ("&&", "`&&` is PowerShell 7 only"),
            ("||", "`||` is PowerShell 7 only"),
            ("??", "`??` is PowerShell 7 only"),
            ("?.", "`?.` is PowerShell 7 only"),
            (
                "-ashashtable",
                "ConvertFrom-Json -AsHashtable is PowerShell 6+ only",
            ),
            ("-parallel", "ForEach-Object -Parallel is PowerShell 7 only"),
        ] {
            if ll.contains(needle) {
                out.push(format!("ps51: line {}: {what}", i + 1));
            }
        }
    }

    const SCOPES: &[&str] = &[
        "script", "global", "local", "private", "using", "env", "variable", "function", "alias",
    ];
    for (ln, s, expandable) in string_literals(text) {
        if !expandable {
            continue;
        }
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > start && j < b.len() && b[j] == b':' {
                    let name = &s[start..j];
                    if !SCOPES.iter().any(|x| x.eq_ignore_ascii_case(name)) {
                        out.push(format!(
                            "scoped-variable: line {ln}: \"${name}:\" is read as a scope/drive; write ${{{name}}}: or $(${name}):"
                        ));
                    }
                }
                i = j.max(i + 1);
            } else {
                i += 1;
            }
        }
    }

    out.extend(keyword_problems(text, &ctx.keywords));
    out
}

/// Properties of `System.Collections.Hashtable`: `$h.Values` returns the property, not the key.
const HASHTABLE_MEMBERS: &[&str] = &[
    "Keys",
    "Values",
    "Count",
    "Comparer",
    "IsFixedSize",
    "IsReadOnly",
    "IsSynchronized",
    "SyncRoot",
];

/// Rule `hashtable-key`: a data-file key named like a Hashtable property cannot be read with
/// dot notation (`$entry.Values` is the value collection).
fn shadowing_keys(v: &crate::psd1::Value, out: &mut Vec<String>) {
    use crate::psd1::Value;
    match v {
        Value::Table(entries) => {
            for (k, val) in entries {
                if HASHTABLE_MEMBERS.iter().any(|m| m.eq_ignore_ascii_case(k)) {
                    out.push(format!(
                        "hashtable-key: key `{k}` shadows the Hashtable property of that name"
                    ));
                }
                shadowing_keys(val, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| shadowing_keys(i, out)),
        _ => {}
    }
}

fn script_rules(text: &str, out: &mut Vec<String>) {
    // Comment-based help must come first (only comments and blank lines before it).
    let mut help = None;
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        if t.starts_with("<#") {
            if let Some(end) = text[offset..].find("#>") {
                help = Some(&text[offset..offset + end]);
            }
            break;
        }
        if !(t.is_empty() || t.starts_with('#')) {
            break;
        }
        offset += l.len();
    }
    let Some(help) = help else {
        out.push("script-help: the script does not start with comment-based help <# ... #>".into());
        return;
    };
    for kw in [".SYNOPSIS", ".DESCRIPTION", ".EXAMPLE", ".NOTES"] {
        if !help.contains(kw) {
            out.push(format!("script-help: no {kw}"));
        }
    }
    if !help.contains("Exit codes") {
        out.push("script-help: .NOTES must list the exit codes (\"Exit codes: ...\")".into());
    }
    let documented: Vec<String> = help
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".PARAMETER"))
        .map(|n| n.trim().to_string())
        .collect();
    match script_params(text) {
        None => out.push("cmdletbinding: the script has no param() block".into()),
        Some((params, binding)) => {
            if !binding {
                out.push("cmdletbinding: the script's param() lacks [CmdletBinding(...)]".into());
            }
            for p in &params {
                if !documented.iter().any(|d| d.eq_ignore_ascii_case(p)) {
                    out.push(format!(
                        "script-help: parameter -{p} has no .PARAMETER entry"
                    ));
                }
            }
            for d in &documented {
                if !params.iter().any(|p| p.eq_ignore_ascii_case(d)) {
                    out.push(format!(
                        "script-help: .PARAMETER {d} documents no parameter"
                    ));
                }
            }
        }
    }
    if !text.contains("exit (Write-HckFailure -ErrorRecord $_)") {
        out.push("exit-codes: errors are not mapped to exit codes with `exit (Write-HckFailure -ErrorRecord $_)`".into());
    }
}

/// Exported functions of the kit module and their parameters.
pub fn module_context(module_text: &str) -> BTreeMap<String, Vec<String>> {
    functions(module_text)
        .into_iter()
        .filter(|f| module_text.contains(&format!("'{}'", f.name)))
        .map(|f| (f.name, f.params))
        .collect()
}
