//! A bundle's files on disk, handled as untrusted input: `--verify` reads only regular files
//! inside the bundle (a symbolic link, a FIFO, a device or a socket is a problem, never
//! followed or opened for reading), within [`MAX_BUNDLE_BYTES`] in all; writing refuses a
//! folder holding anything kazasu did not write, and `--force` replaces only the files an
//! earlier manifest lists.

use super::manifest::MANIFEST;
use crate::text::shown;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most a bundle may hold, all files together: far above a bundle of the whole suite (about
/// 8 MiB), and the most `--verify` ever reads into memory.
pub const MAX_BUNDLE_BYTES: u64 = 256 << 20;

/// The most files and folders a bundle may hold.
pub const MAX_ENTRIES: usize = 1_000;

/// How deep folders inside a bundle may nest.
const MAX_DEPTH: usize = 4;

/// What reading a bundle found: the regular files by '/'-separated relative path, and what it
/// refused to read.
#[derive(Debug, Default)]
pub struct BundleFiles {
    /// Every regular file read.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Entries refused (links, special files, over the bound), as lines a person reads.
    pub refused: Vec<String>,
}

/// A bundle folder, or a folder to write one into, that kazasu cannot use.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The operating system refused.
    #[error("cannot {doing} {}: {source}", path.display())]
    Io {
        /// `read`, `create`, `replace`.
        doing: &'static str,
        /// What.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A bundle to check that is no folder.
    #[error("{} is not a folder; give the bundle's folder", .0.display())]
    NotAFolder(PathBuf),
    /// An output that is no folder.
    #[error("{} exists and is not a folder; choose another -o", .0.display())]
    OutNotAFolder(PathBuf),
    /// An output with files in it, and no --force.
    #[error(
        "{} is not empty: kazasu writes a bundle only into a new or empty folder; choose \
         another -o, or add --force to replace an earlier bundle there (only the files its \
         manifest lists are replaced)",
        shown(&.0.display().to_string())
    )]
    NotEmpty(PathBuf),
    /// --force on a folder that holds no earlier bundle.
    #[error(
        "{} is not empty and holds no earlier kazasu bundle (no {MANIFEST}); choose another -o",
        shown(&.0.display().to_string())
    )]
    NoEarlierBundle(PathBuf),
    /// --force on a folder with files the earlier bundle does not list.
    #[error(
        "{} holds files the earlier bundle's manifest does not list ({}); --force replaces \
         only a bundle's own files: move them away or choose another -o",
        shown(&path.display().to_string()),
        names.iter().take(5).map(|n| shown(n)).collect::<Vec<_>>().join(", ")
    )]
    Foreign {
        /// The folder.
        path: PathBuf,
        /// The files no manifest lists.
        names: Vec<String>,
    },
    /// --force on a folder with a folder in it.
    #[error("{} is a folder; a bundle's files are never folders: move it away", .0.display())]
    HoldsFolder(PathBuf),
    /// An earlier manifest that cannot be read.
    #[error("{}: {reason}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A file under a bundle folder that is not read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// It cannot be opened.
    #[error("cannot open: {0}")]
    Open(std::io::Error),
    /// It cannot be read.
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    /// Not a regular file (swapped in after the listing).
    #[error("not a regular file")]
    NotRegular,
    /// More than the bundle's bound.
    #[error(
        "over the bound: {0} bytes where the bundle may hold {mib} MiB in all",
        mib = MAX_BUNDLE_BYTES >> 20
    )]
    OverBound(u64),
    /// It grew past the bound while read.
    #[error("over the bound: the file grew while read past {} MiB", MAX_BUNDLE_BYTES >> 20)]
    Grew,
}

/// `doing` on `path` failed.
fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io {
        doing,
        path,
        source,
    }
}

/// Reads every regular file under `dir`, never following a link and never opening anything but
/// a regular file; the total is bounded by [`MAX_BUNDLE_BYTES`].
pub fn read_bundle(dir: &Path) -> Result<BundleFiles, BundleError> {
    let meta = std::fs::metadata(dir).map_err(io("read", dir))?;
    if !meta.is_dir() {
        return Err(BundleError::NotAFolder(dir.to_path_buf()));
    }
    let mut out = BundleFiles::default();
    let mut budget = MAX_BUNDLE_BYTES;
    let mut entries = 0usize;
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let listing = std::fs::read_dir(&d).map_err(io("read", &d))?;
        let mut names = Vec::new();
        for entry in listing {
            let entry = entry.map_err(io("read", &d))?;
            entries += 1;
            if entries > MAX_ENTRIES {
                out.refused.push(format!(
                    "more than {MAX_ENTRIES} entries: not a kazasu bundle (it holds 7 files)"
                ));
                return Ok(out);
            }
            names.push(entry);
        }
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            let path = entry.path();
            let rel = path
                .strip_prefix(dir)
                .map(|p| {
                    p.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_else(|_| path.display().to_string());
            let kind = entry.file_type().map_err(io("read", &path))?;
            if kind.is_symlink() {
                out.refused.push(format!(
                    "{rel}: a symbolic link (a bundle holds only files)"
                ));
            } else if kind.is_dir() {
                if depth + 1 > MAX_DEPTH {
                    out.refused
                        .push(format!("{rel}: folders nest deeper than {MAX_DEPTH}"));
                } else {
                    stack.push((path, depth + 1));
                }
            } else if !kind.is_file() {
                out.refused.push(format!(
                    "{rel}: not a regular file (a FIFO, socket or device; a bundle holds only files)"
                ));
            } else {
                match read_regular(&path, budget) {
                    Ok(bytes) => {
                        budget -= bytes.len() as u64;
                        out.files.insert(rel, bytes);
                    }
                    Err(why) => {
                        out.refused.push(format!("{rel}: {why}"));
                        if matches!(why, Unreadable::OverBound(_) | Unreadable::Grew) {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Reads a regular file of at most `budget` bytes: opened without following a link and without
/// blocking (a FIFO swapped in after the listing is refused, not waited on).
fn read_regular(path: &Path, budget: u64) -> Result<Vec<u8>, Unreadable> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(Unreadable::Open)?;
    let meta = file.metadata().map_err(Unreadable::Read)?;
    if !meta.is_file() {
        return Err(Unreadable::NotRegular);
    }
    if meta.len() > budget {
        return Err(Unreadable::OverBound(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(budget + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Read)?;
    if bytes.len() as u64 > budget {
        return Err(Unreadable::Grew);
    }
    Ok(bytes)
}

/// Makes `out` ready for a new bundle: creates it, or accepts it empty. A folder with anything in
/// it is refused unless `force`; with `force`, only a folder whose every entry an earlier kazasu
/// manifest in it lists (and the manifest and its signature) is accepted, and exactly those files
/// are removed. Nothing is touched when the answer is no.
pub fn prepare_out(out: &Path, force: bool) -> Result<(), BundleError> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(out).map_err(io("create", out));
        }
        Err(e) => return Err(io("read", out)(e)),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(BundleError::OutNotAFolder(out.to_path_buf()));
    }
    let names: Vec<String> = std::fs::read_dir(out)
        .map_err(io("read", out))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(io("read", out))?;
    if names.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(BundleError::NotEmpty(out.to_path_buf()));
    }
    let listed = earlier_bundle(out)?;
    let foreign: Vec<String> = names
        .iter()
        .filter(|n| !listed.contains(*n))
        .cloned()
        .collect();
    if !foreign.is_empty() {
        return Err(BundleError::Foreign {
            path: out.to_path_buf(),
            names: foreign,
        });
    }
    for name in &names {
        let path = out.join(name);
        let kind = std::fs::symlink_metadata(&path).map_err(io("read", &path))?;
        if kind.is_dir() {
            return Err(BundleError::HoldsFolder(path));
        }
    }
    for name in &names {
        let path = out.join(name);
        std::fs::remove_file(&path).map_err(io("replace", &path))?;
    }
    Ok(())
}

/// The names an earlier bundle in `out` owns: its manifest's files, the manifest, its signature.
fn earlier_bundle(out: &Path) -> Result<Vec<String>, BundleError> {
    let path = out.join(MANIFEST);
    let kind = std::fs::symlink_metadata(&path);
    if !kind.as_ref().is_ok_and(|m| m.is_file()) {
        return Err(BundleError::NoEarlierBundle(out.to_path_buf()));
    }
    let bytes =
        read_regular(&path, crate::files::SMALL_YAML).map_err(|e| BundleError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    #[derive(serde::Deserialize)]
    struct Listed {
        files: BTreeMap<String, String>,
    }
    let listed: Listed = serde_json::from_slice(&bytes).map_err(|e| BundleError::Manifest {
        path: path.clone(),
        reason: format!(
            "not a kazasu manifest ({e}); --force replaces only an earlier kazasu bundle"
        ),
    })?;
    let mut names: Vec<String> = listed
        .files
        .into_keys()
        .filter(|n| !n.contains('/') && n != "." && n != "..")
        .collect();
    names.push(MANIFEST.into());
    names.push(super::manifest::SIGNATURE.into());
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kazasu-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn links_and_fifos_are_refused_and_files_are_read() {
        let d = folder("links");
        std::fs::write(d.join("a.txt"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", d.join("link")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(d.join("fifo"))
            .status()
            .unwrap();
        assert!(made.success());
        let read = read_bundle(&d).unwrap();
        assert_eq!(read.files.keys().collect::<Vec<_>>(), ["a.txt"]);
        assert_eq!(read.refused.len(), 2, "{:?}", read.refused);
        assert!(
            read.refused
                .iter()
                .any(|r| r.starts_with("link: a symbolic link"))
        );
        assert!(
            read.refused
                .iter()
                .any(|r| r.starts_with("fifo: not a regular file"))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_non_empty_folder_is_refused_and_force_replaces_only_a_bundles_files() {
        let d = folder("force");
        std::fs::write(d.join("manifest.json"), br#"{"name":"a web manifest"}"#).unwrap();
        std::fs::write(d.join("index.html"), b"<p>mine</p>").unwrap();
        assert!(matches!(
            prepare_out(&d, false),
            Err(BundleError::NotEmpty(_))
        ));
        assert!(
            prepare_out(&d, true)
                .unwrap_err()
                .to_string()
                .contains("not a kazasu manifest")
        );
        std::fs::write(
            d.join("manifest.json"),
            br#"{"files":{"report.json":"00"}}"#,
        )
        .unwrap();
        std::fs::write(d.join("report.json"), b"{}").unwrap();
        let e = prepare_out(&d, true).unwrap_err();
        assert!(
            matches!(&e, BundleError::Foreign { names, .. } if names == &["index.html"]),
            "{e}"
        );
        // Nothing was touched.
        assert!(d.join("index.html").exists() && d.join("report.json").exists());
        std::fs::remove_file(d.join("index.html")).unwrap();
        prepare_out(&d, true).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
