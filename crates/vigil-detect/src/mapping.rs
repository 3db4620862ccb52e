//! The logsource mappings: which (Channel, EventID) pairs a Sigma `logsource` means in Windows
//! event logs, and the field renames that go with some of them; which Linux logsources a
//! plain syslog line is ([`syslog_logsources`]).
//!
//! Derived from the taxonomy appendix of the Sigma specification (categories backed by Sysmon,
//! PowerShell and the service → channel table) and checked against the behaviour of the
//! reference tools (Security 4688 also counts as `process_creation`, with its field names).

use std::sync::LazyLock;

use crate::Logsource;

/// Where events of one logsource live in Windows event logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTarget {
    /// The `Channel` (compared case-insensitively).
    pub channel: &'static str,
    /// The `EventID`s; empty means every event of the channel.
    pub event_ids: &'static [u64],
    /// Field renames (Sigma field → event field) for this channel.
    pub renames: &'static [(&'static str, &'static str)],
}

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

const fn sysmon(ids: &'static [u64]) -> ChannelTarget {
    ChannelTarget {
        channel: SYSMON,
        event_ids: ids,
        renames: &[],
    }
}

const fn plain(channel: &'static str, ids: &'static [u64]) -> ChannelTarget {
    ChannelTarget {
        channel,
        event_ids: ids,
        renames: &[],
    }
}

/// Security 4688 names the Sysmon process fields differently; these are the renames of
/// Hayabusa's converter (Chainsaw maps only the Sysmon names). `IntegrityLevel` is the
/// `MandatoryLabel` SID there (`S-1-16-12288`): the values are not translated, as in Hayabusa,
/// because SigmaHQ rules list both spellings (`High`, `S-1-16-12288`).
const SECURITY_4688_RENAMES: &[(&str, &str)] = &[
    ("Image", "NewProcessName"),
    ("ParentImage", "ParentProcessName"),
    ("ProcessId", "NewProcessId"),
    ("ParentProcessId", "ProcessId"),
    ("LogonId", "SubjectLogonId"),
    ("User", "SubjectUserName"),
    ("IntegrityLevel", "MandatoryLabel"),
];

/// Microsoft Defender names the generic antivirus fields of the taxonomy differently
/// (`Threat Name`; the decoder matches names written with spaces to names without).
const DEFENDER_RENAMES: &[(&str, &str)] = &[("Signature", "ThreatName"), ("Filename", "Path")];

/// The Defender events that carry a threat name or path (the ones Hayabusa's converter lists
/// for `category: antivirus`).
const DEFENDER_THREAT_EVENTS: &[u64] = &[
    1006, 1007, 1008, 1009, 1010, 1011, 1012, 1017, 1018, 1019, 1115, 1116,
];

/// The Windows targets of a `category` written without a product. The taxonomy leaves the
/// format of `antivirus` to the vendor; on Windows that vendor's log is Microsoft Defender's.
pub fn productless_category_targets(category: &str) -> Option<Vec<ChannelTarget>> {
    match category {
        "antivirus" => Some(vec![ChannelTarget {
            channel: "Microsoft-Windows-Windows Defender/Operational",
            event_ids: DEFENDER_THREAT_EVENTS,
            renames: DEFENDER_RENAMES,
        }]),
        _ => None,
    }
}

/// The targets of a Windows `category`, or `None` when the taxonomy gives it no event log.
pub fn category_targets(category: &str) -> Option<Vec<ChannelTarget>> {
    let one = |t: ChannelTarget| Some(vec![t]);
    match category {
        "process_creation" => Some(vec![
            sysmon(&[1]),
            ChannelTarget {
                channel: "Security",
                event_ids: &[4688],
                renames: SECURITY_4688_RENAMES,
            },
        ]),
        "file_change" => one(sysmon(&[2])),
        "network_connection" => one(sysmon(&[3])),
        "sysmon_status" => one(sysmon(&[4, 16])),
        "process_termination" => one(sysmon(&[5])),
        "driver_load" => one(sysmon(&[6])),
        "image_load" => one(sysmon(&[7])),
        "create_remote_thread" => one(sysmon(&[8])),
        "raw_access_thread" => one(sysmon(&[9])),
        "process_access" => one(sysmon(&[10])),
        "file_event" => one(sysmon(&[11])),
        "registry_event" => one(sysmon(&[12, 13, 14])),
        "registry_add" | "registry_delete" => one(sysmon(&[12])),
        "registry_set" => one(sysmon(&[13])),
        "registry_rename" => one(sysmon(&[14])),
        "create_stream_hash" => one(sysmon(&[15])),
        "pipe_created" => one(sysmon(&[17, 18])),
        "wmi_event" => one(sysmon(&[19, 20, 21])),
        "dns_query" => one(sysmon(&[22])),
        "file_delete" => one(sysmon(&[23])),
        "clipboard_capture" => one(sysmon(&[24])),
        "process_tampering" => one(sysmon(&[25])),
        "file_delete_detected" => one(sysmon(&[26])),
        "file_block_executable" => one(sysmon(&[27])),
        "file_block_shredding" => one(sysmon(&[28])),
        "file_executable_detected" => one(sysmon(&[29])),
        "sysmon_error" => one(sysmon(&[255])),
        "ps_classic_start" => one(plain("Windows PowerShell", &[400])),
        "ps_classic_provider_start" => one(plain("Windows PowerShell", &[600])),
        "ps_classic_script" => one(plain("Windows PowerShell", &[800])),
        "ps_module" => Some(vec![
            plain("Microsoft-Windows-PowerShell/Operational", &[4103]),
            plain("PowerShellCore/Operational", &[4103]),
        ]),
        "ps_script" => Some(vec![
            plain("Microsoft-Windows-PowerShell/Operational", &[4104]),
            plain("PowerShellCore/Operational", &[4104]),
        ]),
        _ => None,
    }
}

/// The channels of a Windows `service`, or `None` when the taxonomy does not list it.
pub fn service_channels(service: &str) -> Option<&'static [&'static str]> {
    SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, channels)| *channels)
}

/// Service → channels, from the taxonomy appendix (plus the SMB connectivity channels and the
/// `microsoft-servicebus-client` spelling used by SigmaHQ rules).
const SERVICES: &[(&str, &[&str])] = &[
    ("application", &["Application"]),
    (
        "application-experience",
        &[
            "Microsoft-Windows-Application-Experience/Program-Telemetry",
            "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant",
        ],
    ),
    (
        "applocker",
        &[
            "Microsoft-Windows-AppLocker/MSI and Script",
            "Microsoft-Windows-AppLocker/EXE and DLL",
            "Microsoft-Windows-AppLocker/Packaged app-Deployment",
            "Microsoft-Windows-AppLocker/Packaged app-Execution",
        ],
    ),
    (
        "appmodel-runtime",
        &["Microsoft-Windows-AppModel-Runtime/Admin"],
    ),
    (
        "appxdeployment-server",
        &["Microsoft-Windows-AppXDeploymentServer/Operational"],
    ),
    (
        "appxpackaging-om",
        &["Microsoft-Windows-AppxPackaging/Operational"],
    ),
    (
        "bitlocker",
        &["Microsoft-Windows-BitLocker/BitLocker Management"],
    ),
    (
        "bits-client",
        &["Microsoft-Windows-Bits-Client/Operational"],
    ),
    ("capi2", &["Microsoft-Windows-CAPI2/Operational"]),
    (
        "certificateservicesclient-lifecycle-system",
        &["Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"],
    ),
    (
        "codeintegrity-operational",
        &["Microsoft-Windows-CodeIntegrity/Operational"],
    ),
    ("dhcp", &["Microsoft-Windows-DHCP-Server/Operational"]),
    (
        "diagnosis-scripted",
        &["Microsoft-Windows-Diagnosis-Scripted/Operational"],
    ),
    (
        "dns-client",
        &["Microsoft-Windows-DNS Client Events/Operational"],
    ),
    ("dns-server", &["DNS Server"]),
    (
        "dns-server-analytic",
        &["Microsoft-Windows-DNS-Server/Analytical"],
    ),
    ("dns-server-audit", &["Microsoft-Windows-DNS-Server/Audit"]),
    (
        "driver-framework",
        &["Microsoft-Windows-DriverFrameworks-UserMode/Operational"],
    ),
    (
        "firewall-as",
        &["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"],
    ),
    ("hyper-v-worker", &["Microsoft-Windows-Hyper-V-Worker"]),
    (
        "iis-configuration",
        &["Microsoft-IIS-Configuration/Operational"],
    ),
    (
        "kernel-event-tracing",
        &["Microsoft-Windows-Kernel-EventTracing"],
    ),
    (
        "kernel-shimengine",
        &[
            "Microsoft-Windows-Kernel-ShimEngine/Operational",
            "Microsoft-Windows-Kernel-ShimEngine/Diagnostic",
        ],
    ),
    ("ldap", &["Microsoft-Windows-LDAP-Client/Debug"]),
    ("lsa-server", &["Microsoft-Windows-LSA/Operational"]),
    ("msexchange-management", &["MSExchange Management"]),
    ("ntfs", &["Microsoft-Windows-Ntfs/Operational"]),
    ("ntlm", &["Microsoft-Windows-NTLM/Operational"]),
    ("openssh", &["OpenSSH/Operational"]),
    ("powershell", &["Microsoft-Windows-PowerShell/Operational"]),
    ("powershell-classic", &["Windows PowerShell"]),
    (
        "printservice-admin",
        &["Microsoft-Windows-PrintService/Admin"],
    ),
    (
        "printservice-operational",
        &["Microsoft-Windows-PrintService/Operational"],
    ),
    ("security", &["Security"]),
    (
        "security-mitigations",
        &[
            "Microsoft-Windows-Security-Mitigations/Kernel Mode",
            "Microsoft-Windows-Security-Mitigations/User Mode",
        ],
    ),
    ("sense", &["Microsoft-Windows-SENSE/Operational"]),
    (
        "servicebus-client",
        &[
            "Microsoft-ServiceBus-Client/Operational",
            "Microsoft-ServiceBus-Client/Admin",
        ],
    ),
    ("shell-core", &["Microsoft-Windows-Shell-Core/Operational"]),
    (
        "smbclient-security",
        &["Microsoft-Windows-SmbClient/Security"],
    ),
    ("sysmon", &["Microsoft-Windows-Sysmon/Operational"]),
    ("system", &["System"]),
    (
        "taskscheduler",
        &["Microsoft-Windows-TaskScheduler/Operational"],
    ),
    (
        "terminalservices-localsessionmanager",
        &["Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"],
    ),
    ("vhdmp", &["Microsoft-Windows-VHDMP/Operational"]),
    (
        "windefend",
        &["Microsoft-Windows-Windows Defender/Operational"],
    ),
    ("wmi", &["Microsoft-Windows-WMI-Activity/Operational"]),
    (
        "smbclient-connectivity",
        &["Microsoft-Windows-SmbClient/Connectivity"],
    ),
    (
        "smbserver-connectivity",
        &["Microsoft-Windows-SMBServer/Connectivity"],
    ),
    (
        "microsoft-servicebus-client",
        &[
            "Microsoft-ServiceBus-Client/Operational",
            "Microsoft-ServiceBus-Client/Admin",
        ],
    ),
];

/// The Sigma logsources a plain syslog line is, by the program that wrote it (its APP-NAME or
/// RFC 3164 tag; `sshd(pam_unix)` counts as `sshd`), as the taxonomy appendix names Linux logs:
/// every line is `product: linux, service: syslog`; the lines of authentication programs are
/// also `service: auth` (auth.log), and those of sshd, sudo, cron, vsftpd, ClamAV and
/// Guacamole also their own service. For syslog whose source nobody declared otherwise.
pub fn syslog_logsources(app_name: &str) -> &'static [Logsource] {
    static SOURCES: LazyLock<Vec<Vec<Logsource>>> = LazyLock::new(|| {
        let linux = |services: &[&str]| -> Vec<Logsource> {
            services
                .iter()
                .map(|service| Logsource {
                    product: Some("linux".to_owned()),
                    service: Some((*service).to_owned()),
                    ..Logsource::default()
                })
                .collect()
        };
        vec![
            linux(&["syslog"]),
            linux(&["syslog", "auth"]),
            linux(&["syslog", "auth", "sshd"]),
            linux(&["syslog", "auth", "sudo"]),
            linux(&["syslog", "cron"]),
            linux(&["syslog", "vsftpd"]),
            linux(&["syslog", "clamav"]),
            linux(&["syslog", "guacamole"]),
        ]
    });
    // Programs by the sources they write, compared without case and without allocating (this
    // runs on every syslog event ingested).
    const PROGRAMS: &[(&str, usize)] = &[
        ("sshd", 2),
        ("sudo", 3),
        ("su", 1),
        ("login", 1),
        ("passwd", 1),
        ("chpasswd", 1),
        ("chage", 1),
        ("useradd", 1),
        ("userdel", 1),
        ("usermod", 1),
        ("groupadd", 1),
        ("groupdel", 1),
        ("groupmod", 1),
        ("gpasswd", 1),
        ("systemd-logind", 1),
        ("polkitd", 1),
        ("pkexec", 1),
        ("unix_chkpwd", 1),
        ("gdm-password", 1),
        ("lightdm", 1),
        ("sssd", 1),
        ("nslcd", 1),
        ("cron", 4),
        ("crond", 4),
        ("anacron", 4),
        ("vsftpd", 5),
        ("clamd", 6),
        ("freshclam", 6),
        ("clamscan", 6),
        ("clamav", 6),
        ("guacd", 7),
        ("guacamole", 7),
    ];
    let program = app_name
        .split(['(', '[', ':'])
        .next()
        .unwrap_or_default()
        .trim();
    let index = PROGRAMS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(program))
        .map_or(0, |&(_, index)| index);
    &SOURCES[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_lines_are_the_linux_logs_their_program_writes() {
        let services = |app: &str| -> Vec<String> {
            syslog_logsources(app)
                .iter()
                .inspect(|ls| assert_eq!(ls.product.as_deref(), Some("linux")))
                .map(|ls| ls.service.clone().unwrap())
                .collect()
        };
        assert_eq!(services("sshd"), ["syslog", "auth", "sshd"]);
        // RFC 3164 tags as Linux writes them: PAM modules, upper case cron.
        assert_eq!(services("sshd(pam_unix)"), ["syslog", "auth", "sshd"]);
        assert_eq!(services("CRON"), ["syslog", "cron"]);
        assert_eq!(services("su"), ["syslog", "auth"]);
        assert_eq!(services("sudo"), ["syslog", "auth", "sudo"]);
        assert_eq!(services("kernel"), ["syslog"]);
        assert_eq!(services(""), ["syslog"]);
    }

    #[test]
    fn categories_and_services() {
        let pc = category_targets("process_creation").unwrap();
        assert_eq!(pc[0].event_ids, &[1]);
        assert_eq!(pc[1].channel, "Security");
        assert_eq!(
            category_targets("registry_set").unwrap()[0].event_ids,
            &[13]
        );
        assert_eq!(category_targets("ps_script").unwrap().len(), 2);
        assert!(category_targets("file_access").is_none());
        assert_eq!(service_channels("security"), Some(&["Security"][..]));
        assert_eq!(service_channels("sysmon"), Some(&[SYSMON][..]));
        assert!(service_channels("nope").is_none());
        let av = productless_category_targets("antivirus").unwrap();
        assert!(av[0].event_ids.contains(&1116));
        assert!(av[0].renames.contains(&("Signature", "ThreatName")));
        assert!(productless_category_targets("webserver").is_none());
    }
}
