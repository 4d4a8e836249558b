; Inno Setup script: a setup .exe for Windows from the PyInstaller bundle in dist\mirari.
;
;   python build_spec\make_icons.py
;   pyinstaller --noconfirm --distpath dist --workpath build\pyinstaller build_spec\mirari.spec
;   iscc /DAppVersion=0.1.0 build_spec\windows\mirari.iss      -> dist\mirari-0.1.0-windows-x64-setup.exe
;
; Installs per user by default (no admin prompt; the user may choose all users). Uninstalling removes
; the program only: the user's databases in %LOCALAPPDATA%\MIRARI are never touched.

#ifndef AppVersion
  #error Pass the version from pyproject.toml: iscc /DAppVersion=X.Y.Z build_spec\windows\mirari.iss
#endif
#define AppName "MIRARI"
#define BundleDir "..\..\dist\mirari"

[Setup]
AppId={{6F1C2E0A-5B7D-4C59-9E0B-3A1D8C2F4B71}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=MIRARI
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=mirari-{#AppVersion}-windows-x64-setup
SetupIconFile=..\icon\generated\mirari.ico
UninstallDisplayIcon={app}\mirari.exe
UninstallDisplayName={#AppName} {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; mirari.exe is the windowed program; mirari-cli.exe is the same program for a terminal
; (mirari-cli --version, mirari-cli --self-test, the headless sync commands).
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\mirari.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\mirari.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\mirari.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
