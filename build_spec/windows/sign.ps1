# Authenticode-sign files with the certificate in the environment (the build workflow passes its secrets):
#
#   $env:WINDOWS_CERTIFICATE           base64 of a .pfx (code-signing certificate and private key)
#   $env:WINDOWS_CERTIFICATE_PASSWORD  its password
#   ./build_spec/windows/sign.ps1 dist\mirari\mirari.exe dist\mirari\mirari-cli.exe
#
# SHA-256 digests, RFC 3161 timestamp (the signature stays valid after the certificate expires), then
# verified. The .pfx is written to the runner's temp dir and deleted whatever happens.
param([Parameter(Mandatory = $true, ValueFromRemainingArguments = $true)][string[]]$Files)
$ErrorActionPreference = 'Stop'

if (-not $env:WINDOWS_CERTIFICATE -or -not $env:WINDOWS_CERTIFICATE_PASSWORD) {
    throw 'WINDOWS_CERTIFICATE and WINDOWS_CERTIFICATE_PASSWORD must both be set'
}
# The newest signtool of the installed Windows SDKs (bin\<version>\x64\signtool.exe).
$signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
    Sort-Object { [version]$_.Directory.Parent.Name } -Descending | Select-Object -First 1
if (-not $signtool) { throw 'signtool.exe not found (Windows SDK)' }

$pfx = Join-Path ([IO.Path]::GetTempPath()) "mirari-signing-$([guid]::NewGuid()).pfx"
try {
    [IO.File]::WriteAllBytes($pfx, [Convert]::FromBase64String($env:WINDOWS_CERTIFICATE))
    & $signtool.FullName sign /f $pfx /p $env:WINDOWS_CERTIFICATE_PASSWORD /fd sha256 `
        /tr http://timestamp.digicert.com /td sha256 /d MIRARI @Files
    if ($LASTEXITCODE -ne 0) { throw "signtool sign exited with $LASTEXITCODE" }
    & $signtool.FullName verify /pa /v @Files
    if ($LASTEXITCODE -ne 0) { throw "signtool verify exited with $LASTEXITCODE" }
} finally {
    Remove-Item -Force -ErrorAction SilentlyContinue $pfx
}
