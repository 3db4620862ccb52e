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

/// What a syslog line tells of the Linux log it belongs to, for [`syslog_logsources`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyslogOrigin<'a> {
    /// Its APP-NAME or RFC 3164 tag (`sshd`, `sshd(pam_unix)`, `CRON`); empty when it has none.
    pub program: &'a str,
    /// Its `<PRI>`'s facility code (4 `auth`, 10 `authpriv` …), when it has one.
    pub facility: Option<u64>,
    /// Whether PAM wrote its message ([`is_pam_message`]).
    pub pam_message: bool,
}

/// The Sigma logsources a plain syslog line is, as the taxonomy appendix names Linux logs:
/// every line is `product: linux, service: syslog`; the lines of the authentication log
/// (auth.log) are also `service: auth`, and those of sshd, sudo, cron, vsftpd, ClamAV and
/// Guacamole also their own service. For syslog whose source nobody declared otherwise.
///
/// A line is of the authentication log when its program is an authentication program (`su`,
/// `login`, sshd — `sshd-session` and `sshd-auth` too, as OpenSSH 9.8 and 10 name their
/// processes), when its facility is `auth` or `authpriv` (what syslog daemons write to
/// auth.log), or when PAM wrote it — an `X(pam_unix)` tag, or a message like
/// `pam_unix(gdm-password:auth): …` — since PAM logs to `authpriv` whichever program called it.
pub fn syslog_logsources(origin: SyslogOrigin<'_>) -> &'static [Logsource] {
    /// The services a program's lines have besides `syslog` and `auth`.
    const OWN_SERVICES: [Option<&str>; 7] = [
        None,
        Some("sshd"),
        Some("sudo"),
        Some("cron"),
        Some("vsftpd"),
        Some("clamav"),
        Some("guacamole"),
    ];
    // Each own service without and with `auth`, at `2 × service + auth`.
    static SOURCES: LazyLock<Vec<Vec<Logsource>>> = LazyLock::new(|| {
        let linux = |service: &str| Logsource {
            product: Some("linux".to_owned()),
            service: Some(service.to_owned()),
            ..Logsource::default()
        };
        OWN_SERVICES
            .iter()
            .flat_map(|own| {
                [false, true].map(|auth| {
                    std::iter::once("syslog")
                        .chain(auth.then_some("auth"))
                        .chain(*own)
                        .map(linux)
                        .collect()
                })
            })
            .collect()
    });
    // Programs by their own service (an index of OWN_SERVICES) and whether they write the
    // authentication log, compared without case and without allocating (this runs on every
    // syslog event ingested).
    const PROGRAMS: &[(&str, usize, bool)] = &[
        ("sshd", 1, true),
        ("sshd-session", 1, true),
        ("sshd-auth", 1, true),
        ("sudo", 2, true),
        ("su", 0, true),
        ("login", 0, true),
        ("passwd", 0, true),
        ("chpasswd", 0, true),
        ("chage", 0, true),
        ("useradd", 0, true),
        ("userdel", 0, true),
        ("usermod", 0, true),
        ("groupadd", 0, true),
        ("groupdel", 0, true),
        ("groupmod", 0, true),
        ("gpasswd", 0, true),
        ("systemd-logind", 0, true),
        ("polkitd", 0, true),
        ("pkexec", 0, true),
        ("unix_chkpwd", 0, true),
        ("gdm-password", 0, true),
        ("lightdm", 0, true),
        ("sssd", 0, true),
        ("nslcd", 0, true),
        ("cron", 3, false),
        ("crond", 3, false),
        ("anacron", 3, false),
        ("vsftpd", 4, false),
        ("clamd", 5, false),
        ("freshclam", 5, false),
        ("clamscan", 5, false),
        ("clamav", 5, false),
        ("guacd", 6, false),
        ("guacamole", 6, false),
    ];
    // `sshd(pam_unix)`, `sshd[42]`, and gdm's `gdm-password]` (its process name ends in `]`).
    let mut parts = origin.program.split(['(', ')', '[', ']', ':']);
    let program = parts.next().unwrap_or_default().trim();
    let (own, program_auth) = PROGRAMS
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(program))
        .map_or((0, false), |&(_, own, auth)| (own, auth));
    // The facilities `auth` and `authpriv`.
    let auth_facility = matches!(origin.facility, Some(4 | 10));
    let auth = program_auth
        || auth_facility
        || origin.pam_message
        || parts.next().is_some_and(is_pam_module);
    &SOURCES[2 * own + usize::from(auth)]
}

/// Whether PAM wrote a syslog message: it starts with a PAM module's name and what called it
/// (`pam_unix(sshd:auth): authentication failure; …`, `pam_sss(gdm-password:auth): …`).
pub fn is_pam_message(message: &str) -> bool {
    message
        .split_once('(')
        .is_some_and(|(head, _)| is_pam_module(head))
}

/// Whether a name is a PAM module's as it names itself in the log (`pam_unix`, `pam_sss`,
/// `pam_faillock`).
fn is_pam_module(name: &str) -> bool {
    name.strip_prefix("pam_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_lines_are_the_linux_logs_their_program_writes() {
        let services = |app: &str| -> Vec<String> {
            syslog_logsources(SyslogOrigin {
                program: app,
                ..SyslogOrigin::default()
            })
            .iter()
            .inspect(|ls| assert_eq!(ls.product.as_deref(), Some("linux")))
            .map(|ls| ls.service.clone().unwrap())
            .collect()
        };
        assert_eq!(services("sshd"), ["syslog", "auth", "sshd"]);
        // OpenSSH 9.8 and 10 name the processes that log after a connection's start so.
        assert_eq!(services("sshd-session"), ["syslog", "auth", "sshd"]);
        assert_eq!(services("sshd-auth"), ["syslog", "auth", "sshd"]);
        // RFC 3164 tags as Linux writes them: PAM modules, upper case cron.
        assert_eq!(services("sshd(pam_unix)"), ["syslog", "auth", "sshd"]);
        assert_eq!(services("CRON"), ["syslog", "cron"]);
        assert_eq!(services("su"), ["syslog", "auth"]);
        assert_eq!(services("sudo"), ["syslog", "auth", "sudo"]);
        assert_eq!(services("kernel"), ["syslog"]);
        assert_eq!(services(""), ["syslog"]);
        assert_eq!(services("sshd-sessions"), ["syslog"], "whole names only");
    }

    /// PAM logs to `authpriv` whichever program called it, so a line PAM wrote is of the
    /// authentication log; so is any line of the `auth` and `authpriv` facilities.
    #[test]
    fn pam_lines_and_the_auth_facilities_are_the_authentication_log() {
        let services = |program: &str, facility: Option<u64>, message: &str| -> Vec<String> {
            syslog_logsources(SyslogOrigin {
                program,
                facility,
                pam_message: is_pam_message(message),
            })
            .iter()
            .map(|ls| ls.service.clone().unwrap())
            .collect()
        };
        let failure = "authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=";
        assert_eq!(services("gdm(pam_unix)", None, failure), ["syslog", "auth"]);
        assert_eq!(
            services("gdm-password(pam_unix)", None, failure),
            ["syslog", "auth"]
        );
        assert_eq!(
            services(
                "gdm-password]",
                None,
                "pam_unix(gdm-password:auth): conversation failed"
            ),
            ["syslog", "auth"]
        );
        assert_eq!(
            services(
                "CRON",
                None,
                "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
            ),
            ["syslog", "auth", "cron"]
        );
        assert_eq!(
            services("gdm3", Some(10), "GdmDisplay: Session never registered"),
            ["syslog", "auth"]
        );
        assert_eq!(services("kernel", Some(0), "pam_(x): y"), ["syslog"]);
        assert_eq!(
            services("app", None, "started (pid 4)"),
            ["syslog"],
            "parentheses alone are no PAM module"
        );
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
