//! Every lint rule fires on a script that breaks it, and stays quiet on one that does not.

use std::collections::BTreeMap;

use hck_check::ps::{self, Context};

const GOOD: &str = r#"#Requires -Version 5.1
<#
.SYNOPSIS
    A good script.
.DESCRIPTION
    Long text.
.PARAMETER Name
    The adapter.
.EXAMPLE
    .\Good.ps1 -Name x
.NOTES
    Exit codes: 0 ok.
#>
[CmdletBinding()]
param([string]$Name)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Get-Thing {
    <#
    .SYNOPSIS
        Gets a thing.
    .PARAMETER Count
        How many.
    #>
    [CmdletBinding()]
    param([int]$Count)
    return $Count
}

try {
    if ($null -eq $Name) { Exit-Hck -Code 2 -Message "no ${Name}: $($Name) $script:x" }
    $k = Get-NetAdapterAdvancedProperty -Name $Name -RegistryKeyword '*RscIPv4'
    Get-Thing -Count 3 | Out-Null
    Write-Output $k
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
"#;

fn ctx() -> Context {
    let mut m = BTreeMap::new();
    m.insert(
        "Exit-Hck".to_string(),
        vec!["Code".to_string(), "Message".to_string()],
    );
    m.insert(
        "Write-HckFailure".to_string(),
        vec!["ErrorRecord".to_string()],
    );
    Context {
        module_functions: m,
        keywords: vec!["*RscIPv4".into(), "SoftwareRsc".into()],
    }
}

fn lint(text: &str) -> Vec<String> {
    ps::lint("Good.ps1", text, &ctx())
}

#[test]
fn lint_good_script_is_clean() {
    let p = lint(GOOD);
    assert!(p.is_empty(), "{p:#?}");
}

fn assert_rule(mutated: &str, rule: &str) {
    assert_ne!(mutated, GOOD, "mutation for {rule} did not apply");
    let p = lint(mutated);
    assert!(
        p.iter().any(|m| m.starts_with(&format!("{rule}:"))),
        "rule {rule} did not fire; got {p:#?}"
    );
}

#[test]
fn lint_syntax_errors_are_reported() {
    assert_rule(
        &GOOD.replace("if ($null -eq $Name) {", "if ($null -eq $Name {"),
        "syntax",
    );
    assert_rule(
        &GOOD.replace("return $Count\n}", "return $Count\n"),
        "syntax",
    );
    assert_rule(&GOOD.replace("'*RscIPv4'", "'*RscIPv4"), "syntax");
}

#[test]
fn lint_non_ascii_is_reported() {
    assert_rule(
        &GOOD.replace("A good script.", "A good script \u{2192} ok."),
        "ascii",
    );
}

#[test]
fn lint_script_help_rules() {
    assert_rule(
        &GOOD
            .replace(".SYNOPSIS\n    A good", ".SYNOPSISX\n    A good")
            .replace(".SYNOPSISX", ""),
        "script-help",
    );
    assert_rule(
        &GOOD.replace(".PARAMETER Name\n    The adapter.\n", ""),
        "script-help",
    );
    assert_rule(
        &GOOD.replace(".PARAMETER Name", ".PARAMETER Nmae"),
        "script-help",
    );
    assert_rule(
        &GOOD.replace("Exit codes: 0 ok.", "Nothing."),
        "script-help",
    );
    assert_rule(
        &GOOD.replace("#Requires -Version 5.1\n", "$x = 1\n"),
        "script-help",
    );
}

#[test]
fn lint_cmdletbinding_and_strict_rules() {
    assert_rule(
        &GOOD.replace(
            "[CmdletBinding()]\nparam([string]$Name)",
            "param([string]$Name)",
        ),
        "cmdletbinding",
    );
    assert_rule(
        &GOOD.replace("Set-StrictMode -Version Latest\n", ""),
        "strict",
    );
    assert_rule(
        &GOOD.replace("$ErrorActionPreference = 'Stop'\n", ""),
        "strict",
    );
    assert_rule(
        &GOOD.replace("exit (Write-HckFailure -ErrorRecord $_)", "exit 5"),
        "exit-codes",
    );
}

#[test]
fn lint_function_rules() {
    assert_rule(
        &GOOD
            .replace("function Get-Thing", "function Fetch-Thing")
            .replace("Get-Thing -Count", "Fetch-Thing -Count"),
        "approved-verb",
    );
    assert_rule(
        &GOOD.replace("    .SYNOPSIS\n        Gets a thing.\n", ""),
        "function-help",
    );
    assert_rule(
        &GOOD
            .replace("function Get-Thing", "function Set-Thing")
            .replace("Get-Thing -Count", "Set-Thing -Count"),
        "should-process",
    );
}

#[test]
fn lint_command_rules() {
    assert_rule(&GOOD.replace("Write-Output $k", "echo $k"), "alias");
    assert_rule(&GOOD.replace("| Out-Null", "| % { $_ }"), "alias");
    assert_rule(
        &GOOD.replace("Write-Output $k", "Write-Host $k"),
        "forbidden-command",
    );
    assert_rule(
        &GOOD.replace("Write-Output $k", "Invoke-Expression $k"),
        "forbidden-command",
    );
    assert_rule(
        &GOOD.replace(
            "Get-NetAdapterAdvancedProperty",
            "Get-NetAdaptrAdvancedProperty",
        ),
        "unknown-command",
    );
    assert_rule(
        &GOOD.replace("Exit-Hck -Code 2", "Exit-Hck -ExitCode 2"),
        "unknown-parameter",
    );
    assert_rule(
        &GOOD.replace("Get-Thing -Count 3", "Get-Thing -Cuont 3"),
        "unknown-parameter",
    );
}

#[test]
fn lint_expression_rules() {
    assert_rule(
        &GOOD.replace("$null -eq $Name", "$Name -eq $null"),
        "null-comparison",
    );
    assert_rule(
        &GOOD.replace("Write-Output $k", "Write-Output ($k ?? 1)"),
        "ps51",
    );
    assert_rule(
        &GOOD.replace(
            "Get-Thing -Count 3 | Out-Null",
            "Get-Thing -Count 3 && Get-Thing -Count 4",
        ),
        "ps51",
    );
    assert_rule(
        &GOOD.replace("\"no ${Name}:", "\"no $Name:"),
        "scoped-variable",
    );
}

#[test]
fn lint_unknown_keywords_are_reported() {
    assert_rule(&GOOD.replace("'*RscIPv4'", "'*RscIPv5'"), "keyword");
    assert_rule(&GOOD.replace("'*RscIPv4'", "'*RSCIPv4'"), "keyword");
    assert_rule(
        &GOOD.replace(
            "-RegistryKeyword '*RscIPv4'",
            "-RegistryKeyword 'SoftwareRSC'",
        ),
        "keyword",
    );
    // Literals that are not keyword-shaped are ignored.
    let p = lint(&GOOD.replace("'*RscIPv4'", "'*RscIPv4'; $w = '*netkvm*'"));
    assert!(p.is_empty(), "{p:#?}");
}

#[test]
fn lint_psd1_files_must_be_pure_data() {
    let c = ctx();
    assert!(ps::lint("x.psd1", "@{ A = '1' }\n", &c).is_empty());
    let p = ps::lint("x.psd1", "@{ A = $env:X }\n", &c);
    assert!(p.iter().any(|m| m.starts_with("psd1:")), "{p:?}");
    let p = ps::lint("x.psd1", "@{ A = @( @{ Values = @() } ) }\n", &c);
    assert!(p.iter().any(|m| m.starts_with("hashtable-key:")), "{p:?}");
    let p = ps::lint("x.psd1", "@{ '*RscIPv9' = '1' }\n", &c);
    assert!(p.iter().any(|m| m.starts_with("keyword:")), "{p:?}");
}
