# patchplane pre-patch health check (Windows), the pre-install hook of AWS-RunPatchBaselineWithHooks.
# A failure prints PATCHPLANE_HEALTH_CHECK_FAILED and exits 1: the node is not patched this time.
$minFreeMb = [int]'{{ MinFreeMb }}'
$minAgent = [version]'{{ MinAgentVersion }}'
function Fail([string]$Message) { Write-Output "PATCHPLANE_HEALTH_CHECK_FAILED: $Message"; exit 1 }

# 1. Free disk space on the system drive.
$drive = $env:SystemDrive.TrimEnd(':')
$free = [math]::Floor((Get-PSDrive -Name $drive).Free / 1MB)
if ($free -lt $minFreeMb) { Fail "only $free MB free on ${drive}: (need $minFreeMb)" }

# 2. Windows Installer is not busy (another install holds its mutex).
try {
    $m = [System.Threading.Mutex]::OpenExisting('Global\_MSIExecute')
    $m.Dispose()
    Fail 'Windows Installer is busy with another installation'
} catch [System.Threading.WaitHandleCannotBeOpenedException] { }

# 3. The update source is reachable: the WSUS server when policy names one, else Windows Update.
$wu = (Get-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate' -Name WUServer -ErrorAction SilentlyContinue).WUServer
if (-not $wu) { $wu = 'https://download.windowsupdate.com' }
try { Invoke-WebRequest -Uri $wu -Method Head -UseBasicParsing -TimeoutSec 60 | Out-Null }
catch {
    if (-not $_.Exception.Response) { Fail "the update source $wu is not reachable" }
}

# 4. The SSM agent is recent enough.
$exe = Join-Path $env:ProgramFiles 'Amazon\SSM\amazon-ssm-agent.exe'
if (-not (Test-Path $exe)) { Fail 'cannot find the SSM agent' }
$agent = [version](Get-Item $exe).VersionInfo.ProductVersion
if ($agent -lt $minAgent) { Fail "SSM agent $agent is older than $minAgent" }
Write-Output "PATCHPLANE_HEALTH_CHECK_OK: disk, installer, update source and agent $agent"
