#Requires -Version 5.1
<#
.SYNOPSIS
    USO reference measurement: iperf3 UDP guest -> host with 1472-byte datagrams and USO off, then
    8972 and 65507 bytes with USO on, MTU adjusted through *JumboPacket; prints bandwidth,
    datagrams, loss and CPU per run.

.DESCRIPTION
    Runs, in this order (each after one adapter restart when a setting changes):

        run  *UsoIPv4  *JumboPacket (MTU)  datagram
        1    0         1514  (1500)        1472 bytes  (largest unfragmented at MTU 1500)
        2    1         9014  (9000)        8972 bytes  (largest unfragmented at MTU 9000)
        3    1         65500 (65486)       65507 bytes (largest UDP payload; 2 IP fragments)

    The host must run "iperf3 -s" on -Server and accept the MTU: raise the MTU of the bridge and
    TAP first (hck/qemu/net-up.sh --mtu 65500). Each run checks the path MTU with a don't-fragment
    ping and warns when the host side is smaller. The original *UsoIPv4 and *JumboPacket values
    are restored at the end unless -KeepSettings is given.

    What this measures: Windows uses USO only for sockets that set UDP_SEND_MSG_SIZE, which
    iperf3 does not do, so the runs show the per-datagram cost at each MTU with USO enabled in
    the adapter, not necessarily USO segmentation itself. Keep this in mind when comparing with
    an application that uses USO (e.g. QUIC stacks).

.PARAMETER Server
    Address of the host running "iperf3 -s".

.PARAMETER Name
    Adapter name. Optional when exactly one adapter uses netkvmrs.sys.

.PARAMETER Port
    iperf3 port (default 5201).

.PARAMETER Seconds
    Duration of each run (default 10).

.PARAMETER Bitrate
    iperf3 -b target for UDP; '0' (default) means unlimited.

.PARAMETER IperfPath
    iperf3 executable (default: iperf3 on PATH).

.PARAMETER KeepSettings
    Leave the last run's settings instead of restoring the original ones.

.PARAMETER TimeoutSeconds
    How long to wait for the adapter and the server after each restart (default 60).

.PARAMETER TablePath
    Keyword table; default hck\keywords.psd1.

.EXAMPLE
    .\Measure-Uso.ps1 -Server 192.168.77.1
    Runs the three measurements against iperf3 -s on the host and prints the table.

.NOTES
    Exit codes: 0 all runs completed; 1 an iperf3 run failed; 2 invalid parameters; 3 precondition
    (not elevated, no adapter, no iperf3); 4 adapter or server unreachable after a restart;
    5 unexpected error.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$Server,
    [string]$Name,
    [ValidateRange(1, 65535)][int]$Port = 5201,
    [ValidateRange(1, 3600)][int]$Seconds = 10,
    [ValidatePattern('^[0-9]+[KMG]?$')][string]$Bitrate = '0',
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
    Wait-Server
}

function Wait-Server {
    <#
    .SYNOPSIS
        Waits until the iperf3 server host answers a ping (the address may take a moment after a
        restart); stops with exit code 4 on timeout.
    #>
    [CmdletBinding()]
    param()
    $deadline = (Get-Date).AddSeconds($script:TimeoutSeconds)
    while ((Get-Date) -lt $deadline) {
        if (Test-Connection -ComputerName $script:Server -Count 1 -Quiet) { return }
        Start-Sleep -Seconds 1
    }
    Exit-Hck -Code 4 -Message "The server $($script:Server) does not answer ping within $($script:TimeoutSeconds) s."
}

function Test-PathMtu {
    <#
    .SYNOPSIS
        True when a don't-fragment ping with an IPv4 packet of exactly -Mtu bytes reaches the server.
    .PARAMETER Mtu
        IPv4 MTU to probe (payload = MTU - 28; ping.exe caps it at 65500).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([int]$Mtu)
    $payload = [Math]::Min($Mtu - 28, 65500)
    $ErrorActionPreference = 'Continue'
    & ping.exe -n 1 -w 2000 -f -l $payload $script:Server | Out-Null
    return ($LASTEXITCODE -eq 0)
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
    foreach ($k in '*UsoIPv4', '*JumboPacket') {
        if ($original.Contains($k)) { $restore[$k] = $original[$k] } else { $restore[$k] = (Find-HckKeyword -Table $script:table -Keyword $k).Default }
    }

    $runs = @(
        @{ Label = 'USO off, 1472 B'; Uso = '0'; Jumbo = '1514'; Length = 1472 }
        @{ Label = 'USO on, 8972 B'; Uso = '1'; Jumbo = '9014'; Length = 8972 }
        @{ Label = 'USO on, 65507 B'; Uso = '1'; Jumbo = '65500'; Length = 65507 }
    )
    $rows = @()
    try {
        foreach ($run in $runs) {
            Write-Information "--- $($run.Label): *UsoIPv4=$($run.Uso) *JumboPacket=$($run.Jumbo)"
            Set-RunSetting -AdapterName $an -Values ([ordered]@{ '*UsoIPv4' = $run.Uso; '*JumboPacket' = $run.Jumbo })
            $mtu = [int]$run.Jumbo - 14
            if (-not (Test-PathMtu -Mtu $mtu)) {
                Write-Warning "A don't-fragment ping of $mtu bytes does not reach ${Server}: the host bridge/TAP MTU is smaller (hck/qemu/net-up.sh --mtu 65500). Datagrams will be fragmented by IP."
            }
            $usoState = ''
            if (Get-Command -Name Get-NetAdapterUso -ErrorAction SilentlyContinue) {
                $u = Get-NetAdapterUso -Name $an
                $usoState = "v4=$($u.IPv4Enabled)"
            }
            $j = Invoke-HckIperf3 -Path $iperf -Arguments @('-c', $Server, '-p', [string]$Port, '-u', '-b', $Bitrate, '-l', [string]$run.Length, '-t', [string]$Seconds)
            $sum = $j.end.sum
            $cpu = $j.end.cpu_utilization_percent
            $rows += [pscustomobject]@{
                Run          = $run.Label
                MTU          = $mtu
                'Gbit/s'     = [Math]::Round([double]$sum.bits_per_second / 1e9, 3)
                Datagrams    = [long]$sum.packets
                Lost         = [long]$sum.lost_packets
                'Lost %'     = [Math]::Round([double]$sum.lost_percent, 2)
                'Guest CPU %' = [Math]::Round([double]$cpu.host_total, 1)
                'Host CPU %' = [Math]::Round([double]$cpu.remote_total, 1)
                'Get-NetAdapterUso' = $usoState
            }
        }
    }
    finally {
        if (-not $KeepSettings) {
            Write-Information "--- restoring *UsoIPv4=$($restore['*UsoIPv4']) *JumboPacket=$($restore['*JumboPacket'])"
            Set-RunSetting -AdapterName $an -Values $restore
        }
    }
    $rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Output
    if ($rows.Count -eq 3 -and $rows[0].'Gbit/s' -gt 0) {
        Write-Output ('Ratios to the USO-off run: 8972 B x{0:N2}, 65507 B x{1:N2} (bandwidth, same session).' -f ($rows[1].'Gbit/s' / $rows[0].'Gbit/s'), ($rows[2].'Gbit/s' / $rows[0].'Gbit/s'))
    }
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
