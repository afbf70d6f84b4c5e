#Requires -Version 5.1
<#
.SYNOPSIS
    Checks the hck/ scripts with the real PowerShell parser and PSScriptAnalyzer (Windows, or any
    machine with PowerShell).

.DESCRIPTION
    The Linux tests (cargo test -p hck-check) parse the scripts with a tree-sitter grammar and
    apply the kit's own rules, because no PowerShell is available there. This script adds what
    only PowerShell can do:
      1. [System.Management.Automation.Language.Parser]::ParseFile on every .ps1, .psm1 and
         .psd1 under hck\ (parse errors fail);
      2. Import-PowerShellDataFile on keywords.psd1 and every profile;
      3. Invoke-ScriptAnalyzer with hck\PSScriptAnalyzerSettings.psd1 (Error and Warning
         severities), when the PSScriptAnalyzer module is installed
         (Install-Module PSScriptAnalyzer -Scope CurrentUser); otherwise this step is reported
         as skipped, or fails with -RequireAnalyzer.

.PARAMETER RequireAnalyzer
    Fail (exit 3) when PSScriptAnalyzer is not installed instead of skipping it.

.EXAMPLE
    .\Test-HckKit.ps1 -RequireAnalyzer
    Parses every script and runs PSScriptAnalyzer; exit code 0 when everything is clean.

.NOTES
    Exit codes: 0 clean; 1 parse errors or analyzer findings; 3 PSScriptAnalyzer missing with
    -RequireAnalyzer; 5 unexpected error.
#>
[CmdletBinding()]
param([switch]$RequireAnalyzer)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$InformationPreference = 'Continue'
Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'lib\NetKvmRs.Hck.psm1') -Force

try {
    $files = @(Get-ChildItem -Path $PSScriptRoot -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
            Where-Object { $_.FullName -notmatch '[\\/]check[\\/]' })
    $problems = 0
    foreach ($f in $files) {
        $tokens = $null
        $parseErrors = $null
        [System.Management.Automation.Language.Parser]::ParseFile($f.FullName, [ref]$tokens, [ref]$parseErrors) | Out-Null
        foreach ($e in @($parseErrors)) {
            if ($null -eq $e) { continue }
            Write-Output ('PARSE {0}:{1}: {2}' -f $f.Name, $e.Extent.StartLineNumber, $e.Message)
            $problems++
        }
        if ($f.Extension -eq '.psd1' -and $f.Name -ne 'PSScriptAnalyzerSettings.psd1') {
            try { Import-PowerShellDataFile -LiteralPath $f.FullName | Out-Null }
            catch {
                Write-Output ('DATA  {0}: {1}' -f $f.Name, $_.Exception.Message)
                $problems++
            }
        }
    }
    Write-Output ('Parsed {0} files.' -f $files.Count)

    if (Get-Module -ListAvailable -Name PSScriptAnalyzer) {
        $settings = Join-Path -Path $PSScriptRoot -ChildPath 'PSScriptAnalyzerSettings.psd1'
        foreach ($f in $files | Where-Object { $_.Extension -ne '.psd1' }) {
            foreach ($r in @(Invoke-ScriptAnalyzer -Path $f.FullName -Settings $settings)) {
                Write-Output ('LINT  {0}:{1}: {2} {3}' -f $f.Name, $r.Line, $r.RuleName, $r.Message)
                $problems++
            }
        }
    }
    elseif ($RequireAnalyzer) {
        Exit-Hck -Code 3 -Message 'PSScriptAnalyzer is not installed: Install-Module PSScriptAnalyzer -Scope CurrentUser'
    }
    else {
        Write-Warning 'PSScriptAnalyzer is not installed; analyzer step skipped (Install-Module PSScriptAnalyzer -Scope CurrentUser).'
    }
    if ($problems -gt 0) {
        Write-Output "$problems problem(s)."
        exit 1
    }
    Write-Output 'Clean.'
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
