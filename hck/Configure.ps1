#Requires -Version 5.1
<#
.SYNOPSIS
    Sets netkvmrs advanced properties by registry keyword, validated against the driver's own
    keyword table, and restarts the adapter once.

.DESCRIPTION
    The wanted values come from a profile (-ProfilePath, .psd1 or .json, section Advanced) and/or
    -Set (which wins). Every keyword and value is checked against hck\keywords.psd1, which is
    generated from the driver's table (crates/netkvm-core/src/params.rs): unknown keywords,
    values outside an enum, numbers outside Min..Max or off the Step grid, and malformed
    NetworkAddress values are all reported and NOTHING is changed. Enum values may be given as
    the registry value ('1') or the display text ('Enabled').

    Valid changes are written with Set-NetAdapterAdvancedProperty -NoRestart (keywords without
    an Advanced-page entry, such as *LsoV1IPv4, with New-NetAdapterAdvancedProperty), unchanged
    values are skipped, and then the adapter is restarted exactly once so the driver reads the
    new registry. Supports -WhatIf.

.PARAMETER Name
    Adapter name. Optional when exactly one adapter uses netkvmrs.sys.

.PARAMETER ProfilePath
    Profile file (.psd1 or .json), e.g. hck\profiles\default.psd1.

.PARAMETER Set
    Hashtable keyword -> value, e.g. @{ '*JumboPacket' = 9014; SoftwareRsc = 0 }. '' removes an
    optional keyword (NetworkAddress).

.PARAMETER TablePath
    Keyword table; default hck\keywords.psd1.

.PARAMETER NoRestart
    Write the values but do not restart the adapter (they take effect at the next restart).

.PARAMETER TimeoutSeconds
    How long to wait for the adapter to come back Up after the restart (default 60).

.EXAMPLE
    .\Configure.ps1 -ProfilePath .\profiles\default.psd1
    Applies the defaults profile and restarts the adapter once.

.EXAMPLE
    .\Configure.ps1 -Set @{ SoftwareRsc = 0; '*JumboPacket' = 9014 } -WhatIf
    Shows what would change without writing anything.

.NOTES
    Exit codes: 0 applied (or nothing to change); 1 a written value did not read back after the
    restart; 2 invalid keyword/value/profile (nothing was
    changed); 3 precondition (not elevated, no netkvmrs adapter); 4 the adapter did not come back
    Up; 5 unexpected error.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$Name,
    [string]$ProfilePath,
    [hashtable]$Set = @{},
    [string]$TablePath = (Join-Path -Path $PSScriptRoot -ChildPath 'keywords.psd1'),
    [switch]$NoRestart,
    [ValidateRange(1, 3600)][int]$TimeoutSeconds = 60
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$InformationPreference = 'Continue'
Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'lib\NetKvmRs.Hck.psm1') -Force

try {
    $table = Get-HckKeywordTable -Path $TablePath

    # Profile first, then -Set overrides (keys compared case-insensitively).
    $wanted = [ordered]@{}
    if ($ProfilePath) {
        $p = Read-HckProfile -Path $ProfilePath
        foreach ($k in $p.Advanced.Keys) { $wanted[$k] = $p.Advanced[$k] }
    }
    foreach ($k in $Set.Keys) { $wanted[$k] = $Set[$k] }
    if ($wanted.Count -eq 0) {
        Exit-Hck -Code 2 -Message 'Nothing to set: pass -ProfilePath and/or -Set.'
    }

    # Validate everything before touching the adapter.
    $valid = [ordered]@{}
    $errors = @()
    foreach ($k in $wanted.Keys) {
        $r = Resolve-HckKeywordValue -Table $table -Keyword $k -Value $wanted[$k]
        if ($r.Error) { $errors += $r.Error; continue }
        if ($valid.Contains($r.Keyword)) { $errors += "$($r.Keyword) is given twice (keywords are case-insensitive)"; continue }
        $valid[$r.Keyword] = $r
    }
    if ($errors.Count -gt 0) {
        foreach ($e in $errors) { [Console]::Error.WriteLine("INVALID: $e") }
        Exit-Hck -Code 2 -Message "$($errors.Count) invalid setting(s); nothing was changed."
    }

    Assert-HckElevated
    $adapter = Get-HckAdapter -Name $Name
    $current = Get-HckAdvancedValue -Name $adapter.Name

    # Merge for the cross-keyword warnings: what the registry will hold afterwards.
    $after = [ordered]@{}
    foreach ($k in $current.Keys) { $after[$k] = $current[$k] }
    foreach ($k in $valid.Keys) { $after[$k] = $valid[$k].Value }
    foreach ($w in @(Get-HckCrossKeywordWarning -Values $after)) { Write-Warning $w }

    $changes = [ordered]@{}
    $report = @()
    foreach ($k in $valid.Keys) {
        $old = $null
        if ($current.Contains($k)) { $old = $current[$k] }
        $new = $valid[$k].Value
        $state = 'change'
        if ($null -eq $old -and $new -eq '') { $state = 'unchanged' }
        elseif ($null -ne $old -and $old -eq $new) { $state = 'unchanged' }
        if ($state -eq 'change') { $changes[$k] = $valid[$k] }
        $shownOld = $old
        if ($null -eq $old) { $shownOld = '(absent)' }
        $shownNew = $new
        if ($new -eq '') { $shownNew = '(removed)' }
        $report += [pscustomobject]@{ Keyword = $k; Old = $shownOld; New = $shownNew; Action = $state }
    }
    $report | Format-Table -AutoSize | Out-String | Write-Output

    if ($changes.Count -eq 0) {
        Write-Output "Nothing to change on '$($adapter.Name)'."
        exit 0
    }
    Set-HckAdvancedProperty -Name $adapter.Name -Changes $changes -Current $current -WhatIf:$WhatIfPreference
    if ($NoRestart) {
        Write-Output "$($changes.Count) value(s) written; restart the adapter to apply them (Restart-NetAdapter -Name '$($adapter.Name)')."
        exit 0
    }
    Restart-HckAdapter -Name $adapter.Name -TimeoutSeconds $TimeoutSeconds -WhatIf:$WhatIfPreference
    if ($WhatIfPreference) {
        Write-Output 'WhatIf: nothing was changed.'
        exit 0
    }

    # Read back: the registry must now hold what was written.
    $readBack = Get-HckAdvancedValue -Name $adapter.Name
    $lost = @()
    foreach ($k in $changes.Keys) {
        $want = $changes[$k].Value
        $have = $null
        if ($readBack.Contains($k)) { $have = $readBack[$k] }
        if (($want -eq '' -and $null -ne $have) -or ($want -ne '' -and $have -ne $want)) {
            $lost += "$k = '$have' after the restart, expected '$want'"
        }
    }
    if ($lost.Count -gt 0) {
        Exit-Hck -Code 1 -Message ('Values did not stick: ' + ($lost -join '; '))
    }
    Write-Output "Applied $($changes.Count) change(s) to '$($adapter.Name)' with one restart."
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
