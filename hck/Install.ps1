#Requires -Version 5.1
<#
.SYNOPSIS
    Installs the netkvmrs driver package on this Windows guest and reports the driver bound to the
    virtio-net adapter.

.DESCRIPTION
    1. Checks administrator rights, Secure Boot and test signing (the running boot from
       HKLM\SYSTEM\CurrentControlSet\Control\SystemStartOptions, the configured one from
       "bcdedit /enum {current}"). A test-signed package loads only with test signing on and
       Secure Boot off.
    2. Checks the package: netkvmrs.inf, netkvmrs.sys and the catalog named by CatalogFile.
       With -TestSign it first creates and signs a catalog with a self-signed certificate (see
       that parameter).
    3. Runs "pnputil /add-driver netkvmrs.inf /install".
    4. Waits (bounded by -TimeoutSeconds) until a network adapter is served by netkvmrs.sys;
       reports PnP problem codes of VirtIO network devices while waiting.
    5. Prints the adapter, the driver version bound to it (Get-NetAdapter DriverVersionString and
       DEVPKEY_Device_DriverVersion) and the INF in the driver store, and fails when the bound
       version is not the package's DriverVer.

.PARAMETER Path
    The driver package: a directory containing netkvmrs.inf, or the .inf itself. Default: the
    current directory.

.PARAMETER TimeoutSeconds
    How long to wait for the adapter after pnputil (default 120).

.PARAMETER TestSign
    Create netkvmrs.cat if it is missing (Inf2Cat from the WDK when found, otherwise
    New-FileCatalog), create a self-signed code-signing certificate "CN=netkvm-rs test signing",
    trust it (LocalMachine Root and TrustedPublisher) and sign the catalog and netkvmrs.sys with
    it. For test machines only.

.PARAMETER SkipTestSigningCheck
    Do not require test signing (for a package signed with a production/attestation signature).

.EXAMPLE
    .\Install.ps1 -Path C:\drivers\netkvmrs
    Installs the package in C:\drivers\netkvmrs and prints the bound driver version.

.EXAMPLE
    .\Install.ps1 -Path C:\drivers\netkvmrs -TestSign -TimeoutSeconds 300
    Catalogs and test-signs the package built on Linux (which has no catalog), then installs it.

.NOTES
    Exit codes: 0 installed and bound; 1 pnputil failed or another driver version is bound;
    2 bad parameters; 3 precondition (not elevated, test signing off, Secure Boot on, files
    missing); 4 no netkvmrs adapter within the timeout; 5 unexpected error.
#>
[CmdletBinding()]
param(
    [string]$Path = (Get-Location).Path,
    [ValidateRange(5, 3600)][int]$TimeoutSeconds = 120,
    [switch]$TestSign,
    [switch]$SkipTestSigningCheck
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$InformationPreference = 'Continue'
Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'lib\NetKvmRs.Hck.psm1') -Force

function Get-TestSigningState {
    <#
    .SYNOPSIS
        Returns @{ Running = bool; Configured = bool; BcdLine = string } for test signing.
    #>
    [CmdletBinding()]
    param()
    $options = ''
    $key = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name 'SystemStartOptions' -ErrorAction SilentlyContinue
    if ($key) { $options = [string]$key.SystemStartOptions }
    $running = $options -match '\bTESTSIGNING\b'
    $ErrorActionPreference = 'Continue'
    $bcd = @(& bcdedit.exe /enum '{current}' 2>&1 | ForEach-Object { [string]$_ })
    # The element name is not localized; its value (Yes/No) is, so only common 'no' words are
    # recognised. The running state above is what matters; this only explains a mismatch.
    $line = @($bcd | Where-Object { $_ -match '^\s*testsigning\s' }) | Select-Object -First 1
    $configured = $false
    if ($line) { $configured = $line -notmatch '\s(No|Nein|Non|Nee|Nie|Nej|Ei)\s*$' }
    return @{ Running = $running; Configured = $configured; BcdLine = [string]$line }
}

function Test-SecureBootOn {
    <#
    .SYNOPSIS
        True when UEFI Secure Boot is on (false on BIOS machines or when it cannot be read).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    try { return [bool](Confirm-SecureBootUEFI) } catch { return $false }
}

function Get-InfDirective {
    <#
    .SYNOPSIS
        Returns the value of a [Version] directive (e.g. DriverVer, CatalogFile) of an INF.
    .PARAMETER InfPath
        INF file.
    .PARAMETER Name
        Directive name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string]$InfPath, [string]$Name)
    foreach ($line in (Get-Content -LiteralPath $InfPath)) {
        if ($line -match ('^\s*' + [regex]::Escape($Name) + '\s*=\s*([^;]*)')) {
            return $Matches[1].Trim()
        }
    }
    return $null
}

function Invoke-TestSign {
    <#
    .SYNOPSIS
        Catalogs and test-signs the package in $Dir (see the -TestSign parameter of the script).
    .PARAMETER Dir
        Package directory.
    .PARAMETER CatalogName
        File name of the catalog the INF names.
    #>
    [CmdletBinding()]
    param([string]$Dir, [string]$CatalogName)
    $catalog = Join-Path -Path $Dir -ChildPath $CatalogName
    if (-not (Test-Path -LiteralPath $catalog)) {
        $inf2cat = Get-Command -Name 'Inf2Cat.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if (-not $inf2cat) {
            $kits = Join-Path -Path ${env:ProgramFiles(x86)} -ChildPath 'Windows Kits\10\bin'
            $inf2cat = Get-ChildItem -Path $kits -Recurse -Filter 'Inf2Cat.exe' -ErrorAction SilentlyContinue | Select-Object -First 1
        }
        if ($inf2cat) {
            $exe = $inf2cat
            if ($inf2cat -is [System.Management.Automation.CommandInfo]) { $exe = $inf2cat.Source } else { $exe = $inf2cat.FullName }
            Write-Information "Creating $CatalogName with $exe"
            $ErrorActionPreference = 'Continue'
            & $exe "/driver:$Dir" '/os:10_X64' '/uselocaltime' | ForEach-Object { Write-Verbose ([string]$_) }
            $ErrorActionPreference = 'Stop'
            if ($LASTEXITCODE -ne 0) { Exit-Hck -Code 1 -Message "Inf2Cat failed with exit code $LASTEXITCODE." }
        }
        else {
            Write-Warning 'Inf2Cat (WDK) not found: creating the catalog with New-FileCatalog. PnP accepting such a catalog is not verified; install the WDK or eWDK if pnputil rejects it.'
            New-FileCatalog -Path $Dir -CatalogFilePath $catalog -CatalogVersion 2.0 | Out-Null
        }
    }
    $subject = 'CN=netkvm-rs test signing'
    $cert = Get-ChildItem -Path Cert:\LocalMachine\My -CodeSigningCert | Where-Object { $_.Subject -eq $subject -and $_.NotAfter -gt (Get-Date) } | Select-Object -First 1
    if (-not $cert) {
        Write-Information "Creating the self-signed certificate '$subject'"
        $cert = New-SelfSignedCertificate -Type CodeSigningCert -Subject $subject -CertStoreLocation Cert:\LocalMachine\My -HashAlgorithm SHA256
    }
    $cer = Join-Path -Path $env:TEMP -ChildPath 'netkvmrs-test.cer'
    Export-Certificate -Cert $cert -FilePath $cer | Out-Null
    foreach ($store in 'Root', 'TrustedPublisher') {
        Import-Certificate -FilePath $cer -CertStoreLocation "Cert:\LocalMachine\$store" | Out-Null
    }
    foreach ($file in @($catalog, (Join-Path -Path $Dir -ChildPath 'netkvmrs.sys'))) {
        # Files copied from an ISO keep the read-only attribute; signing rewrites them.
        (Get-Item -LiteralPath $file).IsReadOnly = $false
        $sig = Set-AuthenticodeSignature -FilePath $file -Certificate $cert -HashAlgorithm SHA256
        if ($sig.Status -ne 'Valid') {
            Exit-Hck -Code 1 -Message "Signing $file failed: $($sig.Status) $($sig.StatusMessage)"
        }
        Write-Information "Signed $file"
    }
}

function Get-VirtioNetDeviceProblem {
    <#
    .SYNOPSIS
        Lists VirtIO network PCI functions (1AF4:1000 / 1AF4:1041) with their PnP status and problem code.
    #>
    [CmdletBinding()]
    param()
    Get-PnpDevice -PresentOnly -ErrorAction SilentlyContinue |
        Where-Object { $_.InstanceId -match '^PCI\\VEN_1AF4&DEV_(1000|1041)' } |
        ForEach-Object {
            $problem = Get-PnpDeviceProperty -InstanceId $_.InstanceId -KeyName 'DEVPKEY_Device_ProblemCode' -ErrorAction SilentlyContinue
            $code = $null
            if ($problem) { $code = $problem.Data }
            '{0} [{1}] status={2} problem={3}' -f $_.FriendlyName, $_.InstanceId, $_.Status, $code
        }
}

try {
    Assert-HckElevated

    # --- package ---
    $inf = $Path
    if (Test-Path -LiteralPath $Path -PathType Container) { $inf = Join-Path -Path $Path -ChildPath 'netkvmrs.inf' }
    if (-not (Test-Path -LiteralPath $inf -PathType Leaf)) {
        Exit-Hck -Code 3 -Message "netkvmrs.inf not found at '$inf'. Pass -Path with the package directory (cargo xtask package writes target\package\netkvmrs\)."
    }
    $inf = (Resolve-Path -LiteralPath $inf).Path
    $dir = Split-Path -Parent $inf
    if (-not (Test-Path -LiteralPath (Join-Path -Path $dir -ChildPath 'netkvmrs.sys'))) {
        Exit-Hck -Code 3 -Message "netkvmrs.sys is missing next to $inf."
    }
    $driverVer = Get-InfDirective -InfPath $inf -Name 'DriverVer'
    $catalogName = Get-InfDirective -InfPath $inf -Name 'CatalogFile'
    if (-not $driverVer) { Exit-Hck -Code 3 -Message "$inf has no DriverVer; use the INF produced by the packager, not the .inx template." }
    $packageVersion = ($driverVer -split ',')[-1].Trim()
    Write-Information "Package: $inf (DriverVer $driverVer)"

    # --- signing prerequisites ---
    if (-not $SkipTestSigningCheck) {
        if (Test-SecureBootOn) {
            Exit-Hck -Code 3 -Message 'Secure Boot is on: Windows ignores test signing. Turn Secure Boot off in the VM firmware (OVMF setup or a non-secboot OVMF_VARS), then run "bcdedit /set testsigning on" and reboot.'
        }
        $ts = Get-TestSigningState
        if (-not $ts.Running) {
            $how = 'Run "bcdedit /set testsigning on" as administrator and reboot.'
            if ($ts.Configured) { $how = 'It is configured in the BCD ("' + $ts.BcdLine.Trim() + '") but this boot started without it: reboot.' }
            Exit-Hck -Code 3 -Message "Test signing is not active in this boot. $how Use -SkipTestSigningCheck for a production-signed package."
        }
        Write-Information 'Test signing: active.'
    }
    if ($TestSign) {
        if (-not $catalogName) { Exit-Hck -Code 3 -Message "$inf names no CatalogFile." }
        Invoke-TestSign -Dir $dir -CatalogName $catalogName
    }
    elseif ($catalogName -and -not (Test-Path -LiteralPath (Join-Path -Path $dir -ChildPath $catalogName))) {
        Exit-Hck -Code 3 -Message "The package has no $catalogName (the Linux packager cannot build catalogs). Rerun with -TestSign, or create it on Windows with Inf2Cat and sign it with signtool (see hck\README.md)."
    }

    # --- install ---
    Write-Information "pnputil /add-driver `"$inf`" /install"
    $ErrorActionPreference = 'Continue'
    $pnp = @(& pnputil.exe /add-driver $inf /install 2>&1 | ForEach-Object { [string]$_ })
    $pnpExit = $LASTEXITCODE
    $ErrorActionPreference = 'Stop'
    $pnp | ForEach-Object { Write-Information "  $_" }
    switch ($pnpExit) {
        0 { }
        3010 { Write-Warning 'pnputil: a reboot is required to finish the installation.' }
        259 { Write-Warning 'pnputil added the package but updated no device (no matching device, or a better-ranked driver is installed); waiting for the adapter anyway.' }
        default { Exit-Hck -Code 1 -Message "pnputil failed with exit code $pnpExit. Output above; common causes: unsigned/untrusted catalog (use -TestSign), test signing off, wrong architecture." }
    }

    # --- wait for the adapter ---
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    $adapter = $null
    while ((Get-Date) -lt $deadline) {
        $adapter = @(Get-NetAdapter -ErrorAction SilentlyContinue | Where-Object { $_.DriverFileName -eq 'netkvmrs.sys' }) | Select-Object -First 1
        if ($adapter) { break }
        Start-Sleep -Seconds 2
    }
    if (-not $adapter) {
        $devices = @(Get-VirtioNetDeviceProblem)
        $detail = 'no VirtIO network PCI device is present (check the QEMU command line: -device virtio-net-pci)'
        if ($devices.Count -gt 0) { $detail = 'VirtIO network devices: ' + ($devices -join '; ') }
        Exit-Hck -Code 4 -Message "No adapter is served by netkvmrs.sys after $TimeoutSeconds s; $detail. Problem code 10/43: see the System event log (source netkvmrs) and hck\README.md, Troubleshooting."
    }

    # --- report ---
    $pnpVersion = $null
    $infPath = $null
    $props = @(Get-PnpDeviceProperty -InstanceId $adapter.PnPDeviceID -KeyName 'DEVPKEY_Device_DriverVersion', 'DEVPKEY_Device_DriverInfPath' -ErrorAction SilentlyContinue)
    foreach ($p in $props) {
        if ($p.KeyName -eq 'DEVPKEY_Device_DriverVersion') { $pnpVersion = $p.Data }
        if ($p.KeyName -eq 'DEVPKEY_Device_DriverInfPath') { $infPath = $p.Data }
    }
    [pscustomobject]@{
        Name                 = $adapter.Name
        InterfaceDescription = $adapter.InterfaceDescription
        Status               = [string]$adapter.Status
        PnPDeviceID          = $adapter.PnPDeviceID
        DriverFileName       = $adapter.DriverFileName
        DriverVersion        = $adapter.DriverVersionString
        PnpDriverVersion     = $pnpVersion
        DriverDate           = $adapter.DriverDate
        DriverStoreInf       = $infPath
        NdisVersion          = $adapter.NdisVersion
        PackageDriverVer     = $driverVer
    } | Format-List | Out-String | Write-Output

    if ($pnpVersion -and $pnpVersion -ne $packageVersion) {
        Exit-Hck -Code 1 -Message "The adapter is bound to netkvmrs $pnpVersion, not the package's $packageVersion. An older package ranks higher or a reboot is pending: remove it with 'pnputil /delete-driver $infPath /uninstall' and rerun."
    }
    Write-Output "OK: $($adapter.Name) runs netkvmrs $($adapter.DriverVersionString)."
    exit 0
}
catch {
    exit (Write-HckFailure -ErrorRecord $_)
}
