#Requires -Version 5.1
<#
.SYNOPSIS
    Host -> guest TCP throughput with RSC off and on (iperf3 -R against "iperf3 -s" on the host),
    with the adapter's RSC statistics per run and the on/off ratio.

.DESCRIPTION
    Run 1 sets *RscIPv4 = *RscIPv6 = 0, run 2 sets both to 1 (one adapter restart each when a
    value changes; SoftwareRsc is left as it is and printed). Each run reads
    Get-NetAdapterStatistics RscStatistics (CoalescedPackets, CoalescedBytes, CoalescingEvents,
    CoalescingExceptions) before and after "iperf3 -c <Server> -R", so the table shows what the
    run itself coalesced, plus Get-NetAdapterRsc's operational state and failure reason. The
    original RSC keywords are restored unless -KeepSettings is given.

    A run with RSC on that coalesced nothing prints the failure reason's remedy; see also
    Verify.ps1 -RequireRscOperational and hck\README.md ("Get-NetAdapterRsc failure reasons").

.PARAMETER Server
    Address of the host running "iperf3 -s".

.PARAMETER Name
    Adapter name. Optional when exactly one adapter uses netkvmrs.sys.

.PARAMETER Port
    iperf3 port (default 5201).

.PARAMETER Seconds
    Duration of each run (default 10).

.PARAMETER Streams
    Parallel TCP streams (iperf3 -P, default 1).

.PARAMETER IperfPath
    iperf3 executable (default: iperf3 on PATH).

.PARAMETER KeepSettings
    Leave RSC on after the measurement instead of restoring the original keywords.

.PARAMETER TimeoutSeconds
    How long to wait for the adapter and the server after each restart (default 60).

.PARAMETER TablePath
    Keyword table; default hck\keywords.psd1.

.EXAMPLE
    .\Measure-Rsc.ps1 -Server 192.168.77.1 -Seconds 20 -Streams 2
    Measures host-to-guest throughput with RSC off and on and prints the ratio.

.NOTES
    Exit codes: 0 both runs completed; 1 an iperf3 run failed; 2 invalid parameters;
    3 precondition (not elevated, no adapter, no iperf3); 4 adapter or server unreachable after a
    restart; 5 unexpected error.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$Server,
    [string]$Name,
    [ValidateRange(1, 65535)][int]$Port = 5201,
    [ValidateRange(1, 3600)][int]$Seconds = 10,
    [ValidateRange(1, 128)][int]$Streams = 1,
    [string]$IperfPath = 'iperf3',
    [switch]$KeepSettings,
    [ValidateRange(1, 3600)][int]$TimeoutSeconds = 60,
    [string]$TablePath = (Join-Path -Path $PSScriptRoot -ChildPath 'keywords.psd1')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$InformationPreference = 'Continue'
Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'lib\NetKvmRs.Hck.psm1') -Force

function Set-RunSetting {
    <#
    .SYNOPSIS
        Applies keyword values (validated against the table) with at most one adapter restart,
        then waits for the server to answer.
    .PARAMETER AdapterName
        Adapter name.
    .PARAMETER Values
        Ordered dictionary keyword -> value.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$AdapterName, [System.Collections.IDictionary]$Values)
    $current = Get-HckAdvancedValue -Name $AdapterName
    $changes = [ordered]@{}
    foreach ($k in $Values.Keys) {
        $r = Resolve-HckKeywordValue -Table $script:table -Keyword $k -Value $Values[$k]
        if ($r.Error) { Exit-Hck -Code 2 -Message $r.Error }
        if (-not $current.Contains($r.Keyword) -or $current[$r.Keyword] -ne $r.Value) { $changes[$r.Keyword] = $r }
    }
    if ($changes.Count -gt 0 -and $PSCmdlet.ShouldProcess($AdapterName, 'apply ' + ($changes.Keys -join ', '))) {
        Set-HckAdvancedProperty -Name $AdapterName -Changes $changes -Current $current
        Restart-HckAdapter -Name $AdapterName -TimeoutSeconds $script:TimeoutSeconds
    }
    $deadline = (Get-Date).AddSeconds($script:TimeoutSeconds)
    while (-not (Test-Connection -ComputerName $script:Server -Count 1 -Quiet)) {
        if ((Get-Date) -gt $deadline) {
            Exit-Hck -Code 4 -Message "The server $($script:Server) does not answer ping within $($script:TimeoutSeconds) s."
        }
        Start-Sleep -Seconds 1
    }
}

function Get-RscCounter {
    <#
    .SYNOPSIS
        The adapter's RSC statistics as @{ Packets; Bytes; Events; Exceptions } (zeros when the
        adapter reports none).
    .PARAMETER AdapterName
        Adapter name.
    #>
    [CmdletBinding()]
    param([string]$AdapterName)
    $s = (Get-NetAdapterStatistics -Name $AdapterName).RscStatistics
    if ($null -eq $s) { return @{ Packets = 0; Bytes = 0; Events = 0; Exceptions = 0 } }
    return @{
        Packets    = [uint64]$s.CoalescedPackets
        Bytes      = [uint64]$s.CoalescedBytes
        Events     = [uint64]$s.CoalescingEvents
        Exceptions = [uint64]$s.CoalescingExceptions
    }
}

try {
    Assert-HckElevated
    $iperf = Resolve-HckTool -Path $IperfPath -Hint 'Install iperf3 for Windows and pass -IperfPath C:\path\iperf3.exe.'
    $script:table = Get-HckKeywordTable -Path $TablePath
    $script:Server = $Server
    $script:TimeoutSeconds = $TimeoutSeconds
    $adapter = Get-HckAdapter -Name $Name
    $an = $adapter.Name
    $original = Get-HckAdvancedValue -Name $an
    $restore = [ordered]@{}
    foreach ($k in '*RscIPv4', '*RscIPv6') {
        if ($original.Contains($k)) { $restore[$k] = $original[$k] } else { $restore[$k] = (Find-HckKeyword -Table $script:table -Keyword $k).Default }
    }
    $softwareRsc = '(absent)'
    if ($original.Contains('SoftwareRsc')) { $softwareRsc = $original['SoftwareRsc'] }
    Write-Information "SoftwareRsc = $softwareRsc (1: coalesce in the driver when the host delivers no coalesced frames)"

    $runs = @(
        @{ Label = 'RSC off'; Value = '0' }
        @{ Label = 'RSC on'; Value = '1' }
    )
    $rows = @()
    try {
        foreach ($run in $runs) {
            Write-Information "--- $($run.Label)"
            Set-RunSetting -AdapterName $an -Values ([ordered]@{ '*RscIPv4' = $run.Value; '*RscIPv6' = $run.Value })
            $rsc = Get-NetAdapterRsc -Name $an
            $before = Get-RscCounter -AdapterName $an
            $j = Invoke-HckIperf3 -Path $iperf -Arguments @('-c', $Server, '-p', [string]$Port, '-R', '-t', [string]$Seconds, '-P', [string]$Streams)
            $after = Get-RscCounter -AdapterName $an
            $received = $j.end.sum_received
            $row = [pscustomobject]@{
                Run                  = $run.Label
                'Gbit/s'             = [Math]::Round([double]$received.bits_per_second / 1e9, 3)
                'Guest CPU %'        = [Math]::Round([double]$j.end.cpu_utilization_percent.host_total, 1)
                CoalescedPackets     = $after.Packets - $before.Packets
                CoalescedBytes       = $after.Bytes - $before.Bytes
                CoalescingEvents     = $after.Events - $before.Events
                CoalescingExceptions = $after.Exceptions - $before.Exceptions
                IPv4Operational      = $rsc.IPv4OperationalState
                IPv4FailureReason    = [string]$rsc.IPv4FailureReason
            }
            $rows += $row
            if ($run.Value -eq '1' -and $row.CoalescedPackets -eq 0) {
                Write-Warning ("RSC is enabled but nothing was coalesced. IPv4FailureReason {0}: {1}" -f $row.IPv4FailureReason, (Get-HckRscRemedy -Reason $row.IPv4FailureReason))
            }
        }
    }
    finally {
        if (-not $KeepSettings) {
            Write-Information "--- restoring *RscIPv4=$($restore['*RscIPv4']) *RscIPv6=$($restore['*RscIPv6'])"
            Set-RunSetting -AdapterName $an -Values $restore
        }
    }
    $rows | Format-Table -AutoSize | Out-String -Width 220 | Write-Output
    if ($rows.Count -eq 2 -and $rows[0].'Gbit/s' -gt 0) {
        $ratio = $rows[1].'Gbit/s' / $rows[0].'Gbit/s'
        $perPacket = 'n/a'
        if ($rows[1].CoalescingEvents -gt 0) { $perPacket = '{0:N1}' -f ($rows[1].CoalescedPackets / $rows[1].CoalescingEvents) }
        Write-Output ('RSC on/off throughput ratio: x{0:N2} (same session); segments per coalescing event with RSC on: {1}' -f $ratio, $perPacket)
    }
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
