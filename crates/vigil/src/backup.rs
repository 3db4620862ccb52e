//! `vigil admin backup` (a running server's backup, through `GET /api/v1/admin/backup`) and
//! `vigil admin restore` (a backup unpacked into a new data directory, no server).
//!
//! Both check an archive the same way ([`unpack`]): every member but the manifest is one
//! the manifest names, with its size and SHA-256, in its order, and the manifest is the last
//! member, so a cut archive (no manifest, or a gzip stream without its end) and an altered one
//! are refused. The backup checks what it downloaded before it renames `FILE.part` to `FILE`;
//! the restore unpacks into a hidden staging directory inside the target directory (which may
//! be a mount point: it is kept, never replaced) and moves the files into place only once all
//! of it is checked, so a refused archive leaves the directory as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use vigil_api::backup::{BackupManifest, FORMAT, MANIFEST_NAME};

use crate::incident::{Conn, client};
use crate::interrupt::Interrupt;
use crate::output::{errln, explain, outln, print_json};

pub const BACKUP_HELP: &str = "\
Asks the running server for a backup of its whole state — database, evidence, the log store
(index and journal), link.key and the state files — consistent at one moment, taken while
ingest, case work and retention go on, and writes it to FILE as a tar.gz (FILE.part first,
renamed once the download is complete and checked; owner-only, as it holds token hashes and
link.key). An existing FILE is left alone unless --force. Every event acknowledged before the backup began is in it. The server records who
took it in the audit trail. Needs an admin token.

Examples:
  vigil admin backup --server http://127.0.0.1:8080 --token $ADMIN --out /backup/vigil-$(date +%F).tar.gz
  vigil admin backup --out vigil.tar.gz --json";

pub const RESTORE_HELP: &str = "\
Unpacks a backup taken with `vigil admin backup` into DIR, which must be empty or missing (a
server must not be running on it); DIR itself is kept, so it may be an empty volume mounted
there. The archive is checked first: every file's size and SHA-256
against its manifest; a cut or altered archive is refused and leaves DIR as it was. Then start
the server on DIR and check the audit trail.

Examples:
  vigil admin restore --data /var/lib/vigil-restored /backup/vigil-2025-01-31.tar.gz
  vigil serve --data /var/lib/vigil-restored
  vigil audit verify --data /var/lib/vigil-restored";

/// `vigil admin backup`.
pub async fn backup(conn: Conn, out: PathBuf, force: bool) -> anyhow::Result<()> {
    // Ctrl-C or a kill would end the process where it stands, leaving `FILE.part`, which holds
    // what the backup does (token hashes, link.key): caught from before it exists, they drop
    // the download and with it the part file, then end the process as the signal would have.
    let interrupted = crate::interrupt::interruption()?;
    let outcome = tokio::select! {
        done = download(&conn, &out, force) => Ok(done),
        signal = interrupted => Err(signal),
    };
    let (written, manifest) = match outcome {
        Ok(done) => done?,
        Err(signal) => {
            errln!(
                "interrupted: the backup was stopped and nothing was written to {}",
                out.display()
            );
            std::process::exit(128 + signal);
        }
    };
    if conn.json {
        return print_json(&serde_json::json!({
            "file": out,
            "bytes": written,
            "manifest": manifest,
        }));
    }
    let data: u64 = manifest.files.iter().map(|f| f.size).sum();
    outln!(
        "backup written to {} ({} compressed; {} files, {} of data), taken {} by {}",
        out.display(),
        human_bytes(written),
        manifest.files.len(),
        human_bytes(data),
        manifest.taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
        manifest.taken_by
    );
    outln!(
        "it holds every event with an id below {}; restore it with `vigil admin restore --data DIR {}`",
        manifest.events_below,
        out.display()
    );
    Ok(())
}

/// Downloads the backup into `FILE.part`, checks it, and renames it to `out`; the part file is
/// removed on any failure, and when the future is dropped (a signal). Returns the archive's
/// size and its manifest.
async fn download(conn: &Conn, out: &Path, force: bool) -> anyhow::Result<(u64, BackupManifest)> {
    let client = client(conn)?;
    // Made before the server is asked, so a second backup to the same file, an output that
    // cannot be written or one that would replace a file stop at once, not after the download.
    let (part, mut file) = PartFile::create(out, force)?;
    let mut download = client.backup_stream().await.map_err(explain)?;
    let bar = crate::output::bytes_progress(None, false);
    if conn.json || !io::IsTerminal::is_terminal(&io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message("of the backup");
    let mut written = 0u64;
    let copied = async {
        while let Some(chunk) = download.chunk().await.map_err(explain)? {
            file.write_all(&chunk)
                .with_context(|| format!("cannot write {}", part.path.display()))?;
            written += chunk.len() as u64;
            bar.set_position(written);
        }
        file.sync_all()
            .with_context(|| format!("cannot write {}", part.path.display()))?;
        anyhow::Ok(())
    }
    .await;
    bar.finish_and_clear();
    drop(file);
    let checked = match copied {
        // Read on a thread of its own, so a signal is taken while it runs.
        Ok(()) => {
            let path = part.path.clone();
            tokio::task::spawn_blocking(move || {
                let archive = File::open(&path)?;
                unpack(archive, None).context("the downloaded backup is not complete")
            })
            .await
            .context("the check of the downloaded backup failed")
            .and_then(|checked| checked)
        }
        Err(e) => Err(e),
    };
    let manifest = checked
        .map_err(|e| e.context("the backup failed; nothing was written to the output file"))?;
    part.place(out, force)?;
    Ok((written, manifest))
}

/// `FILE.part` while the backup is downloaded, removed unless placed: a failed or interrupted
/// backup leaves nothing behind.
struct PartFile {
    path: PathBuf,
    placed: bool,
}

impl PartFile {
    /// Creates `FILE.part`, owner-only, only where none is: one that exists belongs to another
    /// backup to the same file under way (both writing it would make two cut archives), or was
    /// left by one killed outright, and is never taken over.
    /// Refused first: an `out` that is a directory, or a file that exists (without `force`).
    fn create(out: &Path, force: bool) -> anyhow::Result<(PartFile, File)> {
        if out.is_dir() {
            bail!(
                "{} is a directory; give --out a file path in it (--out {})",
                out.display(),
                out.join("vigil-backup.tar.gz").display()
            );
        }
        if !force && out.exists() {
            bail!(
                "{} exists; pick another --out, or add --force to replace it",
                out.display()
            );
        }
        let path = part_path(out);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = match options.open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => bail!(
                "{} exists: another backup to {} is under way, or an interrupted one left it; wait for that one, or remove {} if none is running",
                path.display(),
                out.display(),
                path.display()
            ),
            Err(e) => {
                let parent = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let hint = if e.kind() == io::ErrorKind::NotFound {
                    format!(
                        "create the directory {} first, or pick another --out",
                        parent.display()
                    )
                } else {
                    format!(
                        "check that {} can be written, or pick another --out",
                        parent.display()
                    )
                };
                return Err(e).with_context(|| format!("cannot create {}; {hint}", path.display()));
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot create {}", path.display()))?;
        }
        Ok((
            PartFile {
                path,
                placed: false,
            },
            file,
        ))
    }

    /// Moves the part file to `out`; without `force`, only where nothing is (a hard link fails
    /// on an existing file, where a rename would replace one made during the download).
    fn place(mut self, out: &Path, force: bool) -> anyhow::Result<()> {
        let exists = || {
            anyhow::anyhow!(
                "{} exists (it was made during the download); pick another --out, or add --force to replace it",
                out.display()
            )
        };
        if !force {
            match fs::hard_link(&self.path, out) {
                Ok(()) => {
                    // The part file is removed on drop.
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(exists()),
                // A file system without hard links: checked, then renamed.
                Err(_) if out.exists() => return Err(exists()),
                Err(_) => {}
            }
        }
        fs::rename(&self.path, out).with_context(|| {
            format!("cannot rename {} to {}", self.path.display(), out.display())
        })?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// `vigil admin restore`.
pub fn restore(data: PathBuf, file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let archive = File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    // Ctrl-C or a kill would end the process where it stands, leaving the staging directory
    // and what it holds: the first asks the unpacking to stop at its next read of the archive,
    // which removes it; a second ends the process at once, and the next restore into the
    // directory removes what that left.
    let interrupt = {
        let data = data.display().to_string();
        Interrupt::install(move |signal| {
            errln!(
                "interrupted by {signal}: stopping, and removing what was unpacked into {data}; {signal} again stops at once (the next restore into {data} removes what is left)"
            )
        })?
    };
    let target = Target::prepare(&data)?;
    let stoppable = Stoppable {
        inner: archive,
        stop: interrupt.flag(),
    };
    let unpacked = unpack(stoppable, Some(&target.staging)).map_err(|e| {
        match e.downcast_ref::<WriteFailed>() {
            Some(failed) if failed.no_room() => e.context(format!(
                "the disk of {} is full: free space there (the backup unpacks to the size of the data it holds) or restore onto a larger volume; the backup {} is not at fault",
                data.display(),
                file.display()
            )),
            Some(_) => e.context(format!(
                "cannot write the restored files into {}; the backup {} is not at fault",
                data.display(),
                file.display()
            )),
            None if e.downcast_ref::<OfflineCopy>().is_some() => e.context(format!(
                "{} is not a backup `vigil admin backup` wrote",
                file.display()
            )),
            None => e.context(format!("{} is not a complete Vigil backup", file.display())),
        }
    });
    if let Some(code) = interrupt.exit_code() {
        target.abandon();
        errln!(
            "interrupted: the restore was stopped and nothing was restored into {}",
            data.display()
        );
        return Ok(code);
    }
    let manifest = match unpacked {
        Ok(manifest) => manifest,
        Err(e) => {
            target.abandon();
            return Err(e.context("nothing was restored"));
        }
    };
    target.commit()?;
    if json {
        print_json(&serde_json::json!({ "data": data, "manifest": manifest }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "restored {} files into {}: the state as of {} (taken by {}), every event with an id below {}",
        manifest.files.len(),
        data.display(),
        manifest.taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
        manifest.taken_by,
        manifest.events_below
    );
    outln!("next: start the server on it and check the audit trail:");
    outln!("  vigil serve --data {}", data.display());
    outln!("  vigil audit verify --data {}", data.display());
    outln!(
        "the events the log store holds beyond its index commit are indexed again, and matched where the database has no detections of them, as the server starts; send again the logs that arrived after the backup"
    );
    Ok(ExitCode::SUCCESS)
}

/// The data directory a restore fills: the directory itself is kept (it may be a mount point,
/// which no rename can replace), and the archive is unpacked into a hidden staging directory
/// inside it, on the same file system, so that moving the checked files into place is a rename
/// each and a refused archive is removed without touching anything else.
struct Target {
    data: PathBuf,
    staging: PathBuf,
    /// Whether the restore made `data` (it was missing), so a refusal removes it again.
    created: bool,
}

/// The staging directory's name begins with this, followed by the restore's process id.
const STAGING_PREFIX: &str = ".vigil-restoring-";

/// An empty `lost+found` is what a freshly made ext2/3/4 file system holds: a new volume
/// mounted as the data directory is empty for a restore.
const LOST_FOUND: &str = "lost+found";

impl Target {
    /// Refuses a directory that holds anything (but an empty `lost+found`, and staging
    /// directories interrupted restores left, which are removed), creates a missing one
    /// (owner-only), and makes the staging directory in it.
    fn prepare(data: &Path) -> anyhow::Result<Target> {
        let not_empty = || {
            anyhow::anyhow!(
                "{} is not empty; restore into a new or empty directory (move the old one aside and keep it until the restored one is checked)",
                data.display()
            )
        };
        let mut leftovers = Vec::new();
        let created = match fs::read_dir(data) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.with_context(|| format!("cannot read {}", data.display()))?;
                    let name = entry.file_name();
                    let path = entry.path();
                    let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                    let empty_lost_found = is_dir
                        && name == LOST_FOUND
                        && fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
                    if is_dir && name.to_string_lossy().starts_with(STAGING_PREFIX) {
                        leftovers.push(path);
                    } else if !empty_lost_found {
                        return Err(not_empty());
                    }
                }
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                private_dir(data).with_context(|| {
                    format!(
                        "cannot create {}; create its parent directory first, or check that it can be written",
                        data.display()
                    )
                })?;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                bail!(
                    "{} is a file, not a directory; give --data a directory",
                    data.display()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", data.display())),
        };
        for leftover in leftovers {
            remove_tree(&leftover).with_context(|| {
                format!(
                    "cannot remove {}, which an interrupted restore left; remove it by hand",
                    leftover.display()
                )
            })?;
        }
        let staging = data.join(format!("{STAGING_PREFIX}{}", std::process::id()));
        let target = Target {
            data: data.to_path_buf(),
            staging,
            created,
        };
        if let Err(e) = private_dir(&target.staging) {
            let staging = target.staging.clone();
            target.abandon();
            return Err(e).with_context(|| format!("cannot create {}", staging.display()));
        }
        Ok(target)
    }

    /// Leaves the directory as it was: the staging directory removed, and the directory
    /// itself too when the restore made it.
    fn abandon(self) {
        let _ = remove_tree(&self.staging);
        if self.created {
            let _ = fs::remove_dir(&self.data);
        }
    }

    /// Moves every checked file and directory from the staging directory into place (a rename
    /// each, within one file system), then removes the staging directory. A move that fails
    /// takes back those already made, so the directory is left as it was.
    fn commit(self) -> anyhow::Result<()> {
        let mut moved: Vec<PathBuf> = Vec::new();
        let result = (|| -> io::Result<()> {
            for entry in fs::read_dir(&self.staging)? {
                let name = entry?.file_name();
                let to = self.data.join(&name);
                fs::rename(self.staging.join(&name), &to)?;
                moved.push(to);
            }
            fs::remove_dir(&self.staging)?;
            sync_dir(&self.data)
        })();
        if let Err(e) = result {
            for path in &moved {
                let _ = remove_tree(path);
            }
            let data = self.data.clone();
            self.abandon();
            return Err(e).with_context(|| {
                format!(
                    "cannot move the restored files into {}; nothing was restored",
                    data.display()
                )
            });
        }
        Ok(())
    }
}

/// The archive as it is read, which ends in an error once a signal asked the restore to stop.
struct Stoppable<'a> {
    inner: File,
    /// Set by the first Ctrl-C or SIGTERM ([`Interrupt::flag`]).
    stop: &'a AtomicBool,
}

impl Read for Stoppable<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Acquire) {
            return Err(io::Error::other("stopped by a signal"));
        }
        self.inner.read(buf)
    }
}

/// Removes a file or a directory tree (evidence in it is read-only, which its directory's
/// mode allows removing).
fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes the renames into a directory durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads a backup archive through, checking every member against the manifest, which must be
/// the last; with `into`, writes each member there (owner-only). Returns the manifest.
pub fn unpack(archive: impl Read, into: Option<&Path>) -> anyhow::Result<BackupManifest> {
    let gz = flate2::read::GzDecoder::new(archive);
    let mut tar = tar::Archive::new(gz);
    let mut seen: Vec<(String, u64, String)> = Vec::new();
    let mut manifest: Option<BackupManifest> = None;
    for entry in tar.entries().context("cannot read the archive")? {
        let mut entry = entry.context("the archive is cut short or damaged")?;
        let path = entry
            .path()
            .context("a member's name is not readable")?
            .to_string_lossy()
            .into_owned();
        if manifest.is_some() {
            bail!("a member {path:?} follows the manifest, which must be the last");
        }
        // `vigil admin backup` writes regular files only; `tar` of a directory writes the
        // directory too, first.
        if !entry.header().entry_type().is_file() {
            return Err(anyhow::Error::new(OfflineCopy));
        }
        if path == MANIFEST_NAME {
            let mut text = Vec::new();
            entry
                .read_to_end(&mut text)
                .context("the archive is cut short in its manifest")?;
            let parsed: BackupManifest =
                serde_json::from_slice(&text).context("the manifest is not readable")?;
            manifest = Some(parsed);
            continue;
        }
        let relative = safe_path(&path)?;
        let size = entry
            .header()
            .size()
            .context("a member's size is not readable")?;
        let mut out = match into {
            Some(dir) => {
                let target = dir.join(&relative);
                let created = match target.parent() {
                    Some(parent) => private_dirs(dir, parent),
                    None => Ok(()),
                }
                .and_then(|()| owner_only_create(&target));
                Some((created.map_err(|e| WriteFailed::error(&target, e))?, target))
            }
            None => None,
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .with_context(|| format!("the archive is cut short in {path}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if let Some((out, target)) = out.as_mut() {
                out.write_all(&buf[..n])
                    .map_err(|e| WriteFailed::error(target, e))?;
            }
            read += n as u64;
        }
        if read != size {
            bail!("the archive is cut short in {path}: {read} of {size} bytes");
        }
        if let Some((out, target)) = out.as_mut() {
            out.sync_all().map_err(|e| WriteFailed::error(target, e))?;
            // Evidence is read-only once stored, as the store writes it.
            #[cfg(unix)]
            if path.starts_with("evidence/") {
                use std::os::unix::fs::PermissionsExt;
                out.set_permissions(fs::Permissions::from_mode(0o400))
                    .map_err(|e| WriteFailed::error(target, e))?;
            }
        }
        seen.push((path, size, hex::encode(hasher.finalize())));
    }
    // The gzip stream's end (its CRC and length) is read only past the tar's end: read to it.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink()).context("the archive is cut short or damaged")?;
    let Some(manifest) = manifest else {
        if seen
            .iter()
            .any(|(p, _, _)| p != "vigil.db" && p.ends_with("/vigil.db"))
        {
            return Err(anyhow::Error::new(OfflineCopy));
        }
        bail!("it has no manifest ({MANIFEST_NAME}, the last member): the archive is cut short");
    };
    if manifest.format != FORMAT {
        bail!(
            "it is of backup format {}, which this release ({}) does not read; restore it with the release that took it",
            manifest.format,
            env!("CARGO_PKG_VERSION")
        );
    }
    if manifest.files.len() != seen.len() {
        bail!(
            "the manifest names {} files and the archive holds {}",
            manifest.files.len(),
            seen.len()
        );
    }
    for (listed, (path, size, sha256)) in manifest.files.iter().zip(&seen) {
        if listed.path != *path {
            bail!(
                "the archive holds {path} where the manifest names {}",
                listed.path
            );
        }
        if listed.size != *size {
            bail!("{path} is {size} bytes, the manifest says {}", listed.size);
        }
        if listed.sha256 != *sha256 {
            bail!(
                "{path} was altered: its SHA-256 is {sha256}, the manifest says {}",
                listed.sha256
            );
        }
    }
    if !seen.iter().any(|(p, _, _)| p == "vigil.db") {
        bail!("it holds no database (vigil.db)");
    }
    Ok(manifest)
}

/// The archive is a `tar` of a data directory (the README's offline backup), not one
/// `vigil admin backup` wrote: it is unpacked with `tar`, not refused as cut short.
#[derive(Debug)]
struct OfflineCopy;

impl std::fmt::Display for OfflineCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "it looks like a copy of a stopped server's directory (a tar archive without Vigil's manifest, {MANIFEST_NAME}), which this command does not read: unpack it with tar as README's offline procedure says (server stopped, the broken directory moved aside, then `tar -C PARENT -xpzf FILE` as the server's user)"
        )
    }
}

impl std::error::Error for OfflineCopy {}

/// Writing an unpacked file failed: the fault of the directory written to (a full disk, a
/// quota), not of the archive, which is told apart so that a good backup is not thrown away.
#[derive(Debug)]
struct WriteFailed {
    path: PathBuf,
    source: io::Error,
}

impl WriteFailed {
    fn error(path: &Path, source: io::Error) -> anyhow::Error {
        anyhow::Error::new(WriteFailed {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Whether the disk (or the quota, or the file size limit) has no more room.
    fn no_room(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
        )
    }
}

impl std::fmt::Display for WriteFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}", self.path.display())
    }
}

impl std::error::Error for WriteFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A member's path, relative and inside the data directory.
fn safe_path(path: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("a member's name {path:?} leads outside the data directory");
    }
    Ok(p.to_path_buf())
}

/// `FILE.part`.
fn part_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// A new file only its owner can read (0600), replacing a leftover one.
fn owner_only_create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// A directory only its owner can enter (0700).
fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Every directory from `root` (which exists) down to `dir`, owner-only.
fn private_dirs(root: &Path, dir: &Path) -> io::Result<()> {
    let Ok(relative) = dir.strip_prefix(root) else {
        return Ok(());
    };
    let mut at = root.to_path_buf();
    for part in relative.components() {
        at.push(part);
        if !at.is_dir() {
            private_dir(&at)?;
        }
    }
    Ok(())
}

/// `1.2 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
