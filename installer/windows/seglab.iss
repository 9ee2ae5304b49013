; Inno Setup script for SegLab on Windows (Inno Setup 6.2 or newer: https://jrsoftware.org/isinfo.php).
; Build the bundle first (python installer\build.py), then, from the checkout's root:
;     "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installer\windows\seglab.iss
; The installer lands in dist\installer\. Paths are relative to this file's folder.
; Keep AppVersion equal to core/__init__.py's __version__ (a test checks it), or pass /DAppVersion=x.y.z.

#ifndef AppVersion
#define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6C1F3B0E-5E0B-4E51-9B7A-2D1B3C4A5E60}
AppName=SegLab
AppVersion={#AppVersion}
AppVerName=SegLab {#AppVersion}
AppPublisher=SegLab
DefaultDirName={autopf}\SegLab
DefaultGroupName=SegLab
DisableProgramGroupPage=yes
; Per-user install by default (no administrator needed); the dialog offers all users too.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\installer
OutputBaseFilename=SegLab-{#AppVersion}-setup
SetupIconFile=seglab.ico
UninstallDisplayIcon={app}\SegLab.exe
Compression=lzma2/max
SolidCompression=yes
; A CUDA build of torch makes the bundle several GB: a setup file over 2 GB must be split into .bin slices.
DiskSpanning=yes
DiskSliceSize=max
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\SegLab\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; Files of an older version that this one no longer ships (e.g. other torch libraries).
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\SegLab"; Filename: "{app}\SegLab.exe"; Comment: "Segment micrographs: label, train, predict"
Name: "{autoprograms}\SegLab Self-Test"; Filename: "{cmd}"; Parameters: "/k ""{app}\seglab-cli.exe"" --self-test"; Comment: "Check the installation and the device"
Name: "{autodesktop}\SegLab"; Filename: "{app}\SegLab.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\SegLab.exe"; Description: "{cm:LaunchProgram,SegLab}"; Flags: nowait postinstall skipifsilent
