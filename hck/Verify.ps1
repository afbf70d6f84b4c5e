#Requires -Version 5.1
<#
.SYNOPSIS
    Checks a netkvmrs adapter against an expected state: advanced properties and what
    Get-NetAdapterRsc / -Uso / -Lso / -ChecksumOffload report, one line per check, non-zero exit
    on any mismatch.

.DESCRIPTION
    Expected advanced-property values come from a profile (-ProfilePath, section Advanced) and/or
    -Expect (which wins); they are validated against hck\keywords.psd1 like Configure.ps1 does.
    Checks:
      * every keyword the INF shows (except the optional NetworkAddress) exists on the adapter
        (Get-NetAdapterAdvancedProperty): the INF writes a default for each at install;
      * every expected keyword holds the expected registry value;
      * Get-NetAdapterRsc IPv4Enabled/IPv6Enabled follow *RscIPv4/*RscIPv6, Get-NetAdapterUso
        follows *UsoIPv4/*UsoIPv6 (skipped with a note where the cmdlet does not exist, i.e.
        before Windows Server 2022 / Windows 11), Get-NetAdapterLso IPv4Enabled/IPv6Enabled follow
        *LsoV2IPv4/*LsoV2IPv6, Get-NetAdapterChecksumOffload follows the five checksum keywords
        (0 Disabled, 1 TxEnabled, 2 RxEnabled, 3 RxTxEnabled). Keywords the expectation does not
        name are taken from the adapter's current registry values, so these checks always run;
      * with Operational.Rsc = $true in the profile (or -RequireRscOperational): for each IP
        version with RSC enabled, IPvXOperationalState is True and IPvXFailureReason NoFailure;
        a failure prints the reason and its remedy (Capability, WFPCompatibility,
        NDISCompatibility, ForwardingEnabled, NetOffloadGlobalDisabled, NicPropertyDisabled).

.PARAMETER Name
    Adapter name. Optional when exactly one adapter uses netkvmrs.sys.

.PARAMETER ProfilePath
    Profile (.psd1 or .json), e.g. hck\profiles\default.psd1.

.PARAMETER Expect
    Hashtable keyword -> expected value; overrides the profile.

.PARAMETER RequireRscOperational
    Require RSC to be operational for every enabled IP version (as Operational.Rsc = $true).

.PARAMETER TablePath
    Keyword table; default hck\keywords.psd1.

.EXAMPLE
    .\Verify.ps1 -ProfilePath .\profiles\default.psd1
    Verifies a freshly installed adapter against the driver defaults.

.EXAMPLE
    .\Verify.ps1 -Expect @{ '*RscIPv4' = 0 } -Verbose
    Verifies that IPv4 RSC is off in the registry and in Get-NetAdapterRsc.

.NOTES
    Exit codes: 0 every check passed; 1 at least one mismatch; 2 invalid expectation or profile;
    3 precondition (no netkvmrs adapter); 5 unexpected error.
#>
[CmdletBinding()]
param(
    [string]$Name,
    [string]$ProfilePath,
    [hashtable]$Expect = @{},
    [switch]$RequireRscOperational,
    [string]$TablePath = (Join-Path -Path $PSScriptRoot -ChildPath 'keywords.psd1')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$InformationPreference = 'Continue'
Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'lib\NetKvmRs.Hck.psm1') -Force

$script:results = New-Object -TypeName System.Collections.Generic.List[object]

function Add-Result {
    <#
    .SYNOPSIS
        Records one check.
    .PARAMETER Check
        What was checked.
    .PARAMETER Expected
        Expected value.
    .PARAMETER Actual
        Observed value.
    .PARAMETER Note
        Extra explanation shown for failures (and skips).
    .PARAMETER Skip
        The check could not run (shown as SKIP, not a failure).
    #>
    [CmdletBinding()]
    param([string]$Check, [object]$Expected, [object]$Actual, [string]$Note = '', [switch]$Skip)
    $ok = [string]$Expected -eq [string]$Actual
    $state = 'FAIL'
    if ($Skip) { $state = 'SKIP' } elseif ($ok) { $state = 'PASS' }
    $script:results.Add([pscustomobject]@{ Result = $state; Check = $Check; Expected = [string]$Expected; Actual = [string]$Actual; Note = $Note })
}

function Get-CmdletState {
    <#
    .SYNOPSIS
        Runs a Get-NetAdapter* cmdlet for the adapter; returns $null (and records a SKIP or FAIL)
        when it is unavailable or fails.
    .PARAMETER Cmdlet
        Cmdlet name.
    .PARAMETER AdapterName
        Adapter name.
    #>
    [CmdletBinding()]
    param([string]$Cmdlet, [string]$AdapterName)
    if (-not (Get-Command -Name $Cmdlet -ErrorAction SilentlyContinue)) {
        Add-Result -Check $Cmdlet -Expected 'available' -Actual 'missing' -Note 'cmdlet not present on this Windows version' -Skip
        return $null
    }
    try {
        return (& $Cmdlet -Name $AdapterName -ErrorAction Stop)
    }
    catch {
        Add-Result -Check $Cmdlet -Expected 'a result' -Actual 'error' -Note $_.Exception.Message
        return $null
    }
}

try {
    $table = Get-HckKeywordTable -Path $TablePath
    $wanted = [ordered]@{}
    $operationalRsc = [bool]$RequireRscOperational
    if ($ProfilePath) {
        $p = Read-HckProfile -Path $ProfilePath
        foreach ($k in $p.Advanced.Keys) { $wanted[$k] = $p.Advanced[$k] }
        if ($p.Operational.Contains('Rsc') -and $p.Operational['Rsc']) { $operationalRsc = $true }
    }
    foreach ($k in $Expect.Keys) { $wanted[$k] = $Expect[$k] }

    $expected = [ordered]@{}
    $errors = @()
    foreach ($k in $wanted.Keys) {
        $r = Resolve-HckKeywordValue -Table $table -Keyword $k -Value $wanted[$k]
        if ($r.Error) { $errors += $r.Error } else { $expected[$r.Keyword] = $r.Value }
    }
    if ($errors.Count -gt 0) {
        foreach ($e in $errors) { [Console]::Error.WriteLine("INVALID: $e") }
        Exit-Hck -Code 2 -Message "$($errors.Count) invalid expectation(s)."
    }

    $adapter = Get-HckAdapter -Name $Name
    $an = $adapter.Name
    $current = Get-HckAdvancedValue -Name $an

    # 1. Advanced properties.
    foreach ($kw in $table.Keys) {
        $entry = $table[$kw]
        $have = $null
        if ($current.Contains($kw)) { $have = $current[$kw] }
        if ($expected.Contains($kw)) {
            $want = $expected[$kw]
            $shownHave = $have
            if ($null -eq $have) { $shownHave = '(absent)' }
            $shownWant = $want
            if ($want -eq '') { $shownWant = '(absent)' }
            Add-Result -Check "advanced $kw" -Expected $shownWant -Actual $shownHave
        }
        elseif ($entry.Shown -and -not $entry.Optional -and $null -eq $have) {
            Add-Result -Check "advanced $kw" -Expected 'present' -Actual '(absent)' -Note 'the INF writes a default for every shown keyword; reinstall the package'
        }
    }

    # 2. What the NetAdapter cmdlets report, derived from the expected (or current) keyword values.
    $basis = [ordered]@{}
    foreach ($kw in $table.Keys) {
        if ($expected.Contains($kw)) { $basis[$kw] = $expected[$kw] }
        elseif ($current.Contains($kw)) { $basis[$kw] = $current[$kw] }
        elseif ($null -ne $table[$kw].Default) { $basis[$kw] = $table[$kw].Default }
    }
    $states = @{}
    foreach ($x in @(Get-HckOffloadExpectation -Values $basis)) {
        if (-not $states.Contains($x.Cmdlet)) { $states[$x.Cmdlet] = Get-CmdletState -Cmdlet $x.Cmdlet -AdapterName $an }
        $state = $states[$x.Cmdlet]
        if ($null -eq $state) { continue }
        $actual = $state.($x.Property)
        if ($x.Expected -is [bool]) { $actual = [bool]$actual } else { $actual = [string]$actual }
        Add-Result -Check "$($x.Cmdlet) $($x.Property)" -Expected $x.Expected -Actual $actual -Note "from $($x.Keyword) = $($basis[$x.Keyword])"
    }

    # 3. RSC operational state.
    $rsc = $states['Get-NetAdapterRsc']
    if ($null -ne $rsc) {
        foreach ($family in 'IPv4', 'IPv6') {
            $enabled = [bool]$rsc.("${family}Enabled")
            $operational = [bool]$rsc.("${family}OperationalState")
            $reason = [string]$rsc.("${family}FailureReason")
            $note = Get-HckRscRemedy -Reason $reason
            if ($operationalRsc -and $enabled) {
                Add-Result -Check "Get-NetAdapterRsc ${family}OperationalState" -Expected $true -Actual $operational -Note $note
                Add-Result -Check "Get-NetAdapterRsc ${family}FailureReason" -Expected 'NoFailure' -Actual $reason -Note $note
            }
            else {
                Write-Verbose "RSC $family enabled=$enabled operational=$operational reason=$reason"
            }
        }
    }

    $results = $script:results
    $results | Format-Table -AutoSize -Wrap -Property Result, Check, Expected, Actual | Out-String -Width 200 | Write-Output
    $failed = @($results | Where-Object { $_.Result -eq 'FAIL' })
    foreach ($f in $failed) {
        Write-Output ("FAIL {0}: expected '{1}', got '{2}'. {3}" -f $f.Check, $f.Expected, $f.Actual, $f.Note)
    }
    $skipped = @($results | Where-Object { $_.Result -eq 'SKIP' })
    foreach ($s in $skipped) { Write-Output ("SKIP {0}: {1}" -f $s.Check, $s.Note) }
    $passed = @($results | Where-Object { $_.Result -eq 'PASS' }).Count
    Write-Output ("{0} passed, {1} failed" -f $passed, $failed.Count)
    if ($failed.Count -gt 0) { exit 1 }
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
