# PSScriptAnalyzer settings for the hck/ scripts (used by Test-HckKit.ps1 on Windows).
@{
    Severity     = @('Error', 'Warning')
    ExcludeRules = @()
    Rules        = @{
        PSUseCompatibleSyntax = @{
            Enable         = $true
            TargetVersions = @('5.1', '7.4')
        }
    }
}
