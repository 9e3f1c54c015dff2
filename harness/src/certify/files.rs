//! A bundle's files on disk, handled as untrusted input: `--verify` reads only regular files
//! inside the bundle (a symbolic link, a FIFO, a device or a socket is a problem, never
//! followed or opened for reading), within [`MAX_BUNDLE_BYTES`] in all; writing refuses a
//! folder holding anything kazasu did not write, and `--force` replaces only the files an
//! earlier manifest lists.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

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

/// Reads every regular file under `dir`, never following a link and never opening anything but
/// a regular file; the total is bounded by [`MAX_BUNDLE_BYTES`].
pub fn read_bundle(dir: &Path) -> Result<BundleFiles, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "{} is not a folder; give the bundle's folder",
            dir.display()
        ));
    }
    let mut out = BundleFiles::default();
    let mut budget = MAX_BUNDLE_BYTES;
    let mut entries = 0usize;
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let listing =
            std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        let mut names = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", d.display()))?;
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
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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
                        if why.starts_with("over") {
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
fn read_regular(path: &Path, budget: u64) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > budget {
        return Err(format!(
            "over the bound: {} bytes where the bundle may hold {} MiB in all",
            meta.len(),
            MAX_BUNDLE_BYTES >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(budget + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > budget {
        return Err(format!(
            "over the bound: the file grew while read past {} MiB",
            MAX_BUNDLE_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// Makes `out` ready for a new bundle: creates it, or accepts it empty. A folder with anything in
/// it is refused unless `force`; with `force`, only a folder whose every entry an earlier kazasu
/// manifest in it lists (and the manifest and its signature) is accepted, and exactly those files
/// are removed. Nothing is touched when the answer is no.
pub fn prepare_out(out: &Path, force: bool) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", out.display())),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(format!(
            "{} exists and is not a folder; choose another -o",
            out.display()
        ));
    }
    let names: Vec<String> = std::fs::read_dir(out)
        .map_err(|e| format!("cannot read {}: {e}", out.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    if names.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(format!(
            "{} is not empty: kazasu writes a bundle only into a new or empty folder; choose \
             another -o, or add --force to replace an earlier bundle there (only the files its \
             manifest lists are replaced)",
            crate::text::shown(&out.display().to_string())
        ));
    }
    let listed = earlier_bundle(out)?;
    let foreign: Vec<&String> = names.iter().filter(|n| !listed.contains(*n)).collect();
    if !foreign.is_empty() {
        return Err(format!(
            "{} holds files the earlier bundle's manifest does not list ({}); --force replaces \
             only a bundle's own files: move them away or choose another -o",
            crate::text::shown(&out.display().to_string()),
            foreign
                .iter()
                .take(5)
                .map(|n| crate::text::shown(n))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for name in &names {
        let path = out.join(name);
        let kind = std::fs::symlink_metadata(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if kind.is_dir() {
            return Err(format!(
                "{} is a folder; a bundle's files are never folders: move it away",
                path.display()
            ));
        }
    }
    for name in &names {
        let path = out.join(name);
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The names an earlier bundle in `out` owns: its manifest's files, the manifest, its signature.
fn earlier_bundle(out: &Path) -> Result<Vec<String>, String> {
    let path = out.join(super::manifest::MANIFEST);
    let kind = std::fs::symlink_metadata(&path);
    if !kind.as_ref().is_ok_and(|m| m.is_file()) {
        return Err(format!(
            "{} is not empty and holds no earlier kazasu bundle (no {}); choose another -o",
            crate::text::shown(&out.display().to_string()),
            super::manifest::MANIFEST
        ));
    }
    let bytes = read_regular(&path, crate::files::SMALL_YAML)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    #[derive(serde::Deserialize)]
    struct Listed {
        files: BTreeMap<String, String>,
    }
    let listed: Listed = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}: not a kazasu manifest ({e}); --force replaces only an earlier kazasu bundle",
            path.display()
        )
    })?;
    let mut names: Vec<String> = listed
        .files
        .into_keys()
        .filter(|n| !n.contains('/') && n != "." && n != "..")
        .collect();
    names.push(super::manifest::MANIFEST.into());
    names.push(super::manifest::SIGNATURE.into());
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> std::path::PathBuf {
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
        assert!(prepare_out(&d, false).unwrap_err().contains("not empty"));
        assert!(
            prepare_out(&d, true)
                .unwrap_err()
                .contains("not a kazasu manifest")
        );
        std::fs::write(
            d.join("manifest.json"),
            br#"{"files":{"report.json":"00"}}"#,
        )
        .unwrap();
        std::fs::write(d.join("report.json"), b"{}").unwrap();
        let e = prepare_out(&d, true).unwrap_err();
        assert!(e.contains("index.html"), "{e}");
        // Nothing was touched.
        assert!(d.join("index.html").exists() && d.join("report.json").exists());
        std::fs::remove_file(d.join("index.html")).unwrap();
        prepare_out(&d, true).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
