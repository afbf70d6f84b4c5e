#Requires -Version 5.1
<#
.SYNOPSIS
    Shared helpers of the netkvmrs hck/ scripts (Install, Configure, Verify, Measure-Uso, Measure-Rsc).

.DESCRIPTION
    Adapter lookup, the keyword table (hck\keywords.psd1, generated from the driver's own table),
    value validation, profiles, advanced-property writes with a single adapter restart, offload
    state expectations, iperf3 runs and the exit-code convention:

        0  success
        1  a check or measurement failed (Verify mismatches, iperf3 failure)
        2  invalid parameters or profile (nothing was changed)
        3  a precondition is not met (not elevated, test signing off, adapter or tool missing)
        4  timed out (adapter did not appear or did not come up)
        5  unexpected error

    Scripts import this module with Import-Module; it is not meant to be installed.
#>

Set-StrictMode -Version Latest
# Preference variables of the calling script do not reach module functions: set them here.
$ErrorActionPreference = 'Stop'

# Name of the driver image; Get-NetAdapter reports it as DriverFileName.
$script:DriverFile = 'netkvmrs.sys'

function Exit-Hck {
    <#
    .SYNOPSIS
        Stops the calling script with an hck exit code and a message (throws; the script's catch
        block turns it into the exit code).
    .PARAMETER Code
        Exit code, see the module description.
    .PARAMETER Message
        What went wrong and what to do about it.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][ValidateRange(1, 255)][int]$Code,
        [Parameter(Mandatory = $true)][string]$Message
    )
    $ex = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    $ex.Data['HckExitCode'] = $Code
    throw $ex
}

function Write-HckFailure {
    <#
    .SYNOPSIS
        Prints a caught error to stderr and returns the exit code the script should use.
    .PARAMETER ErrorRecord
        The error caught by the script ($_ in its catch block).
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory = $true)][System.Management.Automation.ErrorRecord]$ErrorRecord)
    $code = 5
    $ex = $ErrorRecord.Exception
    if ($ex.Data.Contains('HckExitCode')) {
        $code = [int]$ex.Data['HckExitCode']
        [Console]::Error.WriteLine('ERROR: ' + $ex.Message)
    }
    else {
        [Console]::Error.WriteLine('UNEXPECTED ERROR: ' + $ex.Message)
        [Console]::Error.WriteLine($ErrorRecord.ScriptStackTrace)
    }
    return $code
}

function Test-HckElevated {
    <#
    .SYNOPSIS
        True when the current process runs elevated (member of BUILTIN\Administrators, token elevated).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    $id = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object -TypeName Security.Principal.WindowsPrincipal -ArgumentList $id
    return $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Assert-HckElevated {
    <#
    .SYNOPSIS
        Stops with exit code 3 unless the process is elevated.
    #>
    [CmdletBinding()]
    param()
    if (-not (Test-HckElevated)) {
        Exit-Hck -Code 3 -Message 'This script changes or reads driver settings that need administrator rights. Start PowerShell with "Run as administrator" and run it again.'
    }
}

function Get-HckAdapter {
    <#
    .SYNOPSIS
        Returns the one network adapter served by netkvmrs.sys (or the one named -Name).
    .PARAMETER Name
        Adapter name (Get-NetAdapter -Name). Required when several netkvmrs adapters exist.
    #>
    [CmdletBinding()]
    param([string]$Name)
    if ($Name) {
        $adapter = Get-NetAdapter -Name $Name -ErrorAction SilentlyContinue
        if (-not $adapter) {
            $names = (Get-NetAdapter | ForEach-Object { $_.Name }) -join ', '
            Exit-Hck -Code 3 -Message "No network adapter named '$Name'. Present: $names"
        }
        if ($adapter.DriverFileName -ne $script:DriverFile) {
            Exit-Hck -Code 3 -Message ("Adapter '{0}' is driven by '{1}', not {2}. Run Install.ps1 first or pick another adapter." -f $Name, $adapter.DriverFileName, $script:DriverFile)
        }
        return $adapter
    }
    $found = @(Get-NetAdapter | Where-Object { $_.DriverFileName -eq $script:DriverFile })
    if ($found.Count -eq 0) {
        Exit-Hck -Code 3 -Message "No network adapter uses $($script:DriverFile). Install the driver with Install.ps1 (and check Device Manager for a VirtIO device with a problem code)."
    }
    if ($found.Count -gt 1) {
        $names = ($found | ForEach-Object { $_.Name }) -join ', '
        Exit-Hck -Code 2 -Message "Several adapters use $($script:DriverFile) ($names); choose one with -Name."
    }
    return $found[0]
}

function Wait-HckAdapterUp {
    <#
    .SYNOPSIS
        Waits until the adapter reports Status 'Up' (after a restart or install); stops with exit
        code 4 on timeout.
    .PARAMETER Name
        Adapter name.
    .PARAMETER TimeoutSeconds
        How long to wait.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Name,
        [ValidateRange(1, 3600)][int]$TimeoutSeconds = 60
    )
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    $status = 'absent'
    while ((Get-Date) -lt $deadline) {
        $adapter = Get-NetAdapter -Name $Name -ErrorAction SilentlyContinue
        if ($adapter) {
            $status = [string]$adapter.Status
            if ($status -eq 'Up') {
                return $adapter
            }
        }
        Start-Sleep -Milliseconds 500
    }
    Exit-Hck -Code 4 -Message "Adapter '$Name' is not Up after $TimeoutSeconds s (status: $status). Check the link on the host side (TAP up, bridge) and the System event log (source netkvmrs)."
}

function Get-HckKeywordTable {
    <#
    .SYNOPSIS
        Loads hck\keywords.psd1 (generated from the driver's advanced-property table) as an
        ordered dictionary keyword -> entry.
    .PARAMETER Path
        Path of the table; defaults to keywords.psd1 next to the scripts.
    #>
    [CmdletBinding()]
    param([string]$Path = (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'keywords.psd1'))
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        Exit-Hck -Code 3 -Message "Keyword table not found: $Path (it ships in hck\ next to the scripts)."
    }
    $data = Import-PowerShellDataFile -LiteralPath $Path
    $table = [ordered]@{}
    foreach ($entry in $data.Keywords) {
        $table[$entry.Keyword] = $entry
    }
    return $table
}

function Find-HckKeyword {
    <#
    .SYNOPSIS
        Returns the table entry for a keyword (registry names are case-insensitive), or $null.
    .PARAMETER Table
        The table from Get-HckKeywordTable.
    .PARAMETER Keyword
        Keyword to look up.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Table,
        [Parameter(Mandatory = $true)][string]$Keyword
    )
    foreach ($k in $Table.Keys) {
        if ([string]::Equals($k, $Keyword, [StringComparison]::OrdinalIgnoreCase)) {
            return $Table[$k]
        }
    }
    return $null
}

function ConvertTo-HckNetworkAddress {
    <#
    .SYNOPSIS
        Normalizes a NetworkAddress value to 12 upper-case hex digits, enforcing the driver's rules
        (12 digits; '-', ':', '.' and blanks tolerated; unicast, non-zero, locally administered).
        Returns @{ Value = ...; Error = ... }.
    .PARAMETER Text
        The MAC address as typed.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text)
    $digits = ($Text -replace '[-:.\s]', '').ToUpperInvariant()
    if ($digits -notmatch '^[0-9A-F]{12}$') {
        return @{ Value = $null; Error = "'$Text' is not 12 hex digits" }
    }
    $first = [Convert]::ToInt32($digits.Substring(0, 2), 16)
    if ($digits -eq '000000000000') {
        return @{ Value = $null; Error = 'the all-zero address is not a station address' }
    }
    if (($first -band 1) -ne 0) {
        return @{ Value = $null; Error = "'$Text' is a multicast/broadcast address" }
    }
    if (($first -band 2) -eq 0) {
        return @{ Value = $null; Error = "'$Text' is not locally administered (set bit 1 of the first octet, e.g. 02-...)" }
    }
    return @{ Value = $digits; Error = $null }
}

function Resolve-HckKeywordValue {
    <#
    .SYNOPSIS
        Validates one keyword/value pair against the table. Returns @{ Keyword; Value; Entry; Error }
        where Value is the canonical registry string ('' = remove, for optional keywords).
    .DESCRIPTION
        Enum keywords accept the registry value or its display text ('Enabled', 'Rx & Tx Enabled');
        numeric keywords need a decimal integer within Min..Max on the Step grid; NetworkAddress must
        be an administered unicast MAC.
    .PARAMETER Table
        The table from Get-HckKeywordTable.
    .PARAMETER Keyword
        Registry keyword.
    .PARAMETER Value
        Wanted value.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Table,
        [Parameter(Mandatory = $true)][string]$Keyword,
        [Parameter(Mandatory = $true)][AllowEmptyString()][AllowNull()][object]$Value
    )
    $entry = Find-HckKeyword -Table $Table -Keyword $Keyword
    $result = @{ Keyword = $Keyword; Value = $null; Entry = $entry; Error = $null }
    if ($null -eq $entry) {
        $near = @($Table.Keys | Where-Object { $_ -like ('*' + $Keyword.TrimStart('*').Substring(0, [Math]::Min(3, $Keyword.TrimStart('*').Length)) + '*') })
        $hint = ''
        if ($near.Count -gt 0) { $hint = ' Did you mean: ' + ($near -join ', ') + '?' }
        $result.Error = "unknown keyword '$Keyword' (not in the driver's table).$hint"
        return $result
    }
    $result.Keyword = $entry.Keyword
    $text = ''
    if ($null -ne $Value) { $text = ([string]$Value).Trim() }
    switch ($entry.Type) {
        'edit' {
            if ($text -eq '') {
                if ($entry.Optional) { $result.Value = ''; return $result }
                $result.Error = "$($entry.Keyword) needs a value"
                return $result
            }
            $mac = ConvertTo-HckNetworkAddress -Text $text
            if ($mac.Error) { $result.Error = "$($entry.Keyword): $($mac.Error)" } else { $result.Value = $mac.Value }
            return $result
        }
        'enum' {
            foreach ($choice in $entry['Choices']) {
                if ($choice.Value -eq $text -or [string]::Equals($choice.Text, $text, [StringComparison]::OrdinalIgnoreCase)) {
                    $result.Value = $choice.Value
                    return $result
                }
            }
            $allowed = ($entry['Choices'] | ForEach-Object { "$($_.Value) ($($_.Text))" }) -join ', '
            $result.Error = "$($entry.Keyword) = '$text' is not allowed; choose one of: $allowed"
            return $result
        }
        default {
            $number = 0L
            if ($text -notmatch '^[+-]?[0-9]+$' -or -not [long]::TryParse($text, [ref]$number)) {
                $result.Error = "$($entry.Keyword) = '$text' is not a decimal integer"
                return $result
            }
            $min = [long]$entry.Min
            $max = [long]$entry.Max
            $step = [long]$entry.Step
            if ($number -lt $min -or $number -gt $max -or (($number - $min) % $step) -ne 0) {
                $result.Error = "$($entry.Keyword) = $number is outside $min..$max (step $step)"
                return $result
            }
            $result.Value = [string]$number
            return $result
        }
    }
}

function Get-HckCrossKeywordWarning {
    <#
    .SYNOPSIS
        Returns warnings for combinations the driver resolves on its own (so the tester is not
        surprised): VlanID without VLAN tagging, *LsoV1IPv4 overridden by *LsoV2IPv4.
    .PARAMETER Values
        Dictionary keyword -> canonical value about to be applied (merged with current values).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Values)
    $tag = $Values['*PriorityVLANTag']
    $vlan = $Values['VlanID']
    if ($null -ne $vlan -and $vlan -ne '0' -and $null -ne $tag -and $tag -ne '2' -and $tag -ne '3') {
        'VlanID is ignored by the driver while *PriorityVLANTag does not enable VLAN (2 or 3).'
    }
    if ($null -ne $Values['*LsoV1IPv4'] -and $null -ne $Values['*LsoV2IPv4'] -and $Values['*LsoV1IPv4'] -ne $Values['*LsoV2IPv4']) {
        '*LsoV1IPv4 differs from *LsoV2IPv4; the driver follows *LsoV2IPv4 for both (standardized keyword rule).'
    }
}

function ConvertTo-HckHashtable {
    <#
    .SYNOPSIS
        Converts a ConvertFrom-Json object tree into hashtables (Windows PowerShell 5.1 has no
        -AsHashtable).
    .PARAMETER InputObject
        Object to convert.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][AllowNull()][object]$InputObject)
    if ($null -eq $InputObject) { return $null }
    if ($InputObject -is [System.Management.Automation.PSCustomObject]) {
        $h = [ordered]@{}
        foreach ($p in $InputObject.PSObject.Properties) {
            $h[$p.Name] = ConvertTo-HckHashtable -InputObject $p.Value
        }
        return $h
    }
    if ($InputObject -is [System.Collections.IEnumerable] -and $InputObject -isnot [string]) {
        return , @($InputObject | ForEach-Object { ConvertTo-HckHashtable -InputObject $_ })
    }
    return $InputObject
}

function Read-HckProfile {
    <#
    .SYNOPSIS
        Reads a profile (.psd1 or .json): @{ Description = '...'; Advanced = @{ keyword = value };
        Operational = @{ Rsc = $true } }. Returns a hashtable with Advanced (ordered) and Operational.
    .PARAMETER Path
        Profile path.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        Exit-Hck -Code 2 -Message "Profile not found: $Path"
    }
    $ext = [IO.Path]::GetExtension($Path).ToLowerInvariant()
    try {
        if ($ext -eq '.psd1') {
            $data = Import-PowerShellDataFile -LiteralPath $Path
        }
        elseif ($ext -eq '.json') {
            $data = ConvertTo-HckHashtable -InputObject (Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json)
        }
        else {
            Exit-Hck -Code 2 -Message "Profile $Path must be a .psd1 or .json file."
        }
    }
    catch {
        if ($_.Exception.Data.Contains('HckExitCode')) { throw }
        Exit-Hck -Code 2 -Message "Profile $Path cannot be read: $($_.Exception.Message)"
    }
    $out = @{ Advanced = [ordered]@{}; Operational = @{} }
    foreach ($key in $data.Keys) {
        if ($key -notin @('Description', 'Advanced', 'Operational')) {
            Exit-Hck -Code 2 -Message "Profile $Path has an unknown section '$key' (allowed: Description, Advanced, Operational)."
        }
    }
    if ($data.Contains('Advanced')) {
        foreach ($k in $data['Advanced'].Keys) { $out.Advanced[$k] = $data['Advanced'][$k] }
    }
    if ($data.Contains('Operational')) {
        foreach ($k in $data['Operational'].Keys) {
            if ($k -notin @('Rsc')) {
                Exit-Hck -Code 2 -Message "Profile $Path has an unknown Operational entry '$k' (allowed: Rsc)."
            }
            $out.Operational[$k] = [bool]$data['Operational'][$k]
        }
    }
    return $out
}

function Get-HckAdvancedValue {
    <#
    .SYNOPSIS
        Current registry values of the adapter's advanced properties (including keywords without an
        Ndi\params entry) as a case-insensitive dictionary keyword -> string.
    .PARAMETER Name
        Adapter name.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Name)
    # @{} is case-insensitive, like registry value names.
    $values = @{}
    foreach ($p in @(Get-NetAdapterAdvancedProperty -Name $Name -AllProperties -ErrorAction SilentlyContinue)) {
        # An Optional keyword without a value ("Not Present") is listed with no RegistryValue.
        if ($null -eq $p.RegistryValue) { continue }
        $v = (@($p.RegistryValue) -join ',')
        if ($v -ne '') { $values[$p.RegistryKeyword] = $v }
    }
    return $values
}

function Set-HckAdvancedProperty {
    <#
    .SYNOPSIS
        Writes advanced properties without restarting the adapter (-NoRestart each time); the caller
        restarts once. Keywords without an Ndi\params entry are (re)created with
        New-NetAdapterAdvancedProperty; '' removes an optional keyword.
    .PARAMETER Name
        Adapter name.
    .PARAMETER Changes
        Ordered dictionary keyword -> @{ Value; Entry } (validated by Resolve-HckKeywordValue).
    .PARAMETER Current
        Current values from Get-HckAdvancedValue (a case-insensitive hashtable).
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Changes,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Current
    )
    foreach ($kw in $Changes.Keys) {
        $change = $Changes[$kw]
        $value = $change.Value
        $exists = $Current.Contains($kw)
        if (-not $PSCmdlet.ShouldProcess("$Name : $kw", "set to '$value'")) {
            continue
        }
        if ($value -eq '') {
            if ($exists) {
                Remove-NetAdapterAdvancedProperty -Name $Name -RegistryKeyword $kw -AllProperties -NoRestart -Confirm:$false
            }
        }
        elseif ($change.Entry.Shown) {
            Set-NetAdapterAdvancedProperty -Name $Name -RegistryKeyword $kw -RegistryValue $value -NoRestart
        }
        else {
            # No Ndi\params entry: Set-NetAdapterAdvancedProperty cannot address it, so replace the value.
            if ($exists) {
                Remove-NetAdapterAdvancedProperty -Name $Name -RegistryKeyword $kw -AllProperties -NoRestart -Confirm:$false
            }
            New-NetAdapterAdvancedProperty -Name $Name -RegistryKeyword $kw -RegistryValue $value -RegistryDataType REG_SZ -NoRestart | Out-Null
        }
    }
}

function Restart-HckAdapter {
    <#
    .SYNOPSIS
        Restarts the adapter once (so the driver re-reads its registry) and waits for link Up.
    .PARAMETER Name
        Adapter name.
    .PARAMETER TimeoutSeconds
        How long to wait for Up.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][string]$Name,
        [int]$TimeoutSeconds = 60
    )
    if ($PSCmdlet.ShouldProcess($Name, 'Restart-NetAdapter')) {
        Restart-NetAdapter -Name $Name -Confirm:$false
        Wait-HckAdapterUp -Name $Name -TimeoutSeconds $TimeoutSeconds | Out-Null
    }
}

function ConvertTo-HckChecksumDirection {
    <#
    .SYNOPSIS
        Maps a checksum keyword value (0..3) to the Get-NetAdapterChecksumOffload value name.
    .PARAMETER Value
        Registry value.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory = $true)][string]$Value)
    switch ($Value) {
        '0' { return 'Disabled' }
        '1' { return 'TxEnabled' }
        '2' { return 'RxEnabled' }
        '3' { return 'RxTxEnabled' }
        default { return "invalid($Value)" }
    }
}

function Get-HckOffloadExpectation {
    <#
    .SYNOPSIS
        What the NetAdapter cmdlets must report for given keyword values: a list of
        @{ Cmdlet; Property; Keyword; Expected } (Expected is a bool or a checksum direction name).
    .PARAMETER Values
        Dictionary keyword -> registry value (expected state).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Values)
    $map = @(
        @{ Cmdlet = 'Get-NetAdapterRsc'; Property = 'IPv4Enabled'; Keyword = '*RscIPv4'; Kind = 'bool' }
        @{ Cmdlet = 'Get-NetAdapterRsc'; Property = 'IPv6Enabled'; Keyword = '*RscIPv6'; Kind = 'bool' }
        @{ Cmdlet = 'Get-NetAdapterUso'; Property = 'IPv4Enabled'; Keyword = '*UsoIPv4'; Kind = 'bool' }
        @{ Cmdlet = 'Get-NetAdapterUso'; Property = 'IPv6Enabled'; Keyword = '*UsoIPv6'; Kind = 'bool' }
        @{ Cmdlet = 'Get-NetAdapterLso'; Property = 'IPv4Enabled'; Keyword = '*LsoV2IPv4'; Kind = 'bool' }
        @{ Cmdlet = 'Get-NetAdapterLso'; Property = 'IPv6Enabled'; Keyword = '*LsoV2IPv6'; Kind = 'bool' }
        @{ Cmdlet = 'Get-NetAdapterChecksumOffload'; Property = 'IpIPv4Enabled'; Keyword = '*IPChecksumOffloadIPv4'; Kind = 'direction' }
        @{ Cmdlet = 'Get-NetAdapterChecksumOffload'; Property = 'TcpIPv4Enabled'; Keyword = '*TCPChecksumOffloadIPv4'; Kind = 'direction' }
        @{ Cmdlet = 'Get-NetAdapterChecksumOffload'; Property = 'TcpIPv6Enabled'; Keyword = '*TCPChecksumOffloadIPv6'; Kind = 'direction' }
        @{ Cmdlet = 'Get-NetAdapterChecksumOffload'; Property = 'UdpIPv4Enabled'; Keyword = '*UDPChecksumOffloadIPv4'; Kind = 'direction' }
        @{ Cmdlet = 'Get-NetAdapterChecksumOffload'; Property = 'UdpIPv6Enabled'; Keyword = '*UDPChecksumOffloadIPv6'; Kind = 'direction' }
    )
    foreach ($m in $map) {
        if (-not $Values.Contains($m.Keyword)) { continue }
        $raw = [string]$Values[$m.Keyword]
        if ($m.Kind -eq 'bool') { $expected = ($raw -eq '1') } else { $expected = ConvertTo-HckChecksumDirection -Value $raw }
        [pscustomobject]@{ Cmdlet = $m.Cmdlet; Property = $m.Property; Keyword = $m.Keyword; Expected = $expected }
    }
}

function Get-HckRscRemedy {
    <#
    .SYNOPSIS
        Explains a Get-NetAdapterRsc IPv4FailureReason / IPv6FailureReason and what to do about it.
    .PARAMETER Reason
        The failure reason name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory = $true)][string]$Reason)
    switch ($Reason) {
        'NoFailure' { return 'RSC is operational.' }
        'Capability' { return 'The adapter reports no RSC capability. With SoftwareRsc=1 (default) netkvmrs coalesces in software even when the host offers no GUEST_TSO4/6, so check SoftwareRsc and *RscIPv4/6 first; with SoftwareRsc=0 (NetKVM behaviour) the host must deliver coalesced frames: TAP tx-checksumming and tcp-segmentation-offload on (hck/qemu/check-tap.sh), virtio-net guest_csum/guest_tso4/guest_tso6 not disabled.' }
        'WFPCompatibility' { return 'A Windows Filtering Platform callout that does not accept large packets is bound (firewall, antivirus, VPN). Find it with "netsh wfp show state"; temporarily disable the product to confirm (on some Server 2025 setups only removing the Windows Defender feature helped).' }
        'NDISCompatibility' { return 'A filter or IM driver of NDIS 6.20 or older is bound to the adapter. List bindings with Get-NetAdapterBinding -Name <adapter>; update or unbind the old filter.' }
        'ForwardingEnabled' { return 'IP forwarding is enabled on the interface (Get-NetIPInterface -InterfaceAlias <adapter> | Select Forwarding). Disable it: Set-NetIPInterface -InterfaceAlias <adapter> -Forwarding Disabled.' }
        'NetOffloadGlobalDisabled' { return 'RSC is off globally. Enable it: Set-NetOffloadGlobalSetting -ReceiveSegmentCoalescing Enabled.' }
        'NicPropertyDisabled' { return 'RSC is disabled on the adapter (*RscIPv4/*RscIPv6 = 0). Enable-NetAdapterRsc -Name <adapter>, or Configure.ps1 -Set @{ ''*RscIPv4'' = 1; ''*RscIPv6'' = 1 }.' }
        default { return "Reason '$Reason' is not documented; check the System event log and Get-NetAdapterRsc | Format-List *." }
    }
}

function Invoke-HckIperf3 {
    <#
    .SYNOPSIS
        Runs iperf3 with --json and returns the parsed result; stops with exit code 1 when iperf3
        fails.
    .PARAMETER Path
        iperf3 executable.
    .PARAMETER Arguments
        Arguments (without --json).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][string[]]$Arguments
    )
    $all = @($Arguments) + @('--json')
    Write-Verbose ("iperf3 " + ($all -join ' '))
    # Windows PowerShell 5.1 turns native stderr lines into terminating errors under 'Stop'.
    $ErrorActionPreference = 'Continue'
    $output = & $Path @all 2>&1
    $exit = $LASTEXITCODE
    $text = ($output | ForEach-Object { [string]$_ }) -join "`n"
    $json = $null
    try { $json = $text | ConvertFrom-Json } catch { $json = $null }
    if ($exit -ne 0 -or $null -eq $json) {
        $detail = $text
        if ($null -ne $json -and $json.PSObject.Properties['error']) { $detail = $json.error }
        Exit-Hck -Code 1 -Message "iperf3 $($Arguments -join ' ') failed (exit $exit): $detail"
    }
    if ($json.PSObject.Properties['error']) {
        Exit-Hck -Code 1 -Message "iperf3 $($Arguments -join ' ') reported: $($json.error)"
    }
    return $json
}

function Resolve-HckTool {
    <#
    .SYNOPSIS
        Returns the full path of an executable (given as a path or a command name); stops with exit
        code 3 when it is missing.
    .PARAMETER Path
        Executable path or name.
    .PARAMETER Hint
        Where to get it, printed when missing.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][string]$Hint
    )
    $cmd = Get-Command -Name $Path -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $cmd) {
        Exit-Hck -Code 3 -Message "'$Path' not found. $Hint"
    }
    return $cmd.Source
}

Export-ModuleMember -Function @(
    'Exit-Hck', 'Write-HckFailure', 'Test-HckElevated', 'Assert-HckElevated', 'Get-HckAdapter',
    'Wait-HckAdapterUp', 'Get-HckKeywordTable', 'Find-HckKeyword', 'ConvertTo-HckNetworkAddress',
    'Resolve-HckKeywordValue', 'Get-HckCrossKeywordWarning', 'ConvertTo-HckHashtable', 'Read-HckProfile',
    'Get-HckAdvancedValue', 'Set-HckAdvancedProperty', 'Restart-HckAdapter', 'ConvertTo-HckChecksumDirection',
    'Get-HckOffloadExpectation', 'Get-HckRscRemedy', 'Invoke-HckIperf3', 'Resolve-HckTool'
)
